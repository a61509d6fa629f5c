"""The camera stream: which frames are encoded (by stamps), and what the page gets."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mobile_vla.units import NS
from mobile_vla_web.frames import FRAME_HEADER, FrameGate, encode_jpeg


def passed(camera_fps: float, stream_fps: float, seconds: float = 10.0) -> float:
    gate = FrameGate(stream_fps)
    frames = int(camera_fps * seconds)
    return sum(gate.due(int(i * NS / camera_fps)) for i in range(frames)) / seconds


@pytest.mark.parametrize('camera, stream, expected', [
    (30.0, 15.0, 15.0), (20.0, 15.0, 15.0), (15.0, 15.0, 15.0), (10.0, 15.0, 10.0),
    (60.0, 15.0, 15.0), (29.97, 15.0, 15.0)])
def test_the_stream_runs_at_its_rate_or_the_cameras(camera, stream, expected):
    assert passed(camera, stream) == pytest.approx(expected, abs=0.2)


def test_jittered_stamps_do_not_halve_the_rate():
    rng = np.random.default_rng(0)
    gate = FrameGate(15.0)
    stamps = np.cumsum(rng.normal(1 / 15, 0.006, 300)) * NS
    assert sum(gate.due(int(t)) for t in stamps) >= 285


def test_a_restarted_camera_starts_again_and_a_gap_does_not_burst():
    gate = FrameGate(10.0)
    assert gate.due(100 * NS) and not gate.due(100 * NS + NS // 20)
    assert gate.due(5 * NS)  # stamps went back: a restarted camera
    assert gate.due(50 * NS)  # after a long gap, one frame...
    assert not gate.due(50 * NS + NS // 30)  # ...not a burst of the missed slots


def test_a_frame_is_downscaled_never_upscaled_and_keeps_its_colours():
    rgb = np.zeros((720, 1280, 3), np.uint8)
    rgb[..., 0] = 250  # red
    frame = encode_jpeg(rgb, 'rgb', 640, 80, 7, 123)
    assert (frame.width, frame.height, frame.seq, frame.stamp_ns) == (640, 360, 7, 123)
    bgr = cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert bgr.shape == (360, 640, 3) and bgr[100, 100, 2] > 230 and bgr[100, 100, 0] < 20
    small = encode_jpeg(np.zeros((90, 160, 3), np.uint8), 'bgr', 640, 80, 1, 0)
    assert (small.width, small.height) == (160, 90)


def test_the_binary_message_carries_stamp_sequence_and_size():
    frame = encode_jpeg(np.zeros((360, 640, 3), np.uint8), 'rgb', 640, 75, 42, 2**40)
    message = frame.message()
    assert FRAME_HEADER.unpack(message[:FRAME_HEADER.size]) == (2**40, 42, 640, 360)
    assert message[FRAME_HEADER.size:] == frame.jpeg and frame.jpeg[:2] == b'\xff\xd8'


@pytest.mark.parametrize('shape', [(720, 1280), (720, 1280, 4), (720, 1280, 1)])
def test_a_frame_that_is_not_colour_is_refused_with_its_shape(shape):
    with pytest.raises(ValueError, match='colour image'):
        encode_jpeg(np.zeros(shape, np.uint8), 'rgb', 640, 75, 1, 0)
