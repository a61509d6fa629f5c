"""The action space of the omni-wheel robot: names, order, limits and normalisation.

Actions are (linear_x, linear_y, angular_z) in that order, each within +-1.15
(the key map's magnitude). Models may use the 2-D subset (linear_x, linear_y).
Normalised actions are the physical ones divided by the limit, so they lie in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

ACTION_NAMES: tuple[str, ...] = ('linear_x', 'linear_y', 'angular_z')
ACTION_LIMIT = 1.15
#: The stop action: what the robot gets whenever anything is stale, invalid or failing.
ZERO: tuple[float, float, float] = (0.0, 0.0, 0.0)


class InvalidActionError(ValueError):
    """An action that must not reach the robot (NaN, inf or wrong shape)."""


@dataclass(frozen=True)
class ActionSpace:
    """A 2-D or 3-D slice of the robot's action vector with a symmetric limit."""

    dim: int = 3
    limit: float = ACTION_LIMIT

    def __post_init__(self) -> None:
        if self.dim not in (2, 3):
            raise ValueError(f'action_dim must be 2 or 3, got {self.dim}')
        if not (np.isfinite(self.limit) and self.limit > 0):
            raise ValueError(f'action limit must be a positive number, got {self.limit}')

    @property
    def names(self) -> tuple[str, ...]:
        return ACTION_NAMES[: self.dim]

    def validate(self, action: Sequence[float] | np.ndarray) -> np.ndarray:
        """Return ``action`` as float64 of shape (..., dim); raise on NaN, inf or bad shape."""
        arr = np.asarray(action, dtype=np.float64)
        if arr.ndim == 0 or arr.shape[-1] != self.dim:
            raise InvalidActionError(
                f'expected actions with last dimension {self.dim} {self.names}, '
                f'got shape {arr.shape}'
            )
        if not np.all(np.isfinite(arr)):
            raise InvalidActionError(f'action contains NaN or inf: {arr.tolist()}')
        return arr

    def clamp(self, action: Sequence[float] | np.ndarray) -> np.ndarray:
        """Validate and clip each axis to [-limit, limit]."""
        return np.clip(self.validate(action), -self.limit, self.limit)

    def normalize(self, action: Sequence[float] | np.ndarray) -> np.ndarray:
        """Physical units -> [-1, 1] (values beyond the limit are clipped first)."""
        return self.clamp(action) / self.limit

    def denormalize(self, normalized: Sequence[float] | np.ndarray) -> np.ndarray:
        """[-1, 1] -> physical units (values beyond +-1 are clipped first)."""
        arr = np.clip(self.validate(normalized), -1.0, 1.0)
        return arr * self.limit

    def to_3d(self, action: Sequence[float] | np.ndarray) -> np.ndarray:
        """Pad a 2-D action with angular_z = 0, so every action can drive the robot."""
        arr = self.validate(action)
        if self.dim == 3:
            return arr
        pad = np.zeros(arr.shape[:-1] + (1,), dtype=arr.dtype)
        return np.concatenate([arr, pad], axis=-1)


ACTION_SPACE_3D = ActionSpace(3)
ACTION_SPACE_2D = ActionSpace(2)
ZERO_ACTION: tuple[float, float, float] = (0.0, 0.0, 0.0)
