"""The supervisor of ``mobile-vla sim live``: a process that ends is restarted after the
delay when it respawns (as launch does on the robot), reported once when it does not, and
nothing else ends with it. Real processes, short sleeps."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from mobile_vla.processes import Supervisor

SLEEPER = [sys.executable, '-c', 'import time; time.sleep(60)']


def wait_for(condition, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_respawning_process_is_restarted_after_the_delay_and_the_others_run_on():
    reports = []
    supervisor = Supervisor(delay_s=0.5, report=reports.append, poll_s=0.02)
    started = []

    def start():
        started.append(subprocess.Popen(SLEEPER))
        return started[-1]

    console, policy, camera = start(), subprocess.Popen(SLEEPER), subprocess.Popen(SLEEPER)
    supervisor.add('web_console', console, start)
    supervisor.add('vla_inference', policy, None)
    supervisor.add('camera', camera, None)
    supervisor.start()
    try:
        killed = time.monotonic()
        console.send_signal(signal.SIGKILL)
        assert wait_for(lambda: supervisor.restarts['web_console'] == 1)
        assert time.monotonic() - killed >= 0.5  # not before the delay
        new = supervisor.processes['web_console']
        assert new is not console and new.poll() is None
        policy.send_signal(signal.SIGKILL)
        assert wait_for(lambda: len(reports) == 3)
        time.sleep(0.2)  # reported once, never restarted
        assert reports == [
            'web_console ended (code -9); restarting in 0.5 s (respawn, as on the robot)',
            f'web_console restarted (pid {new.pid})',
            'vla_inference ended (code -9); it is not restarted (it does not respawn on the '
            'robot either)']
        assert supervisor.processes['vla_inference'] is policy
        assert camera.poll() is None  # one node's end never ends the others
    finally:
        supervisor.stop()
        for process in [*started, policy, camera]:
            process.kill()
            process.wait()


def test_nothing_is_restarted_once_stopped():
    reports = []
    supervisor = Supervisor(delay_s=0.2, report=reports.append, poll_s=0.02)
    process = subprocess.Popen(SLEEPER)
    supervisor.add('web_console', process, lambda: subprocess.Popen(SLEEPER))
    supervisor.start()
    supervisor.stop()
    process.kill()
    process.wait()
    time.sleep(0.4)
    assert reports == [] and supervisor.processes['web_console'] is process
