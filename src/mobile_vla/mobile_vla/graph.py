"""The robot graph as data: which nodes run, from which package, with which parameters.

``launch/mobile_vla.launch.py`` builds its nodes from this table, the replay
wiring (``mobile_vla_sim.graph``) mirrors it, and the workspace tests check it
against the packages' console scripts and the parameter files, so a renamed
executable, topic or parameter breaks a test, not the robot.
"""

from __future__ import annotations

from dataclasses import dataclass

from mobile_vla import topics


@dataclass(frozen=True)
class NodeSpec:
    name: str  # ROS node name (the YAML section)
    package: str
    executable: str  # console script of the package
    config: str  # parameter file in config/
    subscribes: tuple[topics.Topic, ...]
    publishes: tuple[topics.Topic, ...]
    #: Started again when it ends (launch's respawn, after launch_plan.RESPAWN_DELAY_S).
    #: Only nodes that pick up safely from nothing: the camera, the console (no control,
    #: no key held), the inference (it waits for a new instruction: a latched one is not
    #: resumed, and vla/status says so). Not the arbiter (an e-stop engaged by a publisher
    #: that has exited would be lost, and live limits set with ros2 param) or the recorder
    #: (the person recording should know an episode was lost).
    respawn: bool = False


CAMERA = NodeSpec(
    'camera_publisher', 'mobile_vla_camera', 'camera_publisher', 'camera.yaml',
    (), (topics.CAMERA_IMAGE, topics.CAMERA_IMAGE_POLICY, topics.CAMERA_INFO,
         topics.DIAGNOSTICS), respawn=True)
INFERENCE = NodeSpec(
    'vla_inference', 'mobile_vla_inference', 'vla_inference', 'inference.yaml',
    (topics.CAMERA_IMAGE_POLICY, topics.VLA_COMMAND, topics.ODOM),
    (topics.ROBOT_ACTION, topics.VLA_STATUS, topics.DIAGNOSTICS), respawn=True)
ARBITER = NodeSpec(
    'control_arbiter', 'mobile_vla_control', 'control_arbiter', 'control.yaml',
    (topics.TELEOP_CMD_VEL, topics.ROBOT_ACTION, topics.CONTROL_MODE, topics.CONTROL_ESTOP),
    (topics.CMD_VEL, topics.CONTROL_STATE, topics.DIAGNOSTICS))
RECORDER = NodeSpec(
    'episode_recorder', 'mobile_vla_recorder', 'episode_recorder', 'recorder.yaml',
    (topics.CAMERA_IMAGE, topics.CMD_VEL, topics.VLA_STATUS, topics.RECORDER_CONTROL),
    (topics.DIAGNOSTICS,))
TELEOP = NodeSpec(
    'wasd_teleop', 'mobile_vla_control', 'wasd_teleop', 'control.yaml',
    (), (topics.TELEOP_CMD_VEL, topics.CONTROL_MODE, topics.RECORDER_CONTROL))

WEB = NodeSpec(
    'web_console', 'mobile_vla_web', 'web_console', 'web.yaml',
    (topics.CAMERA_IMAGE, topics.CMD_VEL, topics.ROBOT_ACTION, topics.CONTROL_STATE,
     topics.VLA_STATUS, topics.DIAGNOSTICS),
    (topics.VLA_COMMAND, topics.CONTROL_MODE, topics.CONTROL_ESTOP, topics.TELEOP_CMD_VEL,
     topics.RECORDER_CONTROL, topics.DIAGNOSTICS), respawn=True)
#: The live simulator: the robot's camera and base, in real time (``mobile-vla sim live``).
SIM_ROBOT = NodeSpec(
    'sim_robot', 'mobile_vla_sim', 'sim_robot', 'sim.yaml',
    (topics.CMD_VEL,),
    (topics.CAMERA_IMAGE, topics.CAMERA_IMAGE_POLICY, topics.CAMERA_INFO, topics.ODOM,
     topics.DIAGNOSTICS), respawn=True)  # it stands in for the camera (and the base)

#: What ``ros2 launch launch/mobile_vla.launch.py`` starts (the teleop and the web console
#: only on request).
ROBOT_GRAPH: tuple[NodeSpec, ...] = (CAMERA, INFERENCE, ARBITER, RECORDER)
ALL_NODES: tuple[NodeSpec, ...] = ROBOT_GRAPH + (TELEOP, WEB)
