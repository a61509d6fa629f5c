"""Episode windows for training (``EpisodeWindowDataset``): history padding and chunk
masks, the pixels of the file, bad files skipped, mirrored windows, and the cut of the
stop phase that ends an episode."""

import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from training_data import small_episode

from mobile_vla.dataset import EpisodeWindowDataset, cut_stop_phase, stop_length
from mobile_vla.episode import write_episode


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


def test_mirrored_windows_flip_pixels_actions_and_sides(folder):
    plain = EpisodeWindowDataset(folder, image_size=None, samples='full')
    both = EpisodeWindowDataset(folder, image_size=None, samples='full', mirror=True)
    assert len(both) == 2 * len(plain)
    a, m = plain[0], both[len(plain)]
    assert torch.equal(m['images'], a['images'].flip(-1))
    np.testing.assert_allclose(m['actions'][:, 1:].numpy(), -a['actions'][:, 1:].numpy())
    np.testing.assert_allclose(m['actions'][:, 0].numpy(), a['actions'][:, 0].numpy())
    assert 'right' in m['instruction'] and m['scenario'].endswith('_right')


def _actions(pattern: str) -> np.ndarray:
    """One row per character: '-' a zero action, 'm' a move."""
    return np.array([[0.0, 0.0, 0.0] if c == '-' else [0.5, 0.2, 0.0] for c in pattern],
                    np.float32)


@pytest.mark.parametrize('pattern, stop_frames, kept', [
    ('-mmmmm------', 2, 8),      # the expert held at the cup: two frames of it stay
    ('-mmmmm------', 1, 7),
    ('-mmmmm------', 0, 12),     # 0 keeps whole episodes
    ('-mmmmm------', 9, 12),     # more than the stop holds: nothing to cut
    ('m-m-m-m-m---', 2, 11),     # key presses with stops between: only the final stop
    ('-mmm--mmm---', 1, 10),     # a pause on the way is not the end
    ('-m-m-m-m-m-m', 2, 12),     # ends moving
    ('------------', 2, 12),     # never moves
])
def test_stop_length_cuts_only_the_stop_that_ends_the_episode(pattern, stop_frames, kept):
    assert stop_length(_actions(pattern), stop_frames) == kept


def test_cut_episodes_keep_their_frames_actions_and_events_in_step():
    ep = small_episode(frames=18)
    ep.actions[:] = _actions('-mmmmmmmmmm-------')
    cut = cut_stop_phase(ep, 2)
    assert cut.num_frames == 13 and len(cut.actions) == len(cut.event_types) == 13
    np.testing.assert_array_equal(cut.images, ep.images[:13])
    assert cut.total_duration == pytest.approx(ep.total_duration * 13 / 18)
    cut.check()
    assert cut_stop_phase(ep, 0) is ep


def test_windows_end_at_the_cut(tmp_path):
    ep = small_episode(frames=18)
    ep.actions[:] = _actions('-mmmmmmmmmm-------')
    write_episode(tmp_path / 'episode_20260101_000000_1box_vert_left.h5', ep)
    ds = EpisodeWindowDataset(tmp_path, image_size=None, stop_frames=2)
    assert ds.episodes[0].num_frames == 13 and len(ds) == 13
    last = ds[12]
    assert last['action_mask'].tolist() == [True] + [False] * 9
    assert torch.all(last['actions'][0] == 0)  # the stop frame itself is trained on
    assert len(EpisodeWindowDataset(tmp_path, image_size=None)) == 18
