"""What one closed-loop run did: success and its errors, SPL, plan tracking, the JSON."""

import json
import math

import numpy as np
import pytest

from mobile_vla_sim.results import RunResult, json_text, write_summary


def run(**changes) -> RunResult:
    base = dict(scenario='1box_vert_left', seed=7, instruction='go left to the cup',
                instructed_side='left', driver='policy', mode='vla')
    return RunResult(**{**base, **changes})


AT_CUP = {'reached': True, 'stopped_at_goal': True, 'outcome': 'plan_done'}


@pytest.mark.parametrize('changes, success, wrong_side', [
    ({**AT_CUP, 'passed_side': 'left'}, True, False),
    ({**AT_CUP, 'passed_side': 'right'}, False, True),
    ({'reached': False, 'passed_side': 'left'}, False, False),
    ({**AT_CUP, 'passed_side': None}, False, False),
    # came within the radius and drove on, or held still elsewhere: not success
    ({'reached': True, 'passed_side': 'left', 'outcome': 'timeout'}, False, False),
    ({'reached': True, 'passed_side': 'left', 'outcome': 'plan_done'}, False, False),
    ({'reached': True, 'passed_side': 'right', 'outcome': 'plan_done'}, False, True),
    # a goal room: the words chose the object, any side
    ({'goal': True, **AT_CUP, 'passed_side': 'right'}, True, False),
    ({'goal': True, 'reached': True, 'passed_side': 'right', 'outcome': 'timeout'},
     False, False),
    ({'goal': True, **AT_CUP, 'wrong_object': 'red ball'}, False, False),
    # a room without the named object: reaching nothing and hitting nothing is right
    ({'goal': True, 'absent': True, 'outcome': 'not_found'}, True, False),
    ({'goal': True, 'absent': True, 'wrong_object': 'blue cup'}, False, False),
    ({'goal': True, 'absent': True, 'collision': True}, False, False),
    ({'goal': True, 'absent': True, 'outcome': 'failed: worker died'}, False, False),
    # its navigation step ran out of time having reached nothing: it found nothing
    ({'goal': True, 'absent': True, 'outcome': 'plan_failed'}, True, False),
])
def test_success_and_wrong_side(changes, success, wrong_side):
    result = run(**changes)
    assert (result.success, result.wrong_side) == (success, wrong_side)


@pytest.mark.parametrize('changes, away', [
    ({'outcome': 'plan_done'}, True),  # held still short of the cup, or past it
    ({'outcome': 'plan_done', 'reached': True}, True),
    ({**AT_CUP}, False),
    ({'outcome': 'timeout'}, False),
    ({'outcome': 'plan_refused'}, False),
    ({'goal': True, 'absent': True, 'outcome': 'plan_done'}, False),  # nothing to stop at
])
def test_stopped_away_is_a_plan_that_arrived_elsewhere(changes, away):
    assert run(**changes).stopped_away == away


def test_spl_weighs_success_by_the_shortest_path():
    result = run(**AT_CUP, passed_side='left', shortest_m=3.0,
                 path=[(0.0, 0.0), (0.0, 2.0), (3.0, 2.0)])
    assert result.path_length == pytest.approx(5.0)
    assert result.spl == pytest.approx(0.6)
    result.path = [(0.0, 0.0), (1.0, 0.0)]  # shorter than the shortest: capped at 1
    assert result.spl == 1.0
    result.passed_side = 'right'
    assert result.spl == 0.0 and run().path_length == 0.0


def test_plan_steps_follow_the_status_as_it_goes():
    result = run(instruction='go left around the box, then stop at the cup')
    status = [({'state': 'running', 'step': 1, 'kind': 'navigate', 'text': 'go left'}, 0.5),
              ({'state': 'running', 'step': 1, 'kind': 'navigate', 'text': 'go left'}, 1.0),
              ({'state': 'running', 'step': 2, 'kind': 'navigate', 'text': 'the cup',
                'target': {'kind': 'cup', 'colour': '', 'place': ''}}, 4.0),
              ({'state': 'done', 'step': 2}, 9.0)]
    for k, (message, now) in enumerate(status):
        result.track_plan(message, [float(k), 0.0, 0.0], now)
    first, second = result.plan_steps
    assert (first['text'], first['started_s'], first['ended_s'], first['state']) == \
        ('go left', 0.5, 4.0, 'done')
    assert first['end_pose'] == [2.0, 0.0, 0.0] == second['start_pose']
    assert (second['ended_s'], second['state'], result.plan_state) == (9.0, 'done', 'done')
    # each step keeps the target vla/status named (None: the words named none)
    assert first['target'] is None and second['target']['kind'] == 'cup'


def test_a_failed_step_keeps_its_state():
    result = run()
    result.track_plan({'state': 'running', 'step': 1, 'kind': 'navigate', 'text': 'x'},
                      [0.0, 0.0, 0.0], 0.0)
    result.track_plan({'state': 'failed', 'step': 1}, [1.0, 0.0, 0.0], 2.0)
    assert result.plan_steps[0]['state'] == 'failed'


def test_the_summary_is_json_with_numpy_values_and_no_nan(tmp_path):
    result = run(**AT_CUP, passed_side='left', shortest_m=2.0,
                 path=[(0.0, 0.0), (2.0, 0.0)],
                 layout={'cup': np.array([3.0, 0.1]), 'light': np.float32(0.5),
                         'offset': math.nan})
    path = write_summary(result, tmp_path / 'runs' / 'r.json')
    data = json.loads(path.read_text())
    assert data['success'] and data['spl'] == 1.0 and data['path_length_m'] == 2.0
    assert data['layout'] == {'cup': [3.0, 0.1], 'light': 0.5, 'offset': None}
    assert json.loads(json_text({'spl': np.float64('nan'), 'n': np.int64(3)})) == \
        {'spl': None, 'n': 3}
    with pytest.raises(TypeError, match='not JSON serialisable: object'):
        write_summary(run(layout={'x': object()}), tmp_path / 'bad.json')
