import sys
from pathlib import Path

import pytest
import torch

from mobile_vla.policy.configuration_policy import load_preset
from mobile_vla.policy.modeling_policy import build_policy

sys.path.insert(0, str(Path(__file__).parent))  # the tests import policy_inputs from here


@pytest.fixture(scope='module')
def policy():
    torch.manual_seed(0)
    return build_policy(load_preset('kosmos2_clip_tiny')).eval()
