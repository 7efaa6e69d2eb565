"""What every transport's ``Session`` offers, written once: its settings and its calls.

A transport's ``Session`` subclasses :class:`SyncSession` (``tastytrade_requests``)
or :class:`AsyncSession` (``tastytrade_aiohttp``, ``tastytrade_trio``), which hold
every call once (:class:`~tastytrade_proto.api.API`) and run each through the
transport's ``run`` (usually :func:`~tastytrade_proto.protocol.drive` or
:func:`~tastytrade_proto.protocol.drive_async` with its own ``send``). The transport
adds only ``run``, ``send`` and ``close``. :class:`Operations` is the same calls as
operations, for a transport that drives them itself. Nothing here sends anything.
"""

from __future__ import annotations

import abc
import contextlib
import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._deprecation import deprecated_names
from .api import API
from .errors import TastytradeError
from .protocol.auth import AuthMachine
from .protocol.endpoint import (
    AsyncHost,
    AsyncPageIterator,
    CallContext,
    Endpoint,
    Paged,
    PageIterator,
    SyncHost,
)
from .protocol.events import TokenEvent
from .protocol.http import DEFAULT_USER_AGENT, Environment, Request
from .protocol.operation import Ask, Operation
from .protocol.retry import DEFAULT_RETRY, RetryPolicy
from .protocol.settings import DEFAULT_TIMEOUT, TransportSettings
from .streaming.account import AccountStreamConnection
from .streaming.account_stream import AccountStream, AsyncAccountStream
from .streaming.buffer import DEFAULT_CAPACITY, EventBuffer
from .streaming.dxlink import DXLinkConnection
from .streaming.feed import AsyncMarketStream, AsyncRuntime, MarketStream, SyncRuntime
from .streaming.tracking import AsyncOrderTracking, OrderTracking, tracker_for
from .values import replace

if TYPE_CHECKING:
    from .orders import (
        ComplexOrder,
        Order,
        OrderOutcomeUnknown,
        PlacedComplexOrder,
        PlacedOrder,
        UnsettledOrder,
    )

__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncSession",
    "Operations",
    "SessionBase",
    "SyncSession",
    "TransportSettings",
]

T = TypeVar("T")
R = TypeVar("R")


class Operations(CallContext, API):
    """Every call of a transport's ``Session``, as an operation to drive.

    A :class:`~tastytrade_proto.protocol.endpoint.CallContext` (settings, the
    :class:`~tastytrade_proto.protocol.auth.AuthMachine`, entropy) on which every
    endpoint of :class:`~tastytrade_proto.api.API` returns its
    :class:`~tastytrade_proto.protocol.Operation` (a paginated one, its
    :class:`~tastytrade_proto.protocol.Pager`). A session's ``calls`` is one.
    """


class SessionBase:
    """What a transport's ``Session`` shares, sync or async: settings, machine, dump/load."""

    def __init__(
        self,
        *,
        environment: Environment | None = None,
        base_url: str | None = None,
        certification: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        proxy: str | None = None,
        verify: bool = True,
        ca_bundle: str | None = None,
        token_store: Callable[[TokenEvent], None] | None = None,
        prompt: Callable[[Ask], Any] | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        accept_version: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        machine: AuthMachine | None = None,
        jitter: Callable[[], float] | None = None,
        entropy: Callable[[int], bytes] | None = None,
    ) -> None:
        if retry.jitter is None and jitter is not None:
            retry = replace(retry, jitter=jitter)
        settings = TransportSettings.resolve(
            environment=environment,
            base_url=base_url,
            certification=certification,
            timeout=timeout,
            proxy=proxy,
            verify=verify,
            ca_bundle=ca_bundle,
            user_agent=user_agent,
            accept_version=accept_version,
            retry=retry,
        )
        #: Every call of this session as an operation (what the session's own calls run).
        self.calls = Operations(
            settings,
            on_token=token_store,
            machine=machine,
            entropy=entropy,
            prompting=prompt is not None,
        )
        self.settings = settings
        #: The transport's answerer of ``Ask`` steps (``prompt=``), or ``None``.
        self.prompt = prompt
        #: Held while the auth machine is read or changed outside ``run`` (building an
        #: operation, dumping): a synchronous transport shared by threads sets it to the
        #: lock its ``run`` holds around the core.
        self.core_lock: AbstractContextManager[Any] = contextlib.nullcontext()

    @property
    def machine(self) -> AuthMachine:
        """The core's authentication state machine (state, user, expiry, tokens)."""
        return self.calls.machine

    @staticmethod
    def timed(operation: Operation[Any], send: Callable[..., R]) -> Callable[[Request], R]:
        """A transport's ``send(request, timeout=None)`` bound to ``operation``'s own
        timeout, when it has one (``None`` lets the transport use the session's)."""
        timeout = operation.timeout
        return send if timeout is None else functools.partial(send, timeout=timeout)

    @property
    def unsettled_orders(self) -> tuple[UnsettledOrder, ...]:
        """Placements whose outcome never reached their caller (the call was cancelled
        while the order was out): look each up with ``find_order`` or
        ``find_complex_order`` before placing it again."""
        with self.core_lock:
            return tuple(self.calls.unsettled_orders.values())

    def dump(self, *, include_client_secret: bool = False) -> str:
        """The session as JSON, to resume it elsewhere (the client secret only if asked)."""
        with self.core_lock:
            return self.machine.dump(include_client_secret=include_client_secret)

    def discard_unsettled(self, external_identifier: str) -> None:
        """Stop listing a placement in :attr:`unsettled_orders` (you settled it yourself)."""
        with self.core_lock:
            self.calls.unsettled_orders.pop(external_identifier, None)

    def _stream_parts(
        self, buffer_size: int, options: dict[str, Any]
    ) -> tuple[DXLinkConnection, EventBuffer, dict[str, Any]]:
        options.setdefault("jitter", self.settings.retry.jitter)
        link = DXLinkConnection(**options)
        headers = [("user-agent", self.settings.user_agent)]
        return (
            link,
            EventBuffer(buffer_size),
            {"headers": headers, "timeout": self.settings.timeout},
        )

    def _account_stream_parts(
        self, accounts: Any, buffer_size: int, options: dict[str, Any]
    ) -> tuple[AccountStreamConnection, EventBuffer, dict[str, Any]]:
        options.setdefault("jitter", self.settings.retry.jitter)
        options.setdefault("source", self.settings.user_agent)
        url = options.pop("url", None) or self.settings.environment.account_streamer_url
        link = AccountStreamConnection(accounts, url, **options)
        headers = [("user-agent", self.settings.user_agent)]
        return (
            link,
            EventBuffer(buffer_size),
            {"headers": headers, "timeout": self.settings.timeout},
        )

    def _no_websockets(self) -> TastytradeError:
        from .errors import LocalProtocolError

        return LocalProtocolError(
            f"{type(self).__name__} cannot open websockets: its transport gives no "
            "streaming_runtime() (see docs/streaming.md)"
        )

    @classmethod
    def load(cls: type[S], text: str, *, client_secret: str | None = None, **settings: Any) -> S:
        """Resume a dumped session; ``settings`` are as for the constructor.

        Without ``environment``, ``base_url`` or ``certification`` it talks to
        the environment the dump names.
        """
        machine = AuthMachine.load(text, client_secret=client_secret)
        if not {"environment", "base_url", "certification"} & settings.keys():
            settings["environment"] = machine.config.environment
        return cls(machine=machine, **settings)


S = TypeVar("S", bound=SessionBase)


class SyncSession(SessionBase, SyncHost, API, abc.ABC):
    """Every call of a synchronous transport's ``Session``, written once.

    A transport implements :meth:`run` (usually :func:`~tastytrade_proto.protocol.drive`
    with its ``send``) and :meth:`close`. Used as a context manager, the
    session logs out on exit.
    """

    @abc.abstractmethod
    def run(self, operation: Operation[T]) -> T:
        """Drive any core operation to its end over this session's transport."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the transport's resources (a caller-supplied client is left open)."""

    def streaming_runtime(self) -> SyncRuntime:
        """The transport's primitives for :meth:`market_stream` (a transport overrides it)."""
        raise self._no_websockets()

    def market_stream(
        self, *, buffer_size: int = DEFAULT_CAPACITY, tokens: Any = None, **options: Any
    ) -> MarketStream:
        """Live market data over DXLink: ``with session.market_stream() as feed:``.

        The quote token is fetched over this session when the stream starts and
        again before it ages out. ``buffer_size`` bounds the events waiting for a
        slow consumer (see :mod:`tastytrade_proto.streaming.buffer`); ``tokens``, when
        given, is what the quote token is fetched from instead of this session
        (anything with ``quote_token()``: a wrapper that holds a lock, say); ``options``
        go to :class:`~tastytrade_proto.streaming.DXLinkConnection` (timeouts,
        backoff, ``candle_contract``, ``data_format``). See ``docs/streaming.md``.
        """
        link, buffer, extra = self._stream_parts(buffer_size, options)
        source = self if tokens is None else tokens
        return MarketStream(source, self.streaming_runtime(), link, buffer, **extra)

    def account_stream(
        self,
        accounts: Any,
        *,
        buffer_size: int = DEFAULT_CAPACITY,
        via: Any = None,
        **options: Any,
    ) -> AccountStream:
        """Orders, positions and balances of ``accounts`` pushed live:
        ``with session.account_stream(["5WT00001"]) as stream:``.

        The ``auth-token`` is this session's ``Authorization`` value, renewed through
        it before it runs out; after every (re)connect the accounts are read over REST
        and what changed meanwhile is reported, then a ``Resync``. ``buffer_size``
        bounds the events waiting for a slow consumer (the pump stops reading beyond
        it; nothing is dropped); ``via``, when given, is what ``stream_credential`` and
        ``account_state`` are called on instead of this session (a wrapper that holds
        a lock, say); ``options`` go to
        :class:`~tastytrade_proto.streaming.account.AccountStreamConnection`
        (``url``, timeouts, backoff, ``resync``). See ``docs/streaming.md``.
        """
        link, buffer, extra = self._account_stream_parts(accounts, buffer_size, options)
        source = self if via is None else via
        return AccountStream(source, self.streaming_runtime(), link, buffer, **extra)

    def track_order(
        self,
        placed: Any,
        *,
        account_number: str | None = None,
        statuses: Any = None,
        timeout: float | None = None,
        stream: bool = True,
        poll_interval: float = 1.0,
        follow_replacements: bool = True,
        via: Any = None,
    ) -> OrderTracking:
        """Follow one order to the end: ``with session.track_order(placed) as updates:``
        yields each new state once (``OrderUpdated``, with ``new_fills``), then stops
        when it reaches one of ``statuses`` (default: any terminal status).

        ``placed`` is what ``place_order`` returned, an ``Order``, a ``ComplexOrder``,
        an order id or external identifier (with ``account_number``), or an
        ``OrderOutcomeUnknown``/``UnsettledOrder`` (looked for by its identifier). The
        account stream carries the updates; while it is down the order is read over
        REST every ``poll_interval`` seconds, growing (``stream=False``: REST only).
        ``timeout`` raises ``OrderWaitTimeout``. ``via``, when given, is what the order
        is read through and the stream's calls go to (as for :meth:`account_stream`).
        See ``docs/orders.md``.
        """
        tracker = tracker_for(
            placed,
            account_number=account_number,
            statuses=statuses,
            poll_interval=poll_interval,
            follow_replacements=follow_replacements,
        )
        return OrderTracking(self, tracker, timeout, stream, via)

    @overload
    def wait_for_order(
        self,
        placed: PlacedComplexOrder | ComplexOrder,
        *,
        account_number: str | None = None,
        statuses: Any = None,
        timeout: float | None = None,
        stream: bool = True,
        poll_interval: float = 1.0,
        follow_replacements: bool = True,
        via: Any = None,
    ) -> ComplexOrder: ...

    @overload
    def wait_for_order(
        self,
        placed: PlacedOrder | Order | OrderOutcomeUnknown | UnsettledOrder | int | str,
        *,
        account_number: str | None = None,
        statuses: Any = None,
        timeout: float | None = None,
        stream: bool = True,
        poll_interval: float = 1.0,
        follow_replacements: bool = True,
        via: Any = None,
    ) -> Order: ...

    def wait_for_order(
        self,
        placed: Any,
        *,
        account_number: str | None = None,
        statuses: Any = None,
        timeout: float | None = None,
        stream: bool = True,
        poll_interval: float = 1.0,
        follow_replacements: bool = True,
        via: Any = None,
    ) -> Any:
        """The order's state once it reaches one of ``statuses`` (default: terminal),
        with its fills: :meth:`track_order` run to the end."""
        with self.track_order(
            placed,
            account_number=account_number,
            statuses=statuses,
            timeout=timeout,
            stream=stream,
            poll_interval=poll_interval,
            follow_replacements=follow_replacements,
            via=via,
        ) as tracking:
            return tracking.wait()

    def _bind_endpoint(self, endpoint: Endpoint[Any, Any]) -> Callable[..., Any]:
        # A login builds its first request (and moves the machine) when it is made, so
        # building is done under the core lock, as every other touch of the machine.
        build, calls, run, lock = endpoint.build, self.calls, self.run, self.core_lock

        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                operation = build(calls, *args, **kwargs)
            return run(operation)

        return endpoint.named(call, "sync")

    def _bind_paged(self, endpoint: Paged[Any, Any]) -> Callable[..., PageIterator[Any]]:
        build, calls, run = endpoint.build, self.calls, self.run

        def iterate(*args: Any, **kwargs: Any) -> PageIterator[Any]:
            return PageIterator(run, build(calls, *args, **kwargs))

        return endpoint.named(iterate, "sync")

    def __enter__(self: S) -> S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.logout()
        except TastytradeError:
            if exc is None:
                raise  # a failed logout is news, unless it would hide the body's own error
        finally:
            self.close()


class AsyncSession(SessionBase, AsyncHost, API, abc.ABC):
    """Every call of an asynchronous transport's ``Session``, written once.

    The same calls as :class:`SyncSession`, awaited. A transport implements
    :meth:`run` (usually :func:`~tastytrade_proto.protocol.drive_async` with its
    ``send`` and its event loop's ``sleep``) and :meth:`close`.
    """

    @abc.abstractmethod
    async def run(self, operation: Operation[T]) -> T:
        """Drive any core operation to its end over this session's transport."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the transport's resources (a caller-supplied client is left open)."""

    def streaming_runtime(self) -> AsyncRuntime:
        """The transport's primitives for :meth:`market_stream` (a transport overrides it)."""
        raise self._no_websockets()

    def market_stream(
        self, *, buffer_size: int = DEFAULT_CAPACITY, tokens: Any = None, **options: Any
    ) -> AsyncMarketStream:
        """Live market data over DXLink: ``async with session.market_stream() as feed:``.

        As for the synchronous session: the quote token is fetched over this session
        (or ``tokens``, whose ``quote_token()`` is awaited) and renewed before it ages
        out; ``buffer_size`` bounds what waits for a slow consumer; ``options`` go to
        :class:`~tastytrade_proto.streaming.DXLinkConnection`.
        """
        link, buffer, extra = self._stream_parts(buffer_size, options)
        source = self if tokens is None else tokens
        return AsyncMarketStream(source, self.streaming_runtime(), link, buffer, **extra)

    def account_stream(
        self,
        accounts: Any,
        *,
        buffer_size: int = DEFAULT_CAPACITY,
        via: Any = None,
        **options: Any,
    ) -> AsyncAccountStream:
        """Orders, positions and balances of ``accounts`` pushed live:
        ``async with session.account_stream(["5WT00001"]) as stream:``.

        As for the synchronous session (``via``'s ``stream_credential`` and
        ``account_state`` are awaited).
        """
        link, buffer, extra = self._account_stream_parts(accounts, buffer_size, options)
        source = self if via is None else via
        return AsyncAccountStream(source, self.streaming_runtime(), link, buffer, **extra)

    def track_order(
        self,
        placed: Any,
        *,
        account_number: str | None = None,
        statuses: Any = None,
        timeout: float | None = None,
        stream: bool = True,
        poll_interval: float = 1.0,
        follow_replacements: bool = True,
        via: Any = None,
    ) -> AsyncOrderTracking:
        """Follow one order to the end: ``async with session.track_order(placed) as
        updates: async for update in updates``; as for the synchronous session."""
        tracker = tracker_for(
            placed,
            account_number=account_number,
            statuses=statuses,
            poll_interval=poll_interval,
            follow_replacements=follow_replacements,
        )
        return AsyncOrderTracking(self, tracker, timeout, stream, via)

    @overload
    async def wait_for_order(
        self,
        placed: PlacedComplexOrder | ComplexOrder,
        *,
        account_number: str | None = None,
        statuses: Any = None,
        timeout: float | None = None,
        stream: bool = True,
        poll_interval: float = 1.0,
        follow_replacements: bool = True,
        via: Any = None,
    ) -> ComplexOrder: ...

    @overload
    async def wait_for_order(
        self,
        placed: PlacedOrder | Order | OrderOutcomeUnknown | UnsettledOrder | int | str,
        *,
        account_number: str | None = None,
        statuses: Any = None,
        timeout: float | None = None,
        stream: bool = True,
        poll_interval: float = 1.0,
        follow_replacements: bool = True,
        via: Any = None,
    ) -> Order: ...

    async def wait_for_order(
        self,
        placed: Any,
        *,
        account_number: str | None = None,
        statuses: Any = None,
        timeout: float | None = None,
        stream: bool = True,
        poll_interval: float = 1.0,
        follow_replacements: bool = True,
        via: Any = None,
    ) -> Any:
        """The order's state once it reaches one of ``statuses`` (default: terminal),
        with its fills: :meth:`track_order` run to the end."""
        async with self.track_order(
            placed,
            account_number=account_number,
            statuses=statuses,
            timeout=timeout,
            stream=stream,
            poll_interval=poll_interval,
            follow_replacements=follow_replacements,
            via=via,
        ) as tracking:
            return await tracking.wait()

    def _bind_endpoint(self, endpoint: Endpoint[Any, Any]) -> Callable[..., Any]:
        build, calls, run = endpoint.build, self.calls, self.run

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await run(build(calls, *args, **kwargs))

        return endpoint.named(call, "async")

    def _bind_paged(self, endpoint: Paged[Any, Any]) -> Callable[..., AsyncPageIterator[Any]]:
        build, calls, run = endpoint.build, self.calls, self.run

        def iterate(*args: Any, **kwargs: Any) -> AsyncPageIterator[Any]:
            return AsyncPageIterator(run, build(calls, *args, **kwargs))

        return endpoint.named(iterate, "async")

    async def __aenter__(self: S) -> S:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.logout()
        except TastytradeError:
            if exc is None:
                raise  # a failed logout is news, unless it would hide the body's own error
        finally:
            await self.close()


__getattr__ = deprecated_names(__name__, {"SessionCalls": ("Operations", lambda: Operations)})
