"""Each node under real rclpy: its own process, started as ``ros2 run`` starts it (console
script, ``--ros-args --params-file config/<node>.yaml``, ``-p`` overrides), checked over
real DDS topics and the real parameter services from an rclpy probe."""

from __future__ import annotations

import json
import signal
import time

import numpy as np
import pytest
from ros_harness import DISCOVERY_S, NodeProcess, Probe, action, is_zero

from mobile_vla import topics
from mobile_vla.episode import validate_episode
from mobile_vla.graph import ARBITER, CAMERA, INFERENCE, RECORDER
from mobile_vla.msgs import as_array_data

LEFT = 'go around the box on the left to the cup'


@pytest.fixture
def probe():
    probe = Probe()
    yield probe
    probe.close()


@pytest.fixture
def started(tmp_path):
    """Start nodes; every one is stopped at the end, whatever the test did."""
    nodes = []

    def start(spec, workspace, **kwargs):
        kwargs.setdefault('params_file', workspace / 'config' / spec.config)
        node = NodeProcess(spec, tmp_path, **kwargs)
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.stop()


def rate_hz(messages: list, since: float) -> float:
    times = [t for t, _ in messages if t >= since]
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 2 else 0.0


def publish_for(probe: Probe, publisher, msg, seconds: float, rate: float = 20.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        publisher.publish(msg)
        probe.spin_for(1.0 / rate)


def _twist(values):
    from geometry_msgs.msg import Twist

    msg = Twist()
    msg.linear.x, msg.linear.y, msg.angular.z = (float(v) for v in values)
    return msg


def image_msg(probe: Probe, rgb: np.ndarray):
    from sensor_msgs.msg import Image

    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding='rgb8', step=rgb.shape[1] * 3,
                data=as_array_data(rgb))
    msg.header.stamp = probe.node.get_clock().now().to_msg()
    msg.header.frame_id = 'camera_optical_frame'
    return msg


def string_msg(text: str):
    from std_msgs.msg import String

    return String(data=text)


def bool_msg(value: bool):
    from std_msgs.msg import Bool

    return Bool(data=value)


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_arbiter_drives_stops_and_leaves_zero(workspace, started, probe, sig):
    arbiter = started(ARBITER, workspace, overrides={'initial_mode': 'vla'})
    cmd = probe.listen_to(topics.CMD_VEL)
    state = probe.listen_to(topics.CONTROL_STATE)
    policy = probe.publisher(topics.ROBOT_ACTION)
    estop = probe.publisher(topics.CONTROL_ESTOP)
    assert probe.spin_until(lambda: len(cmd) >= 5, DISCOVERY_S), arbiter.log()
    start = time.monotonic()
    probe.spin_for(1.5)
    assert 15.0 <= rate_hz(cmd, start) <= 25.0  # rate_hz: 20 in config/control.yaml
    assert all(is_zero(m) for _, m in cmd)  # nothing drives yet: zero, never silence

    assert probe.get_parameters(arbiter.fqn, ['rate_hz', 'initial_mode', 'sources.vla.topic',
                                              'max_velocity']) == {
        'rate_hz': 20.0, 'initial_mode': 'vla', 'sources.vla.topic': 'robot/action',
        'max_velocity': [1.15, 1.15, 1.15]}
    assert probe.wait_for_subscribers(policy)
    publish_for(probe, policy, _twist((0.5, 0.0, 0.0)), 1.0)
    assert action(cmd[-1][1]) == pytest.approx((0.5, 0.0, 0.0))
    assert json.loads(state[-1][1].data)['mode'] == 'vla'

    estop.publish(bool_msg(True))
    engaged = time.monotonic()
    publish_for(probe, policy, _twist((0.5, 0.0, 0.0)), 0.5)
    after = [m for t, m in cmd if t > engaged + 0.1]
    assert after and all(is_zero(m) for m in after)

    # A release while the policy still drives is held: releasing never lurches.
    estop.publish(bool_msg(False))
    publish_for(probe, policy, _twist((0.5, 0.0, 0.0)), 0.5)
    assert is_zero(cmd[-1][1])
    publish_for(probe, policy, _twist((0.0, 0.0, 0.0)), 0.5)
    publish_for(probe, policy, _twist((0.5, 0.0, 0.0)), 1.0)
    assert not is_zero(cmd[-1][1])
    # The signal arrives while the policy drives: the last command is zero, and it exits 0.
    arbiter.send(sig)
    publish_for(probe, policy, _twist((0.5, 0.0, 0.0)), 0.3)
    assert arbiter.wait(10) == 0, arbiter.log()
    probe.spin_for(0.5)
    assert is_zero(cmd[-1][1]), arbiter.log()


def test_a_bad_parameter_ends_the_node_with_one_line(workspace, started):
    arbiter = started(ARBITER, workspace, overrides={'rate_hz': -1.0})
    assert arbiter.wait(30) == 2
    log = arbiter.log()
    assert 'control_arbiter: configuration error: ArbiterConfig: rate_hz must be > 0' in log
    assert 'Traceback' not in log


def test_camera_publishes_at_its_rate(workspace, started, probe):
    camera = started(CAMERA, workspace, overrides={
        'source': 'synthetic', 'width': 320, 'height': 240, 'fps': 30.0})
    images = probe.listen_to(topics.CAMERA_IMAGE)
    diagnostics = probe.listen_to(topics.DIAGNOSTICS)
    assert probe.spin_until(lambda: len(images) >= 5, DISCOVERY_S), camera.log()
    start = time.monotonic()
    probe.spin_for(2.0)
    assert 24.0 <= rate_hz(images, start) <= 36.0
    msg = images[-1][1]
    assert (msg.width, msg.height, msg.encoding, msg.header.frame_id) == (
        320, 240, 'rgb8', 'camera_optical_frame')
    assert probe.get_parameters(camera.fqn, ['source', 'fps']) == {
        'source': 'synthetic', 'fps': 30.0}
    assert probe.spin_until(lambda: diagnostics, 3.0)
    assert diagnostics[-1][1].status[0].name == 'camera_publisher: camera'
    camera.send(signal.SIGTERM)
    assert camera.wait(10) == 0, camera.log()


def test_inference_drives_on_frames_and_an_instruction(workspace, started, probe):
    inference = started(INFERENCE, workspace)  # models/demo from config/inference.yaml
    actions = probe.listen_to(topics.ROBOT_ACTION)
    camera = probe.publisher(topics.CAMERA_IMAGE)
    command = probe.publisher(topics.VLA_COMMAND)
    assert probe.spin_until(lambda: len(actions) >= 3, 30.0), inference.log()
    assert all(is_zero(m) for _, m in actions)  # no instruction, no frame: zero
    command.publish(string_msg(LEFT))
    rgb = np.zeros((224, 224, 3), np.uint8)
    rgb[:, :, 1] = 120
    moving = False
    end = time.monotonic() + 20.0
    while time.monotonic() < end and not moving:
        camera.publish(image_msg(probe, rgb))
        probe.spin_for(0.1)
        moving = not is_zero(actions[-1][1])
    assert moving, inference.log()
    assert probe.get_parameters(inference.fqn, ['checkpoint', 'rate_hz']) == {
        'checkpoint': 'models/demo', 'rate_hz': 10.0}
    # Frames stop: zero once the last one is older than max_frame_age_s (0.5 s).
    stopped = time.monotonic()
    probe.spin_for(1.5)
    late = [m for t, m in actions if t > stopped + 0.8]
    assert late and all(is_zero(m) for m in late)
    inference.send(signal.SIGINT)
    assert inference.wait(15) == 0, inference.log()
    probe.spin_for(0.3)
    assert is_zero(actions[-1][1])


def test_recorder_writes_a_valid_episode(workspace, started, probe, tmp_path):
    out = tmp_path / 'episodes'
    recorder = started(RECORDER, workspace, overrides={'output_dir': str(out),
                                                       'min_free_mb': 0.0})
    camera = probe.publisher(topics.CAMERA_IMAGE)
    cmd = probe.publisher(topics.CMD_VEL)
    control = probe.publisher(topics.RECORDER_CONTROL)
    assert probe.wait_for_subscribers(control, timeout=30.0), recorder.log()
    rgb = np.full((72, 128, 3), 90, np.uint8)

    def run(seconds, command):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            camera.publish(image_msg(probe, rgb))
            cmd.publish(_twist(command))
            probe.spin_for(0.05)

    run(0.5, (0.0, 0.0, 0.0))
    control.publish(string_msg(f'start 1box_vert_left {LEFT}'))
    for command in [(1.15, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 1.15, 0.0), (0.0, 0.0, 0.0)]:
        run(0.4, command)
    control.publish(string_msg('stop'))
    assert probe.spin_until(lambda: list(out.glob('*.h5')), 10.0), recorder.log()
    [path] = out.glob('*.h5')
    assert validate_episode(path) == []
    recorder.send(signal.SIGINT)
    assert recorder.wait(15) == 0, recorder.log()
