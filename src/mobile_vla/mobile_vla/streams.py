"""Health of a stamped stream (camera frames): rate, gaps and missed messages.

Like diagnostic_updater's frequency and time-stamp status, as a plain component:
each message's header stamp comes in as an argument (integer nanoseconds). A gap
of more than 1.5 typical intervals (the median of the recent ones, gaps included, so
a camera that slows down sets a new typical interval within a few frames) counts the
messages that should have been in it as missed, so a consumer can say how many
frames it lost without knowing the camera's rate.
"""

from __future__ import annotations

import statistics
from collections import deque

from mobile_vla.units import NS

#: A gap this many typical intervals long means messages were missed.
GAP_FACTOR = 1.5


class StreamMonitor:
    """Counts, rate and missed messages of one stream, from its stamps."""

    def __init__(self, window: int = 300, typical_of: int = 31) -> None:
        self.received = 0
        self.missed = 0
        self.restarts = 0
        self._stamps: deque[int] = deque(maxlen=window)
        self._intervals: deque[int] = deque(maxlen=typical_of)

    def add(self, stamp_ns: int) -> int:
        """One message stamped ``stamp_ns``; returns how many were missed just before it."""
        self.received += 1
        missed = 0
        if self._stamps:
            interval = stamp_ns - self._stamps[-1]
            if interval <= 0:  # a restarted source or a looped bag: start again
                self.restarts += 1
                self._stamps.clear()
                self._intervals.clear()
            else:
                typical = self.typical_interval_ns()
                if typical and interval > GAP_FACTOR * typical:
                    missed = max(1, round(interval / typical) - 1)
                    self.missed += missed
                self._intervals.append(interval)
        self._stamps.append(stamp_ns)
        return missed

    def typical_interval_ns(self) -> int:
        """The median of the recent intervals; 0 before there are three."""
        if len(self._intervals) < 3:
            return 0
        return int(statistics.median(self._intervals))

    def rate_hz(self) -> float:
        """Messages per second over the window, from their stamps."""
        stamps = self._stamps
        if len(stamps) < 2 or stamps[-1] <= stamps[0]:
            return 0.0
        return (len(stamps) - 1) * NS / (stamps[-1] - stamps[0])

    def values(self, prefix: str) -> dict[str, str]:
        """Diagnostic key-values: ``<prefix>.received``, ``.missed``, ``.rate_hz``."""
        return {f'{prefix}.received': str(self.received), f'{prefix}.missed': str(self.missed),
                f'{prefix}.rate_hz': f'{self.rate_hz():.2f}'}
