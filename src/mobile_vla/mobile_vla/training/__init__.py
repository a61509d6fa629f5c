"""Training and evaluation: HDF5 episodes in, checkpoints and honest metrics out.

- ``config``: ``TrainConfig`` and the presets in ``config/train/``;
- ``split``: the train/validation split, by episode, reproducible from a seed;
- ``features``: the on-disk cache of frozen backbone features;
- ``trainer``: the loop (AdamW, warm-up + cosine/step, clipping, mixed precision,
  early stopping, best/last checkpoints, resume) through Hugging Face Accelerate;
- ``metrics`` and ``evaluate``: the original's metric definitions and the report.
"""
