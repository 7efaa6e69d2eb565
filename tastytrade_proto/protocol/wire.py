"""HTTP/1.1 on the wire, with h11: a :class:`Request` to bytes, bytes to a :class:`Response`.

For transports that own their sockets (the trio adapter) and for tests at the
protocol level. :class:`HTTP11Connection` is one client connection's state:
it may carry many request/response cycles (keep-alive).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import h11

from ..errors import DecodeError, LocalProtocolError, TransportError
from .http import Request, Response

__all__ = ["HTTP11Connection", "parse_response", "serialize_request"]

_MAX_HEADER_BYTES = 64 * 1024
_MAX_BODY_BYTES = 64 * 1024 * 1024


def _target(request: Request) -> tuple[bytes, bytes]:
    parts = urlsplit(request.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.netloc.encode("ascii"), target.encode("ascii")


class HTTP11Connection:
    """A client-side HTTP/1.1 connection, without the socket.

    Call :meth:`send_request` and write what it returns; feed what the socket
    reads to :meth:`receive_data` (``b""`` at end of stream) and call
    :meth:`next_response` until it returns a :class:`Response`. After a
    response, :meth:`start_next_cycle` returns whether the connection can be
    reused for another request.
    """

    def __init__(self, *, max_body_bytes: int = _MAX_BODY_BYTES) -> None:
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEADER_BYTES)
        self._max_body = max_body_bytes
        self._status: int | None = None
        self._headers: list[tuple[str, str]] = []
        self._body = bytearray()
        self._closed = False

    def send_request(self, request: Request) -> bytes:
        """The bytes of ``request``: head, body and end of message."""
        try:
            host, target = _target(request)
            headers = [(k.encode("ascii"), v.encode("latin-1")) for k, v in request.headers]
        except UnicodeEncodeError as exc:
            raise LocalProtocolError(
                f"cannot send {request.method} {request.path!r}: {exc.reason} in a header or URL"
            ) from None
        names = {k for k, _ in request.headers}
        if "host" not in names:
            headers.insert(0, (b"host", host))
        if "content-length" not in names and "transfer-encoding" not in names:
            headers.append((b"content-length", str(len(request.body)).encode()))
        try:
            data = self._h11.send(
                h11.Request(method=request.method, target=target, headers=headers)
            )
            if request.body:
                data += self._h11.send(h11.Data(data=request.body)) or b""
            data += self._h11.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(f"cannot send {request.method} {target!r}: {exc}") from None
        return data or b""

    def send_failed(self) -> None:
        """Tell the connection the request's bytes did not all reach the wire."""
        self._h11.send_failed()

    def receive_data(self, data: bytes) -> None:
        """Bytes read from the socket; ``b""`` means the server closed it."""
        if not data:
            self._closed = True
        self._h11.receive_data(data)

    def next_response(self) -> Response | None:
        """The response, once complete; ``None`` while more bytes are needed."""
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                if self._closed:
                    raise self._cut_off() from None
                # The connection is unusable and the answer unknown: a transport failure.
                raise TransportError(f"server broke HTTP/1.1: {exc}", request_sent=True) from None
            if event is h11.NEED_DATA:
                return None
            if isinstance(event, h11.Response):
                self._status = event.status_code
                self._headers = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers
                ]
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > self._max_body:
                    raise DecodeError(
                        f"response body exceeds {self._max_body} bytes", status=self._status
                    )
            elif isinstance(event, h11.EndOfMessage):
                assert self._status is not None
                response = Response(self._status, tuple(self._headers), bytes(self._body))
                self._status, self._headers, self._body = None, [], bytearray()
                return response
            elif isinstance(event, h11.ConnectionClosed):
                raise self._cut_off()
            # InformationalResponse (1xx) carries nothing we need.

    def _cut_off(self) -> TransportError:
        # The request went out and the answer was cut short: a transport
        # failure (idempotent requests may be retried), not a bad answer.
        got = "nothing" if self._status is None else f"part of an HTTP {self._status} response"
        return TransportError(f"connection closed after {got}", request_sent=True)

    def start_next_cycle(self) -> bool:
        """Prepare for the next request; ``False`` if the connection must close."""
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            return True
        return False


def serialize_request(request: Request) -> bytes:
    """The HTTP/1.1 bytes of one request (``Host`` and ``Content-Length`` added)."""
    return HTTP11Connection().send_request(request)


def parse_response(data: bytes, *, max_body_bytes: int = _MAX_BODY_BYTES) -> Response:
    """Read one whole response from ``data``, the server's bytes up to close.

    Raises :class:`DecodeError` if the bytes are not HTTP/1.1 or end early.
    (:class:`HTTP11Connection` itself raises :class:`TransportError` when the
    server closes mid-response, so that a transport can retry safe requests.)
    """
    conn = HTTP11Connection(max_body_bytes=max_body_bytes)
    # h11 needs to have sent a request before it reads a response.
    conn.send_request(Request("GET", "http://parse.invalid/"))
    conn.receive_data(data)
    conn.receive_data(b"")
    try:
        response = conn.next_response()
    except TransportError as exc:
        raise DecodeError(f"not a complete HTTP/1.1 response: {exc}") from None
    if response is None:  # pragma: no cover - EOF was fed, so h11 never needs more data
        raise DecodeError("response ended early")
    return response
