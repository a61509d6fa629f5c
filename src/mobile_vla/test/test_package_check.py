"""``package_check``: the checks every package runs on itself (its ``test_package.py``)
catch what they promise, on a package made for the purpose."""

import textwrap

import pytest

from mobile_vla.package_check import boundary_violations, check_package, import_problems


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
