"""Nodes of the graph as processes, started as ``ros2 run`` starts them (an outer layer).

``ros2 launch`` needs the ``launch`` packages, which a machine with only the rclpy
wheels lacks; tools that start a whole graph there (``mobile-vla sim live``) start
each node's console script with ``--ros-args`` and a parameter file, here.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import IO, Any, Mapping

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


def stop_all(processes: list[subprocess.Popen], timeout_s: float = 15.0) -> None:
    """SIGINT each (the nodes publish their zero and finish their files), then wait; a
    process that does not end in ``timeout_s`` is killed."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
