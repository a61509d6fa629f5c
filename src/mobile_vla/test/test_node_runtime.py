"""spin_node and diagnostic_array against stand-ins with rclpy's call surface.

The real rclpy runs in the packages' launch_testing tests where ROS 2 exists; here the
stand-ins record calls so the exit paths (Ctrl-C, config error, shutdown) are checked.
"""

import signal
from types import SimpleNamespace

import pytest

from mobile_vla.config import ConfigError
from mobile_vla.node_runtime import KindThrottle, diagnostic_array, spin_node


class ExternalShutdown(Exception):
    pass


class Rclpy:
    def __init__(self, spin_error):
        self.calls = []
        self.spin_error = spin_error

    def init(self, args=None, signal_handler_options=None):
        self.calls.append(('init', signal_handler_options))

    def spin(self, node):
        self.calls.append(('spin', node.name))
        raise self.spin_error

    def try_shutdown(self):
        self.calls.append(('try_shutdown',))


class Node:
    def __init__(self, log):
        self.name, self.log = 'demo', log

    def destroy_node(self):
        self.log.append(('destroy',))


@pytest.mark.parametrize('error', [KeyboardInterrupt(), ExternalShutdown()])
def test_interrupts_run_on_exit_before_destroy_and_exit_zero(error):
    rclpy = Rclpy(error)
    code = spin_node(rclpy, lambda: Node(rclpy.calls), 'demo', signal_options='NO',
                     external_shutdown=ExternalShutdown,
                     on_exit=lambda node: rclpy.calls.append(('publish zero',)))
    assert code == 0
    assert rclpy.calls == [('init', 'NO'), ('spin', 'demo'), ('publish zero',), ('destroy',),
                           ('try_shutdown',)]
    # During clean-up further signals are ignored, so they cannot cut it short.
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def test_config_errors_end_with_one_line_and_code_2(capsys):
    rclpy = Rclpy(None)

    def make_node():
        raise ConfigError('rate_hz must be > 0, got -1')

    code = spin_node(rclpy, make_node, 'demo', signal_options='NO',
                     external_shutdown=ExternalShutdown)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    assert code == 2
    assert capsys.readouterr().err == 'demo: configuration error: rate_hz must be > 0, got -1\n'
    assert rclpy.calls == [('init', 'NO'), ('try_shutdown',)]


def test_other_errors_are_not_swallowed():
    rclpy = Rclpy(RuntimeError('bug'))
    with pytest.raises(RuntimeError, match='bug'):
        spin_node(rclpy, lambda: Node(rclpy.calls), 'demo', signal_options='NO',
                  external_shutdown=ExternalShutdown)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    assert rclpy.calls[-2:] == [('destroy',), ('try_shutdown',)]


def test_diagnostic_array_fills_one_status():
    class Status(SimpleNamespace):
        OK, WARN, ERROR, STALE = b'\x00', b'\x01', b'\x02', b'\x03'

    msgs = SimpleNamespace(
        DiagnosticStatus=Status, KeyValue=SimpleNamespace,
        DiagnosticArray=lambda status: SimpleNamespace(status=status,
                                                       header=SimpleNamespace(stamp=None)))
    array = diagnostic_array(msgs, 'stamp', 'camera', 'WARN', 'slow', {'rate_hz': 12.5})
    [status] = array.status
    assert array.header.stamp == 'stamp'
    assert (status.level, status.name, status.message) == (b'\x01', 'camera', 'slow')
    assert [(kv.key, kv.value) for kv in status.values] == [('rate_hz', '12.5')]
    with pytest.raises(ValueError, match='level'):
        diagnostic_array(msgs, 'stamp', 'camera', 'FINE', '', {})


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
