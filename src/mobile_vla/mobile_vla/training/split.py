"""The train/validation split: whole episodes, reproducible from a seed, saved with the run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def split_episodes(paths: list[Path], val_fraction: float, seed: int) -> dict[str, list[str]]:
    """Episodes (never frames) go to train or val; at least one in each when possible.

    Per scenario, so every scenario is represented in validation; the same seed and
    the same set of files give the same split whatever order they are listed in.
    """
    from mobile_vla.scenarios import find_in

    groups: dict[str, list[str]] = {}
    for path in sorted(str(p) for p in paths):
        scenario = find_in(Path(path).name)
        groups.setdefault(scenario.name if scenario else '', []).append(path)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for name in sorted(groups):
        members = groups[name]
        order = rng.permutation(len(members))
        n_val = int(round(len(members) * val_fraction))
        if len(members) > 1:
            n_val = min(max(n_val, 1), len(members) - 1)
        val.extend(members[i] for i in order[:n_val])
        train.extend(members[i] for i in order[n_val:])
    if not val and len(train) > 1:
        val.append(train.pop())
    return {'train': sorted(train), 'val': sorted(val), 'seed': seed,
            'val_fraction': val_fraction}


def save_split(split: dict, path: Path) -> None:
    path.write_text(json.dumps(split, indent=2) + '\n', encoding='utf-8')
