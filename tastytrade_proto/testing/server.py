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

The same port serves DXLink market data over a websocket (``ws://`` or, with
TLS, ``wss://``; :attr:`FakeTastytradeServer.dxlink_url`, which
``GET /api-quote-tokens`` hands out): an upgrade request on any path is
accepted with wsproto and handed to a
:class:`~tastytrade_proto.testing.fake.dxlink.FakeDXLinkConnection`, one thread
per connection, its timers on wall time and its prices on the fake's clock.
An upgrade on a path ending in ``/account-streamer``
(:attr:`FakeTastytradeServer.account_streamer_url`) gets the account streamer
instead: a
:class:`~tastytrade_proto.testing.fake.account_streamer.FakeAccountStreamerConnection`,
whose thread also brings the connected accounts' orders up to the fake's clock
at every step.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import h11
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    TextMessage,
)
from wsproto.events import Request as WSRequest
from wsproto.utilities import LocalProtocolError as WSLocalError
from wsproto.utilities import RemoteProtocolError as WSProtocolError

from ..protocol.http import Environment, Request, Response
from .fake import (
    FakeAccountStreamerConnection,
    FakeDXLinkConnection,
    FakeTastytradeAPI,
    RecordedMessage,
    Reply,
    admin,
)
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
        self._api_lock = self.api.lock  # the same lock the fake's admin methods take
        self._stopping = threading.Event()
        self._server_context: ssl.SSLContext | None = None
        self._ca_file: Path | None = None
        self.port = 0
        #: How many connections were accepted (a keep-alive client makes one).
        self.accepted = 0
        #: Longest a websocket thread waits before looking at the fake again (new marks, a
        #: moved clock, an injected fault): the fake has no way to say it changed.
        self.stream_poll_interval = 0.02
        self._stream_changed = threading.Condition()
        self._websocket_threads: set[threading.Thread] = set()

    # -- where it is -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http(s)://127.0.0.1:<port>``."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def dxlink_url(self) -> str:
        """``ws(s)://127.0.0.1:<port>/dxlink``: the fake's DXLink market-data websocket."""
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}/dxlink"

    @property
    def account_streamer_url(self) -> str:
        """``ws(s)://127.0.0.1:<port>/account-streamer``: the fake's account streamer (any
        path ending in ``/account-streamer`` works, so a base URL's path prefix does too)."""
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}/account-streamer"

    @property
    def websockets(self) -> int:
        """How many websocket connections are open now."""
        with self._lock:
            return len(self._websocket_threads)

    def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> bool:
        """Wait until ``predicate()`` is true; False if ``timeout`` seconds pass first.

        It is checked now and after every step of every websocket connection, with
        the fake locked, so it may read ``api.stream_messages`` or a fault's ``hits``.
        """
        deadline = time.monotonic() + timeout
        with self._stream_changed:
            while True:
                with self._api_lock:
                    if predicate():
                        return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._stream_changed.wait(remaining)

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
        with self._api_lock:
            self.api.dxlink_url = self.dxlink_url  # what /api-quote-tokens hands out
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
        # Websockets see the flag within a poll and close with 1001; give them that long,
        # then cut whatever is left (a client that stopped reading, say).
        with self._lock:
            websockets = list(self._websocket_threads)
        grace = time.monotonic() + 10 * self.stream_poll_interval + 0.2
        for thread in websockets:
            thread.join(max(0.0, grace - time.monotonic()))
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
        except (OSError, ssl.SSLError, h11.ProtocolError, WSLocalError, WSProtocolError):
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
            if _is_upgrade(request):
                self._upgrade(conn, http, request)
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

    # -- websockets ------------------------------------------------------------------

    def _upgrade(self, conn: socket.socket, http: h11.Connection, request: Request) -> None:
        """Answer a websocket upgrade: an injected HTTP fault, or DXLink until either side ends."""
        with self._api_lock:
            answer = self.api.upgrade(request)
        if answer is not None and answer.response.status != 101:
            if answer.delay and self._stopping.wait(answer.delay):
                return
            self._write_reply(conn, http, answer)  # h11 declines the switch for us
            return
        if answer is not None and answer.delay and self._stopping.wait(answer.delay):
            return
        parts = urlsplit(request.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        head = f"{request.method} {target} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in request.headers
        )
        trailing, _ = http.trailing_data  # whatever the client sent after its request
        ws = WSConnection(ConnectionType.SERVER)
        try:
            ws.receive_data(head.encode("latin-1") + b"\r\n" + trailing)
            events = list(ws.events())
        except WSProtocolError as exc:
            if exc.event_hint is not None:
                with contextlib.suppress(Exception):
                    conn.sendall(ws.send(exc.event_hint))
            return
        if not events or not isinstance(events[0], WSRequest):
            return
        conn.sendall(ws.send(AcceptConnection()))
        with self._lock:
            self._websocket_threads.add(threading.current_thread())
        machine: FakeDXLinkConnection | FakeAccountStreamerConnection | None = None
        try:
            with self._api_lock:
                if parts.path.endswith("/account-streamer"):
                    machine = FakeAccountStreamerConnection(self.api, time.time())
                else:
                    machine = FakeDXLinkConnection(self.api, time.time())
            self._websocket_loop(conn, ws, machine)
        finally:
            if isinstance(machine, FakeAccountStreamerConnection):
                with self._api_lock:
                    machine.connection_lost()
            with self._lock:
                self._websocket_threads.discard(threading.current_thread())
            with self._stream_changed:
                self._stream_changed.notify_all()

    def _websocket_loop(
        self,
        conn: socket.socket,
        ws: WSConnection,
        machine: FakeDXLinkConnection | FakeAccountStreamerConnection,
    ) -> None:
        pieces: list[str] = []
        while True:
            with self._api_lock:
                out, closed = machine.messages_to_send(), machine.closed
                deadline = machine.next_deadline()
            with self._stream_changed:
                self._stream_changed.notify_all()
            for text in out:
                conn.sendall(ws.send(TextMessage(data=text)))
            if closed is not None:
                code, reason = closed
                if code != 1006:  # 1006: dropped, no close frame
                    conn.sendall(ws.send(CloseConnection(code=code, reason=reason)))
                    self._await_close(conn, ws)
                return
            if self._stopping.is_set():
                with self._api_lock:
                    if isinstance(machine, FakeAccountStreamerConnection):
                        machine.stop(1001, "Server is stopping")
                    else:
                        self.api.stream_messages.append(
                            RecordedMessage(
                                machine.id, "close", "1001 Server is stopping", self.api.clock()
                            )
                        )
                conn.sendall(ws.send(CloseConnection(code=1001, reason="Server is stopping")))
                return
            wait = self.stream_poll_interval
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - time.time()))
            conn.settimeout(wait)
            try:
                data: bytes | None = conn.recv(65536)
            except TimeoutError:
                data = None
            finally:
                conn.settimeout(None)
            if data == b"":
                return  # the client went away without a close frame
            received: list[str] = []
            if data:
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, TextMessage | BytesMessage):
                        chunk = event.data  # DXLink is text; bytes go to the fake to refuse
                        if not isinstance(chunk, str):
                            chunk = bytes(chunk).decode("utf-8", "replace")
                        pieces.append(chunk)
                        if event.message_finished:
                            received.append("".join(pieces))
                            pieces = []
                    elif isinstance(event, Ping):
                        conn.sendall(ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        conn.sendall(ws.send(event.response()))
                        return
            now = time.time()
            with self._api_lock:
                for text in received:
                    machine.receive(text, now)
                machine.handle_timer(now)

    def _await_close(self, conn: socket.socket, ws: WSConnection) -> None:
        """After our close frame, read briefly for the client's (or its hanging up)."""
        deadline = time.monotonic() + 1.0
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            conn.settimeout(min(remaining, self.stream_poll_interval))
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return
            ws.receive_data(data)
            if any(isinstance(event, CloseConnection) for event in ws.events()):
                return


def _is_upgrade(request: Request) -> bool:
    """Whether ``request`` asks to become a websocket."""
    upgrade = (request.header("upgrade") or "").lower()
    return request.method == "GET" and "websocket" in upgrade
