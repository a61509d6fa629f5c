"""mobile-vla infer and mobile-vla bench as a user runs them."""

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from mobile_vla.bag import BagWriter
from mobile_vla.policy.checkpoint import save_checkpoint
from mobile_vla.policy.configuration_policy import load_preset
from mobile_vla.policy.modeling_policy import build_policy
from mobile_vla.units import NS

S = NS  # a second, in nanoseconds


def run(*args):
    return subprocess.run([sys.executable, '-m', 'mobile_vla.cli', *args], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return str(save_checkpoint(build_policy(load_preset('clip_tiny')),
                               tmp_path_factory.mktemp('c') / 'clip_tiny'))


def test_infer_on_an_image_prints_the_action(checkpoint, tmp_path):
    image = tmp_path / 'frame.png'
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 256, (720, 1280, 3), np.uint8))
    out = run('infer', '--checkpoint', checkpoint, '--image', str(image), '--instruction',
              'go around the box on the left to the cup')
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ['t', '[s]', 'linear_x', 'linear_y']
    assert len(lines) == 2 and len(lines[1].split()) == 5


def test_infer_on_a_bag_follows_its_instructions_and_plots(checkpoint, tmp_path):
    bag = tmp_path / 'bag'
    rng = np.random.default_rng(1)
    with BagWriter(bag) as writer:
        writer.write_string('/vla/command', 'go around the box on the right to the cup', S)
        for n in range(6):
            writer.write_image('/camera/image', rng.integers(0, 256, (48, 64, 3), np.uint8),
                               S + (n + 1) * S // 10)
    out = run('infer', '--checkpoint', checkpoint, '--bag', str(bag), '--plot',
              str(tmp_path / 'a.png'))
    assert out.returncode == 0, out.stderr
    assert "instruction: 'go around the box on the right to the cup'" in out.stdout
    assert (tmp_path / 'a.png').stat().st_size > 5_000


def test_user_mistakes_end_in_one_line(checkpoint, tmp_path):
    out = run('infer', '--checkpoint', checkpoint, '--instruction', 'go')
    assert out.returncode == 2 and 'exactly one of --image, --video or --bag' in out.stderr
    out = run('infer', '--checkpoint', str(tmp_path), '--image', 'x.png', '--instruction', 'go')
    assert out.returncode == 2 and 'not a checkpoint folder' in out.stderr
    assert 'Traceback' not in out.stderr


def test_bench_prints_a_side_by_side_table(checkpoint):
    out = run('bench', '--checkpoint', checkpoint, '--engines', 'torch', 'onnx', '--steps', '3')
    assert out.returncode == 0, out.stderr
    assert 'torch-cpu-float32' in out.stdout and 'onnx-cpu' in out.stdout
    for row in ('preprocess', 'vision', 'temporal', 'total', 'steps/s', 'peak RSS MB'):
        assert row in out.stdout
