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
from collections.abc import Iterable
from dataclasses import replace

from mobile_vla.config import ConfigError
from mobile_vla.objects import Target, targets_in
from mobile_vla_sim.expert import shortest_path_length
from mobile_vla_sim.world import GOAL_SPACING, Layout, SimWorld


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


class GoalJudge:
    """What counts in one run: the goal reached, another object reached, and the SPL
    reference, for the cup of the original rooms and the named objects of a goal room."""

    def __init__(self, layout: Layout, instruction: str, side: str,
                 success_radius: float) -> None:
        if layout.objects and success_radius >= GOAL_SPACING / 2:
            raise ConfigError(f'success_radius {success_radius} m would reach two goal '
                              f'objects at once (they stand {GOAL_SPACING} m apart); keep it '
                              f'under {GOAL_SPACING / 2} m in goal rooms')
        self.layout, self.side, self.radius = layout, side, success_radius
        self.named = named_objects(layout, instruction)
        self.mentioned = mentioned_objects(layout, instruction)
        #: What the words name, in words ('' in an original room).
        self.target = (' or '.join(layout.objects[k].describe() for k in self.named)
                       or described_target(instruction)) if layout.objects else ''

    @property
    def absent(self) -> bool:
        """A goal room without what the words name: the run must reach nothing."""
        return bool(self.layout.objects) and not self.named

    def goals(self) -> list[tuple[float, float]]:
        """Where success is: the cup, or each object the words name."""
        if not self.layout.objects:
            return [self.layout.cup]
        return [self.layout.objects[k].center for k in self.named]

    def shortest(self) -> float:
        """The SPL reference: around the obstacle on the instructed side to the cup; in a
        goal room, the shorter side to the nearest named object (0 when none is there)."""
        if not self.layout.objects:
            return shortest_path_length(self.layout, self.side, self.radius)
        return min((shortest_path_length(replace(self.layout, cup=goal), side, self.radius)
                    for side in ('left', 'right') for goal in self.goals()), default=0.0)

    def reached(self, world: SimWorld) -> bool:
        """Within ``success_radius`` of the cup, or of an object the words name."""
        if not self.layout.objects:
            return world.cup_distance() < self.radius
        return any(world.object_distance(k) < self.radius for k in self.named)

    def at_goal(self, pose: list[float]) -> bool:
        """Whether a pose (x, y, ...) is within ``success_radius`` of the goal: the
        cup, or an object the words name."""
        return self._near(pose, self.goals())

    def _near(self, pose: list[float], centres: Iterable[tuple[float, float]]) -> bool:
        """Whether a pose (x, y, ...) is within ``success_radius`` of any of ``centres``."""
        return any(math.hypot(pose[0] - x, pose[1] - y) < self.radius for x, y in centres)

    def at_step_target(self, target: dict[str, str] | None, pose: list[float]) -> bool:
        """Whether a navigation step that named ``target`` (``vla/status``'s dict) ended
        at an object it names: in an original room, at the cup; with no target, at the
        room's goal."""
        if not self.layout.objects:  # an original room: its one goal is the cup
            return (not target or target.get('kind') == 'cup') and self.at_goal(pose)
        if not target:
            found: tuple[int, ...] = (self.layout.target,)  # as named_objects reads it
        elif not target.get('kind'):
            return False
        else:
            found = matching(self.layout, Target(target['kind'], target.get('colour', ''),
                                                 target.get('place', '')))
        return self._near(pose, (self.layout.objects[k].center for k in found))

    def mark_steps(self, steps: list[dict]) -> None:
        """Mark each navigation step of a run's ``plan_steps`` that ended with
        ``at_target``: whether it held still at an object its target names."""
        for step in steps:
            if step.get('kind') == 'navigate' and step.get('end_pose') is not None:
                step['at_target'] = self.at_step_target(step.get('target'), step['end_pose'])

    def other_reached(self, world: SimWorld) -> str:
        """An object no step names that the robot is at ('' if none)."""
        for k, goal in enumerate(self.layout.objects):
            if k not in self.mentioned and world.object_distance(k) < self.radius:
                return goal.describe()
        return ''
