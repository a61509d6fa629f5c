"""VlaInference gating with a real tiny policy, and a replayed bag through it."""

import numpy as np
import pytest
import torch

from mobile_vla.bag import BagWriter, read_messages
from mobile_vla.bus import ReplayBus
from mobile_vla.config import ConfigError, from_params, load_node_params, to_params
from mobile_vla.msgs import twist_to_action
from mobile_vla.policy.checkpoint import save_checkpoint
from mobile_vla.policy.configuration_policy import load_preset
from mobile_vla.policy.modeling_policy import build_policy
from mobile_vla.replay import MessageLog, ReplayExecutor
from mobile_vla.units import NS
from mobile_vla_inference.inference import InferenceConfig, VlaInference, load_runner
from mobile_vla_inference.sequence import Zero
from mobile_vla_inference.wiring import InferenceWiring

S = NS  # a second, in nanoseconds
T0 = 1_780_000_000


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    policy = build_policy(load_preset('kosmos2_clip_tiny'))
    with torch.no_grad():  # a visible, non-zero output for an untrained head
        policy.head.mlp[-1].bias.fill_(0.5)
    return str(save_checkpoint(policy, tmp_path_factory.mktemp('ckpt') / 'tiny'))


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


def test_a_replayed_bag_gives_a_robot_action_stream(checkpoint, tmp_path):
    bag = tmp_path / 'bag'
    with BagWriter(bag) as writer:
        for n in range(3 * 30):  # frames for 3 s, then the camera drops out
            writer.write_image('/camera/image_policy', frame(n), T0 * S + n * S // 30)
        writer.write_string('/vla/command', 'go around the box on the right to the cup',
                            T0 * S + S // 2)
        writer.write_string('/vla/command', 'stop', T0 * S + 2 * S)
        writer.write_string('/vla/command', 'go around the box on the left to the cup',
                            T0 * S + 5 * S // 2)
        writer.write_string('/vla/command', 'go to the cup', T0 * S + 4 * S)  # 1 s after dropout
    log = MessageLog()
    ex = ReplayExecutor(sink=log)
    inf = InferenceWiring(ReplayBus(ex, to_params(InferenceConfig(checkpoint=checkpoint,
                                                                  rate_hz=10.0))),
                          load=load).inference
    ex.run_bag(bag)
    actions = [(round((m.t_ns - T0 * S) / 1e9, 3), twist_to_action(m.msg))
               for m in log.on('/robot/action')]
    last = dict(actions)  # the last action of each instant: what the arbiter goes by
    # A step on every third frame of the 30 Hz camera (10 Hz, at the frames' own
    # instants), then the watchdog at 10 Hz once frames stop: 0 to 4 s.
    assert sorted(last) == [round(k / 10, 3) for k in range(41)]
    # An instruction acts at once on the newest fresh frame (the frame of 0.5 s came
    # just before it): a second output at 0.5 s, at 2.0 s (stop) and at 2.5 s.
    # (the instruction at 4 s goes out instead of the watchdog's zero: the frame is stale.)
    assert len(actions) == 41 + 3
    assert inf.steps == 21  # the policy: 0.5-2.0 s and 2.5-2.9 s
    moving = {t for t, a in last.items() if any(abs(v) > 1e-6 for v in a)}
    # Driving after the instruction, zero after stop, again after the new instruction;
    # the last frame (2.967 s) is held while fresh, zero once it is older than 0.5 s.
    assert moving == {round(0.5 + k / 10, 3) for k in range(15)} | {
        round(2.5 + k / 10, 3) for k in range(10)}
    assert inf.zero_reasons['stale camera frame'] >= 1


def test_config_and_shipped_yaml(workspace_config):
    with pytest.raises(ConfigError, match='execution'):
        InferenceConfig(execution='all')
    params = load_node_params(workspace_config / 'inference.yaml', 'vla_inference')
    assert from_params(InferenceConfig, params).rate_hz == 10.0


def test_replayed_action_bag_is_written(checkpoint, tmp_path):
    bag, out = tmp_path / 'in', tmp_path / 'out'
    with BagWriter(bag) as writer:
        writer.write_string('/vla/command', 'go around the box on the left to the cup', T0 * S)
        for n in range(10):
            writer.write_image('/camera/image_policy', frame(n), T0 * S + n * S // 10)
    with BagWriter(out) as sink:
        ex = ReplayExecutor(sink=sink)
        InferenceWiring(ReplayBus(ex, to_params(InferenceConfig(checkpoint=checkpoint))),
                        load=load)
        ex.run_bag(bag)
    msgs = read_messages(out, ['/robot/action'])
    # The instruction answers at once (zero: no frame yet), then a step per frame.
    assert len(msgs) == 11 and msgs[0].msgtype == 'geometry_msgs/msg/Twist'
    assert msgs[0].t_ns == msgs[1].t_ns == T0 * S


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
