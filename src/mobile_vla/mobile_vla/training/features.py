"""Backbone features computed once per frame and kept on disk.

With frozen backbones the vision and text encoders are fixed functions, so their
outputs are cached, keyed by a fingerprint of the encoders (their config and the
bytes of their weights) and by the content of the frames (the exact pixels the
model sees). A second training run reads the cache and only trains the head; any
change to a backbone (another snapshot, another architecture, another seed for a
randomly initialised tiny backbone) changes the fingerprint and recomputes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mobile_vla.dataset import chunk_steps, window_frames, window_index
from mobile_vla.policy.modeling_policy import VlaPolicy

BATCH = 32


#: PolicyConfig fields that only shape the trained head: every other field is part of
#: the cache key, so a new field invalidates cached features until it is listed here.
HEAD_FIELDS = frozenset({
    'preset', 'freeze_backbones', 'train_vision', 'resampler_latents', 'resampler_layers',
    'resampler_heads', 'fusion_dim', 'lstm_hidden', 'lstm_layers', 'mlp_hidden', 'dropout',
    'window', 'fwd_pred_next_n', 'action_dim', 'action_limit', 'huber_delta', 'text_queries',
    'text_dim', 'objects', 'patch_channels', 'patch_hidden',
})


def fingerprint(policy: VlaPolicy) -> str:
    """What the cached features depend on: the encoders' config and weights."""
    config = asdict(policy.config)
    digest = hashlib.sha256(json.dumps({
        'cache_format': 4,
        **{name: value for name, value in config.items() if name not in HEAD_FIELDS},
    }, sort_keys=True).encode())
    tokenizer = policy.tokenizer
    if tokenizer is not None:  # the vocabulary decides the text features too; the
        # padding and truncation a call leaves set on the tokenizer do not
        state = json.loads(tokenizer.backend_tokenizer.to_str())
        state.pop('padding', None)
        state.pop('truncation', None)
        digest.update(json.dumps(state, sort_keys=True).encode())
    for stage in (policy.vision, policy.text):
        for key, tensor in sorted(stage.state_dict().items()):
            if key.startswith('pool.'):  # the text pooling trains: the cache holds tokens
                continue
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
                          .numpy().tobytes())
    return digest.hexdigest()


def _save(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp-{os.getpid()}')
    with open(tmp, 'wb') as handle:
        if len(arrays) == 1:
            np.save(handle, next(iter(arrays.values())))
        else:
            np.savez(handle, **arrays)
    os.replace(tmp, path)


class FeatureCache:
    """Vision features per episode (by pixel content) and the instruction encoder's token
    features per instruction (the trained pooling runs on them in the head)."""

    def __init__(self, policy: VlaPolicy, cache_dir: str | Path, enabled: bool = True) -> None:
        self.policy = policy
        self.enabled = enabled and self.cacheable(policy)
        self.key = fingerprint(policy) if self.enabled else ''
        self.folder = Path(cache_dir) / self.key[:24]
        self.frames_encoded = 0
        self.frames_from_cache = 0
        self.texts_encoded = 0
        if self.enabled:
            policy.backbones.eval()

    @staticmethod
    def cacheable(policy: VlaPolicy) -> bool:
        """Only fixed encoders can be cached: frozen backbones, no trainable resampler,
        and vision encoders that do not train (``train_vision``)."""
        return (policy.config.freeze_backbones and not policy.vision_trains
                and policy.vision.resampler is None)

    @torch.no_grad()
    def vision(self, frames: np.ndarray) -> np.ndarray:
        """(T, S, S, 3) uint8 frames at the model's size -> (T, vision_dim) float32."""
        path = None
        if self.enabled:
            content = hashlib.sha1(frames.tobytes() + str(frames.shape).encode()).hexdigest()
            path = self.folder / 'frames' / f'{content}.npy'
            if path.is_file():
                self.frames_from_cache += len(frames)
                return np.load(path)
        outs = []
        for start in range(0, len(frames), BATCH):
            pixels = torch.from_numpy(frames[start:start + BATCH]).permute(0, 3, 1, 2)
            outs.append(self.policy.vision(self.policy.normalize_images(pixels)).float().cpu())
        features = torch.cat(outs).numpy()
        self.frames_encoded += len(frames)
        if path is not None:
            _save(path, features=features)
        return features

    @torch.no_grad()
    def text(self, instruction: str) -> tuple[np.ndarray, np.ndarray]:
        """(L, H) float32 token features and their (L,) mask (``TextStage.tokens``)."""
        path = None
        if self.enabled:
            name = hashlib.sha1(instruction.encode()).hexdigest()
            path = self.folder / 'text' / f'{name}.npz'
            if path.is_file():
                with np.load(path) as data:
                    return data['tokens'], data['mask']
        tokens, mask = self.policy.text.tokens(*self.policy.tokenize([instruction]))
        tokens, mask = tokens[0].float().cpu().numpy(), mask[0].cpu().numpy().astype(np.int64)
        self.texts_encoded += 1
        if path is not None:
            _save(path, tokens=tokens, mask=mask)
        return tokens, mask


@dataclass(frozen=True)
class EpisodeFeatures:
    name: str
    scenario: str
    instruction: str
    vision: np.ndarray  # (T, vision_dim) per frame
    actions: np.ndarray  # (T, action_dim), normalised to [-1, 1]
    events: tuple[str, ...]
    #: The instructions a window may take: the recorded one, or training phrasings of
    #: the scenario's side (``TrainConfig.paraphrase``).
    instructions: tuple[str, ...] = ()

    @property
    def num_frames(self) -> int:
        return len(self.vision)


class FeatureWindowDataset(Dataset):
    """The same windows as ``EpisodeWindowDataset``, over cached features (no pixels).

    ``texts`` maps each instruction to its cached token features and mask; a window of
    an episode with several ``instructions`` draws one (torch's generator, so a seeded
    run draws the same ones), and with ``token_dropout`` masks that share of its tokens.
    """

    def __init__(self, episodes: list[EpisodeFeatures], window: int, chunk: int,
                 samples: str = 'all',
                 texts: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                 token_dropout: float = 0.0) -> None:
        self.episodes, self.window, self.chunk = episodes, window, chunk
        self.token_dropout = token_dropout
        self.texts = {k: (torch.from_numpy(t), torch.from_numpy(m))
                      for k, (t, m) in (texts or {}).items()}
        self.index = window_index([e.num_frames for e in episodes], window, chunk, samples)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        e, t = self.index[i]
        ep = self.episodes[e]
        frames, history_mask = window_frames(t, self.window)
        steps, action_mask = chunk_steps(t, self.chunk, ep.num_frames)
        actions = np.where(action_mask[:, None], ep.actions[steps], 0.0).astype(np.float32)
        choices = ep.instructions or (ep.instruction,)
        text = choices[int(torch.randint(len(choices), ()))] if len(choices) > 1 else choices[0]
        tokens, mask = self.texts[text]
        if self.token_dropout > 0 and len(mask) > 1:
            drop = torch.rand(len(mask)) < self.token_dropout
            drop[0] = False  # the first token ([CLS]) always stays: never an empty mask
            mask = torch.where(drop, torch.zeros_like(mask), mask)
        return {
            'vision': torch.from_numpy(ep.vision[frames]),
            'text_tokens': tokens,
            'text_mask': mask,
            'history_mask': torch.from_numpy(history_mask),
            'actions': torch.from_numpy(actions),
            'action_mask': torch.from_numpy(action_mask),
            'episode': e,
            't': t,
        }
