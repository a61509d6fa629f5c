"""mobile-vla: Mobile VLA workspace tools that run without ROS 2.

Subcommands are registered in ``COMMANDS``, and packages add their own through
the ``mobile_vla.commands`` entry point group (the recorder adds ``data``), so
the core library never imports the packages built on it. Each subcommand returns
an exit code; user mistakes end in one clear line, not a traceback.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points
from typing import Callable, Sequence

from mobile_vla.bag import BagError, BagReader
from mobile_vla.config import ConfigError
from mobile_vla.policy.cli import add_policy_commands
from mobile_vla.training.cli import add_training_commands
from mobile_vla.units import NS


def _bag_info(args: argparse.Namespace) -> int:
    with BagReader(args.path) as reader:
        duration = (reader.end_ns - reader.start_ns) / NS if reader.message_count else 0.0
        print(f'bag:      {args.path}')
        print(f'messages: {reader.message_count}')
        print(f'duration: {duration:.3f} s')
        print(f'start:    {reader.start_ns} ns')
        width = max((len(t) for t in reader.topics), default=5)
        for topic, info in sorted(reader.topics.items()):
            rate = info.count / duration if duration > 0 else 0.0
            note = '' if info.decodable else '  (type not decodable here)'
            print(f'  {topic:<{width}}  {info.msgtype:<36} {info.count:>7} msgs '
                  f'{rate:8.2f} Hz{note}')
    return 0


def _add_bag(sub: argparse._SubParsersAction) -> None:
    bag = sub.add_parser('bag', help='inspect rosbag2 files')
    bag_sub = bag.add_subparsers(dest='bag_command', required=True)
    info = bag_sub.add_parser('info', help='topics, types, counts and rates of a bag')
    info.add_argument('path', help='rosbag2 folder (with metadata.yaml)')
    info.set_defaults(func=_bag_info)


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_bag, add_policy_commands, add_training_commands]
ENTRY_POINT_GROUP = 'mobile_vla.commands'
USER_ERRORS: tuple[type[Exception], ...] = (
    BagError, ConfigError, FileNotFoundError, ValueError, OSError)


#: Error types of modules loaded on demand (by name, so the CLI need not import them).
USER_ERROR_NAMES = frozenset({'CheckpointError', 'ModelFilesError', 'EpisodeError',
                              'EpisodeWriteError', 'ScenarioError', 'ReplayError',
                              'TrainingDiverged', 'TokenizerFileError', 'StaleExportError',
                              'DeviceUnavailable'})


def plugin_commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Subcommands other packages register under the ``mobile_vla.commands`` group."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return [found[name].load() for name in sorted(found)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='mobile-vla', description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    for add in COMMANDS + plugin_commands():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except Exception as exc:
        # Errors that describe a user mistake end in one line; bugs keep their traceback.
        if isinstance(exc, USER_ERRORS) or type(exc).__name__ in USER_ERROR_NAMES:
            print(f'mobile-vla: error: {exc}', file=sys.stderr)
            return 2
        raise


if __name__ == '__main__':
    sys.exit(main())
