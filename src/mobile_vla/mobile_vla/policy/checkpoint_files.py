"""A checkpoint folder's files, checked without building the model (no torch).

A damaged or foreign checkpoint is named in about a second, before the policy stack
(torch, transformers: seconds to import) loads: the command line checks a folder
here first, and ``checkpoint.load_checkpoint`` runs the same checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors import safe_open

from mobile_vla.config import ConfigError
from mobile_vla.policy.configuration_policy import PolicyConfig

FORMAT = 'mobile_vla.policy/1'
CONFIG_FILE = 'config.json'
WEIGHTS_FILE = 'model.safetensors'


class CheckpointError(RuntimeError):
    """A checkpoint that does not match its model; the text lists what differs."""


def read_checkpoint_config(folder: str | Path) -> tuple[PolicyConfig, dict[str, Any]]:
    """The policy config and the metadata of ``config.json``, validated."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f'{folder} is not a checkpoint folder (no {CONFIG_FILE}); '
                              'pass the folder that training wrote')
    try:
        meta = json.loads(path.read_text(encoding='utf-8'))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = f'{type(exc).__name__}: {str(exc)[:200]}'
        raise CheckpointError(f'{path} is not valid JSON ({reason}); copy the checkpoint '
                              'again or retrain') from None
    if not isinstance(meta, dict):
        raise CheckpointError(f'{path} holds a {type(meta).__name__}, not the JSON object '
                              'training writes; copy the checkpoint again')
    if meta.get('format') != FORMAT:
        raise CheckpointError(f'{path}: format {meta.get("format")!r}, expected {FORMAT!r}')
    try:
        return PolicyConfig.from_dict(meta['policy']), meta
    except (ConfigError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f'{path}: the policy config does not fit this code: {exc}') \
            from None


def unreadable_weights(path: Path, exc: Exception) -> CheckpointError:
    return CheckpointError(f'{path} cannot be read ({exc}): truncated or damaged, as an '
                           'interrupted copy leaves it; copy the checkpoint again')


def check_weights_file(folder: str | Path) -> Path:
    """``model.safetensors`` is there and whole (its header, and the data it promises)."""
    weights = Path(folder) / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f'{folder} has no {WEIGHTS_FILE}')
    try:
        with safe_open(str(weights), framework='numpy') as handle:
            handle.keys()
    except Exception as exc:  # safetensors' own error type: a damaged or truncated file
        raise unreadable_weights(weights, exc) from None
    return weights


def check_checkpoint(folder: str | Path) -> tuple[PolicyConfig, dict[str, Any]]:
    """Everything about a checkpoint folder that needs no model: its config and weights."""
    config, meta = read_checkpoint_config(folder)
    check_weights_file(folder)
    return config, meta
