"""The ``tastytrade`` command."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tastytrade_cli import main
from tastytrade_cli.demo import run_demo


def test_demo_through_requests() -> None:
    out = io.StringIO()
    assert run_demo(["requests"], out=out) == 0
    text = out.getvalue()
    assert "POST /sessions, POST /device-challenge, POST /sessions" in text
    assert "token rotated: True" in text
    assert "14 steps ok, 0 failed" in text
    assert "GET /api-quote-tokens, GET /dxlink" in text  # the stream's token, then its socket
    # The account streamer: the socket, the accounts read once it is up, then the order.
    assert (
        "GET /account-streamer, GET /accounts/5WT00001/{orders/live, complex-orders/live, "
        "positions, balances}, POST /accounts/5WT00001/orders" in text
    )
    for secret in ("demo-password", "demo-client-secret", "demo-refresh-token", "fake-session"):
        assert secret not in text


def test_the_command_line_parses() -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    with pytest.raises(SystemExit):
        main(["nonsense"])


def test_the_console_script_runs_the_whole_demo() -> None:
    command = Path(sys.executable).parent / "tastytrade"  # installed beside this Python
    assert command.exists(), "the console script is installed with the package"
    checkout = str(Path(__file__).resolve().parent.parent)  # the code under test, as imported
    result = subprocess.run(
        [str(command), "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": checkout},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = result.stdout.splitlines()
    for transport in ("requests", "aiohttp", "trio"):
        assert f"\n{transport} " in result.stdout
        quotes = next(r for r in rows if r.startswith(transport) and "quotes + greeks" in r)
        assert re.search(r"SPY bid \d+\.\d\d ask \d+\.\d\d; .* delta 0\.\d\d, IV \d", quotes)
        drop = next(r for r in rows if r.startswith(transport) and "socket dropped" in r)
        assert "GET /dxlink" in drop and "GET /api-quote-tokens" not in drop  # the token reused
        assert "Disconnected (connection-lost) -> Connected, 3 subscriptions replayed" in drop
        assert "again" in drop  # quotes flow once more
        order = next(r for r in rows if r.startswith(transport) and "stream: order" in r)
        assert re.search(
            r"#\d+ Received -> Routed -> Live -> Filled 10 @ \d+\.\d\d; AAPL position \d+; "
            r"net liq [\d.]+ \(",
            order,
        ), order
        lost = next(r for r in rows if r.startswith(transport) and "fill in a drop" in r)
        assert re.search(
            r"Disconnected \(connection-lost\) -> Connected -> #\d+ Live -> Filled 10 @ "
            r"\d+\.\d\d \(resynced, once\) -> Resync \(reconnect: 1 order, 1 position, 1 balance\)",
            lost,
        ), lost
    assert "42 steps ok, 0 failed" in result.stdout


def test_a_failing_step_fails_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    from tastytrade_proto.testing import FakeTastytradeAPI, Fault, FaultKind

    real = FakeTastytradeAPI.__init__

    def with_a_fault(self: FakeTastytradeAPI, **kwargs: object) -> None:
        real(self, **kwargs)  # type: ignore[arg-type]
        self.inject(Fault(FaultKind.RATE_LIMITED, retry_after="600", path="/accounts", times=9))

    monkeypatch.setattr(FakeTastytradeAPI, "__init__", with_a_fault)
    out = io.StringIO()
    assert run_demo(["requests"], out=out) == 1
    assert "FAILED RateLimited" in out.getvalue()
    # The two calls it hits, and the account stream, which waits for the accounts' state
    # (rate limited too) and gives up on the step after ten seconds.
    assert "3 failed" in out.getvalue()
    assert "account stream: order" in out.getvalue()
