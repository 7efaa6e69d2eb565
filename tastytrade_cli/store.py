"""Where the command line keeps its one secret between runs.

An OAuth login keeps the client secret and the refresh token; a legacy login
keeps the login name and the single-use remember token, never the password.
Beside them it keeps the session itself (the library's ``Session.dump()``:
the current access or session token and its expiry), so that later runs
reuse it until it expires instead of logging in again, and the CA bundle the
login trusted. The file is readable by its owner alone (mode 0600, in a 0700
directory; on Windows, the user's profile directory protects it) and is
only ever replaced whole: the new content goes to a temporary file in the
same directory, is flushed to disk, and is renamed over the old one, so a
crash at any moment leaves either the old file or the new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = [
    "Busy",
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


class Busy(Exception):
    """Another run holds the credentials, and this one asked not to wait."""


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
    #: ``Session.dump()`` of the last run (tokens inside): reused until it expires.
    session: str | None = field(default=None, repr=False)
    #: The CA bundle given at login, trusted by every later run.
    ca_bundle: str | None = None

    def with_tokens(self, **tokens: str | None) -> Credentials:
        """A copy with new token values (a rotated refresh or remember token, a session)."""
        return replace(self, **tokens)  # type: ignore[arg-type]

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


def load(path: Path, *, insecure: bool = False) -> Credentials:
    """Read the credentials; refuse a file other users could read (unless ``insecure``:
    logging out still ends the session such a file holds)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CredentialsError("not logged in: run `tastytrade login` first") from None
    # Windows has no POSIX modes (st_mode reads 0o666 for any file): its ACLs, which give a
    # file in the user's profile to that user alone, are what protects it there.
    if not _WINDOWS and not insecure and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(f"{path} is readable by others; remove it and log in again")
    if not _WINDOWS and hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise CredentialsError(f"{path} belongs to another user; remove it and log in again")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise TypeError("not a JSON object")
        known = {f.name for f in fields(Credentials)}
        return Credentials(
            **{k: v for k, v in document.items() if k in known and isinstance(v, str)}
        )
    except (ValueError, TypeError, OSError):
        raise CredentialsError(
            f"{path} is not a credentials file (damaged?); `tastytrade logout` removes it"
        ) from None


@contextlib.contextmanager
def locked(
    path: Path, *, on_wait: Callable[[], None] | None = None, wait: bool = True
) -> Iterator[None]:
    """Hold the credentials exclusively: a second run waits instead of spending the same
    single-use token (a failed login can get the address blocked for hours).

    ``on_wait`` is called once, before waiting, when another run holds them. With
    ``wait=False`` that raises :class:`Busy` instead of waiting.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if _WINDOWS:
            _lock_windows(descriptor, on_wait, wait)
        else:
            import fcntl

            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    raise Busy(str(path)) from None
                if on_wait is not None:
                    on_wait()
                fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock, on POSIX and Windows alike


_WINDOWS = os.name == "nt"


def _lock_windows(descriptor: int, on_wait: Callable[[], None] | None, wait: bool) -> None:
    """Lock the lock file's first byte, waiting for another run to let it go.

    ``LK_NBLCK`` fails at once when it is held; ``LK_LOCK`` gives up after ten
    one-second tries with ``OSError``, so a run that holds it longer (a slow
    network, an open confirmation) is waited for in a loop.
    """
    import msvcrt

    os.lseek(descriptor, 0, os.SEEK_SET)
    try:
        msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        return
    except OSError:
        if not wait:
            raise Busy(str(descriptor)) from None
        if on_wait is not None:
            on_wait()
    while True:
        try:
            msvcrt.locking(descriptor, msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
            return
        except OSError:  # pragma: no cover - only when another run holds it for 10 s
            continue


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
