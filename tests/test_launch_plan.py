"""``launch_plan``: the launch file built from the plan, parameters layered as ``ros2 launch``
layers them, the node table and the parameter files, all checked without ROS 2."""

import ast
import shutil

import pytest
from graph_checks import (
    executable_problems,
    node_topic_problems,
    parameter_file_problems,
    restated_parameters,
)

from mobile_vla import topics
from mobile_vla.config import ConfigError
from mobile_vla.graph import ALL_NODES, ARBITER, ROBOT_GRAPH, NodeSpec
from mobile_vla.launch_plan import ARGUMENTS, plan, teleop_launch
from mobile_vla_control.wiring import ArbiterWiring
from mobile_vla_sim.graph import PARSERS, node_config

REQUIRED_ARGUMENTS = {'namespace', 'mode', 'checkpoint', 'engine', 'device', 'camera_source',
                      'record', 'use_sim_time', 'log_level', 'params_file', 'teleop_in_xterm',
                      'robot_base'}


@pytest.fixture(scope='module')
def launch_file(workspace):
    return workspace / 'launch' / 'mobile_vla.launch.py'


def test_launch_file_declares_every_argument_and_builds_from_the_plan(launch_file):
    assert REQUIRED_ARGUMENTS <= {name for name, _, _ in ARGUMENTS}
    tree = ast.parse(launch_file.read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                and n.module == 'mobile_vla.launch_plan' for a in n.names}
    assert {'ARGUMENTS', 'plan', 'teleop_launch'} <= imported
    assert [s.name for s in ROBOT_GRAPH] == ['camera_publisher', 'vla_inference',
                                             'control_arbiter', 'episode_recorder']


def test_the_plan_resolves_parameters_as_launch_does(workspace, tmp_path):
    profile = tmp_path / 'profile.yaml'
    profile.write_text('/**/vla_inference:\n  ros__parameters:\n    rate_hz: 5.0\n'
                       'camera_publisher:\n  ros__parameters:\n    source: file\n')
    nodes = {n.spec.name: n for n in plan({
        'namespace': 'robot1', 'mode': 'hybrid', 'camera_source': 'synthetic',
        'params_file': str(profile), 'record': 'false', 'use_sim_time': 'true'})}
    assert list(nodes) == ['camera_publisher', 'vla_inference', 'control_arbiter']
    camera, inference, arbiter = nodes.values()
    assert camera.params['source'] == 'synthetic'  # the argument beats the profile
    assert camera.params['rotate_180'] is True  # config/camera.yaml
    assert 'width' not in camera.params  # the node's own default: no file restates it
    assert inference.params['rate_hz'] == 5.0 and inference.params['checkpoint'] == 'models/demo'
    assert arbiter.params['initial_mode'] == 'hybrid'
    assert all(n.params['use_sim_time'] is True and n.namespace == 'robot1'
               for n in nodes.values())
    assert plan({})[-1].sigterm_timeout_s == 35.0  # the recorder gets time to write


@pytest.mark.parametrize('profile, camera, engine, device', [
    ('robot.yaml', 'csi', 'onnx', 'auto'),
    ('sim.yaml', 'synthetic', 'torch', 'cpu'),
])
def test_launch_arguments_override_a_profile_only_when_given(workspace, profile, camera,
                                                              engine, device):
    profile = str(workspace / 'config' / profile)

    def configs(args):  # what each node runs with: its dataclass defaults, then the files
        return {n.spec.name: PARSERS[n.spec.name](n.params) for n in plan(args)}

    nodes = configs({'params_file': profile})
    assert nodes['camera_publisher'].source == camera
    assert (nodes['vla_inference'].engine, nodes['vla_inference'].device) == (engine, device)
    assert nodes['control_arbiter'].initial_mode == 'manual'
    given = configs({'params_file': profile, 'camera_source': 'v4l2', 'engine': 'torch',
                     'mode': 'vla'})
    assert given['camera_publisher'].source == 'v4l2'
    assert given['vla_inference'].engine == 'torch'
    assert given['vla_inference'].device == device
    assert given['control_arbiter'].initial_mode == 'vla'
    assert teleop_launch({}) is None and teleop_launch({'teleop_in_xterm': 'true'})
    with pytest.raises(ConfigError, match='unknown launch argument.*camera'):
        plan({'camera': 'csi'})


def test_every_executable_exists_and_every_config_file_too(workspace):
    problems = executable_problems(workspace)
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('name', ['camera.yaml', 'control.yaml', 'inference.yaml',
                                  'recorder.yaml', 'robot.yaml', 'sim.yaml'])
def test_parameter_files_name_only_declared_parameters(workspace, name):
    problems = parameter_file_problems(workspace / 'config' / name)
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('name', ['camera.yaml', 'control.yaml', 'inference.yaml',
                                  'recorder.yaml', 'web.yaml', 'robot.yaml', 'sim.yaml'])
def test_parameter_files_hold_only_what_differs(workspace, name):
    problems = restated_parameters(workspace / 'config' / name)
    assert not problems, '\n'.join(problems)


def test_a_restated_default_is_caught(tmp_path):
    own = tmp_path / 'control.yaml'
    own.write_text('/**/control_arbiter:\n  ros__parameters:\n    rate_hz: 20.0\n'
                   '    reject_above: 12.0\n')
    assert restated_parameters(own) == [
        'control.yaml: control_arbiter: rate_hz restates the default of its config '
        'dataclass; delete it (YAML holds only what differs)']


@pytest.mark.parametrize('spec', ALL_NODES, ids=lambda s: s.name)
def test_node_wiring_uses_the_topics_of_the_graph(spec):
    problems = node_topic_problems(spec)
    assert not problems, '\n'.join(problems)


def test_profiles_apply_under_a_namespace(workspace):
    robot = node_config(ROBOT_GRAPH[0], workspace / 'config' / 'robot.yaml', 'robot1')
    assert robot.source == 'csi' and robot.rotate_180
    sim = node_config(ROBOT_GRAPH[3], workspace / 'config' / 'sim.yaml', 'robot1')
    assert sim.output_dir == 'runs/sim_episodes'


def test_the_checks_catch_broken_wiring(workspace, tmp_path):
    bad_yaml = tmp_path / 'bad.yaml'
    bad_yaml.write_text('/**/control_arbiter:\n  ros__parameters:\n    rate_hzz: 20.0\n'
                        '/**/camera_node:\n  ros__parameters:\n    fps: 30.0\n'
                        'episode_recorder:\n  ros__parameters:\n    max_frames: 18\n')
    problems = parameter_file_problems(bad_yaml)
    assert any('rate_hzz' in p for p in problems)
    assert any("'/**/camera_node' names no node" in p for p in problems)
    assert any("'episode_recorder' applies in the root namespace only" in p for p in problems)
    ghost = NodeSpec('ghost', 'mobile_vla_camera', 'ghost_node', 'camera.yaml', (), ())
    assert any("no console script 'ghost_node'" in p for p in executable_problems(
        workspace, [ghost]))

    class RenamedTopic(ArbiterWiring):
        def __init__(self, bus):
            bus.publisher('cmd_vel_out', 'geometry_msgs/msg/Twist', topics.COMMAND)
            super().__init__(bus)

    problems = node_topic_problems(ARBITER, RenamedTopic)
    assert any('cmd_vel_out' in p and 'publishes' in p for p in problems)
    shutil.rmtree(tmp_path)
