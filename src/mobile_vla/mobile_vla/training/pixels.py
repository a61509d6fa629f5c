"""Training the vision encoders from pixels (``PolicyConfig.train_vision``).

With fixed encoders the trainer caches one feature vector per frame
(``mobile_vla.training.features``). When the image towers train, features change every
step, so the trainer keeps the frames instead: each episode's frames resized once to
the model's input size and held in memory as uint8 (18 frames at 224 x 224 are 2.7 MB).

A training step takes whole episodes. Each frame of an episode is encoded once, and
every history window of the episode (``window_frames``) is gathered from those
per-frame features, so a frame costs one encoder pass per step, not one per window that
holds it. Image augmentation (``ImageAugment``) is drawn afresh each time a training
episode is drawn; validation frames are never augmented.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mobile_vla.actions import ActionSpace
from mobile_vla.augment import ImageAugment, mirror
from mobile_vla.dataset import chunk_steps, cut_stop_phase, window_frames, window_index
from mobile_vla.episode import read_episode
from mobile_vla.language import phrasings_in
from mobile_vla.policy.preprocess import resize_frame
from mobile_vla.training.image_augment import Draw, augment, draw


@dataclass(frozen=True)
class EpisodeFrames:
    name: str
    scenario: str
    instruction: str
    frames: np.ndarray  # (T, S, S, 3) uint8 at the model's input size
    actions: np.ndarray  # (T, action_dim), normalised to [-1, 1]
    #: The instructions a training draw may take (``TrainConfig.paraphrase``); empty =
    #: the recorded one.
    instructions: tuple[str, ...] = ()

    @property
    def num_frames(self) -> int:
        return len(self.frames)


def episode_frames(path: str | Path, size: int, space: ActionSpace, mirrored: bool = False,
                   paraphrase: bool = False, stop_frames: int = 0) -> list[EpisodeFrames]:
    """An episode file as training pixels (frames at ``size``, normalised actions), read
    once; with ``mirrored``, its left/right mirror follows it; ``stop_frames`` cuts its
    stop phase (``TrainConfig.stop_frames``)."""
    ep = cut_stop_phase(read_episode(path), stop_frames)
    ep = dataclasses.replace(ep, images=np.stack([resize_frame(img, size, size)
                                                  for img in ep.images]))
    out = []
    for copy in (ep, mirror(ep)) if mirrored else (ep,):
        out.append(EpisodeFrames(
            name=copy.name, scenario=copy.scenario, instruction=copy.instruction,
            frames=copy.images,
            actions=space.normalize(copy.actions[:, :space.dim]).astype(np.float32),
            instructions=phrasings_in(copy.scenario) if paraphrase else ()))
    return out


class PixelEpisodeDataset(Dataset):
    """One item per episode: its frames, the windows that end at each sampled step, and
    their action chunks, for ``collate_episodes``.

    ``augment`` (an ``ImageAugment`` and the share of draws it applies to) gives each
    draw of an episode its own camera, day and mount; ``texts`` maps every instruction
    to its token features and mask; with several ``instructions`` a draw takes one.
    Random draws use torch's generator, so a seeded run draws the same ones.
    """

    def __init__(self, episodes: list[EpisodeFrames], window: int, chunk: int,
                 texts: dict[str, tuple[np.ndarray, np.ndarray]], samples: str = 'all',
                 augment: tuple[ImageAugment, float] | None = None) -> None:
        self.episodes, self.window, self.chunk = episodes, window, chunk
        self.augment = augment
        self.texts = {k: (torch.from_numpy(t), torch.from_numpy(m)) for k, (t, m) in texts.items()}
        index = window_index([e.num_frames for e in episodes], window, chunk, samples)
        self.steps: list[list[int]] = [[] for _ in episodes]
        for e, t in index:
            self.steps[e].append(t)
        self.keep = [e for e, steps in enumerate(self.steps) if steps]

    def __len__(self) -> int:
        return len(self.keep)

    @property
    def num_windows(self) -> int:
        return sum(len(s) for s in self.steps)

    def __getitem__(self, i: int) -> dict:
        e = self.keep[i]
        ep, steps = self.episodes[e], self.steps[e]
        look: Draw | None = None
        if self.augment is not None:
            config, share = self.augment
            if float(torch.rand(())) < share:
                seed = int(torch.randint(2 ** 62, ()))
                look = draw(np.random.default_rng(seed), config)
        windows, actions, masks = [], [], []
        for t in steps:
            rows, _ = window_frames(t, self.window)
            chunk, mask = chunk_steps(t, self.chunk, ep.num_frames)
            windows.append(rows)
            actions.append(np.where(mask[:, None], ep.actions[chunk], 0.0))
            masks.append(mask)
        choices = ep.instructions or (ep.instruction,)
        text = choices[int(torch.randint(len(choices), ()))] if len(choices) > 1 else choices[0]
        tokens, mask = self.texts[text]
        return {
            'frames': torch.from_numpy(ep.frames).permute(0, 3, 1, 2),
            'augment': look,
            'windows': torch.from_numpy(np.stack(windows)),
            'actions': torch.from_numpy(np.stack(actions).astype(np.float32)),
            'action_mask': torch.from_numpy(np.stack(masks)),
            'text_tokens': tokens,
            'text_mask': mask,
        }


def collate_episodes(items: list[dict]) -> dict:
    """Episodes -> one step's batch: all frames in a row (each episode's augmentation
    draw applied, all at once), each window's frame rows in
    that row (``windows``), and the episode each window belongs to (``window_episode``),
    which picks its instruction (``VlaPolicy.batch_features``)."""
    offsets = np.cumsum([0] + [len(item['frames']) for item in items[:-1]])
    frames = torch.cat([item['frames'] for item in items])
    if any(item['augment'] is not None for item in items):
        frames = augment(frames, [(len(item['frames']), item['augment']) for item in items])
    return {
        'frames': frames,
        'windows': torch.cat([item['windows'] + int(offset)
                              for item, offset in zip(items, offsets, strict=True)]),
        'window_episode': torch.cat([torch.full((len(item['windows']),), e, dtype=torch.long)
                                     for e, item in enumerate(items)]),
        'actions': torch.cat([item['actions'] for item in items]),
        'action_mask': torch.cat([item['action_mask'] for item in items]),
        'text_tokens': torch.stack([item['text_tokens'] for item in items]),
        'text_mask': torch.stack([item['text_mask'] for item in items]),
    }
