import numpy as np
import pytest
import yaml

from mobile_vla.bag import BagError, BagReader, BagWriter, read_messages
from mobile_vla.msgs import image_to_numpy, twist_to_action

H, W = 720, 1280


def synthetic_frames(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8) for _ in range(n)]


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_720p_images_twists_strings_and_bools_read_back_identical(tmp_path, storage):
    frames = synthetic_frames(3)
    path = tmp_path / 'bag'
    with BagWriter(path, storage=storage) as bag:
        for i, image in enumerate(frames):
            t = 1_000_000_000 + i * 33_333_333
            bag.write_image('/camera/image', image, t, encoding='rgb8')
            bag.write_twist('/cmd_vel', (0.1 * i, -0.2, 1.15), t + 1)
        bag.write_string('/vla/command', 'go around the box on the left to the cup', 5)
        bag.write_bool('/control/estop', True, 6)

    messages = read_messages(path)
    assert [m.t_ns for m in messages] == sorted(m.t_ns for m in messages)
    images = [m for m in messages if m.topic == '/camera/image']
    assert len(images) == 3
    for msg, image in zip(images, frames, strict=True):
        np.testing.assert_array_equal(image_to_numpy(msg.msg), image)
        assert msg.msg.header.frame_id == 'camera_optical_frame'
        assert msg.msg.header.stamp.sec * 10**9 + msg.msg.header.stamp.nanosec == msg.t_ns
    twists = [twist_to_action(m.msg) for m in messages if m.topic == '/cmd_vel']
    assert twists == [(0.0, -0.2, 1.15), (0.1, -0.2, 1.15), (0.2, -0.2, 1.15)]
    [command] = [m for m in messages if m.topic == '/vla/command']
    assert command.msg.data == 'go around the box on the left to the cup'
    assert command.msgtype == 'std_msgs/msg/String'
    [estop] = [m for m in messages if m.topic == '/control/estop']
    assert estop.msg.data is True


def test_metadata_is_version_8_with_the_graph_qos(tmp_path):
    path = tmp_path / 'bag'
    with BagWriter(path) as bag:
        bag.write_image('/camera/image', np.zeros((4, 4, 3), np.uint8), 1)
        bag.write_string('/control/mode', 'vla', 2)
        bag.write_string('/custom/topic', 'x', 3)
    meta = yaml.safe_load((path / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert meta['version'] == 8
    assert meta['storage_identifier'] == 'sqlite3'
    assert meta['message_count'] == 3
    by_topic = {t['topic_metadata']['name']: t['topic_metadata']
                for t in meta['topics_with_message_count']}
    # Humble stores offered QoS as a YAML string inside the metadata.
    camera_qos = yaml.safe_load(by_topic['/camera/image']['offered_qos_profiles'])
    assert camera_qos[0]['reliability'] == 1  # reliable, as the camera offers it (REP 2003)
    mode_qos = yaml.safe_load(by_topic['/control/mode']['offered_qos_profiles'])
    assert mode_qos[0]['durability'] == 1 and mode_qos[0]['depth'] == 1  # transient local
    assert by_topic['/custom/topic']['offered_qos_profiles'] == ''


def test_reader_filters_topics_and_reports_what_is_missing(tmp_path):
    path = tmp_path / 'bag'
    with BagWriter(path) as bag:
        for i in range(5):
            bag.write_twist('/cmd_vel', (0.0, 0.0, 0.0), i)
            bag.write_string('/vla/command', str(i), i)
    with BagReader(path) as reader:
        assert reader.message_count == 10
        assert reader.topics['/cmd_vel'].count == 5
        assert [m.msg.data for m in reader.messages(['vla/command'])] == list('01234')
        assert len(list(reader.messages(['/cmd_vel'], start_ns=2, stop_ns=4))) == 2
        with pytest.raises(BagError, match='no topic /camera/image.*it has: /cmd_vel'):
            list(reader.messages(['/camera/image']))


def test_bags_are_never_overwritten_and_bad_paths_are_explained(tmp_path):
    path = tmp_path / 'bag'
    with BagWriter(path) as bag:
        bag.write_string('/vla/command', 'a', 1)
    with pytest.raises(BagError, match='never overwritten'):
        BagWriter(path)
    with pytest.raises(BagError, match='not a rosbag2 folder'):
        BagReader(tmp_path / 'nothing')
    with pytest.raises(BagError, match='unknown bag storage'):
        BagWriter(tmp_path / 'x', storage='tar')


def test_one_topic_carries_one_type(tmp_path):
    with BagWriter(tmp_path / 'bag') as bag:
        bag.write_string('/vla/command', 'a', 1)
        with pytest.raises(BagError, match='one topic carries one message type'):
            bag.write_bool('/vla/command', True, 2)
