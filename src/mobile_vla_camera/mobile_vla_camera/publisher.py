"""The camera publisher component: frames in, ready Image fields out, with health figures.

``CameraPublisher`` turns a captured BGR frame into the pixels of an Image message
in one pass, written straight into the message's own buffer (one copy at most:
rotation, resizing and the colour order are folded into that pass). Next to it goes
a policy-sized copy (``policy_size``, 224x224 by default), resized by the policy's own
``resize_frame``, so the policy never has 2.7 MB frames moved to it and sees exactly
the pixels it would have computed from the full frame. It also
keeps the source's health: retry with exponential backoff, the last error with
what to check, publish rate, dropped (skipped index) and late frames, and
capture-to-publish latency. Time comes in as integer nanoseconds.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import cv2
import numpy as np

from mobile_vla.config import ConfigError
from mobile_vla.config import documented as _doc
from mobile_vla.msgs import numpy_buffer
from mobile_vla.policy.preprocess import resize_frame
from mobile_vla.units import NS
from mobile_vla_camera.calibration import Calibration
from mobile_vla_camera.sources import (
    CsiSource,
    FileSource,
    Frame,
    FrameSource,
    ImageFolderSource,
    SyntheticSource,
    V4l2Source,
    csi_pipeline,
)

SOURCES = ('csi', 'v4l2', 'file', 'images', 'synthetic')
CAMERA_SOURCES = ('csi', 'v4l2')
ENCODINGS = ('rgb8', 'bgr8')


@dataclass(frozen=True)
class CameraConfig:
    """Parameters of the camera publisher node."""

    source: str = _doc('csi, v4l2, file, images or synthetic', 'csi')
    width: int = _doc('capture width in pixels (csi, v4l2, synthetic)', 1280)
    height: int = _doc('capture height in pixels (csi, v4l2, synthetic)', 720)
    fps: float = _doc('frame rate; for file, 0 uses the rate stored in the file', 30.0)
    sensor_id: int = _doc('csi: nvarguscamerasrc sensor-id', 0)
    rotate_180: bool = _doc(
        'camera sources only: the camera is mounted upside down (csi: done in the ISP)', False)
    flip_method: int = _doc('csi: nvvidconv flip-method 0-7; -1 follows rotate_180', -1)
    device: str = _doc('v4l2: device path or index', '/dev/video0')
    path: str = _doc('file: a video file; images: a folder of images', '')
    loop: bool = _doc('file, images: start again at the end', True)
    realtime: bool = _doc('file, images, synthetic: pace frames at fps (else as fast as read)',
                          True)
    encoding: str = _doc('rgb8 or bgr8', 'rgb8')
    output_width: int = _doc('resize to this width before publishing; 0 keeps the size', 0)
    output_height: int = _doc('resize to this height before publishing; 0 keeps the size', 0)
    policy_size: int = _doc(
        'side of the square copy on camera/image_policy, resized as the policy does (its '
        'image_size: 224 for Kosmos-2 and CLIP); 0 = not published', 224)
    frame_id: str = _doc('optical frame of the image and camera_info', 'camera_optical_frame')
    calibration_file: str = _doc(
        'camera_calibration YAML; camera_info is published only when set (scaled to the '
        'published size)', '')
    retry_initial_s: float = _doc('first wait before reopening a failed source', 0.5)
    retry_max_s: float = _doc('longest wait between reopen attempts (doubling from initial)',
                              8.0)
    stall_timeout_s: float = _doc('no frame for this long is reported as a stalled camera', 2.0)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f'source must be one of {", ".join(SOURCES)}, got {self.source!r}')
        if self.encoding not in ENCODINGS:
            raise ConfigError(f'encoding must be rgb8 or bgr8, got {self.encoding!r}')
        if self.width <= 0 or self.height <= 0:
            raise ConfigError(f'width and height must be positive, got {self.width}x{self.height}')
        if not math.isfinite(self.fps) or self.fps < 0 or (
                self.fps == 0 and self.source != 'file'):
            raise ConfigError(f'fps must be > 0 (0 only for file), got {self.fps}')
        if (self.output_width == 0) != (self.output_height == 0) or min(
                self.output_width, self.output_height) < 0:
            raise ConfigError('set both output_width and output_height (or neither), got '
                              f'{self.output_width}x{self.output_height}')
        if self.policy_size < 0:
            raise ConfigError(f'policy_size must be >= 0 (0 = off), got {self.policy_size}')
        if not -1 <= self.flip_method <= 7:
            raise ConfigError(f'flip_method must be -1 or 0-7, got {self.flip_method}')
        if self.source in ('file', 'images') and not self.path:
            raise ConfigError(f'source {self.source} needs the path parameter')
        if not 0 < self.retry_initial_s <= self.retry_max_s:
            raise ConfigError('need 0 < retry_initial_s <= retry_max_s')
        if not self.stall_timeout_s > 0:
            raise ConfigError(f'stall_timeout_s must be > 0, got {self.stall_timeout_s}')

    @property
    def software_rotation(self) -> bool:
        """Rotate in software: the v4l2 camera is upside down (csi rotates in the ISP)."""
        return self.rotate_180 and self.source == 'v4l2'


def make_source(config: CameraConfig) -> FrameSource:
    """The (unopened) frame source the configuration names."""
    if config.source == 'csi':
        flip = config.flip_method if config.flip_method >= 0 else (2 if config.rotate_180 else 0)
        pipeline = csi_pipeline(config.sensor_id, config.width, config.height,
                                int(round(config.fps)), flip, config.output_width,
                                config.output_height)
        return CsiSource(pipeline, config.fps)
    if config.source == 'v4l2':
        return V4l2Source(config.device, config.width, config.height, config.fps)
    if config.source == 'file':
        return FileSource(config.path, loop=config.loop, fps=config.fps)
    if config.source == 'images':
        return ImageFolderSource(config.path, fps=config.fps, loop=config.loop)
    return SyntheticSource(config.width, config.height, config.fps)


@dataclass(frozen=True)
class ImageOut:
    """A ready Image: message fields (data is the container from the allocator) and stamp;
    ``policy_fields`` are those of the policy-sized copy (None when it is off)."""

    fields: dict[str, Any]
    stamp_ns: int
    frame_id: str
    index: int
    policy_fields: dict[str, Any] | None = None


Allocator = Callable[[int], tuple[Any, np.ndarray]]


class CameraPublisher:
    """Frames to Image fields, and the health of the source feeding them."""

    def __init__(self, config: CameraConfig, calibration: Calibration | None = None,
                 alloc: Allocator = numpy_buffer, window: int = 300) -> None:
        self.config = config
        self.calibration = calibration
        self._alloc = alloc
        self._cal_cache: dict[tuple[int, int], Calibration] = {}
        # health
        self.state = 'opening'
        self.last_error = ''
        self.failures = 0
        self._retry_at_ns: int | None = None
        self._backoff_s = config.retry_initial_s
        self.frames_published = 0
        self.frames_dropped = 0
        self.frames_late = 0
        self.bad_frames = 0
        self._last_index: int | None = None
        self._last_frame_ns: int | None = None
        self._publish_times: deque[int] = deque(maxlen=window)
        self._latencies_ns: deque[int] = deque(maxlen=window)

    # ------------------------------------------------------------ supervision
    def make_source(self) -> FrameSource:
        return make_source(self.config)

    def retry_wait_s(self, now_ns: int) -> float:
        """Seconds until the source may be (re)opened; 0 means now."""
        if self._retry_at_ns is None:
            return 0.0
        return max(0.0, (self._retry_at_ns - now_ns) / NS)

    def opened(self, now_ns: int) -> None:
        self.state = 'streaming'
        self._retry_at_ns = None
        self._last_index = None
        self._last_frame_ns = now_ns

    def failed(self, error: str, now_ns: int) -> float:
        """The source failed to open or to read; returns the wait before the next attempt."""
        self.state = 'retrying'
        self.last_error = error
        self.failures += 1
        wait = self._backoff_s
        self._retry_at_ns = now_ns + int(wait * NS)
        self._backoff_s = min(self._backoff_s * 2, self.config.retry_max_s)
        return wait

    def finished(self) -> None:
        self.state = 'finished'

    # ----------------------------------------------------------------- frames
    def _output_size(self, width: int, height: int) -> tuple[int, int]:
        if self.config.output_width:
            return self.config.output_width, self.config.output_height
        return width, height

    def render(self, frame: Frame, capture_ns: int) -> ImageOut | None:
        """Image fields for ``frame``; None (counted) for a frame that is not BGR uint8."""
        image = frame.image
        if (not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3
                or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0):
            self.bad_frames += 1
            self.last_error = (f'bad frame {frame.index}: expected BGR uint8 (H, W, 3), got '
                               f'{getattr(image, "shape", None)} {getattr(image, "dtype", None)}')
            return None
        height, width = image.shape[:2]
        out_w, out_h = self._output_size(width, height)
        container, flat = self._alloc(out_h * out_w * 3)
        view = flat.reshape(out_h, out_w, 3)
        # One pass from the capture into the message buffer; the rest works in place.
        if (out_w, out_h) != (width, height):
            cv2.resize(image, (out_w, out_h), dst=view, interpolation=cv2.INTER_AREA)
            if self.config.software_rotation:
                cv2.flip(view, -1, dst=view)
        elif self.config.software_rotation:
            cv2.flip(image, -1, dst=view)
        elif self.config.encoding == 'rgb8':
            cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=view)
        else:
            np.copyto(view, image)
        needs_swap = self.config.encoding == 'rgb8' and (
            (out_w, out_h) != (width, height) or self.config.software_rotation)
        if needs_swap:
            cv2.cvtColor(view, cv2.COLOR_BGR2RGB, dst=view)
        if self._last_index is not None and frame.index > self._last_index + 1:
            self.frames_dropped += frame.index - self._last_index - 1
        self._last_index = frame.index
        self._last_frame_ns = capture_ns
        fields = self._fields(container, out_w, out_h)
        return ImageOut(fields, capture_ns, self.config.frame_id, frame.index,
                        self._policy_fields(view))

    def _fields(self, container: Any, width: int, height: int) -> dict[str, Any]:
        return {'height': height, 'width': width, 'encoding': self.config.encoding,
                'is_bigendian': 0, 'step': width * 3, 'data': container}

    def _policy_fields(self, view: np.ndarray) -> dict[str, Any] | None:
        """The published frame resized as the policy resizes it (same orientation and
        colour order), or None when ``policy_size`` is 0."""
        size = self.config.policy_size
        if not size:
            return None
        container, flat = self._alloc(size * size * 3)
        np.copyto(flat.reshape(size, size, 3), resize_frame(view, size, size))
        return self._fields(container, size, size)

    def published(self, capture_ns: int, now_ns: int, late: bool = False) -> None:
        """Record that a rendered frame went out at ``now_ns``."""
        self.frames_published += 1
        self.frames_late += int(late)
        self._publish_times.append(now_ns)
        self._latencies_ns.append(now_ns - capture_ns)

    def camera_info(self, width: int, height: int) -> dict[str, Any] | None:
        """CameraInfo fields matching a published image size, or None without calibration."""
        if self.calibration is None:
            return None
        cal = self._cal_cache.get((width, height))
        if cal is None:
            cal = self._cal_cache[(width, height)] = self.calibration.scaled(width, height)
        return cal.fields()

    # ----------------------------------------------------------------- health
    def rate_hz(self) -> float:
        times = self._publish_times
        if len(times) < 2 or times[-1] == times[0]:
            return 0.0
        return (len(times) - 1) * NS / (times[-1] - times[0])

    def latency_ms(self) -> tuple[float, float]:
        """(median, p95) capture-to-publish latency over the recent window."""
        if not self._latencies_ns:
            return (0.0, 0.0)
        arr = np.array(self._latencies_ns) / 1e6
        return float(np.median(arr)), float(np.percentile(arr, 95))

    def diagnostics(self, now_ns: int) -> tuple[str, str, dict[str, str]]:
        """(level, message, values) for /diagnostics."""
        p50, p95 = self.latency_ms()
        values = {
            'source': self.config.source,
            'state': self.state,
            'rate_hz': f'{self.rate_hz():.2f}',
            'frames_published': str(self.frames_published),
            'frames_dropped': str(self.frames_dropped),
            'frames_late': str(self.frames_late),
            'bad_frames': str(self.bad_frames),
            'latency_ms_p50': f'{p50:.2f}',
            'latency_ms_p95': f'{p95:.2f}',
            'failures': str(self.failures),
            'last_error': self.last_error,
        }
        if self.state == 'retrying':
            wait = self.retry_wait_s(now_ns)
            return 'ERROR', f'{self.last_error} (retrying in {wait:.1f} s)', values
        if self.state == 'finished':
            return 'WARN', 'end of media reached (loop is off)', values
        if self.state == 'opening':
            return 'WARN', f'opening {self.config.source} camera', values
        silent = (now_ns - (self._last_frame_ns or now_ns)) / NS
        if silent > self.config.stall_timeout_s:
            hint = (' restart nvargus-daemon if it does not recover'
                    if self.config.source == 'csi' else '')
            return 'ERROR', f'no frame for {silent:.1f} s: the camera stalled;{hint}', values
        if self.bad_frames or self.frames_dropped:
            return 'WARN', (f'{self.rate_hz():.1f} Hz; {self.frames_dropped} dropped, '
                            f'{self.bad_frames} bad frames'), values
        return 'OK', f'{self.rate_hz():.1f} Hz, latency {p50:.1f} ms', values
