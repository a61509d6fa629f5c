"""Where episodes go on disk: free-space checks, unique names, atomic writes, clean-up."""

from __future__ import annotations

import shutil
from pathlib import Path

from mobile_vla.episode import (
    DEFAULT_COMPRESSION,
    Episode,
    EpisodeExistsError,
    EpisodeWriteError,
    remove_dead_temp_files,
    write_episode,
)

#: How many names ``EpisodeStore.write`` tries when other writers take them meanwhile.
NAME_ATTEMPTS = 100


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
        self.removed_temp_files = remove_dead_temp_files(self.folder, '.h5')

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
