"""Checkpoints: a round trip gives identical outputs, strict loading names what drifted,
foreign ``.pth`` files are read without running their code, and a killed save leaves
nothing behind."""

import json
import os

import pytest
import torch
from policy_inputs import batch

from mobile_vla.policy.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_foreign_state,
    load_state_strict,
    save_checkpoint,
)


def test_checkpoint_round_trip_gives_identical_outputs(policy, tmp_path):
    folder = save_checkpoint(policy, tmp_path / 'ckpt')
    meta = json.loads((folder / 'config.json').read_text())
    assert meta['policy']['preset'] == 'kosmos2_clip_tiny'
    assert meta['action_normalization'] == {'kind': 'divide_by_limit', 'limit': 1.15, 'dim': 3}
    assert (folder / 'tokenizer.json').is_file()
    loaded = load_checkpoint(folder)
    b = batch()
    with torch.no_grad():
        a = policy.predict_chunk(policy.features(b['images'], b['instruction']))
        c = loaded.predict_chunk(loaded.features(b['images'], b['instruction']))
    assert torch.equal(a, c)


def test_strict_loading_names_what_drifted(policy, tmp_path):
    folder = save_checkpoint(policy, tmp_path / 'ckpt')
    config = json.loads((folder / 'config.json').read_text())
    config['policy']['lstm_hidden'] = 48  # the code now builds a different head
    (folder / 'config.json').write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r'shape of head\.lstm\.weight_hh_l0: model '
                                              r'\(192, 48\), checkpoint \(128, 32\)'):
        load_checkpoint(folder)
    state = policy.checkpoint_state()
    state.pop('head.mlp.0.bias')
    state['head.extra'] = torch.zeros(1)
    with pytest.raises(CheckpointError, match='1 missing key.*head.mlp.0.bias.*1 unexpected '
                                              'key.*head.extra'):
        load_state_strict(policy, state, 'test')
    with pytest.raises(CheckpointError, match='not a checkpoint folder'):
        load_checkpoint(tmp_path / 'nothing')


def test_foreign_pth_files_are_read_without_unpickling_code(policy, tmp_path):
    path = tmp_path / 'old.pth'
    torch.save({'model_state_dict': policy.checkpoint_state(), 'epoch': 3}, path)
    state = load_foreign_state(path)
    load_state_strict(policy, state, str(path))

    class Evil:
        def __reduce__(self):
            return (print, ('code ran',))

    torch.save({'state_dict': Evil()}, tmp_path / 'evil.pth')
    with pytest.raises(Exception, match='Weights only load failed|Unsupported global'):
        load_foreign_state(tmp_path / 'evil.pth')


def test_checkpoints_are_readable_by_everyone_and_a_killed_save_leaves_nothing(policy,
                                                                               tmp_path):
    folder = tmp_path / 'ckpt'
    folder.mkdir()
    left = folder / '.model.safetensors.tmp-999999999'  # a save killed mid-write
    left.write_bytes(b'\0' * 1000)
    old = os.umask(0o022)
    try:
        save_checkpoint(policy, folder)
    finally:
        os.umask(old)
    for name in ('model.safetensors', 'config.json', 'tokenizer.json'):
        assert (folder / name).stat().st_mode & 0o777 == 0o644, name
    assert not left.exists()
    assert sorted(p.name for p in folder.iterdir()) == [
        'config.json', 'model.safetensors', 'tokenizer.json']
