"""The original data collector's key map, shared by every way of driving with keys.

The terminal teleop (``mobile_vla_control.teleop``) and the web console
(``mobile_vla_web``) both read it, so a key means the same thing everywhere.
Directions are units of (linear_x, linear_y, angular_z), scaled by the key speed
(1.15, the action limit) times the throttle.
"""

from __future__ import annotations

#: Unit direction per key, (linear_x, linear_y, angular_z); scaled by key_speed * throttle.
KEY_BINDINGS: dict[str, tuple[float, float, float]] = {
    'w': (1.0, 0.0, 0.0),
    'a': (0.0, 1.0, 0.0),
    's': (-1.0, 0.0, 0.0),
    'd': (0.0, -1.0, 0.0),
    'q': (1.0, 1.0, 0.0),
    'e': (1.0, -1.0, 0.0),
    'z': (-1.0, 1.0, 0.0),
    'c': (-1.0, -1.0, 0.0),
    'r': (0.0, 0.0, 1.0),
    't': (0.0, 0.0, -1.0),
}
STOP_KEYS = frozenset({' '})
MODE_KEYS = {'m': 'manual', 'v': 'vla', 'h': 'hybrid'}
#: f / g: throttle down / up by one step.
THROTTLE_KEYS = {'f': -1, 'g': +1}
#: The original collector's step, in percent (a teleop may set its own, throttle_step).
THROTTLE_STEP = 10
THROTTLE_MIN, THROTTLE_MAX = 10, 100


def key_command(key: str | None, key_speed: float,
                throttle_percent: int) -> tuple[float, float, float]:
    """The velocity a held ``key`` asks for at ``throttle_percent``; zero for no key."""
    if key is None:
        return (0.0, 0.0, 0.0)
    scale = key_speed * throttle_percent / 100.0
    return tuple(round(v * scale, 6) for v in KEY_BINDINGS[key])


def clamp_throttle(percent: int) -> int:
    return min(THROTTLE_MAX, max(THROTTLE_MIN, int(percent)))
