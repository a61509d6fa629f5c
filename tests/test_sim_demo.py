"""The committed demo checkpoint drives the simulated robot (a fixed subset).

The full figures are in models/demo/TRAINING.md, made by `make train-demo`; this
checks the first two rooms per scenario of that evaluation (seeds 100000-100001,
never seen in training), with both instructions of each room. Runs are deterministic,
so these are the same runs as in the evaluation: 7 of 16 reach the cup and 4 of them
stop there (success), none on the wrong side, one collision (10 % of the 160
evaluation runs collide). The bounds below are those figures, as a regression guard;
the checkpoint is far from the goals (TRAINING.md says where it fails).
"""

import os
from pathlib import Path

import pytest

from mobile_vla_sim import EVAL_SEED
from mobile_vla_sim.evaluate import PolicySource, evaluate_policy
from mobile_vla_sim.robustness import evaluate_arrival

DEMO = Path(__file__).resolve().parents[1] / 'models' / 'demo'
WORKERS = min(2, len(os.sched_getaffinity(0)))
# One evaluation serves every test here: under pytest-xdist they run in one process.
pytestmark = pytest.mark.xdist_group('sim_demo')


@pytest.fixture(scope='module')
def demo():
    if not (DEMO / 'config.json').is_file():
        pytest.fail('models/demo is missing: run `make train-demo` and commit the checkpoint')
    return PolicySource(str(DEMO))


@pytest.fixture(scope='module')
def report(demo):
    return evaluate_policy(demo, 2, seed=EVAL_SEED, workers=WORKERS)


def test_demo_checkpoint_reaches_and_stops_at_the_cup_in_closed_loop(report):
    overall = report['overall']
    assert overall['reached'] >= 7 / 16, report['scenarios']
    assert overall['success'] >= 4 / 16, report['scenarios']
    assert overall['collisions'] <= 1 / 16


def test_demo_checkpoint_never_passes_on_the_wrong_side(report):
    lang = report['language_test']
    assert lang['pairs'] == 8
    assert lang['wrong_side'] == 0


def test_an_arrival_run_goes_on_past_the_cup_until_the_plan_ends(demo):
    """``--arrival``: a run is not ended by passing near the cup; it ends when the
    navigation step arrives (the policy held still), fails, or times out, and the report
    says where the robot stopped."""
    report = evaluate_arrival(demo, [1.8, 4.5], 1, seed=EVAL_SEED,
                              scenarios=('1box_vert_left', '2box_hori_right'), workers=WORKERS)
    assert [r['distance_m'] for r in report['rows']] == [1.8, 4.5]
    for run in report['runs']:
        assert run['outcome'] in ('plan_done', 'plan_failed', 'timeout', 'collision'), run
        assert run['layout']['cup'][0] - run['layout']['robot'][0] in (
            pytest.approx(1.8), pytest.approx(4.5))
        if run['outcome'] == 'plan_done':
            assert run['plan_steps'][-1]['state'] == 'done'
    for row in report['rows']:
        assert 0 <= row['success'] <= row['arrived'] <= 1
        assert row['success'] <= row['reached']
