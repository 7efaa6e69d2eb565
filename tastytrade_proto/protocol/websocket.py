"""A websocket client on the wire, with wsproto: the upgrade, text messages, pings, the close.

For transports that own their sockets (``tastytrade_requests`` and ``tastytrade_trio``
open DXLink's websocket with it). :class:`WebSocketConnection` is one client
connection's state, without the socket: write what :meth:`~WebSocketConnection.handshake`
returns, feed what the socket reads to :meth:`~WebSocketConnection.receive_data`
(``b""`` at end of stream) and take messages from
:meth:`~WebSocketConnection.next_message`; after each read, write
:meth:`~WebSocketConnection.data_to_send` (the answers to the server's pings, the
reply to its close).

What it decides, so that every transport behaves the same:

* text messages are whole: fragments are joined, and a message longer than
  ``max_message_bytes`` (16 Mi characters unless told, that is 16 MiB of ASCII JSON;
  a big ``FEED_DATA`` is a few MB) ends the connection with close code 1009;
* binary messages are dropped (DXLink sends none), pongs are ignored, and pings are
  answered;
* a refused upgrade (the server answered with an HTTP status, say a 502) raises
  :class:`~tastytrade_proto.errors.TransportError` naming the status; so does an
  answer that is not a websocket upgrade, or the connection closing before one;
* once the websocket is open, its end is a :class:`Closed` marker, whose
  :meth:`~Closed.error` is the :class:`~tastytrade_proto.errors.WebSocketClosed`
  to raise: the server's close frame (its code and reason; the reply is queued),
  the connection ending without one (``code`` ``None``), or a frame that breaks
  the protocol (the close code wsproto picked, 1002 or 1007, sent back to the server).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError

from ..errors import LocalProtocolError, TransportError, WebSocketClosed

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Closed",
    "WebSocketConnection",
    "WebSocketURL",
    "split_websocket_url",
]

#: The longest text message a websocket takes by default: 16 MiB.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

_TOO_BIG = 1009


@dataclass(frozen=True)
class WebSocketURL:
    """A ``ws://`` or ``wss://`` URL, taken apart for a transport that connects itself."""

    secure: bool  #: ``wss://``: TLS to the server
    host: str  #: the host name or address (no brackets), to connect to and check TLS against
    port: int  #: the port, 443 or 80 unless given
    authority: str  #: the ``Host`` header: ``host[:port]``, the port only when given
    target: str  #: path and query, ``/`` at least


def split_websocket_url(url: str) -> WebSocketURL:
    """Take a ``ws://`` or ``wss://`` URL apart; raises ``LocalProtocolError`` for any other."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise LocalProtocolError(f"not a websocket URL: {exc}") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise LocalProtocolError("a websocket URL is ws://host[:port]/path or wss://...")
    secure = parts.scheme == "wss"
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    authority = shown if port is None else f"{shown}:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebSocketURL(secure, host, port or (443 if secure else 80), authority, target)


@dataclass(frozen=True)
class Closed:
    """The end of a websocket: what :meth:`WebSocketConnection.next_message` returns
    (again and again) once it closed. ``code`` is ``None`` when no close frame came."""

    code: int | None
    reason: str
    why: str  #: a sentence for the error message

    def error(self) -> WebSocketClosed:
        """The exception a transport raises for it."""
        return WebSocketClosed(self.why, code=self.code, reason=self.reason)

    # The ends there are, worded once for every transport (aiohttp's included).

    @classmethod
    def by_server(cls, code: int, reason: str = "") -> Closed:
        """The server's close frame."""
        said = f"websocket closed by the server: {code}" + (f" {reason}" if reason else "")
        return cls(code, reason, said)

    @classmethod
    def dropped(cls, detail: str = "") -> Closed:
        """The connection ended (or broke) without a close frame."""
        why = "websocket connection closed without a close frame"
        return cls(None, "", f"{why} ({detail})" if detail else why)

    @classmethod
    def too_big(cls, limit: int) -> Closed:
        """A message longer than the limit (this client closes with 1009)."""
        return cls(_TOO_BIG, "message too big", f"a websocket message of more than {limit} bytes")

    @classmethod
    def broken(cls, code: int, reason: str) -> Closed:
        """A frame that broke the protocol (this client closes with ``code``)."""
        return cls(code, reason, f"server broke the websocket protocol: {reason}")


class WebSocketConnection:
    """A client-side websocket connection, without the socket (see the module's notes).

    ``host`` is the ``Host`` header (``host[:port]``), ``target`` the path and query;
    ``headers`` go with the upgrade request (a ``User-Agent``, say).
    """

    def __init__(
        self,
        host: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        *,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self._host, self._target = host, target
        try:
            self._headers = [(k.encode("ascii"), v.encode("latin-1")) for k, v in headers]
        except UnicodeEncodeError as exc:
            raise LocalProtocolError(
                f"cannot open the websocket: {exc.reason} in a header"
            ) from None
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._max = max_message_bytes
        self._open = False  # the upgrade was accepted
        self._eof = False
        self._outgoing = bytearray()
        self._messages: deque[str] = deque()
        self._parts: list[str] = []
        self._size = 0
        self._closed: Closed | None = None
        self._local_close: int | None = None  # the code of our own close frame, once sent
        self._sent = False  # the upgrade request
        self._failed = False  # the server broke the protocol: no more reading (RFC 6455 7.1.7)

    @property
    def accepted(self) -> bool:
        """Whether the server accepted the upgrade (read until it has; the websocket may
        have closed right after, which :meth:`next_message` then says)."""
        return self._open

    @property
    def open(self) -> bool:
        """Whether the upgrade was accepted (and the websocket not yet closed)."""
        return self._open and self._closed is None and self._local_close is None

    @property
    def closed(self) -> Closed | None:
        """How the websocket ended, once it has (messages before it may still be waiting)."""
        return self._closed

    @property
    def finished(self) -> bool:
        """Nothing more will come: the close handshake is over or the stream ended.
        After :meth:`close` (or a message too big, which this client's close frame
        ended), read until this is true (or a deadline passes) before closing the
        socket; after a protocol error it is true at once (nothing more is read)."""
        return (
            self._eof or self._failed or not self._open or self._ws.state is ConnectionState.CLOSED
        )

    def handshake(self) -> bytes:
        """The upgrade request's bytes."""
        if self._ws.state is not ConnectionState.CONNECTING or self._sent:
            raise LocalProtocolError("cannot open the websocket: the upgrade was sent already")
        self._sent = True
        request = Request(host=self._host, target=self._target, extra_headers=self._headers)
        return self._ws.send(request)

    def receive_data(self, data: bytes) -> None:
        """Bytes read from the socket; ``b""`` means it reached its end.

        Raises :class:`~tastytrade_proto.errors.TransportError` if the upgrade is
        refused or answered with something else.
        """
        if self._eof or self._failed or (self._open and self._ws.state is ConnectionState.CLOSED):
            return  # nothing after the end matters
        if not data:
            self._eof = True
        if not self._open:
            try:
                try:
                    self._ws.receive_data(data or None)
                except RemoteProtocolError as exc:
                    raise TransportError(f"websocket upgrade failed: {exc}") from None
                self._take_events()
            except TransportError:
                if self._eof:
                    raise self._cut_off() from None
                raise
            if not self._open and self._eof:  # pragma: no cover - h11 raises first, above
                raise self._cut_off()
            return
        if not data:
            self._end(Closed.dropped())
            return
        self._ws.receive_data(data)
        self._take_events()

    def next_message(self) -> str | Closed | None:
        """The next text message; a :class:`Closed` once the websocket has closed (and
        from then on); ``None`` while more bytes are needed."""
        if self._messages:
            return self._messages.popleft()
        return self._closed

    def data_to_send(self) -> bytes:
        """Bytes to write now: pongs, the reply to a close. Empty when there are none."""
        data, self._outgoing = bytes(self._outgoing), bytearray()
        return data

    def send_text(self, text: str) -> bytes:
        """The bytes of one text message (after any queued :meth:`data_to_send`).

        Raises :class:`~tastytrade_proto.errors.WebSocketClosed` once the websocket
        has closed, from either side.
        """
        if self._closed is not None:
            raise self._closed.error()
        if self._local_close is not None:
            raise WebSocketClosed("the websocket was closed by this client", code=self._local_close)
        if not self._open:
            raise TransportError("the websocket is not open yet")
        return self.data_to_send() + self._ws.send(TextMessage(data=text))

    def close(self, code: int = 1000, reason: str = "") -> bytes:
        """The bytes of a close frame (after any queued :meth:`data_to_send`); empty
        when it closed already. Then read until :attr:`finished`."""
        data = self.data_to_send()
        if self.open and self._ws.state is ConnectionState.OPEN:
            self._local_close = code
            data += self._ws.send(CloseConnection(code=code, reason=reason))
        elif self._open and self._local_close is None:
            self._local_close = code
        return data

    @staticmethod
    def _cut_off() -> TransportError:
        return TransportError("connection closed during the websocket upgrade")

    def _end(self, closed: Closed) -> None:
        if self._closed is None:
            self._closed = closed

    def _take_events(self) -> None:
        try:
            for event in self._ws.events():
                self._take(event)
        except RemoteProtocolError as exc:  # pragma: no cover - wsproto raises on receiving
            raise TransportError(f"websocket upgrade failed: {exc}") from None

    def _take(self, event: Event) -> None:
        if isinstance(event, AcceptConnection):
            self._open = True
        elif isinstance(event, RejectConnection):
            raise TransportError(f"websocket upgrade refused: HTTP {event.status_code}")
        elif isinstance(event, RejectData):  # pragma: no cover - RejectConnection raised first
            pass
        elif isinstance(event, TextMessage):
            if self._closed is None:  # after the end (awaiting the close reply): dropped
                self._text(event.data, event.message_finished)
        elif isinstance(event, BytesMessage):
            pass  # DXLink speaks text: binary messages are dropped
        elif isinstance(event, Ping):
            if self._ws.state is ConnectionState.OPEN:
                self._outgoing += self._ws.send(event.response())
        elif isinstance(event, CloseConnection):
            self._close_event(event)
        # Pongs: nothing to do.

    def _text(self, data: str, finished: bool) -> None:
        self._size += len(data)
        if self._size > self._max:
            if self._ws.state is ConnectionState.OPEN:
                self._outgoing += self._ws.send(CloseConnection(code=_TOO_BIG, reason="too big"))
            self._parts, self._size = [], 0
            self._end(Closed.too_big(self._max))
            return
        self._parts.append(data)
        if finished:
            self._messages.append("".join(self._parts))
            self._parts, self._size = [], 0

    def _close_event(self, event: CloseConnection) -> None:
        code, reason = int(event.code), event.reason or ""
        state = self._ws.state
        if self._closed is not None:
            return  # the reply to the close frame this client sent when it ended
        if state is ConnectionState.REMOTE_CLOSING:  # the server's close frame: reply to it
            self._outgoing += self._ws.send(event.response())
            self._end(Closed.by_server(code, reason))
        elif state is ConnectionState.CLOSED and self._local_close is not None:
            self._end(Closed.by_server(code, reason))  # the reply to ours
        else:  # a frame that broke the protocol: wsproto picked the code (1002, 1007)
            self._failed = True  # the close frame goes out, no reply is awaited
            if state is ConnectionState.OPEN:
                self._outgoing += self._ws.send(CloseConnection(code=code))
            self._end(Closed.broken(code, reason))
