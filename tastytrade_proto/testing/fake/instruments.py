"""The fake API's instruments and option chains.

See ``kit`` for how an area plugs into the fake. The demo catalog
(:func:`seed`) holds equities (AAPL, MSFT, SPY, QQQ, BRK/B, TSLA, BYND and
the SPX index), the /ES and /CL futures with their option products,
BTC/USD and ETH/USD, one warrant and the quantity precisions. Option chains
(SPY, QQQ, AAPL) and futures are generated from the fake's clock, so they
always lie ahead of ``now``: daily expirations for a week (SPY and QQQ),
Fridays for eight weeks, then the third Friday of each month, plus the next
two December expirations; strikes on a fixed grid around a fixed price.

:func:`nested_chain` makes the JSON of a nested option chain of any size,
deterministically (the benchmark in ``bench/`` parses one of 10,000 options);
:func:`listed_symbols` names a future and options the catalog lists at a given
time, for tests whose clock is the real one.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ...errors import LocalProtocolError
from ...instruments import occ_symbol, occ_to_streamer, parse_occ
from ...protocol.http import Request, Response
from .kit import SEGMENT, Route, data, money, not_found, paginate, query, query_one

if TYPE_CHECKING:
    from .api import FakeTastytradeAPI

__all__ = ["ROUTES", "ChainSpec", "InstrumentCatalog", "listed_symbols", "nested_chain", "seed"]

_MONTH_CODES = "FGHJKMNQUVXZ"  # January ... December


# -- calendar ------------------------------------------------------------------------------


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _third_friday(year: int, month: int) -> date:
    return _nth_weekday(year, month, 4, 3)


def _eastern_offset(day: date) -> int:
    """Hours from UTC to US Eastern time on ``day`` (daylight time from March to November)."""
    starts = _nth_weekday(day.year, 3, 6, 2)
    ends = _nth_weekday(day.year, 11, 6, 1)
    return -4 if starts <= day < ends else -5


def _eastern_today(now: float) -> date:
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    return (moment + timedelta(hours=_eastern_offset(moment.date()))).date()


def _eastern(day: date, hour: int, minute: int = 0) -> float:
    """POSIX seconds of ``hour:minute`` New York time on ``day``."""
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)
    return (local - timedelta(hours=_eastern_offset(day))).timestamp()


def _business_days_before(day: date, count: int) -> date:
    while count:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def _market_closed(day: date) -> bool:
    """Weekends, the fixed-date exchange holidays and Thanksgiving (a good-enough calendar)."""
    fixed = (day.month, day.day) in ((1, 1), (6, 19), (7, 4), (12, 25))
    return day.weekday() >= 5 or fixed or day == _nth_weekday(day.year, 11, 3, 4)


def _expiration_dates(after: date, *, dailies: bool = True) -> Iterator[date]:
    """Every expiration after ``after``, in order, without end."""
    day = after
    while True:
        day += timedelta(days=1)
        if _market_closed(day):
            continue
        age = (day - after).days
        if (
            (dailies and age <= 7)
            or (age <= 56 and day.weekday() == 4)
            or day == _third_friday(day.year, day.month)
        ):
            yield day


def _expiration_type(day: date) -> str:
    return "Regular" if day == _third_friday(day.year, day.month) else "Weekly"


def _grid(center: Decimal, step: Decimal, count: int) -> list[Decimal]:
    low = center - step * (count // 2)
    return [low + step * i for i in range(count) if low + step * i > 0]


def _plain(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _ticks(*pairs: tuple[str, str | None]) -> list[dict[str, str]]:
    return [{"value": v} if t is None else {"value": v, "threshold": t} for v, t in pairs]


# -- equities and equity options ----------------------------------------------------------

_EQUITY_TICKS = _ticks(("0.0001", "1.0"), ("0.01", None))
_PENNY_TICKS = _ticks(("0.01", None))
_PILOT_TICKS = _ticks(("0.01", "3.0"), ("0.05", None))


def _equity_row(
    symbol: str,
    id: int,
    cusip: str | None,
    description: str,
    market: str,
    *,
    etf: bool = False,
    index: bool = False,
    lendability: str | None = "Easy To Borrow",
    borrow_rate: str = "0.0",
    option_ticks: list[dict[str, str]] = _PILOT_TICKS,
    fractional: bool = True,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": id,
        "symbol": symbol,
        "instrument-type": "Equity",
        "cusip": cusip,
        "short-description": description,
        "is-index": index,
        "listed-market": market,
        "description": description,
        "lendability": lendability,
        "borrow-rate": borrow_rate,
        "market-time-instrument-collection": "Cash Settled Equity Index" if index else "Equity",
        "is-closing-only": False,
        "is-options-closing-only": False,
        "active": True,
        "is-fractional-quantity-eligible": fractional and not index,
        "is-illiquid": False,
        "is-etf": etf,
        "streamer-symbol": symbol,
        "tick-sizes": _PENNY_TICKS if index else _EQUITY_TICKS,
        "option-tick-sizes": option_ticks,
    }
    return {k: v for k, v in item.items() if v is not None}


@dataclass(frozen=True)
class ChainSpec:
    """How the fake lists an underlying's options: strikes around ``center``, ``step`` apart."""

    center: Decimal
    step: Decimal
    strikes: int = 21
    expirations: int = 10
    dailies: bool = True
    close_minute: int = 15  # trading stops at 16:15 New York time for ETF options, else 16:00
    tick_sizes: tuple[tuple[str, str | None], ...] = (("0.01", None),)


def _deliverable(symbol: str) -> dict[str, Any]:
    return {
        "id": zlib.crc32(symbol.encode()) % 1_000_000,
        "root-symbol": symbol,
        "deliverable-type": "Shares",
        "description": f"100 shares of {symbol}",
        "amount": "100.0",
        "symbol": symbol,
        "instrument-type": "Equity",
        "percent": "100",
    }


def nested_chain(
    symbol: str,
    expirations: int,
    strikes: int,
    start: date,
    *,
    center: Decimal = Decimal(600),
    step: Decimal = Decimal(1),
    tick_sizes: tuple[tuple[str, str | None], ...] = (("0.01", None),),
    dailies: bool = True,
    extra_expirations: tuple[date, ...] = (),
) -> dict[str, Any]:
    """One item of ``GET /option-chains/{symbol}/nested``, as JSON, of a requested size.

    ``expirations`` dates after ``start`` (daily for a week, Fridays for eight
    weeks, then monthly; plus any ``extra_expirations``), each with
    ``strikes`` strikes ``step`` apart around ``center``: ``2 * expirations *
    strikes`` options. The same arguments always give the same chain.
    """
    dates = set(itertools.islice(_expiration_dates(start, dailies=dailies), expirations))
    dates.update(d for d in extra_expirations if d > start)
    grid = _grid(center, step, strikes)
    out = []
    for day in sorted(dates):
        rows = []
        for strike in grid:
            call = occ_symbol(symbol, day, "C", strike)
            put = occ_symbol(symbol, day, "P", strike)
            rows.append(
                {
                    "strike-price": money(strike),
                    "call": call,
                    "call-streamer-symbol": occ_to_streamer(call),
                    "put": put,
                    "put-streamer-symbol": occ_to_streamer(put),
                }
            )
        out.append(
            {
                "expiration-type": _expiration_type(day),
                "expiration-date": day.isoformat(),
                "days-to-expiration": (day - start).days,
                "settlement-type": "PM",
                "strikes": rows,
            }
        )
    return {
        "underlying-symbol": symbol,
        "root-symbol": symbol,
        "option-chain-type": "Standard",
        "shares-per-contract": 100,
        "tick-sizes": _ticks(*tick_sizes),
        "deliverables": [_deliverable(symbol)],
        "expirations": out,
    }


def _decembers(today: date) -> tuple[date, ...]:
    return tuple(_third_friday(today.year + i, 12) for i in (0, 1))


def _spec_chain(symbol: str, spec: ChainSpec, today: date) -> dict[str, Any]:
    return nested_chain(
        symbol,
        spec.expirations,
        spec.strikes,
        today,
        center=spec.center,
        step=spec.step,
        tick_sizes=spec.tick_sizes,
        dailies=spec.dailies,
        extra_expirations=_decembers(today),
    )


def _option_json(
    api: FakeTastytradeAPI, spec: ChainSpec, symbol: str, today: date
) -> dict[str, Any]:
    root, day, kind, strike = parse_occ(symbol)
    stops = api.timestamp(_eastern(day, 16, spec.close_minute))
    return {
        "symbol": occ_symbol(root, day, kind, strike),
        "instrument-type": "Equity Option",
        "active": day >= today,
        "strike-price": money(strike),
        "root-symbol": root,
        "underlying-symbol": root,
        "expiration-date": day.isoformat(),
        "exercise-style": "American",
        "shares-per-contract": 100,
        "option-type": kind.value,
        "option-chain-type": "Standard",
        "expiration-type": _expiration_type(day),
        "settlement-type": "PM",
        "stops-trading-at": stops,
        "market-time-instrument-collection": "Equity Option",
        "days-to-expiration": max(0, (day - today).days),
        "expires-at": stops,
        "is-closing-only": False,
        "streamer-symbol": occ_to_streamer(symbol),
    }


# -- futures and future options -----------------------------------------------------------


@dataclass(frozen=True)
class _OptionSeries:
    """One option product on a future product, and how its expirations fall."""

    product: dict[str, Any]
    rule: str  # "quarterly": with the future; "month-end"; "before-future": 3 days earlier
    count: int
    settlement: str = "Future"


@dataclass(frozen=True)
class _FutureSpec:
    product: dict[str, Any]
    months: str
    contracts: int
    rule: str  # "third-friday" (stock index) or "energy" (before the 25th of the prior month)
    stop_hour: tuple[int, int]
    etf: dict[str, Any] | None
    ticks: list[dict[str, str]]
    option_ticks: list[dict[str, str]]
    series: tuple[_OptionSeries, ...]
    center: Decimal
    step: Decimal
    strikes: int = 21


def _option_product(
    code: str,
    expiration_type: str,
    sector: str,
    clearing: str,
    exchange_code: str,
    *,
    rollover: bool = False,
) -> dict[str, Any]:
    return {
        "root-symbol": code,
        "cash-settled": False,
        "code": code,
        "legacy-code": code,
        "clearport-code": code,
        "clearing-code": clearing,
        "clearing-exchange-code": exchange_code,
        "clearing-price-multiplier": "1.0",
        "display-factor": "0.01",
        "exchange": "CME",
        "product-type": "Physical",
        "expiration-type": expiration_type,
        "settlement-delay-days": 0,
        "is-rollover": rollover,
        "is-am-settled": False,
        "supported": True,
        "market-sector": sector,
    }


def _product_row(
    code: str,
    description: str,
    months: str,
    multiplier: str,
    tick: str,
    streamer_code: str,
    sector: str,
    *,
    cash_settled: bool,
    roll: dict[str, Any],
    clearing_exchange: str,
) -> dict[str, Any]:
    return {
        "root-symbol": f"/{code}",
        "code": code,
        "description": description,
        "clearing-code": code,
        "clearing-exchange-code": clearing_exchange,
        "clearport-code": code,
        "legacy-code": code,
        "exchange": "CME",
        "legacy-exchange-code": "CME",
        "product-type": "Financial" if cash_settled else "Physical",
        "listed-months": list(months),
        "active-months": list(months),
        "notional-multiplier": multiplier,
        "tick-size": tick,
        "display-factor": "0.01",
        "streamer-exchange-code": streamer_code,
        "small-notional": False,
        "back-month-first-calendar-symbol": cash_settled,
        "first-notice": not cash_settled,
        "cash-settled": cash_settled,
        "security-group": code,
        "market-sector": sector,
        "supported": True,
        "roll": roll,
    }


def _demo_futures() -> dict[str, _FutureSpec]:
    es_options = (
        _OptionSeries(
            _option_product("EW", "End-Of-Month", "Equity Index", "EW", "9C", rollover=True),
            "month-end",
            3,
        ),
        _OptionSeries(
            _option_product("ES", "Quarterly", "Equity Index", "ES", "9C"), "quarterly", 2
        ),
    )
    cl_options = (
        _OptionSeries(_option_product("LO", "Regular", "Energy", "LO", "07"), "before-future", 3),
    )
    es = _FutureSpec(
        product=_product_row(
            "ES",
            "E-Mini S&P 500",
            "HMUZ",
            "50.0",
            "0.25",
            "XCME",
            "Equity Index",
            cash_settled=True,
            clearing_exchange="16",
            roll={
                "name": "equity_index",
                "active-count": 3,
                "cash-settled": True,
                "business-days-offset": 4,
                "first-notice": False,
            },
        ),
        months="HMUZ",
        contracts=5,
        rule="third-friday",
        stop_hour=(9, 30),
        etf={"symbol": "SPY", "share-quantity": 501},
        ticks=_ticks(("0.25", None)),
        option_ticks=_ticks(("0.05", "5.0"), ("0.25", None)),
        series=es_options,
        center=Decimal(6000),
        step=Decimal(25),
    )
    cl = _FutureSpec(
        product=_product_row(
            "CL",
            "Light Sweet Crude Oil",
            _MONTH_CODES,
            "1000.0",
            "0.01",
            "XNYM",
            "Energy",
            cash_settled=False,
            clearing_exchange="07",
            roll={
                "name": "energy",
                "active-count": 2,
                "cash-settled": False,
                "business-days-offset": 3,
                "first-notice": True,
            },
        ),
        months=_MONTH_CODES,
        contracts=6,
        rule="energy",
        stop_hour=(14, 30),
        etf={"symbol": "USO", "share-quantity": 1000},
        ticks=_ticks(("0.01", None)),
        option_ticks=_ticks(("0.01", None)),
        series=cl_options,
        center=Decimal(70),
        step=Decimal("0.5"),
    )
    return {"ES": es, "CL": cl}


@dataclass(frozen=True)
class _Contract:
    code: str
    year: int
    month: int
    expires: date

    @property
    def symbol(self) -> str:
        return f"/{self.code}{_MONTH_CODES[self.month - 1]}{self.year % 10}"


def _contract_expiry(spec: _FutureSpec, year: int, month: int) -> date:
    if spec.rule == "third-friday":
        return _third_friday(year, month)
    prior = date(year, month, 1) - timedelta(days=1)
    day = prior.replace(day=25)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return _business_days_before(day, 3)


def _contracts(spec: _FutureSpec, today: date) -> list[_Contract]:
    code = spec.product["code"]
    found: list[_Contract] = []
    year, month = today.year, today.month
    while len(found) < spec.contracts:
        if _MONTH_CODES[month - 1] in spec.months:
            expires = _contract_expiry(spec, year, month)
            if expires >= today:
                found.append(_Contract(code, year, month, expires))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def _future_json(
    api: FakeTastytradeAPI, spec: _FutureSpec, contracts: list[_Contract], index: int
) -> dict[str, Any]:
    contract = contracts[index]
    later = contracts[index + 1 :]
    stops = api.timestamp(_eastern(contract.expires, *spec.stop_hour))
    product = spec.product
    item: dict[str, Any] = {
        "symbol": contract.symbol,
        "product-code": contract.code,
        "contract-size": product["notional-multiplier"],
        "tick-size": product["tick-size"],
        "notional-multiplier": product["notional-multiplier"],
        "main-fraction": "0.0",
        "sub-fraction": "0.0",
        "display-factor": "0.01",
        "last-trade-date": contract.expires.isoformat(),
        "expiration-date": contract.expires.isoformat(),
        "closing-only-date": contract.expires.isoformat(),
        "active": True,
        "active-month": index == 0,
        "next-active-month": index == 1,
        "is-closing-only": False,
        "stops-trading-at": stops,
        "expires-at": stops,
        "product-group": f"CME_{contract.code}",
        "exchange": "CME",
        "roll-target-symbol": later[0].symbol if later else None,
        "streamer-exchange-code": product["streamer-exchange-code"],
        "streamer-symbol": (
            f"/{contract.code}{_MONTH_CODES[contract.month - 1]}{contract.year % 100:02d}"
            f":{product['streamer-exchange-code']}"
        ),
        "back-month-first-calendar-symbol": product["back-month-first-calendar-symbol"],
        "is-tradeable": True,
        "future-etf-equivalent": spec.etf,
        "future-product": product,
        "tick-sizes": spec.ticks,
        "option-tick-sizes": spec.option_ticks,
        "spread-tick-sizes": [
            {"value": spec.ticks[0]["value"], "symbol": other.symbol} for other in later[:2]
        ],
        "instrument-type": "Future",
    }
    if not product["cash-settled"]:
        notice = contract.expires + timedelta(days=1)
        while notice.weekday() >= 5:
            notice += timedelta(days=1)
        item["first-notice-date"] = notice.isoformat()
    return {k: v for k, v in item.items() if v is not None}


@dataclass(frozen=True)
class _Expiry:
    series: _OptionSeries
    future: _Contract
    day: date

    @property
    def month(self) -> tuple[int, int]:
        """The year and month the option is named by: its own (month-end) or its future's."""
        if self.series.rule == "month-end":
            return self.day.year, self.day.month
        return self.future.year, self.future.month

    @property
    def contract_symbol(self) -> str:
        """``EWX6``: the option root, then the month code and the year's last digit."""
        year, month = self.month
        return f"{self.series.product['code']}{_MONTH_CODES[month - 1]}{year % 10}"


def _expiries(spec: _FutureSpec, today: date) -> list[_Expiry]:
    contracts = _contracts(spec, today)
    found: list[_Expiry] = []
    for series in spec.series:
        if series.rule == "quarterly":
            found += [_Expiry(series, c, c.expires) for c in contracts[: series.count]]
        elif series.rule == "before-future":
            for c in contracts[: series.count + 1]:
                day = _business_days_before(c.expires, 3)
                if day >= today and len([e for e in found if e.series is series]) < series.count:
                    found.append(_Expiry(series, c, day))
        else:  # month-end: the last business day of each month, on the next quarterly future
            year, month = today.year, today.month
            while len([e for e in found if e.series is series]) < series.count:
                last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
                while last.weekday() >= 5:
                    last -= timedelta(days=1)
                future = next((c for c in contracts if c.expires >= last), None)
                if last >= today and future is not None:
                    found.append(_Expiry(series, future, last))
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(found, key=lambda e: (e.day, e.series.product["code"]))


def _future_option_symbols(
    spec: _FutureSpec, expiry: _Expiry, kind: str, strike: Decimal
) -> tuple[str, str]:
    code = expiry.contract_symbol
    symbol = f"./{expiry.future.symbol[1:]} {code} {expiry.day:%y%m%d}{kind}{_plain(strike)}"
    streamer = (
        f"./{code[:-1]}{expiry.month[0] % 100:02d}{kind}{_plain(strike)}"
        f":{spec.product['streamer-exchange-code']}"
    )
    return symbol, streamer


def _future_option_json(
    api: FakeTastytradeAPI,
    spec: _FutureSpec,
    expiry: _Expiry,
    kind: str,
    strike: Decimal,
    today: date,
) -> dict[str, Any]:
    symbol, streamer = _future_option_symbols(spec, expiry, kind, strike)
    stops = api.timestamp(_eastern(expiry.day, *spec.stop_hour))
    code = expiry.contract_symbol
    return {
        "symbol": symbol,
        "underlying-symbol": expiry.future.symbol,
        "product-code": spec.product["code"],
        "expiration-date": expiry.day.isoformat(),
        "root-symbol": spec.product["root-symbol"],
        "option-root-symbol": expiry.series.product["code"],
        "strike-price": money(strike),
        "exchange": "CME",
        "exchange-symbol": f"{code} {kind}{_plain(strike)}",
        "streamer-symbol": streamer,
        "option-type": kind,
        "exercise-style": "American",
        "is-vanilla": True,
        "is-primary-deliverable": True,
        "future-price-ratio": "1.0",
        "multiplier": "1.0",
        "underlying-count": "1.0",
        "is-confirmed": True,
        "notional-value": money(Decimal(spec.product["notional-multiplier"]) / 100),
        "display-factor": "0.01",
        "security-exchange": "2",
        "sx-id": "0",
        "settlement-type": expiry.series.settlement,
        "strike-factor": "1.0",
        "maturity-date": expiry.day.isoformat(),
        "is-exercisable-weekly": expiry.series.rule == "month-end",
        "last-trade-time": "0",
        "days-to-expiration": max(0, (expiry.day - today).days),
        "is-closing-only": False,
        "active": True,
        "stops-trading-at": stops,
        "expires-at": stops,
        "instrument-type": "Future Option",
        "future-option-product": expiry.series.product,
    }


def _future_options(api: FakeTastytradeAPI, spec: _FutureSpec, today: date) -> list[dict[str, Any]]:
    return [
        _future_option_json(api, spec, expiry, kind, strike, today)
        for expiry in _expiries(spec, today)
        for strike in _grid(spec.center, spec.step, spec.strikes)
        for kind in "CP"
    ]


def _nested_future_chain(api: FakeTastytradeAPI, spec: _FutureSpec, today: date) -> dict[str, Any]:
    contracts = _contracts(spec, today)
    futures = []
    for index, contract in enumerate(contracts):
        stops = api.timestamp(_eastern(contract.expires, *spec.stop_hour))
        futures.append(
            {
                "symbol": contract.symbol,
                "root-symbol": spec.product["root-symbol"],
                "expiration-date": contract.expires.isoformat(),
                "days-to-expiration": (contract.expires - today).days,
                "active-month": index == 0,
                "next-active-month": index == 1,
                "stops-trading-at": stops,
                "expires-at": stops,
            }
        )
    expirations = []
    for expiry in _expiries(spec, today):
        stops = api.timestamp(_eastern(expiry.day, *spec.stop_hour))
        strikes = []
        for strike in _grid(spec.center, spec.step, spec.strikes):
            call, call_streamer = _future_option_symbols(spec, expiry, "C", strike)
            put, put_streamer = _future_option_symbols(spec, expiry, "P", strike)
            strikes.append(
                {
                    "strike-price": money(strike),
                    "call": call,
                    "call-streamer-symbol": call_streamer,
                    "put": put,
                    "put-streamer-symbol": put_streamer,
                }
            )
        expirations.append(
            {
                "underlying-symbol": expiry.future.symbol,
                "root-symbol": spec.product["root-symbol"],
                "option-root-symbol": expiry.series.product["code"],
                "option-contract-symbol": expiry.contract_symbol,
                "asset": expiry.series.product["code"],
                "expiration-date": expiry.day.isoformat(),
                "days-to-expiration": (expiry.day - today).days,
                "expiration-type": expiry.series.product["expiration-type"],
                "settlement-type": "PM",
                "notional-value": money(Decimal(spec.product["notional-multiplier"]) / 100),
                "display-factor": "0.01",
                "strike-factor": "1.0",
                "stops-trading-at": stops,
                "expires-at": stops,
                "tick-sizes": spec.option_ticks,
                "strikes": strikes,
            }
        )
    chain = {
        "underlying-symbol": spec.product["root-symbol"],
        "root-symbol": spec.product["root-symbol"],
        "exercise-style": "American",
        "expirations": expirations,
    }
    return {"futures": futures, "option-chains": [chain]}


# -- the catalog ---------------------------------------------------------------------------


def _crypto(
    id: int, base: str, name: str, tick: str, venues: list[tuple[int, str, str, int, int]]
) -> dict[str, Any]:
    symbol = f"{base}/USD"
    return {
        "id": id,
        "symbol": symbol,
        "instrument-type": "Cryptocurrency",
        "short-description": name,
        "description": f"{name} to USD",
        "is-closing-only": False,
        "active": True,
        "tick-size": tick,
        "streamer-symbol": f"{symbol}:CXTALP",
        "destination-venue-symbols": [
            {
                "id": venue_id,
                "symbol": venue_symbol,
                "destination-venue": venue,
                "max-quantity-precision": quantity,
                "max-price-precision": price,
                "routable": venue == "ZERO_HASH_CLOB",
            }
            for venue_id, venue, venue_symbol, quantity, price in venues
        ],
    }


def _precision(kind: str, value: int, increment: int, symbol: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "instrument-type": kind,
        "value": value,
        "minimum-increment-precision": increment,
    }
    if symbol is not None:
        item["symbol"] = symbol
    return item


@dataclass
class InstrumentCatalog:
    """The instruments the fake knows; :func:`seed` fills it with the demo catalog.

    Tests may add to it: ``api.area("instruments", InstrumentCatalog).equities[...]``.
    """

    equities: dict[str, dict[str, Any]] = field(default_factory=dict)
    chains: dict[str, ChainSpec] = field(default_factory=dict)
    futures: dict[str, _FutureSpec] = field(default_factory=dict)
    cryptocurrencies: dict[str, dict[str, Any]] = field(default_factory=dict)
    warrants: dict[str, dict[str, Any]] = field(default_factory=dict)
    precisions: list[dict[str, Any]] = field(default_factory=list)


def _demo_catalog() -> InstrumentCatalog:
    equities = [
        _equity_row("AAPL", 726, "037833100", "APPLE INC", "XNAS"),
        _equity_row("MSFT", 2135, "594918104", "MICROSOFT CORP", "XNAS"),
        _equity_row(
            "SPY",
            3566,
            "78462F103",
            "SPDR S&P 500 ETF TRUST",
            "ARCX",
            etf=True,
            option_ticks=_PENNY_TICKS,
        ),
        _equity_row(
            "QQQ",
            3349,
            "46090E103",
            "INVESCO QQQ TRUST SERIES 1",
            "XNAS",
            etf=True,
            option_ticks=_PENNY_TICKS,
        ),
        _equity_row("BRK/B", 1043, "084670702", "BERKSHIRE HATHAWAY INC CL B", "XNYS"),
        _equity_row("TSLA", 26213, "88160R101", "TESLA INC", "XNAS"),
        _equity_row(
            "BYND",
            31877,
            "08862E109",
            "BEYOND MEAT INC",
            "XNAS",
            lendability="Locate Required",
            borrow_rate="38.75",
            fractional=False,
        ),
        _equity_row(
            "SPX",
            2766,
            None,
            "S&P 500 INDEX",
            "XCBO",
            index=True,
            lendability=None,
            option_ticks=_ticks(("0.05", "3.0"), ("0.1", None)),
        ),
        _equity_row(
            "VIX",
            2767,
            None,
            "CBOE VOLATILITY INDEX",
            "XCBO",
            index=True,
            lendability=None,
            option_ticks=_ticks(("0.05", "3.0"), ("0.1", None)),
        ),
    ]
    crypto = [
        _crypto(
            5,
            "BTC",
            "Bitcoin",
            "0.01",
            [(78, "ZERO_HASH_CLOB", "BTC/USD", 8, 2), (15, "CBOE_DIGITAL", "BTC/USD", 6, 1)],
        ),
        _crypto(
            12,
            "ETH",
            "Ethereum",
            "0.01",
            [(80, "ZERO_HASH_CLOB", "ETH/USD", 8, 2), (35, "CBOE_DIGITAL", "ETH/USD", 6, 2)],
        ),
    ]
    warrant: dict[str, Any] = {
        "symbol": "NKLAW",
        "instrument-type": "Warrant",
        "cusip": "654110113",
        "listed-market": "XNAS",
        "description": "NIKOLA CORP WARRANT",
        "is-closing-only": False,
        "active": True,
    }
    precisions = [
        _precision("Cryptocurrency", 8, 8, "BTC/USD"),
        _precision("Cryptocurrency", 8, 6, "ETH/USD"),
        _precision("Bond", 0, 0),
        _precision("Equity", 5, 0),
        _precision("Equity Option", 0, 0),
        _precision("Future", 0, 0),
        _precision("Future Option", 0, 0),
        _precision("Warrant", 0, 0),
    ]
    return InstrumentCatalog(
        equities={e["symbol"]: e for e in equities},
        chains={
            "SPY": ChainSpec(Decimal(600), Decimal(5)),
            "QQQ": ChainSpec(Decimal(520), Decimal(5)),
            "AAPL": ChainSpec(
                Decimal(190),
                Decimal(5),
                strikes=17,
                expirations=8,
                dailies=False,
                close_minute=0,
                tick_sizes=(("0.01", "3.0"), ("0.05", None)),
            ),
        },
        futures=_demo_futures(),
        cryptocurrencies={c["symbol"]: c for c in crypto},
        warrants={warrant["symbol"]: warrant},
        precisions=precisions,
    )


def listed_symbols(now: float) -> dict[str, str]:
    """Symbols the demo catalog lists at ``now``, whose chains move with the clock.

    ``future``: the front /ES contract; ``future_option``: an /ES put at 6000
    expiring first; ``equity_option``: the SPY 600 call expiring first.
    """
    today = _eastern_today(now)
    es = _demo_futures()["ES"]
    expiry = _expiries(es, today)[0]
    day = next(_expiration_dates(today))
    return {
        "future": _contracts(es, today)[0].symbol,
        "future_option": _future_option_symbols(es, expiry, "P", es.center)[0],
        "equity_option": occ_symbol("SPY", day, "C", Decimal(600)),
    }


def seed(api: FakeTastytradeAPI) -> None:
    """Add this area's demo data to ``api``."""
    api.area("instruments", _demo_catalog)


def _catalog(api: FakeTastytradeAPI) -> InstrumentCatalog:
    return api.area("instruments", InstrumentCatalog)


# -- handlers ------------------------------------------------------------------------------


def _items(rows: list[Any], request: Request) -> Response:
    return data({"items": rows}, request.path)


def _true(request: Request, key: str) -> bool | None:
    value = query_one(request, key)
    return None if value is None else value == "true"


def _equities(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    catalog = _catalog(api)
    wanted = query(request).get("symbol[]")
    rows = [catalog.equities[s] for s in wanted if s in catalog.equities] if wanted else []
    if not wanted:
        rows = list(catalog.equities.values())
    lendability = query_one(request, "lendability")
    for key in ("is-index", "is-etf"):
        flag = _true(request, key)
        if flag is not None:
            rows = [r for r in rows if r[key] is flag]
    if lendability is not None:
        rows = [r for r in rows if r.get("lendability") == lendability]
    return _items(rows, request)


def _active_equities(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    lendability = query_one(request, "lendability")
    rows = [
        e
        for e in _catalog(api).equities.values()
        if e["active"] and lendability in (None, e.get("lendability"))
    ]
    return paginate(request, rows, request.path, per_page=1000)


def _equity(api: FakeTastytradeAPI, request: Request, now: float, symbol: str) -> Response:
    api.user_for(request, now)
    found = _catalog(api).equities.get(symbol)
    if found is None:
        raise not_found(f"Equity {symbol}")
    return data(found, request.path)


def _lookup_option(api: FakeTastytradeAPI, symbol: str, today: date) -> dict[str, Any] | None:
    """The option an OCC symbol names, if it is on a listed root's grid and a trading day."""
    try:
        root, day, _, strike = parse_occ(symbol)
    except LocalProtocolError:
        return None
    spec = _catalog(api).chains.get(root)
    if (
        spec is None
        or _market_closed(day)
        or strike not in _grid(spec.center, spec.step, spec.strikes)
    ):
        return None
    return _option_json(api, spec, symbol, today)


def _equity_option(api: FakeTastytradeAPI, request: Request, now: float, symbol: str) -> Response:
    api.user_for(request, now)
    found = _lookup_option(api, symbol, _eastern_today(now))
    if found is None or (_true(request, "active") and not found["active"]):
        raise not_found(f"Equity option {symbol}")
    return data(found, request.path)


def _equity_options(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    today = _eastern_today(now)
    with_expired = _true(request, "with-expired")
    active = _true(request, "active")
    rows = []
    for symbol in query(request).get("symbol[]", []):
        found = _lookup_option(api, symbol, today)
        if found is None or (not found["active"] and (active or not with_expired)):
            continue
        rows.append(found)
    return _items(rows, request)


def _chain_or_404(api: FakeTastytradeAPI, symbol: str) -> ChainSpec | None:
    catalog = _catalog(api)
    if symbol not in catalog.equities:
        raise not_found(f"Option chain for {symbol}")
    return catalog.chains.get(symbol)


def _option_chain(api: FakeTastytradeAPI, request: Request, now: float, symbol: str) -> Response:
    api.user_for(request, now)
    spec = _chain_or_404(api, symbol)
    if spec is None:
        return _items([], request)
    today = _eastern_today(now)
    chain = _spec_chain(symbol, spec, today)
    rows = [
        _option_json(api, spec, strike[kind], today)
        for expiration in chain["expirations"]
        for strike in expiration["strikes"]
        for kind in ("call", "put")
    ]
    return _items(rows, request)


def _nested_option_chain(
    api: FakeTastytradeAPI, request: Request, now: float, symbol: str
) -> Response:
    api.user_for(request, now)
    spec = _chain_or_404(api, symbol)
    rows = [] if spec is None else [_spec_chain(symbol, spec, _eastern_today(now))]
    return _items(rows, request)


def _compact_option_chain(
    api: FakeTastytradeAPI, request: Request, now: float, symbol: str
) -> Response:
    api.user_for(request, now)
    spec = _chain_or_404(api, symbol)
    if spec is None:
        return _items([], request)
    chain = _spec_chain(symbol, spec, _eastern_today(now))
    strikes = [s for e in chain["expirations"] for s in e["strikes"]]
    compact = {
        "underlying-symbol": symbol,
        "root-symbol": symbol,
        "option-chain-type": "Standard",
        "settlement-type": "PM",
        "shares-per-contract": 100,
        "expiration-type": "Regular",
        "deliverables": chain["deliverables"],
        "symbols": [s[k] for s in strikes for k in ("call", "put")],
        "streamer-symbols": [
            s[k] for s in strikes for k in ("call-streamer-symbol", "put-streamer-symbol")
        ],
    }
    return _items([compact], request)


def _all_futures(api: FakeTastytradeAPI, now: float) -> list[dict[str, Any]]:
    today = _eastern_today(now)
    rows = []
    for spec in _catalog(api).futures.values():
        contracts = _contracts(spec, today)
        rows += [_future_json(api, spec, contracts, i) for i in range(len(contracts))]
    return rows


def _slashed(symbol: str) -> str:
    return symbol if symbol.startswith("/") else "/" + symbol


def _futures(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    rows = _all_futures(api, now)
    asked = query(request)
    if "symbol[]" in asked:
        wanted = {_slashed(s) for s in asked["symbol[]"]}
        rows = [r for r in rows if r["symbol"] in wanted]
    elif "product-code[]" in asked:
        codes = {c.lstrip("/") for c in asked["product-code[]"]}
        rows = [r for r in rows if r["product-code"] in codes]
    return _items(rows, request)


def _future(api: FakeTastytradeAPI, request: Request, now: float, symbol: str) -> Response:
    api.user_for(request, now)
    for row in _all_futures(api, now):
        if row["symbol"] == _slashed(symbol):
            return data(row, request.path)
    raise not_found(f"Future {symbol}")


def _product_json(spec: _FutureSpec) -> dict[str, Any]:
    return {**spec.product, "option-products": [s.product for s in spec.series]}


def _future_products(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    return _items([_product_json(s) for s in _catalog(api).futures.values()], request)


def _future_product(
    api: FakeTastytradeAPI, request: Request, now: float, exchange: str, code: str
) -> Response:
    api.user_for(request, now)
    spec = _catalog(api).futures.get(code.lstrip("/"))
    if spec is None or spec.product["exchange"] != exchange:
        raise not_found(f"Future product {exchange}/{code}")
    return data(_product_json(spec), request.path)


def _option_products(api: FakeTastytradeAPI) -> list[dict[str, Any]]:
    return [s.product for spec in _catalog(api).futures.values() for s in spec.series]


def _future_option_products(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    return _items(_option_products(api), request)


def _future_option_product(
    api: FakeTastytradeAPI, request: Request, now: float, exchange: str, root: str
) -> Response:
    api.user_for(request, now)
    for product in _option_products(api):
        if product["exchange"] == exchange and product["root-symbol"] == root.lstrip("/"):
            return data(product, request.path)
    raise not_found(f"Future option product {exchange}/{root}")


_FUTURE_OPTION = re.compile(r"\./([A-Z0-9]+?)[FGHJKMNQUVXZ]\d \S+ \d{6}[CP][\d.]+")


def _find_future_options(
    api: FakeTastytradeAPI, symbols: list[str], now: float
) -> list[dict[str, Any]]:
    wanted = [s for s in symbols if _FUTURE_OPTION.fullmatch(s)]
    codes = {m.group(1) for m in map(_FUTURE_OPTION.fullmatch, wanted) if m}
    today = _eastern_today(now)
    by_symbol: dict[str, dict[str, Any]] = {}
    for code in codes:
        spec = _catalog(api).futures.get(code)
        if spec is not None:
            by_symbol.update((o["symbol"], o) for o in _future_options(api, spec, today))
    return [by_symbol[s] for s in wanted if s in by_symbol]


def _future_option(api: FakeTastytradeAPI, request: Request, now: float, symbol: str) -> Response:
    api.user_for(request, now)
    found = _find_future_options(api, [symbol], now)
    if not found:
        raise not_found(f"Future option {symbol}")
    return data(found[0], request.path)


def _future_options_list(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    return _items(_find_future_options(api, query(request).get("symbol[]", []), now), request)


def _future_spec(api: FakeTastytradeAPI, code: str) -> _FutureSpec:
    spec = _catalog(api).futures.get(code.lstrip("/"))
    if spec is None:
        raise not_found(f"Futures option chain for {code}")
    return spec


def _future_option_chain(
    api: FakeTastytradeAPI, request: Request, now: float, code: str
) -> Response:
    api.user_for(request, now)
    spec = _future_spec(api, code)
    return _items(_future_options(api, spec, _eastern_today(now)), request)


def _nested_future_option_chain(
    api: FakeTastytradeAPI, request: Request, now: float, code: str
) -> Response:
    api.user_for(request, now)
    spec = _future_spec(api, code)
    return data(_nested_future_chain(api, spec, _eastern_today(now)), request.path)


def _listed(table: str) -> Any:
    def handler(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
        api.user_for(request, now)
        rows: dict[str, dict[str, Any]] = getattr(_catalog(api), table)
        wanted = query(request).get("symbol[]")
        found = [rows[s] for s in wanted if s in rows] if wanted else list(rows.values())
        return _items(found, request)

    return handler


def _one(table: str, what: str) -> Any:
    def handler(api: FakeTastytradeAPI, request: Request, now: float, symbol: str) -> Response:
        api.user_for(request, now)
        rows: dict[str, dict[str, Any]] = getattr(_catalog(api), table)
        if symbol not in rows:
            raise not_found(f"{what} {symbol}")
        return data(rows[symbol], request.path)

    return handler


def _precisions(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    return _items(_catalog(api).precisions, request)


def _route(pattern: str, handler: Any) -> Route:
    return ("GET", re.compile(pattern), handler)


ROUTES: list[Route] = [
    _route(r"/instruments/equities", _equities),
    _route(r"/instruments/equities/active", _active_equities),
    _route(r"/instruments/equities/" + SEGMENT, _equity),
    _route(r"/instruments/equity-options", _equity_options),
    _route(r"/instruments/equity-options/" + SEGMENT, _equity_option),
    _route(r"/option-chains/" + SEGMENT, _option_chain),
    _route(r"/option-chains/" + SEGMENT + "/nested", _nested_option_chain),
    _route(r"/option-chains/" + SEGMENT + "/compact", _compact_option_chain),
    _route(r"/instruments/futures", _futures),
    _route(r"/instruments/futures/" + SEGMENT, _future),
    _route(r"/instruments/future-products", _future_products),
    _route(r"/instruments/future-products/" + SEGMENT + "/" + SEGMENT, _future_product),
    _route(r"/instruments/future-option-products", _future_option_products),
    _route(
        r"/instruments/future-option-products/" + SEGMENT + "/" + SEGMENT, _future_option_product
    ),
    _route(r"/instruments/future-options", _future_options_list),
    _route(r"/instruments/future-options/" + SEGMENT, _future_option),
    _route(r"/futures-option-chains/" + SEGMENT, _future_option_chain),
    _route(r"/futures-option-chains/" + SEGMENT + "/nested", _nested_future_option_chain),
    _route(r"/instruments/cryptocurrencies", _listed("cryptocurrencies")),
    _route(r"/instruments/cryptocurrencies/" + SEGMENT, _one("cryptocurrencies", "Cryptocurrency")),
    _route(r"/instruments/warrants", _listed("warrants")),
    _route(r"/instruments/warrants/" + SEGMENT, _one("warrants", "Warrant")),
    _route(r"/instruments/quantity-decimal-precisions", _precisions),
]
