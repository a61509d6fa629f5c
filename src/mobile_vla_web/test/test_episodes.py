"""The episode list the console shows: newest first, each validated once per version."""

import os

import numpy as np

import mobile_vla_web.episodes as episodes
from mobile_vla.episode import Episode, write_episode
from mobile_vla_web.episodes import EpisodeList

RNG = np.random.default_rng(0)


def _episode(frames: int) -> Episode:
    return Episode(images=RNG.integers(0, 256, (frames, 24, 32, 3), dtype=np.uint8),
                   actions=np.zeros((frames, 3), np.float32),
                   event_types=['episode_start'] + ['start_action'] * (frames - 1),
                   scenario='1box_vert_left', instruction='go left around the box',
                   total_duration=frames * 0.5)


def _write(folder, name, frames, mtime):
    path = write_episode(folder / name, _episode(frames))
    os.utime(path, ns=(mtime, mtime))
    return path


def test_valid_incomplete_and_corrupt_files_are_listed_newest_first(tmp_path):
    _write(tmp_path, 'full.h5', 18, 3_000_000_000)
    _write(tmp_path, 'short.h5', 13, 2_000_000_000)
    bad = tmp_path / 'bad.h5'
    bad.write_bytes(b'not hdf5')
    os.utime(bad, ns=(1_000_000_000, 1_000_000_000))
    (tmp_path / 'notes.txt').write_text('not an episode')
    listed = EpisodeList(tmp_path, limit=10).scan()
    assert [e['name'] for e in listed] == ['full.h5', 'short.h5', 'bad.h5']
    full, short, corrupt = listed
    assert full['valid'] and full['complete'] and full['frames'] == 18
    assert full['instruction'] == 'go left around the box' and full['mtime'] == 3.0
    assert short['valid'] and not short['complete']
    assert (short['frames'], short['target_frames']) == (13, 18)
    assert not corrupt['valid'] and corrupt['problems'] and 'frames' not in corrupt
    # A problem names the file, never the folder it lies in.
    assert all(str(tmp_path) not in p for p in corrupt['problems'])


def test_only_the_newest_are_listed_and_each_version_is_validated_once(tmp_path, monkeypatch):
    for k in range(4):
        _write(tmp_path, f'e{k}.h5', 18, (k + 1) * 1_000_000_000)
    checked = []
    real = episodes.validate_episode
    monkeypatch.setattr(episodes, 'validate_episode', lambda p: checked.append(p.name) or
                        real(p))
    listing = EpisodeList(tmp_path, limit=2)
    assert [e['name'] for e in listing.scan()] == ['e3.h5', 'e2.h5']
    assert [e['name'] for e in listing.scan()] == ['e3.h5', 'e2.h5']
    assert sorted(checked) == ['e2.h5', 'e3.h5']  # not again for the same versions
    os.utime(tmp_path / 'e2.h5', ns=(9_000_000_000, 9_000_000_000))  # a new version
    assert [e['name'] for e in listing.scan()] == ['e2.h5', 'e3.h5']
    assert sorted(checked) == ['e2.h5', 'e2.h5', 'e3.h5']


def test_a_missing_folder_lists_nothing(tmp_path):
    assert EpisodeList(tmp_path / 'gone', limit=5).scan() == []
