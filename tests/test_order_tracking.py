"""OrderTracker, the decisions behind track_order/wait_for_order: which updates count,
when to read over REST, replacements, external identifiers and complex orders."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tastytrade_proto.errors import LocalProtocolError
from tastytrade_proto.orders import (
    ComplexOrder,
    Order,
    OrderOutcomeUnknown,
    OrderStatus,
    PlacedOrder,
    UnsettledOrder,
)
from tastytrade_proto.streaming import (
    ComplexOrderUpdated,
    Connected,
    Disconnected,
    DisconnectReason,
    FindOrder,
    OrderTracker,
    OrderUpdated,
    PollComplexOrder,
    PollOrder,
    Resync,
)
from tastytrade_proto.streaming.tracking import tracker_for

ACCOUNT = "5WT00001"


def order(
    status: str,
    updated: int,
    fills: tuple[str, ...] = (),
    *,
    order_id: int = 1,
    **extra: Any,
) -> Order:
    return Order.from_json(
        {
            "id": order_id,
            "account-number": ACCOUNT,
            "status": status,
            "updated-at": updated,
            "legs": [
                {
                    "symbol": "AAPL",
                    "quantity": 10,
                    "fills": [{"fill-id": f, "quantity": "5", "fill-price": "1.5"} for f in fills],
                }
            ],
            **extra,
        }
    )


def update(o: Order) -> OrderUpdated:
    return OrderUpdated(o, (), None, 1, False)


def live_tracker(**options: Any) -> OrderTracker:
    tracker = OrderTracker(ACCOUNT, order_id=1, **options)
    tracker.handle(Resync("connect"), 0.0)
    return tracker


def test_it_reads_the_order_at_once_then_relies_on_a_live_stream() -> None:
    tracker = OrderTracker(ACCOUNT, order_id=1, poll_interval=1)
    assert tracker.next_poll(0.0) == PollOrder(ACCOUNT, 1)
    tracker.polling(0.0)
    tracker.polled(order("Live", 10), 0.1)
    assert [u.order.status for u in tracker.updates()] == [OrderStatus.LIVE]
    assert tracker.next_poll(0.5) is None
    assert tracker.next_poll(1.0) == PollOrder(ACCOUNT, 1)  # the stream is not live yet
    tracker.handle(Resync("connect"), 1.5)
    assert tracker.next_deadline() is None
    assert tracker.next_poll(100.0) is None


def test_polls_back_off_while_the_stream_is_down() -> None:
    tracker = OrderTracker(ACCOUNT, order_id=1, poll_interval=1)
    tracker.handle(Resync("connect"), 0.0)
    tracker.handle(order_event := update(order("Live", 1)), 0.0)
    assert order_event.order.status is OrderStatus.LIVE
    tracker.handle(Disconnected(DisconnectReason.CONNECTION_LOST, "reset", 0.0), 10.0)
    times = []
    now = 10.0
    for _ in range(5):
        deadline = tracker.next_deadline()
        assert deadline is not None
        now = deadline
        assert tracker.next_poll(now) == PollOrder(ACCOUNT, 1)
        tracker.polling(now)
        times.append(now)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == [1, 2, 4, 8]
    tracker.handle(Connected("wss://x", 1, 0), now)
    tracker.handle(Resync("reconnect"), now)
    assert tracker.next_deadline() is None


def test_only_its_own_order_counts_and_each_state_once() -> None:
    tracker = live_tracker()
    tracker.handle(update(order("Live", 1, order_id=2)), 0)
    tracker.handle(update(order("Live", 1)), 0)
    tracker.handle(update(order("Live", 1)), 0)  # repeated (stream and poll both saw it)
    tracker.polled(order("Live", 2, ("f1",)), 0)
    tracker.handle(update(order("Live", 2, ("f1",))), 0)
    tracker.handle(update(order("Received", 0)), 0)  # stale
    assert not tracker.done
    tracker.handle(update(order("Filled", 3, ("f1", "f2"))), 0)
    got = tracker.updates()
    assert [u.order.status.value for u in got] == ["Live", "Live", "Filled"]
    assert [f.fill_id for u in got for f in u.new_fills] == ["f1", "f2"]
    assert tracker.done and tracker.last.status is OrderStatus.FILLED
    tracker.handle(update(order("Filled", 4, ("f1", "f2", "f3"))), 0)
    assert tracker.updates() == []  # done: nothing more


def test_wanted_statuses_end_it_early() -> None:
    tracker = live_tracker(statuses=["Live"])
    tracker.handle(update(order("Received", 1)), 0)
    assert not tracker.done
    tracker.handle(update(order("Live", 2)), 0)
    assert tracker.done


def test_a_replaced_order_is_followed_to_its_replacement() -> None:
    tracker = live_tracker()
    tracker.handle(update(order("Live", 1)), 0)
    tracker.handle(update(order("Cancelled", 2, **{"replacing-order-id": 9})), 0)
    assert not tracker.done and tracker.order_id == 9
    assert tracker.next_poll(0) == PollOrder(ACCOUNT, 9)
    tracker.handle(update(order("Filled", 3, ("f9",), order_id=9)), 0)
    assert tracker.done and tracker.last.id == 9
    assert [u.order.id for u in tracker.updates()] == [1, 1, 9]


def test_without_following_a_replacement_ends_it() -> None:
    tracker = live_tracker(follow_replacements=False)
    tracker.handle(update(order("Cancelled", 2, **{"replacing-order-id": 9})), 0)
    assert tracker.done


def test_an_order_of_unknown_outcome_is_looked_for_by_its_identifier() -> None:
    unknown = OrderOutcomeUnknown("lost", external_identifier="my-order-1")
    tracker = tracker_for(
        unknown,
        account_number=ACCOUNT,
        statuses=None,
        poll_interval=1,
        follow_replacements=True,
    )
    assert tracker.next_poll(0) == FindOrder(ACCOUNT, "my-order-1")
    tracker.polling(0)
    tracker.polled(None, 0)  # not there yet
    assert tracker.next_poll(1) == FindOrder(ACCOUNT, "my-order-1")
    tracker.polling(1)
    # The stream saw it first, carrying the identifier.
    tracker.handle(update(order("Live", 1, order_id=5, **{"external-identifier": "my-order-1"})), 2)
    assert tracker.order_id == 5
    assert tracker.next_poll(10) == PollOrder(ACCOUNT, 5)


def test_what_can_be_tracked() -> None:
    placed = PlacedOrder(order("Live", 1), "ext-1")
    options: dict[str, Any] = {"statuses": None, "poll_interval": 1, "follow_replacements": True}
    assert tracker_for(placed, account_number=None, **options).order_id == 1
    assert tracker_for(7, account_number=ACCOUNT, **options).order_id == 7
    assert tracker_for("ext-2", account_number=ACCOUNT, **options).external_identifier == "ext-2"
    unsettled = UnsettledOrder(ACCOUNT, "ext-3", sent_at=order("Live", 1).updated_at)  # type: ignore[arg-type]
    assert tracker_for(unsettled, account_number=None, **options).external_identifier == "ext-3"
    for bad in (None, 3.5, True, "", order("Live", 1, order_id=None)):  # type: ignore[arg-type]
        with pytest.raises(LocalProtocolError):
            tracker_for(bad, account_number=ACCOUNT, **options)
    with pytest.raises(LocalProtocolError):
        tracker_for(7, account_number=None, **options)
    with pytest.raises(LocalProtocolError):
        tracker_for(
            unsettled,
            account_number=None,
            statuses=["Nope"],
            poll_interval=1,
            follow_replacements=True,
        )


def test_a_complex_order_ends_when_every_order_in_it_is_terminal() -> None:
    def complex_order(trigger: str, other: str, updated: int) -> ComplexOrder:
        return ComplexOrder.from_json(
            {
                "id": 3,
                "account-number": ACCOUNT,
                "type": "OTO",
                "trigger-order": {"id": 10, "status": trigger, "updated-at": updated},
                "orders": [{"id": 11, "status": other, "updated-at": updated}],
            }
        )

    tracker = tracker_for(
        complex_order("Live", "Contingent", 1),
        account_number=None,
        statuses=None,
        poll_interval=1,
        follow_replacements=True,
    )
    assert tracker.next_poll(0) == PollComplexOrder(ACCOUNT, 3)
    tracker.polled(complex_order("Live", "Contingent", 1), 0)
    tracker.handle(ComplexOrderUpdated(complex_order("Live", "Contingent", 1)), 0)
    tracker.handle(ComplexOrderUpdated(complex_order("Filled", "Live", 2)), 0)
    assert not tracker.done
    tracker.handle(ComplexOrderUpdated(complex_order("Filled", "Filled", 3)), 0)
    assert tracker.done
    assert len(tracker.updates()) == 3


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(LocalProtocolError):
        OrderTracker("", order_id=1)
    with pytest.raises(LocalProtocolError):
        OrderTracker(ACCOUNT)
    with pytest.raises(LocalProtocolError):
        OrderTracker(ACCOUNT, external_identifier="x", complex_order=True)
