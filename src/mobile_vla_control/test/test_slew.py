"""SlewLimiter on its own: velocity clip, acceleration and deceleration budgets per instant."""

import pytest

from mobile_vla.actions import ZERO
from mobile_vla_control.slew import SlewLimiter

PERIOD = 0.05


def limiter():
    return SlewLimiter(vmax=(1.0, 1.0, 2.0), accel=(2.0, 2.0, 4.0), decel=(4.0, 4.0, 8.0))


def test_the_first_instant_gets_one_period_and_later_ones_the_time_since():
    s = limiter()
    s.begin(0.0, PERIOD)
    assert s.follow((1.0, 0.0, 0.0))[0] == pytest.approx((0.1, 0.0, 0.0))
    s.begin(0.02, PERIOD)
    assert s.follow((1.0, 0.0, 0.0))[0] == pytest.approx((0.14, 0.0, 0.0))
    s.begin(5.0, PERIOD)  # a long gap counts as two periods at most
    assert s.follow((1.0, 0.0, 0.0))[0] == pytest.approx((0.34, 0.0, 0.0))


def test_slowing_down_uses_the_deceleration_limit_and_zero_is_at_once():
    s = limiter()
    s.begin(0.0, PERIOD)
    for i in range(1, 20):
        s.begin(i * PERIOD, PERIOD)
        s.follow((1.0, 0.0, 0.0))
    assert s.output[0] == pytest.approx(1.0)
    s.begin(20 * PERIOD, PERIOD)
    out, _, a_hit = s.follow((0.0, 0.0, 0.0))
    assert out[0] == pytest.approx(0.8) and a_hit[0]  # 4.0 x 0.05
    s.begin(21 * PERIOD, PERIOD)
    s.zero()
    assert s.output == ZERO


def test_a_target_beyond_the_limit_is_clipped_and_counted():
    s = limiter()
    s.begin(0.0, PERIOD)
    out, v_hit, a_hit = s.follow((0.0, 0.0, -5.0))
    assert out == pytest.approx((0.0, 0.0, -0.2)) and v_hit == (False, False, True)
    assert a_hit == (False, False, True)
    assert s.velocity_hits == [0, 0, 1] and s.accel_hits == [0, 0, 1]


def test_calls_at_one_instant_share_its_budget_and_count_once():
    s = limiter()
    s.begin(0.0, PERIOD)
    s.zero()
    s.begin(0.0, PERIOD)  # a command at the same instant: from the output before it
    out, _, _ = s.follow((1.0, 0.0, 0.0))
    s.begin(0.0, PERIOD)
    again, _, _ = s.follow((1.0, 0.0, 0.0))
    assert out == again == pytest.approx((0.1, 0.0, 0.0))
    assert s.accel_hits == [1, 0, 0]
    s.begin(0.05, PERIOD)
    s.follow((1.0, 0.0, 0.0))
    assert s.accel_hits == [2, 0, 0]


def test_a_lowered_velocity_limit_holds_at_the_next_instant():
    s = limiter()
    for i in range(20):
        s.begin(i * PERIOD, PERIOD)
        s.follow((1.0, 0.0, 0.0))
    s.set_limits((0.3, 1.0, 2.0), (2.0, 2.0, 4.0), (4.0, 4.0, 8.0))
    s.begin(20 * PERIOD, PERIOD)
    assert s.follow((1.0, 0.0, 0.0))[0][0] == pytest.approx(0.3)


def test_a_restart_ramps_from_zero_as_a_first_instant():
    s = limiter()
    for i in range(10):
        s.begin(i * PERIOD, PERIOD)
        s.follow((1.0, 0.0, 0.0))
    s.restart()
    s.begin(0.0, PERIOD)
    assert s.follow((1.0, 0.0, 0.0))[0] == pytest.approx((0.1, 0.0, 0.0))
