"""``PolicyRunner``: streaming frame by frame equals the training window, the LSTM state
carries, the execution modes, and a runner from a checkpoint on either engine."""

import numpy as np
import torch
from policy_inputs import LEFT, RIGHT, frames

from mobile_vla.dataset import window_frames
from mobile_vla.policy.checkpoint import save_checkpoint
from mobile_vla.policy.engines import TorchEngine
from mobile_vla.policy.preprocess import resize_frame
from mobile_vla.policy.runner import PolicyRunner, runner_from_checkpoint


def _window_from_scratch(policy, images, instruction):
    """The training window at the last frame (the datasets' own indexing), from zero state."""
    frames, _ = window_frames(len(images) - 1, policy.config.window)
    pixels = torch.stack([torch.from_numpy(resize_frame(images[i], 224, 224)).permute(2, 0, 1)
                          for i in frames])[None]
    with torch.no_grad():
        return policy.predict_chunk(policy.features(pixels, [instruction]))[0].numpy()


def test_streaming_equals_the_full_window_and_encodes_each_frame_once(policy):
    runner = PolicyRunner(TorchEngine(policy), policy.config, policy.tokenizer)
    runner.set_instruction(LEFT)
    seq = frames(12)
    for t in range(len(seq)):
        result = runner.step(seq[t])
        expected = _window_from_scratch(policy, seq[: t + 1], LEFT) * 1.15
        np.testing.assert_allclose(result.chunk, expected, atol=1e-5)
        assert set(result.latency_ms) == {'preprocess', 'vision', 'fusion', 'temporal',
                                          'total'}
    assert runner.frames_encoded == 12 and runner.texts_encoded == 1
    runner.set_instruction(LEFT)  # the same text: no new encoding, history kept
    assert runner.texts_encoded == 1 and runner.step_index == 12
    runner.set_instruction(RIGHT)  # a new instruction clears the history
    assert runner.texts_encoded == 2 and runner.step_index == 0


def test_carry_mode_keeps_the_lstm_state(policy):
    runner = PolicyRunner(TorchEngine(policy), policy.config, policy.tokenizer, history='carry')
    runner.set_instruction(LEFT)
    seq = frames(10)
    results = [runner.step(f) for f in seq]
    pixels = torch.stack([torch.from_numpy(resize_frame(f, 224, 224)).permute(2, 0, 1)
                          for f in seq])[None]
    with torch.no_grad():
        expected = policy.predict_chunk(policy.features(pixels, [LEFT]))[0].numpy() * 1.15
    np.testing.assert_allclose(results[-1].chunk, expected, atol=1e-5)


def test_execution_modes(policy):
    engine = TorchEngine(policy)
    seq = frames(6)
    chunk = PolicyRunner(engine, policy.config, policy.tokenizer, execution='chunk',
                         replan_every=3)
    chunk.set_instruction(LEFT)
    out = [chunk.step(f) for f in seq]
    assert [o.latency_ms['temporal'] > 0 for o in out] == [True, False, False] * 2
    np.testing.assert_allclose([o.action for o in out[:3]], out[0].chunk[:3], atol=1e-7)
    np.testing.assert_array_equal(out[1].chunk, out[0].chunk)  # the same plan, same units
    assert np.abs(out[0].chunk).max() <= 1.15
    ens = PolicyRunner(engine, policy.config, policy.tokenizer, execution='ensemble',
                       ensemble_decay=0.0)
    ens.set_instruction(LEFT)
    out = [ens.step(f) for f in seq[:2]]
    np.testing.assert_allclose(out[1].action, (out[0].chunk[1] + out[1].chunk[0]) / 2,
                               atol=1e-6)


def test_runner_from_checkpoint_with_both_engines(policy, tmp_path):
    folder = save_checkpoint(policy, tmp_path / 'ckpt')
    a = runner_from_checkpoint(str(folder), 'torch')
    b = runner_from_checkpoint(str(folder), 'onnx')  # exports to ckpt/onnx on first use
    assert (folder / 'onnx' / 'export.json').is_file()
    for r in (a, b):
        r.set_instruction(LEFT)
    image = frames(1, (720, 1280))[0]
    np.testing.assert_allclose(a.step(image).action, b.step(image).action, atol=1e-4)
