"""The planner's targets: what a navigation step drives to, named by kind, colour or
synonym; one target per step; kinds the checkpoint does not know are refused."""

import pytest
import yaml

from mobile_vla.objects import Target, targets_in
from mobile_vla.planner import NAVIGATE, PlanError, plan
from mobile_vla.resources import workspace_dir

ALL = ('cup', 'ball', 'bottle', 'cone', 'crate')


def described(instruction, objects):
    try:
        steps = plan(instruction, objects=objects).steps
    except PlanError:
        return 'refused'
    out = []
    for s in steps:
        if s.kind != NAVIGATE:
            out.append(s.describe())
            continue
        words = ['navigate'] + ([s.side] if s.side else [])
        out.append(' '.join(words + (['->', s.target.describe()] if s.target else [])))
    return out


def test_the_held_out_target_requests():
    """config/language/targets_heldout.yaml, written before the planner learned targets
    and never tuned on: at least 95 % give the expected plan or refusal."""
    groups = yaml.safe_load((workspace_dir() / 'config' / 'language' /
                             'targets_heldout.yaml').read_text())['groups']
    misses, total = [], 0
    for group in groups:
        for r in group['requests']:
            total += 1
            got = described(r['text'], group['known'])
            if got != r['plan']:
                misses.append((r['text'], got, r['plan']))
    assert total >= 30
    assert len(misses) <= 0.05 * total, misses


def test_targets_by_kind_colour_and_synonym():
    assert targets_in('go to the blue ball') == [Target('ball', 'blue')]
    assert targets_in('reach the mug') == [Target('cup')]
    assert targets_in('the red cup, then the blue cup') == [Target('cup', 'red'),
                                                            Target('cup', 'blue')]
    assert targets_in('the cup: the red cup') == [Target('cup', 'red')]
    assert targets_in('go around the box on the left') == []
    step = plan('drive to the green cone').steps[0]
    assert step.kind == NAVIGATE and step.target == Target('cone', 'green')
    assert step.target.to_dict() == {'kind': 'cone', 'colour': 'green', 'place': '',
                                     'text': 'green cone'}


@pytest.mark.parametrize('text, target', [
    ('go to the ball on the left', Target('ball', '', 'left')),
    ('drive to the left ball', Target('ball', '', 'left')),
    ('go to the leftmost crate', Target('crate', '', 'left')),
    ('stop at the red cup on the right side', Target('cup', 'red', 'right')),
    ('go to the nearest cup', Target('cup', '', 'nearest')),
    ('go to the cup closest to you', Target('cup', '', 'nearest')),
    ('go to the furthest blue bottle', Target('bottle', 'blue', 'farthest')),
    ('go to the cone behind the box', Target('cone')),
    ('go around the box on the left to the cup', Target('cup')),
])
def test_place_words_pick_one_of_several_objects_of_a_kind(text, target):
    assert targets_in(text) == [target]
    step = plan(text).steps[0]
    assert step.target == target
    assert step.target.to_dict()['place'] == target.place


def test_two_places_of_one_kind_are_two_targets():
    steps = plan('first go to the ball on the left, then to the ball on the right').steps
    assert [s.target.describe() for s in steps] == ['ball on the left', 'ball on the right']
    with pytest.raises(PlanError, match='2 targets'):
        plan('go to the nearest cup and the farthest cup')


def test_each_target_is_a_step_and_a_description_in_parts_stays_one():
    steps = plan('first go to the ball, then to the cup').steps
    assert [s.target.kind for s in steps] == ['ball', 'cup']
    steps = plan('pass the box on the left, then reach the red cup').steps
    assert len(steps) == 1 and steps[0].side == 'left' and steps[0].target == Target(
        'cup', 'red')
    assert plan('go around the box on the right to the goal').steps[0].target is None


@pytest.mark.parametrize('instruction, words', [
    ('go to the ball and the cup', 'names 2 targets in one step'),
    ('go to the red ball and the blue ball', 'names 2 targets'),
    ('go to the pink ball', "'pink' is not a colour the policy tells apart; name the "
                            'object by a colour of red, orange'),
    ('drive to the dark grey cup', "'grey' is not a colour"),
])
def test_two_targets_or_an_unknown_colour_are_refused(instruction, words):
    with pytest.raises(PlanError, match=words):
        plan(instruction, objects=ALL)


def test_a_kind_the_checkpoint_does_not_know_is_refused_naming_the_known_ones():
    with pytest.raises(PlanError, match=r'asks for a ball, which this policy was not '
                                        r'trained to find; it knows: cup'):
        plan('go to the ball', objects=('cup',))
    with pytest.raises(PlanError, match='step 2'):
        plan('go to the cup, then go to the cone', objects=['cup'])
    assert plan('go to the ball').steps[0].target.kind == 'ball'  # not checked: None
    assert plan('go to the mug', objects=('cup',)).steps[0].target.kind == 'cup'


@pytest.mark.parametrize('instruction, target', [
    ('go around the crate to the cup', 'cup'),  # an object on the way is a landmark
    ('go to the cup behind the crate', 'cup'),
    ('head to the mug past the cones', 'cup'),
    ('go between the cones to the cup', 'cup'),
    ('go to the cup near the ball', 'cup'),
    ('go to the cup, then to the red cup', 'red cup'),  # one cup, its colour said later
    ('go to the mug then to the blue cup', 'blue cup'),
])
def test_landmarks_and_one_object_said_twice_are_one_target(instruction, target):
    steps = plan(instruction, objects=ALL).steps
    assert [s.target.describe() for s in steps] == [target]


def test_sentences_that_name_two_targets_are_two_steps():
    steps = plan('go to the cup. go to the ball', objects=ALL).steps
    assert [s.target.kind for s in steps] == ['cup', 'ball']
    assert len(plan('the cup is behind the box; go left of it').steps) == 1


@pytest.mark.parametrize('instruction', [
    'can you find where the cup is?', 'could you find out which side the cup is on?',
    'could you find me a cup?', 'take the cups', 'get me the bottle', 'take the ball',
    'avoid the red ball',
])
def test_questions_fetching_and_avoiding_are_still_refused(instruction):
    with pytest.raises(PlanError):
        plan(instruction, objects=ALL)


def test_steps_to_different_targets_may_pass_on_different_sides():
    steps = plan('pass the box on the left to the cup, then go around it on the right to '
                 'the ball', objects=ALL).steps
    assert [(s.target.kind, s.side) for s in steps] == [('cup', 'left'), ('ball', 'right')]
    with pytest.raises(PlanError, match='both sides'):
        plan('pass the box on the left to the cup, then wait 1 s, then pass it on the right '
             'to the cup')
