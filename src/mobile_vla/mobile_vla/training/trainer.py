"""The training loop: episodes -> features -> head training -> checkpoints, logs, plots.

Runs unchanged on one CPU and under ``accelerate launch`` on several GPUs. With
frozen backbones the backbone features come from the on-disk cache (one pass over
the frames the first time), and training only runs the head.
"""

from __future__ import annotations

import csv
import json
import math
import random
import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader
from tqdm import tqdm

from mobile_vla.actions import ActionSpace
from mobile_vla.augment import ImageAugment, mirror
from mobile_vla.config import ConfigError
from mobile_vla.dataset import EpisodeWindowDataset, cut_stop_phase
from mobile_vla.episode import EpisodeError, episode_paths, read_episode
from mobile_vla.language import phrasings_in
from mobile_vla.policy.checkpoint import load_state_strict, save_checkpoint
from mobile_vla.policy.configuration_policy import load_preset
from mobile_vla.policy.modeling_policy import VlaPolicy, build_policy
from mobile_vla.policy.modeling_policy import resolve_model_path as resolve
from mobile_vla.policy.preprocess import resize_frame
from mobile_vla.training.config import TrainConfig
from mobile_vla.training.features import (
    EpisodeFeatures,
    FeatureCache,
    FeatureWindowDataset,
)
from mobile_vla.training.image_augment import augment_frames
from mobile_vla.training.pixels import (
    EpisodeFrames,
    PixelEpisodeDataset,
    collate_episodes,
    episode_frames,
)
from mobile_vla.training.split import save_split, split_episodes

STATE_FILE = 'trainer_state.json'


class TrainingDiverged(ValueError):
    """The loss stopped being a finite number; the message says where and what to try."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def episode_features(path: str | Path, cache: FeatureCache, space: ActionSpace,
                     mirrored: bool = False, paraphrase: bool = False,
                     augment: tuple[ImageAugment, int] | None = None,
                     stop_frames: int = 0) -> EpisodeFeatures:
    """An episode as head inputs: cached vision features per frame; its instruction (or,
    with ``paraphrase``, the training phrasings of its scenario's side) goes through the
    text cache separately (``instruction_tokens``). ``augment`` = (config, seed) makes it
    an augmented training copy (the same copy for the same seed: its features cache);
    ``stop_frames`` cuts its stop phase (``TrainConfig.stop_frames``)."""
    ep = cut_stop_phase(read_episode(path), stop_frames)
    if mirrored:
        ep = mirror(ep)
    size = cache.policy.config.image_size
    frames = np.stack([resize_frame(img, size, size) for img in ep.images])
    suffix = '_mirror' if mirrored else ''
    if augment is not None:
        config, seed = augment
        frames = augment_frames(frames, np.random.default_rng([seed, 0xA06]), config)
        suffix += f'_aug{seed}'
    return EpisodeFeatures(
        name=ep.name + suffix, scenario=ep.scenario,
        instruction=ep.instruction, vision=cache.vision(frames).astype(np.float32),
        actions=space.normalize(ep.actions[:, :space.dim]).astype(np.float32),
        events=tuple(ep.event_types),
        instructions=phrasings_in(ep.scenario) if paraphrase else ())


def _usable(items, read) -> list:
    """What ``read(item)`` gives for every item (a list each); a file that fails the
    format checks is skipped with a warning: one bad file never stops training."""
    out: list = []
    for item in items:
        try:
            out += read(item)
        except EpisodeError as exc:
            path = item[0] if isinstance(item, tuple) else item
            warnings.warn(f'skipping episode {path}: {exc}', stacklevel=3)
    if not out:
        raise ConfigError('no usable episode left after skipping the bad ones (see the '
                          'warnings); run `mobile-vla data validate` on the data')
    return out


def _copy_seed(seed: int, path: str | Path, mirrored: bool, view: int) -> int:
    """The seed of one augmented copy: the run's seed, the file's name, mirror, view."""
    return zlib.crc32(f'{seed}:{Path(path).name}:{int(mirrored)}:{view}'.encode())


def instruction_tokens(episodes: list[EpisodeFeatures],
                       cache: FeatureCache) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Token features of every instruction the episodes may take, each encoded once."""
    texts = sorted({t for e in episodes for t in (e.instructions or (e.instruction,))})
    return {t: cache.text(t) for t in texts}


def build_model(config: TrainConfig) -> VlaPolicy:
    seed_everything(config.seed)  # the same seed builds the same (tiny) backbones
    try:
        policy_config = load_preset(config.preset, **config.model)
    except TypeError as exc:
        raise ConfigError(f'model overrides: {exc}') from None
    policy = build_policy(policy_config)
    if config.vision_init:
        from mobile_vla.training.vision_pretrain import load_tower

        load_tower(policy, resolve(config.vision_init))
    return policy


def lr_lambda(config: TrainConfig, steps_per_epoch: int, total_steps: int):
    def factor(step: int) -> float:
        if config.warmup_steps and step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        if config.schedule == 'cosine':
            progress = (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps)
            return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        if config.schedule == 'step':
            return config.gamma ** (step // max(1, steps_per_epoch * config.step_size))
        return 1.0
    return factor


@dataclass
class RunState:
    step: int = 0
    epoch: int = 0
    best_val_mae: float = float('inf')
    best_epoch: int = -1
    bad_epochs: int = 0


def _precision(requested: str) -> str:
    if requested != 'auto':
        return requested
    if torch.cuda.is_available():
        return 'bf16' if torch.cuda.is_bf16_supported() else 'fp16'
    return 'no'


def trained_vision_init(run_dir: Path) -> str | None:
    """The ``vision_init`` a run's head trained on ('' for the random tower), from its
    config.yaml; None before the run wrote one."""
    saved = run_dir / 'config.yaml'
    if not saved.is_file():
        return None
    return (yaml.safe_load(saved.read_text()) or {}).get('train', {}).get('vision_init', '')


def _same_tower(config: TrainConfig, run_dir: Path) -> None:
    """A resumed run's head trains on the features of the image tower it started with: a
    ConfigError naming ``vision_init`` when the run's config.yaml names another one."""
    before = trained_vision_init(run_dir)
    if before is not None and before != config.vision_init:
        raise ConfigError(f'vision_init is {config.vision_init!r}, but run {run_dir} trained '
                          f'on the image tower {before!r}: resume with --set vision_init='
                          f'{before} (its head learned the features of that tower), or start '
                          'a new run')


class Trainer:
    """One training run in ``output_dir/run_name``; ``resume=True`` continues its last state."""

    def __init__(self, config: TrainConfig, resume: bool = False) -> None:
        from accelerate import Accelerator

        if not config.data:
            raise ConfigError('no training data: set data (a folder of episodes)')
        self.config = config
        self.accelerator = Accelerator(mixed_precision=_precision(config.mixed_precision),
                                       cpu=not torch.cuda.is_available())
        name = config.run_name or f'{config.preset}_{time.strftime("%Y%m%d_%H%M%S")}'
        self.run_dir = resolve(config.output_dir) / name
        last = self.run_dir / 'checkpoints' / 'last'
        if resume and not (last / STATE_FILE).is_file():
            raise ConfigError(f'nothing to resume in {self.run_dir} (no checkpoints/last)')
        if resume:
            _same_tower(config, self.run_dir)
        if not resume and (self.run_dir / 'metrics.csv').exists():
            if (last / STATE_FILE).is_file():
                raise ConfigError(f'run {self.run_dir} exists; pick another run_name or '
                                  'resume')
            # It stopped before its first checkpoint (a full disk, a kill): nothing to
            # resume, so it starts again; what it left is kept beside it.
            kept = self.run_dir.with_name(
                f'{self.run_dir.name}.incomplete-{time.strftime("%Y%m%d_%H%M%S")}')
            self.run_dir.rename(kept)
            print(f'run {self.run_dir} stopped before its first checkpoint: starting it '
                  f'again (its files are in {kept})')
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.resume = resume
        # On the accelerator's device before any encoding: features are computed there.
        self.policy = build_model(config).to(self.accelerator.device)
        self.space = ActionSpace(self.policy.config.action_dim, self.policy.config.action_limit)
        self.state = RunState()
        self.cache = FeatureCache(self.policy, resolve(config.cache_dir), config.cache_features)

    # ------------------------------------------------------------------ data
    def _split(self) -> dict:
        paths = episode_paths(*[resolve(d) for d in self.config.data])
        if len(paths) < 2:
            raise ConfigError(f'need at least 2 episodes to split, found {len(paths)} in '
                              f'{", ".join(self.config.data)}')
        split_path = self.run_dir / 'split.json'
        if self.resume and split_path.is_file():
            return json.loads(split_path.read_text())
        split = split_episodes(paths, self.config.val_fraction, self.config.seed)
        save_split(split, split_path)
        return split

    def _datasets(self, split: dict):
        c, pc = self.config, self.policy.config
        if self.cache.enabled:
            load = [(p, False, None) for p in split['train']]
            if c.mirror:
                load += [(p, True, None) for p in split['train']]
            augment = c.image_augment
            load += [(p, mirrored, (augment, _copy_seed(c.seed, p, mirrored, view)))
                     for view in range(1, c.augment_views + 1) for p, mirrored, _ in load]
            train = self._features(tqdm(load, desc='features (train)', unit='episode',
                                        disable=not self.accelerator.is_main_process),
                                   paraphrase=c.paraphrase)
            val = self._features([(p, False, None) for p in split['val']])  # never augmented
            texts = instruction_tokens(train + val, self.cache)
            return (FeatureWindowDataset(train, pc.window, pc.fwd_pred_next_n, c.samples,
                                         texts=texts, token_dropout=c.text_token_dropout),
                    FeatureWindowDataset(val, pc.window, pc.fwd_pred_next_n, 'all', texts=texts))
        if self.policy.config.train_vision:
            return self._pixel_datasets(split)
        # Trainable encoders (fine-tuning or a resampler): pixels every step.
        print('encoders are trainable (fine-tuning or a resampler): no feature cache, every '
              'step encodes pixels' + (' (text_token_dropout needs the cache: not applied)'
                                       if c.text_token_dropout else '')
              + (' (augment_views needs the cache: not applied)' if c.augment_views else ''))
        size = (pc.image_size, pc.image_size)
        common = dict(window=pc.window, chunk=pc.fwd_pred_next_n, image_size=size,
                      action_dim=pc.action_dim, action_limit=pc.action_limit,
                      stop_frames=c.stop_frames)
        train = EpisodeWindowDataset(paths=[Path(p) for p in split['train']],
                                     samples=c.samples, mirror=c.mirror,
                                     paraphrase=c.paraphrase, **common)
        val = EpisodeWindowDataset(paths=[Path(p) for p in split['val']], **common)
        return train, val

    def _pixel_datasets(self, split: dict):
        """The image towers train (``train_vision``): frames in memory at the model's
        size, whole episodes per step, augmented afresh each draw."""
        c, pc = self.config, self.policy.config
        disable = not self.accelerator.is_main_process
        if c.text_token_dropout:
            print('text_token_dropout needs the feature cache: not applied while the image '
                  'towers train')
        train = self._frames(tqdm(split['train'], desc='frames (train)', unit='episode',
                                  disable=disable), c.mirror, c.paraphrase)
        val = self._frames(split['val'], False, False)
        texts = {t: self.cache.text(t) for t in sorted(
            {t for e in train + val for t in (e.instructions or (e.instruction,))})}
        augment = (c.image_augment, c.augment_views / (c.augment_views + 1))
        return (PixelEpisodeDataset(train, pc.window, pc.fwd_pred_next_n, texts, c.samples,
                                    augment if c.augment_views else None),
                PixelEpisodeDataset(val, pc.window, pc.fwd_pred_next_n, texts))

    def _frames(self, paths, mirrored: bool, paraphrase: bool) -> list[EpisodeFrames]:
        """Training pixels of each file (and its mirror)."""
        size = self.policy.config.image_size
        return _usable(paths, lambda path: episode_frames(
            path, size, self.space, mirrored, paraphrase, self.config.stop_frames))

    def _features(self, load, paraphrase: bool = False) -> list[EpisodeFeatures]:
        """Cached features of each (path, mirrored, augment)."""
        return _usable(load, lambda item: [episode_features(
            item[0], self.cache, self.space, item[1], paraphrase, item[2],
            self.config.stop_frames)])

    # ------------------------------------------------------------ checkpoints
    def _save(self, name: str, model, optimizer, scheduler) -> Path:
        folder = self.run_dir / 'checkpoints' / name
        policy = self.accelerator.unwrap_model(model)
        save_checkpoint(policy, folder, extra={'training': {
            'run': str(self.run_dir), 'step': self.state.step, 'epoch': self.state.epoch,
            'val_mae': self.state.best_val_mae if name == 'best' else None,
            'data': list(self.config.data), 'seed': self.config.seed}})
        if name == 'last':
            # Tensors and plain containers only: it loads back with weights_only=True.
            rng = {'torch_rng': torch.get_rng_state()}
            if torch.cuda.is_available():
                rng['cuda_rng'] = torch.cuda.get_rng_state_all()
            torch.save({'optimizer': optimizer.state_dict(), 'scheduler': scheduler.state_dict(),
                        **rng}, folder / 'optimizer.pt')
            (folder / STATE_FILE).write_text(json.dumps(self.state.__dict__, indent=2))
        return folder

    def _restore(self, model, optimizer, scheduler) -> None:
        from safetensors.torch import load_file

        folder = self.run_dir / 'checkpoints' / 'last'
        load_state_strict(self.accelerator.unwrap_model(model),
                          load_file(str(folder / 'model.safetensors')), str(folder))
        saved = torch.load(folder / 'optimizer.pt', weights_only=True)
        optimizer.load_state_dict(saved['optimizer'])
        scheduler.load_state_dict(saved['scheduler'])
        torch.set_rng_state(saved['torch_rng'])
        if 'cuda_rng' in saved and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(saved['cuda_rng'])
        self.state = RunState(**json.loads((folder / STATE_FILE).read_text()))

    # ------------------------------------------------------------------ loop
    @torch.no_grad()
    def validate(self, model, loader) -> dict[str, float]:
        """Validation loss and MAE of the first action (m/s), gathered over all processes."""
        model.eval()
        policy = self.accelerator.unwrap_model(model)
        errors, losses = [], []
        for batch in loader:
            pred = policy.predict_chunk(policy.batch_features(batch))
            target = batch['actions'].to(pred.device, pred.dtype)
            loss, _ = policy.loss(pred, target, batch['action_mask'].to(pred.device))
            first, true = self.accelerator.gather_for_metrics((pred[:, 0], target[:, 0]))
            errors.append((first - true).abs().float().cpu() * self.space.limit)
            losses.append(float(loss))
        model.train()
        return {'val_loss': float(np.mean(losses)), 'val_mae': float(torch.cat(errors).mean())}

    def fit(self) -> dict[str, Any]:
        """Train until ``epochs`` (or ``max_steps``, or early stop); the run's summary."""
        split = self._split()
        train_ds, val_ds, train_loader, val_loader, shuffle = self._prepare(split)
        log = MetricsLog(self.run_dir / 'metrics.csv', self._tensorboard())
        self.model.train()
        try:
            stop = False
            while self.state.epoch < self.config.epochs and not stop:
                shuffle.manual_seed(self.config.seed + self.state.epoch)
                stop = self._train_epoch(train_loader, log)
                stop = self._end_epoch(val_loader, log) or stop
        finally:
            log.close()
        return self._summary(split, train_ds, val_ds, log.path)

    def _prepare(self, split: dict) -> tuple:
        """Datasets, loaders, optimizer and schedule, prepared by accelerate (and restored
        on resume); the run's config.yaml. The shuffle generator is reseeded every epoch
        (seed + epoch), so a resumed run shuffles as the original would."""
        c, acc = self.config, self.accelerator
        with acc.main_process_first():  # the main process fills the cache, the others read
            train_ds, val_ds = self._datasets(split)
        if len(train_ds) == 0 or len(val_ds) == 0:
            raise ConfigError('no training or validation samples; record longer episodes or '
                              'use samples: all')
        shuffle = torch.Generator().manual_seed(c.seed)
        batching = dict(batch_size=c.batch_size, num_workers=c.num_workers)
        if isinstance(train_ds, PixelEpisodeDataset):  # whole episodes per step
            batching.update(batch_size=c.episode_batch, collate_fn=collate_episodes)
        train_loader = DataLoader(train_ds, shuffle=True, generator=shuffle, **batching)
        val_loader = DataLoader(val_ds, shuffle=False, **batching)
        self.params = [p for p in self.policy.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(self.params, lr=c.lr, weight_decay=c.weight_decay)
        steps_per_epoch = len(train_loader)
        total = c.max_steps or steps_per_epoch * c.epochs
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lr_lambda(c, steps_per_epoch, total))
        model, optimizer, train_loader, val_loader, scheduler = acc.prepare(
            self.policy, optimizer, train_loader, val_loader, scheduler)
        if self.resume:
            self._restore(model, optimizer, scheduler)
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        if acc.is_main_process:
            (self.run_dir / 'config.yaml').write_text(yaml.safe_dump(
                {'train': c.to_dict(), 'policy': self.policy.config.to_dict()},
                sort_keys=False))
        return train_ds, val_ds, train_loader, val_loader, shuffle

    def _train_epoch(self, loader: DataLoader, log: MetricsLog) -> bool:
        """One pass over the training data; True when ``max_steps`` ends the run."""
        c, acc = self.config, self.accelerator
        bar = tqdm(loader, desc=f'epoch {self.state.epoch + 1}/{c.epochs}',
                   disable=not acc.is_main_process, leave=False)
        t_load = time.perf_counter()
        for batch in bar:
            loader_ms = (time.perf_counter() - t_load) * 1e3
            t_step = time.perf_counter()
            metrics = self._step(batch)
            step_ms = (time.perf_counter() - t_step) * 1e3
            rate = len(batch['actions']) / max(1e-9, (loader_ms + step_ms) / 1e3)
            bar.set_postfix(loss=f'{metrics["loss"]:.4f}', samples_s=f'{rate:.0f}')
            if self.state.step % c.log_every == 0:
                log.train(self.state, metrics, self.scheduler.get_last_lr()[0], rate,
                          loader_ms, step_ms)
            if c.max_steps and self.state.step >= c.max_steps:
                return True
            t_load = time.perf_counter()
        return False

    def _step(self, batch: dict) -> dict:
        """One optimizer step; a loss that is not finite ends the run with advice."""
        loss, metrics = self.model(batch)
        if not math.isfinite(float(metrics['loss'])):
            raise TrainingDiverged(
                f'the training loss became {metrics["loss"]} at step {self.state.step + 1} '
                f'(lr {self.scheduler.get_last_lr()[0]:g}): lower lr or check the data; '
                f'checkpoints of earlier epochs are in {self.run_dir / "checkpoints"}')
        self.accelerator.backward(loss)
        if self.config.grad_clip:
            self.accelerator.clip_grad_norm_(self.params, self.config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad()
        self.state.step += 1
        return metrics

    def _end_epoch(self, val_loader: DataLoader, log: MetricsLog) -> bool:
        """Validate, keep the best and the last checkpoint; True to stop early."""
        c, acc = self.config, self.accelerator
        self.state.epoch += 1
        val = self.validate(self.model, val_loader)
        log.val(self.state, val, self.scheduler.get_last_lr()[0])
        if val['val_mae'] < self.state.best_val_mae:
            self.state.best_val_mae = val['val_mae']
            self.state.best_epoch = self.state.epoch
            self.state.bad_epochs = 0
            if acc.is_main_process:
                self._save('best', self.model, self.optimizer, self.scheduler)
        else:
            self.state.bad_epochs += 1
        if acc.is_main_process:
            self._save('last', self.model, self.optimizer, self.scheduler)
            print(f'epoch {self.state.epoch}: val MAE {val["val_mae"]:.4f} '
                  f'(best {self.state.best_val_mae:.4f} at epoch '
                  f'{self.state.best_epoch}), step {self.state.step}')
        if c.early_stop_patience and self.state.bad_epochs >= c.early_stop_patience:
            print(f'early stop: no better validation MAE for {self.state.bad_epochs} epochs')
            return True
        return False

    def _summary(self, split: dict, train_ds, val_ds, csv_path: Path) -> dict[str, Any]:
        summary = {
            'run': str(self.run_dir), 'steps': self.state.step, 'epochs': self.state.epoch,
            'best_val_mae': self.state.best_val_mae, 'best_epoch': self.state.best_epoch,
            'train_samples': getattr(train_ds, 'num_windows', len(train_ds)),
            'val_samples': getattr(val_ds, 'num_windows', len(val_ds)),
            'train_episodes': len(split['train']), 'val_episodes': len(split['val']),
            'frames_encoded': self.cache.frames_encoded,
            'frames_from_cache': self.cache.frames_from_cache,
            'feature_cache': str(self.cache.folder) if self.cache.enabled else None,
        }
        if self.accelerator.is_main_process:
            (self.run_dir / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
            plot_curves(csv_path, self.run_dir / 'plots' / 'training.png')
        return summary

    def _tensorboard(self):
        if not self.accelerator.is_main_process:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            print('TensorBoard is not installed: logging to metrics.csv only')
            return None
        return SummaryWriter(str(self.run_dir / 'tensorboard'))


class MetricsLog:
    """metrics.csv (appended to on resume) and TensorBoard, if there is a writer."""

    COLUMNS = ['step', 'epoch', 'train_loss', 'train_mae', 'val_loss', 'val_mae', 'lr',
               'samples_per_s', 'loader_ms', 'step_ms']

    def __init__(self, path: Path, writer=None) -> None:
        self.path, self.writer = path, writer
        new = not path.exists()
        self._file = open(path, 'a', newline='', encoding='utf-8')
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(self.COLUMNS)

    def train(self, state, metrics: dict, lr: float, rate: float, loader_ms: float,
              step_ms: float) -> None:
        self._csv.writerow([state.step, state.epoch, metrics['loss'], metrics['mae'], '', '',
                            lr, rate, loader_ms, step_ms])
        if self.writer:
            for name, value in (('train/loss', metrics['loss']), ('train/mae', metrics['mae']),
                                ('train/lr', lr), ('perf/samples_per_s', rate)):
                self.writer.add_scalar(name, value, state.step)

    def val(self, state, val: dict, lr: float) -> None:
        self._csv.writerow([state.step, state.epoch, '', '', val['val_loss'], val['val_mae'],
                            lr, '', '', ''])
        self._file.flush()
        if self.writer:
            self.writer.add_scalar('val/mae', val['val_mae'], state.step)
            self.writer.add_scalar('val/loss', val['val_loss'], state.step)

    def close(self) -> None:
        self._file.close()
        if self.writer:
            self.writer.close()


def plot_curves(csv_path: Path, out: Path) -> Path:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(csv_path, encoding='utf-8')))
    train = [(int(r['step']), float(r['train_loss'])) for r in rows if r['train_loss']]
    val = [(int(r['step']), float(r['val_mae'])) for r in rows if r['val_mae']]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    if train:
        axes[0].plot(*zip(*train, strict=True))
    axes[0].set_title('training loss (Huber, normalised)')
    axes[0].set_xlabel('step')
    if val:
        axes[1].plot(*zip(*val, strict=True), marker='o')
    axes[1].set_title('validation MAE (first action, m/s)')
    axes[1].set_xlabel('step')
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
