"""Closed-loop evaluation: every scenario on fixed seeds, and the language test.

Success means the robot STOPPED at the cup: its navigation step arrived (the policy
held still for ``arrive_hold_s``) with the robot centre within ``success_radius`` of the
cup, with no collision, within ``time_limit_s``, AND it passed the obstacle on the
instructed side. Reaching the cup on the other side counts as ``wrong_side``, next to
it; ``reached`` (came within the radius at any time, stopping or not) and
``stopped_away`` (held still elsewhere: short of the cup, past it, beside it) are
reported beside success. Per scenario the report gives these, collision and time-out
rates, mean path length, SPL (success weighted by shortest path / driven path) and
mean time to the cup. ``evaluate_instructions`` does the same per instruction of a list of
(scenario, instruction) pairs (``sim eval --instructions FILE``); an instruction of
several steps ("first move left 0.5 m, then ...") also gets step-level success: each
motion step done as asked, measured on the ground truth (``step_done_as_asked``).

The language test uses the fact that the left and right scenarios of a seed are
the same room: a layout passes when the left instruction stops at the cup having
passed left of the obstacle and the right instruction stops there having passed right. A policy
that ignores the instruction passes at most about half of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from mobile_vla.bag import BagWriter
from mobile_vla.language import InstructionPair
from mobile_vla.planner import NAVIGATE, STOP, TURN, WAIT, PlanError, Step, plan
from mobile_vla.scenarios import SCENARIOS, parse
from mobile_vla.units import NS
from mobile_vla_inference.sequence import wrap_angle
from mobile_vla_recorder.store import EpisodeStore
from mobile_vla_sim import EVAL_SEED
from mobile_vla_sim.config import SIM_EPOCH_NS, SimConfig
from mobile_vla_sim.results import RunResult, json_text, write_summary
from mobile_vla_sim.session import SimSession
from mobile_vla_sim.workers import Failure, run_jobs
from mobile_vla_sim.world import Layout, sample_layout

if TYPE_CHECKING:  # torch loads with a policy, not with this module
    from mobile_vla.policy.runner import PolicyRunner


def instruction_for(scenario: str, seed: int, layout: Layout | None = None) -> str:
    """The phrasing used for a seed (rotates through the documented set). A goal room's
    names its target (``layout``, else the seed's room): by kind alone when no other
    object is of that kind, on every other round of phrasings with the colour too."""
    sc = parse(scenario)
    if not sc.goal:
        return sc.instruction(seed)
    layout = layout or sample_layout(scenario, seed)
    return sc.instruction(seed, layout.describe_target(full=bool(seed // 5 % 2)))


@dataclass(frozen=True)
class PolicySource:
    """Where a worker loads the policy from (each worker process loads its own)."""

    checkpoint: str
    engine: str = 'torch'
    device: str = 'cpu'


def load_policy(source: PolicySource | PolicyRunner | None) -> PolicyRunner | None:
    """A worker's policy: loaded from a ``PolicySource``, or the runner given (one worker)."""
    if not isinstance(source, PolicySource):
        return source
    from mobile_vla.graph import INFERENCE
    from mobile_vla_inference.inference import load_runner
    from mobile_vla_sim.config import SIM_PROFILE
    from mobile_vla_sim.graph import node_config

    return load_runner(node_config(INFERENCE, SIM_PROFILE, overrides={
        'checkpoint': source.checkpoint, 'engine': source.engine, 'device': source.device}))


@dataclass(frozen=True)
class EpisodeJob:
    """One closed-loop episode, as a worker runs it (``run_job``)."""

    scenario: str
    seed: int
    instruction: str | None = None
    start_ns: int = SIM_EPOCH_NS
    sim: SimConfig | None = None
    ranges: tuple[tuple[str, tuple[float, float]], ...] = ()
    shift: str = ''
    driver: str = 'policy'
    outputs: str | None = None  # a folder: every output of the run is written there
    start_shift: tuple[float, float] = (0.0, 0.0)
    expert_actions: str = 'discrete'
    expert_gaze: str = 'ahead'  # ExpertConfig.gaze: where the expert's camera looks
    expert_approach: float = 0.0  # ExpertConfig.approach: the straight last leg, metres
    #: Expert data: a run that stopped at the cup on the instructed side with a complete
    #: episode writes it to this episode folder (its name comes from the run's start
    #: time, so any worker writes the same file) and returns without the images.
    episodes: str | None = None
    target: tuple[str, str] | None = None  # a goal room's target (kind, colour)
    decoy: bool = False  # and another of its kind across the obstacle (world.sample_layout)


def run_job(runner: PolicyRunner | None, job: EpisodeJob) -> RunResult:
    from mobile_vla_sim.expert import ExpertConfig

    options: dict[str, Any] = {}
    if job.driver == 'expert':
        options['expert'] = ExpertConfig(actions=job.expert_actions, gaze=job.expert_gaze,
                                         approach=job.expert_approach)
    result = _run_job(runner, job, options)
    if job.episodes and result.episode is not None:
        if result.success and result.episode.complete:
            result.outputs['episode'] = str(EpisodeStore(job.episodes).write(result.episode))
        result.episode = None
    return result


def _run_job(runner: PolicyRunner | None, job: EpisodeJob, options: dict) -> RunResult:
    return run_episode(job.scenario, job.seed, job.instruction, runner=runner,
                       driver=job.driver, sim=job.sim, start_ns=job.start_ns,
                       start_shift=job.start_shift, ranges=dict(job.ranges), shift=job.shift,
                       target=job.target, decoy=job.decoy,
                       outputs=RunOutputs(Path(job.outputs)) if job.outputs else None,
                       **options)


def failed_run(job: EpisodeJob, reason: str) -> RunResult:
    """The result of a job that did not run to its end (its worker died, or it raised)."""
    scenario = parse(job.scenario)
    instruction = job.instruction
    if not instruction:
        try:
            instruction = instruction_for(job.scenario, job.seed, sample_layout(
                job.scenario, job.seed, dict(job.ranges), job.shift, job.target, job.decoy))
        except ValueError:  # the room itself could not be drawn: that is the reason
            instruction = ''
    return RunResult(scenario=scenario.name, seed=job.seed, instruction=instruction,
                     instructed_side=scenario.side, driver=job.driver, mode='vla',
                     outcome=f'failed: {reason}')


def run_episodes(policy: PolicySource | PolicyRunner | None, jobs: list[EpisodeJob],
                 workers: int = 1, progress: Callable[[RunResult], None] | None = None,
                 ordered: Callable[[RunResult], None] | None = None) -> list[RunResult]:
    """Every job on ``workers`` processes; results in job order, a job that did not
    finish as a ``failed: <reason>`` run. More than one worker needs a ``PolicySource``.

    ``progress`` sees each result as it comes; ``ordered`` sees them in job order as
    soon as each one's turn comes, and then they are not kept (the list is empty):
    expert data is written as it is made, never all held at once.
    """
    if workers > 1 and policy is not None and not isinstance(policy, PolicySource):
        raise ValueError('several workers load their own policy: give a PolicySource')
    waiting: dict[int, RunResult] = {}
    turn = 0

    def report(index: int, value: Any) -> None:
        nonlocal turn
        result = value if isinstance(value, RunResult) else failed_run(value.job, value.reason)
        if progress is not None:
            progress(result)
        if ordered is not None:
            waiting[index] = result
            while turn in waiting:
                ordered(waiting.pop(turn))
                turn += 1

    results = run_jobs(jobs, run_job, workers=workers, setup=load_policy, setup_args=(policy,),
                       progress=report, keep=ordered is None)
    if ordered is not None:
        return []
    return [failed_run(r.job, r.reason) if isinstance(r, Failure) else r for r in results]


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
                start_ns: int = SIM_EPOCH_NS, start_shift: tuple[float, float] = (0.0, 0.0),
                ranges: Mapping[str, tuple[float, float]] | None = None, shift: str = '',
                target: tuple[str, str] | None = None, decoy: bool = False,
                **session_options) -> RunResult:
    """One closed-loop episode; with ``outputs`` it writes the episode, bag, MP4, PNG, JSON.

    ``start_shift`` moves the robot's start (x, y metres) within the room: data for a
    policy that takes over after a motion step of an instruction sequence. ``ranges``
    draws those room factors from other ranges (a shift family named ``shift``);
    ``target`` (kind, colour) is a goal room's target, ``decoy`` adds another of its
    kind (``world.sample_layout``).
    """
    layout = sample_layout(scenario, seed, ranges, shift, target, decoy)
    if start_shift != (0.0, 0.0):
        x, y, yaw = layout.robot
        layout = replace(layout, robot=(x + start_shift[0], y + start_shift[1], yaw))
    text = instruction or instruction_for(scenario, seed, layout)
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


#: A motion step is done as asked within this share of its distance (at least
#: ``MOVE_TOLERANCE_M``), with less sideways drift than ``DRIFT_M``; a turn within
#: ``TURN_TOLERANCE_DEG``; a wait or a stop moves less than ``STILL_M``.
MOVE_TOLERANCE = 0.25
MOVE_TOLERANCE_M = 0.1
DRIFT_M = 0.15
TURN_TOLERANCE_DEG = 15.0
STILL_M = 0.05


def step_done_as_asked(step: Step, start: list[float], end: list[float]) -> bool:
    """Whether the robot did a motion step as asked, from its poses (x, y, yaw) at the
    step's start and end (ground truth)."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    c, s = math.cos(start[2]), math.sin(start[2])
    body = (dx * c + dy * s, -dx * s + dy * c)
    if step.kind in (WAIT, STOP):
        return math.hypot(*body) < STILL_M
    if step.kind == TURN:
        turned = math.degrees(wrap_angle(end[2] - start[2]))
        wanted = math.degrees(step.amount) * (1 if step.direction[2] > 0 else -1)
        return abs(wrap_angle(math.radians(turned - wanted))) <= math.radians(
            TURN_TOLERANCE_DEG) and math.hypot(*body) < DRIFT_M
    ux, uy = step.direction[0], step.direction[1]
    along = body[0] * ux + body[1] * uy
    drift = abs(-body[0] * uy + body[1] * ux)
    if step.timed:
        return along > MOVE_TOLERANCE_M and drift < DRIFT_M
    return abs(along - step.amount) <= max(MOVE_TOLERANCE * step.amount,
                                           MOVE_TOLERANCE_M) and drift < DRIFT_M


def steps_done(result: RunResult) -> list[bool] | None:
    """Per step of a multi-step instruction: done as asked (the last navigation step: the
    run's success; an earlier one ("first go to the ball, then to the cup"): it arrived
    at an object its target names); None for an instruction of one step."""
    try:
        steps = plan(result.instruction).steps
    except PlanError:
        return None
    if len(steps) < 2:
        return None
    last = max((k for k, step in enumerate(steps) if step.kind == NAVIGATE), default=-1)
    done = []
    for k, step in enumerate(steps):
        record = result.plan_steps[k] if k < len(result.plan_steps) else None
        if step.kind == NAVIGATE and k == last:
            done.append(record is not None and result.success)
        elif step.kind == NAVIGATE:
            done.append(record is not None and record.get('state') == 'done'
                        and bool(record.get('at_target')))
        else:
            done.append(record is not None and record.get('state') == 'done' and
                        step_done_as_asked(step, record['start_pose'], record['end_pose']))
    return done


@dataclass
class ScenarioStats:
    scenario: str
    runs: list[RunResult] = field(default_factory=list)

    def row(self) -> dict[str, float | int | str]:
        n = len(self.runs)
        ok = [r for r in self.runs if r.success]
        sequences = [d for d in (steps_done(r) for r in self.runs) if d is not None]
        return {
            'scenario': self.scenario, 'episodes': n,
            'success': _share(len(ok), n),
            'wrong_side': sum(r.wrong_side for r in self.runs),
            'wrong_object': _share(sum(bool(r.wrong_object) for r in self.runs), n),
            'reached': _share(sum(r.reached for r in self.runs), n),
            'stopped_away': _share(sum(r.stopped_away for r in self.runs), n),
            **({'all_steps_done': _share(sum(all(d) for d in sequences), len(sequences)),
                'steps_done': _share(sum(map(sum, sequences)), sum(map(len, sequences)))}
               if sequences else {}),
            'on_instructed_side': _share(sum(r.on_instructed_side for r in self.runs), n),
            'collisions': _share(sum(r.collision for r in self.runs), n),
            'timeouts': _share(sum(r.outcome == 'timeout' for r in self.runs), n),
            'failed': sum(r.outcome.startswith('failed') for r in self.runs),
            'path_length_m': _mean([r.path_length for r in ok]),
            'spl': _mean([r.spl for r in self.runs]),
            'time_s': _mean([r.reached_at_s for r in ok]),
        }


def _share(k: int, n: int) -> float:
    return round(k / n, 4) if n else 0.0


def _mean(values) -> float:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 4) if values else 0.0


def evaluate_policy(policy: PolicySource | PolicyRunner, episodes_per_scenario: int, *,
                    seed: int = EVAL_SEED, scenarios: tuple[str, ...] = SCENARIOS,
                    sim: SimConfig | None = None, out: Path | None = None,
                    record_runs: bool = False, workers: int = 1,
                    ranges: Mapping[str, tuple[float, float]] | None = None, shift: str = '',
                    progress: Callable[[RunResult], None] | None = None) -> dict:
    """Run every scenario on seeds ``seed .. seed + N - 1``; the report as a dict."""
    if episodes_per_scenario < 1:
        raise ValueError('episodes_per_scenario must be at least 1')
    jobs = []
    for k in range(episodes_per_scenario):
        for i, name in enumerate(scenarios):
            s = seed + k
            folder = None
            if out is not None and record_runs:
                folder = str(out / 'runs' / f'{name}_seed{s}')
            jobs.append(EpisodeJob(
                name, s, sim=sim, outputs=folder, ranges=tuple(sorted((ranges or {}).items())),
                shift=shift, start_ns=SIM_EPOCH_NS + (k * len(scenarios) + i) * 60 * NS))
    results = run_episodes(policy, jobs, workers, progress)
    return policy_report(results, scenarios, episodes_per_scenario, seed, sim)


def policy_report(results: list[RunResult], scenarios: tuple[str, ...],
                  episodes_per_scenario: int, seed: int, sim: SimConfig | None) -> dict:
    stats = {name: ScenarioStats(name) for name in scenarios}
    for result in results:
        stats[result.scenario].runs.append(result)
    return {
        'checkpoint': '', 'episodes_per_scenario': episodes_per_scenario, 'first_seed': seed,
        'sim': (sim or SimConfig()).__dict__,
        'scenarios': [stats[name].row() for name in scenarios],
        'overall': ScenarioStats('all', results).row(),
        'language_test': language_test(results),
        'runs': [r.summary() for r in results],
    }


def evaluate_instructions(policy: PolicySource | PolicyRunner, pairs: list[InstructionPair],
                          episodes_per_pair: int, *, seed: int = EVAL_SEED,
                          sim: SimConfig | None = None, workers: int = 1,
                          progress: Callable[[RunResult], None] | None = None) -> dict:
    """Each (scenario, instruction) pair on seeds ``seed .. seed + N - 1`` (unseen
    layouts); rows per instruction as written (an entry for every scenario of a side is
    one row), with success, wrong side and, for sequences, steps done."""
    if episodes_per_pair < 1:
        raise ValueError('episodes per pair must be at least 1')
    jobs = [EpisodeJob(pair.scenario, seed + k, pair.instruction, sim=sim,
                       start_ns=SIM_EPOCH_NS + (i * episodes_per_pair + k) * 60 * NS)
            for i, pair in enumerate(pairs) for k in range(episodes_per_pair)]
    results = run_episodes(policy, jobs, workers, progress)
    groups: dict[str, ScenarioStats] = {}
    for n, result in enumerate(results):
        pair = pairs[n // episodes_per_pair]
        groups.setdefault(pair.source or pair.instruction,
                          ScenarioStats(pair.instruction)).runs.append(result)
    rows = []
    for stats in groups.values():
        row = stats.row()
        row['instruction'] = row.pop('scenario')
        row['scenarios'] = sorted({r.scenario for r in stats.runs})
        rows.append(row)
    overall = ScenarioStats('all', results).row()
    overall['instruction'] = overall.pop('scenario')
    return {'episodes_per_pair': episodes_per_pair, 'first_seed': seed, 'pairs': len(pairs),
            'sim': (sim or SimConfig()).__dict__, 'instructions': rows, 'overall': overall,
            'runs': [r.summary() for r in results]}


def instruction_table(report: dict) -> str:
    """An instruction report as a Markdown table."""
    sequences = any('all_steps_done' in row for row in report['instructions'])
    extra = ' all steps done |' if sequences else ''
    lines = [f'| instruction | runs | success | reached | stopped away | wrong side | '
             f'wrong object | collisions | timeouts | SPL |{extra}',
             '|---|---|---|---|---|---|---|---|---|---|' + ('---|' if sequences else '')]
    for row in [*report['instructions'], report['overall']]:
        steps = (f" {row['all_steps_done']:.0%} |" if 'all_steps_done' in row else ' - |') \
            if sequences else ''
        lines.append(f"| {row['instruction']} | {row['episodes']} | {row['success']:.0%} | "
                     f"{row['reached']:.0%} | {row['stopped_away']:.0%} | "
                     f"{row['wrong_side']} | {round(row['wrong_object'] * row['episodes'])} | "
                     f"{row['collisions']:.0%} | {row['timeouts']:.0%} | {row['spl']:.2f} |"
                     f'{steps}')
    return '\n'.join(lines)


def language_test(results: list[RunResult]) -> dict:
    """Pairs of runs in the same room with the left and the right instruction."""
    by_room: dict[tuple[str, int], dict[str, RunResult]] = {}
    for r in results:
        sc = parse(r.scenario)
        by_room.setdefault((sc.name.rsplit('_', 1)[0], r.seed), {})[sc.side] = r
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
        'wrong_side': sum(r.wrong_side for r in per_instruction),
    }


def table(report: dict) -> str:
    """The report as a Markdown table."""
    head = ('| scenario | episodes | success | reached | stopped away | wrong side | '
            'wrong object | collisions | timeouts | path m | SPL | time s |\n'
            '|---|---|---|---|---|---|---|---|---|---|---|---|')
    lines = [head]
    for row in [*report['scenarios'], report['overall']]:
        lines.append(
            f"| {row['scenario']} | {row['episodes']} | {row['success']:.0%} | "
            f"{row['reached']:.0%} | {row['stopped_away']:.0%} | {row['wrong_side']} | "
            f"{round(row['wrong_object'] * row['episodes'])} | {row['collisions']:.0%} | "
            f"{row['timeouts']:.0%} | {row['path_length_m']:.2f} | {row['spl']:.2f} | "
            f"{row['time_s']:.2f} |")
    lang = report['language_test']
    lines.append('')
    lines.append(f"Language test: {lang['pairs_passed']}/{lang['pairs']} rooms passed with both "
                 f"instructions ({lang['pass_rate']:.0%}); {lang['instructions_on_side']:.0%} of "
                 f"instructions stopped at the goal on the instructed side; {lang['wrong_side']} "
                 'reached it on the wrong side.')
    return '\n'.join(lines)


def write_outputs(report: dict, out: Path, text: str, size: tuple[float, float],
           draw: Callable) -> dict[str, Path]:
    """report.json, table.md (``text``) and eval.png (``draw(ax)``) in ``out``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = {'report': out / 'report.json', 'table': out / 'table.md', 'plot': out / 'eval.png'}
    paths['report'].write_text(json_text(report))
    paths['table'].write_text(text + '\n')
    fig, ax = plt.subplots(figsize=size)
    draw(ax)
    fig.tight_layout()
    fig.savefig(paths['plot'], dpi=110)
    plt.close(fig)
    return paths


def write_report(report: dict, out: Path) -> dict[str, Path]:
    """report.json, table.md and eval.png in ``out``."""
    rows = report['scenarios']
    names = [r['scenario'] for r in rows]
    x = np.arange(len(names))

    def draw(ax) -> None:
        for offset, key, label in ((-0.27, 'success', 'success (instructed side)'),
                                   (0.0, 'reached', 'reached (any side)'),
                                   (0.27, 'spl', 'SPL')):
            ax.bar(x + offset, [r[key] for r in rows], width=0.27, label=label)
        lang = report['language_test']
        ax.set_title(f"{report.get('checkpoint') or 'policy'}: closed-loop success "
                     f"{report['overall']['success']:.0%}, language test "
                     f"{lang['pass_rate']:.0%} ({report['episodes_per_scenario']} per scenario)")
        ax.set_xticks(x, names, rotation=25, ha='right')
        ax.set_ylim(0, 1.05)
        ax.axhline(0.9, color='grey', linestyle=':', linewidth=1)
        ax.legend(loc='lower right')

    return write_outputs(report, out, table(report), (10, 4.2), draw)


def write_instruction_report(report: dict, out: Path) -> dict[str, Path]:
    """report.json, table.md and eval.png (success and wrong side per instruction)."""
    rows = report['instructions']
    y = np.arange(len(rows))

    def draw(ax) -> None:
        ax.barh(y - 0.2, [r['success'] for r in rows], height=0.4, label='success')
        ax.barh(y + 0.2, [r['wrong_side'] / max(r['episodes'], 1) for r in rows], height=0.4,
                label='wrong side', color='tab:red')
        ax.set_yticks(y, [r['instruction'][:60] for r in rows], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.05)
        ax.set_title(f"{report.get('checkpoint') or 'policy'}: success "
                     f"{report['overall']['success']:.0%} over {report['overall']['episodes']} "
                     'runs')
        ax.legend(loc='lower right')

    return write_outputs(report, out, instruction_table(report), (10, 1.2 + 0.32 * len(rows)),
                         draw)
