"""The driving loop of docs/streaming.md runs as written, against the fake's websocket."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import tastytrade_requests
from tastytrade_proto.streaming import Connected, Quote
from tastytrade_proto.testing import DEMO_LOGIN, DEMO_OTP, DEMO_PASSWORD, FakeTastytradeServer

DOC = (Path(__file__).resolve().parent.parent / "docs" / "streaming.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)


def test_the_custom_driving_loop_streams_quotes_and_closes() -> None:
    (loop,) = [block for block in BLOCKS if "link.next_action" in block]
    with FakeTastytradeServer() as fake:
        session = tastytrade_requests.Session(base_url=fake.base_url, prompt=lambda ask: DEMO_OTP)
        session.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)
        seen: list[Any] = []
        namespace: dict[str, Any] = {"session": session}

        def handle(event: Any) -> None:
            seen.append(event)
            if isinstance(event, Quote):
                namespace["link"].close()  # enough: the loop closes the socket and ends

        namespace["handle"] = handle
        namespace["my_websocket_connect"] = lambda url: session.open_websocket(url)
        exec(compile(loop, "docs/streaming.md", "exec"), namespace)
        assert isinstance(seen[0], Connected)
        assert any(isinstance(event, Quote) and event.symbol == "SPY" for event in seen)
        assert fake.wait_for(lambda: fake.websockets == 0)
        session.close()
