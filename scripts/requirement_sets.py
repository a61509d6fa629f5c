"""The requirement sets in requirements/: one file per place the code runs.

Standard library only: the Jetson image runs this module before anything is installed.

A set file holds pins (``name==version``, optional extras and environment markers),
``-r other.txt`` includes, comments, and one ``# targets:`` line naming where the set
must install (scripts/check_deps.py resolves it there). A file without a targets line
is only ever included by others. A ``# no-deps`` line marks a set of packages that only
ship files: it is installed, and resolved, with ``pip install --no-deps``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / 'requirements'
_NAME = re.compile(r'^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$')


def normalise(name: str) -> str:
    """A distribution name as pip compares it (PEP 503)."""
    return re.sub(r'[-_.]+', '-', name).lower()


@dataclass(frozen=True)
class Pin:
    """One requirement line: ``name`` as written, ``line`` without its comment."""

    name: str
    line: str
    source: Path

    @property
    def key(self) -> str:
        return normalise(self.name)


@dataclass
class RequirementSet:
    """A set file with its includes followed: ``pins`` in order, each name once."""

    path: Path
    targets: tuple[str, ...]
    pins: list[Pin] = field(default_factory=list)
    no_deps: bool = False

    @property
    def name(self) -> str:
        return self.path.stem

    def names(self) -> set[str]:
        return {pin.key for pin in self.pins}


class RequirementError(ValueError):
    """A set file that cannot be read as a requirement set."""


def _own_lines(path: Path):
    """(line number, text): a comment line whole, any other without its trailing comment."""
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        yield number, line if line.startswith('#') else line.split(' #', 1)[0].strip()


def read_set(path: Path) -> RequirementSet:
    """Read ``path`` and every file it includes; a name pinned twice is an error."""
    path = Path(path)
    targets: tuple[str, ...] = ()
    for _number, line in _own_lines(path):
        if line.startswith('#') and line[1:].strip().startswith('targets:'):
            targets = tuple(line.split('targets:', 1)[1].split())
    result = RequirementSet(path=path, targets=targets, no_deps=_no_deps(path))
    _collect(path, result.pins, {}, set(), stack=())
    return result


def _no_deps(path: Path) -> bool:
    return any(line == '# no-deps' for _number, line in _own_lines(path))


def _collect(path: Path, pins: list[Pin], seen: dict[str, Pin], visited: set,
             stack: tuple) -> None:
    path = path.resolve()
    if path in stack:
        raise RequirementError(f'{path.name} includes itself through {stack[-1].name}')
    if not path.is_file():
        where = f' (included by {stack[-1].name})' if stack else ''
        raise RequirementError(f'no requirement file {path}{where}')
    if path in visited:  # included twice through different sets: read once
        return
    visited.add(path)
    for number, line in _own_lines(path):
        if not line or line.startswith('#'):
            continue
        if line.startswith(('-r ', '--requirement ')):
            included = path.parent / line.split(None, 1)[1]
            if included.is_file() and _no_deps(included):
                raise RequirementError(
                    f'{path.name}:{number} includes {included.name}, a no-deps set: it would '
                    'be installed with its dependencies there; install it on its own with '
                    '--no-deps')
            _collect(included, pins, seen, visited, stack + (path,))
            continue
        if line.startswith('-'):
            raise RequirementError(f'{path.name}:{number}: options other than -r do not '
                                   f'belong in a set file: {line!r}')
        match = _NAME.match(line)
        if not match:
            raise RequirementError(f'{path.name}:{number}: not a requirement: {line!r}')
        pin = Pin(name=match.group(1), line=line, source=path)
        before = seen.get(pin.key)
        # One name under two markers in one file (a pin per Python line) is allowed; the
        # same name in two files is one value defined in two places.
        if before is not None and (before.source != path or ';' not in line
                                   or ';' not in before.line):
            raise RequirementError(f'{pin.name} is pinned in {before.source.name} and again '
                                   f'in {path.name}:{number}; pin it once')
        seen[pin.key] = pin
        pins.append(pin)


def all_sets(folder: Path = REQUIREMENTS) -> list[RequirementSet]:
    """Every set file in ``folder``, read with its includes."""
    return [read_set(path) for path in sorted(Path(folder).glob('*.txt'))]
