"""Fuzz targets: the episode reader and the config loaders under generated input.

The properties, for any input hypothesis generates:
- ``validate_episode`` returns a list of sentences and never raises; ``EpisodeFile``
  opens a file or raises ``EpisodeError``, nothing else; both stay fast;
- every config loader (``from_params`` of each node's, the simulator's, the policy's
  and the training config) returns a config or raises ``ConfigError``, nothing else.

``tests/test_fuzz.py`` runs them for a bounded number of examples in ``make test``;
``scripts/fuzz.py --minutes N`` runs them for longer.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from hypothesis import strategies as st

from mobile_vla.config import ConfigError, from_params
from mobile_vla.episode import EpisodeError, EpisodeFile, validate_episode
from mobile_vla.policy.configuration_policy import PolicyConfig
from mobile_vla.training.config import TrainConfig
from mobile_vla_camera.publisher import CameraConfig
from mobile_vla_control.arbiter_config import ArbiterConfig
from mobile_vla_control.teleop import TeleopConfig
from mobile_vla_inference.inference import InferenceConfig
from mobile_vla_recorder.recorder import RecorderConfig
from mobile_vla_sim.config import SimConfig

#: Longest a single file may take to validate (generous for a loaded CI machine).
VALIDATE_BOUND_S = 5.0
CONFIGS = (ArbiterConfig, TeleopConfig, CameraConfig, InferenceConfig, RecorderConfig,
           SimConfig, PolicyConfig, TrainConfig)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.binary(max_size=20))
values = st.one_of(scalars, st.lists(scalars, max_size=5),
                   st.dictionaries(st.text(max_size=8), scalars, max_size=3))
attr_values = st.one_of(
    st.integers(-2**62, 2**62), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.binary(max_size=30), st.booleans(),
    st.lists(st.integers(-10, 10), min_size=1, max_size=4).map(np.array))
dataset_names = st.sampled_from(['images', 'actions', 'action_event_types', 'timestamps',
                                 'frame_age', 'other'])
attr_names = st.sampled_from(['episode_name', 'num_frames', 'total_duration',
                              'action_chunk_size', 'scenario', 'instruction', 'channel_order',
                              'complete', 'target_frames', 'schema_version'])


@st.composite
def datasets(draw):
    """A dataset of a random dtype and a small random shape (sometimes a plausible one)."""
    frames = draw(st.integers(0, 4))
    shape = draw(st.one_of(
        st.just((frames, 6, 8, 3)), st.just((frames, 3)), st.just((frames,)),
        st.lists(st.integers(0, 5), max_size=4).map(tuple)))
    kind = draw(st.sampled_from(['u1', 'f4', 'f8', 'i8', 'S4', 'str']))
    if kind == 'str':
        return np.array(draw(st.lists(st.text(max_size=12), min_size=frames, max_size=frames)),
                        dtype=object)
    return np.zeros(shape, dtype=kind)


@st.composite
def episode_files(draw):
    """The contents of an HDF5 file that looks more or less like an episode."""
    data = draw(st.dictionaries(dataset_names, datasets(), max_size=6))
    attrs = draw(st.dictionaries(attr_names, attr_values, max_size=10))
    groups = draw(st.lists(dataset_names, max_size=2))
    return data, attrs, groups


def write_file(path: Path, data: dict, attrs: dict, groups: list) -> None:
    """Write what HDF5 can hold of the generated contents (it refuses, for example,
    strings with NUL characters: those items are left out)."""
    with h5py.File(path, 'w') as f:
        for name, array in data.items():
            try:
                if array.dtype == object:
                    f.create_dataset(name, data=array, dtype=h5py.string_dtype('utf-8'))
                else:
                    f.create_dataset(name, data=array)
            except (TypeError, ValueError):
                f.pop(name, None)
        for name in groups:
            if name not in f:
                f.create_group(name)
        for key, value in attrs.items():
            try:
                f.attrs[key] = value
            except (TypeError, ValueError):
                pass


def check_episode_reader(contents) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / 'episode_20260101_000000_1box_vert_left.h5'
        write_file(path, *contents)
        start = time.monotonic()
        problems = validate_episode(path)
        assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)
        assert all(str(path) in p for p in problems), problems
        try:
            with EpisodeFile(path) as ep:
                if not problems:
                    ep.read()
        except EpisodeError:
            assert problems, 'EpisodeFile refused a file validate passed'
        assert time.monotonic() - start < VALIDATE_BOUND_S


@st.composite
def config_params(draw):
    """A config class and parameters: its own field names (mostly) with any values."""
    cls = draw(st.sampled_from(CONFIGS))
    names = [f.name for f in dataclasses.fields(cls)]
    keys = st.one_of(st.sampled_from(names), st.text(max_size=10))
    return cls, draw(st.dictionaries(keys, values, max_size=4))


def check_config_loader(case) -> None:
    cls, params = case
    load = getattr(cls, 'from_params', None) or (lambda p: from_params(cls, p))
    for loader in (load, lambda p: from_params(cls, p)):  # its own loader and the generic
        try:
            loader(params)
        except ConfigError:
            pass
