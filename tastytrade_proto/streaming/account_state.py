"""What the account streamer needs over REST: its credential, and the accounts' state.

The account streamer carries no history: it pushes changes from the moment a socket
subscribes, and nothing that happened while no socket was open. So after every
(re)connect the stream reads the accounts' live orders, live complex orders,
positions and balances (:class:`AccountState`) and reports what changed meanwhile.

Both are endpoints of every session (:class:`AccountStreamAPI`), so a transport's
stream runs them through the session like any other call: renewal, retries and
scrubbing included.
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import _args
from ..accounts import Balances, Position
from ..errors import LocalProtocolError
from ..models import data_of, items_of
from ..orders.models import ComplexOrder, Order
from ..orders.placing import all_items, list_builder, order_path
from ..protocol import flows
from ..protocol.endpoint import CallContext, Endpoint
from ..protocol.http import encode_path
from ..protocol.operation import Context, Flow, Operation
from ..values import field, frozen

__all__ = ["AccountState", "AccountStreamAPI", "StreamCredential"]


@frozen
class StreamCredential:
    """The ``auth-token`` every account streamer message carries: exactly the session's
    ``Authorization`` value (``Bearer <access token>`` for OAuth, the bare session token
    for a ``/sessions`` login). A secret, left out of the ``repr``.

    ``expires_at`` is when the token stops working (POSIX seconds), if known.
    """

    authorization: str = field(repr=False)
    expires_at: float | None = None


@frozen
class AccountState:
    """The accounts as REST reports them at one moment: what a stream's resync compares
    against what it has delivered."""

    accounts: tuple[str, ...]
    orders: tuple[Order, ...] = ()
    complex_orders: tuple[ComplexOrder, ...] = ()
    positions: tuple[Position, ...] = ()
    balances: tuple[Balances, ...] = ()


def _stream_credential(
    calls: CallContext,
    *,
    refused: str | None = None,
    min_remaining: float = 0.0,
    timeout: float | None = None,
) -> Operation[StreamCredential]:
    """The session's current ``Authorization`` value for the account streamer.

    Renewed first when it is due (as before any request), when it has less than
    ``min_remaining`` seconds left and can be renewed, or when it is ``refused`` (the
    streamer turned that very value down; a token another caller renewed since is
    simply returned). Sends nothing when none of these holds.
    """
    machine = calls.machine
    if isinstance(min_remaining, bool) or not isinstance(min_remaining, (int, float)):
        raise LocalProtocolError("min_remaining must be a number of seconds")

    def flow(ctx: Context) -> Flow[StreamCredential]:
        yield from flows.ensure_authenticated(ctx, machine)
        expires = machine.expires_at
        short = (
            expires is not None
            and expires.timestamp() - ctx.now < min_remaining
            and machine.can_renew
        )
        if (refused is not None and machine.authorization() == refused) or short:
            yield from flows.renew(ctx, machine)
            yield from flows.ensure_authenticated(ctx, machine)
        expires = machine.expires_at
        return StreamCredential(
            machine.authorization(), expires.timestamp() if expires is not None else None
        )

    return flows.operation(machine, flow, timeout=timeout)


def _account_state(
    calls: CallContext, account_numbers: Iterable[str] | str, *, timeout: float | None = None
) -> Operation[AccountState]:
    """Live orders, live complex orders, positions and balances of each account, read
    one after another (``GET .../orders/live``, ``.../complex-orders/live``,
    ``.../positions``, ``.../balances``); every page of the order lists."""
    accounts = tuple(
        _args.account_number(a) for a in _args.required_strings(account_numbers, "account_numbers")
    )
    machine, retry = calls.machine, calls.settings.retry

    def flow(ctx: Context) -> Flow[AccountState]:
        orders: list[Order] = []
        complex_orders: list[ComplexOrder] = []
        positions: list[Position] = []
        balances: list[Balances] = []
        for account in accounts:
            build = list_builder(calls, order_path(account, "orders", "live"))
            orders += yield from all_items(ctx, machine, retry, build, Order)
            build = list_builder(calls, order_path(account, "complex-orders", "live"))
            complex_orders += yield from all_items(ctx, machine, retry, build, ComplexOrder)
            request = calls.settings.config.request(
                "GET", encode_path("accounts", account, "positions")
            )
            positions += yield from flows.request_flow(
                ctx, machine, request, items_of(Position), True, retry
            )
            request = calls.settings.config.request(
                "GET", encode_path("accounts", account, "balances")
            )
            balances.append(
                (
                    yield from flows.request_flow(
                        ctx, machine, request, data_of(Balances), True, retry
                    )
                )
            )
        return AccountState(
            accounts, tuple(orders), tuple(complex_orders), tuple(positions), tuple(balances)
        )

    return flows.operation(machine, flow, timeout=timeout)


class AccountStreamAPI:
    """The account streamer's REST side (mixed into every session)."""

    stream_credential = Endpoint(_stream_credential)
    account_state = Endpoint(_account_state)
