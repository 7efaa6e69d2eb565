"""``tastytrade demo``: every login flow, through each transport, against the fake API.

The fake tastytrade API starts on loopback over HTTPS (with a throw-away
certificate authority that only this process trusts). Through each
transport the demo logs in with a password and a two-factor code, keeps the
remember token it is handed, logs in again with it, validates, logs out,
then runs the OAuth flow the live API uses today. Then it streams: it looks
up an option's streamer symbol, subscribes to quotes and greeks over the
fake's DXLink websocket, has the fake drop the socket, and shows the stream
reconnect, replay its subscriptions and carry on. It prints what happened.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TextIO

from tastytrade_proto import Ask, RememberTokenIssued, TastytradeError, TokenEvent
from tastytrade_proto.errors import StreamingError
from tastytrade_proto.orders import NewLeg, NewOrder, OrderStatus
from tastytrade_proto.streaming import Connected, Disconnected, Greeks, Quote
from tastytrade_proto.streaming.account import (
    BalancesUpdated,
    OrderUpdated,
    PositionUpdated,
    Resync,
)
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeTastytradeServer,
)
from tastytrade_proto.testing.fake.api import (
    AccountStreamFault,
    AccountStreamFaultKind,
    StreamFault,
    StreamFaultKind,
)

__all__ = ["run_demo"]

Row = tuple[str, str, str, str]

#: The option the streaming steps watch (the fake lists it), as the API writes it.
OPTION = "SPY   261218C00600000"
#: Seconds any one awaited stream event may take before the step fails.
STREAM_WAIT = 10.0
#: The account and the stock the account-stream steps trade (the fake lists both).
ACCOUNT = "5WT00001"
STOCK = "AAPL"
QUANTITY = 10


class _Steps:
    """Runs the scenario's steps and keeps a table row per step."""

    def __init__(self, server: FakeTastytradeServer, transport: str) -> None:
        self.server, self.transport, self.rows = server, transport, list[Row]()
        self.failed = 0

    async def step(self, label: str, action: Callable[[], Awaitable[Any]], show: Any = None) -> Any:
        first = len(self.server.api.requests)
        started = time.perf_counter()
        try:
            result = await action()
            outcome = show(result) if show else "ok"
        except TastytradeError as exc:
            result, outcome = None, f"FAILED {type(exc).__name__}: {exc}"
            self.failed += 1
        elapsed = (time.perf_counter() - started) * 1000
        sent = _requests_sent([(r.method, r.path) for r in self.server.api.requests[first:]])
        self.rows.append((self.transport, label, sent or "-", f"{outcome} ({elapsed:.0f} ms)"))
        return result


def _requests_sent(requests: list[tuple[str, str]]) -> str:
    """``GET /a, POST /b``; a run of one method under one account is written once:
    ``GET /accounts/5WT00001/{orders/live, positions}``."""
    runs: list[tuple[str, str, list[str]]] = []
    for method, path in requests:
        parts = path.split("/", 3)  # "", "accounts", number, rest
        if len(parts) == 4 and parts[1] == "accounts":
            base, rest = "/".join(parts[:3]) + "/", parts[3]
            if runs and runs[-1][:2] == (method, base):
                runs[-1][2].append(rest)
                continue
            runs.append((method, base, [rest]))
        else:
            runs.append((method, path, []))
    shown = []
    for method, base, rests in runs:
        if not rests:
            shown.append(f"{method} {base}")
        elif len(rests) == 1:
            shown.append(f"{method} {base}{rests[0]}")
        else:
            shown.append(f"{method} {base}{{{', '.join(rests)}}}")
    return ", ".join(shown)


class _Feed:
    """A market stream of any transport, every call awaited and every wait bounded."""

    def __init__(self, stream: Any, kind: str) -> None:
        self.stream, self.kind = stream, kind
        self.sync = kind == "requests"
        self.entered = False

    async def enter(self) -> None:
        if self.sync:
            self.stream.__enter__()
        else:
            await self.stream.__aenter__()
        self.entered = True

    async def close(self) -> None:
        if self.entered:
            closed = self.stream.close()
            if not self.sync:
                await closed

    async def subscribe(self, event_type: type, symbols: list[str]) -> None:
        done = self.stream.subscribe(event_type, symbols)
        if not self.sync:
            await done

    async def next(self) -> Any:
        event: Any = None
        try:
            if self.sync:
                event = self.stream.get(STREAM_WAIT)
            elif self.kind == "trio":
                import trio

                with trio.move_on_after(STREAM_WAIT):
                    event = await self.stream.__anext__()
            else:
                event = await asyncio.wait_for(self.stream.__anext__(), STREAM_WAIT)
        except (StopAsyncIteration, asyncio.TimeoutError):
            event = None
        if event is None:
            raise StreamingError(f"nothing arrived in {STREAM_WAIT:.0f} s")
        return event

    async def until(self, wanted: Callable[[Any], bool]) -> Any:
        while True:
            event = await self.next()
            if wanted(event):
                return event


def _two(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


async def _stream_quotes(feed: _Feed, option: str) -> str:
    await feed.enter()
    await feed.subscribe(Quote, ["SPY", option])
    await feed.subscribe(Greeks, [option])
    await feed.until(lambda e: isinstance(e, Connected))
    seen: dict[tuple[type, str], Any] = {}
    while (Quote, "SPY") not in seen or (Greeks, option) not in seen:
        event = await feed.next()
        seen.setdefault((type(event), getattr(event, "symbol", "")), event)
    quote, greeks = seen[Quote, "SPY"], seen[Greeks, option]
    iv = "-" if greeks.volatility is None else f"{greeks.volatility * 100:.1f}%"
    return (
        f"SPY bid {_two(quote.bid_price)} ask {_two(quote.ask_price)}; "
        f"{option} delta {_two(greeks.delta)}, IV {iv}"
    )


async def _survive_a_drop(feed: _Feed, server: FakeTastytradeServer) -> str:
    server.api.inject_stream_fault(StreamFault(StreamFaultKind.DROP))
    gone = await feed.until(lambda e: isinstance(e, Disconnected))
    back = await feed.until(lambda e: isinstance(e, Connected))
    quote = await feed.until(lambda e: isinstance(e, Quote) and e.symbol == "SPY")
    return (
        f"Disconnected ({gone.reason.value}) -> Connected, {back.replayed} subscriptions "
        f"replayed -> SPY bid {_two(quote.bid_price)} again"
    )


async def _streaming(session: Any, kind: str, steps: _Steps) -> None:
    """Quotes and greeks over DXLink, then a dropped socket and the stream's recovery."""
    sync = kind == "requests"

    async def look_up() -> Any:
        return session.equity_option(OPTION) if sync else await session.equity_option(OPTION)

    found = await steps.step(
        "option streamer symbol", look_up, lambda option: str(option.streamer_symbol)
    )
    option = getattr(found, "streamer_symbol", None) or ".SPY261218C600"
    feed = _Feed(session.market_stream(), kind)
    try:
        if await steps.step("stream quotes + greeks", lambda: _stream_quotes(feed, option), str):
            await steps.step(
                "stream: socket dropped", lambda: _survive_a_drop(feed, steps.server), str
            )
    finally:
        await feed.close()


def _below_mark(server: FakeTastytradeServer) -> Decimal:
    """A buy limit a dollar under the stock's mark: it works until the mark comes down to it."""
    mark = server.api.mark(STOCK) or Decimal("190")
    return (mark - 1).quantize(Decimal("0.01"))


def _order_of(event: Any, order_id: Any) -> bool:
    return isinstance(event, OrderUpdated) and event.order.id == order_id


async def _place(session: Any, sync: bool, limit: Decimal) -> Any:
    new = NewOrder.limit(NewLeg.equity(STOCK, "Buy to Open", QUANTITY), -limit)
    placed = session.place_order(ACCOUNT, new) if sync else await session.place_order(ACCOUNT, new)
    return placed.order.id


def _filled(update: OrderUpdated) -> str:
    fills = update.new_fills
    size = sum((f.quantity or Decimal(0) for f in fills), Decimal(0))
    at = fills[0].fill_price if fills else None
    return f"{size.normalize():f} @ {_two(at)}"


async def _order_events(session: Any, feed: _Feed, server: FakeTastytradeServer, sync: bool) -> str:
    """Place an order with the stream listening: its every state, then, once the mark
    comes down to its limit, its fill and the position and balances that follow."""
    await feed.enter()
    await feed.until(lambda e: isinstance(e, Resync))  # live, with the accounts read
    limit = _below_mark(server)
    order_id = await _place(session, sync, limit)
    statuses: list[str] = []
    fill = ""
    while not statuses or statuses[-1] != "Live":
        update = await feed.until(lambda e: _order_of(e, order_id))
        statuses.append(update.order.status.value)
    server.api.set_mark(STOCK, limit)  # the fake fills a working order its mark crosses
    while statuses[-1] != "Filled":
        update = await feed.until(lambda e: _order_of(e, order_id))
        statuses.append(update.order.status.value)
        fill = fill or (_filled(update) if update.new_fills else "")
    held = await feed.until(lambda e: isinstance(e, PositionUpdated) and e.position.symbol == STOCK)
    money = await feed.until(lambda e: isinstance(e, BalancesUpdated))
    return (
        f"#{order_id} {' -> '.join(statuses)} {fill}; {STOCK} position "
        f"{held.position.quantity:f}; net liq {_two(money.balances.net_liquidating_value)}"
    )


async def _fill_while_dropped(
    session: Any, feed: _Feed, server: FakeTastytradeServer, sync: bool
) -> str:
    """The socket drops and the order fills before the stream is back: the resync after
    the reconnect reads the accounts and reports the fill, once, flagged ``resynced``."""
    limit = _below_mark(server)
    order_id = await _place(session, sync, limit)
    await feed.until(lambda e: _order_of(e, order_id) and e.order.status is OrderStatus.LIVE)
    api = server.api
    with api.lock:  # both at once: no socket can connect in between to hear the fill
        api.inject_account_stream_fault(AccountStreamFault(AccountStreamFaultKind.DROP))
        api.set_mark(STOCK, limit)
    gone = await feed.until(lambda e: isinstance(e, Disconnected))
    await feed.until(lambda e: isinstance(e, Connected))
    fills: list[OrderUpdated] = []
    while True:
        event = await feed.next()
        if _order_of(event, order_id) and event.new_fills:
            fills.append(event)
        if isinstance(event, Resync):
            break
    if len(fills) != 1 or not fills[0].resynced:
        raise StreamingError(f"the fill was reported {len(fills)} times, not once by the resync")
    fill = fills[0]
    moved = " -> ".join(s.value for s in (fill.previous_status, fill.order.status) if s is not None)
    return (
        f"Disconnected ({gone.reason.value}) -> Connected -> #{order_id} {moved} "
        f"{_filled(fill)} (resynced, once) -> Resync ({event.reason}: {event.orders} order, "
        f"{event.positions} position, {event.balances} balance)"
    )


async def _account_streaming(session: Any, kind: str, steps: _Steps) -> None:
    """Orders over the account streamer: an order's states, its fill, the position and
    balances; then a fill while the socket is down, recovered by the resync."""
    sync = kind == "requests"
    feed = _Feed(session.account_stream([ACCOUNT]), kind)
    server = steps.server
    try:
        if await steps.step(
            "account stream: order",
            lambda: _order_events(session, feed, server, sync),
            str,
        ):
            await steps.step(
                "account stream: fill in a drop",
                lambda: _fill_while_dropped(session, feed, server, sync),
                str,
            )
    finally:
        await feed.close()


async def _scenario(make: Callable[..., Any], kind: str, steps: _Steps) -> None:
    """One transport, every flow. ``make`` builds a Session; requests' is wrapped as awaitable."""
    sync = kind == "requests"

    def call(fn: Callable[..., Any], *args: Any) -> Callable[[], Awaitable[Any]]:
        async def run() -> Any:
            return fn(*args) if sync else await fn(*args)

        return run

    kept: list[str] = []

    def store(event: TokenEvent) -> None:  # a real program writes these to disk at once
        if isinstance(event, RememberTokenIssued):
            kept.append(event.token)

    async def prompt(ask: Ask) -> str:
        return DEMO_OTP  # a person would type the code sent to ask.destination

    def prompt_sync(ask: Ask) -> str:
        return DEMO_OTP

    session = make(token_store=store, prompt=prompt_sync if sync else prompt)
    await steps.step(
        "password + 2FA login",
        call(session.login_with_password, DEMO_LOGIN, DEMO_PASSWORD),
        lambda events: f"{session.machine.state.name}; remember token kept",
    )
    await steps.step("log out", call(session.logout))
    again = make(token_store=store)
    await steps.step(
        "remember-token login",
        call(again.login_with_remember_token, DEMO_LOGIN, kept[-1] if kept else "none"),
        lambda events: f"{again.machine.state.name}; token rotated: {len(set(kept)) == 2}",
    )
    await steps.step("validate", call(again.validate), lambda ok: f"valid: {ok}")
    await steps.step(
        "GET balances",
        call(again.request, "GET", "/accounts/5WT00001/balances"),
        lambda env: f"net liq {env.data['net-liquidating-value']}",
    )
    await steps.step("log out", call(again.logout), lambda _: again.machine.state.name)
    oauth = make()
    await steps.step(
        "OAuth login",
        call(oauth.login_with_oauth, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN),
        lambda _: f"expires {oauth.machine.expires_at:%H:%M:%S} UTC",
    )
    await steps.step("OAuth refresh", call(oauth.refresh), lambda _: "new access token")
    await steps.step(
        "GET positions",
        call(oauth.request, "GET", "/accounts/5WT00001/positions"),
        lambda env: f"{len(env.items)} positions",
    )
    await _streaming(oauth, kind, steps)
    await _account_streaming(oauth, kind, steps)
    for each in (session, again, oauth):
        closed = each.close()
        if not sync:
            await closed


def _run_one(transport: str, server: FakeTastytradeServer) -> tuple[list[Row], int]:
    steps = _Steps(server, transport)
    settings: dict[str, Any] = {
        "base_url": server.base_url,
        "ssl_context": server.client_ssl_context(),
    }
    if transport == "requests":
        from tastytrade_requests import Session as RequestsSession

        asyncio.run(_scenario(lambda **kw: RequestsSession(**settings, **kw), transport, steps))
    elif transport == "aiohttp":
        from tastytrade_aiohttp import Session as AiohttpSession

        asyncio.run(_scenario(lambda **kw: AiohttpSession(**settings, **kw), transport, steps))
    else:
        import trio

        from tastytrade_trio import Session as TrioSession

        trio.run(_scenario, lambda **kw: TrioSession(**settings, **kw), transport, steps)
    return steps.rows, steps.failed


def _print_table(rows: list[Row], out: TextIO) -> None:
    header: Row = ("transport", "step", "requests sent", "result")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(4)]
    for row in (header, tuple("-" * w for w in widths), *rows):
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")


def run_demo(transports: list[str], *, out: TextIO) -> int:
    """Run the demo through ``transports``; print the table; 0 if every step worked."""
    rows: list[Row] = []
    failed = 0
    if importlib.util.find_spec("trustme") is None:
        out.write("the demo serves HTTPS and needs trustme: pip install 'tastytrade-proto[all]'\n")
        return 1
    with FakeTastytradeServer(tls=True) as server:
        out.write(f"fake tastytrade API on {server.base_url} (HTTPS, throw-away CA)\n\n")
        for transport in transports:
            module = {"requests": "requests", "aiohttp": "aiohttp", "trio": "trio"}[transport]
            if importlib.util.find_spec(module) is None:
                rows.append((transport, "-", "-", f"FAILED not installed: pip install '{module}'"))
                failed += 1
                continue
            done, errors = _run_one(transport, server)
            rows.extend(done)
            failed += errors
    _print_table(rows, out)
    out.write(f"\n{len(rows) - failed} steps ok, {failed} failed; no network, no credentials\n")
    return 1 if failed else 0
