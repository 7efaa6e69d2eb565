"""``tastytrade demo``: every login flow, through each transport, against the fake API.

The fake tastytrade API starts on loopback over HTTPS (with a throw-away
certificate authority that only this process trusts). Through each
transport the demo logs in with a password and a two-factor code, keeps the
remember token it is handed, logs in again with it, validates, logs out,
then runs the OAuth flow the live API uses today, and prints what happened.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from tastytrade_proto import Ask, RememberTokenIssued, TastytradeError, TokenEvent
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeTastytradeServer,
)

__all__ = ["run_demo"]

Row = tuple[str, str, str, str]


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
        sent = ", ".join(f"{r.method} {r.path}" for r in self.server.api.requests[first:])
        self.rows.append((self.transport, label, sent or "-", f"{outcome} ({elapsed:.0f} ms)"))
        return result


async def _scenario(make: Callable[..., Any], sync: bool, steps: _Steps) -> None:
    """One transport, every flow. ``make`` builds a Session; ``sync`` wraps the requests one."""

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

        asyncio.run(_scenario(lambda **kw: RequestsSession(**settings, **kw), True, steps))
    elif transport == "aiohttp":
        from tastytrade_aiohttp import Session as AiohttpSession

        asyncio.run(_scenario(lambda **kw: AiohttpSession(**settings, **kw), False, steps))
    else:
        import trio

        from tastytrade_trio import Session as TrioSession

        trio.run(_scenario, lambda **kw: TrioSession(**settings, **kw), False, steps)
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
