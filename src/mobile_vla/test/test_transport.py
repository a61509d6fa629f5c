from pathlib import Path

from mobile_vla.transport import PROFILE_VARIABLES, frame_publisher_environment, profile_path


def test_the_graph_profile_is_set_by_default_and_installed():
    env, line = frame_publisher_environment({})
    assert env == {'FASTRTPS_DEFAULT_PROFILES_FILE': str(profile_path())}
    assert Path(env['FASTRTPS_DEFAULT_PROFILES_FILE']).is_file()
    assert 'shared memory' in line
    text = profile_path().read_text()
    assert '<type>SHM</type>' in text and '<type>UDPv4</type>' in text
    assert '<segment_size>33554432</segment_size>' in text  # 11 frames of 1280x720 rgb8


def test_a_users_profile_another_rmw_or_builtin_is_left_alone():
    for name in PROFILE_VARIABLES:
        env, line = frame_publisher_environment({name: '/etc/my_profile.xml'})
        assert env == {} and '/etc/my_profile.xml' in line
    env, line = frame_publisher_environment({'RMW_IMPLEMENTATION': 'rmw_cyclonedds_cpp'})
    assert env == {} and 'rmw_cyclonedds_cpp' in line
    assert frame_publisher_environment({'RMW_IMPLEMENTATION': 'rmw_fastrtps_cpp'})[0]
    env, line = frame_publisher_environment({'MOBILE_VLA_FASTDDS_PROFILE': 'builtin'})
    assert env == {} and 'built-in' in line
