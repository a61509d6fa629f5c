import sys
from pathlib import Path

import pytest
import torch

from mobile_vla.episode import write_episode
from mobile_vla.policy.configuration_policy import load_preset
from mobile_vla.policy.modeling_policy import build_policy

# The tests import their shared inputs (policy_inputs, training_data) from here.
sys.path.insert(0, str(Path(__file__).parent))
from training_data import make_episodes, small_episode  # noqa: E402


@pytest.fixture(scope='module')
def policy():
    torch.manual_seed(0)
    return build_policy(load_preset('kosmos2_clip_tiny')).eval()


@pytest.fixture(scope='session')
def data(tmp_path_factory):
    return make_episodes(tmp_path_factory.mktemp('episodes'))


@pytest.fixture
def folder(tmp_path):
    """Three small episodes, one of them short (12 frames)."""
    for i, scenario in enumerate(['1box_vert_left', '2box_hori_right', '1box_hori_left']):
        write_episode(tmp_path / f'episode_2026010{i}_000000_{scenario}.h5',
                      small_episode(scenario, frames=18 if i < 2 else 12))
    return tmp_path
