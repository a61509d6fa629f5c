"""The rclpy implementation of ``mobile_vla.bus.Bus``, and the one ``main()`` of every node.

This is the workspace's only rclpy adapter module: each ``*_node.py`` is
``run_node('<name>', <Wiring>)``. It uses rclpy API that exists in Humble (the
robot) as well as Jazzy.

- Parameters are validated as a whole by the wiring's config dataclass, then declared
  with their type and each field's documentation; read-only unless the field is
  ``live``, and a live change is validated the same way and rejected with a reason.
- A callback that raises is logged with its traceback and the node goes on: a
  node never dies from what arrives on a topic.
- SIGINT and SIGTERM end ``spin`` while the context is still valid, so the
  wiring's ``shutdown`` can publish (a zero velocity) and the node then waits,
  bounded, until reliable subscribers have acknowledged it. The DDS teardown after
  that is bounded too (``TEARDOWN_TIMEOUT_S``; then the process ends by SIGALRM).
- A configuration error ends the node with one line and exit code 2.
- A node that publishes camera frames (``publishes_frames``) gets the shared-memory
  transport that carries whole 720p frames (``mobile_vla.transport``), unless the
  user configured their own; the others keep Fast DDS's defaults.
- Every publisher and subscription takes QoS overrides as parameters, the rcl way
  (``qos_overrides./<topic>.<publisher|subscription>[_<id>].<policy>`` for reliability,
  durability, history and depth; read-only, given at start). An unknown policy or
  value, or an override that fits no endpoint of the node, ends it with one line
  naming the parameter.
- A peer whose QoS can never match one of the node's endpoints is said once in the
  log, naming the topic, the peer and the policy, and listed on /diagnostics in the
  status ``<node>: qos`` (WARN) while it is there (``mobile_vla.qos.QosPeers``).
"""

from __future__ import annotations

import dataclasses
import importlib
import queue
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable, Protocol, TypeVar

import rclpy
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy import qos as rclpy_qos
from rclpy.context import Context
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos_overriding_options import QoSOverridingOptions
from rclpy.signals import SignalHandlerOptions

try:  # Iron and later; Humble has the same classes in rclpy.qos_event
    from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
except ImportError:  # pragma: no cover - Humble
    from rclpy.qos_event import PublisherEventCallbacks, SubscriptionEventCallbacks

from mobile_vla import qos, topics
from mobile_vla.bag import MessageFactory
from mobile_vla.bus import Handler, parser_for
from mobile_vla.config import ROS_OWN_PARAMETERS, ConfigError, to_params
from mobile_vla.msgs import array_buffer
from mobile_vla.transport import use_frame_transport
from mobile_vla.units import NS

T = TypeVar('T')
#: Longest log line; the rest is cut and counted.
MAX_LOG_CHARS = 2000
#: How long shutdown waits for reliable subscribers to acknowledge the last messages.
FLUSH_TIMEOUT_S = 1.0
#: How long shutdown waits for workers (an episode still being written; launch gives 35 s).
WORKER_CLOSE_TIMEOUT_S = 30.0
#: How long the DDS teardown after a node's last word (and the interpreter's exit) may
#: take before the process ends without it (by SIGALRM; whole seconds, for
#: ``signal.alarm``).
TEARDOWN_TIMEOUT_S = 5
#: The QoS policies every endpoint declares an override parameter for.
OVERRIDABLE = (rclpy_qos.QoSPolicyKind.HISTORY, rclpy_qos.QoSPolicyKind.DEPTH,
               rclpy_qos.QoSPolicyKind.RELIABILITY, rclpy_qos.QoSPolicyKind.DURABILITY)
#: How often the node looks for peers with incompatible QoS (and says so on /diagnostics).
QOS_CHECK_PERIOD_S = 1.0
#: What discovery reports for an endpoint whose node it does not know (yet).
UNKNOWN_NODE = '_NODE_NAME_UNKNOWN_'


def message_class(msgtype: str) -> Any:
    """``geometry_msgs/msg/Twist`` -> the rclpy message class."""
    package, kind, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{package}.{kind}'), name)


class ThreadWorker:
    """One daemon thread that runs submitted work in order (a model load, file writes)."""

    def __init__(self, name: str, log: Callable[[str, str], None]) -> None:
        self.name, self._log = name, log
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            try:
                if work is None:
                    return
                work()
            except Exception:  # the worker lives on; the error is said
                self._log('error', f'{self.name} failed:\n{traceback.format_exc()}')
            finally:
                self._queue.task_done()

    def submit(self, work: Callable[[], None]) -> None:
        self._queue.put(work)

    def pending(self) -> int:
        return self._queue.unfinished_tasks

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def close(self, timeout_s: float) -> bool:
        self._queue.put(None)
        self._thread.join(timeout_s)
        return not self._thread.is_alive()


class RosBus:
    """``Bus`` on an rclpy node: node clock, ROS parameters, QoS overrides and the watch
    on peers that cannot match, worker threads."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.namespace = node.get_namespace()
        self.msgs = MessageFactory(lookup=message_class, alloc=array_buffer)
        self.workers: list[ThreadWorker] = []
        self._logger = node.get_logger()
        # QoS overrides given (YAML, -p, launch): every one checked now, each claimed by
        # an endpoint as the wiring makes it (check_overrides_claimed once it is made).
        self._overrides = {
            f'{qos.OVERRIDE_PREFIX}{name}': param.value for name, param in
            node.get_parameters_by_prefix(qos.OVERRIDE_PREFIX.rstrip('.')).items()}
        for name, value in self._overrides.items():
            qos.check_override(name, value)
        self._claimed: set[str] = set()
        # (topic, side, entity) of every endpoint, watched for incompatible peers.
        self._endpoints: list[tuple[str, str, Any]] = []
        self._publishers_made: dict[tuple[str, str, topics.QosIntent], Any] = {}
        self._peers = qos.QosPeers()
        # Info lines wait until the node is configured: one that stops at start-up (a bad
        # QoS override found once the wiring is made) says one line, not its plans first.
        self._held: list[str] | None = []
        self._qos_status = self.publisher(topics.DIAGNOSTICS.name, topics.DIAGNOSTICS.msgtype,
                                          topics.DIAGNOSTICS.publisher_qos)
        self.node.create_timer(QOS_CHECK_PERIOD_S, self._guarded(
            lambda _=None: self._report_qos(), 'QoS check'))

    def now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def config(self, cls: type[T], parse: Callable[[dict[str, Any]], T] | None = None,
               params_of: Callable[[T], dict[str, Any]] = to_params) -> T:
        # The node is made with automatically_declare_parameters_from_overrides, so what
        # YAML, -p and launch give is declared already, untyped: read it, validate it as a
        # whole, then declare every parameter again with its type and descriptor.
        node = self.node
        given = {name: param.value for name, param in node.get_parameters_by_prefix('').items()
                 if name not in ROS_OWN_PARAMETERS and not name.startswith(qos.OVERRIDE_PREFIX)}
        config = parser_for(cls, parse)(given)
        metadata = {f.name: f.metadata for f in dataclasses.fields(cls)}
        for name, value in params_of(config).items():
            meta = metadata.get(name.split('.')[0], {})
            descriptor = ParameterDescriptor(
                name=name, type=Parameter.Type.from_parameter_value(value).value,
                description=meta.get('doc', ''), read_only=not meta.get('live', False))
            if node.has_parameter(name):
                node.undeclare_parameter(name)
            node.declare_parameter(name, value, descriptor, ignore_override=True)
        return config

    def on_change(self, apply: Callable[[dict[str, Any]], None]) -> None:
        def callback(params: list[Parameter]) -> SetParametersResult:
            # QoS override parameters are rclpy's, declared read-only as endpoints are made.
            changes = {p.name: p.value for p in params
                       if not p.name.startswith(qos.OVERRIDE_PREFIX)}
            if not changes:
                return SetParametersResult(successful=True)
            try:
                apply(changes)
            except ConfigError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
            except Exception as exc:  # never out of the parameter service
                self._logger.error(f'parameter change failed:\n{traceback.format_exc()}')
                return SetParametersResult(successful=False,
                                           reason=f'{type(exc).__name__}: {exc}')
            return SetParametersResult(successful=True)

        self.node.add_on_set_parameters_callback(callback)

    def publisher(self, name: str, msgtype: str,
                  intent: topics.QosIntent) -> Callable[[Any], None]:
        """One publisher per topic, type and QoS in a node (the node's own /diagnostics
        and the QoS status share one): its override parameters name it once."""
        key = (name, msgtype, intent)
        if key not in self._publishers_made:
            path = self._overridable(name, qos.PUBLISHER, intent)
            pub = self.node.create_publisher(
                message_class(msgtype), name, intent.profile(rclpy_qos),
                event_callbacks=PublisherEventCallbacks(incompatible_qos=self._incompatible),
                qos_overriding_options=QoSOverridingOptions(OVERRIDABLE))
            self._endpoints.append((path, qos.PUBLISHER, pub))
            self._publishers_made[key] = pub
        return self._publishers_made[key].publish

    def subscribe(self, name: str, msgtype: str, intent: topics.QosIntent,
                  handler: Handler) -> Callable[[], None]:
        path = self._overridable(name, qos.SUBSCRIPTION, intent)
        sub = self.node.create_subscription(
            message_class(msgtype), name, self._guarded(handler, f'{name} callback'),
            intent.profile(rclpy_qos),
            event_callbacks=SubscriptionEventCallbacks(incompatible_qos=self._incompatible),
            qos_overriding_options=QoSOverridingOptions(OVERRIDABLE,
                                                        entity_id=intent.entity_id))
        endpoint = (path, qos.SUBSCRIPTION, sub)
        self._endpoints.append(endpoint)

        def end() -> None:
            if endpoint in self._endpoints:
                self._endpoints.remove(endpoint)
                self.node.destroy_subscription(sub)

        return end

    def _overridable(self, name: str, side: str, intent: topics.QosIntent) -> str:
        """The endpoint's absolute topic; its override parameters are claimed, and any
        given are undeclared so rclpy declares them again, typed and read-only."""
        path = self.node.resolve_topic_name(name)
        for parameter in qos.override_names(path, side, intent.entity_id).values():
            self._claimed.add(parameter)
            if parameter in self._overrides and self.node.has_parameter(parameter):
                self.node.undeclare_parameter(parameter)
        return path

    def check_overrides_claimed(self) -> None:
        """Every QoS override given fits an endpoint the wiring made, or a ConfigError;
        then the node is configured, and the info lines held until now are said."""
        qos.check_overrides_claimed(self._overrides, self._claimed)
        held, self._held = self._held or [], None
        for text in held:
            self._logger.info(text)

    def _incompatible(self, _event: Any) -> None:
        """rclpy's incompatible-QoS event: look at the peers now, not at the next check
        (a peer whose node discovery has not named yet waits for that check)."""
        self._guarded(lambda: self._watch_qos(named_only=True), 'QoS event')()

    def _watch_qos(self, named_only: bool = False) -> None:
        """Peers that match none of the node's endpoints on their topic (a default-profile
        publisher matches the live subscription, not its latched twin: that is fine)."""
        found = []
        endpoints: dict[tuple[str, str], list[qos.Policies]] = {}
        for path, side, entity in self._endpoints:  # the live subscription first
            endpoints.setdefault((path, side), []).append(
                qos.resolved(_policy_names(entity.qos_profile), side))
        for (path, side), mine in endpoints.items():
            infos = (self.node.get_publishers_info_by_topic(path) if side == qos.SUBSCRIPTION
                     else self.node.get_subscriptions_info_by_topic(path))
            theirs = qos.PUBLISHER if side == qos.SUBSCRIPTION else qos.SUBSCRIPTION
            peers = [(_node_of(info), bytes(info.endpoint_gid).hex(),
                      qos.resolved(_policy_names(info.qos_profile), theirs)) for info in infos
                     if not (named_only and info.node_name == UNKNOWN_NODE)]
            found += qos.peer_mismatches(path, side, mine, peers)
        if named_only:  # a partial look: only what is new counts, the report waits
            found = [m for m in found if m not in self._peers.current] + self._peers.current
        for mismatch in self._peers.update(found):
            self.log('warning', mismatch.text())

    def _report_qos(self) -> None:
        self._watch_qos()
        level, message, values = self._peers.diagnostics()
        self._qos_status(self.msgs.diagnostics(
            self.now_ns(), f'{self.node.get_name()}: qos', level, message, values))

    def timer(self, rate_hz: float, callback: Callable[[], None], name: str) -> None:
        if not rate_hz > 0:
            raise ConfigError(f'timer {name}: rate must be > 0 Hz, got {rate_hz}')
        self.node.create_timer(1.0 / rate_hz, self._guarded(lambda _=None: callback(), name))

    def latched_publishers(self, name: str) -> int:
        latched = rclpy_qos.DurabilityPolicy.TRANSIENT_LOCAL
        return sum(info.qos_profile.durability == latched for info in
                   self.node.get_publishers_info_by_topic(self.node.resolve_topic_name(name)))

    def _guarded(self, call: Callable[..., None], what: str) -> Callable[..., None]:
        def run(*args: Any) -> None:
            try:
                call(*args)
            except Exception:
                self._logger.error(f'{what} failed; the node goes on:\n'
                                   f'{traceback.format_exc()}', throttle_duration_sec=5.0)
        return run

    def log(self, level: str, text: str) -> None:
        if len(text) > MAX_LOG_CHARS:  # what arrives on a topic never floods /rosout
            text = f'{text[:MAX_LOG_CHARS]}... ({len(text) - MAX_LOG_CHARS} more characters)'
        # One rclpy call site per severity: rclpy forbids changing it between calls.
        if level == 'error':
            self._logger.error(text)
        elif level == 'warning':
            self._logger.warning(text)
        elif level == 'debug':
            self._logger.debug(text)
        elif self._held is not None:
            self._held.append(text)
        else:
            self._logger.info(text)

    def worker(self, name: str) -> ThreadWorker:
        worker = ThreadWorker(name, self.log)
        self.workers.append(worker)
        return worker

    def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        """Wait (bounded) until reliable subscribers acknowledged what was published."""
        reliable = [pub for pub in self._publishers_made.values()
                    if pub.qos_profile.reliability == rclpy_qos.ReliabilityPolicy.RELIABLE]
        if reliable and not hasattr(reliable[0], 'wait_for_all_acked'):
            time.sleep(min(timeout_s, 0.2))  # an rclpy without it: give the DDS writer a moment
            return
        for pub in reliable:
            pub.wait_for_all_acked(Duration(nanoseconds=int(timeout_s * NS)))


def _policy_names(profile: Any) -> dict[str, str]:
    """The reliability and durability of an rclpy profile, as ``mobile_vla.qos`` names."""
    return {'reliability': profile.reliability.name.lower(),
            'durability': profile.durability.name.lower()}


def _node_of(info: Any) -> str:
    """The fully qualified node name of a discovered endpoint."""
    if info.node_name == UNKNOWN_NODE:  # a plain DDS participant, or one not named yet
        return 'an unnamed DDS participant'
    return f'{info.node_namespace.rstrip("/")}/{info.node_name}'


class Wiring(Protocol):
    def shutdown(self) -> None:
        """Publish the last safe messages (zero velocity), hand over pending work. Called
        twice on the way out (before and after the workers finish): idempotent."""


def _ignore_stop_signals() -> None:
    """SIGINT and SIGTERM ignored: the clean-up under way (a zero command, an episode
    still being written) must not be cut short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _raise_interrupt(_signum: int, _frame: object) -> None:
    # The first signal starts the shutdown; one more before ``run_node`` reaches its
    # clean-up must not cut it short.
    _ignore_stop_signals()
    raise KeyboardInterrupt


def run_node(name: str, wire: Callable[[RosBus], Wiring], args: list[str] | None = None,
             spin: Callable[[RosBus, Any], None] | None = None,
             publishes_frames: bool = False) -> int:
    """Init rclpy, make node ``name``, bind the wiring, spin until a signal; the exit code.

    ``spin(bus, wiring)`` replaces ``rclpy.spin`` for a node driven by something else
    (the teleop reads a terminal). ``publishes_frames``: the node publishes camera
    frames and gets the transport for them (``mobile_vla.transport``).
    """
    try:
        # Before the first participant exists.
        transport = use_frame_transport() if publishes_frames else None
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except Exception as exc:  # rcl's own argument errors (a bad --params-file, --ros-args)
        print(f'{name}: cannot start: {exc}', file=sys.stderr)
        return 2
    # Explicit handlers: a process started in the background by a shell inherits SIGINT
    # as ignored, and launch sends SIGINT then SIGTERM.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    node = bus = wiring = None
    code = 0
    try:
        node = Node(name, automatically_declare_parameters_from_overrides=True)
        bus = RosBus(node)
        if transport:
            bus.log('info', transport)
        wiring = wire(bus)
        bus.check_overrides_claimed()
        if spin is None:
            # spin_once with a timeout: a signal is handled even when no timer can wake the
            # wait (use_sim_time with /clock gone at the end of a bag).
            while rclpy.ok(context=node.context):
                rclpy.spin_once(node, timeout_sec=0.1)
        else:
            spin(bus, wiring)
    except (KeyboardInterrupt, SystemExit, ExternalShutdownException):
        pass
    except ConfigError as exc:
        print(f'{name}: configuration error: {exc}', file=sys.stderr)
        code = 2
    except Exception as exc:
        if wiring is not None:
            raise  # a defect while running: the traceback is for the developer
        print(f'{name}: cannot start: {type(exc).__name__}: {exc}', file=sys.stderr)
        code = 2
    finally:
        _ignore_stop_signals()
        _shut_down(name, bus, wiring)
        _tear_down(node)
    return code


def _shut_down(name: str, bus: RosBus | None, wiring: Any) -> None:
    """Workers stop taking new work, the wiring says its last (zero, the episode in
    progress), the workers finish what was queued, and the zero is said once more:
    whatever a worker did meanwhile, the last word is zero. Each step runs whatever
    the one before did."""
    def close_workers() -> None:
        for worker in bus.workers:
            if not worker.close(WORKER_CLOSE_TIMEOUT_S):
                print(f'{name}: {worker.name} was still at work after '
                      f'{WORKER_CLOSE_TIMEOUT_S:g} s; it ends with the process',
                      file=sys.stderr, flush=True)

    steps = []
    if bus is not None:
        steps.append(lambda: [worker.stop() for worker in bus.workers])
    if wiring is not None:
        steps.append(wiring.shutdown)
    if bus is not None:
        steps.append(close_workers)
    if wiring is not None:
        steps.append(wiring.shutdown)
    if bus is not None:
        steps.append(bus.flush)
    for step in steps:
        try:
            step()
        except Exception as exc:  # the next step still runs
            print(f'{name}: during shutdown: {type(exc).__name__}: {exc}', file=sys.stderr)


def _tear_down(node: Node | None) -> None:
    """Destroy the node and the context, bounded until the process ends. The node's last
    word went out before (its zero, waited for until acknowledged or ``FLUSH_TIMEOUT_S``;
    its episode, until written or ``WORKER_CLOSE_TIMEOUT_S``, which it says), so a signal
    during the teardown ends the process at once, and a teardown (or interpreter exit)
    that has not ended after ``TEARDOWN_TIMEOUT_S`` ends it by SIGALRM. Fast DDS 2.14
    (Jazzy) can wait without end while it destroys a participant
    (``DomainParticipant::set_listener``, seen with 20 nodes stopping at once on two
    cores), holding the GIL, so no Python code could end it: the kernel does."""
    ending = {signal.SIGINT, signal.SIGTERM, signal.SIGALRM}
    for sig in ending:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, ending)  # a parent may have blocked them
    signal.alarm(TEARDOWN_TIMEOUT_S)
    if node is not None:
        node.destroy_node()
    rclpy.try_shutdown()


def wait_for_status(name: str, timeout_s: float, domain_id: int | None = None) -> list[str]:
    """The /diagnostics status names heard until one is ``name`` or ``timeout_s`` passes:
    whether a node is up, as a readiness check on a ROS host sees it (the launch tests).
    Runs in a context of its own (``domain_id``: ROS_DOMAIN_ID's when None)."""
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    names: list[str] = []
    try:
        probe = rclpy.create_node('status_probe', context=context)
        probe.create_subscription(message_class(topics.DIAGNOSTICS.msgtype),
                                  topics.DIAGNOSTICS.name,
                                  lambda m: names.extend(s.name for s in m.status),
                                  topics.DIAGNOSTICS.subscription_qos.profile(rclpy_qos))
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(probe)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and name not in names:
            executor.spin_once(timeout_sec=0.1)
        executor.shutdown()
        probe.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    return names
