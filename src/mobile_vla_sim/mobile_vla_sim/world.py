"""The MuJoCo world: a floor, one or two boxes, a cup, clutter, walls and the robot.

A goal room (``goal_*`` scenarios) holds one to four goal objects in place of the
lone cup: a cup, ball, bottle, cone or crate, each in one of ``GOAL_COLOURS``, no
two alike. The target is one of the objects on the scenario's side, so the left and
right variants of a seed with objects on both sides are the same room with another
object named. Objects are placed beyond the obstacle with room between them (the
approach to any one never passes within ``GOAL_SPACING`` of another), and they do
not collide: reaching one that was not named is ``wrong_object``. Clutter keeps
``CLUTTER_CLEARANCE`` from every goal object.

World frame: the robot starts near the origin facing +x; +y is its left. A room is
drawn per (scenario, seed) from the training ranges in ``FACTORS``; the side of a
scenario never changes the room (only the instruction says which way to go), so the
left and right variants of a seed are the same room, which is what the language test
needs. Each factor draws from its own random stream, so a room whose one factor is
drawn from another range (a shift family, ``mobile_vla_sim.shifts``) is otherwise the
same room.

The robot is a planar body (slide x, slide y, hinge yaw) driven by velocity
actuators: ``SimWorld.step`` turns a body-frame command (linear_x, linear_y,
angular_z, as on ``cmd_vel``) into joint velocity targets, and the actuators' force
limit makes a collision a real contact that stops the robot. The forward camera has
the horizontal field of view of the Jetson CSI camera (IMX219, 62.2 degrees) at any
render size, on a mount whose pitch, height and roll vary per room; frames get the
room's sensor effects (blur, exposure, white balance, Gaussian noise) from the
episode's own generator.

Nothing here reads a clock: time is the physics time of the model.
"""

from __future__ import annotations

import colorsys
import math
import os
import zlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping

import cv2
import numpy as np

from mobile_vla.scenarios import Scenario, parse

os.environ.setdefault('MUJOCO_GL', 'osmesa')  # offscreen on the CPU unless told otherwise
import mujoco  # noqa: E402  (the GL backend is chosen at import)

#: Horizontal field of view of the CSI camera (IMX219 module), degrees.
CAMERA_HFOV_DEG = 62.2
#: Nominal camera mount on the robot: forward of the centre, height, downward pitch.
#: Each room moves it by its ``camera_*`` factors (a mount is never set twice the same).
CAMERA_MOUNT = {'x': 0.16, 'z': 0.28, 'pitch_deg': 10.0}
ROBOT_RADIUS = 0.18
ROBOT_HALF_HEIGHT = 0.08
PHYSICS_DT = 0.005
#: Free floor kept between the chassis at the start and the obstacle (room to reach
#: the lane at the key map's speed), and between the obstacle and the cup, metres:
#: boxes shrink along x when a near cup leaves less.
OBSTACLE_FRONT, OBSTACLE_BACK = 0.70, 0.45
#: The route around the obstacle: chassis to box along the lane, and extra room before
#: and after the obstacle, metres (the expert's defaults; goal objects keep clear of it).
LANE_CLEARANCE, CORNER_MARGIN = 0.25, 0.10

#: Procedural textures of the floor, the boxes and the walls.
TEXTURES = ('plain', 'checker', 'stripes', 'noise')
#: What is behind the room: a gradient or plain sky, or walls with a texture.
BACKGROUNDS = ('gradient', 'plain', 'walls')
#: Cup colours (RGB); each room jitters its cup's by ``cup_jitter``.
CUP_COLOURS: dict[str, tuple[float, float, float]] = {
    'red': (0.85, 0.08, 0.08), 'orange': (0.95, 0.45, 0.05), 'yellow': (0.92, 0.82, 0.10),
    'blue': (0.10, 0.25, 0.85), 'green': (0.10, 0.65, 0.20), 'purple': (0.55, 0.15, 0.70),
}


#: The goal kinds of a goal room (``mobile_vla.objects.KINDS`` names them), each with
#: its nominal size (radius or half-width, height), metres, before ``goal_size``.
GOAL_SIZES: dict[str, tuple[float, float]] = {
    'cup': (0.050, 0.12), 'ball': (0.070, 0.14), 'bottle': (0.042, 0.22),
    'cone': (0.085, 0.24), 'crate': (0.090, 0.15),
}
GOAL_KINDS: tuple[str, ...] = tuple(GOAL_SIZES)
#: Goal object colours: the cup colours, one definition.
GOAL_COLOURS = CUP_COLOURS
#: Colour x kind pairs no training room holds (the compositional held-out set; each
#: colour and each kind is seen in training, never together). ``sample_layout`` draws
#: one only as the target it is asked for (``target=``).
HELDOUT_PAIRS: frozenset[tuple[str, str]] = frozenset({
    ('cup', 'green'), ('ball', 'red'), ('bottle', 'yellow'), ('cone', 'blue'),
    ('crate', 'purple')})
#: Least distance between goal objects, and between the straight approach to one and
#: any other, metres: more than the success radius plus how far a driver on the key map
#: strays from a straight line, so reaching one never reaches another.
GOAL_SPACING = 0.95
GOAL_APPROACH_CLEARANCE = 0.85
#: Least floor between a clutter item and a goal object, metres; an item reaches this
#: many times its size from its centre (a capsule lying across the robot's view).
CLUTTER_CLEARANCE = 0.1
CLUTTER_REACH = 1.5


@dataclass(frozen=True)
class Factor:
    """One randomised quantity of a room: its training range and what the world can build.

    ``symmetric``: the value is ``+-uniform(low, high)`` with a random sign (a range
    ``(0.0, 15.0)`` is -15..15; a shift ``(16, 22)`` is 16..22 either way).
    """

    low: float
    high: float
    doc: str
    limits: tuple[float, float]
    symmetric: bool = False


#: Every randomised factor of a room, with its training range (``sim collect`` draws
#: from these). Lengths in metres, angles in degrees, uniform unless ``symmetric``.
FACTORS: dict[str, Factor] = {
    # the robot's start
    'robot_x': Factor(-0.10, 0.10, 'start x', (-1.0, 1.0)),
    'robot_y': Factor(0.0, 0.20, 'start y, either side', (0.0, 1.0), True),
    'robot_yaw_deg': Factor(0.0, 15.0, 'start heading, either way', (0.0, 40.0), True),
    # the cup
    'cup_distance': Factor(1.8, 4.5, 'cup ahead of the start (x)', (1.2, 6.0)),
    'cup_y': Factor(0.0, 0.30, 'cup lateral offset, either side', (0.0, 1.0), True),
    'cup_radius': Factor(0.040, 0.065, 'cup radius', (0.02, 0.15)),
    'cup_height': Factor(0.09, 0.16, 'cup height', (0.04, 0.40)),
    'cup_colour': Factor(0.0, 1.0, 'which of CUP_COLOURS (share of the list)', (0.0, 1.0)),
    'cup_jitter': Factor(0.0, 0.12, 'per-channel change of the cup colour', (0.0, 0.5)),
    # the obstacle
    'obstacle_at': Factor(0.42, 0.60, 'obstacle centre as a share of the cup distance',
                          (0.2, 0.8)),
    'obstacle_y': Factor(0.0, 0.20, 'obstacle centre off the centre line, either side',
                         (0.0, 0.6), True),
    'box_scale': Factor(0.80, 1.25, "scale of the layout's box sizes", (0.4, 2.0)),
    'box_gap': Factor(0.0, 0.10, 'gap between two boxes', (0.0, 0.4)),
    'box_hue': Factor(0.0, 1.0, 'box colour hue', (0.0, 1.0)),
    'box_saturation': Factor(0.0, 0.85, 'box colour saturation (0 = grey/white/black)',
                             (0.0, 1.0)),
    'box_value': Factor(0.12, 0.98, 'box colour brightness (black to white)', (0.0, 1.0)),
    'box_texture': Factor(0.0, 1.0, 'which of TEXTURES the boxes wear', (0.0, 1.0)),
    # the floor
    'floor_texture': Factor(0.0, 1.0, 'which of TEXTURES the floor has', (0.0, 1.0)),
    'floor_hue': Factor(0.0, 1.0, 'floor hue', (0.0, 1.0)),
    'floor_saturation': Factor(0.0, 0.45, 'floor saturation', (0.0, 1.0)),
    'floor_value': Factor(0.15, 0.85, 'floor brightness', (0.0, 1.0)),
    'floor_contrast': Factor(0.03, 0.20, 'brightness step of the floor pattern', (0.0, 0.5)),
    # the light
    'light_level': Factor(0.45, 1.50, 'light intensity (x the nominal diffuse 0.75, ambient '
                          '0.3)', (0.05, 3.0)),
    'light_ambient': Factor(0.15, 0.45, 'ambient share of the light', (0.0, 1.0)),
    'light_azimuth_deg': Factor(0.0, 360.0, 'light direction around the room', (0.0, 360.0)),
    'light_elevation_deg': Factor(35.0, 85.0, 'light elevation', (10.0, 90.0)),
    'light_temperature_k': Factor(3000.0, 7500.0, 'colour temperature of the light',
                                  (1500.0, 12000.0)),
    # the camera mount
    'camera_pitch_deg': Factor(0.0, 5.0, 'mount pitch change, either way', (0.0, 15.0), True),
    'camera_height': Factor(0.0, 0.04, 'mount height change, either way', (0.0, 0.10), True),
    'camera_roll_deg': Factor(0.0, 2.0, 'mount roll, either way', (0.0, 10.0), True),
    # the sensor
    'sensor_noise': Factor(0.0, 6.0, 'Gaussian noise, std in grey levels', (0.0, 40.0)),
    'sensor_blur': Factor(0.0, 1.0, 'Gaussian blur sigma, pixels at 640 wide', (0.0, 6.0)),
    'sensor_exposure': Factor(0.75, 1.30, 'exposure gain', (0.2, 3.0)),
    'sensor_white_balance': Factor(0.0, 0.12, 'red/blue gain change, either way', (0.0, 0.5),
                                   True),
    # the background and clutter
    'background': Factor(0.0, 1.0, 'which of BACKGROUNDS', (0.0, 1.0)),
    'background_hue': Factor(0.0, 1.0, 'sky or wall hue', (0.0, 1.0)),
    'background_value': Factor(0.35, 0.95, 'sky or wall brightness', (0.0, 1.0)),
    'clutter': Factor(0.0, 3.99, 'objects off the path (whole number drawn)', (0.0, 12.0)),
    'clutter_y': Factor(1.35, 2.6, 'clutter distance from the centre line, either side',
                        (0.9, 4.0), True),
    # goal rooms only
    'goal_count': Factor(1.0, 4.99, 'goal objects in a goal room (whole number drawn)',
                         (1.0, 4.99)),
    'goal_y': Factor(0.48, 1.7, "goal object's distance from the obstacle's centre "
                     'line, on its side (each object)', (0.48, 2.5)),
    'goal_depth': Factor(-0.4, 1.2, 'goal object x beyond the cup distance (each object; '
                         'no farther than the farthest training cup)',
                         (-1.0, 2.0)),
    'goal_size': Factor(0.80, 1.25, "scale of a goal object's nominal size (each object)",
                        (0.4, 2.5)),
}

#: The factors only goal rooms draw (a room of the original eight records none of them).
GOAL_FACTORS: frozenset[str] = frozenset(name for name in FACTORS if name.startswith('goal_'))

#: Box full sizes (along x, along y, height) per box arrangement, before ``box_scale``.
BOX_SIZES: dict[str, tuple[tuple[float, float], ...]] = {
    '1box_vert': ((0.55, 0.75), (0.30, 0.40), (0.25, 0.45)),
    '1box_hori': ((0.30, 0.40), (0.55, 0.75), (0.25, 0.45)),
    '2box_vert': ((0.35, 0.45), (0.30, 0.40), (0.25, 0.45)),  # two, one behind the other
    '2box_hori': ((0.30, 0.40), (0.32, 0.42), (0.25, 0.45)),  # two, side by side
}


class RangeError(ValueError):
    """A range the world cannot draw from (the message names the factor)."""


def check_ranges(ranges: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """``{factor: (low, high)}`` checked against ``FACTORS``: a known name, finite bounds
    in order, within what the world can build. Raises ``RangeError`` naming the factor."""
    checked = {}
    for name, bounds in ranges.items():
        if name not in FACTORS:
            raise RangeError(f'unknown room factor {name!r}; known: {", ".join(FACTORS)}')
        try:
            low, high = (float(v) for v in bounds)
        except (TypeError, ValueError):
            raise RangeError(f'{name}: a range is two numbers (low, high), got {bounds!r}') \
                from None
        lo, hi = FACTORS[name].limits
        if not (math.isfinite(low) and math.isfinite(high)):
            raise RangeError(f'{name}: bounds must be finite, got ({low}, {high})')
        if low > high:
            raise RangeError(f'{name}: bounds are reversed ({low} > {high})')
        if low < lo or high > hi:
            raise RangeError(f'{name}: ({low}, {high}) is outside what the world can build '
                             f'({lo}, {hi})')
        checked[name] = (low, high)
    return checked


for _name, _factor in FACTORS.items():  # the training table itself must be buildable
    check_ranges({_name: (_factor.low, _factor.high)})


def ranges_table() -> str:
    """The README's table of room factors and their training ranges (``python -m
    mobile_vla_sim.world`` prints it)."""
    lines = ['| factor | training range | what | the world builds |', '|---|---|---|---|']
    for name, f in FACTORS.items():
        span = f'+-({f.low:g} to {f.high:g})' if f.symmetric and f.low else (
            f'+-{f.high:g}' if f.symmetric else f'{f.low:g} to {f.high:g}')
        lines.append(f'| `{name}` | {span} | {f.doc} | {f.limits[0]:g} to {f.limits[1]:g} |')
    lines += ['', f'Textures: {", ".join(TEXTURES)}. Backgrounds: {", ".join(BACKGROUNDS)}. '
                  f'Cup colours: {", ".join(CUP_COLOURS)}. Box sizes before `box_scale` (x, y, '
                  'z, metres): ' + '; '.join(
                      f'`{k}` ' + ', '.join(f'{a:g}-{b:g}' for a, b in v)
                      for k, v in BOX_SIZES.items()) + '.',
              '', f'Goal rooms: {", ".join(GOAL_KINDS)} in the cup colours, no two alike in '
                  'a room; nominal size (radius or half-width, height, metres) before '
                  '`goal_size`: ' + '; '.join(f'{k} {r:g}, {h:g}'
                                              for k, (r, h) in GOAL_SIZES.items()) + '. '
                  'Never in a training room (the held-out pairs): ' + ', '.join(
                      f'{c} {k}' for k, c in sorted(HELDOUT_PAIRS)) + '.']
    return '\n'.join(lines) + '\n'


def _choice(options: tuple | list, share: float) -> Any:
    """The option at ``share`` (0..1) of the list."""
    return options[min(int(share * len(options)), len(options) - 1)]


@dataclass(frozen=True)
class Box:
    center: tuple[float, float]  # x, y
    size: tuple[float, float, float]  # full extents along x, y, z
    rgb: tuple[float, float, float]


@dataclass(frozen=True)
class Clutter:
    """An object off the path: seen, never an obstacle (it does not collide)."""

    shape: str  # sphere | box | capsule
    center: tuple[float, float]
    size: float
    rgb: tuple[float, float, float]


@dataclass(frozen=True)
class GoalObject:
    """A goal object of a goal room (it does not collide: it can be reached, not hit)."""

    kind: str  # one of GOAL_KINDS
    colour: str  # one of GOAL_COLOURS
    center: tuple[float, float]
    radius: float  # radius, or half-width of a crate
    height: float
    rgb: tuple[float, float, float]

    def describe(self) -> str:
        return f'{self.colour} {self.kind}'

    @property
    def reach(self) -> float:
        """How far the object reaches from its centre on the floor: its radius, or a
        crate's half-diagonal."""
        return self.radius * (math.sqrt(2.0) if self.kind == 'crate' else 1.0)


@dataclass(frozen=True)
class Layout:
    """One randomised room: everything the world needs to be built the same again.

    ``factors`` holds every drawn factor value (``FACTORS``), the rest is derived
    from them; ``shift`` names the shift family the room was drawn under ('' = none).
    In a goal room ``objects`` holds the goal objects and ``target`` the index of the
    one the scenario names; ``cup`` (and its size and colour) is then the target's, so
    everything that drives to or measures "the goal" works in both kinds of room.
    """

    scenario: str
    seed: int
    robot: tuple[float, float, float]  # x, y, yaw (rad)
    cup: tuple[float, float]
    cup_radius: float
    cup_height: float
    cup_rgb: tuple[float, float, float]
    boxes: tuple[Box, ...]
    factors: dict[str, float] = field(default_factory=dict)
    clutter: tuple[Clutter, ...] = ()
    shift: str = ''
    objects: tuple[GoalObject, ...] = ()
    target: int = -1

    @property
    def parsed(self) -> Scenario:
        return parse(self.scenario)

    def factor(self, name: str) -> float:
        return float(self.factors.get(name, _nominal(name)))

    @property
    def far_x(self) -> float:
        """How far the room's goals go (x): the cup, or a goal room's farthest object. The
        walls and the top view follow it, never the target (left and right rooms of a
        seed must not differ in where the target is)."""
        return max(o.center[0] for o in self.objects) if self.objects else self.cup[0]

    @property
    def cup_colour(self) -> str:
        """The colour name of the cup (of the target, in a goal room)."""
        if self.objects:
            return self.objects[self.target].colour
        return _choice(list(CUP_COLOURS), self.factor('cup_colour'))

    def side_of(self, point: tuple[float, float]) -> str:
        """'left' or 'right' of the obstacle's centre line, as the robot faces +x."""
        _, _, y0, y1 = self.obstacle_bounds()
        return 'left' if point[1] > (y0 + y1) / 2 else 'right'

    def obstacle_bounds(self) -> tuple[float, float, float, float]:
        """(x0, x1, y0, y1) of the union of the boxes."""
        xs = [b.center[0] + s * b.size[0] / 2 for b in self.boxes for s in (-1, 1)]
        ys = [b.center[1] + s * b.size[1] / 2 for b in self.boxes for s in (-1, 1)]
        return min(xs), max(xs), min(ys), max(ys)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe_target(self, full: bool = False) -> str:
        """How the words name this room's target: its kind when no other object is of
        that kind (``full``: with the colour anyway), else colour and kind."""
        if not self.objects:
            return 'cup'
        goal = self.objects[self.target]
        alone = sum(o.kind == goal.kind for o in self.objects) == 1
        return goal.kind if alone and not full else goal.describe()


def _nominal(name: str) -> float:
    """A factor's value in a room drawn without it: the middle of a plain range, 0 for a
    symmetric one."""
    f = FACTORS[name]
    return 0.0 if f.symmetric else (f.low + f.high) / 2


def layout_seed(scenario: Scenario, seed: int) -> int:
    """The layout depends on the box arrangement and the seed, never on the side."""
    return int(seed) * 4 + (scenario.boxes - 1) * 2 + (scenario.orientation == 'hori')


class _Draw:
    """Draws each factor from its own stream: one factor's range never moves another."""

    def __init__(self, base: int, ranges: Mapping[str, tuple[float, float]]) -> None:
        self.base, self.ranges, self.values = base, ranges, {}

    def rng(self, name: str) -> np.random.Generator:
        return np.random.default_rng([self.base, 0x5EED, zlib.crc32(name.encode())])

    def range(self, name: str) -> tuple[float, float]:
        factor = FACTORS[name]
        return self.ranges.get(name, (factor.low, factor.high))

    def __call__(self, name: str) -> float:
        factor = FACTORS[name]
        low, high = self.range(name)
        rng = self.rng(name)
        value = float(rng.uniform(low, high))
        if factor.symmetric and rng.random() < 0.5:
            value = -value
        self.values[name] = value
        return value


def _hsv(hue: float, saturation: float, value: float) -> tuple[float, float, float]:
    return tuple(float(v) for v in colorsys.hsv_to_rgb(hue % 1.0, saturation, value))


def sample_layout(scenario: str, seed: int,
                  ranges: Mapping[str, tuple[float, float]] | None = None,
                  shift: str = '', target: tuple[str, str] | None = None,
                  decoy: bool = False) -> Layout:
    """The room of ``scenario`` for ``seed``, drawn from ``FACTORS`` with ``ranges``
    (checked by ``check_ranges``) in place of those factors' training ranges.

    ``target`` (kind, colour) makes a goal room's target that object, a held-out pair
    included (``HELDOUT_PAIRS``; colour '': one training pairs with the kind); no other
    object in the room is of its kind, unless ``decoy``: then one on the other side of
    the obstacle (if there is one) is of the target's kind in another colour, so that
    only colour or place tells them apart. The rest of the room is the seed's (but for
    clutter that the target's kind and size bring within ``CLUTTER_CLEARANCE`` of it)."""
    sc = parse(scenario)
    if target is not None:
        check_goal_pair(target)
        if not sc.goal:
            raise ValueError(f'{sc.name} has no goal objects: a target needs a goal_* room')
    draw = _Draw(layout_seed(sc, seed), check_ranges(ranges or {}))
    robot = (draw('robot_x'), draw('robot_y'), math.radians(draw('robot_yaw_deg')))
    cup_x = robot[0] + draw('cup_distance')
    cup = (cup_x, draw('cup_y'))
    cup_colour = _choice(list(CUP_COLOURS), draw('cup_colour'))  # Layout.cup_colour
    jitter = draw('cup_jitter')
    cup_rgb = tuple(float(np.clip(c + j, 0.0, 1.0)) for c, j in zip(
        CUP_COLOURS[cup_colour], draw.rng('cup_rgb').uniform(-jitter, jitter, 3), strict=True))
    boxes = _boxes(draw, sc, robot[0], cup_x)
    for name in ('box_texture', 'floor_texture', 'floor_hue', 'floor_saturation', 'floor_value',
                 'floor_contrast', 'light_level', 'light_ambient', 'light_azimuth_deg',
                 'light_elevation_deg', 'light_temperature_k', 'camera_pitch_deg',
                 'camera_height', 'camera_roll_deg', 'sensor_noise', 'sensor_blur',
                 'sensor_exposure', 'sensor_white_balance', 'background', 'background_hue',
                 'background_value', 'cup_radius', 'cup_height'):
        draw(name)
    clutter = _clutter(draw, cup_x, ('capsule',) if sc.goal else ('sphere', 'box', 'capsule'))
    layout = Layout(
        scenario=sc.name, seed=int(seed), robot=robot, cup=cup,
        cup_radius=draw.values['cup_radius'], cup_height=draw.values['cup_height'],
        cup_rgb=cup_rgb, boxes=boxes, factors=dict(draw.values), clutter=clutter, shift=shift)
    if not sc.goal:
        return layout
    objects, index = _goal_objects(draw, sc.side, cup_x, layout.obstacle_bounds(), target,
                                   decoy)
    goal = objects[index]
    # The room's record says how many objects stand in it (a draw that could not be
    # placed is left out), not how many were drawn.
    factors = {**draw.values, 'goal_count': float(len(objects))}
    return replace(layout, cup=goal.center, cup_radius=goal.radius, cup_height=goal.height,
                   cup_rgb=goal.rgb, factors=factors, objects=objects, target=index,
                   clutter=_clear_of(clutter, objects))


def _clear_of(clutter: tuple[Clutter, ...],
              objects: tuple[GoalObject, ...]) -> tuple[Clutter, ...]:
    """The clutter that stands apart from every goal object (``CLUTTER_CLEARANCE``
    between them): an item drawn into one would change its look."""
    return tuple(c for c in clutter if all(
        math.dist(c.center, o.center) >= o.reach + CLUTTER_REACH * c.size + CLUTTER_CLEARANCE
        for o in objects))


def _boxes(draw: _Draw, sc: Scenario, robot_x: float, cup_x: float) -> tuple[Box, ...]:
    """The obstacle: between the start and the cup, with free floor on both sides."""
    scale = draw('box_scale')
    size_rng = draw.rng('box_sizes')
    key = f'{sc.boxes}box_{sc.orientation}'
    sizes = [tuple(float(size_rng.uniform(*b)) * (scale if k < 2 else 1.0)
                   for k, b in enumerate(BOX_SIZES[key])) for _ in range(sc.boxes)]
    gap = draw('box_gap') if sc.boxes == 2 else (draw('box_gap'), 0.0)[1]  # recorded
    # The obstacle sits between the start and the cup, with free floor on both sides:
    # boxes shrink along x when a near cup leaves too little room.
    start_x = robot_x + ROBOT_RADIUS
    room = cup_x - start_x - OBSTACLE_FRONT - OBSTACLE_BACK
    length = (sum(s[0] for s in sizes) + gap) if sc.orientation == 'vert' and sc.boxes == 2 \
        else max(s[0] for s in sizes)
    if length > room:
        shrink = max(room, 0.2) / length
        sizes = [(s[0] * shrink, s[1], s[2]) for s in sizes]
        gap *= shrink
        length *= shrink
    cx = robot_x + draw('obstacle_at') * (cup_x - robot_x)
    nearest = start_x + OBSTACLE_FRONT + length / 2
    cx = float(np.clip(cx, nearest, max(cup_x - OBSTACLE_BACK - length / 2, nearest)))
    cy = draw('obstacle_y')
    if sc.boxes == 1:
        centers = [(cx, cy)]
    elif sc.orientation == 'vert':  # one behind the other along x
        total = sizes[0][0] + gap + sizes[1][0]
        centers = [(cx - total / 2 + sizes[0][0] / 2, cy), (cx + total / 2 - sizes[1][0] / 2, cy)]
    else:  # side by side along y
        total = sizes[0][1] + gap + sizes[1][1]
        centers = [(cx, cy - total / 2 + sizes[0][1] / 2), (cx, cy + total / 2 - sizes[1][1] / 2)]
    box_rgb = _hsv(draw('box_hue'), draw('box_saturation'), draw('box_value'))
    shade = draw.rng('box_shades').uniform(-0.04, 0.04, (sc.boxes, 3))
    boxes = tuple(Box((float(c[0]), float(c[1])), tuple(float(v) for v in s),
                      tuple(float(np.clip(v + d, 0, 1)) for v, d in zip(box_rgb, delta,
                                                                          strict=True)))
                  for c, s, delta in zip(centers, sizes, shade, strict=True))
    return boxes


def check_goal_pair(pair: tuple[str, str]) -> tuple[str, str]:
    """A (kind, colour) the world can build (colour '': any training pairs with the
    kind); a ValueError naming the known ones if not."""
    kind, colour = pair
    if kind not in GOAL_SIZES:
        raise ValueError(f'unknown goal kind {kind!r}; known: {", ".join(GOAL_KINDS)}')
    if colour and colour not in GOAL_COLOURS:
        raise ValueError(f'unknown goal colour {colour!r}; known: {", ".join(GOAL_COLOURS)}')
    return kind, colour


def _goal_objects(draw: _Draw, side: str, cup_x: float,
                  obstacle: tuple[float, float, float, float],
                  target: tuple[str, str] | None,
                  decoy: bool = False) -> tuple[tuple[GoalObject, ...], int]:
    """The goal objects of a goal room and the index of the target.

    Nothing here depends on the scenario's side but the choice of target (and the one
    object's side in a room of one), so left and right share the room. Each object
    stands beyond the obstacle, ``GOAL_SPACING`` from the others, with a clear approach
    from the lane past the obstacle; a draw that cannot be placed is left out."""
    count = int(draw('goal_count'))
    x0, x1, y0, y1 = obstacle
    # no farther than the farthest training cup, unless the room's cup is (a shift)
    farthest = max(cup_x, cup_x - draw.values['cup_distance'] + FACTORS['cup_distance'].high)
    middle = (y0 + y1) / 2
    rng = draw.rng('goal_objects')
    pairs = [(k, c) for k in GOAL_KINDS for c in GOAL_COLOURS if (k, c) not in HELDOUT_PAIRS]
    order = rng.permutation(len(pairs))
    chosen = [pairs[i] for i in order[:count]]
    sides = [side] if count == 1 else [('left', 'right')[k % 2] for k in range(count)]
    placed: list[GoalObject] = []
    for (kind, colour), where in zip(chosen, sides, strict=True):
        sign = 1.0 if where == 'left' else -1.0
        exit_ = np.array(lane_exit(where, obstacle))
        radius, height = (v * float(rng.uniform(*draw.range('goal_size')))
                          for v in GOAL_SIZES[kind])
        for _ in range(40):
            depth = float(rng.uniform(*draw.range('goal_depth')))
            center = np.array([max(min(cup_x + depth, farthest), x1 + OBSTACLE_BACK),
                               middle + sign * float(rng.uniform(*draw.range('goal_y')))])
            if all(np.linalg.norm(center - o.center) >= GOAL_SPACING
                   and _segment_point_distance(exit_, center, np.array(o.center))
                   >= GOAL_APPROACH_CLEARANCE
                   and _segment_point_distance(np.array(lane_exit(
                       'left' if o.center[1] > middle else 'right', obstacle)),
                       np.array(o.center), center) >= GOAL_APPROACH_CLEARANCE
                   for o in placed):
                placed.append(GoalObject(kind, colour, (float(center[0]), float(center[1])),
                                         radius, height, _shade(colour, rng)))
                break
    on_side = [k for k, o in enumerate(placed) if (o.center[1] > middle) == (side == 'left')]
    if not on_side:  # cannot happen with the spacing above; say so if the constants change
        raise ValueError(f'no goal object could be placed on the {side} (goal_y range too '
                         'narrow for GOAL_SPACING?)')
    index = on_side[int(draw.rng(f'goal_target_{side}').integers(len(on_side)))]
    if target is not None:
        _make_target(placed, index, target, decoy, pairs, middle, draw.rng('goal_target_colour'),
                     rng)
    return tuple(placed), index


def _make_target(placed: list[GoalObject], index: int, target: tuple[str, str], decoy: bool,
                 pairs: list[tuple[str, str]], middle: float, colour_rng: np.random.Generator,
                 rng: np.random.Generator) -> None:
    """Object ``index`` becomes ``target`` (kind, colour), the only one of its kind in the
    room; with ``decoy``, one across the obstacle is of its kind in another colour."""
    placed[index] = _as_target(placed[index], target, colour_rng)
    kind = placed[index].kind
    for k, other in enumerate(placed):  # the target's kind is its own in the room
        if k != index and other.kind == kind:
            taken = {(o.kind, o.colour) for o in placed}
            free = [p for p in pairs if p[0] != kind and p not in taken]
            placed[k] = _as_target(other, free[int(rng.integers(len(free)))], rng)
    across = [k for k, o in enumerate(placed)
              if (o.center[1] > middle) != (placed[index].center[1] > middle)]
    if decoy and across:
        taken = {(o.kind, o.colour) for o in placed}
        colours = [c for c in GOAL_COLOURS
                   if (kind, c) not in HELDOUT_PAIRS and (kind, c) not in taken]
        placed[across[0]] = _as_target(placed[across[0]], (
            kind, colours[int(rng.integers(len(colours)))]), rng)


def _as_target(goal: GoalObject, pair: tuple[str, str],
               rng: np.random.Generator) -> GoalObject:
    """``goal`` made the (kind, colour) ``pair`` at its place and scale; a colour left
    empty is one that training rooms pair with the kind."""
    kind, colour = pair
    if not colour:
        trained = [c for c in GOAL_COLOURS if (kind, c) not in HELDOUT_PAIRS]
        colour = trained[int(rng.integers(len(trained)))]
    scale = goal.radius / GOAL_SIZES[goal.kind][0]
    radius, height = (v * scale for v in GOAL_SIZES[kind])
    return replace(goal, kind=kind, colour=colour, radius=radius, height=height,
                   rgb=_shade(colour, rng))


def _shade(colour: str, rng: np.random.Generator) -> tuple[float, float, float]:
    """A goal object's RGB: its colour, each channel moved by up to 0.06."""
    return tuple(float(np.clip(v + d, 0.0, 1.0)) for v, d in zip(
        GOAL_COLOURS[colour], rng.uniform(-0.06, 0.06, 3), strict=True))


def lane_exit(side: str, obstacle: tuple[float, float, float, float],
              clearance: float = LANE_CLEARANCE,
              corner_margin: float = CORNER_MARGIN) -> tuple[float, float]:
    """Where the lane past the obstacle (x0, x1, y0, y1) ends on ``side``: the route's
    corner after the obstacle (``mobile_vla_sim.expert.route``; the last before the goal
    unless the expert lines up with it first, ``approach``)."""
    x0, x1, y0, y1 = obstacle
    offset = ROBOT_RADIUS + clearance
    return (x1 + ROBOT_RADIUS + corner_margin, y1 + offset if side == 'left' else y0 - offset)


def _segment_point_distance(a: np.ndarray, b: np.ndarray, point: np.ndarray) -> float:
    ab = b - a
    t = float(np.clip((point - a) @ ab / max(float(ab @ ab), 1e-12), 0.0, 1.0))
    return float(np.linalg.norm(a + t * ab - point))


def _clutter(draw: _Draw, cup_x: float, shapes: tuple[str, ...]) -> tuple[Clutter, ...]:
    """Objects off the path; in a goal room only shapes no goal kind has."""
    count = int(abs(draw('clutter')))
    span = draw('clutter_y')  # drawn once: the factor's value, recorded
    rng = draw.rng('clutter_items')
    low, high = draw.range('clutter_y')
    items = []
    for k in range(count):
        y = float(rng.uniform(low, high)) * (1 if (k + (span > 0)) % 2 else -1)
        items.append(Clutter(
            shape=_choice(shapes, float(rng.random())),
            center=(float(rng.uniform(0.3, cup_x + 1.0)), y),
            size=float(rng.uniform(0.06, 0.18)),
            rgb=_hsv(float(rng.random()), float(rng.uniform(0, 0.9)),
                     float(rng.uniform(0.15, 0.95)))))
    return tuple(items)


def kelvin_rgb(kelvin: float) -> tuple[float, float, float]:
    """Light colour of a colour temperature, normalised to its brightest channel
    (an approximation of the black-body locus good to a few percent, 1500-12000 K)."""
    t = kelvin / 100.0
    r = 255.0 if t <= 66 else 329.7 * (t - 60) ** -0.1332
    g = 99.47 * math.log(t) - 161.1 if t <= 66 else 288.1 * (t - 60) ** -0.0755
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5 * math.log(t - 10) - 305.0)
    rgb = np.clip([r, g, b], 1.0, 255.0)
    return tuple(float(v) for v in rgb / rgb.max())


def texture_image(kind: str, rgb: tuple[float, float, float], contrast: float,
                  rng: np.random.Generator, size: int = 128) -> np.ndarray:
    """A procedural texture (size, size, 3) uint8: plain, checker, wood-like stripes, or
    carpet-like noise, around colour ``rgb`` with brightness steps of ``contrast``."""
    base = np.array(rgb, dtype=np.float32)
    if kind == 'plain':
        shade = np.zeros((size, size), np.float32)
    elif kind == 'checker':
        cells = int(rng.integers(2, 5))
        idx = np.arange(size) * cells // size
        shade = ((idx[:, None] + idx[None, :]) % 2).astype(np.float32) * 2 - 1
    elif kind == 'stripes':  # wood-like: wavy bands with grain
        y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
        freq = float(rng.uniform(4, 10))
        wave = np.sin(2 * np.pi * (freq * y + 0.3 * np.sin(2 * np.pi * x * rng.uniform(1, 3))))
        shade = wave + 0.3 * rng.normal(0, 1, (size, size)).astype(np.float32)
    elif kind == 'noise':  # carpet-like: blurred noise at two scales
        coarse = cv2.resize(rng.normal(0, 1, (size // 16, size // 16)).astype(np.float32),
                            (size, size), interpolation=cv2.INTER_CUBIC)
        shade = 0.6 * coarse + 0.6 * rng.normal(0, 1, (size, size)).astype(np.float32)
    else:
        raise ValueError(f'unknown texture {kind!r}; known: {TEXTURES}')
    image = np.clip(base[None, None, :] + contrast * shade[..., None], 0.0, 1.0)
    return (image * 255).astype(np.uint8)


def vertical_fov_deg(width: int, height: int, hfov_deg: float = CAMERA_HFOV_DEG) -> float:
    """MuJoCo's ``fovy`` that gives the CSI camera's horizontal field at this aspect."""
    half = math.radians(hfov_deg) / 2
    return math.degrees(2 * math.atan(math.tan(half) * height / width))


def _f(values) -> str:
    return ' '.join(f'{v:.6g}' for v in values)


def camera_axes(pitch_deg: float, roll_deg: float) -> tuple[float, ...]:
    """MuJoCo ``xyaxes`` of the forward camera: image right, image up, in the body frame."""
    p, r = math.radians(pitch_deg), math.radians(roll_deg)
    right = np.array([0.0, -1.0, 0.0])
    up = np.array([math.sin(p), 0.0, math.cos(p)])
    return (*(math.cos(r) * right + math.sin(r) * up),
            *(-math.sin(r) * right + math.cos(r) * up))


def floor_rgb(layout: Layout) -> tuple[float, float, float]:
    return _hsv(layout.factor('floor_hue'), layout.factor('floor_saturation'),
                layout.factor('floor_value'))


def build_mjcf(layout: Layout, width: int, height: int, top_extent: float | None = None) -> str:
    """The MJCF text of ``layout`` with a forward camera of ``width`` x ``height``.
    Textures are declared flat here and painted by ``SimWorld`` (``paint_textures``)."""
    ambient, diffuse, fill, light_dir = _lights(layout)
    boxes, box_assets, goals = _object_geoms(layout)
    clutter = '\n'.join(_clutter_geom(i, c) for i, c in enumerate(layout.clutter))
    walls, sky, sky2 = _surroundings(layout)
    extent = top_extent if top_extent is not None else max(4.4, layout.far_x + 1.0)
    top_x = (layout.robot[0] + layout.far_x) / 2
    return f"""<mujoco model="mobile_vla_{layout.scenario}">
  <option timestep="{PHYSICS_DT}" integrator="implicitfast"/>
  <visual>
    <quality shadowsize="0"/>
    <global offwidth="{max(width, 640)}" offheight="{max(height, 640)}"/>
    <headlight ambient="{_f(ambient)}" diffuse="{_f(fill)}" specular="0 0 0"/>
  </visual>
  <asset>
    <texture name="floor" type="2d" builtin="flat" width="128" height="128"
             rgb1="{_f(floor_rgb(layout))}"/>
    <material name="floor" texture="floor" texrepeat="12 12"/>
    <texture name="wall" type="2d" builtin="flat" width="128" height="128" rgb1="{_f(sky)}"/>
    <material name="wall" texture="wall" texrepeat="6 1"/>
    <texture name="sky" type="skybox" builtin="gradient" width="64" height="64"
             rgb1="{_f(sky)}" rgb2="{_f(sky2)}"/>
{box_assets}
  </asset>
  <default>
    <default class="obstacle"><geom contype="1" conaffinity="1"/></default>
  </default>
  <worldbody>
    <light name="sun" directional="true" pos="0 0 5" dir="{_f(light_dir)}"
           diffuse="{_f(diffuse)}" specular="0 0 0" castshadow="false"/>
    <geom name="floor" type="plane" size="16 16 0.1" material="floor" contype="0"
          conaffinity="0"/>
{boxes}
{clutter}
{walls}
{goals}
    <camera name="top" pos="{top_x:.4g} 0 8" xyaxes="0 -1 0 1 0 0" projection="orthographic"
            fovy="{extent:.4g}"/>
{_robot_body(layout, width, height)}
  </worldbody>
  <actuator>
    <velocity name="vx" joint="x" kv="900" forcelimited="true" forcerange="-180 180"/>
    <velocity name="vy" joint="y" kv="900" forcelimited="true" forcerange="-180 180"/>
    <velocity name="wz" joint="yaw" kv="20" forcelimited="true" forcerange="-20 20"/>
  </actuator>
</mujoco>
"""


def _robot_body(layout: Layout, width: int, height: int) -> str:
    """The robot: a cylinder on three velocity-driven joints, with the forward camera
    where the layout's camera factors put it."""
    pitch = CAMERA_MOUNT['pitch_deg'] + layout.factor('camera_pitch_deg')
    cam_axes = _f(camera_axes(pitch, layout.factor('camera_roll_deg')))
    cam_z = CAMERA_MOUNT['z'] + layout.factor('camera_height') - ROBOT_HALF_HEIGHT
    x, y, _yaw = layout.robot
    return f"""    <body name="robot" pos="{_f((x, y, ROBOT_HALF_HEIGHT + 0.01))}">
      <joint name="x" type="slide" axis="1 0 0" damping="0"/>
      <joint name="y" type="slide" axis="0 1 0" damping="0"/>
      <joint name="yaw" type="hinge" axis="0 0 1" ref="0"/>
      <inertial pos="0 0 0" mass="12" diaginertia="0.2 0.2 0.25"/>
      <geom name="chassis" type="cylinder" size="{ROBOT_RADIUS} {ROBOT_HALF_HEIGHT}"
            rgba="0.15 0.15 0.17 1" contype="1" conaffinity="1"/>
      <geom name="mast" type="box" pos="{CAMERA_MOUNT['x'] - 0.04} 0 0.14"
            size="0.02 0.04 0.08" rgba="0.3 0.3 0.3 1" contype="0" conaffinity="0"/>
      <camera name="front" pos="{CAMERA_MOUNT['x']} 0 {cam_z:.4g}"
              xyaxes="{cam_axes}" fovy="{vertical_fov_deg(width, height):.6g}"/>
    </body>"""


def _lights(layout: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, ...]]:
    """Ambient, a sun from the room's direction, and a fill from the camera's side (the
    light a room's walls and ceiling give back), all at the room's level and colour:
    (ambient, sun, fill, the sun's direction)."""
    level = layout.factor('light_level')
    tint = np.array(kelvin_rgb(layout.factor('light_temperature_k')))
    ambient = tint * level * layout.factor('light_ambient')
    diffuse = tint * level * 0.75 * (1.0 - layout.factor('light_ambient'))
    fill = tint * level * 0.35
    az, el = (math.radians(layout.factor(k)) for k in ('light_azimuth_deg',
                                                        'light_elevation_deg'))
    light_dir = (-math.cos(el) * math.cos(az), -math.cos(el) * math.sin(az), -math.sin(el))
    return ambient, diffuse, fill, light_dir


def _object_geoms(layout: Layout) -> tuple[str, str, str]:
    """The MJCF of the obstacle boxes, their (and the cones') assets, and the cup or the
    goal objects."""
    boxes = '\n'.join(
        f'    <geom name="box{i}" class="obstacle" type="box" material="box{i}" '
        f'pos="{_f((*b.center, b.size[2] / 2))}" size="{_f(np.array(b.size) / 2)}"/>'
        for i, b in enumerate(layout.boxes))
    box_assets = '\n'.join(
        f'    <texture name="box{i}" type="cube" builtin="flat" width="64" height="64" '
        f'rgb1="{_f(b.rgb)}"/>\n'
        f'    <material name="box{i}" texture="box{i}" texuniform="true" texrepeat="3 3"/>'
        for i, b in enumerate(layout.boxes))
    if layout.objects:
        goals = '\n'.join(_goal_geoms(i, o) for i, o in enumerate(layout.objects))
        box_assets += ''.join(_cone_mesh(i, o) for i, o in enumerate(layout.objects)
                              if o.kind == 'cone')
    else:
        goals = (f'    <geom name="cup" type="cylinder" contype="0" conaffinity="0" '
                 f'pos="{_f((*layout.cup, layout.cup_height / 2))}" '
                 f'size="{_f((layout.cup_radius, layout.cup_height / 2))}" '
                 f'rgba="{_f((*layout.cup_rgb, 1))}"/>')
    return boxes, box_assets, goals


def _surroundings(layout: Layout) -> tuple[str, tuple[float, ...], tuple[float, ...]]:
    """The room's walls (when its background is walls) and the sky's two colours."""
    walls = ''
    background = _choice(BACKGROUNDS, layout.factor('background'))
    sky = _hsv(layout.factor('background_hue'), 0.25, layout.factor('background_value'))
    sky2 = tuple(0.55 * v for v in sky) if background == 'gradient' else sky
    if background == 'walls':
        far = layout.far_x + 2.5
        walls = (f'    <geom name="wall_far" type="box" material="wall" contype="0" '
                 f'conaffinity="0" pos="{far:.4g} 0 1" size="0.05 6 1"/>\n'
                 '    <geom name="wall_left" type="box" material="wall" contype="0" '
                 f'conaffinity="0" pos="{far / 2:.4g} 3.2 1" size="{far / 2 + 1:.4g} 0.05 1"/>\n'
                 '    <geom name="wall_right" type="box" material="wall" contype="0" '
                 f'conaffinity="0" pos="{far / 2:.4g} -3.2 1" size="{far / 2 + 1:.4g} 0.05 1"/>')
    return walls, sky, sky2


def _goal_geoms(i: int, goal: GoalObject) -> str:
    """The geoms of goal object ``i`` (named ``goal<i>``; a bottle has a neck, too)."""
    r, h, (x, y) = goal.radius, goal.height, goal.center
    common = f'contype="0" conaffinity="0" rgba="{_f((*goal.rgb, 1))}"'
    if goal.kind == 'cup':
        shapes = [f'type="cylinder" pos="{_f((x, y, h / 2))}" size="{_f((r, h / 2))}"']
    elif goal.kind == 'ball':
        shapes = [f'type="sphere" pos="{_f((x, y, r))}" size="{r:.6g}"']
    elif goal.kind == 'bottle':  # a body and a narrow neck
        body = 0.72 * h
        shapes = [f'type="cylinder" pos="{_f((x, y, body / 2))}" size="{_f((r, body / 2))}"',
                  f'type="cylinder" pos="{_f((x, y, body + (h - body) / 2))}" '
                  f'size="{_f((0.4 * r, (h - body) / 2))}"']
    elif goal.kind == 'cone':
        shapes = [f'type="mesh" mesh="cone{i}" pos="{_f((x, y, 0.0))}"']
    elif goal.kind == 'crate':
        shapes = [f'type="box" pos="{_f((x, y, h / 2))}" size="{_f((r, r, h / 2))}"']
    else:
        raise ValueError(f'unknown goal kind {goal.kind!r}; known: {", ".join(GOAL_KINDS)}')
    return '\n'.join(f'    <geom name="goal{i}{"_" + str(k) if k else ""}" {shape} {common}/>'
                     for k, shape in enumerate(shapes))


def _cone_mesh(i: int, goal: GoalObject, sides: int = 24) -> str:
    """A cone's mesh asset: a ring of base vertices and the apex (MuJoCo takes the hull)."""
    angles = np.linspace(0.0, 2 * np.pi, sides, endpoint=False)
    ring = [(goal.radius * math.cos(a), goal.radius * math.sin(a), 0.0) for a in angles]
    return (f'\n    <mesh name="cone{i}" '
            f'vertex="{_f(v for point in [*ring, (0.0, 0.0, goal.height)] for v in point)}"/>')


def _clutter_geom(i: int, item: Clutter) -> str:
    s = item.size
    shape = {'sphere': f'type="sphere" size="{s:.4g}"',
             'box': f'type="box" size="{s:.4g} {s * 0.8:.4g} {s:.4g}"',
             'capsule': f'type="capsule" size="{s * 0.5:.4g} {s:.4g}" euler="90 0 0"'}
    return (f'    <geom name="clutter{i}" {shape[item.shape]} contype="0" conaffinity="0" '
            f'pos="{_f((*item.center, s))}" rgba="{_f((*item.rgb, 1))}"/>')


def paint_textures(model: mujoco.MjModel, layout: Layout) -> None:
    """Paint the procedural floor, box and wall textures into a compiled model (before
    any renderer uploads them). Each is drawn from the room's own stream."""
    base = layout_seed(layout.parsed, layout.seed)
    contrast = layout.factor('floor_contrast')
    paints = [('floor', _choice(TEXTURES, layout.factor('floor_texture')), floor_rgb(layout),
               contrast)]
    box_kind = _choice(TEXTURES, layout.factor('box_texture'))
    paints += [(f'box{i}', box_kind, b.rgb, 0.08) for i, b in enumerate(layout.boxes)]
    wall = _hsv(layout.factor('background_hue'), 0.25, layout.factor('background_value'))
    paints.append(('wall', _choice(TEXTURES, (layout.factor('background') * 7) % 1.0), wall,
                   0.06))
    for name, kind, rgb, step in paints:
        tex = model.texture(name)
        h, w, n = int(tex.height[0]), int(tex.width[0]), int(tex.nchannel[0])
        rng = np.random.default_rng([base, 0x7E47, zlib.crc32(name.encode())])
        side = texture_image(kind, rgb, step, rng, w)
        image = np.tile(side, (h // w, 1, 1)) if h != w else side  # a cube: six faces
        adr = int(tex.adr[0])
        if n == 3:
            model.tex_data[adr:adr + h * w * 3] = image.reshape(-1)
        else:
            rgba = np.concatenate([image, np.full((*image.shape[:2], 1), 255, np.uint8)], -1)
            model.tex_data[adr:adr + h * w * n] = rgba.reshape(-1)


def apply_sensor(image: np.ndarray, layout: Layout, noise: np.random.Generator) -> np.ndarray:
    """The room's sensor on a rendered RGB frame: blur, exposure, white balance, noise."""
    blur = layout.factor('sensor_blur') * image.shape[1] / 640
    out = image.astype(np.float32)
    if blur > 0.05:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    wb = layout.factor('sensor_white_balance')
    out *= np.array([1 + wb, 1.0, 1 - wb], np.float32) * layout.factor('sensor_exposure')
    std = layout.factor('sensor_noise')
    if std > 0:
        out += noise.normal(0.0, std, image.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


class SimWorld:
    """The physics and the cameras of one layout."""

    def __init__(self, layout: Layout, width: int = 640, height: int = 360,
                 top_size: int = 480, noise_seed: int | None = None) -> None:
        if width < 16 or height < 16:
            raise ValueError(f'render size must be at least 16x16, got {width}x{height}')
        self.layout = layout
        self.width, self.height = width, height
        self.model = mujoco.MjModel.from_xml_string(build_mjcf(layout, width, height))
        paint_textures(self.model, layout)
        self.data = mujoco.MjData(self.model)
        # The robot body starts at the layout pose; the joints are offsets from it.
        self.data.qpos[:] = 0.0
        self.data.qpos[2] = layout.robot[2]
        mujoco.mj_forward(self.model, self.data)
        self._origin = np.array(layout.robot[:2])
        self._chassis = self.model.geom('chassis').id
        self._obstacles = {self.model.geom(f'box{i}').id for i in range(len(layout.boxes))}
        self._renderer: mujoco.Renderer | None = None
        self._top: mujoco.Renderer | None = None
        self._segment: mujoco.Renderer | None = None
        self.top_size = top_size
        self.noise = np.random.default_rng(
            [layout.seed if noise_seed is None else noise_seed, 0x0153])
        self.command = np.zeros(3)
        self.collided = False

    # ------------------------------------------------------------------ state
    @property
    def time(self) -> float:
        return float(self.data.time)

    def pose(self) -> np.ndarray:
        """(x, y, yaw) in the world frame."""
        q = self.data.qpos
        return np.array([self._origin[0] + q[0], self._origin[1] + q[1], q[2]])

    def velocity(self) -> np.ndarray:
        """Body-frame (linear_x, linear_y, angular_z)."""
        vx, vy, wz = self.data.qvel
        yaw = self.data.qpos[2]
        c, s = math.cos(yaw), math.sin(yaw)
        return np.array([c * vx + s * vy, -s * vx + c * vy, wz])

    def cup_distance(self) -> float:
        """Robot centre to the cup (a goal room: to its target), metres."""
        return float(np.hypot(*(self.pose()[:2] - np.array(self.layout.cup))))

    def object_distance(self, index: int) -> float:
        """Robot centre to goal object ``index`` of a goal room, metres."""
        return float(np.hypot(*(self.pose()[:2] - np.array(self.layout.objects[index].center))))

    def in_contact(self) -> bool:
        """The chassis touches a box (floor and cup do not collide)."""
        for i in range(self.data.ncon):
            c = self.data.contact[i]
            pair = {int(c.geom1), int(c.geom2)}
            if self._chassis in pair and pair & self._obstacles:
                return True
        return False

    # ---------------------------------------------------------------- physics
    def set_command(self, action) -> None:
        """A body-frame velocity command (linear_x, linear_y, angular_z)."""
        arr = np.asarray(action, dtype=np.float64).reshape(-1)
        self.command = np.pad(arr, (0, 3 - arr.size))[:3]

    def step(self, duration: float) -> None:
        """Advance the physics by ``duration`` seconds under the current command."""
        steps = max(1, round(duration / PHYSICS_DT))
        for _ in range(steps):
            yaw = self.data.qpos[2]
            c, s = math.cos(yaw), math.sin(yaw)
            vx, vy, wz = self.command
            self.data.ctrl[:] = (c * vx - s * vy, s * vx + c * vy, wz)
            mujoco.mj_step(self.model, self.data)
            if not self.collided and self.data.ncon and self.in_contact():
                self.collided = True

    # -------------------------------------------------------------- rendering
    def render(self) -> np.ndarray:
        """The forward camera as RGB uint8 (height, width, 3), with sensor noise."""
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.height, self.width)
        self._renderer.update_scene(self.data, 'front')
        return apply_sensor(self._renderer.render(), self.layout, self.noise)

    def render_segmentation(self, scale: int = 1) -> np.ndarray:
        """The forward camera's geom id of every pixel (height, width) int32, -1 where
        no geom is seen (the sky); ``scale`` > 1 renders that many times smaller."""
        if self._segment is None:
            self._segment = mujoco.Renderer(self.model, max(1, self.height // scale),
                                            max(1, self.width // scale))
            self._segment.enable_segmentation_rendering()
        self._segment.update_scene(self.data, 'front')
        ids = self._segment.render()
        return np.where(ids[:, :, 1] == mujoco.mjtObj.mjOBJ_GEOM, ids[:, :, 0], -1)

    def place(self, x: float, y: float, yaw: float) -> None:
        """Put the robot at a world pose (x, y, yaw), at rest: frames seen from anywhere."""
        self.data.qpos[:3] = (x - self._origin[0], y - self._origin[1], yaw)
        self.data.qvel[:] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def render_top(self) -> np.ndarray:
        """An orthographic top-down view of the room (RGB)."""
        if self._top is None:
            self._top = mujoco.Renderer(self.model, self.top_size, self.top_size)
        self._top.update_scene(self.data, 'top')
        return self._top.render()

    @property
    def top_extent(self) -> float:
        """Metres of floor across ``render_top`` (the orthographic camera's extent)."""
        return float(self.model.cam_fovy[self.model.camera('top').id])

    def top_pixel(self, x: float, y: float) -> tuple[int, int]:
        """Pixel (column, row) of a world point in ``render_top``."""
        extent = self.top_extent
        cx, cy = (float(v) for v in self.model.cam_pos0[self.model.camera('top').id][:2])
        scale = self.top_size / extent
        return (round((cy + extent / 2 - y) * scale), round((cx + extent / 2 - x) * scale))

    def close(self) -> None:
        for renderer in (self._renderer, self._top, self._segment):
            if renderer is not None:
                renderer.close()
        self._renderer = self._top = self._segment = None


if __name__ == '__main__':  # the README's ranges table
    print(ranges_table(), end='')
