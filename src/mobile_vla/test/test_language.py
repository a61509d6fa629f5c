"""Instruction language: training phrasings, the held-out set, instruction files, the planner."""

import math

import pytest
import yaml

from mobile_vla.config import ConfigError
from mobile_vla.language import (
    SIDES,
    all_training_phrasings,
    normalized,
    read_instruction_pairs,
    training_phrasings,
)
from mobile_vla.planner import MOVE, NAVIGATE, STOP, TURN, WAIT, PlanError, plan
from mobile_vla.resources import workspace_dir
from mobile_vla.scenarios import INSTRUCTIONS, SCENARIOS


def test_training_has_many_phrasings_per_side_with_the_documented_ones_first():
    for side in SIDES:
        for boxes in (1, 2):
            texts = training_phrasings(side, boxes)
            assert len(texts) >= 200 and len(set(map(normalized, texts))) == len(texts)
            obstacle = 'box' if boxes == 1 else 'boxes'
            assert texts[:5] == tuple(t.format(obstacle=obstacle) for t in INSTRUCTIONS[side])
            # The side word sits in several places, and some name the obstacle's side.
            assert any(t.startswith(('on the', 'go ' + side)) for t in texts)
            other = 'right' if side == 'left' else 'left'
            assert any(f'on your {other}' in t for t in texts)
    assert training_phrasings('left', 1) == training_phrasings('left', 1)  # fixed seed


@pytest.mark.parametrize('name, entries', [('heldout', 24), ('heldout_b', 16)])
def test_the_held_out_paraphrases_are_never_trained_on(name, entries):
    pairs = read_instruction_pairs(name)
    assert len({p.source for p in pairs}) == entries
    trained = all_training_phrasings()
    assert not [p.instruction for p in pairs if normalized(p.instruction) in trained]
    for pair in pairs:  # every scenario of its side, with box or boxes filled in
        assert '{' not in pair.instruction and pair.scenario in SCENARIOS


def test_every_phrasing_plans_as_one_navigation_step_on_its_side():
    for side in SIDES:
        for boxes in (1, 2):
            for text in training_phrasings(side, boxes):
                [step] = plan(text).steps
                assert step.kind == NAVIGATE and step.side == side, text
    for pair in read_instruction_pairs('heldout') + read_instruction_pairs('heldout_b'):
        [step] = plan(pair.instruction).steps
        assert step.side == pair.scenario.rsplit('_', 1)[1], pair.instruction


def test_instruction_files_are_checked(tmp_path):
    good = tmp_path / 'good.yaml'
    good.write_text("- {scenario: 2box_vert_left, instruction: 'hug the {obstacle} on the left'}\n"
                    "- {scenario: [right], instruction: 'go right to the cup'}\n")
    pairs = read_instruction_pairs(good)
    assert pairs[0].instruction == 'hug the boxes on the left' and len(pairs) == 5
    for text, words in (("- {scenario: 3box, instruction: 'x'}", 'unknown scenario'),
                        ("- {instruction: ''}", 'non-empty'),
                        ('- just text', 'each entry needs'),
                        ('{}', 'expected a list'),
                        (':\n  - [', 'not UTF-8 YAML')):
        bad = tmp_path / 'bad.yaml'
        bad.write_text(text)
        with pytest.raises(ConfigError, match=words):
            read_instruction_pairs(bad)
    with pytest.raises(ConfigError, match='No such file'):
        read_instruction_pairs(tmp_path / 'missing.yaml')


def test_a_sequence_is_split_into_motion_and_navigation_steps():
    p = plan('first move left 0.5 m, then turn right 30 degrees, after that wait 2 seconds, '
             'and finally go around the boxes on the left to the cup')
    assert [s.kind for s in p.steps] == [MOVE, TURN, WAIT, NAVIGATE]
    move, turn, wait, nav = p.steps
    assert move.direction == (0.0, 1.0, 0.0) and move.amount == 0.5
    assert turn.direction == (0.0, 0.0, -1.0) and math.isclose(turn.amount, math.radians(30))
    assert wait.amount == 2.0 and nav.side == 'left'
    assert plan('go forward 1 meter').steps[0].amount == 1.0
    assert plan('move back 20 cm').steps[0].direction == (-1.0, 0.0, 0.0)
    assert plan('move 2 meters forward').steps[0].amount == 2.0
    assert plan('move right for 3 seconds').steps[0].timed
    assert plan('turn around').steps[0].amount == pytest.approx(math.pi)
    assert plan('turn left').steps[0].amount == pytest.approx(math.pi / 2)
    assert [s.kind for s in plan('go to the cup, then stop').steps] == [NAVIGATE, STOP]
    # A description in two parts is one navigation step: the policy reads all of it.
    [nav] = plan('pass the box on the left and then reach the cup').steps
    assert nav.kind == NAVIGATE and 'reach the cup' in nav.text
    [nav] = plan('the cup is behind the box; get there via the left').steps
    assert nav.side == 'left'
    assert [s.kind for s in plan('wait 1 second. go to the cup').steps] == [WAIT, NAVIGATE]
    # "and" or a comma split around a motion primitive only.
    assert [s.kind for s in plan('move left 0.5 m and go around the box on the right to '
                                 'the cup').steps] == [MOVE, NAVIGATE]
    assert [s.kind for s in plan('turn left 30 degrees, move forward 1 m').steps] == [TURN,
                                                                                       MOVE]
    with pytest.raises(PlanError, match="'dance' is not understood"):
        plan('move left 0.5 m and dance')


@pytest.mark.parametrize('text, words', [
    ('', 'empty'),
    ('   \t ', 'empty'),
    ('🙂🚀🙂', 'no English words'),
    ('gehe links um die Box zur Tasse', 'not English'),
    ('dance', 'not understood'),
    ('first move left then go forward', 'needs an amount'),
    ('go left then go right around the box', 'needs an amount'),
    ('go around the box on the left and on the right', 'both left and right'),
    ('go around the box on the left to the cup, then go around the box on the right to '
     'the cup', 'both left and right'),
    ('move left 50 m', '0 to 5 m'),
    ('turn right 720 degrees', '0 to 360 degrees'),
    ('wait 10 hours', 'not a unit of time'),
    ('move left 3 parsecs', 'not a distance or a duration'),
    (', then '.join(['wait 1 s'] * 9), 'at most 8'),
    # Navigation is driving around the obstacle to the cup, and nothing else:
    ('stay away from the cup', 'can only drive'),
    ('do not go to the cup', 'a negation would change where to go'),
    ("don't pass the box on the left; go to the cup", 'a negation would change where to go'),
    ('where is the cup?', 'a question about the room'),
    ('could you tell me what is ahead?', 'a question about the room'),
    ('go to the cup, then what?', 'a question about the room'),
    ('drive to this thing', 'points at something'),
    ('should I go to the cup?', 'is a question'),
    ('can you?', 'asks for nothing'),
    ('hey robot, please', 'asks for nothing'),
    ('first,', 'asks for nothing'),
    # a "?" is a question unless the words of asking came with it
    ('go left around the box to the cup?', 'is a question'),
    ('the cup is to the left of the box?', 'is a question'),
    # what is negated includes what follows it in its clause
    ("don't hit the box or go left, go to the cup", 'a negation would change where to go'),
    ("don't hit the box on the left, go to the cup", 'a negation would change where to go'),
    ('go to the cup without the box on your left', 'a negation would change where to go'),
    ('don\u2019t go left around the box to the cup', 'a negation would change where to go'),
    ('you shouldnt go left around the box to the cup', 'a negation would change where to go'),
    ('avoid the left side of the box and go to the cup', 'a negation would change where to go'),
    ('stop going left around the box to the cup', 'a negation would change where to go'),
    ('go left around the box to the cup. scratch that', 'a negation would change where to go'),
    # a question-shaped request must ask for an action
    ('could you check whether the cup is left of the box?', 'does not ask for an action'),
    ('will you reach the cup if you go left around the box?', 'does not ask for an action'),
    ('would you mind if I go to the cup?', 'does not ask for an action'),
    ('can you get me the cup?', 'does not ask for an action'),
    ('would you mind taking the cup to the box', 'can only drive'),
    ('pick up the cup', 'can only drive'),
    ('push the box', 'can only drive'),
    ('go around the box on the left', 'does not say where to go'),
    ('box box box box', 'does not say where to go'),
    ('move left 0.5 m to the cup', 'mixes a distance'),
    ('turn right 90 degrees around the box', 'mixes a distance'),
    ('go around the box on the left and move forward 1 m to the cup', 'mixes a distance'),
    ('turn left 1.57', 'give the unit'),
    ('move left -2 m', 'positive numbers'),
    ('move left 1e309 m', 'positive numbers'),
    ('the box should be on your left; pass it on the left to the cup', 'both left and right'),
    ('go to the cup then ' * 200, 'at most 500'),
])
def test_what_the_planner_cannot_run_is_refused_with_the_reason(text, words):
    with pytest.raises(PlanError, match=words):
        plan(text)


def test_natural_phrasings_of_motions_and_stops():
    assert plan('move 1 m to the left').steps[0].direction == (0.0, 1.0, 0.0)
    assert plan('back up 2 m').steps[0].direction == (-1.0, 0.0, 0.0)
    turn = plan('turn 90 degrees to the left').steps[0]
    assert turn.kind == TURN and turn.direction[2] == 1.0
    assert plan('rotate 1.57 rad right').steps[0].amount == pytest.approx(1.57)
    assert plan('turn right 90').steps[0].amount == pytest.approx(math.pi / 2)
    for text in ('stop please', 'please stop', 'stop moving', 'emergency stop', 'halt now'):
        assert [s.kind for s in plan(text).steps] == [STOP], text
    # "next to" is not a sequence word.
    assert [s.kind for s in plan('stop next to the cup').steps] == [NAVIGATE]
    assert [s.kind for s in plan('go to the cup next to the box').steps] == [NAVIGATE]


def test_requests_are_the_actions_they_ask_for():
    """The words of asking are not the instruction; the action they ask for is."""
    def described(text):
        return [s.describe() if s.kind != NAVIGATE else ('navigate', s.side)
                for s in plan(text).steps]

    assert described('could you please turn left 30 degrees?') == ['turn left 30 degrees']
    assert described('ok robot, can you just wait 3 seconds') == ['wait 3 s']
    assert described('would you mind moving back 20 cm, thanks') == ['move back 0.2 m']
    assert described('I want you to go to the cup on the left of the box, please') == [
        ('navigate', 'left')]
    assert described('move left 0.2 m, then could you go to the cup?') == [
        'move left 0.2 m', ('navigate', None)]
    # a request keeps its words for the policy, without the asking
    assert plan('can you go around the box on the right to the cup?').steps[0].text == \
        'go around the box on the right to the cup'
    # what the robot keeps anyway may be said; where it goes may not be negated
    assert described('pass the box on the right without touching it to reach the cup') == [
        ('navigate', 'right')]
    assert described('avoid hitting the obstacle and go left of it to the cup') == [
        ('navigate', 'left')]
    with pytest.raises(PlanError, match='a negation would change where to go'):
        plan("reach the cup, just don't go right")


@pytest.mark.parametrize('name', ['requests_heldout.yaml', 'requests_heldout_b.yaml'])
def test_the_held_out_requests(name):
    """config/language/requests_heldout*.yaml, each written before the planner saw it and
    never tuned on: at least 95 % give the expected plan or refusal."""
    requests = yaml.safe_load((workspace_dir() / 'config' / 'language' /
                               name).read_text())['requests']
    misses = []
    for r in requests:
        try:
            got = [('navigate' + (f' {s.side}' if s.side else '')) if s.kind == NAVIGATE
                   else s.describe() for s in plan(r['text']).steps]
        except PlanError:
            got = 'refused'
        if got != r['plan']:
            misses.append((r['text'], got, r['plan']))
    assert len(requests) >= 30
    assert len(misses) <= 0.05 * len(requests), misses


def test_keeping_the_obstacle_on_one_side_means_passing_on_the_other():
    assert plan('keep to the left of the box and go to the cup').steps[0].side == 'left'
    assert plan('the box should be on your left; pass it on the right to the cup').steps[
        0].side == 'right'
    assert plan('keep the box on your left and go to the cup on the right side').steps[0].side \
        == 'right'
    assert plan('navigate to the cup, keeping the box on your right').steps[0].side == 'left'
    assert plan('go to the cup').steps[0].side is None
