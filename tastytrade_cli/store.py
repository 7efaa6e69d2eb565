"""Where the command line keeps its one secret between runs.

An OAuth login keeps the client secret and the refresh token; a legacy login
keeps the login name and the single-use remember token, never the password.
The file is readable by its owner alone (mode 0600, in a 0700 directory) and
is only ever replaced whole: the new content goes to a temporary file in the
same directory, is flushed to disk, and is renamed over the old one, so a
crash at any moment leaves either the old file or the new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = [
    "Credentials",
    "CredentialsError",
    "default_path",
    "load",
    "locked",
    "remove",
    "save",
]

_APP = "tastytrade-proto"


class CredentialsError(Exception):
    """The credentials file is missing, unreadable or not ours."""


@dataclass(frozen=True)
class Credentials:
    """What a later run needs to log in again, and where it talks to."""

    scheme: str  # "oauth" or "legacy"
    environment: str = "production"  # "production", "certification" or "custom"
    base_url: str | None = None
    login: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    remember_token: str | None = field(default=None, repr=False)

    def with_tokens(self, **tokens: str) -> Credentials:
        """A copy with new token values (a rotated refresh or remember token)."""
        return replace(self, **tokens)

    def to_json(self) -> dict[str, Any]:
        """The file's content."""
        keys = [f.name for f in fields(self)]
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


def default_path(environ: dict[str, str] | None = None) -> Path:
    """``$TASTYTRADE_CREDENTIALS``, else ``$XDG_CONFIG_HOME/tastytrade-proto/credentials.json``."""
    env = os.environ if environ is None else environ
    if env.get("TASTYTRADE_CREDENTIALS"):
        return Path(env["TASTYTRADE_CREDENTIALS"])
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / _APP / "credentials.json"


def load(path: Path) -> Credentials:
    """Read the credentials; refuse a file other users could read."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CredentialsError("not logged in: run `tastytrade login` first") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(f"{path} is readable by others; remove it and log in again")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise CredentialsError(f"{path} belongs to another user; remove it and log in again")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise TypeError("not a JSON object")
        return Credentials(**{k: v for k, v in document.items() if isinstance(v, str)})
    except (ValueError, TypeError, OSError) as exc:
        raise CredentialsError(f"{path} is not a credentials file ({type(exc).__name__})") from None


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the credentials exclusively: a second run waits instead of spending the same
    single-use token (a failed login can get the address blocked for hours)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        yield
        return
    descriptor = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def save(path: Path, credentials: Credentials) -> None:
    """Replace the file atomically with ``credentials``, readable by the owner alone."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = json.dumps(credentials.to_json(), indent=2).encode() + b"\n"
    # A fresh, unguessable name (mode 0600), so nobody can take it first in a shared directory.
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    _sync_directory(path.parent)


def remove(path: Path) -> bool:
    """Delete the credentials; whether there were any."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    _sync_directory(path.parent)
    return True


def _sync_directory(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk too.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(descriptor)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(descriptor)
