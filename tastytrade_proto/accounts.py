"""Customer and accounts, money and holdings: the ``/customers`` and ``/accounts`` areas.

Endpoints (on every session, see :mod:`tastytrade_proto.protocol.endpoint`):
:attr:`AccountsAPI.customer`, :attr:`~AccountsAPI.accounts`,
:attr:`~AccountsAPI.account`, :attr:`~AccountsAPI.trading_status`,
:attr:`~AccountsAPI.balances`, :attr:`~AccountsAPI.balance_snapshots` (paged),
:attr:`~AccountsAPI.positions`, :attr:`~AccountsAPI.net_liquidating_value_history`,
:attr:`~AccountsAPI.transactions` (paged), :attr:`~AccountsAPI.transaction`,
:attr:`~AccountsAPI.total_fees`, :attr:`~AccountsAPI.margin_requirements`.

Arguments are checked as in every area (:mod:`tastytrade_proto._args`): dates
are ``date`` and go out as ``YYYY-MM-DD``; date-times must be timezone-aware
and go out in UTC; a list argument takes one string as one item and refuses
an empty list (``None`` leaves the filter out); ``per_page`` is 1 to 2000.
Arguments the API would refuse (``type`` together with ``types``, a naive
date-time, an unknown ``time-of-day``, a blank account number) raise
:class:`~tastytrade_proto.errors.LocalProtocolError` before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from . import _args
from .errors import LocalProtocolError
from .models import ApiEnum, Effect, Model, data_of, decode_model, items_of, model, page_of
from .protocol.endpoint import CallContext, Endpoint, Paged, Pager, build_call, build_pager
from .protocol.envelope import decode_envelope
from .protocol.http import Response, encode_path
from .protocol.operation import Operation
from .values import field

__all__ = [
    "TIME_BACK",
    "Account",
    "AccountAuthority",
    "AccountsAPI",
    "Address",
    "Balances",
    "Customer",
    "InstrumentType",
    "Lot",
    "MarginPositionEntry",
    "MarginReport",
    "MarginReportEntry",
    "MarginStrategy",
    "NetLiqOhlc",
    "Position",
    "QuantityDirection",
    "TotalFees",
    "TradingStatus",
    "Transaction",
    "TransactionType",
]

#: The periods ``net_liquidating_value_history(time_back=...)`` accepts.
TIME_BACK = ("1d", "1m", "3m", "6m", "1y", "all")


class InstrumentType(ApiEnum):
    """What kind of instrument a symbol names."""

    BOND = "Bond"
    CRYPTOCURRENCY = "Cryptocurrency"
    CURRENCY_PAIR = "Currency Pair"
    EQUITY = "Equity"
    EQUITY_OFFERING = "Equity Offering"
    EQUITY_OPTION = "Equity Option"
    EVENT_CONTRACT = "Event Contract"
    FIXED_INCOME_SECURITY = "Fixed Income Security"
    FUTURE = "Future"
    FUTURE_OPTION = "Future Option"
    INDEX = "Index"
    LIQUIDITY_POOL = "Liquidity Pool"
    UNKNOWN = "Unknown"
    WARRANT = "Warrant"


class QuantityDirection(ApiEnum):
    """Which side of a position is held."""

    LONG = "Long"
    SHORT = "Short"
    ZERO = "Zero"


@model
class Address(Model):
    """A postal address."""

    street_one: str | None = None
    street_two: str | None = None
    city: str | None = None
    state_region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    is_foreign: bool | None = None
    is_domestic: bool | None = None


@model
class Customer(Model):
    """The logged-in customer (``GET /customers/me``).

    The live API and the sandbox both send the whole record: names, addresses,
    contact details, citizenship and tax status, the regulatory affiliation flags
    and the account types the customer may open (``tests/samples/customers_me_200.json``).
    Every field is optional all the same, as for every model. Personal data (addresses,
    phone, birth date, citizenship, tax and affiliation details) stays out of ``repr``;
    ``raw`` keeps what the model has no field for (``customer-suitability``, ``person``).
    """

    id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    external_id: str | None = None
    address: Address | None = field(default=None, repr=False)
    mailing_address: Address | None = field(default=None, repr=False)
    mobile_phone_number: str | None = field(default=None, repr=False)
    birth_date: date | None = field(default=None, repr=False)
    is_professional: bool | None = None
    has_delayed_quotes: bool | None = None
    #: The account types the customer may open, as the API sends them (objects with
    #: ``name``, ``is-tax-advantaged``, ``margin-types``, ...).
    permitted_account_types: tuple[object, ...] = ()
    created_at: datetime | None = None
    is_foreign: bool | None = field(default=None, repr=False)
    usa_citizenship_type: str | None = field(default=None, repr=False)
    citizenship_country: str | None = field(default=None, repr=False)
    #: ``"SSN"`` or another kind; the number itself comes masked (``tax-number``, in ``raw``).
    tax_number_type: str | None = field(default=None, repr=False)
    subject_to_tax_withholding: bool | None = field(default=None, repr=False)
    has_industry_affiliation: bool | None = field(default=None, repr=False)
    has_political_affiliation: bool | None = field(default=None, repr=False)
    has_listed_affiliation: bool | None = field(default=None, repr=False)
    is_investment_adviser: bool | None = field(default=None, repr=False)
    has_institutional_assets: bool | None = field(default=None, repr=False)
    has_pending_or_approved_application: bool | None = None
    agreed_to_margining: bool | None = None
    agreed_to_terms: bool | None = None
    identifiable_type: str | None = None


@model
class Account(Model):
    """One brokerage account."""

    account_number: str
    nickname: str | None = None
    account_type_name: str | None = None
    margin_or_cash: str | None = None
    external_id: str | None = None
    opened_at: datetime | None = None
    created_at: datetime | None = None
    closed_at: datetime | None = None
    funding_date: date | None = None
    investment_objective: str | None = None
    suitable_options_level: str | None = None
    day_trader_status: bool | None = None
    is_closed: bool = False
    is_firm_error: bool | None = None
    is_firm_proprietary: bool | None = None
    is_futures_approved: bool | None = None
    is_test_drive: bool | None = None
    is_foreign: bool | None = None


@model
class AccountAuthority(Model):
    """An account and the customer's authority over it (``owner``, ...)."""

    account: Account
    authority_level: str | None = None


@model
class TradingStatus(Model):
    """What an account may trade right now (``GET /accounts/{n}/trading-status``)."""

    account_number: str
    options_level: str | None = None
    day_trade_count: int | None = None
    fee_schedule_name: str | None = None
    is_frozen: bool | None = None
    is_closed: bool | None = None
    is_closing_only: bool | None = None
    is_futures_enabled: bool | None = None
    is_futures_closing_only: bool | None = None
    is_cryptocurrency_enabled: bool | None = None
    is_cryptocurrency_closing_only: bool | None = None
    is_in_margin_call: bool | None = None
    is_pattern_day_trader: bool | None = None
    is_risk_reducing_only: bool | None = None
    short_calls_enabled: bool | None = None
    equities_margin_calculation_type: str | None = None
    updated_at: datetime | None = None


@model
class Balances(Model):
    """An account's balances. Amounts with an ``*-effect`` are signed: a debit is negative."""

    account_number: str
    currency: str | None = None
    cash_balance: Decimal | None = None
    net_liquidating_value: Decimal | None = None
    equity_buying_power: Decimal | None = None
    derivative_buying_power: Decimal | None = None
    day_trading_buying_power: Decimal | None = None
    available_trading_funds: Decimal | None = None
    cash_available_to_withdraw: Decimal | None = None
    maintenance_requirement: Decimal | None = None
    maintenance_excess: Decimal | None = None
    maintenance_call_value: Decimal | None = None
    margin_equity: Decimal | None = None
    reg_t_margin_requirement: Decimal | None = None
    reg_t_call_value: Decimal | None = None
    day_trading_call_value: Decimal | None = None
    pending_cash: Annotated[Decimal | None, Effect("pending-cash-effect")] = None
    buying_power_adjustment: Annotated[Decimal | None, Effect("buying-power-adjustment-effect")] = (
        None
    )
    long_equity_value: Decimal | None = None
    short_equity_value: Decimal | None = None
    long_derivative_value: Decimal | None = None
    short_derivative_value: Decimal | None = None
    long_futures_value: Decimal | None = None
    short_futures_value: Decimal | None = None
    long_futures_derivative_value: Decimal | None = None
    short_futures_derivative_value: Decimal | None = None
    long_cryptocurrency_value: Decimal | None = None
    short_cryptocurrency_value: Decimal | None = None
    long_margineable_value: Decimal | None = None
    short_margineable_value: Decimal | None = None
    futures_margin_requirement: Decimal | None = None
    cryptocurrency_margin_requirement: Decimal | None = None
    special_memorandum_account_value: Decimal | None = None
    cash_settle_balance: Decimal | None = None
    total_settle_balance: Decimal | None = None
    pending_margin_interest: Decimal | None = None
    snapshot_date: date | None = None
    time_of_day: str | None = None
    updated_at: datetime | None = None


@model
class Position(Model):
    """A holding. ``quantity`` is unsigned; ``quantity_direction`` says long or short.

    ``quantity`` and ``multiplier`` are ``Decimal`` whether the API sends
    them as numbers or strings (it does both).
    """

    account_number: str
    symbol: str
    instrument_type: InstrumentType
    underlying_symbol: str | None = None
    quantity: Decimal = Decimal(0)
    quantity_direction: QuantityDirection | None = None
    close_price: Decimal | None = None
    average_open_price: Decimal | None = None
    average_daily_market_close_price: Decimal | None = None
    average_yearly_market_close_price: Decimal | None = None
    mark: Decimal | None = None
    mark_price: Decimal | None = None
    multiplier: Decimal | None = None
    cost_effect: str | None = None
    is_frozen: bool | None = None
    is_suppressed: bool | None = None
    restricted_quantity: Decimal | None = None
    expires_at: datetime | None = None
    realized_day_gain: Annotated[Decimal | None, Effect("realized-day-gain-effect")] = None
    realized_day_gain_date: date | None = None
    realized_today: Annotated[Decimal | None, Effect("realized-today-effect")] = None
    realized_today_date: date | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def signed_quantity(self) -> Decimal:
        """The quantity, negative for a short position."""
        return -self.quantity if self.quantity_direction == "Short" else self.quantity


class TransactionType(ApiEnum):
    """What kind of entry a transaction is (the ``type`` / ``types[]`` filter's values)."""

    ADMINISTRATIVE_TRANSFER = "Administrative Transfer"
    MONEY_MOVEMENT = "Money Movement"
    RECEIVE_DELIVER = "Receive Deliver"
    TRADE = "Trade"


@model
class Lot(Model):
    """A tax lot a transaction opened or closed."""

    id: str | None = None
    transaction_id: int | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    quantity_direction: QuantityDirection | None = None
    executed_at: datetime | None = None
    transaction_date: date | None = None


@model
class Transaction(Model):
    """One entry of an account's history: a fill, a money movement, an expiration, ...

    Amounts are signed from their ``*-effect``: money received is positive,
    money paid (a purchase, a commission, a fee) negative; ``net_value`` is
    what the transaction did to the cash balance and :attr:`fees` sums the
    charges. ``quantity`` and ``price`` are unsigned, as sent; ``action``
    says the direction of a trade.
    """

    id: int
    account_number: str
    transaction_type: TransactionType | None = None
    transaction_sub_type: str | None = None
    description: str | None = None
    action: str | None = None
    symbol: str | None = None
    instrument_type: InstrumentType | None = None
    underlying_symbol: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    executed_at: datetime | None = None
    transaction_date: date | None = None
    value: Annotated[Decimal | None, Effect("value-effect")] = None
    net_value: Annotated[Decimal | None, Effect("net-value-effect")] = None
    commission: Annotated[Decimal | None, Effect("commission-effect")] = None
    clearing_fees: Annotated[Decimal | None, Effect("clearing-fees-effect")] = None
    regulatory_fees: Annotated[Decimal | None, Effect("regulatory-fees-effect")] = None
    proprietary_index_option_fees: Annotated[
        Decimal | None, Effect("proprietary-index-option-fees-effect")
    ] = None
    other_charge: Annotated[Decimal | None, Effect("other-charge-effect")] = None
    other_charge_description: str | None = None
    is_estimated_fee: bool | None = None
    currency: str | None = None
    order_id: int | None = None
    leg_count: int | None = None
    exchange: str | None = None
    destination_venue: str | None = None
    exchange_affiliation_identifier: str | None = None
    exec_id: str | None = None
    ext_exec_id: str | None = None
    ext_exchange_order_number: str | None = None
    ext_global_order_number: int | None = None
    ext_group_id: str | None = None
    ext_group_fill_id: str | None = None
    reverses_id: int | None = None
    cost_basis_reconciliation_date: date | None = None
    agency_price: Decimal | None = None
    principal_price: Decimal | None = None
    lots: tuple[Lot, ...] = ()

    @property
    def fees(self) -> Decimal:
        """Commission and every fee together, signed (a charge is negative)."""
        parts = (
            self.commission,
            self.clearing_fees,
            self.regulatory_fees,
            self.proprietary_index_option_fees,
        )
        return sum((p for p in parts if p is not None), Decimal(0))


@model
class TotalFees(Model):
    """An account's fees for one day; ``total_fees`` is signed (fees paid are negative)."""

    total_fees: Annotated[Decimal, Effect("total-fees-effect")]


@model
class NetLiqOhlc(Model):
    """Net liquidating value over one interval ending at ``time`` (its close).

    ``open``/``high``/``low``/``close`` leave pending cash out,
    ``pending_cash_*`` are that cash alone, ``total_*`` the two together.
    """

    time: datetime
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    close: Decimal | None = None
    pending_cash_open: Decimal | None = None
    pending_cash_high: Decimal | None = None
    pending_cash_low: Decimal | None = None
    pending_cash_close: Decimal | None = None
    total_open: Decimal | None = None
    total_high: Decimal | None = None
    total_low: Decimal | None = None
    total_close: Decimal | None = None


@model
class MarginPositionEntry(Model):
    """A position inside a margin strategy; ``quantity`` is signed (short is negative)."""

    instrument_symbol: str | None = None
    instrument_type: InstrumentType | None = None
    quantity: Decimal | None = None
    average_open_price: Decimal | None = None
    close_price: Decimal | None = None
    fixing_price: Decimal | None = None
    strike_price: Decimal | None = None
    option_type: str | None = None
    deliverable_quantity: Decimal | None = None
    expiration_date: date | None = None


@model
class MarginStrategy(Model):
    """How some positions of one underlying are margined (``NAKED_CALL``, ``LONG_UNDERLYING``)."""

    description: str | None = None
    margin_requirement: Annotated[Decimal | None, Effect("margin-requirement-effect")] = None
    initial_requirement: Annotated[Decimal | None, Effect("initial-requirement-effect")] = None
    maintenance_requirement: Annotated[Decimal | None, Effect("maintenance-requirement-effect")] = (
        None
    )
    buying_power: Annotated[Decimal | None, Effect("buying-power-effect")] = None
    includes_working_order: bool | None = None
    position_entries: tuple[MarginPositionEntry, ...] = ()


@model
class MarginReportEntry(Model):
    """The margin of one underlying, with the strategies it is made of (``groups``)."""

    description: str | None = None
    code: str | None = None
    underlying_symbol: str | None = None
    underlying_type: InstrumentType | None = None
    margin_calculation_type: str | None = None
    margin_requirement: Annotated[Decimal | None, Effect("margin-requirement-effect")] = None
    initial_requirement: Annotated[Decimal | None, Effect("initial-requirement-effect")] = None
    maintenance_requirement: Annotated[Decimal | None, Effect("maintenance-requirement-effect")] = (
        None
    )
    buying_power: Annotated[Decimal | None, Effect("buying-power-effect")] = None
    expected_price_range_up_percent: Decimal | None = None
    expected_price_range_down_percent: Decimal | None = None
    point_of_no_return_percent: Decimal | None = None
    price_increase_percent: Decimal | None = None
    price_decrease_percent: Decimal | None = None
    groups: tuple[MarginStrategy, ...] = ()


@model
class MarginReport(Model):
    """An account's margin requirements, in total and per underlying (``groups``).

    Amounts are signed from their ``*-effect``: a requirement (a debit) is
    negative, equity and buying power (credits) positive.
    ``last_state_timestamp`` is when the report was computed.
    """

    account_number: str
    description: str | None = None
    margin_calculation_type: str | None = None
    option_level: str | None = None
    margin_requirement: Annotated[Decimal | None, Effect("margin-requirement-effect")] = None
    initial_requirement: Annotated[Decimal | None, Effect("initial-requirement-effect")] = None
    maintenance_requirement: Annotated[Decimal | None, Effect("maintenance-requirement-effect")] = (
        None
    )
    margin_equity: Annotated[Decimal | None, Effect("margin-equity-effect")] = None
    option_buying_power: Annotated[Decimal | None, Effect("option-buying-power-effect")] = None
    reg_t_margin_requirement: Annotated[
        Decimal | None, Effect("reg-t-margin-requirement-effect")
    ] = None
    reg_t_option_buying_power: Annotated[
        Decimal | None, Effect("reg-t-option-buying-power-effect")
    ] = None
    maintenance_excess: Annotated[Decimal | None, Effect("maintenance-excess-effect")] = None
    last_state_timestamp: datetime | None = None
    groups: tuple[MarginReportEntry, ...] = ()


def _customer(calls: CallContext, *, timeout: float | None = None) -> Operation[Customer]:
    """The logged-in customer (``GET /customers/me``)."""
    return build_call(calls, "GET", "/customers/me", data_of(Customer), timeout=timeout)


def _accounts(
    calls: CallContext, *, include_closed: bool = False, timeout: float | None = None
) -> Operation[list[Account]]:
    """The customer's accounts (``GET /customers/me/accounts``); closed ones only if asked."""
    decode_items = items_of(AccountAuthority)

    def decode(response: Response) -> list[Account]:
        found = decode_items(response)
        return [a.account for a in found if include_closed or not a.account.is_closed]

    return build_call(calls, "GET", "/customers/me/accounts", decode, timeout=timeout)


def _account(
    calls: CallContext, account_number: str, *, timeout: float | None = None
) -> Operation[Account]:
    """One account (``GET /customers/me/accounts/{n}``)."""
    path = encode_path("customers", "me", "accounts", _args.account_number(account_number))
    return build_call(calls, "GET", path, data_of(Account), timeout=timeout)


def _trading_status(
    calls: CallContext, account_number: str, *, timeout: float | None = None
) -> Operation[TradingStatus]:
    """What the account may trade (``GET /accounts/{n}/trading-status``)."""
    path = encode_path("accounts", _args.account_number(account_number), "trading-status")
    return build_call(calls, "GET", path, data_of(TradingStatus), timeout=timeout)


def _balances(
    calls: CallContext,
    account_number: str,
    *,
    currency: str | None = None,
    timeout: float | None = None,
) -> Operation[Balances]:
    """The account's balances (``GET /accounts/{n}/balances[/{currency}]``)."""
    segments = ["accounts", _args.account_number(account_number), "balances"]
    if currency is not None:
        segments.append(_args.segment(currency, "currency"))
    return build_call(calls, "GET", encode_path(*segments), data_of(Balances), timeout=timeout)


def _positions(
    calls: CallContext,
    account_number: str,
    *,
    underlying_symbols: Iterable[str] | str | None = None,
    symbol: str | None = None,
    instrument_type: InstrumentType | str | None = None,
    include_closed_positions: bool | None = None,
    underlying_product_code: str | None = None,
    partition_keys: Iterable[str] | str | None = None,
    net_positions: bool | None = None,
    include_marks: bool | None = None,
    timeout: float | None = None,
) -> Operation[list[Position]]:
    """The account's positions (``GET /accounts/{n}/positions``), optionally filtered.

    ``underlying_symbols`` and ``partition_keys`` take a list, or one string
    as one value (``underlying_symbols="AAPL"``); each value goes out under
    its own ``underlying-symbol[]`` / ``partition-keys[]`` key.
    """
    params = {
        "underlying-symbol[]": _args.strings(underlying_symbols, "underlying_symbols"),
        "symbol": symbol,
        "instrument-type": str(instrument_type) if instrument_type else None,
        "include-closed-positions": include_closed_positions,
        "underlying-product-code": underlying_product_code,
        "partition-keys[]": _args.strings(partition_keys, "partition_keys"),
        "net-positions": net_positions,
        "include-marks": include_marks,
    }
    path = encode_path("accounts", _args.account_number(account_number), "positions")
    return build_call(calls, "GET", path, items_of(Position), params=params, timeout=timeout)


def _balance_snapshots(
    calls: CallContext,
    account_number: str,
    *,
    snapshot_date: date | None = None,
    time_of_day: str | None = None,
    currency: str | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
    per_page: int = 250,
    timeout: float | None = None,
) -> Pager[Balances]:
    """Balances as they were (``GET /accounts/{n}/balance-snapshots``), a page at a time.

    Snapshots are taken at the beginning (``time_of_day="BOD"``) and end
    (``"EOD"``) of each day. With ``start_date``/``end_date`` the answer
    is each day of the range; with neither, the API sends a few snapshots
    (the oldest, or the one of ``snapshot_date``, and the most recent).
    """
    params = {
        "snapshot-date": _args.optional_day(snapshot_date, "snapshot_date"),
        "time-of-day": _args.choice(time_of_day, ("BOD", "EOD"), "time_of_day"),
        "currency": currency,
        "start-date": _args.optional_day(start_date, "start_date"),
        "end-date": _args.optional_day(end_date, "end_date"),
    }
    path = encode_path("accounts", _args.account_number(account_number), "balance-snapshots")
    return build_pager(
        calls, path, page_of(Balances), params, per_page=_args.per_page(per_page), timeout=timeout
    )


def _net_liquidating_value_history(
    calls: CallContext,
    account_number: str,
    *,
    time_back: str | None = None,
    start_time: datetime | None = None,
    timeout: float | None = None,
) -> Operation[list[NetLiqOhlc]]:
    """Net liquidating value over time (``GET /accounts/{n}/net-liq/history``).

    Give exactly one of ``time_back`` (one of :data:`TIME_BACK`) and
    ``start_time`` (an aware datetime; sent in UTC to the second).
    """
    if (time_back is None) == (start_time is None):
        raise LocalProtocolError("give exactly one of time_back and start_time")
    params: dict[str, str | None] = {
        "time-back": _args.choice(time_back, TIME_BACK, "time_back"),
        "start-time": None
        if start_time is None
        else _args.utc(start_time, "start_time").strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    path = encode_path("accounts", _args.account_number(account_number), "net-liq", "history")
    return build_call(calls, "GET", path, items_of(NetLiqOhlc), params=params, timeout=timeout)


def _transactions(
    calls: CallContext,
    account_number: str,
    *,
    per_page: int = 250,
    sort: str | None = None,
    type: TransactionType | str | None = None,
    types: Iterable[TransactionType | str] | str | None = None,
    sub_types: Iterable[str] | str | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    instrument_type: InstrumentType | str | None = None,
    symbol: str | None = None,
    underlying_symbol: str | None = None,
    action: str | None = None,
    partition_key: str | None = None,
    futures_symbol: str | None = None,
    currency: str | None = None,
    timeout: float | None = None,
) -> Pager[Transaction]:
    """The account's history (``GET /accounts/{n}/transactions``), a page at a time.

    ``sort`` is ``"Desc"`` (newest first, the API's default) or ``"Asc"``.
    ``type`` and ``types`` (any of :class:`TransactionType`) cannot be
    combined. ``start_date``/``end_date`` bound the transaction date,
    ``start_at``/``end_at`` (aware datetimes) the execution time.
    """
    kinds = _args.strings(types, "types")
    if type is not None and kinds is not None:
        raise LocalProtocolError("give type or types, not both (the API refuses the pair)")
    params = {
        "sort": _args.sort(sort),
        "type": str(type) if type is not None else None,
        "types[]": kinds,
        "sub-type[]": _args.strings(sub_types, "sub_types"),
        "start-date": _args.optional_day(start_date, "start_date"),
        "end-date": _args.optional_day(end_date, "end_date"),
        "start-at": _args.optional_moment(start_at, "start_at"),
        "end-at": _args.optional_moment(end_at, "end_at"),
        "instrument-type": str(instrument_type) if instrument_type is not None else None,
        "symbol": symbol,
        "underlying-symbol": underlying_symbol,
        "action": action,
        "partition-key": partition_key,
        "futures-symbol": futures_symbol,
        "currency": currency,
    }
    path = encode_path("accounts", _args.account_number(account_number), "transactions")
    return build_pager(
        calls,
        path,
        page_of(Transaction),
        params,
        per_page=_args.per_page(per_page),
        timeout=timeout,
    )


def _transaction(
    calls: CallContext,
    account_number: str,
    transaction_id: int | str,
    *,
    timeout: float | None = None,
) -> Operation[Transaction]:
    """One transaction by id (``GET /accounts/{n}/transactions/{id}``).

    ``transaction_id`` is an int or a string of digits, like an order id.
    """
    number = _args.identifier(transaction_id, "transaction id")
    path = encode_path("accounts", _args.account_number(account_number), "transactions", number)
    return build_call(calls, "GET", path, data_of(Transaction), timeout=timeout)


def _total_fees(
    calls: CallContext, account_number: str, day: date, *, timeout: float | None = None
) -> Operation[TotalFees]:
    """The account's fees on one day (``GET /accounts/{n}/transactions/total-fees?date=``)."""
    params = {"date": _args.day(day, "day")}
    path = encode_path(
        "accounts", _args.account_number(account_number), "transactions", "total-fees"
    )
    return build_call(calls, "GET", path, data_of(TotalFees), params=params, timeout=timeout)


# Where a margin report nests its objects: report -> groups (one per underlying)
# -> groups (strategies) -> position-entries.
_MARGIN_NESTING = ("groups", "groups", "position-entries")


def _cleaned(value: Any, depth: int = 0) -> Any:
    # The margin report writes "no value" as the string "NaN" (fixing-price,
    # average-open-price...) and sometimes puts empty {} entries among its groups:
    # the first read as missing values, the second are left out. Anything else
    # unexpected is left as it is for the decoder to name.
    if isinstance(value, list):
        return [_cleaned(v, depth) if isinstance(v, dict) else v for v in value if v != {}]
    if not isinstance(value, dict):
        return value
    out = {key: None if item == "NaN" else item for key, item in value.items()}
    if depth < len(_MARGIN_NESTING) and _MARGIN_NESTING[depth] in out:
        nested = _MARGIN_NESTING[depth]
        out[nested] = _cleaned(out[nested], depth + 1)
    return out


def _margin_report(response: Response) -> MarginReport:
    data = _cleaned(decode_envelope(response).data)
    return decode_model(MarginReport, data, what="data")


def _margin_requirements(
    calls: CallContext, account_number: str, *, timeout: float | None = None
) -> Operation[MarginReport]:
    """The account's margin report (``GET /margin/accounts/{n}/requirements``).

    Values the API writes as ``"NaN"`` read as ``None``; the empty ``{}``
    entries it sometimes puts in ``groups`` are left out.
    """
    path = encode_path("margin", "accounts", _args.account_number(account_number), "requirements")
    return build_call(calls, "GET", path, _margin_report, timeout=timeout)


class AccountsAPI:
    """Customer, account, balance, position, history and margin endpoints (in every session)."""

    customer = Endpoint(_customer)
    accounts = Endpoint(_accounts)
    account = Endpoint(_account)
    trading_status = Endpoint(_trading_status)
    balances = Endpoint(_balances)
    balance_snapshots = Paged(_balance_snapshots)
    positions = Endpoint(_positions)
    net_liquidating_value_history = Endpoint(_net_liquidating_value_history)
    transactions = Paged(_transactions)
    transaction = Endpoint(_transaction)
    total_fees = Endpoint(_total_fees)
    margin_requirements = Endpoint(_margin_requirements)
