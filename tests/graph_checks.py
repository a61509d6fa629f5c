"""Checks of the robot graph without ROS 2: launch file, node table, parameter files, wiring.

They run without ROS 2 and fail when the wiring breaks: an executable that no package
provides, a parameter in YAML that no node declares, a node that publishes or
subscribes a topic the graph table does not list.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mobile_vla.bus import ReplayBus
from mobile_vla.config import ConfigError, flatten
from mobile_vla.graph import ALL_NODES, RECORDER, NodeSpec
from mobile_vla.package_check import console_scripts
from mobile_vla.replay import ReplayExecutor
from mobile_vla_sim.graph import PARSERS, WIRINGS, node_params


def executable_problems(workspace: Path, specs=ALL_NODES) -> list[str]:
    problems = []
    for spec in specs:
        scripts = console_scripts(workspace / 'src' / spec.package)
        if spec.executable not in scripts:
            problems.append(f'{spec.name}: {spec.package} has no console script '
                            f'{spec.executable!r} (has {sorted(scripts)})')
        if not (workspace / 'config' / spec.config).is_file():
            problems.append(f'{spec.name}: config/{spec.config} does not exist')
    return problems


def parameter_file_problems(path: Path) -> list[str]:
    """Sections for unknown nodes and parameters no node declares, in one YAML file."""
    data = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
    problems = []
    for section, body in data.items():
        name = section.rsplit('/', 1)[-1]
        if section == '/**':
            continue
        if not section.startswith('/'):
            problems.append(f'{path.name}: section {section!r} applies in the root namespace '
                            f'only (rcl reads it as /{section}); use /**/{section}')
            continue
        if name not in PARSERS:
            problems.append(f'{path.name}: section {section!r} names no node of the graph '
                            f'({sorted(PARSERS)})')
            continue
        params = flatten((body or {}).get('ros__parameters') or {})
        try:
            PARSERS[name](params)
        except ConfigError as exc:
            problems.append(f'{path.name}: {name}: {exc}')
    return problems


def _sections(path: Path) -> dict[str, dict]:
    """Node name -> its flat parameters, for each section of a parameter file."""
    data = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
    return {section.rsplit('/', 1)[-1]: flatten((body or {}).get('ros__parameters') or {})
            for section, body in data.items() if section != '/**'}


def restated_parameters(path: Path) -> list[str]:
    """Keys of a parameter file that say what the node would have without them: the
    dataclass default for a node's own file (``config/<node>.yaml``), the node's own
    file for a profile (``robot.yaml``, ``sim.yaml``). A group (``sources.*``) is
    judged whole. A value is defined once: in the config dataclass."""
    own = {spec.name: spec.config for spec in ALL_NODES}
    problems = []
    for name, params in _sections(path).items():
        if name not in PARSERS:
            continue
        base = {} if own.get(name) == path.name else \
            _sections(path.parent / own[name]).get(name, {})
        groups: dict[str, dict] = {}
        for key, value in params.items():
            groups.setdefault(key.split('.', 1)[0], {})[key] = value
        reference = PARSERS[name](dict(base))
        for group, values in groups.items():
            if PARSERS[name]({**base, **values}) == reference:
                where = 'the default of its config dataclass' if not base else \
                    f'what config/{own[name]} gives'
                problems.append(f'{path.name}: {name}: {group} restates {where}; delete it '
                                '(YAML holds only what differs)')
    return problems


def node_topic_problems(spec: NodeSpec, wiring=None) -> list[str]:
    """What a node's wiring publishes and subscribes against the graph table.

    The wiring (``WIRINGS[spec.name]`` unless given) runs on a ``ReplayBus`` with the
    node's shipped parameters: the code that runs under rclpy, not a reading of it.
    """
    wiring = wiring or WIRINGS[spec.name]
    bus = ReplayBus(ReplayExecutor(), node_params(spec))
    wiring(bus, on_episode=lambda _episode: None) if spec is RECORDER else wiring(bus)
    used_pub = {name.lstrip('/') for name in bus.publications}
    used_sub = {name.lstrip('/') for name in bus.subscriptions}
    declared_pub = {t.name for t in spec.publishes}
    declared_sub = {t.name for t in spec.subscribes}
    problems = []
    if used_pub != declared_pub:
        problems.append(f'{spec.name}: publishes {sorted(used_pub)}, the graph says '
                        f'{sorted(declared_pub)}')
    if used_sub != declared_sub:
        problems.append(f'{spec.name}: subscribes {sorted(used_sub)}, the graph says '
                        f'{sorted(declared_sub)}')
    return problems
