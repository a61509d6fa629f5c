"""Camera frame -> model input, in numpy (fast enough for every control step)."""

from __future__ import annotations

import cv2
import numpy as np

from mobile_vla.policy.configuration_policy import PolicyConfig


class ImagePreprocessor:
    """RGB uint8 (H, W, 3) of any size -> float32 (1, 3, S, S), resized and normalised."""

    def __init__(self, config: PolicyConfig) -> None:
        self.size = config.image_size
        std = np.array(config.image_std, np.float32)
        # (x / 255 - mean) / std as one multiply-add per pixel.
        self.scale = (1.0 / (255.0 * std)).astype(np.float32)
        self.offset = (-np.array(config.image_mean, np.float32) / std).astype(np.float32)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f'expected an RGB uint8 (H, W, 3) frame, got {image.dtype} '
                             f'{image.shape}')
        if image.shape[:2] != (self.size, self.size):
            image = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA)
        x = image.astype(np.float32) * self.scale + self.offset
        return np.ascontiguousarray(x.transpose(2, 0, 1))[None]

    def uint8(self, image: np.ndarray) -> np.ndarray:
        """Resized only (what the dataset stores for training), (S, S, 3) uint8."""
        if image.shape[:2] == (self.size, self.size):
            return image
        return cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA)
