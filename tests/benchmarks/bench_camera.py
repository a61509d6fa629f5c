"""Speed figures of the camera publisher (issue: CSI camera publisher).

- A 720p frame in memory to a ready rclpy Image buffer: median / p95, against the
  obvious two-copy path (convert, then copy into the message) in the same run.
- Sustained streaming at 30 fps from the synthetic and file sources through the
  real grab loop and clock for --seconds each, with every frame's burned-in
  counter decoded on arrival: rate, dropped (counter gaps), late frames, latency.

    python tests/benchmarks/bench_camera.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from mobile_vla.msgs import array_buffer, as_array_data, image_to_numpy
from mobile_vla_camera import pattern
from mobile_vla_camera.grabber import run_grab_loop
from mobile_vla_camera.media import write_pattern_video
from mobile_vla_camera.publisher import CameraConfig, CameraPublisher
from mobile_vla_camera.sources import Frame


def stats(us: np.ndarray) -> str:
    return f'median {np.median(us):7.3f} ms   p95 {np.percentile(us, 95):7.3f} ms'


def bench_render(runs: int) -> None:
    frame = Frame(pattern.render(7), 7)
    print(f'720p BGR frame -> ready rclpy Image data ({runs} runs each)')
    for encoding in ('rgb8', 'bgr8'):
        pub = CameraPublisher(CameraConfig(source='synthetic', encoding=encoding),
                              alloc=array_buffer)
        times = np.empty(runs)
        for i in range(runs):
            t0 = time.perf_counter_ns()
            pub.render(frame, 0)
            times[i] = (time.perf_counter_ns() - t0) / 1e6
        print(f'  render {encoding} (one pass into the message buffer)  {stats(times)}')
    base = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter_ns()
        rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
        as_array_data(rgb.reshape(-1))
        base[i] = (time.perf_counter_ns() - t0) / 1e6
    print(f'  baseline: cvtColor, then copy into array.array   {stats(base)}')
    check = pub.render(frame, 0)
    assert isinstance(check.fields['data'], type(as_array_data(np.zeros(1, np.uint8))))


def bench_stream(config: CameraConfig, seconds: float, period: int | None) -> None:
    counters, latencies = [], []
    publisher = CameraPublisher(config, alloc=array_buffer)
    end = time.monotonic() + seconds

    class Msg:
        pass

    def emit(out):
        msg = Msg()
        msg.__dict__.update(out.fields)
        counters.append(pattern.read_counter(image_to_numpy(msg), 'rgb'))
        latencies.append((time.monotonic_ns() - out.stamp_ns) / 1e6)

    t0 = time.monotonic()
    run_grab_loop(publisher, emit, time.monotonic_ns, time.sleep,
                  should_stop=lambda: time.monotonic() > end)
    elapsed = time.monotonic() - t0
    diffs = np.diff(counters)
    step = diffs % period if period else diffs
    gaps = int(np.sum(step[step > 1] - 1))
    p50, p95 = publisher.latency_ms()
    print(f'  {config.source:<9} {len(counters):5d} frames in {elapsed:5.1f} s = '
          f'{len(counters) / elapsed:5.2f} fps; dropped {gaps}, late {publisher.frames_late}; '
          f'capture->publish p50 {p50:.2f} ms p95 {p95:.2f} ms; '
          f'->subscriber p50 {np.median(latencies):.2f} ms')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=500)
    parser.add_argument('--seconds', type=float, default=30.0)
    args = parser.parse_args()
    bench_render(args.runs)
    print(f'\nSustained 720p at 30 fps for {args.seconds:g} s (counters decoded on arrival)')
    bench_stream(CameraConfig(source='synthetic', fps=30.0), args.seconds, None)
    with tempfile.TemporaryDirectory() as folder:
        video = write_pattern_video(Path(folder) / 'pattern.mp4', 300)
        bench_stream(CameraConfig(source='file', path=str(video), fps=0), args.seconds, 300)


if __name__ == '__main__':
    main()
