"""Training windows over a folder of episodes, as a ``torch.utils.data.Dataset``.

Each sample is the frame at time ``t`` with its history and the actions to come:

- ``images``: uint8 (window, 3, H, W), frames t-window+1 .. t; before the start of
  the episode the first frame is repeated and ``history_mask`` is False there;
- ``actions``: float32 (chunk, action_dim), the actions at t .. t+chunk-1,
  normalised to [-1, 1]; past the end they are zero and ``action_mask`` is False.

With 18-frame episodes, window 8 and chunk 10 the full window is t = 7 (frames
0-7, actions 7-16) and t = 8 (frames 1-8, actions 8-17); ``samples='all'`` also
yields the padded windows of every other t, weighted out of the loss by the masks.
With ``stop_frames`` an episode ends a few frames into its final stop
(``stop_length``): the rest of its stop phase, one unchanging view with a zero action,
is not trained on.
HDF5 files are opened lazily, one handle per worker process. Files that fail the
format checks are skipped with a warning, so one bad file never stops training.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mobile_vla.actions import ACTION_LIMIT, ActionSpace
from mobile_vla.episode import Episode, EpisodeError, EpisodeFile, episode_paths
from mobile_vla.language import phrasings_in
from mobile_vla.policy.preprocess import resize_frame
from mobile_vla.scenarios import swap_sides


def window_frames(t: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices of the history window ending at ``t`` (the first frame repeated
    before the episode start) and the mask of the real ones."""
    frames = np.arange(t - window + 1, t + 1)
    return np.clip(frames, 0, None), frames >= 0


def chunk_steps(t: int, chunk: int, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the actions t .. t+chunk-1 (clipped) and the mask of the real ones."""
    steps = np.arange(t, t + chunk)
    return np.clip(steps, None, num_frames - 1), steps < num_frames


def stop_length(actions: np.ndarray, stop_frames: int) -> int:
    """How many frames of an episode training keeps when it cuts the stop phase, the run
    of zero actions that ends the episode (the robot held at its goal): up to and
    including the first ``stop_frames`` frames of it. Stops between moves (a teleoperator
    between key presses) are kept. ``stop_frames`` 0 keeps every frame, and so does an
    episode that never moves or ends moving."""
    n = len(actions)
    moving = np.abs(np.asarray(actions)).max(axis=1, initial=0.0) > 0
    if stop_frames <= 0 or not moving.any():
        return n
    stop_start = n - int(np.argmax(moving[::-1]))  # the frame after the last move
    return min(n, stop_start + stop_frames)


def cut_stop_phase(episode: Episode, stop_frames: int) -> Episode:
    """``episode`` up to ``stop_length`` frames (itself when nothing is cut)."""
    t = stop_length(episode.actions, stop_frames)
    if t == episode.num_frames:
        return episode
    share = t / episode.num_frames
    return dataclasses.replace(
        episode, images=episode.images[:t], actions=episode.actions[:t],
        event_types=list(episode.event_types[:t]),
        timestamps=None if episode.timestamps is None else episode.timestamps[:t],
        frame_age=None if episode.frame_age is None else episode.frame_age[:t],
        target_frames=min(episode.target_frames, t),
        total_duration=episode.total_duration * share)


def window_index(lengths: list[int], window: int, chunk: int,
                 samples: str) -> list[tuple[int, int]]:
    """(episode, t) of every sample: all frames, or only windows with no padding."""
    if samples not in ('all', 'full'):
        raise ValueError(f"samples must be 'all' or 'full', got {samples!r}")
    return [(e, t) for e, n in enumerate(lengths) for t in range(n)
            if samples == 'all' or (t >= window - 1 and t + chunk <= n)]


@dataclass(frozen=True)
class EpisodeInfo:
    path: Path
    num_frames: int
    scenario: str
    instruction: str
    actions: np.ndarray  # normalised, (T, action_dim)


class EpisodeWindowDataset(Dataset):
    """History windows and future action chunks from HDF5 episodes."""

    def __init__(
        self,
        *sources: str | Path,
        window: int = 8,
        chunk: int = 10,
        image_size: tuple[int, int] | None = (224, 224),
        action_dim: int = 3,
        samples: str = 'all',
        paths: list[Path] | None = None,
        action_limit: float = ACTION_LIMIT,
        mirror: bool = False,
        paraphrase: bool = False,
        stop_frames: int = 0,
    ) -> None:
        if window < 1 or chunk < 1:
            raise ValueError(f'window and chunk must be >= 1, got {window} and {chunk}')
        self.window, self.chunk, self.image_size = window, chunk, image_size
        self.space = ActionSpace(action_dim, action_limit)
        self.mirror, self.paraphrase = mirror, paraphrase
        self.episodes: list[EpisodeInfo] = []
        self.skipped: list[str] = []
        for path in paths if paths is not None else episode_paths(*sources):
            try:
                with EpisodeFile(path) as ep:
                    recorded = ep.actions()
                    actions = recorded[:stop_length(recorded, stop_frames), :action_dim]
                    info = EpisodeInfo(path, len(actions), ep.scenario, ep.instruction,
                                       self.space.normalize(actions).astype(np.float32))
            except (EpisodeError, OSError, ValueError) as exc:
                self.skipped.append(f'{path}: {exc}')
                warnings.warn(f'skipping episode {path}: {exc}', stacklevel=2)
                continue
            self.episodes.append(info)
        index = window_index([e.num_frames for e in self.episodes], window, chunk, samples)
        # With ``mirror``, every window also comes left-right mirrored (see augment.mirror).
        self.index = [(e, t, False) for e, t in index] + (
            [(e, t, True) for e, t in index] if mirror else [])
        self._handles: dict[int, EpisodeFile] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.index)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state['_handles'] = {}  # HDF5 handles never cross into a worker process
        return state

    def _file(self, e: int) -> EpisodeFile:
        if os.getpid() != self._pid:  # forked worker: its own handles, opened lazily
            self._handles, self._pid = {}, os.getpid()
        handle = self._handles.get(e)
        if handle is None:
            handle = self._handles[e] = EpisodeFile(self.episodes[e].path)
        return handle

    def __getitem__(self, i: int) -> dict[str, Any]:
        e, t, mirrored = self.index[i]
        info = self.episodes[e]
        frames, history_mask = window_frames(t, self.window)
        unique, inverse = np.unique(frames, return_inverse=True)
        pixels = self._file(e).images(unique)[inverse]
        if self.image_size is not None:
            h, w = self.image_size
            pixels = np.stack([resize_frame(p, w, h) for p in pixels])
        steps, action_mask = chunk_steps(t, self.chunk, info.num_frames)
        actions = np.where(action_mask[:, None], info.actions[steps], 0.0).astype(np.float32)
        instruction, scenario = info.instruction, info.scenario
        if mirrored:
            pixels = pixels[:, :, ::-1]
            actions[:, 1:] *= -1  # linear_y and angular_z change sign in a mirror image
            instruction, scenario = swap_sides(instruction), swap_sides(scenario)
        choices = phrasings_in(scenario) if self.paraphrase else ()
        if choices:
            instruction = choices[int(torch.randint(len(choices), ()))]
        return {
            'images': torch.from_numpy(np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))),
            'history_mask': torch.from_numpy(history_mask),
            'actions': torch.from_numpy(actions),
            'action_mask': torch.from_numpy(action_mask),
            'instruction': instruction,
            'scenario': scenario,
            'episode': info.path.stem,
            't': t,
        }
