"""The order book: entering, filling (positions, cash, transactions), cancelling,
rejecting, expiring and settling orders, and setting the marks they fill at.

Every change of an order goes through :func:`changed`, which stamps its
``updated-at``, appends an :class:`~.model.OrderChange` to ``api.order_history``
and pushes the order, as ``GET /accounts/{n}/orders/{id}`` would answer at that
instant, to the account streamer's sockets (``api.publish``). A fill then pushes
the positions it moved and the account's balances."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from ..accounts import record_transaction
from ..kit import money, refuse
from .checking import parse_order
from .model import (
    PRICED,
    STATUSES_OPEN,
    STATUSES_WORKING,
    ComplexOrder,
    OrderChange,
    amount,
    buys,
    close_of,
    count,
    dec,
    digest,
    expiry_of,
    finish,
    legs_of,
    multiplier_of,
    position_of,
    rounded,
    seconds_of,
    size_of,
    state,
    tidy,
    trading_day,
    underlying_of,
)
from .pricing import fees_total, leg_fees, mark, marks_of

if TYPE_CHECKING:
    from ..api import FakeAccount, FakeTastytradeAPI


_DAY_ORDERS = frozenset({"Day", "Ext", "Ext Overnight"})


# -- finding an order -------------------------------------------------------------------------


def by_id(account: FakeAccount, order_id: Any) -> dict[str, Any] | None:
    """One of the account's orders by id, or ``None``."""
    for order in account.orders:
        if str(order.get("id")) == str(order_id):
            return order
    return None


def find_order(account: FakeAccount, order_id: str) -> dict[str, Any]:
    """One of the account's orders by id; a 404 ``record_not_found`` otherwise."""
    order = by_id(account, order_id)
    if order is None:
        raise refuse(404, "record_not_found", f"Order {order_id} not found")
    return order


# -- telling the world -------------------------------------------------------------------------


def changed(api: FakeTastytradeAPI, order: dict[str, Any], now: float) -> None:
    """Record and announce a change the caller has just made to ``order``.

    Stamps ``updated-at`` (epoch milliseconds, one more than the last change's when
    the clock has not moved, so it rises with every change), appends to
    ``api.order_history``, and publishes an ``Order`` frame (and a ``ComplexOrder``
    frame for a member of a complex order). An order that opens or closes without
    a fill also publishes the account's balances (its buying power moved); a fill
    publishes them itself, after the positions (:func:`_fill`).
    """
    area = state(api)
    order_id = int(order["id"])
    number = str(order.get("account-number"))
    ms = int(now * 1000)
    last_ms, last_status = area.updated.get(order_id, (None, None))
    if last_ms is not None and ms <= last_ms:
        ms = last_ms + 1
    status = str(order.get("status"))
    order["updated-at"] = ms
    area.updated[order_id] = (ms, status)
    fills = [f for leg in order.get("legs", []) for f in leg.get("fills", [])]
    api.order_history.append(
        OrderChange(
            number,
            order_id,
            status,
            sum((dec(f.get("quantity")) for f in fills), Decimal(0)),
            tuple(str(f.get("fill-id")) for f in fills),
            ms,
            now,
        )
    )
    api.publish("Order", order, account=number)
    complex_id = order.get("complex-order-id")
    record = area.complex.get(complex_id) if isinstance(complex_id, int) else None
    account = api.accounts.get(number)
    if record is not None and account is not None:
        api.publish("ComplexOrder", complex_json(account, record), account=number)
    opened = (last_status in STATUSES_OPEN) != (status in STATUSES_OPEN)
    if account is not None and opened and status != "Filled":
        publish_balances(api, account, now)


def publish_balances(api: FakeTastytradeAPI, account: FakeAccount, now: float) -> None:
    """Push ``account``'s balances, as ``GET /accounts/{n}/balances`` would answer now."""
    number = account.account_number
    api.publish("AccountBalance", api.balances(account, now, settle=False), account=number)


def complex_json(account: FakeAccount, complex_order: ComplexOrder) -> dict[str, Any]:
    """A complex order as ``GET /accounts/{n}/complex-orders/{id}`` answers it."""
    orders = [by_id(account, i) or {} for i in complex_order.orders]
    answer: dict[str, Any] = {
        "id": complex_order.id,
        "account-number": account.account_number,
        "type": complex_order.type,
        "orders": orders,
    }
    everything = list(orders)
    if complex_order.trigger is not None:
        answer["trigger-order"] = by_id(account, complex_order.trigger) or {}
        everything.append(answer["trigger-order"])
    if all(o.get("status") not in STATUSES_OPEN for o in everything):
        ends = [str(o["terminal-at"]) for o in everything if isinstance(o.get("terminal-at"), str)]
        if ends:
            answer["terminal-at"] = max(ends)
    return answer


# -- entering and filling ---------------------------------------------------------------------


def enter(
    api: FakeTastytradeAPI, account: FakeAccount, order: dict[str, Any], now: float, status: str
) -> dict[str, Any]:
    """Give an order an id and put it in the account: ``Received``, then ``status``."""
    order_id = api.new_order_id()
    order["id"] = order_id
    order["status"] = "Received" if status == "Routed" else status
    order["received-at"] = api.timestamp(now)
    order["updated-at"] = int(now * 1000)
    order["ext-client-order-id"] = "JAAAC" + f"{order_id:013d}"
    order["global-request-id"] = digest("request", account.account_number, order_id)
    tidy(order)
    account.orders.append(order)
    changed(api, order, now)
    if order["status"] != status:
        order["status"] = status
        changed(api, order, now)
    return order


def _crosses(api: FakeTastytradeAPI, order: dict[str, Any]) -> list[Decimal] | None:
    """The fill prices of each leg if the order would fill now, else ``None``."""
    legs = legs_of(order)
    prices = marks_of(api, legs) if legs else None
    if prices is None:
        return None
    order_type = order.get("order-type")
    size = size_of(legs) or Decimal(1)
    net = (
        sum(
            (
                p * leg.quantity * (1 if buys(leg.action) else -1)
                for p, leg in zip(prices, legs, strict=True)
            ),
            Decimal(0),
        )
        / size
    )
    if order_type in ("Stop", "Stop Limit"):
        trigger = dec(order.get("stop-trigger"))
        hit = prices[0] >= trigger if buys(legs[0].action) else prices[0] <= trigger
        if not hit:
            return None
        if order_type == "Stop":
            return prices
    if order_type in ("Market", "Stop", "Notional Market"):
        return prices
    limit = dec(order.get("price"))
    if order.get("price-effect") == "Credit":
        return prices if -net >= limit else None
    return prices if net <= limit else None


def advance(
    api: FakeTastytradeAPI, account: FakeAccount, order: dict[str, Any], now: float
) -> None:
    """Move a working order on: fill it if it crosses, else ``Live`` (once priced)."""
    if not api.market_open or order.get("status") not in STATUSES_WORKING:
        return
    prices = _crosses(api, order)
    if prices is not None:
        _fill(api, account, order, prices, now)
        return
    if order.get("time-in-force") == "IOC":
        cancel(api, account, order, now)
        return
    if order.get("status") != "Live" and marks_of(api, legs_of(order)) is not None:
        order["status"] = "Live"
        order["live-at"] = api.timestamp(now)
        changed(api, order, now)


def _fill(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    order: dict[str, Any],
    prices: list[Decimal],
    now: float,
    part: Decimal | None = None,
) -> None:
    """Fill every leg at ``prices``: fills, positions, cash, transactions, then the
    complex order's consequences (a trigger starts its orders, one of an OCO pair
    cancels the other). ``part`` fills only that much of a one-leg order, which
    stays working (``Live``) until the rest fills."""
    area = state(api)
    stamp = api.timestamp(now)
    order_id = order.get("id")
    if order.get("order-type") == "Notional Market" and prices[0] > 0:
        quantity = (dec(order.get("value")) / prices[0]).quantize(Decimal("0.00001"), ROUND_DOWN)
        order["legs"][0]["quantity"] = order["legs"][0]["remaining-quantity"] = count(quantity)
    moved: dict[str, dict[str, Any]] = {}  # symbol -> the position as it is after the fill
    for leg, price in zip(order["legs"], prices, strict=False):
        kind, symbol, action = leg["instrument-type"], leg["symbol"], leg["action"]
        remaining = dec(leg.get("remaining-quantity"))
        quantity = remaining if part is None else min(part, remaining)
        fill_id = area.next_fill
        area.next_fill += 1
        venue = "MARKET_SIMULATOR_CME" if kind.startswith("Future") else "MARKET_SIMULATOR_A"
        leg["fills"] = [
            *leg.get("fills", []),
            {
                "fill-id": f"{int(now):010d}{fill_id:06d}",
                "quantity": count(quantity),
                "fill-price": money(price),
                "filled-at": stamp,
                "destination-venue": venue,
                "ext-exec-id": f"{fill_id:08d}",
                "ext-group-fill-id": f"{fill_id:09d}",
            },
        ]
        leg["remaining-quantity"] = count(remaining - quantity)
        fees = leg_fees(kind, action, quantity, price)
        multiplier = multiplier_of(kind, symbol)
        before = position_of(account, symbol)
        closing = None if before is None else dict(before)
        realized = _move_position(api, account, leg, quantity, price, now)
        after = position_of(account, symbol)
        if after is None and closing is not None:  # closed: announced with quantity 0
            closing.update({"quantity": count(Decimal(0)), "updated-at": stamp})
            after = closing
        if after is not None:
            moved[symbol] = after
        value = price * quantity * multiplier
        cash = realized if kind == "Future" else (-value if buys(action) else value)
        account.cash_balance += cash - fees_total(fees)
        _record(api, account, order, leg, quantity, price, fees, now)
    partly = any(dec(leg.get("remaining-quantity")) > 0 for leg in order["legs"])
    if partly:
        order["status"] = "Live"
        order.setdefault("live-at", stamp)
    else:
        order.update(
            {"status": "Filled", "cancellable": False, "editable": False, "terminal-at": stamp}
        )
    changed(api, order, now)
    for position in moved.values():
        api.publish("CurrentPosition", api.position_item(position), account=account.account_number)
    publish_balances(api, account, now)
    if partly:
        return
    for complex_order in list(area.complex.values()):
        if complex_order.account_number != account.account_number:
            continue
        if complex_order.trigger == order_id:
            for child_id in complex_order.orders:
                child = by_id(account, child_id)
                if child is not None and child.get("status") == "Contingent":
                    child.pop("contingent-status", None)
                    child["status"] = "Routed"
                    changed(api, child, now)
            for child_id in complex_order.orders:
                child = by_id(account, child_id)
                if child is not None:
                    advance(api, account, child, now)
        elif order_id in complex_order.orders and complex_order.type in ("OCO", "OTOCO"):
            for sibling_id in complex_order.orders:
                sibling = by_id(account, sibling_id)
                if sibling is not None and sibling.get("status") in STATUSES_OPEN:
                    cancel(api, account, sibling, now)


def _move_position(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    leg: dict[str, Any],
    quantity: Decimal,
    price: Decimal,
    now: float,
) -> Decimal:
    """Apply one leg's fill to the account's positions; the realized gain (for futures' cash)."""
    kind, symbol = leg["instrument-type"], leg["symbol"]
    multiplier = multiplier_of(kind, symbol)
    delta = quantity if buys(leg["action"]) else -quantity
    position = position_of(account, symbol)
    stamp = api.timestamp(now)
    close = mark(api, symbol, kind) or price
    if position is None:
        expires = None
        expiry = expiry_of(symbol) if kind == "Equity Option" else None
        if expiry is not None:
            expires = api.timestamp(close_of(expiry) + 15 * 60)
        position = position_json(
            account.account_number,
            symbol,
            kind,
            underlying_of(symbol, kind),
            count(quantity),
            "Long" if delta > 0 else "Short",
            rounded(price),
            money(close),
            int(multiplier),
            expires_at=expires,
        )
        position["created-at"] = position["updated-at"] = stamp
        position["realized-day-gain-date"] = position["realized-today-date"] = stamp[:10]
        account.positions.append(position)
        return Decimal(0)
    held_now = dec(position.get("quantity"))
    current = held_now if position.get("quantity-direction") == "Long" else -held_now
    average = dec(position.get("average-open-price"))
    realized = Decimal(0)
    if current == 0 or (current > 0) == (delta > 0):
        average = (average * abs(current) + price * quantity) / (abs(current) + quantity)
    else:
        closed = min(abs(delta), abs(current))
        # A future's cash has been marked to each day's settlement (the close price) already.
        basis = dec(position.get("close-price")) if kind == "Future" else average
        realized = (price - basis) * closed * multiplier * (1 if current > 0 else -1)
        if abs(delta) > abs(current):
            average = price
    after = current + delta
    if after == 0:
        account.positions.remove(position)
        return realized
    position.update(
        {
            "quantity": count(abs(after)),
            "quantity-direction": "Long" if after > 0 else "Short",
            "average-open-price": rounded(average),
            "close-price": money(close),
            "cost-effect": "Debit" if after > 0 else "Credit",
            "updated-at": stamp,
            "realized-day-gain-date": stamp[:10],
            "realized-today-date": stamp[:10],
        }
    )
    return realized


def position_json(
    account: str,
    symbol: str,
    kind: str,
    underlying: str,
    quantity: int | Decimal,
    direction: str,
    average_open: str,
    close: str,
    multiplier: int,
    expires_at: str | None = None,
) -> dict[str, Any]:
    """A position as ``GET /accounts/{n}/positions`` lists it."""
    item: dict[str, Any] = {
        "account-number": account,
        "symbol": symbol,
        "instrument-type": kind,
        "underlying-symbol": underlying,
        "quantity": quantity,
        "quantity-direction": direction,
        "close-price": close,
        "average-open-price": average_open,
        "average-daily-market-close-price": close,
        "average-yearly-market-close-price": average_open,
        "multiplier": multiplier,
        "cost-effect": "Debit" if direction == "Long" else "Credit",
        "is-frozen": False,
        "is-suppressed": False,
        "restricted-quantity": 0,
        "realized-day-gain": "0.0",
        "realized-day-gain-effect": "None",
        "realized-day-gain-date": "2026-11-20",
        "realized-today": "0.0",
        "realized-today-effect": "None",
        "realized-today-date": "2026-11-20",
        "created-at": "2026-10-01T14:30:00.000+00:00",
        "updated-at": "2026-11-20T21:00:00.000+00:00",
    }
    if expires_at:
        item["expires-at"] = expires_at
    return item


def _record(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    order: dict[str, Any],
    leg: dict[str, Any],
    quantity: Decimal,
    price: Decimal,
    fees: dict[str, Decimal],
    now: float,
) -> None:
    """Record a Trade transaction for one leg's fill in the accounts area's ledger.

    The amounts are the ones the fill moved cash by (signed, a debit negative).
    """
    kind = leg["instrument-type"]
    buying = buys(leg["action"])
    multiplier = multiplier_of(kind, leg["symbol"])
    regulatory = fees["exchange"] + fees["nfa"] + fees["orf"] + fees["sec"] + fees["taf"]
    amounts: dict[str, Decimal] = {
        "commission": -fees["brokerage"],
        "clearing_fees": -fees["clearing"],
        "regulatory_fees": -regulatory,
    }
    value = Decimal(0)
    if kind != "Future":  # a future's notional never moves cash
        value = price * quantity * multiplier * (-1 if buying else 1)
        amounts["value"] = value
    record_transaction(
        api,
        account.account_number,
        symbol=leg["symbol"],
        action=leg["action"],
        quantity=quantity,
        price=price,
        instrument_type=kind,
        underlying_symbol=underlying_of(leg["symbol"], kind),
        order_id=order.get("id"),
        multiplier=multiplier,
        leg_count=len(order.get("legs", [])),
        executed_at=now,
        net_value=value - fees_total(fees),
        **amounts,
    )


def fill(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    order: dict[str, Any],
    now: float,
    *,
    quantity: Decimal | None = None,
    price: Decimal | None = None,
) -> dict[str, Any]:
    """Fill a working order now, whether or not it crosses the marks (a test's say-so).

    ``price`` is the fill price of a one-leg order (default: its limit price,
    else its mark); a multi-leg order fills at its legs' marks. ``quantity``
    fills only part of a one-leg order. Raises ``ValueError`` saying why an
    order cannot be filled so.
    """
    if order.get("status") not in STATUSES_WORKING or order.get("status") == "Received":
        raise ValueError(f"order {order.get('id')} is {order.get('status')}, not working")
    legs = legs_of(order)
    single = len(legs) == 1 and order.get("order-type") != "Notional Market"
    if not single and (quantity is not None or price is not None):
        raise ValueError("a quantity or price is only for a one-leg order")
    if quantity is not None and not 0 < quantity <= legs[0].quantity:
        raise ValueError(f"the quantity must be more than 0 and at most {legs[0].quantity}")
    if price is not None and price <= 0:
        raise ValueError("the price must be more than 0")
    if single:
        if price is None and order.get("order-type") in PRICED and "price" in order:
            price = dec(order["price"])
        if price is None:
            price = mark(api, legs[0].symbol, legs[0].kind)
        prices = None if price is None else [price]
    else:
        prices = marks_of(api, legs)
    if prices is None:
        raise ValueError("there is no price to fill at: give one, or set a mark")
    _fill(api, account, order, prices, now, quantity)
    return order


# -- cancelling, expiring, settling -----------------------------------------------------------


def cancel(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    order: dict[str, Any],
    now: float,
    *,
    replacing: int | None = None,
) -> None:
    """Cancel an order (and, unless it is being replaced, the orders it triggers)."""
    stamp = api.timestamp(now)
    order.pop("contingent-status", None)
    order.update(
        {
            "status": "Cancelled",
            "cancellable": False,
            "editable": False,
            "cancelled-at": stamp,
            "cancelled-size": money(_unfilled_size(order)),
            "terminal-at": stamp,
        }
    )
    if replacing is not None:
        order["edited"] = True
        order["replacing-order-id"] = replacing
    changed(api, order, now)
    if replacing is None:
        _cancel_triggered(api, account, order, now)


def _unfilled_size(order: dict[str, Any]) -> Decimal:
    """How much of ``order``'s size is not filled (its legs fill in proportion)."""
    legs = order.get("legs") or []
    size = dec(order.get("size"))
    if not legs:
        return size
    quantity = dec(legs[0].get("quantity"))
    remaining = dec(legs[0].get("remaining-quantity", legs[0].get("quantity")))
    return (size * remaining / quantity).normalize() if quantity else size


def reject(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    order: dict[str, Any],
    now: float,
    reason: str = "Order rejected by the exchange",
) -> None:
    """Reject an open order after it was accepted (as an exchange or the risk desk may),
    with ``reject-reason``; the orders it triggers are cancelled. Raises ``ValueError``
    for an order that is no longer open."""
    if order.get("status") not in STATUSES_OPEN:
        raise ValueError(f"order {order.get('id')} is {order.get('status')}, not open")
    order.pop("contingent-status", None)
    order.update(
        {
            "status": "Rejected",
            "cancellable": False,
            "editable": False,
            "reject-reason": reason,
            "terminal-at": api.timestamp(now),
        }
    )
    changed(api, order, now)
    _cancel_triggered(api, account, order, now)


def _cancel_triggered(
    api: FakeTastytradeAPI, account: FakeAccount, order: dict[str, Any], now: float
) -> None:
    """Cancel the open orders ``order`` was the trigger of."""
    for complex_order in state(api).complex.values():
        if complex_order.account_number == account.account_number and complex_order.trigger == (
            order.get("id")
        ):
            for child_id in complex_order.orders:
                child = by_id(account, child_id)
                if child is not None and child.get("status") in STATUSES_OPEN:
                    cancel(api, account, child, now)


def _expire(api: FakeTastytradeAPI, order: dict[str, Any], at: float) -> None:
    order.pop("contingent-status", None)
    order.update(
        {
            "status": "Expired",
            "cancellable": False,
            "editable": False,
            "terminal-at": api.timestamp(at),
        }
    )
    changed(api, order, at)


def settle(
    api: FakeTastytradeAPI, now: float, accounts: Iterable[FakeAccount] | None = None
) -> None:
    """Bring orders up to ``now``: expire the day's leftovers, route, fill what crosses."""
    today = trading_day(now)
    for account in list(accounts if accounts is not None else api.accounts.values()):
        for order in list(account.orders):
            if order.get("status") not in STATUSES_OPEN:
                continue
            tif = order.get("time-in-force")
            received = seconds_of(order.get("received-at"))
            if tif in _DAY_ORDERS and received is not None and trading_day(received) < today:
                _expire(api, order, min(close_of(trading_day(received), tif != "Day"), now))
            elif tif == "GTD" and str(order.get("gtc-date", "9999-12-31")) < today.isoformat():
                _expire(api, order, now)
        if not api.market_open:
            continue
        for order in list(account.orders):
            if order.get("status") == "Received":
                order["status"] = "Routed"
                changed(api, order, now)
            if order.get("status") in STATUSES_WORKING:
                advance(api, account, order, now)


def set_mark(api: FakeTastytradeAPI, symbol: str, price: Decimal | str | int) -> None:
    """Set the mark of ``symbol``; positions revalue and working orders that cross it fill."""
    number = amount(price)
    if number is None or number < 0:
        raise ValueError(f"not a price: {price!r}")
    state(api).marks[symbol] = number
    for account in api.accounts.values():
        for position in account.positions:
            if position.get("symbol") == symbol:
                position["close-price"] = money(number)
    settle(api, api.clock())


def place(
    api: FakeTastytradeAPI, account: FakeAccount, body: dict[str, Any], now: float
) -> dict[str, Any]:
    """Place ``body`` in ``account`` with no checks, as the API would accept it."""
    order, _ = parse_order(body, trading_day(now))
    finish(api, account, order)
    enter(api, account, order, now, "Routed" if api.market_open else "Received")
    advance(api, account, order, now)
    return order
