"""The robot graph under real rclpy: frame rates per consumer, camera-to-wheels latency,
CPU and memory per node, against a baseline checkout in the same run.

Each configuration runs in a child process of its own (its own DDS participant and
transport settings) with the real nodes as processes, as ``ros2 launch`` starts
them: camera (synthetic 1280x720 at 30 Hz), inference (``models/demo``, torch CPU),
arbiter (``vla`` mode) and recorder. The figures:

- **frames per second** of the 720p stream and the policy stream as each consumer
  receives them: the nodes' own diagnostics (``frames.rate_hz``, frames missed), and
  a probe in its own process subscribed to ``camera/image`` like the recorder (the
  only figure the baseline reports, its nodes count no frames);
- **camera to cmd_vel latency**: the camera process is paused (SIGSTOP) until the
  policy and the arbiter have gone to zero on the stale frame, then resumed; the
  time from the resume to the first non-zero ``/cmd_vel`` is one sample (the first
  frame is captured at the resume). p50 / p95 over ``--trials``; for this checkout
  also the inference node's steady-state capture-stamp-to-action delay;
- **CPU share and RSS** of each node over the streaming phase.

This checkout runs as installed by ``make build`` (``make bench`` builds first; the
symlink install runs the sources). The baseline is another commit (``--baseline``,
default the commit before this benchmark's graph changes), checked out into a
temporary git worktree and run from its sources, with the Fast DDS settings it had:
the same figures for "today's" graph.

    python tests/benchmarks/bench_graph.py [--trials 40] [--seconds 10] [--baseline REF]
    python tests/benchmarks/bench_graph.py --soak 600 --baseline none   # 10 min, episodes
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests'))

#: The graph before frame-driven inference, the policy image stream and the transport
#: profile (issue 16).
BASELINE_REF = '9be9da8'
INSTRUCTION = 'go around the box on the left to the cup'
NODE_MODULES = {
    'camera_publisher': 'mobile_vla_camera.camera_publisher_node',
    'vla_inference': 'mobile_vla_inference.vla_inference_node',
    'control_arbiter': 'mobile_vla_control.control_arbiter_node',
    'episode_recorder': 'mobile_vla_recorder.episode_recorder_node',
}
PACKAGES = ('mobile_vla', 'mobile_vla_camera', 'mobile_vla_inference', 'mobile_vla_control',
            'mobile_vla_recorder')
#: The soak's RSS samples start after this warm-up.
SOAK_WARMUP_S = 120.0
PAGE = os.sysconf('SC_PAGE_SIZE')
TICKS = os.sysconf('SC_CLK_TCK')


# ----------------------------------------------------------------- process figures
def cpu_seconds(pid: int) -> float:
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    return int(Path(f'/proc/{pid}/statm').read_text().split()[1]) * PAGE / 2**20


def percentiles(values: list[float]) -> dict[str, float]:
    import numpy as np

    if not values:
        return {'n': 0}
    p50, p95 = np.percentile(values, [50, 95])
    return {'n': len(values), 'p50': round(float(p50), 1), 'p95': round(float(p95), 1),
            'max': round(float(max(values)), 1)}


# ------------------------------------------------------------ one configuration
def diagnostics_values(messages: list, name: str) -> dict[str, str]:
    for _, msg in reversed(messages):
        for status in msg.status:
            if status.name == name:
                return {kv.key: kv.value for kv in status.values}
    return {}


def start_graph(root: Path, log_dir: Path, domain_id: int, baseline: bool) -> dict:
    from ros_harness import NodeProcess

    from mobile_vla.graph import ARBITER, CAMERA, INFERENCE, RECORDER

    env = {}
    command = None
    if baseline:  # run the other checkout from its source, with its own share files
        path = os.pathsep.join(str(root / 'src' / p) for p in PACKAGES)
        env = {'PYTHONPATH': path + os.pathsep + os.environ.get('PYTHONPATH', ''),
               'MOBILE_VLA_HOME': str(root)}
    overrides = {
        CAMERA: {'source': 'synthetic', 'width': 1280, 'height': 720, 'fps': 30.0},
        INFERENCE: {'checkpoint': str(ROOT / 'models' / 'demo')},
        ARBITER: {'initial_mode': 'vla'},
        RECORDER: {'output_dir': str(log_dir / 'episodes'), 'min_free_mb': 0.0},
    }
    nodes = {}
    for spec, values in overrides.items():
        if baseline:
            module = NODE_MODULES[spec.name]
            command = [sys.executable, '-c',
                       f'import sys; from {module} import main; sys.exit(main())']
        nodes[spec.name] = NodeProcess(
            spec, log_dir, domain_id, params_file=root / 'config' / spec.config,
            overrides=values, env=env, command=command)
    return nodes


def run_configuration(args: argparse.Namespace) -> dict:
    """In the child process: start the graph, measure, stop; the figures as a dict."""
    from ros_harness import Probe, new_domain_id

    from mobile_vla import topics

    baseline = args.root != str(ROOT)
    root = Path(args.root)
    log_dir = Path(tempfile.mkdtemp(prefix='bench_graph_'))
    domain_id = new_domain_id()
    nodes = start_graph(root, log_dir, domain_id, baseline)
    probe = Probe(domain_id)
    out: dict = {'config': 'baseline' if baseline else 'this checkout', 'logs': str(log_dir)}
    try:
        cmd = probe.listen_to(topics.CMD_VEL)
        diagnostics = probe.listen_to(topics.DIAGNOSTICS)
        command = probe.publisher(topics.VLA_COMMAND)
        probe.wait_for_reader(command, 'vla_inference', 60.0)  # as `ros2 topic pub -w` waits
        command.publish(_string(INSTRUCTION))
        moving = lambda: cmd and _nonzero(cmd[-1][1])  # noqa: E731
        if not probe.spin_until(moving, 90.0):
            raise RuntimeError('the graph never drove; logs in ' + str(log_dir))
        probe.spin_for(3.0)  # warm: the model's first steps, the history window filled
        out['stream'] = measure_stream(probe, nodes, diagnostics, args.seconds)
        if args.soak:
            out['soak'] = soak(probe, nodes, diagnostics, args.soak)
        else:
            out['latency'] = latency_trials(probe, nodes['camera_publisher'], cmd, args.trials,
                                            args.pause, command)
    finally:
        for node in nodes.values():
            if node.process.poll() is None:
                os.kill(node.process.pid, signal.SIGCONT)
            node.stop()
    return out


def _string(text: str):
    from std_msgs.msg import String

    return String(data=text)


def _nonzero(msg) -> bool:
    return any(abs(v) > 1e-9 for v in (msg.linear.x, msg.linear.y, msg.angular.z))


def _moved_since(cmd: list, count: int) -> bool:
    return any(_nonzero(m) for _, m in cmd[count:])


def measure_stream(probe, nodes: dict, diagnostics: list, seconds: float) -> dict:
    """Frame rates per consumer, CPU share and RSS of each node, over ``seconds``."""
    from rclpy import qos as rclpy_qos

    from mobile_vla import qos, topics
    from mobile_vla.ros_bus import message_class

    # Two viewers in the probe process: one as the recorder subscribes (sensor data), one
    # as rviz2 and rqt_image_view do at their defaults (reliable).
    default = next(c for c in qos.CLIENT_SUBSCRIPTIONS if c.key == 'default')
    viewers = {'sensor data': topics.CAMERA_IMAGE.subscription_qos.profile(rclpy_qos),
               'default profile (rviz2)': default.profile(rclpy_qos)}
    images: dict[str, list] = {name: [] for name in viewers}
    subscriptions = [probe.node.create_subscription(
        message_class(topics.CAMERA_IMAGE.msgtype), topics.CAMERA_IMAGE.name,
        lambda msg, name=name: images[name].append(msg), profile)
        for name, profile in viewers.items()]
    probe.spin_for(2.0)
    for received in images.values():
        received.clear()
    cpu0 = {name: cpu_seconds(n.process.pid) for name, n in nodes.items()}
    t0 = time.monotonic()
    probe.spin_for(seconds)
    wall = time.monotonic() - t0
    for subscription in subscriptions:  # the latency trials run without them
        probe.node.destroy_subscription(subscription)
    nodes_out = {name: {'cpu_percent': round(100 * (cpu_seconds(n.process.pid) - cpu0[name])
                                             / wall, 1),
                        'rss_mb': round(rss_mb(n.process.pid), 1)}
                 for name, n in nodes.items()}
    camera = diagnostics_values(diagnostics, 'camera_publisher: camera')
    inference = diagnostics_values(diagnostics, 'vla_inference: policy')
    recorder = diagnostics_values(diagnostics, 'episode_recorder: recorder')
    consumers = {
        f'probe process, camera/image (720p), {name}': f'{_stamp_rate(received):.1f} Hz'
        for name, received in images.items()}
    consumers |= {
        'vla_inference (its input stream)': _rate(inference),
        'episode_recorder, camera/image (720p)': _rate(recorder),
    }
    return {'camera_rate': camera.get('rate_hz', '?'),
            'consumers': consumers, 'nodes': nodes_out,
            'policy_step_rate_hz': inference.get('rate_hz', '?'),
            'steady_frame_to_action_ms': {
                k: inference.get(f'frame_to_action_ms.{k}', 'not reported')
                for k in ('p50', 'p95')}}


def _stamp_rate(messages: list) -> float:
    """Frames a second by the capture stamps of the distinct frames received."""
    stamps = sorted({m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in messages})
    return (len(stamps) - 1) * 1e9 / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0


def _rate(values: dict[str, str]) -> str:
    if 'frames.rate_hz' not in values:
        return 'not reported by this version'
    return (f"{values['frames.rate_hz']} Hz, {values['frames.missed']} missed of "
            f"{int(values['frames.received']) + int(values['frames.missed'])}")


def _first_after(messages: list, count: int, test=lambda _m: True) -> float | None:
    return next((t for t, m in messages[count:] if test(m)), None)


def latency_trials(probe, camera, cmd: list, trials: int, pause_s: float,
                   command) -> dict:
    """Pause the camera until cmd_vel is zero (``pause_s``, beyond max_frame_age_s),
    resume it, time the first non-zero cmd_vel. The instruction is given again in each
    pause: on synthetic frames the policy never arrives, and its plan would fail after
    navigate_timeout_s (60 s), leaving nothing to time. Slow trials (over 100 ms) are listed
    with the time to each hop, as the probe saw it: the first frame of the camera's
    policy stream, the first non-zero robot/action, the first non-zero cmd_vel."""
    from mobile_vla import topics

    frames = probe.listen_to(topics.CAMERA_IMAGE_POLICY)
    actions = probe.listen_to(topics.ROBOT_ACTION)
    samples, pauses, slow, failed = [], [], [], 0
    pid = camera.process.pid
    for _ in range(trials):
        os.kill(pid, signal.SIGSTOP)
        stopped = time.monotonic()
        zero = lambda: cmd and not _nonzero(cmd[-1][1])  # noqa: E731
        probe.spin_for(0.55)  # beyond max_frame_age_s (0.5 s)
        if not probe.spin_until(zero, 3.0):
            os.kill(pid, signal.SIGCONT)
            failed += 1
            continue
        command.publish(_string(INSTRUCTION))
        probe.spin_for(max(0.0, pause_s - (time.monotonic() - stopped)))
        count, n_frames, n_actions = len(cmd), len(frames), len(actions)
        os.kill(pid, signal.SIGCONT)
        resumed = time.monotonic()
        pauses.append(resumed - stopped)
        moved = functools.partial(_moved_since, cmd, count)
        if probe.spin_until(moved, 3.0):
            first = next(t for t, m in cmd[count:] if _nonzero(m))
            samples.append((first - resumed) * 1e3)
            if samples[-1] > 100.0:
                hops = {'frame': _first_after(frames, n_frames),
                        'action': _first_after(actions, n_actions, _nonzero), 'cmd_vel': first}
                slow.append({k: None if v is None else round((v - resumed) * 1e3, 1)
                             for k, v in hops.items()})
        else:
            failed += 1
        probe.spin_for(0.3)
    return {'resume_to_cmd_vel_ms': percentiles(samples), 'failed_trials': failed,
            'slow_trials_ms_after_resume': slow,
            'pause_s': percentiles(pauses) if not pauses else {
                k: round(v / 1e3, 3) if k != 'n' else v
                for k, v in percentiles([p * 1e3 for p in pauses]).items()}}


def soak(probe, nodes: dict, diagnostics: list, seconds: float) -> dict:
    """Episodes back to back for ``seconds``: frames missed by the recorder while it
    records, and each node's RSS at the same point of every episode cycle (the episode
    written), from the first cycle after a two-minute warm-up to the last. The warm-up
    lets the allocator reach its working set (a recorded episode holds 18 frames, 50 MB,
    until it is written)."""
    from mobile_vla import topics

    control = probe.publisher(topics.RECORDER_CONTROL)
    samples: dict[str, list[float]] = {name: [] for name in nodes}
    t0 = time.monotonic()
    episodes = 0
    while time.monotonic() - t0 < seconds:
        control.publish(_string(f'start 1box_vert_left {INSTRUCTION}'))
        probe.spin_for(6.0)
        control.publish(_string('stop'))
        episodes += 1
        probe.spin_for(1.0)
        if time.monotonic() - t0 >= SOAK_WARMUP_S:
            for name, node in nodes.items():
                samples[name].append(rss_mb(node.process.pid))
    probe.spin_for(5.0)  # the last write and a diagnostics tick
    recorder = diagnostics_values(diagnostics, 'episode_recorder: recorder')
    return {
        'seconds': seconds, 'episodes_asked': episodes, 'saved': recorder.get('saved'),
        'recorder_frames': _rate(recorder),
        'frames_missed_in_episodes': recorder.get('frames.missed_in_episodes'),
        'rss_growth_percent': {name: round(100 * (s[-1] / s[0] - 1), 1)
                               for name, s in samples.items() if s},
        'rss_mb_first_last_max': {name: [round(s[0], 1), round(s[-1], 1), round(max(s), 1)]
                                  for name, s in samples.items() if s},
    }


# ------------------------------------------------------------------------ driver
def baseline_checkout(ref: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix='bench_graph_baseline_'))
    subprocess.run(['git', '-C', str(ROOT), 'worktree', 'add', '--detach', '--force',
                    str(folder), ref], check=True, capture_output=True)
    return folder


def run_child(root: Path, args: argparse.Namespace, baseline: bool) -> dict:
    from mobile_vla.transport import CHOICE_VARIABLE, PROFILE_VARIABLES

    # The nodes choose their transport themselves (the camera's frames through shared
    # memory); the baseline's nodes had no choice to make.
    env = {k: v for k, v in os.environ.items()
           if k not in PROFILE_VARIABLES and k != CHOICE_VARIABLE}
    cmd = [sys.executable, __file__, '--child', str(root), '--trials', str(args.trials),
           '--seconds', str(args.seconds), '--soak', str(args.soak), '--pause', str(args.pause)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f'{"baseline" if baseline else "this checkout"} failed:\n'
                         f'{result.stderr[-3000:]}')
    return json.loads(result.stdout.strip().splitlines()[-1])


def show(result: dict) -> None:
    print(f"\n== {result['config']} (node logs: {result['logs']})")
    stream = result['stream']
    print(f"camera publishes {stream['camera_rate']} Hz (720p); policy steps "
          f"{stream['policy_step_rate_hz']} Hz")
    print('| consumer | received |\n|---|---|')
    for name, value in stream['consumers'].items():
        print(f'| {name} | {value} |')
    print('| node | CPU % of one core | RSS MB |\n|---|---|---|')
    for name, value in stream['nodes'].items():
        print(f"| {name} | {value['cpu_percent']} | {value['rss_mb']} |")
    if 'latency' in result:
        lat = result['latency']
        r = lat['resume_to_cmd_vel_ms']
        print(f"camera resume -> first non-zero cmd_vel: p50 {r.get('p50')} ms, p95 "
              f"{r.get('p95')} ms, max {r.get('max')} ms over {r['n']} trials "
              f"({lat['failed_trials']} failed; camera paused {lat['pause_s'].get('p50')} s, "
              f"at most {lat['pause_s'].get('max')} s)")
        for hops in lat['slow_trials_ms_after_resume']:
            print(f'  slow trial, ms after the resume: {hops}')
    steady = stream['steady_frame_to_action_ms']
    print(f"steady state, capture stamp -> robot/action (inference diagnostics): "
          f"p50 {steady['p50']}, p95 {steady['p95']} (ms)")
    if 'soak' in result:
        print('soak: ' + json.dumps(result['soak'], indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--trials', type=int, default=40)
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--baseline', default=BASELINE_REF,
                        help="git ref of today's graph; 'none' to skip")
    parser.add_argument('--pause', type=float, default=1.5,
                        help='seconds the camera is paused per latency trial (> 0.55)')
    parser.add_argument('--soak', type=float, default=0.0,
                        help='seconds of back-to-back episodes instead of latency trials')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.root = args.child
        print(json.dumps(run_configuration(args)))
        return
    print(f'graph benchmark: 720p synthetic camera at 30 Hz, models/demo on '
          f'{os.cpu_count()} CPUs; {args.trials} latency trials, {args.seconds:.0f} s stream')
    results = [run_child(ROOT, args, baseline=False)]
    if args.baseline != 'none':
        checkout = baseline_checkout(args.baseline)
        try:
            results.append(run_child(checkout, args, baseline=True))
        finally:
            subprocess.run(['git', '-C', str(ROOT), 'worktree', 'remove', '--force',
                            str(checkout)], capture_output=True)
    for result in results:
        show(result)
    if len(results) == 2 and 'latency' in results[0]:
        new, old = (r['latency']['resume_to_cmd_vel_ms'] for r in results)
        if new.get('p50') and old.get('p50'):
            print(f"\nlatency p50: {old['p50'] / new['p50']:.1f}x lower than the baseline, "
                  f"p95: {old['p95'] / new['p95']:.1f}x")


if __name__ == '__main__':
    main()
