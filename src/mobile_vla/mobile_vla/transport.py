"""The DDS transport of a node that publishes camera frames, chosen so 720p keeps up.

Fast DDS's built-in shared-memory segments are 512 KiB, so a 2.7 MB 720p frame falls
back to fragmented UDP and arrives at 7-10 Hz. ``config/fastdds.xml`` gives the
publisher 32 MiB segments: a sample lives in its writer's segment, and readers with
the built-in transports map it from there, so only a node that publishes frames (the
camera) needs the profile; every other node keeps the defaults and their 32 MiB of
shared memory stays unspent. ``ros_bus.run_node`` applies it for such a node, so
the default is right without the user knowing about DDS. A user's own profile file,
or another RMW, is left alone; ``MOBILE_VLA_FASTDDS_PROFILE=builtin`` keeps Fast
DDS's built-in transports. A graph kept on this machine (``ROS_LOCALHOST_ONLY=1``, or
``ROS_AUTOMATIC_DISCOVERY_RANGE`` LOCALHOST or OFF) gets ``fastdds_localhost.xml``,
whose UDP stays on the loopback interface.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from mobile_vla.config import ConfigError
from mobile_vla.resources import config_dir

PROFILE_FILE = 'fastdds.xml'
LOCALHOST_PROFILE_FILE = 'fastdds_localhost.xml'
#: Fast DDS 2.x (Humble, Jazzy) reads the first; Fast DDS 3 (Kilted and later) the second.
PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')
FAST_DDS_RMWS = ('', 'rmw_fastrtps_cpp', 'rmw_fastrtps_dynamic_cpp')
#: ``builtin`` keeps Fast DDS's own transports (512 KiB shared-memory segments).
CHOICE_VARIABLE = 'MOBILE_VLA_FASTDDS_PROFILE'


def localhost_only(env: Mapping[str, str]) -> bool:
    """The user keeps ROS 2 on this machine (Humble's and Jazzy's settings)."""
    return env.get('ROS_LOCALHOST_ONLY', '') == '1' or \
        env.get('ROS_AUTOMATIC_DISCOVERY_RANGE', '').upper() in ('LOCALHOST', 'OFF')


def profile_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return config_dir() / (LOCALHOST_PROFILE_FILE if localhost_only(env) else PROFILE_FILE)


def frame_publisher_environment(
        environ: Mapping[str, str] | None = None) -> tuple[dict[str, str], str]:
    """The variables a frame publisher sets before ROS starts, and a line that says why.

    Nothing is set when the RMW is not Fast DDS, when the user already names a
    profile file (theirs wins), or asks for the built-in transports.
    """
    env = os.environ if environ is None else environ
    if env.get(CHOICE_VARIABLE, '').strip().lower() == 'builtin':
        return {}, f'transport: Fast DDS built-in transports ({CHOICE_VARIABLE}=builtin)'
    rmw = env.get('RMW_IMPLEMENTATION', '')
    if rmw not in FAST_DDS_RMWS:
        return {}, f'transport: {rmw} with its own settings (the Fast DDS profile is not used)'
    for name in PROFILE_VARIABLES:
        if env.get(name):
            return {}, f'transport: the Fast DDS profile of {name}={env[name]}'
    try:
        path = profile_path(env)
    except ConfigError as exc:  # no share folder: frames still flow, only slower
        return {}, (f'transport: Fast DDS built-in transports; the frame profile was not '
                    f'found ({exc}), so 720p frames may arrive below the camera rate')
    if not path.is_file():
        return {}, (f'transport: Fast DDS built-in transports; {path} is missing, so 720p '
                    'frames may arrive below the camera rate (reinstall the workspace)')
    return ({PROFILE_VARIABLES[0]: str(path)},
            f'transport: Fast DDS shared memory for whole frames ({path})')


def use_frame_transport() -> str:
    """Set the frame publisher's transport in this process (before ``rclpy.init``); the
    line that says which transport is used."""
    changes, line = frame_publisher_environment()
    os.environ.update(changes)
    return line
