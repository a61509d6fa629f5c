"""The episode recorder: camera frames and velocity commands in, 18-frame episodes out.

As in the original collector, an episode is an ``episode_start`` frame and then one
frame per action event: ``start_action`` when a new non-zero command begins (from
standstill, or when its direction turns by more than ``direction_change_deg``),
``stop_action`` when it stops. The frame of an event is the newest camera frame
at that moment (its age is recorded); the action of a ``start_action`` frame is
the steady command of its segment (the largest reached before the next event),
so the arbiter's acceleration ramp does not shrink the recorded key action.

``mode: fixed_rate`` records a frame every 1 / ``fixed_rate_hz`` seconds instead
(the simulator's expert data). The action of a fixed-rate frame is the command that
followed it: the newest command received before the next frame (or before the
episode stops), so a driver reacting to a frame labels that frame, and an
acceleration ramp has had one frame period to settle. The ``episode_start`` frame
follows the same rule (a frame the robot drove away from must not say "stand
still"); the event of the others is ``start_action`` when that command moves the
robot and ``stop_action`` when it does not. The episode ends one period after its
last frame, when that frame's action is known.

An episode's instruction is the one it demonstrates: the one given with
``start <scenario> <instruction>``; else an instruction the policy takes on while it
records (``vla/status``: the policy is then demonstrating it; the newest wins); else the
scenario's own. An instruction heard before the episode started is never used: it may
be a policy command left over from before a person took the keys.

Episodes stop at ``max_frames`` on their own. Finished episodes are returned to
the caller, which writes them (the node does so in a worker thread). Time comes
in as an argument (seconds); nothing here reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import cv2
import numpy as np

from mobile_vla.config import ConfigError
from mobile_vla.config import documented as _doc
from mobile_vla.episode import (
    COMPRESSIONS,
    DEFAULT_COMPRESSION,
    EPISODE_FRAMES,
    Episode,
    episode_file_name,
)
from mobile_vla.scenarios import ScenarioError, parse

RECORDING_MODES = ('events', 'fixed_rate')
#: What an episode stores (as rgb8).
STORED_ENCODINGS = ('rgb8', 'bgr8')
#: A fixed-rate frame is due this much early too (clock jitter, float epoch seconds).
FIXED_RATE_SLACK_S = 1e-3
CONTROL_HELP = "use 'start <scenario> [instruction]', 'stop' or 'discard'"


@dataclass(frozen=True)
class RecorderConfig:
    """Parameters of the episode recorder node."""

    output_dir: str = _doc('folder the episode files go to', '~/mobile_vla_episodes')
    max_frames: int = _doc('frames per episode; the episode stops on its own there',
                           EPISODE_FRAMES)
    mode: str = _doc('events (a frame per action event, as the original) or fixed_rate',
                     'events')
    fixed_rate_hz: float = _doc('fixed_rate mode: frames per second', 2.0)
    keep_short: bool = _doc('keep episodes stopped before max_frames (flagged complete=false)',
                            True)
    min_frames: int = _doc('episodes with fewer frames are never kept', 2)
    max_frame_age_s: float = _doc(
        'a camera frame older than this at an event is stale: the event is skipped', 0.5)
    zero_threshold: float = _doc('a command with every axis below this counts as stopped',
                                 1e-3)
    direction_change_deg: float = _doc(
        'a command turning by more than this starts a new action', 30.0)
    compression: str = _doc('gzip, lzf or none (see the benchmark in the README)',
                            DEFAULT_COMPRESSION)
    min_free_mb: float = _doc('an episode starts only with this much free disk space', 500.0)

    def __post_init__(self) -> None:
        if self.mode not in RECORDING_MODES:
            raise ConfigError(f'mode must be one of {RECORDING_MODES}, got {self.mode!r}')
        if self.max_frames < 2:
            raise ConfigError(f'max_frames must be at least 2, got {self.max_frames}')
        if not 1 <= self.min_frames <= self.max_frames:
            raise ConfigError(f'min_frames must be 1..max_frames, got {self.min_frames}')
        if self.fixed_rate_hz <= 0 or self.max_frame_age_s <= 0 or self.zero_threshold < 0:
            raise ConfigError('fixed_rate_hz and max_frame_age_s must be > 0, '
                              'zero_threshold >= 0')
        if not 0 < self.direction_change_deg < 180:
            raise ConfigError('direction_change_deg must be in (0, 180)')
        if self.compression not in COMPRESSIONS:
            raise ConfigError(f'compression must be one of {COMPRESSIONS}')


@dataclass(frozen=True)
class ControlResult:
    """What a recorder/control message did: a message to log, maybe a finished episode."""

    ok: bool
    message: str
    episode: Episode | None = None


@dataclass
class _Recording:
    scenario: str
    instruction: str
    start: float
    #: The instruction came with the start command: the policy's does not replace it.
    instruction_given: bool = False
    images: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    ages: list[float] = field(default_factory=list)
    segment: int | None = None  # frame index of the open start_action
    direction: np.ndarray | None = None
    next_fixed: float = 0.0
    stale_skipped: int = 0


class EpisodeRecorder:
    """Turns frames, commands and control messages into episodes."""

    def __init__(self, config: RecorderConfig | None = None,
                 free_bytes: Callable[[], int] | None = None) -> None:
        self.config = config or RecorderConfig()
        self._free_bytes = free_bytes
        self._frame: tuple[np.ndarray, str, float] | None = None
        self._command = np.zeros(3)
        self._rec: _Recording | None = None
        self.episodes_finished = 0
        self.episodes_dropped = 0
        self.last_error = ''
        self._cos_turn = math.cos(math.radians(self.config.direction_change_deg))

    # ----------------------------------------------------------------- inputs
    @property
    def recording(self) -> bool:
        return self._rec is not None

    def on_image(self, image: np.ndarray, encoding: str, stamp: float) -> str | None:
        """The newest camera frame (a view is fine: it is copied only when recorded).

        A frame the episode cannot store (not rgb8/bgr8 colour, or another size than the
        episode's frames) is refused: the reason is returned and kept in ``last_error``,
        and the episode in progress goes on with the frames it can take.
        """
        shape = getattr(image, 'shape', ())
        if encoding not in STORED_ENCODINGS or len(shape) != 3 or shape[2] != 3:
            self.last_error = (f'camera frame refused: the recorder stores rgb8 or bgr8, got '
                               f'{encoding!r} {tuple(shape)}')
            return self.last_error
        rec = self._rec
        if rec is not None and rec.images and rec.images[0].shape != shape:
            self.last_error = (f'camera frame refused: {shape[1]}x{shape[0]} while this episode '
                               f'records {rec.images[0].shape[1]}x{rec.images[0].shape[0]}')
            return self.last_error
        self._frame = (image, encoding, stamp)
        return None

    def on_instruction(self, text: str) -> None:
        """An instruction the policy took on: while an episode records without one of its own,
        it is what the policy demonstrates, so it becomes the episode's ('stop' and ''
        halt the policy and are not instructions). Before an episode it is ignored."""
        rec = self._rec
        if rec is None or rec.instruction_given:
            return
        # A lone surrogate cannot go into the file's UTF-8 attribute: it becomes U+FFFD.
        text = str(text).strip().encode('utf-8', 'replace').decode('utf-8')
        if text and text.lower() != 'stop':
            rec.instruction = text

    def on_command(self, action: Any, now: float) -> Episode | None:
        """A velocity command (the arbiter's cmd_vel); returns an episode that just filled up."""
        arr = np.asarray(action, dtype=np.float64).reshape(-1)
        if arr.size not in (2, 3) or not np.all(np.isfinite(arr)):
            self.last_error = f'ignored invalid command {list(arr)}'
            return None
        self._command = np.pad(arr, (0, 3 - arr.size))
        rec = self._rec
        if rec is None:
            return None
        if self.config.mode == 'fixed_rate':
            # The newest frame's action so far; a command at the next frame's instant
            # belongs to that frame (it starts with the command then in force).
            if now < rec.next_fixed - FIXED_RATE_SLACK_S:
                rec.actions[-1] = self._command.copy()
            return None
        moving = bool(np.max(np.abs(self._command)) > self.config.zero_threshold)
        if rec.segment is None:
            if moving:
                return self._event('start_action', now)
            return None
        if not moving:
            return self._event('stop_action', now)
        direction = self._command / np.linalg.norm(self._command)
        if float(direction @ rec.direction) < self._cos_turn:
            return self._event('start_action', now)
        if np.linalg.norm(self._command) > np.linalg.norm(rec.actions[rec.segment]):
            rec.actions[rec.segment] = self._command.copy()  # still ramping up
        return None

    def tick(self, now: float) -> Episode | None:
        """Fixed-rate mode: call at least at ``fixed_rate_hz``."""
        rec = self._rec
        if rec is None or self.config.mode != 'fixed_rate':
            return None
        if now < rec.next_fixed - FIXED_RATE_SLACK_S:
            return None
        rec.next_fixed += 1.0 / self.config.fixed_rate_hz
        self._label_fixed(rec)  # the newest frame's action is final now
        if len(rec.images) >= self.config.max_frames:
            return self._finish(now, f'reached {self.config.max_frames} frames').episode
        self._record('start_action', self._command, now)
        return None

    def _label_fixed(self, rec: _Recording) -> None:
        """Fixed rate: the event of the newest frame follows from the action it got."""
        if rec.events[-1] != 'episode_start':
            moving = bool(np.max(np.abs(rec.actions[-1])) > self.config.zero_threshold)
            rec.events[-1] = 'start_action' if moving else 'stop_action'

    def on_control(self, text: str, now: float) -> ControlResult:
        """``start <scenario> [instruction]``, ``stop`` or ``discard``."""
        words = str(text).strip().split(maxsplit=2)
        if not words:
            return self._error(f'empty recorder command; {CONTROL_HELP}')
        verb = words[0].lower()
        if verb == 'start':
            return self._start(words[1:], now)
        if verb in ('stop', 'discard'):
            if self._rec is None:
                return self._error(f'{verb}: no episode is being recorded')
            if verb == 'discard':
                frames = len(self._rec.images)
                self._rec = None
                self.episodes_dropped += 1
                return ControlResult(True, f'episode discarded ({frames} frames)')
            return self._finish(now, 'stopped')
        return self._error(f'unknown recorder command {text!r}; {CONTROL_HELP}')

    # -------------------------------------------------------------- internals
    def _error(self, message: str) -> ControlResult:
        self.last_error = message
        return ControlResult(False, message)

    def _frame_age(self, now: float) -> float | None:
        return None if self._frame is None else now - self._frame[2]

    def _start(self, args: list[str], now: float) -> ControlResult:
        if self._rec is not None:
            return self._error(f'already recording {self._rec.scenario}; '
                               'send stop or discard first')
        if not args:
            return self._error(f'start needs a scenario; {CONTROL_HELP}')
        try:
            scenario = parse(args[0])
        except ScenarioError as exc:
            return self._error(str(exc))
        age = self._frame_age(now)
        if age is None or age > self.config.max_frame_age_s:
            what = 'no camera frame yet' if age is None else f'the newest frame is {age:.2f} s old'
            return self._error(f'cannot start: {what}; check that camera/image is published')
        if self._free_bytes is not None:
            free_mb = self._free_bytes() / 1e6
            if free_mb < self.config.min_free_mb:
                return self._error(
                    f'cannot start: {free_mb:.0f} MB free in {self.config.output_dir}, '
                    f'need {self.config.min_free_mb:.0f} MB; free space or change output_dir')
        given = len(args) > 1
        if not given and scenario.goal:
            return self._error(f'{scenario.name} is a goal room: start it with its '
                               f'instruction, e.g. start {scenario.name} go to the blue ball')
        instruction = args[1] if given else scenario.instruction()
        self._rec = _Recording(scenario.name, instruction, now, instruction_given=given,
                               next_fixed=now + 1.0 / self.config.fixed_rate_hz)
        first = self._command if self.config.mode == 'fixed_rate' else np.zeros(3)
        self._record('episode_start', first, now)
        return ControlResult(True, f'recording {scenario.name}: {instruction!r}')

    def _record(self, event: str, action: np.ndarray, now: float) -> bool:
        rec = self._rec
        image, encoding, stamp = self._frame
        age = now - stamp
        if age > self.config.max_frame_age_s and event != 'episode_start':
            rec.stale_skipped += 1
            self.last_error = f'{event} skipped: camera frame {age:.2f} s old'
            return False
        if encoding == 'bgr8':
            rgb = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2RGB)
        elif encoding == 'rgb8':
            rgb = np.array(image, copy=True)
        else:
            raise ValueError(f'the recorder stores rgb8 or bgr8 frames, got {encoding!r}')
        rec.images.append(rgb)
        rec.actions.append(np.asarray(action, np.float64).copy())
        rec.events.append(event)
        rec.times.append(now - rec.start)
        rec.ages.append(age)
        return True

    def _event(self, event: str, now: float) -> Episode | None:
        rec = self._rec
        full = f'reached {self.config.max_frames} frames'
        if len(rec.images) >= self.config.max_frames:
            # The last frame's key has been released or changed: its label has settled.
            return self._finish(now, full).episode
        action = self._command if event == 'start_action' else np.zeros(3)
        if not self._record(event, action, now):
            return None
        if event == 'start_action':
            rec.segment = len(rec.images) - 1
            norm = np.linalg.norm(self._command)
            rec.direction = self._command / norm if norm > 0 else None
        else:
            rec.segment = None
        # A last frame that starts a motion waits for its label to settle (the arbiter
        # ramps the command up over several samples); a stop is final at once.
        if len(rec.images) >= self.config.max_frames and event != 'start_action':
            return self._finish(now, full).episode
        return None

    def _finish(self, now: float, why: str) -> ControlResult:
        rec = self._rec
        self._rec = None
        if self.config.mode == 'fixed_rate':
            self._label_fixed(rec)
        frames = len(rec.images)
        if frames < self.config.min_frames or (
                frames < self.config.max_frames and not self.config.keep_short):
            self.episodes_dropped += 1
            return ControlResult(True, f'episode {why} with {frames} frames: dropped '
                                       f'(min_frames {self.config.min_frames}, '
                                       f'keep_short {self.config.keep_short})')
        episode = Episode(
            images=np.stack(rec.images), actions=np.stack(rec.actions).astype(np.float32),
            event_types=rec.events, scenario=rec.scenario, instruction=rec.instruction,
            total_duration=now - rec.start,
            name=episode_file_name(rec.start, rec.scenario).removesuffix('.h5'),
            timestamps=np.array(rec.times), frame_age=np.array(rec.ages, np.float32),
            target_frames=self.config.max_frames,
            extra_attrs={'recorder_mode': self.config.mode,
                         'stale_events_skipped': rec.stale_skipped},
        )
        self.episodes_finished += 1
        flag = '' if episode.complete else f' (short: {frames} of {self.config.max_frames})'
        return ControlResult(True, f'episode {why}: {frames} frames, '
                                   f'{episode.total_duration:.1f} s{flag}', episode)

    # ------------------------------------------------------------------ state
    def diagnostics(self, now: float) -> tuple[str, str, dict[str, str]]:
        age = self._frame_age(now)
        values = {
            'recording': str(self.recording),
            'scenario': self._rec.scenario if self._rec else '',
            'frames': str(len(self._rec.images)) if self._rec else '0',
            'episodes_finished': str(self.episodes_finished),
            'episodes_dropped': str(self.episodes_dropped),
            'camera_age_s': 'never' if age is None else f'{age:.3f}',
            'last_error': self.last_error,
        }
        if self._rec is not None and (age is None or age > self.config.max_frame_age_s):
            return 'ERROR', 'recording but the camera is stale: events are skipped', values
        if self._rec is not None:
            return 'OK', (f'recording {self._rec.scenario}: {len(self._rec.images)}/'
                          f'{self.config.max_frames} frames'), values
        return 'OK', f'idle; {self.episodes_finished} episodes finished', values
