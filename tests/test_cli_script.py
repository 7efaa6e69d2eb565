"""The ``tastytrade`` console script, run as a user runs it, against the fake over real sockets.

Each test here is one thing a trader met (docs/cli.md): run in a subprocess,
with a pipe or a pseudo-terminal for input, and checked for what it prints,
what it sends and the exit status. No run may print a traceback or a secret.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tastytrade_proto.orders import PlacedComplexOrder
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeTastytradeAPI,
    FakeTastytradeServer,
)
from tastytrade_proto.testing.fake.api import StreamFault, StreamFaultKind

COMMAND = Path(sys.executable).parent / "tastytrade"
# The checkout under test: the console script imports it, whichever checkout the
# environment's editable install points at (a git worktree has its own).
CHECKOUT = Path(__file__).resolve().parent.parent
SECRETS = (DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN, DEMO_PASSWORD, DEMO_OTP)
# Every token the fake issues starts "fake-" (the fake's CA file is named tastytrade-fake-ca-*).
TOKEN = re.compile(r"(?<![\w-])fake-")
ORDERS = "/accounts/5WT00001/orders"
# watch's table with SPY's bid and ask, then (on the option's row) a delta and an IV.
DRAWN = re.compile(r"SPY +\d{3}\.\d\d +\d{3}\.\d\d .* 0\.\d\d +\d+\.\d%", re.S)


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def _controlling_terminal() -> None:  # pragma: no cover - runs in the child
    # A new session whose controlling terminal is the pty on stdin, so getpass reads /dev/tty.
    os.setsid()
    import fcntl

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def environment(credentials: Path) -> dict[str, str]:
    """A user's environment: their own credentials file, the demo OAuth pair, nothing else."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(CHECKOUT),
        "HOME": str(credentials.parent),
        "TASTYTRADE_CREDENTIALS": str(credentials),
        "TASTYTRADE_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "TASTYTRADE_REFRESH_TOKEN": DEMO_REFRESH_TOKEN,
    }


class Tastytrade:
    """Runs the console script with its own credentials file, against one fake server."""

    def __init__(self, server: FakeTastytradeServer, home: Path) -> None:
        self.server = server
        self.api: FakeTastytradeAPI = server.api
        self.path = home / "config" / "credentials.json"
        self.env = environment(self.path)
        #: Processes started to run on (``start``, ``Terminal``), ended when the test ends.
        self.running: list[subprocess.Popen[bytes]] = []

    def __call__(
        self,
        *argv: str,
        stdin: str = "",
        env: dict[str, str] | None = None,
        traceback: bool = False,
    ) -> Run:
        """Run with ``stdin`` on a pipe (not a terminal)."""
        result = subprocess.run(
            [str(COMMAND), *argv],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env={**self.env, **(env or {})},
            check=False,
        )
        run = Run(result.returncode, result.stdout, result.stderr)
        self.check_clean(run.text, traceback=traceback)
        return run

    def start(self, *argv: str) -> Running:
        """Start it with stdout and stderr on pipes; read it while it runs."""
        process = subprocess.Popen(
            [str(COMMAND), *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
        )
        self.running.append(process)
        return Running(process)

    def on_terminal(self, *argv: str, typed: list[str], env: dict[str, str] | None = None) -> Run:
        """Run with a pseudo-terminal as stdin and stdout (and controlling terminal); each of
        ``typed`` is written after the program prompts and waits for input."""
        main, child = pty.openpty()
        process = subprocess.Popen(
            [str(COMMAND), *argv],
            stdin=child,
            stdout=child,
            stderr=child,
            env={**self.env, "TERM": "xterm-256color", **(env or {})},
            preexec_fn=_controlling_terminal,
        )
        os.close(child)
        seen = b""
        answers = list(typed)
        try:
            while True:
                ready, _, _ = select.select([main], [], [], 30)
                if not ready:
                    raise AssertionError(f"no output for 30 s; so far: {seen!r}")
                try:
                    chunk = os.read(main, 65536)
                except OSError as exc:  # EIO: the child closed its side
                    if exc.errno != errno.EIO:
                        raise
                    break
                if not chunk:
                    break
                seen += chunk
                # A prompt ends a chunk without a newline: answer it.
                if answers and (seen.rstrip(b" ").endswith((b":", b"]", b"?"))):
                    os.write(main, answers.pop(0).encode())
        finally:
            code = process.wait(timeout=60)
            os.close(main)
        text = seen.decode(errors="replace").replace("\r\n", "\n")
        self.check_clean(text)
        return Run(code, text, "")

    @staticmethod
    def check_clean(text: str, *, traceback: bool = False) -> None:
        assert traceback or "Traceback" not in text, text
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} shown"
        assert not TOKEN.search(text), text

    def login(self) -> None:
        run = self("login", "--base-url", self.server.base_url)
        assert run.code == 0, run.text

    def saved(self) -> dict[str, Any]:
        saved: dict[str, Any] = json.loads(self.path.read_text())
        return saved

    def bracket(self) -> PlacedComplexOrder:
        """An OTOCO placed through the library: buy 5 AAPL at 150, then sell at 250 or stop 120."""
        from tastytrade_proto.orders import NewComplexOrder, NewLeg, NewOrder
        from tastytrade_requests import Session

        with Session(base_url=self.server.base_url) as session:
            session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            leg = NewLeg("Equity", "AAPL", "Buy to Open", Decimal(5))
            close = NewLeg("Equity", "AAPL", "Sell to Close", Decimal(5))
            return session.place_complex_order(
                "5WT00001",
                NewComplexOrder.otoco(
                    NewOrder.limit(leg, "-150"),
                    NewOrder.limit(close, "250", time_in_force="GTC"),
                    NewOrder.stop(close, "120", time_in_force="GTC"),
                ),
            )

    def live_order(self, price: str = "150", symbol: str = "AAPL") -> str:
        """Place a GTC buy that rests (far from the market); its id."""
        run = self(
            "order",
            "--place",
            "--yes",
            "--symbol",
            symbol,
            "--action",
            "bto",
            "--quantity",
            "10",
            "--limit",
            price,
            "--time-in-force",
            "gtc",
        )
        assert run.code == 0, run.text
        return run.out.split("placed #")[1].split()[0]


class Running:
    """The console script running with stdout and stderr on pipes, read as it prints."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.pending = b""

    def line(self, wait: float = 30) -> str:
        """The next line of stdout (each is flushed as it is printed)."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self.pending:
            ready, _, _ = select.select([fd], [], [], wait)
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                self.process.kill()
                _, err = self.process.communicate(timeout=60)
                raise AssertionError(f"no line in {wait} s: {self.pending!r}, stderr {err!r}")
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line.decode()

    def finish(self) -> Run:
        out, err = self.process.communicate(timeout=60)
        run = Run(self.process.returncode, (self.pending + out).decode(), err.decode())
        Tastytrade.check_clean(run.text)
        return run


class Terminal:
    """The console script on a pseudo-terminal (120 columns), read until what a test waits
    for is on the screen; keys are written to it as typed."""

    def __init__(self, tt: Tastytrade, *argv: str) -> None:
        self.main, child = pty.openpty()
        fcntl_ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(
            [str(COMMAND), *argv],
            stdin=child,
            stdout=child,
            stderr=child,
            env={**tt.env, "TERM": "xterm-256color"},
            preexec_fn=_controlling_terminal,
        )
        tt.running.append(self.process)
        os.close(child)
        self.seen = b""
        self.closed = False

    @property
    def text(self) -> str:
        return self.seen.decode(errors="replace").replace("\r\n", "\n")

    def _read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.main], [], [], wait)
        if not ready:
            return False
        try:
            chunk = os.read(self.main, 65536)
        except OSError as exc:  # EIO: the child closed its side
            if exc.errno != errno.EIO:
                raise
            chunk = b""
        if not chunk:
            self.closed = True
        self.seen += chunk
        return True

    def until(self, shown: Callable[[str], object], wait: float = 30) -> str:
        while not shown(self.text):
            if self.closed or not self._read(wait):
                self.process.kill()
                self.finish()
                raise AssertionError(f"not shown within {wait} s; so far: {self.text!r}")
        return self.text

    def type(self, keys: bytes) -> None:
        os.write(self.main, keys)

    def finish(self) -> Run:
        while not self.closed and self._read(30):
            pass
        code = self.process.wait(timeout=60)
        os.close(self.main)
        Tastytrade.check_clean(self.text)
        return Run(code, self.text, "")


def fcntl_ioctl(fd: int, request: int, argument: bytes) -> None:
    import fcntl

    fcntl.ioctl(fd, request, argument)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeTastytradeServer]:
    with FakeTastytradeServer(FakeTastytradeAPI()) as running:
        yield running


@pytest.fixture
def tt(server: FakeTastytradeServer, tmp_path: Path) -> Iterator[Tastytrade]:
    runner = Tastytrade(server, tmp_path)
    yield runner
    for process in runner.running:  # a test that failed half way leaves none running
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=60)


# -- no way back from an order -------------------------------------------------------------


def test_cancel_and_replace_a_working_order(tt: Tastytrade) -> None:
    tt.login()
    order_id = tt.live_order("150")
    run = tt("orders", "--live")
    assert run.code == 0 and f"{order_id} " in run.out and "150.00 db" in run.out

    run = tt("replace", order_id, "--limit", "151.5", "--yes")
    assert run.code == 0, run.text
    assert "150.00 db -> limit 151.50 db" in run.out and "replaced by order #" in run.out
    new_id = run.out.split("replaced by order #")[1].split(":")[0]
    sent = [r for r in tt.api.requests if r.method == "PUT"][-1].json()
    assert sent["price"] == "151.5" and sent["price-effect"] == "Debit"  # the sign kept

    run = tt("cancel", new_id, "--yes")
    assert run.code == 0 and f"order #{new_id}: Cancel" in run.out, run.text
    run = tt("orders", "--live")
    assert new_id not in run.out and order_id not in run.out
    run = tt("cancel", new_id, "--yes")  # nothing left to cancel
    assert run.code == 5 and "no longer working" in run.err
    run = tt("cancel", "999999", "--yes")
    assert run.code == 6 and "no order 999999" in run.err
    run = tt("replace", "c999", "--limit", "1")
    assert run.code == 2 and "one order at a time" in run.err


def test_a_complex_order_is_listed_and_cancelled(tt: Tastytrade) -> None:
    tt.login()
    placed = tt.bracket()
    complex_id = placed.complex_order.id
    run = tt("orders", "--live")
    assert run.code == 0 and f"complex order c{complex_id}" in run.out, run.text
    member = placed.complex_order.orders[0].id
    run = tt("cancel", str(member))  # one order of it: the others would stay, and it says so
    assert run.code == 7 and f"it belongs to complex order c{complex_id}" in run.out
    run = tt("cancel", f"c{complex_id}")  # no terminal: not even a complex order goes
    assert run.code == 7
    run = tt("cancel", f"c{complex_id}", "--yes")
    assert run.code == 0 and f"complex order c{complex_id}: cancel requested" in run.out
    assert any(r.method == "DELETE" and "complex-orders" in r.path for r in tt.api.requests)


# -- confirmation ----------------------------------------------------------------------------


def test_placing_shows_the_order_and_asks_first(tt: Tastytrade) -> None:
    tt.login()
    argv = [
        "order",
        "--place",
        "--symbol",
        "aapl",
        "--action",
        "buy to open",
        "--quantity",
        "10",
        "--limit",
        "150",
        "--time-in-force",
        "gtc",
    ]
    before = tt.api.count("POST", ORDERS)

    run = tt.on_terminal(*argv, typed=["n\n"])
    assert run.code == 7 and "not confirmed: nothing was sent" in run.out
    for words in (
        "Buy to Open 10 AAPL at limit 150.00 db, GTC",
        "account 5WT00001",
        "custom (http://127.0.0.1:",
        "buying power change",
        "fees",
        "[y/N]",
    ):
        assert words in run.out, words
    assert tt.api.count("POST", ORDERS) == before

    run = tt.on_terminal(*argv, typed=["y\n"])
    assert run.code == 0 and "placed #" in run.out, run.out
    assert tt.api.count("POST", ORDERS) == before + 1

    run = tt(*argv)  # no terminal, no --yes: refused, nothing sent
    assert run.code == 7 and "no terminal to confirm on" in run.err
    assert tt.api.count("POST", ORDERS) == before + 1


@pytest.mark.parametrize(
    ("where", "named"),
    [
        ({}, "production (api.tastyworks.com)"),
        ({"environment": "custom", "base_url": "https://api.tastyworks.com"}, "production ("),
        ({"environment": "custom", "base_url": "https://proxy.example:8443"}, "custom (https://"),
    ],
)
def test_production_is_never_the_silent_default(
    tt: Tastytrade, where: dict[str, str], named: str
) -> None:
    from tastytrade_cli import store

    # A saved login there (never used: nothing may be sent, nothing is even looked up).
    tt.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    saved = store.Credentials("oauth", client_secret="x" * 8, refresh_token="y" * 8, **where)
    store.save(tt.path, saved)
    for argv in (
        ["cancel", "1", "--yes"],
        ["replace", "1", "--limit", "1", "--yes"],
        ["order", "--place", "--yes", "--symbol", "AAPL", "--action", "bto", "--quantity", "1"],
    ):
        run = tt(*argv)
        assert run.code == 7 and f"--yes in {named}" in run.err, run.err
        assert "also needs --production (it may trade real money): nothing was sent" in run.err


# -- tracebacks and internals ----------------------------------------------------------------


def test_end_of_input_or_no_terminal_at_the_login_prompt(tt: Tastytrade) -> None:
    env = {"TASTYTRADE_CLIENT_SECRET": "", "TASTYTRADE_REFRESH_TOKEN": ""}
    run = tt("login", "--base-url", tt.server.base_url, env=env)  # stdin is a pipe
    assert run.code == 3 and "no terminal to ask for the client secret on" in run.err
    run = tt.on_terminal("login", "--base-url", tt.server.base_url, typed=["\x04"], env=env)
    assert run.code == 3 and "no answer given (end of input)" in run.out, run.out
    assert not tt.path.exists()


def test_a_stopped_server_and_an_untrusted_certificate_are_one_line(tt: Tastytrade) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    run = tt("login", "--base-url", f"http://127.0.0.1:{port}")
    assert run.code == 4, run.text
    assert run.err == (
        f"tastytrade: cannot reach 127.0.0.1:{port}: the connection was refused "
        "(is the server running?)\n"
    )
    with FakeTastytradeServer(FakeTastytradeAPI(), tls=True) as secure:
        run = tt("login", "--base-url", secure.base_url)  # a CA this machine does not trust
        assert run.code == 4 and "TLS certificate is not trusted" in run.err
        assert len(run.err.splitlines()) == 1
        run = tt("login", "--base-url", secure.base_url, "--ca-bundle", str(secure.ca_path))
        assert run.code == 0, run.text
        assert tt.saved()["ca_bundle"] == str(secure.ca_path)
        assert tt("balances").code == 0  # the CA remembered with the login
    run = tt("balances")  # the remembered CA file went with that server
    assert run.code == 2 and "cannot be used: No such file" in run.err
    # --debug shows the detail (secrets still scrubbed: __call__ checks).
    run = tt("--debug", "login", "--base-url", f"http://127.0.0.1:{port}", traceback=True)
    assert run.code == 4 and "Traceback" in run.err and "TransportError" in run.err


def test_every_failure_has_its_own_exit_status(tt: Tastytrade) -> None:
    assert tt("accounts").code == 3  # not logged in
    tt.login()
    assert (
        tt(
            "order",
            "--dry-run",
            "--symbol",
            "AAPL",
            "--action",
            "bto",
            "--quantity",
            "1",
            "--limit",
            "nope",
        ).code
        == 2
    )
    assert tt("quote", "XYZQ").code == 6
    assert tt("balances", "5WT09999").code in (5, 6)
    run = tt("--timeout", "0", "accounts")
    assert run.code == 2 and "between 0 and 3600" in run.err


# -- symbols ---------------------------------------------------------------------------------


def test_unknown_symbols_are_named_and_fail(tt: Tastytrade) -> None:
    tt.login()
    run = tt("quote", "XYZQ")
    assert (run.code, run.out, run.err) == (6, "", "tastytrade: unknown symbol XYZQ\n")
    run = tt("quote", "SPY", "XYZQ")
    assert run.code == 6 and "SPY" in run.out and run.err == "tastytrade: unknown symbol XYZQ\n"


@pytest.mark.parametrize(
    "written",
    [
        "SPY   261218C00600000",
        "SPY261218C00600000",
        "spy 261218 c 00600000",
        ".SPY261218C600",
        "spy261218c600",
    ],
)
def test_option_symbols_in_any_usual_form(tt: Tastytrade, written: str) -> None:
    tt.login()
    run = tt("quote", written)
    assert run.code == 0 and run.out.splitlines()[1].startswith("SPY   261218C00600000"), run.text


# -- options and messages --------------------------------------------------------------------


def test_actions_and_times_in_force_in_any_case_and_short_form(tt: Tastytrade) -> None:
    tt.login()
    base = ["order", "--dry-run", "--symbol", "AAPL", "--quantity", "1", "--limit", "150"]
    for action, tif, shown in [
        ("bto", "gtc", "Buy to Open 1 AAPL at limit 150.00 db, GTC"),
        ("Sell To Close", "DAY", "Sell to Close 1 AAPL at limit 150.00 cr, Day"),
        ("STO", "ext", "Sell to Open 1 AAPL at limit 150.00 cr, Ext"),
    ]:
        run = tt(*base, "--action", action, "--time-in-force", tif)
        assert run.code == 0 and shown in run.out, run.text
    run = tt(*base, "--action", "buy")
    assert run.code == 2 and "OrderAction" not in run.err and "'buy to open'" in run.err
    run = tt(*base, "--action", "hold")
    assert run.code == 2 and "buy to open (bto)" in run.err
    run = tt(*base, "--action", "bto", "--instrument-type", "bond")
    assert run.code == 2 and "Unknown" not in run.err and "Equity Option" in run.err
    run = tt(*base[:-2], "--action", "buy", "--symbol", "/ESZ6", "--instrument-type", "future")
    assert "ambiguous" not in run.err  # futures are bought and sold


def test_a_refused_saved_login_does_not_blame_a_password(tt: Tastytrade) -> None:
    run = tt.on_terminal(
        "login",
        "--user",
        "demo",
        "--base-url",
        tt.server.base_url,
        typed=[DEMO_PASSWORD + "\n", "000000\n", DEMO_OTP + "\n"],
    )
    assert run.code == 0, run.out
    assert "that code was wrong; try again" in run.out  # said before asking again
    saved = tt.saved()
    del saved["session"]
    saved["remember_token"] = "not-a-token"
    tt.path.write_text(json.dumps(saved))
    run = tt("balances")
    assert run.code == 3 and "saved login was refused" in run.err
    assert "password" not in run.err and "tastytrade login" in run.err


def test_logout_twice_and_another_environment(tt: Tastytrade) -> None:
    tt.login()
    run = tt("--cert", "balances")
    assert run.code == 3
    assert "logged in to custom (http://127.0.0.1:" in run.err
    assert "not certification sandbox (api.cert.tastyworks.com)" in run.err
    assert tt("logout").code == 0
    run = tt("logout")
    assert run.code == 0 and "not logged in" in run.out


# -- prices and numbers ----------------------------------------------------------------------


def test_prices_are_unsigned_debits_or_credits_and_on_tick(tt: Tastytrade) -> None:
    tt.login()
    base = ["order", "--dry-run", "--symbol", "AAPL", "--action", "bto", "--quantity", "10"]
    run = tt(*base, "--limit", "-150")
    assert run.code == 2 and "without a sign" in run.err
    run = tt(*base, "--limit", "150.123")
    assert run.code == 2 and "not a multiple of the tick size 0.01" in run.err
    assert "150.12 and 150.13" in run.err
    run = tt(*base, "--limit", "0.50005")  # under 1.00 the tick is 0.0001
    assert run.code == 2 and "tick size 0.0001" in run.err
    option = [
        "order",
        "--dry-run",
        "--symbol",
        "SPY261218C600",
        "--action",
        "sto",
        "--quantity",
        "1",
    ]
    run = tt(*option, "--limit", "11.03")
    assert run.code == 0 and "limit 11.03 cr" in run.out, run.text
    run = tt(*option, "--limit", "11.031")
    assert run.code == 2 and "tick size 0.01" in run.err
    run = tt(*base, "--limit", "150.125", "--tick", "0.005")  # a tick given, not fetched
    assert run.code == 0 and "150.125 db" in run.out
    run = tt("orders")
    assert "410.00 db" in run.out and "-410" not in run.out


def test_money_is_formatted_alike(tt: Tastytrade) -> None:
    tt.login()
    run = tt("balances")
    assert "18,304.55" in run.out and "0.00" in run.out
    run = tt("positions")
    aapl = next(line for line in run.out.splitlines() if line.startswith("AAPL"))
    # qty, avg open, mark, value, P/L, delta, DTE
    assert aapl.split()[2:9] == ["100", "187.25", "189.91", "18,991.00", "266.00", "100.00", "-"]


# -- thin tables -----------------------------------------------------------------------------


def test_chain_quotes_and_the_new_tables(tt: Tastytrade) -> None:
    tt.login()
    run = tt("chain", "SPY", "--expiration", "2026-12-18")
    header = run.out.splitlines()[1].split()
    assert run.code == 0 and header == [
        "call",
        "bid",
        "ask",
        "delta",
        "IV",
        "OI",
        "strike",
        "OI",
        "IV",
        "delta",
        "ask",
        "put",
        "bid",
    ], run.text
    strikes = [line.split()[5] for line in run.out.splitlines()[2:]]
    assert len(strikes) == 10 and "600.00" in strikes  # near the money (SPY at 595)
    assert (
        len(tt("chain", "SPY", "--expiration", "2026-12-18", "--all-strikes").out.splitlines()) > 12
    )
    run = tt("quote", "SPY")
    assert run.out.splitlines()[0].split() == [
        "symbol",
        "bid",
        "ask",
        "last",
        "change",
        "%",
        "volume",
        "updated",
    ]
    assert run.out.splitlines()[1].endswith("UTC")
    for command in (
        ["transactions"],
        ["watchlists"],
        ["watchlists", "Demo Holdings"],
        ["metrics", "SPY"],
    ):
        run = tt(*command)
        assert run.code == 0 and len(run.out.splitlines()) >= 2, (command, run.text)
    run = tt("order", "--place", "--yes", "--symbol", "AAPL", "--action", "bto", "--quantity", "5")
    assert run.code == 0 and "Filled, filled 5 at 189.9" in run.out, run.text


def test_json_keeps_its_keys(tt: Tastytrade) -> None:
    tt.login()
    rows = json.loads(tt("--json", "positions").out)
    assert {"symbol", "quantity", "quantity-direction", "average-open-price"} <= rows[0].keys()
    orders = json.loads(tt("--json", "orders").out)
    assert set(orders) == {"orders", "complex-orders"}
    quotes = json.loads(tt("--json", "quote", "SPY").out)
    assert quotes[0]["symbol"] == "SPY" and isinstance(quotes[0]["bid"], str)


def test_colour_only_on_a_terminal_and_never_with_no_color(tt: Tastytrade) -> None:
    tt.login()
    assert "\x1b[" not in tt("positions").out  # a pipe
    assert "\x1b[" in tt.on_terminal("positions", typed=[]).out
    assert "\x1b[" not in tt.on_terminal("positions", typed=[], env={"NO_COLOR": "1"}).out
    assert "\x1b[" not in tt.on_terminal("--no-color", "positions", typed=[]).out


# -- a login per command ---------------------------------------------------------------------


def test_the_session_is_kept_and_reused(tt: Tastytrade) -> None:
    tt.login()
    minted = tt.api.count("POST", "/oauth/token")
    for command in ("accounts", "positions", "quote"):
        assert tt(command, *(["SPY"] if command == "quote" else [])).code == 0
    assert tt.api.count("POST", "/oauth/token") == minted
    assert oct(tt.path.stat().st_mode & 0o777) == "0o600"


# -- the fake from a shell -------------------------------------------------------------------


class FakeProcess:
    """``python -m tastytrade_proto.testing`` in its own process, as a user starts it."""

    def __init__(self, *argv: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tastytrade_proto.testing", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.printed: list[str] = []
        for line in self.process.stdout:  # it prints everything, then "Ctrl-C to stop"
            self.printed.append(line)
            if line.startswith("Ctrl-C to stop"):
                break
        else:
            raise AssertionError("the fake did not start: " + "".join(self.printed))
        text = "".join(self.printed)
        self.base_url = text.split("fake tastytrade API at ")[1].split()[0]
        self.ca = text.split("trust this CA: ")[1].split()[0]

    def admin(self, *argv: str) -> str:
        where = ["--base-url", self.base_url, "--ca-bundle", self.ca]
        result = subprocess.run(
            [sys.executable, "-m", "tastytrade_proto.testing", argv[0], *where, *argv[1:]],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.communicate(timeout=60)


def test_a_bot_tried_end_to_end_from_the_shell(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    serve = ["--tls", "--port", port, "--state-dir", str(tmp_path / "state")]
    fake = FakeProcess(*serve)
    try:
        tt = Tastytrade.__new__(Tastytrade)  # no in-process server: the fake is its own process
        tt.path = tmp_path / "credentials.json"
        tt.env = environment(tt.path)
        printed = "".join(fake.printed)
        for credential in (
            DEMO_CLIENT_SECRET,
            DEMO_REFRESH_TOKEN,
            DEMO_PASSWORD,
            DEMO_OTP,
            "5WT00001",
        ):
            assert credential in printed
        assert tt("login", "--base-url", fake.base_url, "--ca-bundle", fake.ca).code == 0
        run = tt(
            "order",
            "--place",
            "--yes",
            "--symbol",
            "AAPL",
            "--action",
            "bto",
            "--quantity",
            "10",
            "--limit",
            "150",
            "--time-in-force",
            "gtc",
        )
        assert run.code == 0 and ": Live" in run.out, run.text
        order_id = run.out.split("placed #")[1].split()[0]
        fake.admin("fill", order_id)
        run = tt("orders")
        row = next(line for line in run.out.splitlines() if line.startswith(order_id))
        assert "Filled" in row and "10 at 150.00" in row
        fake.admin("mark", "SPY", "601.25")
        assert "601.25" in tt("quote", "SPY").out
        fake.stop()
        fake = FakeProcess(*serve)  # the same port and state: the saved login still works
        assert fake.ca == tt.saved()["ca_bundle"]
        run = tt("accounts")
        assert run.code == 0 and "5WT00001" in run.out, run.text
    finally:
        fake.stop()


# -- what a demanding user tried next ------------------------------------------------------


def test_a_replace_never_turns_a_debit_around_and_shows_what_is_left(tt: Tastytrade) -> None:
    tt.login()
    order_id = tt.live_order("150")
    run = tt("replace", order_id, "--limit", "151", "--credit", "--yes")
    assert run.code == 2 and "is a debit (150.00 db): --credit would turn it around" in run.err
    tt.api.fill_order(int(order_id), quantity=4)
    run = tt("replace", order_id, "--limit", "151", "--yes")
    assert run.code == 0 and "Buy to Open 6 AAPL at 150.00 db -> limit 151.00 db" in run.out


def test_the_complex_view_shows_the_trigger(tt: Tastytrade) -> None:

    tt.login()
    placed = tt.bracket()
    assert placed.complex_order is not None
    section = tt("orders").out.split(f"complex order c{placed.complex_order.id}")[1]
    assert "Buy to Open 5 AAPL" in section and "Sell to Close 5 AAPL" in section
    assert "stop" in section  # the stop order has no limit price: its kind is shown


def test_clearer_words_for_what_is_not_there(tt: Tastytrade) -> None:
    tt.login()
    run = tt("metrics", "SPY", "BTC/USD")
    assert run.code == 6 and "no metrics for BTC/USD" in run.err and "SPY" in run.out
    run = tt("chain", "BTC/USD")
    assert run.code == 6 and "BTC/USD has no listed options" in run.err
    assert "not a cryptocurrency" in run.err
    run = tt("chain", "SPY", "--expiration", "2026-12-19")
    assert run.code == 6 and "2026-12-18" in run.err
    for argv in (
        ["transactions", "--days", "0"],
        ["chain", "SPY", "--strikes", "0"],
        ["chain", "SPY", "--strikes", "3"],  # without --expiration
        ["cancel", "0"],
        ["quote", "/"],
    ):
        assert tt(*argv).code == 2, argv


def test_login_and_logout_in_every_state(tt: Tastytrade) -> None:
    tt.login()
    run = tt("--json", "login", "--base-url", tt.server.base_url)
    assert json.loads(run.out)["logged-in"] is True
    assert "replaced the saved login to custom (http://127.0.0.1:" in run.err
    tt.path.write_text("{garbage")
    run = tt("accounts")
    assert run.code == 3 and "`tastytrade logout` removes it" in run.err
    run = tt("--json", "logout")
    assert run.code == 0 and json.loads(run.out)["logged-in"] is False
    assert not tt.path.exists()


def test_numbers_and_symbols_are_never_cut_on_a_narrow_terminal(tt: Tastytrade) -> None:
    tt.login()
    run = tt.on_terminal("positions", typed=[], env={"COLUMNS": "60"})
    assert "SPY   261218C00600000" in run.out and "301,025.00" in run.out, run.out
    assert "\u2026" not in run.out


def test_a_stop_order_is_never_replaced_by_a_plain_limit(tt: Tastytrade) -> None:
    from tastytrade_proto.orders import NewLeg, NewOrder
    from tastytrade_requests import Session

    tt.login()
    with Session(base_url=tt.server.base_url) as session:
        session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        leg = NewLeg("Equity", "AAPL", "Sell to Close", Decimal(10))
        stop = session.place_order(
            "5WT00001", NewOrder.stop_limit(leg, "170", "172", time_in_force="GTC")
        ).order
    run = tt("orders", "--live")
    assert "170.00 cr, stop 172.00" in run.out
    run = tt("replace", str(stop.id), "--limit", "171", "--yes")
    assert run.code == 2 and "is a Stop Limit order" in run.err
    assert "cancel it and place a new one" in run.err


def test_a_cancel_whose_answer_is_lost_is_uncertain_not_unreachable(tt: Tastytrade) -> None:
    from tastytrade_proto.testing import Fault, FaultKind

    tt.login()
    order_id = tt.live_order("140")
    tt.api.inject(Fault(FaultKind.DISCONNECT, method="DELETE", after_handling=True))
    run = tt("cancel", order_id, "--yes")
    assert run.code == 8, run.text
    assert "the cancel was sent but its answer was lost" in run.err
    assert "run `tastytrade orders`" in run.err
    assert f"{order_id} " not in tt("orders", "--live").out  # it did go through


def test_json_confirmation_still_shows_the_order(tt: Tastytrade) -> None:
    tt.login()
    argv = ["--json", "order", "--place", "--symbol", "AAPL", "--action", "bto"]
    run = tt.on_terminal(*argv, "--quantity", "1", "--limit", "100", typed=["n\n"])
    assert run.code == 7 and "order: Buy to Open 1 AAPL at limit 100.00 db" in run.out


def test_a_spread_fill_is_shown_per_spread(tt: Tastytrade) -> None:
    from tastytrade_proto.orders import NewLeg, NewOrder
    from tastytrade_requests import Session

    tt.login()
    call = "SPY   261218C00600000"
    higher = "SPY   261218C00605000"
    with Session(base_url=tt.server.base_url) as session:
        session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        legs = [
            NewLeg("Equity Option", call, "Buy to Open", Decimal(1)),
            NewLeg("Equity Option", higher, "Sell to Open", Decimal(1)),
        ]
        spread = session.place_order("5WT00001", NewOrder.limit(legs, "-0.50")).order
    tt.api.fill_order(spread.id)
    row = next(line for line in tt("orders").out.splitlines() if line.startswith(str(spread.id)))
    bought = tt.api.mark(call)
    sold = tt.api.mark(higher)
    assert bought is not None and sold is not None
    assert f"1 at {bought - sold:.2f} db" in row, row


# -- market data over DXLink -----------------------------------------------------------------


@pytest.fixture
def spy(tt: Tastytrade) -> Iterator[Decimal]:
    """SPY's mark, put back after a test that moves it (the server is the module's)."""
    before = tt.api.mark("SPY")
    assert before is not None
    yield before
    tt.api.set_mark("SPY", before)


def test_watch_json_is_one_event_per_line_with_exact_decimals(tt: Tastytrade, spy: Decimal) -> None:
    tt.login()
    running = tt.start("--json", "watch", "SPY", "--count", "5")
    first = [json.loads(running.line()) for _ in range(3)]  # quote, trade, summary: then quiet
    assert {e["type"] for e in first} == {"Quote", "Trade", "Summary"}
    tt.api.set_mark("SPY", "601.25")  # the price moves: a new quote and a new trade
    run = running.finish()
    assert run.code == 0, run.text
    events = first + [json.loads(line) for line in run.out.splitlines()]
    assert len(events) == 5
    for event in events:
        assert set(event) == {"type", "symbol", "streamer-symbol", "time", "received", "fields"}
        assert event["symbol"] == "SPY" and event["streamer-symbol"] == "SPY"
        assert datetime.fromisoformat(event["time"]).utcoffset() == timedelta(0)
    quotes = [e["fields"] for e in events if e["type"] == "Quote"]
    assert isinstance(quotes[0]["bid-price"], str) and Decimal(quotes[0]["bid-price"]) < spy
    assert Decimal(quotes[-1]["bid-price"]) == Decimal("601.24")  # the new mark's, as sent
    summary = next(e["fields"] for e in events if e["type"] == "Summary")
    assert Decimal(summary["prev-day-close-price"]) > 0
    assert summary["day-close-price"] is None  # NaN on the wire: no value, not a number


def test_watch_an_option_in_any_form_shows_its_delta_and_iv(tt: Tastytrade) -> None:
    tt.login()
    run = tt("watch", "spy 261218 c 600", "--count", "4")  # quote, trade, summary, greeks
    assert run.code == 0, run.text
    lines = run.out.splitlines()
    assert len(lines) == 4 and all("SPY   261218C00600000" in line for line in lines)
    assert re.search(r"delta 0\.\d\d  IV \d+\.\d%$", lines[-1]), lines[-1]
    assert re.search(r"bid \d+\.\d\d x \d+  ask \d+\.\d\d x \d+", lines[-1])
    greeks = [
        json.loads(line)
        for line in tt("--json", "watch", ".SPY261218C600", "--count", "4").out.splitlines()
        if '"Greeks"' in line
    ]
    assert len(greeks) == 1 and greeks[0]["symbol"] == "SPY   261218C00600000"
    assert 0 < Decimal(greeks[0]["fields"]["delta"]) < 1
    assert Decimal(greeks[0]["fields"]["volatility"]) > 0


def test_watch_an_unknown_symbol_is_named_and_exits_6(tt: Tastytrade) -> None:
    tt.login()
    run = tt("watch", "XYZQ")
    assert (run.code, run.out, run.err) == (6, "", "tastytrade: unknown symbol XYZQ\n")
    run = tt("watch", "SPY", "XYZQ", "/ZZZ9")
    assert run.code == 6 and run.err == "tastytrade: unknown symbols XYZQ, /ZZZ9\n"
    assert tt("watch", "/").code == 2  # not a symbol at all


def test_candles_are_the_snapshot_in_time_order(tt: Tastytrade) -> None:
    tt.login()
    run = tt("--json", "candles", "SPY", "--period", "5m", "--since", "2h")
    assert run.code == 0, run.text
    bars = [json.loads(line) for line in run.out.splitlines()]
    assert len(bars) in (25, 26)  # 2 h of 5 minute bars and the one in progress (a 5 minute
    # boundary may pass between the command's "2 h ago" and the fake's "now")
    times = [datetime.fromisoformat(b["time"]) for b in bars]
    steps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert set(steps) == {timedelta(minutes=5)}
    assert times[-1] <= datetime.now(times[-1].tzinfo)
    for bar in bars:
        assert bar["symbol"] == "SPY" and bar["candle-symbol"] == "SPY{=5m}"
        low, high = Decimal(bar["low"]), Decimal(bar["high"])
        assert low <= Decimal(bar["open"]) <= high and low <= Decimal(bar["close"]) <= high
    assert Decimal(bars[-1]["close"]) == tt.api.mark("SPY")  # the bar in progress: the last price
    table = tt("candles", "SPY", "--period", "1h", "--since", "6h").out.splitlines()
    assert table[0].startswith("SPY 1h bars since ") and table[1].split() == [
        "time",
        "open",
        "high",
        "low",
        "close",
        "volume",
    ]
    assert len(table) in (9, 10) and all(line.endswith(tuple("0123456789")) for line in table[2:])


def test_candles_follow_the_bar_in_progress(tt: Tastytrade, spy: Decimal) -> None:
    tt.login()
    running = tt.start("--json", "candles", "SPY", "--since", "20m", "--follow", "--count", "1")
    assert tt.server.wait_for(
        lambda: any(
            m.direction == "out" and '"Candle"' in m.text for m in tt.api.stream_messages[-50:]
        ),
        timeout=30,
    )
    first = json.loads(running.line())
    tt.api.set_mark("SPY", "598.75")
    run = running.finish()
    assert run.code == 0, run.text
    bars = [first] + [json.loads(line) for line in run.out.splitlines()]
    assert Decimal(bars[-1]["close"]) == Decimal("598.75")  # the update, after the snapshot
    assert bars[-1]["time"] >= bars[-2]["time"]


def test_candles_refuse_what_they_cannot_read(tt: Tastytrade) -> None:
    tt.login()
    for argv, words in (
        (["--period", "7x"], "--period '7x' is not a bar length"),
        (["--since", "yesterday"], "is not an age (2h, 3d, 1w) or an ISO time"),
        (["--since", "2999-01-01"], "is in the future"),
        (["--count", "2"], "--count and --duration go with --follow"),
    ):
        run = tt("candles", "SPY", *argv)
        assert run.code == 2 and words in run.err, (argv, run.err)


def test_watch_on_a_terminal_is_a_live_table_that_survives_a_drop_and_ctrl_c(
    tt: Tastytrade,
) -> None:
    tt.login()
    term = Terminal(tt, "watch", "SPY", "spy261218c600")
    term.until(
        lambda text: re.search(r"SPY +\d{3}\.\d\d +\d{3}\.\d\d .* 0\.\d\d +\d+\.\d%", text, re.S)
    )
    assert "\x1b[?25l" in term.text  # the cursor is hidden while the table is drawn
    tt.api.inject_stream_fault(StreamFault(StreamFaultKind.DROP))
    term.until(lambda text: "subscriptions replayed)" in text)
    term.type(b"\x03")  # Ctrl-C, through the terminal
    run = term.finish()
    assert run.code == 130, run.out
    assert "link lost (connection-lost" in run.out and "reconnected (7 subscriptions" in run.out
    assert "stopped (Ctrl-C)" in run.out and "tastytrade: interrupted" in run.out
    assert run.out.rindex("\x1b[?25h") > run.out.rindex("\x1b[?25l")  # the cursor is back
    for header in ("symbol", "bid", "ask", "bid size", "ask size", "last", "delta", "IV"):
        assert header in run.out


def test_a_stream_that_fails_for_good_is_one_line_with_its_status(tt: Tastytrade) -> None:
    tt.login()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    real, tt.api.dxlink_url = tt.api.dxlink_url, f"ws://127.0.0.1:{port}/dxlink"
    try:
        run = tt("--debug", "watch", "SPY", traceback=True)  # the quote token is never shown
    finally:
        tt.api.dxlink_url = real
    assert run.code == 4, run.text
    assert run.err.startswith(
        "tastytrade: cannot reach the market data stream: the connection was refused"
    )  # its tries are no news: only how it ended, then (--debug) the detail
    assert "Traceback" in run.err
    tt.api.add_user("newcomer", "newcomer-password")  # a login that never opened an account
    refresh = tt.api.add_oauth_grant("newcomer", refresh_token="newcomer-refresh-token")
    assert tt("login", "--base-url", tt.server.base_url, env={"TASTYTRADE_REFRESH_TOKEN": refresh})
    run = tt("watch", "SPY", env={"TASTYTRADE_REFRESH_TOKEN": refresh})
    assert run.code == 5, run.text
    assert run.err == (
        "tastytrade: market data streaming refused: You must be a customer to access a quote "
        "stream.\n  streaming quotes needs a login with an open account\n"
    )


def test_other_commands_run_while_one_watches(tt: Tastytrade) -> None:
    tt.login()
    running = tt.start("--json", "watch", "SPY", "--duration", "60")
    running.line()  # streaming: the login is not held
    run = tt("positions")
    assert run.code == 0 and "waiting for another" not in run.err, run.text
    running.process.send_signal(signal.SIGINT)
    run = running.finish()
    assert run.code == 130 and run.err.endswith("tastytrade: interrupted\n"), run.text
    assert tt("accounts").code == 0  # the session it kept still works
