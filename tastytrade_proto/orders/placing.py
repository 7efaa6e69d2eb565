"""Placing an order exactly once, and finding out what became of it when the answer was lost."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timezone
from typing import Any, TypeVar

from .. import _args
from ..errors import (
    DecodeError,
    LocalProtocolError,
    RateLimited,
    ResponseError,
    ServerError,
    TastytradeError,
    TransportError,
)
from ..models import (
    M,
    decode_list,
    decode_model,
    show_value,
)
from ..protocol import flows
from ..protocol.auth import AuthMachine
from ..protocol.endpoint import CallContext
from ..protocol.envelope import Envelope, decode_envelope, error_from_response
from ..protocol.http import Request, Response, encode_path
from ..protocol.operation import Context, Flow, Send, Wait
from ..protocol.retry import RetryPolicy
from ..values import frozen
from .errors import OrderNotPlaced, OrderOutcomeUnknown
from .models import (
    BuyingPowerEffect,
    ComplexOrder,
    FeeCalculation,
    Order,
    OrderMessage,
    OrderResponse,
)

T = TypeVar("T")


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


def identifier_for(calls: CallContext, given: str | None) -> str:
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


def all_items(
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


def carries_identifier(identifiers: Collection[str]) -> Callable[[Any], bool]:
    """Whether a raw order, or a raw complex order's trigger or orders, carries one of ours."""

    def own(row: Any) -> bool:
        return isinstance(row, dict) and row.get("external-identifier") in identifiers

    def keep(row: Any) -> bool:
        if own(row) or (isinstance(row, dict) and own(row.get("trigger-order"))):
            return True
        orders = row.get("orders") if isinstance(row, dict) else None
        return isinstance(orders, list) and any(own(o) for o in orders)

    return keep


def received_since(sent_at: float) -> Callable[[Order], bool]:
    """Whether an order was received no earlier than this placement (less the skew)."""
    earliest = datetime.fromtimestamp(sent_at - RECONCILE_CLOCK_SKEW, tz=timezone.utc)
    return lambda order: order.received_at is None or order.received_at >= earliest


def list_builder(calls: CallContext, path: str) -> Callable[[int], Request]:
    config = calls.settings.config

    def build(offset: int) -> Request:
        params = {"page-offset": offset} if offset else None
        return config.request("GET", path, params=params)

    return build


def check_delays(delays: Any) -> tuple[float, ...]:
    try:
        found = tuple(float(d) for d in delays)
    except (TypeError, ValueError):
        found = ()
    if not found or any(not 0 <= d <= 3600 for d in found):  # also refuses NaN
        raise LocalProtocolError(
            "reconcile_delays must be one or more waits in seconds, each between 0 and 3600"
        )
    return found


def reconcile(
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


def newest(orders: Iterable[Order]) -> Order | None:
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


decode_placed = _placed_decoder("order")
decode_complex_placed = _placed_decoder("complex-order")


def post_once(
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


def order_path(account_number: Any, *rest: str | int) -> str:
    return encode_path("accounts", _args.account_number(account_number), *rest)


def check_order_id(value: Any, what: str = "order id") -> int:
    return _args.identifier(value, what)


def require_type(value: Any, kind: type, what: str) -> None:
    if not isinstance(value, kind):
        raise LocalProtocolError(f"{what} must be a {kind.__name__}, got {show_value(value)}")
