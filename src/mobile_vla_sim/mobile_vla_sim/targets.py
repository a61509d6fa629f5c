"""Which goal objects of a goal room an instruction names (the words are the judge).

The words are read with the planner's own object words (``mobile_vla.objects``): a kind
or a synonym of it ("mug": the cup), a colour, and a place among objects of that kind:
left or right of the obstacle's centre line as the robot faces, or the nearest or
farthest from the robot's start. A run succeeds at an object its last target names; an
object an earlier step names ("first go to the ball, then to the cup") is on the way,
and any other is ``wrong_object``.
"""

from __future__ import annotations

import math

from mobile_vla.objects import Target, targets_in
from mobile_vla_sim.world import Layout


def matching(layout: Layout, target: Target) -> tuple[int, ...]:
    """The objects of ``layout`` that ``target`` can be (several when the words leave it
    open: "the ball" in a room of two balls)."""
    found = [k for k, goal in enumerate(layout.objects) if goal.kind == target.kind
             and (not target.colour or goal.colour == target.colour)]
    if target.place in ('left', 'right'):
        found = [k for k in found if layout.side_of(layout.objects[k].center) == target.place]
    elif target.place and found:
        def distance(k: int) -> float:
            return math.dist(layout.objects[k].center, layout.robot[:2])
        found = [(min if target.place == 'nearest' else max)(found, key=distance)]
    return tuple(found)


def named_objects(layout: Layout, instruction: str) -> tuple[int, ...]:
    """The objects ``instruction`` names as its last target; the room's own target when
    the words name no object ("go to the goal"); () when the room holds none of what they
    name (absent), or when it is no goal room."""
    if not layout.objects:
        return ()
    targets = targets_in(instruction.lower())
    return matching(layout, targets[-1]) if targets else (layout.target,)


def mentioned_objects(layout: Layout, instruction: str) -> frozenset[int]:
    """Every object any target of ``instruction`` names: reaching one is never wrong."""
    if not layout.objects:
        return frozenset()
    targets = targets_in(instruction.lower())
    if not targets:
        return frozenset({layout.target})
    return frozenset(k for target in targets for k in matching(layout, target))


def described_target(instruction: str) -> str:
    """What ``instruction`` names as its last target, in words ('' when nothing)."""
    targets = targets_in(instruction.lower())
    return targets[-1].describe() if targets else ''
