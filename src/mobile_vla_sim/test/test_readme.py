"""Every simulator parameter is documented in the package README (default and meaning)."""

from pathlib import Path

from mobile_vla.package_check import undocumented_parameters
from mobile_vla_sim.session import SimConfig

README = Path(__file__).resolve().parents[1] / 'README.md'


def test_readme_documents_every_parameter():
    missing = undocumented_parameters(README, SimConfig)
    assert not missing, f'README.md does not document: {missing}'
