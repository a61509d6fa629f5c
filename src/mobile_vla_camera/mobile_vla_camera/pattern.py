"""The synthetic test pattern: a moving scene with its frame counter burned in.

The counter is drawn twice: as digits for people, and as a row of 32 black or
white blocks (most significant bit first) that survive video compression and
resizing, so ``read_counter`` can measure dropped frames and latency end to end.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

BITS = 32
#: The block row spans this share of the image width, at the top edge.
BAND_WIDTH = 0.75
BAND_HEIGHT = 0.06


def _block_geometry(height: int, width: int) -> tuple[int, float, int]:
    band_h = max(4, int(round(height * BAND_HEIGHT)))
    block_w = width * BAND_WIDTH / BITS
    x0 = int(round(width * (1 - BAND_WIDTH) / 2))
    return band_h, block_w, x0


#: Horizontal period of the moving layers (checkers of 80 px, a 256-step ramp).
PERIOD = 1280
PIXELS_PER_FRAME = 4


@functools.lru_cache(maxsize=4)
def _layers(height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precomputed layers: moving blue and red (PERIOD wider than the frame), still green."""
    y, x = np.mgrid[0:height, 0:width + PERIOD]
    blue = (x[:1] % 256).astype(np.uint8)  # one row; broadcast over the rows
    red = np.where((x // 80 + y // 80) % 2 == 0, 200, 40).astype(np.uint8)
    green = (y[:, :width] * 255 // max(1, height)).astype(np.uint8)
    return blue, red, green


def render(index: int, height: int = 720, width: int = 1280) -> np.ndarray:
    """Frame ``index`` of the pattern as BGR uint8 (H, W, 3): same index, same pixels."""
    if not 0 <= index < 2**BITS:
        raise ValueError(f'frame index must fit in {BITS} bits, got {index}')
    blue, red, green = _layers(height, width)
    offset = (index * PIXELS_PER_FRAME) % PERIOD
    frame = np.empty((height, width, 3), np.uint8)
    frame[..., 0] = blue[:, offset:offset + width]
    frame[..., 1] = green
    frame[..., 2] = red[:, offset:offset + width]
    band_h, block_w, x0 = _block_geometry(height, width)
    frame[:band_h + 4] = 128
    for bit in range(BITS):
        on = (index >> (BITS - 1 - bit)) & 1
        left = x0 + int(round(bit * block_w))
        right = x0 + int(round((bit + 1) * block_w))
        frame[2:band_h + 2, left:right] = 255 if on else 0
    scale = height / 360
    cv2.putText(frame, f'{index:08d}', (int(20 * scale), int(60 * scale) + band_h),
                cv2.FONT_HERSHEY_SIMPLEX, 1.2 * scale, (255, 255, 255), max(1, int(2 * scale)),
                cv2.LINE_AA)
    return frame


def read_counter(image: np.ndarray, channel_order: str = 'bgr') -> int:
    """Decode the block counter of a pattern frame (any size, BGR or RGB, lossy video ok)."""
    if image.ndim != 3 or image.shape[2] < 3:
        raise ValueError(f'need a colour image (H, W, 3), got shape {image.shape}')
    height, width = image.shape[:2]
    band_h, block_w, x0 = _block_geometry(height, width)
    row = 2 + band_h // 2
    band = image[max(0, row - 1):row + 2, :, :3].astype(np.int32)  # only the counter rows
    value = 0
    for bit in range(BITS):
        cx = int(x0 + (bit + 0.5) * block_w)
        patch = band[:, max(0, cx - 1):cx + 2]
        value = (value << 1) | int(patch.mean() > 128)
    return value
