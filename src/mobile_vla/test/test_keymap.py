"""The key map is the original data collector's (its table is in the workspace's shared
reference notes: w = 1.15 forward, ..., f / g = throttle by 10), at every throttle."""

import pytest

from mobile_vla.actions import ACTION_LIMIT
from mobile_vla.keymap import (
    KEY_BINDINGS,
    MODE_KEYS,
    STOP_KEYS,
    THROTTLE_KEYS,
    THROTTLE_STEP,
    clamp_throttle,
    key_command,
)
from mobile_vla.topics import CONTROL_MODES

ORIGINAL = {  # at full throttle: REFERENCE.md's table
    'w': (1.15, 0, 0), 'a': (0, 1.15, 0), 's': (-1.15, 0, 0), 'd': (0, -1.15, 0),
    'q': (1.15, 1.15, 0), 'e': (1.15, -1.15, 0), 'z': (-1.15, 1.15, 0),
    'c': (-1.15, -1.15, 0), 'r': (0, 0, 1.15), 't': (0, 0, -1.15),
}


@pytest.mark.parametrize('key', sorted(ORIGINAL))
def test_each_key_drives_as_the_original_at_full_throttle(key):
    assert key_command(key, ACTION_LIMIT, 100) == pytest.approx(ORIGINAL[key])


def test_throttle_scales_a_key_and_no_key_is_zero():
    assert key_command('w', ACTION_LIMIT, 50) == pytest.approx((0.575, 0.0, 0.0))
    assert key_command(None, ACTION_LIMIT, 100) == (0.0, 0.0, 0.0)


def test_the_other_keys_stop_switch_modes_and_step_the_throttle_by_ten():
    assert set(KEY_BINDINGS) == set(ORIGINAL) and STOP_KEYS == {' '}
    assert set(MODE_KEYS.values()) == set(CONTROL_MODES)
    assert MODE_KEYS == {'m': 'manual', 'v': 'vla', 'h': 'hybrid'}
    assert THROTTLE_KEYS == {'f': -1, 'g': +1} and THROTTLE_STEP == 10
    assert [clamp_throttle(p) for p in (0, 10, 55, 100, 250)] == [10, 10, 55, 100, 100]
