"""The feature cache: frames encoded once, reused by the next run, invalidated when the
backbone changes; a damaged episode file is skipped with a warning, never a stop."""

import pytest
from training_data import config, make_episodes

from mobile_vla.training.trainer import Trainer


def test_features_are_cached_and_invalidated_when_the_backbone_changes(tmp_path, data):
    first = Trainer(config(tmp_path, data, epochs=1, run_name='c1')).fit()
    assert first['frames_encoded'] > 0 and first['frames_from_cache'] == 0
    second = Trainer(config(tmp_path, data, epochs=1, run_name='c2')).fit()
    assert second['frames_encoded'] == 0
    assert second['frames_from_cache'] == first['frames_encoded']
    assert second['feature_cache'] == first['feature_cache']
    other = config(tmp_path, data, epochs=1, run_name='c3', seed=1)  # other tiny backbone
    third = Trainer(other).fit()
    assert third['frames_encoded'] == first['frames_encoded']
    assert third['feature_cache'] != first['feature_cache']


def test_one_bad_file_never_stops_cached_training(tmp_path):
    data = make_episodes(tmp_path / 'episodes', count=6)
    bad = sorted(data.glob('*.h5'))[1]
    bad.write_bytes(bad.read_bytes()[:2000])  # an interrupted copy
    cfg = config(tmp_path, data, epochs=1, run_name='bad')
    assert cfg.cache_features
    with pytest.warns(UserWarning, match=f'skipping episode {bad}'):
        summary = Trainer(cfg).fit()
    assert summary['steps'] >= 1
    assert (tmp_path / 'runs' / 'bad' / 'checkpoints' / 'best' / 'config.json').is_file()
