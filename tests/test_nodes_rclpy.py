"""Each node under real rclpy: its own process, started as ``ros2 run`` starts it (console
script, ``--ros-args --params-file config/<node>.yaml``, ``-p`` overrides), checked over
real DDS topics and the real parameter services from an rclpy probe."""

from __future__ import annotations

import array
import json
import math
import signal
import time

import numpy as np
import pytest
from ros_harness import DISCOVERY_S, NodeProcess, Probe, action, is_zero, new_domain_id
from steps import step

from mobile_vla import topics
from mobile_vla.episode import validate_episode
from mobile_vla.graph import ARBITER, CAMERA, INFERENCE, RECORDER
from mobile_vla.msgs import as_array_data
from mobile_vla.ros_bus import wait_for_status
from mobile_vla_control.arbiter_config import ArbiterConfig

LEFT = 'go around the box on the left to the cup'


@pytest.fixture
def domain_id():
    return new_domain_id()


@pytest.fixture
def probe(domain_id):
    probe = Probe(domain_id)
    yield probe
    probe.close()


@pytest.fixture
def started(tmp_path, domain_id):
    """Start nodes; every one is stopped at the end, whatever the test did."""
    nodes = []

    def start(spec, workspace, **kwargs):
        kwargs.setdefault('params_file', workspace / 'config' / spec.config)
        node = NodeProcess(spec, tmp_path, domain_id, **kwargs)
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
    assert probe.spin_until(lambda: len(cmd) >= 5, DISCOVERY_S), arbiter.log()
    start = time.monotonic()
    probe.spin_for(1.5)
    want = ArbiterConfig().rate_hz  # the shipped rate (control.yaml changes nothing)
    assert 0.75 * want <= rate_hz(cmd, start) <= 1.25 * want
    assert all(is_zero(m) for _, m in cmd)  # nothing drives yet: zero, never silence

    assert probe.get_parameters(arbiter.fqn, ['rate_hz', 'initial_mode', 'sources.vla.topic',
                                              'max_velocity']) == {
        'rate_hz': 20.0, 'initial_mode': 'vla', 'sources.vla.topic': 'robot/action',
        'max_velocity': [1.15, 1.15, 1.15]}
    assert probe.wait_for_subscribers(policy)
    publish_for(probe, policy, _twist((0.5, 0.0, 0.0)), 1.0)
    assert action(cmd[-1][1]) == pytest.approx((0.5, 0.0, 0.0))
    assert json.loads(state[-1][1].data)['mode'] == 'vla'

    # A new e-stop publisher (latched, as `ros2 topic pub` makes it) once it drives.
    estop = probe.publisher(topics.CONTROL_ESTOP)
    assert probe.wait_for_subscribers(estop)
    estop.publish(bool_msg(True))
    engaged = time.monotonic()
    publish_for(probe, policy, _twist((0.5, 0.0, 0.0)), 0.5)
    after = [m for t, m in cmd if t > engaged + 0.1]
    assert after and all(is_zero(m) for m in after)

    # A release while the policy still drives is held: releasing never lurches.
    estop.publish(bool_msg(False))
    publish_for(probe, policy, _twist((0.5, 0.0, 0.0)), 0.5)
    assert is_zero(cmd[-1][1])
    publish_for(probe, policy, _twist((0.0, 0.0, 0.0)), 1.0)  # estop_release_hold_s: 0.5
    assert 'e-stop released' in arbiter.log()
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
    small = probe.listen_to(topics.CAMERA_IMAGE_POLICY)
    diagnostics = probe.listen_to(topics.DIAGNOSTICS)
    assert probe.spin_until(lambda: len(images) >= 5, DISCOVERY_S), camera.log()
    # The readiness probe the launch tests use hears the node's own status.
    assert 'camera_publisher: camera' in wait_for_status(
        'camera_publisher: camera', DISCOVERY_S, domain_id=probe.domain_id)
    start = time.monotonic()
    probe.spin_for(2.0)
    assert 24.0 <= rate_hz(images, start) <= 36.0
    assert 24.0 <= rate_hz(small, start) <= 36.0
    msg = images[-1][1]
    assert (msg.width, msg.height, msg.encoding, msg.header.frame_id) == (
        320, 240, 'rgb8', 'camera_optical_frame')
    # The policy's copy: the same frame (same stamp), at the policy's input size. The two
    # topics are delivered independently: the full frame of the newest copy may come later.
    copy = small[-1][1]
    probe.spin_for(0.3)
    stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for _, m in images}
    assert (copy.width, copy.height, copy.encoding) == (224, 224, 'rgb8')
    assert (copy.header.stamp.sec, copy.header.stamp.nanosec) in stamps
    assert 'transport: Fast DDS shared memory for whole frames' in camera.log()
    assert probe.get_parameters(camera.fqn, ['source', 'fps']) == {
        'source': 'synthetic', 'fps': 30.0}
    names = lambda: {s.name for _, m in diagnostics for s in m.status}  # noqa: E731
    # Its own status, and the QoS status every node publishes (no peer it cannot match).
    assert probe.spin_until(lambda: {'camera_publisher: camera',
                                     'camera_publisher: qos'} <= names(), 3.0), names()
    camera.send(signal.SIGTERM)
    assert camera.wait(10) == 0, camera.log()


@pytest.mark.parametrize('camera_topic', ['camera/image_policy', 'camera/image'])
def test_inference_drives_on_frames_and_an_instruction(workspace, started, probe,
                                                       camera_topic):
    """On the camera's policy copy; a camera without one is remapped in."""
    remaps = {} if camera_topic == 'camera/image_policy' else {
        'camera/image_policy': camera_topic}
    # models/demo from config/inference.yaml
    inference = started(INFERENCE, workspace, remaps=remaps)
    actions = probe.listen_to(topics.ROBOT_ACTION)
    camera = probe.publisher(topics.by_name(camera_topic))
    command = probe.publisher(topics.VLA_COMMAND)
    assert probe.spin_until(lambda: len(actions) >= 3, 30.0), inference.log()
    assert all(is_zero(m) for _, m in actions)  # no instruction, no frame: zero
    assert probe.wait_for_reader(command, 'vla_inference'), inference.log()
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


def odometry_msg(probe: Probe, x: float, y: float, yaw: float):
    from nav_msgs.msg import Odometry
    msg = Odometry()
    msg.header.stamp = probe.node.get_clock().now().to_msg()
    msg.header.frame_id, msg.child_frame_id = 'odom', 'base_link'
    msg.pose.pose.position.x, msg.pose.pose.position.y = float(x), float(y)
    msg.pose.pose.orientation.z, msg.pose.pose.orientation.w = math.sin(yaw / 2), \
        math.cos(yaw / 2)
    return msg


def test_inference_runs_a_plan_and_says_so_on_vla_status(workspace, started, probe):
    """A sequence over real topics: the motion step drives without a camera, closes on
    odom (a robot that odometry shows not moving is blocked: the plan fails with zero),
    and each step and every refusal is on vla/status. The untrained tiny preset knows
    the cup only (its ``objects``), so a kind it was not trained to find is refused."""
    inference = started(INFERENCE, workspace, overrides={'checkpoint': '',
                                                         'preset': 'kosmos2_clip_tiny'})
    actions = probe.listen_to(topics.ROBOT_ACTION)
    status = probe.listen_to(topics.VLA_STATUS)
    command = probe.publisher(topics.VLA_COMMAND)
    odom = probe.publisher(topics.ODOM, topics.COMMAND)
    assert probe.spin_until(lambda: status and actions, 30.0), inference.log()
    assert json.loads(status[-1][1].data)['state'] == 'idle'
    assert probe.wait_for_reader(command, 'vla_inference'), inference.log()

    def state():
        return json.loads(status[-1][1].data)

    command.publish(string_msg('first move left 0.3 m, then go around the box on the left '
                               'to the cup'))
    assert probe.spin_until(lambda: state().get('steps') == 2, 10.0), inference.log()
    assert state()['step'] == 1 and state()['kind'] == 'move' and state()['plan'] == [
        'move left 0.3 m', 'go around the box on the left to the cup']
    assert state()['target'] is None  # a motion step drives to nothing
    assert probe.spin_until(lambda: np.allclose(action(actions[-1][1]), (0.0, 0.3, 0.0)), 5.0)
    # On time (no odometry): 0.3 m at 0.3 m/s, then the navigation step, with no camera
    # frame: zero.
    assert probe.spin_until(lambda: state()['step'] == 2, 3.0), inference.log()
    probe.spin_for(0.5)
    assert is_zero(actions[-1][1]) and state()['kind'] == 'navigate'
    assert state()['target'] == {'kind': 'cup', 'colour': '', 'place': '', 'text': 'cup'}
    # A place that tells one of several cups apart travels with the target.
    command.publish(string_msg('go to the nearest red cup'))
    assert probe.spin_until(lambda: (state().get('target') or {}).get('place') == 'nearest',
                            5.0), state()
    assert state()['target'] == {'kind': 'cup', 'colour': 'red', 'place': 'nearest',
                                 'text': 'nearest red cup'}

    # A target the checkpoint was not trained to find is refused, naming the ones it knows.
    command.publish(string_msg('go to the red ball'))
    assert probe.spin_until(lambda: state()['state'] == 'refused', 5.0), state()
    assert 'it knows: cup' in state()['reason'], state()

    # With odometry that shows the robot not moving, the move is never done: blocked.
    publish_for(probe, odom, odometry_msg(probe, 1.0, 2.0, 0.5), 0.3)
    command.publish(string_msg('move forward 0.3 m'))
    start = time.monotonic()
    while time.monotonic() - start < 5.0 and state().get('state') != 'failed':
        odom.publish(odometry_msg(probe, 1.0, 2.0, 0.5))
        probe.spin_for(0.05)
    failed_at = time.monotonic() - start
    assert state()['state'] == 'failed' and 'blocked' in state()['reason'], state()
    assert 2.5 < failed_at < 4.5  # 1 s expected: failed after 2 x 1 + 1 s, not at 1 s
    probe.spin_for(0.3)
    assert is_zero(actions[-1][1])

    for text, outcome in (('🙂🙂', 'refused'), ('gehe links um die Box zur Tasse', 'refused'),
                          ('go left then go right around the box', 'refused'),
                          ('   ', 'stopped')):
        command.publish(string_msg(text))
        assert probe.spin_until(lambda t=text, o=outcome: state()['state'] == o and
                                state()['instruction'] == t.strip(), 5.0), (text, state())
        probe.spin_for(0.2)
        assert is_zero(actions[-1][1])
    assert 'Traceback' not in inference.log()


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


def test_one_transient_zero_never_releases_the_estop(workspace, started, probe):
    arbiter = started(ARBITER, workspace, overrides={'initial_mode': 'vla'})
    cmd = probe.listen_to(topics.CMD_VEL)
    policy = probe.publisher(topics.ROBOT_ACTION)
    assert probe.wait_for_subscribers(policy), arbiter.log()
    publish_for(probe, policy, _twist((1.15, 0.0, 0.0)), 2.0)  # startup_hold_s: 1.0
    assert action(cmd[-1][1])[0] > 1.0
    estop = probe.publisher(topics.CONTROL_ESTOP)
    assert probe.wait_for_subscribers(estop)
    estop.publish(bool_msg(True))
    publish_for(probe, policy, _twist((1.15, 0.0, 0.0)), 0.3)
    estop.publish(bool_msg(False))
    released = time.monotonic()
    for _ in range(4):  # a stale-frame zero now and then, while the policy still drives
        policy.publish(_twist((0.0, 0.0, 0.0)))
        probe.spin_for(0.05)
        publish_for(probe, policy, _twist((1.15, 0.0, 0.0)), 0.4)
    assert all(is_zero(m) for t, m in cmd if t > released), arbiter.log()
    assert 'e-stop released' not in arbiter.log()


def test_a_restarted_arbiter_keeps_an_engaged_estop(workspace, started, probe):
    arbiter = started(ARBITER, workspace, overrides={'initial_mode': 'vla'})
    cmd = probe.listen_to(topics.CMD_VEL)
    state = probe.listen_to(topics.CONTROL_STATE)
    policy = probe.publisher(topics.ROBOT_ACTION)
    estop = probe.publisher(topics.CONTROL_ESTOP)  # latched, like `ros2 topic pub`
    assert probe.wait_for_subscribers(estop), arbiter.log()
    estop.publish(bool_msg(True))
    probe.spin_for(0.5)
    arbiter.process.kill()
    arbiter.wait(10)
    killed = time.monotonic()
    restarted = started(ARBITER, workspace, overrides={'initial_mode': 'vla'})

    def hears_the_policy():
        policy.publish(_twist((1.15, 0.0, 0.0)))
        probe.spin_for(0.05)
        return any(json.loads(m.data)['inputs']['vla']['received'] > 0
                   for t, m in state if t > killed)

    def engaged():
        policy.publish(_twist((1.15, 0.0, 0.0)))
        probe.spin_for(0.05)
        return json.loads(state[-1][1].data)['estop']['latched']

    assert probe.spin_until(hears_the_policy, 30.0), restarted.log()
    # Held at zero (start-up hold, then while the known e-stop publisher's latched state
    # is on its way, up to latched_wait_s = 10 s) until the e-stop arrives; never driving.
    assert probe.spin_until(engaged, 13.0), restarted.log()
    publish_for(probe, policy, _twist((1.15, 0.0, 0.0)), 1.0)
    after = [(round(t - killed, 3), action(m)) for t, m in cmd if t > killed]
    assert after and all(a == (0.0, 0.0, 0.0) for _, a in after), (after, restarted.log())
    assert json.loads(state[-1][1].data)['estop']['latched'] is True


def test_the_last_zero_is_delivered_on_every_sigint(workspace, started, probe):
    """20 arbiters driving at once, each in its own namespace, all stopped by SIGINT:
    a subscriber sees each one's zero as its last word."""
    count = 20
    names = [f'r{k}' for k in range(count)]
    arbiters = [started(ARBITER, workspace, namespace=name,
                        overrides={'initial_mode': 'vla'}) for name in names]
    cmds = [probe.listen(f'/{name}/cmd_vel', topics.CMD_VEL.msgtype, topics.CMD_VEL.publisher_qos)
            for name in names]
    policies = [probe.node.create_publisher(
        type(_twist((0, 0, 0))), f'/{name}/robot/action',
        topics.ROBOT_ACTION.publisher_qos.profile(__import__('rclpy').qos)) for name in names]

    def drive(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for pub in policies:
                pub.publish(_twist((0.8, 0.0, 0.0)))
            probe.spin_for(0.05)

    assert probe.spin_until(lambda: all(p.get_subscription_count() for p in policies), 60.0)

    def all_drive():
        return all(c and not is_zero(c[-1][1]) for c in cmds)

    # Each holds zero for startup_hold_s after its first tick; 20 starting on two cores
    # reach that tick seconds apart.
    end = time.monotonic() + 30.0
    drive(2.0)
    while not all_drive() and time.monotonic() < end:
        drive(0.5)
    assert all_drive(), 'not every arbiter drove'
    for arbiter in arbiters:
        arbiter.send(signal.SIGINT)
    drive(0.5)
    codes = [arbiter.wait(20) for arbiter in arbiters]
    probe.spin_for(0.5)
    # 0, or SIGALRM where the DDS teardown after the zero did not end (ros_bus._tear_down;
    # a rare Fast DDS wait, never most of them)
    assert set(codes) <= {0, -signal.SIGALRM} and codes.count(-signal.SIGALRM) <= 2, codes
    delivered = sum(is_zero(c[-1][1]) for c in cmds)
    assert delivered == count, f'the zero reached the subscriber in {delivered} of {count}'


def test_parameters_are_typed_read_only_or_validated_live(workspace, started, probe):
    arbiter = started(ARBITER, workspace, overrides={'initial_mode': 'vla'})
    cmd = probe.listen_to(topics.CMD_VEL)
    policy = probe.publisher(topics.ROBOT_ACTION)
    described = probe.describe_parameters(arbiter.fqn, ['rate_hz', 'max_velocity'])
    assert described['rate_hz'].read_only and 'watchdog rate' in described['rate_hz'].description
    assert not described['max_velocity'].read_only
    results = probe.set_parameters(arbiter.fqn, {'rate_hz': -1.0})
    assert results['rate_hz'][0] is False and 'read-only' in results['rate_hz'][1]
    results = probe.set_parameters(arbiter.fqn, {'initial_mode': 'bogus'})
    assert results['initial_mode'][0] is False
    results = probe.set_parameters(arbiter.fqn, {'max_velocity': [-1.0, 1.0, 1.0]})
    assert results['max_velocity'] == (False, results['max_velocity'][1])
    assert 'max_velocity needs three positive numbers' in results['max_velocity'][1]
    assert probe.get_parameters(arbiter.fqn, ['rate_hz', 'max_velocity']) == {
        'rate_hz': 20.0, 'max_velocity': [1.15, 1.15, 1.15]}
    # A live limit: the robot slows to it at once.
    assert probe.set_parameters(arbiter.fqn, {'max_velocity': [0.3, 0.3, 0.3]}) == {
        'max_velocity': (True, '')}
    assert probe.wait_for_subscribers(policy)
    publish_for(probe, policy, _twist((1.15, 0.0, 0.0)), 1.5)
    assert action(cmd[-1][1])[0] == pytest.approx(0.3)


@pytest.mark.parametrize('spec, values', [
    (INFERENCE, {'rate_hz': 0.0, 'checkpoint': '/nonexistent'}),
    (RECORDER, {'output_dir': '/proc/forbidden'}),
], ids=['inference', 'recorder'])
def test_restart_parameters_refuse_a_live_change(workspace, started, probe, tmp_path, spec,
                                                 values):
    overrides = {'output_dir': str(tmp_path / 'episodes')} if spec is RECORDER else {}
    node = started(spec, workspace, overrides=overrides)
    results = probe.set_parameters(node.fqn, values, timeout=30.0)
    assert all(ok is False and 'read-only' in reason for ok, reason in results.values()), results
    assert node.process.poll() is None


def bad_images(probe: Probe) -> list:
    """Image messages a wrong or hostile publisher could send: every one is refused."""
    from sensor_msgs.msg import Image

    def image(**fields):
        msg = Image(**fields)
        msg.header.stamp = probe.node.get_clock().now().to_msg()
        return msg

    mono = as_array_data(np.zeros((48, 64), np.uint8))
    rgb = as_array_data(np.zeros((48, 64, 3), np.uint8))
    return [
        image(height=48, width=64, encoding='mono8', step=64, data=mono),  # valid, not colour
        image(height=48, width=64, encoding='weird', step=192, data=rgb),
        image(height=48, width=64, encoding='rgb8', step=100, data=rgb),  # wrong step
        image(height=48, width=64, encoding='rgb8', step=192, data=mono),  # too little data
        image(height=0, width=0, encoding='rgb8', step=0),
        image(height=100000, width=100000, encoding='rgb8', step=300000, data=rgb),
        image(height=24, width=32, encoding='rgb8', step=96,
              data=as_array_data(np.zeros((24, 32, 3), np.uint8))),  # another size mid-episode
    ]


def test_no_input_kills_a_node(workspace, started, probe, tmp_path):
    """Every subscribed input of inference, arbiter and recorder gets wrong values: each
    node warns and goes on, no traceback, nothing unbounded in the log."""
    nodes = [started(INFERENCE, workspace),
             started(ARBITER, workspace, overrides={'initial_mode': 'vla'}),
             started(RECORDER, workspace, overrides={'output_dir': str(tmp_path / 'episodes'),
                                                     'min_free_mb': 0.0})]
    cmd = probe.listen_to(topics.CMD_VEL)
    actions = probe.listen_to(topics.ROBOT_ACTION)
    pubs = {topic: probe.publisher(topic) for topic in (
        topics.CAMERA_IMAGE, topics.CAMERA_IMAGE_POLICY, topics.VLA_COMMAND,
        topics.ROBOT_ACTION, topics.TELEOP_CMD_VEL, topics.CONTROL_MODE, topics.CMD_VEL,
        topics.RECORDER_CONTROL)}
    cameras = (topics.CAMERA_IMAGE, topics.CAMERA_IMAGE_POLICY)
    assert probe.spin_until(lambda: actions and cmd, 30.0), '\n'.join(n.log() for n in nodes)
    assert probe.wait_for_reader(pubs[topics.VLA_COMMAND], 'vla_inference')
    # The node is up before its model: instructions wait for the load (then each is
    # refused or planned in turn), so the refusals below are in its log once it is in.
    assert probe.spin_until(lambda: 'policy loaded' in nodes[0].log(), 60.0), nodes[0].log()
    good = np.full((48, 64, 3), 80, np.uint8)
    huge = 'x' * 1_000_000
    nan, inf = float('nan'), float('inf')
    pubs[topics.VLA_COMMAND].publish(string_msg(LEFT))

    def frames(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for topic in cameras:
                pubs[topic].publish(image_msg(probe, good))
            probe.spin_for(0.05)

    with step('bad frames, words and velocities on every input'):
        frames(0.5)
        pubs[topics.RECORDER_CONTROL].publish(string_msg(f'start 1box_vert_left {LEFT}'))
        frames(0.3)
        for msg in bad_images(probe):
            for topic in cameras:
                pubs[topic].publish(msg)
            probe.spin_for(0.05)
        for value in (huge, '', '\x00\xff', 'stop' * 1000):
            pubs[topics.VLA_COMMAND].publish(string_msg(value))
            pubs[topics.CONTROL_MODE].publish(string_msg(value))
            pubs[topics.RECORDER_CONTROL].publish(string_msg(value))
            probe.spin_for(0.05)
            if value is huge:
                # A latched publisher keeps only its newest message: on a loaded machine the
                # next one could replace 1 MB still in flight: the policy hears it first.
                assert probe.spin_until(lambda: 'instruction refused: 1000000 characters'
                                        in nodes[0].log(), 30.0), nodes[0].log()[-3000:]
        for text in ('start no_such_scenario', 'stop', 'stop', 'discard', 'discard', 'k'):
            pubs[topics.RECORDER_CONTROL].publish(string_msg(text))
            probe.spin_for(0.05)
        for values in ((nan, 0, 0), (inf, 0, 0), (1e30, -1e30, 0), (0, 0, -inf)):
            for topic in (topics.ROBOT_ACTION, topics.TELEOP_CMD_VEL, topics.CMD_VEL):
                pubs[topic].publish(_twist(values))
            probe.spin_for(0.05)
        probe.spin_for(1.0)
    with step('every node is alive and still at work'):
        assert all(node.process.poll() is None for node in nodes), \
            '\n'.join(n.log()[-3000:] for n in nodes)
        # Still at work: the arbiter ticks, the policy answers (zero: the instruction was the
        # refused 1 MB one, then '' ...), the recorder takes a new episode.
        count = len(cmd), len(actions)
        probe.spin_for(1.0)
        assert len(cmd) > count[0] + 10 and len(actions) > count[1] + 5
        assert is_zero(cmd[-1][1])
    with step('the recorder still records a valid episode'):
        before = set((tmp_path / 'episodes').glob('*.h5'))
        frames(0.5)
        pubs[topics.RECORDER_CONTROL].publish(string_msg(f'start 1box_vert_left {LEFT}'))
        for command in ((1.15, 0.0, 0.0), (0.0, 0.0, 0.0)):
            for _ in range(6):
                pubs[topics.CAMERA_IMAGE].publish(image_msg(probe, good))
                pubs[topics.CMD_VEL].publish(_twist(command))
                probe.spin_for(0.05)
        pubs[topics.RECORDER_CONTROL].publish(string_msg('stop'))
        assert probe.spin_until(
            lambda: set((tmp_path / 'episodes').glob('*.h5')) - before, 10.0), before
        for path in set((tmp_path / 'episodes').glob('*.h5')) - before:
            assert validate_episode(path) == []
    with step('no traceback and no unbounded line in any log'):
        for node in nodes:
            log = node.log()
            assert 'Traceback' not in log, log[-3000:]
            assert max(len(line) for line in log.splitlines()) < 2200
        recorder_log = nodes[2].log()
        assert 'camera frame refused' in recorder_log
        assert 'stop: no episode is being recorded' in recorder_log
        assert 'instruction refused: 1000000 characters' in nodes[0].log()


RCL_CASES = (
    '/**:\n  ros__parameters:\n    rate_hz: 10\n    count: 1\n'
    '/**/demo:\n  ros__parameters:\n    rate_hz: 30.0\n'
    'demo:\n  ros__parameters:\n    name: root-only\n'
    '/robot1/demo:\n  ros__parameters:\n    count: 7\n'
    '/robot1/*:\n  ros__parameters:\n    enabled: false\n'
    '/**/other:\n  ros__parameters:\n    name: x\n'
    '/a:\n  b:\n    demo:\n      ros__parameters:\n        nested: 1\n'
    'robot1:\n  demo:\n    ros__parameters:\n      deep: true\n')


def rcl_parameters(path, node_name: str, namespace: str) -> dict:
    """What rcl itself applies from ``--params-file path`` to a node."""
    import rclpy
    from rclpy.node import Node

    from mobile_vla.config import ROS_OWN_PARAMETERS

    context = rclpy.Context()
    rclpy.init(context=context, args=['--ros-args', '--params-file', str(path)])
    try:
        node = Node(node_name, namespace=namespace or '/', context=context,
                    automatically_declare_parameters_from_overrides=True)
        params = {name: list(p.value) if isinstance(p.value, array.array) else p.value
                  for name, p in node.get_parameters_by_prefix('').items()
                  if name not in ROS_OWN_PARAMETERS}
        node.destroy_node()
        return params
    finally:
        rclpy.try_shutdown(context=context)


@pytest.mark.parametrize('namespace', ['', '/robot1', '/a/b'])
def test_the_parameter_parser_applies_what_rcl_applies(workspace, tmp_path, namespace):
    from mobile_vla.config import load_node_params
    from mobile_vla.graph import ALL_NODES

    path = tmp_path / 'cases.yaml'
    path.write_text(RCL_CASES)
    assert load_node_params(path, 'demo', namespace) == rcl_parameters(path, 'demo', namespace)
    for spec in ALL_NODES:
        for name in ('robot.yaml', 'sim.yaml', spec.config):
            shipped = workspace / 'config' / name
            assert load_node_params(shipped, spec.name, namespace) == rcl_parameters(
                shipped, spec.name, namespace), (name, spec.name)


def test_a_namespaced_node_keeps_its_config(workspace, started, probe):
    inference = started(INFERENCE, workspace, namespace='robot1')
    assert probe.get_parameters(inference.fqn, ['checkpoint'], timeout=30.0) == {
        'checkpoint': 'models/demo'}


def test_stamped_output_keeps_cmd_vel_a_twist(workspace, started, probe, tmp_path):
    """With stamped_output the recorder still hears cmd_vel: it stays Twist, and a
    TwistStamped copy goes to stamped_topic for a base that wants one."""
    arbiter = started(ARBITER, workspace, overrides={'initial_mode': 'vla',
                                                     'stamped_output': True})
    cmd = probe.listen_to(topics.CMD_VEL)
    stamped = probe.listen('cmd_vel_stamped', 'geometry_msgs/msg/TwistStamped',
                           topics.CMD_VEL.publisher_qos)
    policy = probe.publisher(topics.ROBOT_ACTION)
    assert probe.wait_for_subscribers(policy), arbiter.log()
    publish_for(probe, policy, _twist((0.5, 0.0, 0.0)), 2.0)
    assert action(cmd[-1][1]) == pytest.approx((0.5, 0.0, 0.0))
    last = stamped[-1][1]
    assert last.header.frame_id == 'base_link' and last.twist.linear.x == pytest.approx(0.5)


def test_an_estop_with_default_qos_is_heard(workspace, started, probe):
    """A publisher with ROS 2's default QoS (reliable, volatile: a button bridge, a
    joystick node) must stop the robot too, though the topic is latched."""
    arbiter = started(ARBITER, workspace, overrides={'initial_mode': 'vla'})
    cmd = probe.listen_to(topics.CMD_VEL)
    policy = probe.publisher(topics.ROBOT_ACTION)
    assert probe.wait_for_subscribers(policy), arbiter.log()
    publish_for(probe, policy, _twist((0.8, 0.0, 0.0)), 2.0)
    assert not is_zero(cmd[-1][1])
    button = probe.publisher(topics.CONTROL_ESTOP, qos=topics.DEFAULT)
    assert probe.wait_for_subscribers(button)
    button.publish(bool_msg(True))
    pressed = time.monotonic()
    publish_for(probe, policy, _twist((0.8, 0.0, 0.0)), 1.0)
    after = [m for t, m in cmd if t > pressed + 0.1]
    assert after and all(is_zero(m) for m in after), arbiter.log()
    assert 'e-stop ENGAGED' in arbiter.log()


TEAR_DOWN = """
import ctypes, sys
import rclpy.node
from mobile_vla import ros_bus
from mobile_vla.config import ConfigError
ros_bus.TEARDOWN_TIMEOUT_S = 60 if sys.argv[1] == 'signalled' else 1
def stuck(self):  # as Fast DDS can in participant destruction: the GIL held
    print('tearing down', flush=True)
    ctypes.PyDLL(None).pause()
if sys.argv[1] != 'clean':
    rclpy.node.Node.destroy_node = stuck
def wire(bus):
    raise ConfigError('a wiring that ends the node at once')
code = ros_bus.run_node('teardown_probe', wire)
print('ended', code, flush=True)
"""


@pytest.mark.parametrize('case, code', [('stuck', -signal.SIGALRM), ('clean', 0)])
def test_the_teardown_after_the_last_word_is_bounded(domain_id, case, code):
    """``run_node``'s DDS teardown comes after the node's last word; one that does not end
    ends the process within TEARDOWN_TIMEOUT_S, even holding the interpreter's lock."""
    import subprocess
    import sys

    from mobile_vla.processes import ros_env

    started = time.monotonic()
    done = subprocess.run([sys.executable, '-c', TEAR_DOWN, case], capture_output=True,
                          text=True, timeout=60, env=ros_env(domain_id))
    assert done.returncode == code, done.stdout + done.stderr
    assert 'configuration error: a wiring that ends the node at once' in done.stderr
    assert ('ended 2' in done.stdout) == (case == 'clean'), done.stdout
    assert time.monotonic() - started < 30


def test_a_signal_during_the_teardown_ends_it_at_once(domain_id):
    """Once the node's last word is out, Ctrl-C (or launch's SIGTERM) need not wait for a
    teardown that hangs."""
    import select
    import subprocess
    import sys

    from mobile_vla.processes import ros_env

    process = subprocess.Popen([sys.executable, '-c', TEAR_DOWN, 'signalled'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=ros_env(domain_id))
    try:
        assert select.select([process.stdout], [], [], 60)[0], 'no teardown reached'
        assert process.stdout.readline() == 'tearing down\n'
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == -signal.SIGINT
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
