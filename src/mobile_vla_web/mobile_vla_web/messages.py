"""The console's messages: their shapes, the check of each type's fields, and replies.

``check_fields`` looks up the message's type in ``FIELD_CHECKS``; each check turns the
fields into the typed value its action takes, or a 400 ``Reply`` saying what is wrong.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from mobile_vla import topics
from mobile_vla.keymap import KEY_BINDINGS, STOP_KEYS, clamp_throttle
from mobile_vla.scenarios import GOAL_SCENARIOS, SCENARIOS
from mobile_vla.topics import CONTROL_MODES

RECORD_ACTIONS = {'start': 'start', 'keep': 'stop', 'discard': 'discard'}
#: Characters of the name a page gives itself (shown to every page: "alice (10.0.0.7)").
MAX_NAME_CHARS = 40
#: Characters of the ``id`` a message may ask its reply to carry.
MAX_ID_CHARS = 64
Publish = tuple[topics.Topic, Any]


@dataclass
class Reply:
    """The answer to one request: status (HTTP semantics), body, and what to publish."""

    status: int
    body: dict[str, Any]
    publish: list[Publish] = field(default_factory=list)
    #: The ``id`` of the message answered (``request_id``): a page matches replies by it.
    request_id: int | str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


def error(status: int, text: str) -> Reply:
    return Reply(status, {'ok': False, 'error': text})


@dataclass(frozen=True)
class Sender:
    """What a field check may depend on besides the message."""

    kind: str  # 'page' (a WebSocket) or 'api'
    throttle: int  # the console's throttle now, for a relative change
    max_instruction_chars: int


def number(message: dict[str, Any], key: str) -> float | None:
    """A finite number, or None (booleans, text, NaN, and integers too large for a float)."""
    value = message.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def no_constant(name: str) -> None:
    """JSON's NaN and Infinity read as null: nothing this console takes may be one."""
    return None


def json_object(text: str) -> dict[str, Any]:
    """A status message's JSON object (anything else kept, marked, for the page)."""
    try:
        value = json.loads(text, parse_constant=no_constant)
    except (ValueError, RecursionError):
        return {'unparsed': text[:500]}
    return value if isinstance(value, dict) else {'value': value}


def client_name(value: Any) -> str | None:
    """The name a page gives itself, tidied (printable, one line, at most
    ``MAX_NAME_CHARS``), or None when it gives none that can be shown."""
    if not isinstance(value, str):
        return None
    words = (''.join(c for c in word if c.isprintable()) for word in value.split())
    return ' '.join(word for word in words if word)[:MAX_NAME_CHARS].strip() or None


def decode_message(raw: Any) -> tuple[Any, str | None]:
    """A message's JSON text (bytes or str) decoded, anything else as it is; or None and
    what is wrong."""
    if not isinstance(raw, (bytes, str)):
        return raw, None
    try:
        return json.loads(raw, parse_constant=no_constant), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f'not JSON: {exc}'
    except RecursionError:
        return None, 'not JSON this console reads: nested too deeply'


def parse_message(raw: Any) -> tuple[Any, dict[str, Any] | None, str | None]:
    """(what ``raw`` decodes to, the message as a dict with a known ``type`` or None, what
    is wrong or None). The decoded value is kept for a reply's ``id`` even when the
    message is refused."""
    decoded, problem = decode_message(raw)
    if problem is not None:
        return decoded, None, problem
    return (decoded, *check_message(decoded))


def check_message(raw: Any) -> tuple[dict[str, Any] | None, str | None]:
    """A decoded message as a dict with a known ``type``, or None and what is wrong."""
    if not isinstance(raw, dict):
        return None, 'a message is a JSON object with a "type"'
    kind = raw.get('type')
    if not isinstance(kind, str) or (kind not in CONTROL_TYPES and kind != 'stats'):
        return None, f'unknown type {kind!r}; one of {", ".join(CONTROL_TYPES)}'
    return raw, None


def request_id(message: Any) -> int | str | None:
    """The ``id`` a decoded message asks its reply to carry (a number or a short string)."""
    value = message.get('id') if isinstance(message, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    return value if len(str(value)) <= MAX_ID_CHARS else None


def instruction_problem(text: Any, limit: int) -> str | None:
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


def _instruction(m: dict[str, Any], sender: Sender) -> str | Reply:
    text = m.get('text')
    problem = instruction_problem(text, sender.max_instruction_chars)
    return error(400, f'instruction {problem}') if problem else text


def _mode(m: dict[str, Any], sender: Sender) -> str | Reply:
    if not isinstance(m.get('mode'), str) or m['mode'] not in CONTROL_MODES:
        return error(400, f'mode must be one of {", ".join(CONTROL_MODES)}')
    return m['mode']


def _estop(m: dict[str, Any], sender: Sender) -> bool | Reply:
    if not isinstance(m.get('engaged'), bool):
        return error(400, 'estop needs "engaged": true or false')
    return m['engaged']


def _drive(m: dict[str, Any], sender: Sender) -> str | None | Reply:
    """The key (lower case), or None for a stop."""
    if sender.kind != 'page':
        return error(400, 'driving needs the WebSocket (/api/ws), so that a dropped '
                          'connection stops the robot')
    key = m.get('key')
    if key is None or (isinstance(key, str) and key in STOP_KEYS):
        return None
    if not isinstance(key, str) or key.lower() not in KEY_BINDINGS:
        return error(400, f'drive key must be one of {"".join(KEY_BINDINGS)}, " " or '
                          'null (stop)')
    return key.lower()


def _throttle(m: dict[str, Any], sender: Sender) -> int | Reply:
    delta, percent = number(m, 'delta'), number(m, 'percent')
    if percent is not None and 10 <= percent <= 100:
        return int(percent)
    if delta is not None and abs(delta) <= 90:
        return clamp_throttle(sender.throttle + int(delta))
    return error(400, 'throttle needs "percent" (10-100) or "delta" (a change in percent, '
                      'at most +-90; the page sends +-10)')


def _record(m: dict[str, Any], sender: Sender) -> tuple[str, str | None, str | None] | Reply:
    """(action, scenario, instruction) of a recorder command."""
    action = m.get('action')
    if not isinstance(action, str) or action not in RECORD_ACTIONS:
        return error(400, f'record action must be one of {", ".join(RECORD_ACTIONS)}')
    if action != 'start':
        return (action, None, None)
    scenario = m.get('scenario')
    if isinstance(scenario, int) and not isinstance(scenario, bool) \
            and 1 <= scenario <= len(SCENARIOS):
        scenario = SCENARIOS[scenario - 1]
    if not isinstance(scenario, str) or scenario not in SCENARIOS + GOAL_SCENARIOS:
        return error(400, 'record start needs "scenario": 1-8, one of '
                          f'{", ".join(SCENARIOS)}, or a goal room (goal_ and one '
                          'of them, with its instruction)')
    text = m.get('instruction')
    if scenario in GOAL_SCENARIOS and not (isinstance(text, str) and text.split()):
        return error(400, f'{scenario} is a goal room: give its "instruction" '
                          '(e.g. "go to the blue ball")')
    if text is None:
        return (action, scenario, None)
    problem = instruction_problem(text, sender.max_instruction_chars)
    if problem:
        return error(400, f'record "instruction" {problem}')
    # The recorder reads 'start <scenario> [instruction]' as words: one line.
    return (action, scenario, ' '.join(text.split()) or None)


#: Each control type's field check: the typed value its action takes, or a 400 reply.
FIELD_CHECKS: dict[str, Callable[[dict[str, Any], Sender], Any]] = {
    'instruction': _instruction,
    'mode': _mode,
    'estop': _estop,
    'drive': _drive,
    'throttle': _throttle,
    'record': _record,
    'take_control': lambda m, sender: None,
}
CONTROL_TYPES = tuple(FIELD_CHECKS)


def check_fields(kind: str, message: dict[str, Any], sender: Sender) -> Any:
    """The message's fields as typed values, or a 400 reply saying what is wrong."""
    return FIELD_CHECKS[kind](message, sender)
