"""The REST API and the WebSocket protocol, as data: served at ``/api/openapi.json``.

One table says what each control route takes; the server builds its POST routes
from it and a test checks that the document and the server agree.
"""

from __future__ import annotations

from typing import Any

from mobile_vla.keymap import KEY_BINDINGS
from mobile_vla.scenarios import GOAL_SCENARIOS, SCENARIOS
from mobile_vla.topics import CONTROL_MODES
from mobile_vla_web.config import WebConfig
from mobile_vla_web.messages import RECORD_ACTIONS

VERSION = '1.0.0'
#: Control message type -> its POST route.
POST_TYPES = {
    'instruction': '/api/instruction',
    'mode': '/api/mode',
    'estop': '/api/estop',
    'record': '/api/record',
    'throttle': '/api/throttle',
    'take_control': '/api/control',
}

_BODIES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    'instruction': ('Send an English instruction to the policy (vla/command).', {
        'text': {'type': 'string', 'maxLength': WebConfig.max_instruction_chars,
                 'description': "e.g. 'go around the box on the left to the cup'; '' or "
                                "'stop' halts the policy"}}, ['text']),
    'mode': ("Set the arbiter's mode (control/mode).", {
        'mode': {'type': 'string', 'enum': list(CONTROL_MODES)}}, ['mode']),
    'estop': ('Engage (never refused to a token holder) or release (needs control) the '
              'e-stop (control/estop). Its state comes from control/state.', {
                  'engaged': {'type': 'boolean'}}, ['engaged']),
    'record': ('Start (scenario 1-8 or its name, or a goal room, and the instruction the '
               "episode demonstrates; default: the scenario's own, which a goal room does "
               'not have), keep or discard an episode (recorder/control).', {
                   'action': {'type': 'string', 'enum': list(RECORD_ACTIONS)},
                   'scenario': {'oneOf': [{'type': 'integer', 'minimum': 1, 'maximum': 8},
                                          {'type': 'string',
                                           'enum': list(SCENARIOS + GOAL_SCENARIOS)}]},
                   'instruction': {'type': 'string',
                                   'maxLength': WebConfig.max_instruction_chars}},
               ['action']),
    'throttle': ('Set the throttle of keyboard driving (10-100 %), or step it.', {
        'percent': {'type': 'integer', 'minimum': 10, 'maximum': 100},
        'delta': {'type': 'integer', 'minimum': -90, 'maximum': 90}}, []),
    'take_control': ('Take control from the client that holds it; every page is told.',
                     {}, []),
}

#: What a body needs beyond its required fields: a recording starts in a named room, and
#: a goal room's with its words; a throttle is set or stepped.
_CONDITIONS: dict[str, dict[str, Any]] = {
    'record': {'allOf': [
        {'if': {'properties': {'action': {'const': 'start'}}, 'required': ['action']},
         'then': {'required': ['scenario']}},
        {'if': {'properties': {'action': {'const': 'start'},
                               'scenario': {'enum': list(GOAL_SCENARIOS)}},
                'required': ['action', 'scenario']},
         'then': {'required': ['instruction'],
                  'properties': {'instruction': {'type': 'string', 'pattern': '\\S'}}}},
    ]},
    'throttle': {'anyOf': [{'required': ['percent']}, {'required': ['delta']}]},
}

_ERROR = {'type': 'object', 'properties': {'ok': {'type': 'boolean'},
                                           'error': {'type': 'string'}}}
_ERRORS = {
    '400': 'bad input: the error says what is wrong',
    '401': 'missing or wrong token',
    '409': 'another client has control; take control first',
    '413': 'message too large (max_message_bytes)',
    '429': 'too many messages (control_rate), or too many wrong tokens from this address',
}
#: Answers any route may give.
_ANY = {
    '403': {'description': 'the Host is not this machine (bound to the loopback)'},
    '500': {'description': "internal error; the console's log says more"},
}


def _responses(ok: str, codes: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {'200': {'description': ok}, **_ANY}
    for code in codes:
        out[code] = {'description': _ERRORS[code],
                     'content': {'application/json': {'schema': _ERROR}}}
    return out


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the console's API."""
    paths: dict[str, Any] = {
        '/api/state': {'get': {
            'summary': 'Everything the page shows: mode, e-stop, velocities, plan status, '
                       'diagnostics, recorder, episodes, who has control.',
            'security': [{'token': []}],
            'responses': _responses('the state as JSON', ('401', '429'))}},
        '/api/camera.jpg': {'get': {
            'summary': 'The newest camera frame as JPEG (X-Frame-Stamp-Ns: capture stamp).',
            'security': [{'token': []}],
            'responses': {**_responses('image/jpeg', ('401', '429')),
                          '503': {'description': 'no frame yet'}}}},
        '/api/ws': {'get': {
            'summary': 'WebSocket of the page. Send {"type": "hello", "token": ..., "name": '
                       'optional, how other consoles see you} first. '
                       'The server sends JSON text ({"type": "hello" | "state" | "event" | '
                       '"reply" | "refused"}) and binary camera frames: a 16-byte header '
                       '(int64 capture stamp ns, uint32 sequence, uint16 width, uint16 '
                       'height, little-endian) then the JPEG. The client sends the control '
                       'messages of the POST routes with their "type", plus {"type": '
                       f'"drive", "key": one of "{"".join(KEY_BINDINGS)}", " " or null (stop), '
                       '"sent_ms": the sender\'s monotonic clock in ms} (repeat every 0.1 s '
                       'while held; driving exists only here, so that a dropped connection '
                       'stops the robot; a key that arrives later than drive_timeout_s, '
                       'against the fastest of the connection, is dropped with a 409) and '
                       '{"type": "stats", "fps", "latency_ms_p50", "latency_ms_p95", '
                       '"frames"}. Every message may carry "sent_ms". A message over '
                       'max_message_bytes gets a 413 reply; one over 256 KiB closes the '
                       'socket (1009). A refused hello closes it with 4401 (token), 4429 '
                       '(too many wrong tokens) or 4503 (full).',
            'responses': {'101': {'description': 'switching protocols'}}}},
    }
    for kind, path in POST_TYPES.items():
        summary, properties, required = _BODIES[kind]
        schema: dict[str, Any] = {'type': 'object', 'properties': properties,
                                  'additionalProperties': True}
        if required:
            schema['required'] = required
        schema.update(_CONDITIONS.get(kind, {}))
        paths[path] = {'post': {
            'summary': summary, 'operationId': kind, 'security': [{'token': []}],
            'requestBody': {'required': bool(required) or 'anyOf' in schema,
                            'content': {'application/json': {'schema': schema}}},
            'responses': _responses('accepted and published',
                                    ('400', '401', '409', '413', '429'))}}
    return {
        'openapi': '3.1.0',
        'info': {'title': 'Mobile VLA console API', 'version': VERSION,
                 'description': 'Watch, instruct, drive, stop and record the robot. Every '
                                'control action needs the token; watching too unless the '
                                'console runs with watch_needs_token:=false.'},
        'components': {'securitySchemes': {'token': {'type': 'http', 'scheme': 'bearer'}}},
        'paths': paths,
    }
