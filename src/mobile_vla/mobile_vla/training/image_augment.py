"""The trainer's image augmentation (``mobile_vla.augment.ImageAugment``), batched in torch.

Each episode copy gets one ``Draw``: a brightness, contrast, saturation and hue change,
a blur, sensor noise and a small crop (shift and zoom), as another camera, day and
mount would give the same drive; every frame of the copy gets the same draw, so the
room stays one room. ``augment`` applies the draws of a whole training step at once
(``mobile_vla.training.pixels``); ``augment_frames`` makes one augmented copy in numpy
for the feature cache (``TrainConfig.augment_views``).

Only training calls this module (the trainer, and the image tower's training in
``vision_pretrain``): validation, evaluation and the robot's policy step
never see augmented frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mobile_vla.augment import ImageAugment

# RGB <-> YIQ (NTSC): hue is a rotation of the (I, Q) chroma plane, saturation its scale.
_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                        [0.211, -0.523, 0.312]])
_FROM_YIQ = torch.linalg.inv(_TO_YIQ)


@dataclass(frozen=True)
class Draw:
    """One episode copy's augmentation."""

    brightness: float  # offset, share of full scale
    contrast: float  # gain about the frame's mean
    saturation: float  # chroma gain
    hue: float  # rotation, share of the colour circle
    blur: float  # Gaussian sigma, pixels
    noise: float  # Gaussian pixel noise std, grey levels
    zoom: float  # >= 1: crop zoom-in
    shift_x: float  # crop shift, share of the width
    shift_y: float  # crop shift, share of the height


def draw(rng: np.random.Generator, config: ImageAugment) -> Draw:
    """One draw from the ranges of ``config``."""
    u = lambda most: float(rng.uniform(-most, most))  # noqa: E731
    return Draw(brightness=u(config.brightness), contrast=1 + u(config.contrast),
                saturation=1 + u(config.saturation), hue=u(config.hue),
                blur=float(rng.uniform(0, config.blur)), noise=float(rng.uniform(0, config.noise)),
                zoom=1 + float(rng.uniform(0, config.zoom)), shift_x=u(config.shift),
                shift_y=u(config.shift))


def _per_frame(draws: list[tuple[int, Draw]], name: str, total: int) -> torch.Tensor:
    values = torch.empty(total)
    start = 0
    for count, d in draws:
        values[start:start + count] = getattr(d, name)
        start += count
    return values


def _crop(x: torch.Tensor, zoom: torch.Tensor, sx: torch.Tensor, sy: torch.Tensor):
    """Zoom about the centre and shift (as ``cv2.warpAffine`` would), edges reflected."""
    theta = torch.zeros(len(x), 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / zoom
    theta[:, 0, 2] = -2 * sx / zoom
    theta[:, 1, 2] = -2 * sy / zoom
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode='bilinear', padding_mode='reflection',
                         align_corners=False)


def _colour(x: torch.Tensor, saturation: torch.Tensor, hue: torch.Tensor) -> torch.Tensor:
    angle = hue * 2 * math.pi
    cos, sin = torch.cos(angle) * saturation, torch.sin(angle) * saturation
    chroma = torch.zeros(len(x), 3, 3)
    chroma[:, 0, 0] = 1
    chroma[:, 1, 1], chroma[:, 1, 2] = cos, -sin
    chroma[:, 2, 1], chroma[:, 2, 2] = sin, cos
    matrix = _FROM_YIQ @ chroma @ _TO_YIQ
    return torch.einsum('nij,njhw->nihw', matrix, x)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur, edges reflected (a defocused lens); as sums of shifted
    copies, which on a CPU are several times faster than a depthwise convolution."""
    radius = min(math.ceil(3 * sigma), x.shape[-1] - 1, x.shape[-2] - 1)
    if radius < 1:
        return x
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).tolist()
    for dim in (-1, -2):
        size = x.shape[dim]
        padded = F.pad(x, (radius, radius, 0, 0) if dim == -1 else (0, 0, radius, radius),
                       mode='reflect')
        x = padded.narrow(dim, 0, size) * kernel[0]
        for i in range(1, len(kernel)):
            x.add_(padded.narrow(dim, i, size), alpha=kernel[i])
    return x


def augment(frames: torch.Tensor, draws: list[tuple[int, Draw | None]],
            generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, 3, H, W) uint8 frames of consecutive episode copies, and each copy's
    (frame count, draw or None for a clean copy) -> the augmented uint8 frames."""
    if sum(count for count, _ in draws) != len(frames):
        raise ValueError(f'the draws cover {sum(c for c, _ in draws)} frames, not '
                         f'{len(frames)}')
    out = frames.clone()
    start = 0
    spans = []
    for count, d in draws:
        if d is not None:
            spans.append((start, count, d))
        start += count
    if not spans:
        return out
    rows = torch.cat([torch.arange(s, s + n) for s, n, _ in spans])
    chosen = [(n, d) for _, n, d in spans]
    total = len(rows)
    value = lambda name: _per_frame(chosen, name, total)  # noqa: E731
    x = frames[rows].float().div_(255.0)
    zoom, shift_x, shift_y = value('zoom'), value('shift_x'), value('shift_y')
    if (zoom != 1).any() or shift_x.any() or shift_y.any():
        x = _crop(x, zoom, shift_x, shift_y)
    x = _colour(x, value('saturation'), value('hue'))
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * value('contrast').view(-1, 1, 1, 1) + mean
    x = x + value('brightness').view(-1, 1, 1, 1)
    at = 0
    for n, d in chosen:
        if d.blur > 0.05:
            x[at:at + n] = _blur(x[at:at + n], d.blur)
        at += n
    noise = value('noise').view(-1, 1, 1, 1) / 255.0
    x.add_(torch.randn(x.shape, generator=generator).mul_(noise))
    out[rows] = x.clamp_(0, 1).mul_(255).round_().to(torch.uint8)
    return out


def augment_frames(frames: np.ndarray, rng: np.random.Generator,
                   config: ImageAugment) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB frames -> one augmented copy (one draw for all frames)."""
    d = draw(rng, config)
    generator = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    return augment(x, [(len(frames), d)], generator).permute(0, 2, 3, 1).numpy().copy()
