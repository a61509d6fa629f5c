"""The control arbiter's configuration: its sources (twist_mux style) and its limits.

A source is data: a topic, a timeout, a priority and a role. ``ROLES_IN_MODE`` says which
roles may drive in each of ``topics.CONTROL_MODES``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping

import numpy as np

from mobile_vla import topics
from mobile_vla.actions import ACTION_LIMIT
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


