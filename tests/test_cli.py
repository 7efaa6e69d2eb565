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
    assert "12 steps ok, 0 failed" in text
    assert "GET /api-quote-tokens, GET /dxlink" in text  # the stream's token, then its socket
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
    assert "36 steps ok, 0 failed" in result.stdout


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
    assert "2 failed" in out.getvalue()
