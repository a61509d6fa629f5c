"""What a collection of episodes holds: per scenario, frames, events and actions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mobile_vla.actions import ACTION_LIMIT, ACTION_NAMES
from mobile_vla.episode import EpisodeError, EpisodeFile
from mobile_vla.scenarios import SCENARIOS

BINS = np.linspace(-ACTION_LIMIT, ACTION_LIMIT, 24)


@dataclass
class DatasetStats:
    episodes: int = 0
    frames: int = 0
    duration_s: float = 0.0
    complete: int = 0
    per_scenario: Counter = field(default_factory=Counter)
    frames_per_episode: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)
    actions: list[np.ndarray] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def add(self, path: Path) -> None:
        try:
            with EpisodeFile(path) as ep:
                actions = ep.actions()
                self.per_scenario[ep.scenario] += 1
                self.frames_per_episode[ep.num_frames] += 1
                self.events.update(ep.event_types())
                self.duration_s += float(ep.attrs['total_duration'])
                self.complete += int(ep.attrs.get('complete', ep.num_frames >= 18))
        except (EpisodeError, OSError, ValueError) as exc:
            self.unreadable.append(f'{path}: {exc}')
            return
        self.episodes += 1
        self.frames += len(actions)
        self.actions.append(actions)

    def action_matrix(self) -> np.ndarray:
        return np.concatenate(self.actions) if self.actions else np.zeros((0, 3), np.float32)

    def text(self) -> str:
        lines = [f'{self.episodes} episodes, {self.frames} frames, {self.duration_s:.0f} s '
                 f'driven; {self.complete} complete, {self.episodes - self.complete} short']
        lines.append('episodes per scenario:')
        for name in SCENARIOS + tuple(sorted(set(self.per_scenario) - set(SCENARIOS))):
            lines.append(f'  {name:<16} {self.per_scenario.get(name, 0):6d}')
        lines.append('frames per episode: ' + ', '.join(
            f'{k}: {v}' for k, v in sorted(self.frames_per_episode.items())))
        lines.append('events: ' + ', '.join(f'{k} {v}' for k, v in sorted(self.events.items())))
        actions = self.action_matrix()
        lines.append('actions (min / mean / max, share non-zero):')
        for axis, name in enumerate(ACTION_NAMES):
            col = actions[:, axis] if len(actions) else np.zeros(1)
            lines.append(f'  {name:<10} {col.min():+.3f} / {col.mean():+.3f} / {col.max():+.3f}'
                         f'   {np.mean(np.abs(col) > 1e-6):6.1%}')
        if self.unreadable:
            lines.append(f'{len(self.unreadable)} unreadable file(s) left out '
                         '(run `mobile-vla data validate`)')
        return '\n'.join(lines)

    def plot(self, path: str | Path) -> Path:
        import matplotlib

        matplotlib.use('Agg')
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 4, figsize=(18, 4))
        names = list(SCENARIOS)
        axes[0].barh(names, [self.per_scenario.get(n, 0) for n in names], color='tab:blue')
        axes[0].invert_yaxis()
        axes[0].set_title(f'episodes per scenario ({self.episodes})')
        actions = self.action_matrix()
        for axis, name in enumerate(ACTION_NAMES):
            axes[axis + 1].hist(actions[:, axis] if len(actions) else [], bins=BINS,
                                color='tab:orange')
            axes[axis + 1].set_title(f'{name} over {self.frames} frames')
            axes[axis + 1].set_xlim(-ACTION_LIMIT * 1.05, ACTION_LIMIT * 1.05)
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


def collect_stats(paths: list[Path]) -> DatasetStats:
    stats = DatasetStats()
    for path in paths:
        stats.add(path)
    return stats
