"""``TrainConfig``: one typed configuration for a training run (YAML, then flags)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mobile_vla.config import ConfigError
from mobile_vla.policy.configuration_policy import WORKSPACE

SCHEDULES = ('cosine', 'step', 'constant')
PRECISIONS = ('auto', 'no', 'bf16', 'fp16')
PRESET_DIR = WORKSPACE / 'config' / 'train'


@dataclass(frozen=True)
class TrainConfig:
    # data
    data: tuple[str, ...] = ()
    val_fraction: float = 0.2
    seed: int = 0
    mirror: bool = False  # add left/right mirrored copies of the training episodes
    samples: str = 'all'  # 'all' windows (masked padding) or only 'full' windows
    # model
    preset: str = 'kosmos2_clip_tiny'
    model: dict = field(default_factory=dict)  # PolicyConfig overrides
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
        if self.samples not in ('all', 'full'):
            raise ConfigError("samples must be 'all' or 'full'")
        for name in ('epochs', 'batch_size'):
            if getattr(self, name) < 1:
                raise ConfigError(f'{name} must be >= 1')
        if self.lr <= 0 or self.grad_clip < 0 or self.warmup_steps < 0:
            raise ConfigError('lr must be > 0; grad_clip and warmup_steps >= 0')

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data['data'] = list(self.data)
        return data


def _parse_value(text: str) -> Any:
    return yaml.safe_load(text)


def load_train_config(path: str | None = None, overrides: list[str] = (),
                      **fields: Any) -> TrainConfig:
    """A preset name or YAML path, then ``key=value`` overrides, then keyword fields."""
    data: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.suffix:
            p = PRESET_DIR / f'{path}.yaml'
        if not p.is_file():
            names = ', '.join(sorted(x.stem for x in PRESET_DIR.glob('*.yaml')))
            raise ConfigError(f'training config {path!r} not found ({p}); presets: {names}')
        data = yaml.safe_load(p.read_text(encoding='utf-8')) or {}
    for item in overrides:
        key, sep, value = item.partition('=')
        if not sep:
            raise ConfigError(f'override {item!r} must read key=value')
        target = data
        parts = key.strip().split('.')
        for part in parts[:-1]:  # model.lstm_hidden=64
            target = target.setdefault(part, {})
        target[parts[-1]] = _parse_value(value)
    data.update({k: v for k, v in fields.items() if v is not None})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f'unknown training option(s) {", ".join(unknown)}; '
                          f'known: {", ".join(sorted(known))}')
    if isinstance(data.get('data'), str):
        data['data'] = [data['data']]
    if 'data' in data:
        data['data'] = tuple(str(d) for d in data['data'])
    try:
        return TrainConfig(**data)
    except TypeError as exc:
        raise ConfigError(str(exc)) from None
