"""The eight navigation scenarios, the goal rooms, and their English instructions.

A scenario is ``<N>box_<orientation>_<side>``: one or two boxes between the robot
and a cup, placed lengthwise (``vert``) or crosswise (``hori``); the side says
which way around the obstacle the robot must go, and only the instruction says
it, so a policy that ignores language cannot pass more than about half.

A goal room, ``goal_<N>box_<orientation>_<side>``, has the same obstacle and one to
four goal objects beyond it (``mobile_vla_sim.world``); the instruction names the
target by kind, colour or both ("go to the blue ball"), and the side is where the
target stands, so the words choose WHAT to go to. The original eight keep their
names and meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCENARIOS: tuple[str, ...] = (
    '1box_vert_left', '1box_vert_right', '1box_hori_left', '1box_hori_right',
    '2box_vert_left', '2box_vert_right', '2box_hori_left', '2box_hori_right',
)
#: The goal rooms: the same obstacles, a target named among one to four objects.
GOAL_SCENARIOS: tuple[str, ...] = tuple(f'goal_{name}' for name in SCENARIOS)
_PATTERN = re.compile(r'(?P<goal>goal_)?(?P<boxes>[12])box_(?P<orientation>vert|hori)_'
                      r'(?P<side>left|right)')

#: Phrasings per side; ``{obstacle}`` is 'box' or 'boxes'. The first is the default.
INSTRUCTIONS: dict[str, tuple[str, ...]] = {
    'left': (
        'go around the {obstacle} on the left to the cup',
        'pass the {obstacle} on the left side and reach the cup',
        'take the left way around the {obstacle} to get to the cup',
        'navigate to the cup, keeping the {obstacle} on your right',
        'go around the far left side to reach the cup',
    ),
    'right': (
        'go around the {obstacle} on the right to the cup',
        'pass the {obstacle} on the right side and reach the cup',
        'take the right way around the {obstacle} to get to the cup',
        'navigate to the cup, keeping the {obstacle} on your left',
        'go around the far right side to reach the cup',
    ),
}
#: Phrasings of a goal room; ``{target}`` is how the room names its target ("blue ball").
GOAL_INSTRUCTIONS: tuple[str, ...] = (
    'go to the {target}',
    'drive to the {target}',
    'stop at the {target}',
    'move to the {target}',
    'navigate to the {target}',
)


class ScenarioError(ValueError):
    """A scenario name that is not one of the eight."""


@dataclass(frozen=True)
class Scenario:
    name: str
    boxes: int
    orientation: str
    side: str
    goal: bool = False  # a goal room: the words name the target among objects

    @property
    def mirrored(self) -> Scenario:
        return parse(swap_sides(self.name))

    def instruction(self, variant: int = 0, target: str = '') -> str:
        """The documented phrasing ``variant``; a goal room's names ``target`` (its
        description, e.g. "blue ball": ``mobile_vla_sim.world.describe_target``)."""
        if self.goal:
            if not target:
                raise ScenarioError(f'{self.name} is a goal room: its instruction names the '
                                    'target, e.g. "go to the blue ball"')
            return GOAL_INSTRUCTIONS[variant % len(GOAL_INSTRUCTIONS)].format(target=target)
        phrasings = INSTRUCTIONS[self.side]
        obstacle = 'box' if self.boxes == 1 else 'boxes'
        return phrasings[variant % len(phrasings)].format(obstacle=obstacle)


def parse(name: str) -> Scenario:
    """Parse a scenario name; raise ``ScenarioError`` naming the valid ones."""
    match = _PATTERN.fullmatch(name.strip())
    if not match:
        raise ScenarioError(f'unknown scenario {name!r}; use one of: {", ".join(SCENARIOS)}, '
                            'or a goal room: goal_ and one of them (goal_1box_vert_left)')
    return Scenario(match.group(0), int(match.group('boxes')), match.group('orientation'),
                    match.group('side'), bool(match.group('goal')))


def find_in(text: str) -> Scenario | None:
    """The scenario named inside ``text`` (an original file name), or None."""
    match = _PATTERN.search(text)
    return parse(match.group(0)) if match else None


_SIDE_WORDS = re.compile(r'\b(left|right|Left|Right|LEFT|RIGHT)\b')
_SWAP = {'left': 'right', 'right': 'left', 'Left': 'Right', 'Right': 'Left',
         'LEFT': 'RIGHT', 'RIGHT': 'LEFT'}


def swap_sides(text: str) -> str:
    """Swap the words left and right (and scenario suffixes): what a mirror image says."""
    text = re.sub(r'_(left|right)\b', lambda m: '_' + _SWAP[m.group(1)], text)
    return _SIDE_WORDS.sub(lambda m: _SWAP[m.group(1)], text)
