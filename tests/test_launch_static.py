"""The launch file, node table and parameter files checked without ROS 2."""

import ast
import shutil

import pytest
from graph_checks import (
    executable_problems,
    launch_arguments,
    node_topic_problems,
    parameter_file_problems,
)

from mobile_vla.graph import ALL_NODES, ROBOT_GRAPH, NodeSpec
from mobile_vla_sim.graph import node_config

REQUIRED_ARGUMENTS = {'namespace', 'mode', 'checkpoint', 'engine', 'device', 'camera_source',
                      'record', 'use_sim_time', 'log_level', 'params_file', 'teleop_in_xterm',
                      'robot_base'}
NODE_MODULES = {
    'camera_publisher': 'mobile_vla_camera/mobile_vla_camera/camera_publisher_node.py',
    'vla_inference': 'mobile_vla_inference/mobile_vla_inference/vla_inference_node.py',
    'control_arbiter': 'mobile_vla_control/mobile_vla_control/control_arbiter_node.py',
    'episode_recorder': 'mobile_vla_recorder/mobile_vla_recorder/episode_recorder_node.py',
    'wasd_teleop': 'mobile_vla_control/mobile_vla_control/wasd_teleop_node.py',
}


@pytest.fixture(scope='module')
def launch_file(workspace):
    return workspace / 'launch' / 'mobile_vla.launch.py'


def test_launch_file_declares_every_argument_and_builds_from_the_graph(launch_file):
    assert REQUIRED_ARGUMENTS <= set(launch_arguments(launch_file))
    tree = ast.parse(launch_file.read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                and n.module == 'mobile_vla.graph' for a in n.names}
    assert {'ROBOT_GRAPH', 'TELEOP'} <= imported
    assert [s.name for s in ROBOT_GRAPH] == ['camera_publisher', 'vla_inference',
                                             'control_arbiter', 'episode_recorder']


def test_every_executable_exists_and_every_config_file_too(workspace):
    problems = executable_problems(workspace)
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('name', ['camera.yaml', 'control.yaml', 'inference.yaml',
                                  'recorder.yaml', 'robot.yaml', 'sim.yaml'])
def test_parameter_files_name_only_declared_parameters(workspace, name):
    problems = parameter_file_problems(workspace / 'config' / name)
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('spec', ALL_NODES, ids=lambda s: s.name)
def test_node_code_uses_the_topics_of_the_graph(workspace, spec):
    problems = node_topic_problems(workspace, spec, workspace / 'src' / NODE_MODULES[spec.name])
    assert not problems, '\n'.join(problems)


def test_profiles_apply_under_a_namespace(workspace):
    robot = node_config(ROBOT_GRAPH[0], workspace / 'config' / 'robot.yaml', 'robot1')
    assert robot.source == 'csi' and robot.rotate_180
    sim = node_config(ROBOT_GRAPH[3], workspace / 'config' / 'sim.yaml', 'robot1')
    assert sim.output_dir == 'runs/sim_episodes'


def test_the_checks_catch_broken_wiring(workspace, tmp_path):
    bad_yaml = tmp_path / 'bad.yaml'
    bad_yaml.write_text('control_arbiter:\n  ros__parameters:\n    rate_hzz: 20.0\n'
                        'camera_node:\n  ros__parameters:\n    fps: 30.0\n')
    problems = parameter_file_problems(bad_yaml)
    assert any('rate_hzz' in p for p in problems)
    assert any("'camera_node' names no node" in p for p in problems)
    ghost = NodeSpec('ghost', 'mobile_vla_camera', 'ghost_node', 'camera.yaml', (), ())
    assert any("no console script 'ghost_node'" in p for p in executable_problems(
        workspace, [ghost]))
    module = tmp_path / 'renamed_node.py'
    source = (workspace / 'src' / NODE_MODULES['camera_publisher']).read_text()
    module.write_text(source.replace('topics.CAMERA_IMAGE.name', "'camera/img'", 1))
    problems = node_topic_problems(workspace, ROBOT_GRAPH[0], module)
    assert any("literal 'camera/img'" in p for p in problems)
    shutil.rmtree(tmp_path)
