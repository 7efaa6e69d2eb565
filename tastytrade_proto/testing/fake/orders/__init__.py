"""The fake API's orders: dry-run, place, fill, replace, edit, cancel, search, complex orders.

``model`` says what an order is (state, vocabulary, legs), ``pricing`` what it
costs (marks, margin, buying power, fees), ``checking`` whether a request may
be placed, ``book`` what happens to it (entering, filling, cancelling,
expiring, settling), ``handlers`` the HTTP routes, ``demo`` the seeded history.
See ``kit`` for how an area plugs into the fake. What the fake does with an
order, in short (``docs/testing.md`` has the user's view):

* Every symbol may have a **mark** (``FakeTastytradeAPI.set_mark``; defaults in
  :data:`DEFAULT_MARKS`; an equity option without one is priced from its
  underlying's mark). A Market order, or a Limit whose price crosses the marks,
  fills at once at the marks; positions, cash and transactions change. A
  non-marketable order is ``Live``; an order on a symbol with no mark stays
  ``Routed`` until it gets one. Setting a mark fills the working orders it
  makes marketable.
* Orders are never deduplicated: ``external-identifier`` is only echoed.
* Day orders expire when their New York trading day is over, GTD orders after
  their ``gtc-date``; ``IOC`` orders that do not fill at once are cancelled.
* With ``api.market_open = False`` new orders stay ``Received`` (with the
  ``tif_next_valid_sesssion`` warning) and nothing fills until it is True again.
* Replacing (PUT or PATCH) cancels the old order (``edited``,
  ``replacing-order-id``) and places a new one (``replaces-order-id``).

Error codes that the real API is known to use: ``preflight_check_failure``,
``cant_buy_for_credit``, ``gtc_market_orders_not_supported``,
``margin_check_failed``, ``cannot_reconfirm_order``, ``record_not_found``,
``validation_error``. The other preflight codes in ``checking`` are the fake's
own names for rules the real API enforces with codes nobody has recorded.
"""

from __future__ import annotations

from .book import (
    by_id,
    changed,
    fill,
    find_order,
    place,
    position_json,
    publish_balances,
    reject,
    set_mark,
    settle,
)
from .checking import Problems, parse_order
from .demo import order_request, seed
from .handlers import ROUTES
from .model import DEFAULT_MARKS, OrderChange, OrdersState, amount, state
from .pricing import buying_power, held, mark, reserved

__all__ = [
    "DEFAULT_MARKS",
    "ROUTES",
    "OrderChange",
    "OrdersState",
    "Problems",
    "amount",
    "buying_power",
    "by_id",
    "changed",
    "fill",
    "find_order",
    "held",
    "mark",
    "order_request",
    "parse_order",
    "place",
    "position_json",
    "publish_balances",
    "reject",
    "reserved",
    "seed",
    "set_mark",
    "settle",
    "state",
]
