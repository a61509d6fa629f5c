"""What the web console does, as a plain component: no clock, no sockets, no ROS.

``ConsoleApi`` takes every request of the page and of API clients as plain values
(a client id, the token it gave, the message, and the time), decides, and answers
with a ``Reply``: an HTTP-like status, a JSON-ready body, and the messages to
publish. The server (``server.py``) and the node's wiring (``wiring.py``) only carry
bytes and messages to and from it.

Rules, in the order they are applied to a control message:

1. Size: a message over ``max_message_bytes`` is refused (413).
2. Token: every control action needs the token (401 without it; an address that keeps
   sending wrong ones gets 429 for a while). Watching needs it when ``watch_needs_token``.
3. Shape: JSON with a known ``type``, else 400 saying what is wrong.
4. Rate: each client has a token bucket of ``control_rate`` messages a second, at most
   ``control_burst`` at once (429); engaging the e-stop skips it.
5. Fields: the fields of that type are valid, else 400 saying which and why.
6. Control: one client holds control at a time. The first to act takes it; while it
   holds it, another client's control actions are refused (409) until that client takes
   over on purpose (``take_control``). A takeover is announced to every page, and the
   previous holder's drive is stopped. Engaging the e-stop is never refused to a client
   with the token; releasing it needs control.
7. Lateness (a key on ``drive``): a drive message must say when it was sent, and one that
   arrives later than ``drive_timeout_s`` (see Stalls below) is refused (409) and stops
   the robot.

Driving follows the teleop's rules: the page sends the held key and repeats it every
0.1 s; a key not repeated within ``drive_timeout_s``, a release, a lost focus, a
closed connection or a change of controller sends zero at once. A key that lapsed, or
was stopped by an e-stop or a takeover, drives again only once released.

Stalls: a drive message queued while the link or the console stalled must not drive
when it finally arrives. The browser's clock and this one are different machines, so
each message carries the sender's own monotonic time (``sent_ms``); per connection,
``ClockOffset`` keeps the smallest (arrival - sent) of the recent past, and a drive
message that arrives more than ``drive_timeout_s`` later than that is dropped: zero goes
out and the key must be released first. Constant network delay and the clocks' offset
cancel out; only the delay a stall adds counts.

Health: ``/diagnostics`` come once a second from every node; a node silent for
``node_silent_s`` is announced (an event) and shown, and so is its return.

The parts: message shapes and the field check of each type (``messages``), the token
and the limits (``limits``), the held key (``driving``), and what the graph says
(``telemetry``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from mobile_vla import topics
from mobile_vla_web.config import WebConfig
from mobile_vla_web.driving import EPS, HeldKey
from mobile_vla_web.limits import MAX_TRACKED, ClockOffset, TokenBucket, TokenCheck
from mobile_vla_web.messages import (
    RECORD_ACTIONS,
    Publish,
    Reply,
    Sender,
    check_fields,
    client_name,
    error,
    number,
    parse_message,
    request_id,
)
from mobile_vla_web.telemetry import Telemetry

STATS_KEYS = ('fps', 'latency_ms_p50', 'latency_ms_p95', 'frames')


@dataclass
class Client:
    """One connected page (``kind='page'``, a WebSocket) or API caller (``'api'``)."""

    id: str
    address: str
    kind: str
    bucket: TokenBucket
    name: str | None = None
    stats: dict[str, float] = field(default_factory=dict)
    offset: ClockOffset = field(default_factory=ClockOffset)

    @property
    def label(self) -> str:
        """Who this is, for people: the page's name (or its id) and its address."""
        return self.id if self.kind == 'api' else f'{self.name or self.id} ({self.address})'

    def describe(self) -> dict[str, Any]:
        return {'id': self.id, 'address': self.address, 'kind': self.kind,
                'name': self.name, 'label': self.label}


class ConsoleApi:
    """The console's decisions: who may act, who has control, driving, and the state
    every page shows (the graph's part from ``telemetry``)."""

    def __init__(self, config: WebConfig, token: str) -> None:
        self.config = config
        self.tokens = TokenCheck(token)
        self.clients: dict[str, Client] = {}
        self.controller: str | None = None
        self._controller_last = 0.0
        self.held = HeldKey(config)
        #: An e-stop went out that the arbiter has not reported yet.
        self._estop_sent = False
        #: Clients whose key was held through an e-stop or a takeover: they drive again
        #: only once they have released it.
        self._needs_release: set[str] = set()
        self.recent: deque[str] = deque(maxlen=config.recent_instructions)
        self.events: list[dict[str, Any]] = []
        self.counts = {'accepted': 0, 'refused_auth': 0, 'refused_rate': 0,
                       'refused_control': 0, 'refused_input': 0, 'refused_late': 0}
        self.telemetry = Telemetry(config, self._event)
        self.episodes: list[dict[str, Any]] = []
        self._actions: dict[str, Callable[[Any, float], Reply]] = {
            'instruction': self._do_instruction, 'mode': self._do_mode,
            'estop': self._do_estop, 'drive': self._do_drive, 'throttle': self._do_throttle,
            'record': self._do_record}

    # ------------------------------------------------------------------ auth
    def authenticate(self, address: str, token: Any, now: float) -> Reply | None:
        """None when ``token`` is right; else 401, or 429 for an address that keeps
        sending wrong ones (``TokenCheck``)."""
        refused = self.tokens.refusal(address, token, now)
        if refused is not None:
            self.counts['refused_auth'] += 1
        return refused

    def may_watch(self, address: str, token: Any, now: float) -> Reply | None:
        """None when this caller may watch (camera, state, episodes)."""
        if not self.config.watch_needs_token:
            return None
        return self.authenticate(address, token, now)

    # --------------------------------------------------------------- clients
    def open_client(self, client_id: str, address: str, kind: str, now: float,
                    name: Any = None) -> Reply:
        """A page (or API caller) arrives; ``name`` is what the page calls itself."""
        if client_id in self.clients:
            return Reply(200, {'ok': True, 'client': self.clients[client_id].describe()})
        if kind == 'api' and len(self.clients) >= MAX_TRACKED:  # forget idle API callers
            self.clients = {i: c for i, c in self.clients.items() if c.kind == 'page'
                            or i == self.controller
                            or now - c.bucket.last < self.config.control_idle_s}
        pages = sum(1 for c in self.clients.values() if c.kind == 'page')
        if kind == 'page' and pages >= self.config.max_clients:
            return error(503, f'{pages} consoles are open, the most this robot serves '
                               '(max_clients); close one')
        self.clients[client_id] = Client(client_id, address, kind, TokenBucket(
            self.config.control_rate, self.config.control_burst, now), client_name(name))
        return Reply(200, {'ok': True, 'client': self.clients[client_id].describe()})

    def close_client(self, client_id: str, now: float) -> list[Publish]:
        """A page went away: if it held control, control is free and driving stops."""
        client = self.clients.pop(client_id, None)
        self._needs_release.discard(client_id)
        if self.controller != client_id:
            return []
        self.controller = None
        who = client.label if client is not None else client_id
        self._event('control', f'{who} left; nobody has control', now, left=client_id)
        return self.stop_drive()

    # --------------------------------------------------------------- control
    def control(self, client_id: str, address: str, token: Any, raw: Any, now: float,
                kind: str = 'api') -> Reply:
        """One control (or stats) message from a client; see the module docstring. The
        reply carries the message's ``id`` (``Reply.request_id``)."""
        size = len(raw) if isinstance(raw, (bytes, str)) else 0
        decoded, message, problem = parse_message(raw)  # the server bounds what it reads
        if size > self.config.max_message_bytes:
            self.counts['refused_input'] += 1
            return replace(error(413, f'message of {size} bytes; the most is '
                                      f'{self.config.max_message_bytes} (max_message_bytes)'),
                           request_id=request_id(decoded))
        reply = self._control(client_id, address, token, message, problem, now, kind)
        return replace(reply, request_id=request_id(decoded))

    def _control(self, client_id: str, address: str, token: Any,
                 message: dict[str, Any] | None, problem: str | None, now: float,
                 kind: str) -> Reply:
        if message is not None and message.get('type') == 'stats':
            refused = self.may_watch(address, token, now)
            return refused or self._stats(client_id, message, now)
        refused = self.authenticate(address, token, now)
        if refused is not None:
            return refused
        if problem is not None:
            self.counts['refused_input'] += 1
            return error(400, problem)
        if client_id not in self.clients:
            opened = self.open_client(client_id, address, kind, now)
            if not opened.ok:
                return opened
        client = self.clients[client_id]
        lateness = self._lateness(client, message, now)
        kind_of = message['type']
        engaging = kind_of == 'estop' and message.get('engaged') is True
        # Stopping is never refused for speed: the e-stop skips the bucket.
        if not engaging and not client.bucket.take(now):
            self.counts['refused_rate'] += 1
            return error(429, f'more than {self.config.control_rate:g} control messages a '
                               f'second (burst {self.config.control_burst}); slow down')
        checked = check_fields(kind_of, message, Sender(client.kind, self.held.throttle,
                                                        self.config.max_instruction_chars))
        if isinstance(checked, Reply):
            self.counts['refused_input'] += 1
            return checked
        if kind_of == 'take_control':
            return self._accept(self._take(client, now))
        handler = self._actions[kind_of]
        if not engaging:
            holder = self._holder(now)
            if holder is not None and holder != client_id:
                self.counts['refused_control'] += 1
                return error(409, f'{self.clients[holder].label} has control; take control '
                                   'to take over (they will see it)')
            if holder is None:
                self._take(client, now)
            self._controller_last = now
        if kind_of == 'drive' and checked is not None:
            late = self._late_drive(client, lateness)
            if late is not None:
                return late
        return self._accept(handler(checked, now))

    def _lateness(self, client: Client, message: dict[str, Any], now: float) -> float | None:
        """How late this message arrived (see ``ClockOffset``), when it says when it was
        sent (``sent_ms``, the sender's monotonic clock in milliseconds)."""
        sent_ms = number(message, 'sent_ms')
        return None if sent_ms is None else client.offset.lateness(sent_ms / 1000.0, now)

    def _late_drive(self, client: Client, lateness: float | None) -> Reply | None:
        """None when a key may drive; a drive message that does not say when it was sent,
        or that waited in a stalled link or console, is refused, and the robot stops."""
        if lateness is None:
            self.counts['refused_input'] += 1
            return error(400, 'a drive message needs "sent_ms", the sender\'s monotonic clock '
                               'in milliseconds (the page sends performance.now()), so that '
                               'one held up by a stall is not replayed')
        if lateness <= self.config.drive_timeout_s + EPS:
            return None
        self.counts['refused_late'] += 1
        self._needs_release.add(client.id)
        return Reply(409, {'ok': False, 'late_s': round(lateness, 3), 'error': (
            f'your key arrived {lateness:.1f} s late (the link or the console stalled), so it '
            'was dropped and the robot stopped; release the key and press it again')},
            self.stop_drive())

    def _accept(self, reply: Reply) -> Reply:
        if reply.ok:
            self.counts['accepted'] += 1
        return reply

    def _holder(self, now: float) -> str | None:
        """The client holding control; an API client's hold lapses after control_idle_s."""
        holder = self.controller
        if holder is None:
            return None
        client = self.clients.get(holder)
        if client is None or (client.kind == 'api' and
                              now - self._controller_last > self.config.control_idle_s):
            self.controller = None
            self._event('control', f'{holder} was idle; nobody has control', now, left=holder)
            return None
        return holder

    def _take(self, client: Client, now: float) -> Reply:
        previous = self._holder(now)
        publish: list[Publish] = []
        if previous != client.id:
            if previous is not None:
                if self.held.key is not None:
                    self._needs_release.add(previous)
                publish = self.stop_drive()
                before = self.clients[previous].label if previous in self.clients else previous
                self._event('control', f'{client.label} took control from {before}', now,
                            by=client.id, taken_from=previous)
            else:
                self._event('control', f'{client.label} has control', now, by=client.id)
            self.controller = client.id
        self._controller_last = now
        return Reply(200, {'ok': True, 'controller': client.id}, publish)

    # ---------------------------------------------------------------- actions
    def _do_instruction(self, text: str, now: float) -> Reply:
        stripped = text.strip()
        if stripped:
            if stripped in self.recent:
                self.recent.remove(stripped)
            self.recent.appendleft(stripped)
        return Reply(200, {'ok': True}, [(topics.VLA_COMMAND, text)])

    def _do_mode(self, mode: str, now: float) -> Reply:
        return Reply(200, {'ok': True}, [(topics.CONTROL_MODE, mode)])

    def _do_estop(self, engaged: bool, now: float) -> Reply:
        if engaged and self.held.key is not None and self.controller is not None:
            self._needs_release.add(self.controller)
        publish = self.stop_drive() if engaged else []
        self._estop_sent = engaged
        return Reply(200, {'ok': True}, [(topics.CONTROL_ESTOP, engaged), *publish])

    def estop_engaged(self, now: float) -> bool | None:
        """The arbiter's word on its e-stop (None when it has not spoken lately). An e-stop
        this console sent is not in it until the arbiter says so (``estop_sent``)."""
        return self.telemetry.estop_engaged(now)

    def may_not_drive(self, now: float) -> bool:
        """The e-stop is engaged, or this console sent one the arbiter has not confirmed."""
        return bool(self._estop_sent or self.estop_engaged(now))

    def _do_throttle(self, percent: int, now: float) -> Reply:
        return Reply(200, {'ok': True, 'throttle': percent}, self.held.set_throttle(percent))

    def _do_record(self, checked: tuple[str, str | None, str | None], now: float) -> Reply:
        action, scenario, instruction = checked
        command = ' '.join(filter(None, (RECORD_ACTIONS[action], scenario, instruction)))
        return Reply(200, {'ok': True, 'command': command}, [(topics.RECORDER_CONTROL, command)])

    def _do_drive(self, key: str | None, now: float) -> Reply:
        client = self.controller  # only the holder of control gets here
        if key is None:
            self._needs_release.discard(client)
            return Reply(200, {'ok': True}, self.stop_drive())
        if self.may_not_drive(now):
            return error(409, 'the e-stop is engaged: release the key and the e-stop first')
        if client in self._needs_release:
            return error(409, 'release the key first: driving stopped (e-stop or a change '
                               'of control) while it was held')
        return Reply(200, {'ok': True}, self.held.press(key, now))

    def stop_drive(self) -> list[Publish]:
        """Zero for a held key (a change of control, an e-stop, the console going away)."""
        return self.held.release()

    def tick(self, now: float) -> list[Publish]:
        """Call at least at ``drive_rate_hz``: repeats the held key, or stops it (a key that
        lapsed drives again only once released)."""
        if self.held.lapsed(now):
            if self.controller is not None:
                self._needs_release.add(self.controller)
            return self.stop_drive()
        return self.held.repeat(now)

    def _stats(self, client_id: str, message: dict[str, Any], now: float) -> Reply:
        client = self.clients.get(client_id)
        if client is None:
            return error(400, 'stats come from an open console (the WebSocket)')
        self._lateness(client, message, now)  # a sample of the link's delay too
        if not client.bucket.take(now):
            self.counts['refused_rate'] += 1
            return error(429, 'too many messages; slow down')
        client.stats = {k: v for k in STATS_KEYS if (v := number(message, k)) is not None}
        return Reply(200, {'ok': True})

    def _event(self, kind: str, text: str, now: float, **extra: Any) -> None:
        self.events.append({'type': 'event', 'kind': kind, 'text': text, 't': now, **extra})

    def drain_events(self) -> list[dict[str, Any]]:
        events, self.events = self.events, []
        return events

    def on_control_state(self, text: str, now: float) -> None:
        """control/state from the arbiter; once it reports its e-stop latched, its word
        counts, not this console's ``estop_sent``."""
        estop = self.telemetry.on_control_state(text, now).get('estop')
        if isinstance(estop, dict) and estop.get('latched'):
            self._estop_sent = False

    def state(self, now: float) -> dict[str, Any]:
        """What every page shows, JSON-ready."""
        holder = self._holder(now)
        return {
            'type': 'state', 't': now,
            'controller': self.clients[holder].describe() if holder else None,
            'throttle': self.held.throttle, 'drive_key': self.held.key,
            **self.telemetry.state(now),
            'estop_sent': self._estop_sent,  # sent by this console, not yet confirmed
            'recent_instructions': list(self.recent),
            'episodes': self.episodes,
            'viewers': {c.id: c.stats for c in self.clients.values() if c.kind == 'page'},
            'counts': dict(self.counts),
        }
