"""Speed figures of the policy (issue: Kosmos-2 / CLIP + LSTM policy family).

1. Preprocessing a 720p frame to the model input (median / p95).
2. The tiny preset's full control step with PyTorch and ONNX Runtime.
3. The original-size head (4864-d input -> fusion 2048 -> LSTM 4 x 512 -> MLP) per
   step, PyTorch and ONNX Runtime side by side, against the original's claimed
   0.36 ms (which was measured for a 3.3 MB head on precomputed features).
4. The MiniLM instruction encoder (kosmos2_clip_minilm_tiny, and the demo preset
   kosmos2_clip_minilm_patches_tiny whose head reads the patch tokens): the control
   step against the word-tokenizer preset in the same run, a new instruction
   (tokenise + MiniLM + pooling) and a repeated one (cached), with both engines.
5. With --full: full-size Kosmos-2 + CLIP ViT-L/14 + head per control step on this
   CPU and its peak memory (random weights of the real architectures: no pretrained
   weights are available offline; speed and memory do not depend on the values).

    python tests/benchmarks/bench_policy.py [--full]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mobile_vla.policy.cli import bench_runner
from mobile_vla.policy.configuration_policy import load_preset
from mobile_vla.policy.engines import (
    OnnxEngine,
    TorchEngine,
    export_onnx,
    export_stages,
    head_stages,
)
from mobile_vla.policy.modeling_policy import PolicyHead, build_policy
from mobile_vla.policy.preprocess import ImagePreprocessor
from mobile_vla.policy.runner import PolicyRunner

ORIGINAL_CLAIM_MS = 0.36


def stats(values) -> str:
    return f'median {np.median(values):8.3f} ms   p95 {np.percentile(values, 95):8.3f} ms'


def timed_runs(fn, runs):
    fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def bench_preprocess(runs: int) -> None:
    pre = ImagePreprocessor(load_preset('kosmos2_clip_tiny'))
    frame = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    times = timed_runs(lambda: pre(frame), runs)
    print(f'1. 720p RGB frame -> (1, 3, 224, 224) model input    {stats(times)}')


def bench_tiny(steps: int, folder: Path) -> None:
    torch.manual_seed(0)
    policy = build_policy(load_preset('kosmos2_clip_tiny')).eval()
    export_onnx(policy, folder / 'tiny')
    print(f'\n2. tiny preset (kosmos2_clip_tiny), full control step on 720p, {steps} steps')
    for engine in (TorchEngine(policy), OnnxEngine(folder / 'tiny', 'cpu')):
        r = bench_runner(PolicyRunner(engine, policy.config, policy.tokenizer), steps)
        p50, p95 = r['stages']['total']
        print(f'   {engine.name:<20} median {p50:7.2f} ms   p95 {p95:7.2f} ms   '
              f'{r["steps_per_s"]:6.1f} steps/s')


def bench_instruction_encoder(steps: int, runs: int, folder: Path) -> None:
    print(f'\n4. instruction encoder: control step on 720p ({steps} steps) and instructions')
    rng = np.random.default_rng(0)
    texts = [f'go around the box on the left to the cup number {k}' for k in range(runs)]
    for preset in ('kosmos2_clip_tiny', 'kosmos2_clip_minilm_tiny',
                   'kosmos2_clip_minilm_patches_tiny'):
        torch.manual_seed(0)
        policy = build_policy(load_preset(preset)).eval()
        export_onnx(policy, folder / preset)
        for engine in (TorchEngine(policy), OnnxEngine(folder / preset, 'cpu')):
            runner = PolicyRunner(engine, policy.config, policy.tokenizer)
            r = bench_runner(runner, steps)
            p50, p95 = r['stages']['total']
            new = timed_runs(lambda r=runner: r.set_instruction(
                texts[int(rng.integers(len(texts)))] + str(rng.random())), runs // 4)
            runner.set_instruction(texts[0])
            runner.set_instruction(texts[1])
            again = timed_runs(lambda r=runner: (r.set_instruction(texts[0]),
                                                 r.set_instruction(texts[1])), runs)
            print(f'   {preset:<26} {engine.name:<12} step median {p50:6.2f} p95 {p95:6.2f} ms'
                  f' | new instruction {stats(new)} | cached {np.median(again) / 2:.4f} ms')


def bench_head(runs: int, folder: Path) -> None:
    config = load_preset('kosmos2_clip_lstm', kosmos2_path='', clip_path='')
    with torch.device('meta'):
        meta = build_policy(config)
    in_dim = meta.vision.dim + meta.text.dim
    torch.manual_seed(0)
    head = PolicyHead(in_dim, config).eval()
    export_stages(head_stages(head, in_dim, config.window), folder / 'head',
                  [config.lstm_layers, 1, config.lstm_hidden])
    onnx = OnnxEngine(folder / 'head', 'cpu')
    params = sum(p.numel() for p in head.parameters())
    print(f'\n3. original-size head: {in_dim}-d input -> fusion {config.fusion_dim} -> LSTM '
          f'{config.lstm_layers} x {config.lstm_hidden} -> chunk {config.fwd_pred_next_n}; '
          f'{params / 1e6:.1f} M parameters ({params * 4 / 1e6:.0f} MB float32)')
    rng = np.random.default_rng(0)
    feat = rng.standard_normal((1, in_dim)).astype(np.float32)
    fused_window = rng.standard_normal((1, config.window, config.fusion_dim)).astype(np.float32)
    fused_one = fused_window[:, -1:]
    h0 = np.zeros((config.lstm_layers, 1, config.lstm_hidden), np.float32)
    torch_engine = TorchEngineHead(head)
    for name, engine in (('torch-cpu', torch_engine), ('onnx-cpu', onnx)):
        def window_step(engine=engine):
            engine.fuse(feat)
            engine.temporal(fused_window, h0, h0)

        def carry_step(engine=engine):
            engine.fuse(feat)
            engine.temporal(fused_one, h0, h0)

        w, c = timed_runs(window_step, runs), timed_runs(carry_step, runs)
        print(f'   {name:<10} window of 8 (as trained): {stats(w)}   '
              f'({np.median(w) / ORIGINAL_CLAIM_MS:4.1f}x the claimed 0.36 ms)')
        print(f'   {name:<10} carry (one LSTM step):    {stats(c)}   '
              f'({np.median(c) / ORIGINAL_CLAIM_MS:4.1f}x)')


class TorchEngineHead:
    def __init__(self, head):
        self.head = head

    @torch.inference_mode()
    def fuse(self, x):
        return self.head.fuse(torch.from_numpy(x)).numpy()

    @torch.inference_mode()
    def temporal(self, fused, h0, c0):
        a, h, c = self.head.temporal(torch.from_numpy(fused), torch.from_numpy(h0),
                                     torch.from_numpy(c0))
        return a.numpy(), h.numpy(), c.numpy()


def bench_full(steps: int) -> None:
    print('\n5. full-size Kosmos-2 + CLIP ViT-L/14 + head (random weights of the real '
          'architectures), PyTorch CPU float32')
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    config = load_preset('kosmos2_clip_lstm', kosmos2_path='', clip_path='', tokenizer='words')
    policy = build_policy(config).eval()
    build_s = time.perf_counter() - t0
    params = sum(p.numel() for p in policy.parameters())
    r = bench_runner(PolicyRunner(TorchEngine(policy), policy.config, policy.tokenizer), steps,
                     warmup=1)
    print(f'   {params / 1e9:.2f} B parameters, built in {build_s:.0f} s')
    for stage in ('preprocess', 'vision', 'fusion', 'temporal', 'total'):
        p50, p95 = r['stages'][stage]
        print(f'   {stage:<11} median {p50:9.1f} ms   p95 {p95:9.1f} ms')
    print(f'   {r["steps_per_s"]:.2f} steps/s; peak RSS {r["peak_rss_mb"]:.0f} MB '
          f'(process before the build: {rss0:.0f} MB)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=200)
    parser.add_argument('--steps', type=int, default=100)
    parser.add_argument('--full', action='store_true', help='also the full-size model (slow)')
    parser.add_argument('--full-steps', type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_preprocess(args.runs)
        bench_tiny(args.steps, Path(tmp))
        bench_head(args.runs, Path(tmp))
        bench_instruction_encoder(args.steps, args.runs, Path(tmp))
    if args.full:
        bench_full(args.full_steps)


if __name__ == '__main__':
    main()
