"""An endpoint is written once and each kind of session gets its own form of it."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, TypeVar

from tastytrade_proto.models import Model, model, page_of
from tastytrade_proto.protocol import Operation, Response, drive, drive_async
from tastytrade_proto.protocol.endpoint import (
    AsyncPageIterator,
    Endpoint,
    Page,
    Paged,
    PageIterator,
    Pager,
    build_pager,
)
from tastytrade_proto.sessions import AsyncSession, Operations, SyncSession
from tastytrade_proto.testing import FakeClock, ReplayTransport, json_response

from .core import target

T = TypeVar("T")


@model
class Row(Model):
    n: int


def _rows(calls: Operations, *, size: int = 2) -> Pager[Row]:
    """Rows (``GET /rows``)."""
    return build_pager(calls, "/rows", page_of(Row), {"kind": "all"}, per_page=size)


def page(offset: int, total_pages: int) -> Response:
    rows = [{"n": offset * 2}, {"n": offset * 2 + 1}]
    paging = {"page-offset": offset, "total-pages": total_pages, "per-page": 2}
    return json_response(200, {"data": {"items": rows}, "pagination": paging})


LOGIN = json_response(200, {"access_token": "AT", "expires_in": 900})


class Replaying(SyncSession):
    rows = Paged(_rows)

    def __init__(self, http: ReplayTransport) -> None:
        super().__init__(base_url="https://api.example.test")
        self.http, self.clock = http, FakeClock()

    def run(self, operation: Operation[T]) -> T:
        return drive(operation, self.http.send, clock=self.clock, sleep=self.clock.sleep)

    def close(self) -> None:
        pass


class AsyncReplaying(AsyncSession):
    rows = Paged(_rows)

    def __init__(self, http: ReplayTransport) -> None:
        super().__init__(base_url="https://api.example.test")
        self.http, self.clock = http, FakeClock()

    async def run(self, operation: Operation[T]) -> T:
        async def send(request: Any) -> Response:
            return self.http.send(request)

        async def sleep(seconds: float) -> None:
            self.clock.sleep(seconds)

        return await drive_async(operation, send, clock=self.clock, sleep=sleep)

    async def close(self) -> None:
        pass


def test_each_kind_of_session_gets_its_form() -> None:
    assert isinstance(inspect.getattr_static(SyncSession, "balances"), Endpoint)
    # read from the class: a plain function taking the session, carrying its declaration
    assert inspect.isfunction(SyncSession.balances)
    assert SyncSession.balances.endpoint is inspect.getattr_static(SyncSession, "balances")
    http = ReplayTransport([LOGIN])
    session = Replaying(http)
    session.login_with_oauth("CS", "RF")
    assert session.balances.__name__ == "balances"
    # bound once per session and kept: no binding cost per call, and each session its own
    assert session.balances is session.balances
    assert Replaying(http).balances is not session.balances
    shown = str(inspect.signature(session.balances))
    assert shown.startswith(
        "(account_number: 'str', *, currency: 'str | None' = None, timeout: 'float | None' = None)"
    )
    assert "calls" not in str(inspect.signature(session.rows))
    assert "balances" in (session.balances.__doc__ or "")
    assert isinstance(session.calls.balances("5WT1"), Operation)
    assert inspect.iscoroutinefunction(AsyncReplaying(http).balances)


def test_a_paged_endpoint_fetches_lazily_page_by_page() -> None:
    http = ReplayTransport([LOGIN, page(0, 3), page(1, 3), page(2, 3)])
    session = Replaying(http)
    session.login_with_oauth("CS", "RF")
    rows = session.rows()
    assert isinstance(rows, PageIterator) and len(http.requests) == 1  # nothing fetched yet
    assert [next(rows).n, next(rows).n] == [0, 1]
    assert len(http.requests) == 2
    assert next(rows).n == 2 and len(http.requests) == 3  # the next page only when needed
    assert [r.n for r in rows] == [3, 4, 5]
    assert target(http.requests[1]) == (
        "GET",
        "/rows",
        [("kind", "all"), ("per-page", "2"), ("page-offset", "0")],
    )
    assert target(http.requests[3])[2][-1] == ("page-offset", "2")


def test_one_page_alone() -> None:
    http = ReplayTransport([LOGIN, page(1, 3)])
    session = Replaying(http)
    session.login_with_oauth("CS", "RF")
    one = session.rows(size=2).page(1)
    assert isinstance(one, Page)
    assert [r.n for r in one.items] == [2, 3] and one.next_offset == 2
    assert one.pagination is not None and one.pagination.total_pages == 3


def test_the_async_iterator_and_every_page_at_once() -> None:
    http = ReplayTransport([LOGIN, page(0, 2), page(1, 2), page(0, 2), page(1, 2)])
    session = AsyncReplaying(http)

    async def body() -> list[int]:
        await session.login_with_oauth("CS", "RF")
        rows = session.rows()
        assert isinstance(rows, AsyncPageIterator)
        return [r.n async for r in rows]

    assert asyncio.run(body()) == [0, 1, 2, 3]
    everything = drive(
        _rows(session.calls).all(), http.send, clock=FakeClock(), sleep=FakeClock().sleep
    )
    assert [r.n for r in everything] == [0, 1, 2, 3]


def test_every_endpoint_and_call_takes_a_timeout() -> None:
    from tastytrade_proto.api import API
    from tastytrade_proto.protocol.endpoint import Paged
    from tastytrade_proto.sessions import AsyncSession, Operations, SyncSession

    declared = [
        (name, value)
        for name in dir(API)
        if isinstance(value := inspect.getattr_static(API, name), (Endpoint, Paged))
    ]
    assert len(declared) > 70
    for name, endpoint in declared:
        parameter = endpoint.signature.parameters.get("timeout")
        assert parameter is not None, name
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is None
    calls = ("login_with_password", "login_with_remember_token", "login_with_oauth", "refresh")
    calls += ("submit_second_factor", "answer_security_question", "validate", "logout", "request")
    # The authentication calls and ``request`` are declared once, like every endpoint,
    # so each kind of session offers them with the same signature.
    assert set(calls) <= {name for name, _ in declared}
    for kind in (Operations, SyncSession, AsyncSession):
        for name in calls:
            declared_as = inspect.getattr_static(kind, name)
            assert isinstance(declared_as, Endpoint), (kind, name)
            assert "timeout" in declared_as.signature.parameters, (kind, name)


def test_the_return_annotation_follows_the_host_whatever_its_shape() -> None:
    def typed(calls: Operations) -> Operation[int]:
        """Annotated with objects, not strings."""
        raise NotImplementedError

    def paged(calls: Operations) -> Pager[Row]:
        raise NotImplementedError

    def odd(calls: Operations) -> int:
        raise NotImplementedError

    typed.__annotations__["return"] = Operation[int]
    paged.__annotations__["return"] = Pager[Row]
    odd.__annotations__["return"] = "Awaitable[int]"
    assert Endpoint(typed).signature_for("sync").return_annotation is int
    assert Endpoint(typed).signature_for("async").return_annotation is int
    assert Endpoint(typed).signature_for("operation").return_annotation == Operation[int]
    assert Paged(paged).signature_for("sync").return_annotation == PageIterator[Row]
    assert Paged(paged).signature_for("async").return_annotation == AsyncPageIterator[Row]
    # a shape it cannot read is left out rather than shown wrong; a paged call still says
    # what it gives
    assert Endpoint(odd).signature_for("sync").return_annotation is inspect.Signature.empty
    assert Paged(odd).signature_for("async").return_annotation is AsyncPageIterator
    assert Endpoint(odd).signature_for("operation").return_annotation == "Awaitable[int]"
