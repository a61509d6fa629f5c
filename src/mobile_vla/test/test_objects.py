"""How an instruction names its goal objects (``mobile_vla.objects``), on its own: the
planner's use of it is in ``test_planner.py``."""

import pytest

from mobile_vla.objects import KINDS, OBJECT_WORDS, Target, place_of, targets_in, unknown_colours


@pytest.mark.parametrize('text, expected', [
    ('go to the cup', [Target('cup')]),
    ('drive to the blue ball', [Target('ball', 'blue')]),
    ('go to the mug', [Target('cup')]),  # a synonym names the kind
    ('stop at the red sphere', [Target('ball', 'red')]),
    ('go around the crate to the cup', [Target('cup')]),  # a landmark, not a target
    ('the cup behind the ball', [Target('cup')]),
    ('go to the red ball and the cup', [Target('ball', 'red'), Target('cup')]),
    ('go to the cup, the red cup', [Target('cup', 'red')]),  # one object said twice
    ('go to the cup on the left', [Target('cup', place='left')]),
    ('go to the ball that is on the right side', [Target('ball', place='right')]),
    ('go to the nearest cup', [Target('cup', place='nearest')]),
    ('go to the ball closest to you', [Target('ball', place='nearest')]),
    ('go to the furthest cone', [Target('cone', place='farthest')]),
    ('go to the cup on the left, then the cup on the right',
     [Target('cup', place='left'), Target('cup', place='right')]),
    ('go left around the box', []),
])
def test_targets_named_in_order(text, expected):
    assert targets_in(text) == expected


def test_place_words_around_a_target():
    assert place_of('go to the leftmost ', '') == 'left'
    assert place_of('go to the ', ' to the right') == 'right'
    assert place_of('go to the ', ' nearer to the robot') == 'nearest'
    assert place_of('go to the ', ' and stop') == ''


def test_colours_that_no_object_has_are_found():
    assert unknown_colours('go to the pink ball') == ['pink']
    assert unknown_colours('go to the dark grey cup') == ['grey']
    assert unknown_colours('go to the red ball') == []


def test_a_target_describes_itself_as_vla_status_carries_it():
    assert Target('ball', 'blue', 'left').to_dict() == {
        'kind': 'ball', 'colour': 'blue', 'place': 'left', 'text': 'blue ball on the left'}
    assert Target('cup', place='nearest').describe() == 'nearest cup'
    assert Target('cup').same_as(Target('cup', 'red'))
    assert not Target('cup', 'red').same_as(Target('cup', 'blue'))
    assert not Target('cup', place='left').same_as(Target('cup', place='right'))
    assert Target('cup', 'red').merged(Target('cup', place='left')) == \
        Target('cup', 'red', 'left')


def test_every_word_of_a_kind_names_that_kind():
    for kind, words in KINDS.items():
        assert words[0] == kind
        for word in words:
            assert targets_in(f'go to the {word}') == [Target(kind)], word
    assert OBJECT_WORDS == {word for words in KINDS.values() for word in words}
