"""Telemetry on its own: values go unknown when stale, silent nodes, the plot window."""

import json

from mobile_vla_web.config import WebConfig
from mobile_vla_web.telemetry import Telemetry, node_of

CONFIG = WebConfig(state_stale_s=2.0, node_silent_s=3.0, plot_window_s=10.0)


def telemetry():
    events = []
    return Telemetry(CONFIG, lambda kind, text, now, **extra: events.append((kind, text))), \
        events


def test_values_are_shown_while_fresh_and_unknown_when_stale():
    t, _ = telemetry()
    t.on_cmd_vel((0.5, float('nan'), 0.1), 1.0)
    t.on_control_state(json.dumps({'mode': 'vla', 'estop': {'latched': True}}), 1.0)
    state = t.state(2.5)
    assert state['cmd_vel'] == (0.5, None, 0.1) and state['mode'] == 'vla'
    assert state['estop'] is True and t.estop_engaged(2.5)
    stale = t.state(3.5)
    assert stale['cmd_vel'] is None and stale['mode'] is None and stale['estop'] is None


def test_a_status_that_is_not_a_json_object_is_kept_for_the_page():
    t, _ = telemetry()
    assert t.on_control_state('not json', 0.0) == {'unparsed': 'not json'}
    t.on_vla_status('[1, 2]', 0.0)
    assert t.vla_status == {'value': [1, 2]}


def test_a_silent_node_is_announced_once_and_its_return_too():
    t, events = telemetry()
    t.on_diagnostic('vla_inference: policy', 0, 'running', {}, 0.0)
    for now in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 3.9):  # checks well within SELF_STALL_S
        t.check_nodes(now)
    assert [k for k, _ in events] == ['node'] and 'silent' in events[0][1]
    assert t.state(3.9)['vla_status_stale'] and t.state(3.9)['silent_nodes'] == {
        'vla_inference': 3.9}
    t.on_diagnostic('vla_inference: policy', 0, 'running', {}, 4.0)
    assert 'back' in events[-1][1] and not t.silent


def test_its_own_stall_gives_every_node_a_fresh_grace_period():
    t, events = telemetry()
    t.on_diagnostic('control_arbiter: arbiter', 0, 'ok', {}, 0.0)
    t.check_nodes(0.5)
    t.check_nodes(6.0)  # this process did not run for 5.5 s
    assert [k for k, _ in events] == ['console'] and not t.silent


def test_the_plot_keeps_its_window_and_the_recorder_reads_its_own_status():
    t, _ = telemetry()
    t.on_cmd_vel((0.2, 0.0, 0.0), 0.5)
    for now in range(0, 13):
        t.sample(float(now))
    history = t.plot_history()
    assert history[0][0] == 2.0 and len(history) == 11  # the last 10 s
    assert history[0][1] == [0.2, 0.0, 0.0] and history[-1][1] is None  # 1.5 s old, then stale
    t.on_diagnostic('episode_recorder: recorder', 0, 'idle', {'recording': 'False'}, 0.0)
    assert t.recorder == {'message': 'idle', 'recording': 'False'}
    assert node_of('episode_recorder: recorder') == 'episode_recorder'
