"""The recorded episodes the page lists, each with its validation (an outer layer: files).

Validation (``mobile_vla.episode.validate_episode``, the check every reader relies on)
runs once per file version (path, size, modification time), on the wiring's worker.
A valid episode also says how many frames it has against the recorder's full length
(its ``target_frames``): one stopped early is valid and ``complete: false``, and the page
says "incomplete (13/18)" beside "valid". Its instruction is listed too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mobile_vla.episode import EPISODE_FRAMES, EpisodeError, EpisodeFile, validate_episode
from mobile_vla.units import NS

#: How many of an episode's problems the list carries.
PROBLEMS_SHOWN = 3


class EpisodeList:
    """The newest ``limit`` episode files of ``folder``, validated once per version."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder, self.limit = folder, limit
        self._checked: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}

    def scan(self) -> list[dict[str, Any]]:
        try:
            files = [p for p in self.folder.glob('*.h5') if p.is_file()]
        except OSError:
            return []
        stats = []
        for path in files:
            try:
                info = path.stat()
            except OSError:
                continue
            stats.append((info.st_mtime_ns, info.st_size, path))
        stats.sort(reverse=True)
        listed = []
        for mtime, size, path in stats[:self.limit]:
            version = (mtime, size)
            known = self._checked.get(path)
            if known is None or known[0] != version:
                problems = validate_episode(path)
                known = (version, {
                    'name': path.name, 'size_mb': round(size / 2**20, 2),
                    'mtime': mtime / NS, 'valid': not problems,
                    'problems': [p.replace(str(path), path.name)
                                 for p in problems[:PROBLEMS_SHOWN]],
                    **(_length(path) if not problems else {})})
                self._checked[path] = known
            listed.append(known[1])
        keep = {path for _, _, path in stats[:self.limit]}
        self._checked = {p: v for p, v in self._checked.items() if p in keep}
        return listed


def _length(path: Path) -> dict[str, Any]:
    """Frames, the recorder's full length, whether it was reached, and the instruction of
    a valid episode (nothing when the file changed meanwhile and cannot be read)."""
    try:
        with EpisodeFile(path) as episode:
            frames = episode.num_frames
            target = int(episode.attrs.get('target_frames', EPISODE_FRAMES))
            return {'frames': frames, 'target_frames': target, 'complete': frames >= target,
                    'instruction': episode.instruction}
    except (EpisodeError, OSError, ValueError):
        return {}
