import pytest

from mobile_vla.bag import BagMessage, BagWriter, MessageFactory, read_messages
from mobile_vla.replay import MessageLog, ReplayError, ReplayExecutor, merge_streams
from mobile_vla.units import MS

FACTORY = MessageFactory()


def string_msgs(topic, times):
    return [BagMessage(topic, 'std_msgs/msg/String', t, FACTORY.string(f'{topic}@{t}'))
            for t in times]


def test_handlers_see_messages_in_time_order_and_ticks_fire_in_stream_time():
    calls = []
    ex = ReplayExecutor()
    ex.subscribe('/a', lambda m, t: calls.append(('a', t)))
    ex.subscribe('b', lambda m, t: calls.append(('b', t)))
    ex.add_timer(20.0, lambda t: calls.append(('tick', t)))
    stream = merge_streams(string_msgs('/a', [0, 30 * MS, 100 * MS]),
                           string_msgs('/b', [10 * MS, 50 * MS]))
    stats = ex.run(stream)
    # Inputs come before a tick at the same instant.
    assert calls == [
        ('a', 0), ('tick', 0), ('b', 10 * MS), ('a', 30 * MS), ('b', 50 * MS),
        ('tick', 50 * MS), ('a', 100 * MS), ('tick', 100 * MS),
    ]
    assert stats.inputs == {'/a': 3, '/b': 2}
    assert stats.ticks == {'timer0': 3}
    assert (stats.start_ns, stats.end_ns) == (0, 100 * MS)


def test_tick_times_are_exact_for_rates_that_do_not_divide_a_second():
    ticks = []
    ex = ReplayExecutor()
    ex.add_timer(30.0, ticks.append)
    ex.run(string_msgs('/a', [7, 7 + 10**9]))
    assert len(ticks) == 31
    assert ticks == [7 + round(k * 1e9 / 30) for k in range(31)]
    assert ticks[3] == 7 + 100_000_000


def test_published_messages_reach_subscribers_and_the_sink_in_causal_order():
    log = MessageLog()
    ex = ReplayExecutor(sink=log)
    seen = []

    def policy_tick(t):
        ex.publish('/robot/action', FACTORY.twist((0.5, 0.0, 0.0)))

    def arbiter_on_action(msg, t):
        seen.append(('action', t))

    def arbiter_tick(t):
        seen.append(('arbiter', t))
        ex.publish('/cmd_vel', FACTORY.twist((0.25, 0.0, 0.0)))

    ex.subscribe('/robot/action', arbiter_on_action)
    ex.add_timer(10.0, policy_tick, name='policy')
    ex.add_timer(10.0, arbiter_tick, name='arbiter')
    ex.run(string_msgs('/vla/command', [0, 200 * MS]))
    # At each instant the policy publishes, the action is delivered, then the arbiter ticks.
    assert seen[:4] == [('action', 0), ('arbiter', 0), ('action', 100 * MS),
                        ('arbiter', 100 * MS)]
    assert [m.t_ns for m in log.on('/cmd_vel')] == [0, 100 * MS, 200 * MS]
    assert {m.msgtype for m in log.messages} == {'geometry_msgs/msg/Twist'}


def test_future_publications_are_delivered_at_their_time():
    order = []
    ex = ReplayExecutor()
    ex.subscribe('/a', lambda m, t: ex.publish('/later', m, t + 15 * MS))
    ex.subscribe('/later', lambda m, t: order.append(('later', t)))
    ex.subscribe('/b', lambda m, t: order.append(('b', t)))
    ex.run(merge_streams(string_msgs('/a', [0]), string_msgs('/b', [10 * MS, 20 * MS])))
    assert order == [('b', 10 * MS), ('later', 15 * MS), ('b', 20 * MS)]


def test_contract_violations_are_reported():
    ex = ReplayExecutor()
    with pytest.raises(ReplayError, match='back in time'):
        ex.run(string_msgs('/a', [10, 5]))
    ex = ReplayExecutor()
    ex.subscribe('/a', lambda m, t: ex.publish('/b', m, t - 1))
    with pytest.raises(ReplayError, match='before now'):
        ex.run(string_msgs('/a', [10]))
    with pytest.raises(ReplayError, match='positive'):
        ReplayExecutor().add_timer(0, print)
    with pytest.raises(ReplayError, match='only defined while'):
        _ = ReplayExecutor().now_ns


def test_explicit_window_bounds_timers_and_inputs():
    ticks, inputs = [], []
    ex = ReplayExecutor()
    ex.subscribe('/a', lambda m, t: inputs.append(t))
    ex.add_timer(1.0, ticks.append)
    ex.run(string_msgs('/a', [5, 2 * 10**9, 5 * 10**9]), start_ns=0, end_ns=3 * 10**9)
    assert inputs == [5, 2 * 10**9]
    assert ticks == [0, 10**9, 2 * 10**9, 3 * 10**9]


def test_replay_from_a_bag_writes_an_output_bag_that_is_the_same_twice(tmp_path):
    src = tmp_path / 'in'
    with BagWriter(src) as bag:
        for i in range(10):
            bag.write_twist('/teleop/cmd_vel', (0.1 * i, 0.0, 0.0), i * 40 * MS)
        bag.write_string('/scan_like', 'ignored', 5)

    def replay(out):
        with BagWriter(out) as sink:
            ex = ReplayExecutor(sink=sink, record_inputs=['/teleop/cmd_vel'])
            latest = {'x': 0.0}
            ex.subscribe('/teleop/cmd_vel', lambda m, t: latest.update(x=m.linear.x))
            ex.add_timer(20.0, lambda t: ex.publish(
                '/cmd_vel', FACTORY.twist((latest['x'] / 2, 0.0, 0.0))))
            return ex.run_bag(src)

    stats = replay(tmp_path / 'out1')
    replay(tmp_path / 'out2')
    assert stats.inputs == {'/teleop/cmd_vel': 10}  # the unsubscribed topic is not read
    out1 = read_messages(tmp_path / 'out1')
    out2 = read_messages(tmp_path / 'out2')
    assert [(m.topic, m.t_ns, m.msg) for m in out1] == [(m.topic, m.t_ns, m.msg) for m in out2]
    cmd = [m for m in out1 if m.topic == '/cmd_vel']
    assert [m.t_ns for m in cmd] == [k * 50 * MS for k in range(8)]
    assert cmd[1].msg.linear.x == pytest.approx(0.05)  # teleop 0.1 at 40 ms, halved at 50 ms
    assert len([m for m in out1 if m.topic == '/teleop/cmd_vel']) == 10


def test_stop_ends_a_closed_loop_after_delivering_what_is_due_now():
    log = MessageLog()
    ex = ReplayExecutor(sink=log)
    ticks = []

    def control(t):
        ticks.append(t)
        ex.publish('/cmd_vel', FACTORY.twist((0.1, 0.0, 0.0)))
        ex.publish('/cmd_vel', FACTORY.twist((0.2, 0.0, 0.0)), t + 5 * MS)  # never due
        if t == 300 * MS:
            ex.stop()

    ex.add_timer(10.0, control)
    ex.add_timer(10.0, lambda t: ticks.append(('second', t)))
    stats = ex.run([], start_ns=0, end_ns=10**9)
    assert ex.stopped
    assert ticks[-1] == 300 * MS  # the other timer at 300 ms and later ticks never fire
    assert stats.end_ns == 300 * MS
    assert [m.t_ns for m in log.on('/cmd_vel')][-2:] == [205 * MS, 300 * MS]
