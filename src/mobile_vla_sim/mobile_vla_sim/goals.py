"""Goal rooms' instruction sets: held-out colour x kind pairs, synonyms, absent targets.

A goal-set file (``config/language/goals_heldout.yaml``) holds named sets of entries;
each entry is an instruction and the target its rooms are made to hold (kind and
colour, ``world.sample_layout(target=...)``), or none: the words name something no
object in the room is, and the robot must reach nothing. An instruction that names its
target by place ("the ball on the left", "the nearest cup") runs in rooms that hold
another object of the target's kind across the obstacle (``decoy``), so only the place
(or the colour) tells which. ``evaluate_goal_sets`` runs
every entry in N goal rooms (the scenario rotates through the eight goal rooms, or the
four of the side a place word names, where the target stands): room
``k`` is the first of seeds ``seed + k``, ``seed + k + 7919``, ... where the words mean
what the entry says (they name the target and only it; for an absent target, nothing;
by nearest or farthest, with the two half a metre apart at least). Each set is reported
apart: success, reached, stopped away, wrong object, refused, not found, collisions,
time-outs and SPL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mobile_vla.config import ConfigError
from mobile_vla.language import read_language_file
from mobile_vla.objects import targets_in, unknown_colours
from mobile_vla.scenarios import GOAL_SCENARIOS, parse
from mobile_vla.units import NS
from mobile_vla_sim import EVAL_SEED
from mobile_vla_sim.config import SIM_EPOCH_NS, SimConfig
from mobile_vla_sim.evaluate import (
    EpisodeJob,
    PolicySource,
    ScenarioStats,
    run_episodes,
    write_outputs,
)
from mobile_vla_sim.results import RunResult
from mobile_vla_sim.targets import named_objects
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
                          "ball'}} (target: the object the rooms hold; leave it out for a "
                          'target no room holds)')
    target = item.get('target')
    if target is None:
        if any(t.place for t in targets_in(item['instruction'].lower())):
            raise ConfigError(f'{where}: an instruction that names its target by place needs '
                              'the target (the rooms hold two of its kind)')
        return GoalEntry(name, item['instruction'].strip(), None)
    found = targets_in(str(target).lower()) if isinstance(target, str) else []
    if len(found) != 1 or found[0].place or unknown_colours(str(target).lower()):
        raise ConfigError(f'{where}: target {target!r} must name one object kind, with a '
                          "colour or not and no place (e.g. 'blue ball', 'cup'); the "
                          'instruction says the place')
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
        found = targets_in(entry.instruction.lower())
        place = found[-1].place if found else ''
        # the target stands on its scenario's side: "the ball on the left" in left rooms
        rooms = [s for s in GOAL_SCENARIOS if place not in ('left', 'right')
                 or parse(s).side == place]
        for k in range(episodes):
            scenario = rooms[(i + k) % len(rooms)]
            room, layout, text = _room(entry, scenario, seed + k)
            jobs.append(EpisodeJob(scenario, room, text, sim=sim, target=entry.target,
                                   decoy=_by_place(entry),
                                   start_ns=SIM_EPOCH_NS + (i * episodes + k) * 60 * NS))
    return jobs


def _by_place(entry: GoalEntry) -> bool:
    found = targets_in(entry.instruction.lower())
    return bool(found and found[-1].place)


#: Nearest and farthest must be plain: the two objects' distances differ by this, metres.
PLACE_MARGIN_M = 0.5


def _room(entry: GoalEntry, scenario: str, seed: int):
    """The first room from ``seed`` on (stepping 7919 seeds) where the entry means what
    it says, with ``{colour}`` made the target's colour."""
    by_place = _by_place(entry)
    for room in range(seed, seed + 200 * 7919, 7919):
        layout = sample_layout(scenario, room, target=entry.target, decoy=by_place)
        text = entry.instruction.replace('{colour}', layout.objects[layout.target].colour)
        if _means_it(entry, layout, text, by_place):
            return room, layout, text
    wanted = f'the {entry.target[1]} {entry.target[0]}'.replace('  ', ' ') if entry.target \
        else 'nothing in the room'
    raise ConfigError(f'{entry.instruction!r}: no {scenario} room from seed {seed} on where '
                      f'the words name {wanted} and only that; make the instruction name '
                      'its target')


def _means_it(entry: GoalEntry, layout, text: str, by_place: bool) -> bool:
    named = named_objects(layout, text)
    if entry.target is None:
        return not named
    if named != (layout.target,):
        return False
    if not by_place:
        return True
    kind = layout.objects[layout.target].kind
    same = [o for o in layout.objects if o.kind == kind]
    if len(same) != 2:
        return False
    distances = [math.dist(o.center, layout.robot[:2]) for o in same]
    place = targets_in(text.lower())[-1].place
    return place in ('left', 'right') or abs(distances[0] - distances[1]) >= PLACE_MARGIN_M


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
        row = _row(entry.instruction, runs)
        sets.setdefault(entry.set, {'instructions': [], 'runs': []})
        sets[entry.set]['instructions'].append(row)
        sets[entry.set]['runs'] += runs
    for report in sets.values():
        report['overall'] = _row('all', report.pop('runs'))
    return {'episodes_per_entry': episodes, 'first_seed': seed, 'entries': len(entries),
            'sim': (sim or SimConfig()).__dict__, 'sets': sets,
            'runs': [r.summary() for r in results]}


def _row(instruction: str, runs: list[RunResult]) -> dict:
    """``ScenarioStats.row`` with how runs of an absent target ended: refused by the
    planner, or ``not_found``; SPL is None where no object was to be reached."""
    row = ScenarioStats(instruction, runs).row()
    row['instruction'] = row.pop('scenario')
    n = len(runs)
    row['refused'] = round(sum(r.outcome == 'plan_refused' for r in runs) / n, 4) if n else 0.0
    row['not_found'] = round(sum(r.outcome == 'not_found' for r in runs) / n, 4) if n else 0.0
    if runs and all(r.absent for r in runs):
        row['spl'] = None
    return row


def goal_table(report: dict) -> str:
    """A goal-set report as Markdown: one table per set."""
    parts = []
    for name, part in report['sets'].items():
        lines = [f'### {name}', '', '| instruction | runs | success | reached | stopped away | '
                 'wrong object | refused | not found | collisions | timeouts | SPL |',
                 '|---|---|---|---|---|---|---|---|---|---|---|']
        for row in [*part['instructions'], part['overall']]:
            spl = '-' if row['spl'] is None else f"{row['spl']:.2f}"
            lines.append(f"| {row['instruction']} | {row['episodes']} | {row['success']:.0%} | "
                         f"{row['reached']:.0%} | {row['stopped_away']:.0%} | "
                         f"{row['wrong_object']:.0%} | {row['refused']:.0%} | "
                         f"{row['not_found']:.0%} | {row['collisions']:.0%} | "
                         f"{row['timeouts']:.0%} | {spl} |")
        parts.append('\n'.join(lines))
    return '\n\n'.join(parts)


def write_goal_report(report: dict, out: Path) -> dict[str, Path]:
    """report.json, table.md and eval.png (success and wrong object per set) in ``out``."""
    names = list(report['sets'])

    def draw(ax) -> None:
        x = range(len(names))
        overall = [report['sets'][n]['overall'] for n in names]
        ax.bar([i - 0.2 for i in x], [r['success'] for r in overall], width=0.4,
               label='success')
        ax.bar([i + 0.2 for i in x], [r['wrong_object'] for r in overall], width=0.4,
               label='wrong object', color='tab:red')
        ax.set_xticks(list(x), names)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{report.get('checkpoint') or 'policy'}: goal sets, "
                     f"{report['episodes_per_entry']} rooms per instruction")
        ax.legend(loc='upper right')

    return write_outputs(report, out, goal_table(report), (7, 3.6), draw)
