import array

import cv2
import numpy as np
import pytest

from mobile_vla.config import ConfigError, from_params, load_node_params
from mobile_vla.msgs import array_buffer, image_to_numpy
from mobile_vla.policy.configuration_policy import load_preset
from mobile_vla.policy.preprocess import ImagePreprocessor, resize_frame
from mobile_vla.units import NS
from mobile_vla_camera.calibration import load_calibration
from mobile_vla_camera.publisher import CameraConfig, CameraPublisher, make_source
from mobile_vla_camera.sources import CsiSource, Frame

S = NS  # a second, in nanoseconds
BGR = np.random.default_rng(5).integers(0, 256, (720, 1280, 3), dtype=np.uint8)


def as_msg(out):
    class Msg:
        pass

    msg = Msg()
    for key, value in out.fields.items():
        setattr(msg, key, value)
    return msg


@pytest.mark.parametrize('encoding, expected', [
    ('rgb8', BGR[:, :, ::-1]), ('bgr8', BGR)])
def test_frames_become_image_fields_in_the_chosen_order(encoding, expected):
    pub = CameraPublisher(CameraConfig(source='synthetic', encoding=encoding))
    out = pub.render(Frame(BGR, 0), 5 * S)
    np.testing.assert_array_equal(image_to_numpy(as_msg(out)), expected)
    assert out.fields['encoding'] == encoding and out.fields['step'] == 1280 * 3
    assert out.stamp_ns == 5 * S and out.frame_id == 'camera_optical_frame'


def test_pixels_are_written_once_into_the_rclpy_buffer():
    pub = CameraPublisher(CameraConfig(source='synthetic'), alloc=array_buffer)
    out = pub.render(Frame(BGR, 0), 0)
    data = out.fields['data']
    assert isinstance(data, array.array) and data.typecode == 'B'
    assert len(data) == 720 * 1280 * 3
    np.testing.assert_array_equal(np.frombuffer(data, np.uint8).reshape(720, 1280, 3),
                                  BGR[:, :, ::-1])


def test_upside_down_usb_camera_is_rotated_and_resized():
    config = CameraConfig(source='v4l2', rotate_180=True, output_width=640, output_height=360)
    out = CameraPublisher(config).render(Frame(BGR, 0), 0)
    expected = cv2.resize(BGR, (640, 360), interpolation=cv2.INTER_AREA)[::-1, ::-1, ::-1]
    np.testing.assert_array_equal(image_to_numpy(as_msg(out)), expected)
    # Recorded media and the pattern are upright: rotate_180 leaves them alone.
    out = CameraPublisher(CameraConfig(source='synthetic', rotate_180=True)).render(
        Frame(BGR, 0), 0)
    np.testing.assert_array_equal(image_to_numpy(as_msg(out)), BGR[:, :, ::-1])


def test_csi_rotates_in_the_isp():
    source = make_source(CameraConfig(source='csi', rotate_180=True))
    assert isinstance(source, CsiSource) and 'flip-method=2' in source.pipeline
    source = make_source(CameraConfig(source='csi', rotate_180=True, flip_method=6))
    assert 'flip-method=6' in source.pipeline


@pytest.mark.parametrize('image', [
    None, np.zeros((720, 1280), np.uint8), np.zeros((720, 1280, 3), np.float32),
    np.zeros((0, 1280, 3), np.uint8), np.zeros((720, 1280, 4), np.uint8)])
def test_bad_frames_are_counted_and_skipped(image):
    pub = CameraPublisher(CameraConfig(source='synthetic'))
    assert pub.render(Frame(image, 0), 0) is None
    assert pub.bad_frames == 1 and 'bad frame 0' in pub.last_error
    assert pub.render(Frame(BGR, 1), 0) is not None
    level, message, _ = pub.diagnostics(0)
    assert pub.diagnostics(0)[2]['bad_frames'] == '1'


def test_index_gaps_count_as_dropped_frames():
    pub = CameraPublisher(CameraConfig(source='synthetic'))
    pub.opened(0)
    for index in (0, 1, 4, 5, 9):
        pub.render(Frame(BGR, index), 0)
    assert pub.frames_dropped == 5


def test_backoff_doubles_up_to_the_limit_and_diagnostics_explain():
    pub = CameraPublisher(CameraConfig(source='csi', retry_initial_s=0.5, retry_max_s=3.0))
    waits = [pub.failed('csi: the pipeline did not start', k * 10 * S) for k in range(5)]
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0]
    level, message, values = pub.diagnostics(40 * S)
    assert level == 'ERROR' and 'retrying in 3.0 s' in message
    assert values['failures'] == '5'
    assert pub.retry_wait_s(40 * S) == pytest.approx(3.0)
    assert pub.retry_wait_s(43 * S) == 0.0
    pub.opened(43 * S)
    for k in range(31):
        t = 43 * S + k * S // 30
        out = pub.render(Frame(BGR, k), t)
        pub.published(out.stamp_ns, t + 2_000_000)
    level, message, values = pub.diagnostics(44 * S)
    assert level == 'OK' and values['rate_hz'] == '30.00'
    assert values['latency_ms_p50'] == '2.00'
    level, message, _ = pub.diagnostics(47 * S)
    assert level == 'ERROR' and 'stalled' in message and 'nvargus-daemon' in message


def test_camera_info_follows_the_published_size(tmp_path, calibration_file):
    path = calibration_file
    pub = CameraPublisher(CameraConfig(source='synthetic'), load_calibration(path))
    info = pub.camera_info(1280, 720)
    assert info['k'][:3] == [900, 0, 640] and info['d'] == [0.1, -0.2, 0, 0, 0]
    small = pub.camera_info(640, 360)
    assert small['k'] == [450, 0, 320, 0, 455, 180, 0, 0, 1]
    assert small['p'][:3] == [450, 0, 320] and (small['width'], small['height']) == (640, 360)
    assert CameraPublisher(CameraConfig(source='synthetic')).camera_info(1280, 720) is None
    path.write_text('image_width: 1280\n')
    with pytest.raises(ConfigError, match='missing or has a bad entry'):
        load_calibration(path)
    with pytest.raises(ConfigError, match='not found'):
        load_calibration(tmp_path / 'nope.yaml')


@pytest.mark.parametrize('overrides, match', [
    ({'source': 'webcam'}, 'source must be'), ({'encoding': 'yuv'}, 'rgb8 or bgr8'),
    ({'source': 'file'}, 'needs the path'), ({'output_width': 640}, 'both output_width'),
    ({'fps': 0}, 'fps must be'), ({'flip_method': 9}, 'flip_method'),
    ({'policy_size': -1}, 'policy_size'), ({'fps': float('nan')}, 'fps must be'),
])
def test_config_errors_name_the_parameter(overrides, match):
    with pytest.raises(ConfigError, match=match):
        CameraConfig(**overrides)


def test_the_shipped_yaml_is_valid(workspace_config):
    params = load_node_params(workspace_config / 'camera.yaml', 'camera_publisher')
    config = from_params(CameraConfig, params)
    assert config.source == 'csi' and config.rotate_180


@pytest.mark.parametrize('encoding, order', [('rgb8', 'rgb'), ('bgr8', 'bgr')])
def test_the_policy_copy_is_exactly_what_the_policy_makes_of_the_full_frame(encoding, order):
    pub = CameraPublisher(CameraConfig(source='synthetic', encoding=encoding))
    out = pub.render(Frame(BGR, 3), 5 * S)
    small = out.policy_fields
    assert (small['width'], small['height'], small['encoding']) == (224, 224, encoding)
    assert small['step'] == 224 * 3 and out.fields['encoding'] == encoding
    full = image_to_numpy(as_msg(out))
    policy_view = image_to_numpy(as_msg(type(out)(small, 0, '', 0)))
    # Preprocessing the small copy gives the very tensor the full frame would have.
    preprocess = ImagePreprocessor(load_preset('kosmos2_clip_tiny'))
    np.testing.assert_array_equal(preprocess(policy_view, order), preprocess(full, order))


def test_the_policy_copy_follows_rotation_and_can_be_turned_off():
    config = CameraConfig(source='v4l2', rotate_180=True, policy_size=64)
    out = CameraPublisher(config).render(Frame(BGR, 0), 0)
    small = out.policy_fields
    assert (small['width'], small['height']) == (64, 64)
    expected = resize_frame(np.ascontiguousarray(BGR[::-1, ::-1, ::-1]), 64, 64)
    got = np.frombuffer(small['data'], np.uint8).reshape(64, 64, 3)
    np.testing.assert_array_equal(got, expected)
    off = CameraPublisher(CameraConfig(source='synthetic', policy_size=0)).render(Frame(BGR, 0), 0)
    assert off.policy_fields is None
