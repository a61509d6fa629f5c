"""ROS 2 adapter of ``ControlArbiter``: subscriptions, the fixed-rate cmd_vel timer, state.

Everything the arbiter decides lives in ``arbiter.py``; this node only maps
messages, parameters, QoS and timers onto it. On shutdown it publishes zero.
"""

from __future__ import annotations

import json
import sys
import time
from functools import partial

import diagnostic_msgs.msg
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist, TwistStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy import qos as rclpy_qos
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from std_msgs.msg import Bool, String

from mobile_vla import topics
from mobile_vla.config import declare_node_config
from mobile_vla.msgs import SecondsSince, twist_to_action
from mobile_vla.node_runtime import KindThrottle, diagnostic_array, spin_node
from mobile_vla_control.arbiter import SOURCE_KEYS, ArbiterConfig, ControlArbiter


class ControlArbiterNode(Node):
    def __init__(self) -> None:
        # Sources are a dynamic group (sources.<name>.*), as in twist_mux, so values
        # from YAML are declared as they come; the config rejects unknown keys.
        super().__init__('control_arbiter',
                         automatically_declare_parameters_from_overrides=True)
        if not self.get_parameters_by_prefix('sources'):
            for source in ArbiterConfig().sources:
                for key in SOURCE_KEYS:
                    self.declare_parameter(f'sources.{source.name}.{key}', getattr(source, key),
                                           ParameterDescriptor(read_only=True))
        params = declare_node_config(self, ArbiterConfig, ParameterDescriptor)
        self.config = ArbiterConfig.from_params(params)
        self._throttle = KindThrottle(self.get_logger().warning, time.monotonic)
        self.arbiter = ControlArbiter(self.config, warn=self._warn)
        self._seconds = SecondsSince()

        cmd_type = TwistStamped if self.config.stamped_output else Twist
        self._cmd_pub = self.create_publisher(cmd_type, topics.CMD_VEL.name,
                                              topics.CMD_VEL.profile(rclpy_qos))
        self._state_pub = self.create_publisher(String, topics.CONTROL_STATE.name,
                                                topics.CONTROL_STATE.profile(rclpy_qos))
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS.name,
                                               topics.DIAGNOSTICS.profile(rclpy_qos))
        for source in self.config.sources:
            self.create_subscription(Twist, source.topic, partial(self._on_twist, source.name),
                                     topics.COMMAND.profile(rclpy_qos))
        self.create_subscription(String, topics.CONTROL_MODE.name, self._on_mode,
                                 topics.CONTROL_MODE.profile(rclpy_qos))
        self.create_subscription(Bool, topics.CONTROL_ESTOP.name, self._on_estop,
                                 topics.CONTROL_ESTOP.profile(rclpy_qos))
        self.create_timer(1.0 / self.config.rate_hz, self._tick)
        self.create_timer(1.0, self._publish_diagnostics)
        sources = ', '.join(f'{s.name}<-{s.topic} ({s.role}, prio {s.priority}, '
                            f'{s.timeout} s)' for s in self.config.sources)
        self.get_logger().info(f'arbiter at {self.config.rate_hz} Hz, mode '
                               f'{self.arbiter.mode}; sources: {sources}')

    def _now(self) -> float:
        return self._seconds(self.get_clock().now().nanoseconds)

    def _warn(self, text: str) -> None:
        self._throttle(text)

    def _on_twist(self, source: str, msg: Twist) -> None:
        self.arbiter.on_command(source, twist_to_action(msg), self._now())

    def _on_mode(self, msg: String) -> None:
        if self.arbiter.on_mode(msg.data, self._now()):
            self.get_logger().info(f'mode -> {self.arbiter.mode}')
        self._publish_state()

    def _on_estop(self, msg: Bool) -> None:
        self.arbiter.on_estop(bool(msg.data), self._now())
        self.get_logger().warning(f'e-stop {"ENGAGED" if msg.data else "release requested"}')
        self._tick()  # zero goes out now, not at the next tick

    def _tick(self) -> None:
        out = self.arbiter.tick(self._now())
        self.publish_command(out.action)
        self._publish_state()

    def publish_command(self, action: tuple[float, float, float]) -> None:
        twist = Twist()
        twist.linear.x, twist.linear.y, twist.angular.z = action
        if self.config.stamped_output:
            msg = TwistStamped()
            msg.header.stamp = self.get_clock().now().to_msg()
            msg.header.frame_id = self.config.frame_id
            msg.twist = twist
            self._cmd_pub.publish(msg)
        else:
            self._cmd_pub.publish(twist)

    def _publish_state(self) -> None:
        now = self._now()
        if self.arbiter.state_due(now):
            self._state_pub.publish(String(data=json.dumps(self.arbiter.state(now))))

    def _publish_diagnostics(self) -> None:
        level, message, values = self.arbiter.diagnostics(self._now())
        self._diag_pub.publish(diagnostic_array(
            diagnostic_msgs.msg, self.get_clock().now().to_msg(),
            f'{self.get_name()}: arbiter', level, message, values))


def main(args: list[str] | None = None) -> int:
    return spin_node(rclpy, ControlArbiterNode, 'control_arbiter',
                     signal_options=SignalHandlerOptions.NO,
                     external_shutdown=ExternalShutdownException,
                     on_exit=lambda node: node.publish_command((0.0, 0.0, 0.0)), args=args)


if __name__ == '__main__':
    sys.exit(main())
