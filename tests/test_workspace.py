"""The workspace layout and the rclpy boundary hold for every package."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mobile_vla.package_check import boundary_violations, check_package, import_problems

PACKAGES = ['mobile_vla', 'mobile_vla_camera', 'mobile_vla_inference', 'mobile_vla_control',
            'mobile_vla_recorder', 'mobile_vla_sim']


def test_top_level_layout_is_the_one_the_design_fixes(workspace):
    for name in ('README.md', 'Makefile', 'colcon.meta', '.ci/run', 'src', 'launch', 'config',
                 'docker', 'models', 'tests'):
        assert (workspace / name).exists(), name
    assert (workspace / 'models' / 'COLCON_IGNORE').is_file()
    assert (workspace / 'docker' / 'COLCON_IGNORE').is_file()
    json.loads((workspace / 'colcon.meta').read_text())
    assert 'make test' in (workspace / '.ci' / 'run').read_text()


def test_colcon_finds_exactly_the_six_packages(workspace):
    colcon = Path(sys.executable).with_name('colcon')
    out = subprocess.run([str(colcon), 'list', '--names-only', '--base-paths', 'src'],
                         cwd=workspace, capture_output=True, text=True, check=True).stdout
    assert sorted(out.split()) == sorted(PACKAGES)
    out = subprocess.run([str(colcon), 'list', '--names-only', '--base-paths', '.'],
                         cwd=workspace, capture_output=True, text=True, check=True).stdout
    assert sorted(out.split()) == sorted(PACKAGES), 'models/ or docker/ leaked into the build'


@pytest.mark.parametrize('package', PACKAGES)
def test_every_package_is_sound(workspace, package):
    problems = check_package(workspace / 'src' / package)
    assert not problems, '\n'.join(problems)


def test_no_ros_imports_outside_node_modules(workspace):
    problems = boundary_violations(workspace / 'src')
    assert not problems, '\n'.join(problems)


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A package with one plain module and one node module, importable from tmp_path."""
    pkg = tmp_path / 'demo_pkg'
    (pkg / 'demo_pkg').mkdir(parents=True)
    (pkg / 'resource').mkdir()
    (pkg / 'resource' / 'demo_pkg').touch()
    (pkg / 'setup.py').write_text(textwrap.dedent("""
        from setuptools import setup
        setup(name='demo_pkg', entry_points={'console_scripts': [
            'demo = demo_pkg.demo_node:main', 'gone = demo_pkg.missing:main']})
    """))
    (pkg / 'setup.cfg').touch()
    (pkg / 'package.xml').write_text(textwrap.dedent("""\
        <?xml version="1.0"?>
        <package format="3"><name>demo_pkg</name>
          <exec_depend>rclpy</exec_depend>
          <export><build_type>ament_python</build_type></export></package>
    """))
    (pkg / 'demo_pkg' / '__init__.py').touch()
    (pkg / 'demo_pkg' / 'demo_node.py').write_text(
        'import rclpy\nfrom std_msgs.msg import String\n\ndef main():\n    pass\n')
    monkeypatch.syspath_prepend(str(pkg))
    return pkg


def test_the_checks_catch_what_they_promise(fake_package):
    pkg = fake_package
    problems = check_package(pkg)
    assert any('std_msgs' in p and 'exec_depend' in p for p in problems)
    assert any('gone' in p and 'missing' in p for p in problems)
    assert not boundary_violations(pkg / 'demo_pkg')  # node modules may import ROS
    (pkg / 'demo_pkg' / 'logic.py').write_text('def f():\n    from rclpy.node import Node\n')
    [violation] = boundary_violations(pkg / 'demo_pkg')
    assert 'logic.py:2' in violation and 'rclpy.node' in violation
    (pkg / 'demo_pkg' / 'plain.py').write_text('import geometry_msgs.msg\n')
    problems = import_problems('demo_pkg')
    assert any('plain' in p and 'ROS 2 is hidden' in p for p in problems)
