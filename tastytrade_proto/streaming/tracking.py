"""Following one order to the end: :class:`OrderTracker` (sans-I/O) and the drivers
behind ``session.track_order()`` and ``session.wait_for_order()``.

The tracker listens to an account stream for its order and, whenever the stream is
not live (not yet connected, dropped, resyncing), reads the order over REST instead,
every ``poll_interval`` seconds growing to ``poll_cap``. Whichever way an update
comes, it is compared with what was reported before: a stale or repeated state is
dropped, and ``new_fills`` holds only the fills not reported yet. So a caller sees
each state of the order once, in order, and each fill once.

An order is named by what placing it returned (:class:`~tastytrade_proto.orders.PlacedOrder`,
:class:`~tastytrade_proto.orders.PlacedComplexOrder`), by an ``Order``, by an id, or,
when placing it had an unknown outcome, by its external identifier
(:class:`~tastytrade_proto.orders.OrderOutcomeUnknown`,
:class:`~tastytrade_proto.orders.UnsettledOrder`): the tracker then looks for it among
the account's orders until it shows up (or the caller's ``timeout`` runs out).
A replaced order is followed to its replacement (``follow_replacements``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from types import TracebackType
from typing import Any

from ..errors import LocalProtocolError, TastytradeError
from ..orders.errors import OrderOutcomeUnknown
from ..orders.models import ComplexOrder, Order, OrderStatus
from ..orders.placing import PlacedComplexOrder, PlacedOrder, UnsettledOrder
from ..values import frozen
from .account import (
    ComplexOrderUpdated,
    OrderMark,
    OrderUpdated,
    Resync,
    is_newer,
    order_mark,
    unseen_fills,
)
from .dxlink import Connected, Disconnected

__all__ = [
    "AsyncOrderTracking",
    "FindOrder",
    "OrderTracker",
    "OrderTracking",
    "OrderWaitTimeout",
    "PollComplexOrder",
    "PollOrder",
]


class OrderWaitTimeout(TastytradeError):
    """The order did not reach a wanted status in time. ``order`` is its last known
    state (an ``Order``, a ``ComplexOrder``, or ``None`` if it was never seen)."""

    def __init__(self, message: str, *, order: Any = None) -> None:
        super().__init__(message)
        self.order = order


@frozen
class PollOrder:
    """Read the order (``session.order(account_number, order_id)``) and hand it to
    ``polled``."""

    account_number: str
    order_id: int


@frozen
class PollComplexOrder:
    """Read the complex order (``session.complex_order(account_number, complex_order_id)``)."""

    account_number: str
    complex_order_id: int


@frozen
class FindOrder:
    """Look for the order by its external identifier
    (``session.find_order(account_number, external_identifier)``; ``None`` if not there)."""

    account_number: str
    external_identifier: str


Poll = PollOrder | PollComplexOrder | FindOrder
#: What following an order yields.
Update = OrderUpdated | ComplexOrderUpdated


class OrderTracker:
    """The decisions of following one order; a driver feeds it stream events and poll
    results and asks what to do.

    ``statuses`` are the statuses that end the tracking (default: any terminal one);
    a complex order ends when every order in it is terminal.
    """

    def __init__(
        self,
        account_number: str,
        *,
        order_id: int | None = None,
        external_identifier: str | None = None,
        complex_order: bool = False,
        statuses: Iterable[OrderStatus | str] | None = None,
        poll_interval: float = 1.0,
        poll_cap: float = 15.0,
        follow_replacements: bool = True,
    ) -> None:
        if not isinstance(account_number, str) or not account_number:
            raise LocalProtocolError("tracking an order needs its account number")
        if order_id is None and external_identifier is None:
            raise LocalProtocolError("tracking an order needs its id or external identifier")
        if complex_order and order_id is None:
            raise LocalProtocolError("tracking a complex order needs its id")
        if complex_order and statuses is not None:
            raise LocalProtocolError(
                "statuses= applies to one order; a complex order is followed until every "
                "order in it is terminal (track its orders one by one for more)"
            )
        self.account_number = account_number
        self.order_id = order_id
        self.external_identifier = external_identifier
        self.complex_order = complex_order
        self.statuses = None if statuses is None else _statuses(statuses)
        self.poll_interval = float(poll_interval)
        self.poll_cap = float(poll_cap)
        self.follow_replacements = follow_replacements
        #: The last state reported (``Order`` or ``ComplexOrder``), ``None`` before one.
        self.last: Order | ComplexOrder | None = None
        self._mark: OrderMark | None = None
        self._complex_marks: tuple[OrderMark, ...] | None = None
        self._fills: set[Any] = set()
        self._live = False
        self._next_poll: float | None = 0.0  # poll at once until the stream is live
        self._polls = 0
        self._updates: list[Update] = []

    @property
    def done(self) -> bool:
        """Whether the order reached a wanted status."""
        last = self.last
        if last is None:
            return False
        if isinstance(last, ComplexOrder):
            parts = last.components
            return bool(parts) and all(o.status is not None and o.status.terminal for o in parts)
        status = last.status
        if status is None:
            return False
        if self.statuses is None:
            if self.follow_replacements and last.replacing_order_id is not None:
                return False  # replaced: the replacement carries on
            return bool(status.terminal)
        return status in self.statuses

    def updates(self) -> list[Update]:
        """The updates accepted since the last call (``OrderUpdated`` or
        ``ComplexOrderUpdated``), in order."""
        out, self._updates = self._updates, []
        return out

    def next_poll(self, now: float) -> Poll | None:
        """What to read over REST now, if anything."""
        if self.done or self._next_poll is None or now < self._next_poll:
            return None
        if self.complex_order:
            assert self.order_id is not None
            return PollComplexOrder(self.account_number, self.order_id)
        if self.order_id is None:
            assert self.external_identifier is not None
            return FindOrder(self.account_number, self.external_identifier)
        return PollOrder(self.account_number, self.order_id)

    def next_deadline(self) -> float | None:
        """When to poll next (``None``: the stream is live; only its events matter)."""
        return None if self.done else self._next_poll

    def polling(self, now: float) -> None:
        """A poll was handed out at ``now``: the next one waits its interval."""
        self._polls += 1
        delay = min(self.poll_cap, self.poll_interval * 2 ** min(self._polls - 1, 16))
        self._next_poll = None if self._live else now + delay

    def polled(self, found: Any, now: float) -> None:
        """What a poll read (an ``Order``, a ``ComplexOrder``, or ``None``: not found)."""
        if found is None:
            return
        if isinstance(found, ComplexOrder):
            self._take_complex(found, None, resynced=True)
        elif isinstance(found, Order):
            self._take(found, None, resynced=True)

    def handle(self, event: Any, now: float) -> None:
        """An event of the account stream."""
        if isinstance(event, OrderUpdated) and not self.complex_order:
            self._take(event.order, event.timestamp, resynced=event.resynced)
        elif isinstance(event, ComplexOrderUpdated) and self.complex_order:
            self._take_complex(event.complex_order, event.timestamp, resynced=event.resynced)
        elif isinstance(event, Resync):
            self._live = True
            # Not among the live orders the resync read (an older order, or not yet
            # placed): look it up once, then rely on the stream.
            self._next_poll = now if self.last is None else None
            self._polls = 0
        elif isinstance(event, (Disconnected, Connected)):
            # Until the resync that follows, the stream may have missed something.
            self.stream_lost(now)

    def stream_lost(self, now: float) -> None:
        """The stream is down (or gone): poll until a resync says it is live again."""
        self._live = False
        if self._next_poll is None:
            self._next_poll = now + self.poll_interval

    def _mine(self, order: Order) -> bool:
        if order.account_number not in (None, self.account_number):
            return False
        if self.order_id is not None:
            return order.id == self.order_id
        return (
            self.external_identifier is not None
            and order.external_identifier == self.external_identifier
        )

    def _take(self, order: Order, timestamp: int | None, *, resynced: bool) -> None:
        if self.done or not self._mine(order):
            return
        mark = order_mark(order)
        old = self._mark
        if old is not None and not is_newer(mark, old):
            return
        previous = self.last.status if isinstance(self.last, Order) else None
        fills = unseen_fills(order, self._fills)
        self._fills.update(mark.fills)
        if (
            old is not None
            and not fills
            and (mark.status, mark.filled, mark.updated) == (old.status, old.filled, old.updated)
        ):
            return  # the same state, its fills named another way (with or without ids)
        self._mark = mark
        self.last = order
        if self.order_id is None:
            self.order_id = order.id
        self._updates.append(OrderUpdated(order, fills, previous, timestamp, resynced))
        if (
            self.follow_replacements
            and order.replacing_order_id is not None
            and order.replacing_order_id != self.order_id
            and order.status is not None
            and order.status.terminal
        ):
            self.order_id = order.replacing_order_id
            self._mark = None  # the replacement starts its own life
            self.last = None if self.statuses is None else order
            self._next_poll = 0.0  # it may have moved before we knew its id

    def _take_complex(self, order: ComplexOrder, timestamp: int | None, *, resynced: bool) -> None:
        if self.done or order.id != self.order_id:
            return
        marks = tuple(order_mark(part) for part in order.components)
        old = self._complex_marks
        if old is not None and (
            old == marks
            or (
                len(old) == len(marks)
                and all(is_newer(n, o) is not True for n, o in zip(marks, old, strict=True))
            )
        ):
            return
        self._complex_marks = marks
        self.last = order
        self._updates.append(ComplexOrderUpdated(order, timestamp, resynced))


def _statuses(given: Iterable[OrderStatus | str]) -> frozenset[OrderStatus]:
    if isinstance(given, (str, OrderStatus)):
        given = [given]
    found = set()
    for status in given:
        value = OrderStatus(status) if isinstance(status, str) else None
        if value is None or not value.known:
            raise LocalProtocolError(f"not an order status: {status!r}")
        found.add(value)
    if not found:
        raise LocalProtocolError("statuses is empty: nothing would end the tracking")
    return frozenset(found)


def tracker_for(
    placed: Any,
    *,
    account_number: str | None,
    statuses: Iterable[OrderStatus | str] | None,
    poll_interval: float,
    follow_replacements: bool,
) -> OrderTracker:
    """An :class:`OrderTracker` for whatever names the order (see the module docs)."""
    kwargs: dict[str, Any] = {
        "statuses": statuses,
        "poll_interval": poll_interval,
        "follow_replacements": follow_replacements,
    }
    if isinstance(placed, PlacedOrder):
        placed = placed.order
    if isinstance(placed, PlacedComplexOrder):
        if placed.complex_order is None or placed.complex_order.id is None:
            raise LocalProtocolError(
                "this complex order was found without its id: track its orders"
            )
        placed = placed.complex_order
    if isinstance(placed, ComplexOrder):
        account = placed.account_number or account_number
        return OrderTracker(_account(account), order_id=placed.id, complex_order=True, **kwargs)
    if isinstance(placed, Order):
        account = placed.account_number or account_number
        if placed.id is None:
            raise LocalProtocolError("this order has no id (a dry run?): nothing to track")
        return OrderTracker(_account(account), order_id=placed.id, **kwargs)
    if isinstance(placed, UnsettledOrder):
        return OrderTracker(
            placed.account_number,
            external_identifier=placed.external_identifier,
            complex_order=False,
            **kwargs,
        )
    if isinstance(placed, OrderOutcomeUnknown):
        return OrderTracker(
            _account(account_number), external_identifier=placed.external_identifier, **kwargs
        )
    if isinstance(placed, int) and not isinstance(placed, bool):
        return OrderTracker(_account(account_number), order_id=placed, **kwargs)
    if isinstance(placed, str) and placed:
        return OrderTracker(_account(account_number), external_identifier=placed, **kwargs)
    raise LocalProtocolError(
        f"cannot track {type(placed).__name__}: give what place_order returned, an Order, "
        "an order id, or an external identifier"
    )


def _account(account_number: str | None) -> str:
    if not isinstance(account_number, str) or not account_number:
        raise LocalProtocolError("give account_number= to track an order by id or identifier")
    return account_number


class _TrackingBase:
    def __init__(
        self,
        session: Any,
        tracker: OrderTracker,
        timeout: float | None,
        stream: bool,
        via: Any = None,
    ) -> None:
        self._session = session
        self._calls = session if via is None else via
        self.tracker = tracker
        self._timeout = timeout
        self._use_stream = stream
        self._queue: list[Update] = []
        self._deadline: float | None = None

    @property
    def result(self) -> Order | ComplexOrder | None:
        """The final state once iteration ended (``Order`` or ``ComplexOrder``)."""
        return self.tracker.last

    def _timed_out(self) -> OrderWaitTimeout:
        last = self.tracker.last
        if isinstance(last, ComplexOrder):
            status: Any = ", ".join(str(o.status) for o in last.components) or None
        else:
            status = getattr(last, "status", None)
        what = "complex order" if self.tracker.complex_order else "order"
        what += f" {self.tracker.order_id or self.tracker.external_identifier}"
        return OrderWaitTimeout(
            f"{what} did not reach the wanted status within {self._timeout:g} s"
            + (f" (last seen {status})" if status is not None else " (never seen)"),
            order=last,
        )

    def _start_clock(self, now: float) -> None:
        """Start the timeout (at ``with``, or at the first read of a tracking never entered)."""
        if self._deadline is None and self._timeout is not None:
            self._deadline = now + self._timeout

    def _wait(self, now: float) -> float | None:
        deadlines = [d for d in (self.tracker.next_deadline(), self._deadline) if d is not None]
        return max(min(deadlines) - now, 0.0) if deadlines else None


def _read(session: Any, poll: Poll) -> Any:
    if isinstance(poll, PollOrder):
        return session.order(poll.account_number, poll.order_id)
    if isinstance(poll, PollComplexOrder):
        return session.complex_order(poll.account_number, poll.complex_order_id)
    return session.find_order(poll.account_number, poll.external_identifier)


class OrderTracking(_TrackingBase):
    """``session.track_order(...)`` on a synchronous transport: a context manager that
    yields each accepted update (:class:`OrderUpdated` or :class:`ComplexOrderUpdated`)
    until the order is done; :attr:`result` is then its final state. Raises
    :class:`OrderWaitTimeout` when ``timeout`` runs out first."""

    def __init__(
        self,
        session: Any,
        tracker: OrderTracker,
        timeout: float | None,
        stream: bool,
        via: Any = None,
    ) -> None:
        super().__init__(session, tracker, timeout, stream, via)
        self._stream: Any = None
        runtime = session.streaming_runtime()
        self._clock = runtime.clock
        self._pause = runtime.condition()

    def __enter__(self) -> OrderTracking:
        self._start_clock(self._clock())
        if self._use_stream:
            self._stream = self._session.account_stream(
                [self.tracker.account_number], via=self._calls
            )
            self._stream.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the stream (the ``with`` block does it)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def __iter__(self) -> Iterator[Update]:
        return self

    def __next__(self) -> Update:
        tracker, clock = self.tracker, self._clock
        while True:
            if self._queue:
                return self._queue.pop(0)
            if tracker.done:
                raise StopIteration
            now = clock()
            self._start_clock(now)
            if self._deadline is not None and now >= self._deadline:
                raise self._timed_out()
            poll = tracker.next_poll(now)
            if poll is not None:
                tracker.polling(now)
                tracker.polled(_read(self._calls, poll), clock())
                self._queue.extend(tracker.updates())
                continue
            stream = self._stream
            if stream is None or stream.finished:
                if stream is not None:
                    try:  # what it delivered before it ended still counts
                        while (event := stream.get(0)) is not None:
                            tracker.handle(event, now)
                    except TastytradeError:
                        pass  # the stream gave up for good: polling carries on
                    self.close()
                    self._queue.extend(tracker.updates())
                    continue
                tracker.stream_lost(now)
                wait = self._wait(clock())
                if wait:
                    with self._pause:
                        self._pause.wait(wait)
                continue
            try:
                event = stream.get(self._wait(now))
            except TastytradeError:
                self.close()  # the stream gave up for good while we waited: poll on
                tracker.stream_lost(now)
                continue
            if event is not None:
                tracker.handle(event, clock())
                self._queue.extend(tracker.updates())

    def wait(self) -> Order | ComplexOrder | None:
        """Run to the end; the order's final state."""
        for _ in self:
            pass
        return self.result


class AsyncOrderTracking(_TrackingBase):
    """``session.track_order(...)`` on an event-loop transport: ``async with`` it and
    ``async for`` the updates; as :class:`OrderTracking`."""

    def __init__(
        self,
        session: Any,
        tracker: OrderTracker,
        timeout: float | None,
        stream: bool,
        via: Any = None,
    ) -> None:
        super().__init__(session, tracker, timeout, stream, via)
        self._runtime = session.streaming_runtime()
        self._stream: Any = None

    def _now(self) -> float:
        return float(self._runtime.clock())

    async def __aenter__(self) -> AsyncOrderTracking:
        self._start_clock(self._now())
        if self._use_stream:
            stream = self._session.account_stream([self.tracker.account_number], via=self._calls)
            await stream.__aenter__()
            self._stream = stream
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the stream (the ``async with`` block does it)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()

    def __aiter__(self) -> AsyncIterator[Update]:
        return self

    async def __anext__(self) -> Update:
        tracker = self.tracker
        while True:
            if self._queue:
                return self._queue.pop(0)
            if tracker.done:
                raise StopAsyncIteration
            now = self._now()
            self._start_clock(now)
            if self._deadline is not None and now >= self._deadline:
                raise self._timed_out()
            poll = tracker.next_poll(now)
            if poll is not None:
                tracker.polling(now)
                tracker.polled(await _read(self._calls, poll), self._now())
                self._queue.extend(tracker.updates())
                continue
            stream = self._stream
            if stream is None or stream.finished:
                if stream is not None:
                    try:  # what it delivered before it ended still counts
                        while (event := await stream.get(0)) is not None:
                            tracker.handle(event, now)
                    except TastytradeError:
                        pass  # the stream gave up for good: polling carries on
                    await self.aclose()
                    self._queue.extend(tracker.updates())
                    continue
                tracker.stream_lost(now)
                wait = self._wait(self._now())
                if wait:
                    await self._runtime.sleep(wait)
                continue
            try:
                event = await stream.get(self._wait(now))
            except TastytradeError:
                await self.aclose()  # the stream gave up for good while we waited: poll on
                tracker.stream_lost(now)
                continue
            if event is not None:
                tracker.handle(event, self._now())
                self._queue.extend(tracker.updates())

    async def wait(self) -> Order | ComplexOrder | None:
        """Run to the end; the order's final state."""
        async for _ in self:
            pass
        return self.result
