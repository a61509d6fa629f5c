"""Inference engines behind one interface, and ONNX export of each stage.

Stages (numpy in, numpy out), so a runner can cache per frame and per instruction:

- ``encode_image``: pixels (N, 3, S, S) float32 -> (N, vision_dim)
- ``encode_text``: input_ids, attention_mask (1, L) int64 -> (1, text_dim)
- ``fuse``: features (N, in_dim) -> (N, fusion_dim)
- ``temporal``: fused (1, T, fusion_dim), h0, c0 (layers, 1, hidden) ->
  actions (1, T, chunk, action_dim) in [-1, 1], hT, cT

``TorchEngine`` runs the PyTorch modules (CPU, or CUDA with fp16/bf16);
``OnnxEngine`` runs the exported graphs in ONNX Runtime with the best execution
provider installed (TensorRT, then CUDA, then CPU). On the Jetson, TensorRT
engines are built from the same files (see models/README.md).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from mobile_vla.policy.modeling_policy import VlaPolicy

OPSET = 17
EXPORT_FILE = 'export.json'


class StaleExportError(RuntimeError):
    """An ONNX export that does not match its checkpoint's weights and config."""


class DeviceUnavailable(RuntimeError):
    """The device asked for is not on this machine; the text says what to use instead."""


#: Largest absolute difference allowed between ONNX Runtime and PyTorch outputs.
PARITY_TOLERANCE = 1e-4
DTYPES = {'float32': torch.float32, 'float16': torch.float16, 'bfloat16': torch.bfloat16}

#: The contract of each exported stage: inputs, outputs and their dynamic axes.
STAGES = {
    'vision': {'inputs': ['pixel_values'], 'outputs': ['features'],
               'dynamic_axes': {'pixel_values': {0: 'frames'}, 'features': {0: 'frames'}}},
    'text': {'inputs': ['input_ids', 'attention_mask'], 'outputs': ['features'],
             'dynamic_axes': {'input_ids': {1: 'tokens'}, 'attention_mask': {1: 'tokens'}}},
    'fusion': {'inputs': ['features'], 'outputs': ['fused'],
               'dynamic_axes': {'features': {0: 'frames'}, 'fused': {0: 'frames'}}},
    'temporal': {'inputs': ['fused', 'h0', 'c0'], 'outputs': ['actions', 'hT', 'cT'],
                 'dynamic_axes': {'fused': {1: 'steps'}, 'actions': {1: 'steps'}}},
}


class Engine(Protocol):
    name: str

    def encode_image(self, pixels: np.ndarray) -> np.ndarray: ...

    def encode_text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...

    def fuse(self, features: np.ndarray) -> np.ndarray: ...

    def temporal(self, fused: np.ndarray, h0: np.ndarray,
                 c0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def initial_state(self) -> tuple[np.ndarray, np.ndarray]: ...


class TorchEngine:
    """The PyTorch modules; fp16/bf16 only where the device supports them."""

    def __init__(self, policy: VlaPolicy, device: str = 'cpu', dtype: str = 'float32') -> None:
        if dtype not in DTYPES:
            raise ValueError(f'dtype must be one of {list(DTYPES)}, got {dtype!r}')
        if device.startswith('cuda') and not torch.cuda.is_available():
            raise DeviceUnavailable(f'device {device} asked for, but CUDA is not available here; '
                               'use device:=cpu')
        if dtype == 'float16' and not device.startswith('cuda'):
            raise ValueError('float16 inference needs a CUDA device; use float32 or bfloat16')
        self.device = torch.device(device)
        self.dtype = DTYPES[dtype]
        self.policy = policy.to(self.device, self.dtype).eval()
        self.name = f'torch-{device}-{dtype}'
        layers, hidden = policy.head.lstm.num_layers, policy.head.lstm.hidden_size
        self._state_shape = (layers, 1, hidden)

    def _in(self, array: np.ndarray, integer: bool = False) -> torch.Tensor:
        tensor = torch.from_numpy(np.ascontiguousarray(array)).to(self.device)
        return tensor if integer else tensor.to(self.dtype)

    @staticmethod
    def _out(tensor: torch.Tensor) -> np.ndarray:
        return tensor.float().cpu().numpy()

    @torch.inference_mode()
    def encode_image(self, pixels: np.ndarray) -> np.ndarray:
        return self._out(self.policy.vision(self._in(pixels)))

    @torch.inference_mode()
    def encode_text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self._out(self.policy.text(self._in(input_ids, True),
                                          self._in(attention_mask, True)))

    @torch.inference_mode()
    def fuse(self, features: np.ndarray) -> np.ndarray:
        return self._out(self.policy.head.fuse(self._in(features)))

    @torch.inference_mode()
    def temporal(self, fused, h0, c0):
        actions, h, c = self.policy.head.temporal(self._in(fused), self._in(h0), self._in(c0))
        return self._out(actions), self._out(h), self._out(c)

    def initial_state(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(self._state_shape, np.float32), np.zeros(self._state_shape, np.float32)


class _Stage(nn.Module):
    """One method of a module as an exportable module (the module stays registered)."""

    def __init__(self, module: nn.Module, method: str) -> None:
        super().__init__()
        self.module, self.method = module, method

    def forward(self, *args):
        return getattr(self.module, self.method)(*args)


def export_stages(stages: dict[str, tuple[nn.Module, tuple]], folder: str | Path,
                  state_shape: list[int], opset: int = OPSET, source: str = '') -> dict:
    """Export named stages (module, example inputs) with the contract of ``STAGES``;
    ``source`` is the fingerprint of the checkpoint they come from."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    contract = {'opset': opset, 'tolerance': PARITY_TOLERANCE, 'stages': {},
                'state_shape': list(state_shape), 'source': source}
    for name, (module, args) in stages.items():
        spec = STAGES[name]
        # One folder per stage: a model over 2 GB keeps its weights in external files
        # named after its tensors, and two stages must never share those names.
        (folder / name).mkdir(exist_ok=True)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter('ignore')  # tracer and deprecation chatter
            torch.onnx.export(module, args, str(folder / name / f'{name}.onnx'), dynamo=False,
                              input_names=spec['inputs'], output_names=spec['outputs'],
                              dynamic_axes=spec['dynamic_axes'], opset_version=opset,
                              do_constant_folding=True)
        contract['stages'][name] = {**spec, 'file': f'{name}/{name}.onnx'}
    (folder / EXPORT_FILE).write_text(json.dumps(contract, indent=2) + '\n', encoding='utf-8')
    return contract


def head_stages(head: nn.Module, in_dim: int, window: int) -> dict[str, tuple[nn.Module, tuple]]:
    """The fusion and temporal stages of a policy head with example inputs."""
    layers, hidden = head.lstm.num_layers, head.lstm.hidden_size
    return {
        'fusion': (_Stage(head, 'fuse'), (torch.randn(1, in_dim),)),
        'temporal': (_Stage(head, 'temporal'),
                     (torch.randn(1, window, head.lstm.input_size),
                      torch.zeros(layers, 1, hidden), torch.zeros(layers, 1, hidden))),
    }


def export_onnx(policy: VlaPolicy, folder: str | Path, opset: int = OPSET,
                source: str = '') -> dict:
    """Export the four stages to ``folder`` (vision/text/fusion/temporal + export.json);
    ``source``: the checkpoint's fingerprint (``checkpoint_fingerprint``)."""
    policy = policy.float().eval()
    config = policy.config
    size = config.image_size
    stages = {
        'vision': (policy.vision, (torch.randn(1, 3, size, size),)),
        'text': (policy.text, (torch.ones(1, config.max_text_len, dtype=torch.long),
                               torch.ones(1, config.max_text_len, dtype=torch.long))),
        **head_stages(policy.head, policy.vision.dim + policy.text.dim, config.window),
    }
    lstm = policy.head.lstm
    return export_stages(stages, folder, [lstm.num_layers, 1, lstm.hidden_size], opset,
                         source)


def available_providers(device: str = 'auto') -> list[str]:
    import onnxruntime as ort

    installed = ort.get_available_providers()
    wanted = {'cpu': ['CPUExecutionProvider'],
              'cuda': ['CUDAExecutionProvider', 'CPUExecutionProvider'],
              'tensorrt': ['TensorrtExecutionProvider', 'CUDAExecutionProvider',
                           'CPUExecutionProvider'],
              'auto': ['TensorrtExecutionProvider', 'CUDAExecutionProvider',
                       'CPUExecutionProvider']}
    if device not in wanted:
        raise ValueError(f'device must be one of {list(wanted)}, got {device!r}')
    chosen = [p for p in wanted[device] if p in installed]
    if device in ('cuda', 'tensorrt') and chosen == ['CPUExecutionProvider']:
        raise DeviceUnavailable(f'{device} asked for, but this onnxruntime has only {installed}; '
                           'install onnxruntime-gpu (Jetson: the JetPack wheel) or use cpu')
    return chosen


def export_source(folder: str | Path) -> str | None:
    """The checkpoint fingerprint an export folder records; None without a readable one."""
    try:
        contract = json.loads((Path(folder) / EXPORT_FILE).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None
    return contract.get('source') if isinstance(contract, dict) else None


class OnnxEngine:
    """The exported stages in ONNX Runtime sessions."""

    def __init__(self, folder: str | Path, device: str = 'auto', threads: int = 0,
                 source: str | None = None) -> None:
        """``source``: the fingerprint the export must have been made from (None: any)."""
        import onnxruntime as ort

        folder = Path(folder)
        path = folder / EXPORT_FILE
        if not path.is_file():
            raise FileNotFoundError(f'{folder} has no {EXPORT_FILE}; export the checkpoint first '
                                    '(mobile-vla bench --engine onnx exports it)')
        self.contract = json.loads(path.read_text(encoding='utf-8'))
        if source is not None and self.contract.get('source') != source:
            raise StaleExportError(f'{folder} was exported from other weights or another '
                                   'config than the checkpoint now has; export it again')
        self.providers = available_providers(device)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.sessions = {
            name: ort.InferenceSession(str(folder / spec['file']), options,
                                       providers=self.providers)
            for name, spec in self.contract['stages'].items()
        }
        self.name = f'onnx-{self.providers[0].replace("ExecutionProvider", "").lower()}'
        self._state_shape = tuple(self.contract['state_shape'])

    def _run(self, stage: str, *arrays: np.ndarray) -> list[np.ndarray]:
        names = self.contract['stages'][stage]['inputs']
        return self.sessions[stage].run(None, dict(zip(names, arrays, strict=True)))

    def encode_image(self, pixels: np.ndarray) -> np.ndarray:
        return self._run('vision', pixels.astype(np.float32, copy=False))[0]

    def encode_text(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self._run('text', input_ids.astype(np.int64), attention_mask.astype(np.int64))[0]

    def fuse(self, features: np.ndarray) -> np.ndarray:
        return self._run('fusion', features.astype(np.float32, copy=False))[0]

    def temporal(self, fused, h0, c0):
        actions, h, c = self._run('temporal', fused.astype(np.float32, copy=False),
                                  h0.astype(np.float32), c0.astype(np.float32))
        return actions, h, c

    def initial_state(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(self._state_shape, np.float32), np.zeros(self._state_shape, np.float32)
