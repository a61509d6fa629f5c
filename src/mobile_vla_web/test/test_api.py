"""ConsoleApi, the console's decisions, as a plain component: auth, limits, bad input,
control hand-over and the teleop's driving rules, with time as an argument."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobile_vla import topics
from mobile_vla.actions import ZERO
from mobile_vla.keymap import KEY_BINDINGS
from mobile_vla_web.api import ConsoleApi
from mobile_vla_web.config import WebConfig
from mobile_vla_web.limits import ClockOffset
from mobile_vla_web.messages import CONTROL_TYPES, client_name

TOKEN = 'k' * 20 + 'secret-token-1234'
ADDR = '127.0.0.1'

#: One valid message of each control type.
VALID = {
    'instruction': {'type': 'instruction', 'text': 'go around the box on the left to the cup'},
    'mode': {'type': 'mode', 'mode': 'manual'},
    'estop': {'type': 'estop', 'engaged': True},
    'drive': {'type': 'drive', 'key': 'w'},
    'throttle': {'type': 'throttle', 'percent': 70},
    'record': {'type': 'record', 'action': 'start', 'scenario': 3},
    'take_control': {'type': 'take_control'},
}


def make(**changes) -> ConsoleApi:
    return ConsoleApi(WebConfig(**changes), TOKEN)


def send(api, message, now=0.0, client='console-1', token=TOKEN, kind='page', address=ADDR):
    """As a page sends it: a drive message says when it was sent (here by a page clock
    that reads as this one, so nothing is late unless a test says so)."""
    if isinstance(message, dict) and message.get('type') == 'drive':
        message = {'sent_ms': now * 1000, **message}
    raw = message if isinstance(message, (str, bytes)) else json.dumps(message)
    return api.control(client, address, token, raw, now, kind)


def published(reply, topic):
    return [value for t, value in reply.publish if t is topic]


def test_every_type_has_a_valid_example():
    assert set(VALID) == set(CONTROL_TYPES)


BAD_TOKENS = [None, '', 'wrong', TOKEN[:-1], TOKEN + 'x', TOKEN.upper(), ' ' + TOKEN, 42,
              ['list'], {'token': TOKEN}, TOKEN.replace('s', '\ud800')]


@pytest.mark.parametrize('kind', CONTROL_TYPES)
@pytest.mark.parametrize('token', BAD_TOKENS, ids=repr)
def test_no_control_action_is_accepted_without_the_token(kind, token):
    api = make()
    reply = send(api, VALID[kind], token=token)
    assert reply.status == 401 and not reply.publish
    assert api.counts['accepted'] == 0 and api.controller is None
    assert 'token' in reply.body['error']


def test_the_right_token_is_accepted_for_every_type():
    api = make()
    kinds = sorted(CONTROL_TYPES, key=lambda k: k == 'estop')  # no drive after an e-stop
    for i, kind in enumerate(kinds):
        assert send(api, VALID[kind], now=float(i)).ok, kind
    assert api.counts['accepted'] == len(CONTROL_TYPES)


def test_an_address_that_keeps_guessing_is_slowed_but_the_right_token_still_works():
    api = make()
    for i in range(10):
        assert send(api, VALID['mode'], now=0.01 * i, token='guess').status == 401
    assert send(api, VALID['mode'], now=0.2, token='guess').status == 429
    assert send(api, VALID['mode'], now=0.2, token='guess', address='10.0.0.9').status == 401
    # Another user of the same address is not locked out by the guesser.
    assert send(api, VALID['mode'], now=0.2).ok
    assert send(api, VALID['mode'], now=6.0, token='guess').status == 401  # earned back
    assert api.counts['accepted'] == 1


def test_watching_needs_the_token_unless_opened():
    assert make().may_watch(ADDR, None, 0.0).status == 401
    assert make().may_watch(ADDR, TOKEN, 0.0) is None
    assert make(watch_needs_token=False).may_watch(ADDR, None, 0.0) is None


@pytest.mark.parametrize('message, needle', [
    ('{not json', 'not JSON'),
    (b'\xff\xfe', 'not JSON'),
    ('[1, 2]', 'JSON object'),
    ('"text"', 'JSON object'),
    ({'type': 'fly'}, 'unknown type'),
    ({'no': 'type'}, 'unknown type'),
    ({'type': 'instruction'}, '"text"'),
    ({'type': 'instruction', 'text': 5}, '"text"'),
    ({'type': 'instruction', 'text': 'x' * 501}, '501 characters'),
    ({'type': 'instruction', 'text': 'a\x00b'}, 'NUL'),
    ({'type': 'instruction', 'text': 'go \ud800 left'}, 'Unicode'),
    ({'type': 'mode', 'mode': 'auto'}, 'manual, vla, hybrid'),
    ({'type': 'mode'}, 'manual, vla, hybrid'),
    ({'type': 'estop', 'engaged': 'yes'}, 'true or false'),
    ({'type': 'estop', 'engaged': 1}, 'true or false'),
    ({'type': 'drive', 'key': 'x'}, 'drive key'),
    ({'type': 'drive', 'key': 'ww'}, 'drive key'),
    ({'type': 'drive', 'key': 3}, 'drive key'),
    ({'type': 'throttle', 'percent': 5}, 'throttle'),
    ({'type': 'throttle', 'percent': float('nan')}, 'throttle'),
    ({'type': 'throttle', 'percent': True}, 'throttle'),
    ({'type': 'throttle'}, 'throttle'),
    ({'type': 'record', 'action': 'pause'}, 'record action'),
    ({'type': 'record', 'action': 'start'}, 'scenario'),
    ({'type': 'record', 'action': 'start', 'scenario': 9}, 'scenario'),
    ({'type': 'record', 'action': 'start', 'scenario': True}, 'scenario'),
    ({'type': 'record', 'action': 'start', 'scenario': '3box_vert_left'}, 'scenario'),
])
def test_bad_input_gets_a_400_that_says_what_is_wrong(message, needle):
    api = make()
    raw = message if isinstance(message, (str, bytes)) else json.dumps(message)
    reply = api.control('console-1', ADDR, TOKEN, raw, 0.0, 'page')
    assert reply.status == 400, reply.body
    assert needle in reply.body['error'] and not reply.publish


def test_every_reply_carries_the_id_of_its_message():
    api = make()
    assert send(api, {'type': 'mode', 'mode': 'vla', 'id': 'a1'}).request_id == 'a1'
    refused = send(api, {'type': 'fly', 'id': 9})
    assert refused.status == 400 and refused.request_id == 9
    assert send(api, {'type': 'mode', 'mode': 'vla', 'id': 3}, token='wrong').request_id == 3
    assert send(api, {'type': 'mode', 'mode': 'vla'}).request_id is None
    big = send(api, {'type': 'instruction', 'text': 'go left ' * 2000, 'id': 2})
    assert big.status == 413 and big.request_id == 2


def test_a_large_message_is_refused_before_it_is_read():
    api = make(max_message_bytes=1024)
    reply = send(api, {'type': 'instruction', 'text': 'a' * 2000})
    assert reply.status == 413 and '1024' in reply.body['error']
    # Without the token, still 413, and nothing is published.
    assert send(api, 'x' * 5000, token=None).status == 413


def test_control_messages_are_rate_limited_per_client():
    api = make(control_rate=10.0, control_burst=5)
    replies = [send(api, VALID['mode'], now=0.0) for _ in range(8)]
    assert [r.status for r in replies] == [200] * 5 + [429] * 3
    assert 'slow down' in replies[-1].body['error']
    assert send(api, VALID['mode'], now=0.1).ok  # one earned back after 0.1 s
    assert api.counts['refused_rate'] == 3


def test_a_second_client_is_refused_until_it_takes_over_and_everyone_is_told():
    api = make()
    assert send(api, VALID['drive'], now=0.0, client='console-1').ok
    assert api.controller == 'console-1'
    api.drain_events()
    refused = send(api, VALID['mode'], now=0.1, client='console-2')
    assert refused.status == 409 and 'console-1' in refused.body['error']
    assert 'take control' in refused.body['error']
    taken = send(api, VALID['take_control'], now=0.2, client='console-2')
    assert taken.ok and api.controller == 'console-2'
    # The previous holder's drive stops at once, and the hand-over is announced.
    assert published(taken, topics.TELEOP_CMD_VEL) == [ZERO]
    events = api.drain_events()
    assert events and events[0]['taken_from'] == 'console-1'
    assert 'took control' in events[0]['text']
    assert send(api, VALID['drive'], now=0.3, client='console-1').status == 409


def test_engaging_the_estop_is_never_refused_but_releasing_needs_control():
    api = make()
    assert send(api, VALID['mode'], client='console-1').ok
    engage = send(api, {'type': 'estop', 'engaged': True}, now=0.1, client='console-2')
    assert engage.ok and published(engage, topics.CONTROL_ESTOP) == [True]
    assert api.controller == 'console-1'  # engaging does not take control
    release = send(api, {'type': 'estop', 'engaged': False}, now=0.2, client='console-2')
    assert release.status == 409
    assert published(send(api, {'type': 'estop', 'engaged': False}, now=0.3),
                     topics.CONTROL_ESTOP) == [False]


def test_control_is_freed_when_its_page_closes_and_the_drive_stops():
    api = make()
    assert send(api, VALID['drive'], now=0.0).ok
    stop = api.close_client('console-1', 0.05)
    assert stop == [(topics.TELEOP_CMD_VEL, ZERO)] and api.controller is None
    assert send(api, VALID['mode'], now=0.1, client='console-2').ok


def test_a_rest_client_holds_control_only_while_it_acts():
    api = make(control_idle_s=30.0)
    assert send(api, VALID['mode'], now=0.0, client='api@1.2.3.4', kind='api').ok
    assert send(api, VALID['mode'], now=10.0, client='console-1').status == 409
    assert send(api, VALID['mode'], now=41.0, client='console-1').ok


def test_driving_rest_clients_is_refused_it_needs_the_websocket():
    reply = send(make(), VALID['drive'], kind='api', client='api@x')
    assert reply.status == 400 and 'WebSocket' in reply.body['error']


def test_a_held_key_repeats_at_the_rate_and_stops_when_not_repeated():
    api = make(drive_rate_hz=10.0, drive_timeout_s=0.3, throttle_percent=50)
    first = send(api, {'type': 'drive', 'key': 'w'}, now=0.0)
    assert published(first, topics.TELEOP_CMD_VEL) == [(0.575, 0.0, 0.0)]
    out = []
    t = 0.0
    for step in range(1, 31):  # the page repeats every 0.1 s up to 1.0 s, then stops
        t = step * 0.05
        if t <= 1.0 and step % 2 == 0:
            assert not send(api, {'type': 'drive', 'key': 'w'}, now=t).publish
        out += [(t, v) for _, v in api.tick(t)]
    commands = [v for _, v in out]
    assert commands[:-1] == [(0.575, 0.0, 0.0)] * (len(commands) - 1)
    assert commands[-1] == ZERO
    stop_at = out[-1][0]
    assert 1.0 + 0.3 - 1e-9 <= stop_at <= 1.0 + 0.3 + 0.05 + 1e-9  # within the timeout
    assert len(commands) - 1 == pytest.approx(13, abs=1)  # 10 Hz until it stops at 1.3 s


def test_release_blur_or_a_key_change_act_at_once():
    api = make()
    send(api, {'type': 'drive', 'key': 'a'}, now=0.0)
    change = send(api, {'type': 'drive', 'key': 'D'}, now=0.05)
    assert published(change, topics.TELEOP_CMD_VEL) == [(0.0, -0.575, 0.0)]
    release = send(api, {'type': 'drive', 'key': None}, now=0.1)
    assert published(release, topics.TELEOP_CMD_VEL) == [ZERO]
    assert api.tick(0.5) == []
    send(api, {'type': 'drive', 'key': 'r'}, now=1.0)
    assert published(send(api, {'type': 'drive', 'key': ' '}, now=1.1),
                     topics.TELEOP_CMD_VEL) == [ZERO]


def test_every_key_of_the_original_map_drives_its_direction():
    api = make(throttle_percent=100)
    for i, (key, unit) in enumerate(KEY_BINDINGS.items()):
        reply = send(api, {'type': 'drive', 'key': key}, now=float(i))
        assert published(reply, topics.TELEOP_CMD_VEL) == [tuple(1.15 * u for u in unit)]


def test_the_estop_stops_the_held_key_too():
    api = make()
    send(api, VALID['drive'], now=0.0)
    reply = send(api, VALID['estop'], now=0.1)
    assert published(reply, topics.CONTROL_ESTOP) == [True]
    assert published(reply, topics.TELEOP_CMD_VEL) == [ZERO]


def test_throttle_steps_and_the_held_key_follows():
    api = make(throttle_percent=50)
    send(api, {'type': 'drive', 'key': 'w'}, now=0.0)
    reply = send(api, {'type': 'throttle', 'delta': 10}, now=0.05)
    assert reply.body['throttle'] == 60
    assert published(reply, topics.TELEOP_CMD_VEL) == [(0.69, 0.0, 0.0)]
    assert send(api, {'type': 'throttle', 'delta': 90}, now=0.1).body['throttle'] == 100


def test_record_commands_are_the_recorders_own():
    api = make()
    assert published(send(api, {'type': 'record', 'action': 'start', 'scenario': 3}),
                     topics.RECORDER_CONTROL) == ['start 1box_hori_left']
    assert published(send(api, {'type': 'record', 'action': 'start',
                                'scenario': '2box_vert_right'}, now=1.0),
                     topics.RECORDER_CONTROL) == ['start 2box_vert_right']
    assert published(send(api, {'type': 'record', 'action': 'keep'}, now=2.0),
                     topics.RECORDER_CONTROL) == ['stop']
    assert published(send(api, {'type': 'record', 'action': 'discard'}, now=3.0),
                     topics.RECORDER_CONTROL) == ['discard']


def test_instructions_go_out_as_typed_and_the_recent_ones_are_kept():
    api = make(recent_instructions=3)
    for i, text in enumerate(['go left', 'go right', '  go left ', 'a', 'b']):
        reply = send(api, {'type': 'instruction', 'text': text}, now=float(i))
        assert published(reply, topics.VLA_COMMAND) == [text]
    assert list(api.recent) == ['b', 'a', 'go left']


def test_the_state_shows_what_the_graph_says():
    api = make()
    api.on_control_state(json.dumps({'mode': 'vla', 'estop': {'latched': True}}), 12.0)
    api.telemetry.on_vla_status(json.dumps({'state': 'running', 'step': 1, 'steps': 2}), 12.0)
    api.telemetry.on_diagnostic('episode_recorder: recorder', 0, 'idle', {'recording': 'False'},
                                1.0)
    api.telemetry.on_cmd_vel((0.5, 0.0, 0.1), 12.0)
    api.telemetry.sample(1.0)
    api.telemetry.sample(12.0)
    state = api.state(12.5)
    assert state['mode'] == 'vla' and state['estop'] is True
    assert state['cmd_vel'] == (0.5, 0.0, 0.1) and state['robot_action'] is None  # never came
    assert state['vla_status']['step'] == 1
    assert state['recorder'] == {'message': 'idle', 'recording': 'False'}
    assert state['diagnostics']['episode_recorder: recorder']['age_s'] == 11.5
    assert [p[0] for p in api.telemetry.plot_history()] == [12.0]  # 10 s window
    api.on_control_state('not json', 13.0)
    assert api.state(13.0)['estop'] is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300),
                 st.dictionaries(st.sampled_from(['type', 'text', 'mode', 'engaged', 'key',
                                                  'percent', 'delta', 'action', 'scenario',
                                                  'instruction', 'sent_ms']),
                                 st.one_of(st.sampled_from(CONTROL_TYPES), st.text(max_size=8),
                                           st.integers(), st.floats(), st.booleans(),
                                           st.none()), max_size=4)),
       st.one_of(st.none(), st.just(TOKEN), st.text(max_size=40)))
def test_no_message_raises_and_none_acts_without_the_token(message, token):
    api = make()
    raw = json.dumps(message) if isinstance(message, dict) else message
    reply = api.control('c', ADDR, token, raw, 0.0, 'page')
    assert reply.status in (200, 400, 401, 413, 429)
    if token != TOKEN:
        assert not reply.ok and not reply.publish


def test_engaging_the_estop_is_never_refused_for_speed():
    api = make(control_rate=1.0, control_burst=3)
    for _ in range(3):
        assert send(api, VALID['mode']).ok
    assert send(api, VALID['mode']).status == 429
    engage = send(api, VALID['estop'])
    assert engage.ok and published(engage, topics.CONTROL_ESTOP) == [True]


def test_an_estop_sent_is_not_shown_engaged_until_the_arbiter_says_so():
    """The page must never show the e-stop engaged on the console's own word: a dead
    arbiter never took it."""
    api = make()
    api.on_control_state(json.dumps({'estop': {'latched': False}}), 0.0)
    assert send(api, VALID['estop'], now=0.1).ok
    state = api.state(0.2)
    assert state['estop'] is False and state['estop_sent'] is True
    api.on_control_state(json.dumps({'estop': {'latched': True}}), 0.3)
    state = api.state(0.4)
    assert state['estop'] is True and state['estop_sent'] is False


def test_the_plan_is_unknown_while_the_inference_is_silent():
    api = make()
    api.telemetry.on_vla_status(json.dumps({'state': 'running', 'instruction': 'go'}), 0.0)
    api.telemetry.on_diagnostic('vla_inference: policy', 0, 'ok', {}, 0.0)
    for step in range(1, 36):  # the console runs on (0.1 s a check); the node is silent
        t = step / 10
        api.telemetry.check_nodes(t)
        assert api.state(t)['vla_status_stale'] is (t > api.config.node_silent_s), t


def test_no_key_drives_while_the_estop_is_engaged_or_on_its_way():
    api = make()
    assert send(api, VALID['drive'], now=0.0).ok
    send(api, VALID['estop'], now=0.1)  # the arbiter has not said so yet
    refused = send(api, VALID['drive'], now=0.15)
    assert refused.status == 409 and not refused.publish
    assert send(api, {'type': 'drive', 'key': None}, now=0.2).ok  # the key is released
    assert send(api, VALID['drive'], now=0.25).status == 409  # e-stop still on its way
    api.on_control_state(json.dumps({'estop': {'latched': True}}), 0.3)
    assert send(api, VALID['drive'], now=0.35).status == 409
    send(api, {'type': 'estop', 'engaged': False}, now=0.4)
    api.on_control_state(json.dumps({'estop': {'latched': False}}), 1.0)
    drive = send(api, VALID['drive'], now=1.1)
    assert drive.ok and published(drive, topics.TELEOP_CMD_VEL)


def test_a_key_held_through_a_takeover_drives_again_only_once_released():
    api = make()
    send(api, VALID['drive'], now=0.0, client='console-1')
    send(api, VALID['take_control'], now=0.1, client='console-2')
    send(api, VALID['take_control'], now=0.2, client='console-1')
    assert send(api, VALID['drive'], now=0.3, client='console-1').status == 409
    send(api, {'type': 'drive', 'key': None}, now=0.4, client='console-1')
    assert send(api, VALID['drive'], now=0.5, client='console-1').ok


def test_a_quiet_arbiter_makes_the_estop_unknown_not_released():
    api = make(state_stale_s=2.0)
    api.on_control_state(json.dumps({'mode': 'vla', 'estop': {'latched': False}}), 0.0)
    assert api.state(1.0)['estop'] is False and api.state(1.0)['mode'] == 'vla'
    assert api.state(3.0)['estop'] is None and api.state(3.0)['mode'] is None


def test_non_finite_telemetry_never_makes_invalid_json():
    api = make()
    api.telemetry.on_cmd_vel((float('nan'), 0.0, float('inf')), 0.0)
    api.on_control_state('{"mode": NaN, "estop": {"latched": Infinity}}', 0.0)
    api.telemetry.sample(0.0)
    state = api.state(0.0)
    json.dumps(state, allow_nan=False)
    json.dumps(api.telemetry.plot_history(), allow_nan=False)
    assert state['cmd_vel'] == (None, 0.0, None)


@pytest.mark.parametrize('message', [
    {'type': 'drive', 'key': []}, {'type': 'drive', 'key': {}},
    {'type': 'record', 'action': []}, {'type': 'record', 'action': 'start', 'scenario': []},
    {'type': 'mode', 'mode': ['vla']}, {'type': ['mode']},
    {'type': 'throttle', 'percent': 10 ** 400}, {'type': 'throttle', 'delta': -10 ** 400}])
def test_odd_json_types_get_a_400_not_a_crash(message):
    assert send(make(), message).status == 400


def test_deeply_nested_json_is_refused_with_or_without_the_token():
    deep = '[' * 3000 + ']' * 3000
    api = make(max_message_bytes=65536)
    assert send(api, deep).status == 400
    assert send(api, deep, token=None).status == 401


def test_stats_are_rate_limited_too():
    api = make(control_rate=1.0, control_burst=2)
    api.open_client('console-1', ADDR, 'page', 0.0)
    statuses = [send(api, {'type': 'stats', 'fps': 15}).status for _ in range(5)]
    assert statuses == [200, 200, 429, 429, 429]


def test_what_is_remembered_about_strangers_stays_bounded():
    api = make()
    for i in range(2000):
        send(api, VALID['mode'], now=i * 0.001, token='bad', address=f'10.{i // 256}.{i % 256}.1')
        api.telemetry.on_diagnostic(f'node {i}', 0, 'ok', {}, i * 0.001)
    for i in range(2000):
        send(api, VALID['estop'], now=100.0 + i, client=f'api@{i}', kind='api')
    assert len(api.tokens.failures) <= 2 * 256
    assert len(api.telemetry.diagnostics) <= 256
    assert len(api.clients) <= 2 * 256


# ------------------------------------------------------------------ stalls and clocks
PAGE_CLOCK_MS = 987_654.321  # the page's performance.now() when this side reads 0.0


def drive_sent(key, sent, arrives, api, client='console-1'):
    """A drive message the page sent at ``sent`` (this side's seconds) that arrives at
    ``arrives``: the page stamps it with its own clock, which reads something else."""
    return send(api, {'type': 'drive', 'key': key, 'sent_ms': PAGE_CLOCK_MS + sent * 1000},
                now=arrives, client=client)


def test_the_clock_offset_cancels_a_constant_delay_and_measures_what_a_stall_adds():
    offset = ClockOffset(window_s=30.0)
    # Another machine's clock (+5000 s) and a 40 ms link, with a little jitter.
    for i in range(20):
        sent = 5000.0 + 0.1 * i
        assert offset.lateness(sent, 0.1 * i + 0.04 + 0.005 * (i % 3)) <= 0.01 + 1e-9
    # The link stalls for 3 s: what was sent meanwhile arrives 3 s late, and the one sent
    # after it on time.
    assert offset.lateness(5002.0, 2.0 + 3.04) == pytest.approx(3.0)
    assert offset.lateness(5005.0, 5.0 + 0.04) == pytest.approx(0.0)


def test_the_clock_offset_forgets_drift_and_a_paused_sender_clock_after_its_window():
    offset = ClockOffset(window_s=30.0)
    for i in range(100):
        offset.lateness(float(i), i * 1.001)  # the other clock is 1000 ppm slow
    assert offset.lateness(100.0, 100.1) < 0.035  # 30 s of drift at most, never 0.1
    paused = ClockOffset(window_s=30.0)
    for i in range(10):
        paused.lateness(float(i), float(i))
    # The sender's clock stood still for 5 s (a laptop asleep): late, never early ...
    assert paused.lateness(10.0, 15.0) == pytest.approx(5.0)
    # ... until its window has passed; then its messages are on time again.
    for i in range(11, 45):
        late = paused.lateness(float(i), i + 5.0)
    assert late == pytest.approx(0.0)


def test_drive_messages_queued_in_a_stall_are_dropped_not_replayed():
    api = make()  # drive_timeout_s 0.3
    for i in range(5):  # W held, repeated every 0.1 s, each 20 ms on the way
        reply = drive_sent('w', 0.1 * i, 0.1 * i + 0.02, api)
        assert reply.ok
    assert api.held.key == 'w'
    # The console (or the link) stalls from 0.45 s to 3.45 s; the page went on sending
    # until it noticed, and released W: all of it arrives at once.
    assert api.tick(3.45) == [(topics.TELEOP_CMD_VEL, ZERO)]  # the watchdog, first
    replayed = [drive_sent('w', t, 3.45, api) for t in (0.5, 0.6, 0.7)]
    assert all(r.status == 409 and 'late' in r.body['error'] for r in replayed)
    assert not [p for r in replayed for t, p in r.publish if p != ZERO]
    assert api.counts['refused_late'] == 3
    assert drive_sent(None, 0.8, 3.46, api).ok  # the release is never dropped
    assert api.tick(3.5) == [] and api.held.key is None
    # A new press after the stall drives.
    fresh = drive_sent('w', 4.0, 4.02, api)
    assert fresh.ok and published(fresh, topics.TELEOP_CMD_VEL) == [(0.575, 0.0, 0.0)]


def test_when_the_watchdog_wins_the_race_the_replayed_key_is_dropped_too():
    """On resume the repeat may be read before the drive timer runs: it is late all the
    same, so the held key does not run on for another timeout."""
    api = make()
    drive_sent('w', 0.0, 0.02, api)
    late = drive_sent('w', 0.1, 3.0, api)
    assert late.status == 409 and published(late, topics.TELEOP_CMD_VEL) == [ZERO]
    assert api.held.key is None and api.tick(3.1) == []


def test_a_key_that_lapsed_drives_again_only_once_released():
    api = make()
    assert drive_sent('w', 0.0, 0.0, api).ok
    assert api.tick(0.31) == [(topics.TELEOP_CMD_VEL, ZERO)]  # not repeated: lapsed
    again = drive_sent('w', 0.5, 0.5, api)  # the page's repeats come back on time
    assert again.status == 409 and 'release the key' in again.body['error']
    assert drive_sent(None, 0.6, 0.6, api).ok
    assert drive_sent('w', 0.7, 0.7, api).ok


def test_a_drive_message_must_say_when_it_was_sent():
    reply = send(make(), json.dumps({'type': 'drive', 'key': 'w'}))
    assert reply.status == 400 and 'sent_ms' in reply.body['error']
    # A release needs no stamp: stopping is never refused.
    assert send(make(), json.dumps({'type': 'drive', 'key': None})).ok


def test_pages_are_told_apart_by_the_name_they_give():
    api = make()
    api.open_client('console-1', '10.0.0.7', 'page', 0.0, name='alice laptop')
    api.open_client('console-2', '10.0.0.9', 'page', 0.0, name='console 3f2a')
    send(api, VALID['take_control'], now=0.1, client='console-1', address='10.0.0.7')
    refused = send(api, VALID['mode'], now=0.2, client='console-2', address='10.0.0.9')
    assert 'alice laptop (10.0.0.7) has control' in refused.body['error']
    send(api, VALID['take_control'], now=0.3, client='console-2', address='10.0.0.9')
    taken = api.drain_events()[-1]
    assert taken['text'] == 'console 3f2a (10.0.0.9) took control from alice laptop (10.0.0.7)'
    assert taken['by'] == 'console-2' and taken['taken_from'] == 'console-1'
    assert api.state(0.4)['controller']['label'] == 'console 3f2a (10.0.0.9)'


@pytest.mark.parametrize('given, shown', [
    ('bob', 'bob'), ('  bob\n the\tbuilder ', 'bob the builder'), ('x' * 100, 'x' * 40),
    ('<b>bob</b>', '<b>bob</b>'),  # text, shown as text by the page
    ('\x00\x1b[31m', '[31m'), ('', None), ('\n\t', None), (42, None), (None, None)])
def test_a_page_name_is_tidied_and_a_bad_one_is_no_name(given, shown):
    assert client_name(given) == shown
    api = make()
    api.open_client('console-5', ADDR, 'page', 0.0, name=given)
    assert api.clients['console-5'].label == f'{shown or "console-5"} ({ADDR})'


def test_record_start_carries_the_instruction_typed_for_the_episode():
    api = make()
    reply = send(api, {'type': 'record', 'action': 'start', 'scenario': 1,
                       'instruction': '  pass the box\non its left  '})
    assert published(reply, topics.RECORDER_CONTROL) == [
        'start 1box_vert_left pass the box on its left']
    assert published(send(api, {'type': 'record', 'action': 'start', 'scenario': 2,
                                'instruction': ''}, now=1.0), topics.RECORDER_CONTROL) == [
        'start 1box_vert_right']
    too_long = send(api, {'type': 'record', 'action': 'start', 'scenario': 1,
                          'instruction': 'x' * 501}, now=2.0)
    assert too_long.status == 400 and 'max_instruction_chars' in too_long.body['error']


def test_a_node_gone_silent_is_announced_and_so_is_its_return():
    api = make(node_silent_s=3.0)
    for t in (0.0, 1.0, 2.0):
        api.telemetry.on_diagnostic('vla_inference: policy', 0, 'running', {}, t)
        api.telemetry.on_diagnostic('control_arbiter: arbiter', 0, 'ok', {}, t)
        api.telemetry.check_nodes(t)
    api.telemetry.on_diagnostic('control_arbiter: arbiter', 0, 'ok', {}, 3.0)
    for t in (3.0, 4.0, 5.0, 5.5):
        api.telemetry.on_diagnostic('control_arbiter: arbiter', 0, 'ok', {}, t)
        api.telemetry.check_nodes(t)
    events = api.drain_events()
    assert [e['text'] for e in events] == [
        'vla_inference is silent: no /diagnostics for 4 s (stopped, hung or gone)']
    assert api.state(5.5)['silent_nodes'] == {'vla_inference': 3.5}
    api.telemetry.on_diagnostic('vla_inference: policy', 0, 'running', {}, 9.0)
    assert api.drain_events()[0]['text'].startswith('vla_inference is back after 7 s')
    assert api.state(9.0)['silent_nodes'] == {}


def test_a_stall_of_the_console_itself_is_not_blamed_on_the_nodes():
    api = make(node_silent_s=3.0)
    for t in (0.0, 0.1, 0.2):
        api.telemetry.on_diagnostic('vla_inference: policy', 0, 'running', {}, t)
        api.telemetry.check_nodes(t)
    # This process was stopped for 4 s; the node's news waits in DDS.
    api.telemetry.check_nodes(4.2)
    events = api.drain_events()
    assert len(events) == 1 and events[0]['kind'] == 'console'
    assert 'did not run for 4.0 s' in events[0]['text']
    api.telemetry.on_diagnostic('vla_inference: policy', 0, 'running', {}, 4.25)
    api.telemetry.check_nodes(4.3)
    assert api.drain_events() == [] and api.state(4.3)['silent_nodes'] == {}


def test_telemetry_that_stopped_coming_is_unknown_not_its_last_value():
    api = make(state_stale_s=2.0)
    api.telemetry.on_cmd_vel((0.57, 0.0, 0.0), 0.0)
    api.telemetry.on_robot_action((0.3, 0.0, 0.0), 0.0)
    api.telemetry.sample(1.0)
    assert api.state(1.0)['cmd_vel'] == (0.57, 0.0, 0.0)
    api.telemetry.sample(2.5)
    state = api.state(2.5)
    assert state['cmd_vel'] is None and state['robot_action'] is None
    assert api.telemetry.plot_history()[-1] == [2.5, None, None]
