"""The episode store: unique names under concurrent writers, clean-up of dead writers."""

import os
import threading

import numpy as np

from mobile_vla.episode import Episode, leftover_temp_files, process_start, read_episode
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
