"""Message shapes and each type's field check, on their own."""

import pytest

from mobile_vla_web.messages import (
    CONTROL_TYPES,
    FIELD_CHECKS,
    Reply,
    Sender,
    check_fields,
    client_name,
    decode_message,
    number,
    parse_message,
    request_id,
)

PAGE = Sender('page', throttle=50, max_instruction_chars=20)
API = Sender('api', throttle=50, max_instruction_chars=20)


def test_every_type_the_console_acts_on_has_its_check():
    from mobile_vla_web.api import ConsoleApi
    from mobile_vla_web.config import WebConfig

    acted_on = set(ConsoleApi(WebConfig(), 'a-token-long-enough')._actions) | {'take_control'}
    assert set(FIELD_CHECKS) == acted_on and set(CONTROL_TYPES) == acted_on


@pytest.mark.parametrize('raw, problem', [
    ('{', 'not JSON'), ('[1]', 'JSON object'), ('{"type": "fly"}', 'unknown type'),
    ('[' * 100_000, 'not JSON'), ({'no': 'type'}, 'unknown type'),
])
def test_a_message_that_is_not_one_says_why(raw, problem):
    _decoded, message, why = parse_message(raw)
    assert message is None and problem in why


def test_json_text_is_decoded_once():
    # A JSON string that holds a message is a string, not the message inside it.
    assert parse_message('"{\\"type\\": \\"mode\\"}"') == (
        '{"type": "mode"}', None, 'a message is a JSON object with a "type"')
    assert decode_message(b'{"id": 7}') == ({'id': 7}, None)


@pytest.mark.parametrize('decoded, expected', [
    ({'id': 7}, 7), ({'id': 'k-1'}, 'k-1'), ({'id': 'x' * 64}, 'x' * 64),
    ({'id': 'x' * 65}, None), ({'id': [1]}, None), ({'id': None}, None), ({'id': True}, None),
    ([1], None), (None, None),
])
def test_a_reply_carries_only_a_short_id(decoded, expected):
    assert request_id(decoded) == expected


def test_nan_and_infinity_read_as_nothing():
    _, message, _ = parse_message('{"type": "throttle", "percent": NaN, "delta": Infinity}')
    assert number(message, 'percent') is None and number(message, 'delta') is None
    assert number({'x': True}, 'x') is None and number({'x': 10 ** 400}, 'x') is None


@pytest.mark.parametrize('kind, message, sender, expected', [
    ('instruction', {'text': 'go to the cup'}, PAGE, 'go to the cup'),
    ('mode', {'mode': 'hybrid'}, PAGE, 'hybrid'),
    ('estop', {'engaged': False}, API, False),
    ('drive', {'key': 'W'}, PAGE, 'w'),
    ('drive', {'key': ' '}, PAGE, None),
    ('drive', {'key': None}, PAGE, None),
    ('throttle', {'percent': 70}, PAGE, 70),
    ('throttle', {'delta': 10}, PAGE, 60),
    ('record', {'action': 'keep'}, PAGE, ('keep', None, None)),
    ('record', {'action': 'start', 'scenario': 3}, PAGE, ('start', '1box_hori_left', None)),
    ('record', {'action': 'start', 'scenario': 'goal_1box_vert_left',
                'instruction': ' go  to\nthe ball '}, PAGE,
     ('start', 'goal_1box_vert_left', 'go to the ball')),
    ('take_control', {}, API, None),
])
def test_valid_fields_become_the_value_the_action_takes(kind, message, sender, expected):
    assert check_fields(kind, message, sender) == expected


@pytest.mark.parametrize('kind, message, sender, said', [
    ('instruction', {'text': 'x' * 21}, PAGE, 'max_instruction_chars'),
    ('instruction', {'text': 5}, PAGE, 'a string'),
    ('instruction', {'text': 'a\x00b'}, PAGE, 'NUL'),
    ('mode', {'mode': 'auto'}, PAGE, 'manual, vla, hybrid'),
    ('estop', {'engaged': 'yes'}, PAGE, 'true or false'),
    ('drive', {'key': 'w'}, API, 'WebSocket'),
    ('drive', {'key': 'p'}, PAGE, 'drive key'),
    ('throttle', {'percent': 5}, PAGE, 'percent'),
    ('record', {'action': 'pause'}, PAGE, 'record action'),
    ('record', {'action': 'start', 'scenario': 9}, PAGE, 'scenario'),
    ('record', {'action': 'start', 'scenario': 'goal_1box_vert_left'}, PAGE, 'goal room'),
])
def test_bad_fields_get_a_400_that_says_which_and_why(kind, message, sender, said):
    reply = check_fields(kind, message, sender)
    assert isinstance(reply, Reply) and reply.status == 400 and said in reply.body['error']


def test_a_page_name_is_tidied_to_one_printable_line():
    assert client_name('  alice\n\t(lab)\x07 ') == 'alice (lab)'
    assert client_name('x' * 100) == 'x' * 40
    assert client_name(5) is None and client_name(' \n') is None
