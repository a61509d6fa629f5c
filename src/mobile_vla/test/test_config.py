from dataclasses import dataclass, field

import pytest
import yaml

from mobile_vla.config import (
    ConfigError,
    flatten,
    from_params,
    load_config,
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


def test_node_sections_apply_as_rcl_applies_them(tmp_path):
    path = tmp_path / 'p.yaml'
    path.write_text(
        '/**:\n  ros__parameters:\n    rate_hz: 10\n    count: 1\n'
        '/**/demo:\n  ros__parameters:\n    rate_hz: 30.0\n'
        'demo:\n  ros__parameters:\n    name: root-only\n'
        '/robot1/demo:\n  ros__parameters:\n    count: 7\n'
        '/robot1/*:\n  ros__parameters:\n    enabled: false\n'
        'other:\n  ros__parameters:\n    name: x\n')
    assert load_node_params(path, 'demo') == {'rate_hz': 30.0, 'count': 1, 'name': 'root-only'}
    assert load_node_params(path, 'demo', '/robot1') == {'rate_hz': 30.0, 'count': 7,
                                                         'enabled': False}
    assert load_node_params(path, 'demo', '/a/b') == {'rate_hz': 30.0, 'count': 1}


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


@dataclass(frozen=True)
class Inner:
    hidden: int = 8
    rate: float = 0.5
    arch: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Outer:
    lr: float = 5e-5
    epochs: int = 20
    mirror: bool = False
    data: tuple[str, ...] = ()
    mean: tuple[float, ...] = (0.5, 0.5)
    name: str = ''
    model: dict = field(default_factory=dict, metadata={'schema': Inner})


@pytest.mark.parametrize('text, expected', [
    ('lr=1e-4', {'lr': 1e-4}),
    ('lr=3', {'lr': 3.0}),
    ('lr=-2.5E+1', {'lr': -25.0}),
    ('epochs=7', {'epochs': 7}),
    ('mirror=true', {'mirror': True}),
    ('mirror=No', {'mirror': False}),
    ('data=a,b', {'data': ('a', 'b')}),
    ('data=[runs/x, runs/y]', {'data': ('runs/x', 'runs/y')}),
    ('mean=0.1,2e-1', {'mean': (0.1, 0.2)}),
    ('name=123', {'name': '123'}),
    ('name=yes', {'name': 'yes'}),  # text fields keep the text, YAML would say True
    ('model.hidden=64', {'model': {'hidden': 64}}),
    ('model.rate=1e-3', {'model': {'rate': 0.001}}),
    ('model.arch.layers=2', {'model': {'arch': {'layers': 2}}}),
])
def test_command_line_text_becomes_the_field_type(text, expected):
    config = load_config(Outer, overrides=[text])
    for key, value in expected.items():
        assert getattr(config, key) == value
        assert type(getattr(config, key)) is type(value)


def test_yaml_text_is_typed_like_the_command_line():
    # PyYAML reads 1e-4 (no dot) as a string: the loader makes it the field's float.
    data = yaml.safe_load('lr: 1e-4\nepochs: 3\nmodel: {hidden: 16, rate: 2e-2}\n')
    assert data['lr'] == '1e-4'
    config = load_config(Outer, data, overrides=['model.hidden=32'])
    assert config.lr == 1e-4 and config.model == {'hidden': 32, 'rate': 0.02}


@pytest.mark.parametrize('text, match', [
    ('epochs=3.5', 'parameter epochs must be an integer'),
    ('epochs=many', 'parameter epochs must be an integer'),
    ('lr=fast', 'parameter lr must be a number'),
    ('lr=nan', 'parameter lr must be a finite number'),
    ('lr=1e400', 'parameter lr must be a finite number'),
    ('lr=.inf', 'parameter lr must be a number'),
    ('mirror=2', 'parameter mirror must be true or false'),
    ('mean=0.1,x', r'parameter mean\[1\] must be a number'),
    ('model.hidden=1.5', 'parameter model.hidden must be an integer'),
    ('model.hiden=1', r'unknown parameter\(s\) model.hiden; known: arch, hidden, rate'),
    ('epoch=3', r'unknown parameter\(s\) epoch for Outer'),
    ('epochs', 'must read key=value'),
    ('model..hidden=3', 'must read key=value'),
])
def test_wrong_types_name_the_field(text, match):
    with pytest.raises(ConfigError, match=match):
        load_config(Outer, overrides=[text])


def test_numbers_never_change_kind_silently():
    with pytest.raises(ConfigError, match='epochs must be an integer, got 3.5'):
        from_params(Outer, {'epochs': 3.5})
    with pytest.raises(ConfigError, match='mirror must be true or false'):
        from_params(Outer, {'mirror': 1})
    with pytest.raises(ConfigError, match='lr must be a finite number'):
        from_params(Outer, {'lr': float('inf')})
    with pytest.raises(ConfigError, match='model must be a mapping'):
        from_params(Outer, {'model': 3})
    with pytest.raises(ConfigError, match='lr is out of range'):
        from_params(Outer, {'lr': 10 ** 400})
    assert from_params(Outer, {'lr': 1}).lr == 1.0


def test_training_policy_and_simulator_configs_share_the_loader():
    from mobile_vla.policy.configuration_policy import PolicyConfig, load_preset
    from mobile_vla.training.config import load_train_config

    config = load_train_config('tiny', ['lr=1e-4', 'epochs=2', 'model.lstm_hidden=48'])
    assert config.lr == 1e-4 and config.epochs == 2 and config.model['lstm_hidden'] == 48
    with pytest.raises(ConfigError, match='epochs must be an integer'):
        load_train_config('tiny', ['epochs=3.5'])
    with pytest.raises(ConfigError, match='model.lstm_hiden'):
        load_train_config('tiny', ['model.lstm_hiden=48'])
    assert load_preset('clip_tiny', dropout='1e-1').dropout == 0.1
    with pytest.raises(ConfigError, match='window must be an integer'):
        PolicyConfig.from_dict({'window': 2.5})
    assert PolicyConfig.from_dict({'image_mean': ['0.5', 0.5, 1]}).image_mean == (0.5, 0.5, 1.0)
