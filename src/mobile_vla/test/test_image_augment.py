"""The trainer's image augmentation: each factor does what its name says, draws are
per episode copy, clean copies stay bit-identical, and a seed gives the same copy."""

import dataclasses

import numpy as np
import torch

from mobile_vla.augment import ImageAugment
from mobile_vla.training.image_augment import Draw, augment, augment_frames, draw

NONE = Draw(brightness=0.0, contrast=1.0, saturation=1.0, hue=0.0, blur=0.0, noise=0.0,
            zoom=1.0, shift_x=0.0, shift_y=0.0)


def frames(count=3, size=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(40, 200, (count, 3, size, size), dtype=np.uint8)
    return torch.from_numpy(x)


def test_a_draw_of_no_change_changes_nothing_and_clean_copies_stay_bit_identical():
    x = frames(4)
    same = augment(x, [(4, NONE)])
    assert (same.int() - x.int()).abs().max() <= 1  # rounding only
    brighter = dataclasses.replace(NONE, brightness=0.2)
    out = augment(x, [(2, None), (2, brighter)])
    assert torch.equal(out[:2], x[:2])
    assert 45 <= (out[2:].float() - x[2:].float()).mean() <= 51  # 0.2 of 255


def test_each_factor_moves_the_pixels_its_way():
    x = frames(1)
    grey = augment(x, [(1, dataclasses.replace(NONE, saturation=0.0))]).float()
    assert (grey.max(dim=1).values - grey.min(dim=1).values).max() <= 2  # R = G = B
    red = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    red[:, 0] = 200
    turned = augment(red, [(1, dataclasses.replace(NONE, hue=0.5))]).float().mean(dim=(2, 3))
    assert turned[0, 0] < turned[0, 1] and turned[0, 0] < turned[0, 2]  # red -> cyan
    flat = augment(x, [(1, dataclasses.replace(NONE, contrast=0.5))]).float()
    assert flat.std() < 0.6 * x.float().std()
    soft = augment(x, [(1, dataclasses.replace(NONE, blur=1.5))]).float()
    assert soft.std() < 0.7 * x.float().std()
    noisy = augment(x, [(1, dataclasses.replace(NONE, noise=20.0))]).float()
    assert 15 < (noisy - x.float()).std() < 25
    column = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    column[..., 10] = 255
    moved = augment(column, [(1, dataclasses.replace(NONE, shift_x=0.25))]).float()
    assert moved[0, 0, 16].argmax() == 18  # 0.25 of the width: 8 pixels to the right
    zoomed = augment(column, [(1, dataclasses.replace(NONE, zoom=1.5))]).float()
    assert zoomed[0, 0, 16].argmax() in (7, 8)  # away from the centre: 16 - 1.5 * 5.5


def test_one_draw_per_copy_and_a_seed_gives_the_same_copy():
    config = ImageAugment()
    a = draw(np.random.default_rng(1), config)
    assert a == draw(np.random.default_rng(1), config)
    assert a != draw(np.random.default_rng(2), config)
    clip = np.random.default_rng(0).integers(0, 255, (5, 24, 24, 3), dtype=np.uint8)
    one = augment_frames(clip, np.random.default_rng(7), config)
    assert one.shape == clip.shape and one.dtype == np.uint8
    np.testing.assert_array_equal(one, augment_frames(clip, np.random.default_rng(7), config))
    assert not np.array_equal(one, augment_frames(clip, np.random.default_rng(8), config))
    off = ImageAugment(**{f.name: 0.0 for f in dataclasses.fields(ImageAugment)})
    assert np.abs(augment_frames(clip, np.random.default_rng(7), off).astype(int)
                  - clip.astype(int)).max() <= 1
