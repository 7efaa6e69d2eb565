"""Every endpoint, through every transport, against the fake over real sockets."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest

from tastytrade_proto.api import API
from tastytrade_proto.authentication import AuthenticationAPI
from tastytrade_proto.protocol.endpoint import Endpoint, Paged
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FakeTastytradeAPI,
    FakeTastytradeServer,
)

from .cases import Case, accounts, instruments, market, orders, watchlists
from .harness import TRANSPORTS, Harness, call

AREAS = {
    "accounts": accounts.CASES,
    "orders": orders.CASES,
    "instruments": instruments.CASES,
    "market": market.CASES,
    "watchlists": watchlists.CASES,
}


@pytest.fixture
def server() -> Iterator[FakeTastytradeServer]:
    with FakeTastytradeServer(FakeTastytradeAPI()) as running:
        yield running


@pytest.mark.parametrize("area", sorted(AREAS))
@pytest.mark.parametrize("kind", TRANSPORTS)
def test_every_case_of_an_area(kind: str, area: str, server: FakeTastytradeServer) -> None:
    h = Harness(kind, server)

    failures: list[str] = []

    async def body() -> None:
        async with h.session() as session:
            await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            for number, case in enumerate(AREAS[area]):
                try:
                    await _run(session, case, server.api)
                except Exception as error:  # report every failing case, not just the first
                    failures.append(f"case {number} ({case.endpoint}): {error!r}")

    h.run(body)
    assert not failures, "\n".join(failures)


async def _run(session: object, case: Case, api: FakeTastytradeAPI) -> None:
    if case.raises is not None:
        with pytest.raises(case.raises):
            await call(session, case.endpoint, *case.args, **case.kwargs)  # type: ignore[arg-type]
        return
    result = await call(session, case.endpoint, *case.args, **case.kwargs)  # type: ignore[arg-type]
    if len(inspect.signature(case.check).parameters) == 2:
        case.check(result, api)
    else:
        case.check(result)


def test_every_endpoint_has_a_case() -> None:
    declared = {
        name
        for name in dir(API)
        if isinstance(inspect.getattr_static(API, name), (Endpoint, Paged))
    }
    covered = {case.endpoint for cases in AREAS.values() for case in cases}
    # Logins, refresh, validate, logout and ``request`` run over every transport in
    # tests/test_transports.py, with the flows they start.
    elsewhere = {
        name
        for name in dir(AuthenticationAPI)
        if isinstance(inspect.getattr_static(AuthenticationAPI, name), Endpoint)
    }
    assert declared - covered - elsewhere - {"request"} == set()
