"""``tastytrade login``, ``logout`` and the account commands, run against the fake."""

from __future__ import annotations

import io
import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tastytrade_cli import main, store
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeTastytradeAPI,
    FakeTastytradeServer,
    Fault,
    FaultKind,
)

# Every token the fake issues starts "fake-" (session, access, remember, rotated refresh).
SECRETS = (DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN, DEMO_PASSWORD, DEMO_OTP, "fake-")


class CLI:
    """Runs ``tastytrade`` in-process against one fake server, with its own credentials file."""

    def __init__(self, server: FakeTastytradeServer, home: Path) -> None:
        self.server, self.path = server, home / "config" / "credentials.json"
        self.env = {"TASTYTRADE_CREDENTIALS": str(self.path)}
        self.answers: list[str] = []
        self.asked: list[str] = []

    def ask(self, prompt: str) -> str:
        self.asked.append(prompt)
        return self.answers.pop(0)

    def __call__(self, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(
            list(argv), out=out, err=err, environ={**self.env, **(env or {})}, ask_secret=self.ask
        )
        for secret in SECRETS:
            assert secret not in out.getvalue() + err.getvalue()
        return code, out.getvalue(), err.getvalue()

    def login_oauth(self) -> None:
        self.answers = [DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN]
        assert self("login", "--base-url", self.server.base_url)[0] == 0

    def forget_session(self) -> None:
        saved = self.saved()
        del saved["session"]
        self.path.write_text(json.dumps(saved))

    def saved(self) -> dict[str, Any]:
        saved: dict[str, Any] = json.loads(self.path.read_text())
        return saved


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[CLI]:
    with FakeTastytradeServer(FakeTastytradeAPI()) as server:
        yield CLI(server, tmp_path)


def test_oauth_login_keeps_the_pair_in_a_file_only_the_user_reads(cli: CLI) -> None:
    cli.login_oauth()
    assert cli.asked == ["client secret: ", "refresh token: "]
    assert stat.S_IMODE(cli.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.path.parent.stat().st_mode) == 0o700
    saved = cli.saved()
    assert json.loads(saved.pop("session"))["scheme"] == "oauth"  # reused by later runs
    assert saved == {
        "scheme": "oauth",
        "environment": "custom",
        "base_url": cli.server.base_url,
        "client_secret": DEMO_CLIENT_SECRET,
        "refresh_token": DEMO_REFRESH_TOKEN,
    }
    code, out, _ = cli("accounts")  # the saved login names the environment
    assert code == 0 and out.splitlines()[1].split()[:2] == ["5WT00001", "Margin"]


def test_oauth_login_from_the_environment_and_a_wrong_secret(cli: CLI) -> None:
    env = {"TASTYTRADE_CLIENT_SECRET": "wrong", "TASTYTRADE_REFRESH_TOKEN": DEMO_REFRESH_TOKEN}
    code, _, err = cli("login", "--base-url", cli.server.base_url, env=env)
    assert code == 3 and "check the client secret and refresh token" in err
    assert "wrong" not in err
    assert not cli.path.exists()  # nothing kept that does not work
    env["TASTYTRADE_CLIENT_SECRET"] = DEMO_CLIENT_SECRET
    assert cli("login", "--base-url", cli.server.base_url, env=env)[0] == 0
    assert cli.asked == []


def test_a_rotated_refresh_token_replaces_the_saved_one(cli: CLI) -> None:
    cli.login_oauth()
    cli.server.api.rotate_refresh_tokens = True
    cli.forget_session()  # as if the access token had expired
    assert cli("balances")[0] == 0
    rotated = cli.saved()["refresh_token"]
    assert rotated != DEMO_REFRESH_TOKEN
    cli.forget_session()
    assert cli("balances")[0] == 0  # and it is the one that works now
    assert cli.saved()["refresh_token"] != rotated


def test_later_runs_reuse_the_session_instead_of_logging_in(cli: CLI) -> None:
    cli.login_oauth()
    minted = cli.server.api.count("POST", "/oauth/token")
    for command in ("accounts", "balances", "positions", "orders"):
        assert cli(command)[0] == 0
    assert cli.server.api.count("POST", "/oauth/token") == minted
    # An access token the server no longer takes (a restart, a revocation) is renewed once.
    saved = cli.saved()
    session = json.loads(saved["session"])
    session["token"] = "fake-revoked"
    saved["session"] = json.dumps(session)
    cli.path.write_text(json.dumps(saved))
    assert cli("balances")[0] == 0
    assert cli.server.api.count("POST", "/oauth/token") == minted + 1
    assert cli("balances")[0] == 0
    assert cli.server.api.count("POST", "/oauth/token") == minted + 1


def test_legacy_login_keeps_only_the_remember_token_and_each_run_rotates_it(cli: CLI) -> None:
    cli.answers = [DEMO_PASSWORD, DEMO_OTP]
    assert cli("login", "--user", "demo", "--base-url", cli.server.base_url)[0] == 0
    assert cli.asked[0] == "password for demo: " and "two-factor code" in cli.asked[1]
    saved = cli.saved()
    assert set(saved) == {"scheme", "environment", "base_url", "login", "remember_token", "session"}
    assert DEMO_PASSWORD not in cli.path.read_text()
    first = saved["remember_token"]
    # The kept session is reused: no login, so the remember token stays as it is.
    assert cli("balances", "5WT00001")[0] == 0 and cli.saved()["remember_token"] == first
    # Once the session is gone (expired, say), the next run logs in with the remember token.
    del saved["session"]
    cli.path.write_text(json.dumps(saved))
    cli.server.api.inject(Fault(FaultKind.SERVER_ERROR, status=500, path="/accounts/", times=9))
    code, _, err = cli("balances", "5WT00001")
    assert code == 1 and "the server failed (HTTP 500)" in err
    # The command failed, but the token the login rotated was kept first.
    assert cli.saved()["remember_token"] != first
    assert cli.saved()["remember_token"] in cli.server.api.remember_tokens("demo")


def test_logout_forgets_the_secret(cli: CLI) -> None:
    cli.login_oauth()
    assert cli("logout") == (0, "logged out; the saved secret is gone\n", "")
    assert not cli.path.exists()
    code, _, err = cli("accounts")
    assert code == 3 and "not logged in" in err
    assert cli("logout") == (0, "not logged in; nothing to forget\n", "")


def test_the_account_commands(cli: CLI) -> None:
    cli.login_oauth()
    code, out, _ = cli("balances")
    assert code == 0 and "account 5WT00001" in out and "18,304.55" in out
    code, out, _ = cli("positions", "5WT00001")
    assert code == 0
    option = next(line for line in out.splitlines() if line.startswith("SPY   261218C"))
    # qty, avg open, mark, value, P/L, delta, days to expiry
    assert option.split()[3:6] == ["Option", "-2", "12.40"]
    assert "unrealized P/L" in out
    code, out, _ = cli("--json", "positions")
    rows = json.loads(out)
    assert {r["symbol"] for r in rows} >= {"AAPL", "/ESZ6"} and rows[0]["quantity"] == "100"
    code, out, err = cli("balances", "5WT09999")
    assert code in (5, 6) and "Traceback" not in err


def test_a_file_others_can_read_is_refused(cli: CLI) -> None:
    cli.login_oauth()
    os.chmod(cli.path, 0o644)
    code, _, err = cli("accounts")
    assert code == 3 and "readable by others" in err


def test_a_crash_while_saving_keeps_the_old_file(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.login_oauth()
    before = cli.path.read_bytes()

    def crash(*args: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.save(cli.path, store.Credentials(scheme="oauth", refresh_token="new"))
    assert cli.path.read_bytes() == before
    left = sorted(p.name for p in cli.path.parent.iterdir())
    assert left == [cli.path.name, cli.path.name + ".lock"]  # no temporary file left


def test_where_it_talks() -> None:
    from tastytrade_cli.app import parser
    from tastytrade_cli.errors import CommandError
    from tastytrade_cli.login import Context, where_for
    from tastytrade_cli.output import Output

    def where(*argv: str, saved: store.Credentials | None = None) -> dict[str, Any]:
        args = parser().parse_args([*argv, "accounts"])
        output = Output(io.StringIO(), io.StringIO(), environ={})
        return where_for(Context(args, Path("x"), output, {}, str, None), saved)

    assert where() == {}
    assert where("--cert") == {"certification": True}
    assert where("--base-url", "https://h:1", "--ca-bundle", "ca.pem", "--timeout", "5") == {
        "base_url": "https://h:1",
        "ca_bundle": "ca.pem",
        "timeout": 5.0,
    }
    assert where("--base-url", "http://127.0.0.1:9") == {"base_url": "http://127.0.0.1:9"}
    with pytest.raises(CommandError, match="only for this machine"):
        where("--base-url", "http://h:1")  # a secret never travels in the clear
    saved = store.Credentials("oauth", environment="certification", ca_bundle="kept.pem")
    assert where(saved=saved) == {"certification": True, "ca_bundle": "kept.pem"}
    assert where("--cert", saved=saved) == {"certification": True, "ca_bundle": "kept.pem"}
    with pytest.raises(CommandError, match=r"logged in to certification sandbox .* not custom"):
        where("--base-url", "https://h:1", saved=saved)  # the saved secret stays home
    with pytest.raises(CommandError, match=r"logged in to production .* not certification"):
        where("--cert", saved=store.Credentials("oauth"))


def test_the_credentials_path_defaults_to_the_config_directory() -> None:
    assert store.default_path({"XDG_CONFIG_HOME": "/x"}) == Path(
        "/x/tastytrade-proto/credentials.json"
    )
    assert store.default_path({"TASTYTRADE_CREDENTIALS": "/y/c.json"}) == Path("/y/c.json")
    assert repr(store.Credentials("oauth", client_secret="cs")).count("cs") == 0


def test_orders_chain_and_quote(cli: CLI) -> None:
    cli.login_oauth()
    code, out, _ = cli("orders", "5WT00001")
    assert code == 0 and "Live" in out and "Buy to Open 10 MSFT" in out and "410.00 db" in out
    code, out, _ = cli("chain", "SPY")
    assert code == 0 and out.startswith("SPY options, root SPY\nexpiration")
    expiration = out.splitlines()[2].split()[0]
    code, out, _ = cli("chain", "SPY", "--expiration", expiration)
    header = out.splitlines()[1].split()
    assert code == 0 and header[:3] == ["call", "bid", "ask"] and "strike" in header
    rows = out.splitlines()[2:]
    assert len(rows) == 10  # the strikes nearest the money by default
    code, _, err = cli("chain", "SPY", "--expiration", "1999-01-01")
    assert code == 6 and "no expiration on 1999-01-01" in err
    code, out, _ = cli("quote", "AAPL", "/ESZ6", "BTC/USD", "SPY   261218C00600000")
    assert code == 0
    assert {line.split()[0] for line in out.splitlines()[1:]} == {"AAPL", "/ESZ6", "BTC/USD", "SPY"}
    code, out, _ = cli("--json", "quote", "AAPL")
    assert json.loads(out)[0]["symbol"] == "AAPL"


def test_an_order_dry_run_places_nothing_and_placing_needs_asking(cli: CLI) -> None:
    cli.login_oauth()
    placed_before = cli.server.api.count("POST", "/accounts/5WT00001/orders")
    argv = ["--symbol", "AAPL", "--action", "Buy to Open", "--quantity", "10", "--limit", "150"]
    code, out, _ = cli("order", "--dry-run", *argv)
    assert code == 0 and out.startswith("dry run: Buy to Open 10 AAPL at limit 150.00 db, Day")
    assert "fees" in out and "nothing was placed" in out
    assert cli.server.api.count("POST", "/accounts/5WT00001/orders") == placed_before
    sent = [r for r in cli.server.api.requests if r.path.endswith("/orders/dry-run")][-1].json()
    assert sent["price"] == "150" and sent["price-effect"] == "Debit"
    assert sent["legs"] == [
        {"instrument-type": "Equity", "symbol": "AAPL", "action": "Buy to Open", "quantity": 10}
    ]
    with pytest.raises(SystemExit):
        cli("order", *argv)  # neither --dry-run nor --place
    code, _, err = cli("order", "--place", *argv[:-2])  # no terminal to ask on
    assert code == 7 and "nothing was sent" in err
    assert cli.server.api.count("POST", "/accounts/5WT00001/orders") == placed_before
    code, out, _ = cli("order", "--place", "--yes", *argv[:-2])  # a market order
    assert code == 0 and "placed #" in out and "custom (http://127.0.0.1:" in out
    assert cli.server.api.count("POST", "/accounts/5WT00001/orders") == placed_before + 1
    code, _, err = cli(
        "order", "--dry-run", "--symbol", "AAPL", "--action", "Buy", "--quantity", "1"
    )
    assert code == 2 and "ambiguous" in err
    code, _, err = cli("order", "--dry-run", *argv[:-1], "abc")
    assert code == 2 and "is not a number" in err


def test_logout_forgets_the_secret_even_when_the_server_cannot_be_told(cli: CLI) -> None:
    cli.answers = [DEMO_PASSWORD, DEMO_OTP]
    assert cli("login", "--user", "demo", "--base-url", cli.server.base_url)[0] == 0
    cli.server.api.inject(Fault(FaultKind.SERVER_ERROR, status=500, path="/sessions", times=9))
    code, out, err = cli("logout")
    assert code == 0 and "did not end the session" in err and "saved secret is gone" in out
    assert not cli.path.exists()


def test_a_legacy_logout_leaves_no_remember_token_behind(cli: CLI) -> None:
    cli.answers = [DEMO_PASSWORD, DEMO_OTP]
    assert cli("login", "--user", "demo", "--base-url", cli.server.base_url)[0] == 0
    assert len(cli.server.api.remember_tokens("demo")) == 1
    assert cli("logout")[0] == 0
    assert cli.server.api.remember_tokens("demo") == []


def test_two_runs_at_once_take_turns_with_the_single_use_token(cli: CLI) -> None:
    import threading

    cli.answers = [DEMO_PASSWORD, DEMO_OTP]
    assert cli("login", "--user", "demo", "--base-url", cli.server.base_url)[0] == 0
    codes: list[int] = []

    def run() -> None:
        codes.append(cli("balances", "5WT00001")[0])

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [0, 0, 0]
    assert cli.saved()["remember_token"] in cli.server.api.remember_tokens("demo")


def test_a_damaged_or_unwritable_credentials_file_is_a_message(cli: CLI) -> None:
    cli.path.parent.mkdir(mode=0o700, parents=True)
    cli.path.write_text("[]")
    os.chmod(cli.path, 0o600)
    code, _, err = cli("accounts")
    assert code == 3 and "is not a credentials file" in err
    blocked = cli.path.parent / "a-file"
    blocked.write_text("")  # a credentials path whose directory is a file: no one can write it
    cli.answers = [DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN]
    where = str(blocked / "credentials.json")
    code, _, err = cli("login", "--base-url", cli.server.base_url, "--credentials", where)
    assert code == 1 and "log in again once fixed" in err


def test_the_credentials_file_on_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No POSIX modes there (any file reads 0o666): the mode check is skipped, and the lock
    is msvcrt's, taken on the lock file's first byte: at once when free, else after saying
    so and waiting."""
    import sys
    import types

    calls: list[tuple[int, int]] = []
    held = [False]

    def locking(fd: int, mode: int, size: int) -> None:
        calls.append((mode, size))
        if mode == 2 and held[0]:
            raise OSError("held by another run")

    msvcrt = types.ModuleType("msvcrt")
    msvcrt.LK_LOCK, msvcrt.LK_NBLCK = 1, 2  # type: ignore[attr-defined]
    msvcrt.locking = locking  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "msvcrt", msvcrt)
    monkeypatch.setattr(store, "_WINDOWS", True)
    path = tmp_path / "c" / "credentials.json"
    waited: list[bool] = []
    with store.locked(path, on_wait=lambda: waited.append(True)):
        store.save(path, store.Credentials("oauth", refresh_token="r"))
    assert calls == [(2, 1)] and waited == []
    held[0] = True
    with store.locked(path, on_wait=lambda: waited.append(True)):
        pass
    assert calls[1:] == [(2, 1), (1, 1)] and waited == [True]
    os.chmod(path, 0o666)  # what Windows reports for any file
    assert store.load(path).refresh_token == "r"
    monkeypatch.setattr(store, "_WINDOWS", False)
    with pytest.raises(store.CredentialsError, match="readable by others"):
        store.load(path)


def test_a_second_run_says_it_waits_for_the_first(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    cli.login_oauth()
    blocked = threading.Event()
    real_locked = store.locked

    def locked(path: Path, *, on_wait: Any = None) -> Any:
        def waiting() -> None:
            on_wait()
            blocked.set()

        return real_locked(path, on_wait=waiting)

    monkeypatch.setattr(store, "locked", locked)
    result: list[tuple[int, str, str]] = []
    with real_locked(cli.path):  # another run, holding the login (at a prompt, say)
        second = threading.Thread(target=lambda: result.append(cli("accounts")))
        second.start()
        assert blocked.wait(timeout=60)
    second.join()
    code, _, err = result[0]
    assert code == 0 and "waiting for another tastytrade command" in err


# -- watch and candles, in-process -------------------------------------------------------------


def _stoppable(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """(streaming, stop): set once a market event came; set it to end the stream."""
    from tastytrade_cli import streams

    streaming, stop = threading.Event(), threading.Event()
    real = streams._Events.next

    def next_event(self: Any, wait: float) -> Any:
        if stop.is_set():
            raise streams.Done
        event = real(self, min(wait, 0.05))
        if event is not None:
            streaming.set()
        return event

    monkeypatch.setattr(streams._Events, "next", next_event)
    return streaming, stop


def test_a_watch_lets_other_runs_log_in_and_never_puts_back_a_spent_token(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.answers = [DEMO_PASSWORD, DEMO_OTP]
    assert cli("login", "--user", "demo", "--base-url", cli.server.base_url)[0] == 0
    streaming, stop = _stoppable(monkeypatch)
    result: list[tuple[int, str, str]] = []
    watcher = threading.Thread(target=lambda: result.append(cli("watch", "SPY")))
    watcher.start()
    try:
        assert streaming.wait(30)
        cli.forget_session()  # so the next run logs in with the single-use remember token
        code, _, err = cli("balances")  # while the watch streams: the login is free
        assert code == 0 and "waiting" not in err
        rotated = cli.saved()["remember_token"]
    finally:
        stop.set()
        watcher.join(60)
    assert result[0][0] == 0, result
    assert cli.saved()["remember_token"] == rotated  # the watch did not write its older one
    cli.forget_session()
    assert cli("balances")[0] == 0  # and the one kept is the one that works


def test_a_silent_symbol_is_said_to_have_no_data_and_the_watch_goes_on(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tastytrade_cli import streams

    cli.login_oauth()
    monkeypatch.setattr(streams, "NO_DATA_AFTER", 0.2)
    _, stop = _stoppable(monkeypatch)
    said = streams._Printed.silent

    def silent(self: Any, row: Any) -> None:
        said(self, row)
        stop.set()  # the watch would go on: the test ends it once the symbol is named

    monkeypatch.setattr(streams._Printed, "silent", silent)
    # The fake's DXLink serves no future options: a symbol the API knows, and no data.
    code, out, err = cli("watch", "./ESZ6 ESZ6 261218C5750", "SPY")
    assert code == 0, err
    assert err == "tastytrade: no data yet for ./ESZ6 ESZ6 261218C5750: check the symbol\n"
    assert out and all(line.split()[3] == "SPY" for line in out.splitlines())


def test_a_symbol_with_no_bars_is_a_failure_that_names_it(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tastytrade_cli import streams

    cli.login_oauth()
    monkeypatch.setattr(streams, "FIRST_BAR_WAIT", 0.3)
    code, out, err = cli("candles", "./ESZ6 ESZ6 261218C5750", "--period", "1h")
    assert (code, out) == (1, "")
    assert err == (
        "tastytrade: no bars arrived for ./ESZ6 ESZ6 261218C5750 1h in 0.3 s (the stream is "
        "connected): check the symbol and the period\n"
    )


def test_the_quote_token_never_shows_even_with_debug(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tastytrade_cli import streams

    cli.login_oauth()
    tokens: dict[str, float] = cli.server.api.area("quote-tokens", dict)

    def careless(self: Any, event: Any, at: Any) -> None:  # a bug that shows the token
        raise RuntimeError(f"while holding {next(iter(tokens))}")

    monkeypatch.setattr(streams._Row, "apply", careless)
    code, _, err = cli("--debug", "watch", "SPY")
    assert code == 1 and "internal error (RuntimeError)" in err
    assert "while holding [REDACTED]" in err and tokens  # SECRETS: no "fake-" anywhere
