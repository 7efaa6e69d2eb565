"""tastytrade over ``requests``: a synchronous transport for tastytrade-proto.

It moves bytes and waits; every call, flow, retry and error mapping lives in
:mod:`tastytrade_proto` (the calls in :class:`tastytrade_proto.sessions.SyncSession`).
"""

from __future__ import annotations

import functools
import os
import random
import signal
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import NewConnectionError

from tastytrade_proto import Ask, LocalProtocolError, TransportError, TransportTimeout
from tastytrade_proto.protocol import Operation, Request, Response, drive
from tastytrade_proto.sessions import SyncSession
from tastytrade_proto.streaming.feed import SyncRuntime

from ._websocket import WebSocket, open_websocket

__all__ = ["Session", "WebSocket"]

T = TypeVar("T")


# Whether bytes of the request being sent in this thread may have reached the socket:
# None when nothing of ours saw it (a client of yours, with adapters of its own), False
# while our adapter sends and nothing of the request went out yet, True from the moment
# our connection writes the request (not the proxy's CONNECT, not the TLS handshake).
_progress = threading.local()


class _Tracked:
    """A urllib3 connection that notes when it starts writing a request (see ``_progress``)."""

    _writing = False

    def connect(self) -> None:
        self._writing = False  # a CONNECT to a proxy goes through send() too: not the request
        super().connect()  # type: ignore[misc]

    def putrequest(self, *args: Any, **kwargs: Any) -> None:
        self._writing = True  # buffers the request line only: the first send() writes it
        super().putrequest(*args, **kwargs)  # type: ignore[misc]

    def send(self, data: Any) -> None:
        writing = self._writing
        if getattr(self, "sock", None) is None:  # plain HTTP connects on its first write
            self.connect()
        if writing:
            _progress.sent = True
        super().send(data)  # type: ignore[misc]


class _TrackedHTTP(_Tracked, urllib3.connection.HTTPConnection):
    pass


class _TrackedHTTPS(_Tracked, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _TrackedHTTP


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPS


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(HTTPAdapter):
    """The adapter of the client a session creates.

    HTTPS (direct, through a proxy's tunnel, and TLS to an ``https://`` proxy) uses the
    session's one ``ssl.SSLContext``, as the other transports do: its trust store and its
    checks, never requests' certifi bundle (requests would load it into the context on
    every connection). Its connections note when the request starts to go out, so that a
    failure before that (connecting, TLS, a proxy's refusal) is known not to have sent it.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        kwargs["proxy_ssl_context"] = self._context
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # The context decides what is trusted and whether it is checked.
        conn.cert_reqs = self._context.verify_mode
        conn.ca_certs = conn.ca_cert_dir = None

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        _progress.sent = False
        return super().send(request, *args, **kwargs)


def _system_tls(verify: bool) -> ssl.SSLContext:
    """The system's trust store (``ssl.create_default_context()``), made once for each place
    the system's store is (``SSL_CERT_FILE``/``SSL_CERT_DIR`` set later are honoured)."""
    paths = ssl.get_default_verify_paths()
    return _system_tls_at(verify, paths.cafile, paths.capath)


@functools.lru_cache(maxsize=4)
def _system_tls_at(verify: bool, cafile: str | None, capath: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:  # only when explicitly asked
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def _tls_context(settings: Any, given: ssl.SSLContext | None) -> ssl.SSLContext:
    """The one TLS context of a session, made as in the other transports: ``ssl_context``;
    else ``ca_bundle`` alone; else the system's trust store (unchecked with ``verify=False``)."""
    if given is not None:
        return given
    ca_bundle = settings.ca_bundle
    if ca_bundle is None:
        return _system_tls(bool(settings.verify))
    try:  # read now: not as a raw OSError at the first call
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise LocalProtocolError(
            f"ca_bundle {ca_bundle!r} cannot be used: {getattr(exc, 'strerror', None) or exc}"
        ) from None


def _nothing_sent(error: BaseException) -> bool:
    """For a client of yours (its own adapters): whether ``error`` shows that nothing of
    the request reached the server: no connection, a proxy's refusal, a certificate refused
    (checked in the TLS handshake, before any request)."""
    return (
        _caused_by(error, NewConnectionError)
        or _caused_by(error, urllib3.exceptions.ProxyError)
        or _caused_by(error, ssl.SSLCertVerificationError)  # also ssl.CertificateError
    )


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is among the errors urllib3 wrapped into ``error``."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None or isinstance(seen, kind):
            return seen is not None
        inner = getattr(seen, "reason", None) or (seen.args[0] if seen.args else None)
        seen = inner if isinstance(inner, BaseException) else seen.__cause__
    return False


def _finish_despite_interrupts(work: Callable[[], T]) -> tuple[T, BaseException | None]:
    """The :data:`~tastytrade_proto.protocol.operation.Shield` of a synchronous session.

    Only the main thread is ever interrupted (by a signal: Ctrl-C's
    ``KeyboardInterrupt``). There, while ``work`` sends and the core takes the
    answer in, ``SIGINT`` is only noted; then the handler it would have run is
    run, and what it raises is handed back to be raised. The send's own
    timeout bounds the wait.
    """
    if threading.current_thread() is not threading.main_thread():
        return work(), None
    noted: list[Any] = []
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):  # ignored, or the OS default: nothing Python would raise
        return work(), None
    signal.signal(signal.SIGINT, lambda signum, frame: noted.append(frame))
    try:
        outcome = work()
    finally:
        signal.signal(signal.SIGINT, previous)
    if noted:
        try:
            previous(signal.SIGINT, noted[0])
        except BaseException as exc:  # KeyboardInterrupt, as a rule
            return outcome, exc
    return outcome, None


def _retries(client: requests.Session) -> bool:
    for adapter in client.adapters.values():
        policy = getattr(adapter, "max_retries", None)
        if policy is not None and policy.total not in (0, False):
            return True
    return False


@functools.lru_cache(maxsize=32)
def _total(seconds: float) -> urllib3.Timeout:
    """urllib3's timeout for a whole request (made once per value: it is a hot path)."""
    return urllib3.Timeout(total=seconds)


class _PastDeadline(Exception):
    """The answer's body did not arrive before the request's deadline."""


def urlsplit_host(url: str) -> str:
    """``host:port`` of an absolute URL, for messages (any ``user:password@`` left out)."""
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0].rpartition("@")[2]


def _read_by(reply: requests.Response, deadline: float) -> bytes:
    """The whole body of a streamed ``reply``, each socket read bounded by ``deadline``."""
    raw = reply.raw
    if not isinstance(raw, urllib3.response.BaseHTTPResponse):  # an adapter of yours: its way
        return reply.content
    connection = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    # read1 (urllib3 2.2+) returns after one socket read; read would wait for the whole chunk.
    read = raw.read1 if hasattr(raw, "read1") else raw.read
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _PastDeadline("")
        if sock is not None:
            try:
                # urllib3 set it to what was left when the head was awaited: lower it only
                # once it would let a read run past the deadline (settimeout is a syscall).
                current = sock.gettimeout()
                if current is None or current > left:
                    sock.settimeout(left)
            except OSError:
                sock = None  # closed under us: the read below says how
        try:
            chunk = read(65536, decode_content=True)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
            raise _PastDeadline(str(exc)) from None
        except urllib3.exceptions.HTTPError as exc:
            # As requests itself maps a failure while reading the body.
            if isinstance(exc, urllib3.exceptions.ProtocolError):
                raise requests.ConnectionError(exc) from None
            if isinstance(exc, urllib3.exceptions.DecodeError):
                raise requests.exceptions.ContentDecodingError(exc) from None
            raise requests.RequestException(exc) from None
        except OSError as exc:
            raise requests.ConnectionError(exc) from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _start_pump(pump: Callable[[], None]) -> threading.Thread:
    # A daemon, so a program that forgets to close a stream can still exit; closing joins it.
    thread = threading.Thread(target=pump, name="tastytrade-stream", daemon=True)
    thread.start()
    return thread


class Session(SyncSession):
    """A tastytrade session over a ``requests.Session`` (created, or yours via ``client``).

    Where: ``environment``, ``base_url`` (a proxy, the fake server) or
    ``certification=True``; production by default. ``timeout`` in seconds;
    ``proxy`` an ``http://host:port`` URL; TLS is verified unless
    ``verify=False`` is given, against the system's trust store
    (``ssl.create_default_context()``, as in the other transports), or
    ``ca_bundle`` (a PEM path), or as ``ssl_context`` says. ``timeout`` is a
    deadline for each whole request, from connecting to the last byte of the
    answer, as in the other transports (not requests' own connect-and-each-read).
    A ``client`` of yours must not retry on its own (the core decides every
    retry) and keeps its own TLS settings. Any number of threads may share one
    session: calls into the core are serialised, sends run in parallel, and one
    token renewal serves them all.
    ``token_store`` receives each new token the moment it arrives;
    ``prompt`` answers a second-factor :class:`~tastytrade_proto.Ask`
    (``lambda ask: input("code: ")`` will do), so that logins ask instead of
    raising ``SecondFactorRequired``. Other keywords are those of
    :class:`~tastytrade_proto.sessions.SyncSession`. As a context manager it
    logs out on exit.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        client: requests.Session | None = None,
        prompt: Callable[[Ask], str] | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(prompt=prompt, jitter=random.random, entropy=os.urandom, **settings)
        if client is not None and ssl_context is not None:
            raise LocalProtocolError(
                "give ssl_context or client, not both: set TLS up on your client"
            )
        if client is not None and _retries(client):
            raise LocalProtocolError(
                "the client retries on its own (an adapter's max_retries); an order must never "
                "be sent twice, so the core alone decides retries: use max_retries=0"
            )
        self._owns_client = client is None
        self._http = client if client is not None else requests.Session()
        if client is None:
            # No ~/.netrc password replacing our Authorization header, no proxy or CA
            # bundle from the environment: the same behaviour as the other transports.
            self._http.trust_env = False
        # One TLS context, made as the other transports make theirs (the system's trust
        # store unless ca_bundle or ssl_context say otherwise): the client this session
        # creates uses it for HTTPS, and every websocket does.
        self._tls = _tls_context(self.settings, ssl_context)
        if client is None:
            adapter = _Adapter(self._tls)
            self._http.mount("https://", adapter)
            self._http.mount("http://", adapter)
            self._verify: bool | str = self._tls.verify_mode != ssl.CERT_NONE
        else:  # a client of yours keeps its own TLS settings, told ca_bundle and verify
            self._verify = self.settings.ca_bundle or self.settings.verify
        proxy = self.settings.proxy
        self._proxies = {"http": proxy, "https": proxy} if proxy else None
        # Held around every call into the core (never around a send or a sleep), so that
        # threads sharing this session see one session machine, one refresh at a time.
        # Reentrant: a token_store that calls back into the session must not deadlock.
        self._lock = threading.RLock()
        self.core_lock = self._lock

    def run(self, operation: Operation[T]) -> T:
        """Drive any core operation to its end over this session's connection."""
        return drive(
            operation,
            self.timed(operation, self._send),
            clock=time.time,
            sleep=time.sleep,
            ask=self.prompt,
            shield=_finish_despite_interrupts,
            lock=self._lock,
        )

    def _send(self, request: Request, timeout: float | None = None) -> Response:
        seconds = self.settings.timeout if timeout is None else timeout
        deadline = time.monotonic() + seconds
        reply: requests.Response | None = None
        _progress.sent = None
        try:
            settings = self._http.merge_environment_settings(
                request.url, self._proxies or {}, True, self._verify, None
            )
            reply = self._http.send(
                self._prepare(request),
                # urllib3's total covers the connect and the wait for the head; the body is
                # read below against the same deadline.
                timeout=_total(seconds),
                allow_redirects=False,
                **settings,
            )
            body = _read_by(reply, deadline)
            if self._http.hooks.get("response"):
                # A client of yours lends its response hooks; they see the whole answer.
                reply._content, reply._content_consumed = body, True
                reply = requests.hooks.dispatch_hook("response", self._http.hooks, reply)
        except requests.ConnectTimeout as exc:
            raise TransportTimeout(f"connect timed out: {exc}", request_sent=False) from None
        except (requests.Timeout, _PastDeadline) as exc:
            message = f"{request.method} {urlsplit_host(request.url)}: no answer within {seconds} s"
            message = f"{message} ({exc})" if str(exc) else message
            raise TransportTimeout(message, request_sent=self._sent(exc)) from None
        except requests.RequestException as exc:
            message = f"{type(exc).__name__}: {exc}"
            raise TransportError(message, request_sent=self._sent(exc)) from None
        finally:
            if reply is not None:  # back to the pool when read to the end, else closed
                reply.close()
        return Response(reply.status_code, tuple(reply.headers.items()), body)

    @staticmethod
    def _sent(error: BaseException) -> bool:
        """Whether bytes of the request may have reached the server before ``error``."""
        sent: bool | None = getattr(_progress, "sent", None)
        if sent is None:  # not our adapter's connection: what the error says
            return not _nothing_sent(error)
        return sent

    def _prepare(self, request: Request) -> requests.PreparedRequest:
        # What requests.Session.request would send, made without its per-call merging (about
        # 90 µs of a loopback call's 1 ms): the core's URL is complete and already encoded, its
        # headers are checked, and no auth, .netrc or session params apply. The client's own
        # headers (overridden by ours), cookies and response hooks still do.
        http, prepared = self._http, requests.PreparedRequest()
        prepared.method = request.method
        prepared.url = request.url
        headers = CaseInsensitiveDict(http.headers)
        headers.update(request.headers)
        prepared.prepare_headers({k: v for k, v in headers.items() if v is not None})
        prepared.prepare_body(request.body or None, None)  # Content-Length, as requests sets it
        prepared.prepare_cookies(http.cookies)
        # No hooks here: requests would run them before the streamed body is read, and a hook
        # reading reply.text would take the body away. _send runs them once it has the body.
        return prepared

    def streaming_runtime(self) -> SyncRuntime:
        """Threads for :meth:`market_stream`: its pump runs in a daemon thread of its own."""
        return SyncRuntime(
            clock=time.time,
            open_websocket=self.open_websocket,
            condition=threading.Condition,
            start=_start_pump,
            current=threading.get_ident,
        )

    def open_websocket(
        self,
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        timeout: float | None = None,
    ) -> WebSocket:
        """Open a websocket (``ws://`` or ``wss://``), for a streaming feed.

        It has this session's TLS settings (``ssl_context``; else ``ca_bundle``, else the
        system's trust store; ``verify=False``), as HTTP has, its ``proxy``
        (a CONNECT tunnel) and its ``User-Agent`` (unless ``headers`` has one);
        ``timeout`` (the session's by default) bounds connecting, TLS and the upgrade,
        each send, and :meth:`WebSocket.close`. A ``client`` of yours lends nothing to
        it: its adapters are for HTTP. Raises ``TransportError``.
        """
        if not any(name.lower() == "user-agent" for name, _ in headers):
            headers = [("User-Agent", self.settings.user_agent), *headers]
        proxy = self.settings.proxy
        return open_websocket(
            url,
            headers,
            self.settings.timeout if timeout is None else timeout,
            context=self._websocket_tls(),
            proxy=urlsplit(proxy) if proxy else None,
        )

    def _websocket_tls(self) -> ssl.SSLContext:
        return self._tls

    def close(self) -> None:
        """Close the ``requests.Session`` if this session created it."""
        if self._owns_client:
            self._http.close()
