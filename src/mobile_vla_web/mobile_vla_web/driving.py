"""The key a console holds down: repeated at ``drive_rate_hz`` while the page keeps
sending it, and zero at once when it is released or stops coming (``drive_timeout_s``)."""

from __future__ import annotations

from mobile_vla import topics
from mobile_vla.actions import ZERO
from mobile_vla.keymap import key_command
from mobile_vla_web.config import WebConfig
from mobile_vla_web.messages import Publish

#: Times closer than this count as equal (a deadline computed by addition is met).
EPS = 1e-9


class HeldKey:
    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.key: str | None = None
        self.throttle = config.throttle_percent
        self._until = 0.0  # the key lapses unless the page sends it again by then
        self._next = 0.0  # its next repeat

    @property
    def command(self) -> tuple[float, float, float]:
        return key_command(self.key, self.config.key_speed, self.throttle)

    def press(self, key: str, now: float) -> list[Publish]:
        """The page sends ``key`` (new, or again while held): a new key goes out at once."""
        changed = key != self.key
        self.key = key
        self._until = now + self.config.drive_timeout_s
        if not changed:
            return []
        self._next = now + 1.0 / self.config.drive_rate_hz
        return [(topics.TELEOP_CMD_VEL, self.command)]

    def set_throttle(self, percent: int) -> list[Publish]:
        """A new speed; a held key goes on at it at once."""
        self.throttle = percent
        return [] if self.key is None else [(topics.TELEOP_CMD_VEL, self.command)]

    def release(self) -> list[Publish]:
        """Zero for a held key."""
        if self.key is None:
            return []
        self.key = None
        return [(topics.TELEOP_CMD_VEL, ZERO)]

    def lapsed(self, now: float) -> bool:
        """A key is held that the page has not sent again in time."""
        return self.key is not None and now >= self._until - EPS

    def repeat(self, now: float) -> list[Publish]:
        """The held key again when its period has come (missed periods are skipped)."""
        if self.key is None or now < self._next - EPS:
            return []
        period = 1.0 / self.config.drive_rate_hz
        missed = int((now - self._next + EPS) // period)
        self._next += (missed + 1) * period
        return [(topics.TELEOP_CMD_VEL, self.command)]
