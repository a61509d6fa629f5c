"""Camera calibration files (the YAML that ROS camera_calibration writes) as CameraInfo fields."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from mobile_vla.config import ConfigError

_MATRICES = {
    'camera_matrix': (3, 3), 'rectification_matrix': (3, 3), 'projection_matrix': (3, 4),
}


@dataclass(frozen=True)
class Calibration:
    width: int
    height: int
    distortion_model: str
    d: tuple[float, ...]
    k: tuple[float, ...]
    r: tuple[float, ...]
    p: tuple[float, ...]
    camera_name: str = ''

    def scaled(self, width: int, height: int) -> Calibration:
        """The calibration of the same camera resized to ``width`` x ``height``."""
        if (width, height) == (self.width, self.height):
            return self
        sx, sy = width / self.width, height / self.height
        k = list(self.k)
        k[0], k[2], k[4], k[5] = k[0] * sx, k[2] * sx, k[4] * sy, k[5] * sy
        p = list(self.p)
        p[0], p[2], p[3], p[5], p[6] = p[0] * sx, p[2] * sx, p[3] * sx, p[5] * sy, p[6] * sy
        return replace(self, width=width, height=height, k=tuple(k), p=tuple(p))

    def fields(self) -> dict[str, Any]:
        """sensor_msgs/CameraInfo fields (no header)."""
        return {
            'width': self.width, 'height': self.height,
            'distortion_model': self.distortion_model,
            'd': list(self.d), 'k': list(self.k), 'r': list(self.r), 'p': list(self.p),
            'binning_x': 0, 'binning_y': 0,
        }


def load_calibration(path: str | Path) -> Calibration:
    """Read a camera_calibration YAML; every missing or malformed entry is named."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise ConfigError(f'calibration file {path} not found; fix calibration_file or '
                          'leave it empty to publish no camera_info') from None
    except yaml.YAMLError as exc:
        raise ConfigError(f'calibration file {path} is not valid YAML: {exc}') from None
    if not isinstance(data, dict):
        raise ConfigError(f'calibration file {path} must be a mapping')
    try:
        matrices = {}
        for key, (rows, cols) in _MATRICES.items():
            values = [float(v) for v in data[key]['data']]
            if len(values) != rows * cols:
                raise ConfigError(f'{path}: {key} needs {rows * cols} values, got {len(values)}')
            matrices[key] = tuple(values)
        d = tuple(float(v) for v in data['distortion_coefficients']['data'])
        return Calibration(
            width=int(data['image_width']), height=int(data['image_height']),
            distortion_model=str(data.get('distortion_model', 'plumb_bob')), d=d,
            k=matrices['camera_matrix'], r=matrices['rectification_matrix'],
            p=matrices['projection_matrix'], camera_name=str(data.get('camera_name', '')),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f'calibration file {path} is missing or has a bad entry: {exc}') \
            from None
