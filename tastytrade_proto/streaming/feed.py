"""Feeds: a :class:`~tastytrade_proto.streaming.dxlink.DXLinkConnection` driven over a
transport's websocket, with a pump in the background and a bounded buffer.

Written once here for every transport, like :func:`~tastytrade_proto.protocol.drive`:
a transport supplies only its primitives (a :class:`SyncRuntime` or an
:class:`AsyncRuntime`: the clock, the websocket opener, and how to run the pump in
the background and wait), and its ``Session.market_stream()`` returns a
:class:`MarketStream` or :class:`AsyncMarketStream`::

    with session.market_stream() as feed:          # tastytrade_requests
        feed.subscribe(Quote, ["SPY", "AAPL"])
        for event in feed:
            ...

    async with session.market_stream() as feed:    # tastytrade_aiohttp, tastytrade_trio
        await feed.subscribe(Quote, ["SPY"])
        async for event in feed:
            ...

Iteration yields market events and link events
(:class:`~tastytrade_proto.streaming.dxlink.Connected`,
:class:`~tastytrade_proto.streaming.dxlink.Disconnected`,
:class:`~tastytrade_proto.streaming.dxlink.StreamError`, ...) in the order they
happened, and ends with the link's error if it fails for good. Leaving the ``with``
block closes the socket and ends the pump: no thread, task or socket stays behind.

The pump keeps the link alive whatever the consumer does: it answers the server,
sends keepalives, reconnects and replays subscriptions. Events wait in an
:class:`~tastytrade_proto.streaming.buffer.EventBuffer` (see its policy for a slow
consumer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar, cast

from ..errors import StreamingError, TastytradeError, TransportError
from ..values import frozen
from .buffer import EventBuffer
from .dxlink import (
    CloseSocket,
    DXLinkConnection,
    Exchange,
    FetchToken,
    Finish,
    LinkEvent,
    OpenSocket,
    Pause,
    Subscription,
)
from .events import MarketEvent
from .websocket import AsyncWebSocket, AsyncWebSocketOpener, SyncWebSocket, SyncWebSocketOpener

__all__ = [
    "AsyncMarketStream",
    "AsyncRuntime",
    "AsyncStream",
    "MarketStream",
    "SyncRuntime",
    "SyncStream",
    "epoch_milliseconds",
]

Event = MarketEvent | LinkEvent
E = TypeVar("E")
_S = TypeVar("_S", bound="SyncStream[Any]")
_A = TypeVar("_A", bound="AsyncStream[Any]")


class _Joinable(Protocol):
    def join(self, timeout: float | None = None) -> None: ...


class _Event(Protocol):  # asyncio.Event or trio.Event
    def set(self) -> None: ...
    def is_set(self) -> bool: ...
    async def wait(self) -> Any: ...


@frozen
class SyncRuntime:
    """What a synchronous transport gives a :class:`MarketStream`.

    ``clock`` returns POSIX seconds; ``open_websocket`` opens a websocket with the
    session's settings; ``condition`` makes a ``threading.Condition``; ``start`` runs
    a function in a new thread and returns something to ``join``; ``current`` tells
    the calling thread apart (``threading.get_ident``).
    """

    clock: Callable[[], float]
    open_websocket: SyncWebSocketOpener
    condition: Callable[[], Any]  # threading.Condition
    start: Callable[[Callable[[], None]], _Joinable]
    current: Callable[[], int]


@frozen
class AsyncRuntime:
    """What an event-loop transport gives an :class:`AsyncMarketStream`.

    ``clock`` returns POSIX seconds; ``sleep`` is the loop's sleep; ``event`` and
    ``lock`` make the loop's ``Event`` and ``Lock``; ``background(pump)`` is an async
    context manager that runs ``pump()`` in the background while its body runs and
    cancels it at the end (asyncio: a task; trio: a nursery); ``wait(event, seconds)``
    waits for ``event`` at most ``seconds`` (``None``: no limit).
    """

    clock: Callable[[], float]
    open_websocket: AsyncWebSocketOpener
    sleep: Callable[[float], Awaitable[Any]]
    event: Callable[[], _Event]
    lock: Callable[[], Any]  # asyncio.Lock or trio.Lock
    background: Callable[[Callable[[], Awaitable[None]]], AbstractAsyncContextManager[Any]]
    wait: Callable[[Any, float | None], Awaitable[Any]]


def epoch_milliseconds(when: datetime | int) -> int:
    """``when`` (an aware datetime, or epoch milliseconds already) as epoch milliseconds."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise StreamingError("a naive datetime is ambiguous: give one with a time zone")
        return int(when.timestamp() * 1000)
    if isinstance(when, bool) or not isinstance(when, int):
        raise StreamingError(f"not a time: {when!r} (an aware datetime or epoch milliseconds)")
    return when


class _FeedBase(Generic[E]):
    """The state every stream shares: the machine, the buffer, the session, the end."""

    def __init__(
        self,
        session: Any,
        link: Any,
        buffer: EventBuffer,
        headers: Sequence[tuple[str, str]],
        timeout: float,
    ) -> None:
        self._session = session
        self._link = link
        self._buffer = buffer
        self._headers = tuple(headers)
        self._timeout = timeout
        self._finished = False
        self._failure: TastytradeError | None = None
        self._closed = False

    @property
    def link(self) -> Any:
        """The protocol machine (its state, subscriptions, counters)."""
        return self._link

    @property
    def coalesced(self) -> int:
        """Events replaced by a newer one because the consumer fell behind (see the buffer)."""
        return self._buffer.coalesced

    @property
    def malformed(self) -> int:
        """Messages from the server that could not be read."""
        return int(self._link.malformed)

    @property
    def finished(self) -> bool:
        """Whether the stream has ended (closed, or failed for good): ``get()`` returning
        ``None`` then means the end, not a timeout."""
        return self._finished or self._closed

    @property
    def pending(self) -> int:
        """Events waiting to be taken."""
        return len(self._buffer)

    def _finish(self, error: TastytradeError | None) -> None:
        self._finished = True
        if error is not None and self._failure is None:
            self._failure = error

    def _next_or_end(self) -> E | None:
        event = self._buffer.take()
        if event is not None:
            return cast(E, event)
        if self._finished:
            failure, self._failure = self._failure, None
            if failure is not None:
                raise failure
        return None


def _unexpected(exc: BaseException) -> StreamingError:
    error = StreamingError(f"the market data pump failed: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


class SyncStream(_FeedBase[E]):
    """A protocol machine driven over a synchronous transport's websocket by a pump
    thread: the part every synchronous stream shares (:class:`MarketStream`, the
    account stream). A subclass says how to carry out the machine's other actions
    (``_perform``).
    """

    def __init__(
        self,
        session: Any,
        runtime: SyncRuntime,
        link: Any,
        buffer: EventBuffer,
        *,
        headers: Sequence[tuple[str, str]] = (),
        timeout: float = 30.0,
    ) -> None:
        super().__init__(session, link, buffer, headers, timeout)
        self._runtime = runtime
        self._cond = runtime.condition()
        self._socket: SyncWebSocket | None = None
        self._thread: _Joinable | None = None
        self._pump_thread: int | None = None

    # -- the caller's side ----------------------------------------------------------------

    def __enter__(self: _S) -> _S:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the pump (``with`` does it)."""
        with self._cond:
            if self._thread is not None or self._closed:
                return
            self._thread = self._runtime.start(self._pump)

    def _change(self, change: Callable[[float], Any]) -> None:
        with self._cond:
            if self._closed:
                raise StreamingError("the feed is closed")
            change(self._runtime.clock())
            self._cond.notify_all()  # a pump holding back for a slow reader sends it too
            if self._socket is not None:
                self._socket.wake()  # the pump sends what the change queued

    def __iter__(self) -> Iterator[E]:
        return self

    def __next__(self) -> E:
        event = self.get()
        if event is None:
            raise StopIteration
        return event

    def get(self, timeout: float | None = None) -> E | None:
        """The next event, waiting up to ``timeout`` seconds (``None``: until there is one).

        ``None`` when the time ran out or the feed ended; raises the link's error when
        it failed for good.
        """
        with self._cond:
            if self._thread is None and not self._closed:
                self.start()
            deadline = None if timeout is None else self._runtime.clock() + timeout
            while True:
                event = self._next_or_end()
                if event is not None:
                    self._cond.notify_all()  # the pump may be waiting for room
                    return event
                if self._finished or self._closed:
                    return None
                left = None if deadline is None else deadline - self._runtime.clock()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)

    def close(self) -> None:
        """Close the socket and end the pump; waits for it (bounded by the timeout)."""
        with self._cond:
            self._closed = True
            self._link.close()
            socket, thread = self._socket, self._thread
            self._cond.notify_all()
        if socket is not None:
            socket.wake()
        if thread is not None and self._runtime.current() != self._pump_thread:
            thread.join()

    # -- the pump (its own thread) ------------------------------------------------------------

    def _pump(self) -> None:
        self._pump_thread = self._runtime.current()
        try:
            self._run()
        except BaseException as exc:  # a bug: the feed ends with it instead of hanging
            with self._cond:
                self._finish(_unexpected(exc) if not isinstance(exc, TastytradeError) else exc)
                self._cond.notify_all()
        finally:
            socket, self._socket = self._socket, None
            if socket is not None:
                socket.close()

    def _run(self) -> None:
        link, cond, clock = self._link, self._cond, self._runtime.clock
        while True:
            with cond:
                action = link.next_action(clock())
                self._deliver()
            if isinstance(action, Finish):
                with cond:
                    self._finish(action.error)
                    cond.notify_all()
                return
            if isinstance(action, Exchange):
                self._exchange(action)
            elif isinstance(action, OpenSocket):
                self._open(action.url)
            elif isinstance(action, CloseSocket):
                socket, self._socket = self._socket, None
                if socket is not None:
                    socket.close(action.code)
                with cond:
                    link.socket_closed(None, clock())
            elif isinstance(action, Pause):
                with cond:
                    if not self._closed:
                        cond.wait(max(action.until - clock(), 0.0))
            else:
                self._perform(action)

    def _perform(self, action: Any) -> None:
        """Carry out an action of the machine's own (not the socket's), off the lock."""
        raise StreamingError(f"the pump cannot carry out {action!r}")

    def _deliver(self) -> None:  # under the lock
        events = self._link.events()
        if events:
            self._buffer.extend(events)
            self._cond.notify_all()

    def _open(self, url: str) -> None:
        try:
            socket = self._runtime.open_websocket(url, self._headers, self._timeout)
        except TastytradeError as exc:
            with self._cond:
                self._link.socket_failed(exc, self._runtime.clock())
            return
        with self._cond:
            self._socket = socket
            self._link.socket_opened(self._runtime.clock())

    def _exchange(self, action: Exchange) -> None:
        link, cond, clock = self._link, self._cond, self._runtime.clock
        socket = self._socket
        assert socket is not None
        with cond:
            outgoing = link.messages_to_send()
            full = self._buffer.full and not self._closed
            link.pause_receiving(full)
        try:
            for text in outgoing:
                socket.send(text)
            if full:  # backpressure: no reading until the consumer takes some
                with cond:
                    while self._buffer.full and not self._closed and not link.has_outgoing:
                        left = None if action.deadline is None else action.deadline - clock()
                        if left is not None and left <= 0:
                            break
                        cond.wait(left)
                    link.handle_timer(clock())
                return
            wait = None if action.deadline is None else max(action.deadline - clock(), 0.0)
            received = socket.receive(wait)
        except TransportError as exc:
            self._socket = None
            socket.close()
            with cond:
                link.socket_closed(exc, clock())
            return
        with cond:
            if received is None:
                link.handle_timer(clock())
            else:
                link.receive(received, clock())


class MarketStream(SyncStream[MarketEvent | LinkEvent]):
    """DXLink market data over a synchronous transport; see the module docs.

    Thread-safe: one thread may iterate while others subscribe. ``session`` is
    anything whose ``quote_token()`` returns a
    :class:`~tastytrade_proto.market_data.QuoteToken` (a session, or a wrapper of
    yours around one); ``session.market_stream()`` builds the rest.
    """

    _link: DXLinkConnection

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """Every live subscription, as a reconnect replays them."""
        return self._link.subscriptions

    def subscribe(self, event_type: str | type[MarketEvent], symbols: Iterable[str] | str) -> None:
        """Subscribe to ``event_type`` for each streamer symbol (``SPY``, ``.SPY261218C600``)."""
        self._change(lambda now: self._link.subscribe(event_type, symbols, now))

    def unsubscribe(
        self, event_type: str | type[MarketEvent], symbols: Iterable[str] | str
    ) -> None:
        """Stop ``event_type`` for each symbol (for candles, the candle symbols)."""
        self._change(lambda now: self._link.unsubscribe(event_type, symbols, now))

    def subscribe_candles(
        self, symbol: str, period: str, start: datetime | int, *, extended_hours: bool = True
    ) -> str:
        """Bars of ``period`` (``"5m"``, ``"1h"``, ``"d"``) since ``start``; returns the
        candle symbol the :class:`~tastytrade_proto.streaming.events.Candle` events carry."""
        from_time = epoch_milliseconds(start)
        found: list[str] = []
        self._change(
            lambda now: found.append(
                self._link.subscribe_candles(
                    symbol, period, from_time, now, extended_hours=extended_hours
                )
            )
        )
        return found[0]

    def reset(self) -> None:
        """Drop every subscription."""
        self._change(self._link.reset)

    def _perform(self, action: Any) -> None:
        if isinstance(action, FetchToken):
            self._fetch_token()
        else:
            super()._perform(action)

    def _fetch_token(self) -> None:
        try:
            token = self._session.quote_token()
        except TastytradeError as exc:
            with self._cond:
                self._link.token_failed(exc, self._runtime.clock())
            return
        with self._cond:
            self._link.token_received(token.token, token.dxlink_url, self._runtime.clock())


class AsyncStream(_FeedBase[E]):
    """A protocol machine driven over an event-loop transport's websocket by a pump
    task: the part every asynchronous stream shares (:class:`AsyncMarketStream`, the
    account stream). A subclass says how to carry out the machine's other actions
    (``_perform``).
    """

    def __init__(
        self,
        session: Any,
        runtime: AsyncRuntime,
        link: Any,
        buffer: EventBuffer,
        *,
        headers: Sequence[tuple[str, str]] = (),
        timeout: float = 30.0,
    ) -> None:
        super().__init__(session, link, buffer, headers, timeout)
        self._runtime = runtime
        self._socket: AsyncWebSocket | None = None
        self._ready = runtime.event()
        self._room = runtime.event()
        self._send_lock = runtime.lock()
        self._background: AbstractAsyncContextManager[Any] | None = None

    async def __aenter__(self: _A) -> _A:
        if self._background is not None or self._closed:
            raise StreamingError("a feed can be entered once")
        self._background = self._runtime.background(self._pump)
        await self._background.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the socket and end the pump."""
        if self._closed:
            return
        self._closed = True
        self._link.close()
        self._ready.set()
        self._room.set()
        background, self._background = self._background, None
        try:
            if background is not None:
                await background.__aexit__(None, None, None)
        finally:
            socket, self._socket = self._socket, None
            if socket is not None:
                await socket.close()

    close = aclose

    async def _change(self, change: Callable[[float], Any]) -> None:
        self._check_entered()
        if self._closed:
            raise StreamingError("the feed is closed")
        change(self._runtime.clock())
        await self._flush()

    async def _flush(self) -> None:
        # One sender at a time, so messages keep the order the machine made them in.
        async with self._send_lock:
            socket = self._socket
            outgoing = self._link.messages_to_send()
            if socket is None or not outgoing:
                return
            try:
                for text in outgoing:
                    await socket.send(text)
            except TransportError as exc:
                if self._socket is socket:
                    self._socket = None
                    self._link.socket_closed(exc, self._runtime.clock())
                    await socket.close()

    def __aiter__(self) -> AsyncIterator[E]:
        return self

    def _check_entered(self) -> None:
        if self._background is None and not self._closed:
            raise StreamingError(
                "enter the stream first: async with session.market_stream() as feed "
                "(or account_stream)"
            )

    async def __anext__(self) -> E:
        event = await self.get()
        if event is None:
            raise StopAsyncIteration
        return event

    async def get(self, timeout: float | None = None) -> E | None:
        """The next event, waiting up to ``timeout`` seconds (``None``: until there is one).

        ``None`` when the time ran out or the stream ended (:attr:`finished` tells
        which); raises the link's error when it failed for good. As the synchronous
        stream's ``get``.
        """
        self._check_entered()
        clock = self._runtime.clock
        deadline = None if timeout is None else clock() + timeout
        while True:
            event = self._next_or_end()
            if event is not None:
                self._room.set()
                return event
            if self._finished or self._closed:
                return None
            left = None if deadline is None else deadline - clock()
            if left is not None and left <= 0:
                return None
            if self._ready.is_set():
                self._ready = self._runtime.event()
            await self._runtime.wait(self._ready, left)

    # -- the pump (a background task) -------------------------------------------------------------

    async def _pump(self) -> None:
        try:
            await self._run()
        except TastytradeError as exc:
            self._finish(exc)
        except Exception as exc:  # a bug: the feed ends with it instead of hanging
            self._finish(_unexpected(exc))
        finally:
            self._ready.set()

    async def _run(self) -> None:
        link, clock = self._link, self._runtime.clock
        while True:
            action = link.next_action(clock())
            self._deliver()
            if isinstance(action, Finish):
                self._finish(action.error)
                return
            if isinstance(action, Exchange):
                await self._exchange(action)
            elif isinstance(action, OpenSocket):
                try:
                    socket = await self._runtime.open_websocket(
                        action.url, self._headers, self._timeout
                    )
                except TastytradeError as exc:
                    link.socket_failed(exc, clock())
                else:
                    self._socket = socket
                    link.socket_opened(clock())
            elif isinstance(action, CloseSocket):
                closing, self._socket = self._socket, None
                if closing is not None:
                    await closing.close(action.code)
                link.socket_closed(None, clock())
            elif isinstance(action, Pause):
                await self._runtime.sleep(max(action.until - clock(), 0.0))
            else:
                await self._perform(action)

    async def _perform(self, action: Any) -> None:
        """Carry out an action of the machine's own (not the socket's)."""
        raise StreamingError(f"the pump cannot carry out {action!r}")

    def _deliver(self) -> None:
        events = self._link.events()
        if events:
            self._buffer.extend(events)
            self._ready.set()

    async def _exchange(self, action: Exchange) -> None:
        link, clock = self._link, self._runtime.clock
        await self._flush()
        socket = self._socket
        if socket is None:
            return  # the flush found it closed
        if self._buffer.full:  # backpressure: no reading until the consumer takes some
            link.pause_receiving(True)
            if self._room.is_set():
                self._room = self._runtime.event()
            left = None if action.deadline is None else max(action.deadline - clock(), 0.0)
            await self._runtime.wait(
                self._room, left
            )  # woken by the consumer, or a keepalive is due
            link.handle_timer(clock())
            return
        link.pause_receiving(False)
        wait = None if action.deadline is None else max(action.deadline - clock(), 0.0)
        try:
            text = await socket.receive(wait)
        except TransportError as exc:
            if self._socket is socket:
                self._socket = None
                await socket.close()
                link.socket_closed(exc, clock())
            return
        if text is None:
            link.handle_timer(clock())
        else:
            link.receive(text, clock())


class AsyncMarketStream(AsyncStream[MarketEvent | LinkEvent]):
    """DXLink market data over an event-loop transport; see the module docs.

    Use it in one event loop: any number of tasks may subscribe while one iterates.
    ``session`` is anything whose ``quote_token()`` is awaited for a
    :class:`~tastytrade_proto.market_data.QuoteToken`.
    """

    _link: DXLinkConnection

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """Every live subscription, as a reconnect replays them."""
        return self._link.subscriptions

    async def subscribe(
        self, event_type: str | type[MarketEvent], symbols: Iterable[str] | str
    ) -> None:
        """Subscribe to ``event_type`` for each streamer symbol (``SPY``, ``.SPY261218C600``)."""
        await self._change(lambda now: self._link.subscribe(event_type, symbols, now))

    async def unsubscribe(
        self, event_type: str | type[MarketEvent], symbols: Iterable[str] | str
    ) -> None:
        """Stop ``event_type`` for each symbol (for candles, the candle symbols)."""
        await self._change(lambda now: self._link.unsubscribe(event_type, symbols, now))

    async def subscribe_candles(
        self, symbol: str, period: str, start: datetime | int, *, extended_hours: bool = True
    ) -> str:
        """Bars of ``period`` since ``start``; returns the candle symbol of the events."""
        from_time = epoch_milliseconds(start)
        found: list[str] = []
        await self._change(
            lambda now: found.append(
                self._link.subscribe_candles(
                    symbol, period, from_time, now, extended_hours=extended_hours
                )
            )
        )
        return found[0]

    async def reset(self) -> None:
        """Drop every subscription."""
        await self._change(self._link.reset)

    async def _perform(self, action: Any) -> None:
        if not isinstance(action, FetchToken):
            await super()._perform(action)
            return
        link, clock = self._link, self._runtime.clock
        try:
            token = await self._session.quote_token()
        except TastytradeError as exc:
            link.token_failed(exc, clock())
        else:
            link.token_received(token.token, token.dxlink_url, clock())
