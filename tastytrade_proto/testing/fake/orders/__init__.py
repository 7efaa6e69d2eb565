"""The fake API's orders: dry-run, place, fill, replace, edit, cancel, search, complex orders.

See ``kit`` for how an area plugs into the fake. What the fake does with an
order, in short (``docs/testing.md`` has the user's view):

* Every symbol may have a **mark** (``FakeTastytradeAPI.set_mark``; defaults in
  :data:`DEFAULT_MARKS`; an equity option without one is priced from its
  underlying's mark). A Market order, or a Limit whose price crosses the marks,
  fills at once at the marks; positions, cash and (when the accounts area offers
  ``record_transaction``) transactions change. A non-marketable order is
  ``Live``; an order on a symbol with no mark stays ``Routed`` until it gets one.
  Setting a mark fills the working orders it makes marketable.
* Orders are never deduplicated: ``external-identifier`` is only echoed.
* Day orders expire when their New York trading day is over, GTD orders after
  their ``gtc-date``; ``IOC`` orders that do not fill at once are cancelled.
* With ``api.market_open = False`` new orders stay ``Received`` (with the
  ``tif_next_valid_sesssion`` warning) and nothing fills until it is True again.
* Replacing (PUT or PATCH) cancels the old order (``edited``,
  ``replacing-order-id``) and places a new one (``replaces-order-id``).

Error codes that the real API is known to use: ``preflight_check_failure``,
``cant_buy_for_credit``, ``gtc_market_orders_not_supported``,
``margin_check_failed``, ``cannot_reconfirm_order``, ``record_not_found``,
``validation_error``. The other preflight codes below are the fake's own names
for rules the real API enforces with codes nobody has recorded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal, InvalidOperation
from math import gcd
from typing import TYPE_CHECKING, Any

from ....protocol.http import Request, Response
from .. import accounts
from ..kit import (
    ACCOUNT,
    Refused,
    Route,
    body_of,
    data,
    money,
    paginate,
    query,
    query_one,
    refuse,
    reply,
)

if TYPE_CHECKING:
    from ..api import FakeAccount, FakeTastytradeAPI, FakeUser

try:
    from zoneinfo import ZoneInfo

    _NEW_YORK: tzinfo = ZoneInfo("America/New_York")
except Exception:  # pragma: no cover - no time zone database on this system
    _NEW_YORK = timezone(timedelta(hours=-5))

#: The marks a new fake starts with (symbol -> price per share, contract or coin).
DEFAULT_MARKS: dict[str, Decimal] = {
    "AAPL": Decimal("189.91"),
    "MSFT": Decimal("415.00"),
    "SPY": Decimal("595.00"),
    "QQQ": Decimal("520.00"),
    "NOK": Decimal("10.51"),
    "SPY   261218C00600000": Decimal("11.05"),
    "SPY   261218C00610000": Decimal("7.20"),
    "SPY   261218C00620000": Decimal("4.60"),
    "SPY   261218P00590000": Decimal("13.40"),
    "SPY   261218P00580000": Decimal("10.15"),
    "/ESZ6": Decimal("6020.50"),
    "/MESZ6": Decimal("6020.50"),
    "/NQZ6": Decimal("21500.25"),
    "BTC/USD": Decimal("97250.00"),
    "ETH/USD": Decimal("3400.00"),
}

# Contract size per futures product (a future option has its future's).
_FUTURE_MULTIPLIERS = {
    "/ES": 50,
    "/MES": 5,
    "/NQ": 20,
    "/MNQ": 2,
    "/RTY": 50,
    "/YM": 5,
    "/CL": 1000,
    "/GC": 100,
    "/ZB": 1000,
}
# Initial margin per contract (the fake's round numbers).
_FUTURE_MARGINS = {"/ES": 22000, "/MES": 2200, "/NQ": 32000, "/MNQ": 3200, "/CL": 6000}

_STATUSES_WORKING = frozenset(
    {"Received", "Routed", "In Flight", "Live", "Cancel Requested", "Replace Requested"}
)
_STATUSES_OPEN = _STATUSES_WORKING | {"Contingent"}  # cancellable and editable
_ACTIONS = frozenset(
    {"Buy to Open", "Buy to Close", "Sell to Open", "Sell to Close", "Buy", "Sell"}
)
_ORDER_TYPES = frozenset(
    {"Limit", "Market", "Marketable Limit", "Stop", "Stop Limit", "Notional Market"}
)
_PRICED = frozenset({"Limit", "Marketable Limit", "Stop Limit"})
_TIME_IN_FORCE = frozenset(
    {"Day", "GTC", "GTD", "Ext", "GTC Ext", "Ext Overnight", "GTC Ext Overnight", "IOC"}
)
_DAY_ORDERS = frozenset({"Day", "Ext", "Ext Overnight"})
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
_OCC = re.compile(r"(.{6})(\d{6})([CP])(\d{8})")
_FUTURE = re.compile(r"(/[A-Z0-9]+?)[FGHJKMNQUVXZ]\d{1,2}")
_MAX_AMOUNT = Decimal(10) ** 12
_SEARCH_PER_PAGE = 100  # SWAGGER says 100, the guides say 10 (§7 of the API notes)
_START_REQUIRED_FROM = "20261012"  # order-api version that requires a search start
_TIF_WARNING = {
    "code": "tif_next_valid_sesssion",  # sic: the server's spelling
    "message": "Your order will begin working during next valid session.",
}
_NOT_RECONFIRMABLE = ("cannot_reconfirm_order", "The order could not be reconfirmed.")

Problems = list[tuple[str, str]]


@dataclass(slots=True)
class _Complex:
    """A complex order: its type and the ids of its orders."""

    id: int
    account_number: str
    type: str
    trigger: int | None
    orders: list[int]


@dataclass(slots=True)
class OrdersState:
    """What the orders area keeps besides each account's order list."""

    marks: dict[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_MARKS))
    complex: dict[int, _Complex] = field(default_factory=dict)
    next_complex_id: int = 300_001
    next_fill: int = 1


def state(api: FakeTastytradeAPI) -> OrdersState:
    """The orders area's state in ``api``."""
    return api.area("orders", OrdersState)


# -- small helpers -----------------------------------------------------------------------


def _amount(value: Any) -> Decimal | None:
    """A finite, sane decimal from a JSON value (string or number); ``None`` otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(str(value))
        elif isinstance(value, str):
            number = Decimal(value.strip())
        else:
            return None
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or abs(number) >= _MAX_AMOUNT:
        return None
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -8:
        return None
    return number


def _str(value: Any) -> str | None:
    """A JSON value if it is a string (so it can be looked up in a set), else ``None``."""
    return value if isinstance(value, str) else None


def _dec(value: Any) -> Decimal:
    """A stored amount as a decimal (0 when it is not one)."""
    number = _amount(value)
    return Decimal(0) if number is None else number


def _count(number: Decimal) -> int | Decimal:
    """A quantity as the API writes it: an integer when whole."""
    return int(number) if number == number.to_integral_value() else number.normalize()


def _text(number: Decimal, places: str = "0.0001") -> str:
    """An amount as a string, rounded to ``places`` and without trailing zeros."""
    return money(number.quantize(Decimal(places)).normalize())


def _effect(number: Decimal) -> str:
    return "Debit" if number > 0 else "Credit" if number < 0 else "None"


def _cost(number: Decimal) -> str:
    return "Debit" if number > 0 else "None"


def _day(when: float) -> date:
    """The New York trading day ``when`` falls on."""
    return datetime.fromtimestamp(when, _NEW_YORK).date()


def _close_of(day: date, extended: bool = False) -> float:
    return datetime.combine(day, time(20 if extended else 16), _NEW_YORK).timestamp()


def _moment(text: Any) -> float | None:
    """POSIX seconds of an ISO timestamp (naive ones are UTC)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _digest(*parts: object, size: int = 32) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:size]


def _buying(action: Any) -> bool:
    return isinstance(action, str) and action.startswith("Buy")


def _opening(action: Any) -> bool:
    return isinstance(action, str) and not action.endswith("to Close")


def _root(symbol: str, kind: str) -> str:
    """The underlying of a symbol: ``SPY`` for an SPY option, ``/ES`` for ``/ESZ6``."""
    if kind == "Equity Option":
        match = _OCC.fullmatch(symbol)
        return match.group(1).strip() if match else symbol.split(" ")[0]
    if kind == "Future Option":
        future = symbol.lstrip(".").split(" ")[0]
        match = _FUTURE.fullmatch(future)
        return match.group(1) if match else future
    if kind == "Future":
        match = _FUTURE.fullmatch(symbol)
        return match.group(1) if match else symbol
    return symbol


def _expiry(symbol: str) -> date | None:
    """The expiration date of an OCC option symbol (``None`` when it is not one)."""
    match = _OCC.fullmatch(symbol)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(2), "%y%m%d").date()
    except ValueError:
        return None


def _underlying_kind(kind: str) -> str:
    if kind in ("Future", "Future Option"):
        return "Future"
    if kind == "Cryptocurrency":
        return "Cryptocurrency"
    return "Equity"


def _multiplier(kind: str, symbol: str) -> Decimal:
    """Shares per contract (100 for equity options, the product's size for futures)."""
    if kind == "Equity Option":
        return Decimal(100)
    if kind in ("Future", "Future Option"):
        return Decimal(_FUTURE_MULTIPLIERS.get(_root(symbol, kind), 1))
    return Decimal(1)


def mark(api: FakeTastytradeAPI, symbol: str, kind: str | None = None) -> Decimal | None:
    """The mark of ``symbol``: set, default, or (equity options) from the underlying's mark.

    An equity option with no mark of its own is worth its intrinsic value plus
    2% of the underlying's mark.
    """
    marks = state(api).marks
    if symbol in marks:
        return marks[symbol]
    match = _OCC.fullmatch(symbol)
    if match and kind in (None, "Equity Option"):
        underlying = marks.get(match.group(1).strip())
        if underlying is None:
            return None
        strike = Decimal(match.group(4)) / 1000
        intrinsic = underlying - strike if match.group(3) == "C" else strike - underlying
        return (max(intrinsic, Decimal(0)) + underlying * Decimal("0.02")).quantize(Decimal("0.01"))
    return None


def set_mark(api: FakeTastytradeAPI, symbol: str, price: Decimal | str | int) -> None:
    """Set the mark of ``symbol``; positions revalue and working orders that cross it fill."""
    number = _amount(price)
    if number is None or number < 0:
        raise ValueError(f"not a price: {price!r}")
    state(api).marks[symbol] = number
    for account in api.accounts.values():
        for position in account.positions:
            if position.get("symbol") == symbol:
                position["close-price"] = money(number)
    settle(api, api.clock())


# -- reading an order ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Leg:
    kind: str
    symbol: str
    action: str
    quantity: Decimal


def _legs(order: dict[str, Any]) -> list[_Leg]:
    found = []
    for leg in order.get("legs") or []:
        if isinstance(leg, dict):
            found.append(
                _Leg(
                    str(leg.get("instrument-type", "Equity")),
                    str(leg.get("symbol", "")),
                    str(leg.get("action", "")),
                    _dec(leg.get("remaining-quantity", leg.get("quantity", 0))),
                )
            )
    return found


def _size(legs: list[_Leg]) -> Decimal:
    """The order's size: its legs' ratio unit (1 for a 1x1 spread, the quantity for one leg)."""
    quantities = [leg.quantity for leg in legs if leg.quantity > 0]
    if not quantities:
        return Decimal(0)
    if len(quantities) == 1 or any(q != q.to_integral_value() for q in quantities):
        return quantities[0]
    unit = 0
    for quantity in quantities:
        unit = gcd(unit, int(quantity))
    return Decimal(unit)


def _marks_of(api: FakeTastytradeAPI, legs: list[_Leg]) -> list[Decimal] | None:
    prices = [mark(api, leg.symbol, leg.kind) for leg in legs]
    return None if any(p is None for p in prices) else [p for p in prices if p is not None]


def _net_debit(api: FakeTastytradeAPI, order: dict[str, Any]) -> Decimal:
    """What filling the order pays (positive) or receives (negative), futures' notional aside."""
    legs = _legs(order)
    if not legs or legs[0].kind == "Future":
        return Decimal(0)
    multiplier = _multiplier(legs[0].kind, legs[0].symbol)
    sign = Decimal(1) if order.get("price-effect", "Debit") == "Debit" else Decimal(-1)
    if order.get("order-type") == "Notional Market":
        value_sign = 1 if order.get("value-effect", "Debit") == "Debit" else -1
        return _dec(order.get("value")) * value_sign
    if "price" in order and order.get("order-type") in _PRICED:
        return _dec(order["price"]) * _size(legs) * multiplier * sign
    prices = _marks_of(api, legs)
    if prices is None:
        return Decimal(0)
    return sum(
        (
            p
            * leg.quantity
            * _multiplier(leg.kind, leg.symbol)
            * (1 if _buying(leg.action) else -1)
            for p, leg in zip(prices, legs, strict=True)
        ),
        Decimal(0),
    )


def _margin(api: FakeTastytradeAPI, order: dict[str, Any]) -> Decimal:
    """The margin an order's opening short and futures legs need (the fake's simple rules)."""
    legs = _legs(order)
    total = Decimal(0)
    for leg in legs:
        if not _opening(leg.action):
            continue
        if leg.kind == "Future" or (leg.kind == "Future Option" and not _buying(leg.action)):
            product = _root(leg.symbol, leg.kind)
            per_contract = _FUTURE_MARGINS.get(product)
            if per_contract is None:
                price = mark(api, leg.symbol.lstrip(".").split(" ")[0]) or Decimal(0)
                per = price * _multiplier("Future", leg.symbol) * Decimal("0.1")
            else:
                per = Decimal(per_contract)
            total += per * leg.quantity
        elif leg.kind == "Equity" and not _buying(leg.action):
            total += (mark(api, leg.symbol) or Decimal(0)) * leg.quantity * Decimal("1.5")
        elif leg.kind == "Equity Option" and not _buying(leg.action):
            total += _short_option_margin(api, leg, legs)
    return total


def _short_option_margin(api: FakeTastytradeAPI, short: _Leg, legs: list[_Leg]) -> Decimal:
    match = _OCC.fullmatch(short.symbol)
    if match is None:
        return Decimal(0)
    strike = Decimal(match.group(4)) / 1000
    for leg in legs:
        other = _OCC.fullmatch(leg.symbol)
        if (
            leg.kind == "Equity Option"
            and _buying(leg.action)
            and _opening(leg.action)
            and other
            and other.group(1) == match.group(1)
            and other.group(3) == match.group(3)
        ):
            width = Decimal(other.group(4)) / 1000 - strike
            if match.group(3) == "P":
                width = -width
            return max(width, Decimal(0)) * 100 * short.quantity
    underlying = mark(api, match.group(1).strip()) or strike
    return underlying * Decimal("0.2") * 100 * short.quantity


def held(api: FakeTastytradeAPI, order: dict[str, Any]) -> Decimal:
    """The buying power a working order holds: its margin plus any debit."""
    return _margin(api, order) + max(_net_debit(api, order), Decimal(0))


def reserved(api: FakeTastytradeAPI, account: FakeAccount) -> Decimal:
    """The buying power the account's working orders hold (``balances`` subtracts it)."""
    return sum(
        (held(api, o) for o in account.orders if o.get("status") in _STATUSES_WORKING),
        Decimal(0),
    )


def buying_power(api: FakeTastytradeAPI, account: FakeAccount) -> Decimal:
    """The account's derivative buying power, as ``balances`` reports it."""
    return account.cash_balance - reserved(api, account)


# -- fees ------------------------------------------------------------------------------


def _leg_fees(
    kind: str, action: str, quantity: Decimal, price: Decimal | None
) -> dict[str, Decimal]:
    """One leg's fees by name (the fake's deterministic schedule)."""
    fees = {
        name: Decimal(0)
        for name in ("brokerage", "clearing", "exchange", "nfa", "orf", "sec", "taf")
    }
    opening = _opening(action)
    if kind == "Equity":
        fees["clearing"] = (Decimal("0.0008") * quantity).quantize(Decimal("0.001"), ROUND_CEILING)
        if not _buying(action) and price is not None:
            fees["sec"] = (Decimal("0.0000278") * price * quantity).quantize(
                Decimal("0.001"), ROUND_CEILING
            )
            fees["taf"] = min(Decimal("0.000166") * quantity, Decimal("8.30")).quantize(
                Decimal("0.001"), ROUND_CEILING
            )
    elif kind == "Equity Option":
        fees["brokerage"] = min(quantity, Decimal(10)) if opening else Decimal(0)
        fees["clearing"] = Decimal("0.10") * quantity
        fees["exchange"] = Decimal("0.028") * quantity
        fees["orf"] = Decimal("0.023") * quantity
    elif kind == "Future":
        fees["brokerage"] = Decimal("1.25") * quantity
        fees["clearing"] = Decimal("0.30") * quantity
        fees["exchange"] = Decimal("1.38") * quantity
        fees["nfa"] = Decimal("0.02") * quantity
    elif kind == "Future Option":
        fees["brokerage"] = Decimal("2.50") * quantity if opening else Decimal(0)
        fees["clearing"] = Decimal("0.30") * quantity
        fees["exchange"] = Decimal("0.65") * quantity
        fees["nfa"] = Decimal("0.02") * quantity
    elif kind == "Cryptocurrency" and price is not None:
        fees["brokerage"] = min(price * quantity * Decimal("0.01"), Decimal(10)).quantize(
            Decimal("0.01")
        )
    return fees


def _order_fees(api: FakeTastytradeAPI, order: dict[str, Any]) -> dict[str, Decimal]:
    legs = _legs(order)
    total = {
        name: Decimal(0)
        for name in ("brokerage", "clearing", "exchange", "nfa", "orf", "sec", "taf")
    }
    for leg in legs:
        price = mark(api, leg.symbol, leg.kind)
        if len(legs) == 1 and "price" in order and order.get("order-type") in _PRICED:
            price = _dec(order["price"])
        quantity = leg.quantity
        if quantity == 0 and order.get("order-type") == "Notional Market" and price:
            quantity = (_dec(order.get("value")) / price).quantize(Decimal("0.00001"), ROUND_DOWN)
        for name, value in _leg_fees(leg.kind, leg.action, quantity, price).items():
            total[name] += value
    return total


def _fee_json(fees: dict[str, Decimal]) -> dict[str, Any]:
    regulatory = fees["exchange"] + fees["nfa"] + fees["orf"] + fees["sec"] + fees["taf"]
    total = regulatory + fees["clearing"] + fees["brokerage"]

    def part(name: str) -> dict[str, str]:
        return {"name": name, "value": money(fees[name]), "effect": _cost(fees[name])}

    zero = {"value": "0.0", "effect": "None"}
    return {
        "regulatory-fees": money(regulatory),
        "regulatory-fees-effect": _cost(regulatory),
        "regulatory-fees-breakdown": [part(n) for n in ("exchange", "nfa", "orf", "sec", "taf")],
        "clearing-fees": money(fees["clearing"]),
        "clearing-fees-effect": _cost(fees["clearing"]),
        "clearing-fees-breakdown": [{**part("clearing")}],
        "commission": money(fees["brokerage"]),
        "commission-effect": _cost(fees["brokerage"]),
        "commission-breakdown": [part("brokerage")],
        "proprietary-index-option-fees": "0.0",
        "proprietary-index-option-fees-effect": "None",
        "proprietary-fees-breakdown": [{"name": "proprietary", **zero}],
        "total-fees": money(total),
        "total-fees-effect": _cost(total),
        "rebates": "0.0",
        "rebates-effect": "None",
        "rebates-breakdown": [{"name": "rebate", **zero}],
        "per-quantity": False,
    }


def _total(fees: dict[str, Decimal]) -> Decimal:
    return sum(fees.values(), Decimal(0))


def _bpe(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    order: dict[str, Any],
    fees: Decimal,
    *,
    releases: Decimal = Decimal(0),
) -> tuple[dict[str, Any], Decimal, Decimal]:
    """The buying-power-effect block, the change (positive uses power) and the new power.

    ``releases`` is what a replaced order held, which the replacement frees.
    """
    margin = _margin(api, order)
    debit = _net_debit(api, order)
    requirement = margin + max(debit, Decimal(0))
    change = margin + debit + fees - releases
    current = buying_power(api, account)
    new = current - change
    block = {
        "change-in-margin-requirement": money(requirement),
        "change-in-margin-requirement-effect": _cost(requirement),
        "change-in-buying-power": money(abs(change)),
        "change-in-buying-power-effect": _effect(change),
        "current-buying-power": money(abs(current)),
        "current-buying-power-effect": "Credit" if current >= 0 else "Debit",
        "new-buying-power": money(abs(new)),
        "new-buying-power-effect": "Credit" if new >= 0 else "Debit",
        "isolated-order-margin-requirement": money(requirement),
        "isolated-order-margin-requirement-effect": _cost(requirement),
        "is-spread": len(_legs(order)) > 1,
        "impact": money(abs(change)),
        "effect": _effect(change),
    }
    return block, change, new


# -- checking a request ----------------------------------------------------------------


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
        if kind == "Equity Option" and _expiry(symbol) is None:
            problems.append(("invalid_symbol", f"{symbol!r} is not an OCC option symbol"))
            continue
        quantity: Decimal | None = None
        if order_type == "Notional Market" and item.get("quantity") is None:
            quantity = Decimal(0)
        else:
            quantity = _amount(item.get("quantity"))
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
                "quantity": _count(quantity),
                "remaining-quantity": _count(quantity),
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
    price = _amount(body["price"]) if "price" in body else None
    if "price" in body and (price is None or price < 0):
        problems.append(("invalid_price", "price must be a non-negative decimal"))
    if order_type in _PRICED and "price" not in body:
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
        trigger = _amount(body.get("stop-trigger"))
        if trigger is None or trigger <= 0:
            problems.append(("stop_trigger_required", "A stop order needs a stop-trigger"))
        else:
            order["stop-trigger"] = money(trigger)
    if order_type == "Notional Market":
        value = _amount(body.get("value"))
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
        if _buying(legs[0]["action"]) and effect == "Credit":
            problems.append(("cant_buy_for_credit", "You cannot buy for a credit."))
        if not _buying(legs[0]["action"]) and effect == "Debit":
            problems.append(("cant_sell_for_debit", "You cannot sell for a debit."))
    for key in ("external-identifier", "source"):
        if isinstance(body.get(key), str):
            order[key] = body[key][:255]
    order["legs"] = legs
    return order, problems


def _position_of(account: FakeAccount, symbol: str) -> dict[str, Any] | None:
    for position in account.positions:
        if position.get("symbol") == symbol:
            return position
    return None


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
        position = _position_of(account, leg["symbol"])
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
            elif _dec(leg["quantity"]) > _dec(position.get("quantity")):
                problems.append(
                    ("closing_quantity_exceeds_position", f"Not enough {leg['symbol']} to close")
                )


# -- building, filling, cancelling -------------------------------------------------------


def _finish(api: FakeTastytradeAPI, account: FakeAccount, order: dict[str, Any]) -> None:
    """Fill in the fields every order carries, from its legs."""
    legs = order["legs"]
    first = legs[0] if legs else {"symbol": None, "instrument-type": "Equity"}
    size = _size(_legs(order))
    order.update(
        {
            "account-number": account.account_number,
            "size": _count(size) if size else 1,
            "underlying-symbol": _root(str(first["symbol"]), str(first["instrument-type"])),
            "underlying-instrument-type": _underlying_kind(str(first["instrument-type"])),
            "cancellable": True,
            "editable": True,
            "edited": False,
            "leg-count": len(legs),
        }
    )


_KEY_ORDER = (
    "id",
    "account-number",
    "time-in-force",
    "gtc-date",
    "order-type",
    "size",
    "underlying-symbol",
    "underlying-instrument-type",
    "price",
    "price-effect",
    "value",
    "value-effect",
    "stop-trigger",
    "status",
    "contingent-status",
    "cancellable",
    "editable",
    "edited",
)


def _tidy(order: dict[str, Any]) -> None:
    """Put an order's keys in the API's usual order (``legs`` last), in place."""
    items = dict(order)
    order.clear()
    order.update({k: items.pop(k) for k in _KEY_ORDER if k in items})
    legs = items.pop("legs", [])
    order.update(items)
    order["legs"] = legs


def _dry_run_order(order: dict[str, Any], status: str = "Received") -> dict[str, Any]:
    preview = {k: v for k, v in order.items() if k not in ("id", "received-at")}
    preview.update({"status": status, "updated-at": 0})
    _tidy(preview)
    return preview


def _enter(
    api: FakeTastytradeAPI, account: FakeAccount, order: dict[str, Any], now: float, status: str
) -> dict[str, Any]:
    """Give an order an id and put it in the account."""
    order_id = api.new_order_id()
    order["id"] = order_id
    order["status"] = status
    order["received-at"] = api.timestamp(now)
    order["updated-at"] = int(now * 1000)
    order["ext-client-order-id"] = "JAAAC" + f"{order_id:013d}"
    order["global-request-id"] = _digest("request", account.account_number, order_id)
    _tidy(order)
    account.orders.append(order)
    return order


def _crosses(api: FakeTastytradeAPI, order: dict[str, Any]) -> list[Decimal] | None:
    """The fill prices of each leg if the order would fill now, else ``None``."""
    legs = _legs(order)
    prices = _marks_of(api, legs) if legs else None
    if prices is None:
        return None
    order_type = order.get("order-type")
    size = _size(legs) or Decimal(1)
    net = (
        sum(
            (
                p * leg.quantity * (1 if _buying(leg.action) else -1)
                for p, leg in zip(prices, legs, strict=True)
            ),
            Decimal(0),
        )
        / size
    )
    if order_type in ("Stop", "Stop Limit"):
        trigger = _dec(order.get("stop-trigger"))
        hit = prices[0] >= trigger if _buying(legs[0].action) else prices[0] <= trigger
        if not hit:
            return None
        if order_type == "Stop":
            return prices
    if order_type in ("Market", "Stop", "Notional Market"):
        return prices
    limit = _dec(order.get("price"))
    if order.get("price-effect") == "Credit":
        return prices if -net >= limit else None
    return prices if net <= limit else None


def _advance(
    api: FakeTastytradeAPI, account: FakeAccount, order: dict[str, Any], now: float
) -> None:
    """Move a working order on: fill it if it crosses, else ``Live`` (once priced)."""
    if not api.market_open or order.get("status") not in _STATUSES_WORKING:
        return
    prices = _crosses(api, order)
    if prices is not None:
        _fill(api, account, order, prices, now)
        return
    if order.get("time-in-force") == "IOC":
        _cancel(api, account, order, now)
        return
    if order.get("status") != "Live" and _marks_of(api, _legs(order)) is not None:
        order["status"] = "Live"
        order["live-at"] = api.timestamp(now)
        order["updated-at"] = int(now * 1000)


def _fill(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    order: dict[str, Any],
    prices: list[Decimal],
    now: float,
) -> None:
    """Fill every leg at ``prices``: fills, positions, cash, transactions, then the
    complex order's consequences (a trigger starts its orders, one of an OCO pair
    cancels the other)."""
    area = state(api)
    stamp = api.timestamp(now)
    order_id = order.get("id")
    if order.get("order-type") == "Notional Market" and prices[0] > 0:
        quantity = (_dec(order.get("value")) / prices[0]).quantize(Decimal("0.00001"), ROUND_DOWN)
        order["legs"][0]["quantity"] = order["legs"][0]["remaining-quantity"] = _count(quantity)
    for leg, price in zip(order["legs"], prices, strict=False):
        kind, symbol, action = leg["instrument-type"], leg["symbol"], leg["action"]
        quantity = _dec(leg.get("remaining-quantity"))
        fill_id = area.next_fill
        area.next_fill += 1
        venue = "MARKET_SIMULATOR_CME" if kind.startswith("Future") else "MARKET_SIMULATOR_A"
        leg["fills"] = [
            *leg.get("fills", []),
            {
                "fill-id": f"{int(now):010d}{fill_id:06d}",
                "quantity": _count(quantity),
                "fill-price": money(price),
                "filled-at": stamp,
                "destination-venue": venue,
                "ext-exec-id": f"{fill_id:08d}",
                "ext-group-fill-id": f"{fill_id:09d}",
            },
        ]
        leg["remaining-quantity"] = 0
        fees = _leg_fees(kind, action, quantity, price)
        multiplier = _multiplier(kind, symbol)
        realized = _move_position(api, account, leg, quantity, price, now)
        value = price * quantity * multiplier
        cash = realized if kind == "Future" else (-value if _buying(action) else value)
        account.cash_balance += cash - _total(fees)
        _record(api, account, order, leg, quantity, price, fees, now)
    order.update(
        {
            "status": "Filled",
            "cancellable": False,
            "editable": False,
            "terminal-at": stamp,
            "updated-at": int(now * 1000),
        }
    )
    for complex_order in list(area.complex.values()):
        if complex_order.account_number != account.account_number:
            continue
        if complex_order.trigger == order_id:
            for child_id in complex_order.orders:
                child = _by_id(account, child_id)
                if child is not None and child.get("status") == "Contingent":
                    child.pop("contingent-status", None)
                    child["status"] = "Routed"
                    child["updated-at"] = int(now * 1000)
            for child_id in complex_order.orders:
                child = _by_id(account, child_id)
                if child is not None:
                    _advance(api, account, child, now)
        elif order_id in complex_order.orders and complex_order.type in ("OCO", "OTOCO"):
            for sibling_id in complex_order.orders:
                sibling = _by_id(account, sibling_id)
                if sibling is not None and sibling.get("status") in _STATUSES_OPEN:
                    _cancel(api, account, sibling, now)


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
    multiplier = _multiplier(kind, symbol)
    delta = quantity if _buying(leg["action"]) else -quantity
    position = _position_of(account, symbol)
    stamp = api.timestamp(now)
    close = mark(api, symbol, kind) or price
    if position is None:
        expires = None
        expiry = _expiry(symbol) if kind == "Equity Option" else None
        if expiry is not None:
            expires = api.timestamp(_close_of(expiry) + 15 * 60)
        position = position_json(
            account.account_number,
            symbol,
            kind,
            _root(symbol, kind),
            _count(quantity),
            "Long" if delta > 0 else "Short",
            _text(price),
            money(close),
            int(multiplier),
            expires_at=expires,
        )
        position["created-at"] = position["updated-at"] = stamp
        account.positions.append(position)
        return Decimal(0)
    held_now = _dec(position.get("quantity"))
    current = held_now if position.get("quantity-direction") == "Long" else -held_now
    average = _dec(position.get("average-open-price"))
    realized = Decimal(0)
    if current == 0 or (current > 0) == (delta > 0):
        average = (average * abs(current) + price * quantity) / (abs(current) + quantity)
    else:
        closed = min(abs(delta), abs(current))
        # A future's cash has been marked to each day's settlement (the close price) already.
        basis = _dec(position.get("close-price")) if kind == "Future" else average
        realized = (price - basis) * closed * multiplier * (1 if current > 0 else -1)
        if abs(delta) > abs(current):
            average = price
    after = current + delta
    if after == 0:
        account.positions.remove(position)
        return realized
    position.update(
        {
            "quantity": _count(abs(after)),
            "quantity-direction": "Long" if after > 0 else "Short",
            "average-open-price": _text(average),
            "close-price": money(close),
            "cost-effect": "Debit" if after > 0 else "Credit",
            "updated-at": stamp,
        }
    )
    return realized


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
    """A Trade transaction for one leg's fill, when the accounts area can keep one.

    The amounts are the ones the fill moved cash by (signed, a debit negative).
    """
    record = getattr(accounts, "record_transaction", None)
    if record is None:
        return
    kind = leg["instrument-type"]
    buying = _buying(leg["action"])
    multiplier = _multiplier(kind, leg["symbol"])
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
    record(
        api,
        account.account_number,
        symbol=leg["symbol"],
        action=leg["action"],
        quantity=quantity,
        price=price,
        instrument_type=kind,
        underlying_symbol=_root(leg["symbol"], kind),
        order_id=order.get("id"),
        multiplier=multiplier,
        leg_count=len(order.get("legs", [])),
        executed_at=now,
        net_value=value - _total(fees),
        **amounts,
    )


def _cancel(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    order: dict[str, Any],
    now: float,
    *,
    replacing: int | None = None,
) -> None:
    stamp = api.timestamp(now)
    order.pop("contingent-status", None)
    order.update(
        {
            "status": "Cancelled",
            "cancellable": False,
            "editable": False,
            "cancelled-at": stamp,
            "terminal-at": stamp,
            "updated-at": int(now * 1000),
        }
    )
    if replacing is not None:
        order["edited"] = True
        order["replacing-order-id"] = replacing
        return
    for complex_order in state(api).complex.values():
        if complex_order.account_number == account.account_number and complex_order.trigger == (
            order.get("id")
        ):
            for child_id in complex_order.orders:
                child = _by_id(account, child_id)
                if child is not None and child.get("status") in _STATUSES_OPEN:
                    _cancel(api, account, child, now)


def _expire(api: FakeTastytradeAPI, order: dict[str, Any], at: float) -> None:
    order.pop("contingent-status", None)
    order.update(
        {
            "status": "Expired",
            "cancellable": False,
            "editable": False,
            "terminal-at": api.timestamp(at),
            "updated-at": int(at * 1000),
        }
    )


def settle(
    api: FakeTastytradeAPI, now: float, accounts: Iterable[FakeAccount] | None = None
) -> None:
    """Bring orders up to ``now``: expire the day's leftovers, route, fill what crosses."""
    today = _day(now)
    for account in list(accounts if accounts is not None else api.accounts.values()):
        for order in list(account.orders):
            if order.get("status") not in _STATUSES_OPEN:
                continue
            tif = order.get("time-in-force")
            received = _moment(order.get("received-at"))
            if tif in _DAY_ORDERS and received is not None and _day(received) < today:
                _expire(api, order, min(_close_of(_day(received), tif != "Day"), now))
            elif tif == "GTD" and str(order.get("gtc-date", "9999-12-31")) < today.isoformat():
                _expire(api, order, now)
        if not api.market_open:
            continue
        for order in list(account.orders):
            if order.get("status") == "Received":
                order["status"] = "Routed"
            if order.get("status") in _STATUSES_WORKING:
                _advance(api, account, order, now)


# -- the handlers --------------------------------------------------------------------------


def _by_id(account: FakeAccount, order_id: Any) -> dict[str, Any] | None:
    for order in account.orders:
        if str(order.get("id")) == str(order_id):
            return order
    return None


def find_order(account: FakeAccount, order_id: str) -> dict[str, Any]:
    """One of the account's orders by id; a 404 ``record_not_found`` otherwise."""
    order = _by_id(account, order_id)
    if order is None:
        raise refuse(404, "record_not_found", f"Order {order_id} not found")
    return order


def _open(
    api: FakeTastytradeAPI, request: Request, now: float, number: str
) -> tuple[FakeUser, FakeAccount]:
    user = api.user_for(request, now)
    account = api.account_for(user, number)
    settle(api, now, [account])
    return user, account


def _prepare(
    api: FakeTastytradeAPI, account: FakeAccount, body: dict[str, Any], now: float
) -> dict[str, Any]:
    """A new order from a request body, checked; refused with 422 when it would be."""
    order, problems = parse_order(body, _day(now))
    advanced = body.get("advanced-instructions")
    strict = isinstance(advanced, dict) and advanced.get("strict-position-effect-validation")
    if not problems:
        _check_account(account, order, bool(strict), problems)
    if problems:
        raise _refusal(problems)
    _finish(api, account, order)
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


def _preflight(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    order: dict[str, Any],
    *,
    releases: Decimal = Decimal(0),
) -> dict[str, Any]:
    """The placed-order answer's blocks for ``order``; 422 when buying power is short."""
    fees = _order_fees(api, order)
    block, change, new = _bpe(api, account, order, _total(fees), releases=releases)
    if change > 0 and new < 0:
        raise _margin_failure(block)
    return {
        "buying-power-effect": block,
        "fee-calculation": _fee_json(fees),
        "warnings": [] if api.market_open else [dict(_TIF_WARNING)],
    }


def _dry_run(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``POST /accounts/{n}/orders/dry-run``: the preflight, nothing placed."""
    _, account = _open(api, request, now, number)
    order = _prepare(api, account, body_of(request), now)
    blocks = _preflight(api, account, order)
    context = f"/accounts/{number}/orders/dry-run"
    answer = {"order": _dry_run_order(order), **blocks}
    return reply(201, {"data": answer, "context": context, "api-version": "v1"})


def _place_order(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``POST /accounts/{n}/orders``: place (never deduplicated), fill what crosses."""
    _, account = _open(api, request, now, number)
    order = _prepare(api, account, body_of(request), now)
    blocks = _preflight(api, account, order)
    _enter(api, account, order, now, "Routed" if api.market_open else "Received")
    _advance(api, account, order, now)
    return data({"order": dict(order), **blocks}, f"/accounts/{number}/orders", status=201)


def _live_orders(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``GET /accounts/{n}/orders/live``: today's orders in any status, plus working ones."""
    _, account = _open(api, request, now, number)
    items = [o for o in account.orders if _today_or_open(o, now)]
    context = f"/accounts/{number}/orders/live"
    return reply(200, {"data": {"items": items}, "context": context, "api-version": "v1"})


def _today_or_open(order: dict[str, Any], now: float) -> bool:
    received = _moment(order.get("received-at"))
    today = received is not None and _day(received) == _day(now)
    return today or order.get("status") in _STATUSES_OPEN


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
    if order.get("status") not in _STATUSES_OPEN:
        raise refuse(422, "order_not_cancellable", f"Order {order_id} is {order.get('status')}")
    _cancel(api, account, order, now)
    return data(order, f"/accounts/{number}/orders/{order_id}")


def _replacement(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    old: dict[str, Any],
    body: dict[str, Any],
    now: float,
) -> dict[str, Any]:
    """The order that would replace ``old``: its legs, the body's price and timing."""
    if old.get("status") not in _STATUSES_OPEN:
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
    order, problems = parse_order(merged, _day(now))
    if "legs" in body:
        given = body["legs"]
        same = isinstance(given, list) and sorted(
            (str(leg.get("symbol")), str(leg.get("action")), str(_amount(leg.get("quantity"))))
            for leg in given
            if isinstance(leg, dict)
        ) == sorted((str(x["symbol"]), str(x["action"]), str(_amount(x["quantity"]))) for x in legs)
        if not same or len(given) != len(legs):
            problems.append(("invalid_replacement", "Only price, order type and timing can change"))
    if problems:
        raise _refusal(problems)
    _finish(api, account, order)
    order["replaces-order-id"] = old.get("id")
    for key in ("complex-order-id", "complex-order-tag"):
        if key in old:
            order[key] = old[key]
    return order


def _replace_order(
    api: FakeTastytradeAPI, request: Request, now: float, number: str, order_id: str
) -> Response:
    """``PUT`` or ``PATCH /accounts/{n}/orders/{id}``: cancel-replace; 200 with the new order."""
    _, account = _open(api, request, now, number)
    old = find_order(account, order_id)
    new = _replacement(api, account, old, body_of(request), now)
    releases = held(api, old) if old.get("status") in _STATUSES_WORKING else Decimal(0)
    _preflight(api, account, new, releases=releases)
    contingent = old.get("status") == "Contingent"
    status = "Contingent" if contingent else "Routed" if api.market_open else "Received"
    _enter(api, account, new, now, status)
    if contingent:
        new["contingent-status"] = old.get("contingent-status", "Pending Order")
    _cancel(api, account, old, now, replacing=new["id"])
    for complex_order in state(api).complex.values():
        if complex_order.account_number == account.account_number:
            if complex_order.trigger == old.get("id"):
                complex_order.trigger = new["id"]
            complex_order.orders = [
                new["id"] if i == old.get("id") else i for i in complex_order.orders
            ]
    _advance(api, account, new, now)
    return data(new, f"/accounts/{number}/orders/{order_id}")


def _replace_dry_run(
    api: FakeTastytradeAPI, request: Request, now: float, number: str, order_id: str
) -> Response:
    """``POST /accounts/{n}/orders/{id}/dry-run``: a replacement's preflight, nothing changed."""
    _, account = _open(api, request, now, number)
    old = find_order(account, order_id)
    new = _replacement(api, account, old, body_of(request), now)
    releases = held(api, old) if old.get("status") in _STATUSES_WORKING else Decimal(0)
    blocks = _preflight(api, account, new, releases=releases)
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
    if order.get("status") not in _STATUSES_OPEN or order.get("confirmation-status") != "Pending":
        raise refuse(422, *_NOT_RECONFIRMABLE)
    order["confirmation-status"] = "Confirmed"
    order["updated-at"] = int(now * 1000)
    return data(order, f"/accounts/{number}/orders/{order_id}/reconfirm", status=201)


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
            bound = _moment(value)
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
            at = _moment(order.get("received-at")) or 0.0
            symbols = {leg.get("symbol") for leg in order.get("legs", []) if isinstance(leg, dict)}
            if (
                _within(at, checks)
                and (not statuses or order.get("status") in statuses)
                and (underlying is None or order.get("underlying-symbol") == underlying)
                and (kind is None or order.get("underlying-instrument-type") == kind)
                and (future is None or future in symbols)
            ):
                found.append((at, _dec(order.get("id")), order))
    found.sort(key=lambda row: (row[0], row[1]), reverse=sort == "Desc")
    return paginate(request, [o for _, _, o in found], context, per_page=_SEARCH_PER_PAGE)


def _within(at: float, checks: list[tuple[str, date | float]]) -> bool:
    """Whether an order received at ``at`` passes the search's date and time bounds."""
    for key, bound in checks:
        if isinstance(bound, date):
            day = _day(at)
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


# -- complex orders ------------------------------------------------------------------------


def _complex_json(account: FakeAccount, complex_order: _Complex) -> dict[str, Any]:
    orders = [_by_id(account, i) or {} for i in complex_order.orders]
    answer: dict[str, Any] = {
        "id": complex_order.id,
        "account-number": account.account_number,
        "type": complex_order.type,
        "orders": orders,
    }
    everything = list(orders)
    if complex_order.trigger is not None:
        answer["trigger-order"] = _by_id(account, complex_order.trigger) or {}
        everything.append(answer["trigger-order"])
    if all(o.get("status") not in _STATUSES_OPEN for o in everything):
        ends = [str(o["terminal-at"]) for o in everything if isinstance(o.get("terminal-at"), str)]
        if ends:
            answer["terminal-at"] = max(ends)
    return answer


def _prepare_complex(
    api: FakeTastytradeAPI, account: FakeAccount, body: dict[str, Any], now: float
) -> tuple[str, dict[str, Any] | None, list[dict[str, Any]]]:
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
        trigger = _prepare(api, account, trigger_body, now)
    orders = []
    for item in bodies:
        if not isinstance(item, dict):
            raise _refusal([("invalid_complex_order", "Each order must be an object")])
        if trigger is None:
            orders.append(_prepare(api, account, item, now))
            continue
        order, found = parse_order(item, _day(now))  # checked against positions when it routes
        if found:
            raise _refusal(found)
        _finish(api, account, order)
        orders.append(order)
    return str(kind), trigger, orders


def _complex_blocks(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    trigger: dict[str, Any] | None,
    orders: list[dict[str, Any]],
) -> dict[str, Any]:
    """The answer's blocks: the trigger's effect, or the costliest of the orders'."""
    if trigger is not None:
        return _preflight(api, account, trigger)
    ranked = sorted(orders, key=lambda o: held(api, o), reverse=True)
    return _preflight(api, account, ranked[0])


def _complex_dry_run(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``POST /accounts/{n}/complex-orders/dry-run``."""
    _, account = _open(api, request, now, number)
    kind, trigger, orders = _prepare_complex(api, account, body_of(request), now)
    blocks = _complex_blocks(api, account, trigger, orders)
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
    kind, trigger, orders = _prepare_complex(api, account, body_of(request), now)
    blocks = _complex_blocks(api, account, trigger, orders)
    area = state(api)
    complex_id = area.next_complex_id
    area.next_complex_id += 1
    routed = "Routed" if api.market_open else "Received"
    if trigger is not None:
        trigger["complex-order-id"] = complex_id
        trigger["complex-order-tag"] = f"{kind}::trigger-order"
        _enter(api, account, trigger, now, routed)
    for order in orders:
        order["complex-order-id"] = complex_id
        order["complex-order-tag"] = f"{kind}::order"
        _enter(api, account, order, now, "Contingent" if trigger is not None else routed)
        if trigger is not None:
            order["contingent-status"] = "Pending Order"
    record = _Complex(
        complex_id,
        number,
        kind,
        None if trigger is None else trigger["id"],
        [o["id"] for o in orders],
    )
    area.complex[complex_id] = record
    for order in ([trigger] if trigger is not None else []) + orders:
        _advance(api, account, order, now)
    answer = {"complex-order": _complex_json(account, record), **blocks}
    return data(answer, f"/accounts/{number}/complex-orders", status=201)


def _complexes(api: FakeTastytradeAPI, account: FakeAccount) -> list[_Complex]:
    return [c for c in state(api).complex.values() if c.account_number == account.account_number]


def _find_complex(api: FakeTastytradeAPI, account: FakeAccount, complex_id: str) -> _Complex:
    for complex_order in _complexes(api, account):
        if str(complex_order.id) == complex_id:
            return complex_order
    raise refuse(404, "record_not_found", f"Complex order {complex_id} not found")


def _complex_live(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``GET /accounts/{n}/complex-orders/live``: those with an order today or still open."""
    _, account = _open(api, request, now, number)
    items = []
    for complex_order in _complexes(api, account):
        answer = _complex_json(account, complex_order)
        members = [*answer["orders"], answer.get("trigger-order") or {}]
        if any(_today_or_open(o, now) for o in members if o):
            items.append(answer)
    return data({"items": items}, f"/accounts/{number}/complex-orders/live")


def _complex_search(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``GET /accounts/{n}/complex-orders``: every complex order, newest first, paginated."""
    _, account = _open(api, request, now, number)
    items = [_complex_json(account, c) for c in reversed(_complexes(api, account))]
    return paginate(request, items, f"/accounts/{number}/complex-orders", per_page=10)


def _complex_order(
    api: FakeTastytradeAPI, request: Request, now: float, number: str, complex_id: str
) -> Response:
    """``GET /accounts/{n}/complex-orders/{id}``."""
    _, account = _open(api, request, now, number)
    complex_order = _find_complex(api, account, complex_id)
    context = f"/accounts/{number}/complex-orders/{complex_id}"
    return data(_complex_json(account, complex_order), context)


def _cancel_complex(
    api: FakeTastytradeAPI, request: Request, now: float, number: str, complex_id: str
) -> Response:
    """``DELETE /accounts/{n}/complex-orders/{id}``: cancels every open order in it."""
    _, account = _open(api, request, now, number)
    complex_order = _find_complex(api, account, complex_id)
    ids = [*([complex_order.trigger] if complex_order.trigger else []), *complex_order.orders]
    members = [o for o in (_by_id(account, i) for i in ids) if o is not None]
    open_members = [o for o in members if o.get("status") in _STATUSES_OPEN]
    if not open_members:
        raise refuse(422, "order_not_cancellable", f"Complex order {complex_id} is complete")
    for order in open_members:
        if order.get("status") in _STATUSES_OPEN:
            _cancel(api, account, order, now)
    context = f"/accounts/{number}/complex-orders/{complex_id}"
    return data(_complex_json(account, complex_order), context)


def _margin_dry_run(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    """``POST /margin/accounts/{n}/dry-run``: an order's margin effect, as a buying-power-effect.

    The real body's shape is not recorded anywhere found (the official JS
    client's own type is marked "not correct"); the fake answers 201 with the
    ``buying-power-effect`` fields, and a shortfall is reported there
    (``new-buying-power-effect: Debit``), not refused.
    """
    _, account = _open(api, request, now, number)
    body = body_of(request)
    order = _prepare(api, account, body, now)
    block, _, _ = _bpe(api, account, order, _total(_order_fees(api, order)))
    return data(block, f"/margin/accounts/{number}/dry-run", status=201)


# -- demo data ---------------------------------------------------------------------------

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
    for entry in accounts.transactions_of(api, number):
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
        "price": _text(price),
        "price-effect": effect,
        "legs": legs,
    }
    _finish(api, account, order)
    order.update(
        {
            "id": order_id,
            "status": status,
            "cancellable": False,
            "editable": False,
            "received-at": api.timestamp(at),
            "updated-at": int((at + 2) * 1000),
            "ext-client-order-id": "JAAAC" + f"{order_id:013d}",
            "global-request-id": _digest("request", account.account_number, order_id),
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
            quantity, price = _dec(entry.get("quantity")), _dec(entry.get("price"))
            action = str(entry.get("action"))
            net += price * quantity * (1 if _buying(action) else -1)
            legs.append(
                {
                    "instrument-type": entry.get("instrument-type"),
                    "symbol": entry.get("symbol"),
                    "quantity": _count(quantity),
                    "remaining-quantity": 0,
                    "action": action,
                    "fills": [
                        {
                            "fill-id": f"{order_id}{len(legs):03d}",
                            "quantity": _count(quantity),
                            "fill-price": money(price),
                            "filled-at": entry.get("executed-at"),
                            "destination-venue": entry.get("destination-venue"),
                            "ext-exec-id": entry.get("ext-exec-id"),
                            "ext-group-fill-id": entry.get("ext-group-fill-id"),
                        }
                    ],
                }
            )
        executed = _moment(entries[0].get("executed-at")) or now
        unit = _size(
            _legs({"legs": [{**leg, "remaining-quantity": leg["quantity"]} for leg in legs]})
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
            order["terminal-at"] = api.timestamp(_close_of(_day(at)))
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
        _tidy(order)
    orders.sort(key=lambda o: (_moment(o["received-at"]) or 0.0, o["id"]))
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


def place(
    api: FakeTastytradeAPI, account: FakeAccount, body: dict[str, Any], now: float
) -> dict[str, Any]:
    """Place ``body`` in ``account`` with no checks, as the API would accept it."""
    order, _ = parse_order(body, _day(now))
    _finish(api, account, order)
    _enter(api, account, order, now, "Routed" if api.market_open else "Received")
    _advance(api, account, order, now)
    return order


def seed(api: FakeTastytradeAPI) -> None:
    """Add this area's demo data to ``api``: 5WT00001's order history and a live MSFT order."""
    account = api.accounts.get("5WT00001")
    if account is None:
        return
    now = api.clock()
    account.orders[:0] = _history(api, account, now)
    place(api, account, order_request("MSFT", "Buy to Open", 10, "Limit", "410.00", "Debit"), now)


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
        "multiplier": multiplier,
        "cost-effect": "Debit" if direction == "Long" else "Credit",
        "is-frozen": False,
        "is-suppressed": False,
        "restricted-quantity": 0,
        "realized-day-gain": "0.0",
        "realized-day-gain-effect": "None",
        "realized-today": "0.0",
        "realized-today-effect": "None",
        "created-at": "2026-10-01T14:30:00.000+00:00",
        "updated-at": "2026-11-20T21:00:00.000+00:00",
    }
    if expires_at:
        item["expires-at"] = expires_at
    return item


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
