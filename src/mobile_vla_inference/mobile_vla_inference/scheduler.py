"""When the policy steps: the one place that answers "run a step now?".

Steps start from camera frames, never from a timer phase. A frame that came due
(``VlaInference.frame_due``) starts a run of steps unless one is queued or running;
that run then takes the newest frame that came due meanwhile before it ends, so frames
are never stepped twice at once and never queue up. A new instruction acts at once on
the newest fresh frame, or, without one, goes out as a step without the policy (a
motion step, or zero with its reason). The watchdog publishes only when no step did
within the last half period.

The executor's callbacks and the policy worker both ask, so the answers are taken
under a lock; nothing here reads a clock or starts a thread.
"""

from __future__ import annotations

import threading
from enum import Enum
from typing import Callable

from mobile_vla.units import NS

#: The watchdog stays quiet for this part of its period after any publish.
WATCHDOG_QUIET = 0.5


class Start(Enum):
    """What to do now that an instruction came."""

    QUEUED = 'queued'  # a run of steps under way takes it
    RUN = 'run'  # start a run of steps on the due frame
    WITHOUT_POLICY = 'without_policy'  # no frame is due: one step without the policy


class StepScheduler:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = False  # a run of steps is queued or running
        self._frame_waiting = False  # a frame came due during that run
        self._last_publish_ns: int | None = None

    def frame_came_due(self) -> bool:
        """True: start a run of steps; False: the run under way takes this frame."""
        with self._lock:
            if self._busy:
                self._frame_waiting = True
                return False
            self._busy = True
            return True

    def instruction_came(self, frame_due: Callable[[], bool]) -> Start:
        with self._lock:
            if self._busy:
                return Start.QUEUED
            if not frame_due():
                return Start.WITHOUT_POLICY
            self._busy = True
            return Start.RUN

    def step_again(self, frame_due: Callable[[], bool], stopping: bool) -> bool:
        """After a step of a run: True to step on the frame that came due meanwhile;
        False ends the run."""
        with self._lock:
            again = self._frame_waiting and frame_due() and not stopping
            self._frame_waiting = False
            if not again:
                self._busy = False
            return again

    def published(self, now_ns: int) -> None:
        """An action went out on robot/action at ``now_ns``."""
        self._last_publish_ns = now_ns

    def watchdog_due(self, now_ns: int, rate_hz: float) -> bool:
        """The watchdog at ``rate_hz`` publishes: no action went out within the last half
        of its period."""
        last = self._last_publish_ns
        return last is None or not 0 <= now_ns - last < WATCHDOG_QUIET * NS / rate_hz
