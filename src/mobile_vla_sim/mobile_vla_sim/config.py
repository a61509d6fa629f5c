"""The simulator's own parameters and constants (``--set key=value`` on the command line)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mobile_vla.config import ConfigError, documented
from mobile_vla.units import NS

#: Simulation clock origin: 2026-01-01T00:00:00Z (file names and stamps are reproducible).
SIM_EPOCH_NS = 1_767_225_600 * NS
#: The simulator's parameter profile, a file of config/.
SIM_PROFILE = 'sim.yaml'

#: The largest render side. MuJoCo's offscreen buffer follows the render size, and a
#: buffer the GL context cannot make ends the process with a fatal error.
MAX_RENDER = 2048


@dataclass(frozen=True)
class SimConfig:
    """The simulator's own parameters (``--set key=value`` on the command line)."""

    width: int = documented('forward camera render width in pixels (the policy resizes to '
                            'its input)', 640)
    height: int = documented('forward camera render height in pixels', 360)
    frame_rate_hz: float = documented(
        'camera frames per second = policy decisions = recorded frames', 4.0)
    physics_rate_hz: float = documented(
        'base command updates per second (MuJoCo steps at 200 Hz)', 100.0)
    odom_rate_hz: float = documented('`sim/odom` messages per second', 10.0)
    time_limit_s: float = documented('a run whose plan has not ended by then is a time-out',
                                     12.0)
    success_radius: float = documented(
        'success: the robot stops with its centre this near the cup (goal) centre; '
        'coming this near at all is "reached", metres', 0.45)
    top_size: int = documented('top-down PNG size in pixels', 480)

    def __post_init__(self) -> None:
        if not (16 <= self.width <= MAX_RENDER and 16 <= self.height <= MAX_RENDER):
            raise ConfigError(f'render size must be 16-{MAX_RENDER} pixels a side, got '
                              f'{self.width}x{self.height}')
        if not 16 <= self.top_size <= MAX_RENDER:
            raise ConfigError(f'top_size must be 16-{MAX_RENDER} pixels, got {self.top_size}')
        for name, most in (('frame_rate_hz', 100.0), ('physics_rate_hz', 1000.0),
                           ('odom_rate_hz', 1000.0), ('time_limit_s', 3600.0),
                           ('success_radius', 5.0)):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= most):
                raise ConfigError(f'{name} must be in (0, {most}], got {value}')
