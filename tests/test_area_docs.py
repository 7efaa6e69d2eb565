"""Every example in the API-area pages of docs/ runs, as written, against the fake.

A page opts in with the line ``<!-- examples run against the fake -->``. Its
``python`` blocks run in order, in one namespace holding ``session`` (a
``tastytrade_requests.Session`` logged in to a fresh fake with the demo data)
and ``account_number`` (the demo margin account).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tastytrade_requests
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FakeTastytradeAPI,
    FakeTastytradeServer,
)

DOCS = Path(__file__).resolve().parent.parent / "docs"
MARKER = "<!-- examples run against the fake -->"
PAGES = sorted(p.name for p in DOCS.glob("*.md") if MARKER in p.read_text("utf-8"))


@pytest.fixture
def session() -> Iterator[tastytrade_requests.Session]:
    with FakeTastytradeServer(FakeTastytradeAPI()) as server:
        session = tastytrade_requests.Session(base_url=server.base_url)
        with session:
            session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            yield session


@pytest.mark.parametrize("page", PAGES)
def test_the_examples_run(page: str, session: tastytrade_requests.Session) -> None:
    text = (DOCS / page).read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, f"{page} has no python example"
    namespace: dict[str, Any] = {"session": session, "account_number": "5WT00001"}
    for block in blocks:
        exec(compile(block, f"docs/{page}", "exec"), namespace)
