"""Resolve every requirement set against the package registry for each of its targets.

    python scripts/check_deps.py                      # every set, every target
    python scripts/check_deps.py --set robot --target 3.10/aarch64

Each (set, target) pair is one ``pip install --dry-run --only-binary=:all:`` with the
target's Python version and platform tags, dependencies included, against the registry
itself (``--isolated``: no local wheel folders or mirrors stand in for it). A pair passes
only when pip finds a binary build of every package the set needs there.

Exit status: 0 when every pair resolved; 1 when one did not (the line names the package
and the target); 2 when a pair could not be checked (registry unreachable): "not
checked" is never a pass.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from requirement_sets import REQUIREMENTS, RequirementError, all_sets  # noqa: E402

PYPI = 'https://pypi.org/simple'
HOST = 'host'
# Pure-Python packages published only as source (colcon's template engine): allowed on
# this machine, where the development set installs; every other package needs a wheel.
SOURCE_ONLY = ('empy',)


@dataclass(frozen=True)
class Target:
    """Where a set must install: a CPython line, a machine, the newest glibc there."""

    python: str
    machine: str
    glibc: tuple[int, int]
    where: str

    def platforms(self) -> list[str]:
        """Every manylinux tag a wheel for this target may carry (pip does not expand
        them from one: it takes exactly the tags it is given)."""
        major, newest = self.glibc
        tags = [f'manylinux_{major}_{minor}_{self.machine}' for minor in range(17, newest + 1)]
        return tags + [f'manylinux2014_{self.machine}']


TARGETS = {
    '3.10/x86_64': Target('3.10', 'x86_64', (2, 35),
                          'Ubuntu 22.04 with ROS 2 Humble: docker/Dockerfile'),
    '3.10/aarch64': Target('3.10', 'aarch64', (2, 35),
                           'Jetson Orin NX, L4T R36 (Ubuntu 22.04): docker/Dockerfile.jetson'),
    '3.11/x86_64': Target('3.11', 'x86_64', (2, 36), 'a training machine (Debian 12)'),
}

# pip's words for a registry it could not reach; such a run says nothing about the pins.
NETWORK = re.compile(
    r'NewConnectionError|Failed to establish a new connection|Name or service not known|'
    r'Temporary failure in name resolution|Max retries exceeded|Network is unreachable|'
    r'Connection refused|ConnectTimeout|ReadTimeout|timed out|ProxyError|SSLError|'
    r'Could not fetch URL|HTTP error 5\d\d|Connection reset')
NO_BUILD = re.compile(r'No matching distribution found for (.+)')
CONFLICT = re.compile(r'The conflict is caused by:\n((?:\s+.+\n?)+)')


@dataclass(frozen=True)
class Outcome:
    status: str  # 'ok', 'failed', 'not checked'
    detail: str


def describe(target_name: str) -> str:
    if target_name == HOST:
        return (f'this machine (CPython {sys.version_info.major}.{sys.version_info.minor} '
                f'on {platform.machine()})')
    target = TARGETS[target_name]
    return f'CPython {target.python} on {target.machine} (glibc <= ' \
           f'{target.glibc[0]}.{target.glibc[1]}; {target.where})'


def pip_command(set_path: Path, target_name: str, index_url: str, report: Path,
                scratch: Path, no_deps: bool = False) -> list[str]:
    command = [sys.executable, '-m', 'pip', 'install', '--isolated',
               '--disable-pip-version-check', '--no-input', '--progress-bar', 'off',
               '--dry-run', '--ignore-installed', '--only-binary=:all:',
               '--retries', '1', '--timeout', '30', '--index-url', index_url,
               '--report', str(report), '-r', str(set_path)]
    if no_deps:  # a set of packages that only ship files, installed the same way
        command.append('--no-deps')
    if target_name == HOST:
        command += [f'--no-binary={name}' for name in SOURCE_ONLY]
    else:
        target = TARGETS[target_name]
        command += ['--target', str(scratch), '--implementation', 'cp',
                    '--python-version', target.python]
        for tag in target.platforms():
            command += ['--platform', tag]
    return command


def diagnose(returncode: int, output: str, report: dict | None, target_name: str) -> Outcome:
    """What one pip run says about a set on a target."""
    if returncode == 0 and report is not None:
        installed = report.get('install', [])
        return Outcome('ok', f'{len(installed)} packages')
    if NETWORK.search(output):
        line = next((ln.strip() for ln in output.splitlines() if NETWORK.search(ln)), '')
        return Outcome('not checked', f'registry not reachable: {line[:160]}')
    no_build = NO_BUILD.search(output)
    if no_build:
        requirement = no_build.group(1).strip()
        name = re.split(r'[\s;<>=!~\[(]', requirement, maxsplit=1)[0]
        return Outcome('failed', f'{name}: no build of {requirement} for '
                                 f'{_short(target_name)}')
    conflict = CONFLICT.search(output)
    if conflict:
        causes = [ln.strip() for ln in conflict.group(1).splitlines() if ln.strip()]
        more = f' (and {len(causes) - 3} more)' if len(causes) > 3 else ''
        return Outcome('failed', f'conflicting pins on {_short(target_name)}: '
                                 f'{"; ".join(causes[:3])}{more}')
    errors = [ln.strip() for ln in output.splitlines() if ln.startswith('ERROR')]
    return Outcome('failed', (errors[-1] if errors else f'pip exited {returncode}')[:300])


def _short(target_name: str) -> str:
    return 'this machine' if target_name == HOST else target_name


def check(set_path: Path, target_name: str, index_url: str, no_deps: bool = False) -> Outcome:
    with tempfile.TemporaryDirectory(prefix='check_deps_') as tmp:
        report_path = Path(tmp) / 'report.json'
        command = pip_command(set_path, target_name, index_url, report_path,
                              Path(tmp) / 'target', no_deps)
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            return Outcome('not checked', 'pip took over 15 minutes')
        report = json.loads(report_path.read_text()) if report_path.is_file() else None
        return diagnose(run.returncode, run.stdout + run.stderr, report, target_name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--set', action='append', dest='sets', metavar='NAME',
                        help='a set to check (file stem in requirements/); default: all')
    parser.add_argument('--target', action='append', dest='targets', metavar='TARGET',
                        help=f'only this target: {", ".join([*TARGETS, HOST])}')
    parser.add_argument('--requirements', type=Path, default=REQUIREMENTS,
                        help='the folder of set files (default: requirements/)')
    parser.add_argument('--index-url', default=PYPI, help=f'the registry (default {PYPI})')
    parser.add_argument('--jobs', type=int, default=4, help='pip runs at once (default 4)')
    args = parser.parse_args(argv)
    try:
        sets = [s for s in all_sets(args.requirements) if s.targets]
    except RequirementError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    unknown = sorted({t for s in sets for t in s.targets} - {*TARGETS, HOST}
                     | set(args.targets or ()) - {*TARGETS, HOST})
    if unknown:
        print(f'error: unknown target {", ".join(unknown)}; known: '
              f'{", ".join([*TARGETS, HOST])}', file=sys.stderr)
        return 1
    if args.sets:
        missing = sorted(set(args.sets) - {s.name for s in sets})
        if missing:
            print(f'error: no set {", ".join(missing)} with targets in {args.requirements}',
                  file=sys.stderr)
            return 1
        sets = [s for s in sets if s.name in args.sets]
    pairs = [(s, t) for s in sets for t in s.targets if not args.targets or t in args.targets]
    if not pairs:  # nothing resolved is not a pass
        named = '; '.join(f'{s.name}: {" ".join(s.targets)}' for s in sets) or 'none'
        asked = f'targets {", ".join(args.targets)}' if args.targets else 'has a target'
        print(f'no set here {asked} (targets by set: {named}); a set without a '
              '"# targets:" line is only included by others', file=sys.stderr)
        return 1
    print(f'resolving {len(pairs)} (set, target) pairs against {args.index_url} '
          f'(pip --dry-run, binary builds only)')
    for target_name in dict.fromkeys(t for _s, t in pairs):
        print(f'  {target_name:<12}  {describe(target_name)}')
    sys.stdout.flush()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = list(pool.map(
            lambda p: check(p[0].path, p[1], args.index_url, p[0].no_deps), pairs))
    width = max(len(s.name) for s, _t in pairs)
    for (requirement_set, target_name), outcome in zip(pairs, outcomes, strict=True):
        mark = {'ok': 'ok', 'failed': 'FAILED', 'not checked': 'NOT CHECKED'}[outcome.status]
        print(f'{requirement_set.name:<{width}}  {target_name:<12}  {mark}: {outcome.detail}')
    failed = [o for o in outcomes if o.status == 'failed']
    unchecked = [o for o in outcomes if o.status == 'not checked']
    if failed:
        print(f'{len(failed)} of {len(pairs)} pairs do not resolve: pin versions that have a '
              f'build for every target of the set (targets: {", ".join(TARGETS)}; '
              f'requirements/README.md)', file=sys.stderr)
        return 1
    if unchecked:
        print(f'{len(unchecked)} of {len(pairs)} pairs were NOT CHECKED (registry not '
              f'reachable); this is not a pass: run it again when {args.index_url} answers',
              file=sys.stderr)
        return 2
    print(f'all {len(pairs)} pairs resolve')
    return 0


if __name__ == '__main__':
    sys.exit(main())
