"""The orders area's HTTP handlers and routes: place, dry-run, replace, cancel,
reconfirm, search, complex orders and the margin dry-run."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ....protocol.http import Request, Response
from ..kit import ACCOUNT, Route, body_of, data, paginate, query, query_one, refuse, reply
from .book import advance, by_id, cancel, changed, complex_json, enter, find_order, settle
from .checking import complex_blocks, preflight, prepare, prepare_complex, replacement
from .model import (
    STATUSES_OPEN,
    STATUSES_WORKING,
    ComplexOrder,
    dec,
    seconds_of,
    state,
    tidy,
    trading_day,
)
from .pricing import buying_power_effect, fees_total, held, order_fees

if TYPE_CHECKING:
    from ..api import FakeAccount, FakeTastytradeAPI, FakeUser


_SEARCH_PER_PAGE = 100  # SWAGGER says 100, the guides say 10 (§7 of the API notes)
_START_REQUIRED_FROM = "20261012"  # order-api version that requires a search start
_NOT_RECONFIRMABLE = ("cannot_reconfirm_order", "The order could not be reconfirmed.")


# -- single orders ----------------------------------------------------------------------------


def _open(
    api: FakeTastytradeAPI, request: Request, now: float, number: str
) -> tuple[FakeUser, FakeAccount]:
    user = api.user_for(request, now)
    account = api.account_for(user, number)
    settle(api, now, [account])
    return user, account


def _dry_run_order(order: dict[str, Any], status: str = "Received") -> dict[str, Any]:
    preview = {k: v for k, v in order.items() if k not in ("id", "received-at")}
    preview.update({"status": status, "updated-at": 0})
    tidy(preview)
    return preview


def _dry_run(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``POST /accounts/{n}/orders/dry-run``: the preflight, nothing placed."""
    _, account = _open(api, request, now, number)
    order = prepare(api, account, body_of(request), now)
    blocks = preflight(api, account, order)
    context = f"/accounts/{number}/orders/dry-run"
    answer = {"order": _dry_run_order(order), **blocks}
    return reply(201, {"data": answer, "context": context, "api-version": "v1"})


def _place_order(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``POST /accounts/{n}/orders``: place (never deduplicated), fill what crosses."""
    _, account = _open(api, request, now, number)
    order = prepare(api, account, body_of(request), now)
    blocks = preflight(api, account, order)
    enter(api, account, order, now, "Routed" if api.market_open else "Received")
    advance(api, account, order, now)
    return data({"order": dict(order), **blocks}, f"/accounts/{number}/orders", status=201)


def _live_orders(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``GET /accounts/{n}/orders/live``: today's orders in any status, plus working ones."""
    _, account = _open(api, request, now, number)
    items = [o for o in account.orders if _today_or_open(o, now)]
    context = f"/accounts/{number}/orders/live"
    return reply(200, {"data": {"items": items}, "context": context, "api-version": "v1"})


def _today_or_open(order: dict[str, Any], now: float) -> bool:
    received = seconds_of(order.get("received-at"))
    today = received is not None and trading_day(received) == trading_day(now)
    return today or order.get("status") in STATUSES_OPEN


def _order(
    api: FakeTastytradeAPI, request: Request, now: float, number: str, order_id: str
) -> Response:
    """``GET /accounts/{n}/orders/{id}``."""
    _, account = _open(api, request, now, number)
    return data(find_order(account, order_id), f"/accounts/{number}/orders/{order_id}")


def _cancel_order(
    api: FakeTastytradeAPI, request: Request, now: float, number: str, order_id: str
) -> Response:
    """``DELETE /accounts/{n}/orders/{id}``: 200 with the cancelled order."""
    _, account = _open(api, request, now, number)
    order = find_order(account, order_id)
    if order.get("status") not in STATUSES_OPEN:
        raise refuse(422, "order_not_cancellable", f"Order {order_id} is {order.get('status')}")
    cancel(api, account, order, now)
    return data(order, f"/accounts/{number}/orders/{order_id}")


def _replace_order(
    api: FakeTastytradeAPI, request: Request, now: float, number: str, order_id: str
) -> Response:
    """``PUT`` or ``PATCH /accounts/{n}/orders/{id}``: cancel-replace; 200 with the new order."""
    _, account = _open(api, request, now, number)
    old = find_order(account, order_id)
    new = replacement(api, account, old, body_of(request), now)
    releases = held(api, old) if old.get("status") in STATUSES_WORKING else Decimal(0)
    preflight(api, account, new, releases=releases)
    contingent = old.get("status") == "Contingent"
    status = "Contingent" if contingent else "Routed" if api.market_open else "Received"
    if contingent:
        new["contingent-status"] = old.get("contingent-status", "Pending Order")
    enter(api, account, new, now, status)
    cancel(api, account, old, now, replacing=new["id"])
    for complex_order in state(api).complex.values():
        if complex_order.account_number == account.account_number:
            if complex_order.trigger == old.get("id"):
                complex_order.trigger = new["id"]
            complex_order.orders = [
                new["id"] if i == old.get("id") else i for i in complex_order.orders
            ]
    advance(api, account, new, now)
    return data(new, f"/accounts/{number}/orders/{order_id}")


def _replace_dry_run(
    api: FakeTastytradeAPI, request: Request, now: float, number: str, order_id: str
) -> Response:
    """``POST /accounts/{n}/orders/{id}/dry-run``: a replacement's preflight, nothing changed."""
    _, account = _open(api, request, now, number)
    old = find_order(account, order_id)
    new = replacement(api, account, old, body_of(request), now)
    releases = held(api, old) if old.get("status") in STATUSES_WORKING else Decimal(0)
    blocks = preflight(api, account, new, releases=releases)
    answer = {"order": _dry_run_order(new), **blocks}
    return data(answer, f"/accounts/{number}/orders/{order_id}/dry-run", status=201)


def _reconfirm(
    api: FakeTastytradeAPI, request: Request, now: float, number: str, order_id: str
) -> Response:
    """``POST /accounts/{n}/orders/{id}/reconfirm``.

    Only a working order whose ``confirmation-status`` is ``"Pending"`` can be
    reconfirmed (a test sets that on an order in ``api.accounts[n].orders``); it
    becomes ``"Confirmed"``. Anything else is 422 ``cannot_reconfirm_order``.
    """
    _, account = _open(api, request, now, number)
    order = find_order(account, order_id)
    if order.get("status") not in STATUSES_OPEN or order.get("confirmation-status") != "Pending":
        raise refuse(422, *_NOT_RECONFIRMABLE)
    order["confirmation-status"] = "Confirmed"
    changed(api, order, now)
    return data(order, f"/accounts/{number}/orders/{order_id}/reconfirm", status=201)


# -- searching --------------------------------------------------------------------------------


def _search_filters(request: Request) -> list[tuple[str, date | float]]:
    """The search's ``start-date``/``end-date``/``start-at``/``end-at``, parsed; 400 if bad."""
    checks: list[tuple[str, date | float]] = []
    for key in ("start-date", "end-date", "start-at", "end-at"):
        value = query_one(request, key)
        if value is None:
            continue
        bound: date | float | None
        if key.endswith("date"):
            try:
                bound = date.fromisoformat(value)
            except ValueError:
                bound = None
        else:
            bound = seconds_of(value)
        if bound is None:
            raise refuse(
                400,
                "validation_error",
                "Request validation failed",
                errors=[{"domain": key, "reason": "is invalid"}],
            )
        checks.append((key, bound))
    return checks


def _search(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``GET /accounts/{n}/orders``: paginated (100 a page by default), filtered, newest first."""
    _, account = _open(api, request, now, number)
    return _search_in(api, request, [account], f"/accounts/{number}/orders")


def _search_in(
    api: FakeTastytradeAPI, request: Request, accounts: list[FakeAccount], context: str
) -> Response:
    version = request.header("accept-version") or ""
    starts = query_one(request, "start-date") or query_one(request, "start-at")
    if version >= _START_REQUIRED_FROM and not starts:
        raise refuse(
            400,
            "validation_error",
            "Request validation failed",
            errors=[{"domain": "start-date", "reason": "is missing"}],
        )
    checks = _search_filters(request)
    sort = query_one(request, "sort", "Desc")
    if sort not in ("Asc", "Desc"):
        raise refuse(
            400,
            "validation_error",
            "Request validation failed",
            errors=[{"domain": "sort", "reason": "does not have a valid value"}],
        )
    params = query(request)
    statuses = set(params.get("status[]", []) + params.get("status", []))
    underlying = query_one(request, "underlying-symbol")
    kind = query_one(request, "underlying-instrument-type")
    future = query_one(request, "futures-symbol")
    found = []
    for account in accounts:
        for order in account.orders:
            at = seconds_of(order.get("received-at")) or 0.0
            symbols = {leg.get("symbol") for leg in order.get("legs", []) if isinstance(leg, dict)}
            if (
                _within(at, checks)
                and (not statuses or order.get("status") in statuses)
                and (underlying is None or order.get("underlying-symbol") == underlying)
                and (kind is None or order.get("underlying-instrument-type") == kind)
                and (future is None or future in symbols)
            ):
                found.append((at, dec(order.get("id")), order))
    found.sort(key=lambda row: (row[0], row[1]), reverse=sort == "Desc")
    return paginate(request, [o for _, _, o in found], context, per_page=_SEARCH_PER_PAGE)


def _within(at: float, checks: list[tuple[str, date | float]]) -> bool:
    """Whether an order received at ``at`` passes the search's date and time bounds."""
    for key, bound in checks:
        if isinstance(bound, date):
            day = trading_day(at)
            if (key.startswith("start") and day < bound) or (key.startswith("end") and day > bound):
                return False
        elif (key.startswith("start") and at < bound) or (key.startswith("end") and at > bound):
            return False
    return True


def _customer_accounts(api: FakeTastytradeAPI, request: Request, now: float) -> list[FakeAccount]:
    user = api.user_for(request, now)
    numbers = query(request).get("account-numbers[]", [])
    if not numbers:
        raise refuse(
            400,
            "validation_error",
            "Request validation failed",
            errors=[{"domain": "account-numbers", "reason": "is missing"}],
        )
    accounts = [api.account_for(user, n) for n in numbers]
    settle(api, now, accounts)
    return accounts


def _customer_live(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    """``GET /customers/me/orders/live?account-numbers[]=…``."""
    accounts = _customer_accounts(api, request, now)
    items = [o for a in accounts for o in a.orders if _today_or_open(o, now)]
    return paginate(request, items, "/customers/me/orders/live", per_page=100)


def _customer_search(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    """``GET /customers/me/orders?account-numbers[]=…``: like the account search."""
    accounts = _customer_accounts(api, request, now)
    return _search_in(api, request, accounts, "/customers/me/orders")


# -- complex orders ---------------------------------------------------------------------------


def _complex_dry_run(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``POST /accounts/{n}/complex-orders/dry-run``."""
    _, account = _open(api, request, now, number)
    kind, trigger, orders = prepare_complex(api, account, body_of(request), now)
    blocks = complex_blocks(api, account, trigger, orders)
    preview: dict[str, Any] = {
        "account-number": number,
        "type": kind,
        "orders": [
            _dry_run_order(o, "Contingent" if trigger is not None else "Received") for o in orders
        ],
    }
    if trigger is not None:
        preview["trigger-order"] = _dry_run_order(trigger)
    context = f"/accounts/{number}/complex-orders/dry-run"
    return data({"complex-order": preview, **blocks}, context, status=201)


def _place_complex(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``POST /accounts/{n}/complex-orders``: OCO, OTO, OTOCO or PAIRS."""
    _, account = _open(api, request, now, number)
    kind, trigger, orders = prepare_complex(api, account, body_of(request), now)
    blocks = complex_blocks(api, account, trigger, orders)
    area = state(api)
    complex_id = area.next_complex_id
    area.next_complex_id += 1
    routed = "Routed" if api.market_open else "Received"
    if trigger is not None:
        trigger["complex-order-id"] = complex_id
        trigger["complex-order-tag"] = f"{kind}::trigger-order"
        enter(api, account, trigger, now, routed)
    for order in orders:
        order["complex-order-id"] = complex_id
        order["complex-order-tag"] = f"{kind}::order"
        if trigger is not None:
            order["contingent-status"] = "Pending Order"
        enter(api, account, order, now, "Contingent" if trigger is not None else routed)
    record = ComplexOrder(
        complex_id,
        number,
        kind,
        None if trigger is None else trigger["id"],
        [o["id"] for o in orders],
    )
    area.complex[complex_id] = record
    api.publish("ComplexOrder", complex_json(account, record), account=number)
    for order in ([trigger] if trigger is not None else []) + orders:
        advance(api, account, order, now)
    answer = {"complex-order": complex_json(account, record), **blocks}
    return data(answer, f"/accounts/{number}/complex-orders", status=201)


def _complexes(api: FakeTastytradeAPI, account: FakeAccount) -> list[ComplexOrder]:
    return [c for c in state(api).complex.values() if c.account_number == account.account_number]


def _find_complex(api: FakeTastytradeAPI, account: FakeAccount, complex_id: str) -> ComplexOrder:
    for complex_order in _complexes(api, account):
        if str(complex_order.id) == complex_id:
            return complex_order
    raise refuse(404, "record_not_found", f"Complex order {complex_id} not found")


def _complex_live(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``GET /accounts/{n}/complex-orders/live``: those with an order today or still open."""
    _, account = _open(api, request, now, number)
    items = []
    for complex_order in _complexes(api, account):
        answer = complex_json(account, complex_order)
        members = [*answer["orders"], answer.get("trigger-order") or {}]
        if any(_today_or_open(o, now) for o in members if o):
            items.append(answer)
    return data({"items": items}, f"/accounts/{number}/complex-orders/live")


def _complex_search(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``GET /accounts/{n}/complex-orders``: every complex order, newest first, paginated."""
    _, account = _open(api, request, now, number)
    items = [complex_json(account, c) for c in reversed(_complexes(api, account))]
    return paginate(request, items, f"/accounts/{number}/complex-orders", per_page=10)


def _complex_order(
    api: FakeTastytradeAPI, request: Request, now: float, number: str, complex_id: str
) -> Response:
    """``GET /accounts/{n}/complex-orders/{id}``."""
    _, account = _open(api, request, now, number)
    complex_order = _find_complex(api, account, complex_id)
    context = f"/accounts/{number}/complex-orders/{complex_id}"
    return data(complex_json(account, complex_order), context)


def _cancel_complex(
    api: FakeTastytradeAPI, request: Request, now: float, number: str, complex_id: str
) -> Response:
    """``DELETE /accounts/{n}/complex-orders/{id}``: cancels every open order in it."""
    _, account = _open(api, request, now, number)
    complex_order = _find_complex(api, account, complex_id)
    ids = [*([complex_order.trigger] if complex_order.trigger else []), *complex_order.orders]
    members = [o for o in (by_id(account, i) for i in ids) if o is not None]
    open_members = [o for o in members if o.get("status") in STATUSES_OPEN]
    if not open_members:
        raise refuse(422, "order_not_cancellable", f"Complex order {complex_id} is complete")
    for order in open_members:
        if order.get("status") in STATUSES_OPEN:
            cancel(api, account, order, now)
    context = f"/accounts/{number}/complex-orders/{complex_id}"
    return data(complex_json(account, complex_order), context)


# -- the margin dry-run -----------------------------------------------------------------------


def _margin_dry_run(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``POST /margin/accounts/{n}/dry-run``: an order's margin effect, as a buying-power-effect.

    The real body's shape is not recorded anywhere found (the official JS
    client's own type is marked "not correct"); the fake answers 201 with the
    ``buying-power-effect`` fields, and a shortfall is reported there
    (``new-buying-power-effect: Debit``), not refused.
    """
    _, account = _open(api, request, now, number)
    body = body_of(request)
    order = prepare(api, account, body, now)
    block, _, _ = buying_power_effect(api, account, order, fees_total(order_fees(api, order)))
    return data(block, f"/margin/accounts/{number}/dry-run", status=201)


# -- routes -----------------------------------------------------------------------------------

_ORDER = ACCOUNT + r"/orders/(\d+)"
_COMPLEX = ACCOUNT + r"/complex-orders"
ROUTES: list[Route] = [
    ("POST", re.compile(ACCOUNT + r"/orders/dry-run"), _dry_run),
    ("POST", re.compile(ACCOUNT + r"/orders"), _place_order),
    ("GET", re.compile(ACCOUNT + r"/orders"), _search),
    ("GET", re.compile(ACCOUNT + r"/orders/live"), _live_orders),
    ("GET", re.compile(_ORDER), _order),
    ("PUT", re.compile(_ORDER), _replace_order),
    ("PATCH", re.compile(_ORDER), _replace_order),
    ("DELETE", re.compile(_ORDER), _cancel_order),
    ("POST", re.compile(_ORDER + r"/dry-run"), _replace_dry_run),
    ("POST", re.compile(_ORDER + r"/reconfirm"), _reconfirm),
    ("POST", re.compile(_COMPLEX), _place_complex),
    ("POST", re.compile(_COMPLEX + r"/dry-run"), _complex_dry_run),
    ("GET", re.compile(_COMPLEX), _complex_search),
    ("GET", re.compile(_COMPLEX + r"/live"), _complex_live),
    ("GET", re.compile(_COMPLEX + r"/(\d+)"), _complex_order),
    ("DELETE", re.compile(_COMPLEX + r"/(\d+)"), _cancel_complex),
    ("GET", re.compile(r"/customers/me/orders"), _customer_search),
    ("GET", re.compile(r"/customers/me/orders/live"), _customer_live),
    ("POST", re.compile(r"/margin/accounts/([A-Za-z0-9]+)/dry-run"), _margin_dry_run),
]
