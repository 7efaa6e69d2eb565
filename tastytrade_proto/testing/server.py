"""The fake API served over real HTTP/1.1 (plain or TLS) on loopback, in a background thread.

:class:`FakeTastytradeServer` binds ``127.0.0.1`` on a free port, speaks
keep-alive HTTP/1.1 with h11, and hands each request to a
:class:`~tastytrade_proto.testing.fake.FakeTastytradeAPI`. With ``tls=True`` it
serves HTTPS with a certificate from a throw-away certificate authority
(trustme); :meth:`FakeTastytradeServer.client_ssl_context` and
:attr:`FakeTastytradeServer.ca_path` are what a client needs to trust it.
Starting and stopping takes milliseconds and leaves no thread or socket.

Paths under ``/fake-admin/`` never reach the API: they go to
:mod:`~tastytrade_proto.testing.fake.admin` (move a mark, fill an order, move
the clock) with the connecting peer's address. ``state_dir`` keeps issued
refresh and remember tokens, and the CA, across restarts
(:mod:`~tastytrade_proto.testing.state`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import h11

from ..protocol.http import Environment, Request, Response
from .fake import FakeTastytradeAPI, Reply, admin
from .state import StateDir

__all__ = ["FakeTastytradeServer"]

_CA: Any = None
_CA_LOCK = threading.Lock()


def _need_trustme() -> None:
    try:
        import trustme  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the installation
        raise RuntimeError("HTTPS needs trustme: pip install 'tastytrade-proto[testing]'") from None


def _certificate_authority() -> Any:
    """One throw-away CA per process: making one costs more than a server start."""
    global _CA
    with _CA_LOCK:
        if _CA is None:
            _need_trustme()
            import trustme

            _CA = trustme.CA()
        return _CA


class FakeTastytradeServer:
    """A :class:`FakeTastytradeAPI` on ``127.0.0.1``, as a context manager.

    ``api`` is the fake to serve (a fresh, demo-seeded one by default);
    ``tls`` serves HTTPS; ``port`` is the port to bind (0, the default: a
    free one). ``state_dir`` keeps the tokens the fake issues and its CA
    there, and takes back what an earlier server left (see
    :mod:`~tastytrade_proto.testing.state`). Use :attr:`base_url` or
    :attr:`environment` to point a client at it.
    """

    def __init__(
        self,
        api: FakeTastytradeAPI | None = None,
        *,
        tls: bool = False,
        port: int = 0,
        state_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"not a port: {port}")
        self.api = api if api is not None else FakeTastytradeAPI()
        self.tls = tls
        self.state = StateDir(state_dir) if state_dir is not None else None
        self._wanted_port = port
        self._ca: Any = None
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._api_lock = threading.Lock()
        self._stopping = threading.Event()
        self._server_context: ssl.SSLContext | None = None
        self._ca_file: Path | None = None
        self.port = 0
        #: How many connections were accepted (a keep-alive client makes one).
        self.accepted = 0

    # -- where it is -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http(s)://127.0.0.1:<port>``."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def environment(self) -> Environment:
        """An :class:`~tastytrade_proto.protocol.http.Environment` pointing at this server."""
        return Environment("fake", self.base_url)

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this server's certificate (and verifies it)."""
        context = ssl.create_default_context()
        self._authority().configure_trust(context)
        return context

    def _authority(self) -> Any:
        if self._ca is None:
            if self.state is None:
                self._ca = _certificate_authority()
            else:
                _need_trustme()
                self.state.create()
                self._ca = self.state.certificate_authority()
        return self._ca

    @property
    def ca_path(self) -> str:
        """A PEM file of the throw-away CA, for clients that take a CA bundle path.

        With a ``state_dir`` it is the directory's ``ca.pem``, the same file every
        time; otherwise a temporary file, removed when the server stops.
        """
        if self.state is not None:
            self._authority()
            return str(self.state.ca_file)
        if self._ca_file is None:
            with tempfile.NamedTemporaryFile(
                prefix="tastytrade-fake-ca-", suffix=".pem", delete=False
            ) as handle:
                handle.write(self._authority().cert_pem.bytes())
            self._ca_file = Path(handle.name)
        return str(self._ca_file)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeTastytradeServer:
        """Bind the port (a free one by default) and start serving.

        With a ``state_dir``, first take back the tokens an earlier server saved
        there (``ValueError`` when the file is not a token state).
        """
        if self._listener is not None:
            raise RuntimeError("the fake server is already running")
        if self.state is not None:
            self.state.create()
            saved = self.state.load_tokens()
            with self._api_lock:
                if saved is not None:
                    self.api.import_tokens(saved)
                self.state.save_tokens(self.api.export_tokens())
        if self.tls and self._server_context is None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._authority().issue_cert("127.0.0.1", "localhost").configure_cert(context)
            self._server_context = context
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self._wanted_port))
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stopping.clear()
        self._accept_thread = threading.Thread(
            target=self._accept_loop,
            args=(listener,),
            name=f"fake-tastytrade-{self.port}",
            daemon=True,
        )
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: close every connection and wait for every thread."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        self._stopping.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join()
        with self._lock:
            connections, threads = list(self._connections), list(self._threads)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join()
        if self._ca_file is not None:
            self._ca_file.unlink(missing_ok=True)
            self._ca_file = None

    def __enter__(self) -> FakeTastytradeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- serving ---------------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                conn, peer = listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn, peer[0]), daemon=True)
            with self._lock:
                if self._stopping.is_set():
                    conn.close()
                    return
                self._connections.add(conn)
                self._threads.add(thread)
                self.accepted += 1
            thread.start()

    def _serve(self, raw: socket.socket, peer: str) -> None:
        conn = raw
        try:
            if self._server_context is not None:
                # Known to stop() before the handshake, so that a client that connects and
                # never speaks cannot keep stop() waiting for this thread.
                conn = self._server_context.wrap_socket(
                    raw, server_side=True, do_handshake_on_connect=False
                )
                with self._lock:
                    self._connections.discard(raw)
                    self._connections.add(conn)
                    if self._stopping.is_set():
                        return
                conn.do_handshake()
            self._http_loop(conn, peer)
        except (OSError, ssl.SSLError, h11.ProtocolError):
            pass  # the client went away, or spoke something else: nothing to answer
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            with self._lock:
                self._connections.discard(conn)
                self._connections.discard(raw)
                self._threads.discard(threading.current_thread())

    def _http_loop(self, conn: socket.socket, peer: str) -> None:
        http = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        while not self._stopping.is_set():
            request = self._read_request(conn, http)
            if request is None:
                return
            with self._api_lock:
                reply = self._answer(request, peer)
            if reply.delay and self._stopping.wait(reply.delay):
                return
            if not self._write_reply(conn, http, reply):
                return
            if http.our_state is h11.MUST_CLOSE or http.their_state is not h11.DONE:
                return
            http.start_next_cycle()

    def _answer(self, request: Request, peer: str) -> Reply:
        """The API's reply, or the admin routes' for their paths; then save the tokens."""
        if admin.is_admin_path(request.path):
            reply = Reply(admin.handle(self.api, request, peer))
        else:
            reply = self.api.handle(request)
        if self.state is not None:
            try:
                self.state.save_tokens(self.api.export_tokens())
            except OSError as exc:  # the client must hear that its token may not survive
                return Reply(
                    Response(
                        500,
                        (("content-type", "text/plain"),),
                        f"the fake could not save its state: {exc}".encode(),
                    )
                )
        return reply

    def _read_request(self, conn: socket.socket, http: h11.Connection) -> Request | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = http.next_event()
            except h11.RemoteProtocolError as exc:
                self._send_bad_request(conn, http, exc.error_status_hint)
                return None
            if event is h11.NEED_DATA:
                data = conn.recv(65536)
                http.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return self._to_request(head, bytes(body))
            else:  # ConnectionClosed
                return None

    def _to_request(self, head: h11.Request, body: bytes) -> Request:
        target = head.target.decode("ascii", "replace")
        if not target.startswith("/"):
            target = "/" + target
        headers = tuple(
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in head.headers
            if not (b"\r" in v or b"\n" in v)
        )
        try:
            return Request(
                head.method.decode("ascii", "replace"), self.base_url + target, headers, body
            )
        except Exception:
            # A method or target our Request refuses: let the fake answer 404.
            return Request("OPTIONS", self.base_url + "/invalid-request", headers, body)

    def _send_bad_request(self, conn: socket.socket, http: h11.Connection, status: int) -> None:
        if http.our_state is not h11.SEND_RESPONSE and http.our_state is not h11.IDLE:
            return
        with contextlib.suppress(h11.LocalProtocolError, OSError):
            body = b'{"error":{"code":"bad_request","message":"Malformed HTTP request"}}'
            conn.sendall(
                http.send(
                    h11.Response(
                        status_code=status,
                        headers=[
                            ("content-type", "application/json"),
                            ("content-length", str(len(body))),
                            ("connection", "close"),
                        ],
                    )
                )
                or b""
            )
            conn.sendall(http.send(h11.Data(data=body)) or b"")
            conn.sendall(http.send(h11.EndOfMessage()) or b"")

    def _write_reply(self, conn: socket.socket, http: h11.Connection, reply: Reply) -> bool:
        if reply.disconnect:
            return False
        response = reply.response
        headers = [
            (k, v) for k, v in response.headers if k not in ("content-length", "transfer-encoding")
        ]
        if response.status not in (204, 304):
            headers.append(("content-length", str(len(response.body))))
        head = http.send(h11.Response(status_code=response.status, headers=headers)) or b""
        if reply.truncate:
            conn.sendall(head + response.body[: len(response.body) // 2])
            return False
        data = http.send(h11.Data(data=response.body)) if response.body else b""
        end = http.send(h11.EndOfMessage()) or b""
        conn.sendall(head + (data or b"") + end)
        return True
