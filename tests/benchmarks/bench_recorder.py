"""Speed figures of the episode format (issue: HDF5 episode recorder).

For gzip, lzf and no compression, in one run: the time to write an 18-frame 720p
episode atomically (median / p95 over --runs), the file size, and the time to
read one training window (8 history frames + actions) through the dataset.
Frames are camera-like (the synthetic pattern with sensor noise), not random
bytes, so compression behaves as it does on real episodes.

    python tests/benchmarks/bench_recorder.py [--runs 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from mobile_vla.dataset import EpisodeWindowDataset
from mobile_vla.episode import Episode, write_episode
from mobile_vla_camera import pattern


def camera_like_episode(rng: np.random.Generator, noise: float) -> Episode:
    frames = []
    for i in range(18):
        frame = pattern.render(i * 3)[:, :, ::-1].astype(np.int16)
        frame += rng.normal(0, noise, frame.shape).astype(np.int16)  # sensor noise
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    actions = np.zeros((18, 3), np.float32)
    actions[1::2, 0] = 1.15
    return Episode(np.stack(frames), actions,
                   ['episode_start'] + ['start_action', 'stop_action'] * 8 + ['start_action'],
                   '1box_vert_left', 'go around the box on the left to the cup', 9.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=10)
    parser.add_argument('--noise', type=float, nargs='+', default=[0.0, 2.0, 4.0],
                        help='sensor noise levels (pixel std) to compare')
    args = parser.parse_args()
    for noise in args.noise:
        bench(camera_like_episode(np.random.default_rng(0), noise), noise, args.runs)


def bench(episode: Episode, noise: float, runs: int) -> None:
    raw_mb = episode.images.nbytes / 1e6
    print(f'18-frame 720p episode, sensor noise std {noise:g} ({raw_mb:.1f} MB of pixels), '
          f'{runs} writes each')
    print(f'  {"compression":<12} {"write median":>12} {"write p95":>10} {"size":>9} '
          f'{"ratio":>6} {"read window median":>19}')
    with tempfile.TemporaryDirectory() as folder:
        for compression in ('gzip', 'lzf', 'none'):
            times = []
            for run in range(runs):
                path = Path(folder) / compression / f'episode_{run}_1box_vert_left.h5'
                path.parent.mkdir(exist_ok=True)
                t0 = time.perf_counter()
                write_episode(path, episode, compression)
                times.append(time.perf_counter() - t0)
            size_mb = path.stat().st_size / 1e6
            ds = EpisodeWindowDataset(path.parent, samples='full', image_size=(224, 224))
            reads = []
            for i in range(runs * 2):
                ds._handles.clear()  # a cold handle, as a fresh worker has
                t0 = time.perf_counter()
                ds[i % len(ds)]
                reads.append(time.perf_counter() - t0)
            print(f'  {compression:<12} {np.median(times) * 1e3:9.0f} ms '
                  f'{np.percentile(times, 95) * 1e3:7.0f} ms {size_mb:7.1f} MB '
                  f'{raw_mb / size_mb:5.1f}x {np.median(reads) * 1e3:16.1f} ms')


if __name__ == '__main__':
    main()
