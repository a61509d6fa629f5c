"""``sim_robot``: the live simulator's wiring (``live.LiveSimWiring``) under rclpy.

Runs the MuJoCo room in real time as the robot's camera and base; start the real
nodes of the graph beside it (``mobile-vla sim live`` does, with the web console).
"""

from __future__ import annotations

import sys

from mobile_vla.ros_bus import run_node
from mobile_vla_sim.live import LiveSimWiring


def main(args: list[str] | None = None) -> int:
    return run_node('sim_robot', LiveSimWiring, args, publishes_frames=True)


if __name__ == '__main__':
    sys.exit(main())
