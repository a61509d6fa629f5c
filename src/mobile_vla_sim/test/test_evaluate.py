"""Policy runs in the simulator (``evaluate``): every output of a run, the same run twice,
instruction plans step by step, and the language test's pairing of rooms."""

import json
import math

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from mobile_vla import topics
from mobile_vla.bag import BagReader
from mobile_vla.episode import validate_episode
from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.evaluate import RunOutputs, language_test, run_episode, steps_done
from mobile_vla_sim.session import ODOM

SMALL = SimConfig(width=160, height=90, time_limit_s=3.0)
EVERY_TOPIC = {topics.CAMERA_IMAGE.path, topics.VLA_COMMAND.path, topics.ROBOT_ACTION.path,
               topics.CMD_VEL.path, topics.CONTROL_MODE.path, topics.CONTROL_STATE.path,
               topics.RECORDER_CONTROL.path, ODOM}


def test_policy_run_writes_every_output_and_the_bag_reads_back(tmp_path, runner):
    folder = tmp_path / 'run'
    result = run_episode('2box_hori_right', 3, runner=runner, sim=SMALL,
                         outputs=RunOutputs(folder))
    for key in ('bag', 'video', 'top_down', 'episode', 'summary'):
        assert key in result.outputs, key
    summary = json.loads((folder / 'summary.json').read_text())
    assert summary['scenario'] == '2box_hori_right' and summary['policy_steps'] > 0
    assert validate_episode(result.outputs['episode']) == []
    with BagReader(folder / 'bag') as bag:
        assert EVERY_TOPIC <= set(bag.topics)
        stamps = [m.t_ns for m in bag.messages()]
        assert stamps == sorted(stamps)
        frames = list(bag.messages([topics.CAMERA_IMAGE.path]))
        # sim time: frames every 1 / frame_rate_hz, from the simulator's epoch
        gaps = np.diff([m.t_ns for m in frames])
        assert np.all(gaps == round(1e9 / SMALL.frame_rate_hz))
        assert frames[0].msg.width == 160 and frames[0].msg.encoding == 'rgb8'
    import cv2
    video = cv2.VideoCapture(result.outputs['video'])
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == len(frames)
    video.release()
    assert cv2.imread(result.outputs['top_down']).shape == (480, 480, 3)
    with pytest.raises(FileExistsError, match='never overwritten'):
        run_episode('2box_hori_right', 3, runner=runner, sim=SMALL, outputs=RunOutputs(folder))


def test_a_run_is_identical_twice_with_the_same_seed(tmp_path, runner):
    results = []
    for k in range(2):
        results.append(run_episode('1box_vert_left', 9, runner=runner, sim=SMALL,
                                   outputs=RunOutputs(tmp_path / str(k), video=False)))
    a, b = results
    sa, sb = a.summary(), b.summary()
    sa.pop('outputs')
    sb.pop('outputs')
    assert sa == sb
    np.testing.assert_array_equal(a.episode.images, b.episode.images)
    np.testing.assert_array_equal(a.episode.actions, b.episode.actions)
    raw = []
    for k in range(2):
        with Reader(tmp_path / str(k) / 'bag') as reader:
            raw.append([(c.topic, t, bytes(data)) for c, t, data in reader.messages()])
    # Every message is the same, at the same time, except what /diagnostics measures of
    # the machine (the policy's step latency in milliseconds); its messages still come
    # at the same times.
    assert [(topic, t) for topic, t, _ in raw[0]] == [(topic, t) for topic, t, _ in raw[1]]
    assert {topic for topic, _, _ in raw[0]} >= {'/diagnostics', '/cmd_vel', '/camera/image'}

    def behaviour(messages):
        return [m for m in messages if m[0] != '/diagnostics']
    assert len(behaviour(raw[0])) > 100 and behaviour(raw[0]) == behaviour(raw[1])


def test_a_sequence_runs_step_by_step_and_each_step_is_checked(runner):
    """Motion steps through the inference's planner, closed on the simulator's odometry;
    vla/status marks where each step began and ended, and the run ends with the plan."""
    text = 'first move left 0.3 m, then turn right 30 degrees, then wait 0.5 seconds'
    result = run_episode('1box_vert_left', 3, text, runner=runner,
                         sim=SimConfig(width=160, height=90, time_limit_s=6.0))
    assert result.outcome == 'plan_done' and result.plan_state == 'done'
    move, turn, wait = result.plan_steps
    assert [s['kind'] for s in result.plan_steps] == ['move', 'turn', 'wait']
    assert all(s['state'] == 'done' for s in result.plan_steps)
    moved = np.subtract(move['end_pose'][:2], move['start_pose'][:2])
    assert abs(np.linalg.norm(moved) - 0.3) < 0.05 and moved[1] > 0.25  # left, on odometry
    assert math.degrees(turn['start_pose'][2] - turn['end_pose'][2]) == pytest.approx(30, abs=5)
    assert wait['ended_s'] - wait['started_s'] == pytest.approx(0.5, abs=0.15)
    # Navigation was never asked for: no cup, so no success, but every step was done.
    assert steps_done(result) == [True, True, True]
    assert not result.success and not result.reached

    refused = run_episode('1box_vert_left', 3, 'go left then go right around the box',
                          runner=runner, sim=SMALL)
    assert refused.outcome == 'plan_refused' and refused.path_length < 0.01


def test_language_test_pairs_rooms_by_seed():
    class R:
        def __init__(self, scenario, seed, ok):
            self.scenario, self.seed, self.on_instructed_side = scenario, seed, ok
            self.success, self.passed_side, self.wrong_side = ok, None, False
            self.instructed_side = scenario.rsplit('_', 1)[1]

    report = language_test([R('1box_vert_left', 1, True), R('1box_vert_right', 1, True),
                            R('1box_vert_left', 2, True), R('1box_vert_right', 2, False),
                            R('2box_hori_left', 1, True)])
    assert report['pairs'] == 2 and report['pairs_passed'] == 1
    assert report['instructions_on_side'] == 0.75


class ExpertRunner:
    """Stands in for the policy: the scripted expert's keys, read from the simulated
    robot's true pose, so that where it stops is the test's to choose."""

    engine = type('Engine', (), {'name': 'expert'})()

    def __init__(self, stop_radius: float):
        from mobile_vla.policy.configuration_policy import PolicyConfig

        self.stop_radius, self.instruction, self.session = stop_radius, None, None
        self.config = PolicyConfig(image_size=8)
        self.expert = None

    def reset(self):
        pass

    def set_instruction(self, text):
        self.instruction = text

    def step(self, image, order):
        from mobile_vla_sim.expert import ExpertConfig, ScriptedExpert

        if self.expert is None:
            session = self.session
            self.expert = ScriptedExpert(session.layout, session.scenario.side,
                                         ExpertConfig(stop_radius=self.stop_radius))
        action = self.expert.act(self.session.world.pose()).astype(np.float32)
        return type('R', (), {'action': action, 'latency_ms': {}})()


GO_LEFT = 'go left around the box to the cup'


@pytest.mark.parametrize('stop_radius, success, reached, outcome, text', [
    # held still at the cup: the navigation step arrived
    (0.30, True, True, 'plan_done', GO_LEFT),
    # a plan that ends with a stop step ends 'stopped'; the stop was still at the cup
    (0.30, True, True, 'plan_stopped', GO_LEFT + ', then stop'),
    (0.0, False, True, 'timeout', GO_LEFT),  # drove through the cup, never holding still
    (0.8, False, False, 'plan_done', GO_LEFT),  # held still short of the cup: stopped away
])
def test_success_is_where_the_policy_stops_not_where_it_passed(stop_radius, success,
                                                               reached, outcome, text):
    from mobile_vla_sim.session import SimSession
    from mobile_vla_sim.world import sample_layout

    runner = ExpertRunner(stop_radius)
    layout = sample_layout('1box_vert_left', 3)
    with SimSession(layout, text, runner=runner,
                    sim=SimConfig(width=96, height=54, time_limit_s=12.0),
                    record=False) as session:
        runner.session = session
        result = session.run()
    assert (result.success, result.reached, result.outcome) == (success, reached, outcome), \
        result.summary()
    assert result.stopped_at_goal == success
    assert result.stopped_away == (outcome.startswith('plan_') and not success)
    if success:
        assert result.plan_steps[-1]['state'] == 'done' and result.spl > 0
