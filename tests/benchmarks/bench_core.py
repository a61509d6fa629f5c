"""Speed figures of the core contracts (issue: workspace foundation).

Prints median and p95 of many runs, with a copying baseline measured in the same
run, and the real-time factor of replaying 1,000 720p frames from a bag.

    make bench            # or: python tests/benchmarks/bench_core.py --frames 1000
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from mobile_vla.bag import BagReader, BagWriter, MessageFactory
from mobile_vla.msgs import as_array_data, image_fields, image_to_numpy
from mobile_vla.replay import ReplayExecutor

H, W = 720, 1280
FPS = 30


def timed(fn, runs: int) -> np.ndarray:
    """Per-call wall times in microseconds (perf_counter_ns; benchmarks may read clocks)."""
    out = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        out[i] = (time.perf_counter_ns() - t0) / 1e3
    return out


def row(name: str, us: np.ndarray, baseline: np.ndarray | None = None) -> str:
    med, p95 = np.median(us), np.percentile(us, 95)
    ratio = f'  {np.median(baseline) / med:7.1f}x faster than baseline' if baseline is not None \
        else ''
    return f'  {name:<46} median {med:9.2f} us   p95 {p95:9.2f} us{ratio}'


def bench_conversions(runs: int) -> None:
    factory = MessageFactory()
    image = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    msg_np = factory.image(image, 'rgb8', 0)  # rosbags message: numpy data
    fields = image_fields(image, 'rgb8')
    data_array = as_array_data(fields['data'])  # rclpy message: array.array data

    class RclpyLike:  # the field layout rclpy's sensor_msgs/Image has
        height, width, encoding, is_bigendian, step = H, W, 'rgb8', 0, W * 3
        data = data_array

    out = image_to_numpy(msg_np)
    assert np.shares_memory(out, msg_np.data), 'image_to_numpy copied the pixels'
    assert np.shares_memory(image_to_numpy(RclpyLike), np.frombuffer(data_array, np.uint8))

    print(f'Image <-> numpy, 720p rgb8 ({runs} runs each)')
    copy_base = timed(lambda: np.array(msg_np.data).reshape(H, W, 3), runs)
    print(row('baseline: copy message data into an array', copy_base))
    print(row('image_to_numpy (rosbags message, zero-copy)', timed(
        lambda: image_to_numpy(msg_np), runs), copy_base))
    print(row('image_to_numpy (rclpy array.array, zero-copy)', timed(
        lambda: image_to_numpy(RclpyLike), runs), copy_base))
    print(row('numpy -> rosbags Image (no copy)', timed(
        lambda: factory.image(image, 'rgb8', 0), runs), copy_base))
    print(row('numpy -> rclpy array.array data (one copy)', timed(
        lambda: as_array_data(image_fields(image, 'rgb8')['data']), runs), copy_base))


def synthetic_frame(base: np.ndarray, i: int) -> np.ndarray:
    frame = np.roll(base, i * 4, axis=1)
    frame[:32, :160] = i % 256  # a counter block, so frames differ
    return frame


def bench_replay(frames: int, storage: str, folder: Path) -> None:
    base = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    path = folder / f'replay_{storage}'
    period = round(1e9 / FPS)
    t0 = time.perf_counter()
    with BagWriter(path, storage=storage) as bag:
        for i in range(frames):
            t = i * period
            bag.write_image('/camera/image', synthetic_frame(base, i), t)
            if i % 3 == 0:
                bag.write_twist('/teleop/cmd_vel', (0.5, 0.0, 0.0), t + 1)
    write_s = time.perf_counter() - t0
    size_gb = sum(f.stat().st_size for f in path.iterdir()) / 1e9

    checksum = [0]
    ex = ReplayExecutor()

    def on_image(msg, t):  # what a consumer does first: view the pixels
        pixels = image_to_numpy(msg)
        checksum[0] += int(pixels[0, 0, 0])

    ex.subscribe('/camera/image', on_image)
    ex.subscribe('/teleop/cmd_vel', lambda msg, t: None)
    ex.add_timer(20.0, lambda t: None)
    t0 = time.perf_counter()
    stats = ex.run_bag(path)
    replay_s = time.perf_counter() - t0
    bag_s = (frames - 1) / FPS
    with BagReader(path) as reader:
        assert reader.topics['/camera/image'].count == frames
    print(f'  {storage:<7} {frames} frames ({size_gb:.2f} GB): write {write_s:6.2f} s, '
          f'replay {replay_s:6.2f} s for {bag_s:.1f} s of bag time = '
          f'{bag_s / replay_s:5.1f}x real time ({stats.ticks["timer0"]} ticks at 20 Hz)')
    shutil.rmtree(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=1000)
    parser.add_argument('--frames', type=int, default=1000)
    parser.add_argument('--tmp', default=None, help='folder for the temporary bags')
    args = parser.parse_args()
    bench_conversions(args.runs)
    print(f'\nReplay of a {args.frames}-frame 720p bag at {FPS} fps through ReplayExecutor')
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        for storage in ('sqlite3', 'mcap'):
            bench_replay(args.frames, storage, Path(folder))


if __name__ == '__main__':
    main()
