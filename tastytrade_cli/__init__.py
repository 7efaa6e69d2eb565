"""The ``tastytrade`` command: a command line over the tastytrade-proto transports.

``tastytrade demo`` runs every authentication flow against the fake API on
loopback, with no network and no credentials. ``tastytrade login`` keeps one
secret in a file only you can read (see :mod:`tastytrade_cli.store`); then
``accounts``, ``balances``, ``positions``, ``orders``, ``chain``, ``quote`` and
``order --dry-run`` talk to the API through the requests transport, printing
tables, or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import getpass as _getpass
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from tastytrade_proto import TastytradeError

from .store import CredentialsError

__all__ = ["main"]

DESCRIPTION = "A command line for the tastytrade API (tastytrade-proto)."


def _parser() -> argparse.ArgumentParser:
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
        "--ca-bundle", default=argparse.SUPPRESS, help="trust the authorities in this PEM file"
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

    parser = argparse.ArgumentParser(prog="tastytrade", description=DESCRIPTION, parents=[common])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run every login flow against a local fake API")
    demo.add_argument(
        "--transport",
        action="append",
        choices=["requests", "aiohttp", "trio"],
        help="only this transport (repeatable); all three by default",
    )

    login = commands.add_parser(
        "login",
        parents=[common],
        help="log in and keep the secret a later run needs",
        description="OAuth (the live API): give the client secret and refresh token when asked, "
        "or in $TASTYTRADE_CLIENT_SECRET and $TASTYTRADE_REFRESH_TOKEN. Legacy (--user): asks for "
        "the password and the two-factor code, and keeps only the remember token.",
    )
    login.add_argument("--user", help="log in with this login name and a password (legacy)")
    commands.add_parser("logout", parents=[common], help="end the session and forget the secret")
    commands.add_parser("accounts", parents=[common], help="list your accounts")
    for name, text in (
        ("balances", "an account's balances"),
        ("positions", "an account's positions"),
        ("orders", "an account's orders today, and live GTC orders"),
    ):
        command = commands.add_parser(name, parents=[common], help=text)
        command.add_argument("account", nargs="?", help="account number (default: your first)")

    chain = commands.add_parser("chain", parents=[common], help="an option chain")
    chain.add_argument("symbol")
    chain.add_argument("--expiration", help="show the strikes of this expiration (YYYY-MM-DD)")

    quote = commands.add_parser("quote", parents=[common], help="quotes for symbols")
    quote.add_argument("symbols", nargs="+", metavar="SYMBOL")

    order = commands.add_parser(
        "order",
        parents=[common],
        help="preview (--dry-run) or place an order for one symbol",
        description="Example: tastytrade order --dry-run --account 5WT00001 "
        "--action 'Buy to Open' --quantity 10 --symbol AAPL --limit 150.00",
    )
    mode = order.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="only preview: nothing is placed")
    mode.add_argument("--place", action="store_true", help="place it for real")
    order.add_argument("--account", help="account number (default: your first)")
    order.add_argument("--symbol", required=True)
    order.add_argument("--action", required=True, help="e.g. 'Buy to Open', 'Sell to Close'")
    order.add_argument("--quantity", required=True)
    order.add_argument(
        "--instrument-type", default=None, help="Equity (default), Equity Option, Future, ..."
    )
    order.add_argument(
        "--limit",
        metavar="PRICE",
        help="a limit order at this price (unsigned: buys pay, sells receive); market otherwise",
    )
    order.add_argument("--time-in-force", default="Day", help="Day (default), GTC, ...")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    ask_secret: Callable[[str], str] | None = None,
) -> int:
    """Run the command line; returns the exit status.

    ``out``, ``err``, ``environ`` and ``ask_secret`` (a getpass-like prompt)
    default to the process's own; tests pass their own.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    env = dict(os.environ if environ is None else environ)
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.transport or ["requests", "aiohttp", "trio"], out=out)

    from . import commands, store

    path = Path(getattr(args, "credentials", None) or store.default_path(env))
    context = commands.Context(
        args=args, path=path, out=out, err=err, env=env, ask_secret=ask_secret or _getpass.getpass
    )
    try:
        return commands.run(context)
    except (TastytradeError, CredentialsError) as error:
        err.write(f"tastytrade: {error}\n")
        return 1
    except OSError as error:  # the credentials file could not be read or written
        err.write(f"tastytrade: {error.strerror or error} ({error.filename or path}); ")
        err.write("log in again once this is fixed\n")
        return 1
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        err.write("tastytrade: interrupted\n")
        return 130
