"""The arbiter's velocity sources: what each one last sent, and which one drives now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from mobile_vla.actions import ZERO
from mobile_vla_control.arbiter_config import ROLES_IN_MODE, SourceConfig


@dataclass
class Source:
    """One source's last valid command, when it came, and its counts."""

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

    def accept(self, action: tuple[float, float, float], now: float) -> None:
        self.action, self.stamp = action, now
        self.received += 1
        if action != ZERO:
            self.nonzero_stamp = now

    def reject(self) -> None:
        """A bad command: counted, and the source is absent until its next valid one."""
        self.rejected += 1
        self.action = None

    def forget(self) -> None:
        self.action = self.stamp = self.nonzero_stamp = None


class Sources:
    """Every source, by name and by topic, and the choice of the one that drives."""

    def __init__(self, configs: Iterable[SourceConfig]) -> None:
        self._by_name = {s.name: Source(s, i) for i, s in enumerate(configs)}
        self._by_topic = {s.config.topic.lstrip('/'): name for name, s in self._by_name.items()}

    def __iter__(self) -> Iterator[Source]:
        return iter(self._by_name.values())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def get(self, name: str) -> Source:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f'unknown source {name!r}; known: {list(self._by_name)}') from None

    def for_topic(self, topic: str) -> str:
        try:
            return self._by_topic[topic.lstrip('/')]
        except KeyError:
            raise KeyError(f'no source listens to {topic}; sources: {self._by_topic}') from None

    def forget(self) -> None:
        """Clear every input (the clock went back)."""
        for source in self:
            source.forget()

    def quiet_since(self, since: float, now: float) -> float | None:
        """None while a valid source commands non-zero; otherwise the latest of ``since``
        and every source's last non-zero command (whatever the mode)."""
        for source in self:
            if source.valid(now) and source.action != ZERO:
                return None
            if source.nonzero_stamp is not None:
                since = max(since, source.nonzero_stamp)
        return since

    def pick(self, mode: str, now: float, hybrid_hold_s: float) -> tuple[Source | None, str]:
        """The source that drives in ``mode`` now (highest priority, then first listed),
        or None and why: 'no_source', or 'hybrid_hold' while a manual claim holds."""
        if mode == 'hybrid':
            claim = self._manual_claim(now, hybrid_hold_s)
            role = 'manual' if claim else 'policy'
            candidates = [s for s in self if s.config.role == role and s.valid(now)]
            if claim and not candidates:
                return None, 'hybrid_hold'
        else:
            roles = ROLES_IN_MODE[mode]
            candidates = [s for s in self if s.config.role in roles and s.valid(now)]
        if not candidates:
            return None, 'no_source'
        return max(candidates, key=lambda s: (s.config.priority, -s.index)), 'source'

    def _manual_claim(self, now: float, hold_s: float) -> bool:
        """Hybrid: a manual source drives now, or did within the hold time."""
        for s in self:
            if s.config.role != 'manual' or s.nonzero_stamp is None:
                continue
            if s.valid(now) and s.action != ZERO:
                return True
            if now - s.nonzero_stamp <= hold_s:
                return True
        return False
