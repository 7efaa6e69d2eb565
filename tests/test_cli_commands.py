"""``tastytrade login``, ``logout`` and the account commands, run against the fake."""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tastytrade_cli import main, store
from tastytrade_proto import LocalProtocolError
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
    assert cli.saved() == {
        "scheme": "oauth",
        "environment": "custom",
        "base_url": cli.server.base_url,
        "client_secret": DEMO_CLIENT_SECRET,
        "refresh_token": DEMO_REFRESH_TOKEN,
    }
    code, out, _ = cli("accounts")  # the saved login names the environment
    assert code == 0 and "5WT00001  Margin" in out


def test_oauth_login_from_the_environment_and_a_wrong_secret(cli: CLI) -> None:
    env = {"TASTYTRADE_CLIENT_SECRET": "wrong", "TASTYTRADE_REFRESH_TOKEN": DEMO_REFRESH_TOKEN}
    code, _, err = cli("login", "--base-url", cli.server.base_url, env=env)
    assert code == 1 and "tastytrade: " in err and "wrong" not in err
    assert not cli.path.exists()  # nothing kept that does not work
    env["TASTYTRADE_CLIENT_SECRET"] = DEMO_CLIENT_SECRET
    assert cli("login", "--base-url", cli.server.base_url, env=env)[0] == 0
    assert cli.asked == []


def test_a_rotated_refresh_token_replaces_the_saved_one(cli: CLI) -> None:
    cli.login_oauth()
    cli.server.api.rotate_refresh_tokens = True
    assert cli("balances")[0] == 0
    rotated = cli.saved()["refresh_token"]
    assert rotated != DEMO_REFRESH_TOKEN
    assert cli("balances")[0] == 0  # and it is the one that works now
    assert cli.saved()["refresh_token"] != rotated


def test_legacy_login_keeps_only_the_remember_token_and_each_run_rotates_it(cli: CLI) -> None:
    cli.answers = [DEMO_PASSWORD, DEMO_OTP]
    assert cli("login", "--user", "demo", "--base-url", cli.server.base_url)[0] == 0
    assert cli.asked[0] == "password for demo: " and "two-factor code" in cli.asked[1]
    saved = cli.saved()
    assert set(saved) == {"scheme", "environment", "base_url", "login", "remember_token"}
    assert DEMO_PASSWORD not in cli.path.read_text()
    first = saved["remember_token"]
    cli.server.api.inject(Fault(FaultKind.SERVER_ERROR, status=500, path="/accounts/", times=9))
    code, _, err = cli("balances", "5WT00001")
    assert code == 1 and ("500" in err or "Internal" in err)
    # The command failed, but the token the login rotated was kept first.
    assert cli.saved()["remember_token"] != first
    assert cli.saved()["remember_token"] in cli.server.api.remember_tokens("demo")


def test_logout_forgets_the_secret(cli: CLI) -> None:
    cli.login_oauth()
    assert cli("logout") == (0, "logged out; the saved secret is gone\n", "")
    assert not cli.path.exists()
    code, _, err = cli("accounts")
    assert code == 1 and "not logged in" in err


def test_the_account_commands(cli: CLI) -> None:
    cli.login_oauth()
    code, out, _ = cli("balances")
    assert code == 0 and "account 5WT00001" in out and "18304.55" in out
    code, out, _ = cli("positions", "5WT00001")
    assert code == 0
    assert "SPY   261218C00600000  Equity Option        -2" in out
    code, out, _ = cli("--json", "positions")
    rows = json.loads(out)
    assert {r["symbol"] for r in rows} >= {"AAPL", "/ESZ6"} and rows[0]["quantity"] == "100"
    code, out, _ = cli("balances", "5WT09999")
    assert code == 1


def test_a_file_others_can_read_is_refused(cli: CLI) -> None:
    cli.login_oauth()
    os.chmod(cli.path, 0o644)
    code, _, err = cli("accounts")
    assert code == 1 and "readable by others" in err


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
    from tastytrade_cli.commands import Context, _where

    def where(*argv: str, saved: store.Credentials | None = None) -> dict[str, Any]:
        from tastytrade_cli import _parser

        args = _parser().parse_args([*argv, "accounts"])
        return _where(Context(args, Path("x"), io.StringIO(), io.StringIO(), {}, str), saved)

    assert where() == {}
    assert where("--cert") == {"certification": True}
    assert where("--base-url", "https://h:1", "--ca-bundle", "ca.pem") == {
        "base_url": "https://h:1",
        "ca_bundle": "ca.pem",
    }
    assert where("--base-url", "http://127.0.0.1:9") == {"base_url": "http://127.0.0.1:9"}
    with pytest.raises(LocalProtocolError, match="only for this machine"):
        where("--base-url", "http://h:1")  # a secret never travels in the clear
    saved = store.Credentials("oauth", environment="certification")
    assert where(saved=saved) == {"certification": True}
    assert where("--cert", saved=saved) == {"certification": True}
    with pytest.raises(LocalProtocolError, match="another environment"):
        where("--base-url", "https://h:1", saved=saved)  # the saved secret stays home
    with pytest.raises(LocalProtocolError, match="another environment"):
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
    assert code == 0 and "Live" in out and "Buy to Open 10 MSFT" in out
    code, out, _ = cli("chain", "SPY")
    assert code == 0 and out.startswith("SPY options, root SPY\nexpiration")
    expiration = out.splitlines()[2].split()[0]
    code, out, _ = cli("chain", "SPY", "--expiration", expiration)
    assert code == 0 and out.splitlines()[1].split() == ["strike", "call", "put"]
    code, _, err = cli("chain", "SPY", "--expiration", "1999-01-01")
    assert code == 1 and "no expiration on 1999-01-01" in err
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
    assert code == 0 and out.startswith("dry run in 5WT00001") and "total fees" in out
    assert cli.server.api.count("POST", "/accounts/5WT00001/orders") == placed_before
    sent = [r for r in cli.server.api.requests if r.path.endswith("/orders/dry-run")][-1].json()
    assert sent["price"] == "150" and sent["price-effect"] == "Debit"
    assert sent["legs"] == [
        {"instrument-type": "Equity", "symbol": "AAPL", "action": "Buy to Open", "quantity": 10}
    ]
    with pytest.raises(SystemExit):
        cli("order", *argv)  # neither --dry-run nor --place
    code, out, _ = cli("order", "--place", *argv[:-2])  # a market order
    assert code == 0 and out.startswith("placed #")
    assert cli.server.api.count("POST", "/accounts/5WT00001/orders") == placed_before + 1
    code, _, err = cli(
        "order", "--dry-run", "--symbol", "AAPL", "--action", "Buy", "--quantity", "1"
    )
    assert code == 1 and "only for futures" in err
    code, _, err = cli("order", "--dry-run", *argv[:-1], "abc")
    assert code == 1 and "must be numbers" in err


def test_the_fake_api_serves_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from tastytrade_proto.testing.__main__ import main as serve

    seen: list[str] = []

    def interrupt() -> None:
        seen.append(capsys.readouterr().out)  # the server is up while it waits
        raise KeyboardInterrupt

    assert serve(["--tls"], wait=interrupt) == 0
    assert "fake tastytrade API at https://127.0.0.1:" in seen[0]
    assert "trust this CA: " in seen[0] and DEMO_REFRESH_TOKEN in seen[0]


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
    assert code == 1 and "is not a credentials file" in err
    blocked = cli.path.parent / "a-file"
    blocked.write_text("")  # a credentials path whose directory is a file: no one can write it
    cli.answers = [DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN]
    where = str(blocked / "credentials.json")
    code, _, err = cli("login", "--base-url", cli.server.base_url, "--credentials", where)
    assert code == 1 and "log in again" in err
