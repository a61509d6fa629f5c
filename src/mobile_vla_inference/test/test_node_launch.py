"""launch_testing: the inference node under ROS 2 (skipped where rclpy is missing).

Without a checkpoint it must still come up and publish zero with the reason.
"""

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
from geometry_msgs.msg import Twist  # noqa: E402


@pytest.mark.launch_test
def generate_test_description():
    node = launch_ros.actions.Node(
        package='mobile_vla_inference', executable='vla_inference', name='vla_inference',
        parameters=[{'checkpoint': '/nonexistent/checkpoint', 'rate_hz': 10.0}],
        output='screen')
    return launch.LaunchDescription([node, launch_testing.actions.ReadyToTest()]), {'node': node}


class TestInferenceNode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node('inference_probe')

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def test_zero_actions_and_the_reason_on_diagnostics(self):
        actions, diags = [], []
        self.node.create_subscription(Twist, 'robot/action', actions.append, 10)
        self.node.create_subscription(DiagnosticArray, 'diagnostics', diags.append, 10)
        end = time.monotonic() + 20
        while time.monotonic() < end and (len(actions) < 10 or not diags):
            rclpy.spin_once(self.node, timeout_sec=0.1)
        self.assertGreaterEqual(len(actions), 10)
        self.assertTrue(all(a.linear.x == 0.0 and a.linear.y == 0.0 for a in actions))
        messages = [s.message for d in diags for s in d.status]
        self.assertTrue(any('model not loaded' in m for m in messages), messages)


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_exit_code(self, proc_info, node):
        launch_testing.asserts.assertExitCodes(proc_info, process=node)
