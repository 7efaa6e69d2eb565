"""A small websocket server on loopback (threads, wsproto), plain or TLS, for the
transports' websocket tests. The path picks what it does:

* ``/echo``: sends every text message back (its other modes end in echo too);
* ``/close1012``: closes at once with 1012 ("service restart");
* ``/drop``: drops the connection, no close frame;
* ``/reject502``: answers the upgrade with an HTTP 502;
* ``/ping``: pings, and once the pong is back sends ``"pong received"``;
* ``/fragmented``: sends ``"hello world"`` in three fragments;
* ``/big``: sends a 5 MB message; ``/huge`` one of 16 MiB and a byte;
* ``/badutf8``: sends a text frame that is not UTF-8;
* ``/split``: sends the first half of the frame of ``"split message"``, the rest once
  a text message arrives;
* ``/silent``: sends nothing until a message arrives.

Each upgrade request is kept (``requests``: path and headers), with the close code
the client sent (``closes``; ``None`` when the client dropped without one).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from types import TracebackType

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

BIG = "x" * (5 * 1024 * 1024)
HUGE = "y" * (16 * 1024 * 1024 + 1)  # past every transport's limit

_CA = None


def _ca() -> object:
    global _CA
    if _CA is None:
        import trustme

        _CA = trustme.CA()
    return _CA


class WebSocketServer:
    """Serves websockets on 127.0.0.1 until closed (a context manager)."""

    def __init__(self, *, tls: bool = False) -> None:
        self.tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.closes: list[int | None] = []
        self._context: ssl.SSLContext | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        if tls:
            ca = _ca()
            self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1", "localhost").configure_cert(self._context)  # type: ignore[attr-defined]
            self._dir = tempfile.TemporaryDirectory()
            self.ca_path = str(Path(self._dir.name) / "ca.pem")
            ca.cert_pem.write_to_path(self.ca_path)  # type: ignore[attr-defined]
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._ended = threading.Condition()
        self._start(self._accept)

    def url(self, path: str) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}{path}"

    @staticmethod
    def server_ssl_context() -> ssl.SSLContext:
        """A server context with a certificate for 127.0.0.1 from the same CA (a proxy's)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        _ca().issue_cert("127.0.0.1").configure_cert(context)  # type: ignore[attr-defined]
        return context

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context trusting this server's CA."""
        context = ssl.create_default_context()
        _ca().configure_trust(context)  # type: ignore[attr-defined]
        return context

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(sock)
            self._start(self._serve, sock)

    def _serve(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            if self._context is not None:
                sock = self._context.wrap_socket(sock, server_side=True)
                with self._lock:
                    self._sockets.append(sock)
            _Peer(self, sock).run()
        sock.close()  # the TLS socket, when there is one: the client sees the end

    def ended(self, code: int | None) -> None:
        with self._ended:
            self.closes.append(code)
            self._ended.notify_all()

    def wait_closes(self, count: int) -> list[int | None]:
        """The close codes, once ``count`` connections have ended (10 s at most)."""
        with self._ended:
            self._ended.wait_for(lambda: len(self.closes) >= count, timeout=10)
            return list(self.closes)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in threads:
            thread.join()
        if self._dir is not None:
            self._dir.cleanup()

    def __enter__(self) -> WebSocketServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _Peer:
    def __init__(self, server: WebSocketServer, sock: socket.socket) -> None:
        self.server, self.sock = server, sock
        self.ws = WSConnection(ConnectionType.SERVER)
        self.path = ""
        self.pending: list[bytes] = []  # /split: the rest of the frame

    def send(self, event: object) -> None:
        self.sock.sendall(self.ws.send(event))  # type: ignore[arg-type]

    def run(self) -> None:
        while True:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            for event in self.ws.events():
                if not self.handle(event):
                    return
            if not data:
                self.server.ended(None)
                return

    def handle(self, event: object) -> bool:
        if isinstance(event, Request):
            return self.upgrade(event)
        if isinstance(event, TextMessage):
            if self.pending:
                self.sock.sendall(self.pending.pop())
            if event.message_finished:  # the client's messages are small: one frame each
                self.send(TextMessage(data=event.data))
        elif isinstance(event, Pong) and self.path == "/ping":
            self.send(TextMessage(data="pong received"))
        elif isinstance(event, Ping):
            self.send(event.response())
        elif isinstance(event, CloseConnection):
            self.server.ended(int(event.code))
            with contextlib.suppress(Exception):
                self.send(event.response())
            return False
        return True

    def upgrade(self, request: Request) -> bool:
        self.path = request.target
        headers = {k.decode().lower(): v.decode() for k, v in request.extra_headers}
        self.server.requests.append((self.path, headers))
        if self.path == "/reject502":
            self.send(RejectConnection(status_code=502, has_body=True))
            self.send(RejectData(data=b"bad gateway"))
            return False
        self.send(AcceptConnection())
        if self.path == "/close1012":
            self.send(CloseConnection(code=1012, reason="service restart"))
        elif self.path == "/drop":
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            return False
        elif self.path == "/ping":
            self.send(Ping(payload=b"are you there"))
        elif self.path == "/fragmented":
            for part, last in (("hel", False), ("lo wo", False), ("rld", True)):
                self.send(TextMessage(data=part, message_finished=last))
        elif self.path == "/big":
            self.send(TextMessage(data=BIG))
        elif self.path == "/huge":
            self.send(TextMessage(data=HUGE))
        elif self.path == "/badutf8":
            self.sock.sendall(b"\x81\x02\xff\xfe")  # a text frame that is not UTF-8
        elif self.path == "/split":
            frame = self.ws.send(TextMessage(data="split message"))
            self.sock.sendall(frame[:7])
            self.pending.append(frame[7:])
        return True

    # /silent and /echo: nothing to do until a message comes.
