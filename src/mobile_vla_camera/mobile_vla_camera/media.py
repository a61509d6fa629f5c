"""Generate camera test media: a video file of the counter pattern (for tests and demos)."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from mobile_vla_camera import pattern


def write_pattern_video(path: str | Path, count: int, fps: float = 30.0,
                        size: tuple[int, int] = (1280, 720), start: int = 0) -> Path:
    """Write ``count`` pattern frames (counters ``start``...) as MP4 (mp4v); returns the path."""
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write {path}: no mp4v encoder in this build')
    try:
        for index in range(start, start + count):
            writer.write(pattern.render(index, size[1], size[0]))
    finally:
        writer.release()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('output', help='MP4 file to write')
    parser.add_argument('--frames', type=int, default=300)
    parser.add_argument('--fps', type=float, default=30.0)
    parser.add_argument('--width', type=int, default=1280)
    parser.add_argument('--height', type=int, default=720)
    args = parser.parse_args(argv)
    write_pattern_video(args.output, args.frames, args.fps, (args.width, args.height))
    print(f'wrote {args.frames} frames to {args.output}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
