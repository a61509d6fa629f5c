"""Static checks of the robot graph: launch file, node table, parameter files, node code.

They run without ROS 2 and fail when the wiring breaks: an executable that no package
provides, a parameter in YAML that no node declares, a node that publishes or
subscribes a topic the graph table does not list.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from mobile_vla import topics
from mobile_vla.config import ConfigError, flatten
from mobile_vla.graph import ALL_NODES, NodeSpec
from mobile_vla.package_check import console_scripts
from mobile_vla_sim.graph import PARSERS

TOPIC_BY_CONSTANT = {name: value for name, value in vars(topics).items()
                     if isinstance(value, topics.Topic)}


def launch_arguments(launch_file: Path) -> list[str]:
    tree = ast.parse(launch_file.read_text(encoding='utf-8'))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'ARGUMENTS' for t in node.targets):
            return [item[0] for item in ast.literal_eval(node.value)]
    raise AssertionError(f'{launch_file} declares no ARGUMENTS table')


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


def _topic_constants(call: ast.Call) -> list[str]:
    """Names of ``topics.X`` constants used in the topic argument of a publisher/subscription."""
    found = []
    for arg in call.args[1:2]:
        for node in ast.walk(arg):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == 'topics' and node.attr in TOPIC_BY_CONSTANT:
                found.append(node.attr)
        if isinstance(arg, ast.Constant):
            found.append(f'literal {arg.value!r}')
    return found


def node_topic_problems(workspace: Path, spec: NodeSpec, module: Path) -> list[str]:
    """Publishers and subscriptions in a node module against the graph table."""
    tree = ast.parse(module.read_text(encoding='utf-8'))
    used: dict[str, set[str]] = {'create_publisher': set(), 'create_subscription': set()}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in used:
            for name in _topic_constants(node):
                if name.startswith('literal'):
                    problems.append(f'{module.name}: {node.func.attr} with a {name} topic; use '
                                    'mobile_vla.topics')
                else:
                    used[node.func.attr].add(TOPIC_BY_CONSTANT[name].name)
    declared_pub = {t.name for t in spec.publishes}
    declared_sub = {t.name for t in spec.subscribes}
    if used['create_publisher'] != declared_pub:
        problems.append(f'{module.name}: publishes {sorted(used["create_publisher"])}, the graph '
                        f'says {sorted(declared_pub)}')
    # Source topics of the arbiter come from its parameters; the table lists the defaults.
    missing_sub = declared_sub - used['create_subscription']
    if spec.name == 'control_arbiter':
        missing_sub -= {topics.TELEOP_CMD_VEL.name, topics.ROBOT_ACTION.name}
    extra_sub = used['create_subscription'] - declared_sub
    if missing_sub or extra_sub:
        problems.append(f'{module.name}: subscribes {sorted(used["create_subscription"])}, the '
                        f'graph says {sorted(declared_sub)}')
    return problems
