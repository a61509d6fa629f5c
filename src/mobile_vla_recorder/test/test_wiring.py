"""The episode_recorder wiring in the replay executor: an episode recorded from a bag of
camera frames, key presses and recorder commands, bit for bit."""

import json

import numpy as np
import pytest

from mobile_vla.bag import BagWriter
from mobile_vla.bus import ReplayBus
from mobile_vla.episode import read_episode, validate_episode
from mobile_vla.replay import ReplayExecutor
from mobile_vla.units import NS
from mobile_vla_recorder.store import EpisodeStore
from mobile_vla_recorder.wiring import RecorderWiring

S = NS  # a second, in nanoseconds
T0 = 1_780_000_000 * S
W = (1.15, 0.0, 0.0)
A = (0.0, 1.15, 0.0)


@pytest.fixture
def driving_bag(tmp_path):
    """8 s of 30 fps camera, 20 Hz cmd_vel with key presses, start, an instruction while
    recording, and stop."""
    rng = np.random.default_rng(4)
    frames = {}
    path = tmp_path / 'drive'
    with BagWriter(path) as bag:
        for n in range(8 * 30):
            t = T0 + n * S // 30
            frames[t] = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            bag.write_image('/camera/image', frames[t], t, encoding='rgb8')
        bag.write_string('/recorder/control', 'start 1box_vert_left', T0 + S // 2)
        bag.write_string('/vla/status', json.dumps(
            {'instruction': 'swing left around the box to the cup', 'state': 'running',
             'number': 3}), T0 + S * 6 // 10)
        bag.write_string('/vla/status', json.dumps(  # progress of it: the same number
            {'instruction': 'swing left around the box to the cup', 'state': 'done',
             'number': 3}), T0 + S * 65 // 100)
        for n in range(8 * 20):
            t = T0 + n * S // 20 + 1_000_000  # 1 ms after the frame grid
            phase = (n // 6) % 4  # 0.3 s each: W, stop, A, stop
            bag.write_twist('/cmd_vel', W if phase == 0 else A if phase == 2 else (0, 0, 0), t)
        bag.write_string('/recorder/control', 'stop', T0 + 7 * S)
    return path, frames


def test_episode_from_a_replayed_bag_is_bit_exact(driving_bag, tmp_path):
    path, frames = driving_bag
    store = EpisodeStore(tmp_path / 'episodes')
    written, log = [], []
    ex = ReplayExecutor()
    RecorderWiring(ReplayBus(ex, log=log.append),
                   on_episode=lambda ep: written.append(store.write(ep)))
    ex.run_bag(path)
    # 18 frames come before the stop at 7 s: the episode ended on its own.
    assert log[1:] == ["recording 1box_vert_left: 'go around the box on the left to the cup'",
                       '[error] stop: no episode is being recorded']
    [episode_path] = written
    assert validate_episode(episode_path) == []
    ep = read_episode(episode_path)
    assert ep.num_frames == 18 and ep.scenario == '1box_vert_left'
    assert ep.instruction == 'swing left around the box to the cup'  # told while recording
    assert ep.event_types == ['episode_start'] + ['start_action', 'stop_action'] * 8 + [
        'start_action']
    np.testing.assert_allclose(ep.actions[1::2][:9], [A, W] * 4 + [A])  # starts in an A phase
    stamps = sorted(frames)
    for image, t_rel in zip(ep.images, ep.timestamps, strict=True):
        t = T0 + S // 2 + round(t_rel * S)
        newest = max(s for s in stamps if s <= t)
        np.testing.assert_array_equal(image, frames[newest])
    assert np.all(ep.frame_age < 1 / 30 + 1e-6)
