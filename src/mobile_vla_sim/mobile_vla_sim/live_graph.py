"""The whole robot graph against the live simulator, as processes, with the web console.

``mobile-vla sim live`` (and ``make demo-web``) starts, each as its own process over
real DDS, as ``ros2 launch ... web:=true`` would on the robot:

- ``sim_robot`` (``live.py``): the MuJoCo room in real time, as the camera and the base;
- ``vla_inference`` with the checkpoint, ``control_arbiter`` (starting in vla mode),
  ``episode_recorder`` (episodes into ``<out>/episodes``);
- ``web_console``, which prints its URL; the token is read from its token file.

Every node gets ``config/<node>.yaml`` then ``config/sim.yaml``, as in simulation
elsewhere. The policy steps at the simulator's training frame rate (4 Hz), while the
camera runs at ``fps`` for the people watching.

Once the graph is up, a node that ends is handled as launch handles it on the robot:
one that respawns there (``NodeSpec.respawn``: the console, and ``sim_robot`` for the
camera) is started again after ``RESPAWN_DELAY_S``; another is reported and the rest
runs on. One node's end never ends the graph. Each end and restart is reported
(``report``, printed by ``mobile-vla sim live``); the console shows it too (a page
reconnects to a restarted console and says so; a silent node is announced).
"""

from __future__ import annotations

import random
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mobile_vla.graph import ARBITER, INFERENCE, RECORDER, SIM_ROBOT, WEB, NodeSpec
from mobile_vla.launch_plan import RESPAWN_DELAY_S, node_params
from mobile_vla.processes import Supervisor, ros_env, start_node, stop_all
from mobile_vla_sim.config import SIM_PROFILE, SimConfig
from mobile_vla_sim.live import LiveSimConfig
from mobile_vla_web.config import WebConfig, console_url

#: How long the graph may take to show a frame in the console after start.
READY_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@dataclass
class LiveGraph:
    """Start with ``start()``; ``url`` and ``token`` say how to open the console."""

    out: Path
    # The nodes' own defaults (one definition each).
    checkpoint: str = 'models/demo'
    scenario: str = LiveSimConfig.scenario
    seed: int = LiveSimConfig.seed
    fps: float = LiveSimConfig.fps
    host: str = WebConfig.host
    port: int = WebConfig.port
    token_file: str = WebConfig.token_file
    watch_needs_token: bool = WebConfig.watch_needs_token
    mode: str = 'vla'
    domain_id: int | None = None
    #: Where ends and restarts of nodes are told (``mobile-vla sim live`` prints them).
    report: Callable[[str], None] = field(default=lambda text: None, repr=False)
    respawn_delay_s: float = RESPAWN_DELAY_S
    #: What happened to the nodes, as reported, in order.
    events: list[str] = field(default_factory=list, init=False)
    _supervisor: Supervisor | None = field(default=None, init=False, repr=False)
    _processes: dict[str, subprocess.Popen] = field(default_factory=dict, init=False,
                                                    repr=False)

    def __post_init__(self) -> None:
        self.out = Path(self.out).resolve()
        if self.domain_id is None:
            self.domain_id = random.randint(100, 200)
        if self.port == 0:
            self.port = free_port()

    @property
    def episodes(self) -> Path:
        return self.out / 'episodes'

    @property
    def url(self) -> str:
        return console_url(self.host, self.port)

    @property
    def token(self) -> str:
        return Path(self.token_file).expanduser().read_text().strip()

    def node_params(self) -> dict[NodeSpec, dict[str, Any]]:
        checkpoint = str(Path(self.checkpoint).resolve())
        return {
            SIM_ROBOT: {'scenario': self.scenario, 'seed': self.seed, 'fps': self.fps},
            INFERENCE: node_params(INFERENCE, SIM_PROFILE, overrides={
                'checkpoint': checkpoint, 'rate_hz': SimConfig.frame_rate_hz}),
            ARBITER: node_params(ARBITER, SIM_PROFILE, overrides={'initial_mode': self.mode}),
            RECORDER: node_params(RECORDER, SIM_PROFILE, overrides={
                'output_dir': str(self.episodes)}),
            WEB: node_params(WEB, SIM_PROFILE, overrides={
                'host': self.host, 'port': self.port, 'token_file': self.token_file,
                'episodes_dir': str(self.episodes), 'watch_needs_token': self.watch_needs_token}),
        }

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        """Each node's process now (a restarted node's newest)."""
        if self._supervisor is not None:
            return self._supervisor.processes
        return dict(self._processes)

    def start(self) -> None:
        """Start every node; returns once the console answers (raises if it never does).
        From then on, nodes that end are restarted or reported (see the module docstring)."""
        logs = self.out / 'logs'
        logs.mkdir(parents=True, exist_ok=True)
        logs.chmod(0o700)  # the console's log holds the URL with its token
        env = ros_env(self.domain_id)
        starters = {spec: self._starter(spec, params, logs, env)
                    for spec, params in self.node_params().items()}
        for spec, start in starters.items():
            self._processes[spec.name] = start()
        self.wait_ready()
        self._supervisor = Supervisor(self.respawn_delay_s, self._report)
        for spec, start in starters.items():
            self._supervisor.add(spec.name, self._processes[spec.name],
                                 start if spec.respawn else None)
        self._supervisor.start()

    @staticmethod
    def _starter(spec: NodeSpec, params: dict[str, Any], logs: Path,
                 env: dict[str, str]) -> Callable[[], subprocess.Popen]:
        def start() -> subprocess.Popen:
            with open(logs / f'{spec.name}.log', 'ab') as log:  # a restart adds to it
                return start_node(spec, params, logs, env, stdout=log)
        return start

    def _report(self, text: str) -> None:
        self.events.append(text)
        self.report(text)

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until the console serves a camera frame: the room renders, DDS delivers, the
        console encodes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    log = (self.out / 'logs' / f'{name}.log').read_text(errors='replace')
                    raise RuntimeError(f'{name} ended with code {process.returncode}:\n'
                                       f'{log[-3000:]}')
            try:
                request = urllib.request.Request(self.url + 'api/camera.jpg', headers={
                    'Authorization': f'Bearer {self.token}'})
                with urllib.request.urlopen(request, timeout=1.0):
                    return
            except OSError:  # not listening yet, no frame yet (503), no token file yet
                time.sleep(0.3)
        raise RuntimeError(f'the console did not answer on {self.url} within {timeout_s} s; '
                           f'see {self.out / "logs"}')

    def stop(self) -> None:
        """Stop restarting, then stop every node (each sends its zero first)."""
        if self._supervisor is not None:
            self._supervisor.stop()
        stop_all(list(self.processes.values()))
