"""Checkpoints: a folder with ``config.json`` and ``model.safetensors``, loaded strictly.

``config.json`` holds the full ``PolicyConfig`` (and the action normalisation), so
a checkpoint rebuilds the exact model it was saved from; word tokenizers are saved
as ``tokenizer.json`` beside it. Weights that come from a frozen pretrained
snapshot are not copied into the checkpoint; everything else is, and loading
fails with the list of missing, unexpected and mis-shaped keys if the model and
the file disagree. Nothing is ever unpickled: a ``.pth`` from elsewhere is read
with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_file, save_file

from mobile_vla.episode import remove_dead_temp_files, temp_path
from mobile_vla.policy.checkpoint_files import (  # noqa: F401 (read_checkpoint_config: API)
    CONFIG_FILE,
    FORMAT,
    WEIGHTS_FILE,
    CheckpointError,
    check_checkpoint,
    read_checkpoint_config,
    unreadable_weights,
)
from mobile_vla.policy.configuration_policy import PolicyConfig
from mobile_vla.policy.modeling_policy import (
    ModelFilesError,
    VlaPolicy,
    build_policy,
    resolve_text_encoder,
)
from mobile_vla.policy.tokenization import TOKENIZER_FILE, TokenizerFileError


def _written(path: Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` through a temp file beside it and rename it over: a kill leaves the
    old file or the new one, never half of one. Readable by every user (0644 less the
    umask), as a model on a shared robot must be."""
    tmp = temp_path(path)
    try:
        write(tmp)
        with open(tmp, 'rb+') as handle:
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256_of(path.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _sha256_of(path: Path, size: int, mtime_ns: int) -> str:
    """The file's SHA-256, once per version of it (size and mtime name the version): a
    training run saves a checkpoint every epoch, and the 90 MB encoder never changes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        while block := f.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def text_encoder_identity(name: str) -> dict[str, Any]:
    """What a checkpoint records of its instruction encoder: the name it was given, and
    the SHA-256 of the snapshot's weights (its learned pooling fits those weights only)."""
    folder = resolve_text_encoder(name)
    weights = sorted(folder.glob('*.safetensors')) or sorted(folder.glob('*.bin'))
    digest = hashlib.sha256()
    for path in weights:
        digest.update(_file_sha256(path).encode() + path.name.encode())
    return {'name': name, 'weights_sha256': digest.hexdigest()}


def save_checkpoint(policy: VlaPolicy, folder: str | Path,
                    extra: dict[str, Any] | None = None) -> Path:
    """Weights, tokenizer, then config.json, each replaced atomically (see ``_written``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_dead_temp_files(folder)
    state = policy.checkpoint_state()
    tensors = {k: v.cpu() for k, v in state.items()}
    _written(folder / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp)))
    if policy.config.tokenizer == 'words' and policy.tokenizer is not None:
        _written(folder / TOKENIZER_FILE,
                 lambda tmp: policy.tokenizer.backend_tokenizer.save(str(tmp)))
    meta = {
        'format': FORMAT,
        'policy': policy.config.to_dict(),
        'action_normalization': {'kind': 'divide_by_limit', 'limit': policy.config.action_limit,
                                 'dim': policy.config.action_dim},
        'saved_prefixes': list(policy.trainable_prefixes()),
        'num_tensors': len(state),
        **({'text_encoder': text_encoder_identity(policy.config.text_encoder)}
           if policy.config.text_encoder else {}),
        **(extra or {}),
    }
    text = json.dumps(meta, indent=2) + '\n'
    _written(folder / CONFIG_FILE, lambda tmp: tmp.write_text(text, encoding='utf-8'))
    return folder


def checkpoint_fingerprint(folder: str | Path) -> str:
    """SHA-256 over the checkpoint's config and weights: what an ONNX export was made from.

    Read in 8 MiB blocks (a full-size checkpoint takes seconds, once per engine start).
    The config records the instruction encoder's own fingerprint.
    """
    folder = Path(folder)
    digest = hashlib.sha256()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        digest.update(_file_sha256(folder / name).encode() + b'\0' + name.encode())
    return digest.hexdigest()


def _mismatch_report(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = sorted(k for k in set(expected) & set(found)
                    if tuple(expected[k].shape) != tuple(found[k].shape))
    lines = []
    for title, keys in (('missing', missing), ('unexpected', unexpected)):
        if keys:
            shown = ', '.join(keys[:8]) + (f' ... (+{len(keys) - 8} more)' if len(keys) > 8
                                           else '')
            lines.append(f'{len(keys)} {title} key(s): {shown}')
    for key in shapes[:8]:
        lines.append(f'shape of {key}: model {tuple(expected[key].shape)}, '
                     f'checkpoint {tuple(found[key].shape)}')
    common = sorted(set(expected) & set(found))
    kinds = [k for k in common if expected[k].dtype.is_floating_point
             != found[k].dtype.is_floating_point]
    for key in kinds[:8]:
        lines.append(f'dtype of {key}: model {expected[key].dtype}, checkpoint '
                     f'{found[key].dtype}')
    return '; '.join(lines)


def load_state_strict(policy: VlaPolicy, state: dict[str, torch.Tensor], source: str) -> None:
    broken = [k for k, v in state.items() if v.dtype.is_floating_point
              and not bool(torch.isfinite(v).all())]
    if broken:
        raise CheckpointError(
            f'{source}: {len(broken)} tensor(s) hold NaN or inf ({", ".join(broken[:8])}): '
            'the weights are damaged (a diverged training run or a bad copy); copy them '
            'again or retrain')
    expected = policy.checkpoint_state()
    report = _mismatch_report(expected, state)
    if report:
        raise CheckpointError(
            f'{source} does not match the model built from its config: {report}. The code and '
            'the checkpoint drifted apart; use the code version that wrote it or retrain')
    policy.load_state_dict(state, strict=False)


def check_text_encoder(config: PolicyConfig, meta: dict[str, Any], folder: Path) -> None:
    """The instruction encoder installed here is the one the checkpoint was trained with."""
    if not config.text_encoder:
        return
    recorded = meta.get('text_encoder')
    found = text_encoder_identity(config.text_encoder)  # names a missing package or folder
    if isinstance(recorded, dict) and recorded.get('weights_sha256') not in (
            None, found['weights_sha256']):
        raise CheckpointError(
            f'{folder}: trained with another copy of the instruction encoder '
            f'{config.text_encoder!r} (weights SHA-256 {recorded["weights_sha256"][:12]}, '
            f'installed {found["weights_sha256"][:12]}); install the version it was trained '
            'with (see models/README.md) or retrain')


def load_checkpoint(folder: str | Path, device: str = 'cpu') -> VlaPolicy:
    """Rebuild the policy from ``config.json`` and load its weights strictly."""
    folder = Path(folder)
    config, meta = check_checkpoint(folder)
    check_text_encoder(config, meta, folder)
    weights = folder / WEIGHTS_FILE
    try:
        state = load_file(str(weights))
    except Exception as exc:  # safetensors' own error type: changed since the check
        raise unreadable_weights(weights, exc) from None
    try:
        policy = build_policy(config, tokenizer_folder=folder)
    except (TokenizerFileError, ModelFilesError):
        raise  # name their own file or package
    except Exception as exc:  # transformers' and huggingface_hub's own validation errors
        raise CheckpointError(f'{folder / CONFIG_FILE}: the model it describes cannot be '
                              f'built ({type(exc).__name__}: {exc}); check kosmos2_arch and '
                              'clip_arch') from None
    load_state_strict(policy, state, str(weights))
    return policy.to(device).eval()


def load_foreign_state(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a ``.pth``/``.pt`` file written elsewhere, never unpickling code."""
    data = torch.load(str(path), map_location='cpu', weights_only=True)
    if isinstance(data, dict) and 'model_state_dict' in data:
        data = data['model_state_dict']
    if isinstance(data, dict) and 'state_dict' in data:
        data = data['state_dict']
    if not isinstance(data, dict):
        raise CheckpointError(f'{path} holds no state dict')
    return {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
