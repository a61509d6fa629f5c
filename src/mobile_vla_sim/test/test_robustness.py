"""Shift families: one factor each, beyond training, buildable; the robustness report."""

import pytest

from mobile_vla.policy.runner import untrained_runner
from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.robustness import UNSHIFTED, evaluate_shifts, shift_table
from mobile_vla_sim.shifts import FAMILIES, ShiftFamily
from mobile_vla_sim.world import RangeError


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
