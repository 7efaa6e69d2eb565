"""A state directory: what a fake served from a shell keeps across restarts.

``python -m tastytrade_proto.testing --state-dir DIR`` (or
``FakeTastytradeServer(state_dir=DIR)``) keeps, in ``DIR``:

``tokens.json``
    :meth:`FakeTastytradeAPI.export_tokens
    <tastytrade_proto.testing.fake.FakeTastytradeAPI.export_tokens>`: the
    refresh tokens (with their client secret and user) and the unspent remember
    tokens the fake issued, and its token and order id counters, so a restarted
    fake accepts them and issues nothing twice. Rewritten (whole, atomically)
    after every request that changes it. Session and access tokens, orders,
    positions and marks are not kept: a restarted fake starts from the demo
    scene again, and refuses old session and access tokens (401) as if they had
    expired.
``ca.pem``, ``ca-key.pem``
    The throw-away certificate authority HTTPS certificates are issued from
    (made on the first ``--tls`` start), so a client's saved CA bundle path
    stays valid. ``ca.pem`` is what to trust.

One running fake per directory. The directory is made private to the user
(0700) and the key file 0600: it holds fake secrets, but secrets nonetheless.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["StateDir"]


class StateDir:
    """The files of one state directory (see the module's documentation)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.tokens_file = self.path / "tokens.json"
        self.ca_file = self.path / "ca.pem"
        self.ca_key_file = self.path / "ca-key.pem"
        self._written: str | None = None

    def create(self) -> None:
        """Make the directory (private to this user) when it does not exist."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def load_tokens(self) -> dict[str, Any] | None:
        """The saved token state, or ``None`` when there is none yet."""
        try:
            text = self.tokens_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            saved = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{self.tokens_file} is not JSON: {exc}") from None
        if not isinstance(saved, dict):
            raise ValueError(f"{self.tokens_file} is not a saved token state")
        self._written = text
        return saved

    def save_tokens(self, state: dict[str, Any]) -> None:
        """Write the token state, unless it is what the file already holds."""
        text = json.dumps(state, indent=2, sort_keys=True) + "\n"
        if text == self._written:
            return
        _write_private(self.tokens_file, text.encode())
        self._written = text

    def certificate_authority(self) -> Any:
        """The directory's ``trustme.CA``: loaded from its files, or made and saved."""
        import trustme  # the caller has checked that it is installed

        if self.ca_file.exists() and self.ca_key_file.exists():
            return trustme.CA.from_pem(self.ca_file.read_bytes(), self.ca_key_file.read_bytes())
        ca = trustme.CA()
        _write_private(self.ca_key_file, ca.private_key_pem.bytes())
        _write_private(self.ca_file, ca.cert_pem.bytes())
        return ca


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a rename), readable by this user only."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
