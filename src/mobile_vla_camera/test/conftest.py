from pathlib import Path

import cv2
import numpy as np
import pytest

from mobile_vla_camera.media import write_pattern_video


@pytest.fixture(scope='session')
def workspace_config() -> Path:
    return Path(__file__).resolve().parents[3] / 'config'


@pytest.fixture
def image_folder(tmp_path):
    """Five random 720p PNG images (lossless: frames must come back bit-exact)."""
    folder = tmp_path / 'images'
    folder.mkdir()
    rng = np.random.default_rng(11)
    frames = [rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(5)]
    for i, frame in enumerate(frames):
        assert cv2.imwrite(str(folder / f'frame_{i:03d}.png'), frame)
    return folder, frames


@pytest.fixture
def pattern_video(tmp_path):
    """A 60-frame 720p MP4 of the counter pattern (lossy: compare by counter)."""
    return write_pattern_video(tmp_path / 'pattern.mp4', 60)


@pytest.fixture
def calibration_file(tmp_path) -> Path:
    """A 1280x720 camera calibration (camera_calibration's YAML), fx 900, fy 910."""
    path = tmp_path / 'cal.yaml'
    path.write_text(
        'image_width: 1280\nimage_height: 720\ncamera_name: csi\n'
        'camera_matrix: {rows: 3, cols: 3, data: [900, 0, 640, 0, 910, 360, 0, 0, 1]}\n'
        'distortion_model: plumb_bob\n'
        'distortion_coefficients: {rows: 1, cols: 5, data: [0.1, -0.2, 0, 0, 0]}\n'
        'rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}\n'
        'projection_matrix: {rows: 3, cols: 4, data: [900, 0, 640, 0, 0, 910, 360, 0, 0, 0, '
        '1, 0]}\n')
    return path
