"""A campaign over real sockets: the fake places, fills (in parts), cancels and rejects
orders at random while its account streamer drops and stalls sockets at random, and a
consumer reads one account stream. Whatever happened, per order:

* the states the consumer saw are the fake's states, in the fake's order (a subsequence
  of ``api.order_history``: a state the fake made while no socket listened may be
  skipped, since the API keeps no history, but nothing is reordered or invented);
* the last state seen is the order's final state;
* every fill is reported exactly once in ``new_fills`` (0 duplicates);

and with no faults at all, nothing is skipped.
"""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from tastytrade_proto.streaming import Disconnected, OrderUpdated, Resync
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    AccountStreamFault,
    AccountStreamFaultKind,
    FakeTastytradeServer,
)

from .harness import TRANSPORTS, Harness

MARGIN = "5WT00001"


def _order(quantity: int) -> dict[str, Any]:
    return {
        "time-in-force": "Day",
        "order-type": "Limit",
        "price": "1.00",  # far below the mark: it works until the fake fills it
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


class Consumer:
    """What one consumer saw, per order."""

    def __init__(self) -> None:
        self.states: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
        self.fills: dict[int, list[str]] = defaultdict(list)
        self.disconnects = 0
        self.resyncs = 0

    def take(self, event: Any) -> None:
        if isinstance(event, OrderUpdated) and event.order.id is not None:
            order = event.order
            filled = sum(
                (f.quantity or Decimal(0) for leg in order.legs for f in leg.fills), Decimal(0)
            )
            assert order.status is not None
            self.states[order.id].append((order.status.value, filled))
            self.fills[order.id] += [str(f.fill_id) for f in event.new_fills]
        elif isinstance(event, Disconnected):
            self.disconnects += 1
        elif isinstance(event, Resync):
            self.resyncs += 1


def _truth(fake: FakeTastytradeServer, ids: set[int]) -> dict[int, list[tuple[str, Decimal]]]:
    truth: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
    for change in list(fake.api.order_history):
        if int(change.order_id) in ids:
            truth[int(change.order_id)].append(
                (change.status, Decimal(str(change.filled_quantity)))
            )
    return truth


def _fill_ids(fake: FakeTastytradeServer, ids: set[int]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = defaultdict(set)
    for change in list(fake.api.order_history):
        if int(change.order_id) in ids:
            found[int(change.order_id)] |= {str(f) for f in change.fill_ids}
    return found


def _is_subsequence(seen: list[Any], truth: list[Any]) -> bool:
    position = iter(truth)
    return all(any(item == t for t in position) for item in seen)


async def _campaign(harness: Harness, fake: FakeTastytradeServer, seed: int, faults: bool) -> None:
    rng = random.Random(seed)
    consumer = Consumer()
    session = harness.session()
    await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
    stream = session.session.account_stream(
        [MARGIN], heartbeat_interval=0.1, receive_timeout=0.6, backoff_base=0.05, backoff_cap=0.2
    )

    async def get(timeout: float) -> Any:
        result = stream.get(timeout)
        return result if harness.sync else await result

    async def drain() -> None:
        while (event := await get(0)) is not None:
            consumer.take(event)

    if harness.sync:
        stream.start()
    else:
        await stream.__aenter__()
    ids: set[int] = set()
    working: list[int] = []
    last_fault_at = -1  # the resync count when the last fault went in: one outage at a time
    try:
        while consumer.resyncs == 0:
            consumer.take(await get(10))
        for _ in range(120):
            roll = rng.random()
            if roll < 0.3 or not working:
                answer = await session.request(
                    "POST", f"/accounts/{MARGIN}/orders", json=_order(rng.randint(2, 6))
                )
                order_id = int(answer.data["order"]["id"])
                ids.add(order_id)
                working.append(order_id)
            elif roll < 0.55:
                order_id = rng.choice(working)
                quantity = rng.choice([None, 1])
                order = fake.api.fill_order(order_id, quantity=quantity)
                if order["status"] == "Filled":
                    working.remove(order_id)
            elif roll < 0.65:
                order_id = rng.choice(working)
                await session.request("DELETE", f"/accounts/{MARGIN}/orders/{order_id}")
                working.remove(order_id)
            elif roll < 0.7:
                order_id = rng.choice(working)
                fake.api.reject_order(order_id)
                working.remove(order_id)
            elif faults and roll < 0.85 and consumer.resyncs > last_fault_at:
                kind = rng.choice([AccountStreamFaultKind.DROP, AccountStreamFaultKind.STALL])
                fake.api.inject_account_stream_fault(AccountStreamFault(kind))
                last_fault_at = consumer.resyncs
            event = await get(0.02)  # pace the campaign by the stream, never a bare sleep
            if event is not None:
                consumer.take(event)
            await drain()
        for order_id in list(working):  # end every order, so each has a final state
            fake.api.fill_order(order_id)
        truth = _truth(fake, ids)
        final = {order_id: states[-1] for order_id, states in truth.items()}
        for _ in range(400):
            if all(consumer.states[i] and consumer.states[i][-1] == final[i] for i in ids):
                break
            event = await get(0.5)
            if event is not None:
                consumer.take(event)
        await drain()
    finally:
        if harness.sync:
            stream.close()
        else:
            await stream.aclose()
        await session.close()

    skipped = 0
    fills = _fill_ids(fake, ids)
    for order_id in ids:
        seen, made = consumer.states[order_id], truth[order_id]
        assert seen, f"order {order_id}: never seen"
        assert _is_subsequence(seen, made), f"order {order_id}: saw {seen}, the fake made {made}"
        assert seen[-1] == made[-1], f"order {order_id}: ended at {seen[-1]}, not {made[-1]}"
        reported = consumer.fills[order_id]
        assert len(reported) == len(set(reported)), f"order {order_id}: a fill twice"
        assert set(reported) == fills[order_id], f"order {order_id}: fills {reported}"
        skipped += len(made) - len(seen)
    if not faults:
        assert skipped == 0 and consumer.disconnects == 0
    else:
        assert consumer.disconnects > 0


@pytest.mark.parametrize("kind", TRANSPORTS)
@pytest.mark.parametrize("seed", [1, 2])
def test_every_state_in_order_and_every_fill_once_through_drops_and_stalls(
    kind: str, seed: int
) -> None:
    with FakeTastytradeServer() as fake:
        harness = Harness(kind, fake)
        harness.run(lambda: _campaign(harness, fake, seed, faults=True))


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_with_no_faults_nothing_is_skipped(kind: str) -> None:
    with FakeTastytradeServer() as fake:
        harness = Harness(kind, fake)
        harness.run(lambda: _campaign(harness, fake, 7, faults=False))
