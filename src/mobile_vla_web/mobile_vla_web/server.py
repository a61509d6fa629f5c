"""The console's HTTP and WebSocket server (aiohttp), on its own thread and event loop.

An outer layer: it carries bytes between browsers and the ``Backend`` (the node's
wiring, which holds the plain ``ConsoleApi``), so the ROS executor never waits on a
socket and a slow browser never holds up another. Each page gets the newest camera
frame when it is ready for one (older frames are dropped for it alone), the newest
state, and every event.

The POST routes are ``openapi.POST_TYPES``'s; ``GET /api/openapi.json`` documents every
route (``test_server.py`` checks that the two agree).
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import json
import threading
from collections import deque
from pathlib import Path
from typing import Any, Callable, Protocol
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from mobile_vla_web.frames import JpegFrame
from mobile_vla_web.messages import Reply
from mobile_vla_web.openapi import POST_TYPES, openapi

STATIC = Path(__file__).resolve().parent / 'static'
#: A page must say hello (with its token) this soon after connecting.
HELLO_TIMEOUT_S = 5.0
#: Events kept for a page that is slow to read them.
EVENT_QUEUE = 100
#: WebSocket messages up to this size are read, so that one over max_message_bytes gets
#: its JSON error (413) and the page keeps its connection and its control; a larger one
#: (nothing a page sends comes near) closes the socket with 1009.
WS_READ_LIMIT = 256 * 1024
LOOPBACK_NAMES = {'localhost', '127.0.0.1', '::1', '[::1]'}
SECURITY_HEADERS = {
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': "default-src 'self'; img-src 'self' blob: data:; "
                               "connect-src 'self'; style-src 'self'; script-src 'self'",
}


class Backend(Protocol):
    """What the server asks of the node (all thread-safe)."""

    def watch(self, address: str, token: str | None) -> Reply | None: ...
    def control(self, client_id: str, address: str, token: str | None, raw: Any,
                kind: str) -> Reply: ...
    def open_page(self, client_id: str, address: str, name: Any) -> Reply: ...
    def close_page(self, client_id: str) -> None: ...
    def state(self) -> dict[str, Any]: ...
    def hello(self) -> dict[str, Any]: ...
    def latest_frame(self) -> JpegFrame | None: ...
    def log(self, level: str, text: str) -> None: ...


class _Page:
    """One open WebSocket: what is waiting to be sent to it."""

    def __init__(self, ws: web.WebSocketResponse, token: str | None) -> None:
        self.ws = ws
        self.token = token
        self.frame: JpegFrame | None = None
        self.state: str | None = None
        self.events: deque[str] = deque(maxlen=EVENT_QUEUE)
        self.wake = asyncio.Event()


def _host_name(host: str) -> str:
    """The name of a Host header, without its port."""
    if host.startswith('['):
        return host.split(']')[0] + ']'
    return host.rsplit(':', 1)[0]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip('[]')).is_loopback
    except ValueError:
        return host == 'localhost'


class ConsoleServer:
    """Serves the page, the REST API and the WebSocket on ``host``:``port``."""

    def __init__(self, backend: Backend, host: str, port: int, max_body: int) -> None:
        self.backend, self.host, self.port, self.max_body = backend, host, port, max_body
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._pages: dict[str, _Page] = {}
        self._ids = itertools.count(1)
        self._started = threading.Event()
        self._error: BaseException | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self, timeout_s: float = 10.0) -> tuple[str, int]:
        """Bind and serve on a thread; (host, port) once bound. Raises if it cannot bind."""
        self._thread = threading.Thread(target=self._run, name='web_console_http', daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise RuntimeError(f'the web server did not start within {timeout_s} s')
        if self._error is not None:
            raise self._error
        return self.host, self.port

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # the caller of start() reports it
            self._error = exc
            self._started.set()
            return
        self._started.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    async def _serve(self) -> None:
        app = web.Application(client_max_size=self.max_body,
                              middlewares=[self._guard])
        app.router.add_get('/', self._index)
        app.router.add_static('/static/', STATIC, show_index=False, follow_symlinks=False)
        app.router.add_get('/api/openapi.json', self._openapi)
        app.router.add_get('/api/state', self._state)
        app.router.add_get('/api/camera.jpg', self._camera)
        app.router.add_get('/api/ws', self._websocket)
        for kind, path in POST_TYPES.items():
            app.router.add_post(path, self._poster(kind))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        loop = self._loop
        if loop is None or not loop.is_running():
            return

        async def close_pages() -> None:
            for page in list(self._pages.values()):
                await page.ws.close()
            loop.stop()

        asyncio.run_coroutine_threadsafe(close_pages(), loop)
        if self._thread is not None:
            self._thread.join(5.0)

    # --------------------------------------------------------------- pushes
    def push_frame(self, frame: JpegFrame) -> None:
        """From any thread: the newest frame for every page."""
        self._call(self._deliver, 'frame', frame)

    def push_state(self, state: dict[str, Any]) -> None:
        self._call(self._deliver, 'state', json.dumps(state))

    def push_event(self, event: dict[str, Any]) -> None:
        self._call(self._deliver, 'event', json.dumps(event))

    @property
    def pages(self) -> int:
        return len(self._pages)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(fn, *args)

    def _deliver(self, kind: str, item: Any) -> None:
        for page in self._pages.values():
            if kind == 'frame':
                page.frame = item
            elif kind == 'state':
                page.state = item
            else:
                page.events.append(item)
            page.wake.set()

    # ------------------------------------------------------------ middleware
    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        if _is_loopback(self.host):
            # Bound to this machine only: a page of another site that renames itself to
            # 127.0.0.1 (DNS rebinding) must not read the camera.
            if _host_name(request.host or '') not in LOOPBACK_NAMES:
                return self._json(Reply(403, {'ok': False, 'error': 'this console is bound to '
                                              'this machine; open it as localhost'}))
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = web.json_response({'ok': False, 'error': exc.text or exc.reason},
                                         status=exc.status)
        except Exception as exc:  # never a traceback to a user; the log has it
            self.backend.log('error', f'{request.method} {request.path}: '
                                      f'{type(exc).__name__}: {exc}')
            response = web.json_response({'ok': False, 'error': 'internal error; the '
                                          "console's log says more"}, status=500)
        if not isinstance(response, web.WebSocketResponse):
            response.headers.update(SECURITY_HEADERS)
        return response

    @staticmethod
    def _json(reply: Reply) -> web.Response:
        return web.json_response(reply.body, status=reply.status)

    @staticmethod
    def _token(request: web.Request) -> str | None:
        auth = request.headers.get('Authorization', '')
        return auth[7:].strip() if auth.lower().startswith('bearer ') else None

    @staticmethod
    def _address(request: web.Request) -> str:
        return request.remote or 'unknown'

    # ---------------------------------------------------------------- routes
    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / 'index.html')

    async def _openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi())

    async def _state(self, request: web.Request) -> web.Response:
        refused = self.backend.watch(self._address(request), self._token(request))
        return self._json(refused) if refused else web.json_response(self.backend.state())

    async def _camera(self, request: web.Request) -> web.Response:
        refused = self.backend.watch(self._address(request), self._token(request))
        if refused:
            return self._json(refused)
        frame = self.backend.latest_frame()
        if frame is None:
            return web.json_response({'ok': False, 'error': 'no camera frame yet; is the '
                                      'camera publishing camera/image?'}, status=503)
        return web.Response(body=frame.jpeg, content_type='image/jpeg',
                            headers={'X-Frame-Stamp-Ns': str(frame.stamp_ns),
                                     'X-Frame-Seq': str(frame.seq)})

    def _poster(self, kind: str) -> Callable:
        async def handle(request: web.Request) -> web.Response:
            body = await request.content.read(self.max_body + 1)
            raw: Any = body  # too large, or not JSON: ConsoleApi says so
            if len(body) <= self.max_body:
                try:
                    message = json.loads(body) if body.strip() else {}
                except ValueError:
                    message = None
                if isinstance(message, dict):
                    raw = {**message, 'type': kind}
                elif message is not None:
                    raw = message
            address = self._address(request)
            reply = self.backend.control(f'api@{address}', address, self._token(request),
                                         raw, 'api')
            return self._json(reply)
        return handle

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get('Origin')
        if origin and urlsplit(origin).netloc != request.host:
            return self._json(Reply(403, {'ok': False, 'error': 'cross-site WebSocket refused'}))
        ws = web.WebSocketResponse(max_msg_size=max(WS_READ_LIMIT, self.max_body),
                                   heartbeat=10.0)
        await ws.prepare(request)
        address = self._address(request)
        client_id = f'console-{next(self._ids)}'
        hello = await self._hello(ws)
        if hello is None:
            return ws
        token, name = hello
        refused = self.backend.watch(address, token)
        if refused is None:
            refused = self.backend.open_page(client_id, address, name)
            if refused.ok:
                refused = None
        if refused is not None:
            code = {401: 4401, 429: 4429}.get(refused.status, 4503)
            try:
                await ws.send_json({'type': 'refused', **refused.body})
                await ws.close(code=code)
            except (ConnectionError, RuntimeError):
                pass  # the client went away meanwhile
            return ws
        await self._serve_page(ws, client_id, address, token if isinstance(token, str) else None)
        return ws

    async def _hello(self, ws: web.WebSocketResponse) -> tuple[Any, Any] | None:
        """The token and the name in the page's first message; None when the page went
        away first, or said nothing in time (then it is closed)."""
        try:
            hello = await ws.receive(timeout=HELLO_TIMEOUT_S)
        except asyncio.TimeoutError:
            await ws.close(code=4401, message=b'say hello with the token first')
            return None
        if hello.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                          WSMsgType.ERROR):
            return None
        token = name = None
        if hello.type == WSMsgType.TEXT:
            try:
                data = json.loads(hello.data)
            except (ValueError, RecursionError):
                data = None
            if isinstance(data, dict):
                token, name = data.get('token'), data.get('name')
        return token, name

    async def _serve_page(self, ws: web.WebSocketResponse, client_id: str, address: str,
                          token: str | None) -> None:
        """A page that said hello: its control messages in, state and frames out."""
        page = self._pages[client_id] = _Page(ws, token)
        sender = asyncio.create_task(self._send_loop(page))
        try:
            await ws.send_json({**self.backend.hello(), 'you': client_id})
            frame = self.backend.latest_frame()
            if frame is not None:
                page.frame = frame
                page.wake.set()
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    reply = self.backend.control(client_id, address, page.token, msg.data,
                                                 'page')
                    if reply.request_id is not None or not reply.ok:
                        page.events.append(json.dumps({'type': 'reply', 'id': reply.request_id,
                                                       'status': reply.status, **reply.body}))
                        page.wake.set()
                elif msg.type == WSMsgType.BINARY:
                    page.events.append(json.dumps({'type': 'reply', 'status': 400, 'ok': False,
                                                   'error': 'send JSON text, not binary'}))
                    page.wake.set()
        finally:
            self._pages.pop(client_id, None)
            sender.cancel()
            self.backend.close_page(client_id)

    async def _send_loop(self, page: _Page) -> None:
        ws = page.ws
        try:
            while not ws.closed:
                await page.wake.wait()
                page.wake.clear()
                while page.events:
                    await ws.send_str(page.events.popleft())
                if page.state is not None:
                    state, page.state = page.state, None
                    await ws.send_str(state)
                if page.frame is not None:
                    frame, page.frame = page.frame, None
                    await ws.send_bytes(frame.message())
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            return
