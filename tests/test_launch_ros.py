"""The launch file for real, and a bag played into it (only where ROS 2 is installed).

Run in the x86 image (docker/Dockerfile): `python3 -m pytest tests/test_launch_ros.py`.
Here, without ROS 2, the module is skipped.
"""

import os
import subprocess
import time
import unittest
from pathlib import Path

import pytest

pytest.importorskip('launch_testing', reason='needs ROS 2 (launch_testing)')
pytest.importorskip('rclpy', reason='needs ROS 2 (rclpy)')

import launch  # noqa: E402
import launch_testing  # noqa: E402
import launch_testing.actions  # noqa: E402
import rclpy  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402

from mobile_vla.bag import BagWriter  # noqa: E402
from mobile_vla_camera import pattern  # noqa: E402

WORKSPACE = Path(__file__).resolve().parents[1]
BAG = Path(f'/tmp/mobile_vla_launch_test_bag_{os.getpid()}')


@pytest.mark.launch_test
def generate_test_description():
    launch_file = WORKSPACE / 'launch' / 'mobile_vla.launch.py'
    include = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(launch_file)),
        launch_arguments={'namespace': 'robot1', 'mode': 'vla', 'checkpoint': '',
                          'camera_source': 'synthetic', 'record': 'false',
                          'use_sim_time': 'true',
                          'params_file': str(WORKSPACE / 'config' / 'sim.yaml')}.items())
    return launch.LaunchDescription([include, launch_testing.actions.ReadyToTest()])


class TestLaunchedGraph(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node('graph_probe', namespace='robot1')

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def test_cmd_vel_is_published_and_zero_without_a_policy(self):
        received = []
        self.node.create_subscription(Twist, 'cmd_vel', received.append, 10)
        with BagWriter(BAG) as bag:  # an instruction and a clock, played with --clock
            for n in range(60):
                bag.write_image('/robot1/camera/image', pattern.render(n, 72, 96),
                                10**9 + n * 10**9 // 30)
            bag.write_string('/robot1/vla/command', 'go around the box on the left', 10**9)
        player = subprocess.Popen(['ros2', 'bag', 'play', '--clock', str(BAG)])
        end = time.monotonic() + 30
        while time.monotonic() < end and len(received) < 20:
            rclpy.spin_once(self.node, timeout_sec=0.1)
        player.wait(timeout=30)
        self.assertGreaterEqual(len(received), 20)
        # checkpoint:='' and no preset: the policy publishes zero, so does the arbiter
        self.assertTrue(all(m.linear.x == 0.0 and m.linear.y == 0.0 for m in received))
