from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from mobile_vla.config import (
    ConfigError,
    declare_node_config,
    flatten,
    from_params,
    load_node_params,
    to_params,
)


@dataclass(frozen=True)
class Demo:
    rate_hz: float = field(default=20.0, metadata={'doc': 'output rate'})
    name: str = 'arbiter'
    enabled: bool = True
    count: int = 3
    limits: tuple[float, ...] = (1.0, 2.0)
    maybe: float | None = None

    def __post_init__(self):
        if self.rate_hz <= 0:
            raise ValueError('rate_hz must be > 0')


def test_flatten_names_nested_keys_like_ros():
    assert flatten({'a': {'b': 1, 'c': {'d': 2}}, 'e': 3}) == {'a.b': 1, 'a.c.d': 2, 'e': 3}


def test_node_sections_apply_in_rclpy_order(tmp_path):
    path = tmp_path / 'p.yaml'
    path.write_text(
        '/**:\n  ros__parameters:\n    rate_hz: 10\n    count: 1\n'
        'demo:\n  ros__parameters:\n    rate_hz: 30.0\n'
        '/robot1/demo:\n  ros__parameters:\n    count: 7\n'
        'other:\n  ros__parameters:\n    name: x\n')
    assert load_node_params(path, 'demo') == {'rate_hz': 30.0, 'count': 1}
    assert load_node_params(path, 'demo', '/robot1') == {'rate_hz': 30.0, 'count': 7}


@pytest.mark.parametrize('text, match', [
    ('demo: [1, 2]\n', 'needs a ros__parameters mapping'),
    ('- a\n', 'must map node names'),
    ('demo: {ros__parameters: {a: [1,\n', 'not valid YAML'),
])
def test_bad_parameter_files_are_named(tmp_path, text, match):
    path = tmp_path / 'p.yaml'
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_node_params(path, 'demo')
    with pytest.raises(ConfigError, match='not found'):
        load_node_params(tmp_path / 'missing.yaml', 'demo')


def test_from_params_converts_types_and_rejects_unknown_keys():
    config = from_params(Demo, {'rate_hz': 10, 'limits': [1, 2, 3], 'maybe': 2,
                                'use_sim_time': False})
    assert config == Demo(rate_hz=10.0, limits=(1.0, 2.0, 3.0), maybe=2.0)
    with pytest.raises(ConfigError, match='unknown parameter.*rate\\b.*known: count'):
        from_params(Demo, {'rate': 10})
    with pytest.raises(ConfigError, match='rate_hz must be a number'):
        from_params(Demo, {'rate_hz': 'fast'})
    with pytest.raises(ConfigError, match='enabled must be true or false'):
        from_params(Demo, {'enabled': 1})
    with pytest.raises(ConfigError, match='count must be an integer'):
        from_params(Demo, {'count': 2.5})
    with pytest.raises(ConfigError, match='Demo: rate_hz must be > 0'):
        from_params(Demo, {'rate_hz': -1})
    assert to_params(Demo()) == {'rate_hz': 20.0, 'name': 'arbiter', 'enabled': True,
                                 'count': 3, 'limits': [1.0, 2.0], 'maybe': None}


def test_declare_node_config_keeps_overrides_and_documents_the_rest():
    class NodeParams:
        """The part of rclpy.Node that declare_node_config uses."""

        def __init__(self, overrides):
            self.params = dict(overrides)
            self.descriptors = {}

        def has_parameter(self, name):
            return name in self.params

        def declare_parameter(self, name, value, descriptor):
            self.params[name] = value
            self.descriptors[name] = descriptor

        def get_parameters_by_prefix(self, prefix):
            return {k: SimpleNamespace(value=v) for k, v in self.params.items()}

    node = NodeParams({'rate_hz': 10, 'use_sim_time': False})
    params = declare_node_config(node, Demo, lambda **kw: kw)
    assert params['rate_hz'] == 10 and params['count'] == 3
    assert 'rate_hz' not in node.descriptors  # the override keeps its own declaration
    assert node.descriptors['count'] == {'description': '', 'read_only': True}
    assert from_params(Demo, params).rate_hz == 10.0
