from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / 'fixtures'


@pytest.fixture(scope='session')
def workspace() -> Path:
    return ROOT


@pytest.fixture(scope='session')
def humble_bag() -> Path:
    """A bag recorded by ROS 2 Humble tooling (see fixtures/README.md)."""
    return FIXTURES / 'real_bags' / 'humble_nav_cmd_vel'
