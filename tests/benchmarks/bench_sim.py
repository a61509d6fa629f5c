"""Speed figures of the simulator (issue: closed-loop simulator and ``make demo``).

- Closed-loop steps per second with the tiny preset: one step is one camera frame
  of the policy-driven loop (render + policy + arbiter ticks + physics and every
  message in between). Per-step wall time, median and p95 over all steps of the
  episodes, against the render alone in the same run (the baseline share).
- Episodes per minute of ``sim collect`` (expert, recorder, 18-frame episodes
  written with the recorder's compression).
- Workers: the same ``sim eval`` episodes on one worker process and on N (each its
  own world and policy), episodes per minute of each and their ratio, timed in the same
  run, with the per-seed results compared (they must be equal). ``--rounds`` repeats
  the pair for a median.

    python tests/benchmarks/bench_sim.py [--checkpoint models/demo] [--episodes 16]
    python tests/benchmarks/bench_sim.py --workers 2 --episodes 48 [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from mobile_vla.policy.runner import runner_from_checkpoint, untrained_runner
from mobile_vla.resources import workspace_dir
from mobile_vla.scenarios import SCENARIOS
from mobile_vla_recorder.store import EpisodeStore
from mobile_vla_sim import EVAL_SEED
from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.evaluate import EpisodeJob, PolicySource, instruction_for, run_episodes
from mobile_vla_sim.session import SimSession
from mobile_vla_sim.world import sample_layout


def closed_loop(runner, episodes: int, sim: SimConfig) -> None:
    step_ms, render_ms, steps, wall = [], [], 0, 0.0
    for k in range(episodes):
        name = SCENARIOS[k % len(SCENARIOS)]
        seed = EVAL_SEED + k // len(SCENARIOS)
        with SimSession(sample_layout(name, seed), instruction_for(name, seed), runner=runner,
                        sim=sim, record=False) as session:
            # time each frame-to-frame interval of the loop, and the render inside it
            marks: list[float] = []
            render = session.world.render

            def timed_render(marks=marks, render=render):
                t0 = time.perf_counter()
                marks.append(t0)
                image = render()
                render_ms.append((time.perf_counter() - t0) * 1e3)
                return image

            session.world.render = timed_render
            t0 = time.perf_counter()
            result = session.run()
            end = time.perf_counter()
            wall += end - t0
            marks.append(end)
            step_ms.extend(np.diff(marks) * 1e3)
            steps += result.frames
    step = np.array(step_ms)
    print(f'closed loop ({sim.width}x{sim.height} render, {episodes} episodes, {steps} steps): '
          f'{steps / wall:.1f} steps/s; per step {np.median(step):.1f} ms median / '
          f'{np.percentile(step, 95):.1f} ms p95; render alone {np.median(render_ms):.1f} ms '
          f'median ({np.median(render_ms) / np.median(step):.0%} of a step)')


def collect(episodes: int, sim: SimConfig) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = EpisodeStore(Path(tmp))
        t0 = time.perf_counter()
        for k in range(episodes):
            name = SCENARIOS[k % len(SCENARIOS)]
            with SimSession(sample_layout(name, k), instruction_for(name, k), driver='expert',
                            sim=sim) as session:
                result = session.run()
            store.write(result.episode)
        minutes = (time.perf_counter() - t0) / 60
    print(f'sim collect ({sim.width}x{sim.height}): {episodes / minutes:.0f} episodes per minute '
          f'({minutes * 60 / episodes:.2f} s per 18-frame episode, written)')


def workers(checkpoint: str, episodes: int, count: int, rounds: int) -> None:
    """Throughput of ``sim eval`` on one worker and on ``count``, paired, per round."""
    jobs = [EpisodeJob(SCENARIOS[k % len(SCENARIOS)], EVAL_SEED + k // len(SCENARIOS))
            for k in range(episodes)]
    source = PolicySource(checkpoint)
    rates: dict[int, list[float]] = {1: [], count: []}
    for _ in range(rounds):
        summaries = {}
        for n in (1, count):  # each timing includes the workers' start (loading the policy)
            t0 = time.perf_counter()
            results = run_episodes(source, jobs, n)
            rates[n].append(episodes / ((time.perf_counter() - t0) / 60))
            summaries[n] = [r.summary() for r in results]
        assert summaries[1] == summaries[count], 'results differ between worker layouts'
    one, many = np.median(rates[1]), np.median(rates[count])
    print(f'sim eval, {episodes} episodes x {rounds} rounds: 1 worker {one:.1f} episodes/min, '
          f'{count} workers {many:.1f} episodes/min (median); throughput ratio '
          f'{many / one:.2f}x (per round: '
          + ', '.join(f'{b / a:.2f}x' for a, b in zip(rates[1], rates[count], strict=True))
          + '); per-seed results identical')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', default=str(workspace_dir() / 'models' / 'demo'))
    parser.add_argument('--episodes', type=int, default=16)
    parser.add_argument('--workers', type=int, default=0,
                        help='compare sim eval on 1 and on this many worker processes')
    parser.add_argument('--rounds', type=int, default=1)
    args = parser.parse_args()
    if args.workers:
        workers(args.checkpoint, args.episodes, args.workers, args.rounds)
        return
    if (Path(args.checkpoint) / 'config.json').is_file():
        runner = runner_from_checkpoint(args.checkpoint)
        print(f'policy: {args.checkpoint}')
    else:
        runner = untrained_runner('kosmos2_clip_tiny')
        print('policy: untrained kosmos2_clip_tiny (no demo checkpoint found)')
    for sim in (SimConfig(), SimConfig(width=1280, height=720)):
        closed_loop(runner, args.episodes, sim)
    collect(args.episodes, SimConfig())


if __name__ == '__main__':
    main()
