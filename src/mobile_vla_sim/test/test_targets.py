"""Which goal objects of a room the words name (``mobile_vla_sim.targets``), in a room
built by hand: kind, colour, place, the last target, the room's own target, absent."""

import math
from dataclasses import replace

import pytest

from mobile_vla.config import ConfigError
from mobile_vla.objects import Target
from mobile_vla_sim.expert import shortest_path_length
from mobile_vla_sim.targets import (
    GoalJudge,
    described_target,
    matching,
    mentioned_objects,
    named_objects,
)
from mobile_vla_sim.world import GOAL_SPACING, GoalObject, sample_layout


@pytest.fixture(scope='module')
def room():
    """Four objects beyond the box: a red ball on the left, a blue ball on the right, a
    near and a far cup; the room's own target is the blue ball."""
    base = sample_layout('goal_1box_vert_left', 0)
    _, x1, y0, y1 = base.obstacle_bounds()
    mid = (y0 + y1) / 2

    def goal(kind, colour, dx, dy):
        return GoalObject(kind, colour, (x1 + dx, mid + dy), 0.05, 0.1, (0.5, 0.5, 0.5))

    objects = (goal('ball', 'red', 1.0, 0.8), goal('ball', 'blue', 1.0, -0.8),
               goal('cup', 'green', 0.5, 1.6), goal('cup', 'white', 2.0, -1.6))
    return replace(base, objects=objects, target=1)


@pytest.mark.parametrize('target, expected', [
    (Target('ball'), (0, 1)), (Target('ball', 'red'), (0,)), (Target('ball', 'green'), ()),
    (Target('ball', place='left'), (0,)), (Target('ball', place='right'), (1,)),
    (Target('cup', place='nearest'), (2,)), (Target('cup', place='farthest'), (3,)),
    (Target('cone'), ()),
])
def test_matching_by_kind_colour_and_place(room, target, expected):
    assert matching(room, target) == expected


def test_the_last_target_is_the_goal_and_every_named_one_is_on_the_way(room):
    words = 'first go to the red ball, then to the white cup'
    assert named_objects(room, words) == (3,)
    assert mentioned_objects(room, words) == {0, 3}
    assert named_objects(room, 'go to the goal') == (1,)  # the room's own target
    assert mentioned_objects(room, 'go to the goal') == {1}
    assert named_objects(room, 'go to the purple cone') == ()  # absent
    assert described_target(words) == 'white cup' and described_target('go left') == ''
    original = sample_layout('1box_vert_left', 0)
    assert named_objects(original, 'go to the cup') == ()  # no goal room
    assert mentioned_objects(original, 'go to the cup') == frozenset()


def test_the_judge_says_what_counts(room):
    judge = GoalJudge(room, 'go to the ball on the left', 'left', 0.3)
    assert judge.named == (0,) and judge.target == 'red ball' and not judge.absent
    assert judge.goals() == [room.objects[0].center]
    sides = {side: shortest_path_length(replace(room, cup=room.objects[0].center), side, 0.3)
             for side in ('left', 'right')}
    assert sides['left'] != sides['right']  # the object is off the centre line
    assert judge.shortest() == pytest.approx(min(sides.values()))  # the shorter side
    assert judge.shortest() >= math.dist(room.robot[:2], room.objects[0].center) - 0.3
    open_words = GoalJudge(room, 'go to the ball', 'left', 0.3)
    assert open_words.target == 'red ball or blue ball'
    missing = GoalJudge(room, 'go to the orange crate', 'left', 0.3)
    assert missing.absent and missing.goals() == [] and missing.shortest() == 0.0
    assert missing.target == 'orange crate'
    with pytest.raises(ConfigError, match='would reach two goal objects at once'):
        GoalJudge(room, 'go to the ball', 'left', GOAL_SPACING / 2)
