"""``PolicyConfig`` and its presets: every preset loads, unknown keys and values out of
range are refused by name, and combinations the model cannot build are refused at load."""

import pytest
from policy_inputs import TINY

from mobile_vla.config import ConfigError
from mobile_vla.policy.configuration_policy import PolicyConfig, load_preset, preset_names
from mobile_vla.policy.modeling_policy import build_policy


def test_presets_exist_and_unknown_keys_are_refused():
    assert set(TINY + ['kosmos2_clip_lstm', 'kosmos2_lstm', 'clip_lstm',
                       'kosmos2_resampler_lstm']) <= set(preset_names())
    with pytest.raises(ConfigError, match='unknown parameter.*lstm_size for PolicyConfig'):
        PolicyConfig.from_dict({'lstm_size': 3})
    with pytest.raises(ConfigError, match='preset .* not found'):
        load_preset('kosmos3')
    with pytest.raises(ConfigError, match='resampler pools Kosmos-2'):
        load_preset('clip_tiny', pooling='resampler')
    with pytest.raises(ConfigError, match=r'kosmos2_arch.vision_config.image_size is 112 but '
                                          r'image_size is 224'):
        load_preset('kosmos2_clip_minilm_pixels_tiny', image_size=224)


@pytest.mark.parametrize('field, value, match', [
    ('action_limit', -1.15, 'action_limit must be in'),  # would flip every action
    ('action_limit', 0.0, 'action_limit must be in'),
    ('action_limit', float('nan'), 'action_limit must be'),
    ('huber_delta', 0.0, 'huber_delta must be > 0'),
    ('image_std', (0.5, 0.0, 0.5), 'image_std > 0'),
    ('lstm_hidden', 10**9, 'lstm_hidden must be in'),  # a corrupt size, not an allocation
    ('window', 0, 'window must be in'),
])
def test_config_values_are_checked_for_range(field, value, match):
    with pytest.raises(ConfigError, match=match):
        load_preset('clip_tiny', **{field: value})


@pytest.mark.parametrize('changes, match', [
    ({'patch_channels': 8, 'pooling': 'mean'}, 'use it with pooling: patches'),
    ({'patch_channels': -1}, 'patch_channels must be in'),
    ({'patch_channels': 10**6}, 'patch_channels must be in'),
    ({'patch_hidden': 0}, 'patch_hidden must be in'),
])
def test_patch_reader_sizes_are_checked_at_load(changes, match):
    with pytest.raises(ConfigError, match=match):
        load_preset('kosmos2_clip_minilm_patches_tiny', **changes)


def test_patch_pooling_needs_a_small_kosmos2_encoder():
    with pytest.raises(ConfigError, match='patches pooling reads the Kosmos-2 vision encoder'):
        load_preset('clip_tiny', pooling='patches')
    with pytest.raises(ConfigError, match='patches pooling would give the head'):
        build_policy(load_preset('kosmos2_clip_minilm_patches_tiny', kosmos2_arch={
            'latent_query_num': 16, 'text_config': {'embed_dim': 64, 'layers': 1,
                                                    'ffn_dim': 64, 'attention_heads': 4,
                                                    'vocab_size': 8},
            'vision_config': {'hidden_size': 512, 'intermediate_size': 64,
                              'num_hidden_layers': 1, 'num_attention_heads': 4,
                              'image_size': 224, 'patch_size': 32}}))


def test_train_vision_and_objects_are_checked_at_load():
    with pytest.raises(ConfigError, match='with freeze_backbones: false every encoder trains'):
        load_preset('kosmos2_clip_minilm_pixels_tiny', freeze_backbones=False)
    with pytest.raises(ConfigError, match="each once, got \\['cup', 'cup'\\]"):
        load_preset('kosmos2_clip_tiny', objects=['cup', 'cup'])
    with pytest.raises(ConfigError, match="got \\['chair'\\]"):
        load_preset('kosmos2_clip_tiny', objects=['chair'])
    policy = build_policy(load_preset('kosmos2_clip_minilm_pixels_tiny'))
    # The patch tokens skip Kosmos-2's projection: it stays frozen (no gradient to get).
    assert not any(p.requires_grad for p in
                   policy.vision.kosmos2.image_to_text_projection.parameters())
    assert all(p.requires_grad for p in policy.vision.clip.visual_projection.parameters())
