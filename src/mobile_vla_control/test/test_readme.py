"""Every node parameter is documented in the package README (default and meaning)."""

from pathlib import Path

import pytest

from mobile_vla.package_check import undocumented_parameters
from mobile_vla_control.arbiter_config import ArbiterConfig
from mobile_vla_control.teleop import TeleopConfig

README = Path(__file__).resolve().parents[1] / 'README.md'


@pytest.mark.parametrize('config', [ArbiterConfig, TeleopConfig])
def test_readme_documents_every_parameter(config):
    missing = undocumented_parameters(README, config)
    assert not missing, f'README.md does not document: {missing}'
