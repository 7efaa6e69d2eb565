"""Account streams and order tracking over every transport, against the fake's account
streamer on loopback (TLS where it matters), with its faults: a dropped socket, a stall,
a refused connect and an expired token."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest

from tastytrade_proto.errors import ApiError, SessionExpired, StreamingError
from tastytrade_proto.orders import NewLeg, NewOrder, OrderAction, OrderStatus
from tastytrade_proto.streaming import (
    ActionRefused,
    BalancesUpdated,
    Connected,
    Disconnected,
    DisconnectReason,
    OrderUpdated,
    OrderWaitTimeout,
    PositionUpdated,
    QuoteAlertTriggered,
    Resync,
    WatchlistUpdated,
)
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    AccountStreamFault,
    AccountStreamFaultKind,
    FakeTastytradeServer,
)
from tastytrade_proto.testing.fake.api import Fault, FaultKind

from .harness import TRANSPORTS, Facade, Harness, StreamFace

MARGIN = "5WT00001"
WAIT = 10.0  # seconds any one expected event may take; a failure, never a pause


Stream = StreamFace


async def logged_in(harness: Harness, oauth: bool) -> Facade:
    session = harness.session(prompting=True)
    if oauth:
        await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
    else:
        await session.login_with_password(DEMO_LOGIN, DEMO_PASSWORD, remember_me=True)
    return session


@asynccontextmanager
async def account_stream(
    harness: Harness, *, oauth: bool = True, **options: Any
) -> AsyncIterator[tuple[Facade, Stream]]:
    async with await logged_in(harness, oauth) as session:
        stream = session.session.account_stream([MARGIN], **options)
        if harness.sync:
            with stream:
                yield session, Stream(harness.kind, stream)
        else:
            async with stream:
                yield session, Stream(harness.kind, stream)


def is_type(kind: type) -> Callable[[Any], bool]:
    return lambda event: isinstance(event, kind)


def limit_order(price: str = "150.00", quantity: int = 10) -> dict[str, Any]:
    return {
        "time-in-force": "Day",
        "order-type": "Limit",
        "price": price,
        "price-effect": "Debit",
        "legs": [
            {
                "instrument-type": "Equity",
                "symbol": "AAPL",
                "quantity": quantity,
                "action": "Buy to Open",
            }
        ],
    }


async def place(session: Facade, **kwargs: Any) -> int:
    answer = await session.request("POST", f"/accounts/{MARGIN}/orders", json=limit_order(**kwargs))
    return int(answer.data["order"]["id"])


def of_order(order_id: int) -> Callable[[Any], bool]:
    return lambda e: isinstance(e, OrderUpdated) and e.order.id == order_id


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


# -- the happy path ---------------------------------------------------------------------------


@pytest.mark.parametrize("oauth", [True, False], ids=["oauth", "legacy"])
def test_an_order_is_seen_placed_live_and_filled_with_position_and_balances_over_tls(
    kind: str, fake_tls: FakeTastytradeServer, oauth: bool
) -> None:
    harness = Harness(kind, fake_tls)

    async def body() -> None:
        async with account_stream(harness, oauth=oauth) as (session, stream):
            connected, _ = await stream.until(is_type(Connected))
            assert connected.url == fake_tls.account_streamer_url
            resync, first = await stream.until(is_type(Resync))
            assert resync.reason == "connect" and all(e.resynced for e in first)
            order_id = await place(session)
            fake_tls.api.fill_order(order_id)
            filled, seen = await stream.until(
                lambda e: of_order(order_id)(e) and e.order.status is OrderStatus.FILLED
            )
            statuses = [e.order.status.value for e in seen if of_order(order_id)(e)]
            assert statuses == ["Received", "Routed", "Live"]
            assert sum(f.quantity for f in filled.new_fills) == 10
            position, _ = await stream.until(is_type(PositionUpdated))
            assert position.position.symbol == "AAPL" and not position.resynced
            balances, _ = await stream.until(is_type(BalancesUpdated))
            assert balances.balances.account_number == MARGIN
        # What went over the wire carried the session's Authorization value, as it is sent.
        sent = [m for m in fake_tls.api.account_stream_messages if m.direction == "in"]
        assert sent and sent[0].text.startswith('{"action":"connect"')

    harness.run(body)
    assert fake_tls.wait_for(lambda: not fake_tls.api.account_streams)


def test_public_watchlists_and_quote_alerts_come_once_subscribed(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with account_stream(harness) as (_, stream):
            await stream.until(is_type(Resync))
            await stream.call("subscribe_public_watchlists")
            await stream.call("subscribe_quote_alerts")
            assert fake.wait_for(
                lambda: sum("subscribe" in m.text for m in fake.api.account_stream_messages) >= 4
            )
            fake.api.set_public_watchlist("Movers", [("AAPL", "Equity"), ("SPY", "Equity")])
            watchlist, _ = await stream.until(is_type(WatchlistUpdated))
            assert watchlist.watchlist.symbols == ("AAPL", "SPY")
            fake.api.add_quote_alert("AAPL", "Last", ">", "200")
            fake.api.set_mark("AAPL", "201")
            alert, _ = await stream.until(is_type(QuoteAlertTriggered))
            assert alert.alert.threshold == Decimal("200")

    harness.run(body)


# -- faults --------------------------------------------------------------------------------------


def test_a_fill_during_a_dropped_socket_comes_back_through_the_resync_once(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with account_stream(harness) as (session, stream):
            await stream.until(is_type(Resync))
            order_id = await place(session)
            await stream.until(lambda e: of_order(order_id)(e) and e.order.status.value == "Live")
            with fake.api.lock:  # the fill happens while no socket listens
                fake.api.inject_account_stream_fault(
                    AccountStreamFault(AccountStreamFaultKind.DROP)
                )
                fake.api.fill_order(order_id)
            lost, _ = await stream.until(is_type(Disconnected))
            assert lost.reason is DisconnectReason.CONNECTION_LOST
            resync, seen = await stream.until(is_type(Resync))
            assert resync.reason == "reconnect" and resync.orders == 1
            (update,) = [e for e in seen if of_order(order_id)(e)]
            assert update.resynced and update.order.status is OrderStatus.FILLED
            assert sum(f.quantity for f in update.new_fills) == 10
            assert update.previous_status is OrderStatus.LIVE

    harness.run(body)


def test_a_stalled_socket_is_noticed_and_replaced(kind: str, fake: FakeTastytradeServer) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with account_stream(harness, heartbeat_interval=0.2, receive_timeout=1.0) as (
            _,
            stream,
        ):
            await stream.until(is_type(Resync))
            fake.api.inject_account_stream_fault(AccountStreamFault(AccountStreamFaultKind.STALL))
            lost, _ = await stream.until(is_type(Disconnected))
            assert lost.reason is DisconnectReason.RECEIVE_TIMEOUT
            resync, _ = await stream.until(is_type(Resync))
            assert resync.reason == "reconnect"

    harness.run(body)


def test_a_refused_connect_renews_the_token_and_connects(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)
    fake.api.inject_account_stream_fault(AccountStreamFault(AccountStreamFaultKind.REFUSE_CONNECT))

    async def body() -> None:
        async with account_stream(harness) as (session, stream):
            refused, _ = await stream.until(is_type(ActionRefused))
            assert (refused.action, refused.code) == ("connect", "failed")
            await stream.until(is_type(Resync))
            assert session.machine.state.name == "AUTHENTICATED"

    harness.run(body)


@pytest.mark.parametrize("oauth", [True, False], ids=["oauth", "legacy"])
def test_an_expired_token_is_renewed_through_the_session(
    kind: str, fake: FakeTastytradeServer, oauth: bool
) -> None:
    harness = Harness(kind, fake)
    renewed: list[Any] = []

    async def body() -> None:
        async with account_stream(harness, oauth=oauth, heartbeat_interval=0.2) as (
            session,
            stream,
        ):
            await stream.until(is_type(Resync))
            before = session.machine.expires_at
            fake.api.inject_account_stream_fault(
                AccountStreamFault(AccountStreamFaultKind.EXPIRE_TOKEN)
            )
            refused, _ = await stream.until(is_type(ActionRefused))
            assert refused.code == "failed"
            await stream.until(is_type(Resync))
            renewed.append(session.machine.expires_at != before)
            order_id = await place(session)  # REST works with the renewed token too
            await stream.until(of_order(order_id))

    harness.run(body)
    assert renewed == [True]


def test_a_token_that_cannot_be_renewed_ends_the_stream_with_the_error(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        first = await logged_in(harness, True)
        dumped = first.dump()  # without the client secret: nothing can refresh it
        await first.close()  # no logout: the token stays good
        settings: dict[str, Any] = {"base_url": fake.base_url}
        session = Facade(harness.module.Session.load(dumped, **settings), harness.sync)
        assert not session.machine.can_renew
        async with session, account_stream_of(harness, session, heartbeat_interval=0.2) as stream:
            await stream.until(is_type(Resync))
            fake.api.inject_account_stream_fault(
                AccountStreamFault(AccountStreamFaultKind.EXPIRE_TOKEN)
            )
            with pytest.raises(SessionExpired, match="renew"):
                await stream.until(lambda e: False)
            assert stream.stream.finished

    harness.run(body)


@asynccontextmanager
async def account_stream_of(
    harness: Harness, session: Facade, **options: Any
) -> AsyncIterator[Stream]:
    stream = session.session.account_stream([MARGIN], **options)
    if harness.sync:
        with stream:
            yield Stream(harness.kind, stream)
    else:
        async with stream:
            yield Stream(harness.kind, stream)


# -- a slow consumer ----------------------------------------------------------------------------


def test_a_slow_consumer_loses_nothing(kind: str, fake: FakeTastytradeServer) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with account_stream(harness, buffer_size=4) as (session, stream):
            await stream.until(is_type(Resync))
            ids = [await place(session, price="1.00", quantity=1) for _ in range(12)]
            for order_id in ids:
                fake.api.fill_order(order_id)
            # Nobody reads meanwhile: the pump holds back instead of dropping.
            assert fake.wait_for(
                lambda: sum(c.status == "Filled" for c in fake.api.order_history) >= 12
            )
            filled: set[int] = set()
            while len(filled) < 12:
                event = await stream.next()
                if isinstance(event, OrderUpdated) and event.order.status is OrderStatus.FILLED:
                    assert event.order.id not in filled
                    filled.add(event.order.id)
            assert filled == set(ids)
            assert stream.stream.coalesced == 0

    harness.run(body)


# -- order tracking -------------------------------------------------------------------------------


def _fill_when_listening(fake: FakeTastytradeServer, order_id: int) -> threading.Thread:
    def fill() -> None:
        fake.wait_for(lambda: any(s.connected for s in fake.api.account_streams), 10)
        fake.api.fill_order(order_id)

    thread = threading.Thread(target=fill, daemon=True)
    thread.start()
    return thread


def test_wait_for_order_returns_the_filled_order(kind: str, fake: FakeTastytradeServer) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with await logged_in(harness, True) as session:
            placed = await session.place_order(MARGIN, _new_order())
            thread = _fill_when_listening(fake, placed.order.id)
            final = await session.wait_for_order(placed, timeout=WAIT)
            thread.join()
            assert final.status is OrderStatus.FILLED
            assert sum(f.quantity for leg in final.legs for f in leg.fills) == 10

    harness.run(body)


def test_track_order_yields_each_state_once(kind: str, fake: FakeTastytradeServer) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with await logged_in(harness, True) as session:
            placed = await session.place_order(MARGIN, _new_order())
            thread = _fill_when_listening(fake, placed.order.id)
            tracking = session.session.track_order(placed, timeout=WAIT)
            updates = []
            if harness.sync:
                with tracking:
                    updates = list(tracking)
            else:
                async with tracking:
                    updates = [u async for u in tracking]
            thread.join()
            statuses = [u.order.status.value for u in updates]
            assert statuses[-1] == "Filled" and len(statuses) == len(set(statuses))
            fills = [f.fill_id for u in updates for f in u.new_fills]
            assert len(fills) == len(set(fills)) and fills
            assert tracking.result.status is OrderStatus.FILLED

    harness.run(body)


def test_wait_for_order_times_out_with_the_last_state(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with await logged_in(harness, True) as session:
            placed = await session.place_order(MARGIN, _new_order())
            with pytest.raises(OrderWaitTimeout) as timed_out:
                await session.wait_for_order(placed, timeout=0.5)
            assert timed_out.value.order.status is OrderStatus.LIVE
            live = await session.wait_for_order(placed, statuses=["Live"], timeout=WAIT)
            assert live.status is OrderStatus.LIVE

    harness.run(body)


def test_polling_alone_follows_an_order_found_by_its_identifier(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)

    async def body() -> None:
        async with await logged_in(harness, True) as session:
            placed = await session.place_order(MARGIN, _new_order())
            fake.api.fill_order(placed.order.id)
            final = await session.wait_for_order(
                placed.external_identifier,
                account_number=MARGIN,
                stream=False,
                timeout=WAIT,
                poll_interval=0.05,
            )
            assert final.id == placed.order.id and final.status is OrderStatus.FILLED

    harness.run(body)


def _new_order() -> Any:
    return NewOrder.limit(NewLeg.equity("AAPL", OrderAction.BUY_TO_OPEN, 10), Decimal("-150.00"))


def test_closing_leaves_no_socket_or_thread(fake: FakeTastytradeServer) -> None:
    harness = Harness("requests", fake)

    async def body() -> None:
        async with account_stream(harness) as (_, stream):
            await stream.until(is_type(Resync))

    closed: list[Any] = []

    async def keep() -> None:
        async with account_stream(harness) as (_, stream):
            await stream.until(is_type(Resync))
            closed.append(stream.stream)

    harness.run(body)
    harness.run(keep)
    assert fake.wait_for(lambda: not fake.api.account_streams)
    assert not [t for t in threading.enumerate() if t.name == "tastytrade-stream"]
    with pytest.raises(StreamingError):
        closed[0].subscribe_quote_alerts()


# -- the REST side of a resync, and what a stream tells about itself -----------------------------


def test_a_failed_resync_read_is_tried_again_and_a_refused_one_ends_the_stream(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)
    positions = f"/accounts/{MARGIN}/positions"
    fake.api.inject(Fault(FaultKind.SERVER_ERROR, status=500, path=positions))

    async def body() -> None:
        async with account_stream(harness, backoff_base=0.05) as (_, stream):
            resync, _ = await stream.until(is_type(Resync))
            assert resync.reason == "connect"
            assert sum(r.path == positions for r in fake.api.requests) == 2  # tried again
            assert stream.stream.accounts == (MARGIN,)
            await stream.call("subscribe_user_messages", "A0000T00001")
            assert "user-message-subscribe" in stream.stream.subscriptions
            assert stream.stream.stale >= 0
            fake.api.inject(Fault(FaultKind.SERVER_ERROR, status=403, path=positions))
            fake.api.inject_account_stream_fault(AccountStreamFault(AccountStreamFaultKind.DROP))
            with pytest.raises(ApiError) as refused:
                await stream.until(lambda e: False)
            assert refused.value.status == 403
            assert stream.stream.finished

    harness.run(body)


def test_tracking_carries_on_over_rest_when_the_stream_gives_up(
    kind: str, fake: FakeTastytradeServer
) -> None:
    harness = Harness(kind, fake)
    fake.api.inject_account_stream_fault(
        AccountStreamFault(
            AccountStreamFaultKind.REFUSE_CONNECT, times=2, message="not-implemented"
        )
    )

    async def body() -> None:
        async with await logged_in(harness, True) as session:
            placed = await session.place_order(MARGIN, _new_order())

            def fill() -> None:
                fake.wait_for(
                    lambda: (
                        sum('"connect"' in m.text for m in fake.api.account_stream_messages) >= 2
                    ),
                    10,
                )
                fake.api.fill_order(placed.order.id)

            thread = threading.Thread(target=fill, daemon=True)
            thread.start()
            final = await session.wait_for_order(placed, timeout=WAIT, poll_interval=0.05)
            thread.join()
            assert final.status is OrderStatus.FILLED

    harness.run(body)
