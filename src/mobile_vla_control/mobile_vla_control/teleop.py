"""WASD keyboard teleop: the original data collector's key map as a plain component.

The key map is ``HELP`` below (and the package README).

A held key publishes its command at ``rate_hz``. Terminals send a held key once,
then wait their auto-repeat delay (about 0.25-0.66 s) before repeating quickly;
so the first press holds for ``first_key_timeout_s`` (longer than that delay),
and once repeats arrive the command stops ``repeat_timeout_s`` after the last
one. Releasing the key therefore stops the robot within a fraction of a second,
and a single tap drives briefly, as the original's 0.3 s auto-stop did.
Time comes in as an argument; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mobile_vla import topics
from mobile_vla.actions import ACTION_LIMIT
from mobile_vla.config import ConfigError, documented
from mobile_vla.keymap import (  # noqa: F401 (the teleop's key map, re-exported)
    KEY_BINDINGS,
    MODE_KEYS,
    STOP_KEYS,
    THROTTLE_KEYS,
    THROTTLE_STEP,
    clamp_throttle,
    key_command,
)
from mobile_vla.scenarios import SCENARIOS

EPISODE_START_KEY = 'n'
EPISODE_KEEP_KEY = 'k'
EPISODE_DISCARD_KEY = 'j'
QUIT_KEYS = frozenset({'x', '\x03', '\x04'})


HELP = """Keys (case-insensitive):

    q w e      w/s forward/back, a/d strafe left/right, q/e/z/c diagonals
    a s d      r/t rotate left/right, space: stop at once
    z x c      f/g throttle -/+ 10 % (10-100 %)
               m/v/h mode manual / vla / hybrid (published on control/mode)
               n then 1-8: start an episode of scenario N (recorder/control)
               k: end the episode and keep it, j: discard it
               x or Ctrl-C: quit (zero is sent first)
"""

#: Times closer than this count as equal, so a deadline computed by subtraction is met.
EPS = 1e-9


@dataclass(frozen=True)
class TeleopConfig:
    """Parameters of the WASD teleop node."""

    rate_hz: float = documented('publish rate of teleop/cmd_vel while a key is held', 10.0)
    key_speed: float = documented(
        'command magnitude of a key at 100 % throttle (the key map uses 1.15)', ACTION_LIMIT)
    throttle_percent: int = documented('throttle at start, 10-100 % in steps of throttle_step', 50)
    throttle_step: int = documented('f/g change the throttle by this', THROTTLE_STEP)
    first_key_timeout_s: float = documented(
        'a first key press holds this long; must exceed the auto-repeat delay', 0.7)
    repeat_timeout_s: float = documented(
        'once a key repeats, stop this long after its last repeat', 0.15)

    def __post_init__(self) -> None:
        if not self.rate_hz > 0:
            raise ConfigError(f'rate_hz must be > 0, got {self.rate_hz}')
        if not 0 < self.key_speed <= 10:
            raise ConfigError(f'key_speed must be in (0, 10], got {self.key_speed}')
        if not 10 <= self.throttle_percent <= 100:
            raise ConfigError(f'throttle_percent must be 10-100, got {self.throttle_percent}')
        if not 1 <= self.throttle_step <= 90:
            raise ConfigError(f'throttle_step must be 1-90, got {self.throttle_step}')
        if not self.first_key_timeout_s >= self.repeat_timeout_s > 0:
            raise ConfigError(
                'need first_key_timeout_s >= repeat_timeout_s > 0 (the first press must outlast '
                f"the terminal's auto-repeat delay), got {self.first_key_timeout_s} and "
                f'{self.repeat_timeout_s}')


@dataclass
class TeleopStep:
    """What one key or tick produced: messages to publish, a status line, quit."""

    publish: list[tuple[topics.Topic, object]] = field(default_factory=list)
    status: str | None = None
    quit: bool = False

    def merge(self, other: TeleopStep) -> TeleopStep:
        return TeleopStep(self.publish + other.publish, other.status or self.status,
                          self.quit or other.quit)


class WasdTeleop:
    """Turns key presses (with their times) into velocity, mode and recorder messages."""

    def __init__(self, config: TeleopConfig | None = None) -> None:
        self.config = config or TeleopConfig()
        self.throttle = self.config.throttle_percent
        self.active_key: str | None = None
        self._key_stamp = 0.0
        self._repeating = False
        self._next_publish = 0.0
        self._pending_episode = False

    @property
    def command(self) -> tuple[float, float, float]:
        """The velocity the held key asks for, or zero."""
        return key_command(self.active_key, self.config.key_speed, self.throttle)

    def _cmd(self) -> tuple[topics.Topic, object]:
        return (topics.TELEOP_CMD_VEL, self.command)

    def _stop(self, status: str) -> TeleopStep:
        self.active_key = None
        self._repeating = False
        return TeleopStep([(topics.TELEOP_CMD_VEL, (0.0, 0.0, 0.0))], status)

    def on_key(self, key: str, now: float) -> TeleopStep:
        """Handle one key press received at ``now`` (seconds)."""
        if key in QUIT_KEYS:
            step = self._stop('quit: zero sent')
            step.quit = True
            return step
        key = key.lower()
        if self._pending_episode:
            self._pending_episode = False
            if key.isdigit() and 1 <= int(key) <= len(SCENARIOS):
                scenario = SCENARIOS[int(key) - 1]
                return TeleopStep([(topics.RECORDER_CONTROL, f'start {scenario}')],
                                  f'episode started: {scenario}')
            return TeleopStep(status=f'episode start cancelled (pressed {key!r}, wanted 1-8)')
        if key in KEY_BINDINGS:
            if key == self.active_key and now - self._key_stamp < self._timeout() - EPS:
                self._repeating = True
                self._key_stamp = now
                return TeleopStep()
            self.active_key = key
            self._key_stamp = now
            self._repeating = False
            self._next_publish = now + 1.0 / self.config.rate_hz
            return TeleopStep([self._cmd()], f'{key}: {self.command}')
        if key in STOP_KEYS:
            return self._stop('stop')
        if key in THROTTLE_KEYS:
            step = self.config.throttle_step * THROTTLE_KEYS[key]
            self.throttle = clamp_throttle(self.throttle + step)
            return TeleopStep(status=f'throttle {self.throttle} %')
        if key in MODE_KEYS:
            mode = MODE_KEYS[key]
            return TeleopStep([(topics.CONTROL_MODE, mode)], f'mode -> {mode}')
        if key == EPISODE_START_KEY:
            self._pending_episode = True
            choices = ', '.join(f'{i + 1}={s}' for i, s in enumerate(SCENARIOS))
            return TeleopStep(status=f'scenario? {choices}')
        if key == EPISODE_KEEP_KEY:
            return TeleopStep([(topics.RECORDER_CONTROL, 'stop')], 'episode ended (kept)')
        if key == EPISODE_DISCARD_KEY:
            return TeleopStep([(topics.RECORDER_CONTROL, 'discard')], 'episode discarded')
        return TeleopStep(status=f'unbound key {key!r}')

    def _timeout(self) -> float:
        c = self.config
        return c.repeat_timeout_s if self._repeating else c.first_key_timeout_s

    def tick(self, now: float) -> TeleopStep:
        """Call often (at least at ``rate_hz``): repeats the held command, or stops it."""
        if self.active_key is None:
            return TeleopStep()
        if now - self._key_stamp >= self._timeout() - EPS:
            return self._stop('key released: zero sent')
        if now >= self._next_publish - EPS:
            period = 1.0 / self.config.rate_hz
            # Stay on the fixed grid; skip missed slots instead of bursting.
            missed = int((now - self._next_publish + EPS) // period)
            self._next_publish += (missed + 1) * period
            return TeleopStep([self._cmd()])
        return TeleopStep()

    def next_deadline(self) -> float | None:
        """Latest time the next ``tick`` is due (for a key reader's timeout)."""
        if self.active_key is None:
            return None
        return min(self._next_publish, self._key_stamp + self._timeout())
