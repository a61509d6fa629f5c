"""WasdTeleop driven by scripted key sequences on a simulated clock."""

import pytest

from mobile_vla import topics
from mobile_vla.actions import ACTION_LIMIT, ZERO
from mobile_vla.config import ConfigError
from mobile_vla.keymap import key_command
from mobile_vla.scenarios import SCENARIOS
from mobile_vla_control.keyboard import ScriptedKeys, run_teleop
from mobile_vla_control.teleop import KEY_BINDINGS, TeleopConfig, WasdTeleop


def drive(events, config=None, until=None):
    """Run the real teleop loop over scripted keys; return [(t, topic, value)]."""
    teleop = WasdTeleop(config or TeleopConfig(throttle_percent=100))
    keys = ScriptedKeys(events)
    out = []

    def emit(step, now):
        out.extend((round(now, 6), topic.name, value) for topic, value in step.publish)

    end = until if until is not None else max(t for t, _ in events) + 2.0
    run_teleop(keys, teleop, emit, should_stop=lambda: keys.done and keys.now() >= end)
    return out, teleop


def cmds(out):
    return [(t, v) for t, topic, v in out if topic == 'teleop/cmd_vel']


@pytest.mark.parametrize('key', [*KEY_BINDINGS, 'W'])
def test_each_key_drives_as_the_shared_key_map_says(key):
    """The map itself is the original collector's (test_keymap.py); upper case too."""
    teleop = WasdTeleop(TeleopConfig(throttle_percent=100))
    step = teleop.on_key(key, 0.0)
    assert step.publish == [(topics.TELEOP_CMD_VEL, key_command(key.lower(), ACTION_LIMIT, 100))]


def test_a_tap_drives_briefly_then_sends_zero_once():
    out, _ = drive([(1.0, 'w')], until=3.0)
    c = cmds(out)
    assert c[0] == (1.0, (1.15, 0.0, 0.0))
    nonzero = [t for t, v in c if v != ZERO]
    assert nonzero == pytest.approx([1.0 + k * 0.1 for k in range(7)])  # 10 Hz for 0.7 s
    zeros = [t for t, v in c if v == ZERO]
    assert zeros[0] == pytest.approx(1.7, abs=1e-6)
    assert len(zeros) == 2  # released, and the final zero on exit
    assert zeros[1] >= 3.0  # the exit zero, when the loop ends


def test_a_held_key_with_auto_repeat_stops_quickly_after_release():
    # Terminal: press at 1.0, repeat delay 0.5 s, then repeats every 33 ms until 3.0.
    repeats = [(1.5 + k * 0.033, 'w') for k in range(int(1.5 / 0.033) + 1)]
    out, _ = drive([(1.0, 'w')] + repeats, until=4.0)
    c = cmds(out)
    last_repeat = repeats[-1][0]
    nonzero_times = [t for t, v in c if v != ZERO]
    gaps = [b - a for a, b in zip(nonzero_times, nonzero_times[1:], strict=False)]
    assert max(gaps) == pytest.approx(0.1, abs=1e-6)  # steady 10 Hz, no gap at the delay
    first_zero = next(t for t, v in c if v == ZERO)
    assert last_repeat < first_zero <= last_repeat + 0.15 + 1e-6


def test_space_stops_at_once_and_a_new_key_switches_at_once():
    out, _ = drive([(0.0, 'w'), (0.2, 'a'), (0.25, ' ')], until=1.0)
    c = cmds(out)
    assert c[0] == (0.0, (1.15, 0.0, 0.0))
    assert (0.2, (0.0, 1.15, 0.0)) in c
    assert (0.25, ZERO) in c
    assert all(v == ZERO for t, v in c if t >= 0.25)


def test_throttle_scales_commands_within_10_to_100_percent():
    teleop = WasdTeleop()
    assert teleop.throttle == 50
    assert teleop.on_key('w', 0.0).publish[0][1] == (0.575, 0.0, 0.0)
    for k in range(10):
        teleop.on_key('g', 0.01 * k)
    assert teleop.throttle == 100
    for k in range(20):
        teleop.on_key('f', 0.2 + 0.01 * k)
    assert teleop.throttle == 10
    assert teleop.command == (0.115, 0.0, 0.0)


def test_mode_and_episode_keys():
    out, _ = drive([(0.0, 'v'), (0.1, 'h'), (0.2, 'm'), (0.3, 'n'), (0.4, '3'), (0.5, 'k'),
                    (0.6, 'n'), (0.7, '8'), (0.8, 'j'), (0.9, 'n'), (1.0, '9'), (1.1, 'w')],
                   until=1.2)
    published = [(topic, v) for _, topic, v in out if topic != 'teleop/cmd_vel']
    assert published == [
        ('control/mode', 'vla'), ('control/mode', 'hybrid'), ('control/mode', 'manual'),
        ('recorder/control', f'start {SCENARIOS[2]}'), ('recorder/control', 'stop'),
        ('recorder/control', f'start {SCENARIOS[7]}'), ('recorder/control', 'discard'),
    ]
    # '9' cancelled the selection and did not drive; 'w' after it drives as usual.
    assert cmds(out)[0] == (1.1, (1.15, 0.0, 0.0))


@pytest.mark.parametrize('quit_key', ['x', '\x03'])
def test_quit_sends_zero_and_stops_the_loop(quit_key):
    out, teleop = drive([(0.0, 'w'), (0.3, quit_key), (0.5, 'w')], until=0.6)
    assert cmds(out)[-1] == (0.3, ZERO)
    assert teleop.active_key is None


def test_zero_is_sent_when_the_loop_dies():
    teleop = WasdTeleop()
    keys = ScriptedKeys([(0.0, 'w'), (0.1, 'd')])
    sent = []

    def emit(step, now):
        sent.extend(step.publish)
        if now >= 0.1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_teleop(keys, teleop, emit)
    assert sent[-1] == (topics.TELEOP_CMD_VEL, ZERO)


def test_config_validation():
    with pytest.raises(ConfigError, match='auto-repeat'):
        TeleopConfig(first_key_timeout_s=0.1, repeat_timeout_s=0.2)
    with pytest.raises(ConfigError, match='throttle'):
        TeleopConfig(throttle_percent=5)
