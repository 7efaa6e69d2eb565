"""What a transport gives a streaming feed: a websocket carrying text messages.

The streaming machines (:mod:`~tastytrade_proto.streaming.dxlink`) speak JSON text
messages and never touch a socket. A transport opens the websocket and hands the
feed an object with the methods below; the feed's pump (see
:mod:`~tastytrade_proto.streaming.feed`) does the rest. ``tastytrade_requests``
(wsproto over a socket), ``tastytrade_aiohttp`` (``ClientSession.ws_connect``) and
``tastytrade_trio`` (wsproto over a trio stream) each have one; a custom transport
writes its own.

Failures are :class:`~tastytrade_proto.errors.TransportError`: a websocket that
closed (a close frame from the server, or a connection that broke without one) is
:class:`~tastytrade_proto.errors.WebSocketClosed` with the close code, when there
was one; a handshake refused (an HTTP 502 at the upgrade, a bad certificate, a proxy
refusing CONNECT) is a plain :class:`~tastytrade_proto.errors.TransportError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

__all__ = [
    "AsyncWebSocket",
    "AsyncWebSocketOpener",
    "SyncWebSocket",
    "SyncWebSocketOpener",
]


class SyncWebSocket(Protocol):
    """An open websocket, used by one pump thread (plus :meth:`wake` from others)."""

    def send(self, text: str) -> None:
        """Send one text message. Raises ``TransportError`` (``WebSocketClosed``)."""

    def receive(self, timeout: float | None) -> str | None:
        """The next text message, or ``None`` when ``timeout`` seconds pass without
        one or :meth:`wake` was called. Binary messages and pings are handled inside
        (a ping is answered). Raises ``WebSocketClosed`` when the socket closes."""

    def wake(self) -> None:
        """Make a :meth:`receive` blocked in another thread return ``None`` now
        (or the next one, if none is blocked). Safe from any thread."""

    def close(self, code: int = 1000) -> None:
        """Close (a close frame if the socket still works, then the socket). Never
        raises, returns within the transport's timeout, and may be called twice."""


class AsyncWebSocket(Protocol):
    """An open websocket for an event loop: one task receives, any task sends."""

    async def send(self, text: str) -> None:
        """Send one text message. Raises ``TransportError`` (``WebSocketClosed``)."""

    async def receive(self, timeout: float | None) -> str | None:
        """The next text message, or ``None`` when ``timeout`` seconds pass without
        one. Raises ``WebSocketClosed`` when the socket closes."""

    async def close(self, code: int = 1000) -> None:
        """Close; never raises, bounded by the transport's timeout, may be called twice,
        and finishes even in a cancelled task."""


#: ``open(url, headers, timeout)``: connect to ``url`` (``ws://`` or ``wss://``) with
#: the session's TLS, proxy and timeout settings, sending ``headers`` (the session's
#: ``User-Agent``) with the upgrade, and return the open websocket.
SyncWebSocketOpener = Callable[[str, Sequence[tuple[str, str]], float], SyncWebSocket]
AsyncWebSocketOpener = Callable[[str, Sequence[tuple[str, str]], float], Awaitable[AsyncWebSocket]]
