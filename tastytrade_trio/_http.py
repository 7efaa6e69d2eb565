"""HTTP/1.1 with h11 for the trio transport: requests out, answers in, gzip undone.

What :class:`tastytrade_proto.protocol.wire.HTTP11Connection` does, with what the other
transports' libraries do besides: ``Accept-Encoding: gzip, deflate`` on every request
(unless the request names its own), a compressed answer decompressed within the same
bound as any body (``MAX_BODY_BYTES``, which the core holds every body to), no
``Content-Length: 0`` on a bodiless ``GET``, and each request's head made once and kept,
since a session sends the same few heads over and over (the hot path of a loopback call).
"""

from __future__ import annotations

import zlib
from urllib.parse import urlsplit

import h11

from tastytrade_proto.errors import DecodeError, LocalProtocolError, TransportError
from tastytrade_proto.protocol.envelope import MAX_BODY_BYTES
from tastytrade_proto.protocol.http import Headers, Request, Response

__all__ = ["HTTPConnection", "Heads"]

_MAX_HEADER_BYTES = 64 * 1024
_ACCEPT_ENCODING = (b"accept-encoding", b"gzip, deflate")
_NO_LENGTH = frozenset({"GET", "HEAD"})  # bodiless, as requests and aiohttp send them
_GZIP = zlib.MAX_WBITS | 16
_MAX_MEMBERS = 64  # gzip members in one body (a body of many tiny members is an attack)

_HeadKey = tuple[str, str, tuple[tuple[str, str], ...], int]


def _head(request: Request) -> h11.Request:
    try:
        parts = urlsplit(request.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = [(k.encode("ascii"), v.encode("latin-1")) for k, v in request.headers]
        host = parts.netloc.encode("ascii")
        path = target.encode("ascii")
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(
            f"cannot send {request.method} {request.path!r}: {exc.reason} in a header or URL"
        ) from None
    names = {k for k, _ in request.headers}
    if "host" not in names:
        headers.insert(0, (b"host", host))
    if "accept-encoding" not in names:
        headers.append(_ACCEPT_ENCODING)
    framed = "content-length" in names or "transfer-encoding" in names
    if not framed and (request.body or request.method not in _NO_LENGTH):
        headers.append((b"content-length", str(len(request.body)).encode()))
    try:
        return h11.Request(method=request.method, target=path, headers=headers)
    except h11.LocalProtocolError as exc:
        raise LocalProtocolError(f"cannot send {request.method} {path!r}: {exc}") from None


class Heads:
    """Each request's h11 head, made once: the same method, URL, headers and body length
    give the same head (h11's events are immutable). At most 64 are kept."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[_HeadKey, h11.Request] = {}

    def __call__(self, request: Request) -> h11.Request:
        key = (request.method, request.url, request.headers, len(request.body))
        head = self._known.get(key)
        if head is None:
            head = _head(request)
            if len(self._known) >= 64:  # a new token or many URLs: start again
                self._known.clear()
            self._known[key] = head
        return head


def _zlib_wrapped(body: bytes) -> bool:
    return len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0


def _decompress(body: bytes, coding: str, status: int, headers: Headers) -> bytes:
    """``body`` decoded as ``Content-Encoding: coding`` says, at most MAX_BODY_BYTES."""
    coding = coding.strip().lower()
    if coding in ("gzip", "x-gzip"):
        wbits = _GZIP
    elif coding == "deflate":  # zlib-wrapped as the RFC says, or raw as some servers send
        wbits = zlib.MAX_WBITS if _zlib_wrapped(body) else -zlib.MAX_WBITS
    else:  # identity, or a coding nobody asked for: the bytes as they came
        return body
    out: list[bytes] = []
    size, members, data = 0, 0, body
    try:
        while data:
            members += 1
            if members > _MAX_MEMBERS:
                raise zlib.error(f"more than {_MAX_MEMBERS} gzip members")
            inflate = zlib.decompressobj(wbits)
            chunk = inflate.decompress(data, MAX_BODY_BYTES + 1 - size)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise DecodeError(
                    f"response body exceeds {MAX_BODY_BYTES} bytes once decompressed",
                    status=status,
                    headers=headers,
                )
            out.append(chunk)
            if not inflate.eof:
                raise zlib.error("the compressed body ends early")
            data = inflate.unused_data if wbits == _GZIP else b""
    except zlib.error as exc:
        # As requests and aiohttp report an answer they cannot decode: the request went out.
        raise TransportError(
            f"HTTP {status} answer could not be decompressed ({coding}): {exc}",
            request_sent=True,
        ) from None
    return b"".join(out)


class HTTPConnection:
    """One client connection's HTTP/1.1 state (h11), without the socket."""

    __slots__ = ("_body", "_closed", "_coding", "_h11", "_headers", "_size", "_status")

    def __init__(self) -> None:
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEADER_BYTES)
        self._closed = False
        self._status = 0
        self._headers: Headers = ()
        self._coding = ""
        self._body: list[bytes] = []
        self._size = 0

    def send_request(self, head: h11.Request, body: bytes) -> bytes:
        """The bytes of a request: ``head`` (from :class:`Heads`), ``body``, end of message."""
        send = self._h11.send
        try:
            data = send(head) or b""
            if body:
                data += send(h11.Data(data=body)) or b""
            return data + (send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(
                f"cannot send {head.method!r} {head.target!r}: {exc}"
            ) from None

    def send_failed(self) -> None:
        """The request's bytes did not all reach the wire."""
        self._h11.send_failed()

    def receive_data(self, data: bytes) -> None:
        """Bytes read from the socket; ``b""`` when the server closed it."""
        if not data:
            self._closed = True
        self._h11.receive_data(data)

    def next_response(self) -> Response | None:
        """The response once complete (its body decompressed); ``None`` while more is needed."""
        next_event = self._h11.next_event
        while True:
            try:
                event = next_event()
            except h11.RemoteProtocolError as exc:
                if self._closed:
                    raise self._cut_off() from None
                raise TransportError(f"server broke HTTP/1.1: {exc}", request_sent=True) from None
            kind = type(event)
            if kind is h11.Data:
                self._body.append(event.data)  # type: ignore[union-attr]
                self._size += len(event.data)  # type: ignore[union-attr]
                if self._size > MAX_BODY_BYTES:
                    raise DecodeError(
                        f"response body exceeds {MAX_BODY_BYTES} bytes", status=self._status
                    )
            elif event is h11.NEED_DATA:
                return None
            elif kind is h11.Response:
                self._status = event.status_code  # type: ignore[union-attr]
                headers = []
                for name, value in event.headers:  # type: ignore[union-attr]
                    if name == b"content-encoding":
                        self._coding = value.decode("latin-1")
                    headers.append((name.decode("latin-1"), value.decode("latin-1")))
                self._headers = tuple(headers)
            elif kind is h11.EndOfMessage:
                body = b"".join(self._body)
                if self._coding:
                    body = _decompress(body, self._coding, self._status, self._headers)
                response = Response(self._status, self._headers, body)
                self._status, self._headers, self._coding = 0, (), ""
                self._body, self._size = [], 0
                return response
            elif kind is h11.ConnectionClosed:
                raise self._cut_off()
            # InformationalResponse (1xx) carries nothing we need.

    def _cut_off(self) -> TransportError:
        got = "nothing" if not self._status else f"part of an HTTP {self._status} response"
        return TransportError(f"connection closed after {got}", request_sent=True)

    def start_next_cycle(self) -> bool:
        """Ready for the next request; ``False`` when the connection must close."""
        h = self._h11
        if h.our_state is h11.DONE and h.their_state is h11.DONE:
            h.start_next_cycle()
            return True
        return False
