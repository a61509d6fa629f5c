"""The vla_inference node's wiring, written once against ``mobile_vla.bus.Bus``.

The same code runs under rclpy (``vla_inference_node``), in bag replay and in the
simulator. Frames come from ``camera/image_policy``, the camera's policy-sized copy
(remap it to ``camera/image`` for a camera that has none). A frame that is due
(``VlaInference.on_image``: at most ``rate_hz`` steps a second, by capture stamps)
starts a policy step at once, so the action goes out one forward pass after the
frame arrives; a frame that arrives while a step runs is taken as soon as it ends.
A watchdog at ``rate_hz`` republishes the held action between frames, and zero with
the reason on /diagnostics whenever the model, the instruction or the frame is
missing, stale or failing. The model loads, and every forward pass runs, on a
worker (a thread under rclpy, inline in replay), as do instruction changes (they
tokenise and encode text), in order: callbacks never wait for the model, a step
never sees the runner change under it, and the node is up, publishing zero, while a
large checkpoint loads. Frame age and pacing both use the node's clock
(``use_sim_time`` and bag playback agree).

Instructions are planned (``VlaInference.on_instruction``): a motion step of a plan
drives without the camera, published by the watchdog at ``rate_hz`` (it closes on
``odom`` while that is fresh), a navigation step runs the policy on frames, and
``vla/status`` (latched) goes out whenever the plan's progress changes.
"""

from __future__ import annotations

import json
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from mobile_vla import topics
from mobile_vla.actions import ZERO
from mobile_vla.bus import Bus, publisher_of, subscribe_to, throttled_warnings
from mobile_vla.msgs import (
    ImageConversionError,
    colour_image,
    odometry_to_pose,
    stamp_to_ns,
)
from mobile_vla.units import NS
from mobile_vla_inference.inference import InferenceConfig, VlaInference, load_runner
from mobile_vla_inference.scheduler import Start, StepScheduler

if TYPE_CHECKING:
    from mobile_vla.policy.runner import PolicyRunner

RATE_WINDOW_S = 5.0
#: Policy steps whose capture-to-publish delay is kept for the p50 / p95 in diagnostics.
DELAY_WINDOW = 300


class InferenceWiring:
    """vla_inference: camera/image_policy, vla/command and odom in; robot/action per due
    frame (or per watchdog tick in a motion step of a plan) and vla/status out."""

    def __init__(self, bus: Bus,
                 load: Callable[[InferenceConfig], PolicyRunner] = load_runner,
                 process_health: Callable[[], dict[str, str]] | None = None,
                 on_loaded: Callable[[], None] | None = None) -> None:
        """``process_health`` adds values of the running process (memory) to /diagnostics;
        replay and simulation leave it out, so their outputs stay exact. ``on_loaded``
        runs once the model is loaded (the node freezes the garbage collector's view of
        it there)."""
        self.bus = bus
        self._process_health = process_health
        self._on_loaded = on_loaded
        self.config = bus.config(InferenceConfig)
        self.inference = VlaInference(self.config, load)
        self._warn = throttled_warnings(bus, 2.0)
        self._action = publisher_of(bus, topics.ROBOT_ACTION)
        self._diagnostics = publisher_of(bus, topics.DIAGNOSTICS)
        subscribe_to(bus, topics.CAMERA_IMAGE_POLICY, self._on_image)
        subscribe_to(bus, topics.VLA_COMMAND, self._on_instruction)
        subscribe_to(bus, topics.ODOM, self._on_odometry)
        self._status = publisher_of(bus, topics.VLA_STATUS)
        self._status_sent: dict[str, Any] | None = None
        self._steps: deque[int] = deque()
        self._delays_ms: deque[float] = deque(maxlen=DELAY_WINDOW)
        self._step_started_ns: int | None = None  # of the policy step running now
        self._frame_size: tuple[int, int] | None = None
        self.scheduler = StepScheduler()
        # Model load and forward passes run on this worker, never in a callback: image,
        # instruction and diagnostics callbacks are never held up by the model.
        self._policy = bus.worker('policy')
        self._policy.submit(self._load)
        bus.timer(self.config.rate_hz, self.tick, 'vla_inference/watchdog')
        bus.timer(1.0, self._publish_diagnostics, 'vla_inference/diagnostics')

    def _load(self) -> None:
        if self.inference.load():
            if self._on_loaded is not None:
                self._on_loaded()
            if self.config.checkpoint:
                self.bus.log('info', f'policy loaded from {self.config.checkpoint} '
                                     f'({self.inference.runner.engine.name})')
            else:
                self.bus.log('warning', f'UNTRAINED {self.config.preset} policy: for graph '
                                        'tests only, its actions are meaningless')
        else:
            self.bus.log('error', f'policy not loaded: {self.inference.load_error}; '
                                  'publishing zero')

    def _on_image(self, msg: Any) -> None:
        try:
            image, order = colour_image(msg)
        except ImageConversionError as exc:
            self._warn(f'camera image: {exc}')
            return
        self._note_size(msg.width, msg.height)
        if not self.inference.on_image(image, order, stamp_to_ns(msg.header.stamp) / NS):
            return
        if self.scheduler.frame_came_due():
            self._policy.submit(self._run_steps)

    def _note_size(self, width: int, height: int) -> None:
        """Say once per size what frames come in, and what the policy makes of them."""
        if (width, height) == self._frame_size:
            return
        self._frame_size = (width, height)
        size = self.inference.input_size
        resized = f'; the policy resizes them to {size}x{size}' if size and (
            width, height) != (size, size) else ''
        self.bus.log('info', f'camera frames are {width}x{height}{resized}')

    def _on_instruction(self, msg: Any) -> None:
        # On the policy worker, in order with the steps and the model load: a new
        # instruction (tokenised and encoded there) never changes the runner mid-step.
        text = str(msg.data)
        self._policy.submit(lambda: self._instruct(text))

    def _on_odometry(self, msg: Any) -> None:
        try:
            pose = odometry_to_pose(msg)
        except (ValueError, AttributeError) as exc:
            self._warn(f'odom: {exc}; motion steps run on time')
            return
        now = self.bus.now_ns() / NS
        # On the policy worker, in order with the steps that read it.
        self._policy.submit(lambda: self.inference.on_odometry(pose, now))

    def _instruct(self, text: str) -> None:
        refused = self.inference.on_instruction(text)
        if refused:
            self.bus.log('warning', refused)
        else:
            status = self.inference.status()
            steps = status.get('plan', [])
            plan = f' (plan: {"; ".join(steps)})' if len(steps) > 1 else ''
            self.bus.log('info', f'instruction: {text.strip()!r}{plan}')
        self._publish_status()
        # The newest fresh frame is due again: the instruction (or a stop) acts at once.
        start = self.scheduler.instruction_came(self.inference.frame_due)
        if start is Start.RUN:
            self._run_steps()
        elif start is Start.WITHOUT_POLICY:  # a motion step or a zero still goes out now
            self._step(run_policy=False)

    def publish_action(self, action: Any) -> None:
        self._action(self.bus.msgs.twist(tuple(float(v) for v in action)))

    def tick(self) -> None:
        """The watchdog at ``rate_hz``: unless a step published within the last half period
        (a frame came due), the held action or zero goes out, with the reason. It never
        steps the policy: steps start from frames. While a step runs it waits for it,
        but a step running longer than ``max_frame_age_s`` (its frame is stale by now)
        gets zero published over it."""
        now_ns = self.bus.now_ns()
        if not self.scheduler.watchdog_due(now_ns, self.config.rate_hz):
            return
        if self._policy.pending():
            started = self._step_started_ns
            if self.inference.runner is None:  # still loading: zero, with the reason
                self._step(run_policy=False)
            elif started is not None and now_ns - started > self.config.max_frame_age_s * NS:
                self.publish_action(ZERO)
                self.scheduler.published(now_ns)
                self._warn(f'zero action: a policy step has run for '
                           f'{(now_ns - started) / NS:.2f} s (over max_frame_age_s)')
            return
        self._policy.submit(lambda: self._step(run_policy=False))

    def _run_steps(self) -> None:
        """On the policy worker, a run the scheduler started: a step on the due frame,
        then one on each frame that came due meanwhile (the newest), until none waits."""
        self._step()
        while self.scheduler.step_again(self.inference.frame_due, self._policy.stopping):
            self._step()

    def _step(self, run_policy: bool = True) -> None:
        now_ns = self.bus.now_ns()
        stepped_on = None  # the frame the policy stepped on, if it ran
        if run_policy:
            self._step_started_ns = now_ns
            try:
                out = self.inference.step(now_ns / NS)
            finally:
                self._step_started_ns = None
            stepped_on = out.policy_frame
            # A slow forward pass: its frame may have gone stale meanwhile.
            out = self.inference.expire(out, self.bus.now_ns() / NS)
        else:
            out = self.inference.step(now_ns / NS, run_policy=False)
        if self._policy.stopping:  # shutting down: the last word is the zero of shutdown()
            return
        self.publish_action(out.action)
        self.scheduler.published(now_ns)
        self._publish_status()
        if out.reason:
            self._warn(f'zero action: {out.reason}')
        if stepped_on is not None:
            self._steps.append(now_ns)
            self._delays_ms.append((self.bus.now_ns() / NS - stepped_on) * 1e3)
            while self._steps and now_ns - self._steps[0] > RATE_WINDOW_S * NS:
                self._steps.popleft()

    def _publish_status(self) -> None:
        """vla/status, whenever the plan's progress changed (latched: a late subscriber
        gets the current one)."""
        status = self.inference.status()
        if status == self._status_sent:
            return
        self._status_sent = status
        self._status(self.bus.msgs.string(json.dumps(status)))

    def rate_hz(self) -> float:
        steps = self._steps
        if len(steps) < 2 or steps[-1] == steps[0]:
            return 0.0
        return (len(steps) - 1) * NS / (steps[-1] - steps[0])

    def _publish_diagnostics(self) -> None:
        now_ns = self.bus.now_ns()
        level, message, values = self.inference.diagnostics(now_ns / NS)
        values = {**values, 'rate_hz': f'{self.rate_hz():.2f}'}
        if self._delays_ms:  # capture stamp to robot/action, as diagnostic_updater's
            p50, p95 = np.percentile(self._delays_ms, [50, 95])  # time-stamp status
            values['frame_to_action_ms.p50'] = f'{p50:.1f}'
            values['frame_to_action_ms.p95'] = f'{p95:.1f}'
        if self._process_health is not None:
            values.update(self._process_health())
        self._diagnostics(self.bus.msgs.diagnostics(
            now_ns, 'vla_inference: policy', level, message, values))

    def shutdown(self) -> None:
        """The last action is zero."""
        self.publish_action(ZERO)
