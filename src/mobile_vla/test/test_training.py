"""Training and evaluation on a small generated set of episodes."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mobile_vla.config import ConfigError
from mobile_vla.episode import Episode, write_episode
from mobile_vla.policy.checkpoint import load_checkpoint
from mobile_vla.scenarios import SCENARIOS, parse
from mobile_vla.training.config import load_train_config
from mobile_vla.training.evaluate import evaluate
from mobile_vla.training.features import FeatureWindowDataset
from mobile_vla.training.split import split_episodes
from mobile_vla.training.trainer import Trainer


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


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_episodes(tmp_path_factory.mktemp('episodes'))


def config(tmp_path, data, **fields):
    overrides = [f'output_dir={tmp_path / "runs"}', f'cache_dir={tmp_path / "cache"}',
                 'warmup_steps=2', 'log_every=1', 'batch_size=16', 'lr=0.003']
    return load_train_config('tiny', overrides, data=[str(data)], **fields)


def test_loss_goes_down_and_checkpoints_load(tmp_path, data):
    summary = Trainer(config(tmp_path, data, epochs=6, run_name='a')).fit()
    run = tmp_path / 'runs' / 'a'
    rows = [line.split(',') for line in (run / 'metrics.csv').read_text().splitlines()[1:]]
    losses = [float(r[2]) for r in rows if r[2]]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    assert summary['steps'] == 6 * len([r for r in rows if r[2] and r[1] == '0'])
    policy = load_checkpoint(run / 'checkpoints' / 'best')
    assert policy.config.preset == 'kosmos2_clip_tiny'
    meta = json.loads((run / 'checkpoints' / 'best' / 'config.json').read_text())
    assert meta['training']['seed'] == 0 and meta['training']['epoch'] == summary['best_epoch']
    assert (run / 'plots' / 'training.png').is_file() and (run / 'config.yaml').is_file()
    assert list((run / 'tensorboard').glob('events.out.tfevents.*'))
    split = json.loads((run / 'split.json').read_text())
    assert set(split['train']).isdisjoint(split['val'])


def test_resume_continues_from_the_same_step(tmp_path, data):
    Trainer(config(tmp_path, data, epochs=2, run_name='r')).fit()
    last = tmp_path / 'runs' / 'r' / 'checkpoints' / 'last'
    state = json.loads((last / 'trainer_state.json').read_text())
    weights_before = load_file(str(last / 'model.safetensors'))
    resumed = Trainer(config(tmp_path, data, epochs=4, run_name='r'), resume=True)
    summary = resumed.fit()
    assert summary['epochs'] == 4 and summary['steps'] == 2 * state['step']
    rows = (tmp_path / 'runs' / 'r' / 'metrics.csv').read_text().splitlines()
    steps = [int(r.split(',')[0]) for r in rows[1:] if r.split(',')[2]]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)  # no step twice
    assert steps[0] == 1 and steps[-1] == summary['steps']
    assert weights_before.keys() == load_file(str(last / 'model.safetensors')).keys()
    # Resuming a finished run restores its weights and optimiser without training on.
    again = Trainer(config(tmp_path, data, epochs=4, run_name='r'), resume=True)
    assert again.fit()['steps'] == summary['steps']
    saved = load_file(str(last / 'model.safetensors'))
    restored = again.policy.checkpoint_state()
    assert all(torch.equal(saved[k], restored[k]) for k in saved)
    assert again.optimizer.state_dict()['state'], 'optimizer state was not restored'
    with pytest.raises(Exception, match='exists; pick another run_name or resume'):
        Trainer(config(tmp_path, data, epochs=1, run_name='r'))


def test_the_split_is_by_episode_and_reproducible(tmp_path, data):
    paths = sorted(data.glob('*.h5'))
    a = split_episodes(paths, 0.25, seed=3)
    b = split_episodes(list(reversed(paths)), 0.25, seed=3)
    assert a == b and set(a['train']).isdisjoint(a['val'])
    assert sorted(a['train'] + a['val']) == sorted(map(str, paths))
    trainer = Trainer(config(tmp_path, data, epochs=1, run_name='s'))
    train_ds, val_ds = trainer._datasets(trainer._split())
    assert isinstance(train_ds, FeatureWindowDataset)
    train_names = {e.name.removesuffix('_mirror') for e in train_ds.episodes}
    val_names = {e.name for e in val_ds.episodes}
    assert train_names and val_names and train_names.isdisjoint(val_names)
    for e, _ in train_ds.index:  # every window comes from a training episode
        assert train_ds.episodes[e].name.removesuffix('_mirror') in train_names


def test_features_are_cached_and_invalidated_when_the_backbone_changes(tmp_path, data):
    first = Trainer(config(tmp_path, data, epochs=1, run_name='c1')).fit()
    assert first['frames_encoded'] > 0 and first['frames_from_cache'] == 0
    second = Trainer(config(tmp_path, data, epochs=1, run_name='c2')).fit()
    assert second['frames_encoded'] == 0
    assert second['frames_from_cache'] == first['frames_encoded']
    assert second['feature_cache'] == first['feature_cache']
    other = config(tmp_path, data, epochs=1, run_name='c3', seed=1)  # other tiny backbone
    third = Trainer(other).fit()
    assert third['frames_encoded'] == first['frames_encoded']
    assert third['feature_cache'] != first['feature_cache']


def test_eval_report_plots_and_comparison(tmp_path, data):
    Trainer(config(tmp_path, data, epochs=3, run_name='e')).fit()
    best = tmp_path / 'runs' / 'e' / 'checkpoints' / 'best'
    report = evaluate(best, [str(data)], tmp_path / 'report', str(tmp_path / 'cache'))
    overall = report['overall']
    assert overall['samples'] == 12 * 18
    assert set(overall) >= {'mae', 'acc@0.1', 'acc@0.2', 'acc@0.3', 'r2', 'pearson'}
    assert set(report['per_scenario']) == set(SCENARIOS)
    assert set(report['per_event_type']) == {'episode_start', 'start_action', 'stop_action'}
    assert len(report['mae_by_horizon']) == 10
    for name in ('report.json', 'traces.png', 'horizon.png', 'directions.png'):
        assert (tmp_path / 'report' / name).is_file()
    out = subprocess.run(
        [sys.executable, '-m', 'mobile_vla.cli', 'eval', '--checkpoint', str(best),
         '--checkpoint', str(tmp_path / 'runs' / 'e' / 'checkpoints' / 'last'),
         '--data', str(data), '--cache-dir', str(tmp_path / 'cache')],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    header = out.stdout.splitlines()[0]
    assert 'best' in header and 'last' in header and 'acc@0.3' in out.stdout


def test_train_command_reports_config_errors(tmp_path):
    out = subprocess.run([sys.executable, '-m', 'mobile_vla.cli', 'train', '--config', 'tiny',
                          '--set', 'epochz=3'], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and 'unknown parameter(s) epochz for TrainConfig' in out.stderr


def test_one_bad_file_never_stops_cached_training(tmp_path):
    data = make_episodes(tmp_path / 'episodes', count=6)
    bad = sorted(data.glob('*.h5'))[1]
    bad.write_bytes(bad.read_bytes()[:2000])  # an interrupted copy
    cfg = config(tmp_path, data, epochs=1, run_name='bad')
    assert cfg.cache_features
    with pytest.warns(UserWarning, match=f'skipping episode {bad}'):
        summary = Trainer(cfg).fit()
    assert summary['steps'] >= 1
    assert (tmp_path / 'runs' / 'bad' / 'checkpoints' / 'best' / 'config.json').is_file()


def test_a_run_that_stopped_before_its_first_checkpoint_can_be_run_again(tmp_path, data):
    cfg = config(tmp_path, data, epochs=1, run_name='cut')
    run = tmp_path / 'runs' / 'cut'
    run.mkdir(parents=True)
    (run / 'metrics.csv').write_text('step,epoch\n')  # a run the disk filled up under
    with pytest.raises(ConfigError, match='nothing to resume'):
        Trainer(cfg, resume=True)
    Trainer(cfg).fit()
    assert (run / 'checkpoints' / 'best' / 'config.json').is_file()
    [kept] = [p for p in run.parent.iterdir() if p.name.startswith('cut.incomplete-')]
    assert (kept / 'metrics.csv').read_text() == 'step,epoch\n'
    with pytest.raises(ConfigError, match='exists; pick another run_name or resume'):
        Trainer(cfg)  # a run with checkpoints is never started over


def test_augmented_copies_train_and_validation_and_inference_never_see_augmentation(
        tmp_path, data, monkeypatch):
    """Each training episode gets its augmented copies; validation features are the clean
    frames' features; a policy step (the robot, the simulator's evaluation) never calls
    the augmentation, so a trained checkpoint sees exactly the camera's pixels."""
    import mobile_vla.training.image_augment as augment_module
    import mobile_vla.training.trainer as trainer_module
    from mobile_vla.policy.runner import untrained_runner

    calls = []
    real = augment_module.augment_frames

    def counted(frames, rng, config):
        calls.append(len(frames))
        return real(frames, rng, config)

    monkeypatch.setattr(trainer_module, 'augment_frames', counted)
    cfg = load_train_config('tiny', [f'output_dir={tmp_path / "runs"}',
                                     f'cache_dir={tmp_path / "cache"}', 'augment.hue=0.2'],
                            data=[str(data)], epochs=1, run_name='aug', augment_views=2)
    assert cfg.image_augment.hue == 0.2
    trainer = Trainer(cfg)
    split = trainer._split()
    train, val = trainer._datasets(split)
    copies = 2 * len(split['train']) * (2 if cfg.mirror else 1)  # of each and its mirror
    assert len(calls) == copies  # and none of validation
    assert sum('_aug' in e.name for e in train.episodes) == copies
    clean = {e.name: e for e in train.episodes if '_aug' not in e.name}
    for e in train.episodes:  # a copy differs from its episode, same actions
        if '_aug' in e.name:
            twin = clean[e.name.split('_aug')[0]]
            assert not np.allclose(e.vision, twin.vision)
            np.testing.assert_array_equal(e.actions, twin.actions)
    assert all('_aug' not in e.name for e in val.episodes)
    clean_val = trainer._features([(p, False, None) for p in split['val']])
    for a, b in zip(val.episodes, clean_val, strict=True):
        np.testing.assert_array_equal(a.vision, b.vision)

    def refuse(*_args, **_kwargs):
        raise AssertionError('augmentation outside training')

    monkeypatch.setattr(augment_module, 'augment_frames', refuse)
    monkeypatch.setattr(trainer_module, 'augment_frames', refuse)
    runner = untrained_runner(cfg.preset)  # the robot's and the simulator's policy step
    runner.set_instruction('go around the box on the left to the cup')
    assert runner.step(np.zeros((720, 1280, 3), np.uint8)).action.shape == (3,)
    val_again = trainer._features([(p, False, None) for p in split['val']])
    assert [e.name for e in val_again] == [e.name for e in val.episodes]


@pytest.fixture(scope='module')
def pixel_run(tmp_path_factory, data):
    """One run with ``train_vision``: the image towers train from pixels; what each
    test below looks at, with the augmentations drawn (18 frames each when one is)."""
    import mobile_vla.training.pixels as pixels_module
    from mobile_vla.training.pixels import PixelEpisodeDataset

    tmp_path = tmp_path_factory.mktemp('pixels')
    calls = []
    real = pixels_module.augment

    def counted(frames, draws, generator=None):
        calls.extend(n for n, look in draws if look is not None)
        return real(frames, draws, generator)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pixels_module, 'augment', counted)
        cfg = config(tmp_path, data, epochs=3, run_name='px', augment_views=1,
                     model={'train_vision': True})
        trainer = Trainer(cfg)
        policy = trainer.policy
        text_before = {k: v.clone() for k, v in policy.text.state_dict().items()
                       if 'text_model' in k}  # (the text stage shares Kosmos-2 with vision)
        vision_before = {k: v.clone() for k, v in policy.vision.state_dict().items()}
        split = trainer._split()
        train, val = trainer._datasets(split)
        assert isinstance(train, PixelEpisodeDataset) and val.augment is None
        assert len(train) == 2 * len(split['train'])  # each episode and its mirror
        calls.clear()
        summary = trainer.fit()
    return {'tmp_path': tmp_path, 'policy': policy, 'val': val, 'train': train,
            'calls': calls, 'summary': summary, 'text_before': text_before,
            'vision_before': vision_before}


def test_vision_trained_from_pixels_trains_the_image_towers_only(pixel_run):
    """With ``train_vision`` the image towers train and the instruction encoder does not;
    each drawn augmentation covers a whole 18-frame episode, about half of them."""
    summary, policy, calls = pixel_run['summary'], pixel_run['policy'], pixel_run['calls']
    assert pixel_run['text_before']
    assert summary['feature_cache'] is None and summary['frames_encoded'] == 0
    draws = summary['epochs'] * len(pixel_run['train'])
    assert 0 < len(calls) < draws and all(n == 18 for n in calls)
    after = policy.state_dict()
    assert all(torch.equal(v, after[f'text.{k}']) for k, v in pixel_run['text_before'].items())
    changed = [k for k, v in pixel_run['vision_before'].items()
               if not torch.equal(v, after[f'vision.{k}'])]
    assert any('patch_embedding' in k for k in changed), changed


def _pixel_batch(pixel_run):
    from mobile_vla.training.pixels import collate_episodes

    policy = pixel_run['policy']
    policy.eval()
    batch = collate_episodes([pixel_run['val'][0], pixel_run['val'][1]])
    seen = []
    hook = policy.vision.register_forward_hook(lambda _m, args, _o: seen.append(len(args[0])))
    with torch.no_grad():
        inputs = policy.batch_features(batch)
    hook.remove()
    return batch, inputs, seen


def test_a_pixel_batch_encodes_each_frame_once_and_as_the_robot_does(pixel_run):
    """The head gets, per window, the same inputs the window-by-window path (the robot's
    policy step) gives, and each frame of the batch's episodes is encoded once."""
    from mobile_vla.dataset import window_frames

    policy, val = pixel_run['policy'], pixel_run['val']
    batch, inputs, seen = _pixel_batch(pixel_run)
    assert seen == [len(batch['frames'])] == [36]
    assert inputs.shape[:2] == (36, policy.config.window)
    episode = val.episodes[val.keep[1]]
    frames = torch.from_numpy(episode.frames).permute(0, 3, 1, 2)
    t = 11
    rows, _ = window_frames(t, policy.config.window)
    with torch.no_grad():
        direct = policy.features(frames[rows].unsqueeze(0), [episode.instruction])
    torch.testing.assert_close(inputs[18 + t], direct[0], atol=1e-5, rtol=1e-4)


def test_the_checkpoint_keeps_the_trained_image_towers(pixel_run):
    batch, inputs, _ = _pixel_batch(pixel_run)
    loaded = load_checkpoint(pixel_run['tmp_path'] / 'runs' / 'px' / 'checkpoints' / 'last')
    assert loaded.config.train_vision and not loaded.training
    with torch.no_grad():
        torch.testing.assert_close(loaded.batch_features(batch), inputs)


def test_only_the_trainer_calls_the_image_augmentation():
    """No inference, evaluation, simulator or node module can reach the image
    augmentation (``mobile_vla.training.image_augment``)."""
    from pathlib import Path

    src = Path(__file__).resolve().parents[2]
    users = sorted(str(p.relative_to(src)) for p in src.glob('*/*/**/*.py')
                   if 'image_augment import' in p.read_text() and '/test/' not in str(p))
    assert users == ['mobile_vla/mobile_vla/training/pixels.py',
                     'mobile_vla/mobile_vla/training/trainer.py'], users


@pytest.mark.parametrize('override, words', [
    ('augment.hue=0.9', 'augment.hue must be in'),
    ('augment.blurr=1', 'blurr'),
    ('augment_views=40', 'augment_views must be in'),
])
def test_bad_augmentation_settings_are_refused_naming_the_field(override, words):
    with pytest.raises(ConfigError, match=words):
        load_train_config('tiny', [override])
