"""Camera frames labelled with what each patch shows (``mobile-vla sim frames``).

The demo's vision towers are tiny and start from random weights (the pretrained
snapshots are not available offline), so nothing in them knows a cup from a floor tile.
These frames teach the Kosmos-2 image tower what it looks at before the policy head
trains on it (``mobile-vla train-vision``): each frame comes with, for every patch of
the tower's grid, the kind of thing that covers it (an obstacle box, a goal kind,
clutter, or nothing) and, for a cup or a goal object, its colour name.

A frame is the forward camera of a room drawn from the training ranges (``sample_layout``
with its defaults, layout seeds below ``EVAL_SEED``: no held-out shift family, and no goal
room holds a held-out colour x kind pair; the cups of the original rooms come in all six
colours, as in the expert episodes), with the robot
placed where a drive puts it: along the way from the start to the goal, beside the
obstacle, and near a goal object, heading about as the room's start does. The camera
renders at the simulator's size (``SimConfig``) with the room's sensor, and the frame is
resized as the policy resizes it (``resize_frame``); the labels come from MuJoCo's
segmentation of the same view. Frames depend only on (seed, room index): any number of
workers writes the same set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mobile_vla.policy.preprocess import resize_frame
from mobile_vla.scenarios import GOAL_SCENARIOS, SCENARIOS
from mobile_vla_sim import EVAL_SEED
from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.world import (
    CUP_COLOURS,
    GOAL_KINDS,
    ROBOT_RADIUS,
    Layout,
    SimWorld,
    sample_layout,
)

#: What a patch can show (index = label): nothing of note (floor, walls, sky), an
#: obstacle box, a goal kind (the cup of the original rooms is 'cup'), or clutter.
PATCH_CLASSES: tuple[str, ...] = ('none', 'obstacle', *GOAL_KINDS, 'clutter')
#: The colour names of cups and goal objects (index = label; -1: not a goal object).
COLOUR_NAMES: tuple[str, ...] = tuple(CUP_COLOURS)
#: A patch shows a thing when it covers at least this share of the patch's pixels (a
#: cup 4.5 m ahead covers about 2 % of a 7 x 7 grid's patch).
MIN_SHARE = 0.003
#: Where the robot stands for a frame: shares of frames along the way from the start to
#: the goal, near a goal object (within NEAR metres) and anywhere around the route.
ALONG, NEAR_GOAL = 0.4, 0.35
NEAR = (0.25, 1.0)
#: Heading spread about the room's start yaw, degrees (a policy turns a little).
YAW_SPREAD_DEG = 12.0
#: Free floor kept between the chassis and any box or goal object where it stands.
CLEARANCE = 0.05
MAX_FRAMES = 200_000
#: Every room a frame set can draw from (the index seeds each room's poses).
SCENARIOS_ALL: tuple[str, ...] = SCENARIOS + GOAL_SCENARIOS
#: The segmentation renders this many times smaller than the frame (patch shares only).
SEGMENT_SCALE = 4


@dataclass(frozen=True)
class FrameJob:
    """The frames of one room."""

    scenario: str
    seed: int
    count: int
    size: int
    grid: int
    sim: SimConfig


def _blocked(layout: Layout, x: float, y: float) -> bool:
    for box in layout.boxes:
        dx = abs(x - box.center[0]) - box.size[0] / 2
        dy = abs(y - box.center[1]) - box.size[1] / 2
        if math.hypot(max(dx, 0.0), max(dy, 0.0)) < ROBOT_RADIUS + CLEARANCE:
            return True
    goals = [(o.center, o.reach) for o in layout.objects] or [(layout.cup, layout.cup_radius)]
    return any(math.hypot(x - c[0], y - c[1]) < ROBOT_RADIUS + r + CLEARANCE for c, r in goals)


def frame_poses(layout: Layout, count: int, rng: np.random.Generator) -> list[tuple[float, ...]]:
    """``count`` robot poses (x, y, yaw) in the room, clear of every box and object."""
    x0, y0, yaw0 = layout.robot
    goals = [o.center for o in layout.objects] or [layout.cup]
    far = max(g[0] for g in goals)
    poses: list[tuple[float, ...]] = []
    while len(poses) < count:
        u = rng.random()
        if u < ALONG:  # on the way: between the start and the goal, either side
            x = rng.uniform(x0, layout.cup[0])
            y = y0 + (layout.cup[1] - y0) * (x - x0) / max(layout.cup[0] - x0, 1e-6) \
                + rng.uniform(-1.2, 1.2)
        elif u < ALONG + NEAR_GOAL:  # near a goal object, on the robot's side of it
            gx, gy = goals[int(rng.integers(len(goals)))]
            r, a = rng.uniform(*NEAR), math.pi + rng.uniform(-1.0, 1.0)
            x, y = gx + r * math.cos(a), gy + r * math.sin(a)
        else:  # anywhere around the route
            x, y = rng.uniform(x0 - 0.3, far + 0.3), y0 + rng.uniform(-2.0, 2.0)
        if _blocked(layout, x, y):
            continue
        yaw = yaw0 + math.radians(float(np.clip(rng.normal(0.0, YAW_SPREAD_DEG),
                                                -3 * YAW_SPREAD_DEG, 3 * YAW_SPREAD_DEG)))
        poses.append((float(x), float(y), float(yaw)))
    return poses


def geom_labels(world: SimWorld) -> tuple[np.ndarray, np.ndarray]:
    """(class, colour) label of every geom id of the world's model (-1 colour: none)."""
    layout, model = world.layout, world.model
    kinds = np.zeros(model.ngeom, np.int64)
    colours = np.full(model.ngeom, -1, np.int64)
    cup_colour = COLOUR_NAMES.index(layout.cup_colour)
    for gid in range(model.ngeom):
        name = model.geom(gid).name
        if name.startswith('box'):
            kinds[gid] = PATCH_CLASSES.index('obstacle')
        elif name == 'cup':
            kinds[gid], colours[gid] = PATCH_CLASSES.index('cup'), cup_colour
        elif name.startswith('goal'):
            goal = layout.objects[int(name[4:].split('_')[0])]
            kinds[gid] = PATCH_CLASSES.index(goal.kind)
            colours[gid] = COLOUR_NAMES.index(goal.colour)
        elif name.startswith('clutter'):
            kinds[gid] = PATCH_CLASSES.index('clutter')
    return kinds, colours


def patch_labels(segment: np.ndarray, kinds: np.ndarray, colours: np.ndarray,
                 grid: int) -> tuple[np.ndarray, np.ndarray]:
    """A segmentation (H, W) of geom ids -> (grid, grid) class and colour labels.

    The frame is squashed to a square before the tower cuts it into patches, so patch
    (row, column) is the same share of the frame's height and width. A patch's class is
    the thing that covers most of it, if that covers ``MIN_SHARE`` of it; its colour is
    that thing's (-1 unless a cup or goal object)."""
    h, w = segment.shape
    rows = np.minimum(np.arange(h) * grid // h, grid - 1)
    cols = np.minimum(np.arange(w) * grid // w, grid - 1)
    cell = (rows[:, None] * grid + cols[None, :]).reshape(-1)
    ids = segment.reshape(-1)
    seen = ids >= 0
    n_geoms = len(kinds)
    counts = np.bincount(cell[seen] * n_geoms + ids[seen], minlength=grid * grid * n_geoms)
    counts = counts.reshape(grid * grid, n_geoms)
    counts[:, kinds == 0] = 0  # floor, walls: nothing of note
    best = counts.argmax(axis=1)
    pixels = np.bincount(cell, minlength=grid * grid)
    shown = counts[np.arange(grid * grid), best] >= MIN_SHARE * pixels
    out_kind = np.where(shown, kinds[best], 0).reshape(grid, grid)
    out_colour = np.where(shown, colours[best], -1).reshape(grid, grid)
    return out_kind.astype(np.int8), out_colour.astype(np.int8)


def room_frames(job: FrameJob) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One room's frames (count, size, size, 3) uint8 and labels (count, grid, grid)."""
    layout = sample_layout(job.scenario, job.seed)
    rng = np.random.default_rng([job.seed, SCENARIOS_ALL.index(job.scenario), 0xF4A3])
    world = SimWorld(layout, job.sim.width, job.sim.height, job.sim.top_size)
    try:
        kinds, colours = geom_labels(world)
        images, kind_grids, colour_grids = [], [], []
        for pose in frame_poses(layout, job.count, rng):
            world.place(*pose)
            images.append(resize_frame(world.render(), job.size, job.size))
            k, c = patch_labels(world.render_segmentation(SEGMENT_SCALE), kinds, colours,
                                job.grid)
            kind_grids.append(k)
            colour_grids.append(c)
    finally:
        world.close()
    return np.stack(images), np.stack(kind_grids), np.stack(colour_grids)


def frame_jobs(frames: int, seed: int, scenarios: tuple[str, ...], per_room: int, size: int,
               grid: int, sim: SimConfig) -> list[FrameJob]:
    """Rooms of ``scenarios`` in turn, seeds from ``seed``, ``per_room`` frames each."""
    if not 1 <= frames <= MAX_FRAMES:
        raise ValueError(f'--frames must be in [1, {MAX_FRAMES}], got {frames}')
    if per_room < 1:
        raise ValueError(f'--per-room must be at least 1, got {per_room}')
    last = seed + (math.ceil(frames / per_room) - 1) // len(scenarios)
    if seed < 0 or last >= EVAL_SEED:
        raise ValueError(f'--seed {seed} with --frames {frames} draws layout seeds {seed} to '
                         f'{last}: they must be 0 or more and below {EVAL_SEED}, where the '
                         'unseen evaluation rooms begin')
    jobs = []
    for i in range(math.ceil(frames / per_room)):
        jobs.append(FrameJob(scenarios[i % len(scenarios)], seed + i // len(scenarios),
                             min(per_room, frames - i * per_room), size, grid, sim))
    return jobs


def run_frame_job(_state, job: FrameJob) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``workers.run_jobs``'s form of ``room_frames``."""
    return room_frames(job)
