"""Pictures of a closed-loop run for people: the room from above with the driven path."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.results import RunResult
from mobile_vla_sim.world import SimWorld


def write_top_down(path: Path, world: SimWorld, result: RunResult, sim: SimConfig,
                   goals: Iterable[tuple[float, float]]) -> Path:
    """The room from above with the driven path (red, start green, end blue) and the
    success circle of each goal, written to ``path``."""
    image = cv2.cvtColor(world.render_top(), cv2.COLOR_RGB2BGR)
    points = np.array([world.top_pixel(x, y) for x, y in result.path], np.int32)
    radius = round(sim.success_radius * sim.top_size / world.top_extent)
    for goal in goals:
        cv2.circle(image, world.top_pixel(*goal), radius, (0, 200, 255), 1, cv2.LINE_AA)
    if len(points) > 1:
        cv2.polylines(image, [points.reshape(-1, 1, 2)], False, (0, 0, 230), 2, cv2.LINE_AA)
        cv2.circle(image, tuple(int(v) for v in points[0]), 5, (0, 170, 0), -1)
        cv2.circle(image, tuple(int(v) for v in points[-1]), 5, (230, 80, 0), -1)
    r = result
    label = f'{r.scenario} seed {r.seed}: {r.outcome}, {r.path_length:.2f} m, SPL {r.spl:.2f}'
    cv2.putText(image, label, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 20), 1,
                cv2.LINE_AA)
    cv2.putText(image, r.instruction[:70], (8, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.42,
                (20, 20, 20), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OSError(f'could not write {path}')
    return path
