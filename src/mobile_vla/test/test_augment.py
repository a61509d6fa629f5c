"""Episode augmentations: a mirror twice is the original, photometric and distance
copies stay valid episodes."""

import numpy as np
import pytest
from training_data import small_episode

from mobile_vla.augment import distance_scaled, mirror, photometric


def test_mirror_twice_gives_back_the_original():
    ep = small_episode('2box_vert_left', name='episode_x_2box_vert_left')
    once = mirror(ep)
    assert once.scenario == '2box_vert_right'
    assert once.instruction == 'go around the box on the right to the cup'
    np.testing.assert_array_equal(once.images[:, :, 0], ep.images[:, :, -1])
    np.testing.assert_allclose(once.actions[1], [0.9, -0.5, 0.3])
    twice = mirror(once)
    np.testing.assert_array_equal(twice.images, ep.images)
    np.testing.assert_array_equal(twice.actions, ep.actions)
    assert (twice.scenario, twice.instruction, twice.name, twice.event_types) == (
        ep.scenario, ep.instruction, ep.name, ep.event_types)


def test_photometric_and_distance_augmentations_stay_valid():
    ep = small_episode()
    photo = photometric(ep, np.random.default_rng(0))
    photo.check()
    assert not np.array_equal(photo.images, ep.images)
    assert np.all(photo.actions[0] == 0) and np.all(np.abs(photo.actions) <= 1.15)
    assert np.abs(photo.actions[1] - ep.actions[1]).max() < 0.3
    closer = distance_scaled(ep, 1.2)
    closer.check()
    np.testing.assert_allclose(closer.actions[1], [0.9 / 1.2, 0.5, -0.3], rtol=1e-6)
    with pytest.raises(ValueError):
        distance_scaled(ep, 3.0)
