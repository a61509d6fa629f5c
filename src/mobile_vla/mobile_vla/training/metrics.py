"""The original system's metrics, defined exactly (see the project reference).

- MAE: mean absolute error over all action dimensions (and per dimension);
- accuracy@t: the share of predictions whose EVERY dimension is within t of the
  target (t = 0.3 headline; 0.1 and 0.2 too);
- R^2 per dimension and overall (the mean of the per-dimension values, as
  scikit-learn's ``uniform_average``); a constant target gives 1.0 for a perfect
  prediction and 0.0 otherwise, as scikit-learn does;
- Pearson correlation per dimension and overall (over all values flattened); a
  constant series has no correlation and counts as 0.0.

All take (N, D) arrays in physical units (m/s, rad/s).
"""

from __future__ import annotations

import numpy as np

from mobile_vla.actions import ACTION_NAMES

THRESHOLDS = (0.1, 0.2, 0.3)


def _check(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, np.float64)
    target = np.asarray(target, np.float64)
    if pred.ndim == 1:
        pred, target = pred[:, None], target[:, None]
    if pred.shape != target.shape or pred.ndim != 2 or len(pred) == 0:
        raise ValueError(f'need two (N, D) arrays of the same shape, got {pred.shape} and '
                         f'{target.shape}')
    return pred, target


def mae(pred, target) -> float:
    pred, target = _check(pred, target)
    return float(np.mean(np.abs(pred - target)))


def mae_per_dim(pred, target) -> np.ndarray:
    pred, target = _check(pred, target)
    return np.mean(np.abs(pred - target), axis=0)


def accuracy(pred, target, tolerance: float) -> float:
    pred, target = _check(pred, target)
    return float(np.mean(np.all(np.abs(pred - target) <= tolerance, axis=1)))


def r2_per_dim(pred, target) -> np.ndarray:
    pred, target = _check(pred, target)
    ss_res = np.sum((target - pred) ** 2, axis=0)
    ss_tot = np.sum((target - target.mean(axis=0)) ** 2, axis=0)
    out = np.empty(pred.shape[1])
    for d in range(pred.shape[1]):
        if ss_tot[d] == 0:
            out[d] = 1.0 if ss_res[d] == 0 else 0.0
        else:
            out[d] = 1.0 - ss_res[d] / ss_tot[d]
    return out


def r2(pred, target) -> float:
    return float(np.mean(r2_per_dim(pred, target)))


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    denom = np.sqrt(np.sum(x * x) * np.sum(y * y))
    return float(np.sum(x * y) / denom) if denom > 0 else 0.0


def pearson_per_dim(pred, target) -> np.ndarray:
    pred, target = _check(pred, target)
    return np.array([_pearson(pred[:, d], target[:, d]) for d in range(pred.shape[1])])


def pearson(pred, target) -> float:
    pred, target = _check(pred, target)
    return _pearson(pred.reshape(-1), target.reshape(-1))


def report(pred, target, names: tuple[str, ...] | None = None) -> dict:
    """Every metric, as plain numbers (JSON-ready)."""
    pred, target = _check(pred, target)
    names = names or ACTION_NAMES[: pred.shape[1]]
    return {
        'samples': int(len(pred)),
        'mae': mae(pred, target),
        'mae_per_dim': dict(zip(names, map(float, mae_per_dim(pred, target)), strict=True)),
        **{f'acc@{t}': accuracy(pred, target, t) for t in THRESHOLDS},
        'r2': r2(pred, target),
        'r2_per_dim': dict(zip(names, map(float, r2_per_dim(pred, target)), strict=True)),
        'pearson': pearson(pred, target),
        'pearson_per_dim': dict(zip(names, map(float, pearson_per_dim(pred, target)),
                                    strict=True)),
    }


DIRECTIONS = ('stop', 'forward', 'back', 'left', 'right', 'fwd-left', 'fwd-right',
              'back-left', 'back-right')


def direction(actions: np.ndarray, deadband: float = 0.1) -> np.ndarray:
    """The key-map direction of each (linear_x, linear_y) action, as indices into DIRECTIONS."""
    x = np.sign(np.where(np.abs(actions[:, 0]) > deadband, actions[:, 0], 0.0)).astype(int)
    y = np.sign(np.where(np.abs(actions[:, 1]) > deadband, actions[:, 1], 0.0)).astype(int)
    table = {(0, 0): 0, (1, 0): 1, (-1, 0): 2, (0, 1): 3, (0, -1): 4, (1, 1): 5, (1, -1): 6,
             (-1, 1): 7, (-1, -1): 8}
    return np.array([table[(a, b)] for a, b in zip(x, y, strict=True)])


def confusion(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(9, 9) counts: rows are true directions, columns predicted ones."""
    out = np.zeros((len(DIRECTIONS), len(DIRECTIONS)), int)
    for t, p in zip(direction(target), direction(pred), strict=True):
        out[t, p] += 1
    return out
