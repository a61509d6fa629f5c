"""launch_testing: both nodes under ROS 2 (skipped where rclpy is missing, e.g. plain CI).

Runs in the docker/ image: `colcon test --packages-select mobile_vla_control`.
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
from geometry_msgs.msg import Twist  # noqa: E402
from std_msgs.msg import Bool, String  # noqa: E402


@pytest.mark.launch_test
def generate_test_description():
    arbiter = launch_ros.actions.Node(
        package='mobile_vla_control', executable='control_arbiter', name='control_arbiter',
        parameters=[{'rate_hz': 20.0, 'initial_mode': 'manual'}], output='screen')
    # Started without a terminal (stdin from /dev/null even under `launch_test -s`):
    # it must explain and exit 1, not crash.
    teleop = launch_ros.actions.Node(
        package='mobile_vla_control', executable='wasd_teleop', output='screen',
        prefix='sh -c \'exec "$0" "$@" </dev/null\'')
    return (launch.LaunchDescription([arbiter, teleop, launch_testing.actions.ReadyToTest()]),
            {'arbiter': arbiter, 'teleop': teleop})


class TestArbiterNode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node('arbiter_probe')

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def spin(self, seconds, every=None, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if until is not None and until():
                return True
            if every:
                every()
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return until is None

    def publisher(self, msg_type, topic):
        # Wait until the arbiter's subscription is matched: a message sent before
        # discovery is dropped by a volatile publisher.
        pub = self.node.create_publisher(msg_type, topic, 10)
        self.assertTrue(self.spin(10.0, until=lambda: pub.get_subscription_count() > 0))
        return pub

    def test_zero_without_input_teleop_drives_estop_stops(self):
        received = []
        self.node.create_subscription(Twist, 'cmd_vel', received.append, 10)
        states = []
        self.node.create_subscription(String, 'control/state', states.append, 10)
        # The node may still be starting: wait for its first message, then count.
        self.assertTrue(self.spin(15.0, until=lambda: received), 'no cmd_vel at all')
        received.clear()
        self.spin(1.5)
        self.assertGreater(len(received), 10, 'cmd_vel must be published with no input')
        self.assertTrue(all(m.linear.x == 0.0 and m.linear.y == 0.0 for m in received))
        self.assertTrue(states, 'control/state is published')

        teleop = self.publisher(Twist, 'teleop/cmd_vel')
        forward = Twist()
        forward.linear.x = 0.5
        received.clear()
        self.spin(1.5, every=lambda: teleop.publish(forward))
        self.assertAlmostEqual(received[-1].linear.x, 0.5, places=6)

        estop = self.publisher(Bool, 'control/estop')
        estop.publish(Bool(data=True))
        received.clear()
        self.spin(1.0, every=lambda: teleop.publish(forward))
        self.assertEqual(received[-1].linear.x, 0.0)

    def test_teleop_without_terminal_explains(self, proc_output, teleop):
        proc_output.assertWaitFor('needs an interactive terminal', process=teleop, timeout=10,
                                  stream='stderr')


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_exit_codes(self, proc_info, arbiter, teleop):
        launch_testing.asserts.assertExitCodes(proc_info, process=arbiter)
        launch_testing.asserts.assertExitCodes(proc_info, [1], process=teleop)
