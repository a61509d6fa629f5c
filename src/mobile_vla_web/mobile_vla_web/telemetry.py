"""What the graph tells the console: velocities, the arbiter's state, the plan, and
every node's health from ``/diagnostics``. Each value keeps the time it came, and one
older than ``state_stale_s`` is shown as unknown, never as now."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Callable

from mobile_vla.actions import ZERO
from mobile_vla_web.config import WebConfig
from mobile_vla_web.limits import MAX_TRACKED
from mobile_vla_web.messages import json_object

#: A gap this long between two health checks means this console itself did not run.
SELF_STALL_S = 1.0
DIAGNOSTIC_LEVELS = {0: 'OK', 1: 'WARN', 2: 'ERROR', 3: 'STALE'}
#: The recorder's own status on /diagnostics (its wiring names it; the node has others,
#: such as '<node>: qos').
RECORDER_STATUS = 'episode_recorder: recorder'
#: The node whose vla/status the plan panel shows (silent: the plan's state is unknown).
INFERENCE_NODE = 'vla_inference'

Event = Callable[..., None]  # (kind, text, now, **extra)


def node_of(status_name: str) -> str:
    """The node a diagnostic status belongs to: 'vla_inference: policy' -> 'vla_inference'."""
    return status_name.split(':', 1)[0].strip() or status_name


def finite(values: tuple[float, ...]) -> tuple[float | None, ...]:
    return tuple(float(v) if math.isfinite(v) else None for v in values)


class Telemetry:
    def __init__(self, config: WebConfig, event: Event) -> None:
        self.config = config
        self._event = event
        self.cmd_vel: tuple[float | None, ...] = ZERO
        self._cmd_vel_t: float | None = None
        self.robot_action: tuple[float | None, ...] = ZERO
        self._robot_action_t: float | None = None
        self.control_state: dict[str, Any] | None = None
        self._control_state_t = 0.0
        self.vla_status: dict[str, Any] | None = None
        self._vla_status_t: float | None = None
        self.diagnostics: dict[str, dict[str, Any]] = {}
        #: Node -> when its /diagnostics last came; the silent ones.
        self._node_seen: dict[str, float] = {}
        self.silent: set[str] = set()
        self._last_check: float | None = None
        self.history: deque[tuple[float, Any, Any]] = deque()

    def on_cmd_vel(self, action: tuple[float, float, float], now: float) -> None:
        self.cmd_vel, self._cmd_vel_t = finite(action), now

    def on_robot_action(self, action: tuple[float, float, float], now: float) -> None:
        self.robot_action, self._robot_action_t = finite(action), now

    def on_control_state(self, text: str, now: float) -> dict[str, Any]:
        self.control_state = json_object(text)
        self._control_state_t = now
        return self.control_state

    def on_vla_status(self, text: str, now: float) -> None:
        self.vla_status, self._vla_status_t = json_object(text), now

    def fresh(self, value: Any, t: float | None, now: float) -> Any:
        """``value`` while it is younger than ``state_stale_s``, else None (unknown)."""
        return None if t is None or now - t > self.config.state_stale_s else value

    def fresh_control_state(self, now: float) -> dict[str, Any] | None:
        if self.control_state is None or \
                now - self._control_state_t > self.config.state_stale_s:
            return None
        return self.control_state

    def estop_engaged(self, now: float) -> bool | None:
        """The arbiter's word on its e-stop (None when it has not spoken lately)."""
        state = self.fresh_control_state(now)
        if state is None:
            return None
        estop = state.get('estop')
        return bool(estop.get('latched')) if isinstance(estop, dict) else None

    def on_diagnostic(self, name: str, level: int, message: str, values: dict[str, str],
                      now: float) -> None:
        if name not in self.diagnostics and len(self.diagnostics) >= MAX_TRACKED:
            oldest = min(self.diagnostics, key=lambda n: self.diagnostics[n]['t'])
            del self.diagnostics[oldest]
        node = node_of(name)
        self.diagnostics[name] = {'level': DIAGNOSTIC_LEVELS.get(level, str(level)),
                                  'message': message, 'values': values, 't': now, 'node': node}
        if node not in self._node_seen and len(self._node_seen) >= MAX_TRACKED:
            oldest = min(self._node_seen, key=self._node_seen.get)
            del self._node_seen[oldest]
            self.silent.discard(oldest)
        if node in self.silent:
            self.silent.discard(node)
            self._event('node', f'{node} is back after {now - self._node_seen[node]:.0f} s of '
                                'silence (restarted, or it ran again)', now, node=node)
        self._node_seen[node] = now

    def check_nodes(self, now: float) -> None:
        """Call at the telemetry rate: a node silent for ``node_silent_s`` is announced.
        A gap in these calls is this console's own stall (its process stopped): every
        node then gets a fresh ``node_silent_s`` before it counts as silent."""
        if self._last_check is not None and now - self._last_check > SELF_STALL_S:
            gap = now - self._last_check
            self._event('console', f'this console did not run for {gap:.1f} s (its process '
                                   'was stopped or starved); what it shows was stale meanwhile',
                        now)
            self._node_seen = {node: t + gap for node, t in self._node_seen.items()}
        self._last_check = now
        for node, seen in self._node_seen.items():
            if node not in self.silent and now - seen > self.config.node_silent_s:
                self.silent.add(node)
                self._event('node', f'{node} is silent: no /diagnostics for {now - seen:.0f} s '
                                    '(stopped, hung or gone)', now, node=node)

    def sample(self, now: float) -> None:
        """One point of the velocity plot (at the telemetry rate); unknown values are None."""
        self.history.append((now, self.fresh(self.cmd_vel, self._cmd_vel_t, now),
                             self.fresh(self.robot_action, self._robot_action_t, now)))
        while self.history and self.history[0][0] < now - self.config.plot_window_s:
            self.history.popleft()

    def plot_history(self) -> list[list[Any]]:
        return [[t, c and list(c), a and list(a)] for t, c, a in self.history]

    @property
    def recorder(self) -> dict[str, Any]:
        status = self.diagnostics.get(RECORDER_STATUS)
        return {'message': status['message'], **status['values']} if status else {}

    def state(self, now: float) -> dict[str, Any]:
        """The graph's part of what every page shows, JSON-ready."""
        arbiter = self.fresh_control_state(now) or {}
        estop = arbiter.get('estop')
        return {
            'cmd_vel': self.fresh(self.cmd_vel, self._cmd_vel_t, now),
            'robot_action': self.fresh(self.robot_action, self._robot_action_t, now),
            'mode': arbiter.get('mode'),
            'estop': self.estop_engaged(now),  # the arbiter's word only
            'estop_release_requested': bool(estop.get('release_requested'))
            if isinstance(estop, dict) else False,
            'control_state_age_s': None if self.control_state is None
            else round(now - self._control_state_t, 3),
            'control_state': self.control_state, 'vla_status': self.vla_status,
            # vla/status goes out on change only: its age says nothing, the node's silence does
            'vla_status_stale': INFERENCE_NODE in self.silent,
            'vla_status_age_s': None if self._vla_status_t is None
            else round(now - self._vla_status_t, 3),
            'diagnostics': {name: {**s, 'age_s': round(now - s['t'], 3)}
                            for name, s in self.diagnostics.items()},
            'silent_nodes': {node: round(now - self._node_seen[node], 1)
                             for node in sorted(self.silent)},
            'recorder': self.recorder,
        }
