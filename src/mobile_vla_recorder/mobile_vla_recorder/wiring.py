"""The episode_recorder node's wiring, written once against ``mobile_vla.bus.Bus``.

The same code runs under rclpy (``episode_recorder_node``), in ``mobile-vla data
from-bag``, in the bag tests and in the simulator. Callbacks only hand data to
``EpisodeRecorder``; a finished episode goes to ``on_episode`` when the caller
gives one (replay, simulator), else to the store through a worker (a thread under
rclpy), so 30 fps camera input is never dropped while a file is written.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

from mobile_vla import topics
from mobile_vla.bus import Bus, publisher_of, subscribe_to, throttled_warnings
from mobile_vla.episode import Episode, EpisodeWriteError
from mobile_vla.msgs import ImageConversionError, image_to_numpy, stamp_to_ns, twist_to_action
from mobile_vla.streams import StreamMonitor
from mobile_vla.units import NS
from mobile_vla_recorder.recorder import EpisodeRecorder, RecorderConfig
from mobile_vla_recorder.store import EpisodeStore


def tick_rate_hz(fixed_rate_hz: float) -> float:
    """A whole multiple of the frame rate (and at least 10 Hz), so frames fall on ticks."""
    return fixed_rate_hz * max(2, math.ceil(10.0 / fixed_rate_hz))


class RecorderWiring:
    """episode_recorder: camera/image, cmd_vel, vla/status, recorder/control in; episodes out.

    The policy's instruction comes from ``vla/status``, as the inference took it on (a
    new ``number`` whose plan runs), not from ``vla/command``: a refused instruction is
    not one the policy demonstrates, and ``vla_inference`` stays the only subscriber of
    ``vla/command``, so ``ros2 topic pub --once`` (which waits for one matching
    subscription) always reaches it."""

    def __init__(self, bus: Bus, on_episode: Callable[[Episode], None] | None = None) -> None:
        self.bus = bus
        self.config = bus.config(RecorderConfig)
        self.saved = 0
        self.store: EpisodeStore | None = None
        self._writer = None
        if on_episode is None:
            self.store = EpisodeStore(self.config.output_dir, self.config.compression)
            for path in self.store.removed_temp_files:
                bus.log('warning', f'removed {path.name}: left by an interrupted writer')
            self._writer = bus.worker('episode_writer')
            on_episode = self._save
        self._on_episode = on_episode
        self.recorder = EpisodeRecorder(
            self.config, free_bytes=self.store.free_bytes if self.store else None)
        self._warn = throttled_warnings(bus, 5.0)
        # Every camera frame counts, recorded or not: a gap in the stamps while an episode
        # records is a frame the recorder lost (frames.missed_in_episodes).
        self.frames = StreamMonitor()
        self.missed_in_episodes = 0
        self._diagnostics = publisher_of(bus, topics.DIAGNOSTICS)
        subscribe_to(bus, topics.CAMERA_IMAGE, self._on_image)
        subscribe_to(bus, topics.CMD_VEL, self._on_cmd)
        self._instruction_number: Any = None
        subscribe_to(bus, topics.VLA_STATUS, self._on_status)
        subscribe_to(bus, topics.RECORDER_CONTROL, self._on_control)
        if self.config.mode == 'fixed_rate':
            bus.timer(tick_rate_hz(self.config.fixed_rate_hz), self._tick, 'episode_recorder')
        bus.timer(1.0, self._publish_diagnostics, 'episode_recorder/diagnostics')
        where = self.store.folder if self.store else 'the caller'
        bus.log('info', f'{self.config.mode} recording, {self.config.max_frames} frames, '
                        f'{self.config.compression}; episodes go to {where}')

    def _now(self) -> float:
        return self.bus.now_ns() / NS

    def _finished(self, episode: Episode | None) -> None:
        if episode is not None:
            self._on_episode(episode)

    def _save(self, episode: Episode) -> None:
        self._writer.submit(lambda: self._write(episode))

    def _write(self, episode: Episode) -> None:
        try:
            path = self.store.write(episode)
        except Exception as exc:  # whatever it was, the writer goes on with the next one
            reason = str(exc) if isinstance(exc, EpisodeWriteError) else \
                f'{type(exc).__name__}: {exc}'
            self.recorder.last_error = reason
            self.bus.log('error', f'episode {episode.name} NOT saved: {reason}')
            return
        self.saved += 1
        self.bus.log('info', f'saved {path.stem}: {episode.num_frames} frames, '
                             f'{episode.total_duration:.1f} s, {episode.scenario} -> {path}')

    def _on_image(self, msg: Any) -> None:
        missed = self.frames.add(stamp_to_ns(msg.header.stamp))
        if self.recorder.recording:
            self.missed_in_episodes += missed
        try:
            image = image_to_numpy(msg)
        except ImageConversionError as exc:
            self._warn(f'camera image skipped: {exc}')
            return
        refused = self.recorder.on_image(image, msg.encoding,
                                         stamp_to_ns(msg.header.stamp) / NS)
        if refused:
            self._warn(refused)

    def _on_cmd(self, msg: Any) -> None:
        self._finished(self.recorder.on_command(twist_to_action(msg), self._now()))

    def _on_status(self, msg: Any) -> None:
        """A new instruction the policy runs is what it demonstrates (the recorder takes
        it only while an episode records without one of its own)."""
        try:
            status = json.loads(msg.data)
            number, state = status.get('number'), status.get('state')
        except (ValueError, AttributeError):
            self._warn('vla/status: not a JSON object; ignored')
            return
        if number == self._instruction_number:
            return  # progress of the instruction already seen
        self._instruction_number = number
        if state == 'running':
            self.recorder.on_instruction(str(status.get('instruction', '')))

    def _on_control(self, msg: Any) -> None:
        result = self.recorder.on_control(msg.data, self._now())
        self.bus.log('info' if result.ok else 'error', result.message)
        self._finished(result.episode)

    def _tick(self) -> None:
        self._finished(self.recorder.tick(self._now()))

    def _publish_diagnostics(self) -> None:
        level, message, values = self.recorder.diagnostics(self._now())
        values = {**values, 'saved': str(self.saved), **self.frames.values('frames'),
                  'frames.missed_in_episodes': str(self.missed_in_episodes)}
        if self.store is not None:
            values.update(write_queue=str(self._writer.pending()), folder=str(self.store.folder))
        self._diagnostics(self.bus.msgs.diagnostics(
            self.bus.now_ns(), 'episode_recorder: recorder', level, message, values))

    def shutdown(self) -> None:
        """An episode still being recorded is kept if it may be; pending writes finish."""
        if self.recorder.recording:
            result = self.recorder.on_control('stop', self._now())
            self.bus.log('warning', f'shutting down: {result.message}')
            self._finished(result.episode)
