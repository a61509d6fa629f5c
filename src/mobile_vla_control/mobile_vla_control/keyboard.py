"""Key reading behind one small interface, and the loop that drives ``WasdTeleop``.

``TerminalKeys`` puts a real terminal in cbreak mode (no echo, no line buffer)
and always restores it: on return, exception, Ctrl-C, SIGTERM or SIGHUP.
``ScriptedKeys`` replays (time, key) events on a simulated clock for tests.
This module is an outer layer: the terminal reader waits on ``select``; the
teleop component itself stays free of clocks and I/O.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import termios
import time
import tty
from collections import deque
from typing import Callable, Iterable, Protocol

from mobile_vla_control.teleop import TeleopStep, WasdTeleop

#: After an escape byte, further bytes arriving within this time belong to its sequence.
ESCAPE_DRAIN_S = 0.03
#: The loop never polls faster than this, even when a deadline is already due.
MIN_WAIT_S = 0.001


class NoTerminalError(RuntimeError):
    """The teleop was started without an interactive terminal."""


NO_TERMINAL_HINT = (
    'wasd_teleop needs an interactive terminal to read keys, and stdin is not one. '
    'Run it in its own terminal: `ros2 run mobile_vla_control wasd_teleop`; '
    "from a launch file give the node prefix='xterm -e' (or the launch argument "
    'teleop_in_xterm:=true).'
)


class KeyReader(Protocol):
    def read_key(self, timeout: float) -> str | None:
        """The next key, or None when ``timeout`` seconds pass without one."""

    def now(self) -> float:
        """Seconds on the clock the key times are measured with."""


class TerminalKeys:
    """Keys from a real terminal (stdin by default). Use as a context manager."""

    def __init__(self, stream=None, clock: Callable[[], float] | None = None) -> None:
        self._stream = stream or sys.stdin
        self._clock = clock
        self._fd: int | None = None
        self._saved: list | None = None
        self._queue: deque[str] = deque()
        self._old_handlers: dict[int, object] = {}

    def __enter__(self) -> TerminalKeys:
        try:
            fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            raise NoTerminalError(NO_TERMINAL_HINT) from None
        if not os.isatty(fd):
            raise NoTerminalError(NO_TERMINAL_HINT)
        self._fd = fd
        try:
            self._saved = termios.tcgetattr(fd)
        except termios.error as exc:
            raise NoTerminalError(f'{NO_TERMINAL_HINT} ({exc})') from None
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, _raise_exit)
        tty.setcbreak(fd)
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        """Put the terminal back as it was; safe to call more than once."""
        if self._fd is not None and self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()

    def now(self) -> float:
        return self._clock() if self._clock else time.monotonic()

    def read_key(self, timeout: float) -> str | None:
        if self._queue:
            return self._queue.popleft()
        assert self._fd is not None, 'use TerminalKeys as a context manager'
        ready, _, _ = select.select([self._fd], [], [], max(0.0, timeout))
        if not ready:
            return None
        chunk = os.read(self._fd, 64)
        if not chunk:
            raise EOFError('terminal closed')
        # Arrow and function keys arrive as escape sequences: ignore them whole,
        # or their trailing letters would drive the robot. A sequence split across
        # reads (a busy machine) is drained for a moment too.
        if chunk.startswith(b'\x1b'):
            while select.select([self._fd], [], [], ESCAPE_DRAIN_S)[0]:
                if not os.read(self._fd, 64):
                    break
            return None
        self._queue.extend(chunk.decode('utf-8', errors='ignore'))
        return self._queue.popleft() if self._queue else None


def _raise_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


class ScriptedKeys:
    """(time, key) events on a simulated clock: ``read_key`` advances the clock."""

    def __init__(self, events: Iterable[tuple[float, str]], start: float = 0.0) -> None:
        self._events = deque(sorted(events, key=lambda e: e[0]))
        self._now = start

    def now(self) -> float:
        return self._now

    def read_key(self, timeout: float) -> str | None:
        deadline = self._now + max(0.0, timeout)
        if self._events and self._events[0][0] <= deadline:
            t, key = self._events.popleft()
            self._now = max(self._now, t)
            return key
        self._now = deadline
        return None

    @property
    def done(self) -> bool:
        return not self._events


def run_teleop(
    keys: KeyReader,
    teleop: WasdTeleop,
    emit: Callable[[TeleopStep, float], None],
    idle_timeout: float = 0.1,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Read keys and tick the teleop until a quit key (or ``should_stop``); zero is sent last.

    ``emit(step, now)`` publishes and shows one step. The loop wakes at least
    every ``idle_timeout`` seconds and exactly when the teleop's next publish or
    key timeout is due, so the fixed rate and the release timeout hold.
    """
    quit_sent = False
    try:
        while not should_stop():
            deadline = teleop.next_deadline()
            now = keys.now()
            timeout = idle_timeout if deadline is None else min(idle_timeout, deadline - now)
            key = keys.read_key(max(MIN_WAIT_S, timeout))
            now = keys.now()
            if key is not None:
                step = teleop.on_key(key, now)
                emit(step, now)
                if step.quit:
                    quit_sent = True
                    return
            emit(teleop.tick(now), now)
    finally:
        if not quit_sent:  # Ctrl-C, SIGTERM, a closed terminal: still leave the robot stopped
            emit(teleop.on_key('\x03', keys.now()), keys.now())
