import pytest

from mobile_vla.policy.runner import untrained_runner


@pytest.fixture(scope='module')
def runner():
    """The tiny preset's policy, untrained: closed-loop runs without a checkpoint."""
    return untrained_runner('kosmos2_clip_tiny')
