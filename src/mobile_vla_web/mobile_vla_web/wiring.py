"""The web_console node's wiring, written once against ``mobile_vla.bus.Bus``.

Subscribes to what the page shows (``camera/image``, ``cmd_vel``, ``robot/action``,
``control/state``, ``vla/status``, ``/diagnostics``) and publishes what its users
ask for (``vla/command``, ``control/mode``, ``control/estop``, ``teleop/cmd_vel``,
``recorder/control``), all through the plain ``ConsoleApi``. Camera frames are
JPEG-encoded on a worker, once each, and episodes are validated on another, so
the executor never waits on either; the HTTP server (``server.py``) runs on its own
thread and calls in through the ``Backend`` methods below, under one lock.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any, Callable

from mobile_vla import topics
from mobile_vla.actions import ZERO
from mobile_vla.bus import Bus, publisher_of, subscribe_to, throttled_warnings
from mobile_vla.keymap import THROTTLE_STEP
from mobile_vla.msgs import ImageConversionError, colour_image, stamp_to_ns, twist_to_action
from mobile_vla.node_runtime import KindThrottle
from mobile_vla.streams import StreamMonitor
from mobile_vla.units import NS
from mobile_vla_web.api import ConsoleApi
from mobile_vla_web.config import WebConfig, console_url
from mobile_vla_web.episodes import EpisodeList
from mobile_vla_web.frames import FrameGate, JpegFrame, encode_jpeg
from mobile_vla_web.messages import Publish, Reply
from mobile_vla_web.token_file import load_or_create

#: Camera frames kept: the newest only, the page never wants an old one.
CAMERA_DEPTH = 1
#: The drive watchdog's rate (at least): a lapsed key stops within 20 ms of its deadline.
DRIVE_TICK_HZ = 50.0
#: Episode folder scans a second (validation runs only for new or changed files).
EPISODE_SCAN_HZ = 0.5


class WebWiring:
    """web_console: the robot's topics to and from the page and the REST API."""

    def __init__(self, bus: Bus, serve: Callable[[WebWiring], Any] | None = None,
                 token: str | None = None, announce: Callable[[str], None] | None = None,
                 process_health: Callable[[], dict[str, str]] | None = None) -> None:
        """``serve(wiring)`` starts the HTTP server and returns it (the node gives one;
        tests drive the ``Backend`` methods directly). ``token`` replaces the token file;
        ``announce`` prints the URL (with the token only on the start that made it)."""
        self.bus = bus
        self.config = config = bus.config(WebConfig)
        made = False
        if token is None:
            token, made = load_or_create(config.token_file)
        self.api = ConsoleApi(config, token)
        #: This run of the console: a page that reconnects to another one says so.
        self.instance = secrets.token_hex(4)
        self._lock = threading.Lock()
        self._warn = throttled_warnings(bus, 2.0)
        self._errors = KindThrottle(lambda text: bus.log('error', text),
                                    lambda: bus.now_ns() / NS, 5.0)
        self._process_health = process_health
        self._publishers = {t.name: publisher_of(bus, t) for t in (
            topics.VLA_COMMAND, topics.CONTROL_MODE, topics.CONTROL_ESTOP,
            topics.TELEOP_CMD_VEL, topics.RECORDER_CONTROL)}
        self._diagnostics = publisher_of(bus, topics.DIAGNOSTICS)
        subscribe_to(bus, topics.CAMERA_IMAGE, self._on_image, depth=CAMERA_DEPTH)
        subscribe_to(bus, topics.CMD_VEL, lambda m: self._update(
            self.api.telemetry.on_cmd_vel, twist_to_action(m)))
        subscribe_to(bus, topics.ROBOT_ACTION, lambda m: self._update(
            self.api.telemetry.on_robot_action, twist_to_action(m)))
        subscribe_to(bus, topics.CONTROL_STATE, lambda m: self._update(
            self.api.on_control_state, str(m.data)))
        subscribe_to(bus, topics.VLA_STATUS, lambda m: self._update(
            self.api.telemetry.on_vla_status, str(m.data)))
        subscribe_to(bus, topics.DIAGNOSTICS, self._on_diagnostics)
        self.gate = FrameGate(config.stream_fps)
        self.camera = StreamMonitor()
        self.encoded = StreamMonitor()
        self.dropped = 0
        self._seq = 0
        self._latest: JpegFrame | None = None
        self._jpeg = bus.worker('jpeg')
        self._episodes = EpisodeList(Path(config.episodes_dir).expanduser(),
                                     config.episodes_listed)
        self._scanner = bus.worker('episodes')
        # Well above the key rate: a lapsed key stops within a tick of its deadline.
        bus.timer(max(DRIVE_TICK_HZ, 2 * config.drive_rate_hz), self._tick, 'web_console/drive')
        bus.timer(config.telemetry_rate_hz, self._telemetry, 'web_console/telemetry')
        bus.timer(1.0, self._publish_diagnostics, 'web_console/diagnostics')
        bus.timer(EPISODE_SCAN_HZ, self._scan_episodes, 'web_console/episodes')
        self.server = serve(self) if serve is not None else None
        if self.server is not None:
            host, port = self.server.host, self.server.port
            url = console_url(host, port)
            bus.log('info', f'web console on {url} (bound to {host}); token in '
                            f'{Path(config.token_file).expanduser()}')
            if announce is not None:
                announce(f'Mobile VLA console: {url}#token={token}' if made else
                         f'Mobile VLA console: {url} (token in {config.token_file})')

    # ------------------------------------------------------------- Backend
    def now(self) -> float:
        return self.bus.now_ns() / NS

    def watch(self, address: str, token: str | None) -> Reply | None:
        with self._lock:
            return self.api.may_watch(address, token, self.now())

    def control(self, client_id: str, address: str, token: str | None, raw: Any,
                kind: str) -> Reply:
        # Decided and published under one lock: a repeat of the drive timer can never
        # land after the zero a release, a takeover or a closed page sent.
        with self._lock:
            now = self.now()
            reply = self.api.control(client_id, address, token, raw, now, kind)
            events = self.api.drain_events()
            self._publish(reply.publish, now)
        self._announce(events)
        return reply

    def open_page(self, client_id: str, address: str, name: Any = None) -> Reply:
        with self._lock:
            return self.api.open_client(client_id, address, 'page', self.now(), name)

    def close_page(self, client_id: str) -> None:
        with self._lock:
            self._publish(self.api.close_client(client_id, self.now()))
            events = self.api.drain_events()
        self._announce(events)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return self.api.state(self.now())

    def hello(self) -> dict[str, Any]:
        with self._lock:
            state = self.api.state(self.now())
            return {**state, 'type': 'hello', 'history': self.api.telemetry.plot_history(),
                    'instance': self.instance,
                    'config': {'plot_window_s': self.config.plot_window_s,
                               'max_instruction_chars': self.config.max_instruction_chars,
                               'page_stale_s': self.config.page_stale_s,
                               'stream_fps': self.config.stream_fps,
                               'throttle_step': THROTTLE_STEP}}

    def latest_frame(self) -> JpegFrame | None:
        return self._latest

    def log(self, level: str, text: str) -> None:
        """The server's word; errors are throttled per kind (anyone who reaches the port
        can make requests fail)."""
        if level == 'error':
            self._errors(text)
        else:
            self.bus.log(level, text)

    # ------------------------------------------------------------ internals
    def _publish(self, publish: list[Publish], decided: float | None = None) -> None:
        """Publish what the console decided at ``decided``. A drive command whose decision
        is older than drive_timeout_s when it goes out (this process was stopped or
        starved between the two) goes out as zero: it would drive on a stale decision."""
        msgs = self.bus.msgs
        for topic, value in publish:
            if topic is topics.TELEOP_CMD_VEL:
                if decided is not None and value != ZERO and \
                        self.now() - decided > self.config.drive_timeout_s:
                    self._warn(f'a drive command decided {self.now() - decided:.1f} s ago '
                               '(this process stalled) went out as zero')
                    value = ZERO
                msg = msgs.twist(value)
            elif topic is topics.CONTROL_ESTOP:
                msg = msgs.boolean(bool(value))
            else:
                msg = msgs.string(str(value))
            self._publishers[topic.name](msg)

    def _announce(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.bus.log('info', f"console: {event['text']}")
            if self.server is not None:
                self.server.push_event(event)

    def _update(self, apply: Callable[[Any, float], None], value: Any) -> None:
        now = self.now()
        with self._lock:
            apply(value, now)

    def _on_diagnostics(self, msg: Any) -> None:
        now = self.now()
        with self._lock:
            for status in msg.status:
                level = status.level
                level = level[0] if isinstance(level, (bytes, bytearray)) else int(level)
                self.api.telemetry.on_diagnostic(str(status.name), level, str(status.message),
                                       {kv.key: kv.value for kv in status.values}, now)

    def _on_image(self, msg: Any) -> None:
        stamp_ns = stamp_to_ns(msg.header.stamp)
        self.camera.add(stamp_ns)
        if not self.gate.due(stamp_ns):
            return
        if self._jpeg.pending():  # still encoding the last one: this frame is not shown
            self.dropped += 1
            return
        try:
            image, order = colour_image(msg)
        except ImageConversionError as exc:
            self._warn(f'camera image: {exc}')
            return
        self._seq += 1
        seq = self._seq
        self._jpeg.submit(lambda: self._encode(image, order, seq, stamp_ns))

    def _encode(self, image: Any, order: str, seq: int, stamp_ns: int) -> None:
        try:
            frame = encode_jpeg(image, order, self.config.stream_width,
                                self.config.jpeg_quality, seq, stamp_ns)
        except ValueError as exc:
            self._warn(f'camera image: {exc}')
            return
        self._latest = frame
        self.encoded.add(stamp_ns)
        if self.server is not None:
            self.server.push_frame(frame)

    def _tick(self) -> None:
        with self._lock:
            now = self.now()
            self._publish(self.api.tick(now), now)

    def _telemetry(self) -> None:
        now = self.now()
        with self._lock:
            self.api.telemetry.sample(now)
            self.api.telemetry.check_nodes(now)
            state = self.api.state(now)
            events = self.api.drain_events()
        self._announce(events)
        if self.server is not None and self.server.pages:
            self.server.push_state(state)

    def _scan_episodes(self) -> None:
        if not self._scanner.pending():
            self._scanner.submit(self._rescan)

    def _rescan(self) -> None:
        listed = self._episodes.scan()
        with self._lock:
            self.api.episodes = listed

    def _publish_diagnostics(self) -> None:
        with self._lock:
            api = self.api
            values = {'pages': str(sum(1 for c in api.clients.values() if c.kind == 'page')),
                      'controller': api.controller or '', **{
                          f'requests.{k}': str(v) for k, v in api.counts.items()},
                      **self.camera.values('camera'), **self.encoded.values('stream'),
                      'stream.not_shown_busy': str(self.dropped)}
            for client in api.clients.values():
                for key, value in client.stats.items():
                    values[f'{client.id}.{key}'] = f'{value:.1f}'
        if self._process_health is not None:
            values.update(self._process_health())
        level, message = 'OK', f"{values['pages']} consoles open"
        if self.camera.received == 0:
            level, message = 'WARN', 'no camera frames yet on camera/image'
        self._diagnostics(self.bus.msgs.diagnostics(
            self.bus.now_ns(), 'web_console: console', level, message, values))

    def shutdown(self) -> None:
        """Zero for a key held in a page; the server closes its pages."""
        with self._lock:
            self._publish(self.api.stop_drive())
        if self.server is not None:
            self.server.stop()
