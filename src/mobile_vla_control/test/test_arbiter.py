"""Table-driven tests of every mode, transition, timeout, limit and the e-stop."""

import math

import pytest

from mobile_vla.actions import ZERO
from mobile_vla.config import ConfigError
from mobile_vla_control.arbiter import ControlArbiter
from mobile_vla_control.arbiter_config import ArbiterConfig, SourceConfig

FAST = dict(max_acceleration=(1000.0,) * 3, max_deceleration=(1000.0,) * 3,
            startup_hold_s=0.0)
W = (1.15, 0.0, 0.0)
POLICY = (0.4, -0.3, 0.2)


def arbiter(**overrides) -> tuple[ControlArbiter, list[str]]:
    warnings: list[str] = []
    config = ArbiterConfig(**{**FAST, **overrides})
    return ControlArbiter(config, warn=warnings.append), warnings


def run(arb: ControlArbiter, script):
    """Apply (time, event, value) rows; return {time: output} for every 'tick' row."""
    out = {}
    for t, event, value in sorted(script, key=lambda row: row[0]):
        if event == 'teleop':
            arb.on_command('teleop', value, t)
        elif event == 'vla':
            arb.on_command('vla', value, t)
        elif event == 'mode':
            arb.on_mode(value, t)
        elif event == 'estop':
            arb.on_estop(value, t)
        elif event == 'tick':
            out[t] = arb.tick(t)
    return out


CASES = {
    'manual passes teleop only': (
        'manual',
        [(0.0, 'vla', POLICY), (0.0, 'teleop', W), (0.05, 'tick', None)],
        {0.05: (W, 'teleop', 'source')},
    ),
    'manual ignores the policy': (
        'manual',
        [(0.0, 'vla', POLICY), (0.05, 'tick', None)],
        {0.05: (ZERO, None, 'no_source')},
    ),
    'vla passes the policy only': (
        'vla',
        [(0.0, 'teleop', W), (0.0, 'vla', POLICY), (0.05, 'tick', None)],
        {0.05: (POLICY, 'vla', 'source')},
    ),
    'vla ignores teleop': (
        'vla',
        [(0.0, 'teleop', W), (0.05, 'tick', None)],
        {0.05: (ZERO, None, 'no_source')},
    ),
    'hybrid drives with the policy': (
        'hybrid',
        [(0.0, 'vla', POLICY), (0.05, 'tick', None)],
        {0.05: (POLICY, 'vla', 'source')},
    ),
    'hybrid: manual overrides at once': (
        'hybrid',
        [(0.0, 'vla', POLICY), (0.05, 'tick', None), (0.06, 'teleop', W),
         (0.06, 'vla', POLICY), (0.1, 'tick', None)],
        {0.05: (POLICY, 'vla', 'source'), 0.1: (W, 'teleop', 'source')},
    ),
    'hybrid: zero manual messages do not take over': (
        'hybrid',
        [(0.0, 'teleop', ZERO), (0.0, 'vla', POLICY), (0.05, 'tick', None)],
        {0.05: (POLICY, 'vla', 'source')},
    ),
    'hybrid: hold after release, then hand back': (
        'hybrid',
        [(0.0, 'teleop', W), (0.1, 'teleop', ZERO)]
        + [(t / 10, 'vla', POLICY) for t in range(0, 20)]
        + [(0.5, 'tick', None), (0.95, 'tick', None), (1.05, 'tick', None)],
        # 0.5: teleop sends zero, still in control; 0.95: teleop timed out, within the
        # 1 s hold -> zero; 1.05: hold over -> the policy drives again.
        {0.5: (ZERO, 'teleop', 'source'), 0.95: (ZERO, None, 'hybrid_hold'),
         1.05: (POLICY, 'vla', 'source')},
    ),
    'teleop times out': (
        'manual',
        [(0.0, 'teleop', W), (0.5, 'tick', None), (0.5001, 'tick', None)],
        {0.5: (W, 'teleop', 'source'), 0.5001: (ZERO, None, 'no_source')},
    ),
    'policy times out': (
        'vla',
        [(0.0, 'vla', POLICY), (0.45, 'tick', None), (0.55, 'tick', None)],
        {0.45: (POLICY, 'vla', 'source'), 0.55: (ZERO, None, 'no_source')},
    ),
    'mode switch takes effect on the next tick': (
        'manual',
        [(0.0, 'teleop', W), (0.0, 'vla', POLICY), (0.05, 'tick', None),
         (0.06, 'mode', 'vla'), (0.1, 'tick', None)],
        {0.05: (W, 'teleop', 'source'), 0.1: (POLICY, 'vla', 'source')},
    ),
    'unknown mode leaves the mode unchanged': (
        'vla',
        [(0.0, 'mode', 'autopilot'), (0.0, 'vla', POLICY), (0.05, 'tick', None)],
        {0.05: (POLICY, 'vla', 'source')},
    ),
    'mode strings are trimmed and case-insensitive': (
        'manual',
        [(0.0, 'mode', '  VLA\n'), (0.0, 'vla', POLICY), (0.05, 'tick', None)],
        {0.05: (POLICY, 'vla', 'source')},
    ),
    'estop zeroes at once': (
        'vla',
        [(0.0, 'vla', POLICY), (0.05, 'tick', None), (0.06, 'estop', True),
         (0.06, 'vla', POLICY), (0.1, 'tick', None)],
        {0.05: (POLICY, 'vla', 'source'), 0.1: (ZERO, None, 'estop')},
    ),
    'estop latches until released': (
        'manual',
        [(0.0, 'estop', True), (0.1, 'teleop', W), (0.15, 'tick', None)],
        {0.15: (ZERO, None, 'estop')},
    ),
    'release waits until every input held zero for the hold time (no lurch)': (
        'manual',
        [(0.0, 'teleop', W), (0.01, 'estop', True), (0.1, 'estop', False),
         (0.1, 'teleop', W), (0.15, 'tick', None), (0.2, 'teleop', ZERO), (0.25, 'tick', None),
         (0.3, 'teleop', W), (0.35, 'tick', None), (0.4, 'teleop', ZERO), (0.75, 'tick', None),
         (0.8, 'tick', None), (0.85, 'teleop', W), (0.9, 'tick', None)],
        {0.15: (ZERO, None, 'estop'), 0.25: (ZERO, None, 'estop'),
         0.35: (ZERO, None, 'estop'), 0.75: (ZERO, None, 'estop'),
         0.8: (ZERO, 'teleop', 'source'), 0.9: (W, 'teleop', 'source')},
    ),
    'one transient zero from a driving policy never releases': (
        'vla',
        [(0.0, 'vla', POLICY), (0.01, 'estop', True), (0.1, 'estop', False),
         (0.2, 'vla', ZERO), (0.25, 'tick', None), (0.3, 'vla', POLICY), (0.35, 'tick', None),
         (0.4, 'vla', POLICY), (0.9, 'vla', POLICY), (1.0, 'tick', None)],
        {0.25: (ZERO, None, 'estop'), 0.35: (ZERO, None, 'estop'), 1.0: (ZERO, None, 'estop')},
    ),
    'release also works once inputs expire': (
        'vla',
        [(0.0, 'vla', POLICY), (0.01, 'estop', True), (0.1, 'estop', False),
         (0.3, 'tick', None), (0.6, 'tick', None), (0.7, 'vla', POLICY), (0.75, 'tick', None)],
        {0.3: (ZERO, None, 'estop'), 0.6: (ZERO, None, 'no_source'),
         0.75: (POLICY, 'vla', 'source')},
    ),
    'release without estop does nothing; estop again cancels a release': (
        'manual',
        [(0.0, 'estop', False), (0.0, 'teleop', W), (0.05, 'tick', None),
         (0.06, 'estop', True), (0.07, 'estop', False), (0.08, 'estop', True),
         (0.09, 'teleop', ZERO), (0.1, 'tick', None)],
        {0.05: (W, 'teleop', 'source'), 0.1: (ZERO, None, 'estop')},
    ),
}


@pytest.mark.parametrize('name', list(CASES))
def test_modes_and_transitions(name):
    mode, script, expected = CASES[name]
    arb, _ = arbiter(initial_mode=mode)
    out = run(arb, script)
    for t, (action, source, reason) in expected.items():
        assert out[t].action == pytest.approx(action), f'{name} at {t}'
        assert (out[t].source, out[t].reason) == (source, reason), f'{name} at {t}'


def test_a_mode_says_whether_it_changed():
    arb, _ = arbiter(initial_mode='manual')
    assert arb.on_mode('vla', 0.0) and arb.mode == 'vla'
    assert not arb.on_mode('vla', 0.01)  # the same again (the latched twin's copy)


def test_unknown_mode_is_warned_and_counted():
    arb, warnings = arbiter(initial_mode='hybrid')
    assert not arb.on_mode('turbo', 0.0)
    assert arb.mode == 'hybrid' and arb.rejected_modes == 1
    assert 'turbo' in warnings[0] and 'manual, vla, hybrid' in warnings[0]


@pytest.mark.parametrize('bad', [
    (math.nan, 0.0, 0.0), (0.0, math.inf, 0.0), (0.0, 0.0, -math.inf), (1e9, 0.0, 0.0),
    (0.0, 0.0, 10.5), (1.0,), (1.0, 2.0, 3.0, 4.0), 'fast', None,
])
def test_corrupt_inputs_are_rejected_counted_and_never_passed_on(bad):
    arb, warnings = arbiter()
    arb.on_command('teleop', W, 0.0)
    assert not arb.on_command('teleop', bad, 0.01)
    out = arb.tick(0.05)
    assert out.action == ZERO and out.reason == 'no_source'  # source absent after garbage
    assert arb.state(0.05)['inputs']['teleop']['rejected'] == 1
    assert warnings and 'rejected command from teleop' in warnings[0]
    assert arb.on_command('teleop', W, 0.06)
    assert arb.tick(0.1).action == pytest.approx(W)


def test_2d_commands_drive_with_zero_rotation():
    arb, _ = arbiter()
    assert arb.on_command('teleop', (0.5, 0.25), 0.0)
    assert arb.tick(0.05).action == (0.5, 0.25, 0.0)


def test_velocity_limits_clip_each_axis_and_are_counted():
    arb, _ = arbiter(max_velocity=(0.5, 0.4, 0.3))
    arb.on_command('teleop', (1.15, -1.15, 0.2), 0.0)
    out = arb.tick(0.05)
    assert out.action == pytest.approx((0.5, -0.4, 0.2))
    assert out.velocity_limited == (True, True, False)
    assert arb.state(0.05)['limits_hit']['velocity'] == {
        'linear_x': 1, 'linear_y': 1, 'angular_z': 0}


def test_slew_limits_speed_up_and_slow_down_at_their_own_rates():
    arb, _ = arbiter(max_acceleration=(2.0, 2.0, 2.0), max_deceleration=(4.0, 4.0, 4.0))
    xs = []
    for k in range(1, 12):
        t = k * 0.05
        arb.on_command('teleop', (1.0, 0.0, 0.0), t)
        xs.append(arb.tick(t).action[0])
    assert xs[:5] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])  # 2.0 /s^2 at 20 Hz
    assert xs[-1] == pytest.approx(1.0)
    arb.on_command('teleop', (0.0, 0.0, 0.0), 0.6)
    out = arb.tick(0.6)
    assert out.action[0] == pytest.approx(0.8)  # slowing down at 4.0 /s^2
    assert out.accel_limited[0]
    # Reversing counts as speeding up: limited by the acceleration, not the deceleration.
    arb.on_command('teleop', (-1.0, 0.0, 0.0), 0.65)
    assert arb.tick(0.65).action[0] == pytest.approx(0.7)


def test_a_stalled_timer_does_not_allow_a_jump():
    arb, _ = arbiter(max_acceleration=(2.0, 2.0, 2.0))
    arb.on_command('teleop', (1.0, 0.0, 0.0), 0.0)
    arb.tick(0.0)
    arb.on_command('teleop', (1.0, 0.0, 0.0), 5.0)
    assert arb.tick(5.0).action[0] == pytest.approx(0.1 + 2.0 * 0.1)  # dt capped at 2 periods


def test_clock_going_back_clears_inputs():
    arb, warnings = arbiter()
    arb.on_command('teleop', W, 10.0)
    assert arb.tick(10.05).source == 'teleop'
    assert arb.tick(2.0).action == ZERO
    assert arb.clock_resets == 1 and 'clock went back' in warnings[0]


def test_higher_priority_wins_and_ties_go_to_the_first_listed():
    sources = (
        SourceConfig('joystick', 'joy/cmd_vel', 0.5, 200, 'manual'),
        SourceConfig('teleop', 'teleop/cmd_vel', 0.5, 100, 'manual'),
        SourceConfig('nav', 'nav/cmd_vel', 0.5, 50, 'policy'),
        SourceConfig('vla', 'robot/action', 0.5, 50, 'policy'),
    )
    arb, _ = arbiter(sources=sources, initial_mode='vla')
    arb.on_command('vla', POLICY, 0.0)
    arb.on_command('nav', (0.1, 0.0, 0.0), 0.0)
    assert arb.tick(0.05).source == 'nav'
    arb.on_mode('manual', 0.06)
    arb.on_command('teleop', W, 0.06)
    arb.on_command('joystick', (0.2, 0.0, 0.0), 0.06)
    assert arb.tick(0.1).source == 'joystick'
    assert arb.source_for_topic('/joy/cmd_vel') == 'joystick'


def test_state_and_diagnostics_describe_what_happens():
    arb, _ = arbiter(initial_mode='vla')
    level, message, _ = arb.diagnostics(0.0)
    arb.tick(0.0)
    level, message, values = arb.diagnostics(0.0)
    assert level == 'WARN' and 'no valid input' in message
    arb.on_command('vla', POLICY, 0.1)
    arb.tick(0.15)
    state = arb.state(0.2)
    assert state['mode'] == 'vla' and state['active_source'] == 'vla'
    assert state['inputs']['vla']['age_s'] == pytest.approx(0.1)
    assert state['inputs']['teleop']['age_s'] is None
    assert arb.diagnostics(0.2)[0] == 'OK'
    arb.on_estop(True, 0.3)
    arb.tick(0.3)
    assert arb.diagnostics(0.3)[:2] == ('WARN', 'e-stop latched')
    assert arb.state(0.3)['estop'] == {'latched': True, 'release_requested': False, 'count': 1}


def test_a_release_during_the_startup_hold_is_ignored():
    arb = ControlArbiter(ArbiterConfig(initial_mode='vla', startup_hold_s=1.0))
    assert arb.on_estop(True, 0.0) == 'ENGAGED'
    arb.tick(0.0)
    # A stale latched `false` of another publisher, heard while starting: ignored.
    assert arb.on_estop(False, 0.2) == 'release ignored during start-up'
    for k in range(30):
        t = 0.3 + k * 0.05
        arb.on_command('vla', ZERO, t)
        assert arb.tick(t).reason in ('startup', 'estop')
    assert arb.estop_latched
    assert arb.on_estop(False, 1.9) == 'release requested'
    arb.on_command('vla', ZERO, 2.5)
    assert arb.tick(2.5).reason == 'source' and not arb.estop_latched


def test_live_limits_only_tighten_and_hold_at_once():
    arb = ControlArbiter(ArbiterConfig(initial_mode='vla', startup_hold_s=0.0))
    for k in range(40):
        arb.on_command('vla', W, k * 0.05)
        out = arb.tick(k * 0.05)
    assert out.action[0] == pytest.approx(1.15)
    arb.retune(ArbiterConfig(max_velocity=(0.3, 0.3, 0.3)))
    arb.on_command('vla', W, 2.0)
    assert arb.tick(2.0).action[0] == pytest.approx(0.3)  # no ramp down past the limit
    with pytest.raises(ConfigError, match='above the start-up limits'):
        arb.retune(ArbiterConfig(max_velocity=(9.0, 9.0, 9.0)))
    arb.retune(ArbiterConfig())  # back up to the start-up values is fine
    assert arb.config.max_velocity == (1.15, 1.15, 1.15)


def test_outputs_at_one_instant_do_not_depend_on_the_order_of_its_messages():
    """A command and the watchdog at the same instant: the last output is the same
    whichever comes first, and the ramp is the one a single tick would give."""
    outputs = []
    for command_first in (True, False):
        arb, _ = arbiter(initial_mode='hybrid', max_acceleration=(2.0,) * 3,
                         max_deceleration=(4.0,) * 3)
        arb.on_command('vla', (1.0, 0.0, 0.0), 0.0)
        arb.tick(0.0)
        arb.tick(0.05)
        if command_first:
            arb.on_command('teleop', (0.0, 1.0, 0.0), 0.1)
            arb.tick(0.1)
            arb.tick(0.1)
        else:
            arb.tick(0.1)
            arb.on_command('teleop', (0.0, 1.0, 0.0), 0.1)
            arb.tick(0.1)
        outputs.append(arb.tick(0.1).action)
    assert outputs[0] == pytest.approx(outputs[1])
    # From (0.2, 0) at 0.05 s: x slows by 4.0 * 0.05, y speeds up by 2.0 * 0.05.
    assert outputs[0] == pytest.approx((0.0, 0.1, 0.0))


def test_may_drive_follows_the_mode():
    arb, _ = arbiter(initial_mode='manual')
    assert arb.may_drive('teleop') and not arb.may_drive('vla')
    arb.on_mode('hybrid', 0.0)
    assert arb.may_drive('teleop') and arb.may_drive('vla')


def test_a_time_that_is_not_finite_gives_zero_and_never_unclamps_the_slew():
    arb, warnings = arbiter(initial_mode='vla', max_acceleration=(2.0,) * 3)
    arb.on_command('vla', (1.0, 0.0, 0.0), 0.0)
    arb.tick(0.0)
    first = arb.tick(0.05).action
    for bad in (math.nan, math.inf, -math.inf):
        out = arb.tick(bad)
        assert out.action == ZERO and out.reason == 'bad_time'
        assert not arb.on_command('vla', (1.0, 0.0, 0.0), bad)
        assert arb.on_mode('manual', bad) is False and arb.mode == 'vla'
    assert arb.bad_times == 9 and any('not a finite number' in w for w in warnings)
    # The next output ramps up from zero again: one step of 2.0 * 0.05 at most.
    arb.on_command('vla', (1.0, 0.0, 0.0), 0.1)
    assert arb.tick(0.1).action[0] <= first[0] / 2 + 1e-9
    # An engage is taken even at a bad time; a release is not.
    assert arb.on_estop(True, math.nan) == 'ENGAGED'
    assert arb.on_estop(False, math.nan) is None and arb.estop_latched


def test_a_bad_time_gives_zero_and_keeps_the_limit_hits_already_counted():
    arb, _ = arbiter(max_acceleration=(1.0, 1.0, 1.0))
    arb.on_command('teleop', (1.0, 0.0, 0.0), 0.0)
    arb.tick(0.0)
    hits = arb.state(0.0)['limits_hit']['acceleration']['linear_x']
    assert hits == 1
    assert arb.tick(math.nan).action == ZERO
    assert arb.state(0.0)['limits_hit']['acceleration']['linear_x'] == hits  # never back
    arb.on_command('teleop', (1.0, 0.0, 0.0), 0.05)
    arb.tick(0.05)
    assert arb.state(0.05)['limits_hit']['acceleration']['linear_x'] == hits + 1
