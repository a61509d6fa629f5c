"""The console's access token: made on the first start, kept in a 0600 file.

An outer layer (it touches the file system). The token is never logged after the
start that made it; a later start names the file that holds it.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

#: 32 random bytes, URL-safe (43 characters).
TOKEN_BYTES = 32


class TokenFileError(RuntimeError):
    """The token file cannot be made or read, or it is not private."""


def load_or_create(path: str | Path) -> tuple[str, bool]:
    """(token, made now). A file others may read is refused, not used."""
    path = Path(path).expanduser()
    try:
        return _read(path), False
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another console made it meanwhile: use theirs
        return _read(path), False
    except OSError as exc:
        raise TokenFileError(f'cannot make the token file {path}: {exc}; set token_file to a '
                             'writable place') from exc
    with os.fdopen(fd, 'w') as f:
        f.write(token + '\n')
    return token, True


def _read(path: Path) -> str:
    info = path.stat()
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TokenFileError(f'the token file {path} may be read by others (mode '
                             f'{stat.S_IMODE(info.st_mode):o}); run chmod 600 {path}, or '
                             'delete it for a new token')
    token = path.read_text().strip()
    if len(token) < 16:
        raise TokenFileError(f'the token file {path} holds no usable token (fewer than 16 '
                             'characters); delete it and start again for a new one')
    return token
