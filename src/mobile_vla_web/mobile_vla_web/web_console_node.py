"""``web_console``: the console's wiring (``wiring.WebWiring``) under rclpy, with its server.

The page and the API are served by ``server.ConsoleServer`` on its own thread; the
executor only moves messages. On shutdown a key held in a page gets its zero.
"""

from __future__ import annotations

import sys

from mobile_vla.ros_bus import run_node
from mobile_vla_web.server import ConsoleServer
from mobile_vla_web.wiring import WebWiring


def _serve(wiring: WebWiring) -> ConsoleServer:
    config = wiring.config
    server = ConsoleServer(wiring, config.host, config.port, config.max_message_bytes)
    server.start()
    return server


def _announce(text: str) -> None:
    print(text, flush=True)


def main(args: list[str] | None = None) -> int:
    return run_node('web_console', lambda bus: WebWiring(bus, serve=_serve, announce=_announce),
                    args)


if __name__ == '__main__':
    sys.exit(main())
