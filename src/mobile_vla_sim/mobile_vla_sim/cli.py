"""``mobile-vla sim``: expert data, closed-loop runs and closed-loop evaluation.

    mobile-vla sim collect --episodes 320 --out runs/sim_episodes [--seed 0]
    mobile-vla sim run --checkpoint models/demo --scenario 1box_vert_left \\
        [--instruction "go around the box on the left to the cup"] [--seed 7] [--out DIR]
    mobile-vla sim run --checkpoint models/demo --scenario 2box_hori_right --mode hybrid \\
        --manual-at 0.5 --manual-for 1.0          # the expert takes over for a second
    mobile-vla sim eval --checkpoint models/demo --episodes-per-scenario 10 --out runs/eval
    mobile-vla sim eval --instructions heldout --episodes-per-scenario 2   # paraphrases
    mobile-vla sim eval --instructions config/language/sequences.yaml      # sequences
    mobile-vla sim eval --shift all --episodes-per-scenario 3 --workers 2  # robustness
    mobile-vla sim eval --arrival 1.8 --arrival 4.5 --workers 2   # does it stop at the cup?
    mobile-vla sim collect --episodes 960 --workers 2    # both CPUs: one world each
    mobile-vla sim frames --frames 16000 --out runs/frames --workers 2   # for train-vision

Simulator parameters (``SimConfig``) change with ``--set key=value``, for example
``--set width=1280 --set height=720``. Everything runs in simulation time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from mobile_vla.config import load_config, writable_folder
from mobile_vla.language import read_instruction_pairs, scenario_phrasings
from mobile_vla.scenarios import GOAL_SCENARIOS, SCENARIOS, parse
from mobile_vla.topics import CONTROL_MODES
from mobile_vla.units import NS


def _sim_config(pairs: list[str]):
    from mobile_vla_sim.config import SimConfig

    return load_config(SimConfig, overrides=pairs or ())


def _checkpoint(args: argparse.Namespace) -> str:
    from mobile_vla.policy.checkpoint import CONFIG_FILE
    from mobile_vla.policy.modeling_policy import resolve_model_path

    checkpoint = resolve_model_path(args.checkpoint)
    if not (checkpoint / CONFIG_FILE).is_file():
        raise FileNotFoundError(f'{args.checkpoint}: no checkpoint there (config.json + '
                                'model.safetensors); train one with `make train-demo` or '
                                '`mobile-vla train`')
    return str(checkpoint)


def _policy(args: argparse.Namespace):
    """Where each worker loads the policy from (checked here, before any work)."""
    from mobile_vla_sim.evaluate import PolicySource
    from mobile_vla_sim.workers import check_workers

    check_workers(getattr(args, 'workers', 1))
    return PolicySource(_checkpoint(args), args.engine, args.device)


def _runner(args: argparse.Namespace):
    from mobile_vla_sim.evaluate import load_policy

    return load_policy(_policy(args))


def _scenarios(args: argparse.Namespace) -> tuple[str, ...]:
    """The rooms ``--scenario`` names: scenario names, ``goal`` (the eight goal rooms)
    or ``all`` (both families); none given: the original eight."""
    if not args.scenario:
        return SCENARIOS
    names: list[str] = []
    for value in args.scenario:
        group = {'goal': GOAL_SCENARIOS, 'all': SCENARIOS + GOAL_SCENARIOS}.get(value)
        names += group if group else [parse(value).name]
    return tuple(dict.fromkeys(names))


def _frames(args: argparse.Namespace) -> int:
    from mobile_vla.training.config import load_train_config
    from mobile_vla.training.vision_pretrain import save_frames, tower_geometry
    from mobile_vla_sim.frames import COLOUR_NAMES, PATCH_CLASSES, frame_jobs, run_frame_job
    from mobile_vla_sim.workers import Failure, check_workers, run_jobs

    check_workers(args.workers)
    size, grid = tower_geometry(load_train_config(args.config, args.config_set))
    out = writable_folder(args.out)
    jobs = frame_jobs(args.frames, args.seed, _scenarios(args) if args.scenario else
                      SCENARIOS + GOAL_SCENARIOS, args.per_room, size, grid,
                      _sim_config(args.set))
    t0 = time.perf_counter()
    results = run_jobs(jobs, run_frame_job, workers=args.workers)
    failed = [r for r in results if isinstance(r, Failure)]
    for failure in failed:
        print(f'{failure.job.scenario} seed {failure.job.seed}: no frames ({failure.reason})',
              file=sys.stderr)
    if failed:  # a set is whole or not written: the training recipe takes it as done
        print(f'no frame set written: {len(failed)} of {len(jobs)} rooms failed (above); '
              'run the command again', file=sys.stderr)
        return 1
    images, kinds, colours = (np.concatenate([r[part] for r in results]) for part in range(3))
    rooms = np.repeat(np.arange(len(results), dtype=np.int32), [len(r[0]) for r in results])
    path = save_frames(out, images, kinds, colours, rooms, {
        'classes': list(PATCH_CLASSES), 'colours': list(COLOUR_NAMES), 'size': size,
        'grid': grid, 'seed': args.seed, 'rooms': len(results),
        'scenarios': sorted({job.scenario for job in jobs})})
    minutes = (time.perf_counter() - t0) / 60
    print(f'{len(images)} labelled frames of {len(results)} rooms in {path} '
          f'({len(images) / max(minutes, 1e-9):.0f} per minute, {args.workers} worker'
          f'{"s" if args.workers > 1 else ""})')
    return 0


def _collect_instruction(scenario: str, seed: int, index: int) -> str | None:
    """A training phrasing of the scenario's side, drawn per episode (fixed seed); a
    goal room's names its target (None: the room's own, ``evaluate.instruction_for``)."""
    if parse(scenario).goal:
        return None
    phrasings = scenario_phrasings(scenario)
    return phrasings[int(np.random.default_rng([seed, index, 0x1A57]).integers(len(phrasings)))]


def _collect(args: argparse.Namespace) -> int:
    from mobile_vla_recorder.store import EpisodeStore
    from mobile_vla_sim.config import SIM_EPOCH_NS
    from mobile_vla_sim.evaluate import EpisodeJob, run_episodes
    from mobile_vla_sim.expert import ExpertConfig
    from mobile_vla_sim.workers import check_workers

    sim = _sim_config(args.set)
    scenarios = _scenarios(args)
    if args.episodes < 1:
        raise ValueError('--episodes must be at least 1')
    if not 0 <= args.start_spread <= 1.0:
        raise ValueError('--start-spread must be in [0, 1] metres')
    check_workers(args.workers)
    # a pair it cannot drive, or an approach out of range, named now
    ExpertConfig(actions=args.actions, gaze=args.gaze, approach=args.approach)
    store = EpisodeStore(args.out)
    jobs = []
    for i in range(args.episodes):
        name = scenarios[i % len(scenarios)]
        shift = (0.0, 0.0)
        if args.start_spread > 0:  # where a motion step of a sequence may leave the robot
            rng = np.random.default_rng([args.seed, i, 0x5717])
            shift = tuple(float(v) for v in rng.uniform(
                [-args.start_spread / 2, -args.start_spread], [args.start_spread / 2,
                                                               args.start_spread]))
        jobs.append(EpisodeJob(
            name, args.seed + i // len(scenarios), _collect_instruction(name, args.seed, i),
            start_ns=SIM_EPOCH_NS + (args.seed * 100_000 + i) * 60 * NS, sim=sim,
            driver='expert', start_shift=shift, expert_actions=args.actions,
            expert_gaze=args.gaze, expert_approach=args.approach,
            episodes=str(store.folder)))
    written, failed = 0, []
    t0 = time.perf_counter()

    def done(result) -> None:  # each worker writes its episodes (named by their start)
        nonlocal written
        if 'episode' not in result.outputs:
            wrong = f', reached the {result.wrong_object}' if result.wrong_object else ''
            failed.append(f'{result.scenario} seed {result.seed}: {result.outcome}, '
                          f'passed {result.passed_side}{wrong}')
            return
        written += 1
        if args.verbose:
            print(f'{result.scenario} seed {result.seed}: {result.expert_keys.strip()} -> '
                  f'{result.instruction!r}', flush=True)

    run_episodes(None, jobs, args.workers, ordered=done)
    minutes = (time.perf_counter() - t0) / 60
    print(f'{written} episodes in {Path(args.out).resolve()} ({written / minutes:.0f} per minute, '
          f'{args.workers} worker{"s" if args.workers > 1 else ""})')
    if failed:
        print(f'{len(failed)} expert runs did not reach their goal (the cup on the instructed '
              'side, or the named object) and were not written:')
        for line in failed:
            print(f'  {line}')
    return 0 if written else 1


def _default_out(root: Path, name: str) -> Path:
    out = root / name
    k = 2
    while out.exists():
        out = root / f'{name}_{k}'
        k += 1
    return out


def _run(args: argparse.Namespace) -> int:
    from mobile_vla_sim.evaluate import RunOutputs, run_episode

    sim = _sim_config(args.set)
    name = parse(args.scenario).name
    runner = None
    if args.driver == 'policy':
        runner = _runner(args)
    window = None
    if args.mode == 'hybrid' and args.manual_for > 0:
        window = (args.manual_at, args.manual_for)
    out = Path(args.out) if args.out else _default_out(Path('runs/sim'), f'{name}_seed{args.seed}')
    result = run_episode(name, args.seed, args.instruction, runner=runner, driver=args.driver,
                         mode=args.mode, sim=sim, manual_window=window,
                         outputs=RunOutputs(out, bag=not args.no_bag))
    from mobile_vla_sim.results import json_text

    summary = result.summary()
    summary.pop('layout')
    print(json_text(summary), end='')
    print(f'outputs in {out.resolve()}')
    return 0 if result.success else 3


def _eval_instructions(args: argparse.Namespace, sim, out: Path | None) -> int:
    from mobile_vla_sim.evaluate import (
        evaluate_instructions,
        instruction_table,
        write_instruction_report,
    )
    from mobile_vla_sim.goals import is_goal_sets

    if is_goal_sets(args.instructions):
        if args.scenario or args.record:
            raise ValueError('a goal-set file chooses its own rooms: no --scenario or --record '
                             'with it')
        return _eval_goal_sets(args, sim, out)
    pairs = read_instruction_pairs(args.instructions)  # before the model loads
    if args.scenario:
        wanted = {parse(s).name for s in args.scenario}
        pairs = [p for p in pairs if p.scenario in wanted]
    return _report_instruction_run(args, out, evaluate_instructions, pairs, sim,
                                   instruction_table, write_instruction_report)


def _eval_goal_sets(args: argparse.Namespace, sim, out: Path | None) -> int:
    from mobile_vla_sim.goals import (
        evaluate_goal_sets,
        goal_table,
        read_goal_sets,
        write_goal_report,
    )

    entries = read_goal_sets(args.instructions)  # before the model loads
    return _report_instruction_run(args, out, evaluate_goal_sets, entries, sim, goal_table,
                                   write_goal_report)


def _report_instruction_run(args: argparse.Namespace, out: Path | None, evaluate, items, sim,
                            table, write) -> int:
    """Run ``evaluate`` over the instruction file's ``items``, print its ``table`` and
    write the report to ``out`` (``write``), with the checkpoint and the file named."""
    policy = _policy(args)
    t0 = time.perf_counter()
    report = evaluate(policy, items, args.episodes_per_scenario, seed=args.seed, sim=sim,
                      workers=args.workers, progress=_progress(args))
    report['checkpoint'], report['instructions_file'] = args.checkpoint, args.instructions
    report['wall_s'] = round(time.perf_counter() - t0, 2)
    print(table(report))
    print(f'{len(report["runs"])} episodes in {report["wall_s"]:.1f} s')
    if out is not None:
        paths = write(report, out)
        print(f"report: {paths['report']}  table: {paths['table']}  plot: {paths['plot']}")
    return 0


def _progress(args: argparse.Namespace):
    def progress(result) -> None:
        if args.verbose:
            steps = f', plan {result.plan_state}' if result.plan_state else ''
            wrong = f', reached the {result.wrong_object}' if result.wrong_object else ''
            print(f'  {result.scenario} seed {result.seed}: {result.outcome} '
                  f'(side {result.passed_side}{steps}{wrong}, {result.time_s:.1f} s) '
                  f'{result.instruction!r}', flush=True)
    return progress


def _eval(args: argparse.Namespace) -> int:
    from mobile_vla_sim.evaluate import evaluate_policy, table, write_report

    sim = _sim_config(args.set)
    if sum(bool(x) for x in (args.instructions, args.shift, args.arrival)) > 1:
        raise ValueError('--instructions, --shift and --arrival are separate evaluations: '
                         'give one')
    if args.instructions:
        out = writable_folder(args.out) if args.out else None
        return _eval_instructions(args, sim, out)
    if args.shift:
        return _eval_shifts(args, sim)
    if args.arrival:
        return _eval_arrival(args, sim)
    scenarios = _scenarios(args)
    out = writable_folder(args.out) if args.out else None  # before the evaluation
    policy = _policy(args)
    t0 = time.perf_counter()
    report = evaluate_policy(policy, args.episodes_per_scenario, seed=args.seed,
                             scenarios=scenarios, sim=sim, out=out, record_runs=args.record,
                             workers=args.workers, progress=_progress(args))
    report['checkpoint'] = args.checkpoint
    elapsed = time.perf_counter() - t0
    steps = sum(r['policy_steps'] for r in report['runs'])
    report['wall_s'] = round(elapsed, 2)
    print(table(report))
    print(f'{len(report["runs"])} episodes, {steps} policy steps in {elapsed:.1f} s')
    if out is not None:
        paths = write_report(report, out)
        print(f"report: {paths['report']}  table: {paths['table']}  plot: {paths['plot']}")
        if args.record:
            print(f'per-episode outputs (episode .h5, bag, camera.mp4, top_down.png, '
                  f'summary.json): {out / "runs"}')
    return 0


def _eval_shifts(args: argparse.Namespace, sim) -> int:
    from mobile_vla_sim.shifts import resolve

    families = resolve(args.shift)  # an unknown name lists the known ones, before any work
    if args.record:
        raise ValueError('--record writes closed-loop runs of the trained rooms; not with '
                         '--shift')
    scenarios = _scenarios(args)
    out = writable_folder(args.out) if args.out else None
    from mobile_vla_sim.robustness import evaluate_shifts, shift_table, write_shift_report

    policy = _policy(args)
    t0 = time.perf_counter()
    report = evaluate_shifts(policy, families, args.episodes_per_scenario, seed=args.seed,
                             scenarios=scenarios, sim=sim, workers=args.workers,
                             progress=_progress(args))
    report['checkpoint'] = args.checkpoint
    report['wall_s'] = round(time.perf_counter() - t0, 2)
    print(shift_table(report))
    print(f'{len(report["runs"])} episodes in {report["wall_s"]:.1f} s '
          f'({args.workers} worker{"s" if args.workers > 1 else ""})')
    if out is not None:
        paths = write_shift_report(report, out)
        print(f"report: {paths['report']}  table: {paths['table']}  plot: {paths['plot']}")
    return 0


def _eval_arrival(args: argparse.Namespace, sim) -> int:
    scenarios = _scenarios(args)
    out = writable_folder(args.out) if args.out else None
    from mobile_vla_sim.results import json_text
    from mobile_vla_sim.robustness import arrival_table, evaluate_arrival

    report = evaluate_arrival(_policy(args), args.arrival, args.episodes_per_scenario,
                              seed=args.seed, scenarios=scenarios, sim=sim,
                              workers=args.workers, progress=_progress(args))
    report['checkpoint'] = args.checkpoint
    text = arrival_table(report)
    print(text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / 'report.json').write_text(json_text(report))
        (out / 'table.md').write_text(text + '\n')
        print(f'report: {out / "report.json"}  table: {out / "table.md"}')
    return 0


def _example(scenario: str, seed: int) -> str:
    """An instruction for the room: its documented phrasing (a goal room's names its
    target)."""
    from mobile_vla_sim.evaluate import instruction_for

    return instruction_for(scenario, seed)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _live(args: argparse.Namespace) -> int:
    import signal

    from mobile_vla_sim.live_graph import LiveGraph

    graph = LiveGraph(Path(args.out), checkpoint=args.checkpoint, scenario=parse(
        args.scenario).name, seed=args.seed, fps=args.fps, host=args.host, port=args.port,
        token_file=args.token_file, mode=args.mode,
        report=lambda text: print(f'{text}; see {Path(args.out)}/logs', flush=True))
    print(f'starting the graph (ROS_DOMAIN_ID={graph.domain_id}, logs in {graph.out}/logs) ...',
          flush=True)
    # SIGTERM ends the run as Ctrl-C does: every node publishes its zero first. SIGINT is
    # set too: a process started from a background shell inherits it ignored, and would
    # then go on supervising (restarting) the nodes a group SIGINT just ended.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        graph.start()
        print(f'\nMobile VLA console: {graph.url}#token={graph.token}\n'
              f'  room {graph.scenario} (seed {graph.seed}); type an instruction such as '
              f'"{_example(graph.scenario, graph.seed)}".\n'
              f'  token file: {graph.token_file}; episodes: {graph.episodes}\n'
              '  Ctrl-C stops every node (each sends zero first). A node that ends is '
              'restarted if it respawns on the robot, and reported otherwise.', flush=True)
        deadline = time.monotonic() + args.duration if args.duration else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print('stopping ...', flush=True)
    finally:
        graph.stop()
    return 0


SCENARIO_HELP = ('only these rooms, may repeat: a scenario name (1box_vert_left, a goal room '
                 'goal_1box_vert_left), "goal" for the eight goal rooms, "all" for both '
                 '(default: the original eight)')


def add_sim_command(sub: argparse._SubParsersAction) -> None:
    sim = sub.add_parser('sim', help='MuJoCo simulator: expert data, closed-loop run and eval',
                         description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sim_sub = sim.add_subparsers(dest='sim_command', required=True)
    for add in (_add_collect, _add_frames, _add_run, _add_live, _add_eval):
        add(sim_sub)


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help='simulator parameter (SimConfig), e.g. width=1280')


def _workers_option(p: argparse.ArgumentParser) -> None:
    p.add_argument('--workers', type=int, default=1, metavar='N',
                   help='episodes in N processes, each with its own world and policy '
                        '(results per seed as with one; at most the CPUs here)')


def _policy_options(p: argparse.ArgumentParser) -> None:
    p.add_argument('--checkpoint', default='models/demo', help='checkpoint folder')
    p.add_argument('--engine', default='torch', choices=('torch', 'onnx'))
    p.add_argument('--device', default='cpu')


def _add_collect(sim_sub: argparse._SubParsersAction) -> None:
    p = sim_sub.add_parser('collect', help='expert episodes through the episode recorder')
    p.add_argument('--episodes', type=int, required=True)
    p.add_argument('--out', default='runs/sim_episodes')
    p.add_argument('--seed', type=int, default=0, help='first layout seed')
    p.add_argument('--scenario', action='append', help=SCENARIO_HELP)
    p.add_argument('--actions', choices=('discrete', 'continuous'), default='discrete',
                   help='key-map actions (magnitude 1.15) or continuous directions')
    p.add_argument('--gaze', choices=('ahead', 'cup'), default='ahead',
                   help='ahead: the camera keeps the start heading (never turns); cup: the '
                        'base turns to keep the cup in view while it drives the same route '
                        '(with --actions continuous)')
    p.add_argument('--approach', type=float, default=0.0, metavar='M',
                   help='the last M metres straight at the cup: the expert lines up with '
                        'the cup first, so a camera at the start heading sees it until the '
                        'stop (0 = the diagonal back to the cup, as the original operator)')
    p.add_argument('--start-spread', type=float, default=0.0, metavar='M',
                   help='shift each start up to M metres sideways (M/2 along x): data for '
                        'a policy that takes over after a motion step (0 = as drawn)')
    p.add_argument('--verbose', action='store_true')
    _workers_option(p)
    _common_options(p)
    p.set_defaults(func=_collect)


def _add_frames(sim_sub: argparse._SubParsersAction) -> None:
    p = sim_sub.add_parser('frames', help='camera frames labelled with what each patch shows '
                                          '(for mobile-vla train-vision)')
    p.add_argument('--frames', type=int, required=True)
    p.add_argument('--out', required=True, help='folder for frames.npz and frames.json')
    p.add_argument('--seed', type=int, default=0, help='first layout seed')
    p.add_argument('--scenario', action='append',
                   help='only these rooms, as for collect (default: all sixteen)')
    p.add_argument('--per-room', type=int, default=16, help='frames from each room')
    p.add_argument('--config', default='demo',
                   help='training preset whose image tower the frames are for (its size and '
                        'patch grid)')
    p.add_argument('--config-set', action='append', default=[], metavar='KEY=VALUE',
                   help='override a field of that preset')
    _workers_option(p)
    _common_options(p)
    p.set_defaults(func=_frames)


def _add_run(sim_sub: argparse._SubParsersAction) -> None:
    from mobile_vla_sim import EVAL_SEED

    p = sim_sub.add_parser('run', help='one closed-loop episode with every output')
    _policy_options(p)
    p.add_argument('--scenario', required=True)
    p.add_argument('--instruction', default=None,
                   help="default: a documented phrasing for the scenario's side (a goal "
                        "room: naming its target)")
    p.add_argument('--seed', type=int, default=EVAL_SEED)
    p.add_argument('--driver', choices=('policy', 'expert'), default='policy')
    p.add_argument('--mode', choices=('vla', 'hybrid'), default='vla')
    p.add_argument('--manual-at', type=float, default=0.5,
                   help='hybrid: seconds into the run when the scripted manual input starts')
    p.add_argument('--manual-for', type=float, default=0.0,
                   help='hybrid: seconds of scripted manual input (0 = none)')
    p.add_argument('--out', default=None, help='default: runs/sim/<scenario>_seed<seed>')
    p.add_argument('--no-bag', action='store_true')
    _common_options(p)
    p.set_defaults(func=_run)


def _add_live(sim_sub: argparse._SubParsersAction) -> None:
    from mobile_vla_sim import EVAL_SEED

    p = sim_sub.add_parser('live', help='the room in real time with the whole graph and the '
                                        'web console (processes over DDS)')
    p.add_argument('--checkpoint', default='models/demo', help='checkpoint folder')
    p.add_argument('--scenario', default='1box_vert_left', help='room layout')
    p.add_argument('--seed', type=int, default=EVAL_SEED, help='layout seed')
    p.add_argument('--fps', type=float, default=15.0, help='camera frames a second')
    p.add_argument('--host', default='127.0.0.1',
                   help='address the console binds to (another one only on purpose)')
    p.add_argument('--port', type=int, default=8080, help='0 = any free port')
    p.add_argument('--token-file', default='~/.config/mobile_vla/web_token')
    p.add_argument('--mode', choices=CONTROL_MODES, default='vla',
                   help='arbiter mode at start')
    p.add_argument('--out', default='runs/live', help='logs and recorded episodes')
    p.add_argument('--duration', type=float, default=0.0,
                   help='stop after this many seconds (0 = at Ctrl-C)')
    p.set_defaults(func=_live)


def _add_eval(sim_sub: argparse._SubParsersAction) -> None:
    from mobile_vla_sim import EVAL_SEED

    p = sim_sub.add_parser('eval', help='closed-loop success per scenario and language test')
    _policy_options(p)
    p.add_argument('--episodes-per-scenario', type=int, default=10,
                   help='layouts per scenario (with --instructions: per pair)')
    p.add_argument('--instructions', default=None, metavar='FILE',
                   help='evaluate these (scenario, instruction) pairs instead (YAML list; '
                        '"heldout" = config/language/heldout.yaml); sequences get '
                        'step-level success; a goal-set file ("goals_heldout") runs each '
                        'set in goal rooms and reports it apart')
    p.add_argument('--seed', type=int, default=EVAL_SEED, help='first layout seed')
    p.add_argument('--scenario', action='append', help=SCENARIO_HELP)
    p.add_argument('--out', default=None, help='report.json, table.md, eval.png')
    p.add_argument('--record', action='store_true',
                   help='also write every run (episode, bag, video, top-down, summary)')
    p.add_argument('--shift', action='append', metavar='FAMILY',
                   help='robustness: the scenarios with one room factor beyond training '
                        '(mobile_vla_sim/shifts.py), against the unshifted rooms of the '
                        'same seeds; "all" = every family; may repeat')
    p.add_argument('--arrival', action='append', type=float, metavar='METRES',
                   help='arrival: the cup this far ahead; the report says how often the '
                        'navigation step arrived, where the robot stopped, and how near it '
                        'came; may repeat (e.g. --arrival 1.8 --arrival 4.5)')
    p.add_argument('--verbose', action='store_true')
    _workers_option(p)
    _common_options(p)
    p.set_defaults(func=_eval)
