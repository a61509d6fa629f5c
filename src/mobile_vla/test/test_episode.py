import os
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from mobile_vla.episode import (
    Episode,
    EpisodeError,
    EpisodeFile,
    EpisodeWriteError,
    episode_file_name,
    episode_paths,
    leftover_temp_files,
    read_episode,
    validate_episode,
    write_episode,
)

RNG = np.random.default_rng(2)


def make_episode(frames=18, h=72, w=128, scenario='1box_vert_left') -> Episode:
    events = ['episode_start'] + ['start_action', 'stop_action'] * 9
    actions = np.zeros((frames, 3), np.float32)
    actions[1::2, 0] = 1.15
    return Episode(
        images=RNG.integers(0, 256, (frames, h, w, 3), dtype=np.uint8),
        actions=actions, event_types=events[:frames], scenario=scenario,
        instruction='go around the box on the left to the cup', total_duration=9.5,
        timestamps=np.linspace(0, 9.5, frames), frame_age=np.full(frames, 0.01, np.float32),
    )


@pytest.mark.parametrize('compression', ['gzip', 'lzf', 'none'])
def test_round_trip_is_bit_exact(tmp_path, compression):
    ep = make_episode()
    path = write_episode(tmp_path / 'episode_20260101_120000_1box_vert_left.h5', ep,
                         compression)
    back = read_episode(path)
    np.testing.assert_array_equal(back.images, ep.images)
    np.testing.assert_array_equal(back.actions, ep.actions)
    assert back.event_types == ep.event_types
    assert (back.scenario, back.instruction, back.total_duration) == (
        '1box_vert_left', ep.instruction, 9.5)
    np.testing.assert_allclose(back.timestamps, ep.timestamps)
    with h5py.File(path) as f:
        assert f['images'].chunks == (1, 72, 128, 3)
        assert f['actions'].dtype == np.float32
        assert f.attrs['num_frames'] == 18 and f.attrs['action_chunk_size'] == 8
        assert f.attrs['channel_order'] == 'RGB' and f.attrs['complete']
        assert f.attrs['episode_name'] == 'episode_20260101_120000_1box_vert_left'
    assert validate_episode(path) == []


def test_original_files_read_as_rgb_with_the_scenario_from_the_name(tmp_path):
    """The original collector: BGR pixels, no scenario, channel_order or instruction."""
    ep = make_episode(scenario='2box_hori_right')
    path = tmp_path / 'episode_20250806_141530_2box_hori_right.h5'
    with h5py.File(path, 'w') as f:
        f.create_dataset('images', data=ep.images[..., ::-1], compression='gzip')
        f.create_dataset('actions', data=ep.actions)
        f.create_dataset('action_event_types', data=ep.event_types,
                         dtype=h5py.string_dtype('utf-8'))
        f.attrs.update({'episode_name': path.stem, 'num_frames': 18, 'total_duration': 12.0,
                        'action_chunk_size': 8})
    with EpisodeFile(path) as f:
        assert f.scenario == '2box_hori_right' and f.channel_order == 'BGR'
        np.testing.assert_array_equal(f.images(slice(2, 4)), ep.images[2:4])
        assert 'right' in f.instruction
    assert validate_episode(path) == []


def test_writes_are_atomic_and_never_overwrite(tmp_path):
    path = write_episode(tmp_path / 'a.h5', make_episode())
    with pytest.raises(EpisodeWriteError, match='never overwritten'):
        write_episode(path, make_episode())
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.h5']
    (tmp_path / '.b.h5.tmp-123').write_bytes(b'partial')
    assert episode_paths(tmp_path) == [path]
    assert [p.name for p in leftover_temp_files(tmp_path)] == ['.b.h5.tmp-123']


@pytest.mark.parametrize('compression', ['none', 'lzf', 'gzip'])
def test_a_full_disk_gives_a_clear_error_and_leaves_no_partial_file(tmp_path, compression):
    # RLIMIT_FSIZE makes writes fail past 1 MB, as a full disk would. Compressed chunks
    # fail inside h5py's filter pipeline with a RuntimeError, not an OSError.
    script = textwrap.dedent(f"""
        import resource, signal, sys
        import numpy as np
        sys.path[:0] = {sys.path!r}
        from mobile_vla.episode import Episode, EpisodeWriteError, write_episode
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
        ep = Episode(np.random.default_rng(0).integers(0, 256, (18, 480, 640, 3), np.uint8),
                     np.zeros((18, 3), np.float32), ['episode_start'] + ['stop_action'] * 17,
                     '1box_vert_left', 'go', 1.0)
        try:
            write_episode({str(tmp_path / 'big.h5')!r}, ep, {compression!r})
        except EpisodeWriteError as exc:
            print('ERROR', exc)
    """)
    run = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                         timeout=120)
    out = run.stdout
    assert run.returncode == 0, run.stderr[-2000:]  # no crash after the error either
    assert out.startswith('ERROR could not write episode big.h5'), out + run.stderr[-2000:]
    assert 'free disk space' in out and 'earlier episodes are untouched' in out
    assert os.listdir(tmp_path) == []


def _write_raw(path, **overrides):
    ep = make_episode(frames=4)
    data = {'images': ep.images, 'actions': ep.actions,
            'action_event_types': np.array(ep.event_types, object)}
    attrs = {'episode_name': path.stem, 'num_frames': 4, 'total_duration': 1.0,
             'action_chunk_size': 8, 'scenario': '1box_vert_left'}
    for key, value in overrides.items():
        if key in data:
            data[key] = value
        else:
            attrs[key] = value
    with h5py.File(path, 'w') as f:
        for name, value in data.items():
            if value is None:
                continue
            if name == 'action_event_types' and value.dtype == object:
                f.create_dataset(name, data=value, dtype=h5py.string_dtype('utf-8'))
            else:
                f.create_dataset(name, data=value)
        for key, value in attrs.items():
            if value is not None:
                f.attrs[key] = value
    return path


@pytest.mark.parametrize('overrides, fault', [
    ({'images': None}, "missing dataset 'images'"),
    ({'images': np.zeros((4, 8, 8), np.uint8)}, 'images must be uint8 (T, H, W, 3)'),
    ({'images': np.zeros((4, 8, 8, 3), np.float32)}, 'images must be uint8'),
    ({'actions': np.zeros((4, 2), np.float32)}, 'actions must be float (4, 3)'),
    ({'actions': np.full((4, 3), np.nan, np.float32)}, 'NaN or inf'),
    ({'actions': np.full((4, 3), 5.0, np.float32)}, 'exceed the robot limit'),
    ({'action_event_types': np.array(['episode_start', 'jump', 'x', 'y'], object)},
     "unknown action_event_types ['jump', 'x', 'y']"),
    ({'action_event_types': np.array([b'\xff\xfe', b'a', b'b', b'c'], 'S2')}, 'not valid UTF-8'),
    ({'num_frames': None}, 'missing attribute(s) num_frames'),
    ({'total_duration': None, 'action_chunk_size': None},
     'missing attribute(s) total_duration, action_chunk_size'),
    ({'num_frames': 18}, 'num_frames says 18 but images has 4'),
    ({'scenario': '3box_diag_up'}, 'unknown scenario'),
    # Attributes that readers later refused, or that aborted the whole validate run.
    ({'num_frames': 'eighteen'}, 'num_frames must be a whole number'),
    ({'num_frames': np.array([4, 4])}, 'num_frames must be a whole number'),
    ({'instruction': np.void(b'go \xff left')}, 'instruction must be text'),
    ({'instruction': b'go \xff left'}, 'instruction is not valid UTF-8'),
    ({'target_frames': 'x'}, 'target_frames must be a whole number'),
    ({'complete': 'maybe'}, 'complete must be true or false'),
    ({'channel_order': 'XYZ'}, 'channel_order must be RGB or BGR'),
    ({'total_duration': 'long'}, 'total_duration must be a non-negative number'),
])
def test_validate_names_the_file_and_the_fault(tmp_path, overrides, fault):
    path = _write_raw(tmp_path / 'episode_x.h5', **overrides)
    problems = validate_episode(path)
    assert problems and str(path) in problems[0]
    assert any(fault in p for p in problems), problems


def test_odd_files_are_refused_at_once_and_bounded(tmp_path):
    """A FIFO, a group for images, an external link and a huge declared frame count: each
    named at once, without blocking, reading or allocating the declared data."""
    fifo = tmp_path / 'episode_fifo.h5'
    os.mkfifo(fifo)
    assert 'not a regular file' in validate_episode(fifo)[0]
    group = _write_raw(tmp_path / 'episode_group.h5', images=None)
    with h5py.File(group, 'a') as f:
        f.create_group('images')
    assert "'images' is a group" in validate_episode(group)[0]
    linked = _write_raw(tmp_path / 'episode_link.h5', images=None)
    with h5py.File(linked, 'a') as f:
        f['images'] = h5py.ExternalLink('/etc/hostname', '/images')
    assert "'images' is a link" in validate_episode(linked)[0]
    stamps = _write_raw(tmp_path / 'episode_stamps.h5')
    with h5py.File(stamps, 'a') as f:
        f.create_dataset('timestamps', data=np.zeros((3, 2)))
    assert 'timestamps must be numbers of shape (4,)' in validate_episode(stamps)[0]
    huge = _write_raw(tmp_path / 'episode_huge.h5', images=None, num_frames=10**9)
    with h5py.File(huge, 'a') as f:
        f.create_dataset('images', shape=(10**9, 720, 1280, 3), dtype=np.uint8,
                         chunks=(1, 720, 1280, 3), compression='gzip')
    problems = validate_episode(huge)
    assert 'more than any recorder writes' in problems[0]
    # Raw data kept in another file (here a FIFO that would block), no pixels at all, and
    # 10,000 frames in one compressed chunk (each frame read would decompress 122 MB).
    raw = _write_raw(tmp_path / 'episode_raw.h5', images=None)
    with h5py.File(raw, 'a') as f:
        f.create_dataset('images', shape=(4, 8, 8, 3), dtype=np.uint8,
                         external=[(str(fifo), 0, 4 * 8 * 8 * 3)])
    assert 'keeps its data in another file' in validate_episode(raw)[0]
    empty = _write_raw(tmp_path / 'episode_empty.h5', images=np.zeros((4, 0, 0, 3), np.uint8))
    assert 'hold no picture' in validate_episode(empty)[0]
    chunky = _write_raw(tmp_path / 'episode_chunky.h5', images=None, num_frames=10_000,
                        actions=np.zeros((10_000, 3), np.float32),
                        action_event_types=np.array(['episode_start'] * 10_000, object))
    with h5py.File(chunky, 'a') as f:
        f.create_dataset('images', data=np.zeros((10_000, 64, 64, 3), np.uint8),
                         chunks=(10_000, 64, 64, 3), compression='gzip')
    assert 'would decompress' in validate_episode(chunky)[0]
    with pytest.raises(EpisodeError, match='more than any recorder writes'):
        read_episode(huge)  # training and evaluation are refused the same way


def test_truncated_and_corrupt_files_are_reported(tmp_path):
    good = write_episode(tmp_path / 'good.h5', make_episode(), 'gzip')
    data = good.read_bytes()
    truncated = tmp_path / 'truncated.h5'
    truncated.write_bytes(data[: len(data) // 2])
    assert 'not a readable HDF5 file' in validate_episode(truncated)[0]
    garbage = tmp_path / 'garbage.h5'
    garbage.write_bytes(b'not hdf5 at all' * 100)
    assert 'not a readable HDF5 file' in validate_episode(garbage)[0]
    damaged = tmp_path / 'damaged.h5'
    blob = bytearray(data)
    middle = len(blob) // 2
    blob[middle:middle + 64] = b'\xff' * 64  # inside the image chunks
    damaged.write_bytes(bytes(blob))
    problems = validate_episode(damaged)
    assert len(problems) == 1 and 'image data of frame' in problems[0], problems
    with pytest.raises(OSError):
        read_episode(damaged)


def test_episode_objects_are_checked_before_writing(tmp_path):
    ep = make_episode()
    ep.event_types[3] = 'teleport'
    with pytest.raises(EpisodeError, match='unknown event types'):
        write_episode(tmp_path / 'x.h5', ep)
    assert not list(tmp_path.iterdir())


def test_file_names_follow_the_original_pattern():
    name = episode_file_name(0.0, '1box_hori_left')
    assert name.startswith('episode_19') or name.startswith('episode_1970')
    assert name.endswith('_1box_hori_left.h5') and len(name) == len('episode_') + 15 + len(
        '_1box_hori_left.h5')
