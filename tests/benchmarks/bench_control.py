"""Speed figures of the control arbiter (issue: control arbiter and WASD teleop).

- One ``ControlArbiter.tick`` with live inputs: median and p95 over many ticks,
  against a baseline of ``numpy.clip`` on the same vector in the same run.
- One hour of 20 Hz ticking with random teleop and policy inputs at 10 Hz each
  and a mode switch a minute, both as direct calls and through the replay
  executor with the same wiring the bag tests use.

    python tests/benchmarks/bench_control.py [--hours 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mobile_vla.bag import BagMessage, MessageFactory
from mobile_vla.bus import ReplayBus
from mobile_vla.replay import MessageLog, ReplayExecutor
from mobile_vla_control.arbiter import ControlArbiter
from mobile_vla_control.arbiter_config import ArbiterConfig, arbiter_params
from mobile_vla_control.wiring import ArbiterWiring

RATE = 20.0


def bench_tick(runs: int) -> None:
    rng = np.random.default_rng(0)
    arb = ControlArbiter(ArbiterConfig(initial_mode='hybrid'))
    commands = rng.uniform(-1.3, 1.3, size=(runs, 3))
    tick_us = np.empty(runs)
    clip_us = np.empty(runs)
    vmax = np.array(arb.config.max_velocity)
    for i in range(runs):
        now = i / RATE
        arb.on_command('vla', commands[i], now)
        if i % 7 == 0:
            arb.on_command('teleop', commands[i][::-1], now)
        t0 = time.perf_counter_ns()
        arb.tick(now)
        t1 = time.perf_counter_ns()
        np.clip(commands[i], -vmax, vmax)
        t2 = time.perf_counter_ns()
        tick_us[i], clip_us[i] = (t1 - t0) / 1e3, (t2 - t1) / 1e3
    print(f'ControlArbiter.tick over {runs} ticks (hybrid, two live sources)')
    print(f'  tick           median {np.median(tick_us):7.2f} us   p95 '
          f'{np.percentile(tick_us, 95):7.2f} us')
    print(f'  baseline clip  median {np.median(clip_us):7.2f} us   p95 '
          f'{np.percentile(clip_us, 95):7.2f} us   (tick = '
          f'{np.median(tick_us) / np.median(clip_us):.1f}x one numpy.clip)')


def random_stream(seconds: float, factory: MessageFactory) -> list[BagMessage]:
    rng = np.random.default_rng(1)
    msgs = []
    n = int(seconds * 10)
    vla = rng.uniform(-1.15, 1.15, size=(n, 3))
    teleop = rng.uniform(-1.15, 1.15, size=(n, 3))
    for k in range(n):
        t = k * 100_000_000
        msgs.append(BagMessage('/robot/action', 'geometry_msgs/msg/Twist', t,
                               factory.twist(vla[k])))
        if (k // 50) % 4 == 0:  # a human drives in bursts
            msgs.append(BagMessage('/teleop/cmd_vel', 'geometry_msgs/msg/Twist', t + 1,
                                   factory.twist(teleop[k])))
        if k % 600 == 0:
            mode = ('hybrid', 'vla', 'manual')[(k // 600) % 3]
            msgs.append(BagMessage('/control/mode', 'std_msgs/msg/String', t + 2,
                                   factory.string(mode)))
    return msgs


def bench_hour(hours: float) -> None:
    seconds = hours * 3600
    factory = MessageFactory()
    stream = random_stream(seconds, factory)
    ticks = int(seconds * RATE)

    arb = ControlArbiter(ArbiterConfig())
    t0 = time.perf_counter()
    k = 0
    for i in range(ticks + 1):
        now = i / RATE
        while k < len(stream) and stream[k].t_ns <= now * 1e9:
            m = stream[k]
            if m.topic == '/control/mode':
                arb.on_mode(m.msg.data, m.t_ns * 1e-9)
            else:
                source = 'vla' if m.topic == '/robot/action' else 'teleop'
                arb.on_command(source, (m.msg.linear.x, m.msg.linear.y, m.msg.angular.z),
                               m.t_ns * 1e-9)
            k += 1
        arb.tick(now)
    direct_s = time.perf_counter() - t0

    ex = ReplayExecutor(sink=MessageLog())
    ArbiterWiring(ReplayBus(ex, arbiter_params(ArbiterConfig()), msgs=factory))
    t0 = time.perf_counter()
    stats = ex.run(iter(stream))
    replay_s = time.perf_counter() - t0
    print(f'\n{hours:g} h at {RATE:g} Hz = {ticks} ticks, {len(stream)} input messages')
    print(f'  direct component calls   {direct_s:6.2f} s  ({seconds / direct_s:8.0f}x real time)')
    print(f'  ReplayExecutor + wiring  {replay_s:6.2f} s  ({seconds / replay_s:8.0f}x real time,'
          f' {stats.ticks["control_arbiter"]} ticks, cmd_vel and state messages built)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=100_000)
    parser.add_argument('--hours', type=float, default=1.0)
    args = parser.parse_args()
    bench_tick(args.runs)
    bench_hour(args.hours)


if __name__ == '__main__':
    main()
