"""Episodes on worker processes: the same results per seed as one process, and a worker
that dies loses only its own run."""

import os
import sys
from pathlib import Path

import pytest

from mobile_vla.cli import main as cli_main
from mobile_vla.policy.runner import untrained_runner
from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.evaluate import EpisodeJob, run_episodes
from mobile_vla_sim.workers import Failure, check_workers, run_jobs

sys.path.insert(0, str(Path(__file__).parent))  # spawned workers import the jobs from here
from worker_jobs import die_on_three, hang_on_one, square  # noqa: E402

SMALL = SimConfig(width=96, height=54, time_limit_s=2.0)


def test_workers_return_results_in_job_order_and_a_dead_worker_loses_only_its_job():
    own = os.environ.pop('LP_NUM_THREADS', None)
    try:  # the workers render on one thread each; this process keeps its own setting
        assert run_jobs(list(range(7)), square, workers=2) == [0, 1, 4, 9, 16, 25, 36]
        assert 'LP_NUM_THREADS' not in os.environ
    finally:
        if own is not None:
            os.environ['LP_NUM_THREADS'] = own
    results = run_jobs(list(range(8)), die_on_three, workers=2)
    assert [r for r in results if not isinstance(r, Failure)] == [0, 1, 2, 5, 6, 7]
    dead, bad = results[3], results[4]
    assert isinstance(dead, Failure) and 'died (killed by SIGKILL)' in dead.reason
    assert isinstance(bad, Failure) and bad.reason.startswith('ValueError: a bad job')
    hung = run_jobs([0, 1, 2], hang_on_one, workers=2, job_timeout_s=2.0)
    assert hung[0] == 0 and hung[2] == 2
    assert isinstance(hung[1], Failure) and 'took more than 2 s' in hung[1].reason


def test_more_workers_than_cpus_or_fewer_than_one_is_an_error_naming_it():
    with pytest.raises(ValueError, match='--workers must be at least 1'):
        check_workers(0)
    with pytest.raises(ValueError, match='more than this machine can run'):
        check_workers(10_000)
    assert cli_main(['sim', 'collect', '--episodes', '1', '--workers', '0']) == 2


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason='needs two CPUs')
def test_two_workers_give_the_same_runs_as_one(tmp_path):
    jobs = [EpisodeJob(name, seed, sim=SimConfig(width=96, height=54), driver='expert')
            for seed in (7, 8) for name in ('1box_vert_left', '2box_hori_right')]
    one = [r.summary() for r in run_episodes(None, jobs, workers=1)]
    two = [r.summary() for r in run_episodes(None, jobs, workers=2)]
    assert one == two and all(r['outcome'] == 'episode_done' for r in one)


def test_a_worker_that_cannot_load_its_policy_says_why():
    from mobile_vla_sim.evaluate import PolicySource

    jobs = [EpisodeJob('1box_vert_left', 1, sim=SMALL)] * 2
    with pytest.raises(Exception, match='nowhere'):
        run_episodes(PolicySource('/nowhere/at/all'), jobs, workers=2)
    with pytest.raises(ValueError, match='PolicySource'):
        run_episodes(untrained_runner('kosmos2_clip_tiny'), jobs, workers=2)
