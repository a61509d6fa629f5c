"""``mobile-vla infer`` and ``mobile-vla bench``: run and measure policies from the shell.

    mobile-vla infer --checkpoint DIR --image F.png --instruction "go left around the box"
    mobile-vla infer --checkpoint DIR --video run.mp4 --instruction "..." --plot actions.png
    mobile-vla infer --checkpoint DIR --bag BAG [--instruction "..."]   # bag's vla/command
    mobile-vla bench --preset kosmos2_clip_tiny --engines torch onnx --steps 100
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from mobile_vla.actions import ACTION_NAMES
from mobile_vla.config import positive_int
from mobile_vla.policy.checkpoint_files import check_checkpoint
from mobile_vla.units import NS

# torch, transformers and OpenCV load only when a policy command runs, so every other
# `mobile-vla` command starts in a fraction of a second.

STAGES = ('preprocess', 'vision', 'fusion', 'temporal', 'total')


def _frames(args):
    """(time s, RGB frame, instruction or None) from an image, a video or a bag."""
    import cv2

    from mobile_vla.bag import BagReader
    from mobile_vla.msgs import image_to_numpy

    if args.image:
        image = cv2.imread(args.image, cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f'cannot read image {args.image}')
        yield 0.0, image[:, :, ::-1], None
        return
    if args.video:
        cap = cv2.VideoCapture(args.video)
        if not cap.isOpened():
            raise FileNotFoundError(f'cannot open video {args.video}')
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        index = 0
        while True:
            ok, image = cap.read()
            if not ok:
                break
            if index % args.every == 0:
                yield index / fps, image[:, :, ::-1], None
            index += 1
        cap.release()
        return
    with BagReader(args.bag) as reader:
        start = reader.start_ns
        topics = [t for t in ('/camera/image', '/vla/command') if t in reader.topics]
        count = 0
        for msg in reader.messages(topics):
            if msg.topic == '/vla/command':
                yield (msg.t_ns - start) / NS, None, msg.msg.data
            else:
                if count % args.every == 0:
                    image = image_to_numpy(msg.msg)
                    rgb = image[:, :, ::-1] if msg.msg.encoding == 'bgr8' else image
                    yield (msg.t_ns - start) / NS, rgb, None
                count += 1


def _infer(args: argparse.Namespace) -> int:
    if sum(bool(x) for x in (args.image, args.video, args.bag)) != 1:
        raise ValueError('give exactly one of --image, --video or --bag')
    if Path(args.checkpoint).is_dir():  # a damaged folder is named before torch loads
        check_checkpoint(args.checkpoint)

    from mobile_vla.policy.runner import runner_from_checkpoint

    runner = runner_from_checkpoint(args.checkpoint, args.engine, args.device)
    if args.instruction:
        runner.set_instruction(args.instruction)
    rows = []
    print(f'{"t [s]":>8}  ' + '  '.join(f'{n:>10}' for n in ACTION_NAMES) + '   step [ms]')
    for t, image, instruction in _frames(args):
        if instruction is not None:
            if not args.instruction:
                runner.set_instruction(instruction)
                print(f'{t:8.3f}  instruction: {instruction!r}')
            continue
        if runner.instruction is None:
            continue
        result = runner.step(np.ascontiguousarray(image))
        rows.append((t, *result.action))
        print(f'{t:8.3f}  ' + '  '.join(f'{v:+10.4f}' for v in result.action) +
              f'   {result.latency_ms["total"]:8.2f}')
    if not rows:
        raise ValueError('no frame was run: give --instruction (or a bag with vla/command)')
    if args.plot:
        import matplotlib

        matplotlib.use('Agg')
        import matplotlib.pyplot as plt

        data = np.array(rows)
        fig, ax = plt.subplots(figsize=(10, 4))
        for i, name in enumerate(ACTION_NAMES):
            ax.plot(data[:, 0], data[:, i + 1], label=name)
        ax.set_xlabel('time [s]')
        ax.set_ylabel('command')
        ax.set_title(f'{Path(args.checkpoint).name}: {runner.instruction!r}')
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f'plot: {args.plot}')
    return 0


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_runner(runner, steps: int, warmup: int = 3, size=(720, 1280)) -> dict:
    """Per-stage latency (p50, p95 ms) and steps per second of ``runner`` on 720p frames."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(8)]
    runner.set_instruction('go around the box on the left to the cup')
    for i in range(warmup):
        runner.step(frames[i % len(frames)])
    lat = {s: [] for s in STAGES}
    t0 = time.perf_counter()
    for i in range(steps):
        result = runner.step(frames[i % len(frames)])
        for stage in STAGES:
            lat[stage].append(result.latency_ms.get(stage, 0.0))
    wall = time.perf_counter() - t0
    return {'stages': {s: (float(np.median(v)), float(np.percentile(v, 95)))
                       for s, v in lat.items()},
            'steps_per_s': steps / wall, 'peak_rss_mb': _peak_rss_mb()}


def _bench(args: argparse.Namespace) -> int:
    from mobile_vla.policy.checkpoint import save_checkpoint
    from mobile_vla.policy.configuration_policy import load_preset
    from mobile_vla.policy.modeling_policy import build_policy
    from mobile_vla.policy.runner import runner_from_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            policy = build_policy(load_preset(args.preset))
            checkpoint = str(save_checkpoint(policy, Path(tmp) / args.preset))
        results = {}
        for engine in args.engines:
            runner = runner_from_checkpoint(checkpoint, engine, args.device)
            results[runner.engine.name] = bench_runner(runner, args.steps)
    names = list(results)
    print(f'{args.checkpoint or args.preset}: {args.steps} steps on 720p frames '
          '(median / p95 ms)')
    print(f'  {"stage":<11}' + ''.join(f'{n:>26}' for n in names))
    for stage in STAGES:
        cells = ''.join(f'{results[n]["stages"][stage][0]:>15.2f} / '
                        f'{results[n]["stages"][stage][1]:<8.2f}' for n in names)
        print(f'  {stage:<11}{cells}')
    print(f'  {"steps/s":<11}' + ''.join(f'{results[n]["steps_per_s"]:>26.1f}' for n in names))
    print(f'  {"peak RSS MB":<11}' + ''.join(f'{results[n]["peak_rss_mb"]:>26.0f}'
                                             for n in names))
    return 0


def add_policy_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser('infer', help='run a checkpoint on an image, a video or a bag')
    p.add_argument('--checkpoint', required=True)
    src = p.add_argument_group('input (one of)')
    src.add_argument('--image')
    src.add_argument('--video')
    src.add_argument('--bag')
    p.add_argument('--instruction', help='overrides the vla/command of a bag')
    p.add_argument('--every', type=positive_int, default=1, help='use every Nth frame')
    p.add_argument('--engine', choices=('torch', 'onnx'), default='torch')
    p.add_argument('--device', default='cpu')
    p.add_argument('--plot', help='write the action traces to this PNG')
    p.set_defaults(func=_infer)

    p = sub.add_parser('bench', help='per-stage latency, throughput and memory of a policy')
    what = p.add_mutually_exclusive_group()
    what.add_argument('--preset', default='kosmos2_clip_tiny')
    what.add_argument('--checkpoint')
    p.add_argument('--engines', nargs='+', choices=('torch', 'onnx'), default=['torch', 'onnx'])
    p.add_argument('--device', default='cpu')
    p.add_argument('--steps', type=positive_int, default=50)
    p.set_defaults(func=_bench)
