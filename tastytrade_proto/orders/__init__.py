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

The package, by concern: :mod:`.models` (vocabularies and what the API returns),
:mod:`.building` (what you send, checked; tick sizes), :mod:`.placing` (sending
once and reconciling), :mod:`.endpoints` (:class:`OrdersAPI`) and :mod:`.errors`.
Every public name is importable from ``tastytrade_proto.orders`` itself.
"""

from __future__ import annotations

from .building import (
    MAX_LEGS,
    NewComplexOrder,
    NewLeg,
    NewOrder,
    Replacement,
    check_tick,
    round_to_tick,
)
from .endpoints import OrdersAPI
from .errors import InvalidOrder, OrderNotPlaced, OrderOutcomeUnknown, TickSizeError
from .models import (
    BuyingPowerEffect,
    ComplexOrder,
    ComplexOrderType,
    FeeBreakdownItem,
    FeeCalculation,
    Fill,
    MarginDryRunResult,
    Order,
    OrderAction,
    OrderCondition,
    OrderLeg,
    OrderMessage,
    OrderResponse,
    OrderRule,
    OrderStatus,
    OrderType,
    PriceComponent,
    RelatedOrder,
    TimeInForce,
)
from .placing import (
    RECONCILE_CLOCK_SKEW,
    RECONCILE_DELAYS,
    PlacedComplexOrder,
    PlacedOrder,
    UnsettledOrder,
    new_external_identifier,
)

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
    "round_to_tick",
]
