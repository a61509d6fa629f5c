"""The web_console node as a process over real DDS, spoken to over real HTTP and WebSocket:
the token file, auth on every control route, limits, bad input, control hand-over,
camera frames to a viewer, and the zero a dropped connection sends."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import struct
import time
import urllib.error
import urllib.request

import aiohttp
import numpy as np
import pytest
from ros_harness import DISCOVERY_S, NodeProcess, new_domain_id
from web_harness import Listener, moving, still

from mobile_vla import topics
from mobile_vla.graph import WEB
from mobile_vla_web.openapi import POST_TYPES, openapi

CONTROL_TOPICS = (topics.VLA_COMMAND, topics.CONTROL_MODE, topics.CONTROL_ESTOP,
                  topics.TELEOP_CMD_VEL, topics.RECORDER_CONTROL)
#: A valid body for each POST route.
BODIES = {
    'instruction': {'text': 'go around the box on the left to the cup'},
    'mode': {'mode': 'manual'},
    'estop': {'engaged': True},
    'record': {'action': 'start', 'scenario': 1},
    'throttle': {'percent': 60},
    'take_control': {},
}
DRIVE_TIMEOUT_S = 0.3


def start_console(tmp_path, domain_id, name='web', **params):
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    node = NodeProcess(WEB, folder, domain_id, params={
        'port': 0, 'token_file': str(tmp_path / 'token'), 'episodes_dir': str(tmp_path / 'eps'),
        'drive_timeout_s': DRIVE_TIMEOUT_S, **params})
    end = time.monotonic() + 30
    while time.monotonic() < end:
        match = re.search(r'web console on (http://\S+/)', node.log())
        if match:
            return node, match.group(1)
        assert node.process.poll() is None, node.log()
        time.sleep(0.1)
    raise AssertionError(f'the console never said where it listens:\n{node.log()}')


@pytest.fixture(scope='module')
def console(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('web')
    domain = new_domain_id()
    listener = Listener(domain, CONTROL_TOPICS)
    node, url = start_console(tmp, domain)
    token = (tmp / 'token').read_text().strip()
    end = time.monotonic() + DISCOVERY_S  # the console's publishers found the listener
    while time.monotonic() < end and not all(
            listener.node.count_publishers(t.name) for t in CONTROL_TOPICS):
        time.sleep(0.1)
    time.sleep(0.5)
    yield node, url, token, listener, tmp
    node.stop()
    listener.close()


def request(url, method='GET', body=None, token=None, headers=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    all_headers = {'Content-Type': 'application/json', **(headers or {})}
    if token is not None:
        all_headers['Authorization'] = f'Bearer {token}'
    req = urllib.request.Request(url, data, all_headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def release_estop(url, token):
    """Release the e-stop an earlier test engaged (no arbiter runs here: the console
    holds its own e-stop until it sends a release), waiting out the rate limit."""
    for _ in range(50):
        status, body = request(url + 'api/estop', 'POST', {'engaged': False}, token)
        if status != 429:
            break
        time.sleep(0.1)
    assert status == 200, body


def control_messages(listener, after):
    return {t.name: len(listener.messages(t, after)) for t in CONTROL_TOPICS
            if listener.messages(t, after)}


def test_the_token_file_is_private_and_the_token_printed_once(console, tmp_path):
    node, _url, token, _listener, tmp = console
    mode = stat.S_IMODE(os.stat(tmp / 'token').st_mode)
    assert mode == 0o600
    assert node.log().count(f'#token={token}') == 1
    # A second start with the same file says where the token is, and never prints it.
    second, _ = start_console(tmp, new_domain_id(), name='again')
    try:
        time.sleep(0.5)
        assert token not in second.log() and str(tmp / 'token') in second.log()
    finally:
        second.stop()


def test_a_token_file_others_may_read_is_refused(tmp_path):
    path = tmp_path / 'token'
    path.write_text('x' * 43 + '\n')
    path.chmod(0o644)
    node = NodeProcess(WEB, tmp_path, new_domain_id(), params={
        'port': 0, 'token_file': str(path)})
    assert node.wait(30) == 2
    assert 'chmod 600' in node.log() and 'Traceback' not in node.log()


def test_it_binds_to_this_machine_by_default(console):
    _node, url, *_ = console
    assert url.startswith('http://localhost:')
    assert 'bound to 127.0.0.1' in console[0].log()


def test_no_control_action_is_accepted_without_the_token(console):
    """Every POST route and the WebSocket, with every wrong way of giving a token."""
    _node, url, token, listener, _tmp = console
    start = time.time()
    wrong = [
        {},                                                  # none
        {'Authorization': 'Bearer wrong'},                   # wrong
        {'Authorization': f'Bearer {token[:-1]}'},           # almost
        {'Authorization': f'Basic {token}'},                 # another scheme
        {'Authorization': token},                            # no scheme
        {'X-Token': token},                                  # another header
    ]
    attempts = refused = 0
    for kind, path in POST_TYPES.items():
        for headers in wrong:
            status, _ = request(url + path.lstrip('/'), 'POST', BODIES[kind], headers=headers)
            attempts += 1
            refused += status in (401, 429)
        # The token in the query string or the body is not a token either.
        for target, body in ((f'{path}?token={token}', BODIES[kind]),
                             (path, {**BODIES[kind], 'token': token})):
            status, _ = request(url + target.lstrip('/'), 'POST', body)
            attempts += 1
            refused += status in (401, 429)

    async def websocket_attempts():
        results = []
        async with aiohttp.ClientSession() as session:
            for hello in ({'type': 'hello'}, {'type': 'hello', 'token': 'wrong'}, 'garbage'):
                async with session.ws_connect(url + 'api/ws') as ws:
                    await ws.send_str(hello if isinstance(hello, str) else json.dumps(hello))
                    for kind in BODIES:
                        await ws.send_str(json.dumps({'type': kind, **BODIES[kind]}))
                    await ws.send_str(json.dumps({'type': 'drive', 'key': 'w'}))
                    texts = []
                    async for msg in ws:  # until the server closes it
                        texts.append(json.loads(msg.data)['type'])
                    results.append((texts, ws.close_code))
        return results

    ws_results = asyncio.run(websocket_attempts())
    attempts += len(ws_results) * (len(BODIES) + 1)
    time.sleep(1.0)
    assert control_messages(listener, start) == {}, 'a control action got through'
    assert refused == attempts - len(ws_results) * (len(BODIES) + 1)
    assert all(texts == ['refused'] and code in (4401, 4429)
               for texts, code in ws_results), ws_results
    print(f'{attempts} control attempts without a valid token, 0 accepted')


def test_watching_needs_the_token_by_default(console):
    _node, url, token, *_ = console
    # 401, or 429 once this address has sent many wrong tokens (the test above did).
    assert request(url + 'api/state')[0] in (401, 429)
    assert request(url + 'api/camera.jpg')[0] in (401, 429)
    status, body = request(url + 'api/state', token=token)
    assert status == 200 and 'controller' in json.loads(body)


def test_with_the_token_each_action_reaches_its_topic(console):
    _node, url, token, listener, _tmp = console
    start = time.time()
    for kind in ('instruction', 'mode', 'record'):
        status, body = request(url + POST_TYPES[kind].lstrip('/'), 'POST', BODIES[kind], token)
        assert status == 200, body
    status, _ = request(url + 'api/estop', 'POST', {'engaged': True}, token)
    assert status == 200
    end = time.monotonic() + DISCOVERY_S
    want = {topics.VLA_COMMAND.name, topics.CONTROL_MODE.name, topics.RECORDER_CONTROL.name,
            topics.CONTROL_ESTOP.name}
    while time.monotonic() < end and set(control_messages(listener, start)) != want:
        time.sleep(0.05)
    assert set(control_messages(listener, start)) == want
    assert listener.messages(topics.RECORDER_CONTROL, start)[0][1].data == 'start 1box_vert_left'
    assert listener.messages(topics.CONTROL_ESTOP, start)[0][1].data is True


def test_limits_and_bad_input_get_clear_errors(console):
    _node, url, token, *_ = console
    status, body = request(url + 'api/instruction', 'POST', raw=b'{"text": "' + b'a' * 9000
                           + b'"}', token=token)
    assert status == 413 and b'max_message_bytes' in body
    status, body = request(url + 'api/mode', 'POST', raw=b'{oops', token=token)
    assert status == 400 and b'not JSON' in body
    status, body = request(url + 'api/mode', 'POST', {'mode': 'warp'}, token)
    assert status == 400 and b'manual, vla, hybrid' in body
    # Another site's page that renamed itself to 127.0.0.1 (DNS rebinding) is refused.
    status, body = request(url + 'api/openapi.json', headers={'Host': 'evil.example:80'})
    assert status == 403
    statuses = [request(url + 'api/throttle', 'POST', {'delta': 0}, token)[0]
                for _ in range(40)]
    assert 429 in statuses and statuses[0] == 200
    assert b'Traceback' not in body


def test_the_openapi_document_covers_every_route(console):
    _node, url, *_ = console
    status, body = request(url + 'api/openapi.json')
    assert status == 200
    assert json.loads(body) == openapi()
    for path in POST_TYPES.values():
        assert path in json.loads(body)['paths']


def drive(key, **extra):
    """A drive message as a page sends it, stamped with the sender's monotonic clock."""
    return json.dumps({'type': 'drive', 'key': key, 'sent_ms': time.monotonic() * 1000,
                       **extra})


async def _hello(session, url, token):
    ws = await session.ws_connect(url + 'api/ws')
    await ws.send_str(json.dumps({'type': 'hello', 'token': token}))
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)['type'] == 'hello':
            return ws, json.loads(msg.data)['you']


async def _wait_text(ws, predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        msg = await ws.receive(timeout=max(0.01, end - time.monotonic()))
        if msg.type == aiohttp.WSMsgType.TEXT:
            data = json.loads(msg.data)
            if predicate(data):
                return data
    raise AssertionError('no such message')


def test_a_dropped_connection_while_driving_sends_zero_within_the_timeout(console):
    _node, url, token, listener, _tmp = console
    release_estop(url, token)

    async def drive_then_drop():
        async with aiohttp.ClientSession() as session:
            ws, _me = await _hello(session, url, token)
            await ws.send_str(json.dumps({'type': 'take_control'}))
            pressed = time.time()
            for _ in range(5):
                await ws.send_str(drive('w'))
                await asyncio.sleep(0.1)
            # The network goes away: no close frame, the socket just ends.
            ws._response.connection.transport.abort()
            return pressed, time.time()

    pressed, dropped = asyncio.run(drive_then_drop())
    assert listener.wait_for(moving, pressed, 5.0, topics.TELEOP_CMD_VEL)
    zero = listener.wait_for(still, dropped, 5.0, topics.TELEOP_CMD_VEL)
    assert zero, 'no zero after the connection dropped'
    assert zero[0] - dropped <= DRIVE_TIMEOUT_S + 0.1, zero[0] - dropped
    print(f'dropped connection to zero on teleop/cmd_vel: {(zero[0] - dropped) * 1000:.0f} ms')


def test_a_second_console_takes_over_only_on_purpose_and_the_first_is_told(console):
    _node, url, token, listener, _tmp = console
    release_estop(url, token)

    async def two_consoles():
        async with aiohttp.ClientSession() as session:
            first, first_id = await _hello(session, url, token)
            second, second_id = await _hello(session, url, token)
            await first.send_str(json.dumps({'type': 'take_control'}))
            await _wait_text(first, lambda m: m['type'] == 'event' and first_id in m['text'])
            await first.send_str(drive('a', id=1))
            await second.send_str(json.dumps({'type': 'mode', 'mode': 'vla', 'id': 7}))
            refused = await _wait_text(second, lambda m: m['type'] == 'reply' and m['id'] == 7)
            taken_at = time.time()
            await second.send_str(json.dumps({'type': 'take_control', 'id': 8}))
            told = await _wait_text(first, lambda m: m.get('taken_from') == first_id)
            await first.close()
            await second.close()
            return refused, told, taken_at

    refused, told, taken_at = asyncio.run(two_consoles())
    assert refused['status'] == 409 and 'take control' in refused['error']
    assert 'took control' in told['text']
    assert listener.wait_for(still, taken_at, 2.0, topics.TELEOP_CMD_VEL)


def test_camera_frames_reach_a_viewer_downscaled_once_each(console):
    _node, url, token, listener, _tmp = console
    camera = listener.publisher(topics.CAMERA_IMAGE)
    from sensor_msgs.msg import Image

    def frame(i):
        msg = Image(height=720, width=1280, encoding='rgb8', step=1280 * 3)
        now = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
        msg.data = np.full((720, 1280, 3), i % 255, np.uint8).tobytes()
        return msg

    async def watch():
        received = []
        async with aiohttp.ClientSession() as session:
            ws, _ = await _hello(session, url, token)
            # Until 20 frames arrive, however slow the machine: a count in a
            # fixed window would be a rate assertion, which belongs in benchmarks.
            end = time.monotonic() + 60.0
            i = 0
            while len(received) < 20 and time.monotonic() < end:
                camera.publish(frame(i))
                i += 1
                try:
                    msg = await ws.receive(timeout=1 / 30)
                except asyncio.TimeoutError:
                    continue
                if msg.type == aiohttp.WSMsgType.BINARY:
                    stamp, seq, width, height = struct.unpack('<qIHH', msg.data[:16])
                    received.append((time.time_ns() - stamp, seq, width, height, msg.data[16:]))
            await ws.close()
        return received

    received = asyncio.run(watch())
    assert len(received) >= 20, len(received)
    assert {(w, h) for _, _, w, h, _ in received} == {(640, 360)}
    assert all(jpeg[:2] == b'\xff\xd8' for *_, jpeg in received)
    seqs = [seq for _, seq, *_ in received]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_a_silent_connection_stops_the_drive_within_the_timeout(console):
    """A network that stops carrying anything (no close, no repeats): the key lapses."""
    _node, url, token, listener, _tmp = console
    release_estop(url, token)

    async def press_once_then_go_silent():
        async with aiohttp.ClientSession() as session:
            ws, _me = await _hello(session, url, token)
            await ws.send_str(json.dumps({'type': 'take_control'}))
            await ws.send_str(drive('d'))
            sent = time.time()
            await asyncio.sleep(1.0)  # connected, but silent
            stopped = listener.wait_for(still, sent, 0.0, topics.TELEOP_CMD_VEL)
            await ws.close()
            return sent, stopped

    sent, stopped = asyncio.run(press_once_then_go_silent())
    assert listener.wait_for(moving, sent - 0.05, 1.0, topics.TELEOP_CMD_VEL)
    assert stopped, 'the held key never lapsed'
    assert DRIVE_TIMEOUT_S - 0.05 <= stopped[0] - sent <= DRIVE_TIMEOUT_S + 0.1


def test_an_over_long_message_gets_an_error_reply_and_the_page_keeps_its_socket(console):
    """A script sends an instruction far over max_message_bytes: a JSON error (413), not a
    dropped socket; the same socket still works and keeps control."""
    _node, url, token, listener, _tmp = console

    async def send_too_much():
        async with aiohttp.ClientSession() as session:
            ws, me = await _hello(session, url, token)
            await ws.send_str(json.dumps({'type': 'take_control', 'id': 1}))
            await _wait_text(ws, lambda m: m['type'] == 'reply' and m['id'] == 1)
            await ws.send_str(json.dumps({'type': 'instruction', 'id': 2,
                                          'text': 'go left ' * 2000}))
            too_long = await _wait_text(ws, lambda m: m['type'] == 'reply' and m['id'] == 2)
            sent = time.time()
            await ws.send_str(json.dumps({'type': 'instruction', 'id': 3, 'text': 'go left'}))
            after = await _wait_text(ws, lambda m: m['type'] == 'reply' and m['id'] == 3)
            state = await _wait_text(ws, lambda m: m['type'] == 'state')
            closed = ws.closed
            await ws.close()
            return too_long, after, state['controller'], me, closed, sent

    too_long, after, controller, me, closed, sent = asyncio.run(send_too_much())
    assert too_long['status'] == 413 and 'max_message_bytes' in too_long['error']
    assert after['status'] == 200 and not closed
    assert controller['id'] == me
    end = time.monotonic() + DISCOVERY_S
    while time.monotonic() < end and not listener.messages(topics.VLA_COMMAND, sent):
        time.sleep(0.05)
    assert [m.data for _, m in listener.messages(topics.VLA_COMMAND, sent)] == ['go left']
