"""A `stop` and a `manual` from every client profile people publish with, against a
driving graph under real rclpy: the time to zero on cmd_vel, against a baseline
checkout in the same run.

The inference (``models/demo``) and the arbiter (``vla`` mode) run as processes. A
latched publisher, as the web console is, makes the policy drive ("move forward 3 m",
a motion step). Then, for each client profile of ``mobile_vla.qos.CLIENT_PUBLISHERS``,
a publisher at that profile sends, in turn, ``stop`` on ``vla/command`` and ``manual``
on ``control/mode``; one sample is the time from the publish to the first ``cmd_vel``
that is zero (the arbiter's deceleration limit included: 0.3 m/s at 4.6 m/s^2 is 65 ms
of ramp). A message the graph never hears counts as lost (2 s). The baseline is
another commit (``--baseline``, default the commit before inputs heard default-profile
publishers), run from its sources as ``bench_graph.py`` runs one.

    python tests/benchmarks/bench_qos.py [--trials 50] [--baseline REF|none]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests'))
sys.path.insert(0, str(ROOT / 'tests' / 'benchmarks'))

#: The graph before every input heard default-profile publishers (issue 25).
BASELINE_REF = '1d25085'
DRIVE = 'move forward 3 m'
LOST_S = 2.0


def run_configuration(root: Path, trials: int) -> dict:
    from bench_graph import NODE_MODULES, PACKAGES, percentiles
    from rclpy import qos as rclpy_qos
    from ros_harness import NodeProcess, Probe, is_zero, new_domain_id

    from mobile_vla import qos, topics
    from mobile_vla.graph import ARBITER, INFERENCE
    from mobile_vla.ros_bus import message_class

    baseline = root != ROOT
    log_dir = Path(tempfile.mkdtemp(prefix='bench_qos_'))
    domain_id = new_domain_id()
    env, nodes = {}, {}
    if baseline:
        env = {'PYTHONPATH': ':'.join(str(root / 'src' / p) for p in PACKAGES),
               'MOBILE_VLA_HOME': str(root)}
    for spec, values in ((INFERENCE, {'checkpoint': str(ROOT / 'models' / 'demo')}),
                         (ARBITER, {'initial_mode': 'vla'})):
        command = [sys.executable, '-c', f'import sys; from {NODE_MODULES[spec.name]} import '
                   'main; sys.exit(main())'] if baseline else None
        nodes[spec.name] = NodeProcess(spec, log_dir, domain_id,
                                       params_file=root / 'config' / spec.config,
                                       overrides=values, env=env, command=command)
    probe = Probe(domain_id)
    string = message_class('std_msgs/msg/String')
    out: dict = {'config': 'baseline' if baseline else 'this checkout', 'logs': str(log_dir),
                 'profiles': {}}
    try:
        cmd = probe.listen_to(topics.CMD_VEL)
        latched = topics.VLA_COMMAND.publisher_qos.profile(rclpy_qos)
        driver = probe.node.create_publisher(string, topics.VLA_COMMAND.name, latched)
        vla = probe.node.create_publisher(string, topics.CONTROL_MODE.name, latched)
        if not probe.wait_for_reader(driver, INFERENCE.name, 60.0):
            raise RuntimeError(f'the inference never subscribed; logs in {log_dir}')

        def drive() -> bool:
            vla.publish(_string('vla'))
            driver.publish(_string(DRIVE))
            return probe.spin_until(lambda: cmd and not is_zero(cmd[-1][1]), 30.0)

        def zero_after(publisher, text: str) -> float | None:
            sent = time.monotonic()
            publisher.publish(_string(text))
            if not probe.spin_until(lambda: cmd[-1][0] > sent and is_zero(cmd[-1][1]), LOST_S):
                return None
            return (next(t for t, m in cmd if t > sent and is_zero(m)) - sent) * 1e3

        if not drive():
            raise RuntimeError(f'the graph never drove; logs in {log_dir}')
        for client in qos.CLIENT_PUBLISHERS:
            profile = client.profile(rclpy_qos)
            stop = probe.node.create_publisher(string, topics.VLA_COMMAND.name, profile)
            manual = probe.node.create_publisher(string, topics.CONTROL_MODE.name, profile)
            probe.spin_for(1.0)  # discovery: matched where the QoS allows
            figures = {}
            for publisher, text in ((stop, 'stop'), (manual, 'manual')):
                samples, lost = [], 0
                for _ in range(trials):
                    if not drive():
                        raise RuntimeError(f'the graph stopped driving; logs in {log_dir}')
                    probe.spin_for(0.2)
                    ms = zero_after(publisher, text)
                    if ms is None:
                        lost += 1
                    else:
                        samples.append(ms)
                figures[text] = {**percentiles(samples), 'lost': lost}
            out['profiles'][client.key] = figures
            probe.node.destroy_publisher(stop)
            probe.node.destroy_publisher(manual)
    finally:
        probe.close()
        for node in nodes.values():
            node.stop()
    return out


def _string(text: str):
    from std_msgs.msg import String

    return String(data=text)


def show(result: dict) -> None:
    print(f"\n== {result['config']} (node logs: {result['logs']})")
    print('| client profile | stop: p50 / p95 ms (lost) | manual: p50 / p95 ms (lost) |')
    print('|---|---|---|')
    for key, figures in result['profiles'].items():
        cells = [f"{f.get('p50', '-')} / {f.get('p95', '-')} ({f['lost']} of "
                 f"{f['n'] + f['lost']} lost)" for f in (figures['stop'], figures['manual'])]
        print(f'| {key} | {cells[0]} | {cells[1]} |')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--trials', type=int, default=50)
    parser.add_argument('--baseline', default=BASELINE_REF, help="git ref; 'none' to skip")
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_configuration(Path(args.child), args.trials)))
        return
    from bench_graph import baseline_checkout

    print(f'stop / manual from each client profile, {args.trials} trials each')
    roots = [ROOT]
    if args.baseline != 'none':
        roots.append(baseline_checkout(args.baseline))
    try:
        for root in roots:
            result = subprocess.run([sys.executable, __file__, '--child', str(root),
                                     '--trials', str(args.trials)],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise SystemExit(f'{root} failed:\n{result.stderr[-3000:]}')
            show(json.loads(result.stdout.strip().splitlines()[-1]))
    finally:
        for root in roots[1:]:
            subprocess.run(['git', '-C', str(ROOT), 'worktree', 'remove', '--force',
                            str(root)], capture_output=True)


if __name__ == '__main__':
    main()
