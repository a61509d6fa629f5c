"""``mobile-vla train``, ``mobile-vla train-vision`` and ``mobile-vla eval``.

    mobile-vla train --config config/train/tiny.yaml --set epochs=5 --set model.lstm_hidden=64
    mobile-vla train --config tiny --data runs/sim_episodes --run-name demo
    mobile-vla train --config tiny --run-name demo --resume         # continue its last state
    accelerate launch -m mobile_vla.cli train --config kosmos2_clip_lstm   # several GPUs
    mobile-vla train-vision --config demo --frames runs/frames --out runs/tower   # the tiny tower
    mobile-vla train --config demo --set vision_init=runs/tower/vision_tower.safetensors
    mobile-vla eval --checkpoint runs/demo/checkpoints/best --data data/val [--out report/]
    mobile-vla eval --checkpoint A --checkpoint B --data data/val   # side by side
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mobile_vla.config import writable_folder


def _train(args: argparse.Namespace) -> int:
    from mobile_vla.training.config import load_train_config
    from mobile_vla.training.trainer import Trainer

    config = load_train_config(args.config, args.set, data=args.data, run_name=args.run_name,
                               output_dir=args.output_dir, epochs=args.epochs,
                               preset=args.preset)
    summary = Trainer(config, resume=args.resume).fit()
    print(json.dumps(summary, indent=2))
    best = Path(summary['run']) / 'checkpoints' / 'best'
    if not (best / 'config.json').is_file():
        print(f'mobile-vla: error: no best checkpoint was written: the validation MAE was '
              f'never a finite number ({summary["best_val_mae"]}); lower lr or check the data',
              file=sys.stderr)
        return 2
    print(f"best checkpoint: {best} (validation MAE {summary['best_val_mae']:.4f})")
    return 0


def _train_vision(args: argparse.Namespace) -> int:
    from mobile_vla.config import load_config
    from mobile_vla.training.config import load_train_config
    from mobile_vla.training.vision_pretrain import TOWER_FILE, TowerConfig, train_tower

    train = load_train_config(args.config, args.config_set)
    tower = load_config(TowerConfig, overrides=args.set)
    writable_folder(args.out)
    summary = train_tower(train, tower, args.frames, args.out)
    last = summary['history'][-1]
    print(f"image tower: {Path(args.out) / TOWER_FILE} ({summary['train_frames']} frames, "
          f"{summary['minutes']:.1f} min); held-out recall "
          + ', '.join(f'{k} {v:.2f}' for k, v in last['recall'].items() if v is not None))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mobile_vla.training.evaluate import comparison_table, evaluate

    if args.out:  # before the evaluation, not after it
        writable_folder(args.out)
    reports = []
    for i, checkpoint in enumerate(args.checkpoint):
        out = None
        if args.out:
            out = Path(args.out) / (f'{i}_{Path(checkpoint).name}' if len(args.checkpoint) > 1
                                    else '')
        reports.append(evaluate(checkpoint, args.data, out, args.cache_dir))
    print(comparison_table(reports))
    if len(reports) == 1:
        r = reports[0]
        print('per scenario (MAE, acc@0.3): ' + ', '.join(
            f"{k} {v['mae']:.3f} {v['acc@0.3']:.0%}" for k, v in r['per_scenario'].items()))
        print('MAE by horizon: ' + ' '.join(f'{h:.3f}' if h is not None else '-'
                                            for h in r['mae_by_horizon']))
    if args.out:
        print(f'report and plots: {args.out}')
    return 0


def add_training_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser('train', help='train a policy on HDF5 episodes',
                       description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--config', default='tiny', help='config/train/<name>.yaml or a YAML path')
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help='override any field (model.<field> for the policy)')
    p.add_argument('--data', nargs='+', help='episode folders (overrides the config)')
    p.add_argument('--preset', help='model preset (overrides the config)')
    p.add_argument('--epochs', type=int)
    p.add_argument('--run-name')
    p.add_argument('--output-dir')
    p.add_argument('--resume', action='store_true', help='continue the run from its last state')
    p.set_defaults(func=_train)

    p = sub.add_parser('train-vision', help="teach a tiny preset's image tower what each "
                                            'patch shows, on labelled frames (sim frames)',
                       description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--config', default='demo',
                   help='training preset whose image tower trains (its model and augmentation)')
    p.add_argument('--config-set', action='append', default=[], metavar='KEY=VALUE',
                   help='override a field of that preset')
    p.add_argument('--frames', required=True, help='folder that `mobile-vla sim frames` wrote')
    p.add_argument('--out', required=True, help='folder for vision_tower.safetensors and .json')
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help='tower training field (TowerConfig: epochs, batch_size, lr, ...)')
    p.set_defaults(func=_train_vision)

    p = sub.add_parser('eval', help='metrics, breakdowns and plots of checkpoints on episodes',
                       description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--checkpoint', action='append', required=True,
                   help='checkpoint folder; repeat to compare')
    p.add_argument('--data', nargs='+', required=True, help='episode folders or files')
    p.add_argument('--out', help='folder for report.json and the PNG plots')
    p.add_argument('--cache-dir', default='runs/feature_cache')
    p.set_defaults(func=_eval)
