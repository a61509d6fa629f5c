"""Units every package shares: time on the buses and in bags is integer nanoseconds."""

from __future__ import annotations

#: Nanoseconds in a second (an int: stamps stay exact integers).
NS = 1_000_000_000
#: Nanoseconds in a millisecond.
MS = 1_000_000
