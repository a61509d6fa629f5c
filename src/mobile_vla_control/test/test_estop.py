"""EstopLatch on its own: engage, a release request, and the quiet hold before release."""

import pytest

from mobile_vla_control.arbiter_config import SourceConfig
from mobile_vla_control.estop import EstopLatch
from mobile_vla_control.sources import Sources

CONFIGS = (SourceConfig('teleop', 'teleop/cmd_vel', 0.5, 100, 'manual'),
           SourceConfig('vla', 'robot/action', 0.5, 50, 'policy'))


def test_engage_counts_once_and_a_release_waits_for_quiet_sources():
    latch, sources = EstopLatch(release_hold_s=0.5), Sources(CONFIGS)
    assert latch.engage() == 'ENGAGED' and latch.engage() is None and latch.count == 1
    assert latch.release_if_quiet(10.0, sources) is None  # nobody asked
    assert latch.request_release(1.0, starting=False) == 'release requested'
    assert latch.request_release(1.1, starting=False) is None
    sources.get('vla').accept((0.3, 0.0, 0.0), 1.2)
    assert latch.release_if_quiet(1.3, sources) is None  # the policy still drives
    sources.get('vla').accept((0.0, 0.0, 0.0), 1.4)
    # Quiet counts from its last non-zero command (1.2 s), not from the zero.
    assert latch.release_if_quiet(1.65, sources) is None
    assert latch.release_if_quiet(1.75, sources) == pytest.approx(0.55)
    assert not latch.latched and not latch.release_requested


def test_a_release_during_start_up_is_ignored_and_an_engage_cancels_a_request():
    latch, sources = EstopLatch(release_hold_s=0.5), Sources(CONFIGS)
    latch.engage()
    assert latch.request_release(0.1, starting=True) == 'release ignored during start-up'
    assert not latch.release_requested
    latch.request_release(2.0, starting=False)
    assert latch.engage() == 'ENGAGED' and not latch.release_requested and latch.count == 1
    assert latch.release_if_quiet(9.0, sources) is None


def test_a_clock_that_went_back_restarts_the_hold():
    latch, sources = EstopLatch(release_hold_s=0.5), Sources(CONFIGS)
    latch.engage()
    latch.request_release(5.0, starting=False)
    latch.restart_hold(1.0)
    assert latch.release_if_quiet(1.4, sources) is None
    assert latch.release_if_quiet(1.5, sources) == 0.5
