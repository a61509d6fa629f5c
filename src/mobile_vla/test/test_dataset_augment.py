import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mobile_vla.augment import distance_scaled, mirror, photometric
from mobile_vla.dataset import EpisodeWindowDataset
from mobile_vla.episode import Episode, episode_paths, write_episode
from mobile_vla.episode_stats import collect_stats

RNG = np.random.default_rng(8)


def episode(scenario='1box_vert_left', frames=18, name='ep') -> Episode:
    actions = np.zeros((frames, 3), np.float32)
    actions[1::2] = [0.9, 0.5, -0.3]
    return Episode(
        images=RNG.integers(0, 256, (frames, 36, 48, 3), dtype=np.uint8), actions=actions,
        event_types=(['episode_start'] + ['start_action', 'stop_action'] * 9)[:frames],
        scenario=scenario, instruction='go around the box on the left to the cup',
        total_duration=9.0, name=name)


@pytest.fixture
def folder(tmp_path):
    for i, scenario in enumerate(['1box_vert_left', '2box_hori_right', '1box_hori_left']):
        write_episode(tmp_path / f'episode_2026010{i}_000000_{scenario}.h5',
                      episode(scenario, frames=18 if i < 2 else 12))
    return tmp_path


def test_windows_pad_history_and_chunks_with_masks(folder):
    ds = EpisodeWindowDataset(folder, image_size=(24, 32))
    assert len(ds) == 18 + 18 + 12
    first = ds[0]
    assert first['images'].shape == (8, 3, 24, 32) and first['images'].dtype == torch.uint8
    assert first['history_mask'].tolist() == [False] * 7 + [True]
    assert torch.equal(first['images'][0], first['images'][7])  # padded with frame 0
    assert first['actions'].shape == (10, 3) and first['action_mask'].all()
    last = ds[17]
    assert last['action_mask'].tolist() == [True] + [False] * 9
    assert torch.all(last['actions'][1:] == 0)
    np.testing.assert_allclose(ds[1]['actions'][0].numpy(), np.array([0.9, 0.5, -0.3]) / 1.15,
                               rtol=1e-6)


def test_full_windows_of_18_frame_episodes_are_t_7_and_8(folder):
    ds = EpisodeWindowDataset(folder, samples='full', image_size=None, action_dim=2)
    assert [(ds.episodes[e].num_frames, t) for e, t, _ in ds.index] == [(18, 7), (18, 8)] * 2
    sample = ds[0]
    assert sample['images'].shape == (8, 3, 36, 48) and sample['history_mask'].all()
    assert sample['actions'].shape == (10, 2)


def test_pixels_match_the_file_and_workers_open_their_own_handles(folder):
    ds = EpisodeWindowDataset(folder, image_size=None)
    loader = DataLoader(ds, batch_size=4, num_workers=2, shuffle=False)
    batches = list(loader)
    assert sum(len(b['t']) for b in batches) == len(ds)
    from mobile_vla.episode import read_episode
    ep = read_episode(ds.episodes[0].path)
    np.testing.assert_array_equal(batches[0]['images'][3, -1].permute(1, 2, 0).numpy(),
                                  ep.images[3])
    assert ds._handles == {}  # the parent opened nothing


def test_bad_files_are_skipped_with_a_warning(folder):
    (folder / 'episode_20260109_000000_1box_vert_left.h5').write_bytes(b'garbage')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        ds = EpisodeWindowDataset(folder)
    assert len(ds.episodes) == 3 and len(ds.skipped) == 1
    assert any('not a readable HDF5 file' in str(w.message) for w in caught)


def test_mirror_twice_gives_back_the_original():
    ep = episode('2box_vert_left', name='episode_x_2box_vert_left')
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
    ep = episode()
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


def test_stats_count_scenarios_frames_and_actions(folder, tmp_path):
    stats = collect_stats(episode_paths(folder))
    assert stats.episodes == 3 and stats.frames == 48
    assert stats.per_scenario['2box_hori_right'] == 1 and stats.complete == 2
    text = stats.text()
    assert '3 episodes, 48 frames' in text and '1box_vert_left' in text
    png = stats.plot(tmp_path / 'stats.png')
    assert png.stat().st_size > 10_000


def test_mirrored_windows_flip_pixels_actions_and_sides(folder):
    plain = EpisodeWindowDataset(folder, image_size=None, samples='full')
    both = EpisodeWindowDataset(folder, image_size=None, samples='full', mirror=True)
    assert len(both) == 2 * len(plain)
    a, m = plain[0], both[len(plain)]
    assert torch.equal(m['images'], a['images'].flip(-1))
    np.testing.assert_allclose(m['actions'][:, 1:].numpy(), -a['actions'][:, 1:].numpy())
    np.testing.assert_allclose(m['actions'][:, 0].numpy(), a['actions'][:, 0].numpy())
    assert 'right' in m['instruction'] and m['scenario'].endswith('_right')
