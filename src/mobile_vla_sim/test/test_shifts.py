"""Shift families: one factor each, beyond training, buildable; the robustness report."""

import pytest

from mobile_vla.cli import main as cli_main
from mobile_vla.policy.runner import untrained_runner
from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.robustness import UNSHIFTED, evaluate_shifts, shift_table
from mobile_vla_sim.shifts import FAMILIES, ShiftFamily, beyond_training, resolve
from mobile_vla_sim.world import FACTORS, RangeError, sample_layout


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


def test_the_report_compares_each_family_with_the_same_seeds_unshifted():
    runner = untrained_runner('kosmos2_clip_tiny')
    mine = ShiftFamily('floor_black', 'a black floor', {'floor_value': (0.0, 0.02)})
    report = evaluate_shifts(runner, [mine, FAMILIES['cup_near']], 1,
                             scenarios=('1box_vert_left',),
                             sim=SimConfig(width=96, height=54, time_limit_s=1.5))
    rows = {r['family']: r for r in report['rows']}
    assert list(rows) == [UNSHIFTED, 'floor_black', 'cup_near']
    for row in rows.values():
        assert row['episodes'] == 1
        assert row['drop_points'] == round((rows[UNSHIFTED]['success'] - row['success']) * 100,
                                           1)
    shifts = [r['layout']['shift'] for r in report['runs']]
    assert shifts == ['', 'floor_black', 'cup_near']
    assert {r['seed'] for r in report['runs']} == {report['first_seed']}
    text = shift_table(report)
    assert '| floor_black | a black floor | 1 |' in text and 'worst family' in text
    with pytest.raises(RangeError, match='floor_value: bounds are reversed'):
        evaluate_shifts(runner, [ShiftFamily('x', '', {'floor_value': (0.5, 0.1)})], 1)
