"""Hostile but realistic input to the command line: bad options and damaged checkpoints.

Every case runs the real ``mobile-vla`` command as a user would and must end with a
clear error that names the option, file or field, exit code 2, no traceback, within a
time bound. Add a case here with every fix of a bad-input defect.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / 'models' / 'demo'
TIME_BOUND_S = 120


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(['mobile-vla', *args], capture_output=True, text=True,
                          timeout=TIME_BOUND_S, cwd=ROOT)


def assert_clear_error(run: subprocess.CompletedProcess, *names: str) -> None:
    text = run.stdout + run.stderr
    assert run.returncode == 2, text[-3000:]
    assert 'Traceback' not in text, text[-3000:]
    for name in names:
        assert name in text, f'{name!r} not named in: {text[-1500:]}'


@pytest.mark.parametrize('args, named', [
    (['infer', '--checkpoint', 'models/demo', '--image', 'x.png', '--every', '0'], '--every'),
    (['bench', '--steps', '0'], '--steps'),
    (['data', 'augment', 'in', 'out', '--kind', 'mirror', '--copies', '-1'], '--copies'),
    (['sim', 'run', '--scenario', '1box_vert_left', '--set', 'width=20000'], 'render size'),
    (['sim', 'run', '--scenario', '1box_vert_left', '--set', 'success_radius=inf'],
     'success_radius'),
    (['sim', 'run', '--scenario', '1box_vert_left', '--set', 'top_size=0'], 'top_size'),
])
def test_bad_options_are_refused_before_any_work(args, named):
    assert_clear_error(run_cli(*args), named)


def _damage_weights(folder: Path, how: str) -> None:
    weights = folder / 'model.safetensors'
    if how in ('nan', 'int64'):
        from safetensors.torch import load_file, save_file

        state = load_file(str(weights))
        state = {k: (v * float('nan') if how == 'nan' else v.long()) for k, v in state.items()}
        save_file(state, str(weights))
        return
    data = weights.read_bytes()
    weights.write_bytes({'truncated': data[: len(data) // 3], 'empty': b'',
                         'garbage': b'\xff' * 4096}[how])


def _edit_config(folder: Path, how: str) -> None:
    path = folder / 'config.json'
    if how == 'list':
        path.write_text('[1, 2]')
        return
    if how == 'not json':
        path.write_bytes(b'garb\xff')
        return
    if how == 'nested':
        path.write_text('{"format": "x", "policy": ' + '[' * 100000 + ']' * 100000 + '}')
        return
    meta = json.loads(path.read_text())
    if how in ('huge architecture', 'bad architecture block'):
        value = 10**9 if how == 'huge architecture' else 'big'
        meta['policy']['clip_arch']['vision_config']['hidden_size'] = value
        path.write_text(json.dumps(meta))
        return
    if how == 'missing text encoder':
        meta['policy'].update(text_encoder='no_such_encoder', tokenizer='snapshot')
        path.write_text(json.dumps(meta))
        return
    field, value = {'fractional window': ('window', 8.5),
                    'negative action_limit': ('action_limit', -1.15),
                    'huge sizes': ('lstm_hidden', 10**9)}[how]
    meta['policy'][field] = value
    path.write_text(json.dumps(meta))


DAMAGE = [
    ('weights', 'truncated', 'model.safetensors'),
    ('weights', 'empty', 'model.safetensors'),
    ('weights', 'garbage', 'model.safetensors'),
    ('weights', 'nan', 'hold NaN or inf'),
    ('weights', 'int64', 'dtype of'),
    ('config', 'nested', 'config.json is not valid JSON'),
    ('tokenizer', 'ids', 'token ids run to 100000'),
    ('config', 'list', 'config.json'),
    ('config', 'not json', 'config.json'),
    ('config', 'fractional window', 'window'),
    ('config', 'negative action_limit', 'action_limit'),
    ('config', 'huge sizes', 'lstm_hidden'),
    ('config', 'huge architecture', 'clip_arch.vision_config.hidden_size'),
    ('config', 'bad architecture block', 'hidden_size'),
    ('config', 'missing text encoder', 'pip install --no-deps no-such-encoder'),
    ('tokenizer', 'garbage', 'tokenizer.json'),
]


@pytest.mark.parametrize('part, how, named, engine', [
    *[(*case, 'torch') for case in DAMAGE],
    # The ONNX engine hashes and exports the checkpoint first: damaged weights there too.
    *[(*case, 'onnx') for case in DAMAGE if case[0] == 'weights' and case[1] in (
        'truncated', 'empty', 'garbage')],
])
def test_a_damaged_checkpoint_is_named_never_a_traceback(tmp_path, part, how, named, engine):
    folder = tmp_path / 'ckpt'
    if part == 'tokenizer':  # a checkpoint with a word tokenizer of its own
        import torch

        from mobile_vla.policy.checkpoint import save_checkpoint
        from mobile_vla.policy.configuration_policy import load_preset
        from mobile_vla.policy.modeling_policy import build_policy

        torch.manual_seed(0)
        save_checkpoint(build_policy(load_preset('kosmos2_clip_tiny')), folder)
    else:
        shutil.copytree(DEMO, folder)
    if part == 'weights':
        _damage_weights(folder, how)
    elif part == 'config':
        _edit_config(folder, how)
    elif how == 'ids':
        tokenizer = json.loads((folder / 'tokenizer.json').read_text())
        tokenizer['model']['vocab']['go'] = 100000
        (folder / 'tokenizer.json').write_text(json.dumps(tokenizer))
    else:
        (folder / 'tokenizer.json').write_text('garbage')
    image = tmp_path / 'frame.png'
    cv2.imwrite(str(image), np.zeros((72, 128, 3), np.uint8))
    run = run_cli('infer', '--checkpoint', str(folder), '--image', str(image),
                  '--instruction', 'go around the box on the left to the cup',
                  '--engine', engine)
    assert_clear_error(run, named)
    # The good copy is untouched.
    assert (DEMO / 'model.safetensors').stat().st_size > 1_000_000


def test_a_device_that_is_not_here_is_one_line(tmp_path):
    image = tmp_path / 'frame.png'
    cv2.imwrite(str(image), np.zeros((72, 128, 3), np.uint8))
    run = run_cli('infer', '--checkpoint', 'models/demo', '--image', str(image),
                  '--instruction', 'go', '--device', 'cuda')
    if 'cuda' in run.stdout and run.returncode == 0:
        pytest.skip('this machine has CUDA')
    assert_clear_error(run, 'CUDA is not available')


def test_a_diverging_training_run_ends_with_the_step_and_the_lr(tmp_path):
    from mobile_vla.episode import Episode, write_episode
    from mobile_vla.scenarios import parse

    rng = np.random.default_rng(0)
    for i, scenario in enumerate(['1box_vert_left', '1box_vert_right'] * 2):
        actions = np.zeros((18, 3), np.float32)
        actions[1::2, 0] = 1.15
        write_episode(tmp_path / f'episode_2026010{i}_000000_{scenario}.h5', Episode(
            rng.integers(0, 255, (18, 48, 64, 3), np.uint8), actions,
            ['episode_start'] + ['start_action', 'stop_action'] * 8 + ['start_action'],
            scenario, parse(scenario).instruction(0), 9.0), 'none')
    run = run_cli('train', '--config', 'tiny', '--data', str(tmp_path),
                  '--set', 'lr=1e30', '--set', 'epochs=1',
                  '--set', f'output_dir={tmp_path / "runs"}',
                  '--set', f'cache_dir={tmp_path / "cache"}')
    assert_clear_error(run, 'training loss became', 'lower lr')
    assert 'best checkpoint:' not in run.stdout


@pytest.mark.parametrize('command', [
    ['eval', '--checkpoint', 'models/demo', '--data', 'models'],
    ['sim', 'eval', '--checkpoint', 'models/demo', '--episodes-per-scenario', '1'],
])
def test_an_output_folder_that_cannot_be_written_fails_before_the_work(tmp_path, command):
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a folder')
    run = run_cli(*command, '--out', str(blocker / 'report'))
    assert_clear_error(run, f'cannot write to {blocker / "report"}')
    assert 'per scenario' not in run.stdout and '| scenario |' not in run.stdout


def _episode_folder(folder: Path) -> tuple[Path, list[Path]]:
    """One good episode and bad ones: a FIFO, an unreadable attribute, a truncated copy."""
    import h5py

    from mobile_vla.episode import Episode, write_episode

    folder.mkdir()
    rng = np.random.default_rng(0)
    good = write_episode(folder / 'episode_20260101_000000_1box_vert_left.h5', Episode(
        rng.integers(0, 255, (18, 48, 64, 3), np.uint8), np.zeros((18, 3), np.float32),
        ['episode_start'] + ['start_action'] * 17, '1box_vert_left', 'go left', 1.0), 'none')
    fifo = folder / 'episode_20260101_000001_1box_vert_left.h5'
    os.mkfifo(fifo)
    attr = folder / 'episode_20260101_000002_1box_vert_left.h5'
    shutil.copy(good, attr)
    with h5py.File(attr, 'a') as f:
        f.attrs['num_frames'] = 'eighteen'
    cut = folder / 'episode_20260101_000003_1box_vert_left.h5'
    cut.write_bytes(good.read_bytes()[:5000])
    return good, [fifo, attr, cut]


def test_data_validate_names_every_bad_file_and_goes_on(tmp_path):
    _, bad = _episode_folder(tmp_path / 'episodes')
    run = run_cli('data', 'validate', str(tmp_path / 'episodes'))
    text = run.stdout + run.stderr
    assert run.returncode == 1 and 'Traceback' not in text, text
    for path in bad:
        assert f'BAD  {path}' in run.stdout, text
    assert '1 of 4 episode files are valid' in run.stdout


def test_data_augment_skips_bad_files_and_writes_the_good(tmp_path):
    good, bad = _episode_folder(tmp_path / 'episodes')
    before = good.read_bytes()
    run = run_cli('data', 'augment', str(tmp_path / 'episodes'), str(tmp_path / 'out'),
                  '--kind', 'mirror')
    text = run.stdout + run.stderr
    assert run.returncode == 1 and 'Traceback' not in text, text
    assert all(f'SKIP {path}' in run.stdout for path in bad), text
    assert 'wrote 1 augmented episodes from 1' in run.stdout
    assert good.read_bytes() == before  # the input is never touched


GARBAGE = 'garbage: ['


@pytest.mark.parametrize('metadata, command', [
    *[(m, ['bag', 'info', '{bag}'])
      for m in (GARBAGE, 'rosbag2_bagfile_information:\n  version: 5\n', '')],
    (GARBAGE, ['data', 'from-bag', '{bag}', '{out}']),
    (GARBAGE, ['infer', '--checkpoint', 'models/demo', '--bag', '{bag}']),
])
def test_a_damaged_bag_is_named_never_a_traceback(tmp_path, metadata, command):
    bag = tmp_path / 'bag'
    bag.mkdir()
    (bag / 'metadata.yaml').write_text(metadata)
    args = [a.format(bag=bag, out=tmp_path / 'out') for a in command]
    assert_clear_error(run_cli(*args), str(bag))


@pytest.mark.parametrize('zoom', [['--zoom-min', 'nan'], ['--zoom-min', 'inf'],
                                  ['--zoom-min', '3', '--zoom-max', '2']])
def test_bad_zoom_is_refused_before_any_file_is_read(tmp_path, zoom):
    (tmp_path / 'episodes').mkdir()
    run = run_cli('data', 'augment', str(tmp_path / 'episodes'), str(tmp_path / 'out'),
                  '--kind', 'distance', *zoom)
    assert_clear_error(run, '--zoom-min')
