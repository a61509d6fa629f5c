"""The camera_publisher's wiring in the replay executor, as the simulator drives it: each
frame goes out as the policy-sized copy first, then camera/image and its camera_info at
the capture stamp; health on /diagnostics once a second."""

from __future__ import annotations

import numpy as np
import pytest

from mobile_vla import topics
from mobile_vla.bag import BagMessage, MessageFactory
from mobile_vla.bus import ReplayBus
from mobile_vla.replay import MessageLog, ReplayExecutor
from mobile_vla.units import NS
from mobile_vla_camera.publisher import CameraConfig
from mobile_vla_camera.sources import Frame
from mobile_vla_camera.wiring import CameraWiring

MSGS = MessageFactory()
SHOOT = '/test/shoot'


def shoot(params, seconds=3.0, fps=10):
    """Frames captured every 1/fps s for ``seconds``, through the wiring."""
    log = MessageLog()
    executor = ReplayExecutor(sink=log)
    wiring = CameraWiring(ReplayBus(executor, params, msgs=MSGS))
    image = np.zeros((720, 1280, 3), np.uint8)
    image[:, :640] = (0, 0, 255)  # left half red, in BGR
    published = []
    executor.subscribe(SHOOT, lambda msg, t: published.append(
        wiring.publish_frame(Frame(image, len(published)), t)))
    stream = [BagMessage(SHOOT, 'std_msgs/msg/String', int(k * NS / fps), MSGS.string(''))
              for k in range(int(seconds * fps))]
    executor.run(stream, start_ns=0, end_ns=int(seconds * NS))
    return log, published


@pytest.fixture
def calibrated(calibration_file):
    return {'source': 'synthetic', 'calibration_file': str(calibration_file),
            'output_width': 640, 'output_height': 360}


def test_each_frame_goes_out_policy_copy_first_then_the_image_and_its_info(calibrated):
    log, published = shoot(calibrated)
    assert published == [True] * 30
    frames = [m for m in log.messages if m.topic in (
        topics.CAMERA_IMAGE_POLICY.path, topics.CAMERA_IMAGE.path, topics.CAMERA_INFO.path)]
    assert [m.topic for m in frames] == [topics.CAMERA_IMAGE_POLICY.path,
                                         topics.CAMERA_IMAGE.path,
                                         topics.CAMERA_INFO.path] * 30
    size = CameraConfig.policy_size
    for k in range(30):
        policy, image, info = (frames[3 * k + i].msg for i in range(3))
        stamp = k * NS // 10
        for msg in (policy, image, info):
            assert msg.header.stamp.sec * NS + msg.header.stamp.nanosec == stamp
            assert msg.header.frame_id == CameraConfig.frame_id
        assert (policy.width, policy.height) == (size, size)
        assert (image.width, image.height, image.encoding) == (640, 360, 'rgb8')
        pixels = np.frombuffer(bytes(image.data), np.uint8).reshape(360, 640, 3)
        assert tuple(pixels[180, 100]) == (255, 0, 0)  # red on the left, in rgb8
        # the calibration scaled to the published size
        assert (info.width, info.height) == (640, 360) and list(info.k)[:3] == [450, 0, 320]


def test_health_goes_to_diagnostics_once_a_second_and_no_calibration_no_info():
    log, _ = shoot({'source': 'synthetic', 'policy_size': 0})
    assert not log.on(topics.CAMERA_INFO.path) and not log.on(topics.CAMERA_IMAGE_POLICY.path)
    assert len(log.on(topics.CAMERA_IMAGE.path)) == 30
    diagnostics = log.on(topics.DIAGNOSTICS.path)
    assert [m.t_ns for m in diagnostics] == [0, NS, 2 * NS, 3 * NS]
    [status] = diagnostics[-1].msg.status
    assert status.name == 'camera_publisher: camera' and status.hardware_id == 'synthetic'
    values = {v.key: v.value for v in status.values}
    # Handed its frames, the camera is open from the first one: OK, not 'opening'.
    assert (status.level, values['state']) == (0, 'streaming'), status.message
    assert float(values['rate_hz']) == pytest.approx(10, abs=0.5)
