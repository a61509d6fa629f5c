"""Every simulator parameter is documented in the package README (default and meaning)."""

from pathlib import Path

import pytest

from mobile_vla.package_check import undocumented_parameters
from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.live import LiveSimConfig

README = Path(__file__).resolve().parents[1] / 'README.md'


@pytest.mark.parametrize('config', [SimConfig, LiveSimConfig])
def test_readme_documents_every_parameter(config):
    missing = undocumented_parameters(README, config)
    assert not missing, f'README.md does not document: {missing}'


@pytest.mark.parametrize('marker, module', [('ranges-table', 'world'),
                                            ('shifts-table', 'shifts')])
def test_the_readme_tables_are_the_ones_the_definitions_give(marker, module):
    import importlib

    table = {'world': 'ranges_table', 'shifts': 'families_table'}[module]
    want = getattr(importlib.import_module(f'mobile_vla_sim.{module}'), table)()
    text = README.read_text()
    begin, end = f'<!-- {marker}:begin -->\n', f'<!-- {marker}:end -->'
    assert begin in text and end in text
    assert text.split(begin, 1)[1].split(end, 1)[0] == want, \
        f'README.md {marker} is out of date: python -m mobile_vla_sim.{module} prints it'
