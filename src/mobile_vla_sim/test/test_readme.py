"""Every simulator parameter is documented in the package README (default and meaning)."""

from pathlib import Path

import pytest

from mobile_vla.package_check import undocumented_parameters
from mobile_vla_sim.live import LiveSimConfig
from mobile_vla_sim.session import SimConfig

README = Path(__file__).resolve().parents[1] / 'README.md'


@pytest.mark.parametrize('config', [SimConfig, LiveSimConfig])
def test_readme_documents_every_parameter(config):
    missing = undocumented_parameters(README, config)
    assert not missing, f'README.md does not document: {missing}'
