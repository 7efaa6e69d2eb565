"""pytest plugin (entry point ``tastytrade_fake``): fixtures for code built on tastytrade-proto.

* ``tastytrade_fake``: a running :class:`FakeTastytradeServer` over plain HTTP,
  with a fresh, demo-seeded :class:`FakeTastytradeAPI` (``.api``) whose clock is
  a :class:`FakeClock` (``.clock``) you can move forward.
* ``tastytrade_fake_tls``: the same over HTTPS, with a throw-away CA
  (``.client_ssl_context()``, ``.ca_path``).
* ``tastytrade_conformance``: the transport conformance kit
  (:class:`~tastytrade_proto.testing.conformance.ConformanceKit`):
  ``tastytrade_conformance.check(MySession)``.

Each test gets its own server; it is stopped when the test ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from . import FakeClock
from .conformance import ConformanceKit
from .fake import FakeTastytradeAPI
from .server import FakeTastytradeServer

__all__ = ["FakeTastytrade", "tastytrade_conformance", "tastytrade_fake", "tastytrade_fake_tls"]


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
