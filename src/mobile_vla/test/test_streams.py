import numpy as np

from mobile_vla.streams import StreamMonitor
from mobile_vla.units import MS


def feed(monitor, stamps_ms):
    return [monitor.add(int(t * MS)) for t in stamps_ms]


def test_steady_stream_has_its_rate_and_no_misses():
    monitor = StreamMonitor()
    feed(monitor, [i * 1000 / 30 for i in range(91)])
    assert monitor.received == 91 and monitor.missed == 0
    assert abs(monitor.rate_hz() - 30.0) < 0.01


def test_gaps_count_the_messages_that_should_have_been_there():
    monitor = StreamMonitor()
    stamps = [i * 33.3 for i in range(10)] + [i * 33.3 for i in range(13, 20)]
    missed = feed(monitor, stamps)
    assert monitor.missed == 3
    assert missed[10] == 3 and sum(missed) == 3


def test_jitter_is_not_a_gap():
    monitor = StreamMonitor()
    rng = np.random.default_rng(3)
    stamps = np.arange(300) * 1000 / 30 + rng.uniform(-8, 8, 300)  # +-8 ms on 33 ms
    feed(monitor, stamps)
    assert monitor.missed == 0


def test_a_camera_that_slows_down_sets_a_new_typical_interval():
    monitor = StreamMonitor()
    fast = [i * 1000 / 30 for i in range(60)]
    slow = [fast[-1] + (i + 1) * 1000 / 15 for i in range(120)]
    missed = feed(monitor, fast + slow)
    assert 1 <= monitor.missed <= 20  # while the median catches up, then none
    assert sum(missed[-100:]) == 0


def test_no_typical_interval_yet_means_no_misses():
    monitor = StreamMonitor()
    assert feed(monitor, [0, 10, 500]) == [0, 0, 0]


def test_a_stamp_going_back_restarts_the_count():
    monitor = StreamMonitor()
    feed(monitor, [0, 33, 66, 100, 133, 10, 43, 76, 110])
    assert monitor.restarts == 1 and monitor.missed == 0
    assert monitor.values('frames')['frames.received'] == '9'
