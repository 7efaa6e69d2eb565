"""Orders: build and check them, dry-run, place safely, replace, edit, cancel, read, complex.

Three layers live here:

* **What you send**: :class:`NewLeg`, :class:`NewOrder`, :class:`NewComplexOrder` and
  :class:`Replacement` are frozen values checked when they are built; a rule
  the API would refuse raises :class:`InvalidOrder` before anything is sent.
  Amounts are *signed* (a debit is negative, as everywhere in this library);
  ``to_json()`` splits them into the API's ``price`` + ``price-effect`` through
  :func:`~tastytrade_proto.models.unsigned`, and is exactly the body sent.
* **What comes back**: the models :class:`Order`, :class:`OrderResponse`,
  :class:`ComplexOrder`, ... all tolerant of missing and unknown fields.
* **The endpoints** on :class:`OrdersAPI`.

Placing an order is not idempotent (the API has no idempotency key), so
:attr:`OrdersAPI.place_order` sends its ``POST`` exactly once, always with an
``external-identifier`` (the caller's, or one drawn from the session's entropy).
Every way it can end is one of three things a caller acts on differently:

* placed: a :class:`PlacedOrder`;
* certainly not placed (the server refused it, or nothing reached the server):
  :class:`OrderNotPlaced`, safe to correct and place again;
* unknown (the connection broke after the request went out, a timeout, a 5xx,
  an unreadable answer, and the order did not show among the account's orders
  after looking :data:`RECONCILE_DELAYS` apart): :class:`OrderOutcomeUnknown`.
  The order may still appear: look again later by its identifier
  (:attr:`OrdersAPI.find_order`), never place it again blindly.

A caller cancelled while the ``POST`` is out does not learn which; the session
keeps such orders in ``unsettled_orders`` until they are looked up.
"""

from __future__ import annotations

import base64
import enum
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from . import _args
from .accounts import InstrumentType, QuantityDirection
from .errors import (
    DecodeError,
    LocalProtocolError,
    RateLimited,
    ResponseError,
    ServerError,
    TastytradeError,
    TransportError,
)
from .instruments import TickSize, tick_size_for
from .models import (
    ApiEnum,
    Effect,
    M,
    Model,
    data_of,
    decode_list,
    decode_model,
    model,
    page_of,
    show_value,
    unsigned,
)
from .protocol import flows
from .protocol.auth import AuthMachine
from .protocol.endpoint import CallContext, Endpoint, Paged, Pager, build_call, build_pager
from .protocol.envelope import Envelope, decode_envelope, error_from_response
from .protocol.http import QueryValue, Request, Response, encode_path
from .protocol.operation import Context, Flow, Operation, Send, Wait
from .protocol.retry import RetryPolicy
from .values import frozen, replace

__all__ = [
    "MAX_LEGS",
    "RECONCILE_CLOCK_SKEW",
    "RECONCILE_DELAYS",
    "BuyingPowerEffect",
    "ComplexOrder",
    "ComplexOrderType",
    "FeeBreakdownItem",
    "FeeCalculation",
    "Fill",
    "InvalidOrder",
    "MarginDryRunResult",
    "NewComplexOrder",
    "NewLeg",
    "NewOrder",
    "Order",
    "OrderAction",
    "OrderCondition",
    "OrderLeg",
    "OrderMessage",
    "OrderNotPlaced",
    "OrderOutcomeUnknown",
    "OrderResponse",
    "OrderRule",
    "OrderStatus",
    "OrderType",
    "OrdersAPI",
    "PlacedComplexOrder",
    "PlacedOrder",
    "PriceComponent",
    "RelatedOrder",
    "Replacement",
    "TickSizeError",
    "TimeInForce",
    "UnsettledOrder",
    "check_tick",
    "new_external_identifier",
]

T = TypeVar("T")

#: The most legs one order may have.
MAX_LEGS = 4

#: Seconds waited before each look for an order whose placement had an unknown
#: outcome (a timeout, a 5xx, a broken answer). A server still working on the
#: request can show the order late, so the looks are spread over 15.5 s:
#: 0.5, 1, 2, 4 and 8 s apart. ``place_order`` takes others.
RECONCILE_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)

#: An order found by its identifier counts as this placement's only if the
#: server received it no earlier than this many seconds before the request was
#: sent (clocks differ); an older one is an earlier use of the same identifier.
RECONCILE_CLOCK_SKEW = 120.0

# A look-up reads at most this many pages of the day's orders.
_MAX_LOOKUP_PAGES = 100
# Identifiers, sources and symbols longer than this are refused.
_MAX_TEXT = 255
_MAX_SYMBOL = 64
# Amounts with more digits than these either side of the point are refused.
_MAX_ADJUSTED = 15
_MIN_EXPONENT = -18


# -- errors -------------------------------------------------------------------------------


class InvalidOrder(LocalProtocolError):
    """An order (or leg, replacement, complex order) breaks a rule of the API.

    Raised when the value is built, before anything is sent; the message
    says which rule.
    """


class TickSizeError(InvalidOrder):
    """A price is not a multiple of the tick size that applies to it.

    ``price`` is the (signed) price checked, ``increment`` the tick it must be
    a multiple of.
    """

    def __init__(self, message: str, *, price: Decimal, increment: Decimal) -> None:
        super().__init__(message)
        self.price = price
        self.increment = increment


class OrderNotPlaced(TastytradeError):
    """The order was certainly not placed: correct it if need be, and place it again.

    Raised by ``place_order`` and ``place_complex_order`` when the server
    refused the ``POST`` (a 4xx: ``error`` is the
    :class:`~tastytrade_proto.errors.ApiError`, with its code and reasons;
    a 429 included), when nothing of it reached the server (``error`` is a
    :class:`~tastytrade_proto.errors.TransportError` with ``request_sent``
    false), or when the session could not be renewed before sending. The
    same ``error`` is ``__cause__``.
    """

    def __init__(self, message: str, *, external_identifier: str, error: TastytradeError) -> None:
        super().__init__(message)
        self.external_identifier = external_identifier
        self.error = error


class OrderOutcomeUnknown(TastytradeError):
    """Whether the order was placed is not known: never place it again blindly.

    The ``POST`` failed ambiguously (a transport error after it went out, a
    timeout, a 5xx, or a 2xx whose answer could not be read; that error is
    ``__cause__``), and looking the order up by ``external_identifier``
    afterwards did not settle it:

    * ``looks`` looks over :data:`RECONCILE_DELAYS` did not find it. The server
      may still be working on the request: look again later
      (``find_order(account_number, external_identifier)``);
    * ``accepted``: the server answered 2xx, so it *was* placed, but the
      order has not shown among the account's orders yet;
    * ``lookup_error``: the look-up itself failed.
    """

    def __init__(
        self,
        message: str,
        *,
        external_identifier: str,
        lookup_error: TastytradeError | None = None,
        accepted: bool = False,
        looks: int = 0,
    ) -> None:
        super().__init__(message)
        self.external_identifier = external_identifier
        self.lookup_error = lookup_error
        self.accepted = accepted
        self.looks = looks


@frozen
class UnsettledOrder:
    """A placement whose caller never learned the outcome (its call was cancelled).

    Kept in the session's ``unsettled_orders`` from the moment its ``POST``
    goes out until the placement's result or error reaches the caller, or
    ``find_order`` / ``find_complex_order`` finds it. ``sent_at`` is the
    client's clock when the placement started (aware, UTC).
    """

    account_number: str
    external_identifier: str
    sent_at: datetime
    complex: bool = False


# -- vocabularies -------------------------------------------------------------------------


class OrderStatus(ApiEnum):
    """Where an order is in its life (``Cancelled`` is spelled as the API does)."""

    RECEIVED = "Received"
    ROUTED = "Routed"
    IN_FLIGHT = "In Flight"
    CONTINGENT = "Contingent"
    LIVE = "Live"
    CANCEL_REQUESTED = "Cancel Requested"
    REPLACE_REQUESTED = "Replace Requested"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"
    EXPIRED = "Expired"
    REMOVED = "Removed"
    PARTIALLY_REMOVED = "Partially Removed"

    @property
    def terminal(self) -> bool:
        """Whether the order can no longer change (filled, cancelled, rejected, ...)."""
        return self.value in _TERMINAL


_TERMINAL = frozenset(
    {"Filled", "Cancelled", "Rejected", "Expired", "Removed", "Partially Removed"}
)


class OrderType(ApiEnum):
    """How an order is priced."""

    LIMIT = "Limit"
    MARKET = "Market"
    MARKETABLE_LIMIT = "Marketable Limit"
    STOP = "Stop"
    STOP_LIMIT = "Stop Limit"
    NOTIONAL_MARKET = "Notional Market"


class TimeInForce(ApiEnum):
    """How long an order works. ``GTD`` needs a ``gtc_date`` (the API's name for it)."""

    DAY = "Day"
    GTC = "GTC"
    GTD = "GTD"
    EXT = "Ext"
    GTC_EXT = "GTC Ext"
    EXT_OVERNIGHT = "Ext Overnight"
    GTC_EXT_OVERNIGHT = "GTC Ext Overnight"
    IOC = "IOC"


class OrderAction(ApiEnum):
    """What a leg does. ``Buy`` and ``Sell`` are for a single outright future only."""

    BUY_TO_OPEN = "Buy to Open"
    SELL_TO_OPEN = "Sell to Open"
    BUY_TO_CLOSE = "Buy to Close"
    SELL_TO_CLOSE = "Sell to Close"
    BUY = "Buy"
    SELL = "Sell"

    @property
    def buys(self) -> bool:
        """Whether the leg buys (``Buy``, ``Buy to Open``, ``Buy to Close``)."""
        return self.value.startswith("Buy")

    @property
    def opens(self) -> bool:
        """Whether the leg opens a position (``... to Open``)."""
        return self.value.endswith("to Open")


class ComplexOrderType(ApiEnum):
    """How the orders of a complex order depend on each other."""

    OCO = "OCO"  #: one cancels the other
    OTO = "OTO"  #: one triggers the other
    OTOCO = "OTOCO"  #: one triggers a one-cancels-the-other pair
    PAIRS = "PAIRS"  #: a pair trade


# -- models of what the API returns -------------------------------------------------------


@model
class Fill(Model):
    """One execution of a leg."""

    fill_id: str | None = None
    quantity: Decimal | None = None
    fill_price: Decimal | None = None
    filled_at: datetime | None = None
    destination_venue: str | None = None
    ext_exec_id: str | None = None
    ext_group_fill_id: str | None = None


@model
class OrderLeg(Model):
    """One leg of an order as the API reports it."""

    instrument_type: InstrumentType | None = None
    symbol: str | None = None
    quantity: Decimal | None = None
    remaining_quantity: Decimal | None = None
    action: OrderAction | None = None
    fills: tuple[Fill, ...] = ()


@model
class PriceComponent(Model):
    """One instrument in a condition's price."""

    symbol: str | None = None
    instrument_type: InstrumentType | None = None
    quantity: Decimal | None = None
    quantity_direction: QuantityDirection | None = None


@model
class OrderCondition(Model):
    """A condition of an order's rules (route or cancel when a price crosses a threshold)."""

    id: int | None = None
    action: str | None = None
    symbol: str | None = None
    instrument_type: InstrumentType | None = None
    indicator: str | None = None
    comparator: str | None = None
    threshold: Decimal | None = None
    is_threshold_based_on_notional: bool | None = None
    triggered_at: datetime | None = None
    triggered_value: Decimal | None = None
    price_components: tuple[PriceComponent, ...] = ()


@model
class OrderRule(Model):
    """An order's rules: when it routes or is cancelled, and on which conditions.

    Orders carry them as ``rules`` (with ``conditions``) or, in the API's
    schema, as ``order-rule`` (with ``order-conditions``): both are read.
    """

    route_after: datetime | None = None
    routed_at: datetime | None = None
    cancel_at: datetime | None = None
    cancelled_at: datetime | None = None
    conditions: tuple[OrderCondition, ...] = ()
    order_conditions: tuple[OrderCondition, ...] = ()


@model
class Order(Model):
    """An order as the API reports it. ``price`` and ``value`` are signed: a debit is negative.

    A dry-run's order has no ``id``. ``updated_at`` arrives as epoch
    milliseconds or ISO text; both become an aware datetime (a dry run's
    ``0`` is the epoch).
    """

    id: int | None = None
    account_number: str | None = None
    status: OrderStatus | None = None
    contingent_status: str | None = None
    time_in_force: TimeInForce | None = None
    gtc_date: date | None = None
    order_type: OrderType | None = None
    size: Decimal | None = None
    underlying_symbol: str | None = None
    underlying_instrument_type: InstrumentType | None = None
    price: Annotated[Decimal | None, Effect("price-effect")] = None
    value: Annotated[Decimal | None, Effect("value-effect")] = None
    stop_trigger: Decimal | None = None
    cancellable: bool | None = None
    editable: bool | None = None
    edited: bool | None = None
    external_identifier: str | None = None
    source: str | None = None
    ext_exchange_order_number: str | None = None
    ext_client_order_id: str | None = None
    ext_global_order_number: int | None = None
    global_request_id: str | None = None
    received_at: datetime | None = None
    updated_at: datetime | None = None
    in_flight_at: datetime | None = None
    live_at: datetime | None = None
    cancelled_at: datetime | None = None
    terminal_at: datetime | None = None
    cancelled_size: Decimal | None = None
    reject_reason: str | None = None
    replaces_order_id: int | None = None
    replacing_order_id: int | None = None
    complex_order_id: int | None = None
    complex_order_tag: str | None = None
    preflight_id: str | None = None
    leg_count: int | None = None
    user_id: str | None = None
    username: str | None = None
    cancel_user_id: str | None = None
    cancel_username: str | None = None
    legs: tuple[OrderLeg, ...] = ()
    rules: OrderRule | None = None
    order_rule: OrderRule | None = None


@model
class BuyingPowerEffect(Model):
    """What an order does to buying power. Every amount is signed: a debit is negative.

    ``impact`` is the API's ``impact`` signed by its ``effect``.
    """

    change_in_margin_requirement: Annotated[
        Decimal | None, Effect("change-in-margin-requirement-effect")
    ] = None
    change_in_buying_power: Annotated[Decimal | None, Effect("change-in-buying-power-effect")] = (
        None
    )
    current_buying_power: Annotated[Decimal | None, Effect("current-buying-power-effect")] = None
    new_buying_power: Annotated[Decimal | None, Effect("new-buying-power-effect")] = None
    isolated_order_margin_requirement: Annotated[
        Decimal | None, Effect("isolated-order-margin-requirement-effect")
    ] = None
    is_spread: bool | None = None
    impact: Annotated[Decimal | None, Effect("effect")] = None


@model
class FeeBreakdownItem(Model):
    """One named part of a fee (``sec``, ``clearing``, ...), signed: a debit is negative."""

    name: str | None = None
    value: Annotated[Decimal | None, Effect("effect")] = None


@model
class FeeCalculation(Model):
    """An order's fees. Every amount is signed: a fee paid (a debit) is negative."""

    regulatory_fees: Annotated[Decimal | None, Effect("regulatory-fees-effect")] = None
    clearing_fees: Annotated[Decimal | None, Effect("clearing-fees-effect")] = None
    commission: Annotated[Decimal | None, Effect("commission-effect")] = None
    proprietary_index_option_fees: Annotated[
        Decimal | None, Effect("proprietary-index-option-fees-effect")
    ] = None
    rebates: Annotated[Decimal | None, Effect("rebates-effect")] = None
    total_fees: Annotated[Decimal | None, Effect("total-fees-effect")] = None
    regulatory_fees_breakdown: tuple[FeeBreakdownItem, ...] = ()
    clearing_fees_breakdown: tuple[FeeBreakdownItem, ...] = ()
    commission_breakdown: tuple[FeeBreakdownItem, ...] = ()
    proprietary_fees_breakdown: tuple[FeeBreakdownItem, ...] = ()
    rebates_breakdown: tuple[FeeBreakdownItem, ...] = ()
    per_quantity: bool | None = None


@model
class OrderMessage(Model):
    """A warning, error or note about an order (``code`` is stable; ``message`` is for people)."""

    code: str | None = None
    message: str | None = None
    preflight_id: str | None = None
    url: str | None = None


@model
class RelatedOrder(Model):
    """An order that belonged to a complex order earlier (replaced, unfilled, terminal)."""

    id: int | None = None
    complex_order_id: int | None = None
    complex_order_tag: str | None = None
    replaces_order_id: int | None = None
    replacing_order_id: int | None = None
    status: OrderStatus | None = None


@model
class ComplexOrder(Model):
    """A complex order (OCO, OTO, OTOCO, PAIRS): a trigger order and the orders it governs."""

    id: int | None = None
    account_number: str | None = None
    type: ComplexOrderType | None = None
    terminal_at: datetime | None = None
    ratio_price_threshold: Decimal | None = None
    ratio_price_comparator: str | None = None
    ratio_price_is_threshold_based_on_notional: bool | None = None
    trigger_order: Order | None = None
    orders: tuple[Order, ...] = ()
    related_orders: tuple[RelatedOrder, ...] = ()

    @property
    def components(self) -> tuple[Order, ...]:
        """The trigger order (if any), then the other orders."""
        return ((self.trigger_order,) if self.trigger_order else ()) + self.orders


@model
class OrderResponse(Model):
    """The answer to a placement or a dry run: the order, its effects and the server's notes."""

    order: Order | None = None
    complex_order: ComplexOrder | None = None
    buying_power_effect: BuyingPowerEffect | None = None
    fee_calculation: FeeCalculation | None = None
    closing_fee_calculation: FeeCalculation | None = None
    warnings: tuple[OrderMessage, ...] = ()
    errors: tuple[OrderMessage, ...] = ()
    notes: tuple[OrderMessage, ...] = ()


@model
class MarginDryRunResult(Model):
    """What an order would do to the account's margin (``POST /margin/accounts/{n}/dry-run``).

    Every amount is signed: a debit is negative. ``sufficient`` says whether
    buying power covers the order.
    """

    sufficient: bool | None = None
    is_spread: bool | None = None
    change_in_margin_requirement: Annotated[
        Decimal | None, Effect("change-in-margin-requirement-effect")
    ] = None
    isolated_order_margin_requirement: Annotated[
        Decimal | None, Effect("isolated-order-margin-requirement-effect")
    ] = None
    current_buying_power: Annotated[Decimal | None, Effect("current-buying-power-effect")] = None
    new_buying_power: Annotated[Decimal | None, Effect("new-buying-power-effect")] = None
    change_in_buying_power: Annotated[Decimal | None, Effect("change-in-buying-power-effect")] = (
        None
    )
    current_maintenance_buying_power: Annotated[
        Decimal | None, Effect("current-maintenance-buying-power-effect")
    ] = None
    current_sma_buying_power: Annotated[
        Decimal | None, Effect("current-sma-buying-power-effect")
    ] = None
    change_in_sma: Annotated[Decimal | None, Effect("change-in-sma-effect")] = None
    change_in_long_derivative_value: Decimal | None = None
    change_in_short_derivative_value: Decimal | None = None


# -- results of placing -------------------------------------------------------------------


@frozen
class PlacedOrder:
    """An order that was placed.

    ``reconciled`` is ``True`` when the placement's answer was lost and the
    order was found afterwards among the account's orders (by
    ``external_identifier``); then ``response`` is ``None`` (no buying-power
    effect or fees came back) and ``order`` is the order as found.
    """

    order: Order
    external_identifier: str
    reconciled: bool = False
    response: OrderResponse | None = None

    @property
    def buying_power_effect(self) -> BuyingPowerEffect | None:
        """The placement answer's buying-power effect (``None`` when reconciled)."""
        return self.response.buying_power_effect if self.response else None

    @property
    def fee_calculation(self) -> FeeCalculation | None:
        """The placement answer's fees (``None`` when reconciled)."""
        return self.response.fee_calculation if self.response else None

    @property
    def warnings(self) -> tuple[OrderMessage, ...]:
        """The placement answer's warnings (none when reconciled)."""
        return self.response.warnings if self.response else ()


@frozen
class PlacedComplexOrder:
    """A complex order that was placed (see :class:`PlacedOrder` for ``reconciled``).

    When reconciled, ``complex_order`` is the complex order as found; in the
    unlikely case that only its orders were found (and they name no complex
    order), it is ``None`` and ``orders`` holds them.
    """

    complex_order: ComplexOrder | None
    external_identifier: str
    reconciled: bool = False
    response: OrderResponse | None = None
    orders: tuple[Order, ...] = ()

    @property
    def warnings(self) -> tuple[OrderMessage, ...]:
        """The placement answer's warnings (none when reconciled)."""
        return self.response.warnings if self.response else ()


# -- checking what the caller gives -------------------------------------------------------

_ORDERABLE = frozenset(
    {
        InstrumentType.EQUITY,
        InstrumentType.EQUITY_OPTION,
        InstrumentType.FUTURE,
        InstrumentType.FUTURE_OPTION,
        InstrumentType.CRYPTOCURRENCY,
        InstrumentType.EVENT_CONTRACT,
        InstrumentType.FIXED_INCOME_SECURITY,
        InstrumentType.LIQUIDITY_POOL,
    }
)
# At most one leg of each of these per order.
_OUTRIGHT = (InstrumentType.EQUITY, InstrumentType.FUTURE, InstrumentType.CRYPTOCURRENCY)
_LONG_LIVED = frozenset(
    {TimeInForce.GTC, TimeInForce.GTD, TimeInForce.GTC_EXT, TimeInForce.GTC_EXT_OVERNIGHT}
)
_PRICED = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_TRIGGERED = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
_UNPRICED = frozenset({OrderType.MARKET, OrderType.STOP, OrderType.NOTIONAL_MARKET})

E = TypeVar("E", bound=ApiEnum)


def _enum(kind: type[E], value: Any, what: str) -> E:
    """``value`` as a *known* member of ``kind``, or :class:`InvalidOrder`."""
    member: E | None = None
    if isinstance(value, kind):
        member = value
    elif isinstance(value, str):
        try:
            member = kind(value)
        except ValueError:
            member = None
    if member is None or not member.known:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise InvalidOrder(f"{what} must be one of {allowed}; got {show_value(value)}")
    return member


def _decimal(value: Any, what: str) -> Decimal:
    """``value`` (a Decimal, int or decimal string) as a finite Decimal of sane size."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        hint = (
            " (use Decimal or a string: a float is not exact)" if isinstance(value, float) else ""
        )
        raise InvalidOrder(
            f"{what} must be a Decimal, an int or a decimal string{hint}; got {show_value(value)}"
        )
    if isinstance(value, str) and len(value) > 60:
        raise InvalidOrder(f"{what} is not a decimal: {show_value(value)}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, ValueError):
        raise InvalidOrder(f"{what} is not a decimal: {show_value(value)}") from None
    if not number.is_finite():
        raise InvalidOrder(f"{what} must be a finite number, got {number}")
    exponent = number.as_tuple().exponent
    if number and (
        number.adjusted() > _MAX_ADJUSTED
        or (isinstance(exponent, int) and exponent < _MIN_EXPONENT)
    ):
        raise InvalidOrder(f"{what} {number} has too many digits")
    return number


def _text(value: Any, what: str, limit: int = _MAX_TEXT) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidOrder(f"{what} must be a non-empty string, got {show_value(value)}")
    if len(value) > limit:
        raise InvalidOrder(f"{what} is longer than {limit} characters")
    if not value.isprintable() or value != value.strip():
        raise InvalidOrder(
            f"{what} must be printable, without leading or trailing spaces: {show_value(value)}"
        )
    return value


def _plain(number: Decimal) -> str:
    """A Decimal as the API reads it: positional notation, never an exponent."""
    return format(number, "f")


def _as_date(value: Any, what: str) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidOrder(f"{what} must be a date (not a datetime), got {show_value(value)}")
    return value


def _check_terms(
    order_type: OrderType,
    time_in_force: TimeInForce,
    price: Decimal | None,
    stop_trigger: Decimal | None,
    value: Decimal | None,
    gtc_date: date | None,
) -> None:
    """The rules relating order type, prices and time in force (shared by orders and changes)."""
    kind = order_type.value
    if order_type in _PRICED and price is None:
        raise InvalidOrder(f"a {kind} order needs a price (negative for a debit)")
    if order_type in _UNPRICED and price is not None:
        raise InvalidOrder(f"a {kind} order has no price")
    if price is not None and price == 0:
        raise InvalidOrder("the price must not be zero: the API needs it to be a debit or a credit")
    if order_type in _TRIGGERED and stop_trigger is None:
        raise InvalidOrder(f"a {kind} order needs a stop_trigger")
    if order_type not in _TRIGGERED and stop_trigger is not None:
        raise InvalidOrder(f"only Stop and Stop Limit orders have a stop_trigger, not {kind}")
    if stop_trigger is not None and stop_trigger <= 0:
        raise InvalidOrder(f"the stop_trigger must be positive, got {stop_trigger}")
    if order_type is OrderType.NOTIONAL_MARKET:
        if value is None:
            raise InvalidOrder("a Notional Market order needs a value (negative for a debit)")
        if value == 0:
            raise InvalidOrder("the value must not be zero: it must be a debit or a credit")
    elif value is not None:
        raise InvalidOrder(f"only Notional Market orders have a value, not {kind}")
    if time_in_force is TimeInForce.GTD and gtc_date is None:
        raise InvalidOrder("a GTD order needs a gtc_date (the day it expires)")
    if time_in_force is not TimeInForce.GTD and gtc_date is not None:
        raise InvalidOrder(f"only GTD orders have a gtc_date, not {time_in_force.value}")
    if order_type in (OrderType.MARKET, OrderType.NOTIONAL_MARKET) and (
        time_in_force in _LONG_LIVED
    ):
        raise InvalidOrder(
            f"a {kind} order cannot be {time_in_force.value}: market orders are never GTC or GTD"
        )


def _optional_decimal(value: Any, what: str) -> Decimal | None:
    return None if value is None else _decimal(value, what)


# -- what the caller sends ----------------------------------------------------------------


class _Keep(enum.Enum):
    """The default of a term :meth:`NewOrder.replacement` leaves as it is."""

    KEEP = "keep"

    def __repr__(self) -> str:
        return "<unchanged>"


_KEEP = _Keep.KEEP


@frozen
class NewLeg:
    """One leg of an order to send: what, which way, how many.

    ``quantity`` is a positive whole number (an ``int`` or a whole
    ``Decimal``), except for a ``Cryptocurrency`` leg or an equity leg marked
    ``fractional=True`` (a fractional-eligible equity), which may be
    fractional; it is ``None`` only in a Notional Market order. ``symbol`` is
    sent as given (an option's OCC symbol keeps its padding). ``fractional``
    is not sent.
    """

    instrument_type: InstrumentType
    symbol: str
    action: OrderAction
    quantity: Decimal | None = None
    fractional: bool = False

    def __post_init__(self) -> None:
        kind = _enum(InstrumentType, self.instrument_type, "instrument_type")
        if kind not in _ORDERABLE:
            allowed = ", ".join(sorted(repr(k.value) for k in _ORDERABLE))
            raise InvalidOrder(
                f"legs of instrument type {kind.value!r} cannot be ordered (one of {allowed})"
            )
        symbol = _text(self.symbol, "symbol", _MAX_SYMBOL)
        action = _enum(OrderAction, self.action, "action")
        if not isinstance(self.fractional, bool):
            raise InvalidOrder(
                f"fractional must be True or False, got {show_value(self.fractional)}"
            )
        if self.fractional and kind is not InstrumentType.EQUITY:
            raise InvalidOrder(
                "only an equity leg can be marked fractional "
                "(cryptocurrency quantities are always allowed fractions)"
            )
        if action in (OrderAction.BUY, OrderAction.SELL) and kind is not InstrumentType.FUTURE:
            raise InvalidOrder(
                f"{action.value!r} is only for futures; a {kind.value} leg needs "
                f"'{action.value} to Open' or '{action.value} to Close'"
            )
        quantity = _optional_decimal(self.quantity, f"the quantity of {symbol}")
        if quantity is not None:
            if quantity <= 0:
                raise InvalidOrder(f"the quantity of {symbol} must be positive, got {quantity}")
            whole = quantity == quantity.to_integral_value()
            if not whole and not (self.fractional or kind is InstrumentType.CRYPTOCURRENCY):
                raise InvalidOrder(
                    f"the quantity of {symbol} must be a whole number, got {quantity} "
                    "(fractions are for cryptocurrency, or equities marked fractional=True)"
                )
        object.__setattr__(self, "instrument_type", kind)
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "quantity", quantity)

    @classmethod
    def equity(
        cls,
        symbol: str,
        action: OrderAction | str,
        quantity: Decimal | int | str | None = None,
        *,
        fractional: bool = False,
    ) -> NewLeg:
        """An equity leg (``BRK/B`` is written as such)."""
        return cls(InstrumentType.EQUITY, symbol, action, quantity, fractional)  # type: ignore[arg-type]

    @classmethod
    def equity_option(
        cls, symbol: str, action: OrderAction | str, quantity: Decimal | int | str
    ) -> NewLeg:
        """An equity option leg (``symbol`` in OCC form, root padded to six characters)."""
        return cls(InstrumentType.EQUITY_OPTION, symbol, action, quantity)  # type: ignore[arg-type]

    @classmethod
    def future(
        cls, symbol: str, action: OrderAction | str, quantity: Decimal | int | str
    ) -> NewLeg:
        """A future leg (``/ESZ6``)."""
        return cls(InstrumentType.FUTURE, symbol, action, quantity)  # type: ignore[arg-type]

    @classmethod
    def future_option(
        cls, symbol: str, action: OrderAction | str, quantity: Decimal | int | str
    ) -> NewLeg:
        """A future option leg (``./ESZ6 EW4Z6 261218C6000``)."""
        return cls(InstrumentType.FUTURE_OPTION, symbol, action, quantity)  # type: ignore[arg-type]

    @classmethod
    def crypto(
        cls, symbol: str, action: OrderAction | str, quantity: Decimal | int | str | None = None
    ) -> NewLeg:
        """A cryptocurrency leg (``BTC/USD``); the quantity may be fractional."""
        return cls(InstrumentType.CRYPTOCURRENCY, symbol, action, quantity)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        """The leg as the API reads it (a whole quantity as a number, a fraction as a string)."""
        body: dict[str, Any] = {
            "instrument-type": self.instrument_type.value,
            "symbol": self.symbol,
            "action": self.action.value,
        }
        if self.quantity is not None:
            whole = self.quantity == self.quantity.to_integral_value()
            body["quantity"] = int(self.quantity) if whole else _plain(self.quantity)
        return body


def _legs(value: Any) -> tuple[NewLeg, ...]:
    if isinstance(value, NewLeg):
        return (value,)
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidOrder(f"legs must be a NewLeg or a sequence of them, got {show_value(value)}")
    legs = tuple(value)
    for leg in legs:
        if not isinstance(leg, NewLeg):
            raise InvalidOrder(f"each leg must be a NewLeg, got {show_value(leg)}")
    return legs


@frozen
class NewOrder:
    """An order to send, checked against the API's rules when it is built.

    ``price`` (Limit, Stop Limit, optionally Marketable Limit) and ``value``
    (Notional Market) are signed: **negative is a debit** (you pay), positive
    a credit. ``stop_trigger`` (Stop, Stop Limit) is a plain positive price.
    ``gtc_date`` is for GTD orders only. ``external_identifier`` is your name
    for the order (echoed back on it); :attr:`OrdersAPI.place_order` makes one
    when you give none. ``strict_position_effect=True`` asks the API to refuse
    a closing action with no position to close (instead of opening one).
    ``source`` says where the order comes from.

    Built with the class methods (:meth:`limit`, :meth:`market`, :meth:`stop`,
    :meth:`stop_limit`, :meth:`notional_market`) or directly. :meth:`to_json`
    is the exact request body: nothing is sent that is not a field here.
    """

    order_type: OrderType
    legs: Sequence[NewLeg]
    time_in_force: TimeInForce = TimeInForce.DAY
    price: Decimal | None = None
    stop_trigger: Decimal | None = None
    value: Decimal | None = None
    gtc_date: date | None = None
    external_identifier: str | None = None
    source: str | None = None
    strict_position_effect: bool = False

    def __post_init__(self) -> None:
        order_type = _enum(OrderType, self.order_type, "order_type")
        time_in_force = _enum(TimeInForce, self.time_in_force, "time_in_force")
        legs = _legs(self.legs)
        price = _optional_decimal(self.price, "price")
        stop_trigger = _optional_decimal(self.stop_trigger, "stop_trigger")
        value = _optional_decimal(self.value, "value")
        gtc_date = None if self.gtc_date is None else _as_date(self.gtc_date, "gtc_date")
        if self.external_identifier is not None:
            _text(self.external_identifier, "external_identifier")
        if self.source is not None:
            _text(self.source, "source")
        if not isinstance(self.strict_position_effect, bool):
            raise InvalidOrder("strict_position_effect must be True or False")
        _check_legs(order_type, legs)
        _check_terms(order_type, time_in_force, price, stop_trigger, value, gtc_date)
        opening = any(leg.action.opens for leg in legs)
        if order_type is OrderType.STOP and time_in_force in _LONG_LIVED and opening:
            raise InvalidOrder(
                f"a Stop order that opens a position cannot be {time_in_force.value}"
            )
        if len(legs) == 1:  # one leg: its direction decides debit or credit
            leg = legs[0]
            for name, amount in (("price", price), ("value", value)):
                if amount is None:
                    continue
                if leg.action.buys and amount > 0:
                    raise InvalidOrder(
                        f"a buy is paid for: its {name} must be a debit (negative), got {amount}"
                    )
                if not leg.action.buys and amount < 0:
                    raise InvalidOrder(
                        f"a sell is paid to you: its {name} must be a credit (positive), "
                        f"got {amount}"
                    )
        for name, item in (
            ("order_type", order_type),
            ("time_in_force", time_in_force),
            ("legs", legs),
            ("price", price),
            ("stop_trigger", stop_trigger),
            ("value", value),
            ("gtc_date", gtc_date),
        ):
            object.__setattr__(self, name, item)

    # -- convenience constructors ---------------------------------------------------------

    @classmethod
    def limit(
        cls,
        legs: NewLeg | Sequence[NewLeg],
        price: Decimal | int | str,
        *,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        gtc_date: date | None = None,
        external_identifier: str | None = None,
        source: str | None = None,
        strict_position_effect: bool = False,
    ) -> NewOrder:
        """A limit order: ``price`` per unit (per share, per spread), negative to pay."""
        return cls(
            OrderType.LIMIT,
            _legs(legs),
            time_in_force,  # type: ignore[arg-type]
            price=price,  # type: ignore[arg-type]
            gtc_date=gtc_date,
            external_identifier=external_identifier,
            source=source,
            strict_position_effect=strict_position_effect,
        )

    @classmethod
    def market(
        cls,
        leg: NewLeg,
        *,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        external_identifier: str | None = None,
        source: str | None = None,
        strict_position_effect: bool = False,
    ) -> NewOrder:
        """A market order (one leg; never GTC or GTD)."""
        return cls(
            OrderType.MARKET,
            _legs(leg),
            time_in_force,  # type: ignore[arg-type]
            external_identifier=external_identifier,
            source=source,
            strict_position_effect=strict_position_effect,
        )

    @classmethod
    def stop(
        cls,
        legs: NewLeg | Sequence[NewLeg],
        stop_trigger: Decimal | int | str,
        *,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        gtc_date: date | None = None,
        external_identifier: str | None = None,
        source: str | None = None,
        strict_position_effect: bool = False,
    ) -> NewOrder:
        """A stop order: becomes a market order once the price reaches ``stop_trigger``."""
        return cls(
            OrderType.STOP,
            _legs(legs),
            time_in_force,  # type: ignore[arg-type]
            stop_trigger=stop_trigger,  # type: ignore[arg-type]
            gtc_date=gtc_date,
            external_identifier=external_identifier,
            source=source,
            strict_position_effect=strict_position_effect,
        )

    @classmethod
    def stop_limit(
        cls,
        legs: NewLeg | Sequence[NewLeg],
        price: Decimal | int | str,
        stop_trigger: Decimal | int | str,
        *,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        gtc_date: date | None = None,
        external_identifier: str | None = None,
        source: str | None = None,
        strict_position_effect: bool = False,
    ) -> NewOrder:
        """A stop-limit order: becomes a limit order at ``price`` once ``stop_trigger`` is hit."""
        return cls(
            OrderType.STOP_LIMIT,
            _legs(legs),
            time_in_force,  # type: ignore[arg-type]
            price=price,  # type: ignore[arg-type]
            stop_trigger=stop_trigger,  # type: ignore[arg-type]
            gtc_date=gtc_date,
            external_identifier=external_identifier,
            source=source,
            strict_position_effect=strict_position_effect,
        )

    @classmethod
    def notional_market(
        cls,
        leg: NewLeg,
        value: Decimal | int | str,
        *,
        external_identifier: str | None = None,
        source: str | None = None,
    ) -> NewOrder:
        """A market order for an amount of money (``value``, negative to buy), not a quantity.

        For cryptocurrency and fractional-eligible equities; the leg has no quantity.
        """
        return cls(
            OrderType.NOTIONAL_MARKET,
            _legs(leg),
            value=value,  # type: ignore[arg-type]
            external_identifier=external_identifier,
            source=source,
        )

    # -- using it -------------------------------------------------------------------------

    def with_external_identifier(self, external_identifier: str) -> NewOrder:
        """A copy carrying ``external_identifier``."""
        return replace(self, external_identifier=external_identifier)

    def replacement(
        self,
        *,
        order_type: OrderType | str | _Keep = _KEEP,
        time_in_force: TimeInForce | str | _Keep = _KEEP,
        price: Decimal | int | str | _Keep | None = _KEEP,
        stop_trigger: Decimal | int | str | _Keep | None = _KEEP,
        value: Decimal | int | str | _Keep | None = _KEEP,
        gtc_date: date | _Keep | None = _KEEP,
    ) -> Replacement:
        """This order's terms as a :class:`Replacement`, with the terms given changed.

        A term not given keeps this order's; ``None`` removes it (``price=None``
        with ``order_type="Market"``).
        """

        def pick(given: object, own: object) -> Any:
            return own if given is _KEEP else given

        return Replacement(
            pick(order_type, self.order_type),
            pick(time_in_force, self.time_in_force),
            pick(price, self.price),
            pick(stop_trigger, self.stop_trigger),
            pick(value, self.value),
            pick(gtc_date, self.gtc_date),
        )

    def to_json(self) -> dict[str, Any]:
        """The exact request body: decimals as strings, amounts split into amount and effect."""
        body = _terms_json(
            self.order_type,
            self.time_in_force,
            self.price,
            self.stop_trigger,
            self.value,
            self.gtc_date,
        )
        if self.source is not None:
            body["source"] = self.source
        if self.external_identifier is not None:
            body["external-identifier"] = self.external_identifier
        if self.strict_position_effect:
            body["advanced-instructions"] = {"strict-position-effect-validation": True}
        body["legs"] = [leg.to_json() for leg in self.legs]
        return body


def _check_legs(order_type: OrderType, legs: tuple[NewLeg, ...]) -> None:
    if not 1 <= len(legs) <= MAX_LEGS:
        raise InvalidOrder(f"an order has 1 to {MAX_LEGS} legs, got {len(legs)}")
    symbols = [leg.symbol for leg in legs]
    repeated = sorted({s for s in symbols if symbols.count(s) > 1})
    if repeated:
        raise InvalidOrder(f"each leg needs its own symbol; repeated: {', '.join(repeated)}")
    for kind in _OUTRIGHT:
        if sum(1 for leg in legs if leg.instrument_type is kind) > 1:
            raise InvalidOrder(f"an order has at most one {kind.value} leg")
    if len(legs) > 1:
        if any(leg.instrument_type is InstrumentType.CRYPTOCURRENCY for leg in legs):
            raise InvalidOrder("a cryptocurrency order has exactly one leg")
        if any(leg.action in (OrderAction.BUY, OrderAction.SELL) for leg in legs):
            raise InvalidOrder("'Buy' and 'Sell' are for a single-leg future order only")
    if order_type is OrderType.MARKET and len(legs) > 1:
        raise InvalidOrder("a Market order has one leg")
    if order_type is OrderType.NOTIONAL_MARKET:
        if len(legs) > 1:
            raise InvalidOrder("a Notional Market order has one leg")
        leg = legs[0]
        if leg.quantity is not None:
            raise InvalidOrder("a Notional Market order's leg has no quantity: give a value")
        if leg.instrument_type not in (InstrumentType.EQUITY, InstrumentType.CRYPTOCURRENCY):
            raise InvalidOrder("Notional Market orders are for equities and cryptocurrency")
    else:
        for leg in legs:
            if leg.quantity is None:
                raise InvalidOrder(f"the leg for {leg.symbol} needs a quantity")


def _terms_json(
    order_type: OrderType,
    time_in_force: TimeInForce,
    price: Decimal | None,
    stop_trigger: Decimal | None,
    value: Decimal | None,
    gtc_date: date | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"time-in-force": time_in_force.value, "order-type": order_type.value}
    if gtc_date is not None:
        body["gtc-date"] = gtc_date.isoformat()
    if price is not None:
        amount, effect = unsigned(price)
        body["price"] = _plain(amount)
        body["price-effect"] = effect.value
    if stop_trigger is not None:
        body["stop-trigger"] = _plain(stop_trigger)
    if value is not None:
        amount, effect = unsigned(value)
        body["value"] = _plain(amount)
        body["value-effect"] = effect.value
    return body


@frozen
class Replacement:
    """New terms for a working order (the body of a replace or an edit; it has no legs).

    The API lets the order type, price and time in force change; the legs
    stay. ``price`` and ``value`` are signed as in :class:`NewOrder`
    (negative is a debit): keep the sign of the order being replaced.
    """

    order_type: OrderType
    time_in_force: TimeInForce = TimeInForce.DAY
    price: Decimal | None = None
    stop_trigger: Decimal | None = None
    value: Decimal | None = None
    gtc_date: date | None = None

    def __post_init__(self) -> None:
        order_type = _enum(OrderType, self.order_type, "order_type")
        time_in_force = _enum(TimeInForce, self.time_in_force, "time_in_force")
        price = _optional_decimal(self.price, "price")
        stop_trigger = _optional_decimal(self.stop_trigger, "stop_trigger")
        value = _optional_decimal(self.value, "value")
        gtc_date = None if self.gtc_date is None else _as_date(self.gtc_date, "gtc_date")
        _check_terms(order_type, time_in_force, price, stop_trigger, value, gtc_date)
        object.__setattr__(self, "order_type", order_type)
        object.__setattr__(self, "time_in_force", time_in_force)
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "stop_trigger", stop_trigger)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "gtc_date", gtc_date)

    @classmethod
    def limit(
        cls,
        price: Decimal | int | str,
        *,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        gtc_date: date | None = None,
    ) -> Replacement:
        """New limit terms: ``price`` signed (negative to pay)."""
        return cls(OrderType.LIMIT, time_in_force, price, gtc_date=gtc_date)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        """The exact request body (no legs)."""
        return _terms_json(
            self.order_type,
            self.time_in_force,
            self.price,
            self.stop_trigger,
            self.value,
            self.gtc_date,
        )


_COMPLEX_SHAPES: dict[ComplexOrderType, tuple[bool, int]] = {
    # type: (has a trigger order, how many other orders)
    ComplexOrderType.OCO: (False, 2),
    ComplexOrderType.OTO: (True, 1),
    ComplexOrderType.OTOCO: (True, 2),
    ComplexOrderType.PAIRS: (False, 2),
}


@frozen
class NewComplexOrder:
    """A complex order to send: ``OCO`` (2 orders), ``OTO`` (a trigger and 1 order),
    ``OTOCO`` (a trigger and 2 orders) or ``PAIRS`` (2 orders).

    ``external_identifier`` names it: it is put on each of its orders that has
    none of its own (the API keeps identifiers on orders). Build one with
    :meth:`oco`, :meth:`oto`, :meth:`otoco` or :meth:`pairs`.
    """

    type: ComplexOrderType
    orders: Sequence[NewOrder]
    trigger_order: NewOrder | None = None
    external_identifier: str | None = None

    def __post_init__(self) -> None:
        kind = _enum(ComplexOrderType, self.type, "type")
        if isinstance(self.orders, (str, bytes, Mapping)) or not isinstance(self.orders, Iterable):
            raise InvalidOrder(
                f"orders must be a sequence of NewOrder, got {show_value(self.orders)}"
            )
        orders = tuple(self.orders)
        trigger = () if self.trigger_order is None else (self.trigger_order,)
        for order in (*orders, *trigger):
            if not isinstance(order, NewOrder):
                raise InvalidOrder(f"each order must be a NewOrder, got {show_value(order)}")
        has_trigger, count = _COMPLEX_SHAPES[kind]
        if has_trigger and self.trigger_order is None:
            raise InvalidOrder(f"an {kind.value} order needs a trigger_order")
        if not has_trigger and self.trigger_order is not None:
            raise InvalidOrder(f"an {kind.value} order has no trigger_order")
        if len(orders) != count:
            raise InvalidOrder(
                f"an {kind.value} order has {count} orders besides any trigger, got {len(orders)}"
            )
        if self.external_identifier is not None:
            _text(self.external_identifier, "external_identifier")
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "orders", orders)

    @classmethod
    def oco(
        cls, first: NewOrder, second: NewOrder, *, external_identifier: str | None = None
    ) -> NewComplexOrder:
        """One cancels the other: e.g. a take-profit limit and a stop-loss on one position."""
        return cls(ComplexOrderType.OCO, (first, second), external_identifier=external_identifier)

    @classmethod
    def oto(
        cls, trigger: NewOrder, then: NewOrder, *, external_identifier: str | None = None
    ) -> NewComplexOrder:
        """One triggers the other: ``then`` is sent once ``trigger`` fills."""
        return cls(ComplexOrderType.OTO, (then,), trigger, external_identifier)

    @classmethod
    def otoco(
        cls,
        trigger: NewOrder,
        first: NewOrder,
        second: NewOrder,
        *,
        external_identifier: str | None = None,
    ) -> NewComplexOrder:
        """A trigger that, once filled, sends a one-cancels-the-other pair (a bracket)."""
        return cls(ComplexOrderType.OTOCO, (first, second), trigger, external_identifier)

    @classmethod
    def pairs(
        cls, first: NewOrder, second: NewOrder, *, external_identifier: str | None = None
    ) -> NewComplexOrder:
        """A pair trade of two orders."""
        return cls(ComplexOrderType.PAIRS, (first, second), external_identifier=external_identifier)

    @property
    def components(self) -> tuple[NewOrder, ...]:
        """The trigger order (if any), then the others, each tagged with the identifier."""
        found = ((self.trigger_order,) if self.trigger_order else ()) + tuple(self.orders)
        if self.external_identifier is None:
            return found
        return tuple(
            o if o.external_identifier else o.with_external_identifier(self.external_identifier)
            for o in found
        )

    @property
    def identifiers(self) -> frozenset[str]:
        """Every ``external-identifier`` the body carries."""
        return frozenset(o.external_identifier for o in self.components if o.external_identifier)

    def with_external_identifier(self, external_identifier: str) -> NewComplexOrder:
        """A copy carrying ``external_identifier``."""
        return replace(self, external_identifier=external_identifier)

    def to_json(self) -> dict[str, Any]:
        """The exact request body."""
        components = self.components
        body: dict[str, Any] = {"type": self.type.value}
        if self.trigger_order is not None:
            body["trigger-order"] = components[0].to_json()
            components = components[1:]
        body["orders"] = [o.to_json() for o in components]
        return body


# -- tick sizes ---------------------------------------------------------------------------


def check_tick(price: Decimal, tick_sizes: Sequence[TickSize], *, what: str = "price") -> None:
    """Raise :class:`TickSizeError` unless ``price`` is a multiple of the tick that applies.

    ``tick_sizes`` are the instrument's (``tick-sizes`` of an equity, a
    future's product, ...); the sign of ``price`` is ignored. With no rule
    that applies, nothing is checked.
    """
    increment = tick_size_for(price, tick_sizes)
    if increment is None or not increment.is_finite() or increment <= 0:
        return
    try:
        on_tick = abs(price) % increment == 0
    except InvalidOperation:  # too many digits apart to divide exactly: not on a tick we know
        on_tick = False
    if not on_tick:
        raise TickSizeError(
            f"{what} {price} is not a multiple of the tick size {increment} that applies to it",
            price=price,
            increment=increment,
        )


def _check_ticks(items: Iterable[NewOrder | Replacement], tick_sizes: Sequence[TickSize]) -> None:
    for item in items:
        if item.price is not None:
            check_tick(item.price, tick_sizes)
        if item.stop_trigger is not None:
            check_tick(item.stop_trigger, tick_sizes, what="stop_trigger")


# -- external identifiers -----------------------------------------------------------------


def new_external_identifier(entropy: Callable[[int], bytes]) -> str:
    """A fresh identifier for an order: ``"tp-"`` and 26 base32 characters of 16 random bytes.

    ``entropy(n)`` gives ``n`` random bytes (``os.urandom``; the core draws
    none itself).
    """
    raw = entropy(16)
    if not isinstance(raw, bytes) or len(raw) != 16:
        raise LocalProtocolError("entropy(16) must return 16 bytes")
    return "tp-" + base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def _identifier(calls: CallContext, given: str | None) -> str:
    if given is not None:
        return given
    if calls.entropy is None:
        raise LocalProtocolError(
            "an order needs an external_identifier to be placed safely: give one, or use a "
            "session made with an entropy source (the transports pass os.urandom)"
        )
    return new_external_identifier(calls.entropy)


# -- flows --------------------------------------------------------------------------------


def _watch_send(
    inner: Flow[T], request: Request, sent: list[bool], on_send: Callable[[], None]
) -> Flow[T]:
    """Run ``inner`` step for step, noting in ``sent`` when it sends ``request`` itself
    (rather than a login or token refresh before it), and calling ``on_send`` once a
    transport has handled it (not for a step only ever yielded to a cancelling driver)."""
    try:
        step = next(inner)
        while True:
            ours = isinstance(step, Send) and (step.request.method, step.request.url) == (
                request.method,
                request.url,
            )
            if ours:
                sent.append(True)
            try:
                answer = yield step
            except TransportError as exc:
                if ours:  # handed to a transport, and it may have gone out
                    on_send()
                step = inner.throw(exc)
            else:
                if ours:
                    on_send()
                step = inner.send(answer)
    except StopIteration as stop:
        result: T = stop.value
        return result
    finally:
        inner.close()


def _ambiguous(error: TastytradeError) -> bool:
    """Whether a failed ``POST`` may still have placed the order."""
    if isinstance(error, TransportError):
        return error.request_sent
    if _accepted(error):
        return True  # a 2xx whose answer could not be read: it was placed
    if isinstance(error, RateLimited):
        return False  # refused before it was processed
    return isinstance(error, (ServerError, DecodeError))


def _accepted(error: TastytradeError) -> bool:
    """Whether the server answered the ``POST`` with a success status."""
    status = getattr(error, "status", None)
    return isinstance(status, int) and 200 <= status < 300


def _all_items(
    ctx: Context,
    machine: AuthMachine,
    retry: RetryPolicy,
    build: Callable[[int], Request],
    kind: type[M],
    keep: Callable[[Any], bool] | None = None,
) -> Flow[list[M]]:
    """Every item of a (possibly paginated) list, page after page, as a sub-flow.

    With ``keep``, only the raw items it accepts are decoded: a look-up for
    one's own order must not fail on someone else's malformed row.
    """

    def decode_page(envelope: Envelope) -> list[M]:
        rows = envelope.items
        if keep is not None:
            rows = [row for row in rows if keep(row)]
        return decode_list(kind, rows, what="data.items")

    return (
        yield from flows.paginate_flow(ctx, machine, build, decode_page, retry, _MAX_LOOKUP_PAGES)
    )


def _carries(identifiers: Collection[str]) -> Callable[[Any], bool]:
    """Whether a raw order, or a raw complex order's trigger or orders, carries one of ours."""

    def own(row: Any) -> bool:
        return isinstance(row, dict) and row.get("external-identifier") in identifiers

    def keep(row: Any) -> bool:
        if own(row) or (isinstance(row, dict) and own(row.get("trigger-order"))):
            return True
        orders = row.get("orders") if isinstance(row, dict) else None
        return isinstance(orders, list) and any(own(o) for o in orders)

    return keep


def _since(sent_at: float) -> Callable[[Order], bool]:
    """Whether an order was received no earlier than this placement (less the skew)."""
    earliest = datetime.fromtimestamp(sent_at - RECONCILE_CLOCK_SKEW, tz=timezone.utc)
    return lambda order: order.received_at is None or order.received_at >= earliest


def _list_builder(calls: CallContext, path: str) -> Callable[[int], Request]:
    config = calls.settings.config

    def build(offset: int) -> Request:
        params = {"page-offset": offset} if offset else None
        return config.request("GET", path, params=params)

    return build


def _check_delays(delays: Any) -> tuple[float, ...]:
    try:
        found = tuple(float(d) for d in delays)
    except (TypeError, ValueError):
        found = ()
    if not found or any(not 0 <= d <= 3600 for d in found):  # also refuses NaN
        raise LocalProtocolError(
            "reconcile_delays must be one or more waits in seconds, each between 0 and 3600"
        )
    return found


def _reconcile(
    ctx: Context,
    machine: AuthMachine,
    error: TastytradeError,
    identifier: str,
    delays: tuple[float, ...],
    look: Callable[[Context], Flow[T | None]],
) -> Flow[T]:
    """After an ambiguous failure: look for the order, waiting between looks.

    Found: return it. Not found after every look, or a look that fails (after
    its own retries): :class:`OrderOutcomeUnknown`.
    """
    machine.scrub_error(error)  # it travels as __cause__, outside the operation's scrubbing
    accepted = _accepted(error)
    for number, delay in enumerate(delays, 1):
        flows.log(
            machine,
            logging.INFO,
            "placing order %s: outcome unknown (%s); look %d of %d in %.1f s",
            identifier,
            error,
            number,
            len(delays),
            delay,
        )
        yield Wait(delay)
        try:
            found = yield from look(ctx)
        except TastytradeError as lookup_error:
            machine.scrub_error(lookup_error)
            flows.log(
                machine, logging.INFO, "looking up order %s failed: %s", identifier, lookup_error
            )
            raise OrderOutcomeUnknown(
                f"placing the order {identifier!r} failed with an unknown outcome ({error}), "
                f"and looking it up failed too ({lookup_error}): it may or may not have been "
                "placed; look for its external-identifier before placing it again",
                external_identifier=identifier,
                lookup_error=lookup_error,
                accepted=accepted,
                looks=number - 1,
            ) from error
        if found is not None:
            flows.log(machine, logging.INFO, "order %s found: it was placed", identifier)
            return found
    if accepted:
        raise OrderOutcomeUnknown(
            f"the server accepted the order {identifier!r} (HTTP {getattr(error, 'status', '')}) "
            f"but its answer could not be read ({error}), and the order was not among the "
            f"account's orders after {len(delays)} looks over {sum(delays):g} s: it was placed; "
            "do not place it again, look for its external-identifier later",
            external_identifier=identifier,
            accepted=True,
            looks=len(delays),
        ) from error
    flows.log(machine, logging.INFO, "order %s not found after %d looks", identifier, len(delays))
    raise OrderOutcomeUnknown(
        f"placing the order {identifier!r} failed with an unknown outcome ({error}), and no "
        f"such order was among the account's orders after {len(delays)} looks over "
        f"{sum(delays):g} s; the server may still be working on it: do not place it again "
        "blindly, look for its external-identifier later (find_order)",
        external_identifier=identifier,
        looks=len(delays),
    ) from error


def _newest(orders: Iterable[Order]) -> Order | None:
    """The most recent of ``orders`` (highest id), or ``None``."""
    best: Order | None = None
    for order in orders:
        if best is None or (order.id or 0) > (best.id or 0):
            best = order
    return best


def _placed_decoder(part: str) -> Callable[[Response], OrderResponse]:
    """A decoder of a placement's answer that must hold ``part`` (``order``, ``complex-order``).

    Whatever goes wrong reading a 2xx answer is a ``DecodeError`` with its
    status, so that the placement is reconciled as accepted, never mistaken
    for a refusal or lost as an unexpected exception.
    """

    def decode(response: Response) -> OrderResponse:
        if not response.ok:
            raise error_from_response(response)
        try:
            placed = decode_model(OrderResponse, decode_envelope(response).data, what="data")
        except TastytradeError as error:
            if isinstance(error, DecodeError) and error.status is not None:
                raise
            raise DecodeError(str(error), status=response.status) from None
        except Exception as error:  # a decoder bug must not hide an accepted order
            raise DecodeError(
                f"the placement's answer could not be read ({type(error).__name__})",
                status=response.status,
            ) from None
        if getattr(placed, part.replace("-", "_")) is None:
            raise DecodeError(f"the placement's answer has no {part}", status=response.status)
        return placed

    return decode


_decode_placed = _placed_decoder("order")
_decode_complex_placed = _placed_decoder("complex-order")


def _post_once(
    ctx: Context,
    machine: AuthMachine,
    retry: RetryPolicy,
    request: Request,
    decode: Callable[[Response], T],
    identifier: str,
    on_send: Callable[[], None],
    on_not_placed: Callable[[], None],
) -> Flow[tuple[T | None, TastytradeError | None]]:
    """Send a non-idempotent ``request`` once: its result, or the ambiguous error it met.

    Errors that say the order was certainly not placed (refusals, a 429, a
    transport error before anything went out, a failure while logging in)
    are raised as :class:`OrderNotPlaced`. ``on_send`` runs as the request
    itself goes out.
    """
    sent: list[bool] = []
    try:
        result = yield from _watch_send(
            flows.request_flow(ctx, machine, request, decode, False, retry), request, sent, on_send
        )
    except (ResponseError, TransportError) as error:
        if sent and _ambiguous(error):
            return None, error
        machine.scrub_error(error)  # it travels as an attribute, outside the operation's scrub
        on_not_placed()  # settled, even if the caller is no longer there to hear it
        where = "the server refused it" if sent else "it was never sent"
        raise OrderNotPlaced(
            f"the order {identifier!r} was not placed ({where}): {error}",
            external_identifier=identifier,
            error=error,
        ) from error
    return result, None


def _path(account_number: Any, *rest: str | int) -> str:
    return encode_path("accounts", _args.account_number(account_number), *rest)


def _order_id(value: Any, what: str = "order id") -> int:
    return _args.identifier(value, what)


def _require(value: Any, kind: type, what: str) -> None:
    if not isinstance(value, kind):
        raise LocalProtocolError(f"{what} must be a {kind.__name__}, got {show_value(value)}")


# -- endpoints ----------------------------------------------------------------------------


def _dry_run_order(
    calls: CallContext,
    account_number: str,
    order: NewOrder,
    *,
    tick_sizes: Sequence[TickSize] | None = None,
    timeout: float | None = None,
) -> Operation[OrderResponse]:
    """Check an order without placing it (``POST /accounts/{n}/orders/dry-run``).

    The answer has the order as it would be (no ``id``), its buying-power
    effect, fees and warnings. It places nothing, so it is retried like a GET.
    A refusal raises :class:`~tastytrade_proto.errors.ValidationFailed` with
    the reasons in ``errors``.
    """
    _require(order, NewOrder, "order")
    if tick_sizes:
        _check_ticks([order], tick_sizes)
    path = _path(account_number, "orders", "dry-run")
    return build_call(
        calls,
        "POST",
        path,
        data_of(OrderResponse),
        json=order.to_json(),
        idempotent=True,
        timeout=timeout,
    )


def _unsettled(
    calls: CallContext, account_number: str, identifier: str, sent_at: list[float], complex: bool
) -> tuple[Callable[[], None], Callable[[], None]]:
    """What a placement does with ``calls.unsettled_orders``: note it as its ``POST`` goes
    out, forget it once its outcome reaches the caller."""

    def note() -> None:
        when = datetime.fromtimestamp(sent_at[0], tz=timezone.utc)
        entry = UnsettledOrder(account_number, identifier, when, complex)
        calls.unsettled_orders[identifier] = entry

    def forget() -> None:
        calls.unsettled_orders.pop(identifier, None)

    return note, forget


def _place_order(
    calls: CallContext,
    account_number: str,
    order: NewOrder,
    *,
    tick_sizes: Sequence[TickSize] | None = None,
    reconcile_delays: Sequence[float] = RECONCILE_DELAYS,
    timeout: float | None = None,
) -> Operation[PlacedOrder]:
    """Place an order (``POST /accounts/{n}/orders``), sent once, reconciled if in doubt.

    The body carries ``order.external_identifier``, or one made from the
    session's entropy (give your own, so that you know it whatever happens).
    Refused, or never sent: :class:`OrderNotPlaced`. When the outcome is
    unknown (a transport error after the request went out, a timeout, a 5xx,
    an unreadable answer), the order is looked up among the account's orders
    (``GET /accounts/{n}/orders/live``) by that identifier after each of
    ``reconcile_delays``: found, the result has ``reconciled=True``; not
    found, or the look-up failed, :class:`OrderOutcomeUnknown` (look again
    later with ``find_order``; never place it again blindly). With
    ``tick_sizes``, the price and stop trigger are checked first
    (:class:`TickSizeError`).
    """
    _require(order, NewOrder, "order")
    if tick_sizes:
        _check_ticks([order], tick_sizes)
    delays = _check_delays(reconcile_delays)
    identifier = _identifier(calls, order.external_identifier)
    order = order.with_external_identifier(identifier)
    account = _args.account_number(account_number)
    config, machine, retry = calls.settings.config, calls.machine, calls.settings.retry
    request = config.request("POST", _path(account, "orders"), json_body=order.to_json())

    sent_at: list[float] = []
    note, forget = _unsettled(calls, account, identifier, sent_at, complex=False)

    def look(ctx: Context) -> Flow[Order | None]:
        return (yield from _find_order(ctx, calls, account, identifier, sent_at[0]))

    def flow(ctx: Context) -> Flow[PlacedOrder]:
        sent_at.append(ctx.now)
        placed, error = yield from _post_once(
            ctx, machine, retry, request, _decode_placed, identifier, note, forget
        )
        if error is None:
            assert placed is not None and placed.order is not None
            return PlacedOrder(placed.order, identifier, reconciled=False, response=placed)
        found = yield from _reconcile(ctx, machine, error, identifier, delays, look)
        return PlacedOrder(found, identifier, reconciled=True)

    return flows.operation(machine, flow, timeout=timeout, on_outcome=forget)


def _find_order(
    ctx: Context, calls: CallContext, account: str, identifier: str, since: float | None
) -> Flow[Order | None]:
    """Sub-flow: the newest of the account's orders of the day carrying ``identifier``
    (received no earlier than ``since`` less the clock skew, when given)."""
    live = _list_builder(calls, _path(account, "orders", "live"))
    machine, retry = calls.machine, calls.settings.retry
    orders = yield from _all_items(ctx, machine, retry, live, Order, _carries({identifier}))
    recent = _since(since) if since is not None else (lambda order: True)
    return _newest(o for o in orders if o.external_identifier == identifier and recent(o))


def _find(calls: CallContext, identifier: Any, since: datetime | None) -> tuple[str, float | None]:
    identifier = _text(identifier, "external_identifier")
    if since is not None and not isinstance(since, datetime):
        raise LocalProtocolError(f"since must be a datetime, got {show_value(since)}")
    if since is not None and since.tzinfo is None:
        raise LocalProtocolError("since must be timezone-aware")
    return identifier, since.timestamp() if since is not None else None


def _find_order_endpoint(
    calls: CallContext,
    account_number: str,
    external_identifier: str,
    *,
    since: datetime | None = None,
    timeout: float | None = None,
) -> Operation[Order | None]:
    """The account's order carrying ``external_identifier``, or ``None`` (not there yet).

    Looks among the account's orders of the day (``GET /accounts/{n}/orders/live``)
    and returns the newest that carries the identifier, received no earlier
    than ``since`` (less :data:`RECONCILE_CLOCK_SKEW`) when given. This is how
    an :class:`OrderOutcomeUnknown` or an interrupted ``place_order`` is
    settled: found, the session forgets it from ``unsettled_orders``.
    """
    account = _args.account_number(account_number)
    identifier, after = _find(calls, external_identifier, since)

    def flow(ctx: Context) -> Flow[Order | None]:
        found = yield from _find_order(ctx, calls, account, identifier, after)
        if found is not None:
            calls.unsettled_orders.pop(identifier, None)
        return found

    return flows.operation(calls.machine, flow, timeout=timeout)


def _replace_order(
    calls: CallContext,
    account_number: str,
    order_id: int | str,
    change: Replacement,
    *,
    tick_sizes: Sequence[TickSize] | None = None,
    timeout: float | None = None,
) -> Operation[Order]:
    """Cancel-replace a working order (``PUT /accounts/{n}/orders/{id}``); sent once.

    The answer is the *new* order (a new ``id``; the old one is cancelled).
    Never resent: after an unknown outcome, read ``live_orders`` to see
    which order is working.
    """
    _require(change, Replacement, "change")
    if tick_sizes:
        _check_ticks([change], tick_sizes)
    path = _path(account_number, "orders", _order_id(order_id))
    return build_call(
        calls, "PUT", path, data_of(Order), json=change.to_json(), idempotent=False, timeout=timeout
    )


def _edit_order(
    calls: CallContext,
    account_number: str,
    order_id: int | str,
    change: Replacement,
    *,
    tick_sizes: Sequence[TickSize] | None = None,
    timeout: float | None = None,
) -> Operation[Order]:
    """Edit a working order's price and terms (``PATCH /accounts/{n}/orders/{id}``); sent once.

    The API does this by replacement too: the answer is the order now working.
    """
    _require(change, Replacement, "change")
    if tick_sizes:
        _check_ticks([change], tick_sizes)
    path = _path(account_number, "orders", _order_id(order_id))
    return build_call(
        calls,
        "PATCH",
        path,
        data_of(Order),
        json=change.to_json(),
        idempotent=False,
        timeout=timeout,
    )


def _dry_run_replacement(
    calls: CallContext,
    account_number: str,
    order_id: int | str,
    change: Replacement,
    *,
    timeout: float | None = None,
) -> Operation[OrderResponse]:
    """Check a replacement without making it (``POST /accounts/{n}/orders/{id}/dry-run``)."""
    _require(change, Replacement, "change")
    path = _path(account_number, "orders", _order_id(order_id), "dry-run")
    return build_call(
        calls,
        "POST",
        path,
        data_of(OrderResponse),
        json=change.to_json(),
        idempotent=True,
        timeout=timeout,
    )


def _decode_order_or_response(response: Response) -> Order:
    data = decode_envelope(response).data
    if isinstance(data, dict) and isinstance(data.get("order"), dict):
        found = decode_model(OrderResponse, data, what="data").order
        assert found is not None
        return found
    return decode_model(Order, data, what="data")


def _reconfirm_order(
    calls: CallContext, account_number: str, order_id: int | str, *, timeout: float | None = None
) -> Operation[Order]:
    """Reconfirm an order the server holds for confirmation
    (``POST /accounts/{n}/orders/{id}/reconfirm``); sent once.

    A refusal is :class:`~tastytrade_proto.errors.ValidationFailed` with code
    ``cannot_reconfirm_order``.
    """
    path = _path(account_number, "orders", _order_id(order_id), "reconfirm")
    return build_call(
        calls, "POST", path, _decode_order_or_response, idempotent=False, timeout=timeout
    )


def _cancel_order(
    calls: CallContext, account_number: str, order_id: int | str, *, timeout: float | None = None
) -> Operation[Order]:
    """Cancel a working order (``DELETE /accounts/{n}/orders/{id}``); sent once.

    The answer is the order, now ``Cancelled`` (or ``Cancel Requested``).
    """
    path = _path(account_number, "orders", _order_id(order_id))
    return build_call(calls, "DELETE", path, data_of(Order), idempotent=False, timeout=timeout)


def _live_orders(
    calls: CallContext, account_number: str, *, timeout: float | None = None
) -> Operation[list[Order]]:
    """The account's orders of the day in every status, plus working GTC orders
    (``GET /accounts/{n}/orders/live``, every page)."""
    build = _list_builder(calls, _path(account_number, "orders", "live"))
    machine, retry = calls.machine, calls.settings.retry
    return flows.operation(
        machine, lambda ctx: _all_items(ctx, machine, retry, build, Order), timeout=timeout
    )


def _order(
    calls: CallContext, account_number: str, order_id: int | str, *, timeout: float | None = None
) -> Operation[Order]:
    """One order (``GET /accounts/{n}/orders/{id}``)."""
    path = _path(account_number, "orders", _order_id(order_id))
    return build_call(calls, "GET", path, data_of(Order), timeout=timeout)


def _order_history(
    calls: CallContext,
    account_number: str,
    *,
    start_date: date | None = None,
    end_date: date | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    underlying_symbol: str | None = None,
    statuses: Iterable[OrderStatus | str] | str | None = None,
    futures_symbol: str | None = None,
    underlying_instrument_type: InstrumentType | str | None = None,
    sort: str | None = None,
    per_page: int | None = None,
    timeout: float | None = None,
) -> Pager[Order]:
    """The account's past orders (``GET /accounts/{n}/orders``), fetched a page at a time.

    A start (``start_date`` or ``start_at``, an aware datetime) is required:
    the API refuses a search without one from version 20261012. ``statuses``
    filters by status (``status[]``); ``sort`` is ``"Asc"`` or ``"Desc"``
    (the API's default).
    """
    if start_date is None and start_at is None:
        raise LocalProtocolError("order_history needs a start: give start_date or start_at")
    params: dict[str, QueryValue] = {
        "start-date": _args.optional_day(start_date, "start_date"),
        "end-date": _args.optional_day(end_date, "end_date"),
        "start-at": _args.optional_moment(start_at, "start_at"),
        "end-at": _args.optional_moment(end_at, "end_at"),
        "underlying-symbol": underlying_symbol,
        "status[]": _args.strings(statuses, "statuses"),
        "futures-symbol": futures_symbol,
        "underlying-instrument-type": (
            str(underlying_instrument_type) if underlying_instrument_type else None
        ),
        "sort": _args.sort(sort),
    }
    path = _path(account_number, "orders")
    return build_pager(
        calls, path, page_of(Order), params, per_page=_args.per_page(per_page), timeout=timeout
    )


def _place_complex_order(
    calls: CallContext,
    account_number: str,
    order: NewComplexOrder,
    *,
    tick_sizes: Sequence[TickSize] | None = None,
    reconcile_delays: Sequence[float] = RECONCILE_DELAYS,
    timeout: float | None = None,
) -> Operation[PlacedComplexOrder]:
    """Place a complex order (``POST /accounts/{n}/complex-orders``), sent once.

    Every one of its orders carries an ``external-identifier`` (the complex
    order's, made from the session's entropy when it has none). Outcomes are
    as for ``place_order``: :class:`OrderNotPlaced` when refused or never
    sent; after an unknown outcome the complex order is looked for among
    ``GET /accounts/{n}/complex-orders/live``, and its orders among
    ``GET /accounts/{n}/orders/live``; not found: :class:`OrderOutcomeUnknown`
    (look again later with ``find_complex_order``).
    """
    _require(order, NewComplexOrder, "order")
    if tick_sizes:
        _check_ticks(order.components, tick_sizes)
    delays = _check_delays(reconcile_delays)
    identifier = _identifier(calls, order.external_identifier)
    order = order.with_external_identifier(identifier)
    if identifier not in order.identifiers:  # every order has its own: name it by the first
        identifier = order.components[0].external_identifier or identifier
    account = _args.account_number(account_number)
    config, machine, retry = calls.settings.config, calls.machine, calls.settings.retry
    request = config.request("POST", _path(account, "complex-orders"), json_body=order.to_json())

    sent_at: list[float] = []
    note, forget = _unsettled(calls, account, identifier, sent_at, complex=True)

    def look(ctx: Context) -> Flow[PlacedComplexOrder | None]:
        found = yield from _find_complex(ctx, calls, account, order.identifiers, sent_at[0])
        return replace(found, external_identifier=identifier) if found is not None else None

    def flow(ctx: Context) -> Flow[PlacedComplexOrder]:
        sent_at.append(ctx.now)
        placed, error = yield from _post_once(
            ctx, machine, retry, request, _decode_complex_placed, identifier, note, forget
        )
        if error is None:
            assert placed is not None
            return PlacedComplexOrder(placed.complex_order, identifier, response=placed)
        return (yield from _reconcile(ctx, machine, error, identifier, delays, look))

    return flows.operation(machine, flow, timeout=timeout, on_outcome=forget)


def _find_complex(
    ctx: Context,
    calls: CallContext,
    account: str,
    identifiers: frozenset[str],
    since: float | None,
) -> Flow[PlacedComplexOrder | None]:
    """Sub-flow: the complex order (or, failing that, its orders) carrying ``identifiers``."""
    config, machine, retry = calls.settings.config, calls.machine, calls.settings.retry
    live_complex = _list_builder(calls, _path(account, "complex-orders", "live"))
    live = _list_builder(calls, _path(account, "orders", "live"))
    keep = _carries(identifiers)
    recent = _since(since) if since is not None else (lambda order: True)
    identifier = min(identifiers)  # the caller's own, where it gave one, replaces it
    complexes = yield from _all_items(ctx, machine, retry, live_complex, ComplexOrder, keep)
    for found in sorted(complexes, key=lambda c: c.id or 0, reverse=True):
        if any(o.external_identifier in identifiers and recent(o) for o in found.components):
            return PlacedComplexOrder(found, identifier, reconciled=True)
    orders = yield from _all_items(ctx, machine, retry, live, Order, keep)
    mine = tuple(o for o in orders if o.external_identifier in identifiers and recent(o))
    if not mine:
        return None
    complex_id = next((o.complex_order_id for o in mine if o.complex_order_id), None)
    if complex_id is not None:
        one = config.request("GET", _path(account, "complex-orders", complex_id))
        try:
            found = yield from flows.request_flow(
                ctx, machine, one, data_of(ComplexOrder), True, retry
            )
        except TastytradeError:  # its orders were found: that settles it
            return PlacedComplexOrder(None, identifier, reconciled=True, orders=mine)
        return PlacedComplexOrder(found, identifier, reconciled=True, orders=mine)
    return PlacedComplexOrder(None, identifier, reconciled=True, orders=mine)


def _find_complex_order(
    calls: CallContext,
    account_number: str,
    external_identifier: str,
    *,
    since: datetime | None = None,
    timeout: float | None = None,
) -> Operation[PlacedComplexOrder | None]:
    """The complex order placed with ``external_identifier``, or ``None`` (not there yet).

    Looks as ``place_complex_order`` does after an unknown outcome; the result
    has ``reconciled=True``. Found, the session forgets it from
    ``unsettled_orders``.
    """
    account = _args.account_number(account_number)
    identifier, after = _find(calls, external_identifier, since)
    identifiers = frozenset({identifier})  # what each of its orders carries but its own

    def flow(ctx: Context) -> Flow[PlacedComplexOrder | None]:
        found = yield from _find_complex(ctx, calls, account, identifiers, after)
        if found is not None:
            calls.unsettled_orders.pop(identifier, None)
        return found

    return flows.operation(calls.machine, flow, timeout=timeout)


def _dry_run_complex_order(
    calls: CallContext,
    account_number: str,
    order: NewComplexOrder,
    *,
    tick_sizes: Sequence[TickSize] | None = None,
    timeout: float | None = None,
) -> Operation[OrderResponse]:
    """Check a complex order without placing it (``POST /accounts/{n}/complex-orders/dry-run``)."""
    _require(order, NewComplexOrder, "order")
    if tick_sizes:
        _check_ticks(order.components, tick_sizes)
    path = _path(account_number, "complex-orders", "dry-run")
    return build_call(
        calls,
        "POST",
        path,
        data_of(OrderResponse),
        json=order.to_json(),
        idempotent=True,
        timeout=timeout,
    )


def _live_complex_orders(
    calls: CallContext, account_number: str, *, timeout: float | None = None
) -> Operation[list[ComplexOrder]]:
    """Complex orders with an order placed today (``GET /accounts/{n}/complex-orders/live``)."""
    build = _list_builder(calls, _path(account_number, "complex-orders", "live"))
    machine, retry = calls.machine, calls.settings.retry
    return flows.operation(
        machine, lambda ctx: _all_items(ctx, machine, retry, build, ComplexOrder), timeout=timeout
    )


def _complex_order(
    calls: CallContext,
    account_number: str,
    complex_order_id: int | str,
    *,
    timeout: float | None = None,
) -> Operation[ComplexOrder]:
    """One complex order (``GET /accounts/{n}/complex-orders/{id}``)."""
    path = _path(account_number, "complex-orders", _order_id(complex_order_id, "complex order id"))
    return build_call(calls, "GET", path, data_of(ComplexOrder), timeout=timeout)


def _cancel_complex_order(
    calls: CallContext,
    account_number: str,
    complex_order_id: int | str,
    *,
    timeout: float | None = None,
) -> Operation[ComplexOrder]:
    """Cancel a complex order by its own id (``DELETE /accounts/{n}/complex-orders/{id}``);
    sent once. Cancel it this way, not through its orders."""
    path = _path(account_number, "complex-orders", _order_id(complex_order_id, "complex order id"))
    return build_call(
        calls, "DELETE", path, data_of(ComplexOrder), idempotent=False, timeout=timeout
    )


def _margin_dry_run(
    calls: CallContext, account_number: str, order: NewOrder, *, timeout: float | None = None
) -> Operation[MarginDryRunResult]:
    """What an order would do to margin and buying power
    (``POST /margin/accounts/{n}/dry-run``, the order as body); places nothing."""
    _require(order, NewOrder, "order")
    path = encode_path("margin", "accounts", _args.account_number(account_number), "dry-run")
    return build_call(
        calls,
        "POST",
        path,
        data_of(MarginDryRunResult),
        json=order.to_json(),
        idempotent=True,
        timeout=timeout,
    )


class OrdersAPI:
    """Order endpoints (mixed into every session)."""

    dry_run_order = Endpoint(_dry_run_order)
    place_order = Endpoint(_place_order)
    replace_order = Endpoint(_replace_order)
    edit_order = Endpoint(_edit_order)
    dry_run_replacement = Endpoint(_dry_run_replacement)
    reconfirm_order = Endpoint(_reconfirm_order)
    cancel_order = Endpoint(_cancel_order)
    live_orders = Endpoint(_live_orders)
    order = Endpoint(_order)
    order_history = Paged(_order_history)
    place_complex_order = Endpoint(_place_complex_order)
    dry_run_complex_order = Endpoint(_dry_run_complex_order)
    live_complex_orders = Endpoint(_live_complex_orders)
    complex_order = Endpoint(_complex_order)
    cancel_complex_order = Endpoint(_cancel_complex_order)
    margin_dry_run = Endpoint(_margin_dry_run)
    find_order = Endpoint(_find_order_endpoint)
    find_complex_order = Endpoint(_find_complex_order)
