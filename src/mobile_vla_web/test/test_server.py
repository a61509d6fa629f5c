"""``ConsoleServer``: what the HTTP and WebSocket layer itself does, over real sockets
(aiohttp), with a backend that records what reaches it. The console's decisions are the
``ConsoleApi``'s (``test_api.py``); the node with both over DDS is
``tests/test_web_node.py``'s."""

from __future__ import annotations

import asyncio
import json
import struct
import time

import aiohttp
import pytest

from mobile_vla_web.frames import JpegFrame
from mobile_vla_web.messages import Reply, error
from mobile_vla_web.openapi import POST_TYPES, openapi
from mobile_vla_web.server import SECURITY_HEADERS, ConsoleServer

TOKEN = 'server-test-token-0123456789'
MAX_BODY = 1000


class Recorder:
    """A ``Backend`` that grants the right token, answers each control message with its
    id, and records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.frame: JpegFrame | None = None
        self.fail = False

    def watch(self, address, token):
        self.calls.append(('watch', address, token))
        return None if token == TOKEN else error(401, 'send the token')

    def control(self, client_id, address, token, raw, kind):
        self.calls.append(('control', client_id, address, token, raw, kind))
        if self.fail:
            raise RuntimeError('backend broke')
        if isinstance(raw, (bytes, str)) and len(raw) > MAX_BODY:
            return error(413, 'too large')
        message = json.loads(raw) if isinstance(raw, str) else raw
        return Reply(200, {'ok': True}, request_id=message.get('id')
                     if isinstance(message, dict) else None)

    def open_page(self, client_id, address, name):
        self.calls.append(('open', client_id, name))
        return Reply(200, {'ok': True})

    def close_page(self, client_id):
        self.calls.append(('close', client_id))

    def state(self):
        return {'type': 'state', 'mode': 'manual'}

    def hello(self):
        return {'type': 'hello', 'instance': 'test'}

    def latest_frame(self):
        return self.frame

    def log(self, level, text):
        self.calls.append(('log', level, text))


def frame(seq: int) -> JpegFrame:
    return JpegFrame(seq, 1_000 + seq, 64, 36, b'\xff\xd8' + bytes([seq]) + b'\xff\xd9')


@pytest.fixture
def served():
    backend = Recorder()
    server = ConsoleServer(backend, '127.0.0.1', 0, MAX_BODY)
    host, port = server.start()
    yield backend, server, f'http://localhost:{port}'
    server.stop()


def fetch(coroutine):
    return asyncio.run(coroutine)


async def get(url, headers=None):
    async with aiohttp.ClientSession() as session, \
            session.get(url, headers=headers or {}) as response:
        return response.status, dict(response.headers), await response.read()


async def post(url, data, headers=None):
    async with aiohttp.ClientSession() as session, \
            session.post(url, data=data, headers=headers or {}) as response:
        return response.status, await response.json()


AUTH = {'Authorization': f'Bearer {TOKEN}'}


def test_page_and_api_carry_the_security_headers_and_the_token_reaches_the_backend(served):
    backend, _server, url = served
    status, headers, body = fetch(get(url + '/'))
    assert status == 200 and b'<html' in body.lower()
    assert all(headers[k] == v for k, v in SECURITY_HEADERS.items())
    status, _, body = fetch(get(url + '/api/openapi.json'))
    assert status == 200 and set(POST_TYPES.values()) <= set(json.loads(body)['paths'])
    assert fetch(get(url + '/api/state'))[0] == 401
    status, headers, body = fetch(get(url + '/api/state', AUTH))
    assert status == 200 and json.loads(body)['mode'] == 'manual'
    assert headers['Cache-Control'] == 'no-store'
    assert ('watch', '127.0.0.1', TOKEN) in backend.calls
    assert fetch(get(url + '/static/'))[0] in (403, 404)  # no folder listing


def test_the_camera_is_503_until_a_frame_then_the_jpeg_with_its_stamp(served):
    backend, _server, url = served
    status, _, body = fetch(get(url + '/api/camera.jpg', AUTH))
    assert status == 503 and 'camera/image' in json.loads(body)['error']
    backend.frame = frame(7)
    status, headers, body = fetch(get(url + '/api/camera.jpg', AUTH))
    assert status == 200 and headers['Content-Type'] == 'image/jpeg'
    assert body == frame(7).jpeg and headers['X-Frame-Seq'] == '7'
    assert headers['X-Frame-Stamp-Ns'] == '1007'


def test_a_console_bound_to_this_machine_answers_only_to_a_local_host_name(served):
    _backend, _server, url = served
    port = url.rsplit(':', 1)[1]
    status, _, body = fetch(get(f'http://127.0.0.1:{port}/api/openapi.json',
                                {'Host': f'evil.example:{port}'}))
    assert status == 403 and 'localhost' in json.loads(body)['error']
    assert fetch(get(f'http://127.0.0.1:{port}/api/openapi.json'))[0] == 200


def test_a_post_gives_the_backend_its_type_and_what_was_sent(served):
    backend, _server, url = served
    status, body = fetch(post(url + POST_TYPES['mode'], json.dumps({'mode': 'vla', 'id': 3}),
                              AUTH))
    assert status == 200 and body == {'ok': True}
    control = [c for c in backend.calls if c[0] == 'control']
    assert control[-1] == ('control', 'api@127.0.0.1', '127.0.0.1', TOKEN,
                           {'mode': 'vla', 'id': 3, 'type': 'mode'}, 'api')
    fetch(post(url + POST_TYPES['estop'], b''))  # an empty body is an empty message
    assert backend.calls[-1][4] == {'type': 'estop'} and backend.calls[-1][3] is None
    fetch(post(url + POST_TYPES['estop'], b'not json'))  # ConsoleApi says what is wrong
    assert backend.calls[-1][4] == b'not json'
    status, body = fetch(post(url + POST_TYPES['instruction'], b'x' * (MAX_BODY + 500)))
    assert status == 413 and len(backend.calls[-1][4]) == MAX_BODY + 1  # read no further


def test_a_backend_failure_is_a_500_without_a_traceback_and_the_log_has_it(served):
    backend, _server, url = served
    backend.fail = True
    status, body = fetch(post(url + POST_TYPES['mode'], json.dumps({'mode': 'vla'})))
    assert status == 500 and body == {'ok': False, 'error': "internal error; the console's "
                                                            'log says more'}
    assert backend.calls[-1][:2] == ('log', 'error')
    assert 'RuntimeError: backend broke' in backend.calls[-1][2]


async def page_session(url, script):
    """Say hello as a page, then run ``script(ws)``; returns what the page received."""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url + '/api/ws') as ws:
            await ws.send_str(json.dumps({'token': TOKEN, 'name': 'tablet'}))
            return await script(ws)


def test_a_page_is_greeted_gets_replies_by_id_and_frames_in_order_up_to_the_newest(served):
    backend, server, url = served

    async def script(ws):
        greeting = await ws.receive_json(timeout=5)
        await ws.send_str(json.dumps({'type': 'mode', 'mode': 'vla', 'id': 'm1'}))
        reply = await ws.receive_json(timeout=5)
        await ws.send_bytes(b'\x00\x01')
        binary = await ws.receive_json(timeout=5)
        for seq in range(1, 6):  # a burst: a page may miss older ones, never the newest
            server.push_frame(frame(seq))
        server.push_event({'type': 'event', 'text': 'node back'})
        received = []
        while ('frame', 5) not in received or ('text', 'event') not in received:
            msg = await ws.receive(timeout=5)
            if msg.type == aiohttp.WSMsgType.BINARY:
                received.append(('frame', struct.unpack('<qIHH', msg.data[:16])[1]))
            else:
                received.append(('text', json.loads(msg.data)['type']))
        return greeting, reply, binary, received

    greeting, reply, binary, received = fetch(page_session(url, script))
    assert greeting == {'type': 'hello', 'instance': 'test', 'you': 'console-1'}
    assert reply == {'type': 'reply', 'id': 'm1', 'status': 200, 'ok': True}
    assert binary['status'] == 400 and 'JSON text' in binary['error']
    frames = [seq for kind, seq in received if kind == 'frame']
    assert frames == sorted(set(frames)) and 5 in frames
    assert ('text', 'event') in received
    assert ('open', 'console-1', 'tablet') in backend.calls
    deadline = time.monotonic() + 30  # closed on the server's loop once the socket ends
    while ('close', 'console-1') not in backend.calls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ('close', 'console-1') in backend.calls and server.pages == 0


def test_a_page_with_a_wrong_token_or_from_another_site_is_refused(served):
    backend, _server, url = served

    async def wrong_token():
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(url + '/api/ws') as ws:
            await ws.send_str(json.dumps({'token': 'wrong'}))
            refused = await ws.receive_json(timeout=5)
            closed = await ws.receive(timeout=5)
            return refused, closed.type, ws.close_code

    refused, closed, code = fetch(wrong_token())
    assert refused['type'] == 'refused' and refused['error'] == 'send the token'
    assert closed == aiohttp.WSMsgType.CLOSE and code == 4401
    assert not any(c[0] == 'open' for c in backend.calls)

    async def cross_site():
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(url + '/api/ws',
                                         headers={'Origin': 'http://evil.example'})
            return refused.value.status

    assert fetch(cross_site()) == 403


def test_the_server_serves_every_documented_route_and_no_other_api(served):
    _backend, server, _url = served
    served_routes = {(route.method, route.resource.canonical)
                     for route in server._runner.app.router.routes()
                     if route.resource.canonical.startswith('/api/') and route.method != 'HEAD'}
    documented = {(method.upper(), path) for path, item in openapi()['paths'].items()
                  for method in item}
    assert served_routes == documented | {('GET', '/api/openapi.json')}  # and the document
