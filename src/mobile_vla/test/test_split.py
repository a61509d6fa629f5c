"""The train/validation split: by episode, the same for the same seed, and the trainer's
datasets keep it (a mirrored copy stays on its episode's side)."""

from training_data import config

from mobile_vla.training.features import FeatureWindowDataset
from mobile_vla.training.split import split_episodes
from mobile_vla.training.trainer import Trainer


def test_the_split_is_by_episode_and_reproducible(tmp_path, data):
    paths = sorted(data.glob('*.h5'))
    a = split_episodes(paths, 0.25, seed=3)
    b = split_episodes(list(reversed(paths)), 0.25, seed=3)
    assert a == b and set(a['train']).isdisjoint(a['val'])
    assert sorted(a['train'] + a['val']) == sorted(map(str, paths))
    trainer = Trainer(config(tmp_path, data, epochs=1, run_name='s'))
    train_ds, val_ds = trainer._datasets(trainer._split())
    assert isinstance(train_ds, FeatureWindowDataset)
    train_names = {e.name.removesuffix('_mirror') for e in train_ds.episodes}
    val_names = {e.name for e in val_ds.episodes}
    assert train_names and val_names and train_names.isdisjoint(val_names)
    for e, _ in train_ds.index:  # every window comes from a training episode
        assert train_ds.episodes[e].name.removesuffix('_mirror') in train_names
