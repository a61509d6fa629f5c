"""The simulator's own parameters and constants (``--set key=value`` on the command line)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mobile_vla.config import ConfigError
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

    width: int = 640  # forward camera render size; the policy resizes to its input
    height: int = 360
    frame_rate_hz: float = 4.0  # camera frames = policy decisions = recorded frames
    physics_rate_hz: float = 100.0  # base command updates (physics steps at 200 Hz inside)
    odom_rate_hz: float = 10.0
    time_limit_s: float = 12.0
    success_radius: float = 0.45  # robot centre to cup centre, metres
    top_size: int = 480  # top-down PNG, pixels

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
