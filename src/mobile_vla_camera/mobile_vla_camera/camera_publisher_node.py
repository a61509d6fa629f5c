"""``camera_publisher``: the camera's wiring (``wiring.CameraWiring``) under rclpy.

The grab loop runs on its own thread, so the executor never waits on the camera. The
node publishes 720p frames, so it gets the shared-memory transport that carries them
whole (``mobile_vla.transport``).
"""

from __future__ import annotations

import sys
import time

from mobile_vla.ros_bus import RosBus, run_node
from mobile_vla_camera.wiring import CameraWiring


def _wire(bus: RosBus) -> CameraWiring:
    wiring = CameraWiring(bus)
    wiring.start_grabbing(time.sleep)
    return wiring


def main(args: list[str] | None = None) -> int:
    return run_node('camera_publisher', _wire, args, publishes_frames=True)


if __name__ == '__main__':
    sys.exit(main())
