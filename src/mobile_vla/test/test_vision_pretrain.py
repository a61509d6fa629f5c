"""The tiny image tower learns what each patch shows from labelled frames, reaches the
policy through ``vision_init`` (its features then cached under another key), and bad
frame sets, tower files and presets are refused with errors that say what to do."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from mobile_vla.config import ConfigError
from mobile_vla.training.config import load_train_config
from mobile_vla.training.features import fingerprint
from mobile_vla.training.trainer import build_model
from mobile_vla.training.vision_pretrain import (
    TOWER_FILE,
    TowerConfig,
    load_frames,
    load_tower,
    save_frames,
    tower_of,
    train_tower,
)

CLASSES, COLOURS = ['none', 'obstacle', 'cup'], ['red', 'blue']


def squares(folder, count=96, seed=0, size=224, grid=7):
    """Grey frames, each with a red cup-square in one patch and a blue box in another,
    labelled as ``mobile-vla sim frames`` labels them (two frames a room)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(90, 140, (count, size, size, 3)).astype(np.uint8)
    kinds = np.zeros((count, grid, grid), np.int8)
    colours = np.full((count, grid, grid), -1, np.int8)
    cell = size // grid
    for i in range(count):
        (r, c), (r2, c2) = rng.choice(grid * grid, 2, replace=False)[:, None] // [grid, 1] % grid
        images[i, r * cell + 6:(r + 1) * cell - 6, c * cell + 6:(c + 1) * cell - 6] = (210, 25, 25)
        kinds[i, r, c], colours[i, r, c] = 2, 0
        images[i, r2 * cell:(r2 + 1) * cell, c2 * cell:(c2 + 1) * cell] = (40, 60, 170)
        kinds[i, r2, c2] = 1
    save_frames(folder, images, kinds, colours, np.arange(count) // 2,
                {'classes': CLASSES, 'colours': COLOURS})
    return folder


@pytest.fixture(scope='module')
def tower(tmp_path_factory):
    """A tower trained on the squares, and its report."""
    frames = squares(tmp_path_factory.mktemp('frames'))
    out = tmp_path_factory.mktemp('tower')
    report = train_tower(load_train_config('demo'),
                         TowerConfig(epochs=6, batch_size=16, lr=3e-3, val_fraction=0.25),
                         frames, out, log=lambda _line: None)
    return out, report


def test_the_tower_learns_to_find_the_cup_in_held_out_frames(tower):
    out, report = tower
    first, last = report['history'][0], report['history'][-1]
    assert last['train_loss'] < 0.5 * first['train_loss']
    assert last['recall']['cup'] >= 0.9 and last['recall']['obstacle'] >= 0.9
    assert last['recall']['none'] >= 0.9 and last['colour_accuracy'] >= 0.9
    assert report['held_out_rooms'] == 12 and report['held_out_frames'] == 24
    assert report['augment']['shift'] == 0 and report['augment']['zoom'] == 0
    assert (out / TOWER_FILE).is_file() and (out / 'vision_tower.json').is_file()


def test_vision_init_puts_the_tower_in_the_policy_and_changes_the_cache_key(tower):
    out, _ = tower
    plain = build_model(load_train_config('demo'))
    loaded = build_model(load_train_config('demo', [f'vision_init={out / TOWER_FILE}']))
    saved = load_file(str(out / TOWER_FILE))
    state = tower_of(loaded).state_dict()
    assert all(torch.equal(saved[k], state[k]) for k in saved)
    assert fingerprint(plain) != fingerprint(loaded)
    # the checkpoint carries the tower: the robot's policy step sees the same weights
    kept = loaded.checkpoint_state()
    assert all(torch.equal(kept[f'vision.kosmos2.vision_model.{k}'], saved[k]) for k in saved)


def test_a_missing_or_foreign_tower_file_is_refused_naming_vision_init(tmp_path, tower):
    with pytest.raises(ConfigError, match='vision_init: .* is not a file'):
        build_model(load_train_config('demo', [f'vision_init={tmp_path / "none.safetensors"}']))
    out, _ = tower
    state = load_file(str(out / TOWER_FILE))
    state['model.embeddings.patch_embedding.weight'] = torch.zeros(8, 3, 16, 16)
    save_file(state, str(tmp_path / 'other.safetensors'))
    with pytest.raises(ConfigError, match='made for another image tower'):
        build_model(load_train_config('demo', [f'vision_init={tmp_path / "other.safetensors"}']))
    policy = build_model(load_train_config('tiny'))  # pooled latents, no patch tokens
    with pytest.raises(ConfigError, match='no tiny Kosmos-2 tower whose patch tokens'):
        load_tower(policy, out / TOWER_FILE)


def test_frame_sets_that_do_not_fit_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match='mobile-vla sim frames'):
        load_frames(tmp_path / 'nothing')
    small = squares(tmp_path / 'small', count=4, size=112)
    with pytest.raises(ConfigError, match='takes 224 pixels in a 7x7 grid'):
        train_tower(load_train_config('demo'), TowerConfig(epochs=1), small, tmp_path / 'o')
    meta = (small / 'frames.json').read_text().replace('"frames": 4', '"frames": 5')
    (small / 'frames.json').write_text(meta)
    with pytest.raises(ValueError, match='disagree on the number of frames'):
        load_frames(small)
    with pytest.raises(ConfigError, match='epochs must be >= 1'):
        TowerConfig(epochs=0)
    for bad in (-0.1, 1.5, float('nan')):
        with pytest.raises(ConfigError, match='class_balance must be in'):
            TowerConfig(class_balance=bad)
    one_room = squares(tmp_path / 'one', count=2)
    with pytest.raises(ConfigError, match='1 room.* cannot be split .* make more frames'):
        train_tower(load_train_config('demo'), TowerConfig(epochs=1), one_room, tmp_path / 'o')


def test_a_resumed_run_keeps_the_tower_its_head_learned_on(tmp_path, data):
    from training_data import config

    from mobile_vla.training.trainer import Trainer

    Trainer(config(tmp_path, data, epochs=1, run_name='t')).fit()
    with pytest.raises(ConfigError, match="trained on the image tower '': resume with"):
        Trainer(config(tmp_path, data, epochs=2, run_name='t', vision_init='tower.safetensors'),
                resume=True)


def test_the_command_reports_a_missing_frame_set_without_a_traceback(tmp_path):
    out = subprocess.run([sys.executable, '-m', 'mobile_vla.cli', 'train-vision', '--frames',
                          str(tmp_path / 'none'), '--out', str(tmp_path / 'o')],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and 'no labelled frames there' in out.stderr
    assert 'Traceback' not in out.stderr


def test_class_balance_weighs_rare_classes_up_to_equal_shares():
    from mobile_vla.training.vision_pretrain import class_weights

    kinds = np.array([0] * 899 + [1] * 99 + [2] * 0)  # class 2 never seen: one count
    counts = np.array([900.0, 100.0, 1.0])
    assert np.allclose(class_weights(kinds, 3, 0.0).numpy(), 1.0)
    even = class_weights(kinds, 3, 1.0).numpy() * counts  # every class weighs alike
    assert np.allclose(even, even[0])
    w = class_weights(kinds, 3, 0.5).numpy()
    assert w[1] / w[0] == pytest.approx(3.0) and (w * counts).sum() / counts.sum() == \
        pytest.approx(1.0)
