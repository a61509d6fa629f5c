"""Static checks of the workspace's packages: the rclpy boundary and package metadata.

Used by each package's tests and by the workspace tests, so a node module that
imports a ROS package its package.xml does not declare, or a plain module that
imports rclpy, fails ``make test`` on a machine without ROS 2.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

#: Top-level modules that only exist where ROS 2 is installed.
ROS_MODULES = frozenset({
    'rclpy', 'cv_bridge', 'launch', 'launch_ros', 'launch_testing', 'launch_testing_ros',
    'builtin_interfaces', 'message_filters', 'tf2_ros', 'rosbag2_py', 'ament_index_python',
})
#: Python imports and the rosdep key a Humble robot installs them with.
PYTHON_ROSDEP_KEYS = {
    'numpy': 'python3-numpy',
    'h5py': 'python3-h5py',
    'cv2': 'python3-opencv',
    'yaml': 'python3-yaml',
}


def is_ros_module(name: str) -> bool:
    top = name.split('.')[0]
    return top in ROS_MODULES or top.endswith(('_msgs', '_srvs', '_interfaces'))


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in a Python file, nested ones included."""
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return sorted(found)


def may_import_ros(path: Path) -> bool:
    """Node modules, one rclpy adapter module (``ros_*.py``), launch files and tests may
    import ROS; nothing else may."""
    return (
        path.name.endswith('_node.py')
        or (path.name.startswith('ros_') and path.suffix == '.py')
        or path.name.endswith('.launch.py')
        or 'test' in path.parts
    )


def boundary_violations(root: Path) -> list[str]:
    """Every ROS import in a module that must stay importable without ROS 2."""
    problems = []
    for path in sorted(Path(root).rglob('*.py')):
        if may_import_ros(path.relative_to(root)):
            continue
        for line, module in imported_modules(path):
            if is_ros_module(module):
                problems.append(
                    f'{path}:{line}: imports {module}; only *_node.py modules and a ros_*.py '
                    'adapter may import ROS packages (move the logic into a plain module)'
                )
    return problems


def _python_sources(pkg_dir: Path) -> list[Path]:
    name = pkg_dir.name
    return sorted((pkg_dir / name).rglob('*.py'))


def package_problems(pkg_dir: str | Path) -> list[str]:
    """What is wrong with an ament_python package folder, as readable sentences."""
    pkg_dir = Path(pkg_dir)
    name = pkg_dir.name
    problems: list[str] = []
    manifest = pkg_dir / 'package.xml'
    if not manifest.is_file():
        return [f'{pkg_dir}: no package.xml']
    root = ET.parse(manifest).getroot()
    if root.get('format') != '3':
        problems.append(f'{manifest}: package format must be 3, got {root.get("format")}')
    if root.findtext('name') != name:
        problems.append(f'{manifest}: <name> is {root.findtext("name")!r}, folder is {name!r}')
    build_type = root.findtext('export/build_type')
    if build_type != 'ament_python':
        problems.append(f'{manifest}: <export><build_type> must be ament_python')
    depends = {
        el.text.strip()
        for tag in ('depend', 'exec_depend')
        for el in root.iter(tag)
        if el.text
    }
    if not (pkg_dir / 'resource' / name).is_file():
        problems.append(f'{pkg_dir}: missing ament index marker resource/{name}')
    for required in ('setup.py', 'setup.cfg'):
        if not (pkg_dir / required).is_file():
            problems.append(f'{pkg_dir}: missing {required}')
    if not (pkg_dir / name / '__init__.py').is_file():
        problems.append(f'{pkg_dir}: missing Python package {name}/__init__.py')
    for path in _python_sources(pkg_dir):
        for line, module in imported_modules(path):
            top = module.split('.')[0]
            key = top if is_ros_module(top) else PYTHON_ROSDEP_KEYS.get(top)
            if top == 'mobile_vla' and name != 'mobile_vla':
                key = 'mobile_vla'
            if key and key not in depends:
                problems.append(
                    f'{path}:{line}: imports {module} but package.xml has no '
                    f'<exec_depend>{key}</exec_depend>'
                )
    problems.extend(_console_script_problems(pkg_dir))
    return problems


def console_scripts(pkg_dir: Path) -> dict[str, str]:
    """name -> 'module:function' from the entry_points literal in setup.py."""
    tree = ast.parse((pkg_dir / 'setup.py').read_text(encoding='utf-8'))
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == 'entry_points':
            entry_points = ast.literal_eval(node.value)
            scripts = {}
            for spec in entry_points.get('console_scripts', []):
                script, target = (part.strip() for part in spec.split('=', 1))
                scripts[script] = target
            return scripts
    return {}


def _console_script_problems(pkg_dir: Path) -> list[str]:
    if not (pkg_dir / 'setup.py').is_file():
        return []
    problems = []
    for script, target in console_scripts(pkg_dir).items():
        module, _, func = target.partition(':')
        path = pkg_dir / Path(*module.split('.')).with_suffix('.py')
        if not path.is_file():
            problems.append(f'{pkg_dir}/setup.py: console script {script} names missing {module}')
            continue
        tree = ast.parse(path.read_text(encoding='utf-8'))
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        if func not in defined:
            problems.append(f'{pkg_dir}/setup.py: {script} -> {target}: no function {func}')
    return problems


_IMPORT_PROBE = r"""
import importlib, importlib.abc, pkgutil, sys
ROS = {ros!r}
class BlockRos(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split('.')[0]
        if top in ROS or top.endswith(('_msgs', '_srvs', '_interfaces')):
            raise ModuleNotFoundError(f'No module named {{name!r}} (ROS 2 is hidden)')
        return None
sys.meta_path.insert(0, BlockRos())
pkg = importlib.import_module({name!r})
failed = []
for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):
    if info.name.endswith('_node') or info.name.rsplit('.', 1)[-1].startswith('ros_'):
        continue
    try:
        importlib.import_module(info.name)
    except Exception as exc:
        failed.append(f'{{info.name}}: {{type(exc).__name__}}: {{exc}}')
print('\n'.join(failed))
sys.exit(1 if failed else 0)
"""


def import_problems(package: str) -> list[str]:
    """Import every non-node module of ``package`` in a fresh interpreter with ROS hidden.

    The probe hides rclpy and the message packages even where ROS 2 is installed,
    so the check means the same on the robot and on a laptop.
    """
    code = _IMPORT_PROBE.format(ros=sorted(ROS_MODULES), name=package)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=300
    )
    if proc.returncode == 0:
        return []
    lines = proc.stdout.strip().splitlines() or proc.stderr.strip().splitlines()[-3:]
    return [f'{package}: {line}' for line in lines]


def check_package(pkg_dir: str | Path) -> list[str]:
    """Everything a package's own test checks: metadata, boundary, import without ROS."""
    pkg_dir = Path(pkg_dir)
    return (
        package_problems(pkg_dir)
        + boundary_violations(pkg_dir / pkg_dir.name)
        + import_problems(pkg_dir.name)
    )


def undocumented_parameters(readme: str | Path, config_cls: type) -> list[str]:
    """Fields of a node's config dataclass that the package README's tables do not list."""
    import dataclasses
    import re

    text = Path(readme).read_text(encoding='utf-8')
    listed = set(re.findall(r'^\|\s*`([a-z_][a-z0-9_.<>]*)`', text, flags=re.MULTILINE))
    listed |= {name for cell in re.findall(r'^\|\s*(`[^|]+`)\s*\|', text, flags=re.MULTILINE)
               for name in re.findall(r'`([a-z_][a-z0-9_]*)`', cell)}
    # A group such as ``sources`` is documented by its members (``sources.<name>.topic``).
    return [f.name for f in dataclasses.fields(config_cls)
            if f.name not in listed and not any(n.startswith(f.name + '.') for n in listed)]
