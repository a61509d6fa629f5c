"""Who may act on the console, and how often: the token, rate buckets, and lateness."""

from __future__ import annotations

import hmac
from collections import deque
from typing import Any

from mobile_vla_web.messages import Reply, error

#: How far back (in the sender's own clock) a connection's fastest message is remembered:
#: long against a stall, short against clock drift and a sender whose clock paused.
OFFSET_WINDOW_S = 30.0
#: Arrival offsets kept per connection at most (only rising ones are kept: a few in practice).
MAX_OFFSETS = 4096
#: Failed token attempts an address may make at once, and how fast it earns one back.
AUTH_FAILURE_BURST = 10
AUTH_FAILURE_RATE = 0.2
#: Addresses, API callers and diagnostic names kept at most (older ones are forgotten).
MAX_TRACKED = 256


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` held; time comes in as an argument."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.last = float(burst), now

    def refill(self, now: float) -> float:
        if now > self.last:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = max(self.last, now)
        return self.tokens

    def take(self, now: float) -> bool:
        if self.refill(now) >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class ClockOffset:
    """How late a connection's messages arrive, measured against its own fastest ones.

    ``lateness(sent, arrival)`` takes the sender's monotonic time of a message and this
    side's time of its arrival (seconds; two clocks with any offset). The smallest
    ``arrival - sent`` over the last ``window_s`` of the sender's clock is the link's
    delay with nothing queued; what a message adds to it is how long it waited in a
    stalled link or console. The window is kept in the sender's time, so messages
    queued during a stall are judged against the ones before it, a drifting clock is
    forgotten after ``window_s``, and a sender whose clock paused (a sleeping laptop)
    reads as late for at most ``window_s``, never as early.
    """

    def __init__(self, window_s: float = OFFSET_WINDOW_S) -> None:
        self.window_s = window_s
        self._newest: float | None = None
        #: (sent, offset) with rising offsets: the front is the window's smallest.
        self._rising: deque[tuple[float, float]] = deque()

    def lateness(self, sent: float, arrival: float) -> float:
        offset = arrival - sent
        self._newest = sent if self._newest is None else max(self._newest, sent)
        while self._rising and self._rising[0][0] < self._newest - self.window_s:
            self._rising.popleft()
        while self._rising and self._rising[-1][1] >= offset:
            self._rising.pop()
        if len(self._rising) >= MAX_OFFSETS:
            self._rising.popleft()
        self._rising.append((sent, offset))
        return offset - self._rising[0][1]


class TokenCheck:
    """The access token, compared in constant time, and a slowdown for an address that
    keeps sending wrong ones (never a lock-out of the right token: on one machine every
    client shares 127.0.0.1)."""

    def __init__(self, token: str) -> None:
        if len(token) < 16:
            raise ValueError('the access token must be at least 16 characters')
        self._token = token.encode()
        self.failures: dict[str, TokenBucket] = {}

    def ok(self, given: Any) -> bool:
        """Constant-time comparison; anything but a non-empty string is wrong."""
        if not isinstance(given, str) or not given:
            return False
        try:
            return hmac.compare_digest(given.encode(), self._token)
        except UnicodeEncodeError:
            return False

    def refusal(self, address: str, token: Any, now: float) -> Reply | None:
        """None when ``token`` is right; else 401, or 429 for an address that keeps
        sending wrong ones."""
        if self.ok(token):
            return None
        bucket = self.failures.get(address)
        if bucket is None:
            if len(self.failures) >= MAX_TRACKED:  # forget addresses that calmed down
                self.failures = {a: b for a, b in self.failures.items()
                                 if b.refill(now) < AUTH_FAILURE_BURST}
                while len(self.failures) >= MAX_TRACKED:  # then the oldest
                    del self.failures[next(iter(self.failures))]
            bucket = self.failures[address] = TokenBucket(
                AUTH_FAILURE_RATE, AUTH_FAILURE_BURST, now)
        if not bucket.take(now):
            return error(429, 'too many requests with a wrong token from this address; wait '
                              'a minute, then use the token the console printed at its first '
                              'start (it is in its token_file)')
        return error(401, 'missing or wrong token: open the URL the console printed (it '
                          'carries the token), or send "Authorization: Bearer <token>"')
