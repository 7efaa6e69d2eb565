"""``tastytrade stream`` and ``order --place --wait``: the account streamer, live.

tastytrade pushes every change to an account's orders, positions and balances
over a websocket (the library's ``session.account_stream()``). ``stream``
prints a line per change (``--json``: a JSON object per line); ``order --wait``
follows one order to its end (``session.track_order()``'s tracker). After every
(re)connect the library reads the accounts over REST and reports what changed
while no socket listened (flagged ``resynced``), then a ``Resync``: nothing
that happened during a drop is lost, and no fill is reported twice.

As for ``watch``, the credentials stay locked only while the session itself is
used (the streamer's token, the REST reads of a resync, an order's polls), so
other commands run while one streams; the streamer's token is a secret of the
run, never printed, and removed from ``--debug``'s detail.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import tastytrade_requests
from tastytrade_proto import TastytradeError
from tastytrade_proto.accounts import Position
from tastytrade_proto.errors import StreamingError
from tastytrade_proto.orders import ComplexOrder, Fill, Order, OrderOutcomeUnknown, OrderStatus
from tastytrade_proto.streaming import Connected, Disconnected, LinkEvent, MalformedMessage
from tastytrade_proto.streaming.account import (
    AccountEvent,
    ActionRefused,
    BalancesUpdated,
    ComplexOrderUpdated,
    Notification,
    OrderUpdated,
    PositionUpdated,
    QuoteAlertTriggered,
    Resync,
    TradingStatusUpdated,
    WatchlistUpdated,
)
from tastytrade_proto.streaming.account_state import AccountState, StreamCredential
from tastytrade_proto.streaming.tracking import OrderWaitTimeout

from .commands import describe_legs, fill_summary, signed_quantity
from .errors import CommandError, ExitCode, explain, unreachable_stream
from .login import Context, released, session
from .output import jsonable, money, price, quantity, signed_price, when
from .streams import (
    CONNECT_TRIES,
    POLL,
    UNREACHED,
    Done,
    Lines,
    interruptible,
)

__all__ = [
    "ACCOUNT_STREAM",
    "Via",
    "event_json",
    "event_line",
    "follow_order",
    "stream",
]

Session = tastytrade_requests.Session


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


#: How the account stream is named in messages.
ACCOUNT_STREAM = "the account stream"


# -- the session, with the credentials locked around each call -------------------------------


class Via:
    """What an account stream and an order's tracking call over the session, each call
    with the credentials locked (a token renewal may spend a single-use token). The
    streamer's token is kept as a secret of the run, so ``--debug`` never shows it.

    It is the ``via`` of ``session.account_stream(via=...)`` and
    ``session.track_order(via=...)``.
    """

    def __init__(self, ctx: Context, session: Session) -> None:
        self._ctx, self._session = ctx, session

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        lease = self._ctx.lease
        return lease.during() if lease is not None else contextlib.nullcontext()

    def stream_credential(self, **options: Any) -> StreamCredential:
        with self._locked():
            credential = self._session.stream_credential(**options)
        value = credential.authorization
        self._ctx.secrets.extend([value, value.removeprefix("Bearer ")])
        return credential

    def account_state(self, accounts: Sequence[str], **options: Any) -> AccountState:
        with self._locked():
            return self._session.account_state(list(accounts), **options)

    def order(self, account_number: str, order_id: Any) -> Order:
        with self._locked():
            return self._session.order(account_number, order_id)

    def complex_order(self, account_number: str, order_id: Any) -> ComplexOrder:
        with self._locked():
            return self._session.complex_order(account_number, order_id)

    def find_order(self, account_number: str, external_identifier: str) -> Order | None:
        with self._locked():
            return self._session.find_order(account_number, external_identifier)


# -- an event in words, and as JSON ----------------------------------------------------------


def _status(value: OrderStatus | None) -> str:
    return value.value if value is not None else "-"


def _fills(order: Order, new: Sequence[Fill]) -> list[tuple[str, Fill]]:
    """The new fills, each with its leg's symbol, in leg order."""
    found: list[tuple[str, Fill]] = []
    for leg in order.legs:
        for fill in leg.fills:
            if fill in new:
                found.append((leg.symbol or "-", fill))
    return found


def _fill_words(order: Order, new: Sequence[Fill]) -> str:
    """``filled 10 AAPL @ 185.00`` for each new fill."""
    return ", ".join(
        f"filled {quantity(fill.quantity)} {symbol} @ {price(fill.fill_price)}"
        for symbol, fill in _fills(order, new)
    )


def order_change(update: OrderUpdated, *, before: OrderStatus | None = None) -> str:
    """``order #100002 Live -> Filled  Buy to Open 10 AAPL at 185.00 db  filled 10 AAPL @ 185.00``;
    ``before`` is the status shown before when the update names none."""
    order = update.order
    previous = update.previous_status or before
    status = _status(order.status)
    same = previous is None or previous == order.status
    moved = status if previous is None or same else f"{previous.value} -> {status}"
    parts = [f"order #{order.id} {moved}", f"{describe_legs(order)} at {_priced(order)}"]
    if update.new_fills:
        parts.append(_fill_words(order, update.new_fills))
    if order.status is OrderStatus.REJECTED and order.reject_reason:
        parts.append(f"reason: {order.reject_reason}")
    return "  ".join(parts)


def _priced(order: Order) -> str:
    if order.price is not None:
        return signed_price(order.price)
    return (order.order_type.value if order.order_type is not None else "market").lower()


def _position_words(position: Position) -> str:
    signed = signed_quantity(position)
    if signed == 0:
        return f"position {position.symbol} closed"
    average = price(position.average_open_price)
    return f"position {position.symbol} {quantity(signed)} (avg open {average})"


def _account_of(event: Any) -> str | None:
    if isinstance(event, OrderUpdated):
        return event.order.account_number
    if isinstance(event, ComplexOrderUpdated):
        return event.complex_order.account_number
    if isinstance(event, PositionUpdated):
        return event.position.account_number
    if isinstance(event, BalancesUpdated):
        return event.balances.account_number
    if isinstance(event, TradingStatusUpdated):
        return event.trading_status.account_number
    return None


def _what(event: Any) -> str:
    if isinstance(event, OrderUpdated):
        return order_change(event)
    if isinstance(event, ComplexOrderUpdated):
        complex_order = event.complex_order
        members = [
            f"#{o.id} {_status(o.status)}"
            for o in (
                [complex_order.trigger_order] if complex_order.trigger_order is not None else []
            )
            + list(complex_order.orders)
        ]
        kind = f" {complex_order.type}" if complex_order.type else ""
        return f"complex order c{complex_order.id}{kind}: " + ", ".join(members)
    if isinstance(event, PositionUpdated):
        return _position_words(event.position)
    if isinstance(event, BalancesUpdated):
        balances = event.balances
        return (
            f"balances  net liq {money(balances.net_liquidating_value)}  "
            f"cash {money(balances.cash_balance)}"
        )
    if isinstance(event, WatchlistUpdated):
        watchlist = event.watchlist
        return f"public watchlist {watchlist.name}: {len(watchlist.watchlist_entries)} symbols"
    if isinstance(event, QuoteAlertTriggered):
        alert = event.alert
        return (
            f"quote alert triggered: {alert.symbol} {alert.field or ''} "
            f"{alert.operator or ''} {price(alert.threshold)}"
        )
    if isinstance(event, TradingStatusUpdated):
        status = event.trading_status
        flags = [
            name
            for name, on in (
                ("frozen", status.is_frozen),
                ("closed", status.is_closed),
                ("closing only", status.is_closing_only),
            )
            if on
        ]
        return "trading status changed" + (f": {', '.join(flags)}" if flags else "")
    if isinstance(event, Notification):
        return f"{event.type} notification"
    return type(event).__name__


def event_line(event: Any, received: datetime) -> str:
    """One account event in words, for ``stream``'s output."""
    moment = event.at() if isinstance(event, AccountEvent) else None
    account = _account_of(event)
    parts = [when(moment or received)]
    if account:
        parts.append(account)
    parts.append(_what(event))
    if getattr(event, "resynced", False):
        parts.append("(resync)")
    return "  ".join(parts)


def _numbers_as_text(value: Any) -> Any:
    """Raw JSON with every number as its decimal text: money is never a float."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _numbers_as_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_numbers_as_text(v) for v in value]
    return value


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _fill_json(symbol: str, fill: Fill) -> dict[str, Any]:
    return {"symbol": symbol, **jsonable(fill)}


def event_json(event: Any, received: datetime) -> dict[str, Any]:
    """One event (account or link) as ``stream --json`` prints it (see docs/cli.md)."""
    moment = event.at() if isinstance(event, AccountEvent) else None
    base: dict[str, Any] = {
        "event": "",
        "account": _account_of(event),
        "time": _iso(moment) if moment is not None else None,
        "received": _iso(received),
        "resynced": bool(getattr(event, "resynced", False)),
    }
    if isinstance(event, OrderUpdated):
        order = event.order
        previous = event.previous_status
        base.update(
            {
                "event": "order",
                "order-id": order.id,
                "status": _status(order.status),
                "previous-status": previous.value if previous is not None else None,
                "new-fills": [_fill_json(s, f) for s, f in _fills(order, event.new_fills)],
                "order": jsonable(order),
            }
        )
    elif isinstance(event, ComplexOrderUpdated):
        base.update(
            {
                "event": "complex-order",
                "complex-order-id": event.complex_order.id,
                "complex-order": jsonable(event.complex_order),
            }
        )
    elif isinstance(event, PositionUpdated):
        base.update(
            {
                "event": "position",
                "symbol": event.position.symbol,
                "quantity": str(signed_quantity(event.position)),
                "position": jsonable(event.position),
            }
        )
    elif isinstance(event, BalancesUpdated):
        balances = event.balances
        base.update(
            {
                "event": "balances",
                "net-liquidating-value": _text(balances.net_liquidating_value),
                "cash-balance": _text(balances.cash_balance),
                "balances": jsonable(balances),
            }
        )
    elif isinstance(event, WatchlistUpdated):
        base.update({"event": "watchlist", "watchlist": jsonable(event.watchlist)})
    elif isinstance(event, QuoteAlertTriggered):
        base.update({"event": "quote-alert", "alert": jsonable(event.alert)})
    elif isinstance(event, TradingStatusUpdated):
        base.update({"event": "trading-status", "trading-status": jsonable(event.trading_status)})
    elif isinstance(event, Notification):
        base.update(
            {"event": "notification", "type": event.type, "data": _numbers_as_text(event.data)}
        )
    elif isinstance(event, Connected):
        base.update({"event": "connected", "url": event.url, "attempt": event.attempt})
    elif isinstance(event, Disconnected):
        base.update(
            {
                "event": "disconnected",
                "reason": event.reason.value,
                "detail": event.detail,
                "retry-in": f"{event.retry_in:.3f}",
            }
        )
    elif isinstance(event, Resync):
        base.update(
            {
                "event": "resync",
                "reason": event.reason,
                "orders": event.orders,
                "complex-orders": event.complex_orders,
                "positions": event.positions,
                "balances": event.balances,
            }
        )
    elif isinstance(event, ActionRefused):
        base.update({"event": "refused", "action": event.action, "code": event.code})
    elif isinstance(event, MalformedMessage):
        base.update({"event": "malformed", "detail": str(event.error)[:200]})
    else:
        base["event"] = type(event).__name__
    return base


# -- the link, in words ------------------------------------------------------------------------


def _counted(number: int, what: str) -> str:
    return f"{number} {what}{'' if number == 1 else 's'}"


class _Link:
    """What the account stream's link did, in words; gives up when it never connects."""

    def __init__(self, accounts: Sequence[str]) -> None:
        self.accounts = accounts
        self.connected = False
        self._failures = 0

    def said(self, event: LinkEvent) -> tuple[str, bool]:
        """The status line for ``event``, and whether it is news even when piped (the
        first connection and its first resync are not: what follows shows them)."""
        if isinstance(event, Connected):
            again, self.connected, self._failures = self.connected, True, 0
            if again:
                return "reconnected; catching up...", True
            host = urlsplit(event.url).hostname or "the account streamer"
            return f"connected to {host}: {', '.join(self.accounts)}", False
        if isinstance(event, Disconnected):
            why = event.reason.value + (f": {event.detail[:120]}" if event.detail else "")
            if not self.connected:
                if event.reason in UNREACHED:
                    self._failures += 1
                    if self._failures >= CONNECT_TRIES:
                        raise unreachable_stream(event.detail, ACCOUNT_STREAM)
                return f"connecting... (a try failed: {why})", False
            wait = f" in {event.retry_in:.0f} s" if event.retry_in >= 1 else ""
            return f"link lost ({why}); reconnecting{wait}...", True
        if isinstance(event, Resync):
            found = [
                _counted(event.orders, "order"),
                _counted(event.positions, "position"),
                _counted(event.balances, "balance"),
            ]
            if event.complex_orders:
                found.append(_counted(event.complex_orders, "complex order"))
            counts = ", ".join(found)
            if event.reason == "connect":
                return f"up to date ({counts} as they are now); changes follow live", False
            why = "a gap in the stream" if event.reason == "gap" else "the reconnect"
            return f"caught up after {why}: {counts} changed meanwhile", True
        if isinstance(event, ActionRefused):
            # Before the first connection a refusal is one more try: if they never stop,
            # the command ends saying why.
            return f"the account streamer refused {event.action}: {event.code}", self.connected
        if isinstance(event, MalformedMessage):
            return "skipped a message from the account streamer that could not be read", True
        return type(event).__name__, True


def _failed(error: StreamingError) -> CommandError:
    """The account stream failed for good: a refusal of this login is status 5."""
    if error.code is not None:
        return CommandError(
            f"{ACCOUNT_STREAM} was refused: {error.message}",
            ExitCode.REFUSED,
            "run `tastytrade login` again if it keeps happening",
        )
    return CommandError(f"{ACCOUNT_STREAM} failed: {error.message}")


# -- stream ------------------------------------------------------------------------------------


def _accounts(ctx: Context, s: Session) -> list[str]:
    """The accounts to stream: those given (each checked), else all of the login's."""
    with ctx.output.busy("fetching accounts"):
        known = [a.account_number for a in s.accounts()]
    given = [a.strip().upper() for a in ctx.option("account") or [] if a.strip()]
    if not given:
        if not known:
            raise CommandError("this login has no open account", ExitCode.NOT_FOUND)
        return known
    missing = [a for a in dict.fromkeys(given) if a not in known]
    if missing:
        raise CommandError(
            f"no account {', '.join(missing)} in this login",
            ExitCode.NOT_FOUND,
            f"its accounts: {', '.join(known) or 'none'}",
        )
    return list(dict.fromkeys(given))


def stream(ctx: Context) -> None:
    out = ctx.output
    count: int | None = ctx.option("count")
    duration: float | None = ctx.option("duration")
    lines = Lines(out)
    with interruptible(), session(ctx) as s:
        accounts = _accounts(ctx, s)
        link = _Link(accounts)
        terminal = out.err.is_terminal

        def say(event: LinkEvent, received: datetime) -> None:
            text, news = link.said(event)
            if out.json_mode:
                lines.write(json.dumps(event_json(event, received)))
            elif news or terminal:
                out.note(f"tastytrade: {text}", "dim" if not news else "yellow")

        deadline = None if duration is None else time.monotonic() + duration
        with released(ctx), s.account_stream(accounts, via=Via(ctx, s)) as feed:
            if ctx.option("watchlists"):
                feed.subscribe_public_watchlists()
            if ctx.option("quote_alerts"):
                feed.subscribe_quote_alerts()
            if terminal and not out.json_mode:
                out.note("Ctrl-C to stop", "dim")
            seen = 0
            with contextlib.suppress(Done):
                while count is None or seen < count:
                    wait = POLL
                    if deadline is not None:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        wait = min(wait, left)
                    try:
                        event = feed.get(wait)
                    except StreamingError as error:
                        raise _failed(error) from error
                    if event is None:
                        if feed.finished and not feed.pending:
                            raise CommandError(f"{ACCOUNT_STREAM} ended")
                        continue
                    received = _now()
                    if isinstance(event, LinkEvent):
                        say(event, received)
                        continue
                    if out.json_mode:
                        lines.write(json.dumps(event_json(event, received)))
                    else:
                        lines.write(event_line(event, received))
                    seen += 1


# -- order --place --wait ----------------------------------------------------------------------

#: How ``order --wait`` ends, by the order's final status.
_ENDS = {
    OrderStatus.FILLED: ExitCode.OK,
    OrderStatus.REJECTED: ExitCode.REFUSED,
}


def _working_hint(order_id: Any) -> str:
    return (
        f"it keeps working: `tastytrade orders --live` shows it, `tastytrade cancel {order_id}` "
        "cancels it"
    )


@contextlib.contextmanager
def _placed_already(order_id: Any) -> Iterator[None]:
    """A failure while following an order still says the order was placed."""
    try:
        yield
    except (CommandError, KeyboardInterrupt, OrderWaitTimeout):
        raise
    except TastytradeError as error:
        told = explain(error)
        placed = f"order #{order_id} was placed" if order_id else "the order may have been placed"
        raise CommandError(
            f"{placed}, but following it failed: {told.message}",
            told.code,
            "run `tastytrade orders` to see where it is",
        ) from error


def follow_order(ctx: Context, s: Session, what: Any, account: str, shown: Order | None) -> None:
    """Follow an order until it ends, a line per change (``--json``: an object per line);
    ``what`` is what placing it returned, or the ``OrderOutcomeUnknown`` it raised;
    ``shown`` is the state already shown (``None``: none yet). Ends with the exit status
    of the order's end (see docs/cli.md)."""
    out = ctx.output
    lines = Lines(out)
    timeout: float | None = ctx.option("timeout")
    before = shown.status if shown is not None else None
    order_id = shown.id if shown is not None else None
    if out.err.is_terminal and not out.json_mode:
        out.note("following the order (Ctrl-C stops following; the order stays)", "dim")
    tracking = s.track_order(what, account_number=account, timeout=timeout, via=Via(ctx, s))
    stopped = True  # by the reader of the output going away, until the loop ends
    try:
        with (
            interruptible(),
            contextlib.suppress(Done),
            _placed_already(order_id),
            released(ctx),
            tracking,
        ):
            for update in tracking:
                if not isinstance(update, OrderUpdated):
                    continue
                order = update.order
                order_id = order.id
                first = update.previous_status is None
                if first and order.status == before and not update.new_fills:
                    continue  # what placing it already showed
                if out.json_mode:
                    lines.write(json.dumps(event_json(update, _now())))
                else:
                    lines.write(order_change(update, before=before))
                before = order.status
            stopped = False
    except OrderWaitTimeout as error:
        last = error.order if isinstance(error.order, Order) else None
        if last is None and isinstance(what, OrderOutcomeUnknown):
            raise CommandError(
                f"the order's answer was lost and it did not show up within {timeout:g} s "
                f"(external identifier {what.external_identifier}): it may or may not have "
                "been placed",
                ExitCode.UNCERTAIN,
                "run `tastytrade orders` before placing it again",
            ) from None
        status = _status(last.status) if last is not None else "not seen"
        number = last.id if last is not None else order_id
        raise CommandError(
            f"order #{number} is still {status} after {timeout:g} s",
            ExitCode.STILL_WORKING,
            _working_hint(number),
        ) from None
    except KeyboardInterrupt:
        if order_id is not None:
            out.note(f"stopped following order #{order_id}: {_working_hint(order_id)}")
        raise
    final = tracking.result
    if not stopped and isinstance(final, Order):
        _ended(ctx, final)


def _ended(ctx: Context, final: Order) -> None:
    status = final.status
    code = _ENDS.get(status, ExitCode.NOT_FILLED) if status is not None else ExitCode.NOT_FILLED
    filled = fill_summary(final)
    words = f"order #{final.id} {_status(status)}" + (f": filled {filled}" if filled else "")
    if code is ExitCode.OK:
        if not ctx.output.json_mode:
            ctx.output.line(words, "green")
        return
    if status is OrderStatus.REJECTED:
        reason = f": {final.reject_reason}" if final.reject_reason else ""
        raise CommandError(f"order #{final.id} was rejected{reason}", ExitCode.REFUSED)
    left = f" with only {filled} filled" if filled else ", unfilled"
    raise CommandError(f"order #{final.id} ended {_status(status)}{left}", code)


def show_outcome_unknown(ctx: Context, error: OrderOutcomeUnknown) -> None:
    """Before following an order whose placement's answer was lost."""
    ctx.output.note(
        "tastytrade: the order's answer was lost; looking for it by its external identifier "
        f"{error.external_identifier}",
        "yellow",
    )
