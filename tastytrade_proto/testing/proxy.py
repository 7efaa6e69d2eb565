"""A small HTTP CONNECT proxy on loopback, for testing a transport's proxy support."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from collections.abc import Callable
from types import TracebackType

__all__ = ["ConnectProxy"]


class ConnectProxy:
    """Tunnels ``CONNECT host:port`` to loopback targets; counts the tunnels it made.

    Given a server-side ``ssl_context``, it is an ``https://`` proxy: TLS from the client
    to the proxy, and the tunnel inside it. ``tunnels`` lists each tunnel's ``host:port``,
    ``credentials`` each CONNECT's ``Proxy-Authorization`` (or ``None``). ``close()`` (or
    leaving the ``with`` block) closes every socket and joins every thread it started.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._tls = ssl_context
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{self.port}"
        self.tunnels: list[str] = []
        self.credentials: list[str | None] = []  # each CONNECT's Proxy-Authorization
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._start(self._accept)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
        return sock

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._start(self._tunnel, self._track(client))

    def _tunnel(self, client: socket.socket) -> None:
        if self._tls is not None:
            try:
                client = self._track(self._tls.wrap_socket(client, server_side=True))
            except (OSError, ssl.SSLError):
                return
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target = head.split(b" ", 2)[:2]
        lines = head.decode("latin-1").split("\r\n")[1:]
        fields = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)
        }
        self.credentials.append(fields.get("proxy-authorization"))
        host, _, port = target.decode().rpartition(":")
        if method != b"CONNECT" or host not in ("127.0.0.1", "localhost"):
            client.sendall(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            client.close()
            return
        upstream = self._track(socket.create_connection((host, int(port))))
        self.tunnels.append(f"{host}:{port}")
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if isinstance(client, ssl.SSLSocket):  # one thread: an SSL socket is not for two at once
            self._relay(client, upstream)
            return
        self._start(self._pipe, client, upstream)
        self._pipe(upstream, client)

    @staticmethod
    def _relay(tls: ssl.SSLSocket, upstream: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                ready = [tls] if tls.pending() else select.select([tls, upstream], [], [])[0]
                for source, sink in ((tls, upstream), (upstream, tls)):
                    if source in ready:
                        data = source.recv(65536)
                        if not data:
                            return
                        sink.sendall(data)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

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

    def __enter__(self) -> ConnectProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
