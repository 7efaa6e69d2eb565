"""Market data and metrics, dividends and earnings, symbol search, market sessions, quote tokens.

Endpoints (on every session, see :mod:`tastytrade_proto.protocol.endpoint`):
:attr:`MarketDataAPI.market_data` (quotes by instrument type, 100 symbols a call),
:attr:`~MarketDataAPI.market_metrics`, :attr:`~MarketDataAPI.dividends`,
:attr:`~MarketDataAPI.earnings`, :attr:`~MarketDataAPI.risk_free_rate`,
:attr:`~MarketDataAPI.symbol_search`, :attr:`~MarketDataAPI.market_sessions`,
:attr:`~MarketDataAPI.equity_holidays`, :attr:`~MarketDataAPI.futures_holidays` and
:attr:`~MarketDataAPI.quote_token` (the credential for the DXLink streamer).

Every price, size and volatility is a :class:`~decimal.Decimal`. The API
answers a quote token request from a user who never opened an account with the
error code :data:`QUOTE_STREAMER_CUSTOMER_NOT_FOUND`; it arrives as an
:class:`~tastytrade_proto.errors.ApiError` whose ``code`` is that string.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from . import _args
from .accounts import InstrumentType
from .errors import LocalProtocolError
from .models import ApiEnum, Key, Model, data_of, items_of, model
from .protocol.endpoint import CallContext, Endpoint, build_call
from .protocol.http import QueryValue, Response, encode_path
from .protocol.operation import Operation
from .values import field

__all__ = [
    "MAX_MARKET_DATA_SYMBOLS",
    "QUOTE_STREAMER_CUSTOMER_NOT_FOUND",
    "QUOTE_TOKEN_LIFETIME",
    "ClosePriceType",
    "Dividend",
    "EarningsReport",
    "ExpirationImpliedVolatility",
    "LiquidityRunningState",
    "MarketCalendar",
    "MarketCollection",
    "MarketData",
    "MarketDataAPI",
    "MarketMetrics",
    "MarketSession",
    "MarketState",
    "MetricsEarnings",
    "QuoteAlert",
    "QuoteToken",
    "SessionTimes",
    "SymbolSearchResult",
]

#: The most symbols ``GET /market-data/by-type`` takes in one call, all types together.
MAX_MARKET_DATA_SYMBOLS = 100
#: The ``error.code`` of a quote token request by a user who has no customer record.
QUOTE_STREAMER_CUSTOMER_NOT_FOUND = "quote_streamer.customer_not_found_error"
#: How long a quote token lasts (the API's documented 24 hours).
QUOTE_TOKEN_LIFETIME = timedelta(hours=24)


class ClosePriceType(ApiEnum):
    """How final a close price is."""

    FINAL = "Final"
    INDICATIVE = "Indicative"
    PRELIMINARY = "Preliminary"
    REGULAR = "Regular"
    UNKNOWN = "Unknown"


class MarketState(ApiEnum):
    """Where a market is in its trading day."""

    OPEN = "Open"
    CLOSED = "Closed"
    PRE_MARKET = "Pre-market"
    EXTENDED = "Extended"


class MarketCollection(ApiEnum):
    """A set of instruments that trade on one schedule (``instrument-collection``)."""

    EQUITY = "Equity"
    CME = "CME"
    CFE = "CFE"
    SMALLS = "Smalls"


@model
class MarketData(Model):
    """One instrument's quote and day summary (``GET /market-data/by-type``).

    The API leaves out what does not apply (no ``volume`` on an index, the
    greeks only on options), so every field but ``symbol`` is optional.
    ``halt_start_time`` and ``halt_end_time`` are epoch milliseconds, ``-1``
    when there is no halt.
    """

    symbol: str
    instrument_type: InstrumentType | None = None
    updated_at: datetime | None = None
    bid: Decimal | None = None
    bid_size: Decimal | None = None
    ask: Decimal | None = None
    ask_size: Decimal | None = None
    mid: Decimal | None = None
    mark: Decimal | None = None
    last: Decimal | None = None
    last_mkt: Decimal | None = None
    last_ext: Decimal | None = None
    open: Decimal | None = None
    day_high_price: Decimal | None = None
    day_low_price: Decimal | None = None
    close: Decimal | None = None
    close_price_type: ClosePriceType | None = None
    prev_close: Decimal | None = None
    prev_close_price_type: ClosePriceType | None = None
    summary_date: date | None = None
    prev_close_date: date | None = None
    low_limit_price: Decimal | None = None
    high_limit_price: Decimal | None = None
    is_trading_halted: bool | None = None
    trading_halted_reason: str | None = None
    halt_start_time: int | None = None
    halt_end_time: int | None = None
    year_low_price: Decimal | None = None
    year_high_price: Decimal | None = None
    volume: Decimal | None = None
    open_interest: Decimal | None = None
    beta: Decimal | None = None
    dividend_amount: Decimal | None = None
    dividend_frequency: Decimal | None = None
    volatility: Decimal | None = None
    delta: Decimal | None = None
    gamma: Decimal | None = None
    theta: Decimal | None = None
    rho: Decimal | None = None
    vega: Decimal | None = None
    theo_price: Decimal | None = None
    dx_mark: Decimal | None = None
    tick_size: Decimal | None = None


@model
class ExpirationImpliedVolatility(Model):
    """The implied volatility of one option expiration (a fraction: ``0.25`` is 25%)."""

    expiration_date: date | None = None
    option_chain_type: str | None = None
    settlement_type: str | None = None
    implied_volatility: Decimal | None = None


@model
class MetricsEarnings(Model):
    """The next (or latest) earnings report, as the metrics carry it."""

    visible: bool | None = None
    expected_report_date: date | None = None
    estimated: bool | None = None
    late_flag: int | None = None
    quarter_end_date: date | None = None
    actual_eps: Decimal | None = None
    consensus_estimate: Decimal | None = None
    updated_at: datetime | None = None


@model
class LiquidityRunningState(Model):
    """The running sums behind the liquidity figures."""

    sum: Decimal | None = None
    count: int | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None


@model
class MarketMetrics(Model):
    """Volatility, liquidity, beta, dividend and earnings figures of one symbol.

    ``implied_volatility_index``, its rank and percentile are fractions, while
    ``implied_volatility_30_day`` and the ``historical_volatility_*`` figures
    are percentage points (``21.87`` is 21.87%), as the API sends them.
    """

    symbol: str
    implied_volatility_index: Decimal | None = None
    implied_volatility_index_5_day_change: Decimal | None = None
    implied_volatility_index_rank: Decimal | None = None
    tos_implied_volatility_index_rank: Decimal | None = None
    tw_implied_volatility_index_rank: Decimal | None = None
    tos_implied_volatility_index_rank_updated_at: datetime | None = None
    implied_volatility_index_rank_source: str | None = None
    implied_volatility_percentile: Decimal | None = None
    implied_volatility_updated_at: datetime | None = None
    implied_volatility_30_day: Decimal | None = None
    historical_volatility_30_day: Decimal | None = None
    historical_volatility_60_day: Decimal | None = None
    historical_volatility_90_day: Decimal | None = None
    iv_hv_30_day_difference: Decimal | None = None
    option_expiration_implied_volatilities: tuple[ExpirationImpliedVolatility, ...] = ()
    liquidity_value: Decimal | None = None
    liquidity_rank: Decimal | None = None
    liquidity_rating: int | None = None
    liquidity_running_state: LiquidityRunningState | None = None
    beta: Decimal | None = None
    beta_updated_at: datetime | None = None
    corr_spy_3month: Decimal | None = None
    dividend_rate_per_share: Decimal | None = None
    annual_dividend_per_share: Decimal | None = None
    dividend_yield: Decimal | None = None
    dividend_ex_date: date | None = None
    dividend_next_date: date | None = None
    dividend_pay_date: date | None = None
    dividend_updated_at: datetime | None = None
    earnings: MetricsEarnings | None = None
    listed_market: str | None = None
    lendability: str | None = None
    borrow_rate: Decimal | None = None
    market_cap: Decimal | None = None
    price_earnings_ratio: Decimal | None = None
    earnings_per_share: Decimal | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@model
class Dividend(Model):
    """One past dividend: the day it went ex, and the amount per share."""

    occurred_date: date
    amount: Decimal


@model
class EarningsReport(Model):
    """One past earnings report: its date and the earnings per share."""

    occurred_date: date
    eps: Decimal | None = None


@model
class SymbolSearchResult(Model):
    """One match of a symbol search: at least the symbol and its description."""

    symbol: str
    description: str | None = None
    listed_market: str | None = None
    instrument_type: InstrumentType | None = None
    options: bool | None = None
    etf: bool | None = None
    price_increments: str | None = None
    trading_hours: str | None = None
    autocomplete: int | None = None


@model
class SessionTimes(Model):
    """One trading session's boundaries (a previous or next session).

    ``start_at`` is when trading may begin (pre-market), ``open_at`` and
    ``close_at`` bound regular trading, ``close_at_ext`` ends extended trading.
    """

    instrument_collection: MarketCollection | None = None
    session_date: date | None = None
    start_at: datetime | None = None
    open_at: datetime | None = None
    close_at: datetime | None = None
    close_at_ext: datetime | None = None


@model
class MarketSession(Model):
    """The state of one instrument collection now, with its previous and next sessions.

    While a session is in progress, the top-level times are its boundaries;
    while the market is closed, they are ``None`` and ``next_session`` says
    when it opens again.
    """

    instrument_collection: MarketCollection | None = None
    state: MarketState | None = None
    start_at: datetime | None = None
    open_at: datetime | None = None
    close_at: datetime | None = None
    close_at_ext: datetime | None = None
    session_date: date | None = None
    next_session: SessionTimes | None = None
    previous_session: SessionTimes | None = None

    @property
    def is_open(self) -> bool:
        """Whether regular trading is going on (``state`` is ``Open``)."""
        return self.state == MarketState.OPEN


@model
class MarketCalendar(Model):
    """The days a market does not open, and the days it closes early."""

    holidays: Annotated[tuple[date, ...], Key("market-holidays")] = ()
    half_days: Annotated[tuple[date, ...], Key("market-half-days")] = ()

    def is_holiday(self, day: date) -> bool:
        """Whether the market is closed all of ``day``."""
        return day in self.holidays

    def is_half_day(self, day: date) -> bool:
        """Whether the market closes early on ``day``."""
        return day in self.half_days


@model
class QuoteToken(Model):
    """The credential for the DXLink market data streamer (``GET /api-quote-tokens``).

    ``token`` is a secret: it is left out of the ``repr``. It lasts 24 hours;
    the API often sends no ``expires_at``, so :meth:`expires` falls back on
    ``issued_at`` plus :data:`QUOTE_TOKEN_LIFETIME`.
    """

    token: str = field(repr=False)
    dxlink_url: str | None = None
    level: str | None = None
    expires_at: datetime | None = None
    issued_at: datetime | None = None
    websocket_url: str | None = None

    def expires(self) -> datetime | None:
        """When the token stops working, if the API said or can be inferred."""
        if self.expires_at is not None:
            return self.expires_at
        if self.issued_at is not None:
            return self.issued_at + QUOTE_TOKEN_LIFETIME
        return None

    def is_expired(self, now: datetime) -> bool:
        """Whether the token is past its expiry at ``now`` (an aware datetime).

        ``False`` when the expiry is unknown: fetch a new token when the
        streamer refuses this one.
        """
        expires = self.expires()
        return expires is not None and now >= expires


@model
class _PublicConfiguration(Model):
    risk_free_rate: Decimal


# -- request helpers -------------------------------------------------------------------------


def _comma_joined(found: list[str], what: str) -> str:
    """Symbols for a comma-joined value: a symbol with a comma in it could not be told apart."""
    for symbol in found:
        if "," in symbol:
            raise LocalProtocolError(f"{what}: symbol {symbol!r} contains a comma")
    return ",".join(found)


# -- endpoints -------------------------------------------------------------------------------


def _market_data(
    calls: CallContext,
    *,
    equities: Iterable[str] | str | None = None,
    equity_options: Iterable[str] | str | None = None,
    futures: Iterable[str] | str | None = None,
    future_options: Iterable[str] | str | None = None,
    cryptocurrencies: Iterable[str] | str | None = None,
    indices: Iterable[str] | str | None = None,
    timeout: float | None = None,
) -> Operation[list[MarketData]]:
    """Quotes for up to 100 symbols of any types (``GET /market-data/by-type``).

    Each type's symbols go out comma-joined under its own key
    (``equity=AAPL,MSFT&index=SPX``, the comma percent-encoded). That is the
    form tastytrade's developer guide documents ("the value is the
    comma-delimited list of symbols", with the example
    ``?equity=AAPL,TSLA&cryptocurrency=BTC/USD``; developer.tastytrade.com,
    API guides, Market Data). The reference SDK (tastyware/tastytrade,
    ``market_data.get_market_data_by_type``) instead hands each list to
    httpx, which repeats the key (``equity=AAPL&equity=MSFT``); its tests
    only check that such a call does not fail, not that every symbol comes
    back, so nothing known says the API reads repeated keys.

    A type may be left out (``None``) or empty; one string is one symbol.
    More than 100 symbols in all, none at all, or a symbol with a comma is
    refused before anything is sent. Symbols the API does not know are
    left out of the answer.
    """
    given = {
        "index": (indices, "indices"),
        "equity": (equities, "equities"),
        "equity-option": (equity_options, "equity_options"),
        "future": (futures, "futures"),
        "future-option": (future_options, "future_options"),
        "cryptocurrency": (cryptocurrencies, "cryptocurrencies"),
    }
    groups = {
        key: (_args.strings(values, name, empty_ok=True) or [], name)
        for key, (values, name) in given.items()
    }
    total = sum(len(symbols) for symbols, _ in groups.values())
    if total == 0:
        raise LocalProtocolError("market_data needs at least one symbol")
    if total > MAX_MARKET_DATA_SYMBOLS:
        raise LocalProtocolError(
            f"market_data takes at most {MAX_MARKET_DATA_SYMBOLS} symbols in all, got {total}"
        )
    params: dict[str, QueryValue] = {
        key: _comma_joined(symbols, name) for key, (symbols, name) in groups.items() if symbols
    }
    return build_call(
        calls, "GET", "/market-data/by-type", items_of(MarketData), params=params, timeout=timeout
    )


def _market_metrics(
    calls: CallContext, symbols: Iterable[str] | str, *, timeout: float | None = None
) -> Operation[list[MarketMetrics]]:
    """Volatility and other metrics of ``symbols`` (``GET /market-metrics?symbols=A,B``).

    The symbols go out comma-joined in one ``symbols`` key, the form the API
    reads (not ``symbols[]``).
    """
    found = _args.required_strings(symbols, "symbols")
    params: dict[str, QueryValue] = {"symbols": _comma_joined(found, "symbols")}
    return build_call(
        calls, "GET", "/market-metrics", items_of(MarketMetrics), params=params, timeout=timeout
    )


def _dividends(
    calls: CallContext, symbol: str, *, timeout: float | None = None
) -> Operation[list[Dividend]]:
    """A symbol's past dividends
    (``GET /market-metrics/historic-corporate-events/dividends/{symbol}``)."""
    path = encode_path(
        "market-metrics", "historic-corporate-events", "dividends", _args.segment(symbol, "symbol")
    )
    return build_call(calls, "GET", path, items_of(Dividend), timeout=timeout)


def _earnings(
    calls: CallContext,
    symbol: str,
    *,
    start_date: date | None = None,
    timeout: float | None = None,
) -> Operation[list[EarningsReport]]:
    """A symbol's past earnings reports, from ``start_date`` (a ``date``) on if given
    (``GET /market-metrics/historic-corporate-events/earnings-reports/{symbol}``)."""
    path = encode_path(
        "market-metrics",
        "historic-corporate-events",
        "earnings-reports",
        _args.segment(symbol, "symbol"),
    )
    params: dict[str, QueryValue] = {"start-date": _args.optional_day(start_date, "start_date")}
    return build_call(calls, "GET", path, items_of(EarningsReport), params=params, timeout=timeout)


def _risk_free_rate(calls: CallContext, *, timeout: float | None = None) -> Operation[Decimal]:
    """The risk-free rate the platform prices with, a fraction
    (``GET /margin-requirements-public-configuration``)."""
    decode_configuration = data_of(_PublicConfiguration)

    def decode(response: Response) -> Decimal:
        return decode_configuration(response).risk_free_rate

    return build_call(
        calls, "GET", "/margin-requirements-public-configuration", decode, timeout=timeout
    )


def _symbol_search(
    calls: CallContext, text: str, *, timeout: float | None = None
) -> Operation[list[SymbolSearchResult]]:
    """Symbols matching ``text`` (``GET /symbols/search/{text}``, the text percent-encoded)."""
    path = encode_path("symbols", "search", _args.segment(text, "search text"))
    return build_call(calls, "GET", path, items_of(SymbolSearchResult), timeout=timeout)


def _market_sessions(
    calls: CallContext,
    instrument_collections: Iterable[MarketCollection | str] | str,
    *,
    timeout: float | None = None,
) -> Operation[list[MarketSession]]:
    """Whether each collection's market is open now, and its previous and next sessions
    (``GET /market-time/sessions/current?instrument-collections[]=...``)."""
    found = _args.required_strings(instrument_collections, "instrument_collections")
    params: dict[str, QueryValue] = {"instrument-collections[]": found}
    return build_call(
        calls,
        "GET",
        "/market-time/sessions/current",
        items_of(MarketSession),
        params=params,
        timeout=timeout,
    )


def _equity_holidays(
    calls: CallContext, *, timeout: float | None = None
) -> Operation[MarketCalendar]:
    """The equity market's holidays and half days (``GET /market-time/equities/holidays``)."""
    return build_call(
        calls, "GET", "/market-time/equities/holidays", data_of(MarketCalendar), timeout=timeout
    )


def _futures_holidays(
    calls: CallContext, exchange: MarketCollection | str, *, timeout: float | None = None
) -> Operation[MarketCalendar]:
    """A futures exchange's holidays and half days
    (``GET /market-time/futures/holidays/{exchange}``, e.g. ``CME``, ``CFE``)."""
    path = encode_path("market-time", "futures", "holidays", _args.segment(exchange, "exchange"))
    return build_call(calls, "GET", path, data_of(MarketCalendar), timeout=timeout)


def _quote_token(calls: CallContext, *, timeout: float | None = None) -> Operation[QuoteToken]:
    """A token and URL for the DXLink streamer (``GET /api-quote-tokens``); lasts 24 hours.

    A user with no customer record gets an ``ApiError`` whose ``code`` is
    :data:`QUOTE_STREAMER_CUSTOMER_NOT_FOUND`.
    """
    return build_call(calls, "GET", "/api-quote-tokens", data_of(QuoteToken), timeout=timeout)


@model
class QuoteAlert(Model):
    """A quote alert: tells when ``field`` of ``symbol`` crosses ``threshold``.

    The account streamer pushes one (``QuoteAlert``) when it triggers. Times arrive as
    ISO text or epoch milliseconds; both become aware datetimes.
    """

    alert_external_id: str | None = None
    user_external_id: str | None = None
    symbol: str | None = None
    dx_symbol: str | None = None
    instrument_type: str | None = None
    field: str | None = None
    operator: str | None = None
    threshold: Decimal | None = None
    created_at: datetime | None = None
    triggered_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None


class MarketDataAPI:
    """Market data endpoints (mixed into every session)."""

    market_data = Endpoint(_market_data)
    market_metrics = Endpoint(_market_metrics)
    dividends = Endpoint(_dividends)
    earnings = Endpoint(_earnings)
    risk_free_rate = Endpoint(_risk_free_rate)
    symbol_search = Endpoint(_symbol_search)
    market_sessions = Endpoint(_market_sessions)
    equity_holidays = Endpoint(_equity_holidays)
    futures_holidays = Endpoint(_futures_holidays)
    quote_token = Endpoint(_quote_token)
