"""``wasd_teleop``: reads the terminal, publishes through ``wiring.TeleopWiring`` under rclpy.

Run it in its own terminal (``ros2 run mobile_vla_control wasd_teleop``). Without a
terminal it says how to start it and exits; the terminal is restored on every
exit path, and zero is published (and acknowledged, bounded) before the node goes.
"""

from __future__ import annotations

import sys

import rclpy

from mobile_vla.ros_bus import RosBus, run_node
from mobile_vla_control.keyboard import NO_TERMINAL_HINT, NoTerminalError, TerminalKeys, run_teleop
from mobile_vla_control.teleop import HELP, TeleopStep
from mobile_vla_control.wiring import TeleopWiring


def _drive(_bus: RosBus, wiring: TeleopWiring) -> None:
    def emit(step: TeleopStep, _now: float) -> None:
        wiring.emit(step)
        if step.status:
            sys.stdout.write(f'\r{step.status:<78}\n')
            sys.stdout.flush()

    with TerminalKeys() as keys:
        print(HELP)
        run_teleop(keys, wiring.teleop, emit, should_stop=lambda: not rclpy.ok())


def main(args: list[str] | None = None) -> int:
    # Keys are read before ROS starts, so a missing terminal is reported plainly.
    if not sys.stdin.isatty():
        print(f'wasd_teleop: {NO_TERMINAL_HINT}', file=sys.stderr)
        return 1
    try:
        return run_node('wasd_teleop', TeleopWiring, args, spin=_drive)
    except NoTerminalError as exc:
        print(f'wasd_teleop: {exc}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
