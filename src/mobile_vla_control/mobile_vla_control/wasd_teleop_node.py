"""ROS 2 adapter of ``WasdTeleop``: reads the terminal, publishes cmd_vel, mode, recorder control.

Run it in its own terminal (``ros2 run mobile_vla_control wasd_teleop``). Without a
terminal it says how to start it and exits; the terminal is restored on every
exit path, and zero is published before the node goes.
"""

from __future__ import annotations

import sys

import rclpy
from geometry_msgs.msg import Twist
from rcl_interfaces.msg import ParameterDescriptor
from rclpy import qos as rclpy_qos
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import String

from mobile_vla import topics
from mobile_vla.config import ConfigError, declare_node_config, from_params
from mobile_vla_control.keyboard import (
    NO_TERMINAL_HINT,
    NoTerminalError,
    TerminalKeys,
    run_teleop,
)
from mobile_vla_control.teleop import HELP, TeleopConfig, TeleopStep, WasdTeleop


class WasdTeleopNode(Node):
    def __init__(self) -> None:
        super().__init__('wasd_teleop', automatically_declare_parameters_from_overrides=True)
        params = declare_node_config(self, TeleopConfig, ParameterDescriptor)
        self.teleop = WasdTeleop(from_params(TeleopConfig, params))
        self._pubs = {
            topics.TELEOP_CMD_VEL: self.create_publisher(
                Twist, topics.TELEOP_CMD_VEL.name, topics.TELEOP_CMD_VEL.profile(rclpy_qos)),
            topics.CONTROL_MODE: self.create_publisher(
                String, topics.CONTROL_MODE.name, topics.CONTROL_MODE.profile(rclpy_qos)),
            topics.RECORDER_CONTROL: self.create_publisher(
                String, topics.RECORDER_CONTROL.name,
                topics.RECORDER_CONTROL.profile(rclpy_qos)),
        }

    def emit(self, step: TeleopStep, _now: float) -> None:
        for topic, value in step.publish:
            if topic is topics.TELEOP_CMD_VEL:
                msg = Twist()
                msg.linear.x, msg.linear.y, msg.angular.z = value
            else:
                msg = String(data=str(value))
            self._pubs[topic].publish(msg)
        if step.status:
            sys.stdout.write(f'\r{step.status:<78}\n')
            sys.stdout.flush()


def main(args: list[str] | None = None) -> int:
    # Keys are read before ROS starts, so a missing terminal is reported plainly.
    if not sys.stdin.isatty():
        print(f'wasd_teleop: {NO_TERMINAL_HINT}', file=sys.stderr)
        return 1
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    try:
        node = WasdTeleopNode()
        with TerminalKeys() as keys:
            print(HELP)
            run_teleop(keys, node.teleop, node.emit, should_stop=lambda: not rclpy.ok())
    except (KeyboardInterrupt, SystemExit):
        pass
    except NoTerminalError as exc:
        print(f'wasd_teleop: {exc}', file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f'wasd_teleop: configuration error: {exc}', file=sys.stderr)
        return 2
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
