"""The deterministic offline executor: drive plain components from a message stream.

Handlers are registered by topic and timers by rate, as a node would; the executor
then walks a time-ordered stream (a bag, or any iterable of ``BagMessage``) and
calls them in message time. What handlers publish is delivered to the graph's
own subscribers and written to an output sink (a bag, or a list in tests).

Order at equal times is fixed: stream input first, then messages published
during that instant (in publish order), then timers (in registration order).
Timers tick at start + round(k * 1e9 / rate) ns, from the first stream message
(or ``start_ns``) up to the last one (or ``end_ns``) inclusive. Nothing here
sleeps or reads a clock, so a replay gives the same outputs every time.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

from mobile_vla import topics as graph_topics
from mobile_vla.bag import BagMessage, BagReader
from mobile_vla.units import NS

Handler = Callable[[Any, int], None]
TimerCallback = Callable[[int], None]

_INPUT, _DELIVERY, _TIMER = 0, 1, 2


class ReplayError(RuntimeError):
    """The stream or the wiring breaks the executor's contract."""


class OutputSink(Protocol):
    def write(self, topic: str, msg: Any, t_ns: int, msgtype: str | None = None) -> None: ...


@dataclass
class MessageLog:
    """An in-memory sink: every written message, in write order."""

    messages: list[BagMessage] = field(default_factory=list)

    def write(self, topic: str, msg: Any, t_ns: int, msgtype: str | None = None) -> None:
        msgtype = msgtype or getattr(msg, '__msgtype__', '') or ''
        self.messages.append(BagMessage(topic, msgtype, int(t_ns), msg))

    def on(self, topic: str) -> list[BagMessage]:
        topic = _absolute(topic)
        return [m for m in self.messages if m.topic == topic]


@dataclass
class ReplayStats:
    start_ns: int | None = None
    end_ns: int | None = None
    inputs: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    ticks: dict[str, int] = field(default_factory=dict)


@dataclass
class _Timer:
    name: str
    rate_hz: float
    callback: TimerCallback
    offset_ns: int
    index: int = 0

    def time_of(self, start_ns: int, k: int) -> int:
        return start_ns + self.offset_ns + round(k * NS / self.rate_hz)


def _absolute(topic: str) -> str:
    return '/' + topic.lstrip('/')


def _msgtype_of(topic: str, msg: Any) -> str | None:
    msgtype = getattr(msg, '__msgtype__', None)
    if msgtype:
        return msgtype
    try:
        return graph_topics.by_name(topic).msgtype
    except KeyError:
        return None


class ReplayExecutor:
    """Calls handlers and timers in stream time and collects what they publish."""

    def __init__(self, sink: OutputSink | None = None, record_inputs: Iterable[str] = ()) -> None:
        self.sink = sink
        self.record_inputs = {_absolute(t) for t in record_inputs}
        self._handlers: dict[str, list[Handler]] = {}
        self._timers: list[_Timer] = []
        self._pending: list[tuple[int, int, int, str, Any, str | None]] = []
        self._seq = 0
        self._now: int | None = None
        self._stopped = False
        self.stats = ReplayStats()

    def stop(self) -> None:
        """From a handler or timer: end the run after this instant (a closed loop is done).

        What was published up to now is still delivered; later ticks and inputs are not.
        """
        self._stopped = True

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def now_ns(self) -> int:
        """Time of the event being handled; only valid inside a handler or timer."""
        if self._now is None:
            raise ReplayError('now_ns is only defined while the executor runs')
        return self._now

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Call ``handler(msg, t_ns)`` for every message on ``topic`` (input or published)."""
        self._handlers.setdefault(_absolute(topic), []).append(handler)

    def add_timer(
        self, rate_hz: float, callback: TimerCallback, name: str = '', offset_ns: int = 0
    ) -> None:
        """Call ``callback(t_ns)`` at ``rate_hz`` in stream time."""
        if not rate_hz > 0:
            raise ReplayError(f'timer rate must be positive, got {rate_hz}')
        if offset_ns < 0:
            raise ReplayError(f'timer offset must not be negative, got {offset_ns}')
        name = name or f'timer{len(self._timers)}'
        self._timers.append(_Timer(name, float(rate_hz), callback, int(offset_ns)))
        self.stats.ticks[name] = 0

    def publish(
        self, topic: str, msg: Any, t_ns: int | None = None, msgtype: str | None = None
    ) -> None:
        """From a handler or timer: send ``msg`` at ``t_ns`` (default: now) to the graph."""
        now = self.now_ns
        t = now if t_ns is None else int(t_ns)
        if t < now:
            raise ReplayError(f'cannot publish on {topic} at {t} ns, before now ({now} ns)')
        topic = _absolute(topic)
        heapq.heappush(
            self._pending,
            (t, _DELIVERY, self._seq, topic, msg, msgtype or _msgtype_of(topic, msg)),
        )
        self._seq += 1

    def _dispatch(self, topic: str, msg: Any, t_ns: int) -> None:
        for handler in self._handlers.get(topic, ()):
            handler(msg, t_ns)

    def _deliver_pending_until(self, t_ns: int, rank: int) -> None:
        """Deliver published messages that come before (t_ns, rank)."""
        while self._pending and self._pending[0][:2] < (t_ns, rank):
            if self._stopped and self._pending[0][0] > self._now:
                break
            t, _, _, topic, msg, msgtype = heapq.heappop(self._pending)
            self._now = t
            self.stats.outputs[topic] = self.stats.outputs.get(topic, 0) + 1
            if self.sink is not None:
                self.sink.write(topic, msg, t, msgtype)
            self._dispatch(topic, msg, t)

    def _fire_timers_until(self, t_ns: int, inclusive: bool) -> None:
        """Fire every timer tick before ``t_ns`` (or at it, if inclusive), in time order."""
        start = self.stats.start_ns
        if start is None or not self._timers:
            self._deliver_pending_until(t_ns, _TIMER if inclusive else _INPUT)
            return
        while True:
            # Earliest next tick; ties go to the timer registered first.
            t, timer = min(
                ((tm.time_of(start, tm.index), tm) for tm in self._timers), key=lambda p: p[0]
            )
            if t > t_ns or (t == t_ns and not inclusive) or self._stopped:
                break
            self._deliver_pending_until(t, _TIMER)
            self._now = t
            timer.index += 1
            self.stats.ticks[timer.name] += 1
            timer.callback(t)
        if self._stopped:
            self._deliver_pending_until(self._now, _TIMER)
            self._pending.clear()
            return
        self._deliver_pending_until(t_ns, _TIMER if inclusive else _INPUT)

    def run(
        self,
        stream: Iterable[BagMessage],
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> ReplayStats:
        """Feed ``stream`` through the graph; returns counts of inputs, outputs and ticks.

        ``start_ns`` anchors the timers (default: the first message); ``end_ns``
        is the last instant handled (default: the last message).
        """
        last: int | None = None
        if start_ns is not None:
            self.stats.start_ns = int(start_ns)
        for item in stream:
            t = int(item.t_ns)
            if last is not None and t < last:
                raise ReplayError(
                    f'stream goes back in time on {item.topic}: {t} ns after {last} ns; '
                    'merge inputs in time order'
                )
            if (end_ns is not None and t > end_ns) or self._stopped:
                break
            if self.stats.start_ns is None:
                self.stats.start_ns = t
            if t < self.stats.start_ns:
                continue
            last = t
            self._fire_timers_until(t, inclusive=False)
            self._now = t
            topic = _absolute(item.topic)
            self.stats.inputs[topic] = self.stats.inputs.get(topic, 0) + 1
            if self.sink is not None and topic in self.record_inputs:
                self.sink.write(topic, item.msg, t, item.msgtype or None)
            self._dispatch(topic, item.msg, t)
        final = end_ns if end_ns is not None else last
        if self._stopped:
            final = self._now
        if final is not None:
            self._fire_timers_until(int(final), inclusive=True)
        self.stats.end_ns = self._now if self._stopped else final
        self._now = None
        return self.stats

    def run_bag(
        self,
        path: str | Path,
        topics: Iterable[str] | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> ReplayStats:
        """Replay a rosbag2 folder; only ``topics`` (default: every subscribed topic)."""
        wanted = list(topics) if topics is not None else None
        with BagReader(path) as reader:
            if wanted is None:
                present = set(reader.topics)
                wanted = [t for t in self._handlers if t in present]
            return self.run(reader.messages(wanted), start_ns=start_ns, end_ns=end_ns)


def merge_streams(*streams: Iterable[BagMessage]) -> Iterator[BagMessage]:
    """Merge time-ordered streams into one; ties keep the order of the arguments."""
    return heapq.merge(*streams, key=lambda m: m.t_ns)
