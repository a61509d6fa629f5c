"""Preprocessing on the robot is the training pipeline's: normalisation and auto
exposure."""

import dataclasses

import numpy as np
import torch
from policy_inputs import frames

from mobile_vla.policy.modeling_policy import auto_exposure
from mobile_vla.policy.preprocess import ImagePreprocessor, resize_frame


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
