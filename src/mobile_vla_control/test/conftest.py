from pathlib import Path

import pytest


@pytest.fixture(scope='session')
def workspace_config() -> Path:
    """The workspace's config/ folder (tests run from the source tree)."""
    return Path(__file__).resolve().parents[3] / 'config'
