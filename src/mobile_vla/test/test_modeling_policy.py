"""The policy family on tiny presets: shapes and learning, full-size sizes, which parts
train, and the patch reader."""

import numpy as np
import pytest
import torch
from policy_inputs import LEFT, TINY, batch, frames

from mobile_vla.config import ConfigError
from mobile_vla.policy.checkpoint import load_checkpoint, save_checkpoint
from mobile_vla.policy.configuration_policy import load_preset
from mobile_vla.policy.engines import OnnxEngine, TorchEngine, export_onnx
from mobile_vla.policy.modeling_policy import (
    ModelFilesError,
    PolicyHead,
    build_policy,
    count_parameters,
)
from mobile_vla.policy.runner import PolicyRunner


@pytest.mark.parametrize('preset', TINY)
def test_tiny_presets_have_the_right_shapes_and_learn(preset):
    torch.manual_seed(0)
    policy = build_policy(load_preset(preset, action_dim=2))
    b = batch(dim=2)
    features = policy.features(b['images'], b['instruction'])
    assert features.shape == (2, 8, policy.vision.dim + policy.text.dim)
    assert policy.predict_chunk(features).shape == (2, 10, 2)
    policy.train()
    opt = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(30):
        loss, metrics = policy(b)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(metrics['loss'])
    assert losses[-1] < 0.5 * losses[0], losses
    # Frozen backbones stay frozen, save the image towers of a train_vision preset.
    towers = {id(p) for tower in policy.vision_towers() for p in tower.parameters()}
    assert bool(towers) == policy.config.train_vision
    trains = [p.requires_grad for p in policy.backbones.parameters() if id(p) not in towers]
    assert trains and not any(trains)
    assert all(p.requires_grad for tower in policy.vision_towers() for p in tower.parameters())


@pytest.mark.parametrize('preset, total, kosmos2, head', [
    ('kosmos2_clip_lstm', 2.114e9, 1.664e9, 21.8e6),
    ('kosmos2_lstm', 1.685e9, 1.664e9, 20.2e6),
    ('clip_lstm', 0.443e9, None, 15.0e6),
])
def test_full_size_presets_on_the_meta_device(preset, total, kosmos2, head):
    config = load_preset(preset, kosmos2_path='', clip_path='')
    with torch.device('meta'):
        policy = build_policy(config)
    assert count_parameters(policy) == pytest.approx(total, rel=0.01)
    if kosmos2:
        assert count_parameters(policy.vision.kosmos2) == pytest.approx(kosmos2, rel=0.005)
    assert count_parameters(policy.head) == pytest.approx(head, rel=0.01)
    if preset == 'kosmos2_clip_lstm':  # the original hybrid: 2048 + 768 + 2048 = 4864
        assert policy.vision.dim + policy.text.dim == 4864


def test_missing_snapshots_say_where_and_how_to_fetch(tmp_path):
    config = load_preset('kosmos2_lstm', kosmos2_path=str(tmp_path / 'kosmos-2'))
    with pytest.raises(ModelFilesError, match='huggingface-cli download '
                                              'microsoft/kosmos-2-patch14-224'):
        build_policy(config)


def test_fine_tuning_trains_the_backbones_too():
    torch.manual_seed(0)
    policy = build_policy(load_preset('clip_tiny', freeze_backbones=False)).train()
    loss, _ = policy(batch())
    loss.backward()
    grads = [p.grad for p in policy.backbones.parameters() if p.requires_grad]
    assert grads and any(g is not None and g.abs().sum() > 0 for g in grads)
    assert 'vision.clip.' in policy.trainable_prefixes()


def test_bfloat16_on_the_cpu_stays_close_to_float32():
    pixels = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    torch.manual_seed(0)
    tiny = build_policy(load_preset('clip_tiny'))
    torch.manual_seed(0)
    same = build_policy(load_preset('clip_tiny'))
    a = TorchEngine(tiny).encode_image(pixels)
    b = TorchEngine(same, dtype='bfloat16').encode_image(pixels)
    assert a.shape == b.shape and not np.array_equal(a, b)  # bfloat16 really ran
    np.testing.assert_allclose(a, b, atol=0.1)
    with pytest.raises(ValueError, match='float16 inference needs a CUDA device'):
        TorchEngine(tiny, dtype='float16')


def test_the_resampler_trains_while_the_backbones_stay_frozen():
    torch.manual_seed(0)
    policy = build_policy(load_preset('kosmos2_resampler_tiny')).train()
    loss, _ = policy(batch())
    loss.backward()
    resampler = list(policy.vision.resampler.parameters())
    assert resampler and all(p.grad is not None for p in resampler)
    assert all(p.grad is None for p in policy.backbones.parameters())


def test_frozen_backbones_give_the_same_features_every_time():
    torch.manual_seed(0)
    policy = build_policy(load_preset('kosmos2_clip_tiny')).train()  # train() keeps them eval
    b = batch()
    with torch.no_grad():
        a = policy.features(b['images'], b['instruction'])
        c = policy.features(b['images'], b['instruction'])
    assert torch.equal(a, c)


def test_the_patch_reader_reads_each_patch_as_the_instruction_asks(tmp_path):
    """With ``patch_channels`` the fusion stage first reads every patch token in place,
    scaled and shifted by the instruction: the same inputs give the same fused features
    in training (batch x window), a frame at a time and in ONNX Runtime; the instruction
    changes what a patch gives; and a patch changes only its own channels."""
    torch.manual_seed(0)
    config = load_preset('kosmos2_clip_minilm_patches_tiny', patch_channels=6, patch_hidden=16)
    policy = build_policy(config).eval()
    reader = policy.head.reader
    assert (reader.patches, reader.width, reader.text_dim) == (49, 64, policy.text.dim)
    assert policy.head.fusion[0].in_features == 49 * 6 + 32 + policy.text.dim
    in_dim = policy.vision.dim + policy.text.dim
    rng = np.random.default_rng(3)
    feats = torch.from_numpy(rng.standard_normal((2, 4, in_dim)).astype(np.float32))
    with torch.no_grad():
        for p in reader.film.parameters():  # as trained: the instruction matters
            p.normal_(0, 0.5)
        together = policy.head.fuse(feats)
        apart = torch.stack([policy.head.fuse(feats[i]) for i in range(2)])
        torch.testing.assert_close(together, apart, atol=1e-5, rtol=0)
        read = reader(feats[0])
        other = feats[0].clone()
        other[:, -policy.text.dim:] += 1.0  # another instruction, the same frames
        assert (reader(other)[:, :49 * 6] - read[:, :49 * 6]).abs().max() > 1e-2
        clip = feats[0].clone()
        clip[:, 49 * 64:49 * 64 + 32] += 1.0  # the CLIP embedding is not the instruction
        torch.testing.assert_close(reader(clip)[:, :49 * 6], read[:, :49 * 6])
        moved = feats[0].clone()
        moved[:, 64 * 10:64 * 11] += 1.0  # patch 10 changes, nothing else
        changed = (reader(moved) - read).abs().amax(dim=0) > 0
        assert changed.nonzero().flatten().tolist() == list(range(60, 66))
    export_onnx(policy, tmp_path / 'onnx')
    onnx, torch_engine = OnnxEngine(tmp_path / 'onnx', 'cpu'), TorchEngine(policy)
    flat = rng.standard_normal((3, in_dim)).astype(np.float32)
    np.testing.assert_allclose(onnx.fuse(flat), torch_engine.fuse(flat), atol=1e-4)
    np.testing.assert_allclose(onnx.fuse(flat[:1]), torch_engine.fuse(flat[:1]), atol=1e-4)
    # The reader is saved with the head and loads strictly; the runner drives with it.
    save_checkpoint(policy, tmp_path / 'ckpt')
    loaded = load_checkpoint(tmp_path / 'ckpt')
    torch.testing.assert_close(loaded.head.reader.film.weight, reader.film.weight)
    runners = [PolicyRunner(TorchEngine(p), p.config, p.tokenizer) for p in (policy, loaded)]
    for r in runners:
        r.set_instruction(LEFT)
    for f in frames(2, (720, 1280), seed=7):
        a, b = (r.step(f) for r in runners)
        np.testing.assert_allclose(a.chunk, b.chunk, atol=1e-6)
    with pytest.raises(ConfigError, match='needs a PatchReader exactly when'):
        PolicyHead(in_dim, config)
