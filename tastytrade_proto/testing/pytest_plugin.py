"""pytest plugin (entry point ``tastytrade_fake``): fixtures for code built on tastytrade-proto.

* ``tastytrade_fake``: a running :class:`FakeTastytradeServer` over plain HTTP,
  with a fresh, demo-seeded :class:`FakeTastytradeAPI` (``.api``) whose clock is
  a :class:`FakeClock` (``.clock``) you can move forward.
* ``tastytrade_fake_tls``: the same over HTTPS, with a throw-away CA
  (``.client_ssl_context()``, ``.ca_path``).
* ``tastytrade_conformance``: the transport conformance kit
  (:class:`~tastytrade_proto.testing.conformance.ConformanceKit`):
  ``tastytrade_conformance.check(MySession)``.
* ``tastytrade_cassette`` (and ``tastytrade_cassette_async``): with
  ``@pytest.mark.tastytrade_cassette("name.json")``, a session replaying
  ``cassettes/name.json`` next to the test file, logged in; with
  ``TASTYTRADE_CASSETTE_MODE=record`` (or ``--tastytrade-cassette-mode=record``)
  a real one, recording it. See :mod:`tastytrade_proto.testing.cassette`.

Each test gets its own server; it is stopped when the test ends.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import FakeClock
from .conformance import ConformanceKit
from .fake import FakeTastytradeAPI
from .server import FakeTastytradeServer

__all__ = [
    "FakeTastytrade",
    "tastytrade_cassette",
    "tastytrade_cassette_async",
    "tastytrade_conformance",
    "tastytrade_fake",
    "tastytrade_fake_tls",
]


class FakeTastytrade(FakeTastytradeServer):
    """A running fake server plus the clock its API reads."""

    def __init__(self, *, tls: bool) -> None:
        self.clock = FakeClock(now=time.time())
        super().__init__(FakeTastytradeAPI(clock=self.clock), tls=tls)


@pytest.fixture
def tastytrade_fake() -> Iterator[FakeTastytrade]:
    """A fake tastytrade API on ``http://127.0.0.1:<port>`` for this test."""
    server = FakeTastytrade(tls=False)
    with server:
        yield server


@pytest.fixture
def tastytrade_fake_tls() -> Iterator[FakeTastytrade]:
    """A fake tastytrade API on ``https://127.0.0.1:<port>`` for this test."""
    server = FakeTastytrade(tls=True)
    with server:
        yield server


@pytest.fixture
def tastytrade_conformance() -> ConformanceKit:
    """The transport conformance kit: ``tastytrade_conformance.check(MySession)`` runs
    every check against fake servers of its own and fails the test listing each failed
    check (see ``docs/testing.md``)."""
    return ConformanceKit()


# -- cassettes (tastytrade_proto.testing.cassette; docs/testing.md, "Cassettes") ------------

_CASSETTE_MARKER = (
    "tastytrade_cassette(name, *, login=True, accounts=True, ignore_order=False, "
    "ignore_body=False, all_played=True): the cassette the tastytrade_cassette fixtures "
    "replay (or record), cassettes/<name> beside the test file"
)
_PASSED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("tastytrade").addoption(
        "--tastytrade-cassette-mode",
        choices=("replay", "record"),
        default=None,
        help="replay cassettes (default) or record them against the sandbox "
        "(default: $TASTYTRADE_CASSETTE_MODE, else replay)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _CASSETTE_MARKER)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_PASSED] = report.passed
    return report


def _cassette_session(request: pytest.FixtureRequest, asynchronous: bool) -> Iterator[Any]:
    from .cassette import CassetteFixture, cassette_mode

    marker = request.node.get_closest_marker("tastytrade_cassette")
    if marker is None or len(marker.args) != 1:
        raise pytest.UsageError(
            f'{request.fixturename} needs @pytest.mark.tastytrade_cassette("name.json")'
        )
    path = Path(request.node.path).parent / "cassettes" / str(marker.args[0])
    option = request.config.getoption("tastytrade_cassette_mode", default=None)
    used = CassetteFixture(
        path,
        record=cassette_mode(option, os.environ),
        asynchronous=asynchronous,
        env=os.environ,
        **marker.kwargs,
    )
    yield used.session
    used.finish(passed=request.node.stash.get(_PASSED, False))


@pytest.fixture
def tastytrade_cassette(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A synchronous session replaying the test's cassette (recording it, in record mode)."""
    yield from _cassette_session(request, asynchronous=False)


@pytest.fixture
def tastytrade_cassette_async(request: pytest.FixtureRequest) -> Iterator[Any]:
    """An asynchronous session (asyncio or trio) replaying the test's cassette."""
    yield from _cassette_session(request, asynchronous=True)
