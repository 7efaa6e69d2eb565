"""The order endpoints, each declared once on :class:`OrdersAPI`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timezone
from typing import Any

from .. import _args
from ..accounts import InstrumentType
from ..errors import (
    LocalProtocolError,
    TastytradeError,
)
from ..instruments import TickSize
from ..models import (
    data_of,
    decode_model,
    page_of,
    show_value,
)
from ..protocol import flows
from ..protocol.endpoint import CallContext, Endpoint, Paged, Pager, build_call, build_pager
from ..protocol.envelope import decode_envelope
from ..protocol.http import QueryValue, Response, encode_path
from ..protocol.operation import Context, Flow, Operation
from ..values import replace
from .building import NewComplexOrder, NewOrder, Replacement, check_text, check_ticks
from .models import ComplexOrder, MarginDryRunResult, Order, OrderResponse, OrderStatus
from .placing import (
    RECONCILE_DELAYS,
    PlacedComplexOrder,
    PlacedOrder,
    UnsettledOrder,
    all_items,
    carries_identifier,
    check_delays,
    check_order_id,
    decode_complex_placed,
    decode_placed,
    identifier_for,
    list_builder,
    newest,
    order_path,
    post_once,
    received_since,
    reconcile,
    require_type,
)

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
    require_type(order, NewOrder, "order")
    if tick_sizes:
        check_ticks([order], tick_sizes)
    path = order_path(account_number, "orders", "dry-run")
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
    require_type(order, NewOrder, "order")
    if tick_sizes:
        check_ticks([order], tick_sizes)
    delays = check_delays(reconcile_delays)
    identifier = identifier_for(calls, order.external_identifier)
    order = order.with_external_identifier(identifier)
    account = _args.account_number(account_number)
    config, machine, retry = calls.settings.config, calls.machine, calls.settings.retry
    request = config.request("POST", order_path(account, "orders"), json_body=order.to_json())

    sent_at: list[float] = []
    note, forget = _unsettled(calls, account, identifier, sent_at, complex=False)

    def look(ctx: Context) -> Flow[Order | None]:
        return (yield from _find_order(ctx, calls, account, identifier, sent_at[0]))

    def flow(ctx: Context) -> Flow[PlacedOrder]:
        sent_at.append(ctx.now)
        placed, error = yield from post_once(
            ctx, machine, retry, request, decode_placed, identifier, note, forget
        )
        if error is None:
            assert placed is not None and placed.order is not None
            return PlacedOrder(placed.order, identifier, reconciled=False, response=placed)
        found = yield from reconcile(ctx, machine, error, identifier, delays, look)
        return PlacedOrder(found, identifier, reconciled=True)

    return flows.operation(machine, flow, timeout=timeout, on_outcome=forget)


def _find_order(
    ctx: Context, calls: CallContext, account: str, identifier: str, since: float | None
) -> Flow[Order | None]:
    """Sub-flow: the newest of the account's orders of the day carrying ``identifier``
    (received no earlier than ``since`` less the clock skew, when given)."""
    live = list_builder(calls, order_path(account, "orders", "live"))
    machine, retry = calls.machine, calls.settings.retry
    orders = yield from all_items(
        ctx, machine, retry, live, Order, carries_identifier({identifier})
    )
    recent = received_since(since) if since is not None else (lambda order: True)
    return newest(o for o in orders if o.external_identifier == identifier and recent(o))


def _find(calls: CallContext, identifier: Any, since: datetime | None) -> tuple[str, float | None]:
    identifier = check_text(identifier, "external_identifier")
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
    require_type(change, Replacement, "change")
    if tick_sizes:
        check_ticks([change], tick_sizes)
    path = order_path(account_number, "orders", check_order_id(order_id))
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
    require_type(change, Replacement, "change")
    if tick_sizes:
        check_ticks([change], tick_sizes)
    path = order_path(account_number, "orders", check_order_id(order_id))
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
    require_type(change, Replacement, "change")
    path = order_path(account_number, "orders", check_order_id(order_id), "dry-run")
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
    path = order_path(account_number, "orders", check_order_id(order_id), "reconfirm")
    return build_call(
        calls, "POST", path, _decode_order_or_response, idempotent=False, timeout=timeout
    )


def _cancel_order(
    calls: CallContext, account_number: str, order_id: int | str, *, timeout: float | None = None
) -> Operation[Order]:
    """Cancel a working order (``DELETE /accounts/{n}/orders/{id}``); sent once.

    The answer is the order, now ``Cancelled`` (or ``Cancel Requested``).
    """
    path = order_path(account_number, "orders", check_order_id(order_id))
    return build_call(calls, "DELETE", path, data_of(Order), idempotent=False, timeout=timeout)


def _live_orders(
    calls: CallContext, account_number: str, *, timeout: float | None = None
) -> Operation[list[Order]]:
    """The account's orders of the day in every status, plus working GTC orders
    (``GET /accounts/{n}/orders/live``, every page)."""
    build = list_builder(calls, order_path(account_number, "orders", "live"))
    machine, retry = calls.machine, calls.settings.retry
    return flows.operation(
        machine, lambda ctx: all_items(ctx, machine, retry, build, Order), timeout=timeout
    )


def _order(
    calls: CallContext, account_number: str, order_id: int | str, *, timeout: float | None = None
) -> Operation[Order]:
    """One order (``GET /accounts/{n}/orders/{id}``)."""
    path = order_path(account_number, "orders", check_order_id(order_id))
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
    path = order_path(account_number, "orders")
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
    require_type(order, NewComplexOrder, "order")
    if tick_sizes:
        check_ticks(order.components, tick_sizes)
    delays = check_delays(reconcile_delays)
    identifier = identifier_for(calls, order.external_identifier)
    order = order.with_external_identifier(identifier)
    if identifier not in order.identifiers:  # every order has its own: name it by the first
        identifier = order.components[0].external_identifier or identifier
    account = _args.account_number(account_number)
    config, machine, retry = calls.settings.config, calls.machine, calls.settings.retry
    request = config.request(
        "POST", order_path(account, "complex-orders"), json_body=order.to_json()
    )

    sent_at: list[float] = []
    note, forget = _unsettled(calls, account, identifier, sent_at, complex=True)

    def look(ctx: Context) -> Flow[PlacedComplexOrder | None]:
        found = yield from _find_complex(ctx, calls, account, order.identifiers, sent_at[0])
        return replace(found, external_identifier=identifier) if found is not None else None

    def flow(ctx: Context) -> Flow[PlacedComplexOrder]:
        sent_at.append(ctx.now)
        placed, error = yield from post_once(
            ctx, machine, retry, request, decode_complex_placed, identifier, note, forget
        )
        if error is None:
            assert placed is not None
            return PlacedComplexOrder(placed.complex_order, identifier, response=placed)
        return (yield from reconcile(ctx, machine, error, identifier, delays, look))

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
    live_complex = list_builder(calls, order_path(account, "complex-orders", "live"))
    live = list_builder(calls, order_path(account, "orders", "live"))
    keep = carries_identifier(identifiers)
    recent = received_since(since) if since is not None else (lambda order: True)
    identifier = min(identifiers)  # the caller's own, where it gave one, replaces it
    complexes = yield from all_items(ctx, machine, retry, live_complex, ComplexOrder, keep)
    for found in sorted(complexes, key=lambda c: c.id or 0, reverse=True):
        if any(o.external_identifier in identifiers and recent(o) for o in found.components):
            return PlacedComplexOrder(found, identifier, reconciled=True)
    orders = yield from all_items(ctx, machine, retry, live, Order, keep)
    mine = tuple(o for o in orders if o.external_identifier in identifiers and recent(o))
    if not mine:
        return None
    complex_id = next((o.complex_order_id for o in mine if o.complex_order_id), None)
    if complex_id is not None:
        one = config.request("GET", order_path(account, "complex-orders", complex_id))
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
    require_type(order, NewComplexOrder, "order")
    if tick_sizes:
        check_ticks(order.components, tick_sizes)
    path = order_path(account_number, "complex-orders", "dry-run")
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
    build = list_builder(calls, order_path(account_number, "complex-orders", "live"))
    machine, retry = calls.machine, calls.settings.retry
    return flows.operation(
        machine, lambda ctx: all_items(ctx, machine, retry, build, ComplexOrder), timeout=timeout
    )


def _complex_order(
    calls: CallContext,
    account_number: str,
    complex_order_id: int | str,
    *,
    timeout: float | None = None,
) -> Operation[ComplexOrder]:
    """One complex order (``GET /accounts/{n}/complex-orders/{id}``)."""
    path = order_path(
        account_number, "complex-orders", check_order_id(complex_order_id, "complex order id")
    )
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
    path = order_path(
        account_number, "complex-orders", check_order_id(complex_order_id, "complex order id")
    )
    return build_call(
        calls, "DELETE", path, data_of(ComplexOrder), idempotent=False, timeout=timeout
    )


def _margin_dry_run(
    calls: CallContext, account_number: str, order: NewOrder, *, timeout: float | None = None
) -> Operation[MarginDryRunResult]:
    """What an order would do to margin and buying power
    (``POST /margin/accounts/{n}/dry-run``, the order as body); places nothing."""
    require_type(order, NewOrder, "order")
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
