"""``mobile-vla eval``: the original metrics on held-out episodes, with breakdowns and plots.

Every frame of every episode is a prediction point: the chunk predicted at frame
t (from the training-shaped window ending there) is compared with the recorded
actions t .. t+9. The headline numbers use the first action of each chunk (what
the robot executes); the horizon curve shows the error k steps ahead.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mobile_vla.actions import ACTION_NAMES, ActionSpace
from mobile_vla.episode import episode_paths
from mobile_vla.policy.checkpoint import load_checkpoint, read_checkpoint_config
from mobile_vla.policy.modeling_policy import resolve_model_path as resolve
from mobile_vla.training import metrics
from mobile_vla.training.features import FeatureCache, FeatureWindowDataset
from mobile_vla.training.trainer import episode_features, instruction_tokens


@torch.no_grad()
def predict(checkpoint: str | Path, data: list[str], cache_dir: str = 'runs/feature_cache',
            batch_size: int = 64) -> dict[str, Any]:
    policy = load_checkpoint(resolve(str(checkpoint)))
    config = policy.config
    space = ActionSpace(config.action_dim, config.action_limit)
    cache = FeatureCache(policy, resolve(cache_dir), enabled=True)
    paths = episode_paths(*[resolve(d) for d in data])
    if not paths:
        raise ValueError(f'no episodes in {", ".join(data)}')
    episodes = [episode_features(p, cache, space) for p in paths]
    dataset = FeatureWindowDataset(episodes, config.window, config.fwd_pred_next_n, 'all',
                                   texts=instruction_tokens(episodes, cache))
    preds, targets, masks, index = [], [], [], []
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    for batch in loader:
        preds.append(policy.predict_chunk(policy.batch_features(batch)).numpy())
        targets.append(batch['actions'].numpy())
        masks.append(batch['action_mask'].numpy())
        index.extend(zip(batch['episode'].tolist(), batch['t'].tolist(), strict=True))
    return {
        'pred': np.concatenate(preds) * space.limit,  # physical units
        'target': np.concatenate(targets) * space.limit,
        'mask': np.concatenate(masks), 'index': index, 'episodes': episodes,
        'names': ACTION_NAMES[: config.action_dim], 'checkpoint': str(checkpoint),
        'preset': config.preset,
    }


def evaluate(checkpoint: str | Path, data: list[str], out_dir: str | Path | None = None,
             cache_dir: str = 'runs/feature_cache') -> dict[str, Any]:
    """The JSON report (and, with ``out_dir``, the report file and the plots)."""
    read_checkpoint_config(resolve(str(checkpoint)))  # a clear error before any work
    p = predict(checkpoint, data, cache_dir)
    pred0, target0 = p['pred'][:, 0], p['target'][:, 0]
    episodes, index, names = p['episodes'], p['index'], p['names']
    report: dict[str, Any] = {
        'checkpoint': p['checkpoint'], 'preset': p['preset'], 'episodes': len(episodes),
        'overall': metrics.report(pred0, target0, names),
    }
    by_scenario, by_event = defaultdict(list), defaultdict(list)
    for row, (e, t) in enumerate(index):
        by_scenario[episodes[e].scenario].append(row)
        by_event[episodes[e].events[t]].append(row)
    report['per_scenario'] = {k: metrics.report(pred0[v], target0[v], names)
                              for k, v in sorted(by_scenario.items())}
    report['per_event_type'] = {k: metrics.report(pred0[v], target0[v], names)
                                for k, v in sorted(by_event.items())}
    horizon = []
    for k in range(p['pred'].shape[1]):
        valid = p['mask'][:, k]
        horizon.append(metrics.mae(p['pred'][valid, k], p['target'][valid, k])
                       if valid.any() else None)
    report['mae_by_horizon'] = horizon
    report['direction_confusion'] = {'labels': list(metrics.DIRECTIONS),
                                     'counts': metrics.confusion(pred0, target0).tolist()}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / 'report.json').write_text(json.dumps(report, indent=2) + '\n')
        _plots(p, report, out)
    return report


def _plots(p: dict, report: dict, out: Path, max_episodes: int = 6) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = p['names']
    shown = sorted({e for e, _ in p['index']})[:max_episodes]
    fig, axes = plt.subplots(len(shown), len(names), figsize=(4 * len(names), 2 * len(shown)),
                             squeeze=False)
    for r, e in enumerate(shown):
        rows = [i for i, (ep, _) in enumerate(p['index']) if ep == e]
        for d, name in enumerate(names):
            ax = axes[r][d]
            ax.step(range(len(rows)), p['target'][rows, 0, d], where='post', label='recorded')
            ax.step(range(len(rows)), p['pred'][rows, 0, d], where='post', label='predicted')
            ax.set_ylim(-1.3, 1.3)
            if r == 0:
                ax.set_title(name)
            if d == 0:
                ax.set_ylabel(p['episodes'][e].scenario, fontsize=8)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / 'traces.png', dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.5))
    horizon = [h if h is not None else np.nan for h in report['mae_by_horizon']]
    ax.plot(range(len(horizon)), horizon, marker='o')
    ax.set_xlabel('steps ahead')
    ax.set_ylabel('MAE')
    ax.set_title('error by horizon')
    fig.tight_layout()
    fig.savefig(out / 'horizon.png', dpi=100)
    plt.close(fig)

    counts = np.array(report['direction_confusion']['counts'])
    labels = report['direction_confusion']['labels']
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(counts, cmap='Blues')
    ax.set_xticks(range(len(labels)), labels, rotation=60, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if counts[i, j]:
                ax.text(j, i, counts[i, j], ha='center', va='center', fontsize=7)
    ax.set_xlabel('predicted direction')
    ax.set_ylabel('recorded direction')
    fig.tight_layout()
    fig.savefig(out / 'directions.png', dpi=100)
    plt.close(fig)


def comparison_table(reports: list[dict]) -> str:
    keys = [('episodes', 'episodes'), ('MAE', 'mae'), ('acc@0.1', 'acc@0.1'),
            ('acc@0.2', 'acc@0.2'), ('acc@0.3', 'acc@0.3'), ('R^2', 'r2'),
            ('Pearson', 'pearson')]
    names = [Path(r['checkpoint']).name or r['checkpoint'] for r in reports]
    width = max(14, *(len(n) + 2 for n in names))
    lines = [f'{"metric":<12}' + ''.join(f'{n:>{width}}' for n in names)]
    for label, key in keys:
        cells = []
        for r in reports:
            value = r['episodes'] if key == 'episodes' else r['overall'][key]
            cells.append(f'{value:>{width}}' if key == 'episodes' else f'{value:>{width}.4f}')
        lines.append(f'{label:<12}' + ''.join(cells))
    for axis in reports[0]['overall']['mae_per_dim']:
        lines.append(f'{"MAE " + axis:<12}' + ''.join(
            f'{r["overall"]["mae_per_dim"][axis]:>{width}.4f}' for r in reports))
    return '\n'.join(lines)
