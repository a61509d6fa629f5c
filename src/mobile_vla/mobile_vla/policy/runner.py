"""Streaming inference: each control step encodes only the new frame.

``PolicyRunner`` caches, per frame, the fused feature vector (vision encoder +
fusion layer run once per frame) and, per instruction, the text features (run
once per new instruction). Each step then runs only the LSTM and the action MLP:

- ``history='window'`` (default, what training sees): the LSTM runs from a zero
  state over the last ``window`` frames, the first frame repeated before the
  episode start, exactly as ``EpisodeWindowDataset`` builds its samples; the
  result equals a from-scratch run over that window;
- ``history='carry'``: the LSTM state is kept from step to step (one LSTM step per
  control step), for models trained on whole episodes.

The predicted chunk is executed as ``first`` (the next action of the newest
prediction), ``ensemble`` (temporal ensembling: all predictions for this step,
weighted by exp(-decay * age)) or ``chunk`` (open loop, replanning every
``replan_every`` steps). A new instruction or ``reset()`` clears the history.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mobile_vla.policy.checkpoint import (
    checkpoint_fingerprint,
    load_checkpoint,
    read_checkpoint_config,
)
from mobile_vla.policy.configuration_policy import EXECUTIONS, HISTORIES, PolicyConfig
from mobile_vla.policy.engines import (
    Engine,
    OnnxEngine,
    TorchEngine,
    export_onnx,
    export_source,
)
from mobile_vla.policy.modeling_policy import policy_tokenizer, resolve_model_path
from mobile_vla.policy.preprocess import ImagePreprocessor


@dataclass
class StepResult:
    action: np.ndarray  # (3,) physical units, angular_z 0 for 2-D policies
    chunk: np.ndarray  # (chunk, action_dim) physical units, the newest prediction
    latency_ms: dict[str, float] = field(default_factory=dict)


class PolicyRunner:
    def __init__(self, engine: Engine, config: PolicyConfig, tokenizer: Any,
                 execution: str = 'first', history: str = 'window',
                 ensemble_decay: float = 0.5, replan_every: int | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if execution not in EXECUTIONS:
            raise ValueError(f'execution must be one of {EXECUTIONS}, got {execution!r}')
        if history not in HISTORIES:
            raise ValueError(f'history must be one of {HISTORIES}, got {history!r}')
        self.engine, self.config, self.tokenizer = engine, config, tokenizer
        self.execution, self.history = execution, history
        self.ensemble_decay = ensemble_decay
        self.replan_every = replan_every or config.fwd_pred_next_n
        if not 1 <= self.replan_every <= config.fwd_pred_next_n:
            raise ValueError(f'replan_every must be 1..{config.fwd_pred_next_n}')
        self.preprocess = ImagePreprocessor(config)
        # Only to report stage latencies; the actions never depend on it (replay can pass
        # a fixed clock and get identical results).
        self._clock = clock
        self._text_cache: dict[str, np.ndarray] = {}
        self.instruction: str | None = None
        self._text: np.ndarray | None = None
        self.frames_encoded = 0
        self.texts_encoded = 0
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget the history (the instruction stays)."""
        self._fused: deque[np.ndarray] = deque(maxlen=self.config.window)
        self._first: np.ndarray | None = None
        self._h, self._c = self.engine.initial_state()
        self._predictions: deque[tuple[int, np.ndarray]] = deque(
            maxlen=self.config.fwd_pred_next_n)
        self._plan: np.ndarray | None = None
        self._plan_step = 0
        self.step_index = 0

    def set_instruction(self, text: str) -> None:
        """Encode a new instruction (once per distinct text) and clear the history."""
        text = str(text).strip()
        if text == self.instruction:
            return
        cached = self._text_cache.get(text)
        if cached is None:
            enc = self.tokenizer([text], padding='max_length', truncation=True,
                                 max_length=self.config.max_text_len, return_tensors='np')
            cached = self.engine.encode_text(enc['input_ids'], enc['attention_mask'])[0]
            if len(self._text_cache) >= 16:
                self._text_cache.pop(next(iter(self._text_cache)))
            self._text_cache[text] = cached
            self.texts_encoded += 1
        self.instruction, self._text = text, cached
        self.reset()

    # ------------------------------------------------------------------- step
    def step(self, image: np.ndarray, channel_order: str = 'rgb') -> StepResult:
        """One control step on a new frame (any size, RGB or BGR); returns the action."""
        if self._text is None:
            raise RuntimeError('set_instruction() first: the policy needs an instruction')
        lat: dict[str, float] = {}
        pixels, lat['preprocess'] = self._timed(self.preprocess, image, channel_order)
        vision, lat['vision'] = self._timed(self.engine.encode_image, pixels)
        features = np.concatenate([vision[0], self._text])[None].astype(np.float32)
        fused, lat['fusion'] = self._timed(self.engine.fuse, features)
        self.frames_encoded += 1
        if self._first is None:
            self._first = fused[0]
        self._fused.append(fused[0])

        replan = self.execution != 'chunk' or self._plan is None or \
            self._plan_step >= self.replan_every
        if replan:
            pred, lat['temporal'] = self._timed(self._predict)
            chunk = pred * self.config.action_limit
            self._predictions.append((self.step_index, chunk))
        else:  # open loop: the stored chunk (already in physical units)
            chunk = self._predictions[-1][1]
            lat['temporal'] = 0.0
        action = self._execute(chunk, replan)
        self.step_index += 1
        lat['total'] = sum(lat.values())
        full = np.zeros(3, np.float32)
        full[: self.config.action_dim] = action
        return StepResult(full, chunk, lat)

    def _timed(self, fn, *args):
        t0 = self._clock()
        out = fn(*args)
        return out, (self._clock() - t0) * 1e3

    def _predict(self) -> np.ndarray:
        if self.history == 'carry':
            actions, self._h, self._c = self.engine.temporal(
                self._fused[-1][None, None], self._h, self._c)
            return actions[0, -1]
        window = list(self._fused)
        pad = [self._first] * (self.config.window - len(window))
        h0, c0 = self.engine.initial_state()
        actions, _, _ = self.engine.temporal(np.stack(pad + window)[None], h0, c0)
        return actions[0, -1]

    def _execute(self, chunk: np.ndarray, replanned: bool) -> np.ndarray:
        if self.execution == 'first':
            return chunk[0]
        if self.execution == 'chunk':
            if replanned:
                self._plan, self._plan_step = chunk, 0
            action = self._plan[self._plan_step]
            self._plan_step += 1
            return action
        votes, weights = [], []
        for made_at, prediction in self._predictions:
            age = self.step_index - made_at
            if age < len(prediction):
                votes.append(prediction[age])
                weights.append(np.exp(-self.ensemble_decay * age))
        weights = np.array(weights) / np.sum(weights)
        return np.sum(np.array(votes) * weights[:, None], axis=0)


def make_engine(checkpoint: str, engine: str = 'torch', device: str = 'cpu',
                dtype: str = 'float32', onnx_folder: str | None = None):
    """(engine, config, tokenizer) for a checkpoint folder; exports ONNX on first use."""
    checkpoint = str(resolve_model_path(checkpoint))
    if engine == 'torch':
        policy = load_checkpoint(checkpoint)
        return TorchEngine(policy, device, dtype), policy.config, policy.tokenizer
    if engine != 'onnx':
        raise ValueError(f"engine must be 'torch' or 'onnx', got {engine!r}")
    config, _ = read_checkpoint_config(checkpoint)
    folder = Path(onnx_folder or Path(checkpoint) / 'onnx')
    # An export made from other weights or another config would drive with the old
    # model: it is made again whenever the checkpoint's fingerprint differs.
    source = checkpoint_fingerprint(checkpoint)
    if export_source(folder) != source:
        export_onnx(load_checkpoint(checkpoint), folder, source=source)
    tokenizer = policy_tokenizer(config, tokenizer_folder=checkpoint)
    return (OnnxEngine(folder, 'auto' if device == 'cuda' else device, source=source),
            config, tokenizer)


def runner_from_checkpoint(checkpoint: str, engine: str = 'torch', device: str = 'cpu',
                           dtype: str = 'float32', window: int = 0,
                           **runner_options) -> PolicyRunner:
    """A runner for a checkpoint; ``window`` > 0 overrides the trained history length."""
    eng, config, tokenizer = make_engine(checkpoint, engine, device, dtype)
    if window:
        config = config.replace(window=window)
    return PolicyRunner(eng, config, tokenizer, **runner_options)


def untrained_runner(preset: str, device: str = 'cpu', **runner_options) -> PolicyRunner:
    """A runner on a freshly initialised preset: for exercising the graph, never for driving."""
    from mobile_vla.policy.configuration_policy import load_preset
    from mobile_vla.policy.modeling_policy import build_policy

    policy = build_policy(load_preset(preset))
    return PolicyRunner(TorchEngine(policy, device), policy.config, policy.tokenizer,
                        **runner_options)
