"""The episode store: unique names under concurrent writers, clean-up of dead writers,
and a recorder killed at random moments that never leaves a bad or changed episode."""

import hashlib
import os
import random
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np

from mobile_vla.episode import (
    Episode,
    episode_paths,
    leftover_temp_files,
    process_start,
    read_episode,
    validate_episode,
)
from mobile_vla_recorder.store import EpisodeStore


def make_episode(frames=18, h=48, w=64) -> Episode:
    rng = np.random.default_rng(0)
    return Episode(rng.integers(0, 256, (frames, h, w, 3), np.uint8),
                   np.zeros((frames, 3), np.float32),
                   ['episode_start'] + ['start_action'] * (frames - 1),
                   '1box_vert_left', 'go around the box on the left to the cup', 1.0)


def test_concurrent_writers_of_one_name_never_overwrite_each_other(tmp_path):
    """Eight threads write the same episode name through the store at once: eight files."""
    store = EpisodeStore(tmp_path, 'none')
    barrier = threading.Barrier(8)
    written, errors = [], []

    def write(seed):
        ep = make_episode()
        ep.actions[:, 0] = seed
        ep.name = 'episode_20260101_120000_1box_vert_left'
        barrier.wait()
        try:
            written.append(store.write(ep))
        except Exception as exc:  # noqa: BLE001 (the test reports any)
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(written)) == 8
    seeds = sorted(float(read_episode(p).actions[0, 0]) for p in written)
    assert seeds == list(range(8))  # every writer's own episode, none lost
    assert not list(leftover_temp_files(tmp_path))


def test_temp_files_of_dead_or_reused_pid_writers_are_removed(tmp_path):
    me = os.getpid()
    alive = tmp_path / f'.a.h5.tmp-{me}-{process_start(me)}-0a1b2c3d'
    reused = tmp_path / f'.b.h5.tmp-{me}-{process_start(me) + 12345}-0a1b2c3d'
    dead = tmp_path / '.c.h5.tmp-999999999'
    for path in (alive, reused, dead):
        path.write_bytes(b'partial')
    store = EpisodeStore(tmp_path, 'none')
    assert sorted(p.name for p in store.removed_temp_files) == sorted([reused.name, dead.name])
    assert alive.exists() and not reused.exists() and not dead.exists()


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
    print('ready', flush=True)
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
        proc = subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE)
        # imports done, however slow the machine (a child that never gets there fails here)
        assert select.select([proc.stdout], [], [], 120)[0], 'the recorder never started'
        assert proc.stdout.readline() == b'ready\n'
        time.sleep(rnd.uniform(0.1, 1.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
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
    assert list(leftover_temp_files(folder)) == []
