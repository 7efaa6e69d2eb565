"""Parsing and checking an order request (one order, a replacement, a complex order)
against the API's rules, the account's positions and its buying power."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..kit import Refused, money, refuse, reply
from .model import (
    PRICED,
    STATUSES_OPEN,
    amount,
    buys,
    count,
    dec,
    expiry_of,
    finish,
    position_of,
    trading_day,
)
from .pricing import buying_power_effect, fee_json, fees_total, held, order_fees

if TYPE_CHECKING:
    from ..api import FakeAccount, FakeTastytradeAPI


_ACTIONS = frozenset(
    {"Buy to Open", "Buy to Close", "Sell to Open", "Sell to Close", "Buy", "Sell"}
)
_ORDER_TYPES = frozenset(
    {"Limit", "Market", "Marketable Limit", "Stop", "Stop Limit", "Notional Market"}
)
_TIME_IN_FORCE = frozenset(
    {"Day", "GTC", "GTD", "Ext", "GTC Ext", "Ext Overnight", "GTC Ext Overnight", "IOC"}
)
_INSTRUMENT_TYPES = frozenset(
    {
        "Equity",
        "Equity Option",
        "Future",
        "Future Option",
        "Cryptocurrency",
        "Event Contract",
        "Fixed Income Security",
        "Liquidity Pool",
    }
)
_SINGLE_LEG = frozenset({"Equity", "Future", "Cryptocurrency"})
_COMPLEX_TYPES = frozenset({"OCO", "OTO", "OTOCO", "PAIRS"})
_TIF_WARNING = {
    "code": "tif_next_valid_sesssion",  # sic: the server's spelling
    "message": "Your order will begin working during next valid session.",
}

Problems = list[tuple[str, str]]


# -- parsing ----------------------------------------------------------------------------------


def _str(value: Any) -> str | None:
    """A JSON value if it is a string (so it can be looked up in a set), else ``None``."""
    return value if isinstance(value, str) else None


def _refusal(problems: Problems) -> Refused:
    return refuse(
        422,
        "preflight_check_failure",
        "One or more preflight checks failed",
        errors=[{"code": code, "message": message} for code, message in problems],
    )


def _parse_legs(raw: Any, order_type: Any, problems: Problems) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        problems.append(("legs_required", "An order needs at least one leg"))
        return []
    legs: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            problems.append(("invalid_leg", "Each leg needs a symbol and a valid action"))
            continue
        symbol, action = _str(item.get("symbol")), _str(item.get("action"))
        kind = _str(item.get("instrument-type"))
        if not isinstance(symbol, str) or not symbol.strip() or action not in _ACTIONS:
            problems.append(("invalid_leg", "Each leg needs a symbol and a valid action"))
            continue
        if kind not in _INSTRUMENT_TYPES:
            problems.append(("invalid_instrument_type", f"Unknown instrument type for {symbol}"))
            continue
        if action in ("Buy", "Sell") and kind != "Future":
            problems.append(("invalid_leg", "Buy and Sell are only for outright futures"))
            continue
        if kind == "Equity Option" and expiry_of(symbol) is None:
            problems.append(("invalid_symbol", f"{symbol!r} is not an OCC option symbol"))
            continue
        quantity: Decimal | None = None
        if order_type == "Notional Market" and item.get("quantity") is None:
            quantity = Decimal(0)
        else:
            quantity = amount(item.get("quantity"))
            if (
                quantity is None
                or quantity <= 0
                or (quantity != quantity.to_integral_value() and kind != "Cryptocurrency")
            ):
                problems.append(("invalid_quantity", "Leg quantity must be positive"))
                continue
        legs.append(
            {
                "instrument-type": kind,
                "symbol": symbol,
                "quantity": count(quantity),
                "remaining-quantity": count(quantity),
                "action": action,
                "fills": [],
            }
        )
    symbols = [leg["symbol"] for leg in legs]
    if len(set(symbols)) != len(symbols):
        problems.append(("duplicate_leg_symbol", "Each leg must have a different symbol"))
    if legs:
        limit = 1 if any(leg["instrument-type"] in _SINGLE_LEG for leg in legs) else 4
        if len(legs) > limit:
            problems.append(("too_many_legs", f"This order may have at most {limit} leg(s)"))
    return legs


def parse_order(body: dict[str, Any], today: date) -> tuple[dict[str, Any], Problems]:
    """An order body checked and normalized: the order's own fields, and what is wrong."""
    problems: Problems = []
    order_type, tif = _str(body.get("order-type")), _str(body.get("time-in-force"))
    if order_type not in _ORDER_TYPES:
        problems.append(("invalid_order_type", "order-type is missing or unknown"))
    if tif not in _TIME_IN_FORCE:
        problems.append(("invalid_time_in_force", "time-in-force is missing or unknown"))
    legs = _parse_legs(body.get("legs"), order_type, problems)
    order: dict[str, Any] = {"time-in-force": tif, "order-type": order_type}
    price = amount(body["price"]) if "price" in body else None
    if "price" in body and (price is None or price < 0):
        problems.append(("invalid_price", "price must be a non-negative decimal"))
    if order_type in PRICED and "price" not in body:
        problems.append(("price_required", "A limit order needs a price"))
    if order_type in ("Market", "Stop", "Notional Market") and "price" in body:
        problems.append(("price_not_allowed", f"A {order_type} order takes no price"))
    effect = _str(body.get("price-effect"))
    if price is not None:
        if effect not in ("Debit", "Credit"):
            problems.append(("price_effect_required", "price-effect must be Debit or Credit"))
        order["price"] = money(price)
        order["price-effect"] = effect
    if order_type in ("Stop", "Stop Limit"):
        trigger = amount(body.get("stop-trigger"))
        if trigger is None or trigger <= 0:
            problems.append(("stop_trigger_required", "A stop order needs a stop-trigger"))
        else:
            order["stop-trigger"] = money(trigger)
    if order_type == "Notional Market":
        value = amount(body.get("value"))
        if value is None or body.get("value-effect") not in ("Debit", "Credit"):
            problems.append(("value_required", "A notional order needs value and value-effect"))
        elif value < 5:
            problems.append(("notional_value_too_small", "A notional order must be worth $5"))
        else:
            order["value"], order["value-effect"] = money(value), body["value-effect"]
        if len(legs) != 1 or legs[0]["instrument-type"] not in ("Equity", "Cryptocurrency"):
            problems.append(("invalid_leg", "A notional order has one equity or crypto leg"))
    if tif in ("GTC", "GTD") and order_type == "Market":
        problems.append(
            ("gtc_market_orders_not_supported", "GTC/GTD Market orders are not supported.")
        )
    if order_type == "Market" and len(legs) > 1:
        problems.append(("too_many_legs", "A market order may have only one leg"))
    if tif == "GTD":
        try:
            expiry = date.fromisoformat(str(body.get("gtc-date")))
        except ValueError:
            problems.append(("gtc_date_required", "A GTD order needs gtc-date (YYYY-MM-DD)"))
        else:
            if expiry < today:
                problems.append(("gtc_date_required", "gtc-date is in the past"))
            order["gtc-date"] = expiry.isoformat()
    if len(legs) == 1 and effect in ("Debit", "Credit"):
        if buys(legs[0]["action"]) and effect == "Credit":
            problems.append(("cant_buy_for_credit", "You cannot buy for a credit."))
        if not buys(legs[0]["action"]) and effect == "Debit":
            problems.append(("cant_sell_for_debit", "You cannot sell for a debit."))
    for key in ("external-identifier", "source"):
        if isinstance(body.get(key), str):
            order[key] = body[key][:255]
    order["legs"] = legs
    return order, problems


# -- checking against the account -------------------------------------------------------------


def _check_account(
    account: FakeAccount, order: dict[str, Any], strict: bool, problems: Problems
) -> None:
    """Account rules; turns closing legs with nothing to close into opening ones."""
    for leg in order["legs"]:
        kind, action = leg["instrument-type"], leg["action"]
        if kind in ("Future", "Future Option") and account.margin_or_cash != "Margin":
            problems.append(("futures_not_approved", "This account cannot trade futures"))
        if account.margin_or_cash != "Margin" and kind == "Equity" and action == "Sell to Open":
            problems.append(("short_selling_not_allowed", "A cash account cannot sell short"))
        position = position_of(account, leg["symbol"])
        direction = position.get("quantity-direction") if position else None
        if action in ("Buy", "Sell"):
            closes = direction == ("Short" if action == "Buy" else "Long")
            leg["action"] = f"{action} to {'Close' if closes else 'Open'}"
            continue
        if action.endswith("to Close"):
            wanted = "Short" if action.startswith("Buy") else "Long"
            if position is None or direction != wanted:
                if strict:
                    problems.append(
                        ("no_position_to_close", f"There is no {wanted} {leg['symbol']} to close")
                    )
                else:
                    leg["action"] = action.replace("to Close", "to Open")
            elif dec(leg["quantity"]) > dec(position.get("quantity")):
                problems.append(
                    ("closing_quantity_exceeds_position", f"Not enough {leg['symbol']} to close")
                )


def prepare(
    api: FakeTastytradeAPI, account: FakeAccount, body: dict[str, Any], now: float
) -> dict[str, Any]:
    """A new order from a request body, checked; refused with 422 when it would be."""
    order, problems = parse_order(body, trading_day(now))
    advanced = body.get("advanced-instructions")
    strict = isinstance(advanced, dict) and advanced.get("strict-position-effect-validation")
    if not problems:
        _check_account(account, order, bool(strict), problems)
    if problems:
        raise _refusal(problems)
    finish(api, account, order)
    return order


def _margin_failure(block: dict[str, Any]) -> Refused:
    return Refused(
        reply(
            422,
            {
                "data": {"buying-power-effect": block},
                "error": {
                    "code": "preflight_check_failure",
                    "message": "One or more preflight checks failed",
                    "errors": [
                        {
                            "code": "margin_check_failed",
                            "message": "Account does not have sufficient buying power "
                            "available for this order.",
                        }
                    ],
                },
            },
        )
    )


def preflight(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    order: dict[str, Any],
    *,
    releases: Decimal = Decimal(0),
) -> dict[str, Any]:
    """The placed-order answer's blocks for ``order``; 422 when buying power is short."""
    fees = order_fees(api, order)
    block, change, new = buying_power_effect(
        api, account, order, fees_total(fees), releases=releases
    )
    if change > 0 and new < 0:
        raise _margin_failure(block)
    return {
        "buying-power-effect": block,
        "fee-calculation": fee_json(fees),
        "warnings": [] if api.market_open else [dict(_TIF_WARNING)],
    }


# -- replacements and complex orders ----------------------------------------------------------


def replacement(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    old: dict[str, Any],
    body: dict[str, Any],
    now: float,
) -> dict[str, Any]:
    """The order that would replace ``old``: its legs, the body's price and timing."""
    if old.get("status") not in STATUSES_OPEN:
        raise refuse(422, "order_not_editable", f"Order {old.get('id')} is {old.get('status')}")
    legs = [
        {
            "instrument-type": leg.get("instrument-type"),
            "symbol": leg.get("symbol"),
            "quantity": leg.get("remaining-quantity", leg.get("quantity")),
            "action": leg.get("action"),
        }
        for leg in old.get("legs", [])
        if isinstance(leg, dict)
    ]
    merged = {k: v for k, v in body.items() if k != "legs"}
    merged["legs"] = legs
    for key in ("external-identifier", "source"):
        if key not in merged and key in old:
            merged[key] = old[key]
    order, problems = parse_order(merged, trading_day(now))
    if "legs" in body:
        given = body["legs"]
        same = isinstance(given, list) and sorted(
            (str(leg.get("symbol")), str(leg.get("action")), str(amount(leg.get("quantity"))))
            for leg in given
            if isinstance(leg, dict)
        ) == sorted((str(x["symbol"]), str(x["action"]), str(amount(x["quantity"]))) for x in legs)
        if not same or len(given) != len(legs):
            problems.append(("invalid_replacement", "Only price, order type and timing can change"))
    if problems:
        raise _refusal(problems)
    finish(api, account, order)
    order["replaces-order-id"] = old.get("id")
    for key in ("complex-order-id", "complex-order-tag"):
        if key in old:
            order[key] = old[key]
    return order


def prepare_complex(
    api: FakeTastytradeAPI, account: FakeAccount, body: dict[str, Any], now: float
) -> tuple[str, dict[str, Any] | None, list[dict[str, Any]]]:
    """A complex order's type, trigger and orders from a request body, each checked."""
    kind = _str(body.get("type"))
    problems: Problems = []
    trigger_body, bodies = body.get("trigger-order"), body.get("orders")
    if kind not in _COMPLEX_TYPES:
        problems.append(("invalid_complex_order_type", "type must be OCO, OTO, OTOCO or PAIRS"))
    wanted = {"OCO": 2, "OTO": 1, "OTOCO": 2, "PAIRS": 2}.get(str(kind), 0)
    needs_trigger = kind in ("OTO", "OTOCO")
    shape_ok = isinstance(bodies, list) and len(bodies) == wanted
    if kind in _COMPLEX_TYPES and (not shape_ok or needs_trigger != isinstance(trigger_body, dict)):
        trigger_text = " and a trigger-order" if needs_trigger else ", no trigger-order"
        problems.append(("invalid_complex_order", f"{kind} takes {wanted} orders{trigger_text}"))
    if problems:
        raise _refusal(problems)
    assert isinstance(bodies, list)
    trigger = None
    if isinstance(trigger_body, dict):
        trigger = prepare(api, account, trigger_body, now)
    orders = []
    for item in bodies:
        if not isinstance(item, dict):
            raise _refusal([("invalid_complex_order", "Each order must be an object")])
        if trigger is None:
            orders.append(prepare(api, account, item, now))
            continue
        order, found = parse_order(
            item, trading_day(now)
        )  # checked against positions when it routes
        if found:
            raise _refusal(found)
        finish(api, account, order)
        orders.append(order)
    return str(kind), trigger, orders


def complex_blocks(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    trigger: dict[str, Any] | None,
    orders: list[dict[str, Any]],
) -> dict[str, Any]:
    """The answer's blocks: the trigger's effect, or the costliest of the orders'."""
    if trigger is not None:
        return preflight(api, account, trigger)
    ranked = sorted(orders, key=lambda o: held(api, o), reverse=True)
    return preflight(api, account, ranked[0])
