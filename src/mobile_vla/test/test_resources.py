"""``resources``: where the share files (config/, launch/) are found, in its documented
order, and a clear error naming the fix where they are not. (A real install into a
prefix far from the source tree is ``tests/test_workspace.py``'s.)"""

from pathlib import Path

import pytest

import mobile_vla.resources as resources
from mobile_vla.config import ConfigError


def share(folder: Path) -> Path:
    (folder / 'config' / 'model').mkdir(parents=True)
    (folder / 'launch').mkdir()
    return folder


@pytest.fixture
def away(tmp_path, monkeypatch):
    """The module imported from a folder with no share files near it, and no environment."""
    monkeypatch.setattr(resources, '_HERE', tmp_path / 'lib' / 'site' / 'mobile_vla' / 'x.py')
    monkeypatch.delenv(resources.HOME_VARIABLE, raising=False)
    monkeypatch.delenv('AMENT_PREFIX_PATH', raising=False)
    return tmp_path


def test_the_source_checkout_serves_its_own_config(monkeypatch):
    monkeypatch.delenv(resources.HOME_VARIABLE, raising=False)  # set in the robot's images
    found = resources.share_dir()
    assert (found / 'config' / 'model').is_dir() and resources.source_checkout() == found
    assert resources.config_dir() == found / 'config'
    assert resources.launch_file().is_file()


def test_an_install_prefix_then_the_ament_index_are_looked_in(away, monkeypatch):
    with pytest.raises(ConfigError, match='source the workspace .* or set MOBILE_VLA_HOME'):
        resources.share_dir()
    indexed = share(away / 'other' / 'share' / 'mobile_vla')
    monkeypatch.setenv('AMENT_PREFIX_PATH', f'{away / "nothing"}:{away / "other"}')
    assert resources.share_dir() == indexed
    beside = share(away / 'lib' / 'share' / 'mobile_vla')  # <prefix>/share beside lib/
    assert resources.share_dir() == beside
    assert resources.workspace_dir() == Path.cwd()  # no checkout: relative to here


def test_mobile_vla_home_wins_and_a_wrong_one_is_named(away, monkeypatch):
    share(away / 'lib' / 'share' / 'mobile_vla')
    home = share(away / 'home')
    monkeypatch.setenv(resources.HOME_VARIABLE, str(home))
    assert resources.share_dir() == home and resources.workspace_dir() == home
    monkeypatch.setenv(resources.HOME_VARIABLE, str(away / 'nowhere'))
    with pytest.raises(ConfigError, match='MOBILE_VLA_HOME=.*nowhere has no config/model/'):
        resources.share_dir()
