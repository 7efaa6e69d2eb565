"""The ``tastytrade`` command's options, and the one place failures become messages."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

__all__ = ["main", "parser"]

DESCRIPTION = "A command line for the tastytrade API (tastytrade-proto)."
EPILOG = (
    "Exit status: 0 done, 1 the API failed, 2 wrong usage, 3 not logged in or login refused, "
    "4 server unreachable, 5 refused by the server, 6 not found, 7 not confirmed, "
    "8 order outcome unknown (check `tastytrade orders`), 9 order --wait: ended unfilled, "
    "10 order --wait: still working when the time ran out, 130 interrupted."
)


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError("give between 0 and 3600 seconds")
    return seconds


def _at_least_one(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("give 1 or more")
    return number


def _duration(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError("give a number of seconds above 0")
    return seconds


def _stopping(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "--count", type=_at_least_one, metavar="N", help=f"stop after N {what} (exit status 0)"
    )
    command.add_argument(
        "--duration",
        type=_duration,
        metavar="SECONDS",
        help="stop after this many seconds (exit status 0); else Ctrl-C ends it (status 130)",
    )


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_mutually_exclusive_group()
    where.add_argument(
        "--base-url", default=argparse.SUPPRESS, help="talk to this API (a proxy, the fake API)"
    )
    where.add_argument(
        "--cert",
        action="store_true",
        default=argparse.SUPPRESS,
        help="talk to the certification (sandbox) environment",
    )
    common.add_argument(
        "--ca-bundle",
        default=argparse.SUPPRESS,
        help="trust the authorities in this PEM file (remembered by login)",
    )
    common.add_argument(
        "--credentials",
        default=argparse.SUPPRESS,
        help="the credentials file (default: $TASTYTRADE_CREDENTIALS or "
        "~/.config/tastytrade-proto/credentials.json)",
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON, not tables"
    )
    common.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help="give up on a call after this long (default 30)",
    )
    common.add_argument(
        "--no-color", action="store_true", default=argparse.SUPPRESS, help="no colour"
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="on failure, show the detail (secrets removed)",
    )
    return common


def _confirming() -> argparse.ArgumentParser:
    confirming = argparse.ArgumentParser(add_help=False)
    confirming.add_argument("--account", help="account number (default: your first)")
    confirming.add_argument("--yes", "-y", action="store_true", help="do not ask (for scripts)")
    confirming.add_argument(
        "--production", action="store_true", help="with --yes: yes, in production, real money"
    )
    return confirming


def parser() -> argparse.ArgumentParser:
    """The whole command line."""
    common = _common()
    top = argparse.ArgumentParser(
        prog="tastytrade", description=DESCRIPTION, epilog=EPILOG, parents=[common]
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, text: str, *parents: argparse.ArgumentParser, description: str | None = None
    ) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, parents=[common, *parents], help=text, description=description or text
        )

    demo = commands.add_parser("demo", help="run every login flow against a local fake API")
    demo.add_argument(
        "--transport",
        action="append",
        choices=["requests", "aiohttp", "trio"],
        help="only this transport (repeatable); all three by default",
    )

    login = command(
        "login",
        "log in and keep the secret later runs need",
        description="OAuth (the live API): give the client secret and refresh token when asked, "
        "or in $TASTYTRADE_CLIENT_SECRET and $TASTYTRADE_REFRESH_TOKEN. Legacy (--user): asks for "
        "the password and the two-factor code, and keeps only the remember token.",
    )
    login.add_argument("--user", help="log in with this login name and a password (legacy)")
    command("logout", "end the session and forget the secret")
    command("accounts", "list your accounts")
    for name, text in (
        ("balances", "an account's balances"),
        ("positions", "an account's positions, with mark, value, P/L, delta and days left"),
    ):
        command(name, text).add_argument(
            "account", nargs="?", help="account number (default: your first)"
        )
    orders = command("orders", "today's orders and live GTC orders (--live: working only)")
    orders.add_argument("account", nargs="?", help="account number (default: your first)")
    orders.add_argument("--live", action="store_true", help="only orders still working")
    transactions = command("transactions", "an account's recent transactions")
    transactions.add_argument("account", nargs="?", help="account number (default: your first)")
    transactions.add_argument(
        "--days", type=_at_least_one, default=30, help="how far back, in days (default 30)"
    )
    watchlists = command("watchlists", "your watchlists, or one's symbols")
    watchlists.add_argument("name", nargs="?", help="show this watchlist's symbols")

    quote = command("quote", "quotes: bid, ask, last, change, volume")
    quote.add_argument("symbols", nargs="+", metavar="SYMBOL")
    metrics = command("metrics", "IV rank, volatility, beta, liquidity, earnings")
    metrics.add_argument("symbols", nargs="+", metavar="SYMBOL")
    chain = command("chain", "an option chain's expirations, or one expiration's strikes")
    chain.add_argument("symbol")
    chain.add_argument("--expiration", metavar="YYYY-MM-DD", help="show this expiration's strikes")
    chain.add_argument(
        "--strikes", type=_at_least_one, help="how many strikes near the money (default 10)"
    )
    chain.add_argument("--all-strikes", action="store_true", help="every strike")

    watch = command(
        "watch",
        "live quotes until Ctrl-C: bid, ask, sizes, last, change, volume; delta and IV of options",
        description="Live quotes over DXLink. On a terminal: a table updated in place until "
        "Ctrl-C. Piped: a line per update, or with --json one JSON object per event.",
    )
    watch.add_argument("symbols", nargs="+", metavar="SYMBOL")
    _stopping(watch, "events")
    candles = command(
        "candles",
        "price bars (open, high, low, close, volume) over DXLink, with a chart on a terminal",
    )
    candles.add_argument("symbol", metavar="SYMBOL")
    candles.add_argument(
        "--period", default="5m", help="bar length: 1m, 5m, 1h, d, w ... (default 5m)"
    )
    candles.add_argument(
        "--since",
        metavar="WHEN",
        help="how far back: 2h, 3d, 1w, or an ISO time (UTC unless it says; default 50 bars)",
    )
    candles.add_argument(
        "--rth", action="store_true", help="regular trading hours only (no extended hours)"
    )
    candles.add_argument(
        "--follow", action="store_true", help="then print each update of the bar in progress"
    )
    _stopping(candles, "updates of --follow")

    stream = command(
        "stream",
        "orders, fills, positions and balances of your accounts, live, until Ctrl-C",
        description="The account streamer: a line per change (with --json one JSON object "
        "per line) to your orders, fills, positions and balances, as it happens. It starts "
        "with the accounts' working orders, positions and balances as they are.",
    )
    stream.add_argument(
        "--account",
        action="append",
        metavar="ACCOUNT",
        help="only this account (repeatable; default: all your accounts)",
    )
    stream.add_argument(
        "--watchlists", action="store_true", help="also changes to tastytrade's public watchlists"
    )
    stream.add_argument(
        "--quote-alerts", action="store_true", help="also your quote alerts when they trigger"
    )
    _stopping(stream, "account events")

    order = command(
        "order",
        "preview (--dry-run) or place (--place) an order for one symbol",
        _confirming(),
        description="Example: tastytrade order --place --symbol AAPL --action bto --quantity 10 "
        "--limit 150. The price is unsigned: buying pays it (a debit), selling receives it "
        "(a credit). Placing shows the order and its dry run, and asks first.",
    )
    mode = order.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="only preview: nothing is placed")
    mode.add_argument("--place", action="store_true", help="place it (asks first)")
    order.add_argument("--symbol", required=True, help="AAPL, an OCC option symbol, /ESZ6, ...")
    order.add_argument(
        "--action", required=True, help="buy to open (bto), sell to close (stc), ...; buy/sell"
    )
    order.add_argument("--quantity", required=True)
    order.add_argument(
        "--instrument-type",
        default=None,
        help="equity, equity option, future, future option, cryptocurrency (default: from the "
        "symbol)",
    )
    order.add_argument(
        "--limit", metavar="PRICE", help="a limit order at this unsigned price; market otherwise"
    )
    order.add_argument(
        "--tick", metavar="SIZE", help="the tick size to check --limit against (default: fetched)"
    )
    order.add_argument("--time-in-force", default="day", help="day (default), gtc, ext, ioc, ...")
    order.add_argument(
        "--wait",
        action="store_true",
        help="with --place: show each change of the order until it ends (--timeout SECONDS "
        "bounds the wait); exit 0 filled, 5 rejected, 9 ended unfilled, 10 still working",
    )

    cancel = command("cancel", "cancel a working order (c123 for a complex order)", _confirming())
    cancel.add_argument("order_id", metavar="ORDER_ID")
    cancel.add_argument("--complex", action="store_true", help="ORDER_ID is a complex order's")

    replace = command("replace", "replace a working order's limit price", _confirming())
    replace.add_argument("order_id", metavar="ORDER_ID")
    replace.add_argument("--limit", metavar="PRICE", required=True, help="the new unsigned price")
    replace.add_argument("--time-in-force", default=None, help="a new time in force")
    replace.add_argument(
        "--tick", metavar="SIZE", help="the tick size to check --limit against (default: fetched)"
    )
    sign = replace.add_mutually_exclusive_group()
    sign.add_argument("--debit", action="store_true", help="the price is paid")
    sign.add_argument("--credit", action="store_true", help="the price is received")
    return top


def _ask_line_on_terminal() -> Callable[[str], str] | None:
    if not sys.stdin.isatty():
        return None

    def ask(prompt: str) -> str:
        sys.stderr.write(prompt)
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line

    return ask


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    ask_secret: Callable[[str], str] | None = None,
    ask_line: Callable[[str], str] | None = None,
) -> int:
    """Run the command line; returns the exit status.

    ``out``, ``err``, ``environ``, ``ask_secret`` (a getpass-like prompt) and
    ``ask_line`` (a yes/no prompt) default to the process's own; tests pass
    their own.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    env = dict(os.environ if environ is None else environ)
    args = parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.transport or ["requests", "aiohttp", "trio"], out=out)

    from . import account, commands, login, store, streams, trading
    from .errors import ExitCode, explain
    from .output import Output

    output = Output(
        out,
        err,
        environ=env,
        json_mode=bool(getattr(args, "json", False)),
        color=not getattr(args, "no_color", False),
    )
    path = Path(getattr(args, "credentials", None) or store.default_path(env))
    typed: list[str] = []  # what was typed at a secret prompt, kept out of --debug's detail
    asker = ask_secret or login.ask_secret_on_terminal

    def ask_and_remember(prompt: str) -> str:
        answer = asker(prompt)
        typed.append(answer)
        return answer

    context = login.Context(
        args=args,
        path=path,
        output=output,
        env=env,
        ask_secret=ask_and_remember,
        ask_line=ask_line if ask_line is not None else _ask_line_on_terminal(),
    )
    run = {
        "login": login.login,
        "logout": login.logout,
        "accounts": commands.accounts,
        "balances": commands.balances,
        "positions": commands.positions,
        "orders": commands.orders,
        "transactions": commands.transactions,
        "watchlists": commands.watchlists,
        "quote": commands.quote,
        "metrics": commands.metrics,
        "chain": commands.chain,
        "watch": streams.watch,
        "candles": streams.candles,
        "stream": account.stream,
        "order": trading.order,
        "cancel": trading.cancel,
        "replace": trading.replace,
    }[args.command]
    try:
        run(context)
    except KeyboardInterrupt:
        output.note("tastytrade: interrupted")
        return ExitCode.INTERRUPTED
    except Exception as error:
        try:
            told = explain(error, where=context.where, saved_login=args.command not in ("login",))
        except Exception:
            from .errors import CommandError

            told = CommandError(f"internal error ({type(error).__name__}); --debug shows it")
        output.note(f"tastytrade: {told.message}", "red")
        if told.hint:
            output.note(f"  {told.hint}")
        if getattr(args, "debug", False):
            detail = "".join(traceback.format_exception(error))
            output.note(_scrub(detail, [*typed, *context.secrets, *_secrets(env, path)]))
        return int(told.code)
    return ExitCode.OK


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            text = text.replace(form, "[REDACTED]")
    return text


def _secrets(env: Mapping[str, str], path: Path) -> list[str]:
    """What --debug's detail must not show: the secrets in the environment and the file."""
    found = [env.get("TASTYTRADE_CLIENT_SECRET", ""), env.get("TASTYTRADE_REFRESH_TOKEN", "")]
    try:
        from . import store

        saved = store.load(path)
        found += [saved.client_secret or "", saved.refresh_token or "", saved.remember_token or ""]
        if saved.session:
            import json

            dumped = json.loads(saved.session)
            found += [
                str(dumped.get(k) or "") for k in ("token", "refresh_token", "remember_token")
            ]
    except Exception:
        pass
    return [s for s in found if len(s) >= 4]
