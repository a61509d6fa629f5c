"""The package is well formed and imports without ROS 2 (see mobile_vla.package_check)."""

from pathlib import Path

from mobile_vla.package_check import check_package


def test_package_is_sound():
    problems = check_package(Path(__file__).resolve().parents[1])
    assert not problems, '\n'.join(problems)
