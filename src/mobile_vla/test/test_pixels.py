"""Training the image towers from pixels (``train_vision``): which parts train, each frame
encoded once per batch as the robot encodes it, and the checkpoint keeps the towers."""

import pytest
import torch
from training_data import config

from mobile_vla.policy.checkpoint import load_checkpoint
from mobile_vla.training.trainer import Trainer


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
