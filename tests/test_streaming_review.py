"""Review of the DXLink streaming core: each test is a broken promise of docs/streaming.md
or of DXLink itself, and passes once the bug it names is fixed."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from tastytrade_proto.errors import TastytradeError, TransportError, WebSocketClosed
from tastytrade_proto.streaming import (
    CANDLE_CHANNEL,
    DEFAULT_FIELDS,
    FEED_CHANNEL,
    Candle,
    Connected,
    Disconnected,
    DisconnectReason,
    DXLinkConnection,
    EventFlag,
    Exchange,
    FetchToken,
    OpenSocket,
    Pause,
    Quote,
)
from tastytrade_proto.streaming.buffer import EventBuffer

URL = "wss://dxlink.test/realtime"
TOKEN = "quote-token-s3cr3t-0123456789"


def server(kind: str, channel: int = 0, **fields: Any) -> str:
    return json.dumps({"type": kind, "channel": channel, **fields})


def sent(link: DXLinkConnection) -> list[dict[str, Any]]:
    return [json.loads(text) for text in link.messages_to_send()]


def handshake(link: DXLinkConnection, now: float) -> None:
    """From an opened socket to READY with the feed channel open."""
    link.receive(server("SETUP", version="x", keepaliveTimeout=60, acceptKeepaliveTimeout=60), now)
    link.receive(server("AUTH_STATE", state="UNAUTHORIZED"), now)
    link.receive(server("AUTH_STATE", state="AUTHORIZED"), now)
    link.receive(server("CHANNEL_OPENED", FEED_CHANNEL, service="FEED"), now)


def ready(now: float = 0.0, **options: Any) -> DXLinkConnection:
    link = DXLinkConnection(**options)
    assert link.next_action(now) == FetchToken()
    link.token_received(TOKEN, URL, now)
    assert link.next_action(now) == OpenSocket(URL)
    link.socket_opened(now)
    handshake(link, now)
    link.messages_to_send()
    link.events()
    return link


def candle_row(symbol: str, time: int, flags: int = 0) -> list[Any]:
    fields = DEFAULT_FIELDS["Candle"]
    row: list[Any] = []
    for name in fields:
        row.append(
            {
                "eventType": "Candle",
                "eventSymbol": symbol,
                "eventFlags": flags,
                "time": time,
                "index": time,
            }.get(name, 1)
        )
    return row


# -- 1. a failed token fetch on an aged token is retried in a tight loop ------------------------


def test_a_failed_refresh_of_an_aged_token_while_disconnected_waits_for_the_backoff() -> None:
    link = DXLinkConnection(token_refresh_after=100.0, backoff_base=0.5)
    assert link.next_action(0) == FetchToken()
    link.token_received(TOKEN, URL, 0)
    assert link.next_action(0) == OpenSocket(URL)
    link.socket_failed(TransportError("refused", request_sent=False), 0)  # a retry is planned
    now = 200.0  # the token aged out meanwhile: a fresh one is fetched first
    assert link.next_action(now) == FetchToken()
    link.token_failed(TransportError("REST down", request_sent=False), now)
    gone = [e for e in link.events() if isinstance(e, Disconnected)]
    assert gone and gone[-1].retry_in > 0  # the machine itself announces a wait ...
    # ... and must keep it, not ask for the token again at once (a hot loop on the REST API)
    assert isinstance(link.next_action(now), Pause)


# -- 2. an aged token during a handshake makes Exchange deadlines that are already past ---------


def test_a_token_falling_due_during_the_handshake_does_not_make_the_driver_spin() -> None:
    link = DXLinkConnection(token_refresh_after=100.0, handshake_timeout=10.0)
    link.next_action(0)
    link.token_received(TOKEN, URL, 0)
    link.next_action(99.0)
    link.socket_opened(99.0)  # SETUP sent; the token falls due at 100, mid-handshake
    now = 101.0
    action = link.next_action(now)
    assert isinstance(action, Exchange)
    link.handle_timer(now)  # the driver saw the deadline pass
    action = link.next_action(now)
    # The same past deadline again: a driver that waits max(deadline - now, 0) spins on a
    # zero-timeout receive until the handshake ends. A deadline must lie ahead once handled.
    assert not (
        isinstance(action, Exchange) and action.deadline is not None and action.deadline <= now
    )


# -- 3. a candle snapshot cut by a reconnect loses the bars it had not sent yet ---------------


def test_a_reconnect_in_the_middle_of_a_newest_first_snapshot_asks_for_the_rest_again() -> None:
    link = ready()
    name = link.subscribe_candles("SPY", "1m", 60_000, 0)
    link.receive(server("CHANNEL_OPENED", CANDLE_CHANNEL, service="FEED"), 0)
    link.messages_to_send()
    # dxFeed sends history newest first (the fake too); the socket drops after two bars
    # of five: the bars of 60000, 120000 and 180000 were never delivered.
    first = candle_row(name, 300_000, EventFlag.SNAPSHOT_BEGIN) + candle_row(name, 240_000)
    link.receive(server("FEED_DATA", CANDLE_CHANNEL, data=["Candle", first]), 1)
    assert [e.time for e in link.events() if isinstance(e, Candle)] == [300_000, 240_000]
    link.socket_closed(WebSocketClosed("dropped"), 2)
    action = link.next_action(2)
    if isinstance(action, Pause):
        action = link.next_action(action.until)
    assert action == OpenSocket(URL)
    link.socket_opened(3)
    handshake(link, 3)
    link.receive(server("CHANNEL_OPENED", CANDLE_CHANNEL, service="FEED"), 3)
    adds = [
        item
        for message in sent(link)
        if message.get("channel") == CANDLE_CHANNEL
        for item in message.get("add", [])
    ]
    assert adds and adds[0]["symbol"] == name
    # Resuming from 300000 would never deliver 60000..180000: they are lost for good.
    assert adds[0]["fromTime"] <= 60_000


# -- 4. the quote token leaks into a Disconnected event -----------------------------------------


def test_a_close_reason_echoing_the_quote_token_is_scrubbed_from_the_disconnected_event() -> None:
    link = ready()
    link.socket_closed(
        WebSocketClosed("closed by the server", code=1008, reason=f"invalid token {TOKEN}"), 1
    )
    (gone,) = [e for e in link.events() if isinstance(e, Disconnected)]
    assert TOKEN not in repr(gone) and TOKEN not in gone.detail


def test_the_previous_token_is_scrubbed_too_after_a_live_refresh() -> None:
    link = ready(token_refresh_after=100.0)
    assert link.next_action(100.0) == FetchToken()
    link.token_received("the-renewed-token-987654", URL, 100.0)
    link.messages_to_send()
    # The server complains about the token the link used until now.
    link.receive(server("ERROR", error="UNKNOWN", message=f"token {TOKEN} superseded"), 100.5)
    events = link.events()
    assert events and all(TOKEN not in repr(event) for event in events)


# -- 5. the misuse contract of receive -----------------------------------------------------------


def test_receive_of_something_that_is_not_text_raises_a_tastytrade_error_only() -> None:
    link = ready()
    with contextlib.suppress(TastytradeError):  # misuse, said as the machine's own error
        link.receive(12345, 1)  # type: ignore[arg-type]


# -- 6. memory held for what the server sends, not for what was subscribed -------------------


def test_candles_for_symbols_never_subscribed_do_not_grow_the_resume_table() -> None:
    link = ready()
    link.subscribe_candles("SPY", "1m", 0, 0)
    link.receive(server("CHANNEL_OPENED", CANDLE_CHANNEL, service="FEED"), 0)
    for batch in range(20):
        rows: list[Any] = []
        for i in range(500):
            rows += candle_row(f"X{batch}-{i}{{=1m}}", 60_000)
        link.receive(server("FEED_DATA", CANDLE_CHANNEL, data=["Candle", rows]), 1)
        link.events()
    assert len(link._last_bar) <= len(link.subscriptions)


def test_feed_configs_naming_ever_new_types_do_not_grow_the_channel_without_bound() -> None:
    link = ready()
    for batch in range(20):
        config = {f"T{batch}x{i}": ["eventSymbol", "x"] for i in range(500)}
        link.receive(server("FEED_CONFIG", FEED_CHANNEL, eventFields=config), 1)
    fields = link._channels[FEED_CHANNEL].fields
    assert len(fields) <= 1024


# -- 7. the buffer moves a newer value in front of the link event that precedes it ------------


def test_coalescing_never_moves_an_event_of_a_new_socket_before_the_disconnect() -> None:
    buffer = EventBuffer(2)
    old = Quote(symbol="SPY", bid_price=None)
    gone = Disconnected(reason=DisconnectReason.CONNECTION_LOST, detail="x", retry_in=0.0)
    back = Connected(url=URL, attempt=1, replayed=1)
    new = Quote(symbol="SPY", sequence=2)
    for event in (old, gone, back, new):
        buffer.put(event)
    order = [buffer.take() for _ in range(len(buffer))]
    assert order.index(gone) < order.index(new)  # "link events, in order with the market data"


# -- 8. feeds over real sockets (the fake's DXLink on loopback) ---------------------------------

import asyncio  # noqa: E402
import threading  # noqa: E402

import pytest  # noqa: E402

from tastytrade_proto.streaming.feed import SyncRuntime  # noqa: E402
from tastytrade_proto.testing import (  # noqa: E402
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    FakeTastytradeServer,
)


@pytest.fixture
def fake() -> Any:
    with FakeTastytradeServer() as running:
        yield running


def test_a_sync_subscription_goes_out_at_once_while_the_pump_holds_back_for_a_slow_reader(
    fake: FakeTastytradeServer,
) -> None:
    import tastytrade_requests

    session = tastytrade_requests.Session(base_url=fake.base_url, prompt=lambda ask: DEMO_OTP)
    session.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)
    runtime = session.streaming_runtime()
    holding_back = threading.Event()
    aapl_sent = threading.Event()
    feeds: list[Any] = []

    class Spy(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            if (
                feeds
                and threading.current_thread().name == "tastytrade-stream"
                and feeds[0]._buffer.full
            ):
                holding_back.set()  # the pump waits for room: backpressure
            return super().wait(timeout)

    class Spying:
        def __init__(self, ws: Any) -> None:
            self.ws = ws

        def send(self, text: str) -> None:
            if '"AAPL"' in text:
                aapl_sent.set()
            self.ws.send(text)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.ws, name)

    def opener(url: str, headers: Any, timeout: float) -> Any:
        return Spying(runtime.open_websocket(url, headers, timeout))

    session.streaming_runtime = lambda: SyncRuntime(  # type: ignore[method-assign]
        clock=runtime.clock,
        open_websocket=opener,
        condition=Spy,
        start=runtime.start,
        current=runtime.current,
    )
    try:
        with session.market_stream(buffer_size=3) as feed:  # keepalive_interval: 30 s
            feeds.append(feed)
            feed.subscribe_candles("SPY", "1m", 0)  # a history snapshot: candles, never merged
            assert holding_back.wait(10), "the buffer never filled"
            feed.subscribe(Quote, ["AAPL"])  # the reader is slow, the link is up
            # "Sent at once when the link is up": not held until the next keepalive.
            assert aapl_sent.wait(5), "the subscription waited for the next keepalive"
    finally:
        session.close()


def test_iterating_an_async_stream_that_was_not_entered_does_not_hang(
    fake: FakeTastytradeServer,
) -> None:
    import tastytrade_aiohttp

    async def prompt(ask: Any) -> str:
        return DEMO_OTP

    async def body() -> None:
        session = tastytrade_aiohttp.Session(base_url=fake.base_url, prompt=prompt)
        try:
            await session.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)
            feed = session.market_stream()
            try:
                with pytest.raises(TastytradeError, match="async with"):
                    await feed.subscribe(Quote, ["SPY"])  # kept, with no pump to send it
                # The sync stream starts its pump on the first get(); the async one
                # waits forever for events no pump will ever deliver.
                await asyncio.wait_for(feed.__anext__(), 5)
            except TastytradeError:
                pass  # "enter it with async with" would do
            except asyncio.TimeoutError:
                pytest.fail("__anext__ on a stream that was never entered hangs")
            finally:
                await feed.aclose()
        finally:
            await session.close()

    asyncio.run(body())
