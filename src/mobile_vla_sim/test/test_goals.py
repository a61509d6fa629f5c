"""Goal rooms: objects to name, the expert to the named one, wrong object, not found."""

import numpy as np
import pytest

from mobile_vla.config import ConfigError
from mobile_vla.objects import KINDS
from mobile_vla.scenarios import GOAL_SCENARIOS, SCENARIOS, ScenarioError, parse
from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.evaluate import instruction_for, run_episode
from mobile_vla_sim.goals import goal_jobs, read_goal_sets
from mobile_vla_sim.targets import named_objects
from mobile_vla_sim.world import (
    CLUTTER_CLEARANCE,
    CLUTTER_REACH,
    FACTORS,
    GOAL_COLOURS,
    GOAL_KINDS,
    GOAL_SPACING,
    HELDOUT_PAIRS,
    OBSTACLE_BACK,
    SimWorld,
    sample_layout,
)

SMALL = SimConfig(width=64, height=48)


def test_goal_scenarios_keep_the_original_eight_and_their_meaning():
    assert len(GOAL_SCENARIOS) == 8 and set(SCENARIOS).isdisjoint(GOAL_SCENARIOS)
    sc = parse('goal_2box_hori_right')
    assert sc.goal and (sc.boxes, sc.orientation, sc.side) == (2, 'hori', 'right')
    assert not parse('2box_hori_right').goal
    assert parse('goal_1box_vert_left').mirrored.name == 'goal_1box_vert_right'
    with pytest.raises(ScenarioError, match='names the target'):
        sc.instruction()
    assert sc.instruction(0, 'blue ball') == 'go to the blue ball'
    with pytest.raises(ScenarioError, match='goal room'):
        parse('goal_3box_vert_left')
    # the world builds every kind the planner can name
    assert set(GOAL_KINDS) <= set(KINDS)


@pytest.mark.parametrize('name', GOAL_SCENARIOS)
def test_goal_rooms_hold_one_to_four_objects_apart_beyond_the_obstacle(name):
    sc = parse(name)
    counts = set()
    for seed in range(30):
        lay = sample_layout(name, seed)
        counts.add(len(lay.objects))
        assert 1 <= len(lay.objects) <= 4 and lay.factor('goal_count') == len(lay.objects)
        pairs = [(o.kind, o.colour) for o in lay.objects]
        assert len(set(pairs)) == len(pairs)  # no two alike
        assert not set(pairs) & HELDOUT_PAIRS  # never a held-out pair unless asked
        x0, x1, y0, y1 = lay.obstacle_bounds()
        for i, a in enumerate(lay.objects):
            assert a.kind in GOAL_KINDS and a.colour in GOAL_COLOURS
            assert a.center[0] >= x1 + OBSTACLE_BACK - 1e-9
            for b in lay.objects[i + 1:]:
                assert np.hypot(*np.subtract(a.center, b.center)) >= GOAL_SPACING
        goal = lay.objects[lay.target]
        # the target stands on the scenario's side, and "cup" is the target
        assert (goal.center[1] > (y0 + y1) / 2) == (sc.side == 'left')
        assert lay.cup == goal.center and lay.cup_rgb == goal.rgb
        # the room's words name it, and name only it
        assert named_objects(lay, instruction_for(name, seed, lay)) == (lay.target,)
        # no clutter looks like a goal kind, or touches one
        assert {c.shape for c in lay.clutter} <= {'capsule'}
        for c in lay.clutter:
            for o in lay.objects:
                assert np.hypot(*np.subtract(c.center, o.center)) >= \
                    o.reach + CLUTTER_REACH * c.size + CLUTTER_CLEARANCE
    assert len(counts) >= 3


def test_left_and_right_share_a_room_with_objects_on_both_sides():
    shared = 0
    for seed in range(20):
        left = sample_layout('goal_1box_hori_left', seed)
        right = sample_layout('goal_1box_hori_right', seed)
        if len(left.objects) > 1:
            assert left.objects == right.objects and left.boxes == right.boxes
            assert left.target != right.target
            shared += 1
    assert shared >= 10


def test_the_original_rooms_have_no_goal_objects_and_draw_no_goal_factors():
    lay = sample_layout('1box_vert_left', 3)
    assert lay.objects == () and lay.target == -1
    assert not any(name.startswith('goal_') for name in lay.factors)


def test_a_target_can_be_asked_for_held_out_pairs_included_and_its_kind_is_its_own():
    for seed in range(15):
        lay = sample_layout('goal_2box_vert_left', seed, target=('cup', 'green'))
        goal = lay.objects[lay.target]
        assert (goal.kind, goal.colour) == ('cup', 'green')
        assert [o.kind for o in lay.objects].count('cup') == 1
        anyc = sample_layout('goal_2box_vert_left', seed, target=('ball', ''))
        goal = anyc.objects[anyc.target]
        assert goal.kind == 'ball' and ('ball', goal.colour) not in HELDOUT_PAIRS
    for target, words in ((('chair', 'red'), 'unknown goal kind'),
                          (('cup', 'pink'), 'unknown goal colour')):
        with pytest.raises(ValueError, match=words):
            sample_layout('goal_1box_vert_left', 0, target=target)
    with pytest.raises(ValueError, match='needs a goal_'):
        sample_layout('1box_vert_left', 0, target=('cup', 'red'))


def test_every_kind_renders_in_its_colour_where_it_stands():
    """Seen from above, each object's pixel has its colour (cones are meshes, bottles
    two geoms): the camera sees what the room records."""
    seen = set()
    for seed in range(60):
        lay = sample_layout('goal_1box_vert_left', seed, {'light_level': (1.0, 1.0),
                                                         'light_ambient': (0.4, 0.4)})
        world = SimWorld(lay, 64, 48, top_size=400)
        try:
            top = world.render_top().astype(float)
            for o in lay.objects:
                if o.kind in seen:
                    continue
                col, row = world.top_pixel(*o.center)
                pixel = top[row, col] / 255
                rgb = np.array(o.rgb)
                # the brightest channel of the object is the pixel's brightest too
                assert int(np.argmax(pixel)) == int(np.argmax(rgb)) or o.colour == 'yellow', \
                    (o.kind, o.colour, pixel)
                seen.add(o.kind)
        finally:
            world.close()
        if seen == set(GOAL_KINDS):
            break
    assert seen == set(GOAL_KINDS)


@pytest.mark.parametrize('name, seed', [('goal_1box_vert_left', 3), ('goal_2box_hori_right', 5),
                                        ('goal_1box_hori_right', 11)])
def test_the_expert_reaches_the_named_object_and_no_other(name, seed):
    result = run_episode(name, seed, driver='expert', sim=SMALL)
    assert result.success and result.reached and result.stopped_at_goal, result.summary()
    assert not result.wrong_object
    assert result.goal and not result.wrong_side
    lay = sample_layout(name, seed)
    assert result.target == lay.objects[lay.target].describe()
    assert 0 < result.spl <= 1


def test_reaching_an_object_the_words_do_not_name_is_wrong_object():
    lay = sample_layout('goal_1box_vert_left', 3)
    assert len(lay.objects) > 1
    other = next(o for k, o in enumerate(lay.objects) if k != lay.target)
    # the expert drives to the room's target while the words name the other object
    result = run_episode('goal_1box_vert_left', 3, f'go to the {other.describe()}',
                         driver='expert', sim=SMALL)
    assert result.wrong_object == lay.objects[lay.target].describe()
    assert not result.success and not result.absent and result.spl == 0.0


def test_a_target_the_room_does_not_hold_is_absent_and_must_reach_nothing():
    result = run_episode('goal_1box_vert_left', 3, 'go to the black ball', driver='expert',
                         sim=SMALL)
    assert result.absent and result.target == 'black ball'
    assert result.wrong_object and not result.success  # the expert drove to something else


def test_goal_set_files_are_read_and_checked(tmp_path):
    entries = read_goal_sets('goals_heldout')
    sets = {e.set for e in entries}
    assert {'pairs', 'synonyms', 'absent'} <= sets
    assert {e.target for e in entries if e.set == 'pairs'} == HELDOUT_PAIRS
    jobs = goal_jobs([e for e in entries if e.set == 'synonyms'][:2], 2, 100000, SMALL)
    assert len(jobs) == 4 and all(parse(j.scenario).goal and '{' not in j.instruction
                                  for j in jobs)
    for text, words in (('sets: []', 'named lists'),
                        ('sets: {a: [{instruction: go to the cup, target: chair}]}',
                         'must name one object kind'),
                        ('sets: {a: [{instruction: go, target: pink cup}]}',
                         'must name one object kind'),
                        ('sets: {a: [{target: cup}]}', 'each entry is')):
        bad = tmp_path / 'bad.yaml'
        bad.write_text(text)
        with pytest.raises(ConfigError, match=words):
            read_goal_sets(bad)


def test_goal_factors_are_documented_and_buildable():
    for name in ('goal_count', 'goal_y', 'goal_depth', 'goal_size'):
        assert FACTORS[name].doc


def test_goal_sets_report_each_set_and_a_refused_absent_target_is_right():
    """The policy knows the cup only: a ball is refused by the planner, which for an
    absent target is the right outcome and for a present one a failure."""
    from mobile_vla.policy.runner import untrained_runner
    from mobile_vla_sim.goals import GoalEntry, evaluate_goal_sets, goal_table

    runner = untrained_runner('kosmos2_clip_tiny')
    assert runner.config.objects == ('cup',)
    entries = [GoalEntry('pairs', 'go to the green cup', ('cup', 'green')),
               GoalEntry('known', 'go to the {colour} ball', ('ball', '')),
               GoalEntry('absent', 'go to the black ball', None)]
    report = evaluate_goal_sets(runner, entries, 1,
                                sim=SimConfig(width=96, height=54, time_limit_s=1.0))
    assert list(report['sets']) == ['pairs', 'known', 'absent']
    runs = report['runs']
    assert runs[0]['target'] == 'green cup' and runs[0]['outcome'] in ('timeout', 'plan_done',
                                                                       'collision',
                                                                       'wrong_object')
    assert runs[1]['outcome'] == 'plan_refused' and not runs[1]['success']
    assert runs[2]['absent'] and runs[2]['outcome'] == 'plan_refused' and runs[2]['success']
    assert report['sets']['absent']['overall']['success'] == 1.0
    text = goal_table(report)
    assert '### pairs' in text and 'wrong object' in text


def test_place_words_name_one_of_two_objects_of_a_kind(tmp_path):
    entries = read_goal_sets('goals_places_heldout')
    assert entries and all(e.target for e in entries)
    for job in goal_jobs(entries, 3, 100000, SMALL):
        lay = sample_layout(job.scenario, job.seed, target=job.target, decoy=job.decoy)
        named = named_objects(lay, job.instruction)
        kind = job.target[0]
        assert job.decoy and len(named) == 1
        assert [o.kind for o in lay.objects].count(kind) == 2  # only the place tells
        chosen = lay.objects[named[0]]
        other = next(o for k, o in enumerate(lay.objects) if o.kind == kind and k != named[0])
        _, _, y0, y1 = lay.obstacle_bounds()
        middle = (y0 + y1) / 2
        if 'left' in job.instruction:
            assert chosen.center[1] > middle > other.center[1]
        elif 'right' in job.instruction:
            assert chosen.center[1] < middle < other.center[1]
        else:
            near = np.hypot(*np.subtract(chosen.center, lay.robot[:2]))
            far = np.hypot(*np.subtract(other.center, lay.robot[:2]))
            assert (near < far) == any(w in job.instruction for w in ('nearest', 'closest'))
    bad = tmp_path / 'places.yaml'
    bad.write_text('sets: {places: [{instruction: go to the ball on the left}]}')
    with pytest.raises(ConfigError, match='by place needs the target'):
        read_goal_sets(bad)


def test_the_left_and_right_rooms_render_the_same_but_for_the_target():
    """Walls and the top view follow the room, never the target: nothing but the words
    tells the left room of a seed from the right."""
    from mobile_vla_sim.world import build_mjcf

    compared = 0
    for seed in range(30):
        left = sample_layout('goal_1box_vert_left', seed)
        right = sample_layout('goal_1box_vert_right', seed)
        if len(left.objects) > 1:
            a = build_mjcf(left, 64, 48).replace('goal_1box_vert_left', '')
            b = build_mjcf(right, 64, 48).replace('goal_1box_vert_right', '')
            assert a == b, seed
            compared += 1
    assert compared >= 10


def test_every_target_of_a_sequence_is_on_the_way_and_only_the_last_is_the_goal():
    from mobile_vla_sim.targets import mentioned_objects

    lay = next(sample_layout('goal_1box_hori_left', s) for s in range(50)
               if len(sample_layout('goal_1box_hori_left', s).objects) >= 3)
    first, last, other = lay.objects[0], lay.objects[1], lay.objects[2]
    words = f'first go to the {first.describe()}, then to the {last.describe()}'
    assert named_objects(lay, words) == (1,)
    assert mentioned_objects(lay, words) == {0, 1} and 2 not in mentioned_objects(lay, words)
    assert other.describe() not in words


def test_a_success_radius_that_reaches_two_objects_is_refused():
    from mobile_vla_sim.session import SimSession

    lay = sample_layout('goal_1box_vert_left', 3)
    with pytest.raises(ConfigError, match='success_radius 0.5 m would reach two'):
        SimSession(lay, 'go to the cup', driver='expert',
                   sim=SimConfig(width=64, height=48, success_radius=0.5))


def test_a_goal_room_recording_needs_its_instruction():
    from mobile_vla_recorder.recorder import EpisodeRecorder, RecorderConfig

    recorder = EpisodeRecorder(RecorderConfig(output_dir='/nonexistent-never-written'))
    recorder.on_image(np.zeros((48, 64, 3), np.uint8), 'rgb8', 1.0)
    result = recorder.on_control('start goal_1box_vert_left', 1.0)
    assert not result.ok and 'goal room' in result.message and 'go to the' in result.message


def test_driving_on_from_the_named_object_to_another_is_wrong_object():
    """Reaching the named object does not end the checks: a robot that drives on and
    comes to another object has gone to the wrong object, not stopped away."""
    from mobile_vla_sim.session import SimSession

    lay = sample_layout('goal_1box_vert_left', 3)
    target = lay.objects[lay.target]
    other = next(o for k, o in enumerate(lay.objects) if k != lay.target)
    with SimSession(lay, f'go to the {target.describe()}', driver='expert', sim=SMALL,
                    record=False) as session:
        session.world.place(*target.center, 0.0)
        session._physics(session.start_ns)
        assert session.result.reached and not session.result.wrong_object
        session.world.place(*other.center, 0.0)
        session._physics(session.start_ns + 10_000_000)
        assert session.result.wrong_object == other.describe()


def test_an_earlier_navigation_step_counts_only_where_it_arrived_at_what_it_named():
    from mobile_vla_sim.evaluate import steps_done
    from mobile_vla_sim.results import RunResult
    from mobile_vla_sim.targets import GoalJudge

    lay = sample_layout('goal_1box_vert_left', 3)
    kinds = [o.kind for o in lay.objects]
    first = next(o for o in lay.objects if kinds.count(o.kind) == 1 and o.kind != 'cup')
    judge = GoalJudge(lay, f'go to the {first.kind}', 'left', 0.45)
    near = [first.center[0] - 0.2, first.center[1], 0.0]
    far = [first.center[0] - 1.5, first.center[1], 0.0]
    assert judge.at_step_target({'kind': first.kind, 'colour': '', 'place': ''}, near)
    assert not judge.at_step_target({'kind': first.kind, 'colour': '', 'place': ''}, far)
    wrong_colour = next(c for c in ('red', 'blue') if c != first.colour)
    assert not judge.at_step_target({'kind': first.kind, 'colour': wrong_colour}, near)
    # an original room: its one goal is the cup
    plain = sample_layout('1box_vert_left', 3)
    cup_judge = GoalJudge(plain, 'go to the cup', 'left', 0.45)
    at_cup = [plain.cup[0] - 0.2, plain.cup[1], 0.0]
    assert cup_judge.at_step_target({'kind': 'cup'}, at_cup)
    assert cup_judge.at_step_target(None, at_cup)
    assert not cup_judge.at_step_target({'kind': 'ball'}, at_cup)
    # a goal room: a step without a target goes to the room's own goal; one without a
    # kind names nothing
    goal = lay.objects[lay.target].center
    at_target = [goal[0] - 0.2, goal[1], 0.0]
    elsewhere = next(o.center for k, o in enumerate(lay.objects) if k != lay.target)
    assert judge.at_step_target(None, at_target)
    assert not judge.at_step_target(None, [elsewhere[0] - 0.2, elsewhere[1], 0.0])
    assert not judge.at_step_target({'colour': first.colour}, near)
    # mark_steps: what session.run does with the steps vla/status reported
    steps = [{'kind': 'navigate', 'target': {'kind': first.kind}, 'end_pose': near},
             {'kind': 'wait', 'target': None, 'end_pose': near},
             {'kind': 'navigate', 'target': {'kind': first.kind}, 'end_pose': far},
             {'kind': 'navigate', 'target': {'kind': first.kind}, 'end_pose': None}]
    judge.mark_steps(steps)
    assert [s.get('at_target') for s in steps] == [True, None, False, None]

    def run(at_first: bool) -> RunResult:
        result = RunResult('goal_1box_vert_left', 3, 'first go to the ball, then to the cup',
                           'left', 'policy', 'vla', goal=True, stopped_at_goal=True,
                           outcome='plan_done')
        result.plan_steps = [
            {'kind': 'navigate', 'state': 'done', 'at_target': at_first},
            {'kind': 'navigate', 'state': 'done', 'at_target': True}]
        return result
    assert steps_done(run(True)) == [True, True]
    # straight to the cup: the run succeeds, but its first step was not done as asked
    assert run(False).success and steps_done(run(False)) == [False, True]
