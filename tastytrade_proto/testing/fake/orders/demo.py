"""The demo margin account's order history (seeded from its Trade transactions, plus
orders that never filled) and its one working order."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..accounts import transactions_of
from ..kit import money
from .book import place
from .model import (
    buys,
    close_of,
    count,
    dec,
    digest,
    finish,
    legs_of,
    rounded,
    seconds_of,
    size_of,
    tidy,
    trading_day,
)

if TYPE_CHECKING:
    from ..api import FakeAccount, FakeTastytradeAPI


# The orders that never filled (the filled ones come from the account's Trade transactions):
# business days ago, symbol, kind, action, quantity, price, effect, status ("Replaced": cancelled by
# the next row, which replaced it).
_UNFILLED: list[tuple[int, str, str, str, int, str, str, str]] = [
    (29, "QQQ", "Equity", "Buy to Open", 10, "498.00", "Debit", "Cancelled"),
    (26, "TSLA", "Equity", "Buy to Open", 5, "240.00", "Debit", "Expired"),
    (22, "AMD", "Equity", "Buy to Open", 20, "150.00", "Debit", "Rejected"),
    (17, "MSFT", "Equity", "Buy to Open", 5, "405.00", "Debit", "Replaced"),
    (17, "MSFT", "Equity", "Buy to Open", 5, "406.00", "Debit", "Expired"),
    (11, "/ESZ6", "Future", "Sell to Open", 1, "6100.00", "Credit", "Cancelled"),
    (7, "AAPL", "Equity", "Sell to Close", 50, "205.00", "Credit", "Expired"),
    (4, "F", "Equity", "Buy to Open", 100, "10.50", "Debit", "Cancelled"),
    (2, "TSLA", "Equity", "Buy to Open", 2, "250.00", "Debit", "Cancelled"),
]
_FIRST_UNFILLED_ID = 90_001


def _trades(api: FakeTastytradeAPI, number: str) -> dict[int, list[dict[str, Any]]]:
    """The account's Trade transactions (kept by the accounts area), by order id."""
    found: dict[int, list[dict[str, Any]]] = {}
    for entry in transactions_of(api, number):
        order_id = entry.get("order-id")
        if entry.get("transaction-type") == "Trade" and isinstance(order_id, int):
            found.setdefault(order_id, []).append(entry)
    return found


def _finished(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    order_id: int,
    legs: list[dict[str, Any]],
    price: Decimal,
    effect: str,
    status: str,
    at: float,
) -> dict[str, Any]:
    """A finished order of the demo history, received at ``at``."""
    order: dict[str, Any] = {
        "time-in-force": "Day",
        "order-type": "Limit",
        "price": rounded(price),
        "price-effect": effect,
        "legs": legs,
    }
    finish(api, account, order)
    order.update(
        {
            "id": order_id,
            "status": status,
            "cancellable": False,
            "editable": False,
            "received-at": api.timestamp(at),
            "updated-at": int((at + 2) * 1000),
            "ext-client-order-id": "JAAAC" + f"{order_id:013d}",
            "global-request-id": digest("request", account.account_number, order_id),
            "source": "WBT",
        }
    )
    return order


def _history(api: FakeTastytradeAPI, account: FakeAccount, now: float) -> list[dict[str, Any]]:
    """The account's finished orders: one Filled order per traded order id, plus some that
    never filled (cancelled, expired, rejected, replaced)."""
    orders: list[dict[str, Any]] = []
    for order_id, entries in _trades(api, account.account_number).items():
        legs: list[dict[str, Any]] = []
        net = Decimal(0)
        for entry in entries:
            quantity, price = dec(entry.get("quantity")), dec(entry.get("price"))
            action = str(entry.get("action"))
            net += price * quantity * (1 if buys(action) else -1)
            legs.append(
                {
                    "instrument-type": entry.get("instrument-type"),
                    "symbol": entry.get("symbol"),
                    "quantity": count(quantity),
                    "remaining-quantity": 0,
                    "action": action,
                    "fills": [
                        {
                            "fill-id": f"{order_id}{len(legs):03d}",
                            "quantity": count(quantity),
                            "fill-price": money(price),
                            "filled-at": entry.get("executed-at"),
                            "destination-venue": entry.get("destination-venue"),
                            "ext-exec-id": entry.get("ext-exec-id"),
                            "ext-group-fill-id": entry.get("ext-group-fill-id"),
                        }
                    ],
                }
            )
        executed = seconds_of(entries[0].get("executed-at")) or now
        unit = size_of(
            legs_of({"legs": [{**leg, "remaining-quantity": leg["quantity"]} for leg in legs]})
        )
        unit = unit or Decimal(1)
        effect = "Debit" if net >= 0 else "Credit"
        order = _finished(
            api, account, order_id, legs, abs(net) / unit, effect, "Filled", executed - 1
        )
        order["underlying-symbol"] = entries[0].get("underlying-symbol", order["underlying-symbol"])
        order["terminal-at"] = entries[-1].get("executed-at")
        orders.append(order)
    today = datetime.fromtimestamp(now, timezone.utc).date()
    for index, row in enumerate(_UNFILLED):
        days, symbol, kind, action, size, limit, effect, status = row
        order_id = _FIRST_UNFILLED_ID + index
        day = today
        while days > 0:  # business days back
            day -= timedelta(days=1)
            days -= day.weekday() < 5
        at = datetime.combine(day, time(15, index), timezone.utc).timestamp()
        legs = [
            {
                "instrument-type": kind,
                "symbol": symbol,
                "quantity": size,
                "remaining-quantity": size,
                "action": action,
                "fills": [],
            }
        ]
        shown = "Cancelled" if status == "Replaced" else status
        order = _finished(api, account, order_id, legs, Decimal(limit), effect, shown, at)
        if shown == "Cancelled":
            order["cancelled-at"] = order["terminal-at"] = api.timestamp(at + 1800)
        elif status == "Expired":
            order["terminal-at"] = api.timestamp(close_of(trading_day(at)))
        elif status == "Rejected":
            order["reject-reason"] = "Insufficient buying power"
            order["terminal-at"] = api.timestamp(at + 1)
        if status == "Replaced":
            order["edited"] = True
            order["replacing-order-id"] = order_id + 1
        elif _UNFILLED[index - 1][-1] == "Replaced" and index:
            order["replaces-order-id"] = order_id - 1
        orders.append(order)
    for order in orders:
        tidy(order)
    orders.sort(key=lambda o: (seconds_of(o["received-at"]) or 0.0, o["id"]))
    return orders


def order_request(
    symbol: str, action: str, quantity: int, order_type: str, price: str, effect: str
) -> dict[str, Any]:
    """A one-leg equity order body."""
    return {
        "time-in-force": "GTC",
        "order-type": order_type,
        "price": price,
        "price-effect": effect,
        "legs": [
            {"instrument-type": "Equity", "symbol": symbol, "quantity": quantity, "action": action}
        ],
    }


def seed(api: FakeTastytradeAPI) -> None:
    """Add this area's demo data to ``api``: 5WT00001's order history and a live MSFT order."""
    account = api.accounts.get("5WT00001")
    if account is None:
        return
    now = api.clock()
    account.orders[:0] = _history(api, account, now)
    place(api, account, order_request("MSFT", "Buy to Open", 10, "Limit", "410.00", "Debit"), now)
