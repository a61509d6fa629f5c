"""The bus a wiring is written against, on its replay implementation: topics under a
namespace and remaps, a latched topic's late-joiner twin, timers, workers, logs."""

from dataclasses import dataclass

import pytest

from mobile_vla import topics
from mobile_vla.bag import BagMessage, MessageFactory
from mobile_vla.bus import (
    InlineWorker,
    ReplayBus,
    publisher_of,
    subscribe_to,
    throttled_warnings,
)
from mobile_vla.config import ConfigError
from mobile_vla.replay import MessageLog, ReplayExecutor
from mobile_vla.units import MS

FACTORY = MessageFactory()


def test_topics_resolve_under_the_namespace_and_remaps_and_are_listed():
    bus = ReplayBus(ReplayExecutor(), namespace='robot1', remaps={'cmd_vel': 'base/cmd_vel'})
    publish = publisher_of(bus, topics.CMD_VEL)
    subscribe_to(bus, topics.VLA_COMMAND, lambda m: None)
    bus.publisher('/absolute', 'std_msgs/msg/String', topics.VLA_COMMAND.publisher_qos)
    assert bus.publications == {'/robot1/base/cmd_vel': 'geometry_msgs/msg/Twist',
                                '/absolute': 'std_msgs/msg/String'}
    assert bus.subscriptions == {'/robot1/vla/command': 'std_msgs/msg/String'}
    assert callable(publish)


def test_a_latched_topic_is_delivered_once_in_replay_though_it_has_a_late_joiner_twin():
    assert any(qos.late_joiner for qos in topics.CONTROL_ESTOP.subscriptions)
    executor = ReplayExecutor()
    bus = ReplayBus(executor)
    seen = []
    end_twins = subscribe_to(bus, topics.CONTROL_ESTOP, lambda m: seen.append(m.data))
    executor.run([BagMessage('/control/estop', 'std_msgs/msg/Bool', 5 * MS,
                             FACTORY.boolean(True))])
    assert seen == [True]
    end_twins()  # ending the twins is harmless here


def test_published_messages_reach_the_sink_at_bus_time_and_timers_tick_in_stream_time():
    log = MessageLog()
    executor = ReplayExecutor(sink=log)
    bus = ReplayBus(executor)
    say = publisher_of(bus, topics.VLA_STATUS)
    times = []
    bus.timer(10.0, lambda: (times.append(bus.now_ns()), say(FACTORY.string('tick'))),
              'test/timer')
    executor.run([BagMessage('/camera/image', 'std_msgs/msg/String', t * MS,
                             FACTORY.string('x')) for t in (0, 250)])
    assert times == [0, 100 * MS, 200 * MS]
    assert [m.t_ns for m in log.messages if m.topic == '/vla/status'] == times


@pytest.mark.parametrize('rate', [0.0, -1.0, float('nan'), float('inf')])
def test_a_timer_needs_a_positive_finite_rate(rate):
    with pytest.raises(ValueError, match='test/timer'):
        ReplayBus(ReplayExecutor()).timer(rate, lambda: None, 'test/timer')


def test_config_comes_from_the_parameters_given_typed_and_checked():
    @dataclass(frozen=True)
    class Config:
        rate_hz: float = 10.0
        name: str = 'a'

    assert ReplayBus(ReplayExecutor(), params={'rate_hz': 4}).config(Config) == Config(4.0)
    with pytest.raises(ConfigError):
        ReplayBus(ReplayExecutor(), params={'rate_hz': 'fast'}).config(Config)


def test_workers_run_work_at_once_and_logs_and_warnings_are_kept_in_order():
    worker = ReplayBus(ReplayExecutor()).worker('policy')
    done = []
    worker.submit(lambda: done.append(1))
    assert done == [1] and worker.pending() == 0 and not worker.stopping
    worker.stop()
    assert worker.stopping and worker.close(1.0) and isinstance(worker, InlineWorker)

    executor = ReplayExecutor()
    bus = ReplayBus(executor)
    warn = throttled_warnings(bus, period_s=1.0)
    passed = []

    def tick() -> None:  # at 0, 0.5, 1.0 s: one 'stale frame' a second gets through
        passed.append((warn(f'stale frame: {bus.now_ns() // MS}'), warn('no instruction: x')))

    bus.timer(2.0, tick, 'test/warnings')
    bus.log('info', 'up')
    executor.run([BagMessage('/a', 'std_msgs/msg/String', t * MS, FACTORY.string('x'))
                  for t in (0, 1000)])
    assert passed == [(True, True), (False, False), (True, True)]
    assert bus.latched_publishers('control/estop') == 0
    assert bus.lines == ['up', '[warning] stale frame: 0', '[warning] no instruction: x',
                         '[warning] stale frame: 1000', '[warning] no instruction: x']
