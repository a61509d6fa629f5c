"""Sources on their own: validity by timeout, the choice by mode, role and priority."""

import pytest

from mobile_vla.actions import ZERO
from mobile_vla_control.arbiter_config import SourceConfig
from mobile_vla_control.sources import Sources

CONFIGS = (SourceConfig('teleop', '/teleop/cmd_vel', 0.5, 100, 'manual'),
           SourceConfig('joystick', 'joy/cmd_vel', 0.5, 100, 'manual'),
           SourceConfig('vla', 'robot/action', 0.5, 50, 'policy'))
GO = (0.5, 0.0, 0.0)


def picked(sources, mode, now, hold=1.0):
    source, reason = sources.pick(mode, now, hold)
    return (source.config.name if source else None), reason


def test_names_and_topics_find_a_source_and_unknown_ones_say_which_exist():
    sources = Sources(CONFIGS)
    assert sources.names == ('teleop', 'joystick', 'vla')
    assert sources.for_topic('teleop/cmd_vel') == 'teleop'
    with pytest.raises(KeyError, match='sources'):
        sources.for_topic('other')
    with pytest.raises(KeyError, match='known'):
        sources.get('other')


def test_a_source_is_valid_until_its_timeout_and_a_rejected_one_is_absent():
    sources = Sources(CONFIGS)
    vla = sources.get('vla')
    vla.accept(GO, 1.0)
    assert vla.valid(1.5) and not vla.valid(1.51) and vla.age(1.2) == pytest.approx(0.2)
    vla.reject()
    assert not vla.valid(1.1) and vla.rejected == 1 and vla.received == 1


def test_the_mode_chooses_the_role_and_priority_then_order_the_source():
    sources = Sources(CONFIGS)
    assert picked(sources, 'vla', 0.0) == (None, 'no_source')
    sources.get('vla').accept(GO, 0.0)
    sources.get('joystick').accept(GO, 0.0)
    sources.get('teleop').accept(GO, 0.0)
    assert picked(sources, 'vla', 0.1) == ('vla', 'source')
    assert picked(sources, 'manual', 0.1) == ('teleop', 'source')  # equal priority: first
    assert picked(sources, 'hybrid', 0.1) == ('teleop', 'source')


def test_hybrid_holds_the_policy_off_after_a_manual_command():
    sources = Sources(CONFIGS)
    sources.get('teleop').accept(GO, 0.0)
    sources.get('teleop').accept(ZERO, 0.2)
    sources.get('vla').accept(GO, 0.5)
    assert picked(sources, 'hybrid', 0.6) == ('teleop', 'source')  # zero, within its hold
    sources.get('vla').accept(GO, 1.05)
    assert picked(sources, 'hybrid', 1.1, hold=1.0) == ('vla', 'source')
    sources.get('teleop').accept(GO, 1.2)
    assert picked(sources, 'hybrid', 1.8) == (None, 'hybrid_hold')  # teleop went stale


def test_quiet_since_is_none_while_anyone_drives_else_the_last_non_zero():
    sources = Sources(CONFIGS)
    assert sources.quiet_since(3.0, 4.0) == 3.0
    sources.get('vla').accept(GO, 3.5)
    assert sources.quiet_since(3.0, 3.6) is None
    assert sources.quiet_since(3.0, 4.1) == 3.5  # stale now: quiet since its last non-zero
    sources.forget()
    assert sources.quiet_since(3.0, 4.1) == 3.0
