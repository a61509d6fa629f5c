"""The scripted expert: around the obstacle on the instructed side, to the cup.

The expert knows the layout and the robot's pose (it is privileged; the policy
only sees the camera). It plans a route of three legs: to the near corner of the
obstacle's lane on the instructed side, along the lane past the obstacle, then to
the cup. The lane keeps ``clearance`` metres between the chassis and the boxes.
Each decision follows the route:

- ``actions: discrete`` drives the legs with the keys of the original key map
  (magnitude 1.15 per axis), as an operator does: the diagonal toward the lane
  (q or e) until the chassis is in the lane, forward (w) until it is past the
  obstacle, then the key nearest to the cup's direction (the diagonal back, then w).
  With ``approach`` (metres) the last leg lines up first: the keys head for the point
  that far before the cup on its line (a sideways key once level with it), then w
  straight at the cup, so that a camera at the start heading sees the cup, centred and
  growing, until the stop. On the diagonal back the cup leaves the 62-degree view one
  to two frames before the stop.
  A key whose next ``decision_period`` of travel would bring the chassis within
  ``safety`` of a box is replaced by the nearest safe one (a, d, ...);
- ``actions: continuous`` follows the route with a look-ahead point (pure
  pursuit), the larger body axis at ``speed`` (as fast as the keys).

Within ``stop_radius`` of the cup it stops (the key map's space bar).

Where the camera looks is ``gaze``:

- ``ahead``: the base never turns (omni wheels translate in any direction), as the
  original operator drove, so angular_z is always 0. The camera keeps the start
  heading; along the lane and on the way back the cup is out of its 62-degree view;
- ``cup``: the base turns toward the cup while it translates along the same route,
  so the camera keeps the cup in view and every frame shows how far it still is.
  It turns and translates at once (``gaze_gain`` of the heading error per decision),
  so it needs continuous actions: a key turns or translates, never both, and the
  cup would swing out of view between turn keys. Within ``gaze_radius`` of the cup
  the heading holds (the bearing swings as the robot closes in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mobile_vla.actions import ACTION_LIMIT
from mobile_vla_sim.world import CORNER_MARGIN, LANE_CLEARANCE, ROBOT_RADIUS, Layout, lane_exit

#: The translation keys of the original key map, as body-frame unit steps (x, y).
KEYS: dict[str, tuple[int, int]] = {
    'w': (1, 0), 'q': (1, 1), 'a': (0, 1), 'z': (-1, 1),
    's': (-1, 0), 'c': (-1, -1), 'd': (0, -1), 'e': (1, -1),
}
ACTIONS = ('discrete', 'continuous')
GAZES = ('ahead', 'cup')
MAX_APPROACH = 2.0  # metres: longer than any room has between the obstacle and the cup


@dataclass(frozen=True)
class ExpertConfig:
    actions: str = 'discrete'
    speed: float = ACTION_LIMIT  # per axis: keys, and the larger axis of a continuous action
    clearance: float = LANE_CLEARANCE  # chassis to box along the lane, metres
    corner_margin: float = CORNER_MARGIN  # extra room before and after the obstacle, metres
    lookahead: float = 0.45  # pure-pursuit look-ahead along the route, metres
    stop_radius: float = 0.30  # stop when the robot centre is this close to the cup
    safety: float = 0.04  # a key may not bring the chassis closer than this to a box
    lane_tolerance: float = 0.08  # discrete: how close to a line counts as on it, metres
    decision_period: float = 0.4  # seconds a decision is held (the frame period)
    gaze: str = 'ahead'  # where the camera looks: 'ahead' (never turns) or 'cup'
    gaze_gain: float = 0.6  # share of the heading error turned per decision
    gaze_radius: float = 0.6  # the heading holds this close to the cup, metres
    #: metres of straight final approach on the cup's line (0: the diagonal back to it)
    approach: float = 0.0

    def __post_init__(self) -> None:
        if self.actions not in ACTIONS:
            raise ValueError(f'actions must be one of {ACTIONS}, got {self.actions!r}')
        if self.gaze not in GAZES:
            raise ValueError(f'gaze must be one of {GAZES}, got {self.gaze!r}')
        if self.gaze == 'cup' and self.actions != 'continuous':
            raise ValueError("gaze 'cup' turns while it translates: it needs continuous "
                             "actions (a key turns or translates, not both)")
        if not 0.0 < self.gaze_gain <= 1.0:
            raise ValueError(f'gaze_gain must be in (0, 1], got {self.gaze_gain}')
        if not 0.0 <= self.approach <= MAX_APPROACH:
            raise ValueError(f'approach must be in [0, {MAX_APPROACH}] metres, got '
                             f'{self.approach}')


def _segment_rect_distance(p: np.ndarray, q: np.ndarray, rect: tuple) -> float:
    """Smallest distance between segment p-q and an axis-aligned rectangle."""
    x0, x1, y0, y1 = rect
    best = math.inf
    for t in np.linspace(0.0, 1.0, 17):
        x, y = p + t * (q - p)
        dx = max(x0 - x, 0.0, x - x1)
        dy = max(y0 - y, 0.0, y - y1)
        best = min(best, math.hypot(dx, dy))
    return best


def _segment_crosses_rect(p: np.ndarray, q: np.ndarray, rect: tuple) -> bool:
    """Exact test (Liang-Barsky clipping): does segment p-q enter the rectangle?"""
    x0, x1, y0, y1 = rect
    d = q - p
    t0, t1 = 0.0, 1.0
    for num, den in ((p[0] - x0, -d[0]), (x1 - p[0], d[0]),
                     (p[1] - y0, -d[1]), (y1 - p[1], d[1])):
        if den == 0:
            if num < 0:
                return False
            continue
        t = num / den
        if den < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return True


def route(layout: Layout, side: str, clearance: float, corner_margin: float,
          start: np.ndarray | None = None, approach: float = 0.0) -> np.ndarray:
    """Waypoints (x, y): start, lane entry, lane exit, cup; with ``approach``, the
    point that far before the cup on its line (not before the lane exit) comes before
    the cup."""
    bounds = layout.obstacle_bounds()
    exit_ = lane_exit(side, bounds, clearance, corner_margin)
    start = np.array(layout.robot[:2]) if start is None else start
    entry = (bounds[0] - ROBOT_RADIUS - corner_margin, exit_[1])
    points = [start, entry, exit_, layout.cup]
    if approach > 0:
        points.insert(3, (min(max(exit_[0], layout.cup[0] - approach), layout.cup[0]),
                          layout.cup[1]))
    return np.array(points, dtype=np.float64)


def _axes(yaw: float) -> tuple[float, float]:
    return math.cos(yaw), math.sin(yaw)


class ScriptedExpert:
    def __init__(self, layout: Layout, side: str, config: ExpertConfig | None = None) -> None:
        if side not in ('left', 'right'):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        self.layout, self.side = layout, side
        self.config = config or ExpertConfig()
        self.route = route(layout, side, self.config.clearance, self.config.corner_margin,
                           approach=self.config.approach)
        self._progress = 0.0  # arc length along the route, never decreasing
        lengths = np.linalg.norm(np.diff(self.route, axis=0), axis=1)
        self._cumulative = np.concatenate([[0.0], np.cumsum(lengths)])
        self.last_key = ' '

    def _project(self, point: np.ndarray) -> float:
        """Arc length of the route point nearest to ``point`` (not behind progress)."""
        best_s, best_d = self._progress, math.inf
        for i in range(len(self.route) - 1):
            a, b = self.route[i], self.route[i + 1]
            ab = b - a
            t = float(np.clip((point - a) @ ab / max(ab @ ab, 1e-12), 0.0, 1.0))
            d = float(np.linalg.norm(a + t * ab - point))
            s = self._cumulative[i] + t * float(np.linalg.norm(ab))
            if d < best_d and s >= self._progress - 1e-9:
                best_s, best_d = s, d
        return best_s

    def _point_at(self, s: float) -> np.ndarray:
        s = min(s, self._cumulative[-1])
        i = int(np.searchsorted(self._cumulative, s, side='right') - 1)
        i = min(i, len(self.route) - 2)
        seg = self._cumulative[i + 1] - self._cumulative[i]
        t = 0.0 if seg <= 0 else (s - self._cumulative[i]) / seg
        return self.route[i] + t * (self.route[i + 1] - self.route[i])

    def wanted_direction(self, pose: np.ndarray) -> np.ndarray | None:
        """World-frame unit vector to follow, or None at the cup."""
        position = np.asarray(pose[:2], dtype=np.float64)
        if np.linalg.norm(position - np.array(self.layout.cup)) < self.config.stop_radius:
            return None
        self._progress = self._project(position)
        target = self._point_at(self._progress + self.config.lookahead)
        delta = target - position
        norm = float(np.linalg.norm(delta))
        if norm < 1e-6:
            return None
        return delta / norm

    def heading_error(self, pose: np.ndarray) -> float:
        """Radians to turn (positive to the left) to face the cup; 0 without a gaze, or
        within ``gaze_radius`` of the cup."""
        delta = np.array(self.layout.cup) - np.asarray(pose[:2], dtype=np.float64)
        if self.config.gaze != 'cup' or float(np.linalg.norm(delta)) < self.config.gaze_radius:
            return 0.0
        error = math.atan2(delta[1], delta[0]) - float(pose[2])
        return math.atan2(math.sin(error), math.cos(error))

    def act(self, pose: np.ndarray) -> np.ndarray:
        """The body-frame action (linear_x, linear_y, angular_z) for ``pose`` (x, y, yaw)."""
        direction = self.wanted_direction(pose)
        if direction is None:
            self.last_key = ' '
            return np.zeros(3)
        error = self.heading_error(pose)
        period = self.config.decision_period
        if self.config.actions == 'continuous':
            turn = float(np.clip(self.config.gaze_gain * error / period,
                                 -ACTION_LIMIT, ACTION_LIMIT))
            # the heading halfway through the decision: the route, not a curve off it
            c, s = _axes(float(pose[2]) + turn * period / 2)
            body = np.array([c * direction[0] + s * direction[1],
                             -s * direction[0] + c * direction[1]])
            self.last_key = '~'
            # as fast as the keys: the larger axis at the action limit
            return np.array([*(body / np.abs(body).max() * self.config.speed), turn])
        c, s = _axes(float(pose[2]))
        position = np.asarray(pose[:2], dtype=np.float64)
        wanted = self._leg_direction(position)
        body = np.array([c * wanted[0] + s * wanted[1], -s * wanted[0] + c * wanted[1]])
        return self._key_action(position, body, c, s)

    def _leg_direction(self, position: np.ndarray) -> np.ndarray:
        """World direction of the key the current leg calls for (operator style)."""
        entry, exit_, cup = self.route[1], self.route[2], self.route[-1]
        sign = 1.0 if self.side == 'left' else -1.0
        tol = self.config.lane_tolerance
        if position[0] < exit_[0]:
            if sign * (entry[1] - position[1]) > tol:  # not in the lane yet: diagonal
                return np.array([1.0, sign])
            return np.array([1.0, 0.0])  # in the lane: forward past the obstacle
        # Lining up (approach): off the cup's line by more than half a key's travel, the
        # key nearest to the approach point, or sideways once level with it.
        line = max(tol, self.config.speed * self.config.decision_period / 2)
        if self.config.approach > 0 and abs(cup[1] - position[1]) > line:
            ahead = self.route[3] - position
            return ahead if ahead[0] > 0 else np.array([0.0, ahead[1]])
        return cup - position  # past it: the key nearest to the cup's direction

    def _key_action(self, position: np.ndarray, body: np.ndarray, c: float,
                    s: float) -> np.ndarray:
        rects = [(b.center[0] - b.size[0] / 2, b.center[0] + b.size[0] / 2,
                  b.center[1] - b.size[1] / 2, b.center[1] + b.size[1] / 2)
                 for b in self.layout.boxes]
        ranked = sorted(KEYS.items(), key=lambda kv: -float(
            np.dot(np.array(kv[1]) / np.linalg.norm(kv[1]), body)))
        for key, (kx, ky) in ranked:
            step = np.array([kx, ky], dtype=np.float64) * self.config.speed
            world = np.array([c * step[0] - s * step[1], s * step[0] + c * step[1]])
            end = position + world * self.config.decision_period
            if all(_segment_rect_distance(position, end, r) > ROBOT_RADIUS + self.config.safety
                   for r in rects):
                self.last_key = key
                return np.array([*step, 0.0])
        self.last_key = ' '
        return np.zeros(3)


def passed_side(path: np.ndarray, layout: Layout) -> str | None:
    """'left' or 'right': where the path crossed the obstacle's middle; None if it did not."""
    x0, x1, y0, y1 = layout.obstacle_bounds()
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    for a, b in zip(path[:-1], path[1:], strict=True):
        if (a[0] - xm) * (b[0] - xm) <= 0 and a[0] != b[0]:
            t = (xm - a[0]) / (b[0] - a[0])
            y = a[1] + t * (b[1] - a[1])
            return 'left' if y > ym else 'right'
    return None


def shortest_path_length(layout: Layout, side: str, success_radius: float) -> float:
    """Length of the taut path from the start around the obstacle (grown by the robot
    radius) on ``side`` to the success circle around the cup: the SPL reference."""
    x0, x1, y0, y1 = layout.obstacle_bounds()
    r = ROBOT_RADIUS
    grown = (x0 - r, x1 + r, y0 - r, y1 + r)
    y_side = grown[3] if side == 'left' else grown[2]
    nodes = [np.array(layout.robot[:2]), np.array([grown[0], y_side]),
             np.array([grown[1], y_side]), np.array(layout.cup, dtype=np.float64)]

    def clear(a: np.ndarray, b: np.ndarray) -> bool:
        shrunk = (grown[0] + 1e-6, grown[1] - 1e-6, grown[2] + 1e-6, grown[3] - 1e-6)
        return not _segment_crosses_rect(a, b, shrunk)

    n = len(nodes)
    dist = [math.inf] * n
    dist[0] = 0.0
    done = [False] * n
    for _ in range(n):
        i = min((k for k in range(n) if not done[k]), key=lambda k: dist[k])
        done[i] = True
        for j in range(n):
            if not done[j] and clear(nodes[i], nodes[j]):
                dist[j] = min(dist[j], dist[i] + float(np.linalg.norm(nodes[j] - nodes[i])))
    return max(dist[-1] - success_radius, 1e-6)
