"""The buffer between a stream's pump and a slow consumer: its policy, exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastytrade_proto.streaming import (
    Candle,
    Connected,
    EventBuffer,
    Quote,
    TimeAndSale,
)


def quote(symbol: str, bid: int) -> Quote:
    return Quote(symbol=symbol, bid_price=Decimal(bid))


def drain(buffer: EventBuffer) -> list[object]:
    out = []
    while (event := buffer.take()) is not None:
        out.append(event)
    return out


def test_below_capacity_every_event_is_kept_in_order() -> None:
    buffer = EventBuffer(capacity=10)
    events = [quote("SPY", 1), quote("SPY", 2), quote("QQQ", 3)]
    buffer.extend(events)
    assert drain(buffer) == events and buffer.coalesced == 0


def test_past_capacity_a_newer_quote_replaces_the_waiting_one_in_its_place() -> None:
    buffer = EventBuffer(capacity=2)
    buffer.extend(
        [quote("SPY", 1), quote("QQQ", 2), quote("SPY", 3), quote("QQQ", 4), quote("IWM", 5)]
    )
    assert drain(buffer) == [quote("SPY", 3), quote("QQQ", 4), quote("IWM", 5)]
    assert buffer.coalesced == 2


def test_candles_time_and_sales_and_link_events_are_never_replaced_and_push_back() -> None:
    buffer = EventBuffer(capacity=3)
    kept = [Candle(symbol="SPY{=5m}", time=i) for i in range(3)]
    buffer.extend(kept)
    assert buffer.full
    buffer.put(TimeAndSale(symbol="SPY", index=1))
    buffer.put(Connected(url="wss://x", attempt=1, replayed=0))
    assert len(buffer) == 5 and buffer.coalesced == 0
    assert drain(buffer)[:3] == kept
    assert not buffer.full


def test_a_taken_quote_is_not_replaced_afterwards() -> None:
    buffer = EventBuffer(capacity=1)
    buffer.put(quote("SPY", 1))
    assert buffer.take() == quote("SPY", 1)
    buffer.put(quote("SPY", 2))
    buffer.put(quote("SPY", 3))
    assert drain(buffer) == [quote("SPY", 3)]


@pytest.mark.parametrize("capacity", [0, -1, True, 1.5])
def test_capacity_must_be_a_positive_int(capacity: object) -> None:
    with pytest.raises(ValueError):
        EventBuffer(capacity=capacity)  # type: ignore[arg-type]


@given(
    st.integers(min_value=1, max_value=20),
    st.lists(
        st.tuples(
            st.sampled_from(["SPY", "QQQ", "IWM", "DIA"]), st.integers(0, 10**6), st.booleans()
        ),
        max_size=200,
    ),
)
def test_the_newest_value_of_every_symbol_always_reaches_the_consumer(
    capacity: int, feed: list[tuple[str, int, bool]]
) -> None:
    buffer = EventBuffer(capacity=capacity)
    newest: dict[str, Quote] = {}
    seen: list[Quote] = []
    for symbol, bid, take in feed:
        event = quote(symbol, bid)
        newest[symbol] = event
        buffer.put(event)
        if take and (got := buffer.take()) is not None:
            seen.append(got)  # type: ignore[arg-type]
        assert len(buffer) <= capacity + 4  # bounded: capacity plus one per symbol
    seen.extend(drain(buffer))  # type: ignore[arg-type]
    last_seen = {}
    for event in seen:
        last_seen[event.symbol] = event
    assert last_seen == newest
    assert len(seen) + buffer.coalesced == len(feed)
