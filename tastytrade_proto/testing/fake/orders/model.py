"""What an order is to the fake: the orders area's state, its vocabulary (statuses,
symbols, multipliers), reading an order's legs and filling in its common fields."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from math import gcd
from typing import TYPE_CHECKING, Any

from ..kit import money

if TYPE_CHECKING:
    from ..api import FakeAccount, FakeTastytradeAPI

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

STATUSES_WORKING = frozenset(
    {"Received", "Routed", "In Flight", "Live", "Cancel Requested", "Replace Requested"}
)
STATUSES_OPEN = STATUSES_WORKING | {"Contingent"}  # cancellable and editable
PRICED = frozenset({"Limit", "Marketable Limit", "Stop Limit"})
OCC = re.compile(r"(.{6})(\d{6})([CP])(\d{8})")
_FUTURE = re.compile(r"(/[A-Z0-9]+?)[FGHJKMNQUVXZ]\d{1,2}")
_MAX_AMOUNT = Decimal(10) ** 12


@dataclass(slots=True)
class ComplexOrder:
    """A complex order: its type and the ids of its orders."""

    id: int
    account_number: str
    type: str
    trigger: int | None
    orders: list[int]


@dataclass(frozen=True, slots=True)
class OrderChange:
    """One change of one order's state, as the fake made it (``api.order_history``).

    ``status`` is the order's status after the change; ``filled_quantity`` what its
    legs' fills add up to so far (every leg's, together), ``fill_ids`` their
    ``fill-id`` values in order; ``updated_at`` the order's ``updated-at`` (epoch
    milliseconds, rising with every change of the order); ``at`` the fake's clock.
    """

    account_number: str
    order_id: int
    status: str
    filled_quantity: Decimal
    fill_ids: tuple[str, ...]
    updated_at: int
    at: float


@dataclass(slots=True)
class OrdersState:
    """What the orders area keeps besides each account's order list."""

    marks: dict[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_MARKS))
    complex: dict[int, ComplexOrder] = field(default_factory=dict)
    next_complex_id: int = 300_001
    next_fill: int = 1
    #: Each order's last ``updated-at`` and status, as :func:`~.book.changed` left them.
    updated: dict[int, tuple[int, str]] = field(default_factory=dict)


def state(api: FakeTastytradeAPI) -> OrdersState:
    """The orders area's state in ``api``."""
    return api.area("orders", OrdersState)


# -- small helpers ----------------------------------------------------------------------------


def amount(value: Any) -> Decimal | None:
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


def dec(value: Any) -> Decimal:
    """A stored amount as a decimal (0 when it is not one)."""
    number = amount(value)
    return Decimal(0) if number is None else number


def count(number: Decimal) -> int | Decimal:
    """A quantity as the API writes it: an integer when whole."""
    return int(number) if number == number.to_integral_value() else number.normalize()


def rounded(number: Decimal, places: str = "0.0001") -> str:
    """An amount as a string, rounded to ``places`` and without trailing zeros."""
    return money(number.quantize(Decimal(places)).normalize())


def trading_day(when: float) -> date:
    """The New York trading day ``when`` falls on."""
    return datetime.fromtimestamp(when, _NEW_YORK).date()


def close_of(day: date, extended: bool = False) -> float:
    """When the New York session of ``day`` closes (8 pm with ``extended``), in POSIX seconds."""
    return datetime.combine(day, time(20 if extended else 16), _NEW_YORK).timestamp()


def seconds_of(text: Any) -> float | None:
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


def digest(*parts: object, size: int = 32) -> str:
    """A short, stable hex digest of ``parts``, for the ids the API makes up."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:size]


def buys(action: Any) -> bool:
    """Whether a leg's action buys."""
    return isinstance(action, str) and action.startswith("Buy")


def underlying_of(symbol: str, kind: str) -> str:
    """The underlying of a symbol: ``SPY`` for an SPY option, ``/ES`` for ``/ESZ6``."""
    if kind == "Equity Option":
        match = OCC.fullmatch(symbol)
        return match.group(1).strip() if match else symbol.split(" ")[0]
    if kind == "Future Option":
        future = symbol.lstrip(".").split(" ")[0]
        match = _FUTURE.fullmatch(future)
        return match.group(1) if match else future
    if kind == "Future":
        match = _FUTURE.fullmatch(symbol)
        return match.group(1) if match else symbol
    return symbol


def expiry_of(symbol: str) -> date | None:
    """The expiration date of an OCC option symbol (``None`` when it is not one)."""
    match = OCC.fullmatch(symbol)
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


def multiplier_of(kind: str, symbol: str) -> Decimal:
    """Shares per contract (100 for equity options, the product's size for futures)."""
    if kind == "Equity Option":
        return Decimal(100)
    if kind in ("Future", "Future Option"):
        return Decimal(_FUTURE_MULTIPLIERS.get(underlying_of(symbol, kind), 1))
    return Decimal(1)


# -- reading an order -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leg:
    """One leg, as pricing reads it: ``quantity`` is what is left to fill."""

    kind: str
    symbol: str
    action: str
    quantity: Decimal


def legs_of(order: dict[str, Any]) -> list[Leg]:
    """The order's legs, read."""
    found = []
    for leg in order.get("legs") or []:
        if isinstance(leg, dict):
            found.append(
                Leg(
                    str(leg.get("instrument-type", "Equity")),
                    str(leg.get("symbol", "")),
                    str(leg.get("action", "")),
                    dec(leg.get("remaining-quantity", leg.get("quantity", 0))),
                )
            )
    return found


def size_of(legs: list[Leg]) -> Decimal:
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


def position_of(account: FakeAccount, symbol: str) -> dict[str, Any] | None:
    """The account's position in ``symbol``, if it has one."""
    for position in account.positions:
        if position.get("symbol") == symbol:
            return position
    return None


# -- building an order ------------------------------------------------------------------------


def finish(api: FakeTastytradeAPI, account: FakeAccount, order: dict[str, Any]) -> None:
    """Fill in the fields every order carries, from its legs."""
    legs = order["legs"]
    first = legs[0] if legs else {"symbol": None, "instrument-type": "Equity"}
    size = size_of(legs_of(order))
    order.update(
        {
            "account-number": account.account_number,
            "size": count(size) if size else 1,
            "underlying-symbol": underlying_of(str(first["symbol"]), str(first["instrument-type"])),
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


def tidy(order: dict[str, Any]) -> None:
    """Put an order's keys in the API's usual order (``legs`` last), in place."""
    items = dict(order)
    order.clear()
    order.update({k: items.pop(k) for k in _KEY_ORDER if k in items})
    legs = items.pop("legs", [])
    order.update(items)
    order["legs"] = legs
