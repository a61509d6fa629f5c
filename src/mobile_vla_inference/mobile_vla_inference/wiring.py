"""The vla_inference node's wiring, written once against ``mobile_vla.bus.Bus``.

The same code runs under rclpy (``vla_inference_node``), in bag replay and in the
simulator. The image callback only stores the newest frame and its stamp (best
effort, depth 1); the policy steps at ``rate_hz`` and publishes ``robot/action``,
zero with the reason on /diagnostics whenever the model, the instruction or the
frame is missing, stale or failing. The model loads, and every forward pass runs, on
a worker (a thread under rclpy, inline in replay), as do instruction changes (they
tokenise and encode text), in order: callbacks never wait for the model, a step never
sees the runner change under it, and the node is up, publishing zero, while a large
checkpoint loads. A tick while a step still runs is skipped (zero while loading). Frame age
and pacing both use the node's clock (``use_sim_time`` and bag playback agree).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable

from mobile_vla import topics
from mobile_vla.bus import Bus, publisher_of, subscribe_to, throttled_warnings
from mobile_vla.msgs import ImageConversionError, image_to_numpy, stamp_to_ns
from mobile_vla.policy.runner import PolicyRunner
from mobile_vla_inference.inference import InferenceConfig, VlaInference, load_runner

NS = 1e9
CHANNEL_ORDER = {'rgb8': 'rgb', 'bgr8': 'bgr'}
#: The newest frame only.
NEWEST_FRAME = topics.QosIntent('best_effort', 'volatile', 1)
ZERO = (0.0, 0.0, 0.0)
RATE_WINDOW_S = 5.0


class InferenceWiring:
    """vla_inference: camera/image and vla/command in; robot/action at ``rate_hz``."""

    def __init__(self, bus: Bus,
                 load: Callable[[InferenceConfig], PolicyRunner] = load_runner,
                 process_health: Callable[[], dict[str, str]] | None = None) -> None:
        """``process_health`` adds values of the running process (memory) to /diagnostics;
        replay and simulation leave it out, so their outputs stay exact."""
        self.bus = bus
        self._process_health = process_health
        self.config = bus.config(InferenceConfig)
        self.inference = VlaInference(self.config, load)
        self._warn = throttled_warnings(bus, 2.0)
        self._action = publisher_of(bus, topics.ROBOT_ACTION)
        self._diagnostics = publisher_of(bus, topics.DIAGNOSTICS)
        subscribe_to(bus, topics.CAMERA_IMAGE, self._on_image, qos=NEWEST_FRAME)
        subscribe_to(bus, topics.VLA_COMMAND, self._on_instruction)
        self._steps: deque[int] = deque()
        # Model load and forward passes run on this worker, never in a callback: image,
        # instruction and diagnostics callbacks are never held up by the model.
        self._policy = bus.worker('policy')
        self._policy.submit(self._load)
        bus.timer(self.config.rate_hz, self.tick, 'vla_inference')
        bus.timer(1.0, self._publish_diagnostics, 'vla_inference/diagnostics')

    def _load(self) -> None:
        if self.inference.load():
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
        order = CHANNEL_ORDER.get(msg.encoding)
        if order is None:
            self._warn(f'camera encoding: {msg.encoding} is not supported; publish rgb8 '
                       'or bgr8')
            return
        try:
            image = image_to_numpy(msg)
        except ImageConversionError as exc:
            self._warn(f'camera image: {exc}')
            return
        self.inference.on_image(image, order, stamp_to_ns(msg.header.stamp) / NS)

    def _on_instruction(self, msg: Any) -> None:
        # On the policy worker, in order with the steps and the model load: a new
        # instruction (tokenised and encoded there) never changes the runner mid-step.
        text = str(msg.data)
        self._policy.submit(lambda: self._instruct(text))

    def _instruct(self, text: str) -> None:
        refused = self.inference.on_instruction(text)
        if refused:
            self.bus.log('warning', refused)
        else:
            self.bus.log('info', f'instruction: {text.strip()!r}')

    def publish_action(self, action: Any) -> None:
        self._action(self.bus.msgs.twist(tuple(float(v) for v in action)))

    def tick(self) -> None:
        """At ``rate_hz``: one policy step on the worker, unless the last one is still
        running (a slow step skips a tick rather than queueing stale work)."""
        if self._policy.pending():
            if self.inference.runner is None:  # still loading: zero, with the reason
                self._step()
            return
        self._policy.submit(self._step)

    def _step(self) -> None:
        now_ns = self.bus.now_ns()
        out = self.inference.step(now_ns / NS)
        if self._policy.stopping:  # shutting down: the last word is the zero of shutdown()
            return
        self.publish_action(out.action)
        if out.reason:
            self._warn(f'zero action: {out.reason}')
        self._steps.append(now_ns)
        while self._steps and now_ns - self._steps[0] > RATE_WINDOW_S * NS:
            self._steps.popleft()

    def rate_hz(self) -> float:
        steps = self._steps
        if len(steps) < 2 or steps[-1] == steps[0]:
            return 0.0
        return (len(steps) - 1) * NS / (steps[-1] - steps[0])

    def _publish_diagnostics(self) -> None:
        now_ns = self.bus.now_ns()
        level, message, values = self.inference.diagnostics(now_ns / NS)
        values = {**values, 'rate_hz': f'{self.rate_hz():.2f}'}
        if self._process_health is not None:
            values.update(self._process_health())
        self._diagnostics(self.bus.msgs.diagnostics(
            now_ns, 'vla_inference: policy', level, message, values))

    def shutdown(self) -> None:
        """The last action is zero."""
        self.publish_action(ZERO)
