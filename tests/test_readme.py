"""The README's example runs as written, and CI runs the README's own test command."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def by_hand() -> str:
    (code,) = [b for b in blocks("python") if "AuthMachine" in b]
    return code


def test_readme_python_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = by_hand()
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "AccessTokenIssued(expires_at=" in out
    assert "my-secret" not in out and "AT-1" not in out and "my-refresh-token" not in out


def test_readme_example_is_about_a_dozen_lines() -> None:
    code = by_hand()
    statements = [line for line in code.splitlines() if line.strip() and not line.startswith("#")]
    assert len(statements) <= 16


def test_ci_runs_the_readme_test_command() -> None:
    setup, test = (b.strip() for b in blocks("sh"))
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test in ci.splitlines()
    assert "pytest" in test and "pytest" not in setup


def test_walkthrough_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "walkthrough.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "AWAITING_SECOND_FACTOR" in result.stdout
    assert "remember token rotated on re-login: True" in result.stdout
    for secret in ("pass-word", "SESSION-TOKEN", "REMEMBER-TOKEN", "ACCESS-1", "client-secret"):
        assert secret not in result.stdout


def test_core_never_imports_an_adapter() -> None:
    banned = {"tastytrade_requests", "tastytrade_aiohttp", "tastytrade_trio", "tastytrade_cli"}
    for path in (ROOT / "tastytrade_proto").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            assert not {n.split(".")[0] for n in names} & banned, path


def test_every_public_name_is_exported() -> None:
    import tastytrade_proto

    for name in tastytrade_proto.__all__:
        assert hasattr(tastytrade_proto, name), name
    assert sorted(tastytrade_proto.__all__) == sorted(set(tastytrade_proto.__all__))


def test_sync_and_async_sessions_offer_the_same_calls() -> None:
    """The two bases are twins by necessity (def vs async def): keep them from drifting."""
    import inspect

    from tastytrade_proto.sessions import AsyncSession, SyncSession

    def calls(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member)
            for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")
        }

    def shapes(cls: type) -> dict[str, inspect.Signature]:
        # A stream's type differs by nature (MarketStream, AsyncMarketStream): compare
        # what the calls take, and for every other call what it returns too.
        return {
            name: signature.replace(return_annotation=None)
            if name in ("market_stream", "account_stream", "track_order", "streaming_runtime")
            else signature
            for name, signature in calls(cls).items()
        }

    assert shapes(SyncSession) == shapes(AsyncSession)
    own = {"run", "close", "streaming_runtime"}  # what a transport adds
    for module in ("tastytrade_requests", "tastytrade_aiohttp", "tastytrade_trio"):
        session = __import__(module).Session
        assert not set(vars(session)) & (set(calls(SyncSession)) - own), module


def test_readme_usage_example_runs_against_the_fake(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tastytrade_requests
    from tastytrade_proto.testing import (
        DEMO_CLIENT_SECRET,
        DEMO_REFRESH_TOKEN,
        FakeTastytradeAPI,
        FakeTastytradeServer,
    )

    (code,) = [b for b in blocks("python") if "place_order" in b]
    saved: list[object] = []
    with FakeTastytradeServer(FakeTastytradeAPI()) as server:
        real = tastytrade_requests.Session

        class Session(real):  # type: ignore[misc, valid-type]
            def __init__(self, **settings: object) -> None:
                assert settings.pop("certification") is True  # the README's example is safe
                super().__init__(base_url=server.base_url, **settings)

        monkeypatch.setattr(tastytrade_requests, "Session", Session)
        namespace = {
            "save_token": saved.append,
            "client_secret": DEMO_CLIENT_SECRET,
            "refresh_token": DEMO_REFRESH_TOKEN,
        }
        exec(compile(code, "README.md", "exec"), namespace)
        placed = namespace["placed"]
        assert server.api.count("POST", "/accounts/5WT00001/orders") == 1
    assert saved and placed.order.legs[0].symbol == "AAPL"  # type: ignore[attr-defined]
    assert "BuyingPowerEffect(" in capsys.readouterr().out


def test_the_core_imports_without_the_api_areas() -> None:
    """The areas' models, the session classes and the wire load on first use: importing
    either tier stays light."""
    code = (
        "import sys, tastytrade_proto as t, tastytrade_proto.protocol as p; "
        "print(sorted(m for m in sys.modules if m.startswith('tastytrade_proto.'))); "
        "print(t.orders.__name__, t.NewOrder.__name__, p.API.__name__, p.SyncSession.__name__, "
        "p.HTTP11Connection.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded, used = result.stdout.splitlines()
    areas = ("accounts", "authentication", "orders", "instruments", "market_data", "watchlists")
    for module in (*areas, "api", "sessions", "protocol.wire"):
        assert f"'tastytrade_proto.{module}'" not in loaded
    assert used == "tastytrade_proto.orders NewOrder API SyncSession HTTP11Connection"
