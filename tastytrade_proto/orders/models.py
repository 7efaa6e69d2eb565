"""The vocabularies of orders and the models of what the API returns about them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from ..accounts import InstrumentType, QuantityDirection
from ..models import (
    ApiEnum,
    Effect,
    Model,
    model,
)

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
