"""One set of names for node parameters, YAML files and command-line flags.

Configuration lives in typed dataclasses. ``load_node_params`` reads a ROS 2
parameter file (``node_name: ros__parameters: ...``, ``/**`` wildcards and
namespaced node names included) into flat dotted keys, exactly as rclpy would
declare them; ``from_params`` builds the dataclass from such a flat mapping and
names every unknown key, so a typo in YAML is an error, not a silent default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import yaml

T = TypeVar('T')
#: Parameters every rclpy node has; they are not part of a component's configuration.
ROS_OWN_PARAMETERS = frozenset({'use_sim_time', 'start_type_description_service'})


class ConfigError(ValueError):
    """A configuration value or file that cannot be used; the text says which and why."""


def flatten(tree: Mapping[str, Any], prefix: str = '') -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}, as ROS 2 names nested parameters."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + '.'))
        else:
            flat[name] = value
    return flat


def load_node_params(path: str | Path, node_name: str, namespace: str = '') -> dict[str, Any]:
    """Flat parameters for one node from a ROS 2 parameter YAML file.

    Sections apply in the order rclpy applies them: ``/**`` first, then the bare
    node name, then the fully qualified ``/namespace/node_name``.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
    except FileNotFoundError:
        raise ConfigError(f'parameter file {path} not found') from None
    except yaml.YAMLError as exc:
        raise ConfigError(f'parameter file {path} is not valid YAML: {exc}') from None
    if not isinstance(data, dict):
        raise ConfigError(f'parameter file {path} must map node names to ros__parameters')
    ns = namespace.strip('/')
    full = f'/{ns}/{node_name}' if ns else f'/{node_name}'
    params: dict[str, Any] = {}
    for key in ('/**', node_name, full):
        section = data.get(key)
        if section is None:
            continue
        if not isinstance(section, dict) or 'ros__parameters' not in section:
            raise ConfigError(f'{path}: section {key!r} needs a ros__parameters mapping')
        params.update(flatten(section['ros__parameters'] or {}))
    return params


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _coerce(value: Any, kind: Any, name: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], name)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f'parameter {name} must be a list, got {value!r}')
        (item,) = {a for a in typing.get_args(kind) if a is not Ellipsis}
        return tuple(_coerce(v, item, name) for v in value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f'parameter {name} must be a number, got {value!r}')
        return float(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f'parameter {name} must be an integer, got {value!r}')
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f'parameter {name} must be true or false, got {value!r}')
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(f'parameter {name} must be a string, got {value!r}')
        return value
    return value


def from_params(cls: type[T], params: Mapping[str, Any], skip: tuple[str, ...] = ()) -> T:
    """Build dataclass ``cls`` from flat parameters; unknown keys are an error.

    Keys starting with a prefix in ``skip`` (e.g. ``'sources.'``) are left for
    the caller, which handles nested groups the dataclass cannot name statically.
    Validation errors of the dataclass itself surface as ``ConfigError``.
    """
    kinds = _field_types(cls)
    kwargs = {}
    unknown = []
    for key, value in params.items():
        if key in ROS_OWN_PARAMETERS or key.startswith(skip):
            continue
        if key not in kinds:
            unknown.append(key)
            continue
        kwargs[key] = _coerce(value, kinds[key], key)
    if unknown:
        raise ConfigError(
            f'unknown parameter(s) {", ".join(sorted(unknown))} for {cls.__name__}; '
            f'known: {", ".join(sorted(kinds))}'
        )
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f'{cls.__name__}: {exc}') from None


def to_params(config: Any) -> dict[str, Any]:
    """A dataclass as flat parameters (tuples become lists), for declaring them in a node."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value) or (
            isinstance(value, tuple) and any(dataclasses.is_dataclass(v) for v in value)
        ):
            continue  # nested groups are declared by the node under their own prefix
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def declare_node_config(node: Any, cls: type, descriptor: Callable[..., Any]) -> dict[str, Any]:
    """Declare the fields of dataclass ``cls`` as parameters of an rclpy node; return them all.

    The node must be created with ``automatically_declare_parameters_from_overrides=True``:
    values from YAML or ``-p`` are then taken with their own type (an integer where a
    float is expected is fine; ``from_params`` converts it) instead of failing the
    declaration, and keys no field names reach ``from_params``, which rejects them.
    ``descriptor`` is ``rcl_interfaces.msg.ParameterDescriptor``, passed in so this
    module stays free of ROS imports. Parameters are read-only: they are read once.
    """
    docs = {f.name: f.metadata.get('doc', '') for f in dataclasses.fields(cls)}
    for name, value in to_params(cls()).items():
        if not node.has_parameter(name):
            node.declare_parameter(name, value, descriptor(description=docs[name],
                                                           read_only=True))
    return {name: param.value for name, param in node.get_parameters_by_prefix('').items()}
