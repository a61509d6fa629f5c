"""The grab loop: opens the source, retries it with backoff, paces recorded media, emits.

This is the outer layer that may wait: the node runs it in its own thread so
the executor never blocks on the camera, and tests run it with the real clock.
Clock and sleep are passed in, so simulation can drive it on simulated time.
"""

from __future__ import annotations

import contextlib
from typing import Callable, ContextManager

import cv2

from mobile_vla_camera.publisher import NS, CameraPublisher, ImageOut
from mobile_vla_camera.sources import SourceError

#: Longest single wait, so a stop request is noticed quickly.
MAX_WAIT_S = 0.05
_FAILED = object()  # a read that failed (not the end of the media)


def run_grab_loop(
    publisher: CameraPublisher,
    emit: Callable[[ImageOut], None],
    clock_ns: Callable[[], int],
    sleep: Callable[[float], None],
    should_stop: Callable[[], bool] = lambda: False,
    log: Callable[[str], None] = lambda _msg: None,
    lock: ContextManager | None = None,
    info: Callable[[str], None] | None = None,
) -> None:
    """Publish frames until ``should_stop()`` or the end of non-looping media.

    ``lock`` guards the publisher's state while this thread changes it, so another
    thread (the node's diagnostics timer) can read it consistently. ``log`` gets
    failures, ``info`` the normal events (``log`` when not given).
    """
    _GrabLoop(publisher, emit, clock_ns, sleep, should_stop, log,
              lock if lock is not None else contextlib.nullcontext(), info or log).run()


class _GrabLoop:
    def __init__(self, publisher: CameraPublisher, emit: Callable[[ImageOut], None],
                 clock_ns: Callable[[], int], sleep: Callable[[float], None],
                 should_stop: Callable[[], bool], log: Callable[[str], None],
                 guard: ContextManager, info: Callable[[str], None]) -> None:
        self.publisher, self.emit, self.clock_ns, self.sleep = publisher, emit, clock_ns, sleep
        self.should_stop, self.log, self.guard, self.info = should_stop, log, guard, info
        self.source = None
        self.start_ns = 0  # the pacing schedule of recorded media: its start and frames
        self.count = 0

    def run(self) -> None:
        try:
            while not self.should_stop():
                if self.source is None and not self._open():
                    continue
                frame = self._read()
                if frame is _FAILED:
                    continue
                self._say_skipped()
                if frame is None:
                    with self.guard:
                        self.publisher.finished()
                    self.info('end of media reached')
                    return
                self._publish(frame, self._pace())
        finally:
            if self.source is not None:
                self.source.close()

    def _open(self) -> bool:
        """Open the source once its retry wait is over; False while there is none."""
        wait = self.publisher.retry_wait_s(self.clock_ns())
        if wait > 0:
            self.sleep(min(wait, MAX_WAIT_S))
            return False
        self.source = self.publisher.make_source()  # closed at the end, whatever happens
        try:
            self.source.open()
        except (SourceError, cv2.error, OSError) as exc:
            self._failed(exc)
            self.source = None
            return False
        with self.guard:
            self.publisher.opened(self.clock_ns())
        self.info(f'{self.publisher.config.source} camera open')
        self.start_ns, self.count = self.clock_ns(), 0
        return True

    def _read(self) -> object:
        """The next frame, None at the end of the media, ``_FAILED`` when it failed (the
        source is closed and opened again after the retry wait)."""
        try:
            return self.source.read()
        except (SourceError, cv2.error, OSError) as exc:
            self._failed(exc)
            self.source.close()
            self.source = None
            return _FAILED

    def _failed(self, exc: Exception) -> None:
        with self.guard:
            wait = self.publisher.failed(str(exc), self.clock_ns())
        self.log(f'{exc} (retrying in {wait:.1f} s)')

    def _say_skipped(self) -> None:
        """Files the source could not read: counted, said, passed over."""
        skipped = getattr(self.source, 'skipped', None)
        while skipped:
            problem = skipped.pop(0)
            with self.guard:
                self.publisher.bad_frames += 1
                self.publisher.last_error = problem
            self.log(problem)

    def _pace(self) -> bool:
        """Recorded media in real time: wait for the frame's time; True when it is late
        by more than a frame (then the schedule restarts from now, with no burst)."""
        source = self.source
        if source.live or not self.publisher.config.realtime:
            return False
        due = self.start_ns + round(self.count * NS / source.fps)
        now = self.clock_ns()
        while now < due and not self.should_stop():
            self.sleep(min((due - now) / NS, MAX_WAIT_S))
            now = self.clock_ns()
        late = now - due > NS / source.fps
        if late:  # fell behind (slow disk, busy CPU)
            self.start_ns, self.count = now, 0
        return late

    def _publish(self, frame: object, late: bool) -> None:
        self.count += 1
        capture = self.clock_ns()
        with self.guard:
            out = self.publisher.render(frame, capture)
        if out is None:
            self.log(self.publisher.last_error)
            return
        self.emit(out)
        with self.guard:
            self.publisher.published(capture, self.clock_ns(), late)
