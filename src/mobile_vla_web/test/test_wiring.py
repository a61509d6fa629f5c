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
from mobile_vla.units import NS
from mobile_vla_web.wiring import WebWiring

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


def drive(key, sent):
    """A drive message as the page sends it: stamped by the page's own clock (ms)."""
    return {'type': 'drive', 'key': key, 'sent_ms': 55_000.0 + sent * 1000}


def test_a_held_key_drives_at_the_rate_and_lapses_when_the_page_stops_repeating():
    held = [(0.1 * i, drive('w', 0.1 * i)) for i in range(1, 11)]  # 0.1-1.0 s
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


def test_keys_queued_in_a_stall_are_not_replayed_and_a_held_one_needs_a_new_press():
    """The link stalls from 0.55 s to 3.55 s with W held: the page's repeats and its
    release wait in the link and arrive at once. Nothing drives after the stall, and W,
    still held, drives again only after a release and a new press."""
    calls = [(0.1 * i, drive('w', 0.1 * i)) for i in range(1, 6)]             # 0.1-0.5 s
    calls += [(3.55, drive('w', t)) for t in (0.6, 0.7, 0.8)]                  # queued
    calls += [(3.6 + 0.1 * i, drive('w', 3.6 + 0.1 * i)) for i in range(5)]   # still held
    calls += [(4.1, drive(None, 4.1)), (4.3, drive('w', 4.3))]                 # a new press
    _wiring, log, replies = run(calls, 5.0)
    out = velocities(log)
    assert (0.8, (0.0, 0.0, 0.0)) in out  # the watchdog: 0.3 s after the last repeat
    assert all(v == (0.0, 0.0, 0.0) for t, v in out if 0.8 <= t < 4.3)
    refused = [(t, r.status) for t, r in replies if not r.ok]
    assert [s for t, s in refused if t == 3.55] == [409, 409, 409]      # late: dropped
    assert all(s == 409 for t, s in refused if 3.6 <= t < 4.1)          # release first
    assert [v for t, v in out if t >= 4.3][0] == (0.575, 0.0, 0.0)  # the new press drives
    assert out[0][0] == 0.1 and [t for t, v in out if t >= 4.3][0] == 4.3


def test_a_drive_decided_before_a_stall_of_this_process_goes_out_as_zero():
    """The process stops between deciding and publishing (SIGSTOP, a starved CPU): the
    command it decided 3 s ago must not drive now."""
    log = MessageLog()
    executor = ReplayExecutor(sink=log)
    wiring = WebWiring(ReplayBus(executor, {'episodes_dir': '/nonexistent'}, msgs=MSGS),
                       token=TOKEN)
    replies = []

    def call(msg, t_ns):
        readings = iter([t_ns / NS, t_ns / NS + 3.0])  # decided, then about to publish
        wiring.now = lambda: next(readings, t_ns / NS + 3.0)
        replies.append(wiring.control('console-1', '127.0.0.1', TOKEN, msg.data, 'page'))

    executor.subscribe(CALL, call)
    executor.run([BagMessage(CALL, 'std_msgs/msg/String', NS // 10,
                             MSGS.string(json.dumps(drive('w', 0.1))))],
                 start_ns=0, end_ns=NS // 10)
    assert replies[0].ok and replies[0].publish == [(topics.TELEOP_CMD_VEL, (0.575, 0.0, 0.0))]
    out = velocities(log)
    assert out and all(v == (0.0, 0.0, 0.0) for _, v in out)
