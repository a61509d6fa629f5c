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
    EpisodeWriteError,
    write_episode,
)

_TEMP = re.compile(r'^\..+\.h5' + re.escape(TEMP_MARK) + r'(\d+)$')


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
            if match and not _pid_alive(int(match.group(1))):
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
        """Write under the episode's name (a unique variant if taken); returns the path."""
        path = self.path_for(f'{episode.name}.h5')
        episode.name = path.stem  # the file's episode_name attribute matches its name
        return write_episode(path, episode, self.compression)
