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
  ``latched_wait_s`` while ``estop_pending`` (a latched e-stop publisher is known but
  its latched state has not arrived): a (re)started arbiter hears an engaged e-stop
  before anything drives;
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

Time comes in as an argument (seconds); nothing here reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from mobile_vla import topics
from mobile_vla.actions import ACTION_LIMIT, ACTION_NAMES, ZERO
from mobile_vla.config import ConfigError, documented, from_params, to_params
from mobile_vla.topics import CONTROL_MODES

ROLES = ('manual', 'policy')
ROLES_IN_MODE = {'manual': ('manual',), 'vla': ('policy',), 'hybrid': ('manual', 'policy')}


@dataclass(frozen=True)
class SourceConfig:
    """One velocity source: ``sources.<name>.{topic,timeout,priority,role}`` in YAML."""

    name: str
    topic: str = documented('the topic a source listens to (relative: moves with the '
                            'namespace)')
    timeout: float = documented('seconds after its last message that a source is absent')
    priority: int = documented('higher wins among valid sources of the allowed role')
    role: str = documented('manual: drives in manual, overrides in hybrid; policy: drives '
                           'in vla and hybrid')

    def __post_init__(self) -> None:
        if not self.name or not self.topic:
            raise ConfigError(f'source {self.name!r} needs a name and a topic')
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ConfigError(f'source {self.name}: timeout must be a finite number > 0 s, '
                              f'got {self.timeout} (a source that never expires would drive '
                              'on its last command forever)')
        if self.role not in ROLES:
            raise ConfigError(
                f'source {self.name}: role must be one of {ROLES}, got {self.role!r}')


DEFAULT_SOURCES = (
    SourceConfig('teleop', topics.TELEOP_CMD_VEL.name, 0.5, 100, 'manual'),
    SourceConfig('vla', topics.ROBOT_ACTION.name, 0.5, 50, 'policy'),
)


@dataclass(frozen=True)
class ArbiterConfig:
    """Parameters of the control arbiter node (and of the plain component)."""

    rate_hz: float = documented(
        'watchdog rate of cmd_vel in Hz (zero is published too); a new valid command is '
        'published at once as well', 20.0)
    initial_mode: str = documented('mode at start: manual, vla or hybrid', 'manual')
    hybrid_hold_s: float = documented(
        'hybrid: seconds after the last non-zero manual command before the policy drives again',
        1.0)
    max_velocity: tuple[float, ...] = documented(
        'per-axis output limit (linear_x, linear_y, angular_z); live', (ACTION_LIMIT,) * 3,
        live=True)
    max_acceleration: tuple[float, ...] = documented(
        'per-axis limit when speeding up, units per second squared; live', (2.3, 2.3, 4.6),
        live=True)
    max_deceleration: tuple[float, ...] = documented(
        'per-axis limit when slowing down, units per second squared; live', (4.6, 4.6, 9.2),
        live=True)
    startup_hold_s: float = documented(
        'zero for this long after the first tick, and longer (up to latched_wait_s) while a '
        'known latched e-stop publisher has not yet delivered its state; 0 where delivery '
        'is instant (simulator)', 1.0)
    latched_wait_s: float = documented(
        'longest start-up wait for the e-stop of a latched publisher already discovered',
        10.0)
    estop_release_hold_s: float = documented(
        'a requested e-stop release happens once every source has been absent or zero for '
        'this long', 0.5)
    reject_above: float = documented(
        'inputs with any axis beyond this magnitude are rejected as corrupt (not clipped)', 10.0)
    stamped_output: bool = documented(
        'also publish each command as geometry_msgs/TwistStamped on stamped_topic, for a '
        'base that wants a stamp; cmd_vel stays Twist for the whole graph', False)
    stamped_topic: str = documented('topic of the TwistStamped copy (remap the base driver to it)',
                             'cmd_vel_stamped')
    frame_id: str = documented('frame_id of the TwistStamped output', 'base_link')
    state_period_s: float = documented(
        'control/state is published on every change and at least this often', 0.5)
    sources: tuple[SourceConfig, ...] = documented(
        'velocity sources: sources.<name>.{topic,timeout,priority,role}', DEFAULT_SOURCES)

    def __post_init__(self) -> None:
        # Every time and rate is a finite number: an infinite hold or timeout never ends.
        for name in ('rate_hz', 'hybrid_hold_s', 'startup_hold_s', 'latched_wait_s',
                     'estop_release_hold_s', 'reject_above', 'state_period_s'):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f'{name} must be a finite number, got {getattr(self, name)}')
        if not self.rate_hz > 0:
            raise ConfigError(f'rate_hz must be > 0, got {self.rate_hz}')
        if self.initial_mode not in CONTROL_MODES:
            raise ConfigError(f'initial_mode must be one of {CONTROL_MODES}, got '
                              f'{self.initial_mode!r}')
        if not self.hybrid_hold_s >= 0:
            raise ConfigError(f'hybrid_hold_s must be >= 0, got {self.hybrid_hold_s}')
        if not self.startup_hold_s >= 0:
            raise ConfigError(f'startup_hold_s must be >= 0, got {self.startup_hold_s}')
        if not self.latched_wait_s >= self.startup_hold_s:
            raise ConfigError(f'latched_wait_s must be >= startup_hold_s, got '
                              f'{self.latched_wait_s}')
        if not self.estop_release_hold_s > 0:
            raise ConfigError('estop_release_hold_s must be > 0, got '
                              f'{self.estop_release_hold_s}')
        for name in ('max_velocity', 'max_acceleration', 'max_deceleration'):
            values = getattr(self, name)
            if len(values) != 3 or not all(np.isfinite(v) and v > 0 for v in values):
                raise ConfigError(f'{name} needs three positive numbers, got {list(values)}')
        if not self.reject_above > 0:
            raise ConfigError(f'reject_above must be > 0, got {self.reject_above}')
        if not self.stamped_topic.strip('/'):
            raise ConfigError('stamped_topic must name a topic')
        if not self.state_period_s > 0:
            raise ConfigError(f'state_period_s must be > 0, got {self.state_period_s}')
        if not self.sources:
            raise ConfigError('the arbiter needs at least one source')
        if not all(isinstance(s, SourceConfig) for s in self.sources):
            raise ConfigError('sources are given as sources.<name>.{topic,timeout,priority,'
                              f'role}}, got {self.sources!r:.80}')
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ConfigError(f'source names must be unique, got {names}')
        topics_ = [s.topic.lstrip('/') for s in self.sources]
        if len(set(topics_)) != len(topics_):
            raise ConfigError(f'two sources listen to the same topic: {topics_}')

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ArbiterConfig:
        """From flat parameters (node or YAML); ``sources.*`` replace the defaults if given."""
        sources = sources_from_params(params)
        config = from_params(cls, params, skip=('sources.',))
        if sources:
            config = _replace(config, sources=sources)
        return config


def arbiter_params(config: ArbiterConfig) -> dict[str, Any]:
    """``config`` as the flat parameters a node is given, ``sources.<name>.<key>`` included."""
    params = to_params(config)
    for source in config.sources:
        params.update({f'sources.{source.name}.{key}': getattr(source, key)
                       for key in SOURCE_KEYS})
    return params


def _replace(config: ArbiterConfig, **changes: Any) -> ArbiterConfig:
    try:
        return replace(config, **changes)
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


SOURCE_KEYS = ('topic', 'timeout', 'priority', 'role')


def sources_from_params(params: Mapping[str, Any]) -> tuple[SourceConfig, ...]:
    """Parse ``sources.<name>.<key>`` parameters (twist_mux style) into source configs."""
    grouped: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        if not key.startswith('sources.'):
            continue
        parts = key.split('.')
        if len(parts) != 3 or parts[2] not in SOURCE_KEYS:
            raise ConfigError(
                f'unknown source parameter {key}; use sources.<name>.'
                f'{{{",".join(SOURCE_KEYS)}}}'
            )
        grouped.setdefault(parts[1], {})[parts[2]] = value
    sources = []
    for name, values in grouped.items():
        missing = [k for k in SOURCE_KEYS if k not in values]
        if missing:
            raise ConfigError(f'source {name} lacks {", ".join(missing)}')
        try:
            sources.append(from_params(SourceConfig, {'name': name, **values}))
        except ConfigError as exc:
            raise ConfigError(f'source {name}: {exc}') from None
    return tuple(sources)


@dataclass
class _Source:
    config: SourceConfig
    index: int
    action: tuple[float, float, float] | None = None
    stamp: float | None = None
    nonzero_stamp: float | None = None
    received: int = 0
    rejected: int = 0

    def valid(self, now: float) -> bool:
        return (
            self.action is not None
            and self.stamp is not None
            and now - self.stamp <= self.config.timeout
        )

    def age(self, now: float) -> float | None:
        return None if self.stamp is None else max(0.0, now - self.stamp)


@dataclass(frozen=True)
class ArbiterOutput:
    """What to publish on cmd_vel this tick, and why."""

    action: tuple[float, float, float]
    source: str | None
    reason: str  # 'source', 'estop', 'no_source', 'hybrid_hold', 'startup', 'bad_time'
    velocity_limited: tuple[bool, bool, bool]
    accel_limited: tuple[bool, bool, bool]


class ControlArbiter:
    """Chooses the velocity command from the sources, the mode and the e-stop."""

    def __init__(
        self, config: ArbiterConfig | None = None, warn: Callable[[str], None] | None = None,
        info: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config or ArbiterConfig()
        self._warn = warn or (lambda _msg: None)
        self._info = info or (lambda _msg: None)
        self._sources = {s.name: _Source(s, i) for i, s in enumerate(self.config.sources)}
        self._by_topic = {s.topic.lstrip('/'): s.name for s in self.config.sources}
        self.mode = self.config.initial_mode
        self.estop_latched = False
        self.release_requested = False
        self._release_requested_at = 0.0
        self._start_config = self.config
        #: Set by the node while an e-stop publisher it knows of has not delivered yet.
        self.estop_pending = False
        self._set_limits(self.config)
        self._output = ZERO
        self._last_tick: float | None = None
        # The output before the current instant and the time step to it: another tick at
        # the same instant (a command and the watchdog together) recomputes from there, so
        # the output of an instant never depends on the order of its messages.
        self._instant_base: tuple[tuple[float, float, float], float] = (ZERO, 0.0)
        self._first_tick: float | None = None
        self._last_now: float | None = None
        self._last: ArbiterOutput = ArbiterOutput(ZERO, None, 'no_source', (False,) * 3,
                                                  (False,) * 3)
        self.velocity_limit_hits = [0, 0, 0]
        self.accel_limit_hits = [0, 0, 0]
        self.rejected_modes = 0
        self.estop_count = 0
        self.clock_resets = 0
        self.bad_times = 0
        self._state_key: tuple | None = None
        self._state_time: float | None = None

    def _set_limits(self, config: ArbiterConfig) -> None:
        # Plain floats: per-axis numpy calls on 3-vectors would dominate the tick time.
        self._vmax = tuple(float(v) for v in config.max_velocity)
        self._accel = tuple(float(v) for v in config.max_acceleration)
        self._decel = tuple(float(v) for v in config.max_deceleration)

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
        self._set_limits(self.config)

    # ----------------------------------------------------------------- inputs
    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(self._sources)

    def source_for_topic(self, topic: str) -> str:
        try:
            return self._by_topic[topic.lstrip('/')]
        except KeyError:
            raise KeyError(f'no source listens to {topic}; sources: {self._by_topic}') from None

    def on_command(self, source: str, action: Sequence[float], now: float) -> bool:
        """A velocity command from ``source``; False (and counted) if rejected."""
        try:
            state = self._sources[source]
        except KeyError:
            raise KeyError(f'unknown source {source!r}; known: {list(self._sources)}') from None
        if not self._observe_clock(now):
            state.rejected += 1
            state.action = None
            return False
        arr = _as_vector(action)
        ok = (
            arr is not None
            and arr.size in (2, 3)
            and bool(np.all(np.isfinite(arr)))
            and bool(np.all(np.abs(arr) <= self.config.reject_above))
        )
        if not ok:
            state.rejected += 1
            state.action = None
            self._warn(
                f'rejected command from {source}: {action!r} (NaN, inf, wrong size or beyond '
                f'{self.config.reject_above}); the source is absent until its next valid message'
            )
            return False
        values = (float(arr[0]), float(arr[1]), float(arr[2]) if arr.size == 3 else 0.0)
        state.action = values
        state.stamp = now
        state.received += 1
        if values != ZERO:
            state.nonzero_stamp = now
        return True

    def may_drive(self, source: str) -> bool:
        """The source's role may drive in the current mode (its command can change the
        output now)."""
        return self._sources[source].config.role in ROLES_IN_MODE[self.mode]

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
        """True latches the e-stop; False asks to release it (see the module docstring).

        A release asked for during the start-up hold is ignored: it may be a stale
        latched ``false`` of one publisher arriving after another's ``true``. Returns
        what changed ('ENGAGED', 'release requested', 'release ignored during start-up'),
        or None. An engage is taken even at a bad time; a release is not.
        """
        if not self._observe_clock(now) and not engaged:
            return None
        if engaged:
            if self.estop_latched and not self.release_requested:
                return None
            if not self.estop_latched:
                self.estop_count += 1
            self.estop_latched = True
            self.release_requested = False
            return 'ENGAGED'
        if not self.estop_latched or self.release_requested:
            return None
        if self._starting(now):
            return 'release ignored during start-up'
        self.release_requested = True
        self._release_requested_at = now
        return 'release requested'

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
            for state in self._sources.values():
                state.action = state.stamp = state.nonzero_stamp = None
            self._release_requested_at = now
            self._last_tick = None
            self._first_tick = None
            self._output = ZERO
        self._last_now = now
        return True

    # ----------------------------------------------------------------- output
    def _eligible(self) -> list[_Source]:
        roles = ROLES_IN_MODE[self.mode]
        return [s for s in self._sources.values() if s.config.role in roles]

    def _try_release(self, now: float) -> None:
        if not self.release_requested:
            return
        quiet_since = self._release_requested_at
        for state in self._sources.values():
            if state.valid(now) and state.action != ZERO:
                return
            if state.nonzero_stamp is not None:
                quiet_since = max(quiet_since, state.nonzero_stamp)
        if now - quiet_since < self.config.estop_release_hold_s:
            return
        self.estop_latched = False
        self.release_requested = False
        self._info(f'e-stop released: every input absent or zero for '
                   f'{now - quiet_since:.2f} s (hold {self.config.estop_release_hold_s} s)')

    def _manual_claim(self, now: float) -> bool:
        """Hybrid: a manual source drives now, or did within the hold time."""
        for s in self._sources.values():
            if s.config.role != 'manual' or s.nonzero_stamp is None:
                continue
            if s.valid(now) and s.action != ZERO:
                return True
            if now - s.nonzero_stamp <= self.config.hybrid_hold_s:
                return True
        return False

    def _select(self, now: float) -> tuple[_Source | None, str]:
        since = now - self._first_tick
        if since < self.config.startup_hold_s or (
                self.estop_pending and since < self.config.latched_wait_s):
            return None, 'startup'
        if self.estop_latched:
            self._try_release(now)
            if self.estop_latched:
                return None, 'estop'
        if self.mode == 'hybrid':
            claim = self._manual_claim(now)
            role = 'manual' if claim else 'policy'
            candidates = [s for s in self._sources.values()
                          if s.config.role == role and s.valid(now)]
            if claim and not candidates:
                return None, 'hybrid_hold'
        else:
            candidates = [s for s in self._eligible() if s.valid(now)]
        if not candidates:
            return None, 'no_source'
        best = max(candidates, key=lambda s: (s.config.priority, -s.index))
        return best, 'source'

    def tick(self, now: float) -> ArbiterOutput:
        """The command to publish at ``now``: call at ``rate_hz`` (the watchdog that keeps
        zero going out when inputs are stale) and on each new command. Slew limits apply
        over the time since the last call, so extra calls never speed a ramp up. A time
        that is not finite gives zero, and the next output ramps up from zero."""
        if not self._observe_clock(now):
            self._output = ZERO
            self._last = ArbiterOutput(ZERO, None, 'bad_time', (False,) * 3, (False,) * 3)
            return self._last
        period = 1.0 / self.config.rate_hz
        if self._last_tick is not None and now == self._last_tick:
            self._output, dt = self._instant_base
            for axis in range(3):  # this instant's limit hits are counted once
                self.velocity_limit_hits[axis] -= self._last.velocity_limited[axis]
                self.accel_limit_hits[axis] -= self._last.accel_limited[axis]
        else:
            dt = period if self._last_tick is None else min(max(now - self._last_tick, 0.0),
                                                             2 * period)
            self._instant_base = (self._output, dt)
        self._last_tick = now
        if self._first_tick is None:
            self._first_tick = now
        source, reason = self._select(now)
        no_limit = (False, False, False)
        if source is None:
            self._output = ZERO
            self._last = ArbiterOutput(ZERO, None, reason, no_limit, no_limit)
            return self._last
        out, v_hit, a_hit = [], [], []
        for axis, (target, current) in enumerate(zip(source.action, self._output, strict=True)):
            vmax = self._vmax[axis]
            clipped = min(max(target, -vmax), vmax)
            # Slowing down: same direction (or stopping) and smaller magnitude.
            slowing = current * clipped >= 0.0 and abs(clipped) <= abs(current)
            max_step = (self._decel[axis] if slowing else self._accel[axis]) * dt
            value = current + min(max(clipped - current, -max_step), max_step)
            value = min(max(value, -vmax), vmax)  # a lowered limit holds at once
            out.append(value)
            v_hit.append(clipped != target)
            a_hit.append(value != clipped)
            self.velocity_limit_hits[axis] += clipped != target
            self.accel_limit_hits[axis] += value != clipped
        self._output = (out[0], out[1], out[2])
        self._last = ArbiterOutput(self._output, source.config.name, reason,
                                   tuple(v_hit), tuple(a_hit))
        return self._last

    # ------------------------------------------------------------------ state
    def state_due(self, now: float) -> bool:
        """True when control/state should go out: something changed, or a period passed."""
        last = self._last
        key = (self.mode, self.estop_latched, self.release_requested, last.source, last.reason)
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
            'estop': {'latched': self.estop_latched, 'release_requested': self.release_requested,
                      'count': self.estop_count},
            'inputs': {
                name: {
                    'topic': s.config.topic,
                    'role': s.config.role,
                    'age_s': None if s.age(now) is None else round(s.age(now), 4),
                    'valid': s.valid(now),
                    'received': s.received,
                    'rejected': s.rejected,
                }
                for name, s in self._sources.items()
            },
            'limits_hit': {
                'velocity': dict(zip(ACTION_NAMES, self.velocity_limit_hits, strict=True)),
                'acceleration': dict(zip(ACTION_NAMES, self.accel_limit_hits, strict=True)),
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
        rejected = sum(s.rejected for s in self._sources.values())
        if self.estop_latched:
            level, message = 'WARN', 'e-stop latched' + (
                f': release waits for every input to be zero for '
                f'{self.config.estop_release_hold_s} s' if self.release_requested else '')
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
            'estop_latched': str(self.estop_latched),
        }
        for name, s in self._sources.items():
            age = s.age(now)
            values[f'{name}.age_s'] = 'never' if age is None else f'{age:.3f}'
            values[f'{name}.rejected'] = str(s.rejected)
        return level, message, values


def _as_vector(action: Any) -> np.ndarray | None:
    try:
        return np.asarray(action, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
