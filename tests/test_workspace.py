"""The workspace layout and the rclpy boundary hold for every package."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from mobile_vla.package_check import boundary_violations

PACKAGES = ['mobile_vla', 'mobile_vla_camera', 'mobile_vla_inference', 'mobile_vla_control',
            'mobile_vla_recorder', 'mobile_vla_sim', 'mobile_vla_web']


def test_top_level_layout_is_the_one_the_design_fixes(workspace):
    for name in ('README.md', 'Makefile', 'colcon.meta', '.ci/run', 'src', 'launch', 'config',
                 'docker', 'models', 'tests'):
        assert (workspace / name).exists(), name
    assert (workspace / 'models' / 'COLCON_IGNORE').is_file()
    assert (workspace / 'docker' / 'COLCON_IGNORE').is_file()
    json.loads((workspace / 'colcon.meta').read_text())
    assert 'make test' in (workspace / '.ci' / 'run').read_text()


def test_colcon_finds_exactly_the_seven_packages(workspace):
    colcon = Path(sys.executable).with_name('colcon')
    out = subprocess.run([str(colcon), 'list', '--names-only', '--base-paths', 'src'],
                         cwd=workspace, capture_output=True, text=True, check=True).stdout
    assert sorted(out.split()) == sorted(PACKAGES)
    out = subprocess.run([str(colcon), 'list', '--names-only', '--base-paths', '.'],
                         cwd=workspace, capture_output=True, text=True, check=True).stdout
    assert sorted(out.split()) == sorted(PACKAGES), 'models/ or docker/ leaked into the build'


def test_every_package_checks_itself_under_colcon_test(workspace):
    """Each package runs ``check_package`` on itself in its own ``test_package.py`` (colcon
    test runs it with the package's tests), so the check is not repeated here."""
    for package in PACKAGES:
        test = workspace / 'src' / package / 'test' / 'test_package.py'
        assert test.is_file(), f'{package} has no test/test_package.py'
        text = test.read_text()
        assert 'check_package(' in text and 'assert not problems' in text, test


def test_no_ros_imports_outside_node_modules(workspace):
    problems = boundary_violations(workspace / 'src')
    assert not problems, '\n'.join(problems)


def test_ci_runs_the_readme_commands_in_order(workspace):
    lines = [line.strip() for line in (workspace / '.ci' / 'run').read_text().splitlines()]
    assert lines.index('make test') < lines.index('make demo')
    assert 'set -euo pipefail' in lines  # either command failing fails CI


def test_a_plain_install_finds_presets_config_and_launch_file(workspace, tmp_path):
    """Installed without symlinks into a prefix (pip, a plain colcon build, a Docker layer),
    far from the source tree, the core package still finds its share files."""
    copy = tmp_path / 'ws'
    shutil.copytree(workspace / 'src' / 'mobile_vla', copy / 'src' / 'mobile_vla',
                    ignore=shutil.ignore_patterns('*.egg-info', '__pycache__', 'build'))
    for folder in ('config', 'launch'):
        shutil.copytree(workspace / folder, copy / folder)
    prefix = tmp_path / 'prefix'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
                    '--no-build-isolation', '--no-index', '--prefix', str(prefix),
                    str(copy / 'src' / 'mobile_vla')], check=True, capture_output=True)
    shutil.rmtree(copy)  # nothing may lead back to a source tree
    [site] = prefix.glob('lib/python3*/site-packages')
    env = {k: v for k, v in os.environ.items()
           if k not in ('MOBILE_VLA_HOME', 'AMENT_PREFIX_PATH', 'PYTHONPATH')}
    env['PYTHONPATH'] = str(site)
    probe = textwrap.dedent("""
        import json, mobile_vla, mobile_vla.resources as r
        from mobile_vla.policy.configuration_policy import load_preset
        from mobile_vla.training.config import load_train_config
        print(json.dumps({'module': mobile_vla.__file__, 'share': str(r.share_dir()),
                          'launch': r.launch_file().is_file(),
                          'preset': load_preset('clip_tiny').preset,
                          'lr': load_train_config('tiny', ['lr=1e-4']).lr}))
    """)
    out = subprocess.run([sys.executable, '-c', probe], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found['module'].startswith(str(site))
    assert found['share'] == str(prefix / 'share' / 'mobile_vla')
    assert found['launch'] and found['preset'] == 'clip_tiny' and found['lr'] == 1e-4
    # MOBILE_VLA_HOME stays an explicit override, and a wrong one is named.
    env['MOBILE_VLA_HOME'] = str(tmp_path)
    out = subprocess.run([sys.executable, '-c', probe], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert out.returncode != 0 and f'MOBILE_VLA_HOME={tmp_path} has no config/model' in out.stderr


def test_the_readme_qos_table_is_the_one_the_topic_definitions_give(workspace):
    from mobile_vla.topics import compatibility_table

    text = (workspace / 'README.md').read_text()
    begin, end = '<!-- qos-table:begin -->\n', '<!-- qos-table:end -->'
    assert begin in text and end in text
    table = text.split(begin, 1)[1].split(end, 1)[0]
    assert table == compatibility_table(), \
        'README.md QoS table is out of date: python -m mobile_vla.topics prints it'


def test_every_file_and_name_docs_architecture_points_at_exists(workspace):
    """docs/ARCHITECTURE.md says where each behaviour lives: each file a package's row
    names is in that package, each other file it names exists, and each Class.method it
    names exists."""
    import importlib
    import re

    text = (workspace / 'docs' / 'ARCHITECTURE.md').read_text()
    missing = []
    rows = re.findall(r'^\| `(mobile_vla\w*)` \|(.*)\|$', text, flags=re.MULTILINE)
    assert len(rows) >= 7, 'the package table is gone'
    for package, cells in rows:
        files = {p.relative_to(workspace / 'src' / package / package).as_posix()
                 for p in (workspace / 'src' / package / package).rglob('*.py')}
        for name in re.findall(r'`([\w/]+\.py)`', cells):
            if name not in files and not any(f.endswith('/' + name) for f in files):
                missing.append(f'{package}: {name}')
    sources = {p.relative_to(workspace / 'src').as_posix()
               for p in (workspace / 'src').rglob('*.py')}
    for name in sorted(set(re.findall(r'`([\w/]+\.py)`', text))):
        if not (workspace / name).is_file() and \
                not any(s.endswith('/' + name) or s == name for s in sources):
            missing.append(name)
    for owner, attr in set(re.findall(r'`([A-Z]\w+)\.(\w+)\(', text)):
        found = False
        for module in ('mobile_vla_control.arbiter', 'mobile_vla_web.api',
                       'mobile_vla_inference.inference', 'mobile_vla_recorder.recorder'):
            cls = getattr(importlib.import_module(module), owner, None)
            found = found or (cls is not None and hasattr(cls, attr))
        if not found:
            missing.append(f'{owner}.{attr}')
    assert not missing, f'docs/ARCHITECTURE.md names what the code does not have: {missing}'


#: Source modules whose behaviour is tested under another name, and where. Every other
#: module ``<package>/<name>.py`` (or ``<package>/<sub>/<name>.py``) has its tests in
#: ``src/<package>/test/test_<name>.py``.
TESTED_ELSEWHERE = {
    'mobile_vla/cli.py': ['src/mobile_vla/test/test_policy_cli.py',
                          'src/mobile_vla_recorder/test/test_data_cli.py',
                          'src/mobile_vla_sim/test/test_cli.py'],  # each command's own
    'mobile_vla/graph.py': ['tests/test_launch_plan.py'],
    'mobile_vla/launch_plan.py': ['tests/test_launch_plan.py'],  # needs every package
    'mobile_vla/policy/checkpoint_files.py': ['src/mobile_vla/test/test_checkpoint.py',
                                              'tests/test_hostile_input.py'],
    'mobile_vla/policy/cli.py': ['src/mobile_vla/test/test_policy_cli.py'],
    'mobile_vla/policy/tokenization.py': ['src/mobile_vla/test/test_modeling_policy.py',
                                          'src/mobile_vla/test/test_text_encoder.py'],
    'mobile_vla/ros_bus.py': ['tests/test_nodes_rclpy.py', 'tests/test_qos_rclpy.py'],
    'mobile_vla/scenarios.py': ['src/mobile_vla/test/test_language.py',
                                'src/mobile_vla_sim/test/test_goals.py'],
    'mobile_vla/training/cli.py': ['src/mobile_vla/test/test_trainer.py',
                                   'src/mobile_vla/test/test_evaluate.py'],
    'mobile_vla/training/config.py': ['src/mobile_vla/test/test_trainer.py',
                                      'src/mobile_vla/test/test_config.py',
                                      'tests/test_fuzz.py'],
    'mobile_vla/units.py': [],  # constants only
    'mobile_vla_camera/calibration.py': ['src/mobile_vla_camera/test/test_publisher.py'],
    'mobile_vla_camera/media.py': ['src/mobile_vla_camera/test/test_sources.py'],
    'mobile_vla_control/keyboard.py': ['src/mobile_vla_control/test/test_teleop.py',
                                       'src/mobile_vla_control/test/test_teleop_terminal.py'],
    'mobile_vla_control/teleop_console.py': [
        'src/mobile_vla_control/test/test_teleop_terminal.py'],
    'mobile_vla_sim/config.py': ['src/mobile_vla_sim/test/test_session.py',
                                 'src/mobile_vla_sim/test/test_goals.py'],
    'mobile_vla_sim/graph.py': ['tests/test_graph_replay.py', 'tests/test_launch_plan.py'],
}


def test_every_module_with_behaviour_has_tests_a_newcomer_finds_by_name(workspace):
    """A module's tests are ``test/test_<module>.py`` in its package, or listed above with
    where they are. ``__init__.py`` and the one-call ``*_node.py`` files are left out; a
    module of a subfolder whose name another module of the package shares
    (``training/config.py`` beside ``config.py``) must be listed: its name's test file is
    the other's."""
    missing, stale = [], []
    for package in PACKAGES:
        code = workspace / 'src' / package / package
        tests = workspace / 'src' / package / 'test'
        modules = [p for p in sorted(code.rglob('*.py'))
                   if p.name != '__init__.py' and not p.name.endswith('_node.py')]
        stems = [p.stem for p in modules]
        for path in modules:
            name = f'{package}/{path.relative_to(code).as_posix()}'
            shared = stems.count(path.stem) > 1 and path.parent != code
            if (tests / f'test_{path.stem}.py').is_file() and not shared:
                if name in TESTED_ELSEWHERE:
                    stale.append(f'{name} has test_{path.stem}.py; drop it from the table')
                continue
            if name not in TESTED_ELSEWHERE:
                missing.append(name)
            for where in TESTED_ELSEWHERE.get(name, []):
                if not (workspace / where).is_file():
                    stale.append(f'{name}: {where} does not exist')
    for name in TESTED_ELSEWHERE:
        package, module = name.split('/', 1)
        if not (workspace / 'src' / package / package / module).is_file():
            stale.append(f'{name} is not a module any more; drop it from the table')
    assert not missing, f'no test/test_<module>.py and not in TESTED_ELSEWHERE: {missing}'
    assert not stale, stale
