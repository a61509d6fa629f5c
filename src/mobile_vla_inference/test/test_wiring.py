"""The vla_inference wiring in the replay executor: a bag of camera frames and
instructions through the code the node runs under rclpy, and the action bag it writes."""

import numpy as np

from mobile_vla.bag import BagWriter, read_messages
from mobile_vla.bus import ReplayBus
from mobile_vla.config import to_params
from mobile_vla.msgs import twist_to_action
from mobile_vla.replay import MessageLog, ReplayExecutor
from mobile_vla.units import NS
from mobile_vla_inference.inference import InferenceConfig, load_runner
from mobile_vla_inference.wiring import InferenceWiring

S = NS  # a second, in nanoseconds
T0 = 1_780_000_000


def frame(seed):
    return np.random.default_rng(seed).integers(0, 256, (72, 128, 3), dtype=np.uint8)


def test_a_replayed_bag_gives_a_robot_action_stream(checkpoint, tmp_path):
    bag = tmp_path / 'bag'
    with BagWriter(bag) as writer:
        for n in range(3 * 30):  # frames for 3 s, then the camera drops out
            writer.write_image('/camera/image_policy', frame(n), T0 * S + n * S // 30)
        writer.write_string('/vla/command', 'go around the box on the right to the cup',
                            T0 * S + S // 2)
        writer.write_string('/vla/command', 'stop', T0 * S + 2 * S)
        writer.write_string('/vla/command', 'go around the box on the left to the cup',
                            T0 * S + 5 * S // 2)
        writer.write_string('/vla/command', 'go to the cup', T0 * S + 4 * S)  # 1 s after dropout
    log = MessageLog()
    ex = ReplayExecutor(sink=log)
    inf = InferenceWiring(ReplayBus(ex, to_params(InferenceConfig(checkpoint=checkpoint,
                                                                  rate_hz=10.0))),
                          load=load_runner).inference
    ex.run_bag(bag)
    actions = [(round((m.t_ns - T0 * S) / 1e9, 3), twist_to_action(m.msg))
               for m in log.on('/robot/action')]
    last = dict(actions)  # the last action of each instant: what the arbiter goes by
    # A step on every third frame of the 30 Hz camera (10 Hz, at the frames' own
    # instants), then the watchdog at 10 Hz once frames stop: 0 to 4 s.
    assert sorted(last) == [round(k / 10, 3) for k in range(41)]
    # An instruction acts at once on the newest fresh frame (the frame of 0.5 s came
    # just before it): a second output at 0.5 s, at 2.0 s (stop) and at 2.5 s.
    # (the instruction at 4 s goes out instead of the watchdog's zero: the frame is stale.)
    assert len(actions) == 41 + 3
    assert inf.steps == 21  # the policy: 0.5-2.0 s and 2.5-2.9 s
    moving = {t for t, a in last.items() if any(abs(v) > 1e-6 for v in a)}
    # Driving after the instruction, zero after stop, again after the new instruction;
    # the last frame (2.967 s) is held while fresh, zero once it is older than 0.5 s.
    assert moving == {round(0.5 + k / 10, 3) for k in range(15)} | {
        round(2.5 + k / 10, 3) for k in range(10)}
    assert inf.zero_reasons['stale camera frame'] >= 1


def test_replayed_action_bag_is_written(checkpoint, tmp_path):
    bag, out = tmp_path / 'in', tmp_path / 'out'
    with BagWriter(bag) as writer:
        writer.write_string('/vla/command', 'go around the box on the left to the cup', T0 * S)
        for n in range(10):
            writer.write_image('/camera/image_policy', frame(n), T0 * S + n * S // 10)
    with BagWriter(out) as sink:
        ex = ReplayExecutor(sink=sink)
        InferenceWiring(ReplayBus(ex, to_params(InferenceConfig(checkpoint=checkpoint))),
                        load=load_runner)
        ex.run_bag(bag)
    msgs = read_messages(out, ['/robot/action'])
    # The instruction answers at once (zero: no frame yet), then a step per frame.
    assert len(msgs) == 11 and msgs[0].msgtype == 'geometry_msgs/msg/Twist'
    assert msgs[0].t_ns == msgs[1].t_ns == T0 * S
