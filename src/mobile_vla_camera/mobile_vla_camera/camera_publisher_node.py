"""ROS 2 adapter of ``CameraPublisher``: a grab thread publishes camera/image (+ camera_info).

The grab loop runs in its own thread, so the executor never waits on the camera;
publishing with sensor-data QoS (best effort, keep last) never blocks on a slow
subscriber. Health goes to /diagnostics once a second.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback

import diagnostic_msgs.msg
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor
from rclpy import qos as rclpy_qos
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image

from mobile_vla import topics
from mobile_vla.config import declare_node_config, from_params
from mobile_vla.msgs import array_buffer
from mobile_vla.node_runtime import KindThrottle, diagnostic_array, spin_node
from mobile_vla_camera.calibration import load_calibration
from mobile_vla_camera.grabber import run_grab_loop
from mobile_vla_camera.publisher import CameraConfig, CameraPublisher, ImageOut


class CameraPublisherNode(Node):
    def __init__(self) -> None:
        super().__init__('camera_publisher',
                         automatically_declare_parameters_from_overrides=True)
        params = declare_node_config(self, CameraConfig, ParameterDescriptor)
        config = from_params(CameraConfig, params)
        calibration = load_calibration(config.calibration_file) \
            if config.calibration_file else None
        self.camera = CameraPublisher(config, calibration, alloc=array_buffer)
        self._lock = threading.Lock()
        self._image_pub = self.create_publisher(Image, topics.CAMERA_IMAGE.name,
                                                topics.CAMERA_IMAGE.profile(rclpy_qos))
        self._info_pub = self.create_publisher(CameraInfo, topics.CAMERA_INFO.name,
                                               topics.CAMERA_INFO.profile(rclpy_qos))
        self._diag_pub = self.create_publisher(DiagnosticArray, topics.DIAGNOSTICS.name,
                                               topics.DIAGNOSTICS.profile(rclpy_qos))
        self.create_timer(1.0, self._publish_diagnostics)
        self._throttle = KindThrottle(self.get_logger().warning, time.monotonic, 2.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._grab, name='camera_grab', daemon=True)
        self._thread.start()
        self.get_logger().info(f'camera source {config.source}, {config.encoding}, '
                               f'frame_id {config.frame_id}')

    def _clock_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _grab(self) -> None:
        try:
            run_grab_loop(self.camera, self._emit, self._clock_ns, time.sleep,
                          should_stop=self._stop.is_set, log=self._throttle, lock=self._lock,
                          info=self.get_logger().info)
        except Exception as exc:  # never take the node down; say what happened
            with self._lock:
                self.camera.failed(f'camera grab loop crashed: {exc!r}', self._clock_ns())
            self.get_logger().error(f'camera grab loop stopped:\n{traceback.format_exc()}')

    def _emit(self, out: ImageOut) -> None:
        stamp = Time(nanoseconds=out.stamp_ns).to_msg()
        msg = Image(**out.fields)
        msg.header.stamp = stamp
        msg.header.frame_id = out.frame_id
        self._image_pub.publish(msg)
        info = self.camera.camera_info(out.fields['width'], out.fields['height'])
        if info is not None:
            info_msg = CameraInfo(**info)
            info_msg.header = msg.header
            self._info_pub.publish(info_msg)

    def _publish_diagnostics(self) -> None:
        with self._lock:
            level, message, values = self.camera.diagnostics(self._clock_ns())
        self._diag_pub.publish(diagnostic_array(
            diagnostic_msgs.msg, self.get_clock().now().to_msg(),
            f'{self.get_name()}: camera', level, message, values,
            hardware_id=self.camera.config.source))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        if self._thread.is_alive():
            self.get_logger().warning('the grab thread is still blocked reading the camera')


def main(args: list[str] | None = None) -> int:
    return spin_node(rclpy, CameraPublisherNode, 'camera_publisher',
                     signal_options=SignalHandlerOptions.NO,
                     external_shutdown=ExternalShutdownException,
                     on_exit=lambda node: node.stop(), args=args)


if __name__ == '__main__':
    sys.exit(main())
