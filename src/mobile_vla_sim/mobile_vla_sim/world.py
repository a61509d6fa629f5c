"""The MuJoCo world: a floor, one or two boxes, a cup, and the omni-wheel robot.

World frame: the robot starts near the origin facing +x; +y is its left. A layout
is drawn per (scenario, seed) from the ranges in ``RANGES``; the side of a scenario
never changes the layout (only the instruction says which way to go), so the left
and right variants of a seed are the same room, which is what the language test
needs.

The robot is a planar body (slide x, slide y, hinge yaw) driven by velocity
actuators: ``SimWorld.step`` turns a body-frame command (linear_x, linear_y,
angular_z, as on ``cmd_vel``) into joint velocity targets, and the actuators' force
limit makes a collision a real contact that stops the robot. The forward camera has
the horizontal field of view of the Jetson CSI camera (IMX219, 62.2 degrees) at any
render size; frames get Gaussian sensor noise from the episode's own generator.

Nothing here reads a clock: time is the physics time of the model.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mobile_vla.scenarios import Scenario, parse

os.environ.setdefault('MUJOCO_GL', 'osmesa')  # offscreen on the CPU unless told otherwise
import mujoco  # noqa: E402  (the GL backend is chosen at import)

#: Horizontal field of view of the CSI camera (IMX219 module), degrees.
CAMERA_HFOV_DEG = 62.2
#: Camera mount on the robot: forward of the centre, height, downward pitch.
CAMERA_MOUNT = {'x': 0.16, 'z': 0.28, 'pitch_deg': 10.0}
ROBOT_RADIUS = 0.18
ROBOT_HALF_HEIGHT = 0.08
PHYSICS_DT = 0.005

#: Documented randomisation ranges (uniform unless noted). Lengths in metres.
RANGES: dict[str, Any] = {
    'robot_x': (-0.05, 0.05), 'robot_y': (-0.10, 0.10), 'robot_yaw_deg': (-3.0, 3.0),
    'cup_x': (2.75, 3.05), 'cup_y': (-0.10, 0.10),
    'cup_radius': (0.045, 0.06), 'cup_height': (0.10, 0.14),
    'obstacle_x': (1.45, 1.65), 'obstacle_y': (-0.08, 0.08),
    # box full sizes (along x, along y, height) per scenario layout
    '1box_vert': ((0.55, 0.75), (0.30, 0.40), (0.25, 0.45)),
    '1box_hori': ((0.30, 0.40), (0.55, 0.75), (0.25, 0.45)),
    '2box_vert': ((0.35, 0.45), (0.30, 0.40), (0.25, 0.45)),  # two, one behind the other
    '2box_hori': ((0.30, 0.40), (0.32, 0.42), (0.25, 0.45)),  # two, side by side
    'box_gap': (0.0, 0.08),
    'box_rgb': ((0.45, 0.80), (0.30, 0.55), (0.15, 0.35)),  # cardboard shades
    'cup_rgb': ((0.75, 1.0), (0.0, 0.25), (0.0, 0.25)),  # red mugs; any jitter
    'floor_grey': (0.30, 0.55),
    'light_diffuse': (0.55, 0.95), 'light_ambient': (0.20, 0.40),
    'light_dir_jitter': (-0.3, 0.3),
    'camera_noise_std': (0.0, 4.0),  # uint8 levels, Gaussian, per pixel
}


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


@dataclass(frozen=True)
class Box:
    center: tuple[float, float]  # x, y
    size: tuple[float, float, float]  # full extents along x, y, z
    rgb: tuple[float, float, float]


@dataclass(frozen=True)
class Layout:
    """One randomised room: everything the world needs to be built the same again."""

    scenario: str
    seed: int
    robot: tuple[float, float, float]  # x, y, yaw (rad)
    cup: tuple[float, float]
    cup_radius: float
    cup_height: float
    cup_rgb: tuple[float, float, float]
    boxes: tuple[Box, ...]
    floor_grey: float
    light_diffuse: float
    light_ambient: float
    light_dir: tuple[float, float, float]
    camera_noise_std: float

    @property
    def parsed(self) -> Scenario:
        return parse(self.scenario)

    def obstacle_bounds(self) -> tuple[float, float, float, float]:
        """(x0, x1, y0, y1) of the union of the boxes."""
        xs = [b.center[0] + s * b.size[0] / 2 for b in self.boxes for s in (-1, 1)]
        ys = [b.center[1] + s * b.size[1] / 2 for b in self.boxes for s in (-1, 1)]
        return min(xs), max(xs), min(ys), max(ys)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def layout_seed(scenario: Scenario, seed: int) -> int:
    """The layout depends on the box arrangement and the seed, never on the side."""
    return int(seed) * 4 + (scenario.boxes - 1) * 2 + (scenario.orientation == 'hori')


def sample_layout(scenario: str, seed: int) -> Layout:
    """The room of ``scenario`` for ``seed``, drawn from ``RANGES``."""
    sc = parse(scenario)
    rng = np.random.default_rng([layout_seed(sc, seed), 0x5EED])
    u = lambda key: _uniform(rng, RANGES[key])  # noqa: E731
    robot = (u('robot_x'), u('robot_y'), math.radians(u('robot_yaw_deg')))
    cup = (u('cup_x'), u('cup_y'))
    cx, cy = u('obstacle_x'), u('obstacle_y')
    sx, sy, sz = (_uniform(rng, b) for b in RANGES[f'{sc.boxes}box_{sc.orientation}'])
    boxes = []
    if sc.boxes == 1:
        centers = [(cx, cy)]
        sizes = [(sx, sy, sz)]
    else:
        gap = u('box_gap')
        sx2, sy2, sz2 = (_uniform(rng, b) for b in RANGES[f'2box_{sc.orientation}'])
        if sc.orientation == 'vert':  # one behind the other along x
            total = sx + gap + sx2
            centers = [(cx - total / 2 + sx / 2, cy), (cx + total / 2 - sx2 / 2, cy)]
        else:  # side by side along y
            total = sy + gap + sy2
            centers = [(cx, cy - total / 2 + sy / 2), (cx, cy + total / 2 - sy2 / 2)]
        sizes = [(sx, sy, sz), (sx2, sy2, sz2)]
    for center, size in zip(centers, sizes, strict=True):
        rgb = tuple(_uniform(rng, b) for b in RANGES['box_rgb'])
        boxes.append(Box(center, size, rgb))
    cup_rgb = tuple(_uniform(rng, b) for b in RANGES['cup_rgb'])
    jitter = [u('light_dir_jitter') for _ in range(2)]
    return Layout(
        scenario=sc.name, seed=int(seed), robot=robot, cup=cup,
        cup_radius=u('cup_radius'), cup_height=u('cup_height'), cup_rgb=cup_rgb,
        boxes=tuple(boxes), floor_grey=u('floor_grey'), light_diffuse=u('light_diffuse'),
        light_ambient=u('light_ambient'), light_dir=(jitter[0], jitter[1], -1.0),
        camera_noise_std=u('camera_noise_std'),
    )


def vertical_fov_deg(width: int, height: int, hfov_deg: float = CAMERA_HFOV_DEG) -> float:
    """MuJoCo's ``fovy`` that gives the CSI camera's horizontal field at this aspect."""
    half = math.radians(hfov_deg) / 2
    return math.degrees(2 * math.atan(math.tan(half) * height / width))


def _f(values) -> str:
    return ' '.join(f'{v:.6g}' for v in values)


def build_mjcf(layout: Layout, width: int, height: int, top_extent: float = 4.4) -> str:
    """The MJCF text of ``layout`` with a forward camera of ``width`` x ``height``."""
    pitch = math.radians(CAMERA_MOUNT['pitch_deg'])
    cam_axes = _f((0, -1, 0, math.sin(pitch), 0, math.cos(pitch)))
    g = layout.floor_grey
    boxes = '\n'.join(
        f'    <geom name="box{i}" class="obstacle" type="box" '
        f'pos="{_f((*b.center, b.size[2] / 2))}" size="{_f(np.array(b.size) / 2)}" '
        f'rgba="{_f((*b.rgb, 1))}"/>'
        for i, b in enumerate(layout.boxes))
    x, y, yaw = layout.robot
    return f"""<mujoco model="mobile_vla_{layout.scenario}">
  <option timestep="{PHYSICS_DT}" integrator="implicitfast"/>
  <visual>
    <quality shadowsize="0"/>
    <global offwidth="{max(width, 640)}" offheight="{max(height, 640)}"/>
    <headlight ambient="{_f([layout.light_ambient] * 3)}" diffuse="0.2 0.2 0.2"
               specular="0 0 0"/>
  </visual>
  <asset>
    <texture name="floor" type="2d" builtin="checker" width="128" height="128"
             rgb1="{_f([g] * 3)}" rgb2="{_f([g + 0.08] * 3)}"/>
    <material name="floor" texture="floor" texrepeat="24 24"/>
    <texture name="sky" type="skybox" builtin="gradient" width="64" height="64"
             rgb1="0.78 0.80 0.82" rgb2="0.45 0.47 0.50"/>
  </asset>
  <default>
    <default class="obstacle"><geom contype="1" conaffinity="1"/></default>
  </default>
  <worldbody>
    <light name="sun" directional="true" pos="0 0 5" dir="{_f(layout.light_dir)}"
           diffuse="{_f([layout.light_diffuse] * 3)}" castshadow="false"/>
    <geom name="floor" type="plane" size="8 8 0.1" material="floor" contype="0"
          conaffinity="0"/>
{boxes}
    <geom name="cup" type="cylinder" contype="0" conaffinity="0"
          pos="{_f((*layout.cup, layout.cup_height / 2))}"
          size="{_f((layout.cup_radius, layout.cup_height / 2))}"
          rgba="{_f((*layout.cup_rgb, 1))}"/>
    <camera name="top" pos="1.5 0 8" xyaxes="0 -1 0 1 0 0" projection="orthographic"
            fovy="{top_extent}"/>
    <body name="robot" pos="{_f((x, y, ROBOT_HALF_HEIGHT + 0.01))}">
      <joint name="x" type="slide" axis="1 0 0" damping="0"/>
      <joint name="y" type="slide" axis="0 1 0" damping="0"/>
      <joint name="yaw" type="hinge" axis="0 0 1" ref="0"/>
      <inertial pos="0 0 0" mass="12" diaginertia="0.2 0.2 0.25"/>
      <geom name="chassis" type="cylinder" size="{ROBOT_RADIUS} {ROBOT_HALF_HEIGHT}"
            rgba="0.15 0.15 0.17 1" contype="1" conaffinity="1"/>
      <geom name="mast" type="box" pos="{CAMERA_MOUNT['x'] - 0.04} 0 0.14"
            size="0.02 0.04 0.08" rgba="0.3 0.3 0.3 1" contype="0" conaffinity="0"/>
      <camera name="front" pos="{CAMERA_MOUNT['x']} 0 {CAMERA_MOUNT['z'] - ROBOT_HALF_HEIGHT}"
              xyaxes="{cam_axes}" fovy="{vertical_fov_deg(width, height):.6g}"/>
    </body>
  </worldbody>
  <actuator>
    <velocity name="vx" joint="x" kv="900" forcelimited="true" forcerange="-180 180"/>
    <velocity name="vy" joint="y" kv="900" forcelimited="true" forcerange="-180 180"/>
    <velocity name="wz" joint="yaw" kv="20" forcelimited="true" forcerange="-20 20"/>
  </actuator>
</mujoco>
"""


class SimWorld:
    """The physics and the cameras of one layout."""

    def __init__(self, layout: Layout, width: int = 640, height: int = 360,
                 top_size: int = 480, noise_seed: int | None = None) -> None:
        if width < 16 or height < 16:
            raise ValueError(f'render size must be at least 16x16, got {width}x{height}')
        self.layout = layout
        self.width, self.height = width, height
        self.model = mujoco.MjModel.from_xml_string(build_mjcf(layout, width, height))
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
        return float(np.hypot(*(self.pose()[:2] - np.array(self.layout.cup))))

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
        image = self._renderer.render()
        std = self.layout.camera_noise_std
        if std > 0:
            noise = self.noise.normal(0.0, std, image.shape).astype(np.float32)
            image = np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        return image

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
        for renderer in (self._renderer, self._top):
            if renderer is not None:
                renderer.close()
        self._renderer = self._top = None
