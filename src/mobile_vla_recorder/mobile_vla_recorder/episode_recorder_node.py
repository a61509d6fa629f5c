"""``episode_recorder``: the recorder's wiring (``wiring.RecorderWiring``) under rclpy.

Episodes are written by a worker thread (atomically), so camera input is never
dropped while a file is written; on shutdown an episode in progress is kept if it
may be, and pending writes finish.
"""

from __future__ import annotations

import sys

from mobile_vla.ros_bus import run_node
from mobile_vla_recorder.wiring import RecorderWiring


def main(args: list[str] | None = None) -> int:
    return run_node('episode_recorder', RecorderWiring, args)


if __name__ == '__main__':
    sys.exit(main())
