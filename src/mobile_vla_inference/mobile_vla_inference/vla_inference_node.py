"""ROS 2 adapter of ``VlaInference``: newest frame in, robot/action out from a worker thread.

The image callback only stores the newest frame and its stamp (sensor-data QoS,
depth 1); the policy runs at ``rate_hz`` in its own thread, never in a callback
and never blocking the executor. Zero is published, with the reason on
/diagnostics, whenever the model, the instruction or the frame is missing, stale
or failing. The model loads in the worker, so the node is up (publishing zero)
while a large checkpoint loads.
"""

from __future__ import annotations

import resource
import sys
import threading
import time

import diagnostic_msgs.msg
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from rcl_interfaces.msg import ParameterDescriptor
from rclpy import qos as rclpy_qos
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image
from std_msgs.msg import String

from mobile_vla import topics
from mobile_vla.config import declare_node_config, from_params
from mobile_vla.msgs import ImageConversionError, image_to_numpy, stamp_to_ns
from mobile_vla.node_runtime import KindThrottle, diagnostic_array, spin_node
from mobile_vla_inference.inference import InferenceConfig, VlaInference, load_runner
from mobile_vla_inference.wiring import CHANNEL_ORDER

NS = 1e9


def memory_mb() -> dict[str, str]:
    """Resident memory now and at peak (the original's memory monitoring), and CUDA's."""
    values = {}
    try:
        with open('/proc/self/status', encoding='ascii') as status:
            for line in status:
                if line.startswith('VmRSS:'):
                    values['rss_mb'] = f'{int(line.split()[1]) / 1024:.0f}'
    except OSError:
        pass
    values['peak_rss_mb'] = f'{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}'
    try:
        import torch

        if torch.cuda.is_available():
            values['cuda_allocated_mb'] = f'{torch.cuda.memory_allocated() / 2**20:.0f}'
            values['cuda_peak_mb'] = f'{torch.cuda.max_memory_allocated() / 2**20:.0f}'
    except ImportError:
        pass
    return values


class VlaInferenceNode(Node):
    def __init__(self) -> None:
        super().__init__('vla_inference', automatically_declare_parameters_from_overrides=True)
        params = declare_node_config(self, InferenceConfig, ParameterDescriptor)
        self.config = from_params(InferenceConfig, params)
        self.inference = VlaInference(self.config, load_runner)
        self._lock = threading.Lock()
        self._throttle = KindThrottle(self.get_logger().warning, time.monotonic, 2.0)
        self._action_pub = self.create_publisher(Twist, topics.ROBOT_ACTION.name,
                                                 topics.ROBOT_ACTION.profile(rclpy_qos))
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS.name,
                                               topics.DIAGNOSTICS.profile(rclpy_qos))
        # The newest frame only: depth 1, best effort.
        self.create_subscription(Image, topics.CAMERA_IMAGE.name, self._on_image,
                                 topics.QosIntent('best_effort', 'volatile', 1)
                                 .profile(rclpy_qos))
        self.create_subscription(String, topics.VLA_COMMAND.name, self._on_instruction,
                                 topics.VLA_COMMAND.profile(rclpy_qos))
        self.create_timer(1.0, self._publish_diagnostics)
        self._steps: list[float] = []
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name='vla_policy', daemon=True)
        self._worker.start()

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds / NS

    def _on_image(self, msg: Image) -> None:
        order = CHANNEL_ORDER.get(msg.encoding)
        if order is None:
            self._throttle(f'camera encoding: {msg.encoding} is not supported; publish rgb8 '
                           'or bgr8')
            return
        try:
            image = image_to_numpy(msg)
        except ImageConversionError as exc:
            self._throttle(f'camera image: {exc}')
            return
        with self._lock:
            self.inference.on_image(image, order, stamp_to_ns(msg.header.stamp) / NS)

    def _on_instruction(self, msg: String) -> None:
        with self._lock:
            self.inference.on_instruction(msg.data)
        self.get_logger().info(f'instruction: {msg.data!r}')

    def publish_action(self, action) -> None:
        twist = Twist()
        twist.linear.x, twist.linear.y, twist.angular.z = (float(v) for v in action)
        self._action_pub.publish(twist)

    def _run(self) -> None:
        self.publish_action((0.0, 0.0, 0.0))
        if self.inference.load():
            if self.config.checkpoint:
                self.get_logger().info(f'policy loaded from {self.config.checkpoint} '
                                       f'({self.inference.runner.engine.name})')
            else:
                self.get_logger().warning(f'UNTRAINED {self.config.preset} policy: for graph '
                                          'tests only, its actions are meaningless')
        else:
            self.get_logger().error(f'policy not loaded: {self.inference.load_error}; '
                                    'publishing zero')
        period = 1.0 / self.config.rate_hz
        next_t = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                out = self.inference.step(self._now())
            self.publish_action(out.action)
            if out.reason:
                self._throttle(f'zero action: {out.reason}')
            self._steps.append(time.monotonic())
            next_t += period
            delay = next_t - time.monotonic()
            if delay < -period:  # overran by more than a period: do not try to catch up
                next_t = time.monotonic()
            self._stop.wait(max(0.0, delay))

    def _publish_diagnostics(self) -> None:
        with self._lock:
            level, message, values = self.inference.diagnostics(self._now())
        now = time.monotonic()
        recent = [t for t in self._steps if now - t <= 5.0]
        self._steps = recent
        rate = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and \
            recent[-1] > recent[0] else 0.0
        values = {**values, 'rate_hz': f'{rate:.2f}', **memory_mb()}
        self._diag_pub.publish(diagnostic_array(
            diagnostic_msgs.msg, self.get_clock().now().to_msg(),
            f'{self.get_name()}: policy', level, message, values))

    def stop(self) -> None:
        self._stop.set()
        self._worker.join(timeout=5.0)
        self.publish_action((0.0, 0.0, 0.0))


def main(args: list[str] | None = None) -> int:
    return spin_node(rclpy, VlaInferenceNode, 'vla_inference',
                     signal_options=SignalHandlerOptions.NO,
                     external_shutdown=ExternalShutdownException,
                     on_exit=lambda node: node.stop(), args=args)


if __name__ == '__main__':
    sys.exit(main())
