"""Where the workspace's shared files are: parameter files, presets and the launch file.

``config/`` and ``launch/`` are installed with the core package as share files
(``<prefix>/share/mobile_vla/{config,launch}``, registered in the ament index), so they
are found however the workspace is installed. The share folder is looked up in order:

1. ``$MOBILE_VLA_HOME``, a folder holding ``config/``: an explicit override;
2. the install this module was imported from: the source checkout for a
   ``colcon build --symlink-install`` or an editable pip install, else
   ``<prefix>/share/mobile_vla`` beside ``<prefix>/lib/pythonX.Y/site-packages``
   (pip, a plain ``colcon build``, a Docker layer);
3. the ament index: ``share/mobile_vla`` in each prefix of ``$AMENT_PREFIX_PATH``.
"""

from __future__ import annotations

import os
from pathlib import Path

from mobile_vla.config import ConfigError

PACKAGE = 'mobile_vla'
HOME_VARIABLE = 'MOBILE_VLA_HOME'
_HERE = Path(__file__).resolve()


def _is_share(folder: Path) -> bool:
    return (folder / 'config' / 'model').is_dir()


def source_checkout() -> Path | None:
    """The workspace root when this package runs from its source tree, else None."""
    for parent in _HERE.parents:
        if (parent / 'src' / PACKAGE / 'package.xml').is_file() and _is_share(parent):
            return parent
    return None


def _installed_share() -> Path | None:
    for parent in _HERE.parents:
        candidate = parent / 'share' / PACKAGE
        if _is_share(candidate):
            return candidate
    return None


def _ament_share() -> Path | None:
    for prefix in filter(None, os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)):
        candidate = Path(prefix) / 'share' / PACKAGE
        if _is_share(candidate):
            return candidate
    return None


def share_dir() -> Path:
    """The folder that holds ``config/`` and ``launch/`` (see the module docstring)."""
    home = os.environ.get(HOME_VARIABLE)
    if home:
        folder = Path(home).expanduser().resolve()
        if not _is_share(folder):
            raise ConfigError(f'{HOME_VARIABLE}={home} has no config/model/ folder; point it '
                              'at the workspace root or unset it')
        return folder
    found = source_checkout() or _installed_share() or _ament_share()
    if found is None:
        raise ConfigError(f'the {PACKAGE} share files (config/, launch/) are not installed '
                          f'beside {_HERE.parent}; reinstall the package, source the '
                          f'workspace (install/setup.bash), or set {HOME_VARIABLE}')
    return found


def config_dir() -> Path:
    """``config/``: node parameter files, robot profiles, model and training presets."""
    return share_dir() / 'config'


def launch_file() -> Path:
    return share_dir() / 'launch' / 'mobile_vla.launch.py'


def workspace_dir() -> Path:
    """Where relative model paths such as ``models/demo`` are found when not under the
    current folder: ``$MOBILE_VLA_HOME``, else the source checkout, else the current folder."""
    home = os.environ.get(HOME_VARIABLE)
    if home:
        return Path(home).expanduser().resolve()
    return source_checkout() or Path.cwd()
