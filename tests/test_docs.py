"""The examples in docs/testing.md run as written."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from tastytrade_proto.testing import SecondFactor
from tastytrade_proto.testing.pytest_plugin import FakeTastytrade

DOC = (Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)


def test_the_first_test_passes(tastytrade_fake: FakeTastytrade) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(BLOCKS[0], "docs/testing.md", "exec"), namespace)
    namespace["test_my_bot_places_one_order"](tastytrade_fake)


def test_the_context_manager_example() -> None:
    exec(compile(BLOCKS[1], "docs/testing.md", "exec"), {})


def test_adding_users(tastytrade_fake: FakeTastytrade) -> None:
    namespace = {
        "tastytrade_fake": tastytrade_fake,
        "SecondFactor": SecondFactor,
        "Decimal": Decimal,
    }
    exec(compile(BLOCKS[2], "docs/testing.md", "exec"), namespace)
    assert tastytrade_fake.api.accounts["5WT00042"].cash_balance == Decimal("1000.00")


def test_the_conformance_example() -> None:
    import tastytrade_aiohttp
    from tastytrade_proto.testing.conformance import ConformanceKit

    ran: list[str] = []

    class OneCheck(ConformanceKit):  # the whole kit runs in test_conformance.py
        def check(self, factory: Any, **options: Any) -> Any:
            report = super().check(factory, only=["place_order"], **options)
            ran.extend(r.name for r in report.results if r.outcome == "passed")
            return report

    namespace: dict[str, Any] = {"MySession": tastytrade_aiohttp.Session}
    exec(compile(BLOCKS[3], "docs/testing.md", "exec"), namespace)
    namespace["test_my_transport"](OneCheck())
    assert ran == ["place_order"]


def test_the_replay_example() -> None:
    exec(compile(BLOCKS[-1], "docs/testing.md", "exec"), {})


CUSTOM = re.findall(
    r"```python\n(.*?)```",
    (Path(__file__).resolve().parent.parent / "docs" / "custom-transport.md").read_text("utf-8"),
    flags=re.S,
)


def test_the_custom_transport_works_against_the_fake(tastytrade_fake_tls: FakeTastytrade) -> None:
    from tastytrade_proto.testing import DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN

    transport, usage = CUSTOM[:2]
    lines = [
        line
        for line in transport.splitlines()
        if line.strip() and not line.startswith(("import", "from"))
    ]
    assert len(lines) <= 42  # "about 40 lines"
    namespace: dict[str, Any] = {}
    exec(compile(transport, "docs/custom-transport.md", "exec"), namespace)
    namespace.update(
        server=tastytrade_fake_tls,
        client_secret=DEMO_CLIENT_SECRET,
        refresh_token=DEMO_REFRESH_TOKEN,
    )
    exec(compile(usage, "docs/custom-transport.md", "exec"), namespace)
    assert namespace["balances"].account_number == "5WT00001"
    assert tastytrade_fake_tls.api.count("DELETE", "/sessions") == 1
    namespace["session"].conn.close()


def test_the_custom_websocket_opener_works() -> None:
    import pytest

    from tastytrade_proto.errors import WebSocketClosed

    from .wsserver import WebSocketServer

    namespace: dict[str, Any] = {}
    exec(compile(CUSTOM[2], "docs/custom-transport.md", "exec"), namespace)
    opener = namespace["SocketWebSocket"]
    with WebSocketServer(tls=True) as server:
        context = server.client_ssl_context()
        ws = opener(server.url("/ping"), [("User-Agent", "mine/1")], 10, context)
        assert ws.receive(10) == "pong received"
        ws.send("echo")
        assert ws.receive(10) == "echo"
        assert ws.receive(0.01) is None
        ws.wake()
        assert ws.receive(None) is None
        ws.close()
        ws = opener(server.url("/close1012"), [], 10, context)
        with pytest.raises(WebSocketClosed) as info:
            ws.receive(10)
        assert info.value.code == 1012
        ws.close()
    assert server.requests[0][1]["user-agent"] == "mine/1"
    assert server.closes[0] == 1000
