"""Properties over random input sequences: limits, slew, zero when nothing is valid, no NaN."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mobile_vla_control.arbiter import ControlArbiter
from mobile_vla_control.arbiter_config import ROLES_IN_MODE, ArbiterConfig

CONFIG = ArbiterConfig(max_velocity=(1.0, 0.8, 1.15), max_acceleration=(2.0, 3.0, 4.0),
                       max_deceleration=(5.0, 6.0, 7.0), hybrid_hold_s=0.4, startup_hold_s=0.0)
ROLE = {s.name: s.role for s in CONFIG.sources}
TIMEOUT = {s.name: s.timeout for s in CONFIG.sources}

value = st.one_of(
    st.floats(min_value=-2.0, max_value=2.0),
    st.sampled_from([0.0, 1.15, -1.15, math.nan, math.inf, -math.inf, 1e9, 10.0, -10.01]),
)
command = st.tuples(value, value, value)
event = st.one_of(
    st.tuples(st.just('teleop'), command),
    st.tuples(st.just('vla'), command),
    st.tuples(st.just('mode'), st.sampled_from(['manual', 'vla', 'hybrid', 'bogus', ''])),
    st.tuples(st.just('estop'), st.booleans()),
    st.tuples(st.just('tick'), st.none()),
)
script = st.lists(st.tuples(st.floats(min_value=0.0, max_value=0.3), event),
                  min_size=1, max_size=120)


@settings(max_examples=300, deadline=None)
@given(script)
def test_output_is_always_safe(rows):
    arb = ControlArbiter(CONFIG)
    vmax = np.array(CONFIG.max_velocity)
    accel, decel = np.array(CONFIG.max_acceleration), np.array(CONFIG.max_deceleration)
    period = 1.0 / CONFIG.rate_hz
    now = 0.0
    last_good: dict[str, float | None] = {'teleop': None, 'vla': None}
    mode = CONFIG.initial_mode
    estop_hard = False  # set and no release asked since
    prev = np.zeros(3)
    prev_tick = None
    base, dt = prev, 0.0  # an instant's slew budget runs from the output before it
    for gap, (kind, payload) in rows:
        now += gap
        if kind in ('teleop', 'vla'):
            ok = arb.on_command(kind, payload, now)
            finite = all(math.isfinite(v) and abs(v) <= CONFIG.reject_above for v in payload)
            assert ok == finite
            last_good[kind] = now if ok else None
        elif kind == 'mode':
            arb.on_mode(payload, now)
            if payload in ROLES_IN_MODE:
                mode = payload
        elif kind == 'estop':
            arb.on_estop(payload, now)
            estop_hard = payload
        else:
            out = arb.tick(now)
            action = np.array(out.action)
            assert np.all(np.isfinite(action))
            assert np.all(np.abs(action) <= vmax + 1e-12)
            valid = [s for s, t in last_good.items()
                     if t is not None and now - t <= TIMEOUT[s] and ROLE[s] in ROLES_IN_MODE[mode]]
            if not valid or estop_hard:
                assert out.action == (0.0, 0.0, 0.0), (out, valid, estop_hard)
            if prev_tick is None or now != prev_tick:
                base = prev
                dt = period if prev_tick is None else min(max(now - prev_tick, 0.0), 2 * period)
            if out.reason == 'source':
                # Ticks at one instant share its budget, whatever order events came in.
                step = np.abs(action - base)
                speeding = np.abs(action) > np.abs(base) + 1e-12
                limit = np.where(speeding, accel, np.maximum(accel, decel)) * dt + 1e-9
                assert np.all(step <= limit), (base, action, dt)
            prev, prev_tick = action, now
