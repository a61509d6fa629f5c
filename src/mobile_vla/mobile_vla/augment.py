"""Episode augmentation: left/right mirror, photometric with action noise, distance scaling.

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

import cv2
import numpy as np

from mobile_vla.actions import ACTION_LIMIT
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
