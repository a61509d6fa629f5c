"""Episode augmentation: left/right mirror, photometric with action noise, distance
scaling, and the settings of the trainer's image augmentation (``ImageAugment``; it runs
in ``mobile_vla.training.image_augment``).

- ``mirror``: flips every image left-right, swaps ``_left``/``_right`` in the
  scenario and left/right in the instruction, and negates ``linear_y`` and
  ``angular_z``. Mirroring twice gives back the original episode.
- ``photometric``: one brightness / contrast / colour-balance change per episode
  (as a different day or camera would give), light pixel noise, and Gaussian noise
  on the non-zero actions, as the original's first augmentation did.
- ``distance_scaled``: the original's distance-aware augmentation as we define it:
  zooming about the image centre (zoom > 1 looks as if the obstacle were closer)
  and scaling ``linear_x`` by 1 / zoom (a closer goal needs less forward motion),
  clipped to the action limit.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import cv2
import numpy as np

from mobile_vla.actions import ACTION_LIMIT
from mobile_vla.config import ConfigError, documented
from mobile_vla.episode import Episode
from mobile_vla.scenarios import swap_sides

MIRROR_SUFFIX = '_mirror'


def _renamed(name: str, suffix: str) -> str:
    return name[: -len(suffix)] if name.endswith(suffix) else name + suffix


def mirror(episode: Episode) -> Episode:
    actions = episode.actions.copy()
    actions[:, 1:] *= -1  # linear_y and angular_z change sign in a mirror image
    return dataclasses.replace(
        episode,
        images=np.ascontiguousarray(episode.images[:, :, ::-1]),
        actions=actions + 0.0,  # no negative zeros
        scenario=swap_sides(episode.scenario),
        instruction=swap_sides(episode.instruction),
        name=_renamed(episode.name, MIRROR_SUFFIX),
        extra_attrs={**episode.extra_attrs, 'augmentation': 'mirror'},
    )


def photometric(episode: Episode, rng: np.random.Generator, brightness: float = 0.25,
                contrast: float = 0.25, color: float = 0.1, pixel_noise: float = 3.0,
                action_noise: float = 0.05, suffix: str = '_photo') -> Episode:
    gain = rng.uniform(1 - contrast, 1 + contrast) * rng.uniform(1 - color, 1 + color, size=3)
    offset = rng.uniform(-brightness, brightness) * 255
    images = episode.images.astype(np.float32)
    mean = images.mean(axis=(1, 2), keepdims=True)
    images = (images - mean) * gain + mean + offset
    images += rng.normal(0.0, pixel_noise, images.shape).astype(np.float32)
    actions = episode.actions.astype(np.float64)
    moving = np.abs(actions) > 1e-6
    actions = np.where(moving, actions + rng.normal(0.0, action_noise, actions.shape), actions)
    return dataclasses.replace(
        episode, images=np.clip(images, 0, 255).astype(np.uint8),
        actions=np.clip(actions, -ACTION_LIMIT, ACTION_LIMIT).astype(np.float32),
        name=episode.name + suffix,
        extra_attrs={**episode.extra_attrs, 'augmentation': 'photometric'},
    )


def distance_scaled(episode: Episode, zoom: float, suffix: str | None = None) -> Episode:
    if not 0.5 <= zoom <= 2.0:
        raise ValueError(f'zoom must be within 0.5-2.0, got {zoom}')
    _, h, w, _ = episode.images.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, zoom)
    images = np.stack([cv2.warpAffine(img, matrix, (w, h), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REFLECT) for img in episode.images])
    actions = episode.actions.astype(np.float64).copy()
    actions[:, 0] = np.clip(actions[:, 0] / zoom, -ACTION_LIMIT, ACTION_LIMIT)
    return dataclasses.replace(
        episode, images=images, actions=actions.astype(np.float32),
        name=episode.name + (suffix or f'_zoom{zoom:.2f}'),
        extra_attrs={**episode.extra_attrs, 'augmentation': f'distance zoom {zoom:.3f}'},
    )


@dataclass(frozen=True)
class ImageAugment:
    """Training image augmentation (``TrainConfig.augment``): what a day, a camera and a
    mount change to the frames. One draw per episode copy (a copy sees one camera and one
    day); noise is drawn per frame. Each field is the largest change; 0 turns it off.

    Only the trainer applies it (``mobile_vla.training.image_augment``), to training
    draws: validation, evaluation and the robot never see augmented frames.
    """

    brightness: float = documented('brightness offset, share of full scale (+-)', 0.25)
    contrast: float = documented('contrast gain change (x 1 +- value)', 0.35)
    saturation: float = documented('saturation gain change (x 1 +- value)', 0.5)
    hue: float = documented('hue rotation, share of the colour circle (+-)', 0.08)
    noise: float = documented('largest Gaussian pixel noise std, grey levels', 8.0)
    blur: float = documented('largest Gaussian blur sigma, pixels at the model size', 1.2)
    shift: float = documented('largest crop shift, share of the image side (+-)', 0.06)
    zoom: float = documented('largest crop zoom-in (x 1 .. 1 + value)', 0.10)

    def __post_init__(self) -> None:
        limits = {'brightness': 1.0, 'contrast': 0.9, 'saturation': 1.0, 'hue': 0.5,
                  'noise': 64.0, 'blur': 8.0, 'shift': 0.3, 'zoom': 1.0}
        for name, most in limits.items():
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value)
                    and 0 <= value <= most):
                raise ConfigError(f'augment.{name} must be in [0, {most}], got {value!r}')
