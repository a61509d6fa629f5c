"""``control_arbiter``: the arbiter's wiring (``wiring.ArbiterWiring``) under rclpy.

Everything the arbiter decides lives in ``arbiter.py``; what it subscribes,
publishes and ticks lives in ``wiring.py``. On shutdown it publishes zero.
"""

from __future__ import annotations

import sys

from mobile_vla.ros_bus import run_node
from mobile_vla_control.wiring import ArbiterWiring


def main(args: list[str] | None = None) -> int:
    return run_node('control_arbiter', ArbiterWiring, args)


if __name__ == '__main__':
    sys.exit(main())
