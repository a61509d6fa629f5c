"""Every topic of the robot graph in one place: name, message type and QoS intent.

Names are relative (no leading slash) so that a namespace given in the launch file
moves the whole graph; ``Topic.path`` gives the absolute name used in bags.
The QoS intents are plain values; ``QosIntent.profile`` maps them onto rclpy
(``mobile_vla.ros_bus``) and ``mobile_vla.bag`` onto rosbag2 metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

Reliability = Literal['reliable', 'best_effort']
Durability = Literal['volatile', 'transient_local']


@dataclass(frozen=True)
class QosIntent:
    """What a stream needs from the middleware, independent of rclpy."""

    reliability: Reliability
    durability: Durability
    depth: int

    def __post_init__(self) -> None:
        if self.reliability not in ('reliable', 'best_effort'):
            raise ValueError(f'unknown reliability {self.reliability!r}')
        if self.durability not in ('volatile', 'transient_local'):
            raise ValueError(f'unknown durability {self.durability!r}')
        if self.depth < 1:
            raise ValueError(f'QoS depth must be at least 1, got {self.depth}')

    def profile(self, rclpy_qos: ModuleType) -> Any:
        """The rclpy QoSProfile for this intent; pass the ``rclpy.qos`` module.

        Taking the module as an argument keeps this library free of ROS imports
        while every node builds its profiles the same way.
        """
        return rclpy_qos.QoSProfile(
            history=rclpy_qos.HistoryPolicy.KEEP_LAST,
            depth=self.depth,
            reliability=rclpy_qos.ReliabilityPolicy[self.reliability.upper()],
            durability=rclpy_qos.DurabilityPolicy[self.durability.upper()],
        )


#: Camera streams: newest frame wins, a lost frame is never resent.
SENSOR_DATA = QosIntent('best_effort', 'volatile', 5)
#: Velocity commands: reliable, only the newest matters.
COMMAND = QosIntent('reliable', 'volatile', 1)
#: Latched state (mode, instruction): a late subscriber gets the last value.
LATCHED = QosIntent('reliable', 'transient_local', 1)
#: Events that must all arrive (estop, recorder control).
EVENTS = QosIntent('reliable', 'volatile', 10)
#: ROS 2 default profile (reliable, volatile, depth 10), as /diagnostics uses.
DEFAULT = QosIntent('reliable', 'volatile', 10)


@dataclass(frozen=True)
class Topic:
    """One stream of the graph."""

    name: str
    msgtype: str
    qos: QosIntent
    description: str

    def __post_init__(self) -> None:
        if self.name.startswith('/'):
            raise ValueError(f'topic names are relative in code, got {self.name!r}')
        if self.msgtype.count('/') != 2 or '/msg/' not in self.msgtype:
            raise ValueError(f'message type must read pkg/msg/Name, got {self.msgtype!r}')

    @property
    def path(self) -> str:
        """Absolute name in the root namespace, as recorded in a bag."""
        return '/' + self.name

    def profile(self, rclpy_qos: ModuleType) -> Any:
        """The rclpy QoSProfile of this topic (see ``QosIntent.profile``)."""
        return self.qos.profile(rclpy_qos)

    def in_namespace(self, namespace: str) -> str:
        """Absolute name under ``namespace`` ('' or '/' for the root)."""
        return resolve(self.name, namespace)


def resolve(name: str, namespace: str = '') -> str:
    """Absolute name of a relative topic ``name`` under ``namespace``, as rclpy resolves it.

    Absolute names (leading slash) stay as they are.
    """
    if name.startswith('/'):
        return name
    ns = namespace.strip('/')
    return f'/{ns}/{name}' if ns else f'/{name}'


CAMERA_IMAGE = Topic(
    'camera/image', 'sensor_msgs/msg/Image', SENSOR_DATA,
    'camera frames (rgb8 by default) stamped with the capture time',
)
CAMERA_IMAGE_POLICY = Topic(
    'camera/image_policy', 'sensor_msgs/msg/Image', SENSOR_DATA,
    'the same frame resized to the policy input (224x224 by default), same header; the '
    'policy subscribes to it so full-size frames never travel to it',
)
CAMERA_INFO = Topic(
    'camera/camera_info', 'sensor_msgs/msg/CameraInfo', SENSOR_DATA,
    'calibration of the camera, same header as the image',
)
VLA_COMMAND = Topic(
    'vla/command', 'std_msgs/msg/String', LATCHED,
    "the operator's English instruction; 'stop' or '' halts the policy",
)
VLA_STATUS = Topic(
    'vla/status', 'std_msgs/msg/String', LATCHED,
    'the instruction plan as JSON: instruction, state (idle, running, done, failed, '
    'refused, stopped), step i of n, its text, the reason',
)
ODOM = Topic(
    'odom', 'nav_msgs/msg/Odometry', SENSOR_DATA,
    "the base's odometry; motion steps of an instruction close on it when it is fresh",
)
ROBOT_ACTION = Topic(
    'robot/action', 'geometry_msgs/msg/Twist', COMMAND,
    "the policy's velocity command (linear.x, linear.y, angular.z)",
)
TELEOP_CMD_VEL = Topic(
    'teleop/cmd_vel', 'geometry_msgs/msg/Twist', COMMAND,
    'the human operator velocity command from the WASD teleop',
)
CONTROL_MODE = Topic(
    'control/mode', 'std_msgs/msg/String', LATCHED,
    'arbiter mode: manual, vla or hybrid',
)
CONTROL_ESTOP = Topic(
    'control/estop', 'std_msgs/msg/Bool', LATCHED,
    'emergency stop: true latches zero output, false asks for release; latched, so a '
    'restarted arbiter keeps an engaged e-stop',
)
CMD_VEL = Topic(
    'cmd_vel', 'geometry_msgs/msg/Twist', COMMAND,
    "the arbiter's output, the only command that drives the base",
)
CONTROL_STATE = Topic(
    'control/state', 'std_msgs/msg/String', LATCHED,
    'arbiter state as JSON: mode, active source, input ages, estop, limits hit',
)
RECORDER_CONTROL = Topic(
    'recorder/control', 'std_msgs/msg/String', EVENTS,
    "episode control: 'start <scenario> [instruction]', 'stop', 'discard'",
)
DIAGNOSTICS = Topic(
    'diagnostics', 'diagnostic_msgs/msg/DiagnosticArray', DEFAULT,
    'health of every node',
)

ALL_TOPICS: tuple[Topic, ...] = (
    CAMERA_IMAGE, CAMERA_IMAGE_POLICY, CAMERA_INFO, VLA_COMMAND, VLA_STATUS, ODOM, ROBOT_ACTION,
    TELEOP_CMD_VEL, CONTROL_MODE, CONTROL_ESTOP, CMD_VEL, CONTROL_STATE, RECORDER_CONTROL,
    DIAGNOSTICS,
)
_BY_NAME = {t.name: t for t in ALL_TOPICS}


def by_name(name: str) -> Topic:
    """Look a topic up by relative or absolute name."""
    try:
        return _BY_NAME[name.lstrip('/')]
    except KeyError:
        known = ', '.join(sorted(_BY_NAME))
        raise KeyError(f'unknown topic {name!r}; the graph has: {known}') from None
