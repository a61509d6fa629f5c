"""Nodes of the graph as processes, started as ``ros2 run`` starts them (an outer layer).

``ros2 launch`` needs the ``launch`` packages, which a machine with only the rclpy
wheels lacks; tools that start a whole graph there (``mobile-vla sim live``) start
each node's console script with ``--ros-args`` and a parameter file, here, and
``Supervisor`` restarts the ones that end as launch's ``respawn`` does on the robot.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Mapping

import yaml

from mobile_vla.graph import NodeSpec


def executable(package: str, name: str) -> Path:
    """``lib/<package>/<name>`` in the ament prefixes, where ``ros2 run`` finds it."""
    for prefix in filter(None, os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)):
        path = Path(prefix) / 'lib' / package / name
        if path.is_file():
            return path
    raise FileNotFoundError(f'{package}/{name} is not installed: colcon build and source '
                            'install/setup.bash first')


def ros_env(domain_id: int, **extra: str) -> dict[str, str]:
    """This environment, on ``domain_id``, discovering only this machine's participants."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', PYTHONUNBUFFERED='1',
               RCUTILS_LOGGING_BUFFERED_STREAM='0')
    env.update(extra)
    return env


def write_params(params: Mapping[str, Any], path: Path) -> Path:
    """``params`` as a parameter file for any node name and namespace (``/**``), as
    launch_ros writes a parameter dictionary."""
    path.write_text(yaml.safe_dump({'/**': {'ros__parameters': dict(params)}}))
    return path


def _default_sigint() -> None:
    # A process started from a background shell inherits SIGINT ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_node(spec: NodeSpec, params: Mapping[str, Any], folder: Path, env: Mapping[str, str],
               remaps: Mapping[str, str] = (), stdout: IO[bytes] | None = None
               ) -> subprocess.Popen:
    """Start ``spec``'s console script with ``params`` (written to ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    params_file = write_params(params, folder / f'{spec.name}_params.yaml')
    args = [str(executable(spec.package, spec.executable)), '--ros-args',
            '-r', f'__node:={spec.name}', '--params-file', str(params_file)]
    for name, target in dict(remaps).items():
        args += ['-r', f'{name}:={target}']
    return subprocess.Popen(args, stdout=stdout, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=dict(env), cwd=folder,
                            preexec_fn=_default_sigint)


def stop_all(processes: list[subprocess.Popen], timeout_s: float = 40.0) -> None:
    """SIGINT each (the nodes publish their zero and finish their files), then wait; a
    process that does not end in ``timeout_s`` is killed. The default covers a node's
    longest clean-up: an episode still being written (30 s), then a bounded teardown."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class _Watched:
    process: subprocess.Popen
    restart: Callable[[], subprocess.Popen] | None
    due: float | None = None  # a restart is due then (monotonic seconds)
    told: bool = False  # its end was reported (one that is not restarted)


class Supervisor:
    """Watches processes; one that ends is started again after ``delay_s`` when it has a
    ``restart`` (as launch's ``respawn=True, respawn_delay``), else reported once. Every
    end and restart goes to ``report`` as a sentence. A thread polls every ``poll_s``."""

    def __init__(self, delay_s: float, report: Callable[[str], None],
                 poll_s: float = 0.1) -> None:
        self.delay_s, self.report, self.poll_s = delay_s, report, poll_s
        self._watched: dict[str, _Watched] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts: dict[str, int] = {}

    def add(self, name: str, process: subprocess.Popen,
            restart: Callable[[], subprocess.Popen] | None) -> None:
        with self._lock:
            self._watched[name] = _Watched(process, restart)
            self.restarts.setdefault(name, 0)

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        """The process of each name now (a restarted one's newest)."""
        with self._lock:
            return {name: w.process for name, w in self._watched.items()}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name='supervisor', daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (nothing is restarted after this returns); the processes run on."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10.0)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            with self._lock:
                for name, watched in self._watched.items():
                    self._check(name, watched, time.monotonic())

    def _check(self, name: str, watched: _Watched, now: float) -> None:
        if watched.due is not None:
            if now >= watched.due:
                try:
                    watched.process = watched.restart()
                except OSError as exc:  # cannot start: try again after the delay
                    watched.due = now + self.delay_s
                    self.report(f'{name} could not be restarted ({exc}); trying again in '
                                f'{self.delay_s:g} s')
                    return
                watched.due = None
                self.restarts[name] += 1
                self.report(f'{name} restarted (pid {watched.process.pid})')
            return
        code = watched.process.poll()
        if code is None or watched.told:
            return
        if watched.restart is None:
            watched.told = True
            self.report(f'{name} ended (code {code}); it is not restarted (it does not '
                        'respawn on the robot either)')
            return
        watched.due = now + self.delay_s
        self.report(f'{name} ended (code {code}); restarting in {self.delay_s:g} s (respawn, '
                    'as on the robot)')
