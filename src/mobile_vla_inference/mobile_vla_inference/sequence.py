"""Executing a plan (``mobile_vla.planner``): one step at a time, with a status.

- A **move** or **turn** is a velocity command (``motion_speed`` m/s or ``turn_speed``
  rad/s along the step's direction) held until the distance or angle is covered:
  measured on odometry when fresh odometry comes in (``on_odometry``), else by time
  (amount / speed). A step that odometry shows not moving fails after
  ``motion_timeout_factor`` times its expected time (plus a second): the robot is
  blocked, and the plan stops with zero rather than push on.
- A **wait** holds zero for its duration; **stop** ends the plan.
- A **navigation** step hands the step's words to the policy, which drives until it
  signals arrival by holding near-zero actions (below ``arrive_speed`` for
  ``arrive_hold_s``), or fails after ``navigate_timeout_s``.

``update(now)`` says what to do now: a motion velocity, run the policy with a text,
or zero with the reason. ``status`` is what ``vla/status`` publishes. Plain code:
time comes in as an argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np

from mobile_vla.planner import MOVE, NAVIGATE, STOP, TURN, WAIT, Plan, Step

#: Plan states on vla/status.
IDLE, RUNNING, DONE, FAILED, REFUSED, STOPPED = (
    'idle', 'running', 'done', 'failed', 'refused', 'stopped')


@dataclass(frozen=True)
class SequenceLimits:
    """How steps run (the values come from ``InferenceConfig``)."""

    motion_speed: float = 0.3
    turn_speed: float = 0.6
    arrive_speed: float = 0.08
    arrive_hold_s: float = 1.0
    navigate_timeout_s: float = 60.0
    odom_timeout_s: float = 0.5
    motion_timeout_factor: float = 2.0


class Zero(Enum):
    """Why the inference publishes zero, and what that says about the node: ``OK`` when
    zero is what was asked for (a stop, a finished plan, a wait), ``WARN`` otherwise.
    The value is the reason's short name (``zero.<name>`` counters on /diagnostics)."""

    STOPPED = ('stopped by instruction', 'OK')
    PLAN_COMPLETE = ('plan complete', 'OK')
    WAITING = ('waiting', 'OK')
    PLAN_FAILED = ('plan failed', 'WARN')
    BAD_TIME = ('the time is not a finite number', 'WARN')
    NO_MODEL = ('model not loaded', 'WARN')
    NO_INSTRUCTION = ('no instruction yet', 'WARN')
    REFUSED = ('instruction refused', 'WARN')
    NO_FRAME = ('no camera frame yet', 'WARN')
    STALE_FRAME = ('stale camera frame', 'WARN')
    FUTURE_FRAME = ('camera frame from the future', 'WARN')
    POLICY_FAILED = ('policy step failed', 'WARN')
    BAD_OUTPUT = ('policy output is NaN or inf', 'WARN')

    @property
    def label(self) -> str:
        return self.value[0]

    @property
    def severity(self) -> str:
        return self.value[1]


@dataclass(frozen=True)
class Directive:
    """What the inference does now: ``motion`` (drive ``velocity``), ``policy`` (run the
    policy on ``text``) or ``zero`` (publish zero; ``reason`` says why)."""

    kind: str
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    text: str = ''
    reason: str = ''
    why: Zero | None = None  # a zero directive's kind of reason


def wrap_angle(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


class PlanExecutor:
    def __init__(self, plan: Plan, limits: SequenceLimits) -> None:
        self.plan, self.limits = plan, limits
        self.index = 0
        self.state = RUNNING
        self.reason = ''
        self._started: float | None = None  # of the current step
        self._origin: tuple[float, float, float] | None = None  # odometry at step start
        self._turned = 0.0
        self._last_yaw: float | None = None
        self._pose: tuple[float, float, float] | None = None
        self._pose_at: float | None = None
        self._low_since: float | None = None
        self._before_odometry = 0.0  # of the step, commanded before odometry came up
        self._last_action_at: float | None = None
        self._moved = False

    # ----------------------------------------------------------------- inputs
    def on_odometry(self, pose: tuple[float, float, float], now: float) -> None:
        """The robot's odometry pose (x, y, yaw in its odom frame) received at ``now``."""
        if self._last_yaw is not None and self.state == RUNNING:
            self._turned += wrap_angle(pose[2] - self._last_yaw)
        self._last_yaw = pose[2]
        self._pose, self._pose_at = pose, now

    def on_policy_action(self, action: np.ndarray, now: float) -> None:
        """An action the policy published in a navigation step: arrival is when, having
        driven, it holds near-zero actions for ``arrive_hold_s``, step after step (a gap
        of more than half that between steps starts the count again)."""
        if self.state != RUNNING or self.current.kind != NAVIGATE:
            return
        last, self._last_action_at = self._last_action_at, now
        if float(np.linalg.norm(action)) >= self.limits.arrive_speed:
            self._moved, self._low_since = True, None
            return
        if not self._moved:
            return  # near zero before it ever drove: not an arrival
        if self._low_since is None or last is None or \
                now - last > self.limits.arrive_hold_s / 2:
            self._low_since = now
        elif now - self._low_since >= self.limits.arrive_hold_s:
            self._advance()

    # ---------------------------------------------------------------- queries
    @property
    def current(self) -> Step:
        return self.plan.steps[min(self.index, len(self.plan.steps) - 1)]

    @property
    def status(self) -> dict:
        step = self.current
        return {'instruction': self.plan.instruction, 'state': self.state,
                'step': min(self.index + 1, len(self.plan.steps)),
                'steps': len(self.plan.steps), 'kind': step.kind, 'text': step.describe(),
                'target': step.target.to_dict() if step.target else None,
                'reason': self.reason,
                'plan': [s.describe() for s in self.plan.steps]}

    def _odometry_fresh(self, now: float) -> bool:
        return self._pose_at is not None and 0 <= now - self._pose_at <= \
            self.limits.odom_timeout_s

    # -------------------------------------------------------------- progress
    def _advance(self) -> None:
        self.index += 1
        self._started = None
        self._low_since = self._last_action_at = None
        self._moved = False
        if self.index >= len(self.plan.steps):
            self.state, self.reason = DONE, 'every step done'

    def _fail(self, reason: str) -> Directive:
        self.state, self.reason = FAILED, reason
        return Directive('zero', reason=f'plan step {self.index + 1} failed: {reason}',
                         why=Zero.PLAN_FAILED)

    def _begin(self, now: float) -> None:
        self._started = now
        self._turned = self._before_odometry = 0.0
        self._origin = self._pose if self._odometry_fresh(now) else None

    def _speed(self, step: Step) -> float:
        """rad/s of a turn, m/s of a move."""
        return self.limits.turn_speed if step.kind == TURN else self.limits.motion_speed

    def _motion_done(self, step: Step, now: float) -> tuple[bool, float]:
        """(done, expected seconds) of a move or turn."""
        speed = self._speed(step)
        expected = step.amount if step.timed else step.amount / speed
        elapsed = now - self._started
        if self._origin is None and not step.timed and self._odometry_fresh(now):
            # Odometry came up during the step: close on it from here, counting what was
            # commanded before it on time.
            self._origin, self._turned = self._pose, 0.0
            self._before_odometry = min(max(self._pose_at - self._started, 0.0), expected) * speed
        if step.timed or self._origin is None or not self._odometry_fresh(now):
            return elapsed >= expected, expected
        # The pose is as old as its message: what was commanded since counts on time.
        amount = step.amount - self._before_odometry - speed * max(now - self._pose_at, 0.0)
        if step.kind == TURN:  # signed: turning the other way is no progress
            return self._turned * step.direction[2] >= amount, expected
        x0, y0, yaw0 = self._origin
        dx, dy = self._pose[0] - x0, self._pose[1] - y0
        # Progress along the step's direction, in the body frame at the step start.
        ux, uy = step.direction[0], step.direction[1]
        along = (dx * math.cos(yaw0) + dy * math.sin(yaw0)) * ux + \
            (-dx * math.sin(yaw0) + dy * math.cos(yaw0)) * uy
        return along >= amount, expected

    def update(self, now: float) -> Directive:
        """What to do at ``now``; finished steps give way to the next one at once."""
        if not math.isfinite(now):
            return Directive('zero', reason='the time is not a finite number',
                             why=Zero.BAD_TIME)
        while self.state == RUNNING:
            step = self.current
            if self._started is None:
                self._begin(now)
            if now < self._started:  # the clock went back (a simulator or bag restart)
                return self._fail('the clock went back; publish the instruction again')
            if step.kind == STOP:
                self.state, self.reason = STOPPED, 'stopped by instruction'
                break
            elapsed = now - self._started
            if step.kind == WAIT:
                if elapsed >= step.amount:
                    self._advance()
                    continue
                return Directive('zero', reason=f'waiting ({step.amount - elapsed:.1f} s left)',
                                 why=Zero.WAITING)
            if step.kind in (MOVE, TURN):
                done, expected = self._motion_done(step, now)
                if done:
                    self._advance()
                    continue
                if elapsed > expected * self.limits.motion_timeout_factor + 1.0:
                    return self._fail(f'{step.describe()} not done after {elapsed:.1f} s '
                                      '(blocked?)')
                speed = self._speed(step)
                return Directive('motion', tuple(float(v) * speed for v in step.direction))
            if elapsed > self.limits.navigate_timeout_s:
                return self._fail(f'no arrival within navigate_timeout_s '
                                  f'({self.limits.navigate_timeout_s:g} s)')
            return Directive('policy', text=step.text)
        return Directive('zero', reason=self.state_reason(), why={
            DONE: Zero.PLAN_COMPLETE, STOPPED: Zero.STOPPED}.get(self.state, Zero.PLAN_FAILED))

    def state_reason(self) -> str:
        if self.state == DONE:
            return 'plan complete'
        if self.state == STOPPED:
            return 'stopped by instruction'
        return f'plan {self.state}: {self.reason}'
