"""The control arbiter: the only component that decides what drives the robot.

Sources are data (as in twist_mux): each has a topic, a timeout, a priority and a
role (``manual`` for humans, ``policy`` for the VLA or a navigation stack).
The mode chooses which roles may drive:

- ``manual``: manual sources only; ``vla``: policy sources only;
- ``hybrid``: the policy drives until a manual source sends a non-zero command,
  which takes over at once; control returns to the policy ``hybrid_hold_s``
  after the last non-zero manual command (zero in between if manual input stops).

The output is computed on every tick: at ``rate_hz`` (the watchdog) and at once on
each command of a source that may drive in the mode. Safety rules, on
every tick:
- for ``startup_hold_s`` after the first tick the output is zero, and for up to
  ``latched_wait_s`` while the tick's ``estop_pending`` says a latched e-stop publisher
  is known but its latched state has not arrived: a (re)started arbiter hears an
  engaged e-stop before anything drives;
- an input older than its timeout is absent; with no valid source the output is
  zero, published, never silence;
- NaN, inf or absurd inputs (beyond ``reject_above``) are rejected, counted, and
  make that source absent until its next valid message;
- each axis is clipped to ``max_velocity`` and slewed by ``max_acceleration``
  (speeding up) and ``max_deceleration`` (slowing down);
- the e-stop latches zero until a release request, and then until every source
  (whatever the mode) has been absent or commanding zero for ``estop_release_hold_s``
  since the request and since its last non-zero command. One transient zero (a
  stale-frame zero from a policy that is still driving) therefore never releases it,
  and releasing never lurches. The release is reported through ``info``;
- a clock that jumps backwards (bag loop, sim reset) clears every input.

Time comes in as an argument (seconds); nothing here reads a clock. The parts, each
tested on its own: ``arbiter_config`` (parameters and sources), ``sources`` (inputs and
the choice among them), ``estop`` (the latch) and ``slew`` (the limits over time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np

from mobile_vla.actions import ACTION_NAMES, ZERO
from mobile_vla.config import ConfigError
from mobile_vla.topics import CONTROL_MODES
from mobile_vla_control.arbiter_config import ROLES_IN_MODE, ArbiterConfig
from mobile_vla_control.estop import EstopLatch
from mobile_vla_control.slew import NO_HITS, SlewLimiter
from mobile_vla_control.sources import Source, Sources


@dataclass(frozen=True)
class ArbiterOutput:
    """What to publish on cmd_vel this tick, and why."""

    action: tuple[float, float, float]
    source: str | None
    reason: str  # 'source', 'estop', 'no_source', 'hybrid_hold', 'startup', 'bad_time'
    velocity_limited: tuple[bool, ...]
    accel_limited: tuple[bool, ...]


class ControlArbiter:
    """Chooses the velocity command from the sources, the mode and the e-stop."""

    def __init__(
        self, config: ArbiterConfig | None = None, warn: Callable[[str], None] | None = None,
        info: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config or ArbiterConfig()
        self._warn = warn or (lambda _msg: None)
        self._info = info or (lambda _msg: None)
        self.sources = Sources(self.config.sources)
        self.mode = self.config.initial_mode
        self.estop = EstopLatch(self.config.estop_release_hold_s)
        self._start_config = self.config
        self.slew = SlewLimiter(self.config.max_velocity, self.config.max_acceleration,
                                self.config.max_deceleration)
        self._first_tick: float | None = None
        self._last_now: float | None = None
        self._last = ArbiterOutput(ZERO, None, 'no_source', NO_HITS, NO_HITS)
        self.rejected_modes = 0
        self.clock_resets = 0
        self.bad_times = 0
        self._state_key: tuple | None = None
        self._state_time: float | None = None

    @property
    def estop_latched(self) -> bool:
        return self.estop.latched

    def retune(self, config: ArbiterConfig) -> None:
        """Take new velocity and acceleration limits (the live fields) from ``config``.

        Limits may be lowered, and raised back up to the values the node started with;
        more needs a restart (a typo in ``ros2 param set`` must not unleash the robot).
        A lower velocity limit applies at the next tick, not after a ramp.
        """
        for name in ('max_velocity', 'max_acceleration', 'max_deceleration'):
            new, start = getattr(config, name), getattr(self._start_config, name)
            if any(n > s for n, s in zip(new, start, strict=True)):
                raise ConfigError(f'{name} {list(new)} is above the start-up limits '
                                  f'{list(start)}; lower values only, or restart the node')
        self.config = replace(self.config, max_velocity=config.max_velocity,
                              max_acceleration=config.max_acceleration,
                              max_deceleration=config.max_deceleration)
        self.slew.set_limits(config.max_velocity, config.max_acceleration,
                             config.max_deceleration)

    # ----------------------------------------------------------------- inputs
    @property
    def source_names(self) -> tuple[str, ...]:
        return self.sources.names

    def source_for_topic(self, topic: str) -> str:
        return self.sources.for_topic(topic)

    def on_command(self, source: str, action: Sequence[float], now: float) -> bool:
        """A velocity command from ``source``; False (and counted) if rejected."""
        state = self.sources.get(source)
        if not self._observe_clock(now):
            state.reject()
            return False
        arr = _as_vector(action)
        ok = (
            arr is not None
            and arr.size in (2, 3)
            and bool(np.all(np.isfinite(arr)))
            and bool(np.all(np.abs(arr) <= self.config.reject_above))
        )
        if not ok:
            state.reject()
            self._warn(
                f'rejected command from {source}: {action!r} (NaN, inf, wrong size or beyond '
                f'{self.config.reject_above}); the source is absent until its next valid message'
            )
            return False
        state.accept((float(arr[0]), float(arr[1]), float(arr[2]) if arr.size == 3 else 0.0),
                     now)
        return True

    def may_drive(self, source: str) -> bool:
        """The source's role may drive in the current mode (its command can change the
        output now)."""
        return self.sources.get(source).config.role in ROLES_IN_MODE[self.mode]

    def on_mode(self, text: str, now: float) -> bool:
        """Switch mode (manual / vla / hybrid); True when it changed. Unknown strings leave
        it unchanged; the mode it already is (a latched publisher's message arriving on
        both of the arbiter's subscriptions) changes nothing."""
        if not self._observe_clock(now):
            return False
        mode = str(text).strip().lower()
        if mode not in CONTROL_MODES:
            self.rejected_modes += 1
            shown = repr(str(text)[:40]) + ('...' if len(str(text)) > 40 else '')
            self._warn(f'unknown mode {shown} ignored; use one of {", ".join(CONTROL_MODES)} '
                       f'(mode stays {self.mode})')
            return False
        changed, self.mode = mode != self.mode, mode
        return changed

    def on_estop(self, engaged: bool, now: float) -> str | None:
        """True latches the e-stop; False asks to release it (``EstopLatch``).

        A release asked for during the start-up hold is ignored. Returns what changed
        ('ENGAGED', 'release requested', 'release ignored during start-up'), or None. An
        engage is taken even at a bad time; a release is not.
        """
        if not self._observe_clock(now) and not engaged:
            return None
        if engaged:
            return self.estop.engage()
        return self.estop.request_release(now, self._starting(now))

    def _starting(self, now: float) -> bool:
        if self.config.startup_hold_s <= 0:
            return False
        return self._first_tick is None or now - self._first_tick < self.config.startup_hold_s

    def _observe_clock(self, now: float) -> bool:
        """Track the clock; False for a time that is not a finite number (NaN, inf), which
        is warned about, counted and otherwise ignored."""
        if not math.isfinite(now):
            self.bad_times += 1
            self._warn(f'time {now!r} is not a finite number: ignored, the output is zero')
            return False
        if self._last_now is not None and now < self._last_now:
            self.clock_resets += 1
            self._warn(f'clock went back {self._last_now - now:.3f} s; all inputs cleared')
            self.sources.forget()
            self.estop.restart_hold(now)
            self.slew.restart()
            self._first_tick = None
        self._last_now = now
        return True

    # ----------------------------------------------------------------- output
    def _select(self, now: float, estop_pending: bool) -> tuple[Source | None, str]:
        since = now - self._first_tick
        if since < self.config.startup_hold_s or (
                estop_pending and since < self.config.latched_wait_s):
            return None, 'startup'
        if self.estop.latched:
            quiet = self.estop.release_if_quiet(now, self.sources)
            if quiet is None:
                return None, 'estop'
            self._info(f'e-stop released: every input absent or zero for {quiet:.2f} s '
                       f'(hold {self.config.estop_release_hold_s} s)')
        return self.sources.pick(self.mode, now, self.config.hybrid_hold_s)

    def tick(self, now: float, *, estop_pending: bool = False) -> ArbiterOutput:
        """The command to publish at ``now``: call at ``rate_hz`` (the watchdog that keeps
        zero going out when inputs are stale) and on each new command. Slew limits apply
        over the time since the last instant (``SlewLimiter``). A time that is not finite
        gives zero, and the next output ramps up from zero. ``estop_pending``: a latched
        e-stop publisher is known but its state has not arrived (zero for up to
        ``latched_wait_s`` from the first tick)."""
        if not self._observe_clock(now):
            self.slew.output = ZERO  # the instant's limit hits stay counted
            self._last = ArbiterOutput(ZERO, None, 'bad_time', NO_HITS, NO_HITS)
            return self._last
        self.slew.begin(now, 1.0 / self.config.rate_hz)
        if self._first_tick is None:
            self._first_tick = now
        source, reason = self._select(now, estop_pending)
        if source is None:
            self.slew.zero()
            self._last = ArbiterOutput(ZERO, None, reason, NO_HITS, NO_HITS)
        else:
            action, v_hit, a_hit = self.slew.follow(source.action)
            self._last = ArbiterOutput(action, source.config.name, reason, v_hit, a_hit)
        return self._last

    # ------------------------------------------------------------------ state
    def state_due(self, now: float) -> bool:
        """True when control/state should go out: something changed, or a period passed."""
        last = self._last
        key = (self.mode, self.estop.latched, self.estop.release_requested, last.source,
               last.reason)
        if (key == self._state_key and self._state_time is not None
                and 0 <= now - self._state_time < self.config.state_period_s):
            return False
        self._state_key, self._state_time = key, now
        return True

    def state(self, now: float) -> dict[str, Any]:
        """JSON-ready state for control/state."""
        last = self._last
        return {
            'mode': self.mode,
            'active_source': last.source,
            'reason': last.reason,
            'output': dict(zip(ACTION_NAMES, last.action, strict=True)),
            'estop': {'latched': self.estop.latched,
                      'release_requested': self.estop.release_requested,
                      'count': self.estop.count},
            'inputs': {
                s.config.name: {
                    'topic': s.config.topic,
                    'role': s.config.role,
                    'age_s': None if s.age(now) is None else round(s.age(now), 4),
                    'valid': s.valid(now),
                    'received': s.received,
                    'rejected': s.rejected,
                }
                for s in self.sources
            },
            'limits_hit': {
                'velocity': dict(zip(ACTION_NAMES, self.slew.velocity_hits, strict=True)),
                'acceleration': dict(zip(ACTION_NAMES, self.slew.accel_hits, strict=True)),
                'now': {'velocity': list(last.velocity_limited),
                        'acceleration': list(last.accel_limited)},
            },
            'rejected_modes': self.rejected_modes,
            'clock_resets': self.clock_resets,
            'bad_times': self.bad_times,
        }

    def diagnostics(self, now: float) -> tuple[str, str, dict[str, str]]:
        """(level 'OK'/'WARN'/'ERROR', message, key values) for /diagnostics."""
        last = self._last
        rejected = sum(s.rejected for s in self.sources)
        if self.estop.latched:
            level, message = 'WARN', 'e-stop latched' + (
                f': release waits for every input to be zero for '
                f'{self.config.estop_release_hold_s} s' if self.estop.release_requested else '')
        elif last.reason == 'no_source' and self.mode != 'manual':
            level, message = 'WARN', f'{self.mode} mode but no valid input: publishing zero'
        elif rejected:
            level, message = 'WARN', f'{rejected} invalid input(s) rejected so far'
        else:
            level, message = 'OK', f'{self.mode}: ' + (
                f'driven by {last.source}' if last.source else 'idle, publishing zero')
        values = {
            'mode': self.mode,
            'active_source': str(last.source),
            'reason': last.reason,
            'estop_latched': str(self.estop.latched),
        }
        for s in self.sources:
            age = s.age(now)
            values[f'{s.config.name}.age_s'] = 'never' if age is None else f'{age:.3f}'
            values[f'{s.config.name}.rejected'] = str(s.rejected)
        return level, message, values


def _as_vector(action: Any) -> np.ndarray | None:
    try:
        return np.asarray(action, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
