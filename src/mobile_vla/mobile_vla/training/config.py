"""``TrainConfig``: one typed configuration for a training run (YAML, then flags)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from mobile_vla.augment import ImageAugment
from mobile_vla.config import ConfigError, load_config, read_preset
from mobile_vla.policy.configuration_policy import PolicyConfig
from mobile_vla.resources import config_dir

SCHEDULES = ('cosine', 'step', 'constant')
PRECISIONS = ('auto', 'no', 'bf16', 'fp16')
MAX_STOP_FRAMES = 64


def preset_dir() -> Path:
    """``config/train/``: the training presets."""
    return config_dir() / 'train'


@dataclass(frozen=True)
class TrainConfig:
    # data
    data: tuple[str, ...] = ()
    val_fraction: float = 0.2
    seed: int = 0
    mirror: bool = False  # add left/right mirrored copies of the training episodes
    samples: str = 'all'  # 'all' windows (masked padding) or only 'full' windows
    # 0 trains on whole episodes; n >= 1 ends every episode (training and validation)
    # n frames into the stop that ends it, the robot held at its goal (mobile_vla.
    # dataset.stop_length): the rest of that stop, one unchanging view with a zero
    # action, would teach the head that an unchanging view means "hold still", which
    # holds a policy that slowed short of its goal. The cost: a head that sees less of
    # the stop learns less of where to stop (with 2, the demo recipe's policy reached
    # more cups and held still at none; README, "Seeing"), so the demo keeps 0
    stop_frames: int = 0
    # each training window takes a random training phrasing of its scenario's side
    # (mobile_vla.language) instead of the recorded instruction; needs the scenario
    paraphrase: bool = False
    # with cached features, each training window drops this share of its instruction's
    # tokens (never the first) from the text pooling: unseen words and prefixes then
    # weigh less than the words that decide the side
    text_token_dropout: float = 0.0
    # image augmentation of training copies (mobile_vla.augment.ImageAugment): each
    # training episode (and its mirror) gets this many augmented copies beside itself;
    # validation, evaluation and the robot never see augmented frames
    augment_views: int = 0
    # with the vision encoders training from pixels (PolicyConfig.train_vision): the
    # episodes in one step (every window of each goes in; each frame is encoded once);
    # augment_views then means the share augment_views / (augment_views + 1) of the
    # draws of a training episode is augmented, afresh each draw
    episode_batch: int = 8
    augment: dict = field(default_factory=dict, metadata={
        'schema': ImageAugment, 'doc': 'ImageAugment fields that differ from its defaults'})
    # model
    preset: str = 'kosmos2_clip_tiny'
    # the Kosmos-2 image tower's weights from `mobile-vla train-vision` (its
    # vision_tower.safetensors), loaded in place of the tiny preset's random ones before
    # features are computed; '' keeps the random tower
    vision_init: str = ''
    model: dict = field(default_factory=dict, metadata={
        'schema': PolicyConfig, 'doc': 'PolicyConfig fields that differ from the preset'})
    # loop
    epochs: int = 20
    max_steps: int = 0  # 0 = no limit besides epochs
    batch_size: int = 16
    lr: float = 5e-5
    weight_decay: float = 1e-3
    schedule: str = 'cosine'
    warmup_steps: int = 50
    step_size: int = 5  # step schedule: epochs between decays
    gamma: float = 0.5
    grad_clip: float = 1.0
    mixed_precision: str = 'auto'
    early_stop_patience: int = 5  # epochs without a better validation MAE; 0 = never stop
    num_workers: int = 0
    # features
    cache_features: bool = True
    cache_dir: str = 'runs/feature_cache'
    # output
    output_dir: str = 'runs'
    run_name: str = ''
    log_every: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f'val_fraction must be in (0, 1), got {self.val_fraction}')
        if self.schedule not in SCHEDULES:
            raise ConfigError(f'schedule must be one of {SCHEDULES}, got {self.schedule!r}')
        if self.mixed_precision not in PRECISIONS:
            raise ConfigError(f'mixed_precision must be one of {PRECISIONS}')
        if not 0 <= self.text_token_dropout < 1:
            raise ConfigError(f'text_token_dropout must be in [0, 1), got '
                              f'{self.text_token_dropout}')
        if not 0 <= self.stop_frames <= MAX_STOP_FRAMES:
            raise ConfigError(f'stop_frames must be in [0, {MAX_STOP_FRAMES}] (0 keeps whole '
                              f'episodes), got {self.stop_frames}')
        if not 0 <= self.augment_views <= 16:
            raise ConfigError(f'augment_views must be in [0, 16], got {self.augment_views}')
        try:
            ImageAugment(**self.augment)  # its own checks, named augment.<field>
        except TypeError as exc:
            raise ConfigError(f'augment: {exc}') from None
        if self.samples not in ('all', 'full'):
            raise ConfigError("samples must be 'all' or 'full'")
        for name in ('epochs', 'batch_size', 'episode_batch'):
            if getattr(self, name) < 1:
                raise ConfigError(f'{name} must be >= 1')
        if self.lr <= 0 or self.grad_clip < 0 or self.warmup_steps < 0:
            raise ConfigError('lr must be > 0; grad_clip and warmup_steps >= 0')

    @property
    def image_augment(self) -> ImageAugment:
        return ImageAugment(**self.augment)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data['data'] = list(self.data)
        return data


def load_train_config(path: str | None = None, overrides: Iterable[str] = (),
                      **fields: Any) -> TrainConfig:
    """A preset name or YAML path, then ``key=value`` overrides, then keyword fields.

    Every value goes through the typed loader: ``--set lr=1e-4`` is a float,
    ``--set epochs=3.5`` an error that names ``epochs``, ``--set model.lstm_hidden=64``
    is checked against ``PolicyConfig``.
    """
    data = read_preset(path, preset_dir(), 'training config')[1] if path else {}
    given = {k: v for k, v in fields.items() if v is not None}
    return load_config(TrainConfig, data, given, overrides=overrides)
