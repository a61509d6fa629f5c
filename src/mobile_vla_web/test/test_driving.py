"""HeldKey on its own: a new key at once, repeats at drive_rate_hz, a lapse, a release."""

import pytest

from mobile_vla import topics
from mobile_vla.actions import ZERO
from mobile_vla_web.config import WebConfig
from mobile_vla_web.driving import HeldKey

CONFIG = WebConfig(drive_rate_hz=10.0, drive_timeout_s=0.3, key_speed=1.0, throttle_percent=50)


def sent(publish):
    return [value for topic, value in publish if topic is topics.TELEOP_CMD_VEL]


def test_a_new_key_goes_out_at_once_and_the_same_key_again_does_not():
    held = HeldKey(CONFIG)
    assert sent(held.press('w', 0.0)) == [(0.5, 0.0, 0.0)]  # 50 % throttle
    assert held.press('w', 0.05) == []
    assert sent(held.press('a', 0.1)) == [(0.0, 0.5, 0.0)]


def test_the_held_key_repeats_each_period_and_skips_missed_ones():
    held = HeldKey(CONFIG)
    held.press('w', 0.0)
    assert held.repeat(0.05) == []
    assert sent(held.repeat(0.1)) == [(0.5, 0.0, 0.0)]
    assert held.repeat(0.15) == []
    assert len(held.repeat(0.45)) == 1  # 0.2, 0.3 and 0.4 were missed: one, not three
    assert held.repeat(0.49) == [] and len(held.repeat(0.5)) == 1


def test_a_key_lapses_unless_sent_again_within_the_timeout():
    held = HeldKey(CONFIG)
    held.press('w', 0.0)
    assert not held.lapsed(0.29)
    held.press('w', 0.2)  # the page's repeat
    assert not held.lapsed(0.45) and held.lapsed(0.5)
    assert not HeldKey(CONFIG).lapsed(5.0)  # no key held, nothing lapses


def test_a_release_sends_zero_once_and_a_throttle_change_reaches_a_held_key():
    held = HeldKey(CONFIG)
    assert held.set_throttle(80) == [] and held.throttle == 80
    held.press('w', 0.0)
    assert sent(held.set_throttle(100)) == [(1.0, 0.0, 0.0)]
    assert sent(held.release()) == [ZERO] and held.key is None
    assert held.release() == []
    assert held.command == pytest.approx(ZERO)
