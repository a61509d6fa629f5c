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
    thread (the node's diagnostics timer) can read it consistently.
    """
    guard = lock if lock is not None else contextlib.nullcontext()
    info = info or log  # ``log`` gets failures, ``info`` the normal events
    config = publisher.config
    source = None
    start_ns = 0
    count = 0
    try:
        while not should_stop():
            if source is None:
                wait = publisher.retry_wait_s(clock_ns())
                if wait > 0:
                    sleep(min(wait, MAX_WAIT_S))
                    continue
                source = publisher.make_source()
                try:
                    source.open()
                except (SourceError, cv2.error, OSError) as exc:
                    with guard:
                        wait = publisher.failed(str(exc), clock_ns())
                    log(f'{exc} (retrying in {wait:.1f} s)')
                    source = None
                    continue
                with guard:
                    publisher.opened(clock_ns())
                info(f'{config.source} camera open')
                start_ns, count = clock_ns(), 0
            try:
                frame = source.read()
            except (SourceError, cv2.error, OSError) as exc:
                with guard:
                    wait = publisher.failed(str(exc), clock_ns())
                log(f'{exc} (retrying in {wait:.1f} s)')
                source.close()
                source = None
                continue
            skipped = getattr(source, 'skipped', None)
            while skipped:  # files the source could not read: counted, said, passed over
                problem = skipped.pop(0)
                with guard:
                    publisher.bad_frames += 1
                    publisher.last_error = problem
                log(problem)
            if frame is None:
                with guard:
                    publisher.finished()
                info('end of media reached')
                return
            late = False
            if not source.live and config.realtime:
                due = start_ns + round(count * NS / source.fps)
                now = clock_ns()
                while now < due and not should_stop():
                    sleep(min((due - now) / NS, MAX_WAIT_S))
                    now = clock_ns()
                late = now - due > NS / source.fps
                if late:  # fell behind (slow disk, busy CPU): restart the schedule, no burst
                    start_ns, count = now, 0
            count += 1
            capture = clock_ns()
            with guard:
                out = publisher.render(frame, capture)
            if out is None:
                log(publisher.last_error)
                continue
            emit(out)
            with guard:
                publisher.published(capture, clock_ns(), late)
    finally:
        if source is not None:
            source.close()
