"""The whole component graph replayed from bags, wired as the launch file wires the nodes."""

import numpy as np
import pytest
import torch

from mobile_vla.bag import BagWriter, read_messages
from mobile_vla.episode import validate_episode, write_episode
from mobile_vla.msgs import twist_to_action
from mobile_vla.policy.checkpoint import save_checkpoint
from mobile_vla.policy.configuration_policy import load_preset
from mobile_vla.policy.modeling_policy import build_policy
from mobile_vla.replay import MessageLog, ReplayExecutor
from mobile_vla.units import NS
from mobile_vla_camera import pattern
from mobile_vla_sim.graph import build_replay_graph

S = NS  # a second, in nanoseconds
T0 = 1_780_000_000 * S
LEFT = 'go around the box on the left to the cup'


def at(seconds: float) -> int:
    return T0 + round(seconds * S)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    policy = build_policy(load_preset('clip_tiny'))
    with torch.no_grad():  # an untrained head that clearly drives forward
        policy.head.mlp[-1].bias.fill_(0.0)
        policy.head.mlp[-1].bias[0::3].fill_(0.6)
    return str(save_checkpoint(policy, tmp_path_factory.mktemp('ckpt') / 'tiny'))


def write_bag(path, ns='', frames_until=6.0, events=()):
    """30 fps counter-pattern camera frames plus (time, topic, kind, value) events."""
    prefix = f'/{ns}' if ns else ''
    with BagWriter(path) as bag:
        for n in range(int(frames_until * 30)):
            t = at(n / 30)
            bag.write_image(f'{prefix}/camera/image', pattern.render(n, 72, 96)[:, :, ::-1], t)
        for seconds, topic, kind, value in events:
            write = {'string': bag.write_string, 'twist': bag.write_twist,
                     'bool': bag.write_bool}[kind]
            write(f'{prefix}{topic}', value, at(seconds))
    return path


def replay(bag, checkpoint, out=None, ns='', mode='vla', extra=None):
    overrides = {'vla_inference': {'checkpoint': checkpoint},
                 # The bags start with the graph already up: no start-up hold to wait out.
                 'control_arbiter': {'initial_mode': mode, 'startup_hold_s': 0.0,
                                     **(extra or {})}}
    sink = BagWriter(out) if out else MessageLog()
    if out:
        sink.open()
    try:
        ex = ReplayExecutor(sink=sink, record_inputs=[f'/{ns}/camera/image' if ns else
                                                      '/camera/image'])
        graph = build_replay_graph(ex, namespace=ns, overrides=overrides)
        ex.run_bag(bag)
    finally:
        if out:
            sink.close()
    return graph, (read_messages(out) if out else sink.messages)


def series(messages, topic):
    return [((m.t_ns - T0) / S, np.array(twist_to_action(m.msg))) for m in messages
            if m.topic == topic]


def test_end_to_end_under_a_namespace(tmp_path, checkpoint):
    bag = write_bag(tmp_path / 'in', ns='robot1', events=[
        # It acts at once on the newest frame: every action from 0.5 s on drives.
        (0.49, '/vla/command', 'string', LEFT),
        (1.0, '/recorder/control', 'string', 'start 1box_vert_left'),
        (5.5, '/recorder/control', 'string', 'stop'),
    ])
    graph, out = replay(bag, checkpoint, tmp_path / 'out', ns='robot1')
    topics = {m.topic for m in out}
    assert {'/robot1/robot/action', '/robot1/cmd_vel', '/robot1/control/state',
            '/robot1/camera/image'} <= topics
    assert [m.t_ns for m in out] == sorted(m.t_ns for m in out)
    actions = series(out, '/robot1/robot/action')
    assert all(not a.any() for t, a in actions if t < 0.49)  # no instruction yet
    driving = [a for t, a in actions if 0.5 <= t < 6.0]
    assert driving and all(a[0] > 0.3 for a in driving)
    cmd = dict(series(out, '/robot1/cmd_vel'))
    # The arbiter passes the policy once its 2.3 m/s^2 ramp is done.
    for t, a in actions:
        if 1.0 <= t < 5.9 and t in cmd:
            np.testing.assert_allclose(cmd[t], a, atol=1e-6)
    [episode] = graph.episodes
    assert episode.scenario == '1box_vert_left' and episode.instruction == LEFT
    assert episode.event_types[:2] == ['episode_start', 'start_action']
    path = write_episode(tmp_path / f'{episode.name}.h5', episode)
    assert validate_episode(path) == []
    recorder_lines = [line for line in graph.log
                      if line.startswith(('recording ', 'episode stopped'))]
    assert recorder_lines == [f"recording 1box_vert_left: '{LEFT}'", 'episode stopped: 2 frames, '
                              '4.5 s (short: 2 of 18)']


def test_mode_scenarios_from_a_bag(tmp_path, checkpoint):
    teleop = [(2.0 + k / 10, '/teleop/cmd_vel', 'twist', (0.0, 1.15, 0.0)) for k in range(6)]
    bag = write_bag(tmp_path / 'in', frames_until=6.0, events=[
        (0.5, '/vla/command', 'string', LEFT),
        *teleop,  # a human takes over in hybrid mode, 2.0-2.5 s
        (3.5, '/vla/command', 'string', 'go around the box on the right to the cup'),
        (4.2, '/control/estop', 'bool', True),  # e-stop while the policy drives
        (4.4, '/control/estop', 'bool', False),
    ])
    graph, out = replay(bag, checkpoint, mode='hybrid')
    cmd = series(out, '/cmd_vel')

    def during(a, b):
        return [v for t, v in cmd if a <= t < b]

    assert all(v[0] > 0.3 and abs(v[1]) < 0.2 for v in during(1.0, 2.0))  # the policy drives
    # Manual override: strafing left once the slew from the policy's command is done.
    assert all(v[1] == pytest.approx(1.15) and v[0] == 0.0 and v[2] == 0.0
               for v in during(2.55, 2.7))
    # Hand-back: zero while the manual claim holds, the policy again after 1 s of quiet.
    assert all(not v.any() for v in during(3.01, 3.45))
    assert all(v[0] > 0.3 for v in during(3.9, 4.2))
    # The new instruction was encoded once more and restarted the history.
    assert graph.inference.runner.texts_encoded == 2
    # E-stop: zero at once; the release waits until the inputs are zero, and the
    # policy never stops commanding, so the robot stays stopped.
    assert all(not v.any() for v in during(4.2, 6.0))
    assert graph.arbiter.estop_latched


def test_camera_dropout_brings_cmd_vel_to_zero_within_the_timeout(tmp_path, checkpoint):
    bag = write_bag(tmp_path / 'in', frames_until=3.0, events=[
        (0.5, '/vla/command', 'string', LEFT),
        (5.0, '/control/mode', 'string', 'vla'),  # keeps the bag running past the dropout
    ])
    graph, out = replay(bag, checkpoint)
    cmd = series(out, '/cmd_vel')
    last_frame = 89 / 30
    assert any(v[0] > 0.3 for t, v in cmd if t < last_frame)
    # Stale after 0.5 s; the arbiter slows at 4.6 m/s^2 and stops within 0.2 s more.
    limit = last_frame + 0.5 + 0.2
    assert all(not v.any() for t, v in cmd if t >= limit)
    assert graph.inference.zero_reasons.get('stale camera frame', 0) > 0
