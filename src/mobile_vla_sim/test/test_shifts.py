"""Shift families: one factor each, beyond training, buildable; the robustness report."""

import pytest

from mobile_vla.cli import main as cli_main
from mobile_vla_sim.shifts import FAMILIES, beyond_training, resolve
from mobile_vla_sim.world import FACTORS, sample_layout


def test_every_family_moves_one_factor_beyond_its_training_range():
    assert len(FAMILIES) >= 10
    for family in FAMILIES.values():
        assert len(family.ranges) == 1 and beyond_training(family), family.name
        (factor, (low, high)), = family.ranges.items()
        lay = sample_layout('1box_vert_left', 3, family.ranges, family.name)
        value = lay.factors[factor]
        drawn = abs(value) if FACTORS[factor].symmetric else value
        assert low <= drawn <= high and lay.shift == family.name


def test_all_and_names_resolve_and_an_unknown_name_lists_the_known_ones(capsys):
    assert resolve(['all']) == list(FAMILIES.values())
    assert [f.name for f in resolve(['cup_far', 'light_dim', 'cup_far'])] == [
        'cup_far', 'light_dim']
    with pytest.raises(ValueError, match='known: all, light_dim, light_bright'):
        resolve(['fog'])
    assert cli_main(['sim', 'eval', '--shift', 'fog']) == 2
    err = capsys.readouterr().err
    assert "unknown shift family 'fog'" in err and 'cup_near' in err
