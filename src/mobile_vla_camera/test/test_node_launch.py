"""launch_testing: what only `ros2 launch` on a ROS host shows for the camera node: the
executable installed in its package starts from launch, reports on /diagnostics, and exits
cleanly when launch shuts it down. What the node does is tested once, under rclpy and real
DDS, in tests/test_nodes_rclpy.py. Skipped where launch_testing is missing (PyPI has no
wheels).

Runs in the docker/ image: `colcon test --packages-select mobile_vla_camera`.
"""

import unittest

import pytest

pytest.importorskip('launch_testing', reason='needs ROS 2 (launch_testing)')
pytest.importorskip('rclpy', reason='needs ROS 2 (rclpy)')

import launch  # noqa: E402
import launch_ros.actions  # noqa: E402
import launch_testing  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402

from mobile_vla.ros_bus import wait_for_status  # noqa: E402

STATUS = 'camera_publisher: camera'


@pytest.mark.launch_test
def generate_test_description():
    node = launch_ros.actions.Node(
        package='mobile_vla_camera', executable='camera_publisher', name='camera_publisher',
        parameters=[{'source': 'synthetic'}],
        output='screen')
    return launch.LaunchDescription([node, launch_testing.actions.ReadyToTest()]), {'node': node}


class TestStartsFromLaunch(unittest.TestCase):
    def test_reports_on_diagnostics(self):
        self.assertIn(STATUS, wait_for_status(STATUS, 30.0))


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_exit_code(self, proc_info, node):
        launch_testing.asserts.assertExitCodes(proc_info, process=node)
