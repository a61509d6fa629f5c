import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mobile_vla.actions import (
    ACTION_LIMIT,
    ACTION_NAMES,
    ACTION_SPACE_2D,
    ACTION_SPACE_3D,
    ActionSpace,
    InvalidActionError,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def test_names_order_and_limit_match_the_robot():
    assert ACTION_NAMES == ('linear_x', 'linear_y', 'angular_z')
    assert ACTION_LIMIT == 1.15
    assert ACTION_SPACE_2D.names == ('linear_x', 'linear_y')
    assert ACTION_SPACE_3D.names == ACTION_NAMES


@pytest.mark.parametrize('dim', [0, 1, 4])
def test_only_2d_and_3d_spaces_exist(dim):
    with pytest.raises(ValueError, match='2 or 3'):
        ActionSpace(dim)


@pytest.mark.parametrize('limit', [0.0, -1.0, math.inf, math.nan])
def test_limit_must_be_positive_and_finite(limit):
    with pytest.raises(ValueError):
        ActionSpace(3, limit)


def test_clamp_clips_each_axis():
    out = ACTION_SPACE_3D.clamp([2.0, -5.0, 0.5])
    np.testing.assert_array_equal(out, [1.15, -1.15, 0.5])


@pytest.mark.parametrize('bad', [
    [math.nan, 0, 0], [0, math.inf, 0], [0, 0, -math.inf],
])
def test_nan_and_inf_are_rejected_everywhere(bad):
    for fn in (ACTION_SPACE_3D.validate, ACTION_SPACE_3D.clamp, ACTION_SPACE_3D.normalize,
               ACTION_SPACE_3D.denormalize):
        with pytest.raises(InvalidActionError, match='NaN or inf'):
            fn(bad)


def test_wrong_shapes_are_rejected_with_the_expected_names():
    with pytest.raises(InvalidActionError, match='linear_x'):
        ACTION_SPACE_3D.validate([1.0, 2.0])
    with pytest.raises(InvalidActionError):
        ACTION_SPACE_2D.validate(1.0)


def test_normalisation_maps_the_key_magnitude_to_one():
    np.testing.assert_allclose(ACTION_SPACE_3D.normalize([1.15, -1.15, 0.0]), [1, -1, 0])
    np.testing.assert_allclose(ACTION_SPACE_2D.denormalize([[1, -0.5]]), [[1.15, -0.575]])


@given(st.lists(st.tuples(finite, finite, finite), min_size=1, max_size=20))
def test_normalised_actions_stay_in_range_and_round_trip(actions):
    arr = np.array(actions)
    norm = ACTION_SPACE_3D.normalize(arr)
    assert np.all(np.abs(norm) <= 1.0)
    back = ACTION_SPACE_3D.denormalize(norm)
    np.testing.assert_allclose(back, ACTION_SPACE_3D.clamp(arr), atol=1e-12)


def test_2d_actions_drive_the_robot_with_zero_rotation():
    np.testing.assert_array_equal(ACTION_SPACE_2D.to_3d([[0.5, -0.2]]), [[0.5, -0.2, 0.0]])
    np.testing.assert_array_equal(ACTION_SPACE_3D.to_3d([0.5, -0.2, 0.1]), [0.5, -0.2, 0.1])
