"""What every node's ``main()`` and ``/diagnostics`` do, with the ROS modules passed in.

This library never imports ROS; each ``*_node.py`` hands over ``rclpy`` and the
message module it already imported, so all nodes start, stop and report health
the same way:

- SIGINT and SIGTERM raise ``KeyboardInterrupt`` in ``spin`` while the context is
  still valid (``SignalHandlerOptions.NO``), so ``on_exit`` can still publish,
  e.g. a zero velocity, before the node is destroyed;
- a configuration error ends the node with one line and exit code 2, no traceback.
"""

from __future__ import annotations

import signal
import sys
from typing import Any, Callable, Mapping

from mobile_vla.config import ConfigError

LEVELS = ('OK', 'WARN', 'ERROR', 'STALE')


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def spin_node(
    rclpy: Any,
    make_node: Callable[[], Any],
    name: str,
    *,
    signal_options: Any,
    external_shutdown: type[BaseException],
    on_exit: Callable[[Any], None] | None = None,
    args: list[str] | None = None,
) -> int:
    """Init rclpy, build the node, spin until Ctrl-C / SIGTERM / shutdown; return the exit code.

    ``signal_options`` is ``rclpy.signals.SignalHandlerOptions.NO`` and
    ``external_shutdown`` is ``rclpy.executors.ExternalShutdownException``.
    """
    rclpy.init(args=args, signal_handler_options=signal_options)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    node = None
    code = 0
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, external_shutdown):
        pass
    except ConfigError as exc:
        print(f'{name}: configuration error: {exc}', file=sys.stderr)
        code = 2
    finally:
        # launch follows SIGINT with SIGTERM after a timeout: a second signal must not
        # cut short the clean-up (a zero command, an episode still being written).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if node is not None:
            if on_exit is not None:
                on_exit(node)
            node.destroy_node()
        rclpy.try_shutdown()
    return code


class KindThrottle:
    """Passes each kind of message (its text up to the first colon) at most once a period.

    rclpy throttles per call site, so one throttled logging line would let one
    kind of warning hide another. Time comes in through ``clock`` (seconds).
    """

    def __init__(self, emit: Callable[[str], None], clock: Callable[[], float],
                 period_s: float = 1.0) -> None:
        self.emit, self.clock, self.period_s = emit, clock, period_s
        self._last: dict[str, float] = {}

    def __call__(self, text: str) -> bool:
        kind = text.split(':')[0][:60]
        now = self.clock()
        if now - self._last.get(kind, -1e18) < self.period_s:
            return False
        self._last[kind] = now
        self.emit(text)
        return True


def diagnostic_array(
    msgs: Any,
    stamp: Any,
    name: str,
    level: str,
    message: str,
    values: Mapping[str, str],
    hardware_id: str = 'mobile_vla',
) -> Any:
    """A ``DiagnosticArray`` with one status; ``msgs`` is ``diagnostic_msgs.msg``."""
    if level not in LEVELS:
        raise ValueError(f'diagnostic level must be one of {LEVELS}, got {level!r}')
    status = msgs.DiagnosticStatus(
        level=getattr(msgs.DiagnosticStatus, level), name=name, message=message,
        hardware_id=hardware_id,
    )
    status.values = [msgs.KeyValue(key=str(k), value=str(v)) for k, v in values.items()]
    array = msgs.DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array
