"""Instruction language: the training phrasings, the held-out paraphrases, instruction files.

The side of a scenario is given only by the instruction, so the policy must read
the side out of whatever English the operator types. Training therefore sees many
phrasings per side (``training_phrasings``): templated from verbs, side clauses
(the side word before or after the goal, or the obstacle "on your" other side),
goals and distractor words, plus the documented ``scenarios.INSTRUCTIONS``.

``config/language/heldout.yaml`` and ``heldout_b.yaml`` hold paraphrases written by
hand and never trained on (a test checks that none is a training phrasing); ``sim
eval --instructions FILE`` evaluates them, or any other list of (scenario,
instruction) pairs (``read_instruction_pairs``).
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from mobile_vla.config import ConfigError
from mobile_vla.resources import config_dir
from mobile_vla.scenarios import INSTRUCTIONS, SCENARIOS, ScenarioError, find_in, parse

SIDES = ('left', 'right')
OTHER = {'left': 'right', 'right': 'left'}
#: How the obstacle is named, per number of boxes.
OBSTACLES = {1: ('box', 'obstacle', 'cardboard box', 'brown box'),
             2: ('boxes', 'obstacles', 'two boxes', 'pair of boxes')}
#: Side clauses: ``{s}`` is the side to pass on, ``{o}`` the other side, ``{ob}`` the
#: obstacle. The last four say where the obstacle stays, which names the other side.
SIDE_CLAUSES = (
    'go around the {ob} on the {s}', 'pass the {ob} on the {s}',
    'pass the {ob} on the {s} side', 'go {s} around the {ob}',
    'take the {s} way around the {ob}', 'drive around the {s} side of the {ob}',
    'go past the {ob} on the {s}', 'move around the {ob} to the {s}',
    'stay to the {s} of the {ob}', 'head around the {ob} on its {s}',
    'use the {s} side of the {ob}', 'go {s} of the {ob}',
    'on the {s}, go around the {ob}', 'swing {s} around the {ob}',
    'pass the {ob} on its {s} side', 'take the {ob} on its {s}',
    "go past the {ob}'s {s} side",
    'keep the {ob} on your {o}', 'with the {ob} on your {o}',
    'keep the {ob} to your {o}', 'leave the {ob} on your {o}',
)
GOALS = ('to the cup', 'and reach the cup', 'to get to the cup', 'and go to the cup',
         'to reach the mug', 'toward the cup', 'and stop at the cup', 'to the red cup')
#: Goal first, then the side clause as a participle.
GOAL_FIRST = ('go to the cup, {ing}', 'reach the cup {ing}', 'drive to the mug, {ing}',
              'navigate to the cup {ing}', 'get to the cup by {ing}',
              'make your way to the cup, {ing}')
ING_CLAUSES = ('passing the {ob} on the {s}', 'going around the {ob} on the {s}',
               'keeping the {ob} on your {o}', 'taking the {s} side of the {ob}',
               'staying {s} of the {ob}', 'with the {ob} on your {o}',
               'passing the {ob} on its {s}')
PREFIXES = ('', '', '', 'please ', 'robot, ', 'now ', 'okay, ', 'carefully ')
SUFFIXES = ('', '', '', ' please', ' slowly', ' and stop there', ' without touching it',
            ' now')
#: Phrasings per (side, boxes) that training draws from.
TRAINING_PHRASINGS = 240


def normalized(text: str) -> str:
    """Lower case, words only: two phrasings that differ in punctuation are the same."""
    return ' '.join(re.findall(r"[a-z']+", text.lower()))


def _templates(side: str) -> list[str]:
    s, o = side, OTHER[side]
    out = [f'{c} {g}' for c, g in itertools.product(SIDE_CLAUSES, GOALS)]
    out += [f.replace('{ing}', i) for f, i in itertools.product(GOAL_FIRST, ING_CLAUSES)]
    return [t.replace('{s}', s).replace('{o}', o) for t in out]


@functools.cache  # asked once per episode by collection and training: the same tuple
def training_phrasings(side: str, boxes: int, count: int = TRAINING_PHRASINGS) -> tuple[str, ...]:
    """The phrasings training uses for ``side`` with ``boxes`` boxes: the documented ones
    first, then ``count`` drawn (fixed seed) from the templates with distractor words."""
    if side not in SIDES or boxes not in OBSTACLES:
        raise ValueError(f'side must be left or right and boxes 1 or 2, got {side!r}, {boxes!r}')
    rng = np.random.default_rng([boxes, SIDES.index(side), 0x7E87])
    obstacle = 'box' if boxes == 1 else 'boxes'
    seen: dict[str, str] = {}
    for text in INSTRUCTIONS[side]:
        text = text.format(obstacle=obstacle)
        seen.setdefault(normalized(text), text)
    templates = _templates(side)
    order = rng.permutation(len(templates))
    k = 0
    while len(seen) < count + len(INSTRUCTIONS[side]) and k < 20 * count:
        template = templates[order[k % len(order)]]
        name = OBSTACLES[boxes][int(rng.integers(len(OBSTACLES[boxes])))]
        text = (PREFIXES[int(rng.integers(len(PREFIXES)))] + template.replace('{ob}', name)
                + SUFFIXES[int(rng.integers(len(SUFFIXES)))])
        seen.setdefault(normalized(text), text)
        k += 1
    return tuple(seen.values())


def all_training_phrasings() -> set[str]:
    """Every training phrasing, normalised (to check a held-out set against)."""
    return {normalized(t) for side in SIDES for boxes in OBSTACLES
            for t in training_phrasings(side, boxes)}


def scenario_phrasings(scenario: str) -> tuple[str, ...]:
    sc = parse(scenario)
    return training_phrasings(sc.side, sc.boxes)


def phrasings_in(text: str | None) -> tuple[str, ...]:
    """The training phrasings of the scenario named in ``text`` (an episode's scenario
    attribute or file name); none when it names no scenario, or a goal room (its words
    name the target, which no side phrasing may replace)."""
    found = find_in(text or '')
    return scenario_phrasings(found.name) if found is not None and not found.goal else ()


@dataclass(frozen=True)
class InstructionPair:
    """One instruction to evaluate in one scenario (``source``: where it was written)."""

    scenario: str
    instruction: str
    source: str = ''


def _expand(entry: object, where: str) -> list[InstructionPair]:
    if not isinstance(entry, dict) or set(entry) - {'scenario', 'scenarios', 'instruction'} \
            or 'instruction' not in entry:
        raise ConfigError(f'{where}: each entry needs instruction and scenario (a scenario '
                          'name, or left / right for every scenario of that side), e.g. '
                          "{scenario: left, instruction: 'circle left around the {obstacle} "
                          "to the cup'}")
    text = entry['instruction']
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f'{where}: instruction must be a non-empty string')
    names = entry.get('scenario', entry.get('scenarios', 'all'))
    names = names if isinstance(names, list) else [names]
    pairs = []
    for name in names:
        if not isinstance(name, str):
            raise ConfigError(f'{where}: scenario must be a string, got {name!r}')
        if name in SIDES or name == 'all':
            chosen = [s for s in SCENARIOS if name == 'all' or parse(s).side == name]
        else:
            try:
                chosen = [parse(name).name]
            except ScenarioError as exc:
                raise ConfigError(f'{where}: {exc}') from None
        for scenario in chosen:
            sc = parse(scenario)
            filled = text.replace('{obstacle}', 'box' if sc.boxes == 1 else 'boxes')
            pairs.append(InstructionPair(scenario, filled, where))
    return pairs


def read_language_file(path: str | Path) -> tuple[Path, object]:
    """The path and YAML content of an instruction file; a bare name (``heldout``,
    ``goals_heldout``) is a file of ``config/language/``. ConfigError if unreadable."""
    path = Path(path)
    shipped = config_dir() / 'language' / f'{path}.yaml'
    if not path.exists() and path.parent == Path('.') and shipped.is_file():
        path = shipped
    try:
        return path, yaml.safe_load(path.read_text(encoding='utf-8'))
    except OSError as exc:
        raise ConfigError(f'instruction file {path}: {exc.strerror or exc}') from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f'instruction file {path} is not UTF-8 YAML ({exc})') from None


def read_instruction_pairs(path: str | Path) -> list[InstructionPair]:
    """(scenario, instruction) pairs from a YAML list; a bare name (``heldout``,
    ``heldout_b``, ``sequences``) is a file of ``config/language/``.

    Each entry: ``instruction`` (``{obstacle}`` becomes box or boxes) and ``scenario``:
    a scenario name, ``left`` / ``right`` (every scenario of that side), a list of
    them, or omitted for all eight.
    """
    path, data = read_language_file(path)
    if isinstance(data, dict):
        data = data.get('instructions')
    if not isinstance(data, list) or not data:
        raise ConfigError(f'instruction file {path}: expected a list of entries (or '
                          '"instructions:" with one)')
    pairs = []
    for i, entry in enumerate(data):
        pairs += _expand(entry, f'{path} entry {i + 1}')
    return pairs
