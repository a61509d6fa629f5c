"""The ONNX export and engines: its four stages match PyTorch and drive the same runner,
and an export of other weights is made again, never used."""

import numpy as np
import pytest
import torch
from policy_inputs import LEFT, RIGHT, frames

from mobile_vla.policy.checkpoint import save_checkpoint
from mobile_vla.policy.configuration_policy import load_preset
from mobile_vla.policy.engines import OnnxEngine, StaleExportError, TorchEngine, export_onnx
from mobile_vla.policy.modeling_policy import build_policy
from mobile_vla.policy.runner import PolicyRunner, runner_from_checkpoint


def test_onnx_stages_match_pytorch_and_drive_the_same_runner(policy, tmp_path):
    contract = export_onnx(policy, tmp_path / 'onnx')
    assert set(contract['stages']) == {'vision', 'text', 'fusion', 'temporal'}
    onnx = OnnxEngine(tmp_path / 'onnx', 'cpu')
    torch_engine = TorchEngine(policy)
    rng = np.random.default_rng(1)
    pixels = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    np.testing.assert_allclose(onnx.encode_image(pixels), torch_engine.encode_image(pixels),
                               atol=1e-4)
    ids = policy.tokenizer([LEFT], padding='max_length', max_length=32, return_tensors='np')
    np.testing.assert_allclose(onnx.encode_text(ids['input_ids'], ids['attention_mask']),
                               torch_engine.encode_text(ids['input_ids'],
                                                        ids['attention_mask']), atol=1e-4)
    feats = rng.standard_normal((3, policy.vision.dim + policy.text.dim)).astype(np.float32)
    np.testing.assert_allclose(onnx.fuse(feats), torch_engine.fuse(feats), atol=1e-4)
    fused = rng.standard_normal((1, 5, policy.config.fusion_dim)).astype(np.float32)
    h0, c0 = onnx.initial_state()
    for a, b in zip(onnx.temporal(fused, h0, c0), torch_engine.temporal(fused, h0, c0),
                    strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)
    runners = [PolicyRunner(e, policy.config, policy.tokenizer) for e in (onnx, torch_engine)]
    for r in runners:
        r.set_instruction(RIGHT)
    for f in frames(9, seed=3):
        a, b = (r.step(f) for r in runners)
        np.testing.assert_allclose(a.chunk, b.chunk, atol=1e-4)


def test_an_export_of_other_weights_is_made_again_never_used(policy, tmp_path):
    """Re-saving a checkpoint (new weights, same folder) must not leave the robot on the
    old ONNX export: the export records the checkpoint's fingerprint."""
    folder = save_checkpoint(policy, tmp_path / 'ckpt')
    runner_from_checkpoint(str(folder), 'onnx')
    torch.manual_seed(7)
    retrained = build_policy(policy.config)
    with torch.no_grad():
        retrained.head.mlp[-1].bias.fill_(0.9)
    save_checkpoint(retrained, folder)
    a = runner_from_checkpoint(str(folder), 'torch')
    b = runner_from_checkpoint(str(folder), 'onnx')
    for r in (a, b):
        r.set_instruction(LEFT)
    image = frames(1, (720, 1280))[0]
    np.testing.assert_allclose(a.step(image).action, b.step(image).action, atol=1e-4)
    # An export that does not match is refused by the engine itself.
    with pytest.raises(StaleExportError, match='export it again'):
        OnnxEngine(folder / 'onnx', 'cpu', source='0' * 64)


def test_the_patch_token_preset_exports_to_onnx_and_drives_the_same(tmp_path):
    """The demo preset reads the Kosmos-2 patch tokens in place: its vision stage exports
    and gives the same features and chunks with both engines."""
    torch.manual_seed(0)
    policy = build_policy(load_preset('kosmos2_clip_minilm_patches_tiny')).eval()
    assert policy.vision.dim == 7 * 7 * 64 + 32  # every patch token, and the CLIP embedding
    export_onnx(policy, tmp_path / 'onnx')
    onnx, torch_engine = OnnxEngine(tmp_path / 'onnx', 'cpu'), TorchEngine(policy)
    pixels = np.random.default_rng(2).standard_normal((2, 3, 224, 224)).astype(np.float32)
    np.testing.assert_allclose(onnx.encode_image(pixels), torch_engine.encode_image(pixels),
                               atol=1e-4)
    runners = [PolicyRunner(e, policy.config, policy.tokenizer) for e in (onnx, torch_engine)]
    for r in runners:
        r.set_instruction(LEFT)
    for f in frames(3, (720, 1280), seed=5):
        a, b = (r.step(f) for r in runners)
        np.testing.assert_allclose(a.chunk, b.chunk, atol=1e-4)
