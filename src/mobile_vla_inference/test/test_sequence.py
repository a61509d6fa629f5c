"""Plans run step by step: motion on time or odometry, navigation until arrival, status."""

import json
import math

import numpy as np
import pytest

from mobile_vla.planner import plan
from mobile_vla.policy.configuration_policy import PolicyConfig
from mobile_vla_inference.inference import InferenceConfig, VlaInference
from mobile_vla_inference.sequence import DONE, FAILED, RUNNING, PlanExecutor, SequenceLimits

LIMITS = SequenceLimits(motion_speed=0.25, turn_speed=0.5, arrive_speed=0.08,
                        arrive_hold_s=1.0, navigate_timeout_s=20.0, odom_timeout_s=0.5)


def test_motion_steps_run_on_time_without_odometry():
    ex = PlanExecutor(plan('move left 0.5 m, then turn right 90 degrees, then wait 1 s'),
                      LIMITS)
    d = ex.update(0.0)
    assert d.kind == 'motion' and d.velocity == (0.0, 0.25, 0.0)
    assert ex.update(1.99).kind == 'motion'  # 0.5 m at 0.25 m/s: 2 s
    d = ex.update(2.0)
    assert d.kind == 'motion' and d.velocity == (0.0, 0.0, -0.5) and ex.index == 1
    assert ex.update(2.0 + math.pi / 2 / 0.5 + 0.01).kind == 'zero'  # waiting
    assert ex.status['step'] == 3 and ex.status['kind'] == 'wait'
    d = ex.update(10.0)
    assert d.kind == 'zero' and d.reason == 'plan complete' and ex.state == DONE


def test_motion_steps_close_on_fresh_odometry_and_a_blocked_robot_fails():
    ex = PlanExecutor(plan('move forward 0.5 m'), LIMITS)
    ex.on_odometry((1.0, 2.0, math.pi / 2), 0.0)  # facing +y: forward is +y in odom
    assert ex.update(0.0).kind == 'motion'
    ex.on_odometry((1.0, 2.3, math.pi / 2), 3.0)
    assert ex.update(3.0).kind == 'motion'  # 0.3 m of 0.5: on odometry, not the 2 s clock
    ex.on_odometry((1.0, 2.51, math.pi / 2), 3.5)
    assert ex.update(3.5).kind == 'zero' and ex.state == DONE

    blocked = PlanExecutor(plan('move forward 0.5 m'), LIMITS)
    for t in np.arange(0.0, 5.35, 0.1):  # 2 s expected: failed after 2 x 2 + 1 s
        blocked.on_odometry((0.0, 0.0, 0.0), float(t))
        d = blocked.update(float(t))
    assert blocked.state == FAILED and d.kind == 'zero' and 'blocked' in d.reason


def test_turns_count_the_angle_through_the_wrap():
    ex = PlanExecutor(plan('turn left 90 degrees'), LIMITS)
    ex.on_odometry((0.0, 0.0, math.radians(170)), 0.0)
    ex.update(0.0)
    ex.on_odometry((0.0, 0.0, math.radians(-150)), 1.0)  # +40 degrees across +-180
    assert ex.update(1.0).kind == 'motion'
    ex.on_odometry((0.0, 0.0, math.radians(-99)), 2.0)  # +91
    assert ex.update(2.0).kind == 'zero' and ex.state == DONE


def test_a_turn_the_wrong_way_or_a_clock_that_goes_back_never_completes_a_step():
    ex = PlanExecutor(plan('turn left 90 degrees'), LIMITS)
    ex.on_odometry((0.0, 0.0, 0.0), 0.0)
    ex.update(0.0)
    ex.on_odometry((0.0, 0.0, -math.radians(100)), 1.0)  # turned right: no progress
    assert ex.update(1.0).kind == 'motion'
    back = PlanExecutor(plan('move forward 1 m'), LIMITS)
    back.update(100.0)
    d = back.update(3.0)  # a restarted simulator or bag: fail, never drive on
    assert back.state == FAILED and d.kind == 'zero' and 'clock went back' in d.reason
    assert PlanExecutor(plan('wait 1 s'), LIMITS).update(float('nan')).kind == 'zero'


def test_navigation_runs_the_policy_until_it_holds_still_or_times_out():
    ex = PlanExecutor(plan('go around the box on the left to the cup, then stop'), LIMITS)
    d = ex.update(0.0)
    assert d.kind == 'policy' and d.text == 'go around the box on the left to the cup'
    still = np.array([0.0, 0.01, 0.0])
    for t in np.arange(0.0, 1.2, 0.1):  # near zero before it ever drove: no arrival
        ex.on_policy_action(still, t)
    ex.on_policy_action(np.array([1.0, 0.5, 0.0]), 1.5)
    for t in np.arange(1.6, 2.5, 0.1):
        ex.on_policy_action(still, t)
    ex.on_policy_action(np.array([0.5, 0.0, 0.0]), 2.5)  # moving again: not arrived
    ex.on_policy_action(still, 2.6)
    ex.on_policy_action(still, 3.4)  # a gap (no frames): the count starts again
    for t in np.arange(3.5, 4.4, 0.1):
        ex.on_policy_action(still, t)
    assert ex.state == RUNNING
    ex.on_policy_action(still, 4.5)
    assert ex.update(4.5).reason == 'stopped by instruction' and ex.status['step'] == 2

    late = PlanExecutor(plan('go to the cup'), LIMITS)
    late.update(0.0)
    d = late.update(20.5)
    assert late.state == FAILED and 'navigate_timeout_s' in d.reason


class StillRunner:
    """Stands in for the policy: its actions are the test's to choose."""

    def __init__(self):
        self.instruction, self.action, self.instructions = None, np.zeros(3, np.float32), []
        self.config = PolicyConfig(image_size=8)  # the kinds it knows: the cup

    def set_instruction(self, text):
        self.instruction = text
        self.instructions.append(text)

    def step(self, image, order):
        return type('R', (), {'action': self.action, 'latency_ms': {}})()


def _inference():
    runner = StillRunner()
    inf = VlaInference(InferenceConfig(preset='x', motion_speed=0.25), lambda c: runner)
    assert inf.load()
    return inf, runner


def test_the_inference_runs_a_plan_and_a_new_instruction_replaces_it_at_once():
    inf, runner = _inference()
    frame = np.zeros((8, 8, 3), np.uint8)
    assert inf.on_instruction('first move left 0.5 m, then go around the box on the right '
                              'to the cup') is None
    assert inf.status()['steps'] == 2 and runner.instructions == []
    out = inf.step(0.0)  # a motion step needs no camera
    assert out.reason is None and tuple(out.action) == (0.0, 0.25, 0.0)
    inf.on_image(frame, 'rgb', 2.0)
    runner.action = np.array([1.0, -0.5, 0.0], np.float32)
    out = inf.step(2.05)
    assert runner.instruction == 'go around the box on the right to the cup'
    assert tuple(out.action) == (1.0, -0.5, 0.0) and inf.status()['step'] == 2
    # A new instruction: the plan is replaced before the next output.
    inf.on_instruction('turn left 45 degrees')
    out = inf.step(2.1, run_policy=False)
    assert out.action[2] == pytest.approx(0.6) and inf.status()['kind'] == 'turn'


def test_a_motion_after_navigation_is_not_expired_nor_the_last_action_held():
    inf, runner = _inference()
    inf.on_instruction('go to the cup, then move left 1 m')
    runner.action = np.array([0.8, 0.0, 0.0], np.float32)
    for k in range(10):  # 10 Hz camera: driving
        inf.on_image(np.zeros((8, 8, 3), np.uint8), 'rgb', k / 10)
        inf.step(k / 10 + 0.01)
    runner.action = np.zeros(3, np.float32)
    t = 1.0
    while inf.status()['kind'] == 'navigate' and t < 5:  # arrives: holds still for 1 s
        inf.on_image(np.zeros((8, 8, 3), np.uint8), 'rgb', t)
        inf.step(t + 0.01)
        t += 0.1
    assert inf.status()['kind'] == 'move'
    for k in range(20):  # frames keep coming; no stale-frame zero over the motion step
        now = t + k / 10
        inf.on_image(np.zeros((8, 8, 3), np.uint8), 'rgb', now)
        out = inf.expire(inf.step(now + 0.01), now + 0.6)
        assert out.reason is None and tuple(out.action) == (0.0, 0.25, 0.0), (k, out)


def test_a_new_step_never_holds_the_last_steps_action():
    inf, runner = _inference()
    inf.on_instruction('go to the cup')
    inf.on_instruction('move left 0.3 m, then go to the cup')  # same navigation text
    assert tuple(inf.step(0.0).action) == (0.0, 0.25, 0.0)
    out = inf.step(1.3, run_policy=False)  # navigation now, no frame yet: zero, not 0.25
    assert not out.action.any() and inf.status()['kind'] == 'navigate'


@pytest.mark.parametrize('text, state, words', [
    ('', 'stopped', 'stopped by instruction'),
    ('   ', 'stopped', 'stopped by instruction'),
    ('x' * 501, 'refused', 'more than max_instruction_chars'),
    ('🙂🙂🙂', 'refused', 'no English words'),
    ('gehe links um die Box zur Tasse', 'refused', 'not English'),
    ('go left then go right around the box', 'refused', 'needs an amount'),
    ('go around the box on the left and on the right to the cup', 'refused', 'both left and '
                                                                              'right'),
])
def test_bad_language_gives_zero_and_a_status_that_says_why(text, state, words):
    inf, runner = _inference()
    inf.on_instruction('go around the box on the left to the cup')
    inf.on_image(np.zeros((8, 8, 3), np.uint8), 'rgb', 0.0)
    runner.action = np.array([1.0, 0.5, 0.0], np.float32)
    assert inf.step(0.05).action.any()
    inf.on_instruction(text)
    out = inf.step(0.1)
    status = inf.status()
    assert not out.action.any() and status['state'] == state and words in status['reason']
    json.dumps(status)  # what vla/status carries
