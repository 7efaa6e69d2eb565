"""Instruments: equities, options and chains, futures and future options, crypto, warrants.

Endpoints (on every session, see :mod:`tastytrade_proto.protocol.endpoint`):

* equities: :attr:`InstrumentsAPI.equity`, :attr:`~InstrumentsAPI.equities`,
  :attr:`~InstrumentsAPI.active_equities` (paginated);
* equity options and chains: :attr:`~InstrumentsAPI.equity_option`,
  :attr:`~InstrumentsAPI.equity_options`, :attr:`~InstrumentsAPI.option_chain`,
  :attr:`~InstrumentsAPI.nested_option_chain`, :attr:`~InstrumentsAPI.compact_option_chain`;
* futures: :attr:`~InstrumentsAPI.futures`, :attr:`~InstrumentsAPI.future`,
  :attr:`~InstrumentsAPI.future_products`, :attr:`~InstrumentsAPI.future_product`,
  :attr:`~InstrumentsAPI.future_option_products`,
  :attr:`~InstrumentsAPI.future_option_product`, :attr:`~InstrumentsAPI.future_option`,
  :attr:`~InstrumentsAPI.future_options`, :attr:`~InstrumentsAPI.nested_future_option_chain`,
  :attr:`~InstrumentsAPI.future_option_chain`;
* the rest: :attr:`~InstrumentsAPI.cryptocurrencies`, :attr:`~InstrumentsAPI.cryptocurrency`,
  :attr:`~InstrumentsAPI.warrants`, :attr:`~InstrumentsAPI.warrant`,
  :attr:`~InstrumentsAPI.quantity_decimal_precisions`.

Symbols go into paths percent-encoded, one segment each (``/ESZ6`` is sent as
``%2FESZ6``, ``BTC/USD`` as ``BTC%2FUSD``, the spaces of an OCC symbol as
``%20``). Equity option symbols are OCC symbols, root padded to six
characters: :func:`occ_symbol` builds one, :func:`parse_occ` reads one, and
:func:`occ_to_streamer` / :func:`streamer_to_occ` convert to and from the
market-data streamer's form (``.SPY261218C600``).

A list of symbols (or product codes) takes one string as one symbol; an
empty list is refused, as are blank symbols and non-strings
(:class:`~tastytrade_proto.errors.LocalProtocolError`, before anything is
sent): pass ``None`` (the default) to leave a filter out.

:class:`TickSize` and :func:`tick_size_for` are shared with :mod:`tastytrade_proto.orders`,
which checks a limit price against them before it is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from . import _args
from .accounts import InstrumentType
from .errors import LocalProtocolError
from .models import ApiEnum, Model, data_of, items_of, model, page_of
from .protocol.endpoint import CallContext, Endpoint, Paged, Pager, build_call, build_pager
from .protocol.http import encode_path
from .protocol.operation import Operation

__all__ = [
    "CompactOptionChain",
    "Cryptocurrency",
    "Deliverable",
    "DestinationVenueSymbol",
    "Equity",
    "EquityOption",
    "Future",
    "FutureEtfEquivalent",
    "FutureOption",
    "FutureOptionProduct",
    "FutureProduct",
    "FutureRoll",
    "InstrumentsAPI",
    "Lendability",
    "NestedFuture",
    "NestedFutureOptionChain",
    "NestedFutureOptionExpiration",
    "NestedFutureOptionSubchain",
    "NestedOptionChain",
    "NestedOptionExpiration",
    "OccSymbol",
    "OptionType",
    "QuantityDecimalPrecision",
    "Strike",
    "TickSize",
    "Warrant",
    "occ_symbol",
    "occ_to_streamer",
    "parse_occ",
    "streamer_to_occ",
    "tick_size_for",
]


# -- vocabularies --------------------------------------------------------------------------


class OptionType(ApiEnum):
    """A call (``C``) or a put (``P``)."""

    CALL = "C"
    PUT = "P"


class Lendability(ApiEnum):
    """How hard an equity is to borrow for a short sale."""

    EASY_TO_BORROW = "Easy To Borrow"
    LOCATE_REQUIRED = "Locate Required"
    PREBORROW = "Preborrow"


# -- models: shared pieces -----------------------------------------------------------------


@model
class TickSize(Model):
    """One price increment: ``value`` applies to prices below ``threshold`` (or to all, if none)."""

    value: Decimal
    threshold: Decimal | None = None
    symbol: str | None = None


def tick_size_for(price: Decimal, tick_sizes: Sequence[TickSize]) -> Decimal | None:
    """The increment a price of ``abs(price)`` must be a multiple of (``None``: no rule known).

    The API lists increments in order, each but the last with a ``threshold``:
    the first whose threshold is above the price applies.
    """
    size = abs(price)
    for tick in tick_sizes:
        if tick.threshold is None or size < tick.threshold:
            return tick.value
    return None


@model
class Deliverable(Model):
    """What one option contract delivers on exercise (``100 shares of SPY``)."""

    id: int | None = None
    root_symbol: str | None = None
    deliverable_type: str | None = None
    description: str | None = None
    amount: Decimal | None = None
    symbol: str | None = None
    instrument_type: InstrumentType | None = None
    percent: Decimal | None = None


@model
class Strike(Model):
    """One strike of a nested chain: the call and put symbols, OCC and streamer forms."""

    strike_price: Decimal
    call: str | None = None
    call_streamer_symbol: str | None = None
    put: str | None = None
    put_streamer_symbol: str | None = None


# -- equities ------------------------------------------------------------------------------


@model
class Equity(Model):
    """A stock, ETF or index (``GET /instruments/equities/{symbol}``)."""

    symbol: str
    id: int | None = None
    instrument_type: InstrumentType | None = None
    cusip: str | None = None
    short_description: str | None = None
    description: str | None = None
    is_index: bool | None = None
    is_etf: bool | None = None
    listed_market: str | None = None
    lendability: Lendability | None = None
    borrow_rate: Decimal | None = None
    market_time_instrument_collection: str | None = None
    is_closing_only: bool | None = None
    is_options_closing_only: bool | None = None
    active: bool | None = None
    is_fractional_quantity_eligible: bool | None = None
    is_illiquid: bool | None = None
    overnight_trading_permitted: bool | None = None
    streamer_symbol: str | None = None
    halted_at: datetime | None = None
    stops_trading_at: datetime | None = None
    tick_sizes: tuple[TickSize, ...] = ()
    option_tick_sizes: tuple[TickSize, ...] = ()


@model
class EquityOption(Model):
    """An equity option (``GET /instruments/equity-options/{occ}``); ``symbol`` is OCC, padded."""

    symbol: str
    instrument_type: InstrumentType | None = None
    active: bool | None = None
    strike_price: Decimal | None = None
    root_symbol: str | None = None
    underlying_symbol: str | None = None
    expiration_date: date | None = None
    exercise_style: str | None = None
    shares_per_contract: int | None = None
    option_type: OptionType | None = None
    option_chain_type: str | None = None
    expiration_type: str | None = None
    settlement_type: str | None = None
    stops_trading_at: datetime | None = None
    expires_at: datetime | None = None
    market_time_instrument_collection: str | None = None
    days_to_expiration: int | None = None
    is_closing_only: bool | None = None
    listed_market: str | None = None
    halted_at: datetime | None = None
    old_security_number: str | None = None
    streamer_symbol: str | None = None


@model
class NestedOptionExpiration(Model):
    """One expiration of a nested option chain, with its strikes."""

    expiration_date: date
    expiration_type: str | None = None
    days_to_expiration: int | None = None
    settlement_type: str | None = None
    strikes: tuple[Strike, ...] = ()


@model
class NestedOptionChain(Model):
    """An option chain by expiration and strike (``GET /option-chains/{symbol}/nested``).

    An underlying has one such chain per option root (``SPX`` and ``SPXW``, or
    an adjusted root after a corporate action).
    """

    underlying_symbol: str
    root_symbol: str | None = None
    option_chain_type: str | None = None
    shares_per_contract: int | None = None
    tick_sizes: tuple[TickSize, ...] = ()
    deliverables: tuple[Deliverable, ...] = ()
    expirations: tuple[NestedOptionExpiration, ...] = ()


@model
class CompactOptionChain(Model):
    """A chain's option symbols in two flat lists (``GET /option-chains/{symbol}/compact``)."""

    underlying_symbol: str
    root_symbol: str | None = None
    option_chain_type: str | None = None
    settlement_type: str | None = None
    shares_per_contract: int | None = None
    expiration_type: str | None = None
    deliverables: tuple[Deliverable, ...] = ()
    symbols: tuple[str, ...] = ()
    streamer_symbols: tuple[str, ...] = ()


# -- futures -------------------------------------------------------------------------------


@model
class FutureRoll(Model):
    """How a future product rolls from one contract to the next."""

    name: str | None = None
    active_count: int | None = None
    cash_settled: bool | None = None
    business_days_offset: int | None = None
    first_notice: bool | None = None


@model
class FutureOptionProduct(Model):
    """A family of options on futures (``EW4``, ``LO``)."""

    root_symbol: str
    code: str | None = None
    exchange: str | None = None
    product_type: str | None = None
    product_subtype: str | None = None
    expiration_type: str | None = None
    settlement_delay_days: int | None = None
    market_sector: str | None = None
    cash_settled: bool | None = None
    is_am_settled: bool | None = None
    is_rollover: bool | None = None
    supported: bool | None = None
    display_factor: Decimal | None = None
    clearing_code: str | None = None
    clearing_exchange_code: str | None = None
    clearing_price_multiplier: Decimal | None = None
    clearport_code: str | None = None
    legacy_code: str | None = None
    itm_rule: str | None = None


@model
class FutureProduct(Model):
    """A family of futures (``/ES``), with the option products written on it."""

    root_symbol: str
    code: str | None = None
    description: str | None = None
    exchange: str | None = None
    product_type: str | None = None
    product_subtype: str | None = None
    listed_months: tuple[str, ...] = ()
    active_months: tuple[str, ...] = ()
    notional_multiplier: Decimal | None = None
    tick_size: Decimal | None = None
    display_factor: Decimal | None = None
    streamer_exchange_code: str | None = None
    small_notional: bool | None = None
    back_month_first_calendar_symbol: bool | None = None
    first_notice: bool | None = None
    cash_settled: bool | None = None
    supported: bool | None = None
    market_sector: str | None = None
    security_group: str | None = None
    clearing_code: str | None = None
    clearing_exchange_code: str | None = None
    clearport_code: str | None = None
    legacy_code: str | None = None
    legacy_exchange_code: str | None = None
    true_underlying_code: str | None = None
    price_format: str | None = None
    base_tick: int | None = None
    sub_tick: int | None = None
    contract_limit: int | None = None
    roll: FutureRoll | None = None
    option_products: tuple[FutureOptionProduct, ...] = ()


@model
class FutureEtfEquivalent(Model):
    """How many shares of an ETF one future is worth (``/ES``: about 500 ``SPY``)."""

    symbol: str | None = None
    share_quantity: int | None = None


@model
class Future(Model):
    """An outright future (``GET /instruments/futures/{symbol}``), ``/ESZ6``."""

    symbol: str
    instrument_type: InstrumentType | None = None
    product_code: str | None = None
    contract_size: Decimal | None = None
    tick_size: Decimal | None = None
    notional_multiplier: Decimal | None = None
    main_fraction: Decimal | None = None
    sub_fraction: Decimal | None = None
    display_factor: Decimal | None = None
    last_trade_date: date | None = None
    expiration_date: date | None = None
    closing_only_date: date | None = None
    first_notice_date: date | None = None
    active: bool | None = None
    active_month: bool | None = None
    next_active_month: bool | None = None
    is_closing_only: bool | None = None
    is_tradeable: bool | None = None
    stops_trading_at: datetime | None = None
    expires_at: datetime | None = None
    product_group: str | None = None
    exchange: str | None = None
    roll_target_symbol: str | None = None
    streamer_exchange_code: str | None = None
    streamer_symbol: str | None = None
    back_month_first_calendar_symbol: bool | None = None
    true_underlying_symbol: str | None = None
    security_id: str | None = None
    future_etf_equivalent: FutureEtfEquivalent | None = None
    future_product: FutureProduct | None = None
    tick_sizes: tuple[TickSize, ...] = ()
    option_tick_sizes: tuple[TickSize, ...] = ()
    spread_tick_sizes: tuple[TickSize, ...] = ()


@model
class FutureOption(Model):
    """An option on a future (``./ESZ6 EW3Z6 261218C6000``)."""

    symbol: str
    instrument_type: InstrumentType | None = None
    underlying_symbol: str | None = None
    product_code: str | None = None
    root_symbol: str | None = None
    option_root_symbol: str | None = None
    expiration_date: date | None = None
    maturity_date: date | None = None
    strike_price: Decimal | None = None
    option_type: OptionType | None = None
    exercise_style: str | None = None
    settlement_type: str | None = None
    exchange: str | None = None
    exchange_symbol: str | None = None
    streamer_symbol: str | None = None
    security_exchange: str | None = None
    security_id: str | None = None
    sx_id: str | None = None
    is_vanilla: bool | None = None
    is_primary_deliverable: bool | None = None
    is_confirmed: bool | None = None
    is_exercisable_weekly: bool | None = None
    is_closing_only: bool | None = None
    active: bool | None = None
    future_price_ratio: Decimal | None = None
    multiplier: Decimal | None = None
    underlying_count: Decimal | None = None
    notional_value: Decimal | None = None
    display_factor: Decimal | None = None
    strike_factor: Decimal | None = None
    last_trade_time: str | None = None
    days_to_expiration: int | None = None
    stops_trading_at: datetime | None = None
    expires_at: datetime | None = None
    future_option_product: FutureOptionProduct | None = None


@model
class NestedFuture(Model):
    """A future that options of a nested future option chain are written on."""

    symbol: str
    root_symbol: str | None = None
    maturity_date: date | None = None
    expiration_date: date | None = None
    days_to_expiration: int | None = None
    active_month: bool | None = None
    next_active_month: bool | None = None
    stops_trading_at: datetime | None = None
    expires_at: datetime | None = None


@model
class NestedFutureOptionExpiration(Model):
    """One expiration of a nested future option chain: its option contract and strikes."""

    expiration_date: date
    underlying_symbol: str | None = None
    root_symbol: str | None = None
    option_root_symbol: str | None = None
    option_contract_symbol: str | None = None
    asset: str | None = None
    days_to_expiration: int | None = None
    expiration_type: str | None = None
    settlement_type: str | None = None
    notional_value: Decimal | None = None
    display_factor: Decimal | None = None
    strike_factor: Decimal | None = None
    stops_trading_at: datetime | None = None
    expires_at: datetime | None = None
    tick_sizes: tuple[TickSize, ...] = ()
    strikes: tuple[Strike, ...] = ()


@model
class NestedFutureOptionSubchain(Model):
    """The expirations of one future product's options."""

    underlying_symbol: str | None = None
    root_symbol: str | None = None
    exercise_style: str | None = None
    expirations: tuple[NestedFutureOptionExpiration, ...] = ()


@model
class NestedFutureOptionChain(Model):
    """A future option chain (``GET /futures-option-chains/{code}/nested``)."""

    futures: tuple[NestedFuture, ...] = ()
    option_chains: tuple[NestedFutureOptionSubchain, ...] = ()


# -- crypto, warrants, precisions ----------------------------------------------------------


@model
class DestinationVenueSymbol(Model):
    """How one trading venue names a cryptocurrency, and the precisions it takes."""

    symbol: str | None = None
    id: int | None = None
    destination_venue: str | None = None
    routable: bool | None = None
    max_quantity_precision: int | None = None
    max_price_precision: int | None = None


@model
class Cryptocurrency(Model):
    """A cryptocurrency pair (``GET /instruments/cryptocurrencies/{symbol}``), ``BTC/USD``."""

    symbol: str
    id: int | None = None
    instrument_type: InstrumentType | None = None
    short_description: str | None = None
    description: str | None = None
    is_closing_only: bool | None = None
    active: bool | None = None
    tick_size: Decimal | None = None
    streamer_symbol: str | None = None
    destination_venue_symbols: tuple[DestinationVenueSymbol, ...] = ()


@model
class Warrant(Model):
    """A listed warrant (``GET /instruments/warrants/{symbol}``)."""

    symbol: str
    instrument_type: InstrumentType | None = None
    cusip: str | None = None
    listed_market: str | None = None
    description: str | None = None
    is_closing_only: bool | None = None
    active: bool | None = None


@model
class QuantityDecimalPrecision(Model):
    """How many decimal places a quantity may have, for a kind of instrument or one symbol."""

    instrument_type: InstrumentType
    symbol: str | None = None
    value: int | None = None
    minimum_increment_precision: int | None = None


# -- symbols -------------------------------------------------------------------------------


class OccSymbol(NamedTuple):
    """The parts of an OCC option symbol."""

    root: str
    expiration: date
    option_type: OptionType
    strike: Decimal


_OCC_TAIL = re.compile(r"([0-9]{6})([CP])([0-9]{8})")
_STREAMER = re.compile(r"\.([A-Z0-9]{1,6})([0-9]{6})([CP])([0-9]{1,5}(?:\.[0-9]{1,3})?)")
_ROOT = re.compile(r"[A-Z0-9]{1,6}")
_MAX_STRIKE = Decimal("99999.999")


def _option_type(value: OptionType | str) -> OptionType:
    if value in ("C", "P"):
        return OptionType(value)
    raise LocalProtocolError(f"option type must be 'C' or 'P', got {value!r}")


def _strike_thousandths(strike: Decimal | int | str) -> int:
    value = None
    if isinstance(strike, (Decimal, str)) or type(strike) is int:
        try:
            value = Decimal(strike)
        except (InvalidOperation, ValueError):
            value = None
    if value is None or not value.is_finite() or not 0 <= value <= _MAX_STRIKE:
        raise LocalProtocolError(f"strike must be a decimal from 0 to 99999.999, got {strike!r}")
    thousandths = value * 1000
    if thousandths != thousandths.to_integral_value():
        raise LocalProtocolError(f"strike {strike!r} has more than three decimal places")
    return int(thousandths)


def _yymmdd(text: str, symbol: str) -> date:
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:]))
    except ValueError:
        raise LocalProtocolError(f"{symbol!r} has no valid expiration date") from None


def occ_symbol(
    root: str, expiration: date, option_type: OptionType | str, strike: Decimal | int | str
) -> str:
    """The OCC symbol of an equity option, root padded to six characters.

    >>> occ_symbol("SPY", date(2026, 12, 18), "C", Decimal("600"))
    'SPY   261218C00600000'

    ``strike`` is a ``Decimal`` (or an int or decimal string; never a float) with
    at most three decimal places. A bad part raises
    :class:`~tastytrade_proto.errors.LocalProtocolError`.
    """
    if not isinstance(root, str) or not _ROOT.fullmatch(root):
        raise LocalProtocolError(f"option root must be 1-6 capitals or digits, got {root!r}")
    if not isinstance(expiration, date) or not 2000 <= expiration.year <= 2099:
        raise LocalProtocolError(f"expiration must be a date in 2000-2099, got {expiration!r}")
    kind = _option_type(option_type)
    return f"{root:<6}{expiration:%y%m%d}{kind.value}{_strike_thousandths(strike):08d}"


def parse_occ(symbol: str) -> OccSymbol:
    """The parts of an OCC symbol, padded (``SPY   261218C00600000``) or not (``SPY 261218C…``).

    Anything else raises :class:`~tastytrade_proto.errors.LocalProtocolError`.
    """
    if not isinstance(symbol, str) or len(symbol) > 40:
        raise LocalProtocolError(f"not an OCC option symbol: {symbol!r}")
    tail = _OCC_TAIL.fullmatch(symbol[-15:])
    root = symbol[:-15].rstrip(" ")
    if tail is None or not _ROOT.fullmatch(root):
        raise LocalProtocolError(f"not an OCC option symbol: {symbol!r}")
    expiration = _yymmdd(tail.group(1), symbol)
    strike = Decimal(int(tail.group(3))) / 1000
    return OccSymbol(root, expiration, OptionType(tail.group(2)), strike)


def _plain(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def occ_to_streamer(symbol: str) -> str:
    """The market-data streamer's symbol of an OCC symbol.

    >>> occ_to_streamer("SPY   261218C00600000")
    '.SPY261218C600'
    >>> occ_to_streamer("AAPL  270115P00182500")
    '.AAPL270115P182.5'
    """
    root, expiration, kind, strike = parse_occ(symbol)
    return f".{root}{expiration:%y%m%d}{kind.value}{_plain(strike)}"


def streamer_to_occ(symbol: str) -> str:
    """The padded OCC symbol of a streamer symbol (``.SPY261218C600``).

    Anything else raises :class:`~tastytrade_proto.errors.LocalProtocolError`.
    """
    found = _STREAMER.fullmatch(symbol) if isinstance(symbol, str) else None
    if found is None:
        raise LocalProtocolError(f"not an equity option streamer symbol: {symbol!r}")
    root, day, kind, strike = found.groups()
    return occ_symbol(root, _yymmdd(day, symbol), kind, strike)


# -- endpoints -----------------------------------------------------------------------------


def _product_code(code: str) -> str:
    """A product code for a path: ``/ES`` and ``ES`` both mean ``ES``."""
    return _args.segment(_args.segment(code, "product code").lstrip("/"), "product code")


def _equity(calls: CallContext, symbol: str, *, timeout: float | None = None) -> Operation[Equity]:
    """One equity (``GET /instruments/equities/{symbol}``); ``BRK/B`` is sent as ``BRK%2FB``."""
    path = encode_path("instruments", "equities", _args.segment(symbol, "symbol"))
    return build_call(calls, "GET", path, data_of(Equity), timeout=timeout)


def _equities(
    calls: CallContext,
    symbols: Iterable[str] | str | None = None,
    *,
    lendability: Lendability | str | None = None,
    is_index: bool | None = None,
    is_etf: bool | None = None,
    timeout: float | None = None,
) -> Operation[list[Equity]]:
    """Equities by symbol (``GET /instruments/equities?symbol[]=…``), optionally filtered."""
    params = {
        "symbol[]": _args.strings(symbols, "symbols"),
        "lendability": str(lendability) if lendability is not None else None,
        "is-index": is_index,
        "is-etf": is_etf,
    }
    return build_call(
        calls, "GET", "/instruments/equities", items_of(Equity), params=params, timeout=timeout
    )


def _active_equities(
    calls: CallContext,
    *,
    lendability: Lendability | str | None = None,
    per_page: int | None = None,
    timeout: float | None = None,
) -> Pager[Equity]:
    """Every actively traded equity, a page at a time (``GET /instruments/equities/active``).

    ``per_page`` is 1 to 2000 (the API's default is 1000).
    """
    params = {"lendability": str(lendability) if lendability is not None else None}
    size = _args.per_page(per_page)
    return build_pager(
        calls,
        "/instruments/equities/active",
        page_of(Equity),
        params,
        per_page=size,
        timeout=timeout,
    )


def _equity_option(
    calls: CallContext, symbol: str, *, active: bool | None = None, timeout: float | None = None
) -> Operation[EquityOption]:
    """One equity option by OCC symbol (``GET /instruments/equity-options/{symbol}``)."""
    path = encode_path("instruments", "equity-options", _args.segment(symbol, "symbol"))
    return build_call(
        calls, "GET", path, data_of(EquityOption), params={"active": active}, timeout=timeout
    )


def _equity_options(
    calls: CallContext,
    symbols: Iterable[str] | str,
    *,
    active: bool | None = None,
    with_expired: bool | None = None,
    timeout: float | None = None,
) -> Operation[list[EquityOption]]:
    """Equity options by OCC symbol (``GET /instruments/equity-options?symbol[]=…``)."""
    params = {
        "symbol[]": _args.required_strings(symbols, "symbols"),
        "active": active,
        "with-expired": with_expired,
    }
    return build_call(
        calls,
        "GET",
        "/instruments/equity-options",
        items_of(EquityOption),
        params=params,
        timeout=timeout,
    )


def _option_chain(
    calls: CallContext, symbol: str, *, timeout: float | None = None
) -> Operation[list[EquityOption]]:
    """Every option of an underlying as full instruments (``GET /option-chains/{symbol}``)."""
    path = encode_path("option-chains", _args.segment(symbol, "symbol"))
    return build_call(calls, "GET", path, items_of(EquityOption), timeout=timeout)


def _nested_option_chain(
    calls: CallContext, symbol: str, *, timeout: float | None = None
) -> Operation[list[NestedOptionChain]]:
    """The chains of an underlying by expiration and strike (``GET /option-chains/{s}/nested``).

    One :class:`NestedOptionChain` per option root.
    """
    path = encode_path("option-chains", _args.segment(symbol, "symbol"), "nested")
    return build_call(calls, "GET", path, items_of(NestedOptionChain), timeout=timeout)


def _compact_option_chain(
    calls: CallContext, symbol: str, *, timeout: float | None = None
) -> Operation[list[CompactOptionChain]]:
    """The chains of an underlying as symbol lists (``GET /option-chains/{symbol}/compact``)."""
    path = encode_path("option-chains", _args.segment(symbol, "symbol"), "compact")
    return build_call(calls, "GET", path, items_of(CompactOptionChain), timeout=timeout)


def _futures(
    calls: CallContext,
    symbols: Iterable[str] | str | None = None,
    *,
    product_codes: Iterable[str] | str | None = None,
    timeout: float | None = None,
) -> Operation[list[Future]]:
    """Futures by symbol or product code (``GET /instruments/futures``).

    The API ignores ``product_codes`` when ``symbols`` are given.
    """
    params = {
        "symbol[]": _args.strings(symbols, "symbols"),
        "product-code[]": _args.strings(product_codes, "product_codes"),
    }
    return build_call(
        calls, "GET", "/instruments/futures", items_of(Future), params=params, timeout=timeout
    )


def _future(calls: CallContext, symbol: str, *, timeout: float | None = None) -> Operation[Future]:
    """One future (``GET /instruments/futures/{symbol}``); ``/ESZ6`` is sent as ``%2FESZ6``."""
    path = encode_path("instruments", "futures", _args.segment(symbol, "symbol"))
    return build_call(calls, "GET", path, data_of(Future), timeout=timeout)


def _future_products(
    calls: CallContext, *, timeout: float | None = None
) -> Operation[list[FutureProduct]]:
    """Every future product (``GET /instruments/future-products``)."""
    return build_call(
        calls, "GET", "/instruments/future-products", items_of(FutureProduct), timeout=timeout
    )


def _future_product(
    calls: CallContext, exchange: str, code: str, *, timeout: float | None = None
) -> Operation[FutureProduct]:
    """One future product (``GET /instruments/future-products/{exchange}/{code}``).

    ``code`` is the product code, ``ES`` (``/ES`` is taken to mean ``ES``).
    """
    path = encode_path(
        "instruments", "future-products", _args.segment(exchange, "exchange"), _product_code(code)
    )
    return build_call(calls, "GET", path, data_of(FutureProduct), timeout=timeout)


def _future_option_products(
    calls: CallContext, *, timeout: float | None = None
) -> Operation[list[FutureOptionProduct]]:
    """Every future option product (``GET /instruments/future-option-products``)."""
    path = "/instruments/future-option-products"
    return build_call(calls, "GET", path, items_of(FutureOptionProduct), timeout=timeout)


def _future_option_product(
    calls: CallContext, exchange: str, root_symbol: str, *, timeout: float | None = None
) -> Operation[FutureOptionProduct]:
    """One future option product (``GET /instruments/future-option-products/{exch}/{root}``)."""
    path = encode_path(
        "instruments",
        "future-option-products",
        _args.segment(exchange, "exchange"),
        _product_code(root_symbol),
    )
    return build_call(calls, "GET", path, data_of(FutureOptionProduct), timeout=timeout)


def _future_option(
    calls: CallContext, symbol: str, *, timeout: float | None = None
) -> Operation[FutureOption]:
    """One future option (``GET /instruments/future-options/{symbol}``)."""
    path = encode_path("instruments", "future-options", _args.segment(symbol, "symbol"))
    return build_call(calls, "GET", path, data_of(FutureOption), timeout=timeout)


def _future_options(
    calls: CallContext, symbols: Iterable[str] | str, *, timeout: float | None = None
) -> Operation[list[FutureOption]]:
    """Future options by symbol (``GET /instruments/future-options?symbol[]=…``)."""
    params = {"symbol[]": _args.required_strings(symbols, "symbols")}
    return build_call(
        calls,
        "GET",
        "/instruments/future-options",
        items_of(FutureOption),
        params=params,
        timeout=timeout,
    )


def _nested_future_option_chain(
    calls: CallContext, product_code: str, *, timeout: float | None = None
) -> Operation[NestedFutureOptionChain]:
    """A product's future option chain (``GET /futures-option-chains/{code}/nested``).

    ``product_code`` is ``ES`` (``/ES`` is taken to mean ``ES``).
    """
    path = encode_path("futures-option-chains", _product_code(product_code), "nested")
    return build_call(calls, "GET", path, data_of(NestedFutureOptionChain), timeout=timeout)


def _future_option_chain(
    calls: CallContext, product_code: str, *, timeout: float | None = None
) -> Operation[list[FutureOption]]:
    """A product's future options as full instruments (``GET /futures-option-chains/{code}``)."""
    path = encode_path("futures-option-chains", _product_code(product_code))
    return build_call(calls, "GET", path, items_of(FutureOption), timeout=timeout)


def _cryptocurrencies(
    calls: CallContext, symbols: Iterable[str] | str | None = None, *, timeout: float | None = None
) -> Operation[list[Cryptocurrency]]:
    """Cryptocurrencies, all or by symbol (``GET /instruments/cryptocurrencies``)."""
    params = {"symbol[]": _args.strings(symbols, "symbols")}
    path = "/instruments/cryptocurrencies"
    return build_call(calls, "GET", path, items_of(Cryptocurrency), params=params, timeout=timeout)


def _cryptocurrency(
    calls: CallContext, symbol: str, *, timeout: float | None = None
) -> Operation[Cryptocurrency]:
    """One cryptocurrency (``GET /instruments/cryptocurrencies/{symbol}``), ``BTC/USD``."""
    path = encode_path("instruments", "cryptocurrencies", _args.segment(symbol, "symbol"))
    return build_call(calls, "GET", path, data_of(Cryptocurrency), timeout=timeout)


def _warrants(
    calls: CallContext, symbols: Iterable[str] | str | None = None, *, timeout: float | None = None
) -> Operation[list[Warrant]]:
    """Warrants, all or by symbol (``GET /instruments/warrants``)."""
    params = {"symbol[]": _args.strings(symbols, "symbols")}
    return build_call(
        calls, "GET", "/instruments/warrants", items_of(Warrant), params=params, timeout=timeout
    )


def _warrant(
    calls: CallContext, symbol: str, *, timeout: float | None = None
) -> Operation[Warrant]:
    """One warrant (``GET /instruments/warrants/{symbol}``)."""
    path = encode_path("instruments", "warrants", _args.segment(symbol, "symbol"))
    return build_call(calls, "GET", path, data_of(Warrant), timeout=timeout)


def _quantity_decimal_precisions(
    calls: CallContext,
    *,
    timeout: float | None = None,
) -> Operation[list[QuantityDecimalPrecision]]:
    """How finely quantities may be split (``GET /instruments/quantity-decimal-precisions``)."""
    path = "/instruments/quantity-decimal-precisions"
    return build_call(calls, "GET", path, items_of(QuantityDecimalPrecision), timeout=timeout)


class InstrumentsAPI:
    """Instrument endpoints (mixed into every session)."""

    equity = Endpoint(_equity)
    equities = Endpoint(_equities)
    active_equities = Paged(_active_equities)
    equity_option = Endpoint(_equity_option)
    equity_options = Endpoint(_equity_options)
    option_chain = Endpoint(_option_chain)
    nested_option_chain = Endpoint(_nested_option_chain)
    compact_option_chain = Endpoint(_compact_option_chain)
    futures = Endpoint(_futures)
    future = Endpoint(_future)
    future_products = Endpoint(_future_products)
    future_product = Endpoint(_future_product)
    future_option_products = Endpoint(_future_option_products)
    future_option_product = Endpoint(_future_option_product)
    future_option = Endpoint(_future_option)
    future_options = Endpoint(_future_options)
    nested_future_option_chain = Endpoint(_nested_future_option_chain)
    future_option_chain = Endpoint(_future_option_chain)
    cryptocurrencies = Endpoint(_cryptocurrencies)
    cryptocurrency = Endpoint(_cryptocurrency)
    warrants = Endpoint(_warrants)
    warrant = Endpoint(_warrant)
    quantity_decimal_precisions = Endpoint(_quantity_decimal_precisions)
