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
"""

from __future__ import annotations

import hmac
import json
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mobile_vla import topics
from mobile_vla.actions import ZERO
from mobile_vla.keymap import KEY_BINDINGS, STOP_KEYS, clamp_throttle, key_command
from mobile_vla.scenarios import GOAL_SCENARIOS, SCENARIOS
from mobile_vla.topics import CONTROL_MODES
from mobile_vla_web.config import WebConfig

RECORD_ACTIONS = {'start': 'start', 'keep': 'stop', 'discard': 'discard'}
CONTROL_TYPES = ('instruction', 'mode', 'estop', 'drive', 'throttle', 'record', 'take_control')
#: Characters of the name a page gives itself (shown to every page: "alice (10.0.0.7)").
MAX_NAME_CHARS = 40
#: How far back (in the sender's own clock) a connection's fastest message is remembered:
#: long against a stall, short against clock drift and a sender whose clock paused.
OFFSET_WINDOW_S = 30.0
#: Arrival offsets kept per connection at most (only rising ones are kept: a few in practice).
MAX_OFFSETS = 4096
#: A gap this long between two health checks means this console itself did not run.
SELF_STALL_S = 1.0
#: Failed token attempts an address may make at once, and how fast it earns one back.
AUTH_FAILURE_BURST = 10
AUTH_FAILURE_RATE = 0.2
DIAGNOSTIC_LEVELS = {0: 'OK', 1: 'WARN', 2: 'ERROR', 3: 'STALE'}
#: The recorder's own status on /diagnostics (its wiring names it; the node has others,
#: such as '<node>: qos').
RECORDER_STATUS = 'episode_recorder: recorder'
#: The node whose vla/status the plan panel shows (silent: the plan's state is unknown).
INFERENCE_NODE = 'vla_inference'
STATS_KEYS = ('fps', 'latency_ms_p50', 'latency_ms_p95', 'frames')
#: Addresses, API callers and diagnostic names kept at most (older ones are forgotten).
MAX_TRACKED = 256
#: Times closer than this count as equal (a deadline computed by addition is met).
EPS = 1e-9

Publish = tuple[topics.Topic, Any]


@dataclass
class Reply:
    """The answer to one request: status (HTTP semantics), body, and what to publish."""

    status: int
    body: dict[str, Any]
    publish: list[Publish] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == 200


def _error(status: int, text: str) -> Reply:
    return Reply(status, {'ok': False, 'error': text})


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


def client_name(value: Any) -> str | None:
    """The name a page gives itself, tidied (printable, one line, at most
    ``MAX_NAME_CHARS``), or None when it gives none that can be shown."""
    if not isinstance(value, str):
        return None
    words = (''.join(c for c in word if c.isprintable()) for word in value.split())
    return ' '.join(word for word in words if word)[:MAX_NAME_CHARS].strip() or None


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


def _number(message: dict[str, Any], key: str) -> float | None:
    """A finite number, or None (booleans, text, NaN, and integers too large for a float)."""
    value = message.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def _no_constant(name: str) -> None:
    """JSON's NaN and Infinity read as null: nothing this console takes may be one."""
    return None


def _finite(values: tuple[float, ...]) -> tuple[float | None, ...]:
    return tuple(float(v) if math.isfinite(v) else None for v in values)


def _instruction_problem(text: Any, limit: int) -> str | None:
    """Why ``text`` cannot be an instruction, or None."""
    if not isinstance(text, str):
        return 'needs "text", a string'
    if len(text) > limit:
        return f'of {len(text)} characters; the most is {limit} (max_instruction_chars)'
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        return 'is not valid Unicode text'
    if '\x00' in text:
        return 'contains a NUL character'
    return None


def node_of(status_name: str) -> str:
    """The node a diagnostic status belongs to: 'vla_inference: policy' -> 'vla_inference'."""
    return status_name.split(':', 1)[0].strip() or status_name


class ConsoleApi:
    """The console's decisions: auth, limits, control, driving, and the state it shows."""

    def __init__(self, config: WebConfig, token: str) -> None:
        if len(token) < 16:
            raise ValueError('the access token must be at least 16 characters')
        self.config = config
        self._token = token.encode()
        self.clients: dict[str, Client] = {}
        self.controller: str | None = None
        self._controller_last = 0.0
        self.throttle = config.throttle_percent
        self.drive_key: str | None = None
        self._drive_until = 0.0
        self._next_drive = 0.0
        #: An e-stop went out that the arbiter has not reported yet.
        self._estop_sent = False
        #: Clients whose key was held through an e-stop or a takeover: they drive again
        #: only once they have released it.
        self._needs_release: set[str] = set()
        self._auth_failures: dict[str, TokenBucket] = {}
        self.recent: deque[str] = deque(maxlen=config.recent_instructions)
        self.events: list[dict[str, Any]] = []
        self.counts = {'accepted': 0, 'refused_auth': 0, 'refused_rate': 0,
                       'refused_control': 0, 'refused_input': 0, 'refused_late': 0}
        # What the graph says (telemetry), each with the time it came.
        self.cmd_vel: tuple[float, float, float] = ZERO
        self._cmd_vel_t: float | None = None
        self.robot_action: tuple[float, float, float] = ZERO
        self._robot_action_t: float | None = None
        self.control_state: dict[str, Any] | None = None
        self._control_state_t = 0.0
        self.vla_status: dict[str, Any] | None = None
        self._vla_status_t: float | None = None
        self.diagnostics: dict[str, dict[str, Any]] = {}
        #: Node -> when its /diagnostics last came; the silent ones.
        self._node_seen: dict[str, float] = {}
        self.silent: set[str] = set()
        self._last_check: float | None = None
        self.episodes: list[dict[str, Any]] = []
        self.history: deque[tuple[float, Any, Any]] = deque()

    # ------------------------------------------------------------------ auth
    def token_ok(self, given: Any) -> bool:
        """Constant-time comparison; anything but a non-empty string is wrong."""
        if not isinstance(given, str) or not given:
            return False
        try:
            return hmac.compare_digest(given.encode(), self._token)
        except UnicodeEncodeError:
            return False

    def authenticate(self, address: str, token: Any, now: float) -> Reply | None:
        """None when ``token`` is right. A wrong one is refused (401); an address that keeps
        sending wrong ones gets 429 for a while, but never locks out the right token (on
        one machine every client shares 127.0.0.1)."""
        if self.token_ok(token):
            return None
        self.counts['refused_auth'] += 1
        bucket = self._auth_failures.get(address)
        if bucket is None:
            if len(self._auth_failures) >= MAX_TRACKED:  # forget addresses that calmed down
                self._auth_failures = {a: b for a, b in self._auth_failures.items()
                                       if b.refill(now) < AUTH_FAILURE_BURST}
                while len(self._auth_failures) >= MAX_TRACKED:  # then the oldest
                    del self._auth_failures[next(iter(self._auth_failures))]
            bucket = self._auth_failures[address] = TokenBucket(
                AUTH_FAILURE_RATE, AUTH_FAILURE_BURST, now)
        if not bucket.take(now):
            return _error(429, 'too many requests with a wrong token from this address; wait '
                               'a minute, then use the token the console printed at its first '
                               'start (it is in its token_file)')
        return _error(401, 'missing or wrong token: open the URL the console printed (it '
                           'carries the token), or send "Authorization: Bearer <token>"')

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
            return _error(503, f'{pages} consoles are open, the most this robot serves '
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
        """One control (or stats) message from a client; see the module docstring."""
        size = len(raw) if isinstance(raw, (bytes, str)) else 0
        if size > self.config.max_message_bytes:
            self.counts['refused_input'] += 1
            return _error(413, f'message of {size} bytes; the most is '
                               f'{self.config.max_message_bytes} (max_message_bytes)')
        message, problem = self._parse(raw)
        if message is not None and message.get('type') == 'stats':
            refused = self.may_watch(address, token, now)
            return refused or self._stats(client_id, message, now)
        refused = self.authenticate(address, token, now)
        if refused is not None:
            return refused
        if problem is not None:
            self.counts['refused_input'] += 1
            return _error(400, problem)
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
            return _error(429, f'more than {self.config.control_rate:g} control messages a '
                               f'second (burst {self.config.control_burst}); slow down')
        checked = self._check_fields(kind_of, message, client)
        if isinstance(checked, Reply):
            self.counts['refused_input'] += 1
            return checked
        if kind_of == 'take_control':
            return self._accept(self._take(client, now))
        handler = getattr(self, f'_do_{kind_of}')
        if not engaging:
            holder = self._holder(now)
            if holder is not None and holder != client_id:
                self.counts['refused_control'] += 1
                return _error(409, f'{self.clients[holder].label} has control; take control '
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
        sent_ms = _number(message, 'sent_ms')
        return None if sent_ms is None else client.offset.lateness(sent_ms / 1000.0, now)

    def _late_drive(self, client: Client, lateness: float | None) -> Reply | None:
        """None when a key may drive; a drive message that does not say when it was sent,
        or that waited in a stalled link or console, is refused, and the robot stops."""
        if lateness is None:
            self.counts['refused_input'] += 1
            return _error(400, 'a drive message needs "sent_ms", the sender\'s monotonic clock '
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

    def _parse(self, raw: Any) -> tuple[dict[str, Any] | None, str | None]:
        if isinstance(raw, (bytes, str)):
            try:
                raw = json.loads(raw, parse_constant=_no_constant)
            except (ValueError, UnicodeDecodeError) as exc:
                return None, f'not JSON: {exc}'
            except RecursionError:
                return None, 'not JSON this console reads: nested too deeply'
        if not isinstance(raw, dict):
            return None, 'a message is a JSON object with a "type"'
        kind = raw.get('type')
        if not isinstance(kind, str) or (kind not in CONTROL_TYPES and kind != 'stats'):
            return None, f'unknown type {kind!r}; one of {", ".join(CONTROL_TYPES)}'
        return raw, None

    def _check_fields(self, kind: str, m: dict[str, Any], client: Client) -> Any:
        """The message's fields as typed values, or a 400 reply saying what is wrong."""
        if kind == 'instruction':
            text = m.get('text')
            problem = _instruction_problem(text, self.config.max_instruction_chars)
            return _error(400, f'instruction {problem}') if problem else text
        if kind == 'mode':
            if not isinstance(m.get('mode'), str) or m['mode'] not in CONTROL_MODES:
                return _error(400, f'mode must be one of {", ".join(CONTROL_MODES)}')
            return m['mode']
        if kind == 'estop':
            if not isinstance(m.get('engaged'), bool):
                return _error(400, 'estop needs "engaged": true or false')
            return m['engaged']
        if kind == 'drive':
            if client.kind != 'page':
                return _error(400, 'driving needs the WebSocket (/api/ws), so that a dropped '
                                   'connection stops the robot')
            key = m.get('key')
            if key is None or (isinstance(key, str) and key in STOP_KEYS):
                return None
            if not isinstance(key, str) or key.lower() not in KEY_BINDINGS:
                return _error(400, f'drive key must be one of {"".join(KEY_BINDINGS)}, " " or '
                                   'null (stop)')
            return key.lower()
        if kind == 'throttle':
            delta, percent = _number(m, 'delta'), _number(m, 'percent')
            if percent is not None and 10 <= percent <= 100:
                return int(percent)
            if delta is not None and abs(delta) <= 90:
                return clamp_throttle(self.throttle + int(delta))
            return _error(400, 'throttle needs "percent" (10-100) or "delta" (+-1 step = 10)')
        if kind == 'record':
            action = m.get('action')
            if not isinstance(action, str) or action not in RECORD_ACTIONS:
                return _error(400, f'record action must be one of {", ".join(RECORD_ACTIONS)}')
            if action != 'start':
                return (action, None, None)
            scenario = m.get('scenario')
            if isinstance(scenario, int) and not isinstance(scenario, bool) \
                    and 1 <= scenario <= len(SCENARIOS):
                scenario = SCENARIOS[scenario - 1]
            if not isinstance(scenario, str) or scenario not in SCENARIOS + GOAL_SCENARIOS:
                return _error(400, 'record start needs "scenario": 1-8, one of '
                                   f'{", ".join(SCENARIOS)}, or a goal room (goal_ and one '
                                   'of them, with its instruction)')
            if scenario in GOAL_SCENARIOS and m.get('instruction') is None:
                return _error(400, f'{scenario} is a goal room: give its "instruction" '
                                   '(e.g. "go to the blue ball")')
            text = m.get('instruction')
            if text is None:
                return (action, scenario, None)
            problem = _instruction_problem(text, self.config.max_instruction_chars)
            if problem:
                return _error(400, f'record "instruction" {problem}')
            # The recorder reads 'start <scenario> [instruction]' as words: one line.
            return (action, scenario, ' '.join(text.split()) or None)
        return None  # take_control

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
                if self.drive_key is not None:
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
        if engaged and self.drive_key is not None and self.controller is not None:
            self._needs_release.add(self.controller)
        publish = self.stop_drive() if engaged else []
        self._estop_sent = engaged
        return Reply(200, {'ok': True}, [(topics.CONTROL_ESTOP, engaged), *publish])

    def estop_engaged(self, now: float) -> bool | None:
        """The arbiter's word on its e-stop (None when it has not spoken lately). An e-stop
        this console sent is not in it until the arbiter says so (``estop_sent``)."""
        state = self._fresh_control_state(now)
        if state is None:
            return None
        estop = state.get('estop')
        return bool(estop.get('latched')) if isinstance(estop, dict) else None

    def may_not_drive(self, now: float) -> bool:
        """The e-stop is engaged, or this console sent one the arbiter has not confirmed."""
        return bool(self._estop_sent or self.estop_engaged(now))

    def _do_throttle(self, percent: int, now: float) -> Reply:
        self.throttle = percent
        publish = []
        if self.drive_key is not None:  # the held key goes on at the new speed
            publish = [(topics.TELEOP_CMD_VEL, self.drive_command)]
        return Reply(200, {'ok': True, 'throttle': percent}, publish)

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
            return _error(409, 'the e-stop is engaged: release the key and the e-stop first')
        if client in self._needs_release:
            return _error(409, 'release the key first: driving stopped (e-stop or a change '
                               'of control) while it was held')
        changed = key != self.drive_key
        self.drive_key = key
        self._drive_until = now + self.config.drive_timeout_s
        if not changed:
            return Reply(200, {'ok': True})
        self._next_drive = now + 1.0 / self.config.drive_rate_hz
        return Reply(200, {'ok': True}, [(topics.TELEOP_CMD_VEL, self.drive_command)])

    @property
    def drive_command(self) -> tuple[float, float, float]:
        return key_command(self.drive_key, self.config.key_speed, self.throttle)

    def stop_drive(self) -> list[Publish]:
        """Zero for a held key (a change of control, an e-stop, the console going away)."""
        if self.drive_key is None:
            return []
        self.drive_key = None
        return [(topics.TELEOP_CMD_VEL, ZERO)]

    def tick(self, now: float) -> list[Publish]:
        """Call at least at ``drive_rate_hz``: repeats the held key, or stops it (a key that
        lapsed drives again only once released)."""
        if self.drive_key is None:
            return []
        if now >= self._drive_until - EPS:
            if self.controller is not None:
                self._needs_release.add(self.controller)
            return self.stop_drive()
        if now >= self._next_drive - EPS:
            period = 1.0 / self.config.drive_rate_hz
            missed = int((now - self._next_drive + EPS) // period)
            self._next_drive += (missed + 1) * period
            return [(topics.TELEOP_CMD_VEL, self.drive_command)]
        return []

    def _stats(self, client_id: str, message: dict[str, Any], now: float) -> Reply:
        client = self.clients.get(client_id)
        if client is None:
            return _error(400, 'stats come from an open console (the WebSocket)')
        self._lateness(client, message, now)  # a sample of the link's delay too
        if not client.bucket.take(now):
            self.counts['refused_rate'] += 1
            return _error(429, 'too many messages; slow down')
        client.stats = {k: v for k in STATS_KEYS if (v := _number(message, k)) is not None}
        return Reply(200, {'ok': True})

    def _event(self, kind: str, text: str, now: float, **extra: Any) -> None:
        self.events.append({'type': 'event', 'kind': kind, 'text': text, 't': now, **extra})

    def drain_events(self) -> list[dict[str, Any]]:
        events, self.events = self.events, []
        return events

    # -------------------------------------------------------------- telemetry
    def on_cmd_vel(self, action: tuple[float, float, float], now: float) -> None:
        self.cmd_vel, self._cmd_vel_t = _finite(action), now

    def on_robot_action(self, action: tuple[float, float, float], now: float) -> None:
        self.robot_action, self._robot_action_t = _finite(action), now

    def _fresh(self, value: Any, t: float | None, now: float) -> Any:
        """``value`` while it is younger than ``state_stale_s``, else None (unknown)."""
        return None if t is None or now - t > self.config.state_stale_s else value

    def on_control_state(self, text: str, now: float) -> None:
        self.control_state = _json_object(text)
        self._control_state_t = now
        estop = self.control_state.get('estop')
        if isinstance(estop, dict) and estop.get('latched'):
            self._estop_sent = False  # the arbiter has it: its word counts from now on

    def _fresh_control_state(self, now: float) -> dict[str, Any] | None:
        if self.control_state is None or \
                now - self._control_state_t > self.config.state_stale_s:
            return None
        return self.control_state

    def on_vla_status(self, text: str, now: float) -> None:
        self.vla_status, self._vla_status_t = _json_object(text), now

    def on_diagnostic(self, name: str, level: int, message: str, values: dict[str, str],
                      now: float) -> None:
        if name not in self.diagnostics and len(self.diagnostics) >= MAX_TRACKED:
            oldest = min(self.diagnostics, key=lambda n: self.diagnostics[n]['t'])
            del self.diagnostics[oldest]
        node = node_of(name)
        self.diagnostics[name] = {'level': DIAGNOSTIC_LEVELS.get(level, str(level)),
                                  'message': message, 'values': values, 't': now, 'node': node}
        if node not in self._node_seen and len(self._node_seen) >= MAX_TRACKED:
            oldest = min(self._node_seen, key=self._node_seen.get)
            del self._node_seen[oldest]
            self.silent.discard(oldest)
        if node in self.silent:
            self.silent.discard(node)
            self._event('node', f'{node} is back after {now - self._node_seen[node]:.0f} s of '
                                'silence (restarted, or it ran again)', now, node=node)
        self._node_seen[node] = now

    def check_nodes(self, now: float) -> None:
        """Call at the telemetry rate: a node silent for ``node_silent_s`` is announced.
        A gap in these calls is this console's own stall (its process stopped): every
        node then gets a fresh ``node_silent_s`` before it counts as silent."""
        if self._last_check is not None and now - self._last_check > SELF_STALL_S:
            gap = now - self._last_check
            self._event('console', f'this console did not run for {gap:.1f} s (its process '
                                   'was stopped or starved); what it shows was stale meanwhile',
                        now)
            self._node_seen = {node: t + gap for node, t in self._node_seen.items()}
        self._last_check = now
        for node, seen in self._node_seen.items():
            if node not in self.silent and now - seen > self.config.node_silent_s:
                self.silent.add(node)
                self._event('node', f'{node} is silent: no /diagnostics for {now - seen:.0f} s '
                                    '(stopped, hung or gone)', now, node=node)

    def sample(self, now: float) -> None:
        """One point of the velocity plot (at the telemetry rate); unknown values are None."""
        self.history.append((now, self._fresh(self.cmd_vel, self._cmd_vel_t, now),
                             self._fresh(self.robot_action, self._robot_action_t, now)))
        while self.history and self.history[0][0] < now - self.config.plot_window_s:
            self.history.popleft()

    @property
    def recorder(self) -> dict[str, Any]:
        status = self.diagnostics.get(RECORDER_STATUS)
        return {'message': status['message'], **status['values']} if status else {}

    def state(self, now: float) -> dict[str, Any]:
        """What every page shows, JSON-ready."""
        holder = self._holder(now)
        arbiter = self._fresh_control_state(now) or {}
        estop = arbiter.get('estop')
        return {
            'type': 'state', 't': now,
            'controller': self.clients[holder].describe() if holder else None,
            'throttle': self.throttle, 'drive_key': self.drive_key,
            'cmd_vel': self._fresh(self.cmd_vel, self._cmd_vel_t, now),
            'robot_action': self._fresh(self.robot_action, self._robot_action_t, now),
            'mode': arbiter.get('mode'),
            'estop': self.estop_engaged(now),  # the arbiter's word only
            'estop_sent': self._estop_sent,  # sent by this console, not yet confirmed
            'estop_release_requested': bool(estop.get('release_requested'))
            if isinstance(estop, dict) else False,
            'control_state_age_s': None if self.control_state is None
            else round(now - self._control_state_t, 3),
            'control_state': self.control_state, 'vla_status': self.vla_status,
            # vla/status goes out on change only: its age says nothing, the node's silence does
            'vla_status_stale': INFERENCE_NODE in self.silent,
            'vla_status_age_s': None if self._vla_status_t is None
            else round(now - self._vla_status_t, 3),
            'diagnostics': {name: {**s, 'age_s': round(now - s['t'], 3)}
                            for name, s in self.diagnostics.items()},
            'silent_nodes': {node: round(now - self._node_seen[node], 1)
                             for node in sorted(self.silent)},
            'recorder': self.recorder,
            'recent_instructions': list(self.recent),
            'episodes': self.episodes,
            'viewers': {c.id: c.stats for c in self.clients.values() if c.kind == 'page'},
            'counts': dict(self.counts),
        }

    def plot_history(self) -> list[list[Any]]:
        return [[t, c and list(c), a and list(a)] for t, c, a in self.history]


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return {'unparsed': text[:500]}
    return value if isinstance(value, dict) else {'value': value}
