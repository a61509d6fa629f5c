"""What ``launch/mobile_vla.launch.py`` starts, as plain code: arguments, nodes, parameters.

The launch file turns this plan into ``launch_ros`` actions; the graph test starts the
same nodes as processes with exactly these parameters. Each node's parameters are one
mapping: ``config/<node>.yaml``, then ``params_file``, then the launch arguments. They
are read here (rather than passed as files) so that sections keyed by node name apply
under any namespace.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from mobile_vla.config import ConfigError, load_node_params
from mobile_vla.graph import (
    ARBITER,
    CAMERA,
    INFERENCE,
    RECORDER,
    ROBOT_GRAPH,
    TELEOP,
    WEB,
    NodeSpec,
)
from mobile_vla.resources import config_dir

#: (name, default, description) of every launch argument.
ARGUMENTS: tuple[tuple[str, str, str], ...] = (
    ('namespace', '', 'robot namespace: every topic and node moves under it (multi-robot)'),
    # '' = not given: the parameter files decide (config/*.yaml, then params_file).
    ('mode', '', 'arbiter mode at start: manual, vla or hybrid (default: the files; manual)'),
    ('checkpoint', '', 'policy checkpoint folder, config.json + model.safetensors (default: '
                       'the files; models/demo)'),
    ('engine', '', 'policy engine: torch or onnx (default: the files)'),
    ('device', '', 'policy device: cpu or cuda (torch); cpu, cuda, tensorrt, auto (onnx) '
                   '(default: the files)'),
    ('camera_source', '', 'camera source: csi, v4l2, file, images or synthetic (default: '
                          'the files)'),
    ('record', 'true', 'start the episode recorder'),
    ('use_sim_time', 'false', 'use /clock (bag playback with --clock, simulation)'),
    ('log_level', 'info', 'log level of every node: debug, info, warn, error'),
    ('params_file', '', 'an extra parameter file applied after config/*.yaml '
                        '(e.g. config/robot.yaml or config/sim.yaml)'),
    ('teleop_in_xterm', 'false', 'also start the WASD teleop in an xterm window'),
    ('robot_base', '', 'a command that starts the base driver (it reads /cmd_vel)'),
    ('web', 'false', 'also start the web console (it prints its URL and, on its first '
                     'start, the token)'),
    ('web_host', '', 'address the web console binds to (default: the files; 127.0.0.1, '
                     'this machine only; 0.0.0.0 for every interface)'),
)
DEFAULTS = {name: default for name, default, _ in ARGUMENTS}
#: Seconds launch waits after SIGINT before SIGTERM: time for a zero command or a last
#: episode to be written.
SIGTERM_TIMEOUT_S = {RECORDER.name: 35.0}
DEFAULT_SIGTERM_TIMEOUT_S = 5.0
#: Seconds before a node that ended is started again, for the nodes that respawn
#: (``NodeSpec.respawn``): launch on the robot and ``mobile-vla sim live`` alike.
RESPAWN_DELAY_S = 2.0


@dataclass(frozen=True)
class NodeLaunch:
    """One node as launch starts it."""

    spec: NodeSpec
    params: dict[str, Any]
    namespace: str
    log_level: str

    @property
    def sigterm_timeout_s(self) -> float:
        return SIGTERM_TIMEOUT_S.get(self.spec.name, DEFAULT_SIGTERM_TIMEOUT_S)


def resolve_arguments(given: Mapping[str, str]) -> dict[str, str]:
    """Every argument's value: the given ones over the defaults; unknown names are errors."""
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f'unknown launch argument(s) {", ".join(unknown)}; known: '
                          f'{", ".join(DEFAULTS)}')
    return {**DEFAULTS, **{k: str(v) for k, v in given.items()}}


def _is_true(value: str) -> bool:
    return value.strip().lower() == 'true'


def node_params(spec: NodeSpec, profile: str | Path | None = None, namespace: str = '',
                overrides: Mapping[str, Any] | None = None,
                folder: Path | None = None) -> dict[str, Any]:
    """A node's flat parameters: ``config/<node>.yaml``, then ``profile``, then overrides.

    ``profile`` is a parameter file: a path, or the name of a file in ``config/``
    (``sim.yaml``). The launch file and the replay graph both layer parameters here.
    """
    folder = folder or config_dir()
    params = load_node_params(folder / spec.config, spec.name, namespace)
    if profile:
        profile = Path(profile)
        if len(profile.parts) == 1 and (folder / profile).is_file():
            profile = folder / profile
        params.update(load_node_params(profile, spec.name, namespace))
    params.update(overrides or {})
    return params


def node_parameters(spec: NodeSpec, args: Mapping[str, str],
                    overrides: Mapping[str, Any] = ()) -> dict[str, Any]:
    """One node's parameters: its YAML, then ``params_file``, then the launch arguments."""
    profile = os.path.abspath(args['params_file']) if args['params_file'] else None
    return node_params(spec, profile, args['namespace'],
                       {'use_sim_time': _is_true(args['use_sim_time']), **dict(overrides)})


#: Launch argument -> (node, parameter) it sets when given.
ARGUMENT_PARAMETERS = {
    'camera_source': (CAMERA.name, 'source'),
    'checkpoint': (INFERENCE.name, 'checkpoint'),
    'engine': (INFERENCE.name, 'engine'),
    'device': (INFERENCE.name, 'device'),
    'mode': (ARBITER.name, 'initial_mode'),
    'web_host': (WEB.name, 'host'),
}


def argument_overrides(args: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Node parameters that launch arguments set: only the arguments given (not empty)
    override the files, so a profile's engine or camera source stays unless asked."""
    overrides: dict[str, dict[str, Any]] = {}
    for argument, (node, parameter) in ARGUMENT_PARAMETERS.items():
        if args[argument]:
            overrides.setdefault(node, {})[parameter] = args[argument]
    return overrides


def plan(given: Mapping[str, str]) -> list[NodeLaunch]:
    """The robot graph's nodes with their parameters, as the launch file starts them."""
    args = resolve_arguments(given)
    overrides = argument_overrides(args)
    nodes = [NodeLaunch(spec, node_parameters(spec, args, overrides.get(spec.name, {})),
                        args['namespace'], args['log_level'])
             for spec in ROBOT_GRAPH if spec is not RECORDER or _is_true(args['record'])]
    if _is_true(args['web']):
        # The console lists the episodes the recorder writes: its folder, wherever set.
        # It talks to people, in wall time: a stalled /clock must not stall its drive
        # watchdog, so it never takes use_sim_time.
        folder = node_parameters(RECORDER, args).get('output_dir')
        web = {**({'episodes_dir': folder} if folder else {}), **overrides.get(WEB.name, {}),
               'use_sim_time': False}
        nodes.append(NodeLaunch(WEB, node_parameters(WEB, args, web), args['namespace'],
                                args['log_level']))
    return nodes


def teleop_launch(given: Mapping[str, str]) -> NodeLaunch | None:
    """The WASD teleop, when ``teleop_in_xterm:=true``."""
    args = resolve_arguments(given)
    if not _is_true(args['teleop_in_xterm']):
        return None
    return NodeLaunch(TELEOP, node_parameters(TELEOP, args), args['namespace'],
                      args['log_level'])
