"""The OpenAPI document (``/api/openapi.json``) says what the console accepts: every
value its schemas allow at their edges, in a body the schema allows, passes the console's
own field checks; every value just outside them gets a 400, and so does a body that
misses what a condition of the schema (if/then, anyOf) asks for. (That the server serves
every documented route is ``test_server.py``'s.)"""

from __future__ import annotations

import re
from typing import Any

import pytest

from mobile_vla_web.config import WebConfig
from mobile_vla_web.messages import CONTROL_TYPES, Reply, Sender, check_fields
from mobile_vla_web.openapi import POST_TYPES, openapi

SENDER = Sender('api', throttle=50, max_instruction_chars=WebConfig.max_instruction_chars)
#: What a field needs beside it in a body the schema allows (a start names its room, and
#: a goal room's start its words: the conditions tested below).
CONTEXT = {('record', 'scenario'): {'action': 'start', 'instruction': 'go to the cup'},
           ('record', 'instruction'): {'action': 'start', 'scenario': 1},
           ('record', 'action'): {'scenario': 1}}


def body_schema(kind: str) -> dict[str, Any]:
    post = openapi()['paths'][POST_TYPES[kind]]['post']
    return post['requestBody']['content']['application/json']['schema']


def inside(schema: dict[str, Any]) -> list[Any]:
    """Values at the edges of what ``schema`` allows."""
    if 'oneOf' in schema:
        return [v for branch in schema['oneOf'] for v in inside(branch)]
    if 'enum' in schema:
        return list(schema['enum'])
    kind = schema['type']
    if kind == 'boolean':
        return [True, False]
    if kind == 'integer':
        return [schema['minimum'], schema['maximum']]
    return ['go to the cup', 'x' * schema['maxLength']]


def outside(schema: dict[str, Any]) -> list[Any]:
    """Values just outside what ``schema`` allows."""
    if 'oneOf' in schema:
        return [None, 'bogus', 0, 9, 1.5]
    if 'enum' in schema:
        return ['bogus', None, 3]
    kind = schema['type']
    if kind == 'boolean':
        return ['true', 1, None]
    if kind == 'integer':
        return [schema['minimum'] - 1, schema['maximum'] + 1, 'ten', None]
    return [None, 3, 'x' * (schema['maxLength'] + 1)]


FIELDS = [(kind, name) for kind in POST_TYPES
          for name in body_schema(kind)['properties']]


def test_every_control_type_has_a_route_but_driving_which_needs_the_websocket():
    assert set(POST_TYPES) == set(CONTROL_TYPES) - {'drive'}
    assert 'drive' in openapi()['paths']['/api/ws']['get']['summary']


@pytest.mark.parametrize('kind, name', FIELDS, ids=lambda v: str(v))
def test_what_the_schema_allows_the_console_accepts(kind, name):
    schema = body_schema(kind)
    for value in inside(schema['properties'][name]):
        message = {**CONTEXT.get((kind, name), {}), name: value}
        assert not isinstance(check_fields(kind, message, SENDER), Reply), (name, value)


@pytest.mark.parametrize('kind, name', [f for f in FIELDS if f[0] != 'throttle'],
                         ids=lambda v: str(v))
def test_what_the_schema_forbids_the_console_refuses(kind, name):
    """(Throttle takes "percent" or "delta": a wrong one with a right other is read as the
    other, so its two fields are checked alone below.)"""
    for value in outside(body_schema(kind)['properties'][name]):
        message = {**CONTEXT.get((kind, name), {}), name: value}
        if value is None and name not in body_schema(kind).get('required', []) and \
                (kind, name) != ('record', 'scenario'):
            continue  # an optional field left out is no error
        reply = check_fields(kind, message, SENDER)
        assert isinstance(reply, Reply) and reply.status == 400, (name, value)


@pytest.mark.parametrize('name', ['percent', 'delta'])
def test_a_throttle_outside_its_range_is_refused(name):
    for value in outside(body_schema('throttle')['properties'][name]):
        reply = check_fields('throttle', {name: value}, SENDER)
        assert isinstance(reply, Reply) and reply.status == 400, (name, value)


def test_a_required_field_left_out_is_refused():
    for kind in POST_TYPES:
        schema = body_schema(kind)
        full = {k: inside(v)[0] for k, v in schema['properties'].items()}
        for name in schema.get('required', []):
            reply = check_fields(kind, {k: v for k, v in full.items() if k != name}, SENDER)
            assert isinstance(reply, Reply) and reply.status == 400, (kind, name)


def condition_holds(condition: dict[str, Any], message: dict[str, Any]) -> bool:
    """Whether ``message`` matches an ``if`` of the document: its consts, enums and required."""
    return all(name in message for name in condition.get('required', [])) and all(
        name not in message or message[name] == rule.get('const', message[name])
        and message[name] in rule.get('enum', [message[name]])
        for name, rule in condition['properties'].items())


@pytest.mark.parametrize('message', [
    {'action': 'start', 'scenario': 1}, {'action': 'start', 'scenario': 'goal_1box_vert_left'},
    {'action': 'start'}, {'action': 'keep'}, {'action': 'start', 'scenario': '2box_hori_left',
                                              'instruction': 'swing left to the cup'},
    {'action': 'start', 'scenario': 'goal_2box_hori_right', 'instruction': 'go to the ball'},
    {'action': 'start', 'scenario': 'goal_2box_hori_right', 'instruction': '  '},
])
def test_a_recording_needs_what_the_schemas_conditions_say_and_the_console_agrees(message):
    """A start names its room (scenario), and a goal room's start its words too."""
    conditions = body_schema('record')['allOf']
    then = [c['then'] for c in conditions if condition_holds(c['if'], message)]
    missing = [name for t in then for name in t['required'] if name not in message or (
        'pattern' in t.get('properties', {}).get(name, {})
        and not re.search(t['properties'][name]['pattern'], message[name]))]
    reply = check_fields('record', message, SENDER)
    if missing:
        assert isinstance(reply, Reply) and reply.status == 400, (message, missing)
        assert any(name in reply.body['error'] for name in missing), reply.body
    else:
        assert not isinstance(reply, Reply), (message, reply)


def test_a_throttle_sets_or_steps_and_a_body_with_neither_is_refused():
    schema = body_schema('throttle')
    assert [a['required'] for a in schema['anyOf']] == [['percent'], ['delta']]
    post = openapi()['paths'][POST_TYPES['throttle']]['post']
    assert post['requestBody']['required']
    reply = check_fields('throttle', {}, SENDER)
    assert isinstance(reply, Reply) and reply.status == 400
    for name in ('percent', 'delta'):
        assert not isinstance(check_fields('throttle', {name: 20}, SENDER), Reply)
