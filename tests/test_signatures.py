"""An endpoint read from a class is the method it is there: signature, docstring, result.

``help()``, ``inspect`` and IDEs read a session class's calls as methods taking the
session first, annotated with what that kind of session returns (not the operation its
declaration builds); read from a session, the same signature less ``self``.
"""

from __future__ import annotations

import asyncio
import inspect
import pydoc
from typing import Any

import pytest

import tastytrade_aiohttp
import tastytrade_requests
import tastytrade_trio
from tastytrade_proto.accounts import Account, Position
from tastytrade_proto.api import API
from tastytrade_proto.errors import LocalProtocolError
from tastytrade_proto.protocol import Operation
from tastytrade_proto.protocol.endpoint import (
    AsyncPageIterator,
    Endpoint,
    Paged,
    PageIterator,
    Pager,
)
from tastytrade_proto.sessions import Operations, SyncSession
from tastytrade_proto.testing import DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN
from tastytrade_proto.testing.pytest_plugin import FakeTastytrade

DECLARED = {
    name: value
    for name in dir(API)
    if isinstance(value := inspect.getattr_static(API, name), (Endpoint, Paged))
}
HOSTS: dict[str, Any] = {
    "requests": tastytrade_requests.Session,
    "aiohttp": tastytrade_aiohttp.Session,
    "trio": tastytrade_trio.Session,
    "operations": Operations,
}


def instance(kind: str) -> Any:
    if kind == "operations":
        return tastytrade_requests.Session(base_url="https://api.example.test").calls
    return HOSTS[kind](base_url="https://api.example.test")


def returned(kind: str, declared: Endpoint[Any, Any] | Paged[Any, Any], inner: str) -> str:
    """What ``kind``'s form of a call returns, from the ``X`` of ``Operation[X]``/``Pager[X]``."""
    if isinstance(declared, Paged):
        iterator = {"requests": "PageIterator", "operations": "Pager"}
        return f"{iterator.get(kind, 'AsyncPageIterator')}[{inner}]"
    return f"Operation[{inner}]" if kind == "operations" else inner


@pytest.mark.parametrize("kind", sorted(HOSTS))
def test_every_call_reads_as_a_method_on_the_class_and_the_instance(kind: str) -> None:
    host, obj = HOSTS[kind], instance(kind)
    assert len(DECLARED) > 70
    for name, declared in DECLARED.items():
        method, bound = getattr(host, name), getattr(obj, name)
        assert inspect.isfunction(method), (kind, name)
        assert method.__name__ == name and method.__qualname__ == f"{host.__qualname__}.{name}"
        assert method.endpoint is declared
        on_class, on_instance = inspect.signature(method), inspect.signature(bound)
        (first, *rest) = on_class.parameters.values()
        assert first.name == "self", (kind, name)
        assert rest == list(on_instance.parameters.values()), (kind, name)
        assert on_class.return_annotation == on_instance.return_annotation, (kind, name)
        assert method.__doc__ and method.__doc__ == bound.__doc__ == declared.build.__doc__
        built = inspect.signature(declared.build).return_annotation
        inner = built[built.index("[") + 1 : -1]
        assert on_class.return_annotation == returned(kind, declared, inner), (kind, name)
        awaited = kind in ("aiohttp", "trio") and isinstance(declared, Endpoint)
        assert inspect.iscoroutinefunction(method) is awaited, (kind, name)
        assert inspect.iscoroutinefunction(bound) is awaited, (kind, name)
        if kind != "operations":
            assert not str(on_class.return_annotation).startswith("Operation["), name


def test_class_level_functions_are_made_once_per_class() -> None:
    session_class = tastytrade_requests.Session
    assert session_class.positions is session_class.positions
    assert SyncSession.positions is not session_class.positions  # each class its own name
    assert SyncSession.positions.__qualname__ == "SyncSession.positions"


def test_a_mixin_keeps_the_operation_form() -> None:
    signature = inspect.signature(API.positions)
    assert list(signature.parameters)[:2] == ["self", "account_number"]
    assert signature.return_annotation == "Operation[list[Position]]"
    assert inspect.signature(API.order_history).return_annotation == "Pager[Order]"
    assert not inspect.iscoroutinefunction(API.positions)


def test_help_shows_each_call_with_its_parameters_and_docstring() -> None:
    for session_class in (tastytrade_requests.Session, tastytrade_aiohttp.Session):
        text = pydoc.render_doc(session_class, renderer=pydoc.plaintext)
        assert "positions(self, account_number" in text
        assert "<Endpoint object" not in text and "<Paged object" not in text
        first_line = (DECLARED["positions"].__doc__ or "").strip().splitlines()[0]
        assert first_line in text
        assert "-> 'list[Position]'" in text
    assert "async positions(self, account_number" in pydoc.render_doc(
        tastytrade_trio.Session, renderer=pydoc.plaintext
    )


def test_the_type_hints_resolve_to_the_sessions_result() -> None:
    import typing

    hints = typing.get_type_hints(tastytrade_requests.Session.positions)
    assert hints["return"] == list[Position] and hints["account_number"] is str


def test_an_unbound_call_is_the_bound_call(tastytrade_fake: FakeTastytrade) -> None:
    Session = tastytrade_requests.Session
    with Session(base_url=tastytrade_fake.base_url) as session:
        Session.login_with_oauth(session, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        accounts = Session.accounts(session)
        assert accounts == session.accounts() and all(isinstance(a, Account) for a in accounts)
        number = accounts[0].account_number
        assert Session.positions(session, number) == session.positions(number)
        assert Session.positions(session, account_number=number) == session.positions(number)
        history = Session.transactions(session, number)
        assert isinstance(history, PageIterator)
        assert list(history) == list(session.transactions(number))
        operation = Operations.positions(session.calls, number)
        assert isinstance(operation, Operation)
        assert session.run(operation) == session.positions(number)
        assert isinstance(Operations.transactions(session.calls, number), Pager)


@pytest.mark.parametrize("kind", ["aiohttp", "trio"])
def test_an_unbound_async_call_is_awaited(kind: str, tastytrade_fake: FakeTastytrade) -> None:
    Session = HOSTS[kind]

    async def body() -> None:
        async with Session(base_url=tastytrade_fake.base_url) as session:
            await Session.login_with_oauth(session, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            accounts = await Session.accounts(session)
            assert accounts == await session.accounts()
            number = accounts[0].account_number
            assert await Session.positions(session, number) == await session.positions(number)
            history = Session.transactions(session, number)
            assert isinstance(history, AsyncPageIterator)
            assert [t async for t in history] == [t async for t in session.transactions(number)]

    if kind == "trio":
        import trio

        trio.run(body)
    else:
        asyncio.run(body())


def test_an_override_may_call_the_class_form_and_stays_in_force() -> None:
    from tastytrade_proto.testing import ReplayTransport, json_response

    from .test_endpoint import LOGIN, Replaying

    seen: list[str] = []

    class Counting(Replaying):
        def balances(self, account_number: str, **kwargs: Any) -> Any:
            seen.append(account_number)
            return SyncSession.balances(self, account_number, **kwargs)

    balances = {"data": {"account-number": "5WT1", "cash-balance": "1.5"}}
    http = ReplayTransport([LOGIN, json_response(200, balances), json_response(200, balances)])
    session = Counting(http)
    session.login_with_oauth("CS", "RF")
    assert session.balances("5WT1").account_number == "5WT1"
    assert session.balances("5WT1").account_number == "5WT1"  # the override, not a kept binding
    assert seen == ["5WT1", "5WT1"]


def test_a_class_call_keeps_the_binding_a_read_would() -> None:
    session = tastytrade_requests.Session(base_url="https://api.example.test")
    with pytest.raises(LocalProtocolError):  # not logged in: what matters is the binding
        tastytrade_requests.Session.positions(session, "5WT1")
    kept = vars(session)["positions"]
    assert vars(session)["positions"] is session.positions
    assert kept.endpoint is DECLARED["positions"]
