"""Episodes and a run configuration the training tests share."""

import numpy as np

from mobile_vla.episode import Episode, write_episode
from mobile_vla.scenarios import SCENARIOS, parse
from mobile_vla.training.config import load_train_config

_RNG = np.random.default_rng(8)


def small_episode(scenario='1box_vert_left', frames=18, name='ep') -> Episode:
    """A 36 x 48 episode of random pixels, every other frame a key press."""
    actions = np.zeros((frames, 3), np.float32)
    actions[1::2] = [0.9, 0.5, -0.3]
    return Episode(
        images=_RNG.integers(0, 256, (frames, 36, 48, 3), dtype=np.uint8), actions=actions,
        event_types=(['episode_start'] + ['start_action', 'stop_action'] * 9)[:frames],
        scenario=scenario, instruction='go around the box on the left to the cup',
        total_duration=9.0, name=name)


def make_episodes(folder, count=12, seed=0):
    """Episodes whose side (left/right) shows in the images and in linear_y."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        scenario = SCENARIOS[i % 8]
        left = scenario.endswith('left')
        images = rng.integers(0, 60, (18, 64, 64, 3), dtype=np.uint8)
        images[:, :, :32 if left else 32:] += 150  # the free side is bright
        actions = np.zeros((18, 3), np.float32)
        actions[1::2] = [1.15, 1.15 if left else -1.15, 0.0]
        write_episode(folder / f'episode_202601{i:02d}_000000_{scenario}.h5', Episode(
            images, actions, ['episode_start'] + ['start_action', 'stop_action'] * 8 +
            ['start_action'], scenario, parse(scenario).instruction(i), 9.0), 'none')
    return folder


def config(tmp_path, data, **fields):
    overrides = [f'output_dir={tmp_path / "runs"}', f'cache_dir={tmp_path / "cache"}',
                 'warmup_steps=2', 'log_every=1', 'batch_size=16', 'lr=0.003']
    return load_train_config('tiny', overrides, data=[str(data)], **fields)
