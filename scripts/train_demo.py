"""Train the demo checkpoint: expert data, the tiny preset, closed-loop evaluation.

    make train-demo                         # what this runs, with the defaults below
    python scripts/train_demo.py --episodes 480 --eval-episodes 25 \\
        --work runs/demo/train --checkpoint models/demo

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


def run(command: list[str], log: list[str]) -> None:
    text = shlex.join(command)
    print(f'== {text}', flush=True)
    log.append(text)
    subprocess.run(command, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--episodes', type=int, default=480)
    parser.add_argument('--seed', type=int, default=0, help='first layout seed of the data')
    parser.add_argument('--eval-episodes', type=int, default=25,
                        help='closed-loop episodes per scenario for the figures')
    parser.add_argument('--work', default='runs/demo/train')
    parser.add_argument('--checkpoint', default='models/demo')
    parser.add_argument('--train-config', default='tiny')
    args = parser.parse_args(argv)

    work, target = Path(args.work), Path(args.checkpoint)
    if work.exists():
        raise SystemExit(f'{work} exists; remove it or choose another --work')
    commands: list[str] = []
    t0 = time.perf_counter()
    data = work / 'episodes'
    run(['mobile-vla', 'sim', 'collect', '--episodes', str(args.episodes), '--seed',
         str(args.seed), '--out', str(data)], commands)
    t_collect = time.perf_counter() - t0
    run(['mobile-vla', 'train', '--config', args.train_config, '--data', str(data),
         '--run-name', 'tiny', '--output-dir', str(work)], commands)
    t_train = time.perf_counter() - t0 - t_collect
    best = work / 'tiny' / 'checkpoints' / 'best'
    run(['mobile-vla', 'sim', 'eval', '--checkpoint', str(best), '--episodes-per-scenario',
         str(args.eval_episodes), '--out', str(work / 'eval')], commands)
    t_eval = time.perf_counter() - t0 - t_collect - t_train

    summary = json.loads((work / 'tiny' / 'summary.json').read_text())
    report = json.loads((work / 'eval' / 'report.json').read_text())
    target.mkdir(parents=True, exist_ok=True)
    for name in CHECKPOINT_FILES:
        if (best / name).is_file():
            shutil.copy2(best / name, target / name)
    shutil.copy2(work / 'eval' / 'eval.png', target / 'eval.png')
    brief = {k: report[k] for k in ('episodes_per_scenario', 'first_seed', 'sim', 'scenarios',
                                   'overall', 'language_test')}
    (target / 'eval.json').write_text(json.dumps(brief, indent=2) + '\n')
    table = (work / 'eval' / 'table.md').read_text()
    overall, lang = report['overall'], report['language_test']
    lines = [
        '# Demo checkpoint: tiny Kosmos-2 + CLIP hybrid trained on simulator expert data',
        '',
        'Made by `make train-demo` (`scripts/train_demo.py`), which ran:',
        '',
        '```',
        *commands,
        '```',
        '',
        f'- Data: {args.episodes} expert episodes, layout seeds {args.seed} and up '
        f'(`mobile-vla sim collect`, discrete key-map actions), train preset '
        f'`config/train/{args.train_config}.yaml` (its seed, split and mirror '
        'augmentation).',
        f"- Training: {summary['epochs']} epochs, best epoch {summary['best_epoch']}, "
        f"validation MAE {summary['best_val_mae']:.4f} (normalised actions), "
        f"{summary['train_episodes']} train / {summary['val_episodes']} validation episodes.",
        f'- Closed loop: {overall["episodes"]} episodes on unseen layouts (seeds '
        f'{report["first_seed"]} and up): success {overall["success"]:.1%}, language test '
        f'{lang["pass_rate"]:.1%} ({lang["pairs_passed"]}/{lang["pairs"]} rooms), SPL '
        f'{overall["spl"]:.3f}.',
        f'- Time on {platform.machine()} CPU ({platform.python_version()}): collect '
        f'{t_collect / 60:.1f} min, train {t_train / 60:.1f} min, eval {t_eval / 60:.1f} min.',
        '',
        table,
        '![closed-loop evaluation](eval.png)',
        '',
    ]
    (target / 'TRAINING.md').write_text('\n'.join(lines))
    print(f'demo checkpoint in {target}: success {overall["success"]:.1%}, language test '
          f'{lang["pass_rate"]:.1%}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
