"""Inputs the policy tests share: instructions, camera frames and a training batch."""

import numpy as np
import torch

#: Every tiny preset: built from random weights, no snapshot needed.
TINY = ['kosmos2_clip_tiny', 'kosmos2_tiny', 'clip_tiny', 'kosmos2_resampler_tiny',
        'kosmos2_clip_minilm_tiny', 'kosmos2_clip_minilm_patches_tiny',
        'kosmos2_clip_minilm_pixels_tiny']
LEFT = 'go around the box on the left to the cup'
RIGHT = 'go around the box on the right to the cup'


def frames(n, size=(96, 128), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n)]


def batch(b=2, window=8, chunk=10, dim=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        'images': torch.randint(0, 256, (b, window, 3, 224, 224), dtype=torch.uint8,
                                generator=g),
        'instruction': [LEFT, RIGHT][:b],
        # A fixed target (forward, a little to the left) the head can fit quickly.
        'actions': torch.tensor([0.6, 0.3, -0.2])[:dim].expand(b, chunk, dim).clone(),
        'action_mask': torch.ones(b, chunk, dtype=torch.bool),
    }
