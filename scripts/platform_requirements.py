"""What pip may install on top of a base image that brings the platform's own builds.

The Jetson image (docker/Dockerfile.jetson) starts from an L4T image whose torch, numpy,
onnxruntime-gpu (TensorRT and CUDA providers) and OpenCV (with GStreamer) are built for
the Jetson. Pip must never replace them. Standard library only: this runs in the base
image before anything is installed.

    # in the image, before installing: what the base brings
    python3 -m pip list --format=freeze > /tmp/base.txt
    python3 scripts/platform_requirements.py plan --base /tmp/base.txt \\
        --requirements /tmp/jetson-requirements.txt --constraints /tmp/jetson-constraints.txt \\
        requirements/web.txt
    python3 -m pip install -r /tmp/jetson-requirements.txt -c /tmp/jetson-constraints.txt
    # after installing: nothing of the platform's was replaced or added
    python3 -m pip list --format=freeze > /tmp/after.txt
    python3 scripts/platform_requirements.py verify --base /tmp/base.txt --after /tmp/after.txt

``plan`` writes the set without the platform's packages, and a constraints file that
pins each of them at the base image's version, so a dependency that asks for another
version fails the build instead of replacing it. It fails when the base lacks one the
robot needs. ``verify`` fails when a platform package changed version or appeared (an
``opencv-python-headless`` pulled in by a dependency would shadow the GStreamer build).
``builds`` fails when the builds lack what the robot uses them for.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from requirement_sets import RequirementError, normalise, read_set  # noqa: E402

# The distributions whose Jetson builds come with the base image, by PEP 503 name.
# OpenCV built from source with GStreamer may carry no pip record at all; its PyPI
# wheels are named here so that none is ever installed beside it.
PLATFORM = frozenset(normalise(name) for name in (
    'torch', 'torchvision', 'torchaudio', 'numpy', 'onnxruntime', 'onnxruntime-gpu',
    'opencv-python', 'opencv-python-headless', 'opencv-contrib-python',
    'opencv-contrib-python-headless', 'tensorrt', 'pycuda'))
# What the robot cannot run without; a base image lacking one is the wrong base.
# onnxruntime is needed as onnxruntime-gpu: the Dockerfile installs it from NVIDIA's
# Jetson index before ``plan`` when the base has none.
REQUIRED = {'torch': 'the Jetson PyTorch build', 'numpy': 'the numpy torch was built with',
            'onnxruntime-gpu': "onnxruntime-gpu from NVIDIA's Jetson index (JETSON_INDEX)"}
_FREEZE = re.compile(r'^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$')


class PlatformError(RuntimeError):
    """The base image and the requirement set do not fit together."""


def read_freeze(text: str) -> dict[str, tuple[str, str]]:
    """``pip list --format=freeze`` output: normalised name -> (name, version)."""
    packages = {}
    for line in text.splitlines():
        match = _FREEZE.match(line.strip())
        if match:
            packages[normalise(match.group(1))] = (match.group(1), match.group(2))
    return packages


def plan(base: dict[str, tuple[str, str]], set_path: Path) -> tuple[list[str], list[str]]:
    """(requirement lines, constraint lines) for installing ``set_path`` on ``base``."""
    missing = [f'{name} ({why})' for name, why in REQUIRED.items() if name not in base]
    if missing:
        raise PlatformError(f'the base image lacks {", ".join(missing)}: set L4T_BASE to an '
                            f'image with the Jetson builds (docker/README.md)')
    requirement_set = read_set(set_path)
    requirements = [pin.line for pin in requirement_set.pins if pin.key not in PLATFORM]
    constraints = [f'{name}=={version}' for key, (name, version) in sorted(base.items())
                   if key in PLATFORM]
    return requirements, constraints


def verify(base: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]]) -> list[str]:
    """Each platform package that pip replaced, removed or added; empty when none."""
    problems = []
    for key in sorted(PLATFORM & (base.keys() | after.keys())):
        before_version = base.get(key, (key, None))[1]
        after_version = after.get(key, (key, None))[1]
        if before_version == after_version:
            continue
        if before_version is None:
            problems.append(f'{after[key][0]} {after_version} was installed beside the '
                            f"platform's build")
        elif after_version is None:
            problems.append(f"the platform's {base[key][0]} {before_version} was removed")
        else:
            problems.append(f"the platform's {base[key][0]} {before_version} was replaced by "
                            f'{after_version}')
    return problems


def builds() -> list[str]:
    """What the platform's builds lack for the robot: OpenCV's GStreamer (the CSI camera
    through nvarguscamerasrc), onnxruntime's TensorRT and CUDA providers, a torch that
    takes this numpy's arrays. Empty when nothing is missing."""
    problems = []
    try:
        import cv2
        if not re.search(r'GStreamer:\s+YES', cv2.getBuildInformation()):
            problems.append(f'OpenCV {cv2.__version__} is built without GStreamer')
    except ImportError as error:
        problems.append(f'OpenCV does not import: {error}')
    try:
        import onnxruntime
        providers = onnxruntime.get_available_providers()
        for provider in ('TensorrtExecutionProvider', 'CUDAExecutionProvider'):
            if provider not in providers:
                problems.append(f'onnxruntime {onnxruntime.__version__} has no {provider} '
                                f'(it has {", ".join(providers)})')
    except ImportError as error:
        problems.append(f'onnxruntime does not import: {error}')
    try:
        import numpy
        import torch
        torch.from_numpy(numpy.zeros(2))
    except Exception as error:  # noqa: BLE001 - any failure here is the answer
        problems.append(f'torch does not work with this numpy: {error}')
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    plan_parser = commands.add_parser('plan', help='write requirements and constraints')
    plan_parser.add_argument('set', type=Path,
                             help='the requirement set, e.g. requirements/web.txt')
    plan_parser.add_argument('--base', type=Path, required=True,
                             help="the base image's `pip list --format=freeze`")
    plan_parser.add_argument('--requirements', type=Path, required=True, help='output')
    plan_parser.add_argument('--constraints', type=Path, required=True, help='output')
    verify_parser = commands.add_parser('verify', help='check nothing of the base changed')
    verify_parser.add_argument('--base', type=Path, required=True)
    verify_parser.add_argument('--after', type=Path, required=True)
    commands.add_parser('builds', help="check the platform's builds have what the robot uses")
    args = parser.parse_args(argv)
    if args.command == 'builds':
        problems = builds()
        for problem in problems:
            print(f'platform_requirements: {problem}', file=sys.stderr)
        if not problems:
            print("platform_requirements: the platform's builds have GStreamer, TensorRT "
                  'and CUDA, and torch takes numpy arrays')
        return 1 if problems else 0
    try:
        base = read_freeze(args.base.read_text())
        if args.command == 'plan':
            requirements, constraints = plan(base, args.set)
            args.requirements.write_text('\n'.join(requirements) + '\n')
            args.constraints.write_text('\n'.join(constraints) + '\n')
            kept = ', '.join(line.split('==')[0] for line in constraints)
            print(f'platform_requirements: {len(requirements)} to install from '
                  f'{args.set.name}; kept from the base image: {kept}')
            return 0
        problems = verify(base, read_freeze(args.after.read_text()))
    except (OSError, RequirementError, PlatformError) as error:
        print(f'platform_requirements: error: {error}', file=sys.stderr)
        return 1
    for problem in problems:
        print(f'platform_requirements: {problem}', file=sys.stderr)
    if problems:
        print("platform_requirements: pip changed the base image's own builds; pin the "
              'requirement that pulled them in to a version the base satisfies',
              file=sys.stderr)
        return 1
    print("platform_requirements: the base image's builds are unchanged")
    return 0


if __name__ == '__main__':
    sys.exit(main())
