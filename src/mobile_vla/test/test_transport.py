from pathlib import Path

from mobile_vla import transport
from mobile_vla.config import ConfigError
from mobile_vla.transport import (
    PROFILE_VARIABLES,
    frame_publisher_environment,
    profile_path,
)


def test_the_frame_profile_is_set_by_default_and_installed():
    env, line = frame_publisher_environment({})
    assert env == {'FASTRTPS_DEFAULT_PROFILES_FILE': str(profile_path({}))}
    assert Path(env['FASTRTPS_DEFAULT_PROFILES_FILE']).name == 'fastdds.xml'
    assert 'shared memory' in line
    text = profile_path({}).read_text()
    assert '<type>SHM</type>' in text and '<type>UDPv4</type>' in text
    assert '<segment_size>33554432</segment_size>' in text  # 11 frames of 1280x720 rgb8
    assert 'interfaceWhiteList' not in text


def test_a_graph_kept_on_this_machine_keeps_udp_on_loopback():
    for env in ({'ROS_LOCALHOST_ONLY': '1'}, {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'},
                {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'OFF'}):
        changes, _ = frame_publisher_environment(env)
        path = Path(changes['FASTRTPS_DEFAULT_PROFILES_FILE'])
        assert path.name == 'fastdds_localhost.xml'
        text = path.read_text()
        assert '<address>127.0.0.1</address>' in text
        assert '<segment_size>33554432</segment_size>' in text
    changes, _ = frame_publisher_environment({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET'})
    assert Path(changes['FASTRTPS_DEFAULT_PROFILES_FILE']).name == 'fastdds.xml'


def test_a_users_profile_another_rmw_or_builtin_is_left_alone():
    for name in PROFILE_VARIABLES:
        env, line = frame_publisher_environment({name: '/etc/my_profile.xml'})
        assert env == {} and '/etc/my_profile.xml' in line
    env, line = frame_publisher_environment({'RMW_IMPLEMENTATION': 'rmw_cyclonedds_cpp'})
    assert env == {} and 'rmw_cyclonedds_cpp' in line
    assert frame_publisher_environment({'RMW_IMPLEMENTATION': 'rmw_fastrtps_cpp'})[0]
    env, line = frame_publisher_environment({'MOBILE_VLA_FASTDDS_PROFILE': 'builtin'})
    assert env == {} and 'built-in' in line


def test_a_missing_share_folder_falls_back_with_a_reason(monkeypatch):
    def missing():
        raise ConfigError('the mobile_vla share files are not installed')

    monkeypatch.setattr(transport, 'config_dir', missing)
    env, line = frame_publisher_environment({})
    assert env == {} and 'built-in' in line and 'not installed' in line
