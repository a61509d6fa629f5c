"""Frame sources behind one small interface: CSI (GStreamer), V4L2/USB, video file,
image folder and the synthetic pattern.

A source opens a device or file, hands out BGR frames with their index, and says
what to check when it fails. Sources never sleep: pacing of recorded media (file,
images, synthetic) is the grab loop's job, using ``Frame.media_ns`` and ``fps``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from mobile_vla.units import NS
from mobile_vla_camera import pattern

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.ppm', '.pgm')
#: Consecutive failed reads after which a live device counts as stopped.
MAX_FAILED_READS = 5


class SourceError(RuntimeError):
    """The source cannot deliver frames; the text says what to check."""


@dataclass(frozen=True)
class Frame:
    """One captured frame: BGR uint8 pixels and where it sits in its stream."""

    image: np.ndarray
    index: int  # frame counter of the stream (gaps mean frames were lost)
    media_ns: int | None = None  # position in recorded media; None for live cameras


class FrameSource(Protocol):
    name: str
    live: bool  # paced by the device (csi, v4l2) or by the grab loop (recorded media)
    fps: float

    def open(self) -> None: ...

    def read(self) -> Frame | None:
        """The next frame; None at the end of non-looping media; SourceError on failure."""

    def close(self) -> None: ...


def gstreamer_available() -> bool:
    """True if this OpenCV build can open GStreamer pipelines."""
    match = re.search(r'GStreamer:\s*(\S+)', cv2.getBuildInformation())
    return bool(match and match.group(1).upper().startswith('YES'))


def csi_pipeline(
    sensor_id: int = 0,
    width: int = 1280,
    height: int = 720,
    fps: int = 30,
    flip_method: int = 2,
    output_width: int = 0,
    output_height: int = 0,
) -> str:
    """The nvarguscamerasrc pipeline: ISP capture, flip and scale in nvvidconv, BGR appsink.

    ``appsink drop=true max-buffers=1 sync=false`` keeps only the newest frame, so a
    slow consumer sees fresh frames rather than a growing queue. flip_method 2 turns
    the image 180 degrees (the original camera was mounted upside down).
    """
    if not 0 <= flip_method <= 7:
        raise ValueError(f'flip_method must be 0-7 (nvvidconv), got {flip_method}')
    out_w = output_width or width
    out_h = output_height or height
    return (
        f'nvarguscamerasrc sensor-id={sensor_id} ! '
        f'video/x-raw(memory:NVMM), width=(int){width}, height=(int){height}, '
        f'framerate=(fraction){fps}/1, format=(string)NV12 ! '
        f'nvvidconv flip-method={flip_method} ! '
        f'video/x-raw, width=(int){out_w}, height=(int){out_h}, format=(string)BGRx ! '
        'videoconvert ! video/x-raw, format=(string)BGR ! '
        'appsink drop=true max-buffers=1 sync=false'
    )


class _CaptureSource:
    """Shared logic of the sources OpenCV's VideoCapture reads."""

    name = 'capture'
    live = True
    fps = 30.0

    def __init__(self) -> None:
        self._cap: cv2.VideoCapture | None = None
        self._index = 0

    def _open_capture(self, target: object, api: int) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(target, api)
        if not cap.isOpened():
            cap.release()
            raise SourceError(self.open_hint())
        return cap

    def open_hint(self) -> str:
        return f'{self.name}: cannot open'

    def read_hint(self) -> str:
        return f'{self.name}: stopped delivering frames'

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceError(f'{self.name}: read before open')
        for _ in range(MAX_FAILED_READS):
            ok, image = self._cap.read()
            if ok and image is not None:
                frame = Frame(image, self._index)
                self._index += 1
                return frame
        raise SourceError(self.read_hint())

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class CsiSource(_CaptureSource):
    """The Jetson CSI camera through nvarguscamerasrc (OpenCV must have GStreamer)."""

    name = 'csi'

    def __init__(self, pipeline: str, fps: float) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.fps = fps

    def open(self) -> None:
        if not gstreamer_available():
            raise SourceError(
                'csi: this OpenCV was built without GStreamer, so nvarguscamerasrc cannot be '
                "opened. On the Jetson use the image's OpenCV (docker/Dockerfile.jetson, "
                "cv2.getBuildInformation() shows 'GStreamer: YES'); elsewhere set "
                'source:=v4l2, file, images or synthetic'
            )
        self._cap = self._open_capture(self.pipeline, cv2.CAP_GSTREAMER)

    def open_hint(self) -> str:
        return (
            f'csi: the pipeline did not start ({self.pipeline}). Check the ribbon cable and '
            'the sensor id, that no other process holds the camera, and restart the Argus '
            'daemon: sudo systemctl restart nvargus-daemon (in Docker, mount /tmp/argus_socket)'
        )

    def read_hint(self) -> str:
        return (
            'csi: the camera stopped delivering frames. Restart the Argus daemon '
            '(sudo systemctl restart nvargus-daemon) and check the ribbon cable; '
            'the node retries on its own'
        )


class V4l2Source(_CaptureSource):
    """A USB / V4L2 camera by index ('0') or path ('/dev/video0')."""

    name = 'v4l2'

    def __init__(self, device: str, width: int, height: int, fps: float) -> None:
        super().__init__()
        self.device = device
        self.width, self.height, self.fps = width, height, fps

    def open(self) -> None:
        target: object = int(self.device) if self.device.isdigit() else self.device
        if isinstance(target, str) and not Path(target).exists():
            raise SourceError(self.open_hint())
        cap = self._open_capture(target, cv2.CAP_V4L2)
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*'MJPG'))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a queue
        self._cap = cap

    def open_hint(self) -> str:
        return (
            f'v4l2: camera {self.device} not found or busy; check the cable and '
            '`v4l2-ctl --list-devices`, or set source:=file, images or synthetic'
        )

    def read_hint(self) -> str:
        return f'v4l2: camera {self.device} stopped delivering frames; check the cable'


class FileSource(_CaptureSource):
    """Any video file OpenCV reads; loops at the end if asked."""

    name = 'file'
    live = False

    def __init__(self, path: str, loop: bool = True, fps: float = 0.0) -> None:
        super().__init__()
        self.path = Path(path)
        self.loop = loop
        self._fps_override = fps
        self.fps = fps or 30.0
        self._media_index = 0

    def open(self) -> None:
        if not self.path.is_file():
            raise SourceError(self.open_hint())
        self._cap = self._open_capture(str(self.path), cv2.CAP_FFMPEG)
        file_fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = self._fps_override or (file_fps if file_fps and file_fps > 0 else 30.0)
        self._media_index = 0

    def open_hint(self) -> str:
        if not self.path.exists():
            return f'file: video {self.path} not found; check the path parameter'
        return f'file: OpenCV cannot decode {self.path}; convert it to MP4 (H.264) or MJPG AVI'

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceError('file: read before open')
        ok, image = self._cap.read()
        if not ok or image is None:
            if self._media_index == 0:
                raise SourceError(f'file: {self.path} has no readable frames')
            if not self.loop:
                return None
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._media_index = 0
            ok, image = self._cap.read()
            if not ok or image is None:
                raise SourceError(f'file: {self.path} could not be rewound; it may be damaged')
        frame = Frame(image, self._index, round(self._media_index * NS / self.fps))
        self._index += 1
        self._media_index += 1
        return frame


class ImageFolderSource:
    """The images of a folder in name order (png, jpg, ...), looping if asked."""

    name = 'images'
    live = False

    def __init__(self, folder: str, fps: float = 30.0, loop: bool = True) -> None:
        self.folder = Path(folder)
        self.fps = fps
        self.loop = loop
        self._files: list[Path] = []
        self._pos = 0
        self._index = 0
        #: Files that could not be read, in order (the grab loop reports and counts them).
        self.skipped: list[str] = []

    def open(self) -> None:
        if not self.folder.is_dir():
            raise SourceError(f'images: folder {self.folder} not found; check the path parameter')
        self._files = sorted(p for p in self.folder.iterdir()
                             if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise SourceError(
                f'images: no images ({", ".join(IMAGE_SUFFIXES)}) in {self.folder}')
        self._pos = 0

    def read(self) -> Frame | None:
        """The next readable image; an unreadable one is skipped (and listed in
        ``skipped``), so one bad file never restarts the sequence. A whole pass without
        a readable image is an error."""
        for _ in range(len(self._files) + 1):
            if self._pos >= len(self._files):
                if not self.loop:
                    return None
                self._pos = 0
            path = self._files[self._pos]
            self._pos += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                self.skipped.append(f'images: cannot read {path} (missing or not an image); '
                                    'skipped')
                continue
            frame = Frame(image, self._index, round(self._index * NS / self.fps))
            self._index += 1
            return frame
        raise SourceError(f'images: none of the images in {self.folder} can be read')

    def close(self) -> None:
        self._files = []


class SyntheticSource:
    """The moving test pattern with its frame counter burned in (see ``pattern``)."""

    name = 'synthetic'
    live = False

    def __init__(self, width: int = 1280, height: int = 720, fps: float = 30.0,
                 start_index: int = 0) -> None:
        self.width, self.height, self.fps = width, height, fps
        self._index = start_index

    def open(self) -> None:
        pattern.render(0, self.height, self.width)  # build the cached layers now

    def read(self) -> Frame:
        frame = Frame(pattern.render(self._index, self.height, self.width), self._index,
                      round(self._index * NS / self.fps))
        self._index += 1
        return frame

    def close(self) -> None:
        pass
