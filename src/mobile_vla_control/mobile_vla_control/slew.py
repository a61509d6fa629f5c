"""Per-axis velocity and acceleration limits of the arbiter's output, over time.

Each axis is clipped to its velocity limit and moves by at most ``max_acceleration``
(speeding up) or ``max_deceleration`` (slowing down) times the time since the last
instant (one period for the first, at most two). Every call at one instant shares that
instant's budget from the output before it, so the output of an instant never depends
on the order of its messages, and extra calls never speed a ramp up.
"""

from __future__ import annotations

from typing import Sequence

from mobile_vla.actions import ZERO

Vector = tuple[float, float, float]
NO_HITS = (False, False, False)


class SlewLimiter:
    def __init__(self, vmax: Sequence[float], accel: Sequence[float],
                 decel: Sequence[float]) -> None:
        self.set_limits(vmax, accel, decel)
        self.output: Vector = ZERO
        self._last_instant: float | None = None
        self._base: tuple[Vector, float] = (ZERO, 0.0)  # output before this instant, dt
        self._dt = 0.0
        # Limit hits per axis: counted once per instant (the instant's last output).
        self._hits_before = ([0, 0, 0], [0, 0, 0])
        self._hits_now: tuple[Sequence[bool], Sequence[bool]] = (NO_HITS, NO_HITS)

    def set_limits(self, vmax: Sequence[float], accel: Sequence[float],
                   decel: Sequence[float]) -> None:
        # Plain floats: per-axis numpy calls on 3-vectors would dominate the tick time.
        self._vmax = tuple(float(v) for v in vmax)
        self._accel = tuple(float(v) for v in accel)
        self._decel = tuple(float(v) for v in decel)

    @property
    def velocity_hits(self) -> list[int]:
        return [a + b for a, b in zip(self._hits_before[0], self._hits_now[0], strict=True)]

    @property
    def accel_hits(self) -> list[int]:
        return [a + b for a, b in zip(self._hits_before[1], self._hits_now[1], strict=True)]

    def restart(self) -> None:
        """The clock went back: the output is zero and the next instant is a first one."""
        self.output = ZERO
        self._last_instant = None

    def begin(self, now: float, period: float) -> None:
        """Start (or return to) the instant ``now``."""
        if self._last_instant is not None and now == self._last_instant:
            self.output, self._dt = self._base
            self._hits_now = (NO_HITS, NO_HITS)
            return
        self._dt = period if self._last_instant is None else \
            min(max(now - self._last_instant, 0.0), 2 * period)
        self._base = (self.output, self._dt)
        for total, hits in zip(self._hits_before, self._hits_now, strict=True):
            for axis in range(3):
                total[axis] += hits[axis]
        self._hits_now = (NO_HITS, NO_HITS)
        self._last_instant = now

    def zero(self) -> None:
        """This instant's output is zero (no source, e-stop): at once, never ramped."""
        self.output = ZERO
        self._hits_now = (NO_HITS, NO_HITS)

    def follow(self, target: Vector) -> tuple[Vector, tuple[bool, ...], tuple[bool, ...]]:
        """Move toward ``target`` within this instant's budget: the output, and per axis
        whether the velocity and the acceleration limits held it back."""
        out, v_hit, a_hit = [], [], []
        for axis, (want, current) in enumerate(zip(target, self.output, strict=True)):
            vmax = self._vmax[axis]
            clipped = min(max(want, -vmax), vmax)
            # Slowing down: same direction (or stopping) and smaller magnitude.
            slowing = current * clipped >= 0.0 and abs(clipped) <= abs(current)
            max_step = (self._decel[axis] if slowing else self._accel[axis]) * self._dt
            value = current + min(max(clipped - current, -max_step), max_step)
            value = min(max(value, -vmax), vmax)  # a lowered limit holds at once
            out.append(value)
            v_hit.append(clipped != want)
            a_hit.append(value != clipped)
        self.output = (out[0], out[1], out[2])
        self._hits_now = (tuple(v_hit), tuple(a_hit))
        return self.output, self._hits_now[0], self._hits_now[1]
