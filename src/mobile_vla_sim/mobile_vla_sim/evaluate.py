"""Closed-loop evaluation: every scenario on fixed seeds, and the language test.

Success means the robot centre came within ``success_radius`` of the cup, with no
collision, within ``time_limit_s``. Per scenario the report gives success, collision
and time-out rates, mean path length, SPL (success weighted by shortest path /
driven path) and mean time to the cup.

The language test uses the fact that the left and right scenarios of a seed are
the same room: a layout passes when the left instruction reaches the cup passing
left of the obstacle and the right instruction reaches it passing right. A policy
that ignores the instruction passes at most about half of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from mobile_vla.bag import BagWriter
from mobile_vla.policy.runner import PolicyRunner
from mobile_vla.scenarios import SCENARIOS, parse
from mobile_vla_recorder.store import EpisodeStore
from mobile_vla_sim.session import (
    NS,
    SIM_EPOCH_NS,
    RunResult,
    SimConfig,
    SimSession,
    write_summary,
)
from mobile_vla_sim.world import sample_layout

#: Evaluation seeds start here, away from the seeds ``sim collect`` uses by default.
EVAL_SEED = 100_000


def instruction_for(scenario: str, seed: int) -> str:
    """The phrasing used for a seed (rotates through the documented set)."""
    return parse(scenario).instruction(seed)


@dataclass
class RunOutputs:
    """Where one run writes its files (``None`` = not written)."""

    folder: Path
    bag: bool = True
    video: bool = True

    def prepare(self) -> None:
        if self.folder.exists() and any(self.folder.iterdir()):
            raise FileExistsError(f'{self.folder} is not empty; outputs are never overwritten, '
                                  'choose another --out')
        self.folder.mkdir(parents=True, exist_ok=True)


def run_episode(scenario: str, seed: int, instruction: str | None = None, *,
                runner: PolicyRunner | None = None, driver: str = 'policy', mode: str = 'vla',
                sim: SimConfig | None = None, outputs: RunOutputs | None = None,
                manual_window: tuple[float, float] | None = None,
                start_ns: int = SIM_EPOCH_NS, **session_options) -> RunResult:
    """One closed-loop episode; with ``outputs`` it writes the episode, bag, MP4, PNG, JSON."""
    layout = sample_layout(scenario, seed)
    text = instruction or instruction_for(scenario, seed)
    writer = None
    if outputs is not None:
        outputs.prepare()
        if outputs.bag:
            writer = BagWriter(outputs.folder / 'bag')
            writer.open()
    video = outputs.folder / 'camera.mp4' if outputs is not None and outputs.video else None
    try:
        with SimSession(layout, text, driver=driver, mode=mode, runner=runner, sim=sim,
                        manual_window=manual_window, start_ns=start_ns, sink=writer,
                        video=video, record=outputs is not None or driver == 'expert',
                        **session_options) as session:
            result = session.run()
            if outputs is not None:
                folder = outputs.folder
                result.outputs['top_down'] = str(session.top_down(folder / 'top_down.png'))
                if video is not None:
                    result.outputs['video'] = str(video)
                if writer is not None:
                    result.outputs['bag'] = str(folder / 'bag')
                if result.episode is not None:
                    store = EpisodeStore(folder, session.recorder.config.compression)
                    result.outputs['episode'] = str(store.write(result.episode))
                result.outputs['summary'] = str(folder / 'summary.json')
                write_summary(result, folder / 'summary.json')
    finally:
        if writer is not None:
            writer.close()
    return result


@dataclass
class ScenarioStats:
    scenario: str
    runs: list[RunResult] = field(default_factory=list)

    def row(self) -> dict[str, float | int | str]:
        n = len(self.runs)
        ok = [r for r in self.runs if r.success]
        return {
            'scenario': self.scenario, 'episodes': n,
            'success': _share(len(ok), n),
            'on_instructed_side': _share(sum(r.on_instructed_side for r in self.runs), n),
            'collisions': _share(sum(r.collision for r in self.runs), n),
            'timeouts': _share(sum(r.outcome == 'timeout' for r in self.runs), n),
            'path_length_m': _mean([r.path_length for r in ok]),
            'spl': _mean([r.spl for r in self.runs]),
            'time_s': _mean([r.reached_at_s for r in ok]),
        }


def _share(k: int, n: int) -> float:
    return round(k / n, 4) if n else 0.0


def _mean(values) -> float:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 4) if values else 0.0


def evaluate_policy(runner: PolicyRunner, episodes_per_scenario: int, *,
                    seed: int = EVAL_SEED, scenarios: tuple[str, ...] = SCENARIOS,
                    sim: SimConfig | None = None, out: Path | None = None,
                    record_runs: bool = False,
                    progress: Callable[[RunResult], None] | None = None) -> dict:
    """Run every scenario on seeds ``seed .. seed + N - 1``; the report as a dict."""
    if episodes_per_scenario < 1:
        raise ValueError('episodes_per_scenario must be at least 1')
    stats = {name: ScenarioStats(name) for name in scenarios}
    results: list[RunResult] = []
    for k in range(episodes_per_scenario):
        for i, name in enumerate(scenarios):
            s = seed + k
            outputs = None
            if out is not None and record_runs:
                outputs = RunOutputs(out / 'runs' / f'{name}_seed{s}')
            start = SIM_EPOCH_NS + (k * len(scenarios) + i) * 60 * NS
            result = run_episode(name, s, runner=runner, sim=sim, outputs=outputs,
                                 start_ns=start)
            stats[name].runs.append(result)
            results.append(result)
            if progress is not None:
                progress(result)
    rows = [stats[name].row() for name in scenarios]
    everything = ScenarioStats('all', results).row()
    report = {
        'checkpoint': '', 'episodes_per_scenario': episodes_per_scenario, 'first_seed': seed,
        'sim': (sim or SimConfig()).__dict__, 'scenarios': rows, 'overall': everything,
        'language_test': language_test(results),
        'runs': [r.summary() for r in results],
    }
    return report


def language_test(results: list[RunResult]) -> dict:
    """Pairs of runs in the same room with the left and the right instruction."""
    by_room: dict[tuple[str, int], dict[str, RunResult]] = {}
    for r in results:
        sc = parse(r.scenario)
        by_room.setdefault((f'{sc.boxes}box_{sc.orientation}', r.seed), {})[sc.side] = r
    pairs = [room for room in by_room.values() if {'left', 'right'} <= set(room)]
    passed = sum(room['left'].on_instructed_side and room['right'].on_instructed_side
                 for room in pairs)
    per_instruction = [r for room in pairs for r in room.values()]
    return {
        'pairs': len(pairs),
        'pairs_passed': passed,
        'pass_rate': _share(passed, len(pairs)),
        'instructions_on_side': _share(sum(r.on_instructed_side for r in per_instruction),
                                       len(per_instruction)),
        'wrong_side': sum(r.success and r.passed_side not in (None, r.instructed_side)
                          for r in per_instruction),
    }


def table(report: dict) -> str:
    """The report as a Markdown table."""
    head = ('| scenario | episodes | success | on side | collisions | timeouts | path m | SPL '
            '| time s |\n|---|---|---|---|---|---|---|---|---|')
    lines = [head]
    for row in [*report['scenarios'], report['overall']]:
        lines.append(
            f"| {row['scenario']} | {row['episodes']} | {row['success']:.0%} | "
            f"{row['on_instructed_side']:.0%} | {row['collisions']:.0%} | "
            f"{row['timeouts']:.0%} | {row['path_length_m']:.2f} | {row['spl']:.2f} | "
            f"{row['time_s']:.2f} |")
    lang = report['language_test']
    lines.append('')
    lines.append(f"Language test: {lang['pairs_passed']}/{lang['pairs']} rooms passed with both "
                 f"instructions ({lang['pass_rate']:.0%}); {lang['instructions_on_side']:.0%} of "
                 f"instructions reached the cup on the instructed side; {lang['wrong_side']} "
                 'reached it on the wrong side.')
    return '\n'.join(lines)


def write_report(report: dict, out: Path) -> dict[str, Path]:
    """report.json, table.md and eval.png in ``out``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = {'report': out / 'report.json', 'table': out / 'table.md', 'plot': out / 'eval.png'}
    paths['report'].write_text(json.dumps(report, indent=2) + '\n')
    paths['table'].write_text(table(report) + '\n')
    rows = report['scenarios']
    names = [r['scenario'] for r in rows]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(10, 4.2))
    for offset, key, label in ((-0.27, 'success', 'success'),
                               (0.0, 'on_instructed_side', 'on instructed side'),
                               (0.27, 'spl', 'SPL')):
        ax.bar(x + offset, [r[key] for r in rows], width=0.27, label=label)
    lang = report['language_test']
    ax.set_title(f"{report.get('checkpoint') or 'policy'}: closed-loop success "
                 f"{report['overall']['success']:.0%}, language test {lang['pass_rate']:.0%} "
                 f"({report['episodes_per_scenario']} per scenario)")
    ax.set_xticks(x, names, rotation=25, ha='right')
    ax.set_ylim(0, 1.05)
    ax.axhline(0.9, color='grey', linestyle=':', linewidth=1)
    ax.legend(loc='lower right')
    fig.tight_layout()
    fig.savefig(paths['plot'], dpi=110)
    plt.close(fig)
    return paths
