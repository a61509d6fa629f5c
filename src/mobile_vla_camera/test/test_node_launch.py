"""launch_testing: the camera node under ROS 2 (skipped where rclpy is missing)."""

import time
import unittest

import pytest

pytest.importorskip('launch_testing', reason='needs ROS 2 (launch_testing)')
pytest.importorskip('rclpy', reason='needs ROS 2 (rclpy)')

import launch  # noqa: E402
import launch_ros.actions  # noqa: E402
import launch_testing  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import rclpy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from mobile_vla.msgs import image_to_numpy  # noqa: E402
from mobile_vla_camera import pattern  # noqa: E402


@pytest.mark.launch_test
def generate_test_description():
    camera = launch_ros.actions.Node(
        package='mobile_vla_camera', executable='camera_publisher', name='camera_publisher',
        parameters=[{'source': 'synthetic', 'width': 640, 'height': 360, 'fps': 30.0}],
        output='screen')
    return (launch.LaunchDescription([camera, launch_testing.actions.ReadyToTest()]),
            {'camera': camera})


class TestCameraNode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node('camera_probe')

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def test_streams_the_pattern_with_diagnostics(self):
        images, diags = [], []
        self.node.create_subscription(Image, 'camera/image', images.append,
                                      qos_profile_sensor_data)
        self.node.create_subscription(DiagnosticArray, 'diagnostics', diags.append, 10)
        end = time.monotonic() + 20
        while time.monotonic() < end and (len(images) < 60 or not diags):
            rclpy.spin_once(self.node, timeout_sec=0.1)
        self.assertGreaterEqual(len(images), 60)
        counters = [pattern.read_counter(image_to_numpy(m), 'rgb') for m in images[-30:]]
        self.assertEqual(counters, sorted(counters))
        self.assertEqual(images[-1].encoding, 'rgb8')
        self.assertEqual(images[-1].header.frame_id, 'camera_optical_frame')
        self.assertTrue(any(s.name.endswith('camera') for d in diags for s in d.status))


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_exit_code(self, proc_info, camera):
        launch_testing.asserts.assertExitCodes(proc_info, process=camera)
