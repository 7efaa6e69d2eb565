"""A demanding user's review of the account streamer and order tracking: what breaks the
promise "never miss a fill, never see one twice" or what the docs say. Each test failed
before its fix.

Over real sockets against the fake where the transports matter; the machine by hand
where the defect is in its decisions. No sleeps, no network beyond loopback.
"""

from __future__ import annotations

import copy
import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from tastytrade_proto.orders import ComplexOrder, NewLeg, NewOrder, OrderAction, OrderStatus
from tastytrade_proto.streaming import (
    MalformedMessage,
    OrderTracker,
    OrderUpdated,
    OrderWaitTimeout,
)
from tastytrade_proto.streaming.tracking import AsyncOrderTracking, OrderTracking
from tastytrade_proto.testing import (
    AccountStreamFault,
    AccountStreamFaultKind,
    FakeTastytradeServer,
    Fault,
    FaultKind,
)

from .harness import TRANSPORTS, Harness
from .test_account_stream import Driver, frame, order_json
from .test_account_streaming import MARGIN, logged_in

# -- the same fill, once with its fill-id and once without ------------------------------------


def _without_fill_ids(order: dict[str, Any]) -> dict[str, Any]:
    copied = copy.deepcopy(order)
    for leg in copied["legs"]:
        for fill in leg["fills"]:
            fill.pop("fill-id", None)
    return copied


def _timed(order: dict[str, Any]) -> dict[str, Any]:
    """Each fill filled a second after the one before."""
    for leg in order["legs"]:
        for second, fill in enumerate(leg["fills"]):
            fill["filled-at"] = f"2026-12-07T15:00:0{second}.000+00:00"
    return order


def _summed(events: list[Any]) -> Decimal:
    return sum(
        (f.quantity for e in events if isinstance(e, OrderUpdated) for f in e.new_fills),
        Decimal(0),
    )


def test_a_fill_seen_with_and_without_its_fill_id_is_reported_once() -> None:
    """One source (REST, say) gives a fill its ``fill-id``, another (a frame) not: the
    stream took them for two fills, so summing ``new_fills`` counted 10 of a 5 fill."""
    d = Driver()
    d.connect()
    with_id = order_json("Live", 1000, [("F1", "5")])
    d.receive(frame("Order", with_id))
    later = _without_fill_ids(order_json("Cancelled", 2000, [("F1", "5")]))
    d.receive(frame("Order", later))
    updates = [e for e in d.events if isinstance(e, OrderUpdated)]
    assert [u.order.status for u in updates] == [OrderStatus.LIVE, OrderStatus.CANCELLED]
    assert _summed(d.events) == 5


def test_a_fill_first_seen_without_its_fill_id_is_not_reported_again_with_it() -> None:
    d = Driver()
    d.connect()
    d.receive(frame("Order", _without_fill_ids(_timed(order_json("Live", 1000, [("F1", "5")])))))
    # The same fill, with its id now, and a second one (a moment later).
    d.receive(frame("Order", _timed(order_json("Filled", 2000, [("F1", "5"), ("F2", "5")]))))
    assert _summed(d.events) == 10
    (last,) = [e for e in d.events if isinstance(e, OrderUpdated)][-1:]
    assert [f.fill_id for f in last.new_fills] == ["F2"]


def test_the_tracker_reports_a_fill_seen_with_and_without_its_fill_id_once() -> None:
    from tastytrade_proto.orders import Order

    tracker = OrderTracker(MARGIN, order_id=1)
    tracker.polled(Order.from_json(order_json("Live", 1000, [("F1", "5")])), 0.0)
    tracker.polled(
        Order.from_json(_without_fill_ids(order_json("Cancelled", 2000, [("F1", "5")]))), 0.0
    )
    assert _summed(tracker.updates()) == 5


def test_two_distinct_fills_alike_but_for_their_ids_are_both_reported() -> None:
    """The other side of the fix: two 5-lot fills at the same time and price are two fills."""
    d = Driver()
    d.connect()
    d.receive(frame("Order", order_json("Live", 1000, [("F1", "5")])))
    d.receive(frame("Order", order_json("Filled", 2000, [("F1", "5"), ("F2", "5")])))
    assert _summed(d.events) == 10


# -- an order notification without an id ------------------------------------------------------


def test_an_order_without_an_id_does_not_report_its_fills_every_time() -> None:
    """Nothing tells one id-less order from another, so each such frame reported all its
    fills as new: the same frame twice counted its fill twice."""
    d = Driver()
    d.connect()
    nameless = order_json("Filled", 1000, [("F1", "5")])
    del nameless["id"]
    d.receive(frame("Order", nameless))
    d.receive(frame("Order", nameless))
    assert _summed(d.events) == 0
    assert len([e for e in d.events if isinstance(e, MalformedMessage)]) == 2
    assert d.link.malformed == 2


# -- track_order / wait_for_order over every transport --------------------------------------------


@pytest.fixture(params=TRANSPORTS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake() -> Any:
    with FakeTastytradeServer() as server:
        yield server


class Via:
    """What a caller hands as ``via=``: the session behind a wrapper that logs each call."""

    def __init__(self, session: Any) -> None:
        self.session, self.calls = session, []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.session, name)


def _limit(quantity: int = 10) -> NewOrder:
    return NewOrder.limit(NewLeg.equity("AAPL", OrderAction.BUY_TO_OPEN, quantity), Decimal("-150"))


def test_wait_for_order_goes_through_via(kind: str, fake: FakeTastytradeServer) -> None:
    """``track_order``/``wait_for_order`` take ``via=`` (docs: what the calls go through, a
    wrapper that holds a lock, say) and silently ignored it: every call went to the
    session itself."""
    harness = Harness(kind, fake)

    async def body() -> None:
        async with await logged_in(harness, True) as session:
            placed = await session.place_order(MARGIN, _limit())
            fake.api.fill_order(placed.order.id)
            via = Via(session.session)
            final = session.session.wait_for_order(placed, timeout=10, via=via)
            if not harness.sync:
                final = await final
            assert final.status is OrderStatus.FILLED
            assert "order" in via.calls and "stream_credential" in via.calls

    harness.run(body)


def test_track_order_keeps_via(fake: FakeTastytradeServer) -> None:
    harness = Harness("requests", fake)

    async def body() -> None:
        async with await logged_in(harness, True) as session:
            via = Via(session.session)
            tracking = session.session.track_order(1, account_number=MARGIN, via=via)
            assert isinstance(tracking, OrderTracking) and tracking._calls is via

    harness.run(body)
    harness = Harness("aiohttp", fake)

    async def async_body() -> None:
        async with await logged_in(harness, True) as session:
            via = Via(session.session)
            tracking = session.session.track_order(1, account_number=MARGIN, via=via)
            assert isinstance(tracking, AsyncOrderTracking) and tracking._calls is via

    harness.run(async_body)


# -- a complex order that times out -------------------------------------------------------------


def test_a_complex_order_that_times_out_is_not_said_never_seen() -> None:
    """``OrderWaitTimeout`` for a complex order read over REST said "(never seen)" and
    "order <complex id>", though its ``order`` was the complex order as last seen."""
    tracker = OrderTracker(MARGIN, order_id=3, complex_order=True)
    seen = ComplexOrder.from_json(
        {
            "id": 3,
            "account-number": MARGIN,
            "type": "OTO",
            "trigger-order": {"id": 10, "status": "Live", "updated-at": 1},
            "orders": [{"id": 11, "status": "Contingent", "updated-at": 1}],
        }
    )
    tracker.polled(seen, 0.0)
    tracking = OrderTracking.__new__(OrderTracking)
    tracking.tracker, tracking._timeout = tracker, 1.0
    error = tracking._timed_out()
    assert isinstance(error, OrderWaitTimeout) and error.order is seen
    assert "never seen" not in str(error)
    assert "complex order 3" in str(error) and "Live" in str(error)


# -- a stream that gives up for good while the tracker waits on it ------------------------------


def test_wait_for_order_polls_on_when_its_stream_gives_up(
    kind: str, fake: FakeTastytradeServer
) -> None:
    """The tracker means to carry on polling once its stream fails for good ("the stream
    gave up for good: polling carries on"), but only did so when it noticed the end between
    two reads: failing while the tracker waited in ``get``, the stream's error came out of
    ``wait_for_order``, an order filled meanwhile or not."""
    harness = Harness(kind, fake)
    refusals = AccountStreamFault(AccountStreamFaultKind.REFUSE_CONNECT, times=2)

    def fill_once_refused(order_id: int) -> threading.Thread:
        def fill() -> None:
            fake.wait_for(lambda: refusals.hits >= 2, 10)
            fake.api.fill_order(order_id)

        thread = threading.Thread(target=fill, daemon=True)
        thread.start()
        return thread

    async def body() -> None:
        async with await logged_in(harness, True) as session:
            placed = await session.place_order(MARGIN, _limit())
            fake.api.inject_account_stream_fault(refusals)
            thread = fill_once_refused(placed.order.id)
            final = session.session.wait_for_order(placed, timeout=10, poll_interval=0.05)
            if not harness.sync:
                final = await final
            thread.join()
            assert refusals.hits == 2
            assert final.status is OrderStatus.FILLED

    harness.run(body)


# -- iterating a tracking without entering it --------------------------------------------------


class Guard(Via):
    """Fails the test once reads go on past ``limit`` seconds (a timeout was ignored)."""

    def __init__(self, session: Any, limit: float) -> None:
        super().__init__(session)
        self.give_up = time.monotonic() + limit

    def __getattr__(self, name: str) -> Any:
        if time.monotonic() > self.give_up:
            raise RuntimeError("still polling long after the timeout")
        return super().__getattr__(name)


def test_a_tracking_iterated_without_with_keeps_its_timeout(
    kind: str, fake: FakeTastytradeServer
) -> None:
    """``track_order(..., timeout=)`` started its clock only in ``__enter__``: iterated
    without ``with`` (it polls then) it never timed out."""
    harness = Harness(kind, fake)

    async def body() -> None:
        async with await logged_in(harness, True) as session:
            placed = await session.place_order(MARGIN, _limit())
            guard = Guard(session.session, 5.0)
            tracking = session.session.track_order(
                placed, timeout=0.3, poll_interval=0.02, via=guard
            )
            with pytest.raises(OrderWaitTimeout):
                if harness.sync:
                    for _ in tracking:
                        pass
                else:
                    async for _ in tracking:
                        pass
            assert "order" in guard.calls

    harness.run(body)


# -- open questions, left failing -----------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="design: SyncStream.close() joins the pump, which cannot be interrupted in a "
    "blocking REST read (the resync's account_state, retries included); the socket stays "
    "open and close() waits for the whole read. The async streams cancel at once.",
)
def test_closing_a_sync_stream_in_a_slow_resync_does_not_wait_for_the_read(
    fake: FakeTastytradeServer,
) -> None:
    harness = Harness("requests", fake)
    slow = Fault(FaultKind.SLOW, delay=3.0, path=f"/accounts/{MARGIN}/orders/live")

    async def body() -> None:
        async with await logged_in(harness, True) as session:
            fake.api.inject(slow)
            stream = session.session.account_stream([MARGIN])
            stream.start()
            assert fake.wait_for(lambda: slow.times == 0, 10)  # the pump is in the read
            started = time.monotonic()
            stream.close()
            assert time.monotonic() - started < 1.0

    harness.run(body)


def test_statuses_given_for_a_complex_order_are_not_silently_ignored() -> None:
    from tastytrade_proto.errors import LocalProtocolError
    from tastytrade_proto.streaming.tracking import tracker_for

    complex_order = ComplexOrder.from_json(
        {"id": 3, "account-number": MARGIN, "type": "OTO", "orders": []}
    )
    with pytest.raises(LocalProtocolError):
        tracker_for(
            complex_order,
            account_number=None,
            statuses=["Live"],
            poll_interval=1,
            follow_replacements=True,
        )
