"""Bring up the Mobile VLA robot graph: camera, VLA inference, control arbiter, recorder.

    ros2 launch launch/mobile_vla.launch.py      # or: ros2 launch mobile_vla mobile_vla.launch.py
    ros2 launch launch/mobile_vla.launch.py namespace:=robot1 mode:=hybrid \
        checkpoint:=models/demo engine:=onnx device:=tensorrt camera_source:=csi
    ros2 launch launch/mobile_vla.launch.py params_file:=config/sim.yaml camera_source:=synthetic

The nodes and their parameter files come from ``mobile_vla.graph`` (one table for the
launch file, the replay wiring and the tests). ``/cmd_vel`` is the interface to the
base: give ``robot_base:='<command>'`` to start a driver too. The WASD teleop needs a
terminal: run ``ros2 run mobile_vla_control wasd_teleop`` in one, or pass
``teleop_in_xterm:=true`` to start it under ``xterm -e``.
"""

import os
import shlex
import shutil

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, LogInfo, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace

from mobile_vla.config import load_node_params
from mobile_vla.graph import ARBITER, CAMERA, INFERENCE, RECORDER, ROBOT_GRAPH, TELEOP
from mobile_vla.resources import config_dir

# The installed share files of mobile_vla (or $MOBILE_VLA_HOME): see mobile_vla.resources.
CONFIG = str(config_dir())

ARGUMENTS = (
    ('namespace', '', 'robot namespace: every topic and node moves under it (multi-robot)'),
    ('mode', 'manual', 'arbiter mode at start: manual, vla or hybrid'),
    ('checkpoint', 'models/demo', 'policy checkpoint folder (config.json + model.safetensors)'),
    ('engine', 'torch', 'policy engine: torch or onnx'),
    ('device', 'cpu', 'policy device: cpu or cuda (torch); cpu, cuda, tensorrt, auto (onnx)'),
    ('camera_source', 'csi', 'camera source: csi, v4l2, file, images or synthetic'),
    ('record', 'true', 'start the episode recorder'),
    ('use_sim_time', 'false', 'use /clock (bag playback with --clock, simulation)'),
    ('log_level', 'info', 'log level of every node: debug, info, warn, error'),
    ('params_file', '', 'an extra parameter file applied after config/*.yaml '
                        '(e.g. config/robot.yaml or config/sim.yaml)'),
    ('teleop_in_xterm', 'false', 'also start the WASD teleop in an xterm window'),
    ('robot_base', '', 'a command that starts the base driver (it reads /cmd_vel)'),
)


def node_parameters(spec, arg, overrides):
    """The node's parameters as one dict: config/<node>.yaml, then params_file, then the
    launch arguments. Read here (rather than passed as files) so that sections keyed by
    node name apply under any namespace."""
    params = load_node_params(os.path.join(CONFIG, spec.config), spec.name, arg['namespace'])
    if arg['params_file']:
        params.update(load_node_params(os.path.abspath(arg['params_file']), spec.name,
                                       arg['namespace']))
    params['use_sim_time'] = arg['use_sim_time'].lower() == 'true'
    params.update(overrides)
    return params


def _nodes(context):
    arg = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    overrides = {
        CAMERA.name: {'source': arg['camera_source']},
        INFERENCE.name: {'checkpoint': arg['checkpoint'], 'engine': arg['engine'],
                         'device': arg['device']},
        ARBITER.name: {'initial_mode': arg['mode']},
    }
    actions = [PushRosNamespace(arg['namespace'])] if arg['namespace'] else []
    for spec in ROBOT_GRAPH:
        if spec is RECORDER and arg['record'].lower() != 'true':
            continue
        actions.append(Node(
            package=spec.package, executable=spec.executable, name=spec.name,
            parameters=[node_parameters(spec, arg, overrides.get(spec.name, {}))],
            output='screen', respawn=spec.respawn, respawn_delay=2.0,
            arguments=['--ros-args', '--log-level', arg['log_level']],
            # launch sends SIGINT, then SIGTERM: time for a zero command or a last episode
            sigterm_timeout='35' if spec is RECORDER else '5'))
    if arg['teleop_in_xterm'].lower() == 'true':
        if shutil.which('xterm'):
            actions.append(Node(
                package=TELEOP.package, executable=TELEOP.executable, name=TELEOP.name,
                parameters=[node_parameters(TELEOP, arg, {})], prefix='xterm -e',
                output='screen'))
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
