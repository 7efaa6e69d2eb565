"""The fake API's market data, metrics, search, market sessions, quote tokens.

Everything here is computed from fixed tables and the request's ``now``: no
randomness, no clock of its own. Quotes exist for the demo symbols (equities,
indices, futures, crypto) and for any equity or future option on them. A quote's
price is the fake's mark for the symbol (``api.mark``, which ``api.set_mark``
moves and orders fill at) when it has one, else this module's table; option
greeks and ``theo-price`` come from a simple, deterministic volatility rule on
the days left to expiry. Market sessions follow US Eastern time (daylight
saving computed here, no time-zone database needed) and the exchange holiday
calendar below.

See ``kit`` for how an area plugs into the fake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from ...protocol.http import Request, Response
from .kit import SEGMENT, Refused, Route, data, query, query_one, refuse

if TYPE_CHECKING:
    from .api import FakeTastytradeAPI

__all__ = [
    "CUSTOMER_NOT_FOUND",
    "DXLINK_URL",
    "MAX_SYMBOLS",
    "QUOTE_TOKEN_LIFETIME",
    "RISK_FREE_RATE",
    "ROUTES",
    "OptionModel",
    "equity_option_model",
    "expire_quote_token",
    "implied_volatility",
    "quote_of",
    "quote_token_expiry",
    "seed",
]

D = Decimal
#: What ``GET /api-quote-tokens`` points a client at (the API's documented production URL).
DXLINK_URL = "wss://tasty-openapi-ws.dxfeed.com/realtime"
#: Seconds a quote token lasts.
QUOTE_TOKEN_LIFETIME = 24 * 3600
#: The code and message the API answers a quote token request by a user who is not a customer.
#: The status is not documented; the fake uses 404.
CUSTOMER_NOT_FOUND = (
    "quote_streamer.customer_not_found_error",
    "You must be a customer to access a quote stream.",
)
#: What ``GET /margin-requirements-public-configuration`` says.
RISK_FREE_RATE = "0.0425"
#: The most symbols one ``GET /market-data/by-type`` may ask for.
MAX_SYMBOLS = 100

# -- the calendar ------------------------------------------------------------------------------

#: NYSE holidays and early closes by year (the published exchange calendar).
_HOLIDAY_DATES = {
    2024: "01-01 01-15 02-19 03-29 05-27 06-19 07-04 09-02 11-28 12-25",
    2025: "01-01 01-09 01-20 02-17 04-18 05-26 06-19 07-04 09-01 11-27 12-25",
    2026: "01-01 01-19 02-16 04-03 05-25 06-19 07-03 09-07 11-26 12-25",
    2027: "01-01 01-18 02-15 03-26 05-31 06-18 07-05 09-06 11-25 12-24",
    2028: "01-17 02-21 04-14 05-29 06-19 07-04 09-04 11-23 12-25",
    2029: "01-01 01-15 02-19 03-30 05-28 06-19 07-04 09-03",
}
_HALF_DAY_DATES = {
    2024: "07-03 11-29 12-24",
    2025: "07-03 11-28 12-24",
    2026: "11-27 12-24",
    2027: "07-02 11-26 12-23",
    2028: "07-03 11-24 12-22",
    2029: "07-03",
}


def _dates(by_year: dict[int, str]) -> frozenset[date]:
    return frozenset(
        date.fromisoformat(f"{year}-{day}")
        for year, days in by_year.items()
        for day in days.split()
    )


_HOLIDAYS = _dates(_HOLIDAY_DATES)
_HALF_DAYS = _dates(_HALF_DAY_DATES)
_COLLECTIONS = ("Equity", "CME", "CFE", "Smalls")


def _sunday_on_or_after(day: date) -> date:
    return day + timedelta(days=(6 - day.weekday()) % 7)


def _daylight_saving(day: date) -> bool:
    """US Eastern daylight time: second Sunday of March to first Sunday of November."""
    starts = _sunday_on_or_after(date(day.year, 3, 8))
    ends = _sunday_on_or_after(date(day.year, 11, 1))
    return starts <= day < ends


def _eastern(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in New York on ``day``, as an aware UTC datetime."""
    offset = 4 if _daylight_saving(day) else 5
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc)
    return local + timedelta(hours=offset)


def _eastern_date(moment: datetime) -> date:
    """The New York calendar date at ``moment``."""
    guess = (moment - timedelta(hours=5)).date()
    offset = 4 if _daylight_saving(guess) else 5
    return (moment - timedelta(hours=offset)).date()


def _trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _HOLIDAYS


def _previous_trading_day(day: date) -> date:
    day -= timedelta(days=1)
    while not _trading_day(day):
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True)
class _Session:
    collection: str
    day: date
    start: datetime
    open: datetime
    close: datetime
    close_ext: datetime | None

    @property
    def end(self) -> datetime:
        return self.close_ext or self.close

    def state(self, now: datetime) -> str:
        if now < self.start or now >= self.end:
            return "Closed"
        if now < self.open:
            return "Pre-market"
        if now < self.close:
            return "Open"
        return "Extended"


def _session(collection: str, day: date) -> _Session:
    half = day in _HALF_DAYS
    if collection == "Equity":
        close, ext = ((13, 0), (17, 0)) if half else ((16, 0), (20, 0))
        return _Session(
            collection,
            day,
            _eastern(day, 8),
            _eastern(day, 9, 30),
            _eastern(day, *close),
            _eastern(day, *ext),
        )
    evening = day - timedelta(days=1)
    if collection == "CFE":
        close = (12, 15) if half else (16, 15)
        return _Session(
            collection,
            day,
            _eastern(evening, 18),
            _eastern(day, 9, 30),
            _eastern(day, *close),
            _eastern(day, 17),
        )
    close = (12, 0) if half else (17, 0)
    start = _eastern(evening, 18)
    return _Session(collection, day, start, start, _eastern(day, *close), None)


def _sessions_around(collection: str, now: datetime) -> list[_Session]:
    today = _eastern_date(now)
    days = (today + timedelta(days=k) for k in range(-12, 13))
    return [_session(collection, day) for day in days if _trading_day(day)]


# -- handlers ---------------------------------------------------------------------------------


def _moment(now: float) -> datetime:
    return datetime.fromtimestamp(now, tz=timezone.utc)


def _stamp(api: FakeTastytradeAPI, moment: datetime | None) -> str | None:
    return None if moment is None else api.timestamp(moment.timestamp())


def _metrics_stamp(now: float) -> str:
    """Metrics and quotes write their timestamps with ``Z`` (as the real ones do)."""
    moment = _moment(now)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _snapshot(api: FakeTastytradeAPI, session: _Session) -> dict[str, Any]:
    out: dict[str, Any] = {
        "instrument-collection": session.collection,
        "session-date": session.day.isoformat(),
        "start-at": _stamp(api, session.start),
        "open-at": _stamp(api, session.open),
        "close-at": _stamp(api, session.close),
    }
    if session.close_ext is not None:
        out["close-at-ext"] = _stamp(api, session.close_ext)
    return out


def _current_session(api: FakeTastytradeAPI, collection: str, now: datetime) -> dict[str, Any]:
    sessions = _sessions_around(collection, now)
    current = next((s for s in sessions if s.start <= now < s.end), None)
    if current is not None:
        index = sessions.index(current)
        previous = sessions[index - 1] if index > 0 else None
        following = sessions[index + 1] if index + 1 < len(sessions) else None
    else:
        previous = next((s for s in reversed(sessions) if s.end <= now), None)
        following = next((s for s in sessions if s.start > now), None)
    item: dict[str, Any] = {
        "instrument-collection": collection,
        "state": current.state(now) if current else "Closed",
        "start-at": _stamp(api, current.start if current else None),
        "open-at": _stamp(api, current.open if current else None),
        "close-at": _stamp(api, current.close if current else None),
        "close-at-ext": _stamp(api, current.close_ext if current else None),
    }
    if current is not None:
        item["session-date"] = current.day.isoformat()
    if following is not None:
        item["next-session"] = _snapshot(api, following)
    if previous is not None:
        item["previous-session"] = _snapshot(api, previous)
    return item


def _invalid(domain: str, reason: str) -> Refused:
    return refuse(
        400,
        "validation_error",
        "Request validation failed",
        errors=[{"domain": domain, "reason": reason}],
    )


def _sessions_current(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    asked = query(request).get("instrument-collections[]") or []
    if not asked:
        raise _invalid("instrument-collections", "is missing")
    for collection in asked:
        if collection not in _COLLECTIONS:
            raise _invalid("instrument-collections", f"{collection!r} is not a known collection")
    moment = _moment(now)
    items = [_current_session(api, collection, moment) for collection in asked]
    return data({"items": items}, "/market-time/sessions/current")


def _calendar() -> dict[str, Any]:
    return {
        "market-holidays": sorted(d.isoformat() for d in _HOLIDAYS),
        "market-half-days": sorted(d.isoformat() for d in _HALF_DAYS),
    }


def _equity_holidays(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    return data(_calendar(), "/market-time/equities/holidays")


def _futures_holidays(
    api: FakeTastytradeAPI, request: Request, now: float, exchange: str
) -> Response:
    api.user_for(request, now)
    if exchange not in ("CME", "CFE", "Smalls"):
        raise refuse(404, "record_not_found", f"Exchange {exchange} not found")
    return data(_calendar(), request.path)


# -- instruments and prices -------------------------------------------------------------------

#: symbol -> (last price, volume, beta, implied volatility)
_EQUITIES: dict[str, tuple[str, int, str, str]] = {
    "AAPL": ("189.91", 48_213_450, "1.265634436", "0.224186663"),
    "MSFT": ("415.00", 19_874_310, "0.905312877", "0.212745031"),
    "SPY": ("595.00", 61_230_875, "1.0", "0.148810224"),
    "QQQ": ("520.00", 35_120_440, "1.121840553", "0.187302216"),
    "TSLA": ("248.50", 98_310_220, "2.203685106", "0.550920788"),
    "BRK/B": ("452.10", 3_412_880, "0.853301924", "0.161932873"),
}
_INDICES: dict[str, tuple[str, str]] = {"SPX": ("5990.12", "0.148810224"), "VIX": ("15.42", "0.9")}
#: symbol -> (last price, expiration date, volume, open interest)
_FUTURES: dict[str, tuple[str, str, int, int]] = {
    "/ESZ6": ("6020.50", "2026-12-18", 1_284_330, 2_105_876),
    "/ESH7": ("6071.25", "2027-03-19", 48_210, 312_455),
    "/NQZ6": ("21500.25", "2026-12-18", 412_877, 254_120),
}
_CRYPTO: dict[str, str] = {"BTC/USD": "97250.00", "ETH/USD": "3400.00"}
_FUTURES_VOLATILITY = D("0.17")

_OCC = re.compile(r"(\S{1,6}) *(\d{6})([CP])(\d{8})")
_FUTURE_OPTION = re.compile(r"\./(\S+) +\S+ +(\d{6})([CP])(\d+(?:\.\d+)?)")


def _q(value: Decimal, tick: Decimal) -> Decimal:
    """``value`` rounded to a multiple of ``tick``."""
    return (value / tick).to_integral_value(ROUND_HALF_EVEN) * tick


def _s(value: Decimal) -> str:
    text = format(value, "f")
    return text if "." in text else text + ".0"


def _yymmdd(text: str) -> date | None:
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:]))
    except ValueError:
        return None


def _day_summary(last: Decimal, tick: Decimal) -> dict[str, Any]:
    prev_close = _q(last * D("0.9925"), tick)
    open_ = _q(prev_close * D("1.0015"), tick)
    return {
        "open": _s(open_),
        "day-high-price": _s(_q(max(open_, last) * D("1.0042"), tick)),
        "day-low-price": _s(_q(min(open_, last) * D("0.9961"), tick)),
        "prev-close": _s(prev_close),
        "year-high-price": _s(_q(last * D("1.18"), tick)),
        "year-low-price": _s(_q(last * D("0.78"), tick)),
    }


def _quote(
    symbol: str,
    kind: str,
    last: Decimal,
    tick: Decimal,
    now: float,
    sizes: tuple[str, str],
    listed: Decimal | None = None,
) -> dict[str, Any]:
    """A quote at ``last``; the day's summary (previous close, range) from ``listed``, the
    table's price, so that moving the mark moves the day's change as it would."""
    today = _eastern_date(_moment(now))
    bid = max(last - tick, D(0))
    item: dict[str, Any] = {
        "symbol": symbol,
        "instrument-type": kind,
        "updated-at": _metrics_stamp(now),
        "bid": _s(bid),
        "bid-size": sizes[0],
        "ask": _s(last + tick),
        "ask-size": sizes[1],
        "mid": _s((bid + last + tick) / 2),
        "mark": _s(last),
        "last": _s(last),
        "last-mkt": _s(last),
        "close-price-type": "Regular",
        "prev-close-price-type": "Final",
        "summary-date": today.isoformat(),
        "prev-close-date": _previous_trading_day(today).isoformat(),
        "is-trading-halted": False,
        "halt-start-time": -1,
        "halt-end-time": -1,
    }
    item.update(_day_summary(last if listed is None else listed, tick))
    return item


def _option_price(
    spot: Decimal, strike: Decimal, call: bool, days: int, volatility: Decimal
) -> tuple[Decimal, Decimal]:
    """(value, delta): intrinsic value plus a time value that peaks at the money."""
    intrinsic = max(spot - strike, D(0)) if call else max(strike - spot, D(0))
    if days <= 0:
        itm = intrinsic > 0
        return intrinsic, (D(1) if itm else D(0)) * (1 if call else -1)
    one_sd = spot * volatility * (D(days) / D(365)).sqrt()
    distance = abs(spot - strike) / one_sd
    value = intrinsic + one_sd * D("0.4") / (1 + distance * distance)
    call_delta = D("0.5") + (spot - strike) / (2 * (abs(spot - strike) + one_sd))
    return value, call_delta if call else call_delta - 1


def _option_quote(
    api: FakeTastytradeAPI,
    symbol: str,
    kind: str,
    spot: Decimal,
    strike: Decimal,
    call: bool,
    expires: date,
    volatility: Decimal,
    tick: Decimal,
    now: float,
    listed_spot: Decimal | None = None,
) -> dict[str, Any]:
    days = (expires - _eastern_date(_moment(now))).days
    value, delta = _option_price(spot, strike, call, days, volatility)
    traded = api.mark(symbol)  # what the orders area fills at, when it prices this option
    mark = _q(value, tick) if traded is None else traded
    # The previous close: the model's value at the underlying's listed price, so that moving
    # the underlying moves the option's day change (and its previous close stays put).
    listed = None
    if listed_spot is not None:
        listed = _q(_option_price(listed_spot, strike, call, days, volatility)[0], tick)
    item = _quote(symbol, kind, mark, tick, now, ("10.0", "12.0"), listed=listed)
    open_interest = 500 + int(strike) % 97 * 37
    item.update(
        {
            "volume": _s(D(open_interest // 3)),
            "open-interest": open_interest,
            "volatility": _s(volatility),
            "delta": _s(delta.quantize(D("0.0001"))),
            "theo-price": _s(value.quantize(D("0.0001"))),
        }
    )
    return item


def _last(api: FakeTastytradeAPI, symbol: str, listed: str) -> Decimal:
    """The price ``symbol`` trades at: the fake's mark (see ``set_mark``), else the table's."""
    traded = api.mark(symbol)
    return D(listed) if traded is None else traded


def _equity_quote(api: FakeTastytradeAPI, symbol: str, now: float) -> dict[str, Any] | None:
    if symbol not in _EQUITIES:
        return None
    last, volume, beta, _ = _EQUITIES[symbol]
    price = _last(api, symbol, last)
    item = _quote(symbol, "Equity", price, D("0.01"), now, ("3.0", "5.0"), D(last))
    item.update({"volume": _s(D(volume)), "beta": beta})
    return item


def _index_quote(api: FakeTastytradeAPI, symbol: str, now: float) -> dict[str, Any] | None:
    if symbol not in _INDICES:
        return None
    price = _last(api, symbol, _INDICES[symbol][0])
    listed = D(_INDICES[symbol][0])
    return _quote(symbol, "Index", price, D("0.01"), now, ("0.0", "0.0"), listed)


def _future_quote(api: FakeTastytradeAPI, symbol: str, now: float) -> dict[str, Any] | None:
    if symbol not in _FUTURES:
        return None
    last, _, volume, open_interest = _FUTURES[symbol]
    price = _last(api, symbol, last)
    item = _quote(symbol, "Future", price, D("0.25"), now, ("14.0", "9.0"), D(last))
    item.update({"volume": _s(D(volume)), "open-interest": open_interest})
    return item


def _crypto_quote(api: FakeTastytradeAPI, symbol: str, now: float) -> dict[str, Any] | None:
    if symbol not in _CRYPTO:
        return None
    price = _last(api, symbol, _CRYPTO[symbol])
    listed = D(_CRYPTO[symbol])
    return _quote(symbol, "Cryptocurrency", price, D("0.01"), now, ("0.5", "0.4"), listed)


def _equity_option_terms(
    api: FakeTastytradeAPI, symbol: str
) -> tuple[Decimal, Decimal, bool, date, Decimal] | None:
    """(spot, strike, call, expiry, volatility) of an equity option the fake prices."""
    match = _OCC.fullmatch(symbol)
    if match is None:
        return None
    root, expiry, right, strike = match.groups()
    expires = _yymmdd(expiry)
    if expires is None:
        return None
    if root in _EQUITIES:
        spot, volatility = _last(api, root, _EQUITIES[root][0]), D(_EQUITIES[root][3])
    elif root.rstrip("W") in _INDICES:
        listed, iv = _INDICES[root.rstrip("W")]
        spot, volatility = _last(api, root.rstrip("W"), listed), D(iv)
    else:
        return None
    return spot, D(strike) / 1000, right == "C", expires, volatility


def equity_option_value(api: FakeTastytradeAPI, symbol: str, now: float) -> Decimal | None:
    """The fake's model price of an equity option (on a cent), from its underlying's mark:
    what the orders area marks and fills an option at when no mark was set for it, so that
    quotes, chains and fills agree."""
    terms = _equity_option_terms(api, symbol)
    if terms is None:
        return None
    spot, strike, call, expires, volatility = terms
    days = (expires - _eastern_date(_moment(now))).days
    value, _ = _option_price(spot, strike, call, days, volatility)
    return _q(value, D("0.01"))


@dataclass(frozen=True)
class OptionModel:
    """What the fake's option model says about one equity option at one moment.

    ``value`` and ``delta`` are the model's own; the other greeks are read off it
    by small bumps (one cent of spot, one day, one volatility point), and ``rho``,
    which a model without interest rates cannot give, is the textbook estimate
    ``strike * years * |delta| / 100`` with the call's sign. Good enough for a test
    to see plausible, consistent numbers move with the underlying's mark.
    """

    value: Decimal
    delta: Decimal
    gamma: Decimal
    theta: Decimal
    vega: Decimal
    rho: Decimal
    volatility: Decimal
    underlying_price: Decimal


def equity_option_model(api: FakeTastytradeAPI, symbol: str, now: float) -> OptionModel | None:
    """The model's value and greeks of the equity option ``symbol`` (OCC) at ``now``, or
    ``None`` for an option the fake does not price."""
    terms = _equity_option_terms(api, symbol)
    if terms is None:
        return None
    spot, strike, call, expires, volatility = terms
    days = (expires - _eastern_date(_moment(now))).days
    value, delta = _option_price(spot, strike, call, days, volatility)
    bump = D("0.01")
    _, bumped_delta = _option_price(spot + bump, strike, call, days, volatility)
    tomorrow, _ = _option_price(spot, strike, call, days - 1, volatility)
    higher_vol, _ = _option_price(spot, strike, call, days, volatility + bump)
    years = D(max(days, 0)) / D(365)
    rho = strike * years * abs(delta) / 100 * (1 if call else -1)
    places = D("0.000001")
    return OptionModel(
        value=value.quantize(D("0.0001")),
        delta=delta.quantize(places),
        gamma=((bumped_delta - delta) / bump).quantize(places),
        theta=(tomorrow - value if days > 0 else D(0)).quantize(places),
        vega=(higher_vol - value).quantize(places),
        rho=rho.quantize(places),
        volatility=volatility,
        underlying_price=spot,
    )


def _equity_option_quote(api: FakeTastytradeAPI, symbol: str, now: float) -> dict[str, Any] | None:
    terms = _equity_option_terms(api, symbol)
    if terms is None:
        return None
    spot, strike, call, expires, volatility = terms
    match = _OCC.fullmatch(symbol)
    root = match.group(1) if match is not None else ""
    listed = _EQUITIES[root][0] if root in _EQUITIES else _INDICES[root.rstrip("W")][0]
    return _option_quote(
        api,
        symbol,
        "Equity Option",
        spot,
        strike,
        call,
        expires,
        volatility,
        D("0.01"),
        now,
        listed_spot=D(listed),
    )


def _future_option_quote(api: FakeTastytradeAPI, symbol: str, now: float) -> dict[str, Any] | None:
    match = _FUTURE_OPTION.fullmatch(symbol)
    if match is None or "/" + match.group(1) not in _FUTURES:
        return None
    future, expiry, right, strike = match.groups()
    expires = _yymmdd(expiry)
    if expires is None:
        return None
    spot = _last(api, "/" + future, _FUTURES["/" + future][0])
    return _option_quote(
        api,
        symbol,
        "Future Option",
        spot,
        D(strike),
        right == "C",
        expires,
        _FUTURES_VOLATILITY,
        D("0.25"),
        now,
        listed_spot=D(_FUTURES["/" + future][0]),
    )


_BY_TYPE = {
    "index": _index_quote,
    "equity": _equity_quote,
    "equity-option": _equity_option_quote,
    "future": _future_quote,
    "future-option": _future_option_quote,
    "cryptocurrency": _crypto_quote,
}


def implied_volatility(symbol: str) -> Decimal | None:
    """The implied volatility the fake gives the equity or index ``symbol`` (a fraction)."""
    if symbol in _EQUITIES:
        return D(_EQUITIES[symbol][3])
    if symbol in _INDICES:
        return D(_INDICES[symbol][1])
    return None


def quote_of(api: FakeTastytradeAPI, kind: str, symbol: str, now: float) -> dict[str, Any] | None:
    """``symbol``'s quote as ``GET /market-data/by-type`` gives it (``kind`` is that
    endpoint's key: ``equity``, ``index``, ``equity-option``, ``future``,
    ``future-option``, ``cryptocurrency``), or ``None`` when the fake has none."""
    make = _BY_TYPE.get(kind)
    return None if make is None else make(api, symbol, now)


def _by_type(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    asked: list[tuple[str, str]] = []
    for key, values in query(request).items():
        kind = key.removesuffix("[]")
        if kind not in _BY_TYPE:
            continue
        for value in values:  # comma-joined, as documented; repeated keys are read too
            asked += [(kind, s) for s in value.split(",") if s]
    if len(asked) > MAX_SYMBOLS:
        raise _invalid("symbols", f"at most {MAX_SYMBOLS} symbols may be requested at once")
    items = [q for kind, symbol in asked if (q := _BY_TYPE[kind](api, symbol, now)) is not None]
    return data({"items": items}, "/market-data/by-type", pagination=None)


# -- metrics, dividends, earnings -------------------------------------------------------------

#: symbol -> (market cap, dividend per share and quarter, trailing EPS, first quarterly EPS)
_FUNDAMENTALS: dict[str, tuple[int, str, str, str]] = {
    "AAPL": (2_846_108_626_900, "0.25", "6.43", "1.20"),
    "MSFT": (3_086_512_904_000, "0.83", "12.41", "2.22"),
    "SPY": (0, "1.74", "0.0", ""),
    "QQQ": (0, "0.72", "0.0", ""),
    "TSLA": (678_178_835_284, "0.0", "2.23", "0.65"),
    "BRK/B": (978_221_410_500, "0.0", "39.64", "6.10"),
}
_DIVIDEND_MONTHS = {"AAPL": (2, 5, 8, 11), "MSFT": (2, 5, 8, 11), "SPY": (3, 6, 9, 12)}
_DIVIDEND_MONTHS["QQQ"] = (3, 6, 9, 12)


def _fridays_after(day: date, count: int) -> list[date]:
    friday = day + timedelta(days=(4 - day.weekday()) % 7 or 7)
    return [friday + timedelta(weeks=k) for k in range(count)]


def _next_report(today: date) -> date:
    for year in (today.year, today.year + 1):
        for month in (1, 4, 7, 10):
            report = date(year, month, 30)
            if report >= today:
                return report
    return date(today.year + 1, 1, 30)


def _reported_quarters(symbol: str, today: date) -> list[tuple[date, Decimal]]:
    """The quarters ``symbol`` has reported by ``today`` (a month after each ends), and
    their earnings per share, oldest first; none for a symbol without earnings."""
    first = _FUNDAMENTALS.get(symbol, (0, "", "", ""))[3]
    reported: list[tuple[date, Decimal]] = []
    if first:
        quarter = 0
        for year in range(2022, today.year + 1):
            for month, last_day in ((3, 31), (6, 30), (9, 30), (12, 31)):
                ended = date(year, month, last_day)
                quarter += 1
                if ended + timedelta(days=30) <= today:
                    eps = D(first) + D("0.04") * quarter + (D("0.5") if month == 12 else 0)
                    reported.append((ended, eps))
    return reported


def _dividend_days(symbol: str, today: date) -> tuple[date, date] | None:
    """The last ex-dividend day of ``symbol`` by ``today`` and the next one after it
    (the 10th of its dividend months), or ``None`` when it pays none."""
    months = _DIVIDEND_MONTHS.get(symbol)
    if months is None:
        return None
    days = [
        date(year, month, 10)
        for year in (today.year - 1, today.year, today.year + 1)
        for month in months
    ]
    last = max(day for day in days if day <= today)
    return last, min(day for day in days if day > today)


def _metrics(symbol: str, now: float) -> dict[str, Any] | None:
    if symbol in _EQUITIES:
        last, _, beta, iv = _EQUITIES[symbol]
    elif symbol in _INDICES:
        last, iv = _INDICES[symbol]
        beta = "1.0"
    else:
        return None
    stamp = _metrics_stamp(now)
    today = _eastern_date(_moment(now))
    ivx = D(iv)
    weight = sum(ord(c) for c in symbol) % 50  # a fixed per-symbol spread of ranks
    hv30 = (ivx * 100 * D("0.93")).quantize(D("0.01"))
    item: dict[str, Any] = {
        "symbol": symbol,
        "implied-volatility-index": _s(ivx),
        "implied-volatility-index-5-day-change": _s(D("0.0051") * (1 - weight % 3)),
        "implied-volatility-index-rank": _s(D(weight + 10) / 100),
        "tos-implied-volatility-index-rank": _s(D(weight + 10) / 100),
        "tw-implied-volatility-index-rank": _s(D(weight + 14) / 100),
        "tos-implied-volatility-index-rank-updated-at": stamp,
        "implied-volatility-index-rank-source": "tos",
        "implied-volatility-percentile": _s(D(weight + 20) / 100),
        "implied-volatility-updated-at": stamp,
        "implied-volatility-30-day": _s((ivx * 100).quantize(D("0.01"))),
        "historical-volatility-30-day": _s(hv30),
        "historical-volatility-60-day": _s(hv30 + D("0.47")),
        "historical-volatility-90-day": _s(hv30 + D("0.82")),
        "iv-hv-30-day-difference": _s((ivx * 100).quantize(D("0.01")) - hv30),
        "liquidity-value": _s(D(weight + 1) * D("17981.83")),
        "liquidity-rank": _s(D(weight) / 25),
        "liquidity-rating": 4 if symbol in _EQUITIES else 3,
        "liquidity-running-state": {
            "sum": _s(D(weight + 1) * D("17981.83") * 48),
            "count": 48,
            "started-at": _metrics_stamp(now - 4 * 86_400),
            "updated-at": stamp,
        },
        "beta": beta,
        "beta-updated-at": stamp,
        "corr-spy-3month": "0.79" if symbol != "SPY" else "1.0",
        "option-expiration-implied-volatilities": [
            {
                "expiration-date": friday.isoformat(),
                "option-chain-type": "Standard",
                "settlement-type": "PM",
                "implied-volatility": _s(ivx + D("0.008") * k),
            }
            for k, friday in enumerate(_fridays_after(today, 3))
        ],
        "created-at": "2019-01-20T18:02:44.206-06:00",
        "updated-at": stamp,
    }
    if symbol in _FUNDAMENTALS:
        cap, dividend, eps, _ = _FUNDAMENTALS[symbol]
        annual = D(dividend) * 4
        if cap:  # the ETFs have none
            item["market-cap"] = cap
        item.update(
            {
                "dividend-rate-per-share": dividend,
                "annual-dividend-per-share": _s(annual),
                "dividend-yield": _s((annual / D(last)).quantize(D("0.000001"))),
                "earnings-per-share": eps,
                "price-earnings-ratio": _s(
                    (D(last) / D(eps)).quantize(D("0.01")) if D(eps) else D(0)
                ),
                "listed-market": "XNYS" if symbol == "BRK/B" else "XNAS",
                "lendability": "Easy To Borrow",
                "borrow-rate": "0.0",
            }
        )
        dividends = _dividend_days(symbol, today)
        if dividends is not None:
            ex, upcoming = dividends
            item.update(
                {
                    "dividend-ex-date": ex.isoformat(),
                    "dividend-next-date": upcoming.isoformat(),
                    "dividend-pay-date": (ex + timedelta(days=6)).isoformat(),
                    "dividend-updated-at": stamp,
                }
            )
        if _FUNDAMENTALS[symbol][3]:
            item["earnings"] = {
                "visible": True,
                "expected-report-date": _next_report(today).isoformat(),
                "estimated": True,
                "late-flag": 0,
                "consensus-estimate": _FUNDAMENTALS[symbol][3],
                "updated-at": stamp,
            }
            reported = _reported_quarters(symbol, today)
            if reported:
                ended, actual = reported[-1]
                item["earnings"] |= {
                    "quarter-end-date": ended.isoformat(),
                    "actual-eps": _s(actual),
                }
    return item


def _market_metrics(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    joined = query_one(request, "symbols")
    if joined is None:
        raise _invalid("symbols", "is missing")
    symbols = [s for s in joined.split(",") if s]
    items = [m for s in symbols if (m := _metrics(s, now)) is not None]
    return data({"items": items}, "/market-metrics")


def _dividends(api: FakeTastytradeAPI, request: Request, now: float, symbol: str) -> Response:
    api.user_for(request, now)
    today = _eastern_date(_moment(now))
    items = []
    if symbol in _DIVIDEND_MONTHS:
        per_quarter = D(_FUNDAMENTALS[symbol][1])
        for year in range(today.year, 2021, -1):
            for month in reversed(_DIVIDEND_MONTHS[symbol]):
                day = date(year, month, 10)
                if day <= today:
                    # Raised a little every year up to this year's rate.
                    amount = per_quarter - D("0.01") * (today.year - year)
                    items.append({"occurred-date": day.isoformat(), "amount": _s(amount)})
    return data({"items": items}, request.path)


def _earnings(api: FakeTastytradeAPI, request: Request, now: float, symbol: str) -> Response:
    api.user_for(request, now)
    start_text = query_one(request, "start-date")
    try:
        start = date.fromisoformat(start_text) if start_text else date.min
    except ValueError:
        raise _invalid("start-date", "is not a YYYY-MM-DD date") from None
    today = _eastern_date(_moment(now))
    items = [
        {"occurred-date": ended.isoformat(), "eps": _s(eps)}
        for ended, eps in _reported_quarters(symbol, today)
        if ended >= start
    ]
    return data({"items": items}, request.path)


def _public_configuration(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    # Public: the reference SDK calls it without a session.
    return data({"risk-free-rate": RISK_FREE_RATE}, "/margin-requirements-public-configuration")


# -- symbol search ----------------------------------------------------------------------------

#: symbol, description, listed market, instrument type, has options
_SEARCHABLE: tuple[tuple[str, str, str, str, bool], ...] = (
    ("AAPL", "Apple Inc.", "XNAS", "Equity", True),
    ("AAP", "Advance Auto Parts Inc.", "XNYS", "Equity", True),
    ("AMZN", "Amazon.com Inc.", "XNAS", "Equity", True),
    ("MSFT", "Microsoft Corp", "XNAS", "Equity", True),
    ("NVDA", "NVIDIA Corp", "XNAS", "Equity", True),
    ("SPY", "SPDR S&P 500 ETF Trust", "ARCX", "Equity", True),
    ("SPLG", "SPDR Portfolio S&P 500 ETF", "ARCX", "Equity", True),
    ("QQQ", "Invesco QQQ Trust, Series 1", "XNAS", "Equity", True),
    ("TSLA", "Tesla Inc.", "XNAS", "Equity", True),
    ("BRK/B", "Berkshire Hathaway Inc. Class B", "XNYS", "Equity", True),
    ("SPX", "S&P 500 Index", "CBOE", "Index", True),
    ("VIX", "Cboe Volatility Index", "CBOE", "Index", True),
)


def _symbol_search(api: FakeTastytradeAPI, request: Request, now: float, text: str) -> Response:
    api.user_for(request, now)
    wanted = text.strip().upper()
    by_symbol = [row for row in _SEARCHABLE if row[0].startswith(wanted)]
    by_symbol.sort(key=lambda row: (row[0] != wanted, row[0]))
    by_name = [row for row in _SEARCHABLE if wanted in row[1].upper() and row not in by_symbol]
    items = [
        {
            "symbol": symbol,
            "description": description,
            "listed-market": market,
            "instrument-type": kind,
            "options": options,
            "price-increments": "0.01",
            "trading-hours": "09:30-16:00 ET",
            "autocomplete": 1,
        }
        for symbol, description, market, kind, options in (by_symbol + by_name)[:20]
    ]
    return data({"items": items}, request.path)


# -- quote tokens -----------------------------------------------------------------------------


def _quote_token(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    user = api.user_for(request, now)
    if not user.accounts:  # registered, but never opened an account
        raise refuse(404, *CUSTOMER_NOT_FOUND)
    token = api.new_token("quote")  # a new one on every call
    # Kept so that the fake's DXLink endpoint can tell a token it issued, and when it lapses.
    _quote_tokens(api)[token] = now + QUOTE_TOKEN_LIFETIME
    body = {
        "token": token,
        "dxlink-url": api.dxlink_url,
        "level": "api",
        "issued-at": api.timestamp(now),
        "expires-at": api.timestamp(now + QUOTE_TOKEN_LIFETIME),
    }
    return data(body, "/api-quote-tokens")


def _quote_tokens(api: FakeTastytradeAPI) -> dict[str, float]:
    tokens: dict[str, float] = api.area("quote-tokens", dict)
    return tokens


def quote_token_expiry(api: FakeTastytradeAPI, token: str) -> float | None:
    """When the quote token ``token`` lapses (POSIX seconds), or ``None`` if the fake never
    issued it."""
    return _quote_tokens(api).get(token)


def expire_quote_token(api: FakeTastytradeAPI, token: str, when: float) -> None:
    """Make the quote token ``token`` lapse at ``when`` (if it would lapse later)."""
    tokens = _quote_tokens(api)
    if token in tokens:
        tokens[token] = min(tokens[token], when)


_EVENTS = "/market-metrics/historic-corporate-events"
ROUTES: list[Route] = [
    ("GET", re.compile(r"/market-data/by-type"), _by_type),
    ("GET", re.compile(r"/market-metrics"), _market_metrics),
    ("GET", re.compile(_EVENTS + r"/dividends/" + SEGMENT), _dividends),
    ("GET", re.compile(_EVENTS + r"/earnings-reports/" + SEGMENT), _earnings),
    ("GET", re.compile(r"/margin-requirements-public-configuration"), _public_configuration),
    ("GET", re.compile(r"/symbols/search/" + SEGMENT), _symbol_search),
    ("GET", re.compile(r"/market-time/sessions/current"), _sessions_current),
    ("GET", re.compile(r"/market-time/equities/holidays"), _equity_holidays),
    ("GET", re.compile(r"/market-time/futures/holidays/" + SEGMENT), _futures_holidays),
    ("GET", re.compile(r"/api-quote-tokens"), _quote_token),
]


def seed(api: FakeTastytradeAPI) -> None:
    """Add this area's demo data to ``api`` (none: it is all computed per request)."""
