"""What one closed-loop episode did (``RunResult``) and its JSON summary."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mobile_vla.episode import Episode


@dataclass
class RunResult:
    """What happened in one closed-loop episode (``summary()`` is the JSON)."""

    scenario: str
    seed: int
    instruction: str
    instructed_side: str
    driver: str
    mode: str
    reached: bool = False  # came within success_radius of the goal, on any side, at any time
    #: The driver stopped within success_radius of the goal: the policy's last navigation
    #: step arrived there (it held still), the expert ended its episode there.
    stopped_at_goal: bool = False
    collision: bool = False
    outcome: str = 'running'  # plan_done (plan_failed, plan_refused, plan_stopped),
    # collision, timeout, wrong_object, not_found (a goal room without the named object:
    # the policy held still, or the time passed, with nothing reached); the expert:
    # episode_done, reached
    goal: bool = False  # a goal room: the words chose the object, not the side
    target: str = ''  # a goal room: what the words name ("blue ball")
    absent: bool = False  # a goal room that holds no object the words name
    wrong_object: str = ''  # the object reached that the words did not name
    time_s: float = 0.0
    reached_at_s: float | None = None
    path: list[tuple[float, float]] = field(default_factory=list)
    shortest_m: float = 0.0
    passed_side: str | None = None
    policy_steps: int = 0
    frames: int = 0
    zero_reasons: dict[str, int] = field(default_factory=dict)
    expert_keys: str = ''
    episode: Episode | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    layout: dict[str, Any] = field(default_factory=dict)

    @property
    def path_length(self) -> float:
        p = np.asarray(self.path)
        return float(np.sum(np.linalg.norm(np.diff(p, axis=0), axis=1))) if len(p) > 1 else 0.0

    #: The plan's steps as the run went (instruction sequences): kind, text, the pose
    #: where each began and ended, and the state it ended in (``vla/status``).
    plan_steps: list[dict[str, Any]] = field(default_factory=list)
    plan_state: str = ''

    @property
    def success(self) -> bool:
        """Stopped at the cup (``stopped_at_goal``) AND passed the obstacle on the
        instructed side. In a goal room: stopped at the named object, no other reached
        before or after it (any side); when the room holds no such object, reached
        nothing and hit nothing (not found, stopped elsewhere, the plan refused, or its
        navigation step out of time: ``plan_failed``), while a run that did not run
        (``failed: ...``, its worker died) is never a success. Coming within
        ``success_radius`` and driving on is not success: that is ``reached``."""
        if self.absent:
            return not (self.wrong_object or self.collision or self.outcome.startswith('failed'))
        if self.wrong_object:
            return False
        return self.stopped_at_goal and (self.goal or self.passed_side == self.instructed_side)

    @property
    def stopped_away(self) -> bool:
        """The plan said it arrived (the policy held still) away from the goal: short of
        it, past it, or beside it."""
        return self.outcome in ('plan_done', 'plan_stopped') and not self.stopped_at_goal \
            and not self.absent

    @property
    def wrong_side(self) -> bool:
        """Reached the cup having passed on the other side (no side is asked in a goal room)."""
        return not self.goal and self.reached and \
            self.passed_side not in (None, self.instructed_side)

    @property
    def spl(self) -> float:
        """Success weighted by (shortest path / max(path, shortest)), Anderson et al. 2018."""
        if not self.success or not self.reached:
            return 0.0
        return self.shortest_m / max(self.path_length, self.shortest_m)

    @property
    def on_instructed_side(self) -> bool:
        """The name reports and earlier callers use for ``success``."""
        return self.success

    def track_plan(self, status: dict[str, Any], pose: list[float], now: float) -> None:
        """Follow ``vla/status``: where each step of the plan began and ended (pose, time)
        and the state it ended in."""
        state, steps = status.get('state'), self.plan_steps
        self.plan_state = state
        index = int(status.get('step', 0)) - 1
        if steps and steps[-1]['end_pose'] is None and (index != len(steps) - 1
                                                         or state != 'running'):
            steps[-1].update(end_pose=pose, ended_s=now, state='done' if index >= len(steps)
                             or state in ('done', 'stopped') else state)
        if state == 'running' and index == len(steps):
            steps.append({'kind': status.get('kind'), 'text': status.get('text'),
                          'target': status.get('target'), 'start_pose': pose,
                          'started_s': now, 'end_pose': None, 'ended_s': None,
                          'state': 'running'})

    def summary(self) -> dict[str, Any]:
        return {
            'scenario': self.scenario, 'seed': self.seed, 'instruction': self.instruction,
            'instructed_side': self.instructed_side, 'driver': self.driver, 'mode': self.mode,
            'success': self.success, 'reached': self.reached,
            'stopped_at_goal': self.stopped_at_goal, 'stopped_away': self.stopped_away,
            'wrong_side': self.wrong_side,
            'goal': self.goal, 'target': self.target, 'absent': self.absent,
            'wrong_object': self.wrong_object,
            'collision': self.collision, 'outcome': self.outcome,
            'time_s': round(self.time_s, 4), 'reached_at_s': self.reached_at_s,
            'path_length_m': round(self.path_length, 4), 'shortest_m': round(self.shortest_m, 4),
            'spl': round(self.spl, 4), 'passed_side': self.passed_side,
            'on_instructed_side': self.on_instructed_side, 'policy_steps': self.policy_steps,
            'frames': self.frames, 'zero_reasons': self.zero_reasons,
            'expert_keys': self.expert_keys, 'outputs': self.outputs, 'layout': self.layout,
            'plan_steps': self.plan_steps, 'plan_state': self.plan_state,
        }


def write_summary(result: RunResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json_text(result.summary()))
    return path


def json_text(value: Any) -> str:
    """``value`` as strict JSON text (a summary, a report): numpy values as numbers, a
    non-finite number as null (``json`` would write NaN, which no strict reader takes)."""
    return json.dumps(_jsonable(value), indent=2, allow_nan=False) + '\n'


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f'not JSON serialisable: {type(value).__name__}')
