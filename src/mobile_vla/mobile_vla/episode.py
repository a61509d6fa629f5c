"""The HDF5 episode format: one file per demonstration, written atomically, read lazily.

Layout (compatible with the original collector's files):

- ``images``: uint8 (T, H, W, 3), one chunk per frame, compressed;
- ``actions``: float32 (T, 3) = (linear_x, linear_y, angular_z);
- ``action_event_types``: UTF-8 strings (T,): ``episode_start``, ``start_action``,
  ``stop_action``;
- attributes ``episode_name``, ``num_frames``, ``total_duration`` (s),
  ``action_chunk_size`` (8); we add ``scenario``, ``instruction``,
  ``channel_order`` (``RGB``; the original stored ``BGR`` without saying so),
  ``schema_version``, ``complete`` (T reached the target) and ``target_frames``;
- optional ``timestamps`` (T,) float64 seconds since the episode start and
  ``frame_age`` (T,) float32, how old the camera frame was at each event.

Image and action data carry Fletcher32 checksums, so a damaged file is reported,
never silently read. Files are written to a hidden temporary name in the same
folder, flushed, fsynced and renamed, so a crash at any moment leaves either no
file or a complete one, and ``*.h5`` globs never see a partial episode.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from mobile_vla.actions import ACTION_LIMIT
from mobile_vla.scenarios import ScenarioError, find_in, parse

SCHEMA_VERSION = 1
EPISODE_FRAMES = 18
ACTION_CHUNK_SIZE = 8
EVENT_TYPES = ('episode_start', 'start_action', 'stop_action')
COMPRESSIONS = ('gzip', 'lzf', 'none')
DEFAULT_COMPRESSION = 'lzf'
TEMP_MARK = '.tmp-'
REQUIRED_ATTRS = ('episode_name', 'num_frames', 'total_duration', 'action_chunk_size')
#: Bounds no recorder exceeds: a file that declares more is refused before any pixel is
#: read (it would take hours to decompress, or terabytes to load).
MAX_EPISODE_FRAMES = 10_000
MAX_IMAGE_SIDE = 4096
#: All the pixels of an episode (a 10-minute 720p recording at 2 Hz is 3.3 GB).
MAX_IMAGE_BYTES = 8 << 30
#: Largest HDF5 chunk of images: reading one frame decompresses its whole chunk.
MAX_CHUNK_BYTES = 32 << 20
TEXT_ATTRS = ('episode_name', 'scenario', 'instruction', 'channel_order')


class EpisodeError(ValueError):
    """An episode file or object that breaks the format; the text names the fault."""


class EpisodeWriteError(OSError):
    """Writing an episode failed (disk full, permissions); earlier episodes are untouched."""


class EpisodeExistsError(EpisodeWriteError):
    """The episode's name is taken (by another writer); nothing was overwritten."""


@dataclass
class Episode:
    """One demonstration in memory. Images are RGB unless ``channel_order`` says BGR."""

    images: np.ndarray
    actions: np.ndarray
    event_types: list[str]
    scenario: str
    instruction: str
    total_duration: float
    name: str = ''
    channel_order: str = 'RGB'
    timestamps: np.ndarray | None = None
    frame_age: np.ndarray | None = None
    target_frames: int = EPISODE_FRAMES
    extra_attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.images.shape[0])

    @property
    def complete(self) -> bool:
        return self.num_frames >= self.target_frames

    def rgb_images(self) -> np.ndarray:
        return self.images if self.channel_order == 'RGB' else self.images[..., ::-1]

    def check(self) -> None:
        """Raise ``EpisodeError`` unless shapes, types and values fit the format."""
        t = self.num_frames
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[3] != 3:
            raise EpisodeError(f'images must be uint8 (T, H, W, 3), got {self.images.dtype} '
                               f'{self.images.shape}')
        if t == 0:
            raise EpisodeError('an episode needs at least one frame')
        if self.actions.shape != (t, 3):
            raise EpisodeError(f'actions must be ({t}, 3), got {self.actions.shape}')
        if not np.all(np.isfinite(self.actions)):
            raise EpisodeError('actions contain NaN or inf')
        if len(self.event_types) != t:
            raise EpisodeError(f'{len(self.event_types)} event types for {t} frames')
        bad = sorted(set(self.event_types) - set(EVENT_TYPES))
        if bad:
            raise EpisodeError(f'unknown event types {bad}; use {EVENT_TYPES}')
        if self.channel_order not in ('RGB', 'BGR'):
            raise EpisodeError(f'channel_order must be RGB or BGR, got {self.channel_order!r}')
        for name in ('timestamps', 'frame_age'):
            arr = getattr(self, name)
            if arr is not None and np.asarray(arr).shape != (t,):
                raise EpisodeError(f'{name} must have shape ({t},)')


def episode_file_name(start_time_s: float, scenario: str) -> str:
    """``episode_YYYYmmdd_HHMMSS_<scenario>.h5`` in local time, as the original named them."""
    stamp = time.strftime('%Y%m%d_%H%M%S', time.localtime(start_time_s))
    return f'episode_{stamp}_{scenario}.h5'


def process_start(pid: int) -> int:
    """The start time of process ``pid`` (clock ticks since boot, Linux), 0 if unknown:
    with the PID it names a writer even after the PID is reused."""
    try:
        return int(Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def temp_path(path: Path) -> Path:
    """A temp name next to ``path`` no other writer uses: ``.<name>.tmp-<pid>-<start>-<rand>``."""
    pid = os.getpid()
    return path.with_name(f'.{path.name}{TEMP_MARK}{pid}-{process_start(pid)}-'
                          f'{secrets.token_hex(4)}')


#: ``.<name>.tmp-<pid>[-<process start>-<random>]``: the writer's PID and start time.
_TEMP_NAME = re.compile(r'^\..+' + re.escape(TEMP_MARK) + r'(\d+)(?:-(\d+)-[0-9a-f]+)?$')


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _writer_alive(pid: int, start: str | None) -> bool:
    """The writer of a temp file still runs: its PID is alive and, when the name records
    it, the process with that PID started when the writer did (not a reused PID)."""
    if not _pid_alive(pid):
        return False
    return start is None or int(start) in (0, process_start(pid))


def remove_dead_temp_files(folder: Path, suffix: str = '') -> list[Path]:
    """Remove the temp files (``temp_path``) in ``folder`` whose writer died, for final
    names ending in ``suffix``; a running writer's file is left alone."""
    removed = []
    for path in folder.iterdir():
        match = _TEMP_NAME.match(path.name)
        if match and path.name.split(TEMP_MARK)[0].endswith(suffix) and \
                not _writer_alive(int(match.group(1)), match.group(2)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def publish_file(tmp: Path, path: Path) -> None:
    """Give the finished ``tmp`` its final name, failing if the name is taken: a hard link
    is atomic and exclusive, so two writers never overwrite each other. On a file system
    without hard links (FAT, exFAT) the name is reserved with O_EXCL, then replaced."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        os.replace(tmp, path)
    else:
        tmp.unlink()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_episode(path: str | Path, episode: Episode,
                  compression: str = DEFAULT_COMPRESSION) -> Path:
    """Write ``episode`` to ``path`` atomically (temp file, fsync, rename); never overwrite."""
    episode.check()
    if compression not in COMPRESSIONS:
        raise EpisodeError(f'compression must be one of {COMPRESSIONS}, got {compression!r}')
    path = Path(path)
    if path.exists():
        raise EpisodeExistsError(f'{path} exists already; episodes are never overwritten')
    tmp = temp_path(path)
    try:
        data = _hdf5_bytes(episode, path, compression)
        with open(tmp, 'xb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        publish_file(tmp, path)
        _fsync_dir(path.parent)
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        raise EpisodeExistsError(f'{path} was written by another writer meanwhile; '
                                 'episodes are never overwritten') from None
    except Exception as exc:  # h5py raises RuntimeError and others when the disk fills
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, 'strerror', None) or f'{type(exc).__name__}: {exc}'
        raise EpisodeWriteError(
            f'could not write episode {path.name} in {path.parent}: {reason}; '
            'free disk space or choose another folder (earlier episodes are untouched)'
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _hdf5_bytes(episode: Episode, path: Path, compression: str) -> memoryview:
    """The episode as an HDF5 file, built in memory.

    HDF5 builds the file in memory and Python writes it out: a full disk is then a plain
    OSError on our own write, never a failure inside the HDF5 library (which left the
    process to crash at exit).
    """
    filters: dict[str, Any] = {}
    if compression == 'gzip':
        filters = {'compression': 'gzip', 'compression_opts': 4}
    elif compression == 'lzf':
        filters = {'compression': 'lzf'}
    t, h, w, _ = episode.images.shape
    image = io.BytesIO()
    with h5py.File(image, 'w') as f:
        # Fletcher32 checksums make a damaged chunk fail loudly instead of reading garbage.
        f.create_dataset('images', data=episode.images, chunks=(1, h, w, 3),
                         fletcher32=True, **filters)
        f.create_dataset('actions', data=np.asarray(episode.actions, np.float32),
                         fletcher32=True)
        f.create_dataset('action_event_types', data=np.array(episode.event_types, object),
                         dtype=h5py.string_dtype('utf-8'))
        if episode.timestamps is not None:
            f.create_dataset('timestamps', data=np.asarray(episode.timestamps, np.float64))
        if episode.frame_age is not None:
            f.create_dataset('frame_age', data=np.asarray(episode.frame_age, np.float32))
        attrs = {
            'episode_name': episode.name or path.stem,
            'scenario': episode.scenario,
            'instruction': episode.instruction,
            'num_frames': t,
            'total_duration': float(episode.total_duration),
            'action_chunk_size': ACTION_CHUNK_SIZE,
            'channel_order': episode.channel_order,
            'schema_version': SCHEMA_VERSION,
            'complete': bool(episode.complete),
            'target_frames': int(episode.target_frames),
            **episode.extra_attrs,
        }
        for key, value in attrs.items():
            f.attrs[key] = value
    return image.getbuffer()


def _attr_text(value: Any) -> str:
    return value.decode('utf-8') if isinstance(value, bytes) else str(value)


class EpisodeFile:
    """Lazy access to an episode file: attributes now, pixels when sliced.

    Reads both our files and the original's (BGR images, scenario in the name).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            mode = self.path.stat().st_mode
        except OSError as exc:
            raise EpisodeError(f'{self.path}: cannot be read ({exc.strerror or exc})') from None
        if not stat.S_ISREG(mode):  # a FIFO would block the open forever
            raise EpisodeError(f'{self.path}: not a regular file')
        try:
            self._file = h5py.File(self.path, 'r')
        except Exception as exc:  # h5py raises OSError, and others for odd files
            raise EpisodeError(f'{self.path}: not a readable HDF5 file ({exc})') from None
        try:
            self._check_layout()
        except EpisodeError:
            self._file.close()
            raise
        except Exception as exc:  # any other oddity of the file, named
            self._file.close()
            raise EpisodeError(f'{self.path}: unreadable ({type(exc).__name__}: {exc})') \
                from None

    def _dataset(self, name: str, required: bool = True) -> h5py.Dataset | None:
        """Dataset ``name`` stored in this file: a group, or a link to another file, is
        refused (an external link could read any file on the machine)."""
        f = self._file
        link = f.get(name, getlink=True)
        if link is None:
            if required:
                raise EpisodeError(f'{self.path}: missing dataset {name!r}')
            return None
        if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
            raise EpisodeError(f'{self.path}: {name!r} is a link; an episode holds its own '
                               'data')
        obj = f[name]
        if not isinstance(obj, h5py.Dataset):
            raise EpisodeError(f'{self.path}: {name!r} is a group, expected a dataset')
        if obj.id.get_create_plist().get_external_count():
            raise EpisodeError(f'{self.path}: {name!r} keeps its data in another file; an '
                               'episode holds its own data')
        return obj

    def _text_attr(self, name: str) -> str:
        value = self._file.attrs[name]
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value[()]
        if not isinstance(value, (bytes, str)):
            raise EpisodeError(f'{self.path}: attribute {name} must be text, got '
                               f'{type(value).__name__}')
        try:
            text = _attr_text(value)
            text.encode('utf-8')  # h5py hands bad bytes over as lone surrogates
        except (UnicodeDecodeError, UnicodeEncodeError):
            raise EpisodeError(f'{self.path}: attribute {name} is not valid UTF-8') from None
        return text

    def _int_attr(self, name: str) -> int:
        value = self._file.attrs[name]
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value[()]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise EpisodeError(f'{self.path}: attribute {name} must be a whole number, got '
                               f'{value!r:.40}')
        return int(value)

    def _check_attrs(self, t: int) -> None:
        f = self._file
        missing = [a for a in REQUIRED_ATTRS if a not in f.attrs]
        if missing:
            raise EpisodeError(f'{self.path}: missing attribute(s) {", ".join(missing)}')
        for name in TEXT_ATTRS:
            if name in f.attrs:
                self._text_attr(name)
        if self._int_attr('num_frames') != t:
            raise EpisodeError(f'{self.path}: num_frames says {self._int_attr("num_frames")} '
                               f'but images has {t}')
        duration = f.attrs['total_duration']
        if not isinstance(duration, (int, float, np.integer, np.floating)) or isinstance(
                duration, (bool, np.bool_)) or not np.isfinite(duration) or duration < 0:
            raise EpisodeError(f'{self.path}: total_duration must be a non-negative number')
        if 'channel_order' in f.attrs and self._text_attr('channel_order') not in ('RGB', 'BGR'):
            raise EpisodeError(f'{self.path}: channel_order must be RGB or BGR, got '
                               f'{self._text_attr("channel_order")!r}')
        if 'target_frames' in f.attrs and not 1 <= self._int_attr('target_frames') <= \
                MAX_EPISODE_FRAMES:
            raise EpisodeError(f'{self.path}: target_frames must be 1-{MAX_EPISODE_FRAMES}')
        if 'complete' in f.attrs:
            complete = f.attrs['complete']
            if not isinstance(complete, (bool, np.bool_)) and complete not in (0, 1):
                raise EpisodeError(f'{self.path}: complete must be true or false, got '
                                   f'{complete!r:.40}')

    def _check_layout(self) -> None:
        images = self._dataset('images')
        actions = self._dataset('actions')
        events = self._dataset('action_event_types')
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
            raise EpisodeError(f'{self.path}: images must be uint8 (T, H, W, 3), got '
                               f'{images.dtype} {images.shape}')
        t = images.shape[0]
        if t == 0:
            raise EpisodeError(f'{self.path}: the episode has no frames')
        if min(images.shape[1:3]) < 1:
            raise EpisodeError(f'{self.path}: images of {images.shape[2]}x{images.shape[1]} '
                               'pixels hold no picture')
        if t > MAX_EPISODE_FRAMES or max(images.shape[1:3]) > MAX_IMAGE_SIDE or \
                images.size > MAX_IMAGE_BYTES:
            raise EpisodeError(f'{self.path}: images declares {images.shape}, more than any '
                               f'recorder writes ({MAX_EPISODE_FRAMES} frames, '
                               f'{MAX_IMAGE_SIDE} px a side, {MAX_IMAGE_BYTES >> 30} GiB)')
        if images.chunks is not None and np.prod(images.chunks) > MAX_CHUNK_BYTES:
            raise EpisodeError(f'{self.path}: images are stored in chunks of {images.chunks}; '
                               f'reading one frame would decompress '
                               f'{np.prod(images.chunks) >> 20} MiB (the recorder writes one '
                               'frame a chunk)')
        if actions.shape != (t, 3) or actions.dtype.kind != 'f':
            raise EpisodeError(f'{self.path}: actions must be float ({t}, 3), got '
                               f'{actions.dtype} {actions.shape}')
        if events.shape != (t,):
            raise EpisodeError(f'{self.path}: action_event_types must have shape ({t},), got '
                               f'{events.shape}')
        for name in ('timestamps', 'frame_age'):
            extra = self._dataset(name, required=False)
            if extra is not None and (extra.shape != (t,) or extra.dtype.kind not in 'fiu'):
                raise EpisodeError(f'{self.path}: {name} must be numbers of shape ({t},), got '
                                   f'{extra.dtype} {extra.shape}')
        self._check_attrs(t)
        self.scenario  # noqa: B018 - raises EpisodeError when it cannot be known

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> EpisodeFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def num_frames(self) -> int:
        return int(self._file['images'].shape[0])

    @property
    def frames_per_chunk(self) -> int:
        """Frames in one HDF5 chunk of images (1 for files the recorder writes)."""
        chunks = self._file['images'].chunks
        return int(chunks[0]) if chunks else 1

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self._file['images'].shape[1:])

    @property
    def channel_order(self) -> str:
        # Files without the attribute come from the original collector, which stored BGR.
        return _attr_text(self._file.attrs.get('channel_order', 'BGR'))

    @property
    def scenario(self) -> str:
        if 'scenario' in self._file.attrs:
            name = _attr_text(self._file.attrs['scenario'])
            try:
                return parse(name).name
            except ScenarioError as exc:
                raise EpisodeError(f'{self.path}: {exc}') from None
        found = find_in(self.path.name) or find_in(
            _attr_text(self._file.attrs.get('episode_name', '')))
        if found is None:
            raise EpisodeError(f'{self.path}: no scenario attribute and none in the file name')
        return found.name

    @property
    def instruction(self) -> str:
        if 'instruction' in self._file.attrs:
            return _attr_text(self._file.attrs['instruction'])
        return parse(self.scenario).instruction()

    @property
    def attrs(self) -> dict[str, Any]:
        return {k: (_attr_text(v) if isinstance(v, (bytes, str)) else v)
                for k, v in self._file.attrs.items()}

    def images(self, index: Any = slice(None)) -> np.ndarray:
        """RGB frames (any index numpy accepts on the first axis), read on demand."""
        data = self._file['images'][index]
        return data[..., ::-1].copy() if self.channel_order == 'BGR' else data

    def actions(self) -> np.ndarray:
        return np.asarray(self._file['actions'][()], np.float32)

    def event_types(self) -> list[str]:
        raw = self._file['action_event_types'][()]
        return [v.decode('utf-8') if isinstance(v, bytes) else str(v) for v in raw]

    def read(self) -> Episode:
        """The whole episode in memory (RGB)."""
        f = self._file
        return Episode(
            images=self.images(), actions=self.actions(), event_types=self.event_types(),
            scenario=self.scenario, instruction=self.instruction,
            total_duration=float(f.attrs['total_duration']),
            name=_attr_text(f.attrs['episode_name']), channel_order='RGB',
            timestamps=f['timestamps'][()] if 'timestamps' in f else None,
            frame_age=f['frame_age'][()] if 'frame_age' in f else None,
            target_frames=int(f.attrs.get('target_frames', EPISODE_FRAMES)),
        )


def read_episode(path: str | Path) -> Episode:
    with EpisodeFile(path) as ep:
        return ep.read()


def validate_episode(path: str | Path) -> list[str]:
    """Every fault of one episode file, as sentences; empty when the file is sound.

    The single check every reader relies on: ``EpisodeFile`` (which the dataset,
    training, evaluation and augmentation open files with) refuses what it refuses.
    Bounded in time and memory for any file; never raises for a bad file.
    """
    path = Path(path)
    try:
        return _validate(path)
    except Exception as exc:  # whatever the file holds, the run goes on to the next
        return [f'{path}: unreadable ({type(exc).__name__}: {exc})']


def _validate(path: Path) -> list[str]:
    try:
        ep = EpisodeFile(path)
    except EpisodeError as exc:
        return [str(exc)]
    problems: list[str] = []
    with ep:
        try:
            events = ep.event_types()
            actions = ep.actions()
        except UnicodeDecodeError as exc:
            return [f'{path}: action_event_types is not valid UTF-8 ({exc})']
        except (OSError, ValueError) as exc:
            return [f'{path}: actions or event types are damaged ({exc})']
        bad = sorted(set(events) - set(EVENT_TYPES))
        if bad:
            problems.append(f'{path}: unknown action_event_types {bad}; expected {EVENT_TYPES}')
        elif events[0] != 'episode_start':
            problems.append(f'{path}: first event is {events[0]!r}, expected episode_start')
        if not np.all(np.isfinite(actions)):
            problems.append(f'{path}: actions contain NaN or inf')
        elif np.any(np.abs(actions) > ACTION_LIMIT + 1e-3):
            problems.append(f'{path}: actions exceed the robot limit {ACTION_LIMIT} '
                            f'(max {np.abs(actions).max():.3f})')
        # Decompress every frame, a chunk at a time: each chunk is read once, so the work
        # is bounded by the file's pixels (at most MAX_IMAGE_BYTES).
        step = ep.frames_per_chunk
        for start in range(0, ep.num_frames, step):
            try:
                ep.images(slice(start, start + step))
            except (OSError, ValueError) as exc:
                problems.append(f'{path}: image data of frames {start}-'
                                f'{min(start + step, ep.num_frames) - 1} is damaged ({exc})')
                break
    return problems


def episode_paths(*folders: str | Path) -> list[Path]:
    """Every ``*.h5`` episode in the folders (or files), sorted; temp files never match."""
    paths: list[Path] = []
    for item in folders:
        item = Path(item)
        if item.is_dir():
            paths.extend(p for p in item.rglob('*.h5') if not p.name.startswith('.'))
        elif item.suffix == '.h5':
            paths.append(item)
        else:
            raise EpisodeError(f'{item} is neither an episode folder nor an .h5 file')
    return sorted(paths)


def leftover_temp_files(folder: str | Path) -> Iterator[Path]:
    """Partial files an interrupted writer left behind (safe to delete)."""
    return (p for p in Path(folder).rglob(f'.*.h5{TEMP_MARK}*'))
