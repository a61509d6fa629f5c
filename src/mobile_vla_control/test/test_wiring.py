"""A bag of teleop, policy, mode and e-stop messages replayed through the arbiter."""

import json

import pytest

from mobile_vla.bag import BagWriter, read_messages
from mobile_vla.bus import ReplayBus
from mobile_vla.msgs import twist_to_action
from mobile_vla.replay import ReplayExecutor
from mobile_vla.units import MS, NS
from mobile_vla_control.arbiter_config import ArbiterConfig, arbiter_params
from mobile_vla_control.wiring import ArbiterWiring

S = NS  # a second, in nanoseconds
FAST = dict(max_acceleration=(100.0,) * 3, max_deceleration=(100.0,) * 3,
            startup_hold_s=0.0)


def t_ms(ms: int) -> int:
    return 5 * S + ms * MS  # bag time does not start at zero


@pytest.fixture
def scenario_bag(tmp_path):
    """Hybrid driving: policy, a manual override, an e-stop, a late release, a restart."""
    path = tmp_path / 'in'
    with BagWriter(path) as bag:
        bag.write_string('/control/mode', 'hybrid', t_ms(0))
        for ms in range(0, 3001, 100):
            bag.write_twist('/robot/action', (0.5, 0.0, 0.0), t_ms(ms))
        for ms in range(1000, 1401, 100):
            bag.write_twist('/teleop/cmd_vel', (0.0, 1.15, 0.0), t_ms(ms))
        bag.write_twist('/teleop/cmd_vel', (0.0, 0.0, 0.0), t_ms(1500))
        bag.write_bool('/control/estop', True, t_ms(2000))
        bag.write_bool('/control/estop', False, t_ms(2200))
        for ms in range(4000, 4501, 100):
            bag.write_twist('/robot/action', (0.3, 0.0, 0.1), t_ms(ms))
        bag.write_string('/control/mode', 'autopilot', t_ms(4300))  # rejected, stays hybrid
    return path


def replay(bag, out, **config):
    params = arbiter_params(ArbiterConfig(**{**FAST, **config}))
    with BagWriter(out) as sink:
        ex = ReplayExecutor(sink=sink)
        ArbiterWiring(ReplayBus(ex, params))
        stats = ex.run_bag(bag)
    return stats, read_messages(out)


def expected_at(ms: int) -> tuple[float, float, float]:
    if ms < 1000:
        return (0.5, 0.0, 0.0)  # policy
    if ms < 1500:
        return (0.0, 1.15, 0.0)  # manual override
    if ms < 4000:
        # teleop zero, then the e-stop; released at 3550 once the policy has timed out
        return (0.0, 0.0, 0.0)
    return (0.3, 0.0, 0.1)  # the policy drives again


def last_per_time(messages):
    """The last cmd_vel of each instant (bag time): what the base drives with."""
    return {m.t_ns: m for m in messages}


def test_output_bag_follows_the_expected_sequence(scenario_bag, tmp_path):
    stats, out = replay(scenario_bag, tmp_path / 'out')
    cmd = [m for m in out if m.topic == '/cmd_vel']
    # One message per 20 Hz tick, plus one at once on each command (in hybrid every
    # source may drive) and on each e-stop message.
    commands = [m.t_ns for m in read_messages(scenario_bag)
                if m.topic in ('/robot/action', '/teleop/cmd_vel')]
    expected_times = sorted([t_ms(ms) for ms in range(0, 4501, 50)] + commands
                            + [t_ms(2000), t_ms(2200)])
    assert [m.t_ns for m in cmd] == expected_times
    for t_ns, m in last_per_time(cmd).items():
        ms = (t_ns - t_ms(0)) // MS
        assert twist_to_action(m.msg) == pytest.approx(expected_at(ms)), f'at {ms} ms'
    # The node's 1 Hz diagnostics tick in replay too (0 to 4.5 s).
    assert stats.ticks == {'control_arbiter': 91, 'control_arbiter/diagnostics': 5}

    states = [json.loads(m.msg.data) for m in out if m.topic == '/control/state']
    reasons = [s['reason'] for s in states]
    assert 'estop' in reasons and 'hybrid_hold' not in reasons[:1]
    assert states[-1]['mode'] == 'hybrid' and states[-1]['rejected_modes'] == 1
    released = next(s for s in states if s['reason'] == 'no_source' and not s['estop']['latched']
                    and s['estop']['count'] == 1)
    assert released['inputs']['vla']['valid'] is False


def test_default_slew_limits_ramp_the_policy_up(scenario_bag, tmp_path):
    _, out = replay(scenario_bag, tmp_path / 'out', max_acceleration=(2.3, 2.3, 4.6),
                    max_deceleration=(4.6, 4.6, 9.2))
    cmd = [m for m in out if m.topic == '/cmd_vel']
    xs = [twist_to_action(m.msg)[0] for m in last_per_time(cmd).values()][:6]
    # 2.3 /s^2 at 20 Hz = 0.115 per tick; the first tick assumes one period. The extra
    # output on each command adds no speed: the ramp is the same.
    assert xs == pytest.approx([0.115, 0.23, 0.345, 0.46, 0.5, 0.5])
    for a, b in zip(cmd, cmd[1:], strict=False):
        step = twist_to_action(b.msg)[0] - twist_to_action(a.msg)[0]
        assert step <= 2.3 * (b.t_ns - a.t_ns) / S + 1e-9


def test_replay_is_deterministic(scenario_bag, tmp_path):
    _, a = replay(scenario_bag, tmp_path / 'a')
    _, b = replay(scenario_bag, tmp_path / 'b')
    assert [(m.topic, m.t_ns, m.msg) for m in a] == [(m.topic, m.t_ns, m.msg) for m in b]
