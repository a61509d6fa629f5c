from pathlib import Path

import pytest


@pytest.fixture(scope='session')
def workspace_config() -> Path:
    return Path(__file__).resolve().parents[3] / 'config'
