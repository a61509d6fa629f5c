"""Recording from a replayed bag, and a recorder killed at random moments."""

import hashlib
import json
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from mobile_vla.bag import BagWriter
from mobile_vla.bus import ReplayBus
from mobile_vla.episode import episode_paths, leftover_temp_files, read_episode, validate_episode
from mobile_vla.replay import ReplayExecutor
from mobile_vla.units import NS
from mobile_vla_recorder.store import EpisodeStore
from mobile_vla_recorder.wiring import RecorderWiring

S = NS  # a second, in nanoseconds
T0 = 1_780_000_000 * S
W = (1.15, 0.0, 0.0)
A = (0.0, 1.15, 0.0)


@pytest.fixture
def driving_bag(tmp_path):
    """8 s of 30 fps camera, 20 Hz cmd_vel with key presses, start, an instruction while
    recording, and stop."""
    rng = np.random.default_rng(4)
    frames = {}
    path = tmp_path / 'drive'
    with BagWriter(path) as bag:
        for n in range(8 * 30):
            t = T0 + n * S // 30
            frames[t] = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            bag.write_image('/camera/image', frames[t], t, encoding='rgb8')
        bag.write_string('/recorder/control', 'start 1box_vert_left', T0 + S // 2)
        bag.write_string('/vla/status', json.dumps(
            {'instruction': 'swing left around the box to the cup', 'state': 'running',
             'number': 3}), T0 + S * 6 // 10)
        bag.write_string('/vla/status', json.dumps(  # progress of it: the same number
            {'instruction': 'swing left around the box to the cup', 'state': 'done',
             'number': 3}), T0 + S * 65 // 100)
        for n in range(8 * 20):
            t = T0 + n * S // 20 + 1_000_000  # 1 ms after the frame grid
            phase = (n // 6) % 4  # 0.3 s each: W, stop, A, stop
            bag.write_twist('/cmd_vel', W if phase == 0 else A if phase == 2 else (0, 0, 0), t)
        bag.write_string('/recorder/control', 'stop', T0 + 7 * S)
    return path, frames


def test_episode_from_a_replayed_bag_is_bit_exact(driving_bag, tmp_path):
    path, frames = driving_bag
    store = EpisodeStore(tmp_path / 'episodes')
    written, log = [], []
    ex = ReplayExecutor()
    RecorderWiring(ReplayBus(ex, log=log.append),
                   on_episode=lambda ep: written.append(store.write(ep)))
    ex.run_bag(path)
    # 18 frames come before the stop at 7 s: the episode ended on its own.
    assert log[1:] == ["recording 1box_vert_left: 'go around the box on the left to the cup'",
                       '[error] stop: no episode is being recorded']
    [episode_path] = written
    assert validate_episode(episode_path) == []
    ep = read_episode(episode_path)
    assert ep.num_frames == 18 and ep.scenario == '1box_vert_left'
    assert ep.instruction == 'swing left around the box to the cup'  # told while recording
    assert ep.event_types == ['episode_start'] + ['start_action', 'stop_action'] * 8 + [
        'start_action']
    np.testing.assert_allclose(ep.actions[1::2][:9], [A, W] * 4 + [A])  # starts in an A phase
    stamps = sorted(frames)
    for image, t_rel in zip(ep.images, ep.timestamps, strict=True):
        t = T0 + S // 2 + round(t_rel * S)
        newest = max(s for s in stamps if s <= t)
        np.testing.assert_array_equal(image, frames[newest])
    assert np.all(ep.frame_age < 1 / 30 + 1e-6)


RECORD_FOREVER = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path[:0] = {path!r}
    from mobile_vla_recorder.recorder import EpisodeRecorder, RecorderConfig
    from mobile_vla_recorder.store import EpisodeStore
    store = EpisodeStore({folder!r}, compression='gzip')
    rec = EpisodeRecorder(RecorderConfig(), free_bytes=store.free_bytes)
    rng = np.random.default_rng({seed})
    t = 1_780_000_000.0 + {seed} * 1000
    while True:
        rec.on_image(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), 'rgb8', t)
        rec.on_control('start 1box_vert_left', t)
        episode = None
        for k in range(40):
            t += 0.05
            rec.on_image(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), 'rgb8', t)
            episode = rec.on_command((1.15, 0, 0) if k % 2 == 0 else (0, 0, 0), t) or episode
        store.write(episode)
        t += 1.0
""")


def _checksums(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in episode_paths(folder)}


def test_sigkill_at_random_moments_never_leaves_a_bad_or_changed_episode(tmp_path):
    folder = tmp_path / 'episodes'
    folder.mkdir()
    rnd = random.Random(7)
    known: dict[str, str] = {}
    for seed in range(15):
        script = RECORD_FOREVER.format(path=sys.path, folder=str(folder), seed=seed)
        proc = subprocess.Popen([sys.executable, '-c', script])
        time.sleep(rnd.uniform(0.6, 1.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        for path in episode_paths(folder):
            assert validate_episode(path) == [], path
        now = _checksums(folder)
        for name, digest in known.items():
            assert now[name] == digest, f'{name} changed after a kill'
        known = now
    assert len(known) >= 10, 'the recorder wrote too few episodes to mean anything'
    # The file is built in memory and written out in one go, so most kills mid-episode
    # leave nothing at all; one that hits the final write leaves a temp file, which a
    # new store removes.
    EpisodeStore(folder)  # a new recorder removes what dead writers left
    assert not list(leftover_temp_files(folder))
    assert list(leftover_temp_files(folder)) == []
