"""The simulator in real time, as a node (``sim_robot``): the robot's camera and base.

It stands in for the camera and the base driver of the robot graph, so the real
inference, arbiter, recorder and web console run against it as processes over DDS,
exactly as on the robot:

- the world renders the forward camera at ``fps`` and the camera node's wiring
  (``CameraWiring.publish_frame``) publishes it on ``camera/image`` and its policy copy;
- ``cmd_vel`` drives the simulated base; a command older than ``cmd_timeout_s`` is
  dropped to zero, as a base driver's watchdog does;
- ground-truth odometry goes out on ``odom``.

Physics advances by the node's clock at ``physics_rate_hz`` (wall time under rclpy),
in steps of at most ``max_step_s`` so a stalled process never teleports the robot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from mobile_vla import topics
from mobile_vla.actions import ZERO
from mobile_vla.bus import Bus, publisher_of, subscribe_to
from mobile_vla.config import ConfigError
from mobile_vla.config import documented as _doc
from mobile_vla.msgs import twist_to_action
from mobile_vla.scenarios import GOAL_SCENARIOS, SCENARIOS
from mobile_vla.units import NS
from mobile_vla_camera.publisher import CameraConfig
from mobile_vla_camera.sources import Frame
from mobile_vla_camera.wiring import CameraWiring
from mobile_vla_sim.config import MAX_RENDER, SimConfig
from mobile_vla_sim.expert import passed_side
from mobile_vla_sim.world import SimWorld, sample_layout

#: Robot centre to cup centre when the cup counts as reached (as in closed-loop runs).
SUCCESS_RADIUS = SimConfig.success_radius
#: Below this ground speed with no command the robot is at rest, metres per second.
REST_SPEED = 0.02
#: The path is kept at this spacing, to tell which side of the obstacle the robot passed.
PATH_STEP_M = 0.02


@dataclass(frozen=True)
class LiveSimConfig:
    """Parameters of the live simulator node."""

    scenario: str = _doc('room layout: one of the eight scenarios, or a goal room '
                         '(goal_1box_vert_left: objects to name)', '1box_vert_left')
    seed: int = _doc('layout seed (100000 and up were never trained on)', 100000)
    width: int = _doc('camera render width, pixels', 640)
    height: int = _doc('camera render height, pixels', 360)
    fps: float = _doc('camera frames a second', 15.0)
    physics_rate_hz: float = _doc('physics updates a second', 100.0)
    max_step_s: float = _doc('the most simulated time one update may advance', 0.05)
    odom_rate_hz: float = _doc('odom messages a second', 20.0)
    cmd_timeout_s: float = _doc('a cmd_vel older than this stops the base', 0.5)

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS + GOAL_SCENARIOS:
            raise ConfigError(f'scenario must be one of {", ".join(SCENARIOS)}, or a goal '
                              f'room (goal_ and one of them), got {self.scenario!r}')
        if not (16 <= self.width <= MAX_RENDER and 16 <= self.height <= MAX_RENDER):
            raise ConfigError(f'render size must be 16-{MAX_RENDER} pixels a side')
        for name, most in (('fps', 60.0), ('physics_rate_hz', 1000.0), ('odom_rate_hz', 200.0),
                           ('max_step_s', 1.0), ('cmd_timeout_s', 10.0)):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= most):
                raise ConfigError(f'{name} must be in (0, {most}], got {value}')


class LiveSimWiring:
    """sim_robot: cmd_vel in; camera/image, camera/image_policy and odom out."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.config = config = bus.config(LiveSimConfig)
        self.layout = sample_layout(config.scenario, config.seed)
        self.world = SimWorld(self.layout, config.width, config.height)
        self.camera = CameraWiring(bus, CameraConfig(
            source='synthetic', width=config.width, height=config.height, fps=config.fps,
            rotate_180=False, frame_id='camera_optical_frame'))
        self._odom = publisher_of(bus, topics.ODOM)
        subscribe_to(bus, topics.CMD_VEL, self._on_cmd_vel)
        self._command = ZERO
        self._command_ns: int | None = None
        self._last_ns: int | None = None
        self._frames = 0
        self._path = [tuple(self.world.pose()[:2])]
        bus.timer(config.physics_rate_hz, self._physics, 'sim_robot/physics')
        bus.timer(config.fps, self._render, 'sim_robot/camera')
        bus.timer(config.odom_rate_hz, self._publish_odom, 'sim_robot/odom')
        self._reached: set[int] = set()  # the goals it came near (-1: the cup of an
        self._stopped: set[int] = set()  # original room) and those it stopped at
        if self.layout.objects:
            bus.log('info', f'simulated room {config.scenario} (seed {config.seed}): ' + ', '.join(
                f'the {o.describe()} {self.world.object_distance(k):.2f} m away'
                for k, o in enumerate(self.layout.objects)) +
                f'; try "go to the {self.layout.describe_target()}"')
        else:
            bus.log('info', f'simulated room {config.scenario} (seed {config.seed}): the cup '
                            f'is {self.world.cup_distance():.2f} m away')

    def _on_cmd_vel(self, msg: Any) -> None:
        action = twist_to_action(msg)
        if not all(math.isfinite(v) for v in action):
            action = ZERO  # an invalid command stops the base, as a driver must
        self._command, self._command_ns = action, self.bus.now_ns()

    def _physics(self) -> None:
        now = self.bus.now_ns()
        if self._command_ns is not None and now - self._command_ns > \
                self.config.cmd_timeout_s * NS:
            self._command, self._command_ns = ZERO, None
        self.world.set_command(self._command)
        if self._last_ns is not None and now > self._last_ns:
            self.world.step(min((now - self._last_ns) / NS, self.config.max_step_s))
        self._last_ns = now
        pose = self.world.pose()
        if np.hypot(*(pose[:2] - self._path[-1])) > PATH_STEP_M:
            self._path.append(tuple(pose[:2]))
        # Coming near a goal is not stopping at it (the evaluation's success): each is
        # said once, with the distance, so a user watching the log can tell the two.
        distances = ({k: self.world.object_distance(k) for k in range(len(self.layout.objects))}
                     if self.layout.objects else {-1: self.world.cup_distance()})
        for k, distance in distances.items():
            if distance >= SUCCESS_RADIUS:
                continue
            name = self.layout.objects[k].describe() if k >= 0 else 'cup'
            if k not in self._reached:
                self._reached.add(k)
                side = '' if k >= 0 else passed_side(
                    np.array(self._path + [tuple(pose[:2])]), self.layout)
                self.bus.log('info', f'the robot came within {SUCCESS_RADIUS:.2f} m of the '
                                     f'{name}' + (f', passing the obstacle on its {side}'
                                                  if side else ''))
            if k not in self._stopped and not any(self._command) and \
                    float(np.hypot(*self.world.velocity()[:2])) < REST_SPEED:
                self._stopped.add(k)
                self.bus.log('info', f'the robot stopped at the {name}, {distance:.2f} m '
                                     'from it')

    @property
    def reached(self) -> bool:
        """Whether the robot came within ``SUCCESS_RADIUS`` of the cup or a goal object."""
        return bool(self._reached)

    def _render(self) -> None:
        capture_ns = self.bus.now_ns()
        rgb = self.world.render()
        self._frames += 1
        self.camera.publish_frame(Frame(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), self._frames),
                                  capture_ns)

    def _publish_odom(self) -> None:
        self._odom(self.bus.msgs.odometry(self.world.pose(), self.world.velocity(),
                                          self.bus.now_ns()))

    def shutdown(self) -> None:
        self._command = ZERO
        self.world.set_command(ZERO)
