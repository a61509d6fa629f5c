"""Goal rooms' instruction sets: held-out colour x kind pairs, synonyms, absent targets.

A goal-set file (``config/language/goals_heldout.yaml``) holds named sets of entries;
each entry is an instruction and the target its rooms are made to hold (kind and
colour, ``world.sample_layout(target=...)``), or none: the words name something no
object in the room is, and the robot must reach nothing. An instruction that names its
target by place ("the ball on the left", "the nearest cup") runs in rooms that hold
another object of the target's kind across the obstacle (``decoy``), so only the place
(or the colour) tells which. ``evaluate_goal_sets`` runs
every entry in goal rooms of seeds ``seed .. seed + N - 1`` (the scenario rotates
through the eight goal rooms) and reports each set apart: success, wrong object,
not found, collisions, time-outs and SPL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mobile_vla.config import ConfigError
from mobile_vla.language import read_language_file
from mobile_vla.objects import targets_in, unknown_colours
from mobile_vla.scenarios import GOAL_SCENARIOS
from mobile_vla_sim import EVAL_SEED
from mobile_vla_sim.evaluate import (
    EpisodeJob,
    PolicySource,
    ScenarioStats,
    instruction_table,
    run_episodes,
)
from mobile_vla_sim.session import NS, SIM_EPOCH_NS, RunResult, SimConfig, named_objects
from mobile_vla_sim.world import check_goal_pair, sample_layout


@dataclass(frozen=True)
class GoalEntry:
    """One instruction of a set; ``target`` (kind, colour) the rooms are made to hold
    (colour '': one training pairs with the kind), None: none (an absent target)."""

    set: str
    instruction: str
    target: tuple[str, str] | None


def is_goal_sets(path: str | Path) -> bool:
    """Whether an instruction file is a goal-set file (a mapping with ``sets``)."""
    _, data = read_language_file(path)
    return isinstance(data, dict) and 'sets' in data


def read_goal_sets(path: str | Path) -> list[GoalEntry]:
    """Every entry of a goal-set file, checked: a ConfigError names the entry and says
    what it needs."""
    path, data = read_language_file(path)
    sets = data.get('sets') if isinstance(data, dict) else None
    if not isinstance(sets, dict) or not sets:
        raise ConfigError(f'{path}: a goal-set file is "sets:" with named lists of entries')
    entries = []
    for name, items in sets.items():
        if not isinstance(items, list) or not items:
            raise ConfigError(f'{path}: set {name!r} must be a non-empty list of entries')
        for i, item in enumerate(items):
            entries.append(_entry(str(name), item, f'{path} set {name!r} entry {i + 1}'))
    return entries


def _entry(name: str, item: object, where: str) -> GoalEntry:
    if not isinstance(item, dict) or set(item) - {'target', 'instruction'} or \
            not isinstance(item.get('instruction'), str) or not item['instruction'].strip():
        raise ConfigError(f"{where}: each entry is {{instruction: '...', target: 'blue "
                          "ball'}} (target: the object the rooms hold; none for a target "
                          'no room holds)')
    target = item.get('target')
    if target is None:
        if any(t.place for t in targets_in(item['instruction'].lower())):
            raise ConfigError(f'{where}: an instruction that names its target by place needs '
                              'the target (the rooms hold two of its kind)')
        return GoalEntry(name, item['instruction'].strip(), None)
    found = targets_in(str(target).lower()) if isinstance(target, str) else []
    if len(found) != 1 or unknown_colours(str(target).lower()):
        raise ConfigError(f'{where}: target {target!r} must name one object kind, with a '
                          "colour or not (e.g. 'blue ball', 'cup')")
    try:
        pair = check_goal_pair((found[0].kind, found[0].colour))
    except ValueError as exc:
        raise ConfigError(f'{where}: {exc}') from None
    return GoalEntry(name, item['instruction'].strip(), pair)


def goal_jobs(entries: list[GoalEntry], episodes: int, seed: int,
              sim: SimConfig | None) -> list[EpisodeJob]:
    """Each entry in ``episodes`` goal rooms; ``{colour}`` becomes the target's colour."""
    jobs = []
    for i, entry in enumerate(entries):
        for k in range(episodes):
            scenario = GOAL_SCENARIOS[(i + k) % len(GOAL_SCENARIOS)]
            room, layout, text = _room(entry, scenario, seed + k)
            jobs.append(EpisodeJob(scenario, room, text, sim=sim, target=entry.target,
                                   decoy=_by_place(entry),
                                   start_ns=SIM_EPOCH_NS + (i * episodes + k) * 60 * NS))
    return jobs


def _by_place(entry: GoalEntry) -> bool:
    found = targets_in(entry.instruction.lower())
    return bool(found and found[-1].place)


def _room(entry: GoalEntry, scenario: str, seed: int):
    """The first room from ``seed`` on where the entry means what it says: its words
    name one object (by place: of two of a kind), and ``{colour}`` its colour."""
    for room in range(seed, seed + 1000 * 7919, 7919):  # the next seeds are other rooms
        layout = sample_layout(scenario, room, target=entry.target, decoy=_by_place(entry))
        text = entry.instruction.replace('{colour}', layout.objects[layout.target].colour)
        if not _by_place(entry) or len(named_objects(layout, text)) == 1 and sum(
                o.kind == entry.target[0] for o in layout.objects) == 2:
            return room, layout, text
    raise ValueError(f'no room holds two {entry.target[0]}s for {entry.instruction!r}')


def evaluate_goal_sets(policy: PolicySource, entries: list[GoalEntry], episodes: int, *,
                       seed: int = EVAL_SEED, sim: SimConfig | None = None,
                       workers: int = 1,
                       progress: Callable[[RunResult], None] | None = None) -> dict:
    """Every entry on ``episodes`` goal rooms; a report per set (rows per entry)."""
    if episodes < 1:
        raise ValueError('episodes per entry must be at least 1')
    results = run_episodes(policy, goal_jobs(entries, episodes, seed, sim), workers, progress)
    sets: dict[str, dict] = {}
    for i, entry in enumerate(entries):
        runs = results[i * episodes:(i + 1) * episodes]
        row = ScenarioStats(entry.instruction, runs).row()
        row['instruction'] = row.pop('scenario')
        row['not_found'] = sum(r.outcome == 'not_found' for r in runs)
        sets.setdefault(entry.set, {'instructions': [], 'runs': []})
        sets[entry.set]['instructions'].append(row)
        sets[entry.set]['runs'] += runs
    for report in sets.values():
        overall = ScenarioStats('all', report.pop('runs')).row()
        overall['instruction'] = overall.pop('scenario')
        report['overall'] = overall
    return {'episodes_per_entry': episodes, 'first_seed': seed, 'entries': len(entries),
            'sim': (sim or SimConfig()).__dict__, 'sets': sets,
            'runs': [r.summary() for r in results]}


def goal_table(report: dict) -> str:
    """A goal-set report as Markdown: one table per set."""
    return '\n\n'.join(f'### {name}\n\n' + instruction_table(part)
                       for name, part in report['sets'].items())


def write_goal_report(report: dict, out: Path) -> dict[str, Path]:
    """report.json and table.md in ``out``."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    paths = {'report': out / 'report.json', 'table': out / 'table.md'}
    paths['report'].write_text(json.dumps(report, indent=2) + '\n')
    paths['table'].write_text(goal_table(report) + '\n')
    return paths
