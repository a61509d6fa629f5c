import sys
from pathlib import Path

import pytest
import torch

from mobile_vla.policy.configuration_policy import load_preset
from mobile_vla.policy.modeling_policy import build_policy

# The tests import their shared inputs (policy_inputs, training_data) from here.
sys.path.insert(0, str(Path(__file__).parent))
from training_data import make_episodes  # noqa: E402


@pytest.fixture(scope='module')
def policy():
    torch.manual_seed(0)
    return build_policy(load_preset('kosmos2_clip_tiny')).eval()


@pytest.fixture(scope='session')
def data(tmp_path_factory):
    return make_episodes(tmp_path_factory.mktemp('episodes'))
