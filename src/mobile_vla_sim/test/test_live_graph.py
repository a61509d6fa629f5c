"""``LiveGraph``'s parameters: what ``mobile-vla sim live`` gives each node it starts.
(The graph as processes over DDS, with restarts, is tested in ``tests/test_web_console.py``
and ``tests/test_web_faults.py``.)"""

from pathlib import Path

from mobile_vla.graph import ARBITER, INFERENCE, RECORDER, SIM_ROBOT, WEB
from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.live import LiveSimConfig
from mobile_vla_sim.live_graph import LiveGraph
from mobile_vla_web.config import WebConfig


def test_each_node_gets_its_files_then_the_sim_profile_then_the_graph_choices(tmp_path):
    graph = LiveGraph(tmp_path / 'live', checkpoint='models/demo', mode='hybrid',
                      port=0, token_file=str(tmp_path / 'token'))
    params = graph.node_params()
    assert set(params) == {SIM_ROBOT, INFERENCE, ARBITER, RECORDER, WEB}
    assert params[SIM_ROBOT] == {'scenario': LiveSimConfig.scenario,
                                 'seed': LiveSimConfig.seed, 'fps': LiveSimConfig.fps}
    inference = params[INFERENCE]
    assert Path(inference['checkpoint']) == Path('models/demo').resolve()
    # The policy steps at the rate it was trained at, whatever the camera shows people.
    assert inference['rate_hz'] == SimConfig.frame_rate_hz
    # Everything else is the node's file under the sim profile (config/sim.yaml), as on
    # `ros2 launch ... params_file:=config/sim.yaml`.
    assert inference['max_frame_age_s'] == 1.0
    assert params[ARBITER]['initial_mode'] == 'hybrid'
    assert params[ARBITER]['max_acceleration'] == [4.6, 4.6, 9.2]
    assert params[ARBITER]['max_deceleration'] == [9.2, 9.2, 18.4]
    assert params[RECORDER]['output_dir'] == str(graph.episodes)
    assert graph.episodes == (tmp_path / 'live' / 'episodes').resolve()
    web = params[WEB]
    assert web['episodes_dir'] == str(graph.episodes)
    assert web['token_file'] == str(tmp_path / 'token')
    assert web['watch_needs_token'] == WebConfig.watch_needs_token


def test_port_zero_picks_a_free_port_and_the_url_and_token_follow_it(tmp_path):
    graph = LiveGraph(tmp_path, port=0, token_file=str(tmp_path / 'token'))
    assert 1024 <= graph.port <= 65535 and graph.node_params()[WEB]['port'] == graph.port
    assert str(graph.port) in graph.url
    (tmp_path / 'token').write_text('abc\n')
    assert graph.token == 'abc'
    assert 100 <= graph.domain_id <= 200
    assert LiveGraph(tmp_path, domain_id=7).domain_id == 7
