"""The bounded buffer between a feed's pump and a consumer that may be slow.

Policy, when more than ``capacity`` events wait to be taken:

* an event of a *latest-value* type (Quote, Trade, TradeETH, Greeks, Profile,
  Summary, TheoPrice, Underlying) replaces the waiting event of the same type and
  symbol, in its place in the queue: a slow consumer sees every symbol's newest
  value, never a stale one, and the buffer holds at most one such event per
  subscription beyond ``capacity``. :attr:`EventBuffer.coalesced` counts the
  replaced events;
* every other event (Candle, TimeAndSale, unknown types, link events) is always
  kept, and the buffer reports itself :attr:`~EventBuffer.full`: the pump stops
  reading the socket until the consumer catches up (backpressure, not loss; the
  server buffers meanwhile, and keepalives still go out);
* a link event is a barrier: no event after it (a new socket's quote) replaces one
  before it.

Below ``capacity`` nothing is replaced: a consumer that keeps up sees every event.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from .dxlink import LinkEvent
from .events import (
    Greeks,
    MarketEvent,
    Profile,
    Quote,
    Summary,
    TheoPrice,
    Trade,
    TradeETH,
    Underlying,
)

__all__ = ["DEFAULT_CAPACITY", "LATEST_VALUE_TYPES", "EventBuffer"]

#: Events held before latest-value events start replacing each other.
DEFAULT_CAPACITY = 10_000

#: Event classes whose newest value replaces an older one a slow consumer has not taken.
LATEST_VALUE_TYPES: frozenset[type[MarketEvent]] = frozenset(
    {Quote, Trade, TradeETH, Greeks, Profile, Summary, TheoPrice, Underlying}
)


class EventBuffer:
    """Events waiting for the consumer, with the policy in the module docs. Not
    thread-safe: the feeds hold their lock around it."""

    __slots__ = ("_kept", "_latest", "_queue", "capacity", "coalesced")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        self.capacity = capacity
        #: How many events were replaced by a newer one of the same type and symbol.
        self.coalesced = 0
        # Each entry is a one-item list, so an event can be replaced in its place.
        self._queue: deque[list[Any]] = deque()
        # (type, symbol) -> the entry holding that pair's newest waiting event.
        self._latest: dict[tuple[type[Any], str], list[Any]] = {}
        self._kept = 0  # entries that may never be replaced (the backpressure count)

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def full(self) -> bool:
        """Whether the pump should stop reading until the consumer takes some events."""
        return self._kept >= self.capacity

    def put(self, event: MarketEvent | LinkEvent) -> None:
        """Add ``event`` (or let it replace an older one, past ``capacity``)."""
        kind = type(event)
        if kind in LATEST_VALUE_TYPES:
            key = (kind, event.symbol)  # type: ignore[union-attr]
            if len(self._queue) >= self.capacity:
                entry = self._latest.get(key)
                if entry is not None:
                    entry[0] = event
                    self.coalesced += 1
                    return
            entry = [event, key]
            self._latest[key] = entry
            self._queue.append(entry)
            return
        self._kept += 1
        self._queue.append([event, None])
        if isinstance(event, LinkEvent):
            # A barrier: nothing after a link event (a new socket's quote) may take the
            # place of something before it.
            self._latest.clear()

    def extend(self, events: list[Any]) -> None:
        """:meth:`put` each of ``events``."""
        for event in events:
            self.put(event)

    def take(self) -> MarketEvent | LinkEvent | None:
        """The oldest waiting event, or ``None``."""
        if not self._queue:
            return None
        entry = self._queue.popleft()
        key = entry[1]
        if key is None:
            self._kept -= 1
        elif self._latest.get(key) is entry:
            del self._latest[key]
        event: MarketEvent | LinkEvent = entry[0]
        return event

    def clear(self) -> None:
        """Drop every waiting event."""
        self._queue.clear()
        self._latest.clear()
        self._kept = 0
