"""Orders-area cases for every transport (in order: ids follow from the demo data).

Cases that need the fake's state (a fault injected before the next call, an
order marked for reconfirmation) change it in the ``check`` of the case before.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tastytrade_proto.orders import (
    ComplexOrder,
    ComplexOrderType,
    MarginDryRunResult,
    NewComplexOrder,
    NewLeg,
    NewOrder,
    Order,
    OrderOutcomeUnknown,
    OrderResponse,
    OrderStatus,
    PlacedComplexOrder,
    PlacedOrder,
    Replacement,
)
from tastytrade_proto.testing import FakeTastytradeAPI, Fault, FaultKind
from tastytrade_proto.testing.fake.orders import state

from . import Case

ACCOUNT = "5WT00001"
ORDERS = f"/accounts/{ACCOUNT}/orders"
COMPLEX = f"/accounts/{ACCOUNT}/complex-orders"

# The demo data is deterministic: read the ids a fresh fake will hand out.
_DEMO = FakeTastytradeAPI()
MSFT = next(
    o["id"]
    for o in _DEMO.accounts[ACCOUNT].orders
    if o.get("underlying-symbol") == "MSFT" and o.get("status") == "Live"
)
NEXT = _DEMO._next_order_id  # the id the first order placed here gets
COMPLEX_ID = state(_DEMO).next_complex_id
del _DEMO

# A buy below AAPL's mark (189.91): it rests, Live, until cancelled.
BUY_AAPL = NewOrder.limit(NewLeg.equity("AAPL", "Buy to Open", 1), Decimal("-180.00"))
BUY_NOK = NewOrder.limit(NewLeg.equity("NOK", "Buy to Open", 10), Decimal("-5.00"))
QUICK = (0.05, 0.1)  # reconciliation waits short enough for a test


def _ours(api: FakeTastytradeAPI, identifier: str) -> list[dict[str, Any]]:
    return [o for o in api.accounts[ACCOUNT].orders if o.get("external-identifier") == identifier]


def _posts(api: FakeTastytradeAPI, path: str = ORDERS) -> int:
    return api.count("POST", path)


def _live(found: list[Order]) -> None:
    msft = next(o for o in found if o.id == MSFT)
    assert msft.status is OrderStatus.LIVE and msft.price == Decimal("-410.00")


def _order(order: Order) -> None:
    assert order.id == MSFT and order.legs[0].symbol == "MSFT"


def _history(found: list[Order]) -> None:
    assert len(found) > 10  # more than one page of 10
    assert len({o.id for o in found}) == len(found)
    assert {OrderStatus.FILLED, OrderStatus.CANCELLED} <= {o.status for o in found}


def _dry_run(result: OrderResponse) -> None:
    assert result.order is not None and result.order.id is None
    assert result.order.price == Decimal("-180.00")
    assert result.buying_power_effect is not None


def _margin(result: MarginDryRunResult) -> None:
    assert isinstance(result, MarginDryRunResult)
    assert result.change_in_buying_power is not None and result.change_in_buying_power < 0


def _placed(placed: PlacedOrder, api: FakeTastytradeAPI) -> None:
    assert placed.order.id == NEXT and not placed.reconciled
    assert placed.external_identifier.startswith("tp-")
    assert [o["id"] for o in _ours(api, placed.external_identifier)] == [NEXT]


def _replaced(order: Order) -> None:
    assert order.id == NEXT + 1 and order.replaces_order_id == NEXT
    assert order.price == Decimal("-181.00")


def _edited(order: Order, api: FakeTastytradeAPI) -> None:
    assert order.id == NEXT + 2 and order.price == Decimal("-182.00")
    # The next case reconfirms this order: the fake reconfirms only pending ones.
    next(o for o in api.accounts[ACCOUNT].orders if o["id"] == NEXT + 2)["confirmation-status"] = (
        "Pending"
    )


def _replacement_dry_run(result: OrderResponse) -> None:
    assert result.order is not None and result.order.price == Decimal("-183.00")


def _reconfirmed(order: Order) -> None:
    assert order.id == NEXT + 2 and order.raw.get("confirmation-status") == "Confirmed"


def _cancelled(order: Order, api: FakeTastytradeAPI) -> None:
    assert order.id == NEXT + 2 and order.status is OrderStatus.CANCELLED
    # The next placement is handled, but its answer is cut off halfway.
    api.inject(Fault(FaultKind.TRUNCATED, method="POST", path=ORDERS, after_handling=True))


def _reconciled(placed: PlacedOrder, api: FakeTastytradeAPI) -> None:
    assert placed.reconciled and placed.response is None
    assert placed.order.id == NEXT + 3 and placed.order.external_identifier == (
        placed.external_identifier
    )
    assert len(_ours(api, placed.external_identifier)) == 1  # placed once, not twice
    assert _posts(api) == 2
    # The next placement fails before the fake handles it.
    api.inject(Fault(FaultKind.SERVER_ERROR, status=500, method="POST", path=ORDERS))


def _after_unknown(found: list[Order], api: FakeTastytradeAPI) -> None:
    assert _posts(api) == 3  # the failed placement was sent once
    assert NEXT + 4 not in {o.id for o in found}


def _found_reconciled(found: Order | None) -> None:
    assert found is not None and found.id == NEXT + 3
    assert found.external_identifier == "case-nok-1"


def _not_found(found: object) -> None:
    assert found is None


def _found_complex(found: PlacedComplexOrder | None) -> None:
    assert found is not None and found.reconciled and found.complex_order is not None
    assert found.complex_order.id == COMPLEX_ID + 1
    assert found.external_identifier == "case-bracket-2"


def _complex_placed(placed: PlacedComplexOrder) -> None:
    assert placed.complex_order is not None and placed.complex_order.id == COMPLEX_ID
    assert placed.complex_order.type is ComplexOrderType.OTOCO
    members = placed.complex_order.components
    assert len(members) == 3
    assert {o.external_identifier for o in members} == {placed.external_identifier}


def _complex_live(found: list[ComplexOrder]) -> None:
    assert [c.id for c in found] == [COMPLEX_ID]
    assert found[0].trigger_order is not None


def _complex_one(found: ComplexOrder) -> None:
    assert found.id == COMPLEX_ID and len(found.orders) == 2


def _complex_dry_run(result: OrderResponse) -> None:
    assert result.complex_order is not None or result.buying_power_effect is not None


def _complex_cancelled(found: ComplexOrder, api: FakeTastytradeAPI) -> None:
    assert found.id == COMPLEX_ID
    assert all(o.status and o.status.terminal for o in found.components)
    api.inject(Fault(FaultKind.DISCONNECT, method="POST", path=COMPLEX, after_handling=True))


def _complex_reconciled(placed: PlacedComplexOrder, api: FakeTastytradeAPI) -> None:
    assert placed.reconciled and placed.complex_order is not None
    assert placed.complex_order.id == COMPLEX_ID + 1
    assert _posts(api, COMPLEX) == 2


CLOSE = NewLeg.equity("AAPL", "Sell to Close", 10)
BRACKET = NewComplexOrder.otoco(
    NewOrder.limit(NewLeg.equity("AAPL", "Buy to Open", 10), "-150.00"),
    NewOrder.limit(CLOSE, "230.00", time_in_force="GTC"),
    NewOrder.stop(CLOSE, "140.00", time_in_force="GTC"),
)
OCO = NewComplexOrder.oco(
    NewOrder.limit(CLOSE, "230.00", time_in_force="GTC"),
    NewOrder.stop(CLOSE, "140.00", time_in_force="GTC"),
)

CASES = [
    Case("live_orders", (ACCOUNT,), check=_live),
    Case("order", (ACCOUNT, MSFT), check=_order),
    Case("order_history", (ACCOUNT,), {"start_date": date(2000, 1, 1), "per_page": 10}, _history),
    Case("dry_run_order", (ACCOUNT, BUY_AAPL), check=_dry_run),
    Case("margin_dry_run", (ACCOUNT, BUY_AAPL), check=_margin),
    Case("place_order", (ACCOUNT, BUY_AAPL), check=_placed),
    Case("replace_order", (ACCOUNT, NEXT, Replacement.limit("-181.00")), check=_replaced),
    Case("edit_order", (ACCOUNT, NEXT + 1, Replacement.limit("-182.00")), check=_edited),
    Case(
        "dry_run_replacement",
        (ACCOUNT, NEXT + 2, Replacement.limit("-183.00")),
        check=_replacement_dry_run,
    ),
    Case("reconfirm_order", (ACCOUNT, NEXT + 2), check=_reconfirmed),
    Case("cancel_order", (ACCOUNT, NEXT + 2), check=_cancelled),
    Case(
        "place_order",
        (ACCOUNT, BUY_NOK.with_external_identifier("case-nok-1")),
        {"reconcile_delays": QUICK},
        _reconciled,
    ),
    Case(
        "place_order",
        (ACCOUNT, BUY_NOK.with_external_identifier("case-nok-2")),
        {"reconcile_delays": QUICK},
        raises=OrderOutcomeUnknown,
    ),
    Case("live_orders", (ACCOUNT,), check=_after_unknown),
    Case("find_order", (ACCOUNT, "case-nok-1"), check=_found_reconciled),
    Case("find_order", (ACCOUNT, "case-nok-2"), {"timeout": 5.0}, check=_not_found),
    Case("place_complex_order", (ACCOUNT, BRACKET), check=_complex_placed),
    Case("live_complex_orders", (ACCOUNT,), check=_complex_live),
    Case("complex_order", (ACCOUNT, COMPLEX_ID), check=_complex_one),
    Case("dry_run_complex_order", (ACCOUNT, OCO), check=_complex_dry_run),
    Case("cancel_complex_order", (ACCOUNT, COMPLEX_ID), check=_complex_cancelled),
    Case(
        "place_complex_order",
        (ACCOUNT, BRACKET.with_external_identifier("case-bracket-2")),
        {"reconcile_delays": QUICK},
        _complex_reconciled,
    ),
    Case("find_complex_order", (ACCOUNT, "case-bracket-2"), check=_found_complex),
    Case("find_complex_order", (ACCOUNT, "case-nothing"), check=_not_found),
]
