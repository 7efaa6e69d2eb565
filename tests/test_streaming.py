"""Market data streams over every transport, against the fake's DXLink websocket on loopback.

One body per behaviour, run with each transport's session over real sockets (TLS where it
matters), with the fake's stream faults: a dropped socket, a stall, a 1012 close, an expired
quote token, a malformed frame and a burst.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest

from tastytrade_proto.errors import StreamingError
from tastytrade_proto.streaming import (
    Candle,
    Connected,
    Disconnected,
    DisconnectReason,
    EventFlag,
    Greeks,
    MalformedMessage,
    Quote,
    StreamError,
    SubscriptionRefused,
    Summary,
)
from tastytrade_proto.testing import DEMO_LOGIN, DEMO_OTP, DEMO_PASSWORD, FakeTastytradeServer
from tastytrade_proto.testing.fake.api import StreamFault, StreamFaultKind

from .harness import TRANSPORTS, Harness, StreamFace

OPTION = ".SPY261218C600"
WAIT = 10.0  # seconds any one expected event may take; a failure, never a pause


class Feed(StreamFace):
    """A market stream's face: subscriptions awaited, events bounded (see StreamFace)."""

    async def subscribe(self, *args: Any) -> None:
        await self.call("subscribe", *args)

    async def subscribe_candles(self, *args: Any, **kwargs: Any) -> str:
        return str(await self.call("subscribe_candles", *args, **kwargs))


@asynccontextmanager
async def stream(harness: Harness, **options: Any) -> AsyncIterator[Feed]:
    async with harness.session(prompting=True) as session:
        await session.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)
        feed = session.session.market_stream(**options)
        if harness.sync:
            with feed:
                yield Feed(harness.kind, feed)
        else:
            async with feed:
                yield Feed(harness.kind, feed)


@pytest.fixture(params=TRANSPORTS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake() -> Any:
    with FakeTastytradeServer() as server:
        yield server


@pytest.fixture
def fake_tls() -> Any:
    pytest.importorskip("trustme")
    with FakeTastytradeServer(tls=True) as server:
        yield server


def is_type(kind: type) -> Callable[[Any], bool]:
    return lambda event: isinstance(event, kind)


def test_quotes_greeks_and_summaries_arrive_exact_over_tls(
    kind: str, fake_tls: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake_tls)

    async def body() -> None:
        async with stream(harness) as feed:
            await feed.subscribe(Quote, ["SPY"])
            await feed.subscribe(Greeks, [OPTION])
            await feed.subscribe("Summary", ["SPY"])
            connected = await feed.next()
            assert isinstance(connected, Connected) and connected.url.startswith("wss://127.0.0.1")
            first: dict[type, Any] = {}
            while len(first) < 3:
                event = await feed.next()
                first.setdefault(type(event), event)
            quote, greeks, summary = first[Quote], first[Greeks], first[Summary]
            assert quote.symbol == "SPY" and isinstance(quote.bid_price, Decimal)
            assert quote.bid_price < quote.ask_price
            assert greeks.symbol == OPTION and Decimal(0) < greeks.delta < Decimal(1)
            assert summary.symbol == "SPY" and isinstance(summary.prev_day_close_price, Decimal)

    harness.run(body)


def test_a_dropped_socket_is_reconnected_and_every_subscription_replayed(
    kind: str, fake_tls: FakeTastytradeServer
) -> None:
    fake = fake_tls
    harness = Harness(kind, fake)

    async def body() -> None:
        async with stream(harness) as feed:
            await feed.subscribe(Quote, ["SPY", "AAPL"])
            await feed.subscribe(Greeks, [OPTION])
            await feed.until(is_type(Quote))
            fault = fake.api.inject_stream_fault(StreamFault(StreamFaultKind.DROP))
            gone, _ = await feed.until(is_type(Disconnected))
            assert gone.reason is DisconnectReason.CONNECTION_LOST and gone.code is None
            back, _ = await feed.until(is_type(Connected))
            assert back.replayed == 3
            quote, _ = await feed.until(is_type(Quote))
            assert quote.symbol in ("SPY", "AAPL")
            assert fault.hits == 1

    harness.run(body)
    adds = [m.text for m in fake.api.stream_messages if m.direction == "in" and '"add"' in m.text]
    assert len(adds) == 2 and adds[0] == adds[1]  # the same subscriptions, on the new socket


def test_a_1012_close_is_a_service_restart_and_the_stream_carries_on(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with stream(harness) as feed:
            await feed.subscribe(Quote, ["SPY"])
            await feed.until(is_type(Quote))
            fake.api.inject_stream_fault(StreamFault(StreamFaultKind.RESTART))
            gone, _ = await feed.until(is_type(Disconnected))
            assert (gone.reason, gone.code) == (DisconnectReason.SERVICE_RESTART, 1012)
            await feed.until(is_type(Connected))
            await feed.until(is_type(Quote))

    harness.run(body)


def test_a_stalled_server_is_detected_by_silence_and_replaced(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with stream(harness, receive_timeout=0.5, keepalive_interval=0.2) as feed:
            await feed.subscribe(Quote, ["SPY"])
            await feed.until(is_type(Quote))
            fake.api.inject_stream_fault(StreamFault(StreamFaultKind.STALL))
            gone, _ = await feed.until(is_type(Disconnected))
            assert gone.reason is DisconnectReason.RECEIVE_TIMEOUT
            await feed.until(is_type(Connected))
            await feed.until(is_type(Quote))

    harness.run(body)


def test_an_expired_quote_token_is_replaced_over_the_session(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)

    def token_requests() -> int:
        return sum(1 for r in fake.api.requests if r.path.startswith("/api-quote-tokens"))

    async def body() -> None:
        async with stream(harness) as feed:
            await feed.subscribe(Quote, ["SPY"])
            await feed.until(is_type(Quote))
            assert token_requests() == 1
            fake.api.inject_stream_fault(StreamFault(StreamFaultKind.EXPIRE_TOKEN))
            gone, before = await feed.until(is_type(Disconnected))
            assert gone.reason is DisconnectReason.UNAUTHORIZED
            assert any(isinstance(e, StreamError) and e.error == "UNAUTHORIZED" for e in before)
            await feed.until(is_type(Connected))
            await feed.until(is_type(Quote))
            assert token_requests() == 2

    harness.run(body)


def test_a_malformed_frame_is_reported_and_the_stream_goes_on(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with stream(harness) as feed:
            await feed.subscribe(Quote, ["SPY"])
            await feed.until(is_type(Quote))
            fake.api.inject_stream_fault(StreamFault(StreamFaultKind.MALFORMED_JSON))
            bad, _ = await feed.until(is_type(MalformedMessage))
            assert isinstance(bad.error, StreamingError)
            fake.api.inject_stream_fault(StreamFault(StreamFaultKind.MALFORMED_DATA))
            bad, _ = await feed.until(is_type(MalformedMessage))
            assert "divide" in str(bad.error)
            assert feed.stream.malformed == 2
            fake.api.set_mark("SPY", "612.34")
            await feed.until(
                lambda e: isinstance(e, Quote) and e.bid_price is not None and e.bid_price > 612
            )

    harness.run(body)


def test_a_burst_of_100000_events_reaches_a_slow_consumer_bounded(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with stream(harness, buffer_size=1000) as feed:
            await feed.subscribe(Quote, ["SPY", "AAPL", "QQQ"])
            await feed.until(is_type(Quote))
            fault = fake.api.inject_stream_fault(StreamFault(StreamFaultKind.BURST, count=100_000))
            received = 0
            most_pending = 0
            while received + feed.stream.coalesced < 100_000:
                event = await feed.next()
                received += isinstance(event, Quote)
                most_pending = max(most_pending, feed.stream.pending)
            assert fault.hits == 1
            assert most_pending <= 1000 + 3 + 10  # capacity, one per symbol, link events

    harness.run(body)


def test_candles_come_with_their_history_as_a_snapshot(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)
    start = int(fake.api.clock() * 1000) - 3600 * 1000

    async def body() -> None:
        async with stream(harness) as feed:
            name = await feed.subscribe_candles("SPY", "5m", start)
            assert name == "SPY{=5m}"
            first, _ = await feed.until(is_type(Candle))
            assert first.symbol == name and first.event_flags & EventFlag.SNAPSHOT_BEGIN
            bars = [first]
            while not bars[-1].event_flags & EventFlag.SNAPSHOT_END:
                bars.append((await feed.until(is_type(Candle)))[0])
            assert len(bars) >= 12
            assert all(bar.time >= start - 300_000 for bar in bars)
            assert all(
                bar.low <= bar.open <= bar.high and bar.low <= bar.close <= bar.high for bar in bars
            )

    harness.run(body)


def test_too_many_candle_subscriptions_are_refused_not_swallowed(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with stream(harness) as feed:
            for minutes in range(1, 23):
                await feed.subscribe_candles("SPY", f"{minutes}m", 0)
            refused, _ = await feed.until(is_type(SubscriptionRefused))
            assert refused.event_type == "Candle"

    harness.run(body)


def test_closing_leaves_no_thread_task_or_socket(kind: str, fake: FakeTastytradeServer) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with stream(harness) as feed:
            await feed.subscribe(Quote, ["SPY"])
            await feed.until(is_type(Quote))
        if kind == "aiohttp":
            current = asyncio.current_task()
            assert [t for t in asyncio.all_tasks() if t is not current] == []

    harness.run(body)
    gc.collect()
    assert fake.wait_for(lambda: fake.websockets == 0)  # the server saw the socket close
    closes = [m for m in fake.api.stream_messages if m.direction == "close"]
    assert closes == []  # the client closed it, not the server
    assert not [t for t in threading.enumerate() if t.name == "tastytrade-stream"]


def test_a_cancelled_reader_leaves_nothing_open(kind: str, fake: FakeTastytradeServer) -> None:
    if kind == "requests":
        pytest.skip("no cancellation in sync code: closing is covered above")
    harness = Harness(kind, fake)

    async def body() -> None:
        async def read_forever() -> None:
            async with stream(harness) as feed:
                await feed.subscribe(Quote, ["SPY"])
                await feed.until(is_type(Quote))
                async for _ in feed.stream:
                    pass

        if kind == "trio":
            import trio

            with trio.move_on_after(0.3) as scope:
                await read_forever()
            assert scope.cancelled_caught
        else:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(read_forever(), 0.3)
            current = asyncio.current_task()
            assert [t for t in asyncio.all_tasks() if t is not current] == []

    harness.run(body)
    assert fake.wait_for(lambda: fake.websockets == 0)


def test_threads_subscribing_while_one_reads(fake: FakeTastytradeServer) -> None:
    import tastytrade_requests

    session = tastytrade_requests.Session(base_url=fake.base_url, prompt=lambda ask: DEMO_OTP)
    session.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)
    symbols = ["SPY", "AAPL", "QQQ", "MSFT", OPTION, "/ESZ26:XCME", "BTC/USD:CXTALP"]
    with session.market_stream() as feed:
        workers = [
            threading.Thread(target=feed.subscribe, args=(Quote, [symbol])) for symbol in symbols
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        seen: set[str] = set()
        while seen != set(symbols):
            event = feed.get(WAIT)
            assert event is not None, f"quotes only for {sorted(seen)}"
            if isinstance(event, Quote):
                seen.add(event.symbol)
        assert {s.symbol for s in feed.subscriptions} == set(symbols)
    session.close()


def test_the_quote_token_is_fetched_over_the_session_which_renews_its_own_token(
    kind: str, fake: FakeTastytradeServer
) -> None:
    """An expired quote token on a link that outlived the access token: the session
    renews its OAuth token (the token store hears of it) before the quote token comes."""
    from tastytrade_proto.protocol.events import AccessTokenIssued
    from tastytrade_proto.testing import DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN, FakeClock

    clock = FakeClock(fake.api.clock())
    fake.api.clock = clock
    harness = Harness(kind, fake)
    issued: list[AccessTokenIssued] = []

    def store(event: Any) -> None:
        if isinstance(event, AccessTokenIssued):
            issued.append(event)

    async def body() -> None:
        async with harness.session(token_store=store) as session:
            await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            feed = session.session.market_stream()
            facade = Feed(kind, feed)
            if harness.sync:
                feed.__enter__()
            else:
                await feed.__aenter__()
            try:
                await facade.subscribe(Quote, ["SPY"])
                await facade.until(is_type(Quote))
                assert len(issued) == 1
                clock.advance(fake.api.access_token_lifetime + 60)  # the access token lapsed
                fake.api.inject_stream_fault(StreamFault(StreamFaultKind.EXPIRE_TOKEN))
                await facade.until(is_type(Disconnected))
                await facade.until(is_type(Connected))
                await facade.until(is_type(Quote))
                assert len(issued) == 2  # renewed on the way to the new quote token
            finally:
                if harness.sync:
                    feed.__exit__(None, None, None)
                else:
                    await feed.__aexit__(None, None, None)

    harness.run(body)


# -- more of the stream's contract ---------------------------------------------------------


def test_a_login_that_may_not_stream_ends_the_stream_with_the_apis_error(
    kind: str, fake: FakeTastytradeServer
) -> None:
    from tastytrade_proto.errors import ApiError

    fake.api.add_user("browser", "looking-only-1")  # registered, never opened an account
    harness = Harness(kind, fake)

    async def body() -> None:
        async with harness.session() as session:
            await session.login_with_password("browser", "looking-only-1")
            feed = session.session.market_stream()
            if harness.sync:
                with feed, pytest.raises(ApiError) as info:
                    feed.subscribe(Quote, ["SPY"])
                    feed.get(WAIT)
            else:
                async with feed:
                    await feed.subscribe(Quote, ["SPY"])
                    with pytest.raises(ApiError) as info:
                        await Feed(kind, feed).next()
            assert info.value.code == "quote_streamer.customer_not_found_error"

    harness.run(body)


def test_candle_history_bigger_than_the_buffer_arrives_whole_by_backpressure(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)
    start = int(fake.api.clock() * 1000) - 10 * 3600 * 1000

    async def body() -> None:
        async with stream(harness, buffer_size=20) as feed:
            name = await feed.subscribe_candles("SPY", "1m", start)
            times = []
            while True:
                bar, _ = await feed.until(is_type(Candle))
                assert bar.symbol == name
                times.append(bar.time)
                assert feed.stream.pending <= 20 + 100  # capacity, plus one message's worth
                if bar.event_flags & EventFlag.SNAPSHOT_END:
                    break
            assert len(times) == len(set(times)) >= 600  # ten hours of minutes, none lost
            assert feed.stream.coalesced == 0

    harness.run(body)


def test_unsubscribe_and_reset_reach_the_server(kind: str, fake: FakeTastytradeServer) -> None:
    harness = Harness(kind, fake)

    async def call(feed: Feed, name: str, *args: Any) -> None:
        result = getattr(feed.stream, name)(*args)
        if kind != "requests":
            await result

    async def body() -> None:
        async with stream(harness) as feed:
            await feed.subscribe(Quote, ["SPY", "AAPL"])
            await feed.until(is_type(Quote))
            await call(feed, "unsubscribe", Quote, ["SPY"])
            assert [s.symbol for s in feed.stream.subscriptions] == ["AAPL"]
            await call(feed, "reset")
            assert feed.stream.subscriptions == ()
            assert fake.wait_for(
                lambda: any('"reset"' in m.text and "add" not in m.text for m in inbound(fake))
            )
            assert any('"remove"' in m.text and "SPY" in m.text for m in inbound(fake))

    harness.run(body)


def inbound(fake: FakeTastytradeServer) -> list[Any]:
    return [m for m in fake.api.stream_messages if m.direction == "in"]


def test_a_sync_stream_times_out_ends_and_refuses_use_after_close(
    fake: FakeTastytradeServer,
) -> None:
    import tastytrade_requests

    session = tastytrade_requests.Session(base_url=fake.base_url, prompt=lambda ask: DEMO_OTP)
    session.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)
    feed = session.market_stream()
    assert isinstance(feed.get(WAIT), Connected)  # get() starts the stream by itself
    assert feed.get(0.05) is None and not feed.finished  # nothing subscribed: nothing comes
    feed.close()
    feed.close()  # twice is fine
    assert feed.finished
    assert list(feed) == []
    with pytest.raises(StreamingError, match="closed"):
        feed.subscribe(Quote, ["SPY"])
    session.close()


def test_an_async_stream_is_entered_once(fake: FakeTastytradeServer) -> None:
    import tastytrade_aiohttp

    async def body() -> None:
        async with tastytrade_aiohttp.Session(base_url=fake.base_url) as session:
            feed = session.market_stream()
            async with feed:
                with pytest.raises(StreamingError, match="once"):
                    await feed.__aenter__()
            await feed.aclose()  # again: nothing happens
            with pytest.raises(StopAsyncIteration):
                await feed.__anext__()

    asyncio.run(body())


def test_a_pump_that_breaks_ends_the_stream_with_the_error(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)

    def broken(*args: Any) -> Any:
        raise RuntimeError("the opener has a bug")

    async def broken_async(*args: Any) -> Any:
        raise RuntimeError("the opener has a bug")

    async def body() -> None:
        async with harness.session(prompting=True) as session:
            await session.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)
            session.session.open_websocket = broken if harness.sync else broken_async
            feed = session.session.market_stream()
            if harness.sync:
                with feed, pytest.raises(StreamingError, match=r"pump failed.*opener has a bug"):
                    feed.get(WAIT)
            else:
                async with feed:
                    with pytest.raises(StreamingError, match=r"pump failed.*opener has a bug"):
                        await Feed(kind, feed).next()

    harness.run(body)


def test_times_are_aware_datetimes_or_epoch_milliseconds() -> None:
    from datetime import datetime, timezone

    from tastytrade_proto.streaming import epoch_milliseconds

    assert epoch_milliseconds(datetime(2026, 1, 1, tzinfo=timezone.utc)) == 1_767_225_600_000
    assert epoch_milliseconds(5) == 5
    for bad in (datetime(2026, 1, 1), True, 1.5, "2026-01-01"):
        with pytest.raises(StreamingError):
            epoch_milliseconds(bad)  # type: ignore[arg-type]


def test_get_with_a_timeout_is_the_same_in_every_transport(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)

    async def get(feed: Feed, timeout: float) -> Any:
        result = feed.stream.get(timeout)
        return result if kind == "requests" else await result

    async def body() -> None:
        async with stream(harness) as feed:
            assert isinstance(await get(feed, WAIT), Connected)
            assert await get(feed, 0.05) is None and not feed.stream.finished
            await feed.subscribe("quote", ["SPY"])  # any case: it is the Quote type
            event = await get(feed, WAIT)
            assert isinstance(event, Quote) and event.symbol == "SPY"
        assert feed.stream.finished
        assert await get(feed, 0.05) is None

    harness.run(body)
