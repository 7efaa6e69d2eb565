"""Deprecated: the session base classes are in :mod:`tastytrade_proto.sessions`
(``SessionCalls`` is now ``Operations``), the settings in
:mod:`tastytrade_proto.protocol.settings`."""

from __future__ import annotations

import warnings

from .protocol.settings import DEFAULT_TIMEOUT, TransportSettings
from .sessions import AsyncSession, Operations, SyncSession

__all__ = ["DEFAULT_TIMEOUT", "AsyncSession", "SessionCalls", "SyncSession", "TransportSettings"]

warnings.warn(
    "tastytrade_proto.client is deprecated; use tastytrade_proto.sessions "
    "(or tastytrade_proto.protocol)",
    DeprecationWarning,
    stacklevel=2,
)

SessionCalls = Operations
