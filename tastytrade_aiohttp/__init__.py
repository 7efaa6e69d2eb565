"""tastytrade over ``aiohttp``: an asyncio transport for tastytrade-proto.

It moves bytes and waits; every call, flow, retry and error mapping lives in
:mod:`tastytrade_proto` (the calls in :class:`tastytrade_proto.sessions.AsyncSession`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import ssl
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from tastytrade_proto import Ask, LocalProtocolError, TransportError, TransportTimeout
from tastytrade_proto.protocol import Operation, Request, Response, drive_async
from tastytrade_proto.sessions import AsyncSession
from tastytrade_proto.streaming.feed import AsyncRuntime

from ._websocket import WebSocket, open_websocket

__all__ = ["Session", "WebSocket"]

T = TypeVar("T")

# aiohttp's own ``Accept: */*``, ``User-Agent`` and bodiless-POST ``Content-Type``: not sent.
_NO_AUTO_HEADERS = ("Accept", "Content-Type", "User-Agent")


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


class _Connector(aiohttp.TCPConnector):
    """Remembers its transports, so that closing can abort those still closing.

    aiohttp closes a failed connection politely and asyncio then waits up to
    30 s for the server's TLS goodbye, which a hung server (the usual reason
    for a timeout) does not send: the socket would outlive the session.
    """

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.get_running_loop()
        self.transports: weakref.WeakSet[asyncio.Transport] = weakref.WeakSet()

    async def _create_connection(self, *args: Any, **kwargs: Any) -> Any:
        handler = await super()._create_connection(*args, **kwargs)
        if handler.transport is not None:
            self.transports.add(handler.transport)
        return handler

    def abort_all(self) -> None:
        """Abort every transport still open (after ``close``: those saying goodbye)."""
        if not self.loop.is_closed():
            for transport in list(self.transports):
                transport.abort()


def _no_silent_resend(http: aiohttp.ClientSession) -> None:
    """aiohttp resends a GET, PUT or DELETE once when a kept-alive connection dropped:
    a cancelled or replaced order would go out twice. Retries are the core's to decide.

    The switch (``_retry_connection``) first appears in aiohttp 3.11; without it the
    resend cannot be turned off, so the session refuses to send anything.
    """
    if not hasattr(http, "_retry_connection"):
        raise LocalProtocolError(
            f"aiohttp {aiohttp.__version__} resends a PUT or DELETE (an order replace or "
            "cancel) by itself when a kept-alive connection drops, and cannot be told not "
            "to; tastytrade_aiohttp needs aiohttp>=3.11"
        )
    http._retry_connection = False


async def _finish_shielded(
    attempt: Awaitable[Response | TransportError],
) -> tuple[Response | TransportError, BaseException | None]:
    """The :data:`~tastytrade_proto.protocol.operation.AsyncShield` for asyncio.

    The send runs as a task of its own, awaited through ``asyncio.shield`` until it
    ends; a cancellation of the caller meanwhile is held and handed back, to be
    raised once the answer is with the core. The send's timeout bounds the wait.
    """
    task = asyncio.ensure_future(attempt)
    interrupted: BaseException | None = None
    while True:
        try:
            return await asyncio.shield(task), interrupted
        except asyncio.CancelledError as exc:
            if task.cancelled():  # the send itself was cancelled (the loop is closing)
                raise
            interrupted = interrupted or exc
        except BaseException as exc:  # a bug below the transport: the cancellation still wins
            if interrupted is not None:
                raise interrupted from exc
            raise


@contextlib.asynccontextmanager
async def _in_background(pump: Callable[[], Awaitable[None]]) -> AsyncIterator[None]:
    task = asyncio.ensure_future(pump())
    try:
        yield
    finally:
        task.cancel()
        # Wait for it to end. asyncio.wait raises nothing of the task's own (the pump
        # keeps its errors for the stream's reader); a cancellation of this task while
        # waiting goes on up, and the pump, cancelled already, ends at its next step.
        await asyncio.wait({task})


async def _wait_for_event(event: asyncio.Event, seconds: float | None) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


class Session(AsyncSession):
    """A tastytrade session over an ``aiohttp.ClientSession`` (created, or yours via ``client``).

    Where: ``environment``, ``base_url`` (a proxy, the fake server) or
    ``certification=True``; production by default. ``timeout`` in seconds;
    ``proxy`` an ``http://host:port`` URL; TLS is verified unless
    ``verify=False`` is given, against ``ca_bundle`` (a PEM path) or
    ``ssl_context``. ``token_store`` receives each new token the moment it
    arrives; ``prompt``, a coroutine function, answers a second-factor
    :class:`~tastytrade_proto.Ask`, so that logins ask instead of raising
    ``SecondFactorRequired``. Other keywords are those of
    :class:`~tastytrade_proto.sessions.AsyncSession`. As an async context
    manager it logs out on exit.

    The ``aiohttp.ClientSession`` is created on the first request, inside the
    running loop, and ``close()`` closes only that one. aiohttp's silent resend
    of a GET, PUT or DELETE whose kept-alive connection dropped is turned off,
    on a ``client`` of yours too: an order must never go out twice.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        client: aiohttp.ClientSession | None = None,
        prompt: Callable[[Ask], Awaitable[str]] | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(prompt=prompt, jitter=random.random, entropy=os.urandom, **settings)
        self._given = client
        self._own: tuple[aiohttp.ClientSession, _Connector] | None = None
        self._ssl = _tls_context(self.settings, ssl_context)
        self._timeout = aiohttp.ClientTimeout(total=self.settings.timeout)

    async def run(self, operation: Operation[T]) -> T:
        """Drive any core operation to its end over this session's connection."""
        return await drive_async(
            operation,
            self.timed(operation, self._send),
            clock=time.time,
            sleep=asyncio.sleep,
            ask=self.prompt,
            shield=_finish_shielded,
        )

    def _client(self) -> aiohttp.ClientSession:
        if self._given is not None:
            _no_silent_resend(self._given)
            return self._given
        if self._own is None:  # aiohttp wants a running loop: made on first use
            connector = _Connector()
            http = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
            _no_silent_resend(http)
            self._own = (http, connector)
        return self._own[0]

    async def _send(self, request: Request, timeout: float | None = None) -> Response:
        limit = self._timeout if timeout is None else aiohttp.ClientTimeout(total=timeout)
        try:
            async with self._client().request(
                request.method,
                URL(request.url, encoded=True),
                headers=request.headers,
                data=request.body or None,
                skip_auto_headers=_NO_AUTO_HEADERS,
                allow_redirects=False,
                proxy=self.settings.proxy,
                ssl=self._ssl,
                timeout=limit,
            ) as reply:
                body = await reply.read()
        except asyncio.TimeoutError as exc:  # aiohttp >= 3.10 tells a connect timeout apart
            connecting = isinstance(exc, getattr(aiohttp, "ConnectionTimeoutError", ()))
            raise TransportTimeout(f"timed out: {exc}", request_sent=not connecting) from None
        except (aiohttp.ClientConnectorError, aiohttp.ClientHttpProxyError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}", request_sent=False) from None
        except aiohttp.ClientError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
        return Response(reply.status, tuple(reply.headers.items()), body)

    def streaming_runtime(self) -> AsyncRuntime:
        """asyncio for :meth:`market_stream`: its pump is a task, cancelled on close."""
        return AsyncRuntime(
            clock=time.time,
            open_websocket=self.open_websocket,
            sleep=asyncio.sleep,
            event=asyncio.Event,
            lock=asyncio.Lock,
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

        ``ws_connect`` on this session's ``ClientSession``, with its TLS settings, its
        ``proxy`` and its ``User-Agent`` (unless ``headers`` has one); ``timeout`` (the
        session's by default) bounds the opening, each send and :meth:`WebSocket.close`.
        aiohttp answers pings; it sends none of its own (no ``heartbeat``: DXLink has its
        keepalive). A message may be up to 16 MiB. Raises ``TransportError``.
        """
        if not any(name.lower() == "user-agent" for name, _ in headers):
            headers = [("User-Agent", self.settings.user_agent), *headers]
        return await open_websocket(
            self._client(),
            url,
            headers,
            self.settings.timeout if timeout is None else timeout,
            ssl=self._ssl,
            proxy=self.settings.proxy,
        )

    async def close(self) -> None:
        """Close the ``aiohttp.ClientSession`` if this session created it."""
        if self._own is not None:
            (http, connector), self._own = self._own, None
            await http.close()
            connector.abort_all()
