"""The trainer on a small generated set of episodes: the loss goes down, a run resumes
where it stopped, augmented copies reach training only, and bad settings are refused."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from training_data import config

from mobile_vla.config import ConfigError
from mobile_vla.policy.checkpoint import load_checkpoint
from mobile_vla.training.config import load_train_config
from mobile_vla.training.trainer import Trainer


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


def test_train_command_reports_config_errors(tmp_path):
    out = subprocess.run([sys.executable, '-m', 'mobile_vla.cli', 'train', '--config', 'tiny',
                          '--set', 'epochz=3'], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and 'unknown parameter(s) epochz for TrainConfig' in out.stderr


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


def test_only_the_trainer_calls_the_image_augmentation():
    """No inference, evaluation, simulator or node module can reach the image
    augmentation (``mobile_vla.training.image_augment``)."""
    from pathlib import Path

    src = Path(__file__).resolve().parents[2]
    users = sorted(str(p.relative_to(src)) for p in src.glob('*/*/**/*.py')
                   if 'image_augment import' in p.read_text() and '/test/' not in str(p))
    assert users == ['mobile_vla/mobile_vla/training/pixels.py',
                     'mobile_vla/mobile_vla/training/trainer.py',
                     'mobile_vla/mobile_vla/training/vision_pretrain.py'], users


@pytest.mark.parametrize('override, words', [
    ('augment.hue=0.9', 'augment.hue must be in'),
    ('augment.blurr=1', 'blurr'),
    ('augment_views=40', 'augment_views must be in'),
])
def test_bad_augmentation_settings_are_refused_naming_the_field(override, words):
    with pytest.raises(ConfigError, match=words):
        load_train_config('tiny', [override])


@pytest.mark.parametrize('model', [{}, {'train_vision': True}, {'freeze_backbones': False}],
                         ids=['cached features', 'towers from pixels', 'trainable encoders'])
def test_stop_frames_cut_the_final_stop_on_every_data_path(tmp_path, model):
    """Each way the trainer reads episodes (cached features, frames for the towers,
    windows for trainable encoders) ends them ``stop_frames`` into their final stop,
    training and validation alike."""
    from training_data import small_episode

    from mobile_vla.episode import write_episode

    data = tmp_path / 'held'
    data.mkdir()
    for i in range(4):  # the robot moves for 11 frames and holds still for 7
        ep = small_episode('1box_vert_left', frames=18)
        ep.actions[:] = 0.0
        ep.actions[1:11] = [0.5, 0.2, 0.0]
        write_episode(data / f'episode_2026010{i}_000000_1box_vert_left.h5', ep)

    def lengths(stop_frames: int) -> list[tuple[int, int]]:
        """(frames, actions) of every training and validation episode."""
        cfg = config(tmp_path, data, epochs=1, run_name=f'cut{stop_frames}', mirror=False,
                     stop_frames=stop_frames, model=model)
        trainer = Trainer(cfg)
        datasets = trainer._datasets(trainer._split())
        return [(e.num_frames, len(e.actions)) for ds in datasets for e in ds.episodes]

    assert lengths(0) == [(18, 18)] * 4
    assert lengths(2) == [(13, 13)] * 4


def test_stop_frames_out_of_range_are_refused_naming_the_field():
    for value in ('-1', '65'):
        with pytest.raises(ConfigError, match=r'stop_frames must be in \[0, 64\]'):
            load_train_config('tiny', [f'stop_frames={value}'])
