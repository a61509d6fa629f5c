"""The small interface every node's wiring is written against, and its replay implementation.

A node's wiring (``<package>/wiring.py``) says once which parameters the node
reads, which topics it subscribes and publishes with which QoS, and which timers
it runs. Two implementations drive that same code, in three places:

- ``mobile_vla.ros_bus.RosBus``: rclpy, in each ``*_node.py`` on the robot and in
  the node tests;
- ``ReplayBus`` below: the deterministic ``ReplayExecutor`` for bag tests and
  ``mobile-vla data from-bag``;
- the simulator session, which puts a ``ReplayBus`` on its executor.

A handler receives the message; the time of the event is ``bus.now_ns()``
(the node clock under rclpy, message time in replay). Messages are built with
``bus.msgs`` (a ``MessageFactory`` for the bus's own message classes). Work that
must not block the executor (loading a model, writing a file, reading a camera)
goes to ``bus.worker(name)``: a thread under rclpy, run at once in replay, so a
replay stays exact.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Protocol, TypeVar

from mobile_vla import topics
from mobile_vla.bag import MessageFactory
from mobile_vla.config import from_params, to_params
from mobile_vla.node_runtime import KindThrottle
from mobile_vla.replay import ReplayExecutor
from mobile_vla.units import NS

Handler = Callable[[Any], None]
T = TypeVar('T')


class Worker(Protocol):
    def submit(self, work: Callable[[], None]) -> None:
        """Run ``work`` off the executor, in submission order."""

    def pending(self) -> int:
        """Work items submitted and not yet finished."""

    def stop(self) -> None:
        """Ask long-running work to end (``stopping`` turns true); what is submitted
        still runs, and can check ``stopping``."""

    @property
    def stopping(self) -> bool: ...

    def close(self, timeout_s: float) -> bool:
        """Finish submitted work (at most ``timeout_s``); True when all of it finished."""


class Bus(Protocol):
    """What a node's wiring may use. See the module docstring."""

    msgs: MessageFactory
    namespace: str

    def now_ns(self) -> int: ...

    def config(self, cls: type[T], parse: Callable[[dict[str, Any]], T] | None = None,
               params_of: Callable[[T], dict[str, Any]] = to_params) -> T:
        """The node's typed configuration from the parameters it is given (YAML, ``-p``,
        launch), parsed by ``parse`` (default ``from_params(cls, ...)``), which rejects
        unknown names and bad values. Under rclpy every parameter of ``params_of(config)``
        is then declared with its type, description and read-only flag (fields with
        ``live`` metadata stay writable)."""

    def on_change(self, apply: Callable[[dict[str, Any]], None]) -> None:
        """Call ``apply(changes)`` when live parameters are set; a ``ConfigError`` from it
        rejects the change, and its text is the reason the caller sees."""

    def publisher(self, name: str, msgtype: str, qos: topics.QosIntent) -> Callable[[Any], None]:
        ...

    def subscribe(self, name: str, msgtype: str, qos: topics.QosIntent,
                  handler: Handler) -> Callable[[], None]:
        """Subscribe; returns what ends the subscription."""

    def timer(self, rate_hz: float, callback: Callable[[], None], name: str) -> None: ...

    def latched_publishers(self, name: str) -> int:
        """Publishers the graph knows of on topic ``name`` that hold a latched value
        (transient local; discovery, under rclpy): a (re)started node may still get it."""

    def log(self, level: str, text: str) -> None: ...

    def worker(self, name: str) -> Worker: ...


def parser_for(cls: type[T], parse: Callable[[dict[str, Any]], T] | None) -> Callable[
        [dict[str, Any]], T]:
    """``parse``, or the typed loader for dataclass ``cls``."""
    return parse or (lambda params: from_params(cls, params))


def throttled_warnings(bus: Bus, period_s: float = 1.0) -> KindThrottle:
    """Warnings of each kind at most once per ``period_s`` of the bus's clock."""
    return KindThrottle(lambda text: bus.log('warning', text), lambda: bus.now_ns() / NS,
                        period_s)


def publisher_of(bus: Bus, topic: topics.Topic) -> Callable[[Any], None]:
    """A publisher on one of the graph's topics, with its type and QoS."""
    return bus.publisher(topic.name, topic.msgtype, topic.publisher_qos)


def subscribe_to(bus: Bus, topic: topics.Topic, handler: Handler,
                 depth: int | None = None) -> Callable[[], None]:
    """Subscribe to one of the graph's topics with its type and QoS: every subscription
    the topic defines (a latched input also gets its late-joiner twin), the live one
    ``depth`` deep when given. Returns what ends the late-joiner twins: a node calls it
    once its start-up is over, so a default-profile publisher that comes later is never
    told of a subscription it cannot match."""
    subscriptions = topic.subscriptions if depth is None else \
        topic.subscriptions_with_depth(depth)
    ends = [(qos.late_joiner, bus.subscribe(topic.name, topic.msgtype, qos, handler))
            for qos in subscriptions]
    twins = [end for late_joiner, end in ends if late_joiner]

    def end_twins() -> None:
        for end in twins:
            end()

    return end_twins


class InlineWorker:
    """Runs work at once, in the caller: replay and simulation stay deterministic."""

    def __init__(self) -> None:
        self._stopping = False

    def submit(self, work: Callable[[], None]) -> None:
        work()

    def pending(self) -> int:
        return 0

    def stop(self) -> None:
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    def close(self, timeout_s: float) -> bool:
        return True


class ReplayBus:
    """A ``Bus`` on a ``ReplayExecutor``: message time, inline workers, parameters given."""

    def __init__(self, executor: ReplayExecutor, params: Mapping[str, Any] | None = None,
                 namespace: str = '', msgs: MessageFactory | None = None,
                 log: Callable[[str], None] | None = None,
                 remaps: Mapping[str, str] | None = None) -> None:
        """``remaps`` renames topics as ``--ros-args -r name:=other`` does."""
        self.executor = executor
        self.remaps = dict(remaps or {})
        self.params = dict(params or {})
        self.namespace = namespace
        self.msgs = msgs or MessageFactory()
        self.lines: list[str] = []
        self._log = log or self.lines.append
        #: Absolute topic name -> message type, of what the wiring publishes and subscribes.
        self.publications: dict[str, str] = {}
        self.subscriptions: dict[str, str] = {}

    def now_ns(self) -> int:
        return self.executor.now_ns

    def config(self, cls: type[T], parse: Callable[[dict[str, Any]], T] | None = None,
               params_of: Callable[[T], dict[str, Any]] = to_params) -> T:
        return parser_for(cls, parse)(dict(self.params))

    def on_change(self, apply: Callable[[dict[str, Any]], None]) -> None:
        """Parameters do not change during a replay."""

    def _path(self, name: str) -> str:
        return topics.resolve(self.remaps.get(name, name), self.namespace)

    def publisher(self, name: str, msgtype: str, qos: topics.QosIntent) -> Callable[[Any], None]:
        path = self._path(name)
        self.publications[path] = msgtype
        return lambda msg: self.executor.publish(path, msg, msgtype=msgtype)

    def subscribe(self, name: str, msgtype: str, qos: topics.QosIntent,
                  handler: Handler) -> Callable[[], None]:
        """A late-joiner twin is skipped: a replay has no late joiners, and each message
        arrives once."""
        path = self._path(name)
        self.subscriptions[path] = msgtype
        if not qos.late_joiner:
            self.executor.subscribe(path, lambda msg, _t_ns: handler(msg))
        return lambda: None  # a replay's subscriptions last as long as it does

    def timer(self, rate_hz: float, callback: Callable[[], None], name: str) -> None:
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise ValueError(f'timer {name}: rate must be a positive number, got {rate_hz}')
        self.executor.add_timer(rate_hz, lambda _t_ns: callback(), name=name)

    def latched_publishers(self, name: str) -> int:
        """In replay, what a topic carries is in the stream: nothing to discover."""
        return 0

    def log(self, level: str, text: str) -> None:
        self._log(f'[{level}] {text}' if level != 'info' else text)

    def worker(self, name: str) -> InlineWorker:
        return InlineWorker()
