"""One set of names for node parameters, YAML files and command-line flags.

Configuration lives in typed dataclasses. ``load_node_params`` reads a ROS 2
parameter file (``node_name: ros__parameters: ...``, ``/**`` wildcards and
namespaced node names included) into flat dotted keys, exactly as rclpy would
declare them; ``from_params`` builds the dataclass from such a flat mapping and
names every unknown key, so a typo in YAML is an error, not a silent default.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, TypeVar

import yaml

T = TypeVar('T')
#: Parameters every rclpy node has; they are not part of a component's configuration.
ROS_OWN_PARAMETERS = frozenset({'use_sim_time', 'start_type_description_service'})


class ConfigError(ValueError):
    """A configuration value or file that cannot be used; the text says which and why."""


def documented(text: str, default: Any = dataclasses.MISSING, live: bool = False) -> Any:
    """A config dataclass field with its default and its meaning (``metadata['doc']``):
    READMEs list it, ``package_check`` checks they do, and a node declares it as the ROS
    parameter's description. ``live`` fields may change while the node runs (``ros2 param
    set``, validated as a whole config); the others are read-only parameters. A list
    default is kept as a tuple (a dataclass default must not be mutable); without a
    default the field is required."""
    metadata = {'doc': text, 'live': live}
    return field(default=tuple(default) if isinstance(default, list) else default,
                 metadata=metadata)


def _shown(value: Any) -> str:
    """A parameter value as YAML writes it (true, '', [1.15, 1.15])."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return value if value else "''"
    if isinstance(value, (tuple, list)):
        return '[' + ', '.join(_shown(v) for v in value) + ']'
    return str(value)


def parameter_table(cls: type, shipped: Mapping[str, Any] | None = None,
                    where: str = '') -> str:
    """The Markdown table of a node's parameters from its config dataclass: name,
    default and meaning (``documented``). A field whose default
    is a tuple of named dataclasses (the arbiter's ``sources``) is a row per member
    field, ``<field>.<name>.<member>``. ``shipped``: the node's parameter file
    (``where``), whose values are shown next to the defaults they change."""
    shipped = dict(flatten(shipped or {}))
    rows = ['| parameter | default | meaning |', '|---|---|---|']
    for f in dataclasses.fields(cls):
        default = f.default
        items = default if isinstance(default, tuple) and default and \
            dataclasses.is_dataclass(default[0]) else None
        if items is not None:
            for member in dataclasses.fields(items[0]):
                if member.name == 'name':
                    continue
                values = ', '.join(_shown(getattr(item, member.name)) for item in items)
                names = ', '.join(item.name for item in items)
                rows.append(f'| `{f.name}.<name>.{member.name}` | {values} ({names}) | '
                            f'{member.metadata.get("doc", "")} |')
            continue
        cell = _shown(default)
        if f.name in shipped and _shown(shipped[f.name]) != cell:
            cell += f' ({_shown(shipped[f.name])} in {where})'
        rows.append(f'| `{f.name}` | {cell} | {f.metadata.get("doc", "")} |')
    return '\n'.join(rows) + '\n'


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


def node_name_matches(key: str, fully_qualified: str) -> bool:
    """Whether a parameter-file section applies to a node, as rcl decides it.

    A key names a fully qualified node; one without a leading slash is taken from the
    root (``control_arbiter`` is ``/control_arbiter``, so it does not apply under
    ``/robot1``). ``*`` stands for one name, ``**`` for any number of them (``/**``,
    ``/**/control_arbiter``, ``/robot1/*``).
    """
    pattern = [t for t in key.strip().lstrip('/').split('/') if t]
    names = [t for t in fully_qualified.strip('/').split('/') if t]

    def match(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(names)
        if pattern[i] == '**':
            return any(match(i + 1, k) for k in range(j, len(names) + 1))
        return j < len(names) and pattern[i] in ('*', names[j]) and match(i + 1, j + 1)

    return match(0, 0)


def load_node_params(path: str | Path, node_name: str, namespace: str = '') -> dict[str, Any]:
    """Flat parameters for one node from a ROS 2 parameter YAML file, as rcl applies them.

    Every section whose key matches the node's fully qualified name applies, in file
    order (a later one overrides an earlier one): ``/**``, ``/**/<node>``, the full name
    ``/<namespace>/<node>``, or a bare ``<node>``, which rcl reads from the root
    namespace only. Files of this workspace use ``/**/<node>`` so they apply under any
    namespace.
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
    for key, values in _sections(data, '', path):
        if node_name_matches(key, full):
            params.update(flatten(values))
    return params


def _sections(tree: Mapping[str, Any], prefix: str, path: Path) -> Iterable[tuple[str, dict]]:
    """(node name pattern, ros__parameters) of every section, in file order; names may
    nest (``/**: {control_arbiter: {ros__parameters: ...}}``), as rcl reads them."""
    for key, body in tree.items():
        name = f'{prefix}/{str(key).strip("/")}' if prefix else str(key)
        if not isinstance(body, Mapping) or not body:
            raise ConfigError(f'{path}: section {name!r} needs a ros__parameters mapping')
        if 'ros__parameters' in body:
            yield name, body['ros__parameters'] or {}
        nested = {k: v for k, v in body.items() if k != 'ros__parameters'}
        if nested:
            yield from _sections(nested, name, path)


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


class CliText(str):
    """A value typed on a command line (``--set key=value``): still text, to be read as the
    field's type. Where no type is known (a free-form mapping) it is read as YAML."""


_TRUE = frozenset({'true', 'yes', 'on'})
_FALSE = frozenset({'false', 'no', 'off'})
_NONE = frozenset({'none', 'null', '~', ''})


def _number(value: Any, name: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ConfigError(f'parameter {name} must be a number, got {value!r}') from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f'parameter {name} must be a number, got {value!r}')
    try:
        value = float(value)
    except OverflowError:
        raise ConfigError(f'parameter {name} is out of range: {value!r}') from None
    if not math.isfinite(value):
        raise ConfigError(f'parameter {name} must be a finite number, got {value!r}')
    return value


def _integer(value: Any, name: str) -> int:
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ConfigError(f'parameter {name} must be an integer, got {value!r}') from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f'parameter {name} must be an integer, got {value!r}')
    return value


def _boolean(value: Any, name: str) -> bool:
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if not isinstance(value, bool):
        raise ConfigError(f'parameter {name} must be true or false, got {value!r}')
    return value


def _sequence(value: Any, name: str) -> list[Any]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith('['):
            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError:
                raise ConfigError(f'parameter {name} must be a list, got {text!r}') from None
        else:  # 'a,b,c' on a command line; one item without a comma
            return [CliText(v.strip()) for v in text.split(',')] if text else []
    # rclpy hands array parameters over as array.array: any sequence but text is a list.
    if not isinstance(value, Sequence) or isinstance(value, (bytes, bytearray)):
        raise ConfigError(f'parameter {name} must be a list, got {value!r}')
    return list(value)


def _mapping(value: Any, name: str, schema: type | None) -> dict[str, Any]:
    if isinstance(value, CliText):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f'parameter {name} must be a mapping, got {value!r}') from None
    if not isinstance(value, Mapping):
        raise ConfigError(f'parameter {name} must be a mapping, got {value!r}')
    if schema is None:
        return {str(k): _free(v) for k, v in value.items()}
    kinds = _field_types(schema)
    unknown = sorted(str(k) for k in value if k not in kinds)
    if unknown:
        raise ConfigError(f'unknown parameter(s) {", ".join(f"{name}.{k}" for k in unknown)}; '
                          f'known: {", ".join(sorted(kinds))}')
    metadata = {f.name: f.metadata for f in dataclasses.fields(schema)}
    return {k: coerce(v, kinds[k], f'{name}.{k}', metadata[k].get('schema'))
            for k, v in value.items()}


def _free(value: Any) -> Any:
    """A value of a free-form mapping: command-line text is read as YAML, the rest kept."""
    if isinstance(value, CliText):
        return yaml.safe_load(value)
    if isinstance(value, Mapping):
        return {str(k): _free(v) for k, v in value.items()}
    return value


def coerce(value: Any, kind: Any, name: str, schema: type | None = None) -> Any:
    """``value`` as type ``kind``, or a ``ConfigError`` that names parameter ``name``.

    Text converts to the field's type (YAML reads ``1e-4`` as text; a command line gives
    only text); a number never silently changes kind (``3.5`` for an int is an error), and
    numbers must be finite. ``schema`` types the keys of a mapping field (``model.<field>``).
    """
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
            return None
        return coerce(value, args[0], name, schema)
    if origin in (tuple, list):
        (item,) = {a for a in typing.get_args(kind) if a is not Ellipsis}
        return tuple(coerce(v, item, f'{name}[{i}]')
                     for i, v in enumerate(_sequence(value, name)))
    if _is_mapping(kind):
        return _mapping(value, name, schema)
    if kind is float:
        return _number(value, name)
    if kind is int:
        return _integer(value, name)
    if kind is bool:
        return _boolean(value, name)
    if kind is str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(f'parameter {name} must be a string, got {value!r}')
        return str(value)
    return _free(value)


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """``['lr=1e-4', 'model.lstm_hidden=64']`` as a nested mapping of command-line text."""
    tree: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition('=')
        parts = key.strip().split('.')
        if not sep or not all(parts):
            raise ConfigError(f'--set {pair!r} must read key=value (model.<field>=value for a '
                              'nested field)')
        target = tree
        for part in parts[:-1]:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f'--set {pair!r}: {part} is given a value and nested keys')
            target = child
        target[parts[-1]] = CliText(value.strip())
    return tree


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` over ``base``; nested mappings merge key by key."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _is_mapping(kind: Any) -> bool:
    return kind is dict or typing.get_origin(kind) is dict


def _nest(parts: list[str], value: Any) -> dict[str, Any]:
    """``['a', 'b'], 1`` -> ``{'a': {'b': 1}}``."""
    for part in reversed(parts):
        value = {part: value}
    return value


def from_params(cls: type[T], params: Mapping[str, Any], skip: tuple[str, ...] = ()) -> T:
    """Build dataclass ``cls`` from parameters; unknown keys are an error.

    Every configuration goes through here: node parameters, YAML files, checkpoints'
    ``config.json`` and ``--set`` overrides. Values convert to each field's type
    (``coerce``). A mapping field takes nested keys (``model: {lstm_hidden: 64}``) or
    flat dotted ones (``model.lstm_hidden``), typed by its ``schema`` metadata. Keys
    starting with a prefix in ``skip`` (e.g. ``'sources.'``) are left for the caller,
    which handles nested groups the dataclass cannot name statically. Validation errors
    of the dataclass itself surface as ``ConfigError``.
    """
    kinds = _field_types(cls)
    metadata = {f.name: f.metadata for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    unknown = []
    for key, value in params.items():
        if key in ROS_OWN_PARAMETERS or key.startswith(skip):
            continue
        head, _, rest = key.partition('.')
        if rest and head in kinds and _is_mapping(kinds[head]):
            key, value = head, _nest(rest.split('.'), value)
        elif key not in kinds:
            unknown.append(key)
            continue
        if isinstance(value, Mapping) and isinstance(values.get(key), Mapping):
            value = merge(values[key], value)
        values[key] = value
    if unknown:
        raise ConfigError(
            f'unknown parameter(s) {", ".join(sorted(unknown))} for {cls.__name__}; '
            f'known: {", ".join(sorted(kinds))}'
        )
    kwargs = {key: coerce(value, kinds[key], key, metadata[key].get('schema'))
              for key, value in values.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f'{cls.__name__}: {exc}') from None


def read_preset(name_or_path: str | Path, folder: Path, what: str) -> tuple[Path, dict]:
    """A YAML mapping by preset name (``<folder>/<name>.yaml``) or by path.

    ``what`` names the kind in errors (``model preset``); a missing preset lists the
    ones there are.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = folder / f'{name_or_path}.yaml'
    if not path.is_file():
        names = ', '.join(sorted(p.stem for p in folder.glob('*.yaml')))
        raise ConfigError(f'{what} {str(name_or_path)!r} not found ({path}); presets: {names}')
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f'{what} {path} is not valid YAML: {exc}') from None
    if not isinstance(data, dict):
        raise ConfigError(f'{what} {path} must be a mapping of name: value')
    return path, data


def load_config(cls: type[T], *layers: Mapping[str, Any], overrides: Iterable[str] = ()) -> T:
    """``cls`` from mappings applied in order (a preset, a file, ...), then ``--set`` pairs."""
    data: dict[str, Any] = {}
    for layer in (*layers, parse_overrides(overrides)):
        data = merge(data, layer)
    return from_params(cls, data)


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


def positive_int(text: str) -> int:
    """``argparse`` type: a whole number >= 1, else a usage error that says so."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 1, got {value}')
    return value


def writable_folder(path: str | Path) -> Path:
    """``path`` made if needed and proven writable now, before any long work whose
    results would go there; a ``ConfigError`` that names it otherwise."""
    import tempfile

    folder = Path(path).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError(f'cannot write to {folder}: {exc.strerror or exc}; choose another '
                          'output folder') from None
    return folder
