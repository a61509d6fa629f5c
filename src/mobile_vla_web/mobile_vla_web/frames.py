"""The camera stream of the page: each frame downscaled and JPEG-encoded once, for all.

``FrameGate`` decides by capture stamps which frames are encoded (at most
``stream_fps``); ``encode_jpeg`` turns one into the bytes every viewer gets. The
wiring runs the encoding on a worker, never in a ROS callback.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from mobile_vla.units import NS

#: The header of a binary WebSocket frame message: capture stamp (ns), sequence, width,
#: height, all little-endian; the JPEG follows.
FRAME_HEADER = struct.Struct('<qIHH')
#: A frame this much early still counts as due (timer jitter of the camera).
DUE_SLACK = 0.2


@dataclass(frozen=True)
class JpegFrame:
    seq: int
    stamp_ns: int
    width: int
    height: int
    jpeg: bytes

    def message(self) -> bytes:
        """The binary WebSocket message of this frame (header + JPEG)."""
        return FRAME_HEADER.pack(self.stamp_ns, self.seq, self.width, self.height) + self.jpeg


class FrameGate:
    """At most ``fps`` frames a second pass, by their capture stamps, on a fixed grid: a
    20 fps camera gives 15 fps of a 15 fps stream, not every other frame (10)."""

    def __init__(self, fps: float) -> None:
        self.period_ns = int(NS / fps)
        self._next: int | None = None
        self._last: int | None = None
        self.passed = 0

    def due(self, stamp_ns: int) -> bool:
        restarted = self._last is not None and stamp_ns < self._last
        self._last = stamp_ns
        if self._next is not None and not restarted and \
                stamp_ns < self._next - self.period_ns * DUE_SLACK:
            return False
        # The next slot on the grid; after a gap the grid starts again (no burst).
        base = stamp_ns if self._next is None or restarted else self._next
        self._next = base + self.period_ns
        if self._next <= stamp_ns:
            self._next = stamp_ns + self.period_ns
        self.passed += 1
        return True


def encode_jpeg(image: np.ndarray, channel_order: str, width: int, quality: int,
                seq: int, stamp_ns: int) -> JpegFrame:
    """Downscale ``image`` (H, W, 3) to ``width`` (never up) and encode it as JPEG."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'expected an (H, W, 3) colour image, got shape {image.shape}')
    h, w = image.shape[:2]
    if w > width:
        height = max(1, round(h * width / w))
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if channel_order == 'rgb':
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError('JPEG encoding failed')
    return JpegFrame(seq, stamp_ns, image.shape[1], image.shape[0], data.tobytes())
