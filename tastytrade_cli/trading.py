"""The commands that change orders: ``order`` (dry run or place), ``cancel`` and ``replace``.

Every one of them first shows what it is about to do, in words: the action,
quantity, symbol, price as a debit or a credit, time in force, the account
and the environment, with the dry run's buying-power effect and fees. Then
it asks ``[y/N]`` on the terminal. ``--yes`` skips the question (for
scripts), except that production also needs ``--production``: placing real
orders is never what happens by default. Without a terminal and without
``--yes`` nothing is sent. Prices are checked against the instrument's tick
sizes (fetched, or given with ``--tick``) before anything is sent.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from decimal import ROUND_DOWN, ROUND_UP, Decimal

import tastytrade_requests
from tastytrade_proto import NotFound, TransportError
from tastytrade_proto.accounts import InstrumentType
from tastytrade_proto.instruments import TickSize, parse_occ
from tastytrade_proto.orders import (
    ComplexOrder,
    NewLeg,
    NewOrder,
    Order,
    OrderOutcomeUnknown,
    OrderResponse,
    OrderType,
    PlacedOrder,
    Replacement,
    TickSizeError,
    TimeInForce,
    check_tick,
    round_to_tick,
)

from .account import follow_order, show_outcome_unknown
from .commands import (
    LIVE_STATUSES,
    account_of,
    complex_members,
    describe_legs,
    fill_summary,
    order_price,
)
from .errors import CommandError, ExitCode
from .login import Context, session
from .output import Column, jsonable, money, price, quantity, signed_price
from .parsing import (
    parse_action,
    parse_instrument_type,
    parse_price,
    parse_quantity,
    parse_symbol,
    parse_time_in_force,
)

__all__ = ["SOURCE", "cancel", "order", "replace"]

#: The ``source`` the command line's orders carry.
SOURCE = "tastytrade-proto-cli"

Session = tastytrade_requests.Session


# -- asking -----------------------------------------------------------------------------------


def _refuse_silent_production(ctx: Context) -> None:
    """Before anything is sent: ``--yes`` where real money may trade needs ``--production``."""
    if not ctx.option("yes") or ctx.option("production"):
        return
    from . import store
    from .login import where_for

    where_for(ctx, store.load(ctx.path))
    _check_yes(ctx)


def _check_yes(ctx: Context) -> None:
    if ctx.real_money and not ctx.option("production"):
        raise CommandError(
            f"--yes in {ctx.environment} also needs --production (it may trade real money): "
            "nothing was sent",
            ExitCode.DECLINED,
        )


def _confirm(ctx: Context, question: str) -> None:
    """Go on only if the user says yes (or gave ``--yes``, and ``--production`` there)."""
    if ctx.option("yes"):
        _check_yes(ctx)
        return
    if ctx.ask_line is None:
        raise CommandError(
            "no terminal to confirm on: nothing was sent",
            ExitCode.DECLINED,
            "pass --yes to send without asking (and --production in production)",
        )
    if ctx.environment.startswith("production"):
        where = f"PRODUCTION, real money ({ctx.environment})"
    elif ctx.real_money:
        where = f"{ctx.environment}, which may trade real money"
    else:
        where = ctx.environment
    try:
        answer = ctx.ask_line(f"{question} in {where}? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise CommandError("not confirmed: nothing was sent", ExitCode.DECLINED)


def _show_effect(ctx: Context, response: OrderResponse | None) -> None:
    """The dry run's buying-power effect, fees and warnings."""
    if response is None:
        return
    out = ctx.output
    rows: list[tuple[str, str]] = []
    effect = response.buying_power_effect
    if effect is not None:
        rows.append(("buying power change", money(effect.change_in_buying_power)))
        rows.append(("buying power after", money(effect.new_buying_power)))
    fees = response.fee_calculation
    if fees is not None:
        rows.append(("fees", money(fees.total_fees)))
    if rows:
        out.table([Column("effect"), Column("amount", numeric=True)], rows, aside=True)
    for warning in response.warnings:
        out.tell(f"warning: {warning.message or warning.code}", "yellow")


# -- placing ----------------------------------------------------------------------------------


def _tick_sizes(ctx: Context, s: Session, symbol: str, kind: InstrumentType) -> Sequence[TickSize]:
    """The instrument's tick sizes (``--tick`` wins); an unknown symbol fails here."""
    given = ctx.option("tick")
    if given:
        return (TickSize(value=parse_price(given, "--tick")),)
    with ctx.output.busy("looking the instrument up"):
        try:
            if kind is InstrumentType.EQUITY:
                return s.equity(symbol).tick_sizes
            if kind is InstrumentType.EQUITY_OPTION:
                option = s.equity_option(symbol)
                underlying = option.underlying_symbol or parse_occ(symbol).root
                return s.equity(underlying).option_tick_sizes
            if kind is InstrumentType.FUTURE:
                return s.future(symbol).tick_sizes
            if kind is InstrumentType.FUTURE_OPTION:
                future = s.future_option(symbol).underlying_symbol
                return s.future(future).option_tick_sizes if future else ()
            if kind is InstrumentType.CRYPTOCURRENCY:
                tick = s.cryptocurrency(symbol).tick_size
                return (TickSize(value=tick),) if tick else ()
        except NotFound:
            raise CommandError(
                f"no {kind.value.lower()} {symbol} (unknown or expired)",
                ExitCode.NOT_FOUND,
                "--instrument-type names another kind" if ctx.option("instrument_type") else "",
            ) from None
    return ()


def _check_tick(price_: Decimal, ticks: Sequence[TickSize], what: str = "--limit") -> None:
    if not ticks:
        return
    try:
        check_tick(price_, ticks)
    except TickSizeError as error:
        below = round_to_tick(abs(price_), ticks, rounding=ROUND_DOWN)
        above = round_to_tick(abs(price_), ticks, rounding=ROUND_UP)
        raise CommandError(
            f"{what} {abs(price_)} is not a multiple of the tick size {error.increment}",
            ExitCode.USAGE,
            f"the nearest prices are {price(below)} and {price(above)}",
        ) from None


def _new_order(ctx: Context) -> NewOrder:
    args = ctx.args
    symbol = parse_symbol(args.symbol)
    kind = (
        parse_instrument_type(args.instrument_type)
        if args.instrument_type
        else (symbol.instrument_type)
    )
    action = parse_action(args.action, kind)
    size = parse_quantity(args.quantity)
    time_in_force = parse_time_in_force(args.time_in_force)
    leg = NewLeg(kind, symbol.text, action, size)
    if args.limit is None:
        if time_in_force not in (TimeInForce.DAY, TimeInForce.IOC):
            raise CommandError(
                f"a market order is Day or IOC only: give --limit for {time_in_force.value}",
                ExitCode.USAGE,
            )
        return NewOrder.market(leg, time_in_force=time_in_force, source=SOURCE)
    unsigned = parse_price(args.limit)
    signed = -unsigned if action.buys else unsigned  # buying pays: a debit
    return NewOrder.limit(leg, signed, time_in_force=time_in_force, source=SOURCE)


def _order_in_words(order: NewOrder) -> str:
    legs = "; ".join(
        f"{leg.action.value} {quantity(leg.quantity)} {leg.symbol}" for leg in order.legs
    )
    terms = (
        f"limit {signed_price(order.price)}"
        if order.order_type is OrderType.LIMIT
        else order.order_type.value.lower()
    )
    return f"{legs} at {terms}, {order.time_in_force.value}"


def order(ctx: Context) -> None:
    if ctx.option("wait") and not ctx.args.place:
        raise CommandError("--wait goes with --place", ExitCode.USAGE)
    new = _new_order(ctx)
    if ctx.args.place:
        _refuse_silent_production(ctx)
    leg = new.legs[0]
    with session(ctx) as s:
        account = account_of(ctx, s, ctx.args.account)
        ticks = _tick_sizes(ctx, s, leg.symbol, leg.instrument_type)
        if new.price is not None:
            _check_tick(new.price, ticks)
        with ctx.output.busy("checking the order (dry run)"):
            response = s.dry_run_order(account, new)
        out = ctx.output
        if out.json_mode and ctx.args.dry_run:
            out.json(response)
            return
        verb = "dry run" if ctx.args.dry_run else "order"
        out.tell(f"{verb}: {_order_in_words(new)}", "bold")
        out.tell(f"account {account}, {ctx.environment}")
        _show_effect(ctx, response)
        if ctx.args.dry_run:
            out.line("nothing was placed (a dry run)", "dim")
            return
        _confirm(ctx, "place this order")
        wait = bool(ctx.option("wait"))
        try:
            with _sending(ctx, s, "the order"), ctx.output.busy("placing the order"):
                placed = s.place_order(account, new, tick_sizes=ticks or None)
        except OrderOutcomeUnknown as error:
            if not wait:
                raise
            show_outcome_unknown(ctx, error)  # it may yet show up: look for it
            follow_order(ctx, s, error, account, None)
            return
        _show_placed(ctx, placed, account, lines=wait)
        if wait:
            follow_order(ctx, s, placed, account, placed.order)


def _fill_text(order_: Order) -> str:
    filled = fill_summary(order_)
    return f", filled {filled}" if filled else ""


def _show_placed(ctx: Context, placed: PlacedOrder, account: str, *, lines: bool) -> None:
    """What was placed; with ``lines`` (``--wait``), JSON goes on one line, as the changes
    that follow it."""
    out = ctx.output
    if out.json_mode:
        if lines:
            out.out.file.write(json.dumps({"event": "placed", **jsonable(placed)}) + "\n")
            out.out.file.flush()
        else:
            out.json(placed)
        return
    shown = placed.order
    status = shown.status.value if shown.status is not None else "unknown"
    found = " (found after an unclear answer)" if placed.reconciled else ""
    out.line(
        f"placed #{shown.id} in {account}, {ctx.environment}: {status}{_fill_text(shown)}{found}",
        "green",
    )
    if placed.response is not None:
        for warning in placed.response.warnings:
            out.line(f"warning: {warning.message or warning.code}", "yellow")


# -- cancelling and replacing -----------------------------------------------------------------


def _replaced_by(found: Order | ComplexOrder) -> str:
    if isinstance(found, Order) and found.replacing_order_id is not None:
        return f" (replaced by #{found.replacing_order_id})"
    return ""


@contextlib.contextmanager
def _sending(ctx: Context, s: Session, what: str) -> Iterator[None]:
    """Around a request that changes an order: an interruption, or an answer lost after it
    went out, leaves its outcome unknown, and the command says so (exit 8) rather than
    "interrupted" or "cannot reach", after which a trader might send it again."""
    try:
        yield
    except KeyboardInterrupt:
        unsettled = ", ".join(u.external_identifier for u in s.unsettled_orders)
        known = f" (external identifier {unsettled})" if unsettled else ""
        raise CommandError(
            f"interrupted while {what} was being sent: it may or may not have gone through{known}",
            ExitCode.UNCERTAIN,
            "run `tastytrade orders` before sending it again",
        ) from None
    except TransportError as error:
        if not error.request_sent:
            raise
        raise CommandError(
            f"{what} was sent but its answer was lost: it may or may not have gone through",
            ExitCode.UNCERTAIN,
            "run `tastytrade orders` before sending it again",
        ) from error


def _order_id(text: str) -> tuple[str, bool]:
    """``12345`` (an order) or ``c678`` (a complex order), and whether it is complex."""
    cleaned = text.strip().lstrip("#")
    complex_ = cleaned[:1].lower() == "c"
    number = cleaned[1:] if complex_ else cleaned
    if not (number.isascii() and number.isdigit() and int(number) > 0):
        raise CommandError(
            f"{text[:40]!r} is not an order id (a number, or c and a number for a complex order)",
            ExitCode.USAGE,
        )
    return number, complex_


def _fetch(
    ctx: Context, s: Session, account: str, number: str, complex_: bool
) -> Order | ComplexOrder:
    with ctx.output.busy("looking the order up"):
        try:
            return s.complex_order(account, number) if complex_ else s.order(account, number)
        except NotFound:
            kind = "complex order" if complex_ else "order"
            raise CommandError(f"no {kind} {number} in {account}", ExitCode.NOT_FOUND) from None


def cancel(ctx: Context) -> None:
    number, complex_ = _order_id(ctx.args.order_id)
    complex_ = complex_ or bool(ctx.option("complex"))
    _refuse_silent_production(ctx)
    with session(ctx) as s:
        account = account_of(ctx, s, ctx.args.account)
        found = _fetch(ctx, s, account, number, complex_)
        out = ctx.output
        if isinstance(found, ComplexOrder):
            members = complex_members(found)
            working = [o for o in members if o.status in LIVE_STATUSES]
            words = f"complex order c{found.id}: " + "; ".join(
                f"#{o.id} {describe_legs(o, remaining=True)} at {order_price(o)}" for o in members
            )
        else:
            working = [found] if found.status in LIVE_STATUSES else []
            words = (
                f"order #{found.id}: {describe_legs(found, remaining=bool(working))} at "
                f"{order_price(found)}, "
                f"{found.status.value if found.status else '-'}"
            )
        if not working:
            raise CommandError(
                f"{words}{_replaced_by(found)}: no longer working, nothing to cancel",
                ExitCode.REFUSED,
            )
        out.tell(f"cancel {words}", "bold")
        if isinstance(found, Order) and found.complex_order_id is not None:
            out.tell(
                f"it belongs to complex order c{found.complex_order_id}: the others stay "
                f"(cancel c{found.complex_order_id} for all of them)",
                "yellow",
            )
        out.tell(f"account {account}, {ctx.environment}")
        _confirm(ctx, "cancel it")
        with _sending(ctx, s, "the cancel"), ctx.output.busy("cancelling"):
            if isinstance(found, ComplexOrder):
                result: Order | ComplexOrder = s.cancel_complex_order(account, number)
            else:
                result = s.cancel_order(account, number)
    if out.json_mode:
        out.json(result)
        return
    if isinstance(result, Order):
        status = result.status.value if result.status else "-"
        out.line(f"order #{result.id}: {status}{_fill_text(result)}", "green")
    else:
        out.line(f"complex order c{result.id}: cancel requested", "green")


def replace(ctx: Context) -> None:
    number, complex_ = _order_id(ctx.args.order_id)
    if complex_:
        raise CommandError(
            "a complex order is replaced one order at a time: give the id of the order "
            "inside it (see `tastytrade orders --live`)",
            ExitCode.USAGE,
        )
    unsigned = parse_price(ctx.args.limit)
    _refuse_silent_production(ctx)
    with session(ctx) as s:
        account = account_of(ctx, s, ctx.args.account)
        found = _fetch(ctx, s, account, number, False)
        assert isinstance(found, Order)
        if found.status not in LIVE_STATUSES or found.editable is False:
            status = found.status.value if found.status else "-"
            raise CommandError(
                f"order #{found.id} is {status}{_replaced_by(found)}: it cannot be replaced",
                ExitCode.REFUSED,
            )
        if found.order_type is not OrderType.LIMIT:
            kind = found.order_type.value if found.order_type else "unknown"
            raise CommandError(
                f"order #{found.id} is a {kind} order: replace only changes a limit order's "
                "price (a stop's trigger would be lost); cancel it and place a new one",
                ExitCode.USAGE,
            )
        debit = _is_debit(ctx, found)
        signed = -unsigned if debit else unsigned
        time_in_force = (
            parse_time_in_force(ctx.args.time_in_force)
            if ctx.args.time_in_force
            else found.time_in_force or TimeInForce.DAY
        )
        ticks: Sequence[TickSize] = ()
        kind = found.legs[0].instrument_type if len(found.legs) == 1 else None
        if isinstance(kind, InstrumentType):
            ticks = _tick_sizes(ctx, s, found.legs[0].symbol or "", kind)
            _check_tick(signed, ticks)
        gtc_date = found.gtc_date if time_in_force is TimeInForce.GTD else None
        change = Replacement.limit(signed, time_in_force=time_in_force, gtc_date=gtc_date)
        out = ctx.output
        out.tell(
            f"replace order #{found.id}: {describe_legs(found, remaining=True)} at "
            f"{signed_price(found.price)} -> limit {signed_price(signed)}, "
            f"{time_in_force.value}",
            "bold",
        )
        out.tell(f"account {account}, {ctx.environment}")
        _confirm(ctx, "replace it")
        with _sending(ctx, s, "the replacement"), ctx.output.busy("replacing"):
            result = s.replace_order(account, number, change, tick_sizes=ticks or None)
    if out.json_mode:
        out.json(result)
        return
    status = result.status.value if result.status else "-"
    out.line(f"replaced by order #{result.id}: {status}{_fill_text(result)}", "green")


def _is_debit(ctx: Context, found: Order) -> bool:
    """Whether the new price is paid: the order's own sign; ``--debit``/``--credit`` only
    for an order without one (a flag that contradicts the order is refused, not obeyed)."""
    said = True if ctx.option("debit") else False if ctx.option("credit") else None
    if found.price is not None and found.price != 0:
        debit = found.price < 0
        if said is not None and said != debit:
            raise CommandError(
                f"order #{found.id} is a {'debit' if debit else 'credit'} "
                f"({signed_price(found.price)}): --{'credit' if debit else 'debit'} would turn it "
                "around; place a new order instead",
                ExitCode.USAGE,
            )
        return debit
    if said is not None:
        return said
    if len(found.legs) == 1 and found.legs[0].action is not None:
        return bool(found.legs[0].action.buys)
    raise CommandError(
        f"order #{found.id} has no price to take the debit or credit from: say --debit or --credit",
        ExitCode.USAGE,
    )
