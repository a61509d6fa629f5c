"""launch_testing: the recorder node records an episode under ROS 2 (skipped without rclpy)."""

import array
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
import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from mobile_vla.episode import episode_paths, validate_episode  # noqa: E402

OUTPUT = f'/tmp/mobile_vla_recorder_launch_test_{int(time.time())}'


@pytest.mark.launch_test
def generate_test_description():
    recorder = launch_ros.actions.Node(
        package='mobile_vla_recorder', executable='episode_recorder', name='episode_recorder',
        parameters=[{'output_dir': OUTPUT, 'min_free_mb': 0.0}], output='screen',
        sigterm_timeout='35')  # time to finish writing an episode on shutdown
    return (launch.LaunchDescription([recorder, launch_testing.actions.ReadyToTest()]),
            {'recorder': recorder})


class TestRecorderNode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node('recorder_probe')

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def test_records_an_episode_from_live_topics(self):
        image_pub = self.node.create_publisher(Image, 'camera/image', qos_profile_sensor_data)
        cmd_pub = self.node.create_publisher(Twist, 'cmd_vel', 1)
        control_pub = self.node.create_publisher(String, 'recorder/control', 10)
        pubs = (image_pub, cmd_pub, control_pub)
        end = time.monotonic() + 15
        while time.monotonic() < end and not all(p.get_subscription_count() for p in pubs):
            rclpy.spin_once(self.node, timeout_sec=0.1)
        self.assertTrue(all(p.get_subscription_count() for p in pubs), 'recorder not found')

        def frame():
            msg = Image(height=48, width=64, encoding='rgb8', step=64 * 3)
            msg.data = array.array('B', np.random.randint(0, 255, 48 * 64 * 3, np.uint8).tobytes())
            msg.header.stamp = self.node.get_clock().now().to_msg()
            image_pub.publish(msg)

        def drive(seconds, x):
            stop = time.monotonic() + seconds
            while time.monotonic() < stop:
                frame()
                twist = Twist()
                twist.linear.x = x
                cmd_pub.publish(twist)
                rclpy.spin_once(self.node, timeout_sec=0.05)

        drive(1.0, 0.0)
        control_pub.publish(String(data='start 1box_vert_left'))
        for _ in range(3):
            drive(0.4, 1.15)
            drive(0.4, 0.0)
        control_pub.publish(String(data='stop'))
        end = time.monotonic() + 15
        while time.monotonic() < end and not episode_paths(OUTPUT):
            drive(0.2, 0.0)
        paths = episode_paths(OUTPUT)
        self.assertEqual(len(paths), 1)
        self.assertEqual(validate_episode(paths[0]), [])


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_exit_code(self, proc_info, recorder):
        launch_testing.asserts.assertExitCodes(proc_info, process=recorder)
