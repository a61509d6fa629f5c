import enum
from types import SimpleNamespace

import pytest

from mobile_vla import qos, topics


def test_every_topic_of_the_design_is_declared_once():
    names = [t.name for t in topics.ALL_TOPICS]
    assert len(names) == len(set(names))
    assert set(names) == {
        'camera/image', 'camera/image_policy', 'camera/camera_info', 'vla/command',
        'vla/status', 'odom', 'robot/action', 'teleop/cmd_vel',
        'control/mode', 'control/estop', 'cmd_vel', 'control/state', 'recorder/control',
        'diagnostics',
    }


SENSOR = ('reliable', 'volatile', [('best_effort', 'volatile')])
LATCHED_INPUT = ('reliable', 'transient_local',
                 [('reliable', 'volatile'), ('reliable', 'transient_local')])


@pytest.mark.parametrize('topic, msgtype, reliability, durability, subscriptions', [
    (topics.CAMERA_IMAGE, 'sensor_msgs/msg/Image', *SENSOR),
    (topics.CAMERA_IMAGE_POLICY, 'sensor_msgs/msg/Image', *SENSOR),
    (topics.CAMERA_INFO, 'sensor_msgs/msg/CameraInfo', *SENSOR),
    (topics.VLA_COMMAND, 'std_msgs/msg/String', 'reliable', 'transient_local',
     [('reliable', 'volatile')]),
    (topics.VLA_STATUS, 'std_msgs/msg/String', 'reliable', 'transient_local',
     [('reliable', 'transient_local')]),
    (topics.ODOM, 'nav_msgs/msg/Odometry', *SENSOR),
    (topics.ROBOT_ACTION, 'geometry_msgs/msg/Twist', 'reliable', 'volatile',
     [('reliable', 'volatile')]),
    (topics.TELEOP_CMD_VEL, 'geometry_msgs/msg/Twist', 'reliable', 'volatile',
     [('reliable', 'volatile')]),
    (topics.CONTROL_MODE, 'std_msgs/msg/String', *LATCHED_INPUT),
    (topics.CONTROL_ESTOP, 'std_msgs/msg/Bool', *LATCHED_INPUT),
    (topics.CMD_VEL, 'geometry_msgs/msg/Twist', 'reliable', 'volatile',
     [('best_effort', 'volatile')]),
    (topics.CONTROL_STATE, 'std_msgs/msg/String', 'reliable', 'transient_local',
     [('reliable', 'transient_local')]),
    (topics.RECORDER_CONTROL, 'std_msgs/msg/String', 'reliable', 'volatile',
     [('reliable', 'volatile')]),
    (topics.DIAGNOSTICS, 'diagnostic_msgs/msg/DiagnosticArray', 'reliable', 'volatile',
     [('reliable', 'volatile')]),
])
def test_types_and_qos_follow_the_design(topic, msgtype, reliability, durability,
                                         subscriptions):
    """The design's table (DESIGN.md, "Topics"): the graph publishes everything reliable;
    sensor streams are subscribed with sensor-data QoS (REP 2003); an input people feed is
    subscribed volatile, with a latched twin where a late joiner needs the value."""
    assert topic.msgtype == msgtype
    assert (topic.publisher_qos.reliability, topic.publisher_qos.durability) == (
        reliability, durability)
    assert [(s.reliability, s.durability) for s in topic.subscriptions] == subscriptions
    assert [s.late_joiner for s in topic.subscriptions] == [
        i > 0 for i in range(len(subscriptions))]


def test_command_streams_keep_only_the_newest():
    for topic in (topics.ROBOT_ACTION, topics.TELEOP_CMD_VEL, topics.CMD_VEL):
        assert topic.publisher_qos.depth == 1
    assert topics.VLA_COMMAND.publisher_qos.depth == 1  # the latched value is one
    assert 1 <= topics.CAMERA_IMAGE.publisher_qos.depth <= 5


def test_every_output_reaches_every_client_subscription():
    """rviz2, rqt_image_view, echo, a best-effort base driver: nothing the graph
    publishes is lost to a tool at its defaults."""
    for topic in topics.ALL_TOPICS:
        for client in qos.CLIENT_SUBSCRIPTIONS:
            assert not qos.mismatches(topic.publisher_qos, client.policies), (
                topic.name, client.key)


def test_every_input_hears_every_reliable_client_and_says_why_it_refuses_the_rest():
    for topic in topics.ALL_TOPICS:
        if not topic.clients_publish:
            continue
        for client in qos.CLIENT_PUBLISHERS:
            why = qos.mismatches(client.policies, topic.subscription_qos)
            if client.policies.reliability == 'reliable':
                assert not why, (topic.name, client.key)
            elif why:
                assert topic.refused, (topic.name, client.key)


def test_the_compatibility_table_has_a_row_per_topic_and_no_undocumented_gap():
    table = topics.compatibility_table()
    for topic in topics.ALL_TOPICS:
        assert f'| `{topic.name}` |' in table
    assert '| NO (' not in table  # every pair that cannot match is refused on purpose
    assert 'yes, latched' in table.split('`control/estop`')[1].splitlines()[0]
    assert 'refused (reliability)' in table.split('`vla/command`')[1].splitlines()[0]
    for client in qos.CLIENT_PUBLISHERS + qos.CLIENT_SUBSCRIPTIONS:
        assert client.who in table


def test_names_are_relative_and_move_under_a_namespace():
    assert topics.CMD_VEL.path == '/cmd_vel'
    assert topics.CAMERA_IMAGE.in_namespace('robot1') == '/robot1/camera/image'
    assert topics.CAMERA_IMAGE.in_namespace('/robot1/') == '/robot1/camera/image'
    assert topics.CAMERA_IMAGE.in_namespace('') == '/camera/image'
    assert topics.resolve('joy/cmd_vel', 'robot2') == '/robot2/joy/cmd_vel'
    assert topics.resolve('/abs/topic', 'robot2') == '/abs/topic'
    with pytest.raises(ValueError, match='relative'):
        topics.Topic('/abs', 'std_msgs/msg/String', '', topics.EVENTS, (topics.EVENTS,))
    with pytest.raises(ValueError, match='pkg/msg/Name'):
        topics.Topic('x', 'String', '', topics.EVENTS, (topics.EVENTS,))


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
    with pytest.raises(ValueError, match='transient_local'):
        topics.QosIntent('reliable', 'volatile', 1, late_joiner=True)
    with pytest.raises(ValueError, match='live'):
        topics.Topic('x', 'std_msgs/msg/String', '', topics.EVENTS, (topics.LATE_JOINER,))


def test_qos_intents_map_onto_rclpy_profiles():
    # The same enum member names rclpy.qos has (RELIABLE, BEST_EFFORT, ...).
    fake_qos = SimpleNamespace(
        QoSProfile=lambda **kw: kw,
        HistoryPolicy=enum.Enum('HistoryPolicy', 'KEEP_LAST KEEP_ALL'),
        ReliabilityPolicy=enum.Enum('ReliabilityPolicy', 'RELIABLE BEST_EFFORT'),
        DurabilityPolicy=enum.Enum('DurabilityPolicy', 'VOLATILE TRANSIENT_LOCAL'),
    )
    camera = topics.CAMERA_IMAGE.subscription_qos.profile(fake_qos)
    assert camera['reliability'].name == 'BEST_EFFORT'
    assert camera['durability'].name == 'VOLATILE' and camera['depth'] == 5
    mode = topics.CONTROL_MODE.publisher_qos.profile(fake_qos)
    assert (mode['reliability'].name, mode['durability'].name) == ('RELIABLE', 'TRANSIENT_LOCAL')
