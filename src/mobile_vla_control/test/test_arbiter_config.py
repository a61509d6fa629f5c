"""The arbiter's configuration on its own: every bad value named, the shipped file,
sources from parameters (twist_mux style)."""

import math

import pytest

from mobile_vla.config import ConfigError, load_node_params
from mobile_vla_control.arbiter_config import ArbiterConfig, SourceConfig, sources_from_params


def test_config_validation_names_the_problem():
    with pytest.raises(ConfigError, match='initial_mode'):
        ArbiterConfig(initial_mode='auto')
    with pytest.raises(ConfigError, match='max_velocity'):
        ArbiterConfig(max_velocity=(1.0, 1.0))
    with pytest.raises(ConfigError, match='role'):
        SourceConfig('x', 'x', 0.5, 1, 'robot')
    with pytest.raises(ConfigError, match='same topic'):
        ArbiterConfig(sources=(SourceConfig('a', 't', 0.5, 1, 'manual'),
                               SourceConfig('b', '/t', 0.5, 2, 'policy')))
    with pytest.raises(ConfigError, match='unknown parameter.*rate'):
        ArbiterConfig.from_params({'rate': 10})
    with pytest.raises(ConfigError, match='lacks priority'):
        sources_from_params({'sources.joy.topic': 'j', 'sources.joy.timeout': 0.5,
                             'sources.joy.role': 'manual'})
    with pytest.raises(ConfigError, match='unknown source parameter'):
        sources_from_params({'sources.joy.speed': 1})


def test_the_shipped_yaml_builds_the_default_config(workspace_config):
    params = load_node_params(workspace_config / 'control.yaml', 'control_arbiter')
    assert ArbiterConfig.from_params(params) == ArbiterConfig()
    ns_params = load_node_params(workspace_config / 'control.yaml', 'control_arbiter', 'robot1')
    assert ns_params == params


def test_yaml_sources_replace_the_defaults(tmp_path):
    path = tmp_path / 'p.yaml'
    path.write_text(
        '/**:\n  ros__parameters:\n    rate_hz: 50\n'
        'control_arbiter:\n  ros__parameters:\n    sources:\n'
        '      joy: {topic: joy/cmd_vel, timeout: 0.2, priority: 10, role: manual}\n'
    )
    config = ArbiterConfig.from_params(load_node_params(path, 'control_arbiter'))
    assert config.rate_hz == 50.0
    assert [s.name for s in config.sources] == ['joy']


@pytest.mark.parametrize('overrides, match', [
    ({'hybrid_hold_s': math.nan}, 'hybrid_hold_s must be a finite number'),
    ({'startup_hold_s': math.inf}, 'startup_hold_s must be a finite number'),
    ({'rate_hz': math.inf}, 'rate_hz must be a finite number'),
])
def test_holds_and_rates_must_be_finite(overrides, match):
    with pytest.raises(ConfigError, match=match):
        ArbiterConfig(**overrides)


def test_a_source_that_never_expires_is_refused():
    with pytest.raises(ConfigError, match='finite number > 0 s'):
        SourceConfig('vla', 'robot/action', math.inf, 50, 'policy')
