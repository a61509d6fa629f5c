"""``mobile-vla eval``: the offline report of a checkpoint (metrics per scenario, event
type and horizon, plots) and the comparison of two checkpoints."""

import subprocess
import sys

from training_data import config

from mobile_vla.scenarios import SCENARIOS
from mobile_vla.training.evaluate import evaluate
from mobile_vla.training.trainer import Trainer


def test_eval_report_plots_and_comparison(tmp_path, data):
    Trainer(config(tmp_path, data, epochs=3, run_name='e')).fit()
    best = tmp_path / 'runs' / 'e' / 'checkpoints' / 'best'
    report = evaluate(best, [str(data)], tmp_path / 'report', str(tmp_path / 'cache'))
    overall = report['overall']
    assert overall['samples'] == 12 * 18
    assert set(overall) >= {'mae', 'acc@0.1', 'acc@0.2', 'acc@0.3', 'r2', 'pearson'}
    assert set(report['per_scenario']) == set(SCENARIOS)
    assert set(report['per_event_type']) == {'episode_start', 'start_action', 'stop_action'}
    assert len(report['mae_by_horizon']) == 10
    for name in ('report.json', 'traces.png', 'horizon.png', 'directions.png'):
        assert (tmp_path / 'report' / name).is_file()
    out = subprocess.run(
        [sys.executable, '-m', 'mobile_vla.cli', 'eval', '--checkpoint', str(best),
         '--checkpoint', str(tmp_path / 'runs' / 'e' / 'checkpoints' / 'last'),
         '--data', str(data), '--cache-dir', str(tmp_path / 'cache')],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    header = out.stdout.splitlines()[0]
    assert 'best' in header and 'last' in header and 'acc@0.3' in out.stdout
