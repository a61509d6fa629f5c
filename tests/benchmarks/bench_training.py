"""Speed figures of head training from cached features (issue: training pipeline).

The original-size head (4864-d fused input -> fusion 2048 -> LSTM 4 x 512 -> chunk
10, window 8) trained with AdamW on windows served by ``FeatureWindowDataset`` from
cached backbone features (random values of the right shape: speed does not depend
on them). Prints samples per second and the data loader's time against the
optimisation step's, median and p95, for a few batch sizes.

    python tests/benchmarks/bench_training.py [--steps 60]
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import numpy as np
import torch
from torch.utils.data import DataLoader

from mobile_vla.policy.configuration_policy import load_preset
from mobile_vla.policy.modeling_policy import PolicyHead, VlaPolicy
from mobile_vla.training.features import EpisodeFeatures, FeatureWindowDataset

VISION_DIM = 2048 + 768  # Kosmos-2 image + CLIP image
TEXT_DIM = 2048  # Kosmos-2 text, one pooled vector (a single "token")
IN_DIM = VISION_DIM + TEXT_DIM
TEXTS = {'go left': (np.random.default_rng(1).standard_normal((1, TEXT_DIM)).astype(np.float32),
                     np.ones(1, np.int64))}


def episodes(count: int) -> list[EpisodeFeatures]:
    rng = np.random.default_rng(0)
    return [EpisodeFeatures(f'ep{i}', '1box_vert_left', 'go left',
                            rng.standard_normal((18, VISION_DIM)).astype(np.float32),
                            rng.uniform(-1, 1, (18, 3)).astype(np.float32),
                            ('episode_start',) + ('start_action', 'stop_action') * 8 +
                            ('start_action',)) for i in range(count)]


def bench(batch_size: int, steps: int, data: list[EpisodeFeatures]) -> None:
    config = load_preset('kosmos2_clip_lstm', kosmos2_path='', clip_path='')
    torch.manual_seed(0)
    head = PolicyHead(IN_DIM, config).train()
    optimizer = torch.optim.AdamW(head.parameters(), lr=5e-5, weight_decay=1e-3)
    owner = SimpleNamespace(config=config)
    loader = DataLoader(FeatureWindowDataset(data, 8, 10, texts=TEXTS), batch_size=batch_size,
                        shuffle=True, drop_last=True)
    load_ms, step_ms = [], []
    done = 0
    while done < steps:
        t0 = time.perf_counter()
        for batch in loader:
            t1 = time.perf_counter()
            h0, c0 = head.initial_state(batch_size)
            features = torch.cat([batch['vision'], batch['text_tokens'][:, :1].expand(
                -1, batch['vision'].shape[1], -1)], dim=-1)
            actions, _, _ = head(features, h0, c0)
            loss, _ = VlaPolicy.loss(owner, actions[:, -1], batch['actions'],
                                     batch['action_mask'])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head.parameters(), 1.0)
            optimizer.step()
            t2 = time.perf_counter()
            if done >= 3:  # warm-up steps are not counted
                load_ms.append((t1 - t0) * 1e3)
                step_ms.append((t2 - t1) * 1e3)
            done += 1
            if done >= steps:
                break
            t0 = time.perf_counter()
    total = np.array(load_ms) + np.array(step_ms)
    print(f'  batch {batch_size:3d}: {batch_size / (np.median(total) / 1e3):7.0f} samples/s; '
          f'loader median {np.median(load_ms):6.2f} ms p95 {np.percentile(load_ms, 95):6.2f}; '
          f'step median {np.median(step_ms):7.1f} ms p95 {np.percentile(step_ms, 95):7.1f} '
          f'(loader {np.median(load_ms) / np.median(step_ms):.1%} of step)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=60)
    parser.add_argument('--episodes', type=int, default=200)
    args = parser.parse_args()
    data = episodes(args.episodes)
    print(f'original-size head training from cached features ({args.episodes} episodes, '
          f'{len(FeatureWindowDataset(data, 8, 10))} windows), CPU, {torch.get_num_threads()} '
          'threads')
    for batch_size in (16, 64):
        bench(batch_size, args.steps, data)


if __name__ == '__main__':
    main()
