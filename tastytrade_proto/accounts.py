"""Customer and accounts, money and holdings: the ``/customers`` and ``/accounts`` areas.

Endpoints (on every session, see :mod:`tastytrade_proto.endpoint`):
:attr:`AccountsAPI.customer`, :attr:`~AccountsAPI.accounts`,
:attr:`~AccountsAPI.account`, :attr:`~AccountsAPI.trading_status`,
:attr:`~AccountsAPI.balances`, :attr:`~AccountsAPI.positions`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

from .endpoint import Endpoint, data_of, items_of, send
from .http import Response, encode_path
from .models import ApiEnum, Effect, Model, model
from .operation import Operation

if TYPE_CHECKING:
    from .client import SessionCalls

__all__ = [
    "Account",
    "AccountAuthority",
    "AccountsAPI",
    "Address",
    "Balances",
    "Customer",
    "InstrumentType",
    "Position",
    "QuantityDirection",
    "TradingStatus",
]


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
    """The logged-in customer (``GET /customers/me``); sandbox customers omit most fields."""

    id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    external_id: str | None = None
    address: Address | None = None
    mailing_address: Address | None = None
    mobile_phone_number: str | None = field(default=None, repr=False)
    birth_date: date | None = field(default=None, repr=False)
    is_professional: bool | None = None
    has_delayed_quotes: bool | None = None
    permitted_account_types: tuple[object, ...] = ()
    created_at: datetime | None = None


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


def _customer(calls: SessionCalls) -> Operation[Customer]:
    """The logged-in customer (``GET /customers/me``)."""
    return send(calls, "GET", "/customers/me", data_of(Customer))


def _accounts(calls: SessionCalls, *, include_closed: bool = False) -> Operation[list[Account]]:
    """The customer's accounts (``GET /customers/me/accounts``); closed ones only if asked."""
    decode_items = items_of(AccountAuthority)

    def decode(response: Response) -> list[Account]:
        found = decode_items(response)
        return [a.account for a in found if include_closed or not a.account.is_closed]

    return send(calls, "GET", "/customers/me/accounts", decode)


def _account(calls: SessionCalls, account_number: str) -> Operation[Account]:
    """One account (``GET /customers/me/accounts/{n}``)."""
    path = encode_path("customers", "me", "accounts", account_number)
    return send(calls, "GET", path, data_of(Account))


def _trading_status(calls: SessionCalls, account_number: str) -> Operation[TradingStatus]:
    """What the account may trade (``GET /accounts/{n}/trading-status``)."""
    path = encode_path("accounts", account_number, "trading-status")
    return send(calls, "GET", path, data_of(TradingStatus))


def _balances(
    calls: SessionCalls, account_number: str, *, currency: str | None = None
) -> Operation[Balances]:
    """The account's balances (``GET /accounts/{n}/balances[/{currency}]``)."""
    segments = ["accounts", account_number, "balances"]
    if currency is not None:
        segments.append(currency)
    return send(calls, "GET", encode_path(*segments), data_of(Balances))


def _positions(
    calls: SessionCalls,
    account_number: str,
    *,
    underlying_symbols: Iterable[str] | None = None,
    symbol: str | None = None,
    instrument_type: InstrumentType | str | None = None,
    include_closed_positions: bool | None = None,
    underlying_product_code: str | None = None,
    partition_keys: Iterable[str] | None = None,
    net_positions: bool | None = None,
    include_marks: bool | None = None,
) -> Operation[list[Position]]:
    """The account's positions (``GET /accounts/{n}/positions``), optionally filtered."""
    params = {
        "underlying-symbol[]": list(underlying_symbols) if underlying_symbols else None,
        "symbol": symbol,
        "instrument-type": str(instrument_type) if instrument_type else None,
        "include-closed-positions": include_closed_positions,
        "underlying-product-code": underlying_product_code,
        "partition-keys[]": list(partition_keys) if partition_keys else None,
        "net-positions": net_positions,
        "include-marks": include_marks,
    }
    path = encode_path("accounts", account_number, "positions")
    return send(calls, "GET", path, items_of(Position), params=params)


class AccountsAPI:
    """Customer, account, balance and position endpoints (mixed into every session)."""

    customer = Endpoint(_customer)
    accounts = Endpoint(_accounts)
    account = Endpoint(_account)
    trading_status = Endpoint(_trading_status)
    balances = Endpoint(_balances)
    positions = Endpoint(_positions)
