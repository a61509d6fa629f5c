"""The requirement sets (requirements/), what the images install, and Python 3.10.

The registry itself is asked by `make check-deps` (scripts/check_deps.py), which CI runs;
here pip runs against a registry made in a temporary folder, so the check's verdicts
(a build missing for a target, a registry that does not answer) are tested offline.
"""

from __future__ import annotations

import ast
import base64
import fnmatch
import hashlib
import io
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'scripts'))

import check_deps  # noqa: E402
import platform_requirements  # noqa: E402
from requirement_sets import (  # noqa: E402
    REQUIREMENTS,
    RequirementError,
    all_sets,
    normalise,
    read_set,
)

DOCKERFILES = sorted((ROOT / 'docker').glob('Dockerfile*'))
# Distributions that are ROS 2 itself: the Humble images take them from the distribution.
ROS = re.compile(r'^(ros-|rclpy$|rosidl|rmw|rcl-|ament|colcon)')
# Import name -> distribution, where they differ.
DISTRIBUTION = {'cv2': 'opencv-python-headless', 'yaml': 'pyyaml', 'sklearn': 'scikit-learn'}
# Modules that come from ROS 2 (the distribution, or the Jazzy wheels here).
ROS_MODULES = {'rclpy', 'std_msgs', 'sensor_msgs', 'geometry_msgs', 'diagnostic_msgs',
               'nav_msgs', 'builtin_interfaces', 'launch', 'launch_ros', 'launch_testing',
               'rosidl_runtime_py', 'rcl_interfaces', 'rclpy_message_converter'}
# The robot's packages, and the set each must install from (ROBOT_CODE: the nodes and the
# policy; the core's training and the simulator have sets of their own).
ROBOT_CODE = {'mobile_vla_camera': 'robot', 'mobile_vla_control': 'robot',
              'mobile_vla_inference': 'robot', 'mobile_vla_recorder': 'robot',
              'mobile_vla_web': 'web', 'mobile_vla': 'robot'}
NOT_ON_THE_ROBOT = ('mobile_vla/training/', 'mobile_vla_sim/')


def sets_by_name():
    return {s.name: s for s in all_sets()}


def installed_by(dockerfile: Path) -> list[str]:
    """The requirement files a Dockerfile installs (by `-r`, or through the Jetson plan)."""
    text = dockerfile.read_text()
    return re.findall(r'(?<![\w/-])(requirements(?:/[\w-]+)?\.txt)', text)


# ---------------------------------------------------------------- the sets themselves
def test_every_set_reads_and_pins_each_name_once_at_an_exact_version():
    sets = all_sets()
    assert {s.name for s in sets} >= {'robot', 'training', 'sim', 'web', 'dev'}
    for requirement_set in sets:
        for pin in requirement_set.pins:
            assert re.search(r'==[\w.+!]+\s*(;|$)', pin.line), \
                f'{pin.source.name}: {pin.line!r} is not pinned to one version'
    assert set(read_set(ROOT / 'requirements.txt').names()) == sets_by_name()['dev'].names()


def test_a_name_pinned_in_two_files_is_an_error(tmp_path):
    (tmp_path / 'a.txt').write_text('numpy==1.26.4\n')
    (tmp_path / 'b.txt').write_text('# targets: host\n-r a.txt\nNumPy==2.2.6\n')
    with pytest.raises(RequirementError, match='NumPy is pinned in a.txt and again in b.txt'):
        read_set(tmp_path / 'b.txt')
    (tmp_path / 'c.txt').write_text('-r missing.txt\n')
    with pytest.raises(RequirementError, match='no requirement file .*missing.txt'):
        read_set(tmp_path / 'c.txt')


def test_the_robot_set_holds_the_runtime_only():
    sets = sets_by_name()
    robot = sets['robot'].names()
    assert {'torch', 'numpy', 'transformers', 'onnxruntime', 'h5py', 'rosbags'} <= robot
    for name in ('mujoco', 'pytest', 'hypothesis', 'ruff', 'playwright', 'accelerate',
                 'tensorboard', 'matplotlib', 'aiohttp', 'colcon-common-extensions'):
        assert name not in robot, f'{name} does not run on the robot'
    assert not [n for n in robot if ROS.match(n)]
    # The robot on both Humble machines and here; training on 3.10 and 3.11.
    assert set(sets['robot'].targets) >= {'3.10/x86_64', '3.10/aarch64', 'host'}
    assert set(sets['training'].targets) >= {'3.10/x86_64', '3.11/x86_64'}


def test_numpy_stays_on_the_abi_that_humble_is_built_with():
    """ROS 2 Humble's message packages are C extensions built against Ubuntu 22.04's numpy
    1.21 (rosidl_generator_py includes numpy's C API); numpy 2 cannot load them. The
    Jetson's torch is built against numpy 1.x too."""
    numpy = next(p for p in sets_by_name()['robot'].pins if p.key == 'numpy')
    assert re.search(r'==1\.\d+', numpy.line), numpy.line


def test_the_robot_code_imports_only_what_its_set_installs():
    sets = sets_by_name()
    missing = []
    for package, set_name in ROBOT_CODE.items():
        allowed = sets[set_name].names()
        for path in sorted((ROOT / 'src' / package / package).rglob('*.py')):
            relative = path.relative_to(ROOT / 'src' / package).as_posix()
            if any(part in relative for part in NOT_ON_THE_ROBOT):
                continue
            for module in _module_level_imports(path):
                if module in sys.stdlib_module_names or module in ROS_MODULES \
                        or module.startswith('mobile_vla'):
                    continue
                if normalise(DISTRIBUTION.get(module, module)) not in allowed:
                    missing.append(f'{relative} imports {module}, not in requirements/'
                                   f'{set_name}.txt')
    assert not missing, '\n'.join(missing)


def _module_level_imports(path: Path) -> set[str]:
    """Top-level modules imported at import time (a lazy import inside a function is an
    optional extra, e.g. matplotlib for a plot)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name.split('.')[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split('.')[0])
    return found


# ------------------------------------------------------------------------ the images
def test_the_humble_images_install_no_ros_wheel():
    """Humble's own rclpy and message packages serve the images: a ros-* wheel would put
    a second client library, of another distribution, on the robot's Python path."""
    assert len(DOCKERFILES) == 2
    for dockerfile in DOCKERFILES:
        files = installed_by(dockerfile)
        assert files, f'{dockerfile.name} installs no requirement set'
        assert 'requirements.txt' not in files and 'requirements/dev.txt' not in files, \
            f'{dockerfile.name} installs the development set, which holds the Jazzy wheels'
        for name in files:
            wheels = [n for n in read_set(ROOT / name).names() if ROS.match(n)]
            assert not wheels, f'{dockerfile.name} installs {name}, which holds {wheels}'
        for line in _pip_install_lines(dockerfile):
            assert not re.search(r'\sros-|\srclpy', line), f'{dockerfile.name}: {line}'


def test_no_pin_lives_outside_the_sets():
    """The Makefile and the Dockerfiles install sets (-r) and take torch's version from
    constraints.txt; a version written into an install line would be a second copy that
    make check-deps never resolves. Versions read from the base image or a build
    argument are not pins."""
    for path in (ROOT / 'Makefile', *DOCKERFILES):
        for line in _pip_install_lines(path):
            assert not re.search(r'==\d', line), \
                f'{path.name}: a pin outside requirements/: {line}'


def test_constraints_agree_with_the_sets():
    pins = {pin.key: pin.line for s in all_sets() for pin in s.pins}
    for line in (ROOT / 'constraints.txt').read_text().splitlines():
        if line.strip() and not line.startswith('#'):
            name = re.split(r'[=<>!~ ;\[]', line.strip(), maxsplit=1)[0]
            assert pins.get(normalise(name)) == line.strip(), \
                f'constraints.txt {line!r} differs from the sets ({pins.get(normalise(name))!r})'


def test_the_files_only_set_installs_and_resolves_without_dependencies(tmp_path):
    files = sets_by_name()['files']
    assert files.no_deps and files.targets
    assert not read_set(REQUIREMENTS / 'robot.txt').no_deps
    command = check_deps.pip_command(REQUIREMENTS / 'files.txt', '3.10/aarch64', 'x',
                                     tmp_path / 'r.json', tmp_path, files.no_deps)
    assert '--no-deps' in command
    for path in (ROOT / 'Makefile', *DOCKERFILES):
        [line] = [x for x in _pip_install_lines(path) if 'requirements/files.txt' in x]
        assert '--no-deps' in line, f'{path.name}: {line}'


def test_a_no_deps_set_is_never_included_by_another(tmp_path):
    (tmp_path / 'files.txt').write_text('# no-deps\n# targets: host\nweights==1.0\n')
    (tmp_path / 'robot.txt').write_text('# targets: host\n-r files.txt\n')
    with pytest.raises(RequirementError, match=r'robot.txt:2 includes files.txt, a no-deps'):
        read_set(tmp_path / 'robot.txt')


def test_the_docker_context_leaves_out_what_git_ignores():
    """Both Dockerfiles COPY the checkout: a used one holds GBs in .venv and runs/."""
    ignored = {line.strip().removeprefix('**/').rstrip('/')
               for line in (ROOT / '.dockerignore').read_text().splitlines()
               if line.strip() and not line.startswith('#')}
    for line in (ROOT / '.gitignore').read_text().splitlines():
        if line.strip() and not line.startswith('#'):
            assert line.strip().rstrip('/') in ignored, f'.dockerignore lacks {line!r}'
    assert '.git' in ignored
    # What the images build and the smoke test drives stays in the context.
    for kept in ('src/mobile_vla/setup.py', 'models/demo/model.safetensors', 'config/robot.yaml',
                 'launch/mobile_vla.launch.py', 'docker/smoke.sh', 'requirements/robot.txt',
                 'scripts/platform_requirements.py', 'constraints.txt'):
        for pattern in ignored:
            assert not (fnmatch.fnmatch(kept, pattern) or fnmatch.fnmatch(kept, pattern + '/*')
                        or kept.startswith(pattern + '/')), f'{pattern} leaves out {kept}'


def _pip_install_lines(path: Path) -> list[str]:
    """The pip install commands of a Dockerfile or the Makefile (comments left out)."""
    text = path.read_text().replace('\\\n', ' ')
    return [part for line in text.splitlines()
            if not line.strip().startswith(('#', '@#'))
            for part in line.split('&&') if 'pip install' in part]


def test_the_jetson_image_keeps_the_platform_builds():
    text = (ROOT / 'docker' / 'Dockerfile.jetson').read_text()
    assert 'platform_requirements.py plan requirements/web.txt' in text
    installs = _pip_install_lines(ROOT / 'docker' / 'Dockerfile.jetson')
    for line in installs:
        # A set with dependencies goes through the plan; a files-only set has none.
        if '-r' in line.split() and '--no-deps' not in line.split():
            assert '-r /tmp/jetson-requirements.txt -c /tmp/jetson-constraints.txt' in line
    assert 'platform_requirements.py verify' in text
    assert 'platform_requirements.py builds' in text


def _smoke(tmp_path: Path, csv: str, call: str) -> subprocess.CompletedProcess:
    """Runs a helper of docker/smoke.sh (sourced: main does not run) on a /cmd_vel log."""
    log = tmp_path / 'cmd_vel.csv'
    log.write_text(csv)
    return subprocess.run(['bash', '-c', f'. docker/smoke.sh && {call}'], cwd=ROOT,
                          env={'PATH': '/usr/bin:/bin', 'SMOKE_CMD_VEL': str(log)},
                          capture_output=True, text=True, timeout=30)


def test_the_smoke_test_reads_cmd_vel_as_ros2_topic_echo_csv_prints_it(tmp_path):
    """The one part of the image smoke test that runs without Docker: finding the first
    moving and the first zero /cmd_vel in `ros2 topic echo --csv` output."""
    zero = '0.0,0.0,0.0,0.0,0.0,-0.0\n'
    csv = zero * 2 + '0.57,0.0,0.0,0.0,0.0,0.0\n' + '1e-05,0.0,0.0,0.0,0.0,0.0\n' + zero
    moving = _smoke(tmp_path, csv, 'wait_cmd_vel moving 0 10')
    assert moving.returncode == 0 and moving.stdout == '0.57,0.0,0.0,0.0,0.0,0.0\n', moving
    later = _smoke(tmp_path, csv, 'wait_cmd_vel moving 3 10')
    assert later.stdout.startswith('1e-05'), later  # a tiny command still moves
    stopped = _smoke(tmp_path, csv, 'wait_cmd_vel zero 3 10')
    assert stopped.returncode == 0 and stopped.stdout == zero, stopped
    never = _smoke(tmp_path, csv, 'wait_cmd_vel moving 4 0.3')
    assert never.returncode == 1 and never.stdout == '', never
    assert _smoke(tmp_path, csv, 'lines').stdout.strip() == '5'


BASE = """\
torch==2.2.0
torchvision==0.17.0
numpy==1.26.1
onnxruntime-gpu==1.17.0
tensorrt==8.6.2
transformers==4.38.0
packaging==23.2
"""


def test_the_jetson_plan_takes_the_platform_packages_from_the_base():
    base = platform_requirements.read_freeze(BASE)
    requirements, constraints = platform_requirements.plan(base, REQUIREMENTS / 'web.txt')
    names = {normalise(re.split(r'[=<>;\[ ]', line, maxsplit=1)[0]) for line in requirements}
    assert not names & platform_requirements.PLATFORM
    assert {'transformers', 'aiohttp', 'h5py', 'rosbags'} <= names
    assert constraints == ['numpy==1.26.1', 'onnxruntime-gpu==1.17.0', 'tensorrt==8.6.2',
                           'torch==2.2.0', 'torchvision==0.17.0']
    # transformers is the robot's pin, not the base's: only platform builds are held.
    assert 'transformers==5.20.2' in requirements


def test_the_jetson_plan_refuses_a_base_without_the_platform_builds():
    base = platform_requirements.read_freeze('numpy==1.26.1\nonnxruntime==1.17.0\n')
    with pytest.raises(platform_requirements.PlatformError,
                       match=r'lacks torch .*onnxruntime-gpu .*L4T_BASE'):
        platform_requirements.plan(base, REQUIREMENTS / 'robot.txt')


def test_verify_names_each_platform_build_pip_changed():
    base = platform_requirements.read_freeze(BASE)
    same = platform_requirements.read_freeze(BASE + 'aiohttp==3.14.5\n')
    assert platform_requirements.verify(base, same) == []
    changed = platform_requirements.read_freeze(
        BASE.replace('numpy==1.26.1', 'numpy==2.2.6').replace('torchvision==0.17.0\n', '')
        + 'opencv-python-headless==4.11.0.86\n')
    assert platform_requirements.verify(base, changed) == [
        "the platform's numpy 1.26.1 was replaced by 2.2.6",
        "opencv-python-headless 4.11.0.86 was installed beside the platform's build",
        "the platform's torchvision 0.17.0 was removed"]


def test_platform_requirements_runs_as_the_image_runs_it(tmp_path):
    base = tmp_path / 'base.txt'
    base.write_text(BASE)
    out_r, out_c = tmp_path / 'r.txt', tmp_path / 'c.txt'
    script = ROOT / 'scripts' / 'platform_requirements.py'
    done = subprocess.run([sys.executable, str(script), 'plan', str(REQUIREMENTS / 'web.txt'),
                           '--base', str(base), '--requirements', str(out_r),
                           '--constraints', str(out_c)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert 'kept from the base image: numpy, onnxruntime-gpu, tensorrt, torch' in done.stdout
    assert 'torch' not in out_r.read_text() and 'torch==2.2.0' in out_c.read_text()
    after = tmp_path / 'after.txt'
    after.write_text(BASE.replace('torch==2.2.0', 'torch==2.13.0'))
    done = subprocess.run([sys.executable, str(script), 'verify', '--base', str(base),
                           '--after', str(after)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "the platform's torch 2.2.0 was replaced by 2.13.0" in done.stderr
    assert 'Traceback' not in done.stderr
    # This machine's builds are PyPI's: no GStreamer, no TensorRT; each is named.
    done = subprocess.run([sys.executable, str(script), 'builds'], capture_output=True,
                          text=True)
    assert done.returncode == 1 and 'has no TensorrtExecutionProvider' in done.stderr


# ------------------------------------------------------- the check, against a registry
def _wheel(folder: Path, name: str, version: str, tag: str, requires: str = '') -> None:
    """A real, minimal wheel: what pip reads to resolve it."""
    dist = f'{name.replace("-", "_")}-{version}'
    files = {f'{dist}.dist-info/METADATA':
             f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{requires}',
             f'{dist}.dist-info/WHEEL':
             f'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n'}
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=')
        record.append(f'{path},sha256={digest.decode()},{len(text)}')
    files[f'{dist}.dist-info/RECORD'] = '\n'.join(record + [f'{dist}.dist-info/RECORD,,']) + '\n'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    project = folder / normalise(name)
    project.mkdir(parents=True, exist_ok=True)
    filename = f'{dist}-{tag}.whl'
    (project / filename).write_bytes(buffer.getvalue())
    links = ''.join(f'<a href="{p.name}">{p.name}</a>\n' for p in sorted(project.glob('*.whl')))
    (project / 'index.html').write_text(f'<html><body>\n{links}</body></html>\n')


@pytest.fixture()
def registry(tmp_path):
    simple = tmp_path / 'simple'
    _wheel(simple, 'everywhere', '1.0', 'py3-none-any', 'Requires-Dist: native==2.0\n')
    _wheel(simple, 'native', '2.0', 'cp310-cp310-manylinux_2_17_aarch64')
    _wheel(simple, 'native', '2.0', 'cp311-cp311-manylinux_2_17_x86_64')
    _wheel(simple, 'native', '2.0', 'cp310-cp310-manylinux_2_17_x86_64')
    _wheel(simple, 'newer-only', '3.0', 'cp311-cp311-manylinux_2_17_x86_64')
    sets = tmp_path / 'requirements'
    sets.mkdir()
    return simple.as_uri(), sets


def test_check_passes_a_set_with_a_build_for_every_target(registry, capsys):
    index, sets = registry
    (sets / 'robot.txt').write_text('# targets: 3.10/x86_64 3.10/aarch64\neverywhere==1.0\n')
    assert check_deps.main(['--requirements', str(sets), '--index-url', index]) == 0
    out = capsys.readouterr().out
    assert 'robot  3.10/x86_64   ok: 2 packages' in out
    assert 'robot  3.10/aarch64  ok: 2 packages' in out


def test_check_names_the_package_and_the_target_without_a_build(registry, capsys):
    index, sets = registry
    (sets / 'robot.txt').write_text('# targets: 3.10/x86_64 3.10/aarch64\n'
                                    'everywhere==1.0\nnewer-only==3.0\n')
    assert check_deps.main(['--requirements', str(sets), '--index-url', index]) == 1
    captured = capsys.readouterr()
    assert 'robot  3.10/x86_64   FAILED: newer-only: no build of newer-only==3.0 for ' \
           '3.10/x86_64' in captured.out
    assert 'robot  3.10/aarch64  FAILED: newer-only' in captured.out
    assert 'do not resolve' in captured.err


def test_a_registry_that_does_not_answer_is_not_checked_never_a_pass(registry, capsys):
    _index, sets = registry
    (sets / 'robot.txt').write_text('# targets: 3.10/aarch64\neverywhere==1.0\n')
    status = check_deps.main(['--requirements', str(sets),
                              '--index-url', 'http://127.0.0.1:9/simple'])
    captured = capsys.readouterr()
    assert status == 2
    assert 'NOT CHECKED: registry not reachable' in captured.out
    assert 'not a pass' in captured.err


def test_check_refuses_an_unknown_target(registry, capsys):
    index, sets = registry
    (sets / 'robot.txt').write_text('# targets: 3.9/riscv\neverywhere==1.0\n')
    assert check_deps.main(['--requirements', str(sets), '--index-url', index]) == 1
    assert 'unknown target 3.9/riscv' in capsys.readouterr().err


def test_a_target_no_set_serves_is_refused_never_a_pass(registry, capsys):
    index, sets = registry
    (sets / 'robot.txt').write_text('# targets: 3.10/aarch64\neverywhere==1.0\n')
    assert check_deps.main(['--requirements', str(sets), '--index-url', index,
                            '--target', '3.10/x86_64']) == 1
    assert 'no set here targets 3.10/x86_64 (targets by set: robot: 3.10/aarch64)' in \
        capsys.readouterr().err
    (sets / 'robot.txt').write_text('everywhere==1.0\n')  # included by others only
    assert check_deps.main(['--requirements', str(sets), '--index-url', index]) == 1
    assert 'no set here has a target (targets by set: none)' in capsys.readouterr().err


# ------------------------------------------------------------------------ Python 3.10
def test_the_python_version_claim_is_one_value_everywhere():
    """README: '3.10+ accepted'; ruff, vermin, the Makefile's check, every package's
    python_requires and the robot set's targets all say the same."""
    readme = (ROOT / 'README.md').read_text()
    claimed = re.search(r'Python 3\.11 preferred, (3\.\d+)\+ accepted', readme).group(1)
    ruff = re.search(r'target-version = "py3(\d+)"', (ROOT / 'ruff.toml').read_text())
    assert f'3.{ruff.group(1)}' == claimed
    makefile = (ROOT / 'Makefile').read_text()
    assert re.search(r'vermin .*--target=' + re.escape(claimed) + r'-', makefile)
    assert f'sys.version_info >= (3, {claimed.split(".")[1]})' in makefile
    for setup in sorted((ROOT / 'src').glob('*/setup.py')):
        assert f"python_requires='>={claimed}'" in setup.read_text(), setup
    assert f'{claimed}/x86_64' in sets_by_name()['robot'].targets


def test_vermin_finds_nothing_newer_than_the_claimed_python():
    """The check `make lint` runs, run here too so that a failure names the line."""
    makefile = (ROOT / 'Makefile').read_text()
    command = re.search(r'\$\(BIN\)/(vermin [^\n]+)', makefile).group(1).split()
    beside = Path(sys.executable).parent / command[0]  # the venv's, else PATH's (an image)
    command[0] = str(beside) if beside.is_file() else shutil.which(command[0]) or command[0]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
