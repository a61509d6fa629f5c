from pathlib import Path

import pytest
import torch

from mobile_vla.policy.checkpoint import save_checkpoint
from mobile_vla.policy.configuration_policy import load_preset
from mobile_vla.policy.modeling_policy import build_policy


@pytest.fixture(scope='session')
def workspace_config() -> Path:
    return Path(__file__).resolve().parents[3] / 'config'


@pytest.fixture(scope='session')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    policy = build_policy(load_preset('kosmos2_clip_tiny'))
    with torch.no_grad():  # a visible, non-zero output for an untrained head
        policy.head.mlp[-1].bias.fill_(0.5)
    return str(save_checkpoint(policy, tmp_path_factory.mktemp('ckpt') / 'tiny'))
