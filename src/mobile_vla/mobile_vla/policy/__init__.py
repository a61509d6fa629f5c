"""The vision-language-action policy: Kosmos-2 and/or CLIP encoders feeding an LSTM head.

- ``configuration_policy``: the typed config and the presets in ``config/model/``;
- ``modeling_policy``: encoders, resampler, fusion + LSTM + action head, ``VlaPolicy``;
- ``tokenization``: the snapshot's tokenizer, or a word tokenizer built in code;
- ``checkpoint``: folders of config.json + model.safetensors, loaded strictly;
- ``engines``: PyTorch and ONNX Runtime behind one interface, ONNX export per stage;
- ``runner``: ``PolicyRunner``, streaming inference that encodes each frame once.
"""
