"""``mobile-vla doc params``: each node's parameter table, made from its config dataclass.

The package READMEs hold these tables between ``<!-- params:<node>:begin -->`` and
``<!-- params:<node>:end -->``; ``mobile-vla doc params --write`` rewrites them, and a
test fails when one is out of date. Names, defaults and meanings are defined once, in
the dataclass (``mobile_vla.config.documented``); a value the node's shipped parameter
file changes is shown next to its default.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mobile_vla.config import load_node_params, parameter_table
from mobile_vla.graph import ALL_NODES, SIM_ROBOT
from mobile_vla.resources import config_dir, workspace_dir
from mobile_vla_sim.config import SimConfig
from mobile_vla_sim.graph import CONFIGS
from mobile_vla_sim.live import LiveSimConfig

#: Every node with parameters: its config dataclass, and its package.
NODES: dict[str, tuple[type, str]] = {
    **{spec.name: (CONFIGS[spec.name], spec.package) for spec in ALL_NODES},
    SIM_ROBOT.name: (LiveSimConfig, SIM_ROBOT.package),
}
#: Every generated table: the nodes', and the simulator's own (``--set key=value``).
TABLES: dict[str, tuple[type, str]] = {**NODES, 'sim_config': (SimConfig, 'mobile_vla_sim')}
_FILES = {spec.name: spec.config for spec in ALL_NODES}


def table(node: str) -> str:
    """The parameter table of ``node`` (or of another entry of ``TABLES``), with what
    its shipped file changes."""
    cls, _ = TABLES[node]
    name = _FILES.get(node)
    shipped = load_node_params(config_dir() / name, node) if name else {}
    return parameter_table(cls, shipped, f'config/{name}')


def _markers(node: str) -> tuple[str, str]:
    return f'<!-- params:{node}:begin -->\n', f'<!-- params:{node}:end -->'


def readme(node: str, workspace: Path | None = None) -> Path:
    return (workspace or workspace_dir()) / 'src' / TABLES[node][1] / 'README.md'


def _table_section(node: str, workspace: Path | None
                   ) -> tuple[Path, str, tuple[str, str, str] | None]:
    """The node's README, its text, and (before, table, after) around the markers, or
    None for the parts when the markers are missing."""
    path = readme(node, workspace)
    text = path.read_text(encoding='utf-8')
    begin, end = _markers(node)
    if begin not in text or end not in text:
        return path, text, None
    head, rest = text.split(begin, 1)
    current, tail = rest.split(end, 1)
    return path, text, (head, current, tail)


def stale_tables(workspace: Path | None = None) -> list[str]:
    """Nodes whose README table is missing or not the generated one, with the fix."""
    problems = []
    for node in TABLES:
        path, text, parts = _table_section(node, workspace)
        if parts is None:
            begin, end = _markers(node)
            problems.append(f'{path}: no parameter table for {node} (markers {begin.strip()} '
                            f'... {end})')
        elif parts[1] != table(node):
            problems.append(f'{path}: the {node} parameter table is out of date; run '
                            '`mobile-vla doc params --write`')
    return problems


def write_tables(workspace: Path | None = None) -> list[Path]:
    """Rewrite every README table between its markers; the files changed."""
    changed = []
    for node in TABLES:
        path, text, parts = _table_section(node, workspace)
        begin, end = _markers(node)
        if parts is None:
            raise ValueError(f'{path} has no {begin.strip()} ... {end} markers for {node}; '
                             'add them where its parameter table goes')
        new = parts[0] + begin + table(node) + end + parts[2]
        if new != text:
            path.write_text(new, encoding='utf-8')
            changed.append(path)
    return changed


def _params(args: argparse.Namespace) -> int:
    if args.write:
        for path in write_tables():
            print(f'updated {path}')
        return 0
    for node in args.node or TABLES:
        if node not in TABLES:
            raise ValueError(f'unknown node {node!r}; known: {", ".join(TABLES)}')
        print(f'## {node} ({TABLES[node][0].__name__})\n\n{table(node)}')
    return 0


def add_doc_command(sub: argparse._SubParsersAction) -> None:
    doc = sub.add_parser('doc', help='documentation made from the code')
    doc_sub = doc.add_subparsers(dest='doc_command', required=True)
    p = doc_sub.add_parser('params', help="each node's parameter table, from its config "
                                          'dataclass (the README tables)')
    p.add_argument('--node', action='append', help='only this node (may repeat)')
    p.add_argument('--write', action='store_true',
                   help="rewrite the tables in the packages' READMEs")
    p.set_defaults(func=_params)
