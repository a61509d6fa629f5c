"""The VLA inference component: frames and instructions in, a velocity command out.

It gates the policy so the robot gets zero whenever anything is wrong, with the
reason: no model, no instruction, a ``stop`` (or empty) instruction, no frame or
a stale one, a failed step, or a NaN/inf output. The policy runs when a frame
arrives (``on_image`` says whether it is due): at most ``rate_hz`` times a second,
judged by the frames' capture stamps, so a 30 Hz camera drives a 10 Hz policy with
every third frame and no wait for a timer phase. A frame is used once: between
frames (``step(now, run_policy=False)``, the watchdog) the last action is held
while the newest frame is fresh, and zero once it is stale. Time comes in as an
argument (seconds); nothing here reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from mobile_vla.actions import ZERO
from mobile_vla.config import ConfigError
from mobile_vla.config import documented as _doc
from mobile_vla.planner import MAX_INSTRUCTION_CHARS, NAVIGATE, PlanError, plan
from mobile_vla.policy.configuration_policy import EXECUTIONS, HISTORIES
from mobile_vla.streams import StreamMonitor
from mobile_vla.units import NS
from mobile_vla_inference import sequence
from mobile_vla_inference.sequence import PlanExecutor, SequenceLimits, Zero

if TYPE_CHECKING:
    from mobile_vla.policy.runner import PolicyRunner

#: The stop action (``mobile_vla.actions.ZERO``) in the runner's dtype.
STOP = np.array(ZERO, np.float32)


#: A frame stamped later than now by more than this is invalid (clock skew).
FUTURE_TOLERANCE_S = 0.1
#: A frame this share of a step period early still steps: camera jitter must not
#: skip a frame and drop a 10 Hz policy on a 30 Hz camera to 7.5 Hz.
STEP_SLACK = 0.1
#: The instruction state after a refused one (not a text anyone can send).
REFUSED = '\x00refused'


@dataclass(frozen=True)
class InferenceConfig:
    """Parameters of the VLA inference node."""

    checkpoint: str = _doc("checkpoint folder (config.json + model.safetensors); '' = none",
                           '')
    preset: str = _doc("without a checkpoint: run this model preset UNTRAINED (graph smoke "
                       "tests only); '' = publish zero", '')
    engine: str = _doc('torch or onnx (ONNX Runtime; exported next to the checkpoint)',
                       'torch')
    device: str = _doc('cpu, cuda (torch) / cpu, cuda, tensorrt, auto (onnx)', 'cpu')
    dtype: str = _doc('float32, float16 (cuda) or bfloat16 (torch engine)', 'float32')
    rate_hz: float = _doc(
        'most policy steps per second (as trained); a step runs as soon as a frame arrives, '
        'skipping frames that come faster. robot/action is also republished at this rate '
        'between frames: the held action while the frame is fresh, else zero', 10.0)
    max_frame_age_s: float = _doc('an older camera frame is stale: zero is published', 0.5)
    execution: str = _doc('first, ensemble (temporal ensembling: every prediction made for '
                          'this step, newer ones weighing more; the demo policy stops at the '
                          'cup more often with it) or chunk (open loop)', 'ensemble')
    history: str = _doc('window (as trained: LSTM over the last frames) or carry', 'window')
    ensemble_decay: float = _doc('ensemble: weight exp(-decay * age) per prediction', 0.5)
    replan_every: int = _doc('chunk: steps between predictions; 0 = the whole chunk', 0)
    window: int = _doc("history frames; 0 = as trained (the checkpoint's window)", 0)
    max_instruction_chars: int = _doc(
        'a longer instruction is refused (zero motion, a warning): English instructions '
        'are a sentence or two', MAX_INSTRUCTION_CHARS)
    # How plan steps run: the defaults are SequenceLimits' (one definition).
    motion_speed: float = _doc('m/s of a motion step ("move left 0.5 m"), at most 1.15',
                               SequenceLimits.motion_speed)
    turn_speed: float = _doc('rad/s of a turn step ("turn right 90 degrees"), at most 1.15',
                             SequenceLimits.turn_speed)
    arrive_speed: float = _doc(
        'a navigation step has arrived when the policy holds actions below this norm '
        '(m/s) for arrive_hold_s', SequenceLimits.arrive_speed)
    arrive_hold_s: float = _doc('see arrive_speed', SequenceLimits.arrive_hold_s)
    navigate_timeout_s: float = _doc('a navigation step that has not arrived by then fails '
                                     '(zero, the plan stops)', SequenceLimits.navigate_timeout_s)
    odom_timeout_s: float = _doc(
        'motion steps close on odom while it is this fresh, else they run on time',
        SequenceLimits.odom_timeout_s)

    def __post_init__(self) -> None:
        if self.engine not in ('torch', 'onnx'):
            raise ConfigError(f"engine must be 'torch' or 'onnx', got {self.engine!r}")
        if self.execution not in EXECUTIONS:
            raise ConfigError(f'execution must be one of {EXECUTIONS}, got {self.execution!r}')
        if self.history not in HISTORIES:
            raise ConfigError(f'history must be one of {HISTORIES}, got {self.history!r}')
        if not self.rate_hz > 0 or not self.max_frame_age_s > 0:
            raise ConfigError('rate_hz and max_frame_age_s must be > 0')
        if self.replan_every < 0 or self.window < 0:
            raise ConfigError('replan_every and window must be >= 0')
        if self.max_instruction_chars < 1:
            raise ConfigError('max_instruction_chars must be >= 1')
        for name in ('motion_speed', 'turn_speed', 'arrive_speed', 'arrive_hold_s',
                     'navigate_timeout_s', 'odom_timeout_s'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f'{name} must be a finite number > 0, got {value}')
        if self.motion_speed > 1.15 or self.turn_speed > 1.15:
            raise ConfigError('motion_speed and turn_speed are at most 1.15 (the action '
                              'limit)')

    def sequence_limits(self) -> SequenceLimits:
        return SequenceLimits(self.motion_speed, self.turn_speed, self.arrive_speed,
                              self.arrive_hold_s, self.navigate_timeout_s, self.odom_timeout_s)

    def runner_options(self) -> dict[str, Any]:
        return {'execution': self.execution, 'history': self.history,
                'ensemble_decay': self.ensemble_decay,
                'replan_every': self.replan_every or None}


def load_runner(config: InferenceConfig) -> PolicyRunner:
    """The runner the configuration asks for: a checkpoint, or an untrained preset.

    torch and transformers load here, not when the node starts: the node is up and
    subscribed (an instruction sent while the model loads is kept) in under a second."""
    from mobile_vla.policy.runner import runner_from_checkpoint, untrained_runner

    if not config.checkpoint:
        return untrained_runner(config.preset, config.device, **config.runner_options())
    return runner_from_checkpoint(config.checkpoint, config.engine, config.device, config.dtype,
                                  window=config.window, **config.runner_options())


@dataclass(frozen=True)
class InferenceOutput:
    action: np.ndarray  # (3,) float32: linear_x, linear_y, angular_z
    reason: str | None  # why the action is zero; None when the policy drives
    latency_ms: dict[str, float] = field(default_factory=dict)
    from_frame: bool = True  # False for a motion step of a plan: no camera frame behind it
    #: Capture stamp (seconds) of the frame the policy stepped on for this output; None
    #: when the policy did not run (a held action, a motion step, a zero before the step).
    policy_frame: float | None = None


class VlaInference:
    def __init__(self, config: InferenceConfig,
                 load_runner: Callable[[InferenceConfig], PolicyRunner] | None = None) -> None:
        self.config = config
        self._load_runner = load_runner
        self.runner: PolicyRunner | None = None
        self.load_error = 'still loading'
        self._frame: tuple[np.ndarray, str, float] | None = None
        self._frame_used: float | None = None
        self._frame_tried: float | None = None  # the frame of the last due step, any outcome
        self.frames = StreamMonitor()
        self._instruction: str | None = None
        self.plan: PlanExecutor | None = None
        self._plan_step: tuple[int, int] | None = None  # (plan, step index) last stepped
        # A node (re)started while a latched instruction stands does not resume it: the
        # robot never drives on words the operator may have forgotten (topics.VLA_COMMAND).
        self._plan_status: dict[str, Any] = {
            'state': sequence.IDLE,
            'reason': 'no instruction since this node started (one sent before it is not '
                      'resumed: send it again)'}
        self._last_action = STOP
        self.instructions = 0
        self.steps = 0
        self.zero_reasons: dict[str, int] = {}
        self.last_reason: str | None = None
        self.last_why: Zero | None = None
        self.last_latency: dict[str, float] = {}

    def load(self) -> bool:
        """Build the runner; on failure the reason is kept and zero is published."""
        if self._load_runner is None or not (self.config.checkpoint or self.config.preset):
            self.load_error = 'no checkpoint configured (parameter checkpoint)'
            return False
        try:
            self.runner = self._load_runner(self.config)
        except Exception as exc:  # a broken model must not take the node down
            self.runner = None
            self.load_error = f'{type(exc).__name__}: {exc}'
            return False
        self.load_error = ''
        if self._instruction is not None and self._instruction is not REFUSED:
            self.on_instruction(self._instruction)
        return True

    def on_image(self, image: np.ndarray, channel_order: str, stamp: float) -> bool:
        """Keep the newest frame; True when the policy should step on it now."""
        self._frame = (image, channel_order, stamp)
        self.frames.add(round(stamp * NS))
        return self.frame_due()

    def frame_due(self) -> bool:
        """The newest frame is new and at least a step period (less the slack) after the
        frame of the last step, by capture stamps (whatever that step published: zero
        without an instruction is paced like the policy)."""
        if self._frame is None:
            return False
        stamp, used = self._frame[2], self._frame_tried
        if used is None or stamp < used:  # the first frame, or a restarted clock
            return True
        return stamp - used >= (1.0 - STEP_SLACK) / self.config.rate_hz

    def on_instruction(self, text: str) -> str | None:
        """A new instruction replaces the running plan at once. It is planned
        (``mobile_vla.planner``); one the planner refuses, one over
        ``max_instruction_chars`` or one that is not valid text stops the robot (zero),
        and the reason is returned."""
        text = str(text).strip()
        self.instructions += 1
        self._last_action = STOP
        self.plan = None
        # The newest frame is due again: the new instruction acts on it at once.
        self._frame_used = self._frame_tried = None
        if len(text) > self.config.max_instruction_chars:
            return self._refuse(text[:80] + '...', f'{len(text)} characters, more than '
                                f'max_instruction_chars ({self.config.max_instruction_chars})')
        try:
            text.encode('utf-8')
        except UnicodeEncodeError:  # a lone surrogate: not text a tokenizer can take
            return self._refuse(text.encode('utf-8', 'replace').decode(),
                                'it is not valid Unicode text')
        self._instruction = text
        if not text:  # an empty instruction stops, as 'stop' does (the planner's stop step)
            self._plan_status = {'instruction': text, 'state': sequence.STOPPED,
                                 'reason': 'stopped by instruction'}
            return None
        try:
            steps = plan(text, objects=self.runner.config.objects if self.runner else None)
        except PlanError as exc:
            return self._refuse(text, str(exc))
        self.plan = PlanExecutor(steps, self.config.sequence_limits())
        self._plan_step = (id(self.plan), 0)
        first = steps.steps[0]
        if self.runner is not None and first.kind == NAVIGATE:
            self.runner.set_instruction(first.text)  # encoded now, not at the first frame
        return None

    def _refuse(self, text: str, why: str) -> str:
        self._instruction = REFUSED
        self._plan_status = {'instruction': text, 'state': sequence.REFUSED, 'reason': why}
        return f'instruction refused: {why}; zero motion'

    def on_odometry(self, pose: tuple[float, float, float], now: float) -> None:
        """Odometry (x, y, yaw) at ``now``: motion steps close on it while it is fresh."""
        if self.plan is not None:
            self.plan.on_odometry(pose, now)

    def status(self) -> dict[str, Any]:
        """The plan's progress, as vla/status publishes it; ``number`` counts the
        instructions this node has received, so a listener tells a new one (the same
        words sent again included) from progress on the one before."""
        status = self.plan.status if self.plan is not None else dict(self._plan_status)
        return {**status, 'number': self.instructions}

    def _zero(self, why: Zero, reason: str) -> InferenceOutput:
        self.zero_reasons[why.label] = self.zero_reasons.get(why.label, 0) + 1
        self.last_reason, self.last_why = reason, why
        self._last_action = STOP
        return InferenceOutput(STOP, reason)

    def step(self, now: float, run_policy: bool = True) -> InferenceOutput:
        """The command for ``now``: the policy's action on the newest frame, or zero and why.

        ``run_policy=False`` (the watchdog between frames) checks the same conditions and
        holds the last action, never stepping the policy on a frame that was not due.
        """
        frame = self._frame  # one snapshot: the caller's executor may replace the frame
        if run_policy and frame is not None:
            self._frame_tried = frame[2]
        return self._step(now, run_policy, frame)

    def expire(self, out: InferenceOutput, now: float) -> InferenceOutput:
        """``out`` as it stands at ``now``, when its step ended: zero, with the reason, if
        the frame it came from went stale during a slow forward pass."""
        if out.reason is not None or self._frame_used is None or not out.from_frame:
            return out
        age = now - self._frame_used
        if age > self.config.max_frame_age_s:
            return self._zero(Zero.STALE_FRAME, f'stale camera frame ({age:.2f} s old when '
                              'the step ended; the model is too slow for max_frame_age_s)')
        return out

    def _step(self, now: float, run_policy: bool,
              frame: tuple[np.ndarray, str, float] | None) -> InferenceOutput:
        if self.runner is None:
            return self._zero(Zero.NO_MODEL, f'model not loaded: {self.load_error}')
        if self._instruction is None:
            return self._zero(Zero.NO_INSTRUCTION,
                              'no instruction yet (publish one on vla/command)')
        if self._instruction is REFUSED:
            return self._zero(Zero.REFUSED, f'instruction refused '
                              f'({self._plan_status["reason"]}); publish another one')
        if self.plan is None:  # the empty instruction
            return self._zero(Zero.STOPPED, 'stopped by instruction')
        directive = self.plan.update(now)
        step = (id(self.plan), self.plan.index)
        if step != self._plan_step:  # a new step: nothing of the last one is held
            self._plan_step, self._last_action, self._frame_used = step, STOP, None
        if directive.kind == 'zero':
            return self._zero(directive.why or Zero.PLAN_FAILED, directive.reason)
        if directive.kind == 'motion':  # a motion step drives blind, on time or odometry
            self.last_reason = None
            self._last_action = np.asarray(directive.velocity, np.float32)
            return InferenceOutput(self._last_action, None, {}, from_frame=False)
        if self.runner.instruction != directive.text:  # a navigation step begins
            self.runner.set_instruction(directive.text)
        if frame is None:
            return self._zero(Zero.NO_FRAME, 'no camera frame yet')
        image, order, stamp = frame
        age = now - stamp
        if age > self.config.max_frame_age_s:
            return self._zero(Zero.STALE_FRAME, f'stale camera frame ({age:.2f} s old)')
        if age < -FUTURE_TOLERANCE_S:  # it would never go stale: clocks disagree
            return self._zero(Zero.FUTURE_FRAME, f'camera frame stamped {-age:.2f} s in the '
                              'future (check the clocks of camera and robot)')
        if stamp == self._frame_used or not run_policy:  # no new frame: hold the action
            return InferenceOutput(self._last_action, None, {})
        try:
            result = self.runner.step(image, order)
        except Exception as exc:
            return self._zero(Zero.POLICY_FAILED,
                              f'policy step failed: {type(exc).__name__}: {exc}')
        if not np.all(np.isfinite(result.action)):
            return self._zero(Zero.BAD_OUTPUT, 'policy output is NaN or inf')
        self._frame_used = stamp
        self.plan.on_policy_action(result.action, now)
        self.steps += 1
        self.last_reason = None
        self.last_latency = result.latency_ms
        self._last_action = result.action.astype(np.float32)
        return InferenceOutput(self._last_action, None, result.latency_ms, policy_frame=stamp)

    @property
    def input_size(self) -> int | None:
        """The policy's square input size, once the model is loaded."""
        return self.runner.config.image_size if self.runner is not None else None

    def diagnostics(self, now: float) -> tuple[str, str, dict[str, str]]:
        values = {
            'checkpoint': self.config.checkpoint,
            'engine': self.runner.engine.name if self.runner else self.config.engine,
            'instruction': str(self._instruction),
            'steps': str(self.steps),
            'last_zero_reason': str(self.last_reason),
            **{f'zero.{k}': str(v) for k, v in sorted(self.zero_reasons.items())},
            **{f'latency_ms.{k}': f'{v:.2f}' for k, v in self.last_latency.items()},
            **self.frames.values('frames'),
        }
        if self.runner is None:
            return 'ERROR', f'model not loaded: {self.load_error}', values
        status = self.status()
        values.update({f'plan.{k}': str(status.get(k, '')) for k in
                       ('state', 'step', 'steps', 'text', 'reason')})
        if self.last_reason is not None and self.last_why is not None and \
                self.last_why.severity != 'OK':
            return 'WARN', f'publishing zero: {self.last_reason}', values
        return 'OK', (self.last_reason if self.last_reason else
                      f'driving: {self._instruction!r}'), values
