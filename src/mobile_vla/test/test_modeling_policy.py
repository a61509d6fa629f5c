"""The policy family on tiny presets: shapes, learning, checkpoints, streaming, ONNX."""

import dataclasses
import json
import os

import numpy as np
import pytest
import torch

from mobile_vla.config import ConfigError
from mobile_vla.dataset import window_frames
from mobile_vla.policy.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_foreign_state,
    load_state_strict,
    save_checkpoint,
)
from mobile_vla.policy.configuration_policy import PolicyConfig, load_preset, preset_names
from mobile_vla.policy.engines import OnnxEngine, StaleExportError, TorchEngine, export_onnx
from mobile_vla.policy.modeling_policy import (
    ModelFilesError,
    PolicyHead,
    auto_exposure,
    build_policy,
    count_parameters,
)
from mobile_vla.policy.preprocess import ImagePreprocessor, resize_frame
from mobile_vla.policy.runner import PolicyRunner, runner_from_checkpoint

TINY = ['kosmos2_clip_tiny', 'kosmos2_tiny', 'clip_tiny', 'kosmos2_resampler_tiny',
        'kosmos2_clip_minilm_tiny', 'kosmos2_clip_minilm_patches_tiny',
        'kosmos2_clip_minilm_pixels_tiny']
LEFT = 'go around the box on the left to the cup'
RIGHT = 'go around the box on the right to the cup'


def frames(n, size=(96, 128), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n)]


def batch(b=2, window=8, chunk=10, dim=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        'images': torch.randint(0, 256, (b, window, 3, 224, 224), dtype=torch.uint8,
                                generator=g),
        'instruction': [LEFT, RIGHT][:b],
        # A fixed target (forward, a little to the left) the head can fit quickly.
        'actions': torch.tensor([0.6, 0.3, -0.2])[:dim].expand(b, chunk, dim).clone(),
        'action_mask': torch.ones(b, chunk, dtype=torch.bool),
    }


@pytest.fixture(scope='module')
def policy():
    torch.manual_seed(0)
    return build_policy(load_preset('kosmos2_clip_tiny')).eval()


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


def test_presets_exist_and_unknown_keys_are_refused():
    assert set(TINY + ['kosmos2_clip_lstm', 'kosmos2_lstm', 'clip_lstm',
                       'kosmos2_resampler_lstm']) <= set(preset_names())
    with pytest.raises(ConfigError, match='unknown parameter.*lstm_size for PolicyConfig'):
        PolicyConfig.from_dict({'lstm_size': 3})
    with pytest.raises(ConfigError, match='preset .* not found'):
        load_preset('kosmos3')
    with pytest.raises(ConfigError, match='resampler pools Kosmos-2'):
        load_preset('clip_tiny', pooling='resampler')
    with pytest.raises(ConfigError, match=r'kosmos2_arch.vision_config.image_size is 112 but '
                                          r'image_size is 224'):
        load_preset('kosmos2_clip_minilm_pixels_tiny', image_size=224)


@pytest.mark.parametrize('field, value, match', [
    ('action_limit', -1.15, 'action_limit must be in'),  # would flip every action
    ('action_limit', 0.0, 'action_limit must be in'),
    ('action_limit', float('nan'), 'action_limit must be'),
    ('huber_delta', 0.0, 'huber_delta must be > 0'),
    ('image_std', (0.5, 0.0, 0.5), 'image_std > 0'),
    ('lstm_hidden', 10**9, 'lstm_hidden must be in'),  # a corrupt size, not an allocation
    ('window', 0, 'window must be in'),
])
def test_config_values_are_checked_for_range(field, value, match):
    with pytest.raises(ConfigError, match=match):
        load_preset('clip_tiny', **{field: value})


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


def test_preprocessing_matches_training_normalisation(policy):
    image = frames(1, (720, 1280))[0]
    pre = ImagePreprocessor(policy.config)
    x = pre(image)
    small = resize_frame(image, 224, 224)
    ref = policy.normalize_images(torch.from_numpy(small).permute(2, 0, 1)[None]).numpy()
    assert x.shape == (1, 3, 224, 224)
    np.testing.assert_allclose(x, ref, atol=1e-5)
    np.testing.assert_allclose(pre(image[:, :, ::-1], 'bgr'), x, atol=1e-6)


def test_auto_exposure_is_the_same_in_training_and_on_the_robot_and_undoes_the_light(policy):
    """auto_exposure: the numpy preprocessor (ONNX engine, robot) equals the training path,
    and a darker, tinted, lower-contrast frame of the same scene gives nearly the same
    input (off, it gives a very different one)."""
    config = dataclasses.replace(policy.config, auto_exposure=True)
    mean = torch.tensor(config.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(config.image_std).view(1, 3, 1, 1)
    image = frames(1, (720, 1280))[0]
    small = resize_frame(image, 224, 224)
    ref = (auto_exposure(torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255)
           - mean) / std
    pre = ImagePreprocessor(config)
    np.testing.assert_allclose(pre(image), ref.numpy(), atol=1e-4)
    np.testing.assert_allclose(pre(image[:, :, ::-1], 'bgr'), pre(image), atol=1e-5)
    y, x = np.mgrid[0:360, 0:640]  # a smooth scene with a red object in it
    scene = np.stack([100 + 60 * np.sin(x / 40), 120 + 50 * np.cos(y / 30),
                      90 + 40 * np.sin((x + y) / 50)], -1)
    scene[150:250, 300:360] = (200, 60, 40)
    scene = scene.astype(np.uint8)
    dim = np.clip(scene * np.array([0.35, 0.3, 0.22]) + 6, 0, 255).astype(np.uint8)
    plain = ImagePreprocessor(policy.config)
    assert np.abs(pre(dim) - pre(scene)).mean() < 0.05
    assert np.abs(plain(dim) - plain(scene)).mean() > 0.5
    blank = np.full((360, 640, 3), 40, np.uint8)  # no contrast to stretch: stays flat
    assert np.isfinite(pre(blank)).all() and np.ptp(pre(blank), axis=(2, 3)).max() < 1e-4


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


def test_runner_from_checkpoint_with_both_engines(policy, tmp_path):
    folder = save_checkpoint(policy, tmp_path / 'ckpt')
    a = runner_from_checkpoint(str(folder), 'torch')
    b = runner_from_checkpoint(str(folder), 'onnx')  # exports to ckpt/onnx on first use
    assert (folder / 'onnx' / 'export.json').is_file()
    for r in (a, b):
        r.set_instruction(LEFT)
    image = frames(1, (720, 1280))[0]
    np.testing.assert_allclose(a.step(image).action, b.step(image).action, atol=1e-4)


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


@pytest.mark.parametrize('changes, match', [
    ({'patch_channels': 8, 'pooling': 'mean'}, 'use it with pooling: patches'),
    ({'patch_channels': -1}, 'patch_channels must be in'),
    ({'patch_channels': 10**6}, 'patch_channels must be in'),
    ({'patch_hidden': 0}, 'patch_hidden must be in'),
])
def test_patch_reader_sizes_are_checked_at_load(changes, match):
    with pytest.raises(ConfigError, match=match):
        load_preset('kosmos2_clip_minilm_patches_tiny', **changes)


def test_patch_pooling_needs_a_small_kosmos2_encoder():
    with pytest.raises(ConfigError, match='patches pooling reads the Kosmos-2 vision encoder'):
        load_preset('clip_tiny', pooling='patches')
    with pytest.raises(ConfigError, match='patches pooling would give the head'):
        build_policy(load_preset('kosmos2_clip_minilm_patches_tiny', kosmos2_arch={
            'latent_query_num': 16, 'text_config': {'embed_dim': 64, 'layers': 1,
                                                    'ffn_dim': 64, 'attention_heads': 4,
                                                    'vocab_size': 8},
            'vision_config': {'hidden_size': 512, 'intermediate_size': 64,
                              'num_hidden_layers': 1, 'num_attention_heads': 4,
                              'image_size': 224, 'patch_size': 32}}))


def test_train_vision_and_objects_are_checked_at_load():
    with pytest.raises(ConfigError, match='with freeze_backbones: false every encoder trains'):
        load_preset('kosmos2_clip_minilm_pixels_tiny', freeze_backbones=False)
    with pytest.raises(ConfigError, match="each once, got \\['cup', 'cup'\\]"):
        load_preset('kosmos2_clip_tiny', objects=['cup', 'cup'])
    with pytest.raises(ConfigError, match="got \\['chair'\\]"):
        load_preset('kosmos2_clip_tiny', objects=['chair'])
    policy = build_policy(load_preset('kosmos2_clip_minilm_pixels_tiny'))
    # The patch tokens skip Kosmos-2's projection: it stays frozen (no gradient to get).
    assert not any(p.requires_grad for p in
                   policy.vision.kosmos2.image_to_text_projection.parameters())
    assert all(p.requires_grad for p in policy.vision.clip.visual_projection.parameters())
