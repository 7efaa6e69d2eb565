"""The fake API's customers, accounts, balances, positions, transactions.

:func:`customer_json` is the customer ``GET /customers/me`` answers with: every
field the real API sends (``tests/samples/customers_me_200.json``), with made-up
demo values and no real person's data.

This module serves an account's history and what derives from it: trading
status, balance snapshots, net liquidating value history, transactions (a
page of them, one by id, a day's total fees) and margin requirements.

The demo margin account 5WT00001 gets about sixty transactions over the six
months before the fake was made (by its clock when seeded): an ACAT transfer
and deposits, a wire out and its fee, interest, dividends, futures marks,
expirations, and the trades behind its AAPL, SPY option and /ESZ6 positions.
Their net values add up to its cash balance. The Roth IRA 5WT00002 gets its
contribution and rollover. Everything is computed from the clock and fixed
tables; nothing is drawn at random.

Balance snapshots and the net liquidating value history are derived on each
request: cash at a moment is today's cash less what transactions added since;
the holdings' value follows a small deterministic wave around today's.

:func:`record_transaction` lets another part of the fake (an order filling)
add a trade to an account's history. See ``kit`` for how an area plugs
into the fake.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from ...models import unsigned
from ...protocol.http import Request, Response
from ...timestamps import parse_datetime
from .kit import ACCOUNT, Route, data, money, not_found, paginate, query, query_one, refuse

if TYPE_CHECKING:
    from .api import FakeAccount, FakeTastytradeAPI, FakeUser

__all__ = ["ROUTES", "customer_json", "record_transaction", "seed", "transactions_of"]

_DAY = 86_400
_OPENED = 1_600_000_000  # when the fake's accounts were opened (their opened-at)
_CENT = Decimal("0.01")
_MILLS = Decimal("0.001")

# -- the customer -----------------------------------------------------------------------------

_ADDRESS = {
    "street-one": "1 Demo Plaza",
    "city": "Chicago",
    "state-region": "IL",
    "postal-code": "60607",
    "country": "US",
    "is-foreign": False,
    "is-domestic": True,
}
_EMPLOYMENT = {
    "marital-status": "SINGLE",
    "number-of-dependents": 0,
    "employment-status": "EMPLOYED",
    "occupation": "Technology",
    "employer-name": "Example Corp",
    "job-title": "Engineer",
}
_MARGIN_TYPES = {
    "Cash": False,
    "Cash Secured Margin": True,
    "IRA Margin": True,
    "Reg T": True,
    "Portfolio Margin": True,
}
# The account types a customer may open, and their margin types (as the sample lists them).
_ACCOUNT_TYPES = (
    ("Individual", False, tuple(_MARGIN_TYPES)),
    ("Investment Club", False, tuple(_MARGIN_TYPES)),
    ("Traditional IRA", True, ("IRA Margin",)),
    ("Roth IRA", True, ("IRA Margin",)),
    ("Beneficiary Roth IRA", True, ("IRA Margin",)),
    ("Beneficiary Traditional IRA", True, ("IRA Margin",)),
)


def customer_json(api: FakeTastytradeAPI, user: FakeUser) -> dict[str, Any]:
    """``user`` as ``GET /customers/me`` answers: every field the real API sends, made up."""
    first, last, born = user.username.title(), "Example", "1990-01-01"
    person_id = "P" + user.external_id[1:]
    return {
        "id": "me",
        "first-name": first,
        "last-name": last,
        "first-surname": last,
        "address": dict(_ADDRESS),
        "mailing-address": dict(_ADDRESS),
        "customer-suitability": {
            "id": 100_000 + list(api.users).index(user.login),
            **_EMPLOYMENT,
            "annual-net-income": 100_000,
            "net-worth": 250_000,
            "liquid-net-worth": 100_000,
            "stock-trading-experience": "EXTENSIVE",
            "covered-options-trading-experience": "EXTENSIVE",
            "uncovered-options-trading-experience": "LIMITED",
            "futures-trading-experience": "LIMITED",
        },
        "usa-citizenship-type": "Citizen",
        "is-foreign": False,
        "mobile-phone-number": "+15555550100",  # 555-01xx: reserved for fiction
        "work-phone-number": "",
        "home-phone-number": "",
        "email": user.email,
        "tax-number-type": "SSN",
        "tax-number": "*****0000",  # masked, as the API masks it
        "birth-date": born,
        "external-id": user.external_id,
        "citizenship-country": "USA",
        "subject-to-tax-withholding": False,
        "agreed-to-margining": True,
        "agreed-to-terms": True,
        "has-industry-affiliation": False,
        "has-political-affiliation": False,
        "has-listed-affiliation": False,
        "is-investment-adviser": False,
        "has-institutional-assets": False,
        "is-professional": False,
        "has-delayed-quotes": False,
        "has-pending-or-approved-application": True,
        "permitted-account-types": [
            {
                "name": name,
                "description": "",
                "is-tax-advantaged": tax_advantaged,
                "has-multiple-owners": False,
                "is-publicly-available": True,
                "margin-types": [{"name": m, "is-margin": _MARGIN_TYPES[m]} for m in margins],
            }
            for name, tax_advantaged, margins in _ACCOUNT_TYPES
        ],
        "created-at": api.timestamp(_OPENED),
        "identifiable-type": "Person",
        "person": {
            "external-id": person_id,
            "first-name": first,
            "last-name": last,
            "birth-date": born,
            "citizenship-country": "USA",
            "usa-citizenship-type": "Citizen",
            **_EMPLOYMENT,
        },
    }


# -- the ledger -------------------------------------------------------------------------------


@dataclass
class _Ledger:
    """The accounts area's state: each account's transactions, in the order they were added."""

    transactions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    next_id: int = 310_000_001


def _ledger(api: FakeTastytradeAPI) -> _Ledger:
    return api.area("accounts", _Ledger)


def _append(ledger: _Ledger, number: str, entry: dict[str, Any]) -> dict[str, Any]:
    stored = {"id": ledger.next_id, "account-number": number, **entry}
    ledger.next_id += 1
    ledger.transactions.setdefault(number, []).append(stored)
    return stored


def _utc(when: float) -> datetime:
    return datetime.fromtimestamp(when, tz=timezone.utc)


def _executed(entry: dict[str, Any]) -> float:
    return parse_datetime(entry["executed-at"]).timestamp()


def _signed(entry: dict[str, Any], key: str) -> Decimal:
    amount = Decimal(entry.get(key) or 0)
    return -amount if entry.get(f"{key}-effect") == "Debit" else amount


def _put(entry: dict[str, Any], key: str, amount: Decimal) -> None:
    """Write a signed amount the API's way: unsigned, with its ``*-effect``."""
    size, effect = unsigned(amount)
    entry[key] = money(size)
    entry[f"{key}-effect"] = effect.value


# -- what a trade costs -------------------------------------------------------------------------

_FEE_KEYS = ("commission", "clearing-fees", "regulatory-fees", "proprietary-index-option-fees")
_AMOUNT_KEYS = ("value", "net-value", *_FEE_KEYS)
_INDEX_ROOTS = frozenset({"SPX", "SPXW", "NDX", "NDXP", "RUT", "RUTW", "VIX", "XSP"})
# Per contract: commission, clearing, exchange and NFA fees (shown as regulatory fees).
_FUTURE_FEES = {
    "/ES": (Decimal("1.25"), Decimal("0.30"), Decimal("1.38")),
    "/MES": (Decimal("0.75"), Decimal("0.30"), Decimal("0.35")),
}
_OTHER_FUTURE_FEES = (Decimal("1.25"), Decimal("0.30"), Decimal("1.50"))
_MULTIPLIERS = {"Equity": 1, "Equity Option": 100, "Future Option": 50}
_VENUES = {
    "Equity": ("Q", "NITE_EQUITIES_A"),
    "Equity Option": ("D", "WOLVERINE_OPTIONS_A"),
    "Future": ("C", "CME_FUTURES"),
    "Future Option": ("C", "CME_FUTURES"),
}


def _fees(
    kind: str, underlying: str, action: str, quantity: Decimal, value: Decimal
) -> dict[str, Decimal]:
    """The fees of one fill, unsigned, from a fixed schedule like tastytrade's."""
    opening, selling = action.endswith("to Open"), action.startswith("Sell")
    sec_fee = value * Decimal("0.0000278") if selling else Decimal(0)
    fees = dict.fromkeys(_FEE_KEYS, Decimal(0))
    if kind == "Equity":
        fees["clearing-fees"] = quantity * Decimal("0.0008")
        fees["regulatory-fees"] = sec_fee + (quantity * Decimal("0.000166") if selling else 0)
    elif kind == "Equity Option":
        fees["commission"] = min(quantity, Decimal(10)) if opening else Decimal(0)
        fees["clearing-fees"] = quantity * Decimal("0.10")
        fees["regulatory-fees"] = quantity * Decimal("0.02") + sec_fee
        if underlying in _INDEX_ROOTS:
            fees["proprietary-index-option-fees"] = quantity * Decimal("0.65")
    elif kind in ("Future", "Future Option"):
        commission, clearing, exchange = _FUTURE_FEES.get(underlying, _OTHER_FUTURE_FEES)
        fees["commission"] = commission * quantity
        fees["clearing-fees"] = clearing * quantity
        fees["regulatory-fees"] = exchange * quantity
    return {k: v.quantize(_MILLS, ROUND_HALF_UP) for k, v in fees.items()}


def _underlying_of(kind: str, symbol: str) -> str:
    if kind == "Equity Option":
        return symbol[:6].strip()
    if kind == "Future" and symbol.startswith("/") and len(symbol) > 3:
        return symbol[:-2]  # /ESZ6 -> /ES (month code and year digit)
    if kind == "Future Option" and symbol.startswith("./"):
        return symbol[1:].split(" ")[0][:-2]
    return symbol


def _number(value: Decimal) -> str:
    return f"{value:f}" if value != value.to_integral_value() else str(int(value))


def _name(kind: str, symbol: str) -> str:
    """How a description names an instrument: ``SPY 12/18/26 Call 600.00`` for an option."""
    if kind != "Equity Option" or len(symbol) != 21:
        return symbol
    expires = datetime.strptime(symbol[6:12], "%y%m%d")
    right = "Call" if symbol[12] == "C" else "Put"
    return f"{symbol[:6].strip()} {expires:%m/%d/%y} {right} {int(symbol[13:]) / 1000:.2f}"


def _describe(kind: str, symbol: str, action: str, quantity: Decimal, price: Decimal) -> str:
    verb = "Bought" if action.startswith("Buy") else "Sold"
    return f"{verb} {_number(quantity)} {_name(kind, symbol)} @ {price:f}"


def _trade(
    when: float,
    *,
    symbol: str,
    action: str,
    quantity: Decimal | int | str,
    price: Decimal | int | str,
    instrument_type: str = "Equity",
    underlying_symbol: str | None = None,
    order_id: int | None = None,
    multiplier: Decimal | int | None = None,
    leg_count: int = 1,
    is_estimated_fee: bool = True,
) -> dict[str, Any]:
    """A Trade transaction as the API writes it (without its id)."""
    kind, size, each = instrument_type, Decimal(str(quantity)), Decimal(str(price))
    underlying = underlying_symbol or _underlying_of(kind, symbol)
    scale = Decimal(_MULTIPLIERS.get(kind, 1) if multiplier is None else multiplier)
    if kind == "Future":
        scale = Decimal(0)  # a future's notional never changes hands
    value = (size * each * scale).quantize(_CENT, ROUND_HALF_UP)
    signed_value = -value if action.startswith("Buy") else value
    fees = _fees(kind, underlying, action, size, value)
    exchange, venue = _VENUES.get(kind, ("Q", "NITE_EQUITIES_A"))
    fill = int(when * 1000) % 10**9
    entry: dict[str, Any] = {
        "symbol": symbol,
        "instrument-type": kind,
        "underlying-symbol": underlying,
        "transaction-type": "Trade",
        "transaction-sub-type": action,
        "description": _describe(kind, symbol, action, size, each),
        "action": action,
        "quantity": money(size),
        "price": money(each),
        "executed-at": "",  # written when stored, in the fake's current style
        "transaction-date": _utc(when).date().isoformat(),
    }
    _put(entry, "value", signed_value)
    for key, fee in fees.items():
        _put(entry, key, -fee)
    _put(entry, "net-value", signed_value - sum(fees.values(), Decimal(0)))
    entry.update(
        {
            "is-estimated-fee": is_estimated_fee,
            "ext-exchange-order-number": str(6_300_000_000_000 + fill),
            "ext-global-order-number": fill % 10_000,
            "ext-group-id": "0",
            "ext-group-fill-id": str(600_000_000 + fill % 10**8),
            "ext-exec-id": str(6_000_000 + fill % 10**6),
            "exec-id": f"4_{fill:X}",
            "exchange": exchange,
            "exchange-affiliation-identifier": "",
            "leg-count": leg_count,
            "destination-venue": venue,
            "currency": "USD",
        }
    )
    if order_id is not None:
        entry["order-id"] = order_id
    return entry


def record_transaction(
    api: FakeTastytradeAPI, account_number: str, **fields: Any
) -> dict[str, Any]:
    """Append a Trade transaction to an account's history, as a fill makes one.

    ``fields`` name the fill in snake_case: ``symbol``, ``action`` (``"Buy to
    Open"``, ``"Sell"``...), ``quantity`` and ``price`` (required), and
    ``instrument_type`` (default ``"Equity"``), ``underlying_symbol`` (default
    derived from the symbol), ``order_id``, ``multiplier`` (default by type;
    a future's trade has no value whatever its multiplier), ``leg_count``,
    ``executed_at`` (POSIX seconds or an aware datetime; default the fake's
    clock). Value, commission, fees and net value follow the fake's fee
    schedule. Any other field is written as
    given under its kebab-case key; the amounts (``value``, ``net_value``,
    ``commission``, ``clearing_fees``, ``regulatory_fees``,
    ``proprietary_index_option_fees``) are taken signed (a debit negative)
    and replace the computed ones; the net value follows unless given too.

    Positions and cash are left alone: the caller keeps them. Returns the
    stored transaction, as the API would send it.
    """
    when = fields.pop("executed_at", None)
    if when is None:
        when = api.clock()
    elif isinstance(when, datetime):
        when = when.timestamp()
    known = (
        "symbol",
        "action",
        "quantity",
        "price",
        "instrument_type",
        "underlying_symbol",
        "order_id",
        "multiplier",
        "leg_count",
    )
    entry = _trade(float(when), **{k: fields.pop(k) for k in known if k in fields})
    entry["executed-at"] = api.timestamp(float(when))
    for name, value in fields.items():
        key = name.replace("_", "-")
        if key in _AMOUNT_KEYS:
            _put(entry, key, Decimal(str(value)))
        else:
            entry[key] = str(value) if isinstance(value, Decimal) else value
    if "net_value" not in fields:  # what the value and fees, given or computed, come to
        net = _signed(entry, "value") + sum((_signed(entry, k) for k in _FEE_KEYS), Decimal(0))
        _put(entry, "net-value", net)
    return _append(_ledger(api), account_number, entry)


# -- the demo history ---------------------------------------------------------------------------


def _business_day(today: date, back: int) -> date:
    """The weekday ``back`` weekdays before ``today``."""
    day = today
    while back > 0:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            back -= 1
    return day


def _friday_after(day: date, days: int) -> date:
    later = day + timedelta(days=days)
    return later + timedelta(days=(4 - later.weekday()) % 7)


def _occ(root: str, expires: date, right: str, strike: int) -> str:
    return f"{root:<6}{expires:%y%m%d}{right}{strike * 1000:08d}"


def _moment(day: date, hour: int, minute: int) -> float:
    """POSIX seconds of ``hour:minute`` UTC on ``day``."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc).timestamp()


class _History:
    """Builds an account's demo transactions (unsorted, without ids) against one calendar."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.entries: list[tuple[float, dict[str, Any]]] = []
        self.orders = iter(range(80_001, 90_000))

    def day(self, back: int) -> date:
        return _business_day(self.today, back)

    def trade(
        self, back: int, minute: int, symbol: str, action: str, quantity: int, price: str, **kw: Any
    ) -> None:
        when = _moment(self.day(back), 14, 0) + minute * 60 + (quantity * 7 + minute) % 50
        kw.setdefault("order_id", next(self.orders))
        entry = _trade(
            when,
            symbol=symbol,
            action=action,
            quantity=quantity,
            price=price,
            is_estimated_fee=False,
            **kw,
        )
        self.entries.append((when, entry))

    def spread(self, back: int, minute: int, *legs: tuple[str, str, str]) -> None:
        """One order's legs, each its own transaction."""
        order, count = next(self.orders), len(legs)
        for symbol, action, price in legs:
            option = {"instrument_type": "Equity Option", "leg_count": count}
            self.trade(back, minute, symbol, action, 1, price, order_id=order, **option)

    def _other(
        self, when: float, kind: str, sub_type: str, description: str, amount: Decimal, **about: Any
    ) -> None:
        entry: dict[str, Any] = {
            **about,
            "transaction-type": kind,
            "transaction-sub-type": sub_type,
            "description": description,
            "executed-at": "",
            "transaction-date": _utc(when).date().isoformat(),
        }
        _put(entry, "value", amount)
        _put(entry, "net-value", amount)
        entry.update({"is-estimated-fee": False, "currency": "USD"})
        self.entries.append((when, entry))

    def money(
        self,
        back: int,
        sub_type: str,
        description: str,
        amount: str,
        hour: int = 21,
        about: dict[str, str] | None = None,
    ) -> None:
        """A money movement (``amount`` signed) on a day, about an instrument if given."""
        when = _moment(self.day(back), hour, 0)
        self._other(when, "Money Movement", sub_type, description, Decimal(amount), **(about or {}))

    def expire(self, symbol: str, underlying: str, quantity: int, action: str) -> None:
        """An option's removal on its expiration day (it expired worthless)."""
        expires = datetime.strptime(symbol[6:12], "%y%m%d").date()
        name = _name("Equity Option", symbol)
        self._other(
            _moment(expires, 22, 30),
            "Receive Deliver",
            "Expiration",
            f"Removal of {quantity}.0 {name} due to expiration.",
            Decimal(0),
            symbol=symbol,
            **{"instrument-type": "Equity Option", "underlying-symbol": underlying},
            action=action,
            quantity=money(quantity),
            price="0.0",
        )

    def net(self) -> Decimal:
        return sum((_signed(e, "net-value") for _, e in self.entries), Decimal(0))


def _margin_account_history(today: date, cash: Decimal) -> _History:
    """About sixty transactions explaining 5WT00001: cash ``cash``, AAPL, SPY call, /ESZ6."""
    h = _History(today)
    put1 = _occ("SPY", _friday_after(h.day(113), 14), "P", 560)
    iwm1 = _occ("IWM", _friday_after(h.day(111), 21), "P", 205)
    put2 = _occ("SPY", _friday_after(h.day(93), 28), "P", 565)
    spx = _occ("SPXW", _friday_after(h.day(74), 7), "P", 5800)
    call_long = _occ("SPY", _friday_after(h.day(61), 35), "C", 610)
    call_short = _occ("SPY", _friday_after(h.day(61), 35), "C", 620)
    aapl_call = _occ("AAPL", _friday_after(h.day(50), 28), "C", 200)
    iwm2 = _occ("IWM", _friday_after(h.day(35), 21), "P", 210)
    put3 = _occ("SPY", _friday_after(h.day(12), 14), "P", 580)
    option = {"instrument_type": "Equity Option"}
    future = {"instrument_type": "Future"}

    def about(symbol: str, kind: str = "Equity", underlying: str | None = None) -> dict[str, str]:
        return {
            "symbol": symbol,
            "instrument-type": kind,
            "underlying-symbol": underlying or symbol,
        }

    h.money(122, "Deposit", "ACH DEPOSIT", "10000.00")
    h.trade(118, 32, "AAPL", "Buy to Open", 50, "178.40")
    h.trade(116, 75, "QQQ", "Buy to Open", 20, "498.15")
    h.trade(113, 48, put1, "Sell to Open", 1, "4.35", **option)
    h.expire(put1, "SPY", 1, "Buy to Close")
    h.trade(111, 120, iwm1, "Sell to Open", 3, "1.85", **option)
    h.money(108, "Dividend", "APPLE INC", "13.00", about=about("AAPL"))
    h.money(105, "Credit Interest", "INTEREST ON CREDIT BALANCE", "12.47")
    h.trade(104, 210, iwm1, "Buy to Close", 3, "0.60", **option)
    h.trade(102, 41, "MSFT", "Buy to Open", 10, "405.30")
    h.trade(100, 305, "AAPL", "Sell to Close", 50, "183.10")
    h.money(98, "Dividend", "INVESCO QQQ TRUST", "14.20", about=about("QQQ"))
    h.trade(96, 66, "TSLA", "Buy to Open", 15, "242.10")
    h.trade(93, 150, put2, "Sell to Open", 2, "3.10", **option)
    h.trade(90, 95, "QQQ", "Sell to Close", 20, "512.60")
    h.trade(88, 260, "TSLA", "Sell to Close", 15, "251.35")
    h.money(84, "Credit Interest", "INTEREST ON CREDIT BALANCE", "14.02")
    h.trade(82, 33, put2, "Buy to Close", 2, "1.20", **option)
    h.money(80, "Dividend", "MICROSOFT CORP", "8.30", about=about("MSFT"))
    h.trade(78, 180, "AMD", "Buy to Open", 40, "156.20")
    h.trade(74, 62, spx, "Sell to Open", 1, "8.50", underlying_symbol="SPX", **option)
    h.expire(spx, "SPX", 1, "Buy to Close")
    h.trade(70, 290, "AMD", "Sell to Close", 40, "149.85")
    h.trade(66, 115, "MSFT", "Sell to Close", 10, "418.75")
    h.money(63, "Credit Interest", "INTEREST ON CREDIT BALANCE", "11.88")
    h.spread(61, 140, (call_long, "Buy to Open", "5.20"), (call_short, "Sell to Open", "3.10"))
    h.spread(56, 200, (call_long, "Sell to Close", "7.90"), (call_short, "Buy to Close", "4.85"))
    h.trade(54, 44, "AAPL", "Buy to Open", 100, "187.25")
    h.trade(50, 230, aapl_call, "Sell to Open", 1, "2.15", **option)
    h.trade(45, 71, "SPY   261218C00600000", "Sell to Open", 2, "12.40", **option)
    h.money(42, "Credit Interest", "INTEREST ON CREDIT BALANCE", "9.65")
    h.money(40, "Dividend", "APPLE INC", "26.00", about=about("AAPL"))
    h.trade(40, 125, "GLD", "Buy to Open", 25, "228.40")
    h.trade(38, 36, aapl_call, "Buy to Close", 1, "0.45", **option)
    h.trade(35, 170, iwm2, "Sell to Open", 2, "2.05", **option)
    h.trade(34, 84, "NVDA", "Buy to Open", 30, "131.40")
    h.money(30, "Withdrawal", "WIRE WITHDRAWAL", "-2500.00", hour=16)
    h.money(30, "Fee", "OUTGOING WIRE FEE", "-25.00", hour=16)
    h.trade(28, 215, iwm2, "Buy to Close", 2, "0.85", **option)
    h.trade(25, 58, "GLD", "Sell to Close", 25, "234.10")
    h.trade(22, 245, "NVDA", "Sell to Close", 30, "138.90")
    h.money(21, "Credit Interest", "INTEREST ON CREDIT BALANCE", "8.31")
    h.trade(20, 40, "/MESZ6", "Buy to Open", 2, "5998.00", **future)
    h.trade(20, 315, "/MESZ6", "Sell to Close", 2, "6010.25", **future)
    marks = about("/MESZ6", "Future", "/MES")
    h.money(20, "Mark to Market", "Mark to market for /MESZ6", "122.50", hour=22, about=marks)
    h.trade(15, 100, "/MESZ6", "Sell to Open", 1, "6025.50", **future)
    h.trade(15, 280, "/MESZ6", "Buy to Close", 1, "6019.00", **future)
    h.money(15, "Mark to Market", "Mark to market for /MESZ6", "32.50", hour=22, about=marks)
    h.money(12, "Deposit", "ACH DEPOSIT", "5000.00", hour=15)
    h.trade(12, 190, put3, "Sell to Open", 1, "2.60", **option)
    h.trade(8, 52, "/ESZ6", "Buy to Open", 1, "6012.25", **future)
    h.trade(6, 135, put3, "Buy to Close", 1, "1.10", **option)
    # Daily settlement of /ESZ6 from 6012.25 to its close of 6020.50: 8.25 x 50 = 412.50.
    marks = about("/ESZ6", "Future", "/ES")
    settlements = ("237.50", "-125.00", "312.50", "-187.50", "175.00", "-62.50", "37.50", "25.00")
    for back, amount in zip(range(8, 0, -1), settlements, strict=True):
        h.money(back, "Mark to Market", "Mark to market for /ESZ6", amount, hour=22, about=marks)
    # The account came with cash from another broker: whatever makes today's balance
    # (fees run to tenths of a cent; what a transfer in cents cannot carry is adjusted).
    rest = cash - h.net()
    transfer = rest.quantize(_CENT, ROUND_DOWN)
    h.money(124, "Transfer", "ACAT CASH TRANSFER IN", str(transfer), hour=15)
    if rest != transfer:
        h.money(1, "Balance Adjustment", "FEE ROUNDING ADJUSTMENT", str(rest - transfer), hour=21)
    return h


def _ira_history(today: date, cash: Decimal) -> _History:
    h = _History(today)
    h.money(64, "Transfer", "ROLLOVER FROM 401(K)", str(cash - Decimal("7000.00")), hour=15)
    h.money(40, "Deposit", f"IRA CONTRIBUTION {h.day(40).year}", "7000.00", hour=15)
    return h


def seed(api: FakeTastytradeAPI) -> None:
    """Add the demo accounts' transaction histories, dated before the fake's clock."""
    today = _utc(api.clock()).date()
    ledger = _ledger(api)
    builders: dict[str, Callable[[date, Decimal], _History]] = {
        "5WT00001": _margin_account_history,
        "5WT00002": _ira_history,
    }
    for number, build in builders.items():
        history = build(today, api.accounts[number].cash_balance)
        for when, entry in sorted(history.entries, key=lambda pair: pair[0]):
            entry["executed-at"] = api.timestamp(when)
            _append(ledger, number, entry)


# -- reading requests ---------------------------------------------------------------------------


def _invalid(domain: str, reason: str) -> Exception:
    return refuse(
        400,
        "validation_error",
        "Request validation failed",
        errors=[{"domain": domain, "reason": reason}],
    )


def _query_date(request: Request, key: str) -> date | None:
    text = query_one(request, key)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _invalid(key, "is not a date (YYYY-MM-DD)") from None


def _query_time(request: Request, key: str) -> float | None:
    text = query_one(request, key)
    if text is None:
        return None
    try:
        return parse_datetime(text).timestamp()
    except ValueError:
        pass
    try:  # the API also takes a date-time without an offset, as UTC
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise _invalid(key, "is not a date-time") from None


def _account(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> FakeAccount:
    return api.account_for(api.user_for(request, now), number)


def _balances_now(
    api: FakeTastytradeAPI, request: Request, now: float, number: str
) -> dict[str, Any]:
    """The account's balances as ``GET /accounts/{n}/balances`` answers now."""
    return api.balances(_account(api, request, now, number), now)


# -- trading status -----------------------------------------------------------------------------


def _trading_status(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    account = _account(api, request, now, number)
    margin = account.margin_or_cash == "Margin"
    body = {
        "account-number": number,
        "day-trade-count": 0,
        "equities-margin-calculation-type": _calculation_type(account),
        "fee-schedule-name": "default",
        "futures-margin-rate-multiplier": "0.0",
        "has-intraday-equities-margin": False,
        "id": 400_000 + list(api.accounts).index(number),
        "is-aggregated-at-clearing": False,
        "is-closed": False,
        "is-closing-only": False,
        "is-cryptocurrency-closing-only": False,
        "is-cryptocurrency-enabled": margin,
        "is-frozen": False,
        "is-full-equity-margin-required": not margin,
        "is-futures-closing-only": False,
        "is-futures-intra-day-enabled": False,
        "is-futures-enabled": margin,
        "is-in-day-trade-equity-maintenance-call": False,
        "is-in-margin-call": False,
        "is-pattern-day-trader": False,
        "is-portfolio-margin-enabled": False,
        "is-risk-reducing-only": False,
        "is-small-notional-futures-intra-day-enabled": False,
        "is-roll-the-day-forward-enabled": True,
        "are-far-otm-net-options-restricted": True,
        "options-level": _options_level(account),
        "short-calls-enabled": margin,
        "small-notional-futures-margin-rate-multiplier": "0.0",
        "is-equity-offering-enabled": False,
        "is-equity-offering-closing-only": False,
        "enhanced-fraud-safeguards-enabled-at": api.timestamp(_OPENED),
        "updated-at": api.timestamp(now),
    }
    return data(body, f"/accounts/{number}/trading-status")


def _calculation_type(account: FakeAccount) -> str:
    if account.margin_or_cash == "Margin":
        return "Reg T"
    return "IRA Margin" if "IRA" in account.account_type else "Cash"


def _options_level(account: FakeAccount) -> str:
    return "No Restrictions" if account.margin_or_cash == "Margin" else "Defined Risk Spreads"


# -- transactions -------------------------------------------------------------------------------


def transactions_of(api: FakeTastytradeAPI, number: str) -> list[dict[str, Any]]:
    """Account ``number``'s transactions, oldest first (the list the fake keeps)."""
    return _ledger(api).transactions.get(number, [])


def _matches(request: Request) -> Callable[[dict[str, Any]], bool]:
    """The filter the transactions query asks for."""
    asked = query(request)
    if "type" in asked and "types[]" in asked:
        raise _invalid("types", "cannot be combined with type")
    kinds = set(asked.get("type", []) + asked.get("types[]", []))
    sub_types = set(asked.get("sub-type[]", []))
    exact = {
        key: values[0]
        for key, values in asked.items()
        if key in ("symbol", "underlying-symbol", "instrument-type", "action", "currency")
    }
    futures = query_one(request, "futures-symbol")
    first_day, last_day = _query_date(request, "start-date"), _query_date(request, "end-date")
    first_at, last_at = _query_time(request, "start-at"), _query_time(request, "end-at")

    def match(entry: dict[str, Any]) -> bool:
        day = date.fromisoformat(entry["transaction-date"])
        symbol = entry.get("symbol") or ""
        return (
            (not kinds or entry["transaction-type"] in kinds)
            and (not sub_types or entry["transaction-sub-type"] in sub_types)
            and all(entry.get(key) == value for key, value in exact.items())
            and (futures is None or symbol == futures or symbol.startswith(f".{futures} "))
            and (first_day is None or day >= first_day)
            and (last_day is None or day <= last_day)
            and (first_at is None or _executed(entry) >= first_at)
            and (last_at is None or _executed(entry) <= last_at)
        )

    return match


def _transactions(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    _account(api, request, now, number)
    order = query_one(request, "sort", "Desc")
    if order not in ("Asc", "Desc"):
        raise _invalid("sort", "must be Asc or Desc")
    match = _matches(request)
    found = [entry for entry in transactions_of(api, number) if match(entry)]
    found.sort(key=lambda e: (_executed(e), e["id"]), reverse=order == "Desc")
    return paginate(request, found, f"/accounts/{number}/transactions", api_version="v1")


def _transaction(
    api: FakeTastytradeAPI, request: Request, now: float, number: str, transaction_id: str
) -> Response:
    _account(api, request, now, number)
    for entry in transactions_of(api, number):
        if str(entry["id"]) == transaction_id:
            return data(entry, f"/accounts/{number}/transactions/{transaction_id}")
    raise not_found(f"Transaction {transaction_id}")


def _total_fees(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    _account(api, request, now, number)
    day = _query_date(request, "date")
    if day is None:
        raise _invalid("date", "is missing")
    total = sum(
        (
            _signed(entry, key)
            for entry in transactions_of(api, number)
            if entry["transaction-date"] == day.isoformat()
            for key in _FEE_KEYS
        ),
        Decimal(0),
    )
    body: dict[str, Any] = {}
    _put(body, "total-fees", total)
    return data(body, f"/accounts/{number}/transactions/total-fees")


# -- what the account was worth -------------------------------------------------------------------


class _Worth:
    """An account's value over time, derived from now: cash from the ledger, holdings a wave."""

    def __init__(self, api: FakeTastytradeAPI, request: Request, now: float, number: str) -> None:
        self.number, self.now = number, now
        self.balances = _balances_now(api, request, now, number)
        self.cash_now = Decimal(self.balances["cash-balance"])
        self.holdings_now = Decimal(self.balances["net-liquidating-value"]) - self.cash_now
        moves = sorted(
            (_executed(e), _signed(e, "net-value")) for e in transactions_of(api, number)
        )
        self._times = [when for when, _ in moves]
        self._after: list[Decimal] = []  # what the transactions from index i onward added
        running = Decimal(0)
        for _, amount in reversed(moves):
            running += amount
            self._after.append(running)
        self._after.reverse()

    def _noise(self, when: float, salt: str = "") -> Decimal:
        digest = hashlib.sha256(f"{self.number}:{int(when)}:{salt}".encode()).digest()
        return Decimal(int.from_bytes(digest[:4], "big")) / Decimal(2**31) - 1  # in [-1, 1)

    def cash(self, when: float) -> Decimal:
        index = bisect_right(self._times, when)
        return self.cash_now - (self._after[index] if index < len(self._after) else 0)

    def holdings(self, when: float) -> Decimal:
        age = Decimal(max(0.0, self.now - when) / _DAY)
        wave = 1 + Decimal("0.01") * self._noise(when) * min(Decimal(1), age)
        return self.holdings_now * wave / (1 + Decimal("0.0002") * age)

    def value(self, when: float) -> Decimal:
        return self.cash(when) + self.holdings(when)

    def ohlc(self, since: float, when: float) -> dict[str, Any]:
        """One point: the interval from ``since`` (the previous point) to ``when``."""
        first, last = self.value(since), self.value(when)
        span = Decimal(min(1.0, (when - since) / _DAY))
        swing = abs(self.holdings_now) * Decimal("0.002") * span
        high = max(first, last) + swing * abs(self._noise(when, "high"))
        low = min(first, last) - swing * abs(self._noise(when, "low"))
        point: dict[str, Any] = {}
        for name, amount in (("open", first), ("high", high), ("low", low), ("close", last)):
            point[name] = money(amount.quantize(_MILLS, ROUND_HALF_UP))
        for name in ("open", "high", "low", "close"):
            point[f"pending-cash-{name}"] = "0.0"
        for name in ("open", "high", "low", "close"):
            point[f"total-{name}"] = point[name]
        point["time"] = _utc(when).strftime("%Y-%m-%d %H:%M:%S+00")
        return point


# -- balance snapshots -------------------------------------------------------------------------

_SNAPSHOT_DAYS = 10
_SNAPSHOT_HOUR = {"BOD": 12, "EOD": 22}


def _balance_snapshots(
    api: FakeTastytradeAPI, request: Request, now: float, number: str
) -> Response:
    _account(api, request, now, number)
    time_of_day = query_one(request, "time-of-day", "EOD")
    if time_of_day not in _SNAPSHOT_HOUR:
        raise _invalid("time-of-day", "must be BOD or EOD")
    today = _utc(now).date()
    days = [_business_day(today, back) for back in range(_SNAPSHOT_DAYS, 0, -1)]
    first, last = _query_date(request, "start-date"), _query_date(request, "end-date")
    chosen = _query_date(request, "snapshot-date")
    if first is not None or last is not None:
        days = [d for d in days if (first is None or d >= first) and (last is None or d <= last)]
    elif chosen is not None:
        days = sorted({d for d in days if d == chosen} | {days[-1]})
    else:
        days = sorted({days[0], days[-1]})
    if query_one(request, "currency", "USD") != "USD":
        days = []
    worth = _Worth(api, request, now, number)
    items = []
    for day in days:
        when = _moment(day, _SNAPSHOT_HOUR[time_of_day], 0)
        cash, value = worth.cash(when), worth.value(when)
        short = Decimal(worth.balances.get("short-derivative-value", "0"))
        snapshot = dict(worth.balances)
        snapshot.update(
            {
                "cash-balance": money(cash.quantize(_MILLS)),
                "long-equity-value": money((value - cash + short).quantize(_MILLS)),
                "net-liquidating-value": money(value.quantize(_MILLS)),
                "snapshot-date": day.isoformat(),
                "time-of-day": time_of_day,
                "updated-at": api.timestamp(when),
            }
        )
        items.append(snapshot)
    return paginate(request, items, f"/accounts/{number}/balance-snapshots")


# -- net liquidating value history ----------------------------------------------------------------

_TIME_BACK_DAYS = {"1m": 30, "3m": 91, "6m": 182, "1y": 365}


def _weekdays_at(start: float, end: float, hour: int, every: int) -> Iterator[float]:
    """Each weekday (``every=1``) or Friday (``every=7``) at ``hour`` UTC in (start, end]."""
    day = _utc(start).date()
    while True:
        when = _moment(day, hour, 0)
        if when > end:
            return
        if when > start and (day.weekday() == 4 if every == 7 else day.weekday() < 5):
            yield when
        day += timedelta(days=1)


def _net_liq_history(api: FakeTastytradeAPI, request: Request, now: float, number: str) -> Response:
    _account(api, request, now, number)
    time_back = query_one(request, "time-back")
    start = _query_time(request, "start-time")
    if (time_back is None) == (start is None):
        raise _invalid("time-back", "give time-back or start-time (one of them)")
    if time_back == "1d":
        session = _utc(now).date()
        if session.weekday() > 4 or now < _moment(session, 13, 30):
            session = _business_day(session, 1)
        opens = _moment(session, 13, 30)
        closes = min(now, _moment(session, 20, 0))
        times, step = [opens + k * 300 for k in range(int((closes - opens) // 300) + 1)], 300.0
    else:
        if time_back == "all":
            start = float(_OPENED)
        elif start is None:
            if time_back not in _TIME_BACK_DAYS:
                raise _invalid("time-back", "must be one of 1d, 1m, 3m, 6m, 1y, all")
            start = now - _TIME_BACK_DAYS[time_back] * _DAY
        start = max(start, float(_OPENED))  # nothing before the account was opened
        every = 7 if now - start > 400 * _DAY else 1
        times, step = list(_weekdays_at(start, now, 20, every)), float(every * _DAY)
    worth = _Worth(api, request, now, number)
    previous = [times[0] - step, *times] if times else []
    items = [worth.ohlc(since, when) for since, when in zip(previous, times, strict=False)]
    return data({"items": items}, f"/accounts/{number}/net-liq/history")


# -- margin requirements ------------------------------------------------------------------------

# Initial and maintenance margin per futures contract.
_FUTURE_MARGIN = {
    "/ES": (Decimal("24200"), Decimal("22000")),
    "/MES": (Decimal("2420"), Decimal("2200")),
}


def _strategy(position: dict[str, Any]) -> tuple[str, Decimal, Decimal, dict[str, Any]]:
    """How one position is margined: (strategy, requirement, maintenance, position entry)."""
    kind, symbol = position["instrument-type"], position["symbol"]
    quantity = Decimal(str(position["quantity"]))
    short = position.get("quantity-direction") == "Short"
    close = Decimal(str(position.get("close-price") or 0))
    multiplier = Decimal(str(position.get("multiplier") or 1))
    value = close * quantity * multiplier
    entry: dict[str, Any] = {
        "instrument-symbol": symbol,
        "instrument-type": kind,
        "quantity": money(-quantity if short else quantity),
        "average-open-price": "NaN",
        "close-price": money(close),
        "fixing-price": "NaN",
    }
    if kind == "Equity Option" and len(symbol) == 21:
        strike = Decimal(int(symbol[13:])) / 1000
        entry.update(
            {
                "strike-price": money(strike),
                "option-type": symbol[12],
                "deliverable-quantity": money(quantity * multiplier),
                "expiration-date": datetime.strptime(symbol[6:12], "%y%m%d").date().isoformat(),
            }
        )
        if not short:
            return "LONG_OPTION", value, value, entry
        # Reg T for a naked option, with the strike standing in for the underlying's price.
        need = (strike * Decimal("0.20") + close) * quantity * multiplier
        return ("NAKED_CALL" if symbol[12] == "C" else "NAKED_PUT"), need, need, entry
    if kind == "Future":
        initial, maintenance = _FUTURE_MARGIN.get(
            position.get("underlying-symbol", ""), (value / 10, value * Decimal("0.09"))
        )
        return "FUTURE", initial * quantity, maintenance * quantity, entry
    entry["average-open-price"] = money(Decimal(str(position.get("average-open-price") or 0)))
    if short:
        return "SHORT_UNDERLYING", value / 2, value * Decimal("0.3"), entry
    return "LONG_UNDERLYING", value / 2, value / 4, entry


def _amounts(target: dict[str, Any], **amounts: Decimal) -> None:
    for name, amount in amounts.items():
        _put(target, name.replace("_", "-"), amount.quantize(_MILLS, ROUND_HALF_UP))


def _margin_requirements(
    api: FakeTastytradeAPI, request: Request, now: float, number: str
) -> Response:
    account = _account(api, request, now, number)
    groups: dict[str, dict[str, Any]] = {}
    totals = {"requirement": Decimal(0), "maintenance": Decimal(0), "reg_t": Decimal(0)}
    for position in account.positions:
        name, need, keep, entry = _strategy(position)
        underlying = position.get("underlying-symbol") or position["symbol"]
        group = groups.setdefault(
            underlying,
            {
                "description": underlying,
                "code": underlying,
                "underlying-symbol": underlying,
                "underlying-type": "Future" if name == "FUTURE" else "Equity",
                "margin-calculation-type": _calculation_type(account),
                "need": Decimal(0),
                "keep": Decimal(0),
                "groups": [],
                "price-increase-percent": "0.5" if name.endswith("UNDERLYING") else "1.0",
                "price-decrease-percent": "-0.5" if name.endswith("UNDERLYING") else "-1.0",
            },
        )
        strategy: dict[str, Any] = {"description": name}
        _amounts(
            strategy,
            margin_requirement=-need,
            initial_requirement=-need,
            maintenance_requirement=-keep,
            buying_power=need,
        )
        strategy.update({"includes-working-order": False, "position-entries": [entry]})
        group["groups"].append(strategy)
        group["need"] += need
        group["keep"] += keep
        totals["requirement"] += need
        totals["maintenance"] += keep
        totals["reg_t"] += 0 if name == "FUTURE" else need
    entries = []
    for group in groups.values():
        need, keep = group.pop("need"), group.pop("keep")
        nested = group.pop("groups")
        _amounts(
            group,
            margin_requirement=-need,
            initial_requirement=-need,
            maintenance_requirement=-keep,
            buying_power=need,
        )
        group["groups"] = nested
        entries.append(group)
    if api.drift:
        entries.append({})  # the real API sometimes sends an empty entry among the groups
    equity = Decimal(_balances_now(api, request, now, number)["net-liquidating-value"])
    report: dict[str, Any] = {
        "account-number": number,
        "description": "Total",
        "margin-calculation-type": _calculation_type(account),
        "option-level": _options_level(account),
    }
    _amounts(
        report,
        margin_requirement=-totals["requirement"],
        initial_requirement=-totals["requirement"],
        maintenance_requirement=-totals["maintenance"],
        margin_equity=equity,
        option_buying_power=equity - totals["requirement"],
        reg_t_margin_requirement=-totals["reg_t"],
        reg_t_option_buying_power=equity - totals["reg_t"],
        maintenance_excess=equity - totals["maintenance"],
    )
    report.update({"groups": entries, "last-state-timestamp": int(now * 1000)})
    return data(report, f"/margin/accounts/{number}/requirements")


ROUTES: list[Route] = [
    ("GET", re.compile(ACCOUNT + r"/trading-status"), _trading_status),
    ("GET", re.compile(ACCOUNT + r"/balance-snapshots"), _balance_snapshots),
    ("GET", re.compile(ACCOUNT + r"/net-liq/history"), _net_liq_history),
    ("GET", re.compile(ACCOUNT + r"/transactions"), _transactions),
    ("GET", re.compile(ACCOUNT + r"/transactions/total-fees"), _total_fees),
    ("GET", re.compile(ACCOUNT + r"/transactions/(\d+)"), _transaction),
    ("GET", re.compile(r"/margin" + ACCOUNT + r"/requirements"), _margin_requirements),
]
