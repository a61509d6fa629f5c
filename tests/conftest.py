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


# Tests that share nothing with another test (no DDS domain, port, browser or fixed file)
# and whose time bounds, where they have any, are generous (a CLI run within 120 s, a
# fuzz example within 5 s): `make test` runs these on every core (pytest-xdist, -m
# isolated), then the rest one at a time (-m 'not isolated'), where a live graph's timing
# is measured without a neighbour competing for the CPU.
ISOLATED = {'test_fuzz.py', 'test_graph_replay.py', 'test_hostile_input.py',
            'test_launch_plan.py', 'test_real_bag_arbiter.py', 'test_real_bags.py',
            'test_requirements.py', 'test_sim_demo.py', 'test_workspace.py'}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name in ISOLATED:
            item.add_marker(pytest.mark.isolated)
