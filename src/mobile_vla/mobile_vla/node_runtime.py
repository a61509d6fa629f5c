"""Small helpers of every node's wiring that need no ROS.

The nodes' ``main()`` (rclpy init, signals, the delivered zero on shutdown) lives in
``mobile_vla.ros_bus.run_node``; diagnostics messages are built by
``MessageFactory.diagnostics``.
"""

from __future__ import annotations

from typing import Callable


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
