"""launch_testing: what only `ros2 launch` on a ROS host shows for the control arbiter and
the WASD teleop: the executable installed in its package starts from launch, reports on
/diagnostics, and exits cleanly when launch shuts it down; the teleop, started by launch
without a terminal, explains and exits 1. What the node does is tested once, under rclpy
and real DDS, in tests/test_nodes_rclpy.py. Skipped where launch_testing is missing (PyPI
has no wheels).

Runs in the docker/ image: `colcon test --packages-select mobile_vla_control`.
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

STATUS = 'control_arbiter: arbiter'


@pytest.mark.launch_test
def generate_test_description():
    node = launch_ros.actions.Node(
        package='mobile_vla_control', executable='control_arbiter', name='control_arbiter',
        output='screen')
    # stdin from /dev/null even under `launch_test -s`: it must explain, not crash.
    teleop = launch_ros.actions.Node(
        package='mobile_vla_control', executable='wasd_teleop', output='screen',
        prefix='sh -c \'exec "$0" "$@" </dev/null\'')
    return (launch.LaunchDescription([node, teleop, launch_testing.actions.ReadyToTest()]),
            {'node': node, 'teleop': teleop})


class TestStartsFromLaunch(unittest.TestCase):
    def test_reports_on_diagnostics(self):
        self.assertIn(STATUS, wait_for_status(STATUS, 30.0))

    def test_teleop_without_terminal_explains(self, proc_output, teleop):
        proc_output.assertWaitFor('needs an interactive terminal', process=teleop, timeout=10,
                                  stream='stderr')


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_exit_codes(self, proc_info, node, teleop):
        launch_testing.asserts.assertExitCodes(proc_info, process=node)
        launch_testing.asserts.assertExitCodes(proc_info, [1], process=teleop)
