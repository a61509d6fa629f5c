"""The control nodes' wiring, written once against ``mobile_vla.bus.Bus``.

``ArbiterWiring`` is what ``control_arbiter`` runs under rclpy, what the bag tests
replay and what drives the simulated base; ``TeleopWiring`` is the WASD teleop's
publishers. Everything the arbiter decides lives in ``arbiter.py``; this module
maps parameters, messages, QoS and timers onto it.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from mobile_vla import topics
from mobile_vla.actions import ZERO
from mobile_vla.bus import Bus, publisher_of, subscribe_to, throttled_warnings
from mobile_vla.msgs import SecondsSince, twist_to_action
from mobile_vla.units import NS
from mobile_vla_control.arbiter import ControlArbiter
from mobile_vla_control.arbiter_config import ArbiterConfig, arbiter_params
from mobile_vla_control.teleop import TeleopConfig, TeleopStep, WasdTeleop

TWIST_STAMPED = 'geometry_msgs/msg/TwistStamped'


class ArbiterWiring:
    """control_arbiter: sources, mode and e-stop in; cmd_vel on each command and at
    ``rate_hz``, state, health."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.config = bus.config(ArbiterConfig, ArbiterConfig.from_params, arbiter_params)
        self._seconds = SecondsSince()
        self._warn = throttled_warnings(bus)
        self.arbiter = ControlArbiter(self.config, warn=self._warn, info=partial(bus.log, 'info'))
        bus.on_change(self._retune)
        # cmd_vel is Twist for the whole graph (recorder, simulator, tests); a base that
        # wants TwistStamped gets a copy on its own topic.
        self._cmd = publisher_of(bus, topics.CMD_VEL)
        self._stamped = bus.publisher(
            self.config.stamped_topic, TWIST_STAMPED, topics.CMD_VEL.publisher_qos,
        ) if self.config.stamped_output else None
        self._state = publisher_of(bus, topics.CONTROL_STATE)
        self._diagnostics = publisher_of(bus, topics.DIAGNOSTICS)
        for source in self.config.sources:
            bus.subscribe(source.topic, topics.ROBOT_ACTION.msgtype,
                          topics.ROBOT_ACTION.subscription_qos,
                          partial(self._on_twist, source.name))
        self._estop_heard = False
        self._estop_pending = False  # a latched e-stop publisher has not delivered yet
        self._estop_tick_ns: int | None = None
        # Mode and e-stop: volatile, so a default-profile publisher is heard, and a
        # late-joiner twin that gets the latched value of a publisher that was there
        # first. A latched publisher's message then arrives twice: the same mode, the
        # same e-stop request. The twins end once the start-up is over (latched_wait_s,
        # and nothing latched still due): a default-profile publisher that comes later is
        # never told of a subscription it cannot match.
        self._started_ns: int | None = None
        self._end_twins: list = [subscribe_to(bus, topics.CONTROL_MODE, self._on_mode),
                                 subscribe_to(bus, topics.CONTROL_ESTOP, self._on_estop)]
        bus.timer(self.config.rate_hz, self.tick, 'control_arbiter')
        bus.timer(1.0, self._publish_diagnostics, 'control_arbiter/diagnostics')
        sources = ', '.join(f'{s.name}<-{s.topic} ({s.role}, prio {s.priority}, '
                            f'{s.timeout} s)' for s in self.config.sources)
        bus.log('info', f'arbiter at {self.config.rate_hz} Hz, mode {self.arbiter.mode}; '
                        f'sources: {sources}')

    def _now(self) -> float:
        return self._seconds(self.bus.now_ns())

    def _retune(self, changes: dict[str, Any]) -> None:
        """Live limits (``ros2 param set``): the whole config is validated, then applied."""
        config = ArbiterConfig.from_params({**arbiter_params(self.config), **changes})
        self.arbiter.retune(config)
        self.config = self.arbiter.config
        self.bus.log('info', f'limits: velocity {list(config.max_velocity)}, acceleration '
                             f'{list(config.max_acceleration)}, deceleration '
                             f'{list(config.max_deceleration)}')

    def _on_twist(self, source: str, msg: Any) -> None:
        """A command of a source that may drive in this mode takes effect at once: a valid
        one goes out (slew limited over the time since the last output), a rejected one
        (NaN, absurd) takes its source out of the output. The tick stays the watchdog."""
        self.arbiter.on_command(source, twist_to_action(msg), self._now())
        if self.arbiter.may_drive(source):
            self.tick()

    def _on_mode(self, msg: Any) -> None:
        if self.arbiter.on_mode(msg.data, self._now()):
            self.bus.log('info', f'mode -> {self.arbiter.mode}')
        self._publish_state()

    def _on_estop(self, msg: Any) -> None:
        self._estop_heard = True
        self._estop_pending = False
        changed = self.arbiter.on_estop(bool(msg.data), self._now())
        if changed:
            self.bus.log('warning', f'e-stop {changed}')
        now_ns = self.bus.now_ns()
        if now_ns != self._estop_tick_ns:  # zero goes out now, not at the next tick
            self._estop_tick_ns = now_ns
            self.tick()

    def tick(self) -> None:
        if not self._estop_heard:  # a latched e-stop may still be on its way
            self._estop_pending = self.bus.latched_publishers(
                topics.CONTROL_ESTOP.name) > 0
        now_ns = self.bus.now_ns()
        if self._started_ns is None:
            self._started_ns = now_ns
        if self._end_twins and not self._estop_pending and \
                now_ns - self._started_ns >= self.config.latched_wait_s * NS:
            for end in self._end_twins:
                end()
            self._end_twins = []
        out = self.arbiter.tick(self._now(), estop_pending=self._estop_pending)
        self.publish_command(out.action)
        self._publish_state()

    def publish_command(self, action: tuple[float, float, float]) -> None:
        self._cmd(self.bus.msgs.twist(action))
        if self._stamped is not None:
            self._stamped(self.bus.msgs.twist_stamped(action, self.bus.now_ns(),
                                                      self.config.frame_id))

    def _publish_state(self) -> None:
        now = self._now()
        if self.arbiter.state_due(now):
            self._state(self.bus.msgs.string(json.dumps(self.arbiter.state(now))))

    def _publish_diagnostics(self) -> None:
        level, message, values = self.arbiter.diagnostics(self._now())
        self._diagnostics(self.bus.msgs.diagnostics(
            self.bus.now_ns(), 'control_arbiter: arbiter', level, message, values))

    def shutdown(self) -> None:
        """The last command is zero."""
        self.publish_command(ZERO)


class TeleopWiring:
    """wasd_teleop: what a key step publishes, on teleop/cmd_vel, control/mode, recorder/control.

    The keys come from a terminal (``keyboard.run_teleop``), not from the bus.
    """

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.teleop = WasdTeleop(bus.config(TeleopConfig))
        self._publishers = {topic: publisher_of(bus, topic) for topic in
                            (topics.TELEOP_CMD_VEL, topics.CONTROL_MODE, topics.RECORDER_CONTROL)}

    def emit(self, step: TeleopStep) -> None:
        for topic, value in step.publish:
            if topic is topics.TELEOP_CMD_VEL:
                self._publishers[topic](self.bus.msgs.twist(value))
            else:
                self._publishers[topic](self.bus.msgs.string(str(value)))

    def shutdown(self) -> None:
        """The last teleop command is zero."""
        self._publishers[topics.TELEOP_CMD_VEL](self.bus.msgs.twist(ZERO))
