"""The synchronous transport's websocket: wsproto (the core's ``WebSocketConnection``)
over a plain socket, TLS through ``ssl.MemoryBIO`` (so that TLS to an ``https://``
proxy and TLS to the server inside its tunnel stack the same way), and a socket pair
that lets another thread wake a blocked :meth:`WebSocket.receive`.
"""

from __future__ import annotations

import base64
import contextlib
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, unquote

import h11

from tastytrade_proto.errors import TransportError, TransportTimeout, WebSocketClosed
from tastytrade_proto.protocol.websocket import Closed, WebSocketConnection, split_websocket_url

__all__ = ["WebSocket", "open_websocket"]

_CHUNK = 65536
_ANSWER_WITHIN = 5.0  # seconds for TLS's own answers, sent while reading


class _Woken:
    """:meth:`_Wire.receive`: the wake socket was written to."""


class _TimedOut:
    """:meth:`_Wire.receive`: the deadline passed."""


_WOKEN, _TIMED_OUT = _Woken(), _TimedOut()


class _TLS:
    """One TLS layer over memory buffers."""

    def __init__(self, context: ssl.SSLContext, hostname: str) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname=hostname)


class _Wire:
    """A non-blocking socket under zero, one or two TLS layers (the proxy's, the server's).

    Every read decrypts all it can at once: no plaintext is ever left inside a TLS
    object for ``select`` to overlook.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.layers: list[_TLS] = []  # outermost first
        self.ready = b""  # plaintext at the top, read but not yet handed out
        self.eof = False

    def write(self, data: bytes, deadline: float, level: int | None = None) -> None:
        """Send plaintext of ``level`` (the top by default) through the layers below it."""
        for layer in reversed(self.layers[: len(self.layers) if level is None else level]):
            if data:
                layer.tls.write(data)
            data = layer.outgoing.read()
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                if not select.select([], [self.sock], [], _left(deadline))[1]:
                    raise TimeoutError("could not send in time") from None
                continue
            view = view[sent:]

    def receive(
        self, deadline: float | None, wake: socket.socket | None = None
    ) -> bytes | _Woken | _TimedOut | None:
        """Some plaintext (maybe ``b""``: a TLS record is incomplete), ``None`` at the
        end of the stream, or why the wait ended."""
        if self.ready:
            data, self.ready = self.ready, b""
            return data
        if self.eof:
            return None
        watched = [self.sock] if wake is None else [self.sock, wake]
        readable = select.select(watched, [], [], None if deadline is None else _left(deadline))[0]
        if wake is not None and wake in readable:
            with contextlib.suppress(OSError):
                while wake.recv(4096):
                    pass
            return _WOKEN
        if not readable:
            return _TIMED_OUT
        try:
            raw = self.sock.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return b""
        if not raw:
            self.eof = True
            return None
        data = self.decrypt(raw)
        if not data and self.eof:
            return None
        return data

    def decrypt(self, data: bytes) -> bytes:
        """Pass ``data`` up through every layer; what comes out at the top."""
        for level, layer in enumerate(self.layers):
            if data:
                layer.incoming.write(data)
            out = bytearray()
            while True:
                try:
                    chunk = layer.tls.read(_CHUNK)
                except ssl.SSLWantReadError:
                    break
                except ssl.SSLZeroReturnError:  # close_notify: the end of the stream
                    self.eof = True
                    break
                if not chunk:
                    break
                out += chunk
            if layer.outgoing.pending:  # a post-handshake answer (a TLS 1.3 key update)
                self.write(layer.outgoing.read(), time.monotonic() + _ANSWER_WITHIN, level)
            data = bytes(out)
        return data

    def start_tls(self, context: ssl.SSLContext, hostname: str, deadline: float) -> None:
        """Add a TLS layer on top, and finish its handshake."""
        layer = _TLS(context, hostname)
        level = len(self.layers)
        if self.ready:
            layer.incoming.write(self.ready)
            self.ready = b""
        while True:
            try:
                layer.tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            if layer.outgoing.pending:
                self.write(layer.outgoing.read(), deadline, level)
            if done:
                break
            got = self.receive(deadline)
            if isinstance(got, _TimedOut):
                raise TimeoutError("TLS handshake timed out")
            if got is None:
                raise ConnectionError(f"connection closed during the TLS handshake with {hostname}")
            if isinstance(got, bytes) and got:
                layer.incoming.write(got)
        self.layers.append(layer)
        self.ready = self.decrypt(b"") if layer.incoming.pending else b""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _feed(receive: Callable[[bytes], object], got: bytes | _Woken | _TimedOut | None) -> None:
    """Hand what :meth:`_Wire.receive` got to a protocol: ``None`` is the end (``b""``
    for the protocol); an empty read (a TLS record in part) is nothing."""
    if got is None:
        receive(b"")
    elif isinstance(got, bytes) and got:
        receive(got)


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _tunnel(wire: _Wire, proxy: SplitResult, host: str, port: int, deadline: float) -> None:
    where = f"{proxy.hostname}:{proxy.port or (443 if proxy.scheme == 'https' else 80)}"
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    http = h11.Connection(h11.CLIENT)
    headers = [("host", target)]
    if proxy.username is not None:  # the credentials in the proxy URL, as requests sends them
        pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
        headers.append(("proxy-authorization", "Basic " + base64.b64encode(pair).decode()))
    head = h11.Request(method="CONNECT", target=target, headers=headers)
    wire.write(http.send(head) + (http.send(h11.EndOfMessage()) or b""), deadline)
    try:
        while (event := http.next_event()) is h11.NEED_DATA:
            got = wire.receive(deadline)
            if isinstance(got, _TimedOut):
                raise TimeoutError(f"proxy {where} did not answer CONNECT in time")
            _feed(http.receive_data, got)
    except h11.RemoteProtocolError as exc:
        message = f"proxy {where} broke off CONNECT {target}: {exc}"
        raise TransportError(message, request_sent=False) from None
    if not (isinstance(event, h11.Response) and 200 <= event.status_code < 300):
        answer = getattr(event, "status_code", event)
        message = f"proxy {where} refused CONNECT {target}: HTTP {answer}"
        raise TransportError(message, request_sent=False)
    wire.ready = http.trailing_data[0]  # the server spoke first: keep its bytes


class WebSocket:
    """An open websocket (a :class:`~tastytrade_proto.streaming.websocket.SyncWebSocket`).

    One thread (the feed's pump) sends, receives and closes; :meth:`wake` may be
    called from any thread.
    """

    def __init__(
        self,
        wire: _Wire,
        conn: WebSocketConnection,
        wake_pair: tuple[socket.socket, socket.socket],
        timeout: float,
    ) -> None:
        self._wire, self._conn, self._timeout = wire, conn, timeout
        self._wake_r: socket.socket | None = wake_pair[0]
        self._wake_w: socket.socket | None = wake_pair[1]
        self._wake_lock = threading.Lock()
        self._closed = False

    def send(self, text: str) -> None:
        """Send one text message; ``WebSocketClosed`` once it closed or broke."""
        data = self._conn.send_text(text)
        try:
            self._wire.write(data, time.monotonic() + self._timeout)
        except (OSError, ValueError) as exc:  # TimeoutError is an OSError; ValueError: closed
            self._conn.receive_data(b"")  # a frame went out in part, or not at all: done
            raise Closed.dropped(f"while sending: {type(exc).__name__}: {exc}").error() from None

    def receive(self, timeout: float | None) -> str | None:
        """The next text message, or ``None`` after ``timeout`` s or a :meth:`wake`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            message = self._conn.next_message()
            if isinstance(message, str):
                return message
            if isinstance(message, Closed):
                self._flush()  # the reply to the server's close
                raise message.error()
            if self._closed:
                raise WebSocketClosed("the websocket was closed by this client")
            try:
                got = self._wire.receive(deadline, self._wake_r)
            except (OSError, ValueError):
                got = None  # broken: the same as its end
            if isinstance(got, (_Woken, _TimedOut)):
                return None
            _feed(self._conn.receive_data, got)
            self._flush()

    def _flush(self) -> None:
        data = self._conn.data_to_send()
        if data:
            with contextlib.suppress(OSError, ValueError):  # a broken socket: the next read says
                self._wire.write(data, time.monotonic() + self._timeout)

    def wake(self) -> None:
        """Make a :meth:`receive` in another thread (or the next one) return ``None``."""
        with self._wake_lock:
            if self._wake_w is not None:
                with contextlib.suppress(OSError):  # full: a wake is pending already
                    self._wake_w.send(b"\0")

    def close(self, code: int = 1000) -> None:
        """Send a close frame, wait (within the timeout) for the reply, close the socket."""
        if self._closed:
            return
        self._closed = True
        try:
            deadline = time.monotonic() + self._timeout
            data = self._conn.close(code)
            if data:
                self._wire.write(data, deadline)
            while not self._conn.finished:
                got = self._wire.receive(deadline)
                if isinstance(got, _TimedOut):
                    break
                _feed(self._conn.receive_data, got)
        except Exception:  # closing never raises: the socket goes anyway
            pass
        finally:
            self._wire.close()
            with self._wake_lock:
                for sock in (self._wake_r, self._wake_w):
                    if sock is not None:
                        sock.close()
                self._wake_r = self._wake_w = None


def open_websocket(
    url: str,
    headers: Sequence[tuple[str, str]],
    timeout: float,
    *,
    context: ssl.SSLContext,
    proxy: SplitResult | None,
) -> WebSocket:
    """Connect (through ``proxy``'s CONNECT tunnel, if any), upgrade, return the websocket;
    ``timeout`` bounds it all."""
    where = split_websocket_url(url)
    deadline = time.monotonic() + timeout
    hop_host, hop_port = where.host, where.port
    if proxy is not None:
        hop_host = proxy.hostname or ""
        hop_port = proxy.port or (443 if proxy.scheme == "https" else 80)
    shown = f"{hop_host}:{hop_port}" if proxy is None else f"proxy {hop_host}:{hop_port}"
    sock: socket.socket | None = None
    wire: _Wire | None = None
    pair: tuple[socket.socket, socket.socket] | None = None
    sent = False
    try:
        try:
            sock = socket.create_connection((hop_host, hop_port), timeout=_left(deadline))
        except socket.gaierror as exc:
            raise TransportError(
                f"{shown}: cannot resolve {hop_host}: {exc.strerror}", request_sent=False
            ) from None
        except TimeoutError:
            raise TransportTimeout(
                f"{shown}: no connection within {timeout} s", request_sent=False
            ) from None
        except OSError as exc:
            raise TransportError(
                f"{shown}: cannot connect: {type(exc).__name__}: {exc.strerror or exc}",
                request_sent=False,
            ) from None
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wire = _Wire(sock)
        if proxy is not None:
            if proxy.scheme == "https":
                wire.start_tls(context, hop_host, deadline)
            _tunnel(wire, proxy, where.host, where.port, deadline)
        if where.secure:
            wire.start_tls(context, where.host, deadline)
        conn = WebSocketConnection(where.authority, where.target, headers)
        sent = True
        wire.write(conn.handshake(), deadline)
        while not conn.accepted:
            got = wire.receive(deadline)
            if isinstance(got, _TimedOut):
                raise TimeoutError("no answer to the upgrade")
            _feed(conn.receive_data, got)
        pair = socket.socketpair()
        for end in pair:
            end.setblocking(False)
        websocket = WebSocket(wire, conn, pair, timeout)
        websocket._flush()
        return websocket
    except TransportError:
        raise
    except TimeoutError as exc:
        raise TransportTimeout(
            f"websocket {where.authority}: not open within {timeout} s ({exc})", request_sent=sent
        ) from None
    except (OSError, ValueError) as exc:  # ssl.SSLError and CertificateError are OSErrors
        raise TransportError(
            f"websocket {where.authority}: {type(exc).__name__}: {exc}", request_sent=sent
        ) from None
    finally:
        if pair is None:  # failed: nothing stays open
            if wire is not None:
                wire.close()
            elif sock is not None:
                sock.close()


if TYPE_CHECKING:  # mypy --strict checks that the class keeps the contract
    from tastytrade_proto.streaming.websocket import SyncWebSocket

    def _keeps_the_contract(ws: WebSocket) -> SyncWebSocket:
        return ws
