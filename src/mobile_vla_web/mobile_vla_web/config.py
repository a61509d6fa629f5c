"""Parameters of the web console node (``web_console``): one definition per value."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mobile_vla.actions import ACTION_LIMIT
from mobile_vla.config import ConfigError
from mobile_vla.config import documented as _doc
from mobile_vla.planner import MAX_INSTRUCTION_CHARS

#: Ports below this need root; 0 asks the system for a free one (tests).
MIN_PORT = 1024


def console_url(host: str, port: int) -> str:
    """The address a browser on this machine opens for a console bound to ``host``:
    ``localhost`` for the loopback addresses, an IPv6 address in brackets."""
    shown = f'[{host}]' if ':' in host else host
    return f'http://{"localhost" if shown in ("127.0.0.1", "[::1]") else shown}:{port}/'


@dataclass(frozen=True)
class WebConfig:
    """Parameters of the web console node."""

    host: str = _doc('address the server binds to; 127.0.0.1 (this machine only) unless '
                     'you give another on purpose (0.0.0.0: every interface)', '127.0.0.1')
    port: int = _doc('TCP port of the page and the API; 0 picks a free one', 8080)
    token_file: str = _doc('file of the access token; made (0600) with a new token on the '
                           'first start, which prints it once', '~/.config/mobile_vla/web_token')
    watch_needs_token: bool = _doc('true: watching (camera, telemetry, episodes) needs the '
                                   'token too; false: anyone who reaches the port may watch',
                                   True)
    stream_width: int = _doc('camera frames are downscaled to this width for the page', 640)
    stream_fps: float = _doc('at most this many camera frames a second are encoded (once '
                             'each, for every viewer)', 15.0)
    jpeg_quality: int = _doc('JPEG quality of the camera stream, 30-95', 75)
    drive_rate_hz: float = _doc('teleop/cmd_vel rate while a key is held in the page', 10.0)
    drive_timeout_s: float = _doc('a held key that the page stops repeating (it repeats every '
                                  '0.1 s) is released after this: zero goes out, and it drives '
                                  'again only once released; a drive message that arrives '
                                  'later than this (against the fastest of its connection) is '
                                  'dropped', 0.3)
    key_speed: float = _doc('command magnitude of a key at 100 % throttle', ACTION_LIMIT)
    throttle_percent: int = _doc('throttle of a new controller, 10-100 %', 50)
    control_rate: float = _doc('control messages a second a client may send (token bucket)',
                               30.0)
    control_burst: int = _doc('control messages a client may send at once', 30)
    max_message_bytes: int = _doc('largest control message or request body, bytes', 4096)
    max_instruction_chars: int = _doc('longest instruction the console forwards',
                                      MAX_INSTRUCTION_CHARS)
    max_clients: int = _doc('WebSocket clients at once; more are refused', 16)
    control_idle_s: float = _doc('control held by an API client (REST) is released after '
                                 'this long without a control action', 30.0)
    telemetry_rate_hz: float = _doc('state messages a second to each page; they are also '
                                    "the page's heartbeat (see page_stale_s)", 10.0)
    page_stale_s: float = _doc('the page shows itself not live (control, e-stop, telemetry '
                               'and camera greyed, a held key released) when no state message '
                               'came for this long, and greys the camera when no frame came '
                               'for this long (or three stream_fps periods, if longer); '
                               'telemetry_rate_hz x page_stale_s must be at least 2', 0.5)
    state_stale_s: float = _doc('control/state, cmd_vel or robot/action older than this: the '
                                'page shows them as unknown, not their last values', 2.0)
    node_silent_s: float = _doc('a node whose /diagnostics (once a second) stop for this long '
                                'is shown as silent (stopped, hung or gone), loudly', 3.0)
    plot_window_s: float = _doc('seconds of velocity history a new page gets', 10.0)
    recent_instructions: int = _doc('instructions the page offers again', 10)
    episodes_dir: str = _doc("the recorder's output_dir: episodes listed with their "
                             'validation', '~/mobile_vla_episodes')
    episodes_listed: int = _doc('newest episodes listed', 50)

    def __post_init__(self) -> None:
        if not self.host or not re.fullmatch(r'[A-Za-z0-9.:\-\[\]]+', self.host):
            raise ConfigError(f'host must be an address or host name, got {self.host!r}')
        if self.port != 0 and not MIN_PORT <= self.port <= 65535:
            raise ConfigError(f'port must be 0 or {MIN_PORT}-65535, got {self.port}')
        if not 160 <= self.stream_width <= 1920:
            raise ConfigError(f'stream_width must be 160-1920, got {self.stream_width}')
        if not 30 <= self.jpeg_quality <= 95:
            raise ConfigError(f'jpeg_quality must be 30-95, got {self.jpeg_quality}')
        if not 10 <= self.throttle_percent <= 100:
            raise ConfigError(f'throttle_percent must be 10-100, got {self.throttle_percent}')
        if not 0 < self.key_speed <= 10:
            raise ConfigError(f'key_speed must be in (0, 10], got {self.key_speed}')
        for name, low, high in (('stream_fps', 0.5, 60.0), ('drive_rate_hz', 1.0, 100.0),
                                ('drive_timeout_s', 0.05, 2.0), ('control_rate', 0.1, 1000.0),
                                ('control_idle_s', 1.0, 3600.0), ('state_stale_s', 0.1, 60.0),
                                ('page_stale_s', 0.2, 5.0), ('node_silent_s', 1.5, 60.0),
                                ('telemetry_rate_hz', 0.5, 60.0), ('plot_window_s', 1.0, 120.0)):
            value = getattr(self, name)
            if not (math.isfinite(value) and low <= value <= high):
                raise ConfigError(f'{name} must be in [{low}, {high}], got {value}')
        if self.telemetry_rate_hz * self.page_stale_s < 2.0 - 1e-9:
            raise ConfigError('telemetry_rate_hz x page_stale_s must be at least 2: the state '
                              "stream is the page's heartbeat, and a page must not go stale "
                              'between two state messages')
        if self.drive_timeout_s * self.drive_rate_hz < 1.0:
            raise ConfigError('drive_timeout_s must cover at least one drive_rate_hz period')
        for name, low, high in (('control_burst', 1, 1000), ('max_message_bytes', 256, 65536),
                                ('max_instruction_chars', 1, 2000), ('max_clients', 1, 256),
                                ('recent_instructions', 1, 100), ('episodes_listed', 1, 1000)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ConfigError(f'{name} must be {low}-{high}, got {value}')
