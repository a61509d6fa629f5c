"""The recorder driven by direct calls: frame policy, actions, limits and errors."""

import numpy as np
import pytest

from mobile_vla.actions import ZERO
from mobile_vla.config import ConfigError, from_params, load_node_params
from mobile_vla.episode import read_episode, validate_episode
from mobile_vla_recorder.recorder import EpisodeRecorder, RecorderConfig
from mobile_vla_recorder.store import EpisodeStore

W = (1.15, 0.0, 0.0)
A = (0.0, 1.15, 0.0)
T0 = 1_780_000_000.0  # epoch seconds, as the ROS clock gives them


def frame(k: int) -> np.ndarray:
    img = np.zeros((48, 64, 3), np.uint8)
    img[..., 0] = k  # red channel carries the frame number
    img[..., 2] = 255 - k
    return img


class Rig:
    """A recorder with a 30 fps camera feed; run(t, cmd) advances time, feeding frames."""

    def __init__(self, **config):
        self.rec = EpisodeRecorder(RecorderConfig(**config), free_bytes=lambda: 10**12)
        self.ms = 0  # time as whole milliseconds since T0, so it does not drift
        self.k = 0
        self.finished = []
        self.sent = []  # (stamp, frame number) of every camera frame
        self.next_frame = 0  # frames are due at T0 + n / 30
        self.feed(0.0)

    @property
    def t(self):
        return T0 + self.ms / 1000

    def skip(self, seconds):
        self.ms += round(seconds * 1000)

    def feed(self, seconds):
        """Camera frames at 30 fps from now to now + seconds (inclusive)."""
        end = self.t + seconds
        while T0 + self.next_frame / 30 <= end + 1e-6:
            stamp = T0 + self.next_frame / 30
            self.rec.on_image(frame(self.k % 256), 'rgb8', stamp)
            self.sent.append((stamp, self.k % 256))
            self.k += 1
            self.next_frame += 1
        self.skip(seconds)

    def newest_frame_at(self, t):
        return max((stamp, k) for stamp, k in self.sent if stamp <= t + 1e-9)[1]

    def command(self, action, seconds=0.0):
        episode = self.rec.on_command(action, self.t)
        if episode is not None:
            self.finished.append(episode)
        if seconds:
            self.feed(seconds)

    def control(self, text):
        result = self.rec.on_control(text, self.t)
        if result.episode is not None:
            self.finished.append(result.episode)
        return result


def test_key_presses_become_start_and_stop_frames():
    rig = Rig()
    assert rig.control('start 1box_vert_left').ok
    for _ in range(3):
        rig.command(ZERO, 0.2)
        rig.command(W, 0.3)
        rig.command(ZERO, 0.2)
        rig.command(A, 0.3)
    rig.command(ZERO)
    result = rig.control('stop')
    ep = result.episode
    assert ep.event_types == ['episode_start'] + ['start_action', 'stop_action'] * 6
    np.testing.assert_allclose(ep.actions[1::2], [W, A] * 3)
    np.testing.assert_array_equal(ep.actions[0], ZERO)
    np.testing.assert_array_equal(ep.actions[2::2], np.zeros((6, 3)))
    assert not ep.complete and ep.num_frames == 13 and 'short: 13 of 18' in result.message
    assert ep.total_duration == pytest.approx(3.0)
    assert np.all(ep.frame_age <= 1 / 30 + 1e-9)
    # Each frame is the newest camera frame at its event.
    for image, t in zip(ep.images, ep.timestamps, strict=True):
        assert image[0, 0, 0] == rig.newest_frame_at(T0 + t)


def test_the_ramp_of_the_arbiter_does_not_shrink_the_recorded_action():
    rig = Rig()
    rig.control('start 1box_hori_right')
    for k in range(1, 15):  # slew-limited output: 0.115, 0.23, ... up to 1.15
        rig.command((min(1.15, 0.115 * k), 0.0, 0.0), 0.05)
    for k in range(5, -1, -1):
        rig.command((0.23 * k, 0.0, 0.0), 0.05)  # ramp down to zero
    ep = rig.control('stop').episode
    assert ep.event_types == ['episode_start', 'start_action', 'stop_action']
    np.testing.assert_allclose(ep.actions[1], W)


def test_a_turn_starts_a_new_action_but_noise_does_not():
    rig = Rig(direction_change_deg=30)
    rig.control('start 2box_vert_left')
    rig.command(W, 0.2)
    rig.command((1.15, 0.1, 0.0), 0.2)  # 5 degrees: same action
    rig.command((0.0, 1.15, 0.0), 0.2)  # 90 degrees: a new action (no stop in between)
    rig.command(ZERO)
    ep = rig.control('stop').episode
    assert ep.event_types == ['episode_start', 'start_action', 'start_action', 'stop_action']
    np.testing.assert_allclose(ep.actions[1], (1.15, 0.1, 0.0))
    np.testing.assert_allclose(ep.actions[2], A)


def test_episodes_stop_at_18_frames_on_their_own():
    rig = Rig()
    rig.control('start 1box_vert_right')
    for _ in range(12):
        rig.command(W, 0.1)
        rig.command(ZERO, 0.1)
    [ep] = rig.finished
    assert ep.num_frames == 18 and ep.complete
    assert not rig.rec.recording
    assert rig.control('stop').ok is False  # nothing left to stop


def test_the_18th_frame_is_labelled_with_the_settled_command():
    """The last frame starts a rotation: the arbiter's ramp (0.23 first) settles at 1.15
    before the episode ends, as every other frame's label does."""
    rig = Rig()
    rig.control('start 1box_vert_right')
    for _ in range(8):
        rig.command(W, 0.1)
        rig.command(ZERO, 0.1)
    rig.command((0.0, 0.0, 0.23), 0.05)  # frame 18, the first slew-limited sample
    assert not rig.finished
    for value in (0.46, 0.92, 1.15, 1.15):
        rig.command((0.0, 0.0, value), 0.05)
    rig.command(ZERO)  # released: the label has settled
    [ep] = rig.finished
    assert ep.num_frames == 18 and ep.event_types[-1] == 'start_action'
    np.testing.assert_allclose(ep.actions[-1], (0.0, 0.0, 1.15))


@pytest.mark.parametrize('keep_short, kept', [(True, True), (False, False)])
def test_short_episodes_follow_keep_short(keep_short, kept):
    rig = Rig(keep_short=keep_short)
    rig.control('start 1box_vert_left')
    rig.command(W, 0.1)
    rig.command(ZERO, 0.1)
    result = rig.control('stop')
    assert (result.episode is not None) == kept
    assert kept or 'dropped' in result.message


def test_discard_and_min_frames_drop_episodes():
    rig = Rig()
    rig.control('start 1box_vert_left')
    rig.command(W, 0.1)
    assert rig.control('discard').message.startswith('episode discarded')
    rig.control('start 1box_vert_left')
    result = rig.control('stop')  # only episode_start: below min_frames
    assert result.episode is None and 'dropped' in result.message
    assert rig.rec.episodes_dropped == 2


def test_instruction_comes_from_the_command_then_vla_command_during_it_then_the_scenario():
    rig = Rig()
    rig.control('start 1box_vert_left pass it on the left please')
    rig.rec.on_instruction('go around the box on the right to the cup')  # given: it stays
    rig.command(W, 0.1)
    assert rig.control('stop').episode.instruction == 'pass it on the left please'
    # The policy is told during the episode: it demonstrates that (the newest wins).
    rig.control('start 1box_vert_left')
    rig.rec.on_instruction('go to the cup')
    rig.command(W, 0.1)
    rig.rec.on_instruction('go left around the box to the cup')
    rig.rec.on_instruction('stop')  # halts the policy; not an instruction
    assert rig.control('stop').episode.instruction == 'go left around the box to the cup'
    rig.control('start 2box_hori_right')
    rig.command(W, 0.1)
    assert rig.control('stop').episode.instruction == \
        'go around the boxes on the right to the cup'


def test_a_policy_instruction_from_before_the_episode_is_never_its_instruction():
    """A person takes the keys after the policy ran: the episode is theirs, of its scenario."""
    rig = Rig()
    rig.rec.on_instruction('go around the box on the right to the cup')
    rig.control('start 1box_vert_left')
    rig.command(W, 0.1)
    episode = rig.control('stop').episode
    assert episode.instruction == 'go around the box on the left to the cup'


def test_an_instruction_with_a_lone_surrogate_is_still_written(tmp_path):
    """It would fail the file's UTF-8 attribute and lose the episode: it is replaced."""
    rig = Rig()
    rig.control('start 1box_vert_left')
    rig.rec.on_instruction('go left \ud800 around the box')
    rig.command(W, 0.1)
    episode = rig.control('stop').episode
    assert episode.instruction == 'go left ? around the box'
    path = EpisodeStore(tmp_path, 'none').write(episode)
    assert validate_episode(path) == [] and read_episode(path).instruction == episode.instruction


@pytest.mark.parametrize('command, error', [
    ('start', 'start needs a scenario'),
    ('start 3box_diag_up', 'unknown scenario'),
    ('record now', 'unknown recorder command'),
    ('', 'empty recorder command'),
    ('stop', 'no episode is being recorded'),
])
def test_bad_control_messages_are_explained(command, error):
    rig = Rig()
    result = rig.control(command)
    assert not result.ok and error in result.message and not rig.rec.recording


def test_start_needs_a_fresh_camera_and_free_disk():
    rec = EpisodeRecorder(RecorderConfig(min_free_mb=500), free_bytes=lambda: 100 * 10**6)
    assert 'no camera frame yet' in rec.on_control('start 1box_vert_left', T0).message
    rec.on_image(frame(0), 'rgb8', T0)
    assert 'newest frame is 2.00 s old' in rec.on_control('start 1box_vert_left',
                                                           T0 + 2).message
    result = rec.on_control('start 1box_vert_left', T0 + 0.1)
    assert not result.ok and '100 MB free' in result.message and 'need 500 MB' in result.message


def test_stale_frames_skip_events_and_say_so():
    rig = Rig()
    rig.control('start 1box_vert_left')
    rig.skip(2.0)  # the camera stops
    rig.next_frame += 60
    rig.command(W)
    assert rig.rec.diagnostics(rig.t)[0] == 'ERROR'
    assert 'skipped' in rig.rec.last_error
    rig.feed(0.1)
    rig.command(W)
    rig.command(ZERO)
    ep = rig.control('stop').episode
    assert ep.event_types == ['episode_start', 'start_action', 'stop_action']
    assert ep.extra_attrs['stale_events_skipped'] == 1


def test_bgr_frames_are_stored_as_rgb():
    rig = Rig()
    bgr = frame(9)
    rig.rec.on_image(bgr, 'bgr8', rig.t)
    rig.control('start 1box_vert_left')
    rig.command(W)
    ep = rig.control('stop').episode
    np.testing.assert_array_equal(ep.images[0], bgr[:, :, ::-1])


def test_fixed_rate_mode_records_on_its_clock():
    rig = Rig(mode='fixed_rate', fixed_rate_hz=2.0)
    rig.control('start 1box_vert_left')
    for step in range(21):  # 2 s at 10 Hz ticks, driving forward from 0.9 s
        rig.command(W if step >= 9 else ZERO)
        episode = rig.rec.tick(rig.t)
        assert episode is None
        rig.feed(0.1)
    ep = rig.control('stop').episode
    # Each frame is labelled with the command that followed it (the newest before the
    # next frame): the frame at 0.5 s led to driving forward from 0.9 s.
    assert ep.event_types == ['episode_start', 'start_action', 'start_action', 'start_action',
                              'start_action']
    np.testing.assert_allclose(ep.timestamps, [0.0, 0.5, 1.0, 1.5, 2.0], atol=1e-6)
    np.testing.assert_allclose(ep.actions, [ZERO, W, W, W, W])


def test_fixed_rate_labels_a_frame_with_the_command_that_follows_it():
    rig = Rig(mode='fixed_rate', fixed_rate_hz=2.0, max_frames=3)
    rig.command(A)  # already moving when the episode starts
    rig.control('start 1box_vert_left')
    plan = [A] * 5 + [W] * 5 + [ZERO] * 5 + [W] * 2  # 0.1 s steps
    for action in plan:  # a frame is due, then the driver reacts to it
        episode = rig.rec.tick(rig.t)
        if episode is not None:
            rig.finished.append(episode)
        rig.command(action)
        rig.feed(0.1)
    [ep] = rig.finished
    # Three frames, then the episode ends one period after the last (when its label is known).
    assert ep.event_types == ['episode_start', 'start_action', 'stop_action']
    np.testing.assert_allclose(ep.actions, [A, W, ZERO])
    np.testing.assert_allclose(ep.timestamps, [0.0, 0.5, 1.0], atol=1e-6)
    assert ep.total_duration == pytest.approx(1.5, abs=1e-6)


def test_finished_episodes_write_and_validate(tmp_path):
    rig = Rig()
    rig.control('start 1box_vert_left')
    for _ in range(9):
        rig.command(W, 0.1)
        rig.command(ZERO, 0.1)
    [ep] = rig.finished
    store = EpisodeStore(tmp_path)
    path = store.write(ep)
    assert path.name.startswith('episode_') and path.name.endswith('_1box_vert_left.h5')
    assert validate_episode(path) == []
    back = read_episode(path)
    np.testing.assert_array_equal(back.images, ep.images)
    second = store.write(rig.finished[0])  # same second: a unique name, no overwrite
    assert second.name.endswith('_1box_vert_left_2.h5')


def test_config_and_shipped_yaml(workspace_config):
    with pytest.raises(ConfigError, match='mode'):
        RecorderConfig(mode='continuous')
    params = load_node_params(workspace_config / 'recorder.yaml', 'episode_recorder')
    assert from_params(RecorderConfig, params).max_frames == 18
