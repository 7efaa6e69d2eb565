"""The commands of ``tastytrade``, each a few calls on a ``tastytrade_requests.Session``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import tastytrade_requests
from tastytrade_proto import (
    Ask,
    LocalProtocolError,
    RefreshTokenRotated,
    RememberTokenIssued,
    TastytradeError,
    TokenEvent,
)
from tastytrade_proto.accounts import InstrumentType
from tastytrade_proto.orders import NewLeg, NewOrder, OrderAction, OrderResponse, PlacedOrder

from . import store
from .render import print_json, print_table
from .store import Credentials

__all__ = ["SOURCE", "Context", "run"]

#: The ``source`` the command line's orders carry.
SOURCE = "tastytrade-proto-cli"


@dataclass
class Context:
    """One run: its arguments, where the secret lives, and its input and output."""

    args: argparse.Namespace
    path: Path
    out: TextIO
    err: TextIO
    env: Mapping[str, str]
    ask_secret: Callable[[str], str]

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))


def run(ctx: Context) -> int:
    """Run ``ctx.args.command``."""
    command = _COMMANDS[ctx.args.command]
    command(ctx)
    return 0


# -- where and how to connect -----------------------------------------------------------------


_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _where(ctx: Context, saved: Credentials | None) -> dict[str, Any]:
    """Session keywords for the environment: the saved login's, or the command line's at login.

    A saved secret only ever goes back where it came from: naming another
    environment on the command line is refused, not obeyed.
    """
    args = ctx.args
    settings: dict[str, Any] = {}
    if getattr(args, "ca_bundle", None):
        settings["ca_bundle"] = args.ca_bundle
    if getattr(args, "base_url", None):
        settings["base_url"] = _checked_url(args.base_url)
    elif getattr(args, "cert", False):
        settings["certification"] = True
    if saved is None:
        return settings
    named = _describe(settings) if {"base_url", "certification"} & settings.keys() else None
    if named is not None and named != (saved.environment, saved.base_url):
        raise LocalProtocolError(
            "you are logged in to another environment; log in again to use this one"
        )
    settings.pop("base_url", None)
    settings.pop("certification", None)
    if saved.environment == "custom" and saved.base_url:
        settings["base_url"] = saved.base_url
    elif saved.environment == "certification":
        settings["certification"] = True
    return settings


def _checked_url(url: str) -> str:
    """A base URL a secret may go to: HTTPS, or plain HTTP to this machine only."""
    parts = urlsplit(url)
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise LocalProtocolError("plain http:// is only for this machine (127.0.0.1); use https://")
    return url


def _describe(settings: Mapping[str, Any]) -> tuple[str, str | None]:
    if "base_url" in settings:
        return "custom", str(settings["base_url"])
    if settings.get("certification"):
        return "certification", None
    return "production", None


@contextmanager
def _session(ctx: Context) -> Iterator[tastytrade_requests.Session]:
    """A session logged in with the saved secret; a rotated token is saved at once.

    The credentials stay locked until the command ends, so that two runs never
    spend the same single-use token.
    """
    with store.locked(ctx.path), _logged_in(ctx) as session:
        yield session


@contextmanager
def _logged_in(ctx: Context, *, remember_me: bool = True) -> Iterator[tastytrade_requests.Session]:
    saved = store.load(ctx.path)
    current = [saved]

    def keep(event: TokenEvent) -> None:
        # Written before anything else can fail: a lost single-use token locks the user out.
        if isinstance(event, RememberTokenIssued):
            current[0] = current[0].with_tokens(remember_token=event.token)
            store.save(ctx.path, current[0])
        elif isinstance(event, RefreshTokenRotated):
            current[0] = current[0].with_tokens(refresh_token=event.token)
            store.save(ctx.path, current[0])

    session = tastytrade_requests.Session(token_store=keep, **_where(ctx, saved))
    with session:
        if saved.scheme == "oauth" and saved.client_secret and saved.refresh_token:
            session.login_with_oauth(saved.client_secret, saved.refresh_token)
        elif saved.scheme == "legacy" and saved.login and saved.remember_token:
            session.login_with_remember_token(
                saved.login, saved.remember_token, remember_me=remember_me
            )
        else:
            raise store.CredentialsError(f"{ctx.path} holds no usable login; log in again")
        yield session


def _account(ctx: Context, session: tastytrade_requests.Session, given: str | None) -> str:
    if given:
        return given
    accounts = session.accounts()
    if not accounts:
        raise LocalProtocolError("this login has no open account")
    return accounts[0].account_number


# -- login and logout ---------------------------------------------------------------------


def _login(ctx: Context) -> None:
    with store.locked(ctx.path):
        _login_locked(ctx)


def _login_locked(ctx: Context) -> None:
    settings = _where(ctx, None)
    environment, base_url = _describe(settings)
    user = ctx.args.user
    if user:
        password = ctx.ask_secret(f"password for {user}: ")

        def prompt(ask: Ask) -> str:
            if ask.method == "security_question":
                return ctx.ask_secret(f"{ask.question} ")
            where = f" (sent to {ask.destination})" if ask.destination else ""
            return ctx.ask_secret(f"two-factor code{where}: ")

        login = Credentials(scheme="legacy", environment=environment, base_url=base_url, login=user)
        kept: list[Credentials] = []

        def keep(event: TokenEvent) -> None:
            if isinstance(event, RememberTokenIssued):
                kept[:] = [login.with_tokens(remember_token=event.token)]
                store.save(ctx.path, kept[0])

        session = tastytrade_requests.Session(token_store=keep, prompt=prompt, **settings)
        try:  # no logout afterwards: the remember token is what later runs use
            session.login_with_password(user, password, remember_me=True)
        finally:
            session.close()
        if not kept:
            raise LocalProtocolError("the server issued no remember token; nothing was saved")
    else:
        secret = ctx.env.get("TASTYTRADE_CLIENT_SECRET") or ctx.ask_secret("client secret: ")
        refresh = ctx.env.get("TASTYTRADE_REFRESH_TOKEN") or ctx.ask_secret("refresh token: ")
        oauth = Credentials(
            scheme="oauth",
            environment=environment,
            base_url=base_url,
            client_secret=secret,
            refresh_token=refresh,
        )
        rotated: list[str] = []

        def keep_oauth(event: TokenEvent) -> None:
            if isinstance(event, RefreshTokenRotated):
                rotated[:] = [event.token]
                store.save(ctx.path, oauth.with_tokens(refresh_token=event.token))

        session = tastytrade_requests.Session(token_store=keep_oauth, **settings)
        try:
            session.login_with_oauth(secret, refresh)  # proves the pair works before keeping it
        finally:
            session.close()
        if not rotated:
            store.save(ctx.path, oauth)
    ctx.out.write(f"logged in; the secret is kept in {ctx.path} (readable by you alone)\n")


def _logout(ctx: Context) -> None:
    with store.locked(ctx.path):
        saved = store.load(ctx.path)
        try:
            if saved.scheme == "legacy":
                # Spend the remember token without asking for another, then end the session.
                with _logged_in(ctx, remember_me=False):
                    pass
        except TastytradeError as error:
            ctx.err.write(f"tastytrade: the server did not end the session ({error})\n")
        finally:
            store.remove(ctx.path)
    ctx.out.write("logged out; the saved secret is gone\n")


# -- reading ------------------------------------------------------------------------------


def _accounts(ctx: Context) -> None:
    with _session(ctx) as session:
        accounts = session.accounts()
    if ctx.json:
        print_json(accounts, ctx.out)
        return
    rows = [(a.account_number, a.nickname, a.account_type_name, a.margin_or_cash) for a in accounts]
    print_table(["account", "nickname", "type", "margin/cash"], rows, ctx.out)


def _balances(ctx: Context) -> None:
    with _session(ctx) as session:
        balances = session.balances(_account(ctx, session, ctx.args.account))
    if ctx.json:
        print_json(balances, ctx.out)
        return
    rows = [
        ("net liquidating value", balances.net_liquidating_value),
        ("cash balance", balances.cash_balance),
        ("equity buying power", balances.equity_buying_power),
        ("derivative buying power", balances.derivative_buying_power),
        ("maintenance requirement", balances.maintenance_requirement),
        ("pending cash", balances.pending_cash),
    ]
    ctx.out.write(f"account {balances.account_number}\n")
    print_table(["balance", "amount"], rows, ctx.out, right="1")


def _positions(ctx: Context) -> None:
    with _session(ctx) as session:
        positions = session.positions(_account(ctx, session, ctx.args.account))
    if ctx.json:
        print_json(positions, ctx.out)
        return
    rows = [
        (
            p.symbol,
            p.instrument_type,
            p.signed_quantity,
            p.average_open_price,
            p.close_price,
            p.multiplier,
        )
        for p in positions
    ]
    headers = ["symbol", "type", "quantity", "avg open", "close", "multiplier"]
    print_table(headers, rows, ctx.out, right="2345")


def _orders(ctx: Context) -> None:
    with _session(ctx) as session:
        orders = session.live_orders(_account(ctx, session, ctx.args.account))
    if ctx.json:
        print_json(orders, ctx.out)
        return
    rows = [
        (
            o.id,
            o.status,
            o.order_type,
            o.time_in_force,
            o.price,
            "; ".join(f"{leg.action} {leg.quantity} {leg.symbol}" for leg in o.legs),
        )
        for o in orders
    ]
    headers = ["id", "status", "type", "tif", "price", "legs"]
    print_table(headers, rows, ctx.out, right="4")


# -- market data and orders -----------------------------------------------------------------


def _chain(ctx: Context) -> None:
    with _session(ctx) as session:
        chains = session.nested_option_chain(ctx.args.symbol)
    if ctx.json:
        print_json(chains, ctx.out)
        return
    wanted = ctx.args.expiration
    for chain in chains:
        ctx.out.write(f"{chain.underlying_symbol} options, root {chain.root_symbol}\n")
        expirations = chain.expirations
        if wanted is None:
            rows = [
                (e.expiration_date, e.days_to_expiration, e.expiration_type, len(e.strikes))
                for e in expirations
            ]
            print_table(["expiration", "days", "type", "strikes"], rows, ctx.out, right="13")
            continue
        chosen = [e for e in expirations if e.expiration_date.isoformat() == wanted]
        if not chosen:
            raise LocalProtocolError(f"{chain.root_symbol} has no expiration on {wanted}")
        strikes = [(s.strike_price, s.call, s.put) for s in chosen[0].strikes]
        print_table(["strike", "call", "put"], strikes, ctx.out, right="0")


def _symbol_groups(symbols: list[str]) -> dict[str, list[str]]:
    """Sort symbols by the kind their form shows (``/ESZ6`` a future, ``BTC/USD`` crypto...)."""
    groups: dict[str, list[str]] = {}
    for symbol in symbols:
        if symbol.startswith("./"):
            kind = "future_options"
        elif symbol.startswith("/"):
            kind = "futures"
        elif symbol.endswith("/USD"):
            kind = "cryptocurrencies"
        elif len(symbol) == 21 and symbol[6:12].isdigit() and symbol[12] in "CP":
            kind = "equity_options"  # OCC: a padded root, then YYMMDD, C or P, the strike
        elif symbol.startswith("$") or symbol in ("SPX", "VIX", "NDX", "RUT", "DJX"):
            kind = "indices"
            symbol = symbol.lstrip("$")
        else:
            kind = "equities"
        groups.setdefault(kind, []).append(symbol)
    return groups


def _quote(ctx: Context) -> None:
    with _session(ctx) as session:
        groups = _symbol_groups(ctx.args.symbols)
        quotes = session.market_data(
            equities=groups.get("equities"),
            equity_options=groups.get("equity_options"),
            futures=groups.get("futures"),
            future_options=groups.get("future_options"),
            cryptocurrencies=groups.get("cryptocurrencies"),
            indices=groups.get("indices"),
        )
    if ctx.json:
        print_json(quotes, ctx.out)
        return
    rows = [(q.symbol, q.bid, q.ask, q.last, q.mark, q.updated_at) for q in quotes]
    print_table(["symbol", "bid", "ask", "last", "mark", "updated"], rows, ctx.out, right="1234")


def _new_order(args: argparse.Namespace) -> NewOrder:
    action = OrderAction(args.action)
    kind = InstrumentType(args.instrument_type or _kind_of(args.symbol))
    leg = NewLeg(kind, args.symbol, action, Decimal(args.quantity))
    if args.limit is None:
        return NewOrder.market(leg, time_in_force=args.time_in_force, source=SOURCE)
    price = abs(Decimal(args.limit))
    signed_price = -price if action.buys else price  # a buy pays: a debit
    return NewOrder.limit(leg, signed_price, time_in_force=args.time_in_force, source=SOURCE)


def _kind_of(symbol: str) -> str:
    kind = next(iter(_symbol_groups([symbol])))
    return {
        "futures": "Future",
        "future_options": "Future Option",
        "cryptocurrencies": "Cryptocurrency",
        "equity_options": "Equity Option",
    }.get(kind, "Equity")


def _order(ctx: Context) -> None:
    try:
        order = _new_order(ctx.args)
    except ArithmeticError:
        raise LocalProtocolError("--quantity and --limit must be numbers") from None
    with _session(ctx) as session:
        account = _account(ctx, session, ctx.args.account)
        response: OrderResponse | None
        placed: PlacedOrder | None
        if ctx.args.dry_run:
            response = session.dry_run_order(account, order)
            placed = None
        else:
            placed = session.place_order(account, order)
            response = placed.response
    if ctx.json:
        print_json(placed if placed is not None else response, ctx.out)
        return
    shown = placed.order if placed is not None else (response.order if response else None)
    verb = "dry run" if placed is None else "placed"
    if shown is not None:
        status = f", status {shown.status}" if shown.status else ""
        number = f" #{shown.id}" if shown.id else ""
        ctx.out.write(f"{verb}{number} in {account}{status}\n")
    if response is not None:
        rows: list[tuple[str, object]] = []
        effect = response.buying_power_effect
        if effect is not None:
            rows += [
                ("change in buying power", effect.change_in_buying_power),
                ("new buying power", effect.new_buying_power),
            ]
        fees = response.fee_calculation
        if fees is not None:
            rows.append(("total fees", fees.total_fees))
        if rows:
            print_table(["effect", "amount"], rows, ctx.out, right="1")
        for warning in response.warnings:
            ctx.out.write(f"warning: {warning.message or warning.code}\n")


_COMMANDS: dict[str, Callable[[Context], None]] = {
    "login": _login,
    "logout": _logout,
    "accounts": _accounts,
    "balances": _balances,
    "positions": _positions,
    "orders": _orders,
    "chain": _chain,
    "quote": _quote,
    "order": _order,
}
