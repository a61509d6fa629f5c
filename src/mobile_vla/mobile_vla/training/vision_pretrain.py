"""Teach the Kosmos-2 image tower what each patch shows (``mobile-vla train-vision``).

The tiny presets' towers start from random weights: frozen, they hand the head patch
features in which a cup 4 m ahead is a faint change in a random projection. Here the
tower trains on labelled frames (``mobile-vla sim frames``: for every patch, the kind of
thing covering it and a cup's or goal object's colour name) through two linear probes
on its patch tokens, so the features it then gives the policy head, frozen and cached
as before, say where the cup, the other goal objects and the boxes are. A linear probe
asks that each token carry the label in a form the head's patch reader (one linear
layer per token) can read.

Training frames get the photometric part of the training preset's augmentation (never
the crop, which would move the labels; hue at most ``MAX_HUE``, which keeps a red cup
red), so the features hold under light, sensor and colour changes. A tenth of the
frames, by room, is held out to report how well each class is found.

The result is ``vision_tower.safetensors`` (the tower's weights, loaded by
``TrainConfig.vision_init``) and ``vision_tower.json`` (what it was trained on, and the
held-out recall per class).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from mobile_vla.config import ConfigError, documented
from mobile_vla.training.config import TrainConfig
from mobile_vla.training.image_augment import augment, draw

#: The largest hue rotation of the tower's training frames (share of the colour circle):
#: its colour labels name the colour, so a rotation must not turn red into orange.
MAX_HUE = 0.02
TOWER_FILE = 'vision_tower.safetensors'
REPORT_FILE = 'vision_tower.json'
FRAMES_FILE, FRAMES_META = 'frames.npz', 'frames.json'


@dataclass(frozen=True)
class TowerConfig:
    """How ``mobile-vla train-vision`` trains the image tower."""

    epochs: int = documented('passes over the training frames', 6)
    batch_size: int = documented('frames per step', 64)
    lr: float = documented('AdamW learning rate (cosine to 0 after a 100-step warm-up)', 2e-3)
    weight_decay: float = documented('AdamW weight decay', 1e-4)
    val_fraction: float = documented('share of the rooms held out to report recall', 0.1)
    colour_weight: float = documented('weight of the colour loss beside the class loss', 0.5)
    class_balance: float = documented(
        'class loss weight = 1 / share ** class_balance (0: every patch alike, 1: every '
        'class alike); a cup patch is rare', 0.5)
    seed: int = documented('shuffling, augmentation and probe initialisation', 0)

    def __post_init__(self) -> None:
        for name in ('epochs', 'batch_size'):
            if getattr(self, name) < 1:
                raise ConfigError(f'{name} must be >= 1, got {getattr(self, name)}')
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f'lr must be > 0, got {self.lr}')
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f'val_fraction must be in (0, 1), got {self.val_fraction}')
        if not (self.weight_decay >= 0 and self.colour_weight >= 0):
            raise ConfigError('weight_decay and colour_weight must be >= 0')
        if not 0 <= self.class_balance <= 1:
            raise ConfigError(f'class_balance must be in [0, 1], got {self.class_balance}')


# ------------------------------------------------------------------ the frame set
def save_frames(out: Path, images: np.ndarray, kinds: np.ndarray, colours: np.ndarray,
                rooms: np.ndarray, meta: dict[str, Any]) -> Path:
    """``out/frames.npz`` (images (N, S, S, 3) uint8, kinds and colours (N, G, G) int8,
    rooms (N,): each frame's room, so held-out frames are whole rooms) and
    ``out/frames.json`` (``meta``: at least ``classes`` and ``colours``, the names of the
    labels)."""
    out.mkdir(parents=True, exist_ok=True)
    partial = out / 'frames.partial.npz'
    np.savez(partial, images=images, kinds=kinds, colours=colours, rooms=rooms)
    partial.replace(out / FRAMES_FILE)  # never a half-written set under the name
    counts = np.bincount(kinds.reshape(-1).astype(np.int64), minlength=len(meta['classes']))
    meta = {**meta, 'frames': int(len(images)), 'patches_per_class': {
        c: int(n) for c, n in zip(meta['classes'], counts, strict=True)}}
    (out / FRAMES_META).write_text(json.dumps(meta, indent=2) + '\n')
    return out / FRAMES_FILE


def load_frames(folder: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                             dict]:
    """What ``save_frames`` wrote, or a clear error for a folder that holds no set."""
    folder = Path(folder)
    if not ((folder / FRAMES_FILE).is_file() and (folder / FRAMES_META).is_file()):
        raise FileNotFoundError(f'{folder}: no labelled frames there ({FRAMES_FILE} and '
                                f'{FRAMES_META}); make them with `mobile-vla sim frames '
                                f'--out {folder}`')
    meta = json.loads((folder / FRAMES_META).read_text())
    with np.load(folder / FRAMES_FILE) as data:
        images, kinds, colours, rooms = (data[k] for k in ('images', 'kinds', 'colours',
                                                           'rooms'))
    if not len(images) == len(kinds) == len(colours) == len(rooms) == meta.get('frames'):
        raise ValueError(f'{folder}: {FRAMES_FILE} and {FRAMES_META} disagree on the number '
                         'of frames; make the set again')
    return images, kinds, colours, rooms, meta


# ------------------------------------------------------------------ the tower
def tower_geometry(config: TrainConfig) -> tuple[int, int]:
    """(frame size, patches per side) of the training preset's Kosmos-2 image tower."""
    from mobile_vla.policy.configuration_policy import load_preset

    policy = load_preset(config.preset, **config.model)
    vision = dict(policy.kosmos2_arch).get('vision_config', {})
    if (not policy.uses_kosmos2 or policy.kosmos2_path or 'patch_size' not in vision
            or policy.pooling != 'patches'):
        raise ConfigError(f'preset {config.preset} has no tiny Kosmos-2 tower whose patch '
                          'tokens the head reads (pooling: patches); train-vision teaches such '
                          "a tower, as the demo's (a pretrained snapshot already sees)")
    return policy.image_size, policy.image_size // int(vision['patch_size'])


def tower_of(policy) -> nn.Module:
    """The Kosmos-2 image tower of a built policy."""
    return policy.vision.kosmos2.vision_model


def load_tower(policy, path: str | Path) -> None:
    """Load ``vision_tower.safetensors`` into a built policy's image tower, or a clear
    error naming ``vision_init`` when the file is missing or made for another tower."""
    path = Path(path)
    if path.is_dir():
        path = path / TOWER_FILE
    if not path.is_file():
        raise ConfigError(f'vision_init: {path} is not a file; give the {TOWER_FILE} that '
                          '`mobile-vla train-vision` wrote, or leave vision_init empty')
    if not (policy.vision.patches and 'vision.kosmos2.' in policy.trainable_prefixes()):
        raise ConfigError('vision_init: this preset has no tiny Kosmos-2 tower whose patch '
                          'tokens the head reads and whose weights its checkpoint carries; '
                          'leave vision_init empty')
    tower = tower_of(policy)
    state = load_file(str(path))
    own = tower.state_dict()
    wrong = sorted(k for k in own if k not in state or state[k].shape != own[k].shape)
    if wrong or set(state) - set(own):
        raise ConfigError(f'vision_init: {path} was made for another image tower (differs in '
                          f'{", ".join((wrong or sorted(set(state) - set(own)))[:3])}); run '
                          '`mobile-vla train-vision` with this preset')
    tower.load_state_dict(state)


class Probes(nn.Module):
    """Two linear probes on every patch token: its class and its colour."""

    def __init__(self, width: int, classes: int, colours: int) -> None:
        super().__init__()
        self.kind = nn.Linear(width, classes)
        self.colour = nn.Linear(width, colours)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.kind(tokens), self.colour(tokens)


def patch_tokens(policy, images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, S, S) -> (N, patches, width): the tokens the policy head reads."""
    return policy.vision.patch_tokens(policy.normalize_images(images))


def class_weights(kinds: np.ndarray, classes: int, balance: float = 0.5) -> torch.Tensor:
    """1 / share ** balance per class, mean 1 over the patches: a cup patch is rare."""
    counts = np.bincount(kinds.reshape(-1).astype(np.int64), minlength=classes) + 1.0
    weights = 1.0 / (counts / counts.sum()) ** balance
    weights /= (weights * counts).sum() / counts.sum()
    return torch.tensor(weights, dtype=torch.float32)


def recall(policy, tower: nn.Module, probes: Probes, images: np.ndarray, kinds: np.ndarray,
           colours: np.ndarray, names: list[str], batch: int) -> dict[str, Any]:
    """Held-out recall of every class (patches of it found as it) and colour accuracy
    on the goal-object patches."""
    tower.eval()
    found = np.zeros(len(names))
    total = np.zeros(len(names))
    right = seen = 0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i:i + batch]).permute(0, 3, 1, 2)
            kind_logits, colour_logits = probes(patch_tokens(policy, x))
            k = torch.from_numpy(kinds[i:i + batch].reshape(len(x), -1).astype(np.int64))
            c = torch.from_numpy(colours[i:i + batch].reshape(len(x), -1).astype(np.int64))
            hit = kind_logits.argmax(-1) == k
            for cls in range(len(names)):
                mask = k == cls
                total[cls] += int(mask.sum())
                found[cls] += int((hit & mask).sum())
            mask = c >= 0
            seen += int(mask.sum())
            right += int(((colour_logits.argmax(-1) == c) & mask).sum())
    return {'recall': {n: (round(f / t, 4) if t else None)
                       for n, f, t in zip(names, found, total, strict=True)},
            'colour_accuracy': round(right / seen, 4) if seen else None,
            'patches': {n: int(t) for n, t in zip(names, total, strict=True)}}


def train_tower(train: TrainConfig, tower_config: TowerConfig, frames: str | Path,
                out: str | Path, log=print) -> dict[str, Any]:
    """Train the preset's image tower on the labelled frames; write it and its report."""
    from mobile_vla.training.trainer import build_model

    images, kinds, colours, rooms, meta = load_frames(frames)
    size, grid = tower_geometry(train)
    if images.shape[1:3] != (size, size) or kinds.shape[1:] != (grid, grid):
        raise ConfigError(f'{frames}: frames of {images.shape[1]} pixels in a '
                          f'{kinds.shape[1]}x{kinds.shape[2]} grid, but preset '
                          f'{train.preset} takes {size} pixels in a {grid}x{grid} grid; make '
                          f'them with `mobile-vla sim frames --config` of this preset')
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    policy = build_model(train)  # the same seed builds the same random tower as training
    tower = tower_of(policy)
    tower.requires_grad_(True)
    torch.manual_seed(tower_config.seed)
    names, colour_names = list(meta['classes']), list(meta['colours'])
    probes = Probes(tower.config.hidden_size, len(names), len(colour_names))

    rng = np.random.default_rng(tower_config.seed)
    unique = np.unique(rooms)
    held = set(rng.choice(unique, max(1, round(len(unique) * tower_config.val_fraction)),
                          replace=False).tolist())
    val = np.array([r in held for r in rooms])
    train_idx = np.flatnonzero(~val)
    if not len(train_idx) or len(held) == len(unique):
        raise ConfigError(f'{frames}: {len(unique)} room(s) cannot be split into training and '
                          f'held-out rooms (val_fraction {tower_config.val_fraction}); make '
                          'more frames (sim frames --frames / --per-room)')
    weights = class_weights(kinds[train_idx], len(names), tower_config.class_balance)
    photometric = dataclasses.replace(train.image_augment, shift=0.0, zoom=0.0,
                                      hue=min(train.image_augment.hue, MAX_HUE))
    params = [*tower.parameters(), *probes.parameters()]
    optimizer = torch.optim.AdamW(params, lr=tower_config.lr,
                                  weight_decay=tower_config.weight_decay)
    steps = tower_config.epochs * math.ceil(len(train_idx) / tower_config.batch_size)
    warmup = min(100, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(
        (s + 1) / max(warmup, 1), 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0)))))
    generator = torch.Generator().manual_seed(tower_config.seed)
    t0 = time.perf_counter()
    history = []
    for epoch in range(tower_config.epochs):
        tower.train()
        order = rng.permutation(train_idx)
        total = 0.0
        for start in range(0, len(order), tower_config.batch_size):
            idx = np.sort(order[start:start + tower_config.batch_size])
            x = torch.from_numpy(images[idx]).permute(0, 3, 1, 2)
            x = augment(x, [(1, draw(rng, photometric)) for _ in idx], generator)
            kind_logits, colour_logits = probes(patch_tokens(policy, x))
            k = torch.from_numpy(kinds[idx].reshape(len(idx), -1).astype(np.int64))
            c = torch.from_numpy(colours[idx].reshape(len(idx), -1).astype(np.int64))
            loss = F.cross_entropy(kind_logits.flatten(0, 1), k.flatten(), weight=weights)
            if (c >= 0).any():
                loss = loss + tower_config.colour_weight * F.cross_entropy(
                    colour_logits.flatten(0, 1), c.flatten(), ignore_index=-1)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(idx)
        report = recall(policy, tower, probes, images[val], kinds[val], colours[val], names,
                        tower_config.batch_size)
        history.append({'epoch': epoch + 1, 'train_loss': round(total / len(order), 4),
                        'minutes': round((time.perf_counter() - t0) / 60, 2), **report})
        log(f'epoch {epoch + 1}: loss {total / len(order):.3f}, held-out recall '
            + ', '.join(f'{n} {r:.2f}' for n, r in report['recall'].items() if r is not None)
            + f", colour {report['colour_accuracy']}")
    tower.eval()
    save_file({k: v.detach().contiguous() for k, v in tower.state_dict().items()},
              str(out / TOWER_FILE))
    summary = {'preset': train.preset, 'seed': train.seed, 'frames': str(frames),
               'train_frames': int(len(train_idx)), 'held_out_frames': int(val.sum()),
               'held_out_rooms': len(held), 'config': dataclasses.asdict(tower_config),
               'augment': dataclasses.asdict(photometric), 'history': history,
               'minutes': round((time.perf_counter() - t0) / 60, 2)}
    (out / REPORT_FILE).write_text(json.dumps(summary, indent=2) + '\n')
    return summary
