"""mobile-vla data: the command as a user runs it."""

import subprocess
import sys

import h5py
import numpy as np
import pytest

from mobile_vla.bag import BagWriter
from mobile_vla.episode import Episode, episode_paths, read_episode, write_episode
from mobile_vla.units import NS

RNG = np.random.default_rng(9)


def run(*args):
    return subprocess.run([sys.executable, '-m', 'mobile_vla.cli', 'data', *args],
                          capture_output=True, text=True, timeout=300)


def make(folder, scenario, i):
    actions = np.zeros((18, 3), np.float32)
    actions[1::2] = [1.15, 0.4, 0.0]
    ep = Episode(RNG.integers(0, 256, (18, 36, 48, 3), dtype=np.uint8), actions,
                 ['episode_start'] + ['start_action', 'stop_action'] * 8 + ['start_action'],
                 scenario, 'go around the box on the left to the cup', 9.0)
    return write_episode(folder / f'episode_2026010{i}_000000_{scenario}.h5', ep)


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / 'episodes'
    folder.mkdir()
    for i, scenario in enumerate(['1box_vert_left', '1box_vert_left', '2box_hori_right']):
        make(folder, scenario, i)
    return folder


def test_validate_reports_each_bad_file_and_fails(folder):
    ok = run('validate', str(folder))
    assert ok.returncode == 0 and '3 of 3 episode files are valid' in ok.stdout
    bad = folder / 'episode_20260109_000000_1box_vert_left.h5'
    bad.write_bytes(b'\x89HDF\r\n' + b'\0' * 100)
    with h5py.File(folder / 'episode_20260108_000000_1box_vert_left.h5', 'w') as f:
        f.create_dataset('images', data=np.zeros((2, 4, 4, 3), np.uint8))
    (folder / '.episode_x.h5.tmp-99999').write_bytes(b'partial')
    out = run('validate', str(folder))
    assert out.returncode == 1
    assert f'BAD  {bad}: not a readable HDF5 file' in out.stdout
    assert "missing dataset 'actions'" in out.stdout
    assert 'partial file of an interrupted writer' in out.stdout
    assert '3 of 5 episode files are valid' in out.stdout
    assert 'Traceback' not in out.stderr


def test_stats_prints_and_plots(folder, tmp_path):
    out = run('stats', str(folder), '--png', str(tmp_path / 's.png'))
    assert out.returncode == 0, out.stderr
    assert '3 episodes, 54 frames' in out.stdout
    assert '1box_vert_left        2' in out.stdout
    assert (tmp_path / 's.png').stat().st_size > 10_000


def test_mirror_augmentation_through_the_command(folder, tmp_path):
    out = run('augment', str(folder), str(tmp_path / 'mirrored'), '--kind', 'mirror')
    assert out.returncode == 0, out.stderr
    names = sorted(p.name for p in episode_paths(tmp_path / 'mirrored'))
    assert names == ['episode_20260100_000000_1box_vert_left_mirror.h5',
                     'episode_20260101_000000_1box_vert_left_mirror.h5',
                     'episode_20260102_000000_2box_hori_right_mirror.h5']
    ep = read_episode(tmp_path / 'mirrored' / names[0])
    assert ep.scenario == '1box_vert_right' and 'right' in ep.instruction
    out = run('augment', str(folder), str(tmp_path / 'photo'), '--kind', 'photometric',
              '--copies', '2')
    assert out.returncode == 0 and len(episode_paths(tmp_path / 'photo')) == 6
    assert run('validate', str(tmp_path / 'photo')).returncode == 0


def test_from_bag_cuts_episodes(tmp_path):
    s = NS
    t0 = 1_780_000_000 * s
    bag = tmp_path / 'bag'
    with BagWriter(bag) as writer:
        for n in range(4 * 30):
            writer.write_image('/camera/image', RNG.integers(0, 256, (36, 48, 3), np.uint8),
                               t0 + n * s // 30)
        writer.write_string('/recorder/control', 'start 1box_hori_left', t0 + s // 10)
        for n in range(4 * 20):
            on = (n // 4) % 2 == 0
            writer.write_twist('/cmd_vel', (1.15, 0, 0) if on else (0, 0, 0),
                               t0 + n * s // 20 + 1000)
        writer.write_string('/recorder/control', 'stop', t0 + 3 * s)
        writer.write_string('/scan', 'other topics are skipped', t0)
    out = run('from-bag', str(bag), str(tmp_path / 'cut'))
    assert out.returncode == 0, out.stdout + out.stderr
    [path] = episode_paths(tmp_path / 'cut')
    ep = read_episode(path)
    assert ep.scenario == '1box_hori_left' and ep.num_frames == 16  # start + 15 toggles
    assert ep.event_types[:3] == ['episode_start', 'start_action', 'stop_action']
    assert '1 episodes from' in out.stdout


def test_from_bag_without_episodes_says_what_is_missing(tmp_path):
    bag = tmp_path / 'empty'
    with BagWriter(bag) as writer:
        writer.write_twist('/cmd_vel', (0, 0, 0), 1)
    out = run('from-bag', str(bag), str(tmp_path / 'cut'))
    assert out.returncode == 1 and 'needs recorder/control' in out.stderr
