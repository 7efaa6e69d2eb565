"""``python -m tastytrade_proto.testing``: serve the fake API on loopback, and drive it.

``serve`` (the default when no command is given) serves until Ctrl-C and
prints everything a client needs: the base URL, the CA to trust with
``--tls``, every demo credential, the demo accounts and commands to try.
``--port`` picks the port, ``--state-dir`` keeps the tokens the fake issues
(and its CA) so that a restarted fake accepts them.

``mark``, ``fill`` and ``advance`` talk to a running fake's admin routes
(loopback only; standard library only): move a mark, fill an order, move the
clock. See ``docs/testing.md``, "The fake from a shell".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import ssl
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from . import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeTastytradeAPI,
    FakeTastytradeServer,
    SecondFactor,
)
from .fake.admin import WallClock, is_loopback

PROG = "python -m tastytrade_proto.testing"
_COMMANDS = ("serve", "mark", "fill", "advance")


def main(argv: Sequence[str] | None = None, *, wait: Callable[[], object] | None = None) -> int:
    """Run one command; returns the exit status.

    ``serve`` serves until Ctrl-C, or until ``wait`` (called while the server
    runs) returns or raises ``KeyboardInterrupt``.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in _COMMANDS and args_list[0] not in ("-h", "--help")):
        args_list.insert(0, "serve")  # `--tls --port 8443` still serves
    args = _parser().parse_args(args_list)
    if args.command == "serve":
        return _serve(args, wait)
    return _admin(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Serve the fake tastytrade API on this machine, or drive a running one.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="serve the fake until Ctrl-C (the default command)", description=__doc__
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on: 127.0.0.1, nothing else"
    )
    serve.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    serve.add_argument("--tls", action="store_true", help="serve HTTPS with a throw-away CA")
    serve.add_argument(
        "--state-dir",
        metavar="DIR",
        help="keep issued refresh and remember tokens and the CA here, and take back what an "
        "earlier run left: a restart does not lock a logged-in client out",
    )
    serve.add_argument(
        "--rotate-refresh-tokens",
        action="store_true",
        help="issue a new refresh token on each OAuth refresh and retire the old one",
    )

    def admin_command(name: str, text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--base-url", required=True, help="the running fake's base URL")
        command.add_argument("--ca-bundle", help="trust this PEM file (the fake's CA) for https")
        return command

    mark = admin_command("mark", "set the price the fake quotes and fills a symbol at")
    mark.add_argument("symbol", metavar="SYMBOL")
    mark.add_argument("price", metavar="PRICE")
    fill = admin_command("fill", "fill a working order now, whether or not it crosses the marks")
    fill.add_argument("order_id", metavar="ORDER_ID")
    fill.add_argument("--quantity", help="fill only this much of a one-leg order")
    fill.add_argument("--price", help="the fill price of a one-leg order (default: its limit)")
    advance = admin_command("advance", "move the fake's clock forward")
    advance.add_argument("seconds", metavar="SECONDS", type=float)
    return parser


# -- serve ------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace, wait: Callable[[], object] | None) -> int:
    if args.host != "127.0.0.1":
        print(f"{PROG}: error: --host: the fake listens on 127.0.0.1 only", file=sys.stderr)
        return 2
    api = FakeTastytradeAPI(clock=WallClock(), rotate_refresh_tokens=args.rotate_refresh_tokens)
    server = FakeTastytradeServer(api, tls=args.tls, port=args.port, state_dir=args.state_dir)
    try:
        server.start()
    except OSError as exc:
        print(f"{PROG}: error: cannot serve on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    try:
        print(banner(server), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            (wait or threading.Event().wait)()
    finally:
        server.stop()
    return 0


def banner(server: FakeTastytradeServer) -> str:
    """What ``serve`` prints: where the fake is, every demo credential, commands to try."""
    url = server.base_url
    trust = f" --ca-bundle {server.ca_path}" if server.tls else ""
    user = server.api.users[DEMO_LOGIN]
    lines = [
        f"fake tastytrade API at {url}",
        f"DXLink market data at {server.dxlink_url}",
        f"account streamer at {server.account_streamer_url}",
    ]
    if server.tls:
        lines.append(f"trust this CA: {server.ca_path}")
        if server.state is None:
            lines.append("  (a temporary file: it goes when the fake stops; --state-dir keeps it)")
    if server.state is not None:
        lines.append(
            f"state: {server.state.path} (refresh and remember tokens issued here, and the CA, "
            "are accepted after a restart with the same --state-dir; sessions, orders and "
            "marks start afresh)"
        )
    else:
        lines.append("no --state-dir: tokens this run issues are refused after a restart")
    accounts = ", ".join(f"{n} ({server.api.accounts[n].nickname})" for n in user.accounts)
    rotation = (
        "rotated on each refresh: keep the newest"
        if server.api.rotate_refresh_tokens
        else "not rotated"
    )
    lines += [
        "",
        "demo credentials (fake values, for this fake only):",
        f"  OAuth client secret:  {DEMO_CLIENT_SECRET}",
        f"  OAuth refresh token:  {DEMO_REFRESH_TOKEN}  ({rotation})",
        f"  login:                {DEMO_LOGIN}",
        f"  password:             {DEMO_PASSWORD}",
        f"  one-time password:    {DEMO_OTP}  ({_when_otp(user.second_factor)})",
    ]
    if user.second_factor is SecondFactor.SECURITY_QUESTION:
        lines.append(f"  security answer:      {user.security_answer}")
    lines += [
        f"  accounts:             {accounts}",
        "",
        "try:",
        f"  TASTYTRADE_CLIENT_SECRET={DEMO_CLIENT_SECRET} "
        f"TASTYTRADE_REFRESH_TOKEN={DEMO_REFRESH_TOKEN} tastytrade login --base-url {url}{trust}",
        f"  tastytrade login --user {DEMO_LOGIN} --base-url {url}{trust}"
        f"    (password {DEMO_PASSWORD}, then code {DEMO_OTP})",
        f"  tastytrade accounts{trust}",
        f"  {PROG} mark --base-url {url}{trust} SPY 601.25",
        f"  {PROG} fill --base-url {url}{trust} ORDER_ID [--quantity Q] [--price P]",
        f"  {PROG} advance --base-url {url}{trust} 3600",
        "Ctrl-C to stop",
    ]
    return "\n".join(lines)


def _when_otp(factor: SecondFactor) -> str:
    if factor is SecondFactor.NONE:
        return "never asked"
    if factor is SecondFactor.OTP:
        return "asked on every password login"
    question = " and the security question" if factor is SecondFactor.SECURITY_QUESTION else ""
    return (
        f"asked on every password login, after the device challenge{question}; "
        "never for a remember-token or OAuth login"
    )


# -- the admin commands -----------------------------------------------------------------------


def _admin(args: argparse.Namespace) -> int:
    body: dict[str, Any]
    if args.command == "mark":
        path, body = "/fake-admin/marks", {"symbol": args.symbol, "mark": args.price}
    elif args.command == "fill":
        path = f"/fake-admin/orders/{quote(args.order_id, safe='')}/fill"
        body = {k: v for k, v in (("quantity", args.quantity), ("price", args.price)) if v}
    else:
        path, body = "/fake-admin/clock/advance", {"seconds": args.seconds}
    try:
        status, answer = admin_request(args.base_url, path, body, ca_bundle=args.ca_bundle)
    except (OSError, ValueError) as exc:
        print(f"{PROG} {args.command}: {exc}", file=sys.stderr)
        return 1
    if status != 200 or not isinstance(answer.get("data"), dict):
        problem = answer.get("error")
        message = (problem.get("message") if isinstance(problem, dict) else None) or answer.get(
            "text", "no explanation"
        )
        print(f"{PROG} {args.command}: {status} {message}", file=sys.stderr)
        return 1
    data = answer["data"]
    if args.command == "mark":
        print(f"{data['symbol']} mark {data['mark']}")
    elif args.command == "fill":
        remaining = ", ".join(
            f"{leg.get('symbol')} {leg.get('remaining-quantity')} left"
            for leg in data.get("legs", [])
        )
        print(f"order {data.get('id')} {data.get('status')} ({remaining})")
    else:
        print(f"fake clock now {data['now']}")
    return 0


def admin_request(
    base_url: str, path: str, body: dict[str, Any], *, ca_bundle: str | None = None
) -> tuple[int, dict[str, Any]]:
    """POST ``body`` as JSON to a running fake's admin ``path``: (status, parsed answer).

    Only to this machine (the admin routes answer nothing else), with no proxy;
    ``ca_bundle`` is the PEM file to trust for ``https``.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not is_loopback(parts.hostname or ""):
        raise ValueError(f"{base_url!r} is not the fake on this machine (http(s)://127.0.0.1:PORT)")
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if parts.scheme == "https":
        context = ssl.create_default_context(cafile=ca_bundle)
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(
        base_url.rstrip("/") + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "tastytrade-fake-admin/1"},
    )
    try:
        with opener.open(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        answer = {"text": raw.decode("utf-8", "replace")[:200]}
    return status, answer


if __name__ == "__main__":
    sys.exit(main())
