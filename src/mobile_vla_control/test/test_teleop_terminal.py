"""The real terminal path: the teleop console in a tmux pane, driven by real key presses."""

import json
import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest

TMUX = shutil.which('tmux')
pytestmark = pytest.mark.skipif(TMUX is None, reason='tmux not installed (make setup installs it)')


def wait_for(predicate, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def console(tmp_path):
    """Start the teleop console in a private tmux server; yield a small driver."""
    socket = f'mvla-test-{os.getpid()}-{tmp_path.name}'
    out, before, after, code = (tmp_path / n for n in ('keys.jsonl', 'before', 'after', 'code'))
    script = (
        f'stty -g > {before}; '
        f'{shlex.quote(sys.executable)} -m mobile_vla_control.teleop_console '
        f'--output {out} --throttle 100; '
        f'echo $? > {code}; stty -g > {after}; sleep 60'
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    tmux = [TMUX, '-L', socket]
    subprocess.run(tmux + ['new-session', '-d', '-s', 'teleop', '-x', '120', '-y', '40',
                           'bash', '-c', script], check=True, env=env)

    class Driver:
        def keys(self, *keys):
            for key in keys:
                subprocess.run(tmux + ['send-keys', '-t', 'teleop', key], check=True)
                time.sleep(0.25)

        def screen(self):
            return subprocess.run(tmux + ['capture-pane', '-p', '-t', 'teleop'],
                                  capture_output=True, text=True).stdout

        def finish(self):
            assert wait_for(code.exists), f'console did not exit; screen:\n{self.screen()}'
            assert wait_for(lambda: after.exists() and after.read_text())
            lines = [json.loads(line) for line in out.read_text().splitlines()]
            return int(code.read_text()), lines, before.read_text(), after.read_text()

    driver = Driver()
    assert wait_for(lambda: 'space: stop' in driver.screen()), driver.screen()
    try:
        yield driver
    finally:
        subprocess.run(tmux + ['kill-server'], capture_output=True)


def test_keys_in_a_real_terminal_publish_and_quit_restores_it(console):
    console.keys('w', 'd', 'g', 'v', 'x')
    code, lines, before, after = console.finish()
    assert code == 0
    cmd = [line['data'] for line in lines if line['topic'] == '/teleop/cmd_vel']
    assert cmd[0] == [1.15, 0.0, 0.0]
    assert [0.0, -1.15, 0.0] in cmd
    assert cmd[-1] == [0.0, 0.0, 0.0]
    assert {'topic': '/control/mode', 'data': 'vla'} in [
        {k: v for k, v in line.items() if k != 't'} for line in lines]
    assert before == after, 'terminal settings were not restored'
    assert 'mode -> vla' in console.screen()


def test_arrow_keys_do_not_drive(console):
    # Arrow keys arrive as escape sequences ('\x1b[D'); their letters must not strafe or rotate.
    console.keys('Left', 'Up', 'Right', 'Down', 'x')
    code, lines, before, after = console.finish()
    cmd = [line['data'] for line in lines if line['topic'] == '/teleop/cmd_vel']
    assert code == 0 and cmd == [[0.0, 0.0, 0.0]]
    assert before == after


def test_ctrl_c_still_sends_zero_and_restores_the_terminal(console):
    console.keys('q')
    console.keys('C-c')
    code, lines, before, after = console.finish()
    cmd = [line['data'] for line in lines if line['topic'] == '/teleop/cmd_vel']
    assert cmd[0] == [1.15, 1.15, 0.0]
    assert cmd[-1] == [0.0, 0.0, 0.0]
    assert before == after


def test_without_a_terminal_it_explains_instead_of_crashing(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, '-m', 'mobile_vla_control.teleop_console'],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 1
    assert 'needs an interactive terminal' in proc.stderr
    assert "prefix='xterm -e'" in proc.stderr
    assert 'Traceback' not in proc.stderr and 'termios.error' not in proc.stderr
