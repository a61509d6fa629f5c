"""KindThrottle, the per-kind warning throttle every node's wiring uses.

The nodes' start, signals and shutdown run under real rclpy in tests/test_nodes_rclpy.py.
"""

from mobile_vla.node_runtime import KindThrottle


def test_kind_throttle_lets_each_kind_through_once_a_period():
    out, now = [], [0.0]
    throttle = KindThrottle(out.append, lambda: now[0], period_s=1.0)
    assert throttle('rejected command from vla: nan')
    assert not throttle('rejected command from vla: inf')
    assert throttle('clock went back 2.0 s: inputs cleared')  # another kind passes
    now[0] = 1.5
    assert throttle('rejected command from vla: 1e9')
    assert out == ['rejected command from vla: nan', 'clock went back 2.0 s: inputs cleared',
                   'rejected command from vla: 1e9']
