"""Plans run step by step: motion on time or odometry, navigation until arrival, status."""

import json
import math

import numpy as np
import pytest

from mobile_vla.planner import plan
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


def test_navigation_runs_the_policy_until_it_holds_still_or_times_out():
    ex = PlanExecutor(plan('go around the box on the left to the cup, then stop'), LIMITS)
    d = ex.update(0.0)
    assert d.kind == 'policy' and d.text == 'go around the box on the left to the cup'
    ex.on_policy_action(np.array([1.0, 0.5, 0.0]), 0.5)
    ex.on_policy_action(np.array([0.01, 0.0, 0.0]), 3.0)
    ex.on_policy_action(np.array([0.5, 0.0, 0.0]), 3.5)  # moving again: not arrived
    ex.on_policy_action(np.array([0.0, 0.01, 0.0]), 4.0)
    assert ex.state == RUNNING
    ex.on_policy_action(np.array([0.0, 0.0, 0.02]), 5.0)
    assert ex.update(5.0).reason == 'stopped by instruction' and ex.status['step'] == 2

    late = PlanExecutor(plan('go to the cup'), LIMITS)
    late.update(0.0)
    d = late.update(20.5)
    assert late.state == FAILED and 'navigate_timeout_s' in d.reason


class StillRunner:
    """Stands in for the policy: its actions are the test's to choose."""

    def __init__(self):
        self.instruction, self.action, self.instructions = None, np.zeros(3, np.float32), []
        self.config = type('C', (), {'image_size': 8})()

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
