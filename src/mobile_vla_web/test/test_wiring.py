"""The web console's wiring in the replay executor: the code the node runs under rclpy,
in exact time. Calls the server would make come in on a test topic at given instants."""

from __future__ import annotations

import json

import cv2
import numpy as np

from mobile_vla import topics
from mobile_vla.bag import BagMessage, MessageFactory
from mobile_vla.bus import ReplayBus
from mobile_vla.msgs import twist_to_action
from mobile_vla.replay import MessageLog, ReplayExecutor
from mobile_vla_web.wiring import WebWiring

NS = 1_000_000_000
MSGS = MessageFactory()
TOKEN = 'wiring-test-token-0123456789'
CALL = '/test/call'


def run(calls, end_s, frames=0, params=None, extra=()):
    """``calls``: (seconds, message) sent as a page would, by console-1."""
    log = MessageLog()
    executor = ReplayExecutor(sink=log)
    wiring = WebWiring(ReplayBus(executor, {'episodes_dir': '/nonexistent', **(params or {})},
                                 msgs=MSGS), token=TOKEN)
    replies = []
    executor.subscribe(CALL, lambda msg, t: replies.append(
        (t / NS, wiring.control('console-1', '127.0.0.1', TOKEN, msg.data, 'page'))))
    stream = [BagMessage(CALL, 'std_msgs/msg/String', int(t * NS), MSGS.string(json.dumps(m)))
              for t, m in calls]
    image = np.zeros((720, 1280, 3), np.uint8)
    image[:, :640] = (255, 0, 0)  # left half red, in rgb8
    stream += [BagMessage(topics.CAMERA_IMAGE.path, topics.CAMERA_IMAGE.msgtype,
                          int(i * NS / 30), MSGS.image(image, 'rgb8', int(i * NS / 30)))
               for i in range(frames)]
    stream += list(extra)
    executor.run(sorted(stream, key=lambda m: m.t_ns), start_ns=0, end_ns=int(end_s * NS))
    return wiring, log, replies


def velocities(log):
    return [(m.t_ns / NS, twist_to_action(m.msg)) for m in log.on(topics.TELEOP_CMD_VEL.name)]


def test_a_held_key_drives_at_the_rate_and_lapses_when_the_page_stops_repeating():
    held = [(0.1 * i, {'type': 'drive', 'key': 'w'}) for i in range(1, 11)]  # 0.1-1.0 s
    _wiring, log, replies = run(held, 2.0)
    assert all(reply.ok for _, reply in replies)
    out = velocities(log)
    assert out[0] == (0.1, (0.575, 0.0, 0.0))
    moving = [t for t, v in out if v != (0.0, 0.0, 0.0)]
    stops = [t for t, v in out if v == (0.0, 0.0, 0.0)]
    assert len(stops) == 1 and 1.3 - 1e-6 <= stops[0] <= 1.35  # 0.3 s after the last repeat
    gaps = np.diff(moving)
    assert np.allclose(gaps, 0.1, atol=1e-6)  # 10 Hz


def test_each_frame_is_encoded_once_at_the_stream_rate():
    wiring, _log, _ = run([], 1.0, frames=30, params={'stream_fps': 15.0})
    frame = wiring.latest_frame()
    assert wiring.gate.passed == 15 and wiring.encoded.received == 15
    assert (frame.width, frame.height) == (640, 360)
    decoded = cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (360, 640, 3)
    assert decoded[180, 100, 2] > 200 and decoded[180, 100, 0] < 60  # red stays red (BGR)
    assert frame.stamp_ns == int(28 * NS / 30)


def test_actions_publish_on_the_robots_topics_and_the_state_follows_the_arbiter():
    calls = [(0.1, {'type': 'instruction', 'text': 'go left'}),
             (0.2, {'type': 'mode', 'mode': 'hybrid'}),
             (0.3, {'type': 'estop', 'engaged': True}),
             (0.4, {'type': 'record', 'action': 'start', 'scenario': 2})]
    state = BagMessage(topics.CONTROL_STATE.path, topics.CONTROL_STATE.msgtype, int(0.5 * NS),
                       MSGS.string(json.dumps({'mode': 'hybrid', 'estop': {'latched': True}})))
    wiring, log, _ = run(calls, 1.0, extra=[state])
    assert [m.msg.data for m in log.on(topics.VLA_COMMAND.name)] == ['go left']
    assert [m.msg.data for m in log.on(topics.CONTROL_MODE.name)] == ['hybrid']
    assert [m.msg.data for m in log.on(topics.CONTROL_ESTOP.name)] == [True]
    assert [m.msg.data for m in log.on(topics.RECORDER_CONTROL.name)] == [
        'start 1box_vert_right']
    shown = wiring.api.state(1.0)
    assert shown['estop'] is True and shown['mode'] == 'hybrid'
    assert shown['recent_instructions'] == ['go left']


def test_its_health_goes_to_diagnostics():
    _wiring, log, _ = run([], 2.5, frames=60)
    status = log.on(topics.DIAGNOSTICS.name)[-1].msg.status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert status.name == 'web_console: console'
    assert float(values['camera.rate_hz']) == 30.0
    assert float(values['stream.rate_hz']) == 15.0
