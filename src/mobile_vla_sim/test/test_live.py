"""The live simulator's wiring (``sim_robot``) in the replay executor: the same code the
node runs under rclpy, in exact time. It renders at its rate, drives the base from
cmd_vel, drops a stale command to zero, and publishes odometry."""

from __future__ import annotations

import numpy as np
import pytest

from mobile_vla import topics
from mobile_vla.bag import BagMessage, MessageFactory
from mobile_vla.bus import ReplayBus
from mobile_vla.config import ConfigError
from mobile_vla.msgs import odometry_to_pose
from mobile_vla.replay import MessageLog, ReplayExecutor
from mobile_vla.units import NS
from mobile_vla_sim.live import LiveSimConfig, LiveSimWiring

MSGS = MessageFactory()


def run(commands, end_s, **params):
    """``commands``: (seconds, action) on cmd_vel."""
    log = MessageLog()
    executor = ReplayExecutor(sink=log)
    wiring = LiveSimWiring(ReplayBus(executor, {'width': 160, 'height': 90, 'fps': 10.0,
                                                **params}, msgs=MSGS))
    stream = [BagMessage('/cmd_vel', 'geometry_msgs/msg/Twist', int(t * NS), MSGS.twist(a))
              for t, a in commands]
    executor.run(stream, start_ns=0, end_ns=int(end_s * NS))
    return wiring, log


def poses(log):
    return [(m.t_ns / NS, odometry_to_pose(m.msg)) for m in log.on(topics.ODOM.name)]


def test_it_renders_at_its_rate_for_the_camera_topics():
    _wiring, log = run([], 1.0)
    images = log.on(topics.CAMERA_IMAGE.name)
    assert len(images) == 11  # t = 0, 0.1, ..., 1.0
    assert (images[0].msg.width, images[0].msg.height) == (160, 90)
    assert len(log.on(topics.CAMERA_IMAGE_POLICY.name)) == len(images)
    stamps = [m.msg.header.stamp.sec * NS + m.msg.header.stamp.nanosec for m in images]
    assert stamps == [m.t_ns for m in images]  # stamped at capture


def test_cmd_vel_drives_the_base_and_odometry_follows():
    commands = [(0.05 * i, (0.5, 0.0, 0.0)) for i in range(21)]  # 1 s forward at 0.5 m/s
    wiring, log = run(commands, 1.5)
    track = poses(log)
    start, end = np.array(track[0][1]), np.array(track[-1][1])
    assert 0.6 < end[0] - start[0] < 0.8  # 1 s commanded, then held cmd_timeout_s (0.5 s)
    assert abs(end[1] - start[1]) < 0.05
    assert np.allclose(end, wiring.world.pose(), atol=0.05)


def test_a_command_not_renewed_stops_the_base():
    wiring, log = run([(0.0, (0.8, 0.0, 0.0))], 2.0, cmd_timeout_s=0.5)
    track = poses(log)
    moved_by_1s = next(p for t, p in track if t >= 1.0)[0] - track[0][1][0]
    at_end = track[-1][1][0] - track[0][1][0]
    assert moved_by_1s > 0.1
    assert at_end - moved_by_1s < 0.05  # stopped after 0.5 s
    assert np.allclose(wiring.world.velocity()[:2], 0.0, atol=0.05)


def test_a_non_finite_command_is_ignored():
    twist = MSGS.type('geometry_msgs/msg/Twist')
    vector = MSGS.type('geometry_msgs/msg/Vector3')
    bad = twist(linear=vector(x=float('nan'), y=0.0, z=0.0), angular=vector(x=0.0, y=0.0, z=0.0))
    log = MessageLog()
    executor = ReplayExecutor(sink=log)
    wiring = LiveSimWiring(ReplayBus(executor, {'width': 160, 'height': 90}, msgs=MSGS))
    executor.run([BagMessage('/cmd_vel', 'geometry_msgs/msg/Twist', 0, bad)], start_ns=0,
                 end_ns=NS // 2)
    assert np.allclose(wiring.world.velocity(), 0.0, atol=1e-6)


@pytest.mark.parametrize('params', [{'scenario': '3box_vert_left'}, {'fps': 0.0},
                                    {'width': 8}, {'cmd_timeout_s': float('inf')}])
def test_bad_parameters_say_what_is_wrong(params):
    with pytest.raises(ConfigError):
        LiveSimConfig(**params)


def live_room(scenario: str, seed: int = 3) -> tuple[ReplayExecutor, LiveSimWiring, list]:
    """A small live room on the replay executor, and the lines it logs."""
    logs: list[str] = []
    executor = ReplayExecutor(sink=MessageLog())
    bus = ReplayBus(executor, {'width': 96, 'height': 54, 'fps': 5.0, 'scenario': scenario,
                               'seed': seed}, msgs=MSGS, log=logs.append)
    return executor, LiveSimWiring(bus), logs


def test_a_goal_room_says_what_it_holds_and_which_object_the_robot_reached():
    """``make demo-web DEMO_WEB_ARGS='--scenario goal_1box_vert_left'``: the log names
    the objects and an instruction that names the target; driving onto one reports it."""
    executor, wiring, logs = live_room('goal_1box_vert_left')
    lay = wiring.layout
    assert lay.objects and f'try "go to the {lay.describe_target()}"' in ' '.join(logs)
    # teleport next to the target and step: the reach is reported once, by name
    goal = lay.objects[lay.target]
    wiring.world.data.qpos[:2] = np.array(goal.center) - np.array(lay.robot[:2]) - [0.3, 0.0]
    executor.run([], start_ns=0, end_ns=NS // 5)
    near = f'the robot came within 0.45 m of the {goal.describe()}'
    assert sum(near in line for line in logs) == 1
    # no command, at rest there: it stopped at it, said once
    assert sum(f'the robot stopped at the {goal.describe()}, 0.30 m' in line
               for line in logs) == 1
    others = [o.describe() for k, o in enumerate(lay.objects) if k != lay.target]
    assert not any(f'of the {name}' in line or f'at the {name},' in line
                   for line in logs for name in others)


def test_an_original_room_says_when_the_robot_came_near_the_cup_and_when_it_stopped():
    executor, wiring, logs = live_room('1box_vert_left')
    lay = wiring.layout
    wiring.world.data.qpos[:2] = np.array(lay.cup) - np.array(lay.robot[:2]) - [0.2, 0.0]
    executor.run([], start_ns=0, end_ns=NS // 5)
    assert wiring.reached
    assert sum('the robot came within 0.45 m of the cup' in line for line in logs) == 1
    assert sum('the robot stopped at the cup, 0.20 m from it' in line for line in logs) == 1


def test_driving_through_the_radius_is_not_stopping_there():
    """A robot that passes the cup under a command comes near it but never stopped."""
    executor, wiring, logs = live_room('1box_vert_left')
    lay = wiring.layout
    wiring.world.place(lay.cup[0], lay.cup[1] - 0.7, 0.0)  # beside the cup, past the box
    twist = MSGS.twist(np.array([0.0, 0.5, 0.0]))  # sideways through it
    inputs = [BagMessage(topics.CMD_VEL.path, 'geometry_msgs/msg/Twist', t, twist)
              for t in range(0, 3 * NS, NS // 20)]  # 1.5 m: it ends 0.8 m past the cup
    executor.run(inputs, start_ns=0, end_ns=4 * NS)
    assert wiring.world.cup_distance() > 0.6
    assert sum('the robot came within 0.45 m of the cup' in line for line in logs) == 1
    assert not any('stopped at' in line for line in logs)
