import array
from types import SimpleNamespace

import numpy as np
import pytest

from mobile_vla.actions import InvalidActionError
from mobile_vla.bag import MessageFactory
from mobile_vla.msgs import (
    ENCODINGS,
    ImageConversionError,
    SecondsSince,
    action_to_twist_fields,
    as_array_data,
    checked_twist_to_action,
    image_fields,
    image_to_numpy,
    ns_to_stamp,
    stamp_to_ns,
    to_rgb,
    twist_to_action,
)

H, W = 720, 1280
RNG = np.random.default_rng(7)


def frame(encoding: str, height: int = H, width: int = W) -> np.ndarray:
    enc = ENCODINGS[encoding]
    shape = (height, width) if enc.channels == 1 else (height, width, enc.channels)
    if enc.dtype == 'f4':
        return RNG.standard_normal(shape).astype(np.float32)
    info = np.iinfo(np.dtype(enc.dtype))
    return RNG.integers(0, info.max, size=shape, endpoint=True, dtype=np.dtype(enc.dtype))


def padded_msg(image: np.ndarray, encoding: str, pad: int, data_kind: str):
    """An Image-shaped object whose rows carry ``pad`` extra bytes, as some drivers send."""
    fields = image_fields(image, encoding)
    rows = fields['data'].reshape(fields['height'], fields['step'])
    padded = np.zeros((fields['height'], fields['step'] + pad), np.uint8)
    padded[:, : fields['step']] = rows
    padded[:, fields['step']:] = 0xAB
    data = {'numpy': padded.reshape(-1), 'bytes': padded.tobytes(),
            'array': as_array_data(padded.reshape(-1))}[data_kind]
    return SimpleNamespace(**{**fields, 'step': fields['step'] + pad, 'data': data})


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8'])
@pytest.mark.parametrize('pad', [0, 64])
@pytest.mark.parametrize('data_kind', ['numpy', 'bytes', 'array'])
def test_720p_round_trip_is_bit_exact_and_zero_copy(encoding, pad, data_kind):
    image = frame(encoding)
    msg = padded_msg(image, encoding, pad, data_kind)
    out = image_to_numpy(msg)
    np.testing.assert_array_equal(out, image)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8', 'mono16'])
def test_rosbags_messages_round_trip_through_cdr(encoding):
    factory = MessageFactory()
    image = frame(encoding)
    msg = factory.image(image, encoding, t_ns=5)
    raw = factory.typestore.serialize_cdr(msg, 'sensor_msgs/msg/Image')
    back = factory.typestore.deserialize_cdr(raw, 'sensor_msgs/msg/Image')
    np.testing.assert_array_equal(image_to_numpy(back), image)
    assert (back.header.stamp.sec, back.header.stamp.nanosec) == (0, 5)


def test_numpy_to_fields_copies_nothing_for_contiguous_arrays():
    image = frame('rgb8')
    fields = image_fields(image, 'rgb8')
    assert np.shares_memory(fields['data'], image)
    assert fields['step'] == W * 3 and fields['is_bigendian'] == 0
    view = image[:, ::-1]  # not contiguous: exactly one copy
    fields = image_fields(view, 'rgb8')
    assert not np.shares_memory(fields['data'], image)
    np.testing.assert_array_equal(fields['data'].reshape(H, W, 3), view)


@pytest.mark.parametrize('big', [False, True])
def test_16_bit_images_honour_is_bigendian(big):
    values = frame('mono16', 4, 6)
    raw = values.astype('>u2' if big else '<u2').tobytes()
    msg = SimpleNamespace(height=4, width=6, encoding='mono16', is_bigendian=int(big),
                          step=12, data=raw)
    np.testing.assert_array_equal(image_to_numpy(msg), values)
    fields = image_fields(values.astype('>u2'), 'mono16')
    assert fields['is_bigendian'] == 1
    np.testing.assert_array_equal(image_to_numpy(SimpleNamespace(**fields)), values)


@pytest.mark.parametrize('change, match', [
    ({'encoding': 'yuv422_yuy2'}, 'unsupported image encoding'),
    ({'step': W * 3 - 1}, 'shorter than one row'),
    ({'height': 0}, 'zero size'),
    ({'width': 0}, 'zero size'),
    ({'data': b'\0' * (H * W * 3 - 1)}, 'truncated'),
    ({'data': b'\0' * (H * W * 3 + 7)}, 'height\\*step'),
    ({'data': object()}, 'not a byte buffer'),
])
def test_malformed_images_raise_one_clear_error(change, match):
    fields = image_fields(np.zeros((H, W, 3), np.uint8), 'rgb8')
    msg = SimpleNamespace(**{**fields, **change})
    with pytest.raises(ImageConversionError, match=match):
        image_to_numpy(msg)


@pytest.mark.parametrize('image, encoding', [
    (np.zeros((4, 4), np.uint8), 'rgb8'),
    (np.zeros((4, 4, 3), np.float32), 'rgb8'),
    (np.zeros((0, 4, 3), np.uint8), 'rgb8'),
    (np.zeros((4, 4, 3), np.uint8), 'rgba8'),
])
def test_arrays_that_do_not_fit_the_encoding_are_refused(image, encoding):
    with pytest.raises(ImageConversionError):
        image_fields(image, encoding)


def test_to_rgb_reorders_channels():
    rgb = frame('rgb8', 8, 8)
    np.testing.assert_array_equal(to_rgb(rgb[:, :, ::-1], 'bgr8'), rgb)
    bgra = np.concatenate([rgb[:, :, ::-1], np.full((8, 8, 1), 255, np.uint8)], axis=2)
    np.testing.assert_array_equal(to_rgb(bgra, 'bgra8'), rgb)
    mono = rgb[:, :, 0]
    assert to_rgb(mono, 'mono8').shape == (8, 8, 3)
    with pytest.raises(ImageConversionError):
        to_rgb(np.zeros((2, 2), np.uint16), 'mono16')


def test_rclpy_style_array_data_is_one_copy():
    image = frame('rgb8', 16, 16)
    data = as_array_data(image_fields(image, 'rgb8')['data'])
    assert isinstance(data, array.array) and data.typecode == 'B'
    assert data.tobytes() == image.tobytes()


def test_twist_conversions():
    factory = MessageFactory()
    msg = factory.twist((0.5, -1.15, 0.25))
    assert twist_to_action(msg) == (0.5, -1.15, 0.25)
    stamped = factory.twist_stamped((0.1, 0.2, 0.3), 10)
    assert twist_to_action(stamped) == pytest.approx((0.1, 0.2, 0.3))
    assert action_to_twist_fields((1.0, 2.0)) == {
        'linear': (1.0, 2.0, 0.0), 'angular': (0.0, 0.0, 0.0)}
    with pytest.raises(InvalidActionError):
        action_to_twist_fields((float('nan'), 0.0, 0.0))
    with pytest.raises(InvalidActionError):
        action_to_twist_fields((1.0,))
    bad = factory.twist((0.0, 0.0, 0.0))
    bad.linear.x = float('inf')
    with pytest.raises(InvalidActionError):
        checked_twist_to_action(bad)


def test_stamps_convert_exactly():
    assert ns_to_stamp(1_714_557_996_445_048_407) == (1_714_557_996, 445_048_407)
    assert stamp_to_ns(SimpleNamespace(sec=3, nanosec=999_999_999)) == 3_999_999_999
    with pytest.raises(ValueError):
        ns_to_stamp(-1)


def test_seconds_since_keeps_nanosecond_intervals_at_epoch_scale():
    epoch = 1_714_557_996_445_048_407
    to_s = SecondsSince()
    assert to_s(epoch) == 0.0
    assert to_s(epoch + 50_000_000) - to_s(epoch) == 0.05
    assert to_s(epoch + 1) == 1e-9
    assert to_s(epoch - 2 * 10**9) == -2.0  # a clock that went back stays visible
    # Plain float seconds at this scale get a 50 ms interval wrong by far more than 1 ns.
    assert abs(((epoch + 50_000_000) * 1e-9 - epoch * 1e-9) - 0.05) > 1e-9
