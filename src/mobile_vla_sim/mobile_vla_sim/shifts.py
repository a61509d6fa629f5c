"""Shift families: rooms with ONE factor drawn beyond the training ranges.

``sim eval --shift NAME`` (or ``--shift all``) runs the scenarios on unseen seeds in
rooms drawn as usual (``world.FACTORS``) except for the family's factor, which is
drawn from the family's range instead, and compares them with the unshifted rooms of
the same seeds: each factor has its own random stream, so a shifted room is the same
room in everything else.

These families are held out: they were written and committed before the demo
policy was trained, and nothing is tuned on them. Every range lies outside the
factor's training range (``test_shifts`` checks it) and inside what the world can
build (``world.check_ranges``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from mobile_vla_sim.world import FACTORS, check_ranges


@dataclass(frozen=True)
class ShiftFamily:
    name: str
    doc: str
    ranges: Mapping[str, tuple[float, float]]  # one factor: (low, high) beyond training


def _family(name: str, doc: str, factor: str, low: float, high: float) -> ShiftFamily:
    return ShiftFamily(name, doc, {factor: (low, high)})


#: The held-out shift families, one factor each (training range in ``world.FACTORS``).
FAMILIES: dict[str, ShiftFamily] = {f.name: f for f in (
    _family('light_dim', 'dimmer light than any training room', 'light_level', 0.20, 0.38),
    _family('light_bright', 'brighter light than any training room', 'light_level', 1.70, 2.30),
    _family('light_warm', 'warmer (tungsten) light than any training room',
            'light_temperature_k', 2000.0, 2700.0),
    _family('floor_dark', 'a near-black floor', 'floor_value', 0.03, 0.11),
    _family('floor_bright', 'a near-white floor', 'floor_value', 0.90, 1.00),
    _family('obstacle_saturated', 'boxes in fully saturated colours',
            'box_saturation', 0.90, 1.00),
    _family('cup_near', 'the cup nearer than in any training room', 'cup_distance', 1.40, 1.75),
    _family('cup_far', 'the cup farther than in any training room', 'cup_distance', 4.60, 5.30),
    _family('obstacle_offset', 'the obstacle farther off the centre line',
            'obstacle_y', 0.22, 0.35),
    _family('start_yaw', 'the robot starts turned farther', 'robot_yaw_deg', 16.0, 22.0),
    _family('camera_pitch', 'the camera pitched farther off its mount',
            'camera_pitch_deg', 5.5, 8.0),
    _family('camera_height', 'the camera mounted higher or lower', 'camera_height', 0.05, 0.07),
    _family('sensor_noise', 'a noisier sensor', 'sensor_noise', 8.0, 14.0),
    _family('sensor_blur', 'a defocused, blurrier lens', 'sensor_blur', 1.5, 2.5),
    _family('clutter', 'more objects off the path', 'clutter', 5.0, 8.99),
)}


def families_table() -> str:
    """The README's table of shift families (``python -m mobile_vla_sim.shifts``)."""
    lines = ['| family | factor | range | training range | what |', '|---|---|---|---|---|']
    for family in FAMILIES.values():
        for factor, (low, high) in family.ranges.items():
            train = FACTORS[factor]
            either = ', either way' if train.symmetric else ''
            lines.append(f'| `{family.name}` | `{factor}` | {low:g} to {high:g}{either} | '
                         f'{train.low:g} to {train.high:g}{either} | {family.doc} |')
    return '\n'.join(lines) + '\n'


def resolve(names: list[str] | tuple[str, ...]) -> list[ShiftFamily]:
    """Families by name; ``all`` is every family. An unknown name lists the known ones."""
    chosen: list[ShiftFamily] = []
    for name in names:
        if name == 'all':
            chosen.extend(f for f in FAMILIES.values() if f not in chosen)
        elif name in FAMILIES:
            if FAMILIES[name] not in chosen:
                chosen.append(FAMILIES[name])
        else:
            raise ValueError(f'unknown shift family {name!r}; known: all, '
                             f'{", ".join(FAMILIES)}')
    return chosen


def beyond_training(family: ShiftFamily) -> bool:
    """Every range of the family lies outside its factor's training range."""
    for factor, (low, high) in family.ranges.items():
        train = FACTORS[factor]
        if not (low > train.high or high < train.low):
            return False
    return True


for _family_ in FAMILIES.values():  # a family the world cannot build fails at import
    check_ranges(_family_.ranges)


if __name__ == '__main__':  # the README's table of families
    print(families_table(), end='')
