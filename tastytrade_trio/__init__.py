"""tastytrade over trio: HTTP/1.1 (h11) on trio TCP/TLS streams; the protocol is the core's."""

from __future__ import annotations

import base64
import contextlib
import contextvars
import functools
import os
import random
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import SplitResult, unquote, urlsplit

import h11
import trio

from tastytrade_proto.errors import LocalProtocolError, TransportError, TransportTimeout
from tastytrade_proto.protocol.http import Request, Response
from tastytrade_proto.protocol.operation import Ask, Operation, drive_async
from tastytrade_proto.protocol.websocket import WebSocketConnection, split_websocket_url
from tastytrade_proto.sessions import AsyncSession
from tastytrade_proto.streaming.feed import AsyncRuntime

from ._http import Heads, HTTPConnection
from ._websocket import WebSocket

__all__ = ["ConnectionPool", "Session", "WebSocket"]

T = TypeVar("T")
_Key = tuple[str, str, str | None, object]  # scheme, host:port, proxy, TLS settings


@dataclass
class _Connection:
    stream: trio.abc.Stream
    http: HTTPConnection
    socket: trio.socket.SocketType  # the TCP socket underneath, to spot a closed idle one


async def _close(stream: trio.abc.AsyncResource) -> None:
    with trio.CancelScope(shield=True):  # closes at once, even in a cancelled task
        await trio.aclose_forcefully(stream)


def _port(url: SplitResult) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


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


@trio.lowlevel.enable_ki_protection
async def _finish_shielded(
    attempt: Awaitable[Response | TransportError],
) -> tuple[Response | TransportError, BaseException | None]:
    """The :data:`~tastytrade_proto.protocol.operation.AsyncShield` for trio.

    The send runs as a system task of its own (its own deadline still bounds it):
    neither a cancellation nor Ctrl-C can abort it, since trio delivers
    ``KeyboardInterrupt`` to the main task by aborting whatever it waits on, shielded
    or not. This task waits for it in a shielded scope, holding any
    ``KeyboardInterrupt`` and any cancellation that arrives meanwhile, and hands them
    back to be raised once the answer is with the core, as under asyncio.
    """
    finished = trio.Event()
    box: list[Any] = []

    async def send() -> None:
        try:
            box.append(await attempt)
        except BaseException as exc:  # a bug, or the run ending: raised in the caller
            box.append(exc)
        finally:
            finished.set()

    trio.lowlevel.spawn_system_task(send, context=contextvars.copy_context())
    held: BaseException | None = None
    while not finished.is_set():
        try:
            with trio.CancelScope(shield=True):
                await finished.wait()
        except KeyboardInterrupt as exc:
            held = held or exc
    try:
        await trio.lowlevel.checkpoint()
    except trio.Cancelled as cancelled:
        held = held or cancelled
    except KeyboardInterrupt as exc:
        held = held or exc
    outcome = box[0]
    if isinstance(outcome, (Response, TransportError)):
        return outcome, held
    raise outcome


class ConnectionPool:
    """Keep-alive connections, by destination; pass one as ``client`` to share it.

    At most ``max_per_host`` connections to one destination are open at a time (as
    aiohttp's connector allows 100): a request that finds them all busy waits for one,
    within its timeout. Up to ``max_idle_per_host`` (by default all of them) are kept
    open between requests.
    """

    def __init__(self, *, max_per_host: int = 100, max_idle_per_host: int | None = None) -> None:
        if max_per_host < 1:
            raise ValueError(f"max_per_host must be at least 1, not {max_per_host}")
        self._idle: dict[_Key, list[_Connection]] = {}
        self._slots: dict[_Key, trio.Semaphore] = {}  # one a connection in use
        self._limit = max_per_host
        idle = max_per_host if max_idle_per_host is None else max_idle_per_host
        self._max = max(0, min(idle, max_per_host))
        self._closed = False

    def _slot(self, key: _Key) -> trio.Semaphore:
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = trio.Semaphore(self._limit)
        return slots

    def _keep(self, key: _Key, conn: _Connection) -> bool:  # False: no room, close it
        idle = self._idle.setdefault(key, [])
        if self._closed or len(idle) >= self._max:
            return False
        idle.append(conn)
        return True

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when they finish."""
        self._closed, idle, self._idle = True, self._idle, {}
        for conn in (conn for conns in idle.values() for conn in conns):
            await _close(conn.stream)


async def _tunnel(stream: trio.abc.Stream, proxy: SplitResult, host: str, port: int) -> None:
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    http = h11.Connection(h11.CLIENT)
    headers = [("host", target)]
    if proxy.username is not None:  # the credentials in the proxy URL, as requests sends them
        pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
        headers.append(("proxy-authorization", "Basic " + base64.b64encode(pair).decode()))
    head = h11.Request(method="CONNECT", target=target, headers=headers)
    await stream.send_all(http.send(head) + (http.send(h11.EndOfMessage()) or b""))
    try:
        while (event := http.next_event()) is h11.NEED_DATA:
            http.receive_data(bytes(await stream.receive_some(65536)))
    except h11.RemoteProtocolError as exc:
        message = f"proxy {proxy.hostname}:{_port(proxy)} broke off CONNECT {target}: {exc}"
        raise TransportError(message, request_sent=False) from None
    if not (isinstance(event, h11.Response) and 200 <= event.status_code < 300):
        answer = getattr(event, "status_code", event)  # a 1xx, or an early close
        message = f"proxy {proxy.hostname}:{_port(proxy)} refused CONNECT {target}: HTTP {answer}"
        raise TransportError(message, request_sent=False)


@contextlib.asynccontextmanager
async def _in_background(pump: Callable[[], Awaitable[None]]) -> AsyncIterator[None]:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pump)
        try:
            yield
        finally:
            nursery.cancel_scope.cancel()


async def _wait_for_event(event: trio.Event, seconds: float | None) -> None:
    with trio.move_on_after(float("inf") if seconds is None else seconds):
        await event.wait()


class Session(AsyncSession):
    """A tastytrade session over trio streams; ``async with`` logs out on exit.

    Settings as for :class:`~tastytrade_proto.sessions.AsyncSession` (and
    ``tastytrade_requests.Session``), plus ``ssl_context``, ``client`` (a
    :class:`ConnectionPool` to share) and an async ``prompt``; ``proxy`` is
    reached with an HTTP CONNECT tunnel.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        client: ConnectionPool | None = None,
        prompt: Callable[[Ask], Awaitable[str]] | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(prompt=prompt, jitter=random.random, entropy=os.urandom, **settings)
        self._pool, self._owns_pool = client or ConnectionPool(), client is None
        self._tls = _tls_context(self.settings, ssl_context)
        self._tls_key: object = ssl_context or (self.settings.verify, self.settings.ca_bundle)
        proxy = self.settings.proxy
        self._proxy = urlsplit(proxy) if proxy else None
        # Each origin's parsed URL and pool key, and each request's head, worked out once:
        # the hot path is per request.
        self._destinations: dict[str, tuple[SplitResult, str, _Key]] = {}
        self._heads = Heads()

    async def run(self, operation: Operation[T]) -> T:
        """Drive any core operation to its end over this session's connections."""
        return await drive_async(
            operation,
            self.timed(operation, self._send),
            clock=time.time,
            sleep=trio.sleep,
            ask=self.prompt,
            shield=_finish_shielded,
        )

    async def _connect(self, url: SplitResult) -> _Connection:
        via, host = self._proxy, url.hostname or ""
        hop = via or url  # the first hop: the proxy, or the server itself
        tcp = await trio.open_tcp_stream(hop.hostname or "", _port(hop))
        stream: trio.abc.Stream = tcp
        try:
            if via is not None:
                if via.scheme == "https":  # TLS to the proxy, then TLS inside the tunnel
                    stream = trio.SSLStream(stream, self._tls, server_hostname=via.hostname)
                    await stream.do_handshake()
                await _tunnel(stream, via, host, _port(url))
            if url.scheme == "https":
                stream = trio.SSLStream(
                    stream, self._tls, server_hostname=host, https_compatible=True
                )
                await stream.do_handshake()
        except BaseException:
            await _close(stream)
            raise
        return _Connection(stream, HTTPConnection(), tcp.socket)

    def _destination(self, request: Request) -> tuple[SplitResult, str, _Key]:
        end = request.url.find("/", 8)  # after "https://" and the host's first character
        origin = request.url if end < 0 else request.url[:end]  # scheme://host[:port]
        found = self._destinations.get(origin)
        if found is None:
            url = urlsplit(origin)
            where = f"{url.hostname}:{_port(url)}"
            found = (url, where, (url.scheme, where, self.settings.proxy, self._tls_key))
            self._destinations[origin] = found
        return found

    async def _send(self, request: Request, timeout: float | None = None) -> Response:
        url, where, key = self._destination(request)
        if timeout is None:
            timeout = self.settings.timeout
        head = self._heads(request)  # LocalProtocolError before anything is sent
        pool = self._pool
        slots = pool._slot(key)
        held = False
        conn: _Connection | None = None
        response: Response | None = None
        sent = False
        try:
            # A bare cancel scope: trio.fail_after is two context-manager generators deep,
            # a measurable share of a loopback request (docs/performance.md).
            with trio.CancelScope(deadline=trio.current_time() + timeout) as deadline:
                try:  # a connection of our own to the destination, or a wait for one
                    slots.acquire_nowait()
                except trio.WouldBlock:
                    await slots.acquire()
                held = True
                idle = pool._idle.get(key)
                while idle:
                    conn = idle.pop()
                    if not conn.socket.is_readable():  # an idle socket is readable only at EOF
                        break
                    await _close(conn.stream)
                    conn = None
                if conn is None:
                    conn = await self._connect(url)
                http = conn.http
                data = http.send_request(head, request.body)
                sent = True
                try:
                    await conn.stream.send_all(data)
                except BaseException:
                    http.send_failed()
                    raise
                while (response := http.next_response()) is None:
                    http.receive_data(bytes(await conn.stream.receive_some(65536)))
            if deadline.cancelled_caught or conn is None or response is None:
                raise trio.TooSlowError
            if conn.http.start_next_cycle() and pool._keep(key, conn):
                conn = None  # the pool has it now
            return response
        except trio.TooSlowError:
            message = f"{request.method} {where}: no answer within {timeout} s"
            raise TransportTimeout(message, request_sent=sent) from None
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            # ssl.SSLError and ssl.CertificateError are OSErrors; SSLStream hides them as causes.
            why = exc.__cause__ if isinstance(exc, trio.BrokenResourceError) else None
            message = f"{where}: {type(why or exc).__name__}: {why or exc}"
            raise TransportError(message, request_sent=sent) from None
        finally:
            if conn is not None:  # failed, cancelled or not reusable: never back in the pool
                await _close(conn.stream)
            if held:  # after closing: never more open than the pool allows
                slots.release()

    def streaming_runtime(self) -> AsyncRuntime:
        """trio for :meth:`market_stream`: its pump runs in a nursery, cancelled on close."""
        return AsyncRuntime(
            clock=time.time,
            open_websocket=self.open_websocket,
            sleep=trio.sleep,
            event=trio.Event,
            lock=trio.Lock,
            background=_in_background,
            wait=_wait_for_event,
        )

    async def open_websocket(
        self,
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        timeout: float | None = None,
    ) -> WebSocket:
        """Open a websocket (``ws://`` or ``wss://``), for a streaming feed.

        The connection is made as for a request (TCP, the ``proxy``'s CONNECT tunnel,
        this session's TLS) but is its own, never the pool's; the upgrade carries the
        ``User-Agent`` (unless ``headers`` has one). ``timeout`` (the session's by
        default) bounds the opening, each send and :meth:`WebSocket.close`. Raises
        ``TransportError``.
        """
        if not any(name.lower() == "user-agent" for name, _ in headers):
            headers = [("User-Agent", self.settings.user_agent), *headers]
        limit = self.settings.timeout if timeout is None else timeout
        where = split_websocket_url(url)
        host = f"[{where.host}]" if ":" in where.host else where.host
        origin = urlsplit(f"{'https' if where.secure else 'http'}://{host}:{where.port}")
        shown = f"{where.host}:{where.port}"
        stream: trio.abc.Stream | None = None
        sent = False
        try:
            with trio.fail_after(limit):
                stream = (await self._connect(origin)).stream
                conn = WebSocketConnection(where.authority, where.target, headers)
                sent = True
                await stream.send_all(conn.handshake())
                while not conn.accepted:
                    conn.receive_data(bytes(await stream.receive_some(65536)))
                pending = conn.data_to_send()  # a pong for a ping that came with the upgrade
                if pending:
                    await stream.send_all(pending)
            websocket, stream = WebSocket(stream, conn, limit), None
            return websocket
        except trio.TooSlowError:
            message = f"websocket {shown}: not open within {limit} s"
            raise TransportTimeout(message, request_sent=sent) from None
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            why = exc.__cause__ if isinstance(exc, trio.BrokenResourceError) else None
            message = f"websocket {shown}: {type(why or exc).__name__}: {why or exc}"
            raise TransportError(message, request_sent=sent) from None
        finally:
            if stream is not None:  # failed or cancelled: closed, shielded
                await _close(stream)

    async def close(self) -> None:
        """Close the connection pool if this session created it."""
        if self._owns_pool:
            await self._pool.aclose()

    aclose = close
