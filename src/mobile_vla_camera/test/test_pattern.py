"""The synthetic test pattern: the same index gives the same pixels, and its block
counter reads back through resizing and lossy compression."""

import cv2
import numpy as np
import pytest

from mobile_vla_camera.pattern import BITS, PERIOD, PIXELS_PER_FRAME, read_counter, render


@pytest.mark.parametrize('index', [0, 1, 2**16 + 5, 2**BITS - 1])
def test_the_counter_reads_back_at_every_size(index):
    frame = render(index)
    assert frame.shape == (720, 1280, 3) and frame.dtype == np.uint8
    assert read_counter(frame) == index
    for size in ((640, 360), (224, 224), (1920, 1080)):
        assert read_counter(cv2.resize(frame, size, interpolation=cv2.INTER_AREA)) == index


def test_the_counter_survives_jpeg_and_the_scene_moves():
    index = 123_456
    ok, data = cv2.imencode('.jpg', render(index), [cv2.IMWRITE_JPEG_QUALITY, 50])
    assert ok and read_counter(cv2.imdecode(data, cv2.IMREAD_COLOR)) == index
    np.testing.assert_array_equal(render(index), render(index))
    below_digits = slice(200, None)  # the scene, below the counter and the digits
    assert not np.array_equal(render(index)[below_digits], render(index + 1)[below_digits])
    # the moving layers repeat after PERIOD / PIXELS_PER_FRAME frames
    np.testing.assert_array_equal(render(index)[below_digits],
                                  render(index + PERIOD // PIXELS_PER_FRAME)[below_digits])


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match='must fit in 32 bits'):
        render(2**BITS)
    with pytest.raises(ValueError, match='must fit in 32 bits'):
        render(-1)
    with pytest.raises(ValueError, match='need a colour image'):
        read_counter(np.zeros((720, 1280), np.uint8))
