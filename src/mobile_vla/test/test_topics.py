import enum
from types import SimpleNamespace

import pytest

from mobile_vla import topics


def test_every_topic_of_the_design_is_declared_once():
    names = [t.name for t in topics.ALL_TOPICS]
    assert len(names) == len(set(names))
    assert set(names) == {
        'camera/image', 'camera/image_policy', 'camera/camera_info', 'vla/command',
        'vla/status', 'odom', 'robot/action', 'teleop/cmd_vel',
        'control/mode', 'control/estop', 'cmd_vel', 'control/state', 'recorder/control',
        'diagnostics',
    }


@pytest.mark.parametrize('topic, msgtype, reliability, durability', [
    (topics.CAMERA_IMAGE, 'sensor_msgs/msg/Image', 'best_effort', 'volatile'),
    (topics.CAMERA_IMAGE_POLICY, 'sensor_msgs/msg/Image', 'best_effort', 'volatile'),
    (topics.CAMERA_INFO, 'sensor_msgs/msg/CameraInfo', 'best_effort', 'volatile'),
    (topics.VLA_COMMAND, 'std_msgs/msg/String', 'reliable', 'transient_local'),
    (topics.VLA_STATUS, 'std_msgs/msg/String', 'reliable', 'transient_local'),
    (topics.ODOM, 'nav_msgs/msg/Odometry', 'best_effort', 'volatile'),
    (topics.ROBOT_ACTION, 'geometry_msgs/msg/Twist', 'reliable', 'volatile'),
    (topics.TELEOP_CMD_VEL, 'geometry_msgs/msg/Twist', 'reliable', 'volatile'),
    (topics.CONTROL_MODE, 'std_msgs/msg/String', 'reliable', 'transient_local'),
    (topics.CONTROL_ESTOP, 'std_msgs/msg/Bool', 'reliable', 'transient_local'),
    (topics.CMD_VEL, 'geometry_msgs/msg/Twist', 'reliable', 'volatile'),
    (topics.CONTROL_STATE, 'std_msgs/msg/String', 'reliable', 'transient_local'),
    (topics.RECORDER_CONTROL, 'std_msgs/msg/String', 'reliable', 'volatile'),
    (topics.DIAGNOSTICS, 'diagnostic_msgs/msg/DiagnosticArray', 'reliable', 'volatile'),
])
def test_types_and_qos_follow_the_design(topic, msgtype, reliability, durability):
    assert topic.msgtype == msgtype
    assert topic.qos.reliability == reliability
    assert topic.qos.durability == durability


def test_command_streams_keep_only_the_newest():
    for topic in (topics.ROBOT_ACTION, topics.TELEOP_CMD_VEL, topics.CMD_VEL, topics.VLA_COMMAND):
        assert topic.qos.depth == 1
    assert 1 <= topics.CAMERA_IMAGE.qos.depth <= 5


def test_names_are_relative_and_move_under_a_namespace():
    assert topics.CMD_VEL.path == '/cmd_vel'
    assert topics.CAMERA_IMAGE.in_namespace('robot1') == '/robot1/camera/image'
    assert topics.CAMERA_IMAGE.in_namespace('/robot1/') == '/robot1/camera/image'
    assert topics.CAMERA_IMAGE.in_namespace('') == '/camera/image'
    assert topics.resolve('joy/cmd_vel', 'robot2') == '/robot2/joy/cmd_vel'
    assert topics.resolve('/abs/topic', 'robot2') == '/abs/topic'
    with pytest.raises(ValueError, match='relative'):
        topics.Topic('/abs', 'std_msgs/msg/String', topics.EVENTS, '')
    with pytest.raises(ValueError, match='pkg/msg/Name'):
        topics.Topic('x', 'String', topics.EVENTS, '')


def test_lookup_by_name_accepts_absolute_names_and_lists_the_graph_on_error():
    assert topics.by_name('/cmd_vel') is topics.CMD_VEL
    assert topics.by_name('robot/action') is topics.ROBOT_ACTION
    with pytest.raises(KeyError, match='camera/image'):
        topics.by_name('/camera/imgae')


def test_qos_intent_rejects_nonsense():
    with pytest.raises(ValueError):
        topics.QosIntent('sometimes', 'volatile', 1)
    with pytest.raises(ValueError):
        topics.QosIntent('reliable', 'forever', 1)
    with pytest.raises(ValueError):
        topics.QosIntent('reliable', 'volatile', 0)


def test_qos_intents_map_onto_rclpy_profiles():
    # The same enum member names rclpy.qos has (RELIABLE, BEST_EFFORT, ...).
    fake_qos = SimpleNamespace(
        QoSProfile=lambda **kw: kw,
        HistoryPolicy=enum.Enum('HistoryPolicy', 'KEEP_LAST KEEP_ALL'),
        ReliabilityPolicy=enum.Enum('ReliabilityPolicy', 'RELIABLE BEST_EFFORT'),
        DurabilityPolicy=enum.Enum('DurabilityPolicy', 'VOLATILE TRANSIENT_LOCAL'),
    )
    camera = topics.CAMERA_IMAGE.qos.profile(fake_qos)
    assert camera['reliability'].name == 'BEST_EFFORT'
    assert camera['durability'].name == 'VOLATILE' and camera['depth'] == 5
    mode = topics.CONTROL_MODE.qos.profile(fake_qos)
    assert (mode['reliability'].name, mode['durability'].name) == ('RELIABLE', 'TRANSIENT_LOCAL')
