"""The bag module and the replay executor read what a real Humble robot recorded."""

import subprocess
import sys

import numpy as np
import pytest

from mobile_vla.bag import BagReader
from mobile_vla.msgs import twist_to_action
from mobile_vla.replay import MessageLog, ReplayExecutor

START_NS = 1_714_557_996_445_048_407
DURATION_NS = 35_217_648_682


def test_reads_a_humble_sqlite3_bag(humble_bag):
    with BagReader(humble_bag) as reader:
        assert reader.message_count == 755
        assert reader.start_ns == START_NS
        assert reader.end_ns - reader.start_ns == DURATION_NS
        topics = reader.topics
        assert topics['/cmd_vel'].msgtype == 'geometry_msgs/msg/Twist'
        assert topics['/cmd_vel'].count == 578
        assert topics['/scan'].msgtype == 'sensor_msgs/msg/LaserScan'
        assert topics['/scan'].count == 177
        actions = np.array([twist_to_action(m.msg) for m in reader.messages(['/cmd_vel'])])
        scans = list(reader.messages(['/scan']))
    assert actions.shape == (578, 3)
    assert actions[:, 0].min() == pytest.approx(0.0, abs=1e-6)
    assert actions[:, 0].max() == pytest.approx(0.26, abs=0.005)
    assert actions[:, 2].min() == pytest.approx(-0.16, abs=0.01)
    assert actions[:, 2].max() == pytest.approx(0.8947, abs=1e-4)
    assert len(scans[0].msg.ranges) > 0


def test_replay_of_real_cmd_vel_runs_in_bag_time_and_skips_other_topics(humble_bag):
    log = MessageLog()
    ex = ReplayExecutor(sink=log)
    received = []
    ex.subscribe('/cmd_vel', lambda msg, t: received.append((t, twist_to_action(msg))))
    latest = {}
    ex.subscribe('/cmd_vel', lambda msg, t: latest.update(action=twist_to_action(msg)))
    ex.add_timer(20.0, lambda t: ex.publish('/control/state', str(latest.get('action'))),
                 name='arbiter')
    stats = ex.run_bag(humble_bag)
    assert stats.inputs == {'/cmd_vel': 578}
    assert '/scan' not in stats.inputs
    times = [t for t, _ in received]
    assert times == sorted(times)
    first_cmd = times[0]
    # 20 Hz in bag time from the first message read to the last: exact count, exact stamps.
    expected = [first_cmd + round(k * 5e7) for k in range(10**4)
                if first_cmd + round(k * 5e7) <= times[-1]]
    assert [m.t_ns for m in log.on('/control/state')] == expected
    assert stats.ticks == {'arbiter': len(expected)}


def test_bag_info_command_describes_the_real_bag(humble_bag):
    out = subprocess.run(
        [sys.executable, '-m', 'mobile_vla.cli', 'bag', 'info', str(humble_bag)],
        capture_output=True, text=True, check=True,
    ).stdout
    assert 'messages: 755' in out
    assert '/cmd_vel' in out and 'geometry_msgs/msg/Twist' in out and '578 msgs' in out


def test_bag_info_on_a_wrong_path_says_what_to_pass(tmp_path):
    proc = subprocess.run(
        [sys.executable, '-m', 'mobile_vla.cli', 'bag', 'info', str(tmp_path)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert 'not a rosbag2 folder' in proc.stderr
    assert 'Traceback' not in proc.stderr
