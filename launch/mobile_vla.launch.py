"""Bring up the Mobile VLA robot graph: camera, VLA inference, control arbiter, recorder.

    ros2 launch launch/mobile_vla.launch.py      # or: ros2 launch mobile_vla mobile_vla.launch.py
    ros2 launch launch/mobile_vla.launch.py namespace:=robot1 mode:=hybrid \
        checkpoint:=models/demo engine:=onnx device:=tensorrt camera_source:=csi
    ros2 launch launch/mobile_vla.launch.py params_file:=config/sim.yaml camera_source:=synthetic

The nodes and their parameters come from ``mobile_vla.launch_plan`` (plain code, built
on the node table of ``mobile_vla.graph``), which the graph test starts as processes.
``/cmd_vel`` is the interface to the base: give ``robot_base:='<command>'`` to start a
driver too. The WASD teleop needs a terminal: run ``ros2 run mobile_vla_control
wasd_teleop`` in one, or pass ``teleop_in_xterm:=true`` to start it under ``xterm -e``.
"""

import shlex
import shutil

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, LogInfo, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace

from mobile_vla.launch_plan import (
    ARGUMENTS,
    RESPAWN_DELAY_S,
    plan,
    resolve_arguments,
    teleop_launch,
)


def _node(launch, **extra):
    spec = launch.spec
    return Node(package=spec.package, executable=spec.executable, name=spec.name,
                parameters=[launch.params], output='screen',
                arguments=['--ros-args', '--log-level', launch.log_level], **extra)


def _nodes(context):
    """The plan of ``mobile_vla.launch_plan`` (shared with the graph test) as actions."""
    given = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    arg = resolve_arguments(given)
    actions = [PushRosNamespace(arg['namespace'])] if arg['namespace'] else []
    for launch in plan(given):
        actions.append(_node(launch, respawn=launch.spec.respawn, respawn_delay=RESPAWN_DELAY_S,
                             sigterm_timeout=str(launch.sigterm_timeout_s)))
    teleop = teleop_launch(given)
    if teleop is not None:
        if shutil.which('xterm'):
            actions.append(_node(teleop, prefix='xterm -e'))
        else:
            actions.append(LogInfo(msg='teleop_in_xterm:=true but xterm is not installed; '
                                       'run `ros2 run mobile_vla_control wasd_teleop` in a '
                                       'terminal'))
    if arg['robot_base']:
        actions.append(ExecuteProcess(cmd=shlex.split(arg['robot_base']), output='screen'))
    return actions


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, default, description in ARGUMENTS]
        + [LogInfo(msg=['Mobile VLA graph; namespace: ', LaunchConfiguration('namespace')]),
           OpaqueFunction(function=_nodes)])
