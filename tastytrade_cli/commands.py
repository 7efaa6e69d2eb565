"""The reading commands: accounts, balances, positions, orders, transactions, watchlists,
quotes, metrics and option chains. Each is a few calls on a ``tastytrade_requests.Session``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import tastytrade_requests
from tastytrade_proto import NotFound
from tastytrade_proto.accounts import InstrumentType, Position
from tastytrade_proto.instruments import NestedOptionChain, NestedOptionExpiration, Strike
from tastytrade_proto.market_data import MarketData
from tastytrade_proto.orders import ComplexOrder, Order, OrderLeg, OrderStatus

from .errors import CommandError, ExitCode
from .login import Context, session
from .output import Column, gain, money, number, percent, price, quantity, signed_price, when
from .parsing import Symbol, parse_symbol

__all__ = [
    "LIVE_STATUSES",
    "account_of",
    "accounts",
    "balances",
    "chain",
    "complex_members",
    "describe_legs",
    "fill_summary",
    "metrics",
    "order_price",
    "orders",
    "positions",
    "quote",
    "quotes_for",
    "signed_quantity",
    "transactions",
    "unknown_symbols",
    "watchlists",
]

Session = tastytrade_requests.Session

#: The statuses of an order still working (it can be cancelled or replaced).
LIVE_STATUSES = frozenset(
    {
        OrderStatus.RECEIVED,
        OrderStatus.ROUTED,
        OrderStatus.IN_FLIGHT,
        OrderStatus.LIVE,
        OrderStatus.CONTINGENT,
        OrderStatus.CANCEL_REQUESTED,
        OrderStatus.REPLACE_REQUESTED,
    }
)


def account_of(ctx: Context, session: Session, given: str | None) -> str:
    """``given``, or the login's first open account."""
    if given:
        return given.strip().upper()
    with ctx.output.busy("fetching accounts"):
        found = session.accounts()
    if not found:
        raise CommandError("this login has no open account", ExitCode.NOT_FOUND)
    return found[0].account_number


def _now() -> datetime:
    return datetime.now(timezone.utc)


# -- accounts and balances --------------------------------------------------------------------


def accounts(ctx: Context) -> None:
    with session(ctx) as s, ctx.output.busy("fetching accounts"):
        found = s.accounts()
    out = ctx.output
    if out.json_mode:
        out.json(found)
        return
    out.table(
        [Column("account"), Column("nickname"), Column("type"), Column("margin/cash")],
        [
            (
                a.account_number,
                a.nickname or "-",
                a.account_type_name or "-",
                a.margin_or_cash or "-",
            )
            for a in found
        ],
    )


def balances(ctx: Context) -> None:
    with session(ctx) as s:
        account = account_of(ctx, s, ctx.args.account)
        with ctx.output.busy("fetching balances"):
            found = s.balances(account)
    out = ctx.output
    if out.json_mode:
        out.json(found)
        return
    rows = [
        ("net liquidating value", found.net_liquidating_value),
        ("cash balance", found.cash_balance),
        ("equity buying power", found.equity_buying_power),
        ("derivative buying power", found.derivative_buying_power),
        ("day trading buying power", found.day_trading_buying_power),
        ("maintenance requirement", found.maintenance_requirement),
        ("pending cash", found.pending_cash),
    ]
    out.table(
        [Column("balance"), Column("amount", numeric=True)],
        [(name, money(value)) for name, value in rows],
        title=f"account {found.account_number}",
    )


# -- positions --------------------------------------------------------------------------------

_GROUP_OF = {
    InstrumentType.EQUITY: "equities",
    InstrumentType.EQUITY_OPTION: "equity_options",
    InstrumentType.FUTURE: "futures",
    InstrumentType.FUTURE_OPTION: "future_options",
    InstrumentType.CRYPTOCURRENCY: "cryptocurrencies",
    InstrumentType.INDEX: "indices",
}


def quotes_for(
    session: Session, symbols: Iterable[tuple[str, InstrumentType]]
) -> dict[str, MarketData]:
    """Market data by symbol for ``(symbol, instrument type)`` pairs, in one call."""
    groups: dict[str, list[str]] = {}
    for symbol, kind in symbols:
        group = _GROUP_OF.get(kind)
        if group is not None and symbol not in groups.get(group, ()):
            groups.setdefault(group, []).append(symbol)
    if not groups:
        return {}
    return {q.symbol: q for q in session.market_data(**groups)}  # type: ignore[arg-type]


def signed_quantity(position: Position) -> Decimal:
    """A position's quantity, negative when short."""
    quantity_ = position.quantity or Decimal(0)
    return -quantity_ if position.quantity_direction == "Short" else quantity_


@dataclass(frozen=True, slots=True)
class _Held:
    """One position with what the table shows of it."""

    position: Position
    signed: Decimal
    mark: Decimal | None
    value: Decimal | None
    pnl: Decimal | None
    delta: Decimal | None
    days: int | None


def _held(p: Position, q: MarketData | None, today: date) -> _Held:
    signed = signed_quantity(p)
    multiplier = p.multiplier or Decimal(1)
    # The first mark known, in order of freshness: 0 (a worthless option) is a mark too.
    candidates = (q.mark if q is not None else None, p.mark_price, p.mark, p.close_price)
    mark = next((m for m in candidates if m is not None), None)
    value = mark * signed * multiplier if mark is not None else None
    cost = p.average_open_price * signed * multiplier if p.average_open_price is not None else None
    pnl = value - cost if value is not None and cost is not None else None
    delta: Decimal | None = signed  # one per share, or per future contract
    if p.instrument_type is InstrumentType.EQUITY_OPTION:  # in shares
        delta = q.delta * signed * multiplier if q is not None and q.delta is not None else None
    elif p.instrument_type is InstrumentType.FUTURE_OPTION:  # in futures contracts
        delta = q.delta * signed if q is not None and q.delta is not None else None
    days = (p.expires_at.date() - today).days if p.expires_at is not None else None
    return _Held(p, signed, mark, value, pnl, delta, days)


def positions(ctx: Context) -> None:
    with session(ctx) as s:
        account = account_of(ctx, s, ctx.args.account)
        with ctx.output.busy("fetching positions"):
            found = s.positions(account)
            quotes = quotes_for(
                s,
                (
                    (p.symbol, p.instrument_type)
                    for p in found
                    if isinstance(p.instrument_type, InstrumentType)
                ),
            )
    out = ctx.output
    if out.json_mode:
        out.json(found)
        return
    today = _now().date()
    held = [_held(p, quotes.get(p.symbol), today) for p in found]
    total = sum((h.pnl for h in held if h.pnl is not None), Decimal(0))
    out.table(
        [
            Column("symbol"),
            Column("type"),
            Column("qty", numeric=True),
            Column("avg open", numeric=True),
            Column("mark", numeric=True),
            Column("value", numeric=True),
            Column("P/L", numeric=True),
            Column("delta", numeric=True),
            Column("DTE", numeric=True),
        ],
        [
            (
                h.position.symbol,
                _text(h.position.instrument_type),
                quantity(h.signed),
                price(h.position.average_open_price),
                price(h.mark),
                money(h.value),
                gain(h.pnl),
                number(h.delta),
                str(h.days) if h.days is not None else "-",
            )
            for h in held
        ],
        title=f"account {account}",
    )
    if held:
        out.line(f"unrealized P/L {money(total)}")


# -- orders -----------------------------------------------------------------------------------


def describe_legs(order: Order, *, remaining: bool = False) -> str:
    """``Buy to Open 10 AAPL; Sell to Open 1 SPY ...``; with ``remaining``, what is left
    to fill of each leg (what a cancel or a replace acts on)."""

    def size(leg: OrderLeg) -> Decimal | None:
        left = leg.remaining_quantity
        return left if remaining and left is not None else leg.quantity

    return "; ".join(
        f"{_text(leg.action)} {quantity(size(leg))} {leg.symbol}" for leg in order.legs
    )


def order_price(order: Order) -> str:
    """``150.00 db``, ``1.25 cr``, the kind of order when it has no price (``market``), and
    a stop's trigger (``stop 172.00``, ``170.00 cr, stop 172.00``)."""
    parts = [signed_price(order.price)] if order.price is not None else []
    if order.stop_trigger is not None:
        parts.append(f"stop {price(order.stop_trigger)}")
    return ", ".join(parts) or _text(order.order_type).lower()


def complex_members(order: ComplexOrder) -> list[Order]:
    """A complex order's orders, its trigger first (an OTO's or OTOCO's)."""
    trigger = [order.trigger_order] if order.trigger_order is not None else []
    return [*trigger, *order.orders]


def _text(value: object) -> str:
    return str(getattr(value, "value", value) or "-")


def fill_summary(order: Order) -> str | None:
    """What filled of ``order``, as the platform shows it: ``10 at 150.00 db`` for one leg,
    ``1 at 6.42 db`` for a spread (each leg's average fill price, bought legs paid and sold
    legs received, per unit of the spread); ``None`` when nothing filled."""
    legs = [leg for leg in order.legs if leg.quantity]
    if not legs:
        return None
    base = min(leg.quantity for leg in legs if leg.quantity)
    units: list[Decimal] = []
    net = Decimal(0)
    for leg in legs:
        fills = [f for f in leg.fills if f.quantity and f.fill_price is not None]
        size = sum((f.quantity for f in fills if f.quantity), Decimal(0))
        if not size:
            return None
        cost = sum(
            (f.quantity * f.fill_price for f in fills if f.quantity and f.fill_price is not None),
            Decimal(0),
        )
        ratio = (leg.quantity or base) / base
        units.append(size / ratio)
        buys = bool(getattr(leg.action, "buys", False))
        net += (-cost / size if buys else cost / size) * ratio
    filled = min(units)
    return f"{quantity(filled)} at {signed_price(net)}"


def _filled(order: Order) -> str:
    return fill_summary(order) or "-"


def _order_rows(found: Sequence[Order], prefix: str = "") -> list[tuple[str, ...]]:
    return [
        (
            f"{prefix}{o.id}",
            _text(o.status),
            _text(o.order_type),
            _text(o.time_in_force),
            order_price(o),
            _filled(o),
            describe_legs(o),
        )
        for o in found
    ]


_ORDER_COLUMNS = [
    Column("id"),
    Column("status"),
    Column("type"),
    Column("tif"),
    Column("price", numeric=True),
    Column("filled"),
    Column("legs"),
]


def orders(ctx: Context) -> None:
    live_only = bool(ctx.option("live"))
    with session(ctx) as s:
        account = account_of(ctx, s, ctx.args.account)
        with ctx.output.busy("fetching orders"):
            found = s.live_orders(account)
            complex_found: list[ComplexOrder] = s.live_complex_orders(account)
    if live_only:
        found = [o for o in found if o.status in LIVE_STATUSES]
        complex_found = [
            c for c in complex_found if any(o.status in LIVE_STATUSES for o in complex_members(c))
        ]
    out = ctx.output
    if out.json_mode:
        out.json({"orders": found, "complex-orders": complex_found})
        return
    what = "working orders" if live_only else "today's orders and live GTC orders"
    out.table(_ORDER_COLUMNS, _order_rows(found), title=f"{what} in {account}")
    if complex_found:
        for c in complex_found:
            out.table(
                _ORDER_COLUMNS,
                _order_rows(complex_members(c)),
                title=f"complex order c{c.id} ({_text(c.type)})",
            )


# -- transactions and watchlists ----------------------------------------------------------------


def transactions(ctx: Context) -> None:
    days = ctx.option("days")
    with session(ctx) as s:
        account = account_of(ctx, s, ctx.args.account)
        since = _now().date() - timedelta(days=days)
        with ctx.output.busy("fetching transactions"):
            found = list(s.transactions(account, start_date=since))
    out = ctx.output
    if out.json_mode:
        out.json(found)
        return
    out.table(
        [
            Column("date"),
            Column("type"),
            Column("description"),
            Column("symbol"),
            Column("qty", numeric=True),
            Column("price", numeric=True),
            Column("net value", numeric=True),
        ],
        [
            (
                when(t.transaction_date or t.executed_at),
                t.transaction_sub_type or _text(t.transaction_type),
                t.description or "-",
                t.symbol or "-",
                quantity(t.quantity),
                price(t.price),
                gain(t.net_value),
            )
            for t in found
        ],
        title=f"transactions in {account} since {since.isoformat()}",
    )


def watchlists(ctx: Context) -> None:
    name = ctx.option("name")
    with session(ctx) as s, ctx.output.busy("fetching watchlists"):
        try:
            found = [s.watchlist(name)] if name else s.watchlists()
        except NotFound:
            raise CommandError(f"no watchlist named {name!r}", ExitCode.NOT_FOUND) from None
    out = ctx.output
    if out.json_mode:
        out.json(found)
        return
    if not name:
        out.table(
            [Column("watchlist"), Column("group"), Column("symbols", numeric=True)],
            [
                (w.name or "-", w.group_name or "-", str(len(w.watchlist_entries or ())))
                for w in found
            ],
        )
        return
    entries = found[0].watchlist_entries or ()
    out.table(
        [Column("symbol"), Column("type")],
        [(e.symbol or "-", _text(e.instrument_type)) for e in entries],
        title=f"watchlist {found[0].name}",
    )


# -- market data --------------------------------------------------------------------------------


def _symbols(texts: Sequence[str]) -> list[Symbol]:
    seen: dict[str, Symbol] = {}
    for text in texts:
        symbol = parse_symbol(text)
        seen.setdefault(symbol.text, symbol)
    return list(seen.values())


def unknown_symbols(missing: Sequence[str]) -> CommandError:
    """``unknown symbol XYZQ`` (or ``symbols``), exit status 6."""
    names = ", ".join(missing)
    return CommandError(
        f"unknown symbol{'s' if len(missing) > 1 else ''} {names}", ExitCode.NOT_FOUND
    )


def quote(ctx: Context) -> None:
    wanted = _symbols(ctx.args.symbols)
    with session(ctx) as s, ctx.output.busy("fetching quotes"):
        found = quotes_for(s, ((w.text, w.instrument_type) for w in wanted))
    missing = [w.text for w in wanted if w.text not in found]
    shown = [found[w.text] for w in wanted if w.text in found]
    out = ctx.output
    if out.json_mode:
        out.json(shown)
    elif shown:
        rows = []
        for q in shown:
            change = q.last - q.prev_close if q.last is not None and q.prev_close else None
            ratio = change / q.prev_close if change is not None and q.prev_close else None
            rows.append(
                (
                    q.symbol,
                    price(q.bid),
                    price(q.ask),
                    price(q.last),
                    gain(change, f"{change:+,.2f}" if change is not None else "-"),
                    gain(ratio, f"{ratio * 100:+.2f}%" if ratio is not None else "-"),
                    quantity(q.volume),
                    when(q.updated_at),
                )
            )
        out.table(
            [
                Column("symbol"),
                Column("bid", numeric=True),
                Column("ask", numeric=True),
                Column("last", numeric=True),
                Column("change", numeric=True),
                Column("%", numeric=True),
                Column("volume", numeric=True),
                Column("updated"),
            ],
            rows,
        )
    if missing:
        raise unknown_symbols(missing)


def metrics(ctx: Context) -> None:
    wanted = _symbols(ctx.args.symbols)
    with session(ctx) as s, ctx.output.busy("fetching metrics"):
        found = {m.symbol: m for m in s.market_metrics([w.text for w in wanted])}
    missing = [w.text for w in wanted if w.text not in found]
    shown = [found[w.text] for w in wanted if w.text in found]
    out = ctx.output
    if out.json_mode:
        out.json(shown)
    elif shown:
        out.table(
            [
                Column("symbol"),
                Column("IV rank", numeric=True),
                Column("IV %ile", numeric=True),
                Column("IV 30d", numeric=True),
                Column("HV 30d", numeric=True),
                Column("beta", numeric=True),
                Column("liquidity", numeric=True),
                Column("earnings"),
            ],
            [
                (
                    m.symbol,
                    percent(m.tw_implied_volatility_index_rank or m.implied_volatility_index_rank),
                    percent(m.implied_volatility_percentile),
                    percent(m.implied_volatility_30_day, fraction=False),
                    percent(m.historical_volatility_30_day, fraction=False),
                    number(m.beta),
                    str(m.liquidity_rating) if m.liquidity_rating is not None else "-",
                    when(getattr(m.earnings, "expected_report_date", None)),
                )
                for m in shown
            ],
        )
    if missing:
        raise CommandError(f"no metrics for {', '.join(missing)}", ExitCode.NOT_FOUND)


def chain(ctx: Context) -> None:
    underlying = parse_symbol(ctx.args.symbol)
    wanted: str | None = ctx.args.expiration
    width = ctx.option("strikes") or 10
    with session(ctx) as s:
        with ctx.output.busy("fetching the option chain"):
            try:
                chains = (
                    s.nested_option_chain(underlying.text)
                    if underlying.instrument_type in (InstrumentType.EQUITY, InstrumentType.INDEX)
                    else []
                )
            except NotFound:
                chains = []
        if not chains:
            kind = underlying.instrument_type
            other = kind not in (InstrumentType.EQUITY, InstrumentType.INDEX)
            raise CommandError(
                f"{underlying.text} has no listed options",
                ExitCode.NOT_FOUND,
                f"chain takes a stock, an ETF or an index, not a {kind.value.lower()}"
                if other
                else "",
            )
        if wanted is None:
            if ctx.option("all_strikes") or ctx.option("strikes") is not None:
                raise CommandError(
                    "--strikes and --all-strikes need --expiration DATE", ExitCode.USAGE
                )
            _expirations(ctx, chains)
            return
        try:
            day = date.fromisoformat(wanted)
        except ValueError:
            raise CommandError(
                f"--expiration {wanted!r} is not a date (YYYY-MM-DD)", ExitCode.USAGE
            ) from None
        # One table per root that lists the day (SPX and SPXW both may, AM and PM settled).
        chosen = [(c, e) for c in chains for e in c.expirations if e.expiration_date == day]
        if not chosen:
            dates = sorted(
                {e.expiration_date for c in chains for e in c.expirations},
                key=lambda d: abs((d - day).days),
            )
            near = ", ".join(d.isoformat() for d in sorted(dates[:4]))
            raise CommandError(
                f"{underlying.text} has no expiration on {wanted}",
                ExitCode.NOT_FOUND,
                f"the nearest are {near}",
            )
        with ctx.output.busy("fetching option quotes"):
            spot = quotes_for(s, [(underlying.text, underlying.instrument_type)])
            center = spot.get(underlying.text)
            mark = (center.mark or center.last) if center is not None else None
            shown: list[tuple[NestedOptionChain, NestedOptionExpiration, list[Strike]]] = []
            for root_chain, expiration in chosen:
                strikes = sorted(expiration.strikes, key=lambda k: k.strike_price)
                if mark is not None and not ctx.option("all_strikes"):
                    nearest = sorted(strikes, key=lambda k: abs(k.strike_price - mark))[:width]
                    strikes = sorted(nearest, key=lambda k: k.strike_price)
                shown.append((root_chain, expiration, strikes))
            symbols = [sym for _, _, ks in shown for k in ks for sym in (k.call, k.put) if sym]
            quotes = quotes_for(s, [(sym, InstrumentType.EQUITY_OPTION) for sym in symbols])
    out = ctx.output
    if out.json_mode:
        out.json(
            [
                {
                    "underlying": underlying.text,
                    "root": root_chain.root_symbol,
                    "mark": mark,
                    "expiration": expiration,
                    "quotes": [
                        quotes[sym]
                        for k in strikes
                        for sym in (k.call, k.put)
                        if sym and sym in quotes
                    ],
                }
                for root_chain, expiration, strikes in shown
            ]
        )
        return

    def side(symbol: str | None) -> tuple[str, ...]:
        q = quotes.get(symbol or "")
        if q is None:
            return ("-", "-", "-", "-", "-")
        return (
            price(q.bid),
            price(q.ask),
            number(q.delta),
            percent(q.volatility),
            quantity(q.open_interest),
        )

    for root_chain, expiration, strikes in shown:
        rows = [(*side(k.call), price(k.strike_price), *reversed(side(k.put))) for k in strikes]
        settled = f", {expiration.settlement_type} settled" if expiration.settlement_type else ""
        out.table(
            [
                Column("call bid", numeric=True),
                Column("ask", numeric=True),
                Column("delta", numeric=True),
                Column("IV", numeric=True),
                Column("OI", numeric=True),
                Column("strike", numeric=True),
                Column("OI", numeric=True),
                Column("IV", numeric=True),
                Column("delta", numeric=True),
                Column("ask", numeric=True),
                Column("put bid", numeric=True),
            ],
            rows,
            title=f"{root_chain.root_symbol} {day.isoformat()} ({expiration.days_to_expiration} "
            f"days{settled}), underlying {underlying.text} at {price(mark)}",
        )


def _expirations(ctx: Context, chains: Sequence[NestedOptionChain]) -> None:
    out = ctx.output
    if out.json_mode:
        out.json(chains)
        return
    for c in chains:
        out.table(
            [
                Column("expiration"),
                Column("days", numeric=True),
                Column("type"),
                Column("strikes", numeric=True),
            ],
            [
                (
                    e.expiration_date.isoformat(),
                    str(e.days_to_expiration),
                    e.expiration_type or "-",
                    str(len(e.strikes)),
                )
                for e in c.expirations
            ],
            title=f"{c.underlying_symbol} options, root {c.root_symbol}",
        )
