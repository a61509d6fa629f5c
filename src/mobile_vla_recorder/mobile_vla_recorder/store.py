"""Where episodes go on disk: free-space checks, unique names, atomic writes, clean-up."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from mobile_vla.episode import (
    DEFAULT_COMPRESSION,
    TEMP_MARK,
    Episode,
    EpisodeExistsError,
    EpisodeWriteError,
    process_start,
    write_episode,
)

#: How many names ``EpisodeStore.write`` tries when other writers take them meanwhile.
NAME_ATTEMPTS = 100

#: ``.<name>.h5.tmp-<pid>[-<process start>-<random>]``
_TEMP = re.compile(r'^\..+\.h5' + re.escape(TEMP_MARK) + r'(\d+)(?:-(\d+)-[0-9a-f]+)?$')


def _writer_alive(pid: int, start: str | None) -> bool:
    """The writer of a temp file still runs: its PID is alive and, when the name records
    it, the process with that PID started when the writer did (not a reused PID)."""
    if not _pid_alive(pid):
        return False
    return start is None or int(start) in (0, process_start(pid))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EpisodeStore:
    """A folder of episode files. Creating it removes temp files of writers that died."""

    def __init__(self, folder: str | Path, compression: str = DEFAULT_COMPRESSION) -> None:
        self.folder = Path(folder).expanduser()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EpisodeWriteError(f'cannot create episode folder {self.folder}: {exc}; '
                                    'set output_dir to a writable folder') from exc
        self.compression = compression
        self.removed_temp_files = self._remove_dead_temp_files()

    def _remove_dead_temp_files(self) -> list[Path]:
        removed = []
        for path in self.folder.iterdir():
            match = _TEMP.match(path.name)
            if match and not _writer_alive(int(match.group(1)), match.group(2)):
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.folder).free

    def path_for(self, name: str) -> Path:
        """A path for ``name`` that no episode uses yet (``_2``, ``_3`` ... on collisions)."""
        path = self.folder / name
        stem, suffix = path.stem, path.suffix
        n = 2
        while path.exists():
            path = self.folder / f'{stem}_{n}{suffix}'
            n += 1
        return path

    def write(self, episode: Episode) -> Path:
        """Write under the episode's name (a unique variant if taken, also when another
        writer takes a name meanwhile); returns the path. Never overwrites."""
        base = episode.name
        for _ in range(NAME_ATTEMPTS):
            path = self.path_for(f'{base}.h5')
            episode.name = path.stem  # the file's episode_name attribute matches its name
            try:
                return write_episode(path, episode, self.compression)
            except EpisodeExistsError:
                continue
        raise EpisodeWriteError(f'no free name for {base} in {self.folder} after '
                                f'{NAME_ATTEMPTS} tries')
