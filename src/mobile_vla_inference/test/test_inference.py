"""VlaInference gating with a real tiny policy: when a step runs, and every reason to
publish zero instead."""

import numpy as np
import pytest
import torch

from mobile_vla.config import ConfigError, from_params, load_node_params
from mobile_vla.units import NS
from mobile_vla_inference.inference import InferenceConfig, VlaInference, load_runner
from mobile_vla_inference.sequence import Zero

S = NS  # a second, in nanoseconds
T0 = 1_780_000_000


load = load_runner


def frame(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (72, 128, 3), dtype=np.uint8)


def test_every_reason_to_stop_publishes_zero_and_says_why(checkpoint, tmp_path):
    broken = VlaInference(InferenceConfig(checkpoint=str(tmp_path / 'missing')), load)
    assert not broken.load()
    out = broken.step(T0)
    assert not out.action.any() and out.reason.startswith('model not loaded: CheckpointError')
    assert broken.diagnostics(T0)[0] == 'ERROR'
    unset = VlaInference(InferenceConfig(), load)
    assert unset.step(T0).reason == 'model not loaded: still loading'
    assert not unset.load()
    assert unset.step(T0).reason.startswith('model not loaded: no checkpoint configured')

    inf = VlaInference(InferenceConfig(checkpoint=checkpoint, max_frame_age_s=0.5), load)
    assert inf.load()
    assert inf.step(T0).reason.startswith('no instruction yet')
    inf.on_instruction('go around the box on the left to the cup')
    assert inf.step(T0).reason == 'no camera frame yet'
    inf.on_image(frame(), 'rgb', T0)
    out = inf.step(T0 + 0.1)
    assert out.reason is None and np.all(np.abs(out.action) > 0.1)
    assert set(out.latency_ms) >= {'preprocess', 'vision', 'temporal', 'total'}
    held = inf.step(T0 + 0.2)  # no new frame yet, the old one is fresh: hold
    np.testing.assert_array_equal(held.action, out.action)
    assert inf.runner.frames_encoded == 1
    assert inf.step(T0 + 0.8).reason == 'stale camera frame (0.80 s old)'
    inf.on_image(frame(1), 'bgr', T0 + 0.8)
    assert inf.step(T0 + 0.85).reason is None
    for word in ('stop', '  STOP ', ''):
        inf.on_instruction(word)
        assert inf.step(T0 + 0.9).reason == 'stopped by instruction'
    assert inf.diagnostics(T0 + 0.9)[0] == 'OK'
    # A frame stamped in the future would never go stale: zero, and why.
    inf.on_instruction('go around the box on the left to the cup')
    inf.on_image(frame(2), 'rgb', T0 + 30.0)
    assert inf.step(T0 + 1.0).reason.startswith('camera frame stamped 29.00 s in the future')
    assert inf.diagnostics(T0 + 1.0)[0] == 'WARN'  # a zero nobody asked for
    inf.on_instruction('wait 2 seconds')  # a zero that was asked for: OK, by its kind
    assert inf.step(T0 + 1.1).reason.startswith('waiting')
    assert inf.diagnostics(T0 + 1.1)[0] == 'OK' and inf.last_why is Zero.WAITING
    # An over-long instruction is refused: zero until a usable one comes.
    assert inf.on_instruction('x' * 501).startswith('instruction refused: 501 characters')
    inf.on_image(frame(3), 'rgb', T0 + 1.0)
    assert inf.step(T0 + 1.05).reason.startswith('instruction refused')
    assert inf.on_instruction('go around the box on the left to the cup') is None
    assert inf.step(T0 + 1.1).reason is None


def test_failures_and_nan_outputs_give_zero(checkpoint):
    inf = VlaInference(InferenceConfig(checkpoint=checkpoint), load)
    inf.load()
    inf.on_instruction('go to the cup')
    inf.on_image(np.zeros((10, 10), np.uint8), 'rgb', T0)  # not an RGB frame
    out = inf.step(T0)
    assert not out.action.any() and out.reason.startswith('policy step failed: ValueError')
    with torch.no_grad():
        inf.runner.engine.policy.head.mlp[-1].bias.fill_(float('nan'))
    inf.on_image(frame(), 'rgb', T0 + 0.1)
    assert inf.step(T0 + 0.1).reason == 'policy output is NaN or inf'
    assert inf.zero_reasons == {'policy step failed': 1, 'policy output is NaN or inf': 1}


def test_config_and_shipped_yaml(workspace_config):
    with pytest.raises(ConfigError, match='execution'):
        InferenceConfig(execution='all')
    params = load_node_params(workspace_config / 'inference.yaml', 'vla_inference')
    assert from_params(InferenceConfig, params).rate_hz == 10.0


def test_an_untrained_preset_runs_the_graph_without_a_checkpoint():
    inf = VlaInference(InferenceConfig(preset='clip_tiny'), load)
    assert inf.load()
    inf.on_instruction('go around the box on the left to the cup')
    inf.on_image(frame(), 'rgb', T0)
    assert inf.step(T0).reason is None


def test_onnx_engine_and_window_override(checkpoint):
    inf = VlaInference(InferenceConfig(checkpoint=checkpoint, engine='onnx', window=4), load)
    assert inf.load(), inf.load_error
    assert inf.runner.engine.name == 'onnx-cpu' and inf.runner.config.window == 4


def test_frames_start_steps_at_most_rate_hz_by_their_stamps(checkpoint):
    inf = VlaInference(InferenceConfig(checkpoint=checkpoint, rate_hz=10.0), load)
    assert inf.load()
    inf.on_instruction('go around the box on the left to the cup')
    due = []
    for n in range(30):  # a 30 Hz camera with +-4 ms of jitter in its stamps
        stamp = T0 + n / 30 + (0.004 if n % 2 else -0.004)
        due.append(inf.on_image(frame(n), 'rgb', stamp))
        if due[-1]:
            assert inf.step(stamp + 0.01).reason is None
    assert [n for n, d in enumerate(due) if d] == list(range(0, 30, 3))
    assert inf.steps == 10


def test_the_watchdog_holds_the_action_and_never_steps_an_undue_frame(checkpoint):
    inf = VlaInference(InferenceConfig(checkpoint=checkpoint, rate_hz=10.0), load)
    assert inf.load()
    inf.on_instruction('go around the box on the left to the cup')
    assert inf.on_image(frame(0), 'rgb', T0)
    driving = inf.step(T0 + 0.01).action
    assert not inf.on_image(frame(1), 'rgb', T0 + 0.033)  # not due: 10 Hz
    held = inf.step(T0 + 0.05, run_policy=False)
    assert inf.steps == 1 and held.reason is None
    np.testing.assert_array_equal(held.action, driving)
    stale = inf.step(T0 + 0.6, run_policy=False)
    assert stale.reason.startswith('stale camera frame') and not stale.action.any()
    # A clock that went back (a new bag loop) makes the next frame due at once.
    assert inf.on_image(frame(2), 'rgb', T0 - 5.0)


def test_an_action_whose_frame_went_stale_during_a_slow_step_is_zero(checkpoint):
    inf = VlaInference(InferenceConfig(checkpoint=checkpoint), load)
    assert inf.load()
    inf.on_instruction('go around the box on the left to the cup')
    inf.on_image(frame(0), 'rgb', T0)
    out = inf.step(T0 + 0.1)
    assert out.reason is None and out.action.any()
    assert inf.expire(out, T0 + 0.4) is out  # still fresh when the step ended
    late = inf.expire(out, T0 + 0.7)  # a 0.6 s forward pass
    assert late.reason.startswith('stale camera frame') and not late.action.any()


def test_a_new_instruction_acts_at_once_on_the_newest_fresh_frame(checkpoint):
    inf = VlaInference(InferenceConfig(checkpoint=checkpoint), load)
    assert inf.load()
    inf.on_instruction('go around the box on the left to the cup')
    assert inf.on_image(frame(0), 'rgb', T0)
    inf.step(T0 + 0.01)
    assert not inf.frame_due()  # used
    inf.on_instruction('go around the box on the right to the cup')
    assert inf.frame_due()
    assert inf.step(T0 + 0.02).reason is None and inf.steps == 2
    inf.on_instruction('stop')
    assert inf.step(T0 + 0.03).reason == 'stopped by instruction'


def test_an_instruction_that_is_not_valid_text_is_refused_with_zero(checkpoint):
    inf = VlaInference(InferenceConfig(checkpoint=checkpoint), load)
    assert inf.load()
    inf.on_image(frame(0), 'rgb', T0)
    refused = inf.on_instruction('go around the box \ud800 on the left')  # a lone surrogate
    assert refused and 'not valid Unicode' in refused
    out = inf.step(T0 + 0.01)
    assert not out.action.any() and 'refused' in out.reason


def test_an_instruction_heard_while_the_model_loads_drives_once_it_has_loaded(checkpoint):
    inf = VlaInference(InferenceConfig(checkpoint=checkpoint), load)
    inf.on_instruction('go around the box on the left to the cup')
    inf.on_image(frame(), 'rgb', T0)
    assert inf.step(T0).reason == 'model not loaded: still loading'
    assert inf.load()
    inf.on_image(frame(1), 'rgb', T0 + 0.3)
    out = inf.step(T0 + 0.3)
    assert out.reason is None and np.abs(out.action).max() > 0.1


def test_the_node_is_up_before_torch_loads():
    """The node subscribes in well under a second; torch and transformers load with the
    model, in the background (``load_runner``), so an instruction sent meanwhile is heard."""
    import subprocess
    import sys

    code = ('import sys, mobile_vla_inference.vla_inference_node; '
            'print(sorted({"torch", "transformers"} & set(sys.modules)))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == '[]', out.stdout
