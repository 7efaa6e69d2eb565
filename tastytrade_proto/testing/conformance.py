"""A conformance kit for transports: one suite any transport must pass.

A transport (one of ours, or one of yours: see ``docs/custom-transport.md``) moves bytes;
the core decides everything else. What a transport still has to get right is checked
here, against a :class:`~tastytrade_proto.testing.FakeTastytradeServer` over real
sockets on loopback: every authentication flow, the core's retries (and none of the
transport's own), orders never sent twice, ``request_sent``, timeouts as a deadline for
the whole request, TLS, a proxy, gzip, cancellation, nothing left open after ``close``,
and the websocket part when the session has one.

What is checked is a *session*: anything with ``calls`` (an
:class:`~tastytrade_proto.Operations`) and ``run(operation)``, sync or async, plus
``close()``: a :class:`~tastytrade_proto.SyncSession` or
:class:`~tastytrade_proto.AsyncSession` subclass is one. Give :func:`check` the class, or
a factory called with keywords from ``base_url``, ``timeout``, ``ssl_context``,
``proxy`` and ``token_store`` (only those a check needs)::

    from tastytrade_proto.testing.conformance import check

    check(MySession)  # raises AssertionError naming every failed check

or with pytest, through the ``tastytrade_conformance`` fixture::

    def test_my_transport(tastytrade_conformance):
        tastytrade_conformance.check(MySession)

Each check gets its own fake server (HTTPS with a throw-away CA unless it needs plain
HTTP) and its own run of the session's event loop: none for a synchronous session,
``asyncio.run`` or ``trio.run`` for an async one (see :func:`detect_runner`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import gzip
import inspect
import os
import socket
import ssl
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import h11

from ..errors import (
    SecondFactorRequired,
    ServerError,
    TransportError,
    TransportTimeout,
    WebSocketClosed,
)
from ..protocol.events import RefreshTokenRotated, RememberTokenIssued, TokenEvent
from ..protocol.http import Request, Response
from ..sessions import AsyncSession
from .fake import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeTastytradeAPI,
    Fault,
    FaultKind,
    Reply,
    StreamFault,
    StreamFaultKind,
)
from .proxy import ConnectProxy
from .server import FakeTastytradeServer

__all__ = [
    "CHECKS",
    "CheckResult",
    "ConformanceKit",
    "ConformanceReport",
    "Runner",
    "check",
    "detect_runner",
    "run",
]

T = TypeVar("T")
Runner = Literal["sync", "asyncio", "trio"]
Outcome = Literal["passed", "failed", "skipped"]

ACCOUNT = "5WT00001"
ORDERS = f"/accounts/{ACCOUNT}/orders"
#: The timeout every check gives a session unless it checks timeouts: a hang fails the
#: check in this time instead of the suite's.
SESSION_TIMEOUT = 10.0
#: The ``timeout=`` of the timeout checks, and how late a timeout may come.
SHORT_TIMEOUT = 0.5
TIMEOUT_SLACK = 1.5
#: Longest any streamed event may take to arrive.
STREAM_WAIT = 10.0


# -- results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome: ``passed``, ``failed`` (``detail`` says what was expected and
    what was seen) or ``skipped`` (``detail`` says why)."""

    name: str
    outcome: Outcome
    detail: str = ""
    seconds: float = 0.0

    def __str__(self) -> str:
        line = f"{self.outcome.upper():7} {self.name} ({self.seconds:.2f} s)"
        return f"{line}: {self.detail}" if self.detail else line


@dataclass(frozen=True, slots=True)
class ConformanceReport:
    """Every check's result, for one session class (``subject``) under one ``runner``."""

    subject: str
    runner: Runner
    results: tuple[CheckResult, ...] = field(default=())

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """The failed checks."""
        return tuple(r for r in self.results if r.outcome == "failed")

    @property
    def passed(self) -> bool:
        """True when no check failed (skipped ones do not count)."""
        return not self.failures

    def result(self, name: str) -> CheckResult:
        """The result of the check called ``name``."""
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def __str__(self) -> str:
        counts = {o: sum(r.outcome == o for r in self.results) for o in ("passed", "failed")}
        skipped = len(self.results) - counts["passed"] - counts["failed"]
        head = (
            f"transport conformance of {self.subject} ({self.runner}): {counts['passed']} "
            f"passed, {counts['failed']} failed, {skipped} skipped"
        )
        return "\n".join([head, *(f"  {r}" for r in self.results)])

    def raise_for_failures(self) -> None:
        """Raise ``AssertionError`` listing every failed check, if any failed."""
        if self.failures:
            lines = [f"{len(self.failures)} transport conformance check(s) failed for "]
            lines[0] += f"{self.subject} ({self.runner}):"
            lines += [f"  {r.name}: {r.detail}" for r in self.failures]
            raise AssertionError("\n".join(lines))


class CheckFailed(AssertionError):
    """A check saw something other than what it expected."""


class CheckSkipped(Exception):
    """A check does not apply to this session."""


def expect(condition: object, expected: str, seen: object) -> None:
    """Fail the running check unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(f"expected {expected}; saw {seen}")


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no exception"
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, TransportError):
        text += f" (request_sent={exc.request_sent})"
    return text


# -- the server every check talks to ------------------------------------------------------


class ConformanceServer(FakeTastytradeServer):
    """The fake server, plus two ways of answering a check needs.

    ``gzip``: answers are gzip-compressed for a request that accepts it (the fake
    itself never compresses); ``gzipped`` counts them. ``drip``: the answer to a request
    whose path starts with it comes one body byte every ``drip_interval`` seconds.
    """

    def __init__(self, api: FakeTastytradeAPI | None = None, *, tls: bool = True) -> None:
        super().__init__(api if api is not None else FakeTastytradeAPI(), tls=tls)
        self.gzip = False
        self.gzipped = 0
        self.drip: str | None = None
        self.drip_interval = 0.05
        self._dripping = False

    def __enter__(self) -> ConformanceServer:
        self.start()
        return self

    def _answer(self, request: Request, peer: str) -> Reply:
        reply = super()._answer(request, peer)
        accepted = ",".join(v for k, v in request.headers if k.lower() == "accept-encoding")
        response = reply.response
        if self.gzip and "gzip" in accepted.lower() and response.body:
            headers = (*response.headers, ("content-encoding", "gzip"))
            compressed = Response(response.status, headers, gzip.compress(response.body))
            reply = Reply(compressed, reply.delay, reply.truncate, reply.disconnect)
            self.gzipped += 1
        if self.drip is not None and request.path.startswith(self.drip):
            self._dripping = True
        return reply

    def _write_reply(self, conn: socket.socket, http: h11.Connection, reply: Reply) -> bool:
        if not self._dripping:
            return super()._write_reply(conn, http, reply)
        self._dripping = False
        response = reply.response
        headers = [(k, v) for k, v in response.headers if k != "content-length"]
        headers.append(("content-length", str(len(response.body))))
        conn.sendall(http.send(h11.Response(status_code=response.status, headers=headers)) or b"")
        for byte in response.body:
            if self._stopping.wait(self.drip_interval):
                return False
            conn.sendall(bytes([byte]))
        return False


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
    return port


# -- running a session, whatever its kind -------------------------------------------------


def detect_runner(factory: Callable[..., Any]) -> Runner:
    """``sync``, ``asyncio`` or ``trio``: how ``factory``'s sessions are driven.

    A class (or a ``functools.partial`` of one) tells: an :class:`AsyncSession` or a
    class whose ``run`` is a coroutine function is async, and trio's when its module
    imports ``trio``, else asyncio's; anything else is synchronous. A factory that is
    not a class cannot tell: pass ``runner=`` to :func:`check`.
    """
    target: Any = factory
    while isinstance(target, functools.partial):
        target = target.func
    if not inspect.isclass(target):
        raise TypeError(
            f"cannot tell how {factory!r} is run: pass runner='sync', 'asyncio' or 'trio'"
        )
    is_async = issubclass(target, AsyncSession) or inspect.iscoroutinefunction(
        getattr(target, "run", None)
    )
    if not is_async:
        return "sync"
    for klass in target.__mro__:
        module = sys.modules.get(klass.__module__)
        if module is not None and getattr(module, "trio", None) is not None:
            return "trio"
    return "asyncio"


async def _settle(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class Face:
    """One face on any session: ``await face.run(operation)``, ``await face.close()``."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.closed = False

    @property
    def calls(self) -> Any:
        return self.session.calls

    async def run(self, operation: Any) -> Any:
        return await _settle(self.session.run(operation))

    async def close(self) -> None:
        close = getattr(self.session, "close", None)
        if close is None:
            raise CheckFailed(f"expected a close() on the session; {self.session!r} has none")
        self.closed = True
        await _settle(close())


class Context:
    """What a check is handed: the server, the runner, and how to make sessions."""

    def __init__(
        self, factory: Callable[..., Any], runner: Runner, server: ConformanceServer
    ) -> None:
        self.factory, self.runner, self.server = factory, runner, server
        self.api = server.api
        self.sessions: list[Face] = []

    def session(self, *, trusted: bool = True, **settings: Any) -> Face:
        """A new session at the server (``trusted``: given the server's CA)."""
        settings.setdefault("base_url", self.server.base_url)
        settings.setdefault("timeout", SESSION_TIMEOUT)
        if self.server.tls and trusted:
            settings.setdefault("ssl_context", self.server.client_ssl_context())
        try:
            face = Face(self.factory(**settings))
        except TypeError as exc:
            raise CheckFailed(
                f"expected the factory to take {sorted(settings)}; it raised {exc} (skip "
                "the checks for what your transport does not offer)"
            ) from None
        self.sessions.append(face)
        return face

    async def close_all(self) -> None:
        """Close what a check left open (it failed, or was skipped, halfway)."""
        for face in self.sessions:
            if not face.closed:
                with contextlib.suppress(Exception):
                    await face.close()

    async def logged_in(self, **settings: Any) -> Face:
        session = self.session(**settings)
        await session.run(session.calls.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN))
        return session

    async def failure(self, call: Awaitable[Any]) -> BaseException | None:
        """What ``call`` raised (an ``Exception``), or ``None``."""
        try:
            await call
        except Exception as exc:
            return exc
        return None

    async def timed_failure(self, call: Awaitable[Any]) -> tuple[BaseException | None, float]:
        start = time.monotonic()
        exc = await self.failure(call)
        return exc, time.monotonic() - start

    async def cancel_after(self, seconds: float, call: Callable[[], Awaitable[Any]]) -> bool:
        """Run ``call()`` and cancel it after ``seconds``; True if the cancel reached us."""
        if self.runner == "trio":
            import trio

            with trio.move_on_after(seconds) as scope:
                await call()
            return bool(scope.cancelled_caught)
        task = asyncio.ensure_future(call())
        done, _ = await asyncio.wait({task}, timeout=seconds)
        if done:
            task.result()
            return False
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    async def next_event(self, stream: Any, timeout: float = STREAM_WAIT) -> Any:
        """The next event of a market or account stream, within ``timeout`` seconds."""
        if self.runner == "sync":
            event = stream.get(timeout)
            expect(event is not None, f"a stream event within {timeout} s", "none")
            return event
        if self.runner == "trio":
            import trio

            with trio.fail_after(timeout):
                return await stream.__anext__()
        return await asyncio.wait_for(stream.__anext__(), timeout)

    async def until(self, stream: Any, wanted: Callable[[Any], bool]) -> Any:
        seen: list[str] = []
        deadline = time.monotonic() + STREAM_WAIT
        while time.monotonic() < deadline:
            try:
                event = await self.next_event(stream, max(deadline - time.monotonic(), 0.01))
            except (TimeoutError, asyncio.TimeoutError):
                break
            except Exception as exc:
                if type(exc).__name__ == "TooSlowError":  # trio's
                    break
                raise
            if wanted(event):
                return event
            seen.append(type(event).__name__)
        raise CheckFailed(f"expected the event within {STREAM_WAIT} s; saw {seen or 'nothing'}")

    def run(self, body: Callable[[], Awaitable[T]]) -> T:
        return _drive(self.runner, body)


def _drive(runner: Runner, body: Callable[[], Awaitable[T]]) -> T:
    if runner == "trio":
        import trio

        return trio.run(body)
    if runner == "asyncio":

        async def main() -> T:
            return await body()

        return asyncio.run(main())
    # A synchronous session's calls never suspend: the body runs to its end in one step.
    coroutine = body()
    assert inspect.iscoroutine(coroutine)
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError("a synchronous session's call suspended: pass runner='asyncio' or 'trio'")


# -- the checks ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Check:
    name: str
    doc: str
    body: Callable[[Context], Awaitable[None]]
    tls: bool
    runners: frozenset[str]


_REGISTRY: list[_Check] = []


def _check(
    *, tls: bool = True, runners: Iterable[str] = ("sync", "asyncio", "trio")
) -> Callable[[Callable[[Context], Awaitable[None]]], Callable[[Context], Awaitable[None]]]:
    def register(
        body: Callable[[Context], Awaitable[None]],
    ) -> Callable[[Context], Awaitable[None]]:
        name = body.__name__.lstrip("_")
        doc = " ".join((body.__doc__ or "").split())
        _REGISTRY.append(_Check(name, doc, body, tls, frozenset(runners)))
        return body

    return register


@_check()
async def _password_second_factor_remember_me(ctx: Context) -> None:
    """A password login asks for the second factor (SecondFactorRequired); the code
    finishes it, the remember token reaches the token store, validate() is True, and
    logout() ends the session on the server."""
    kept: list[TokenEvent] = []
    session = ctx.session(token_store=kept.append)
    calls = session.calls
    exc = await ctx.failure(session.run(calls.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)))
    expect(isinstance(exc, SecondFactorRequired), "SecondFactorRequired", _describe(exc))
    await session.run(calls.submit_second_factor(DEMO_OTP))
    tokens = [e for e in kept if isinstance(e, RememberTokenIssued)]
    expect(len(tokens) == 1, "one RememberTokenIssued in the token store", kept)
    expect(await session.run(calls.validate()) is True, "validate() True", "False")
    await session.run(calls.logout())
    expect(
        ctx.api.count("DELETE", "/sessions") == 1,
        "one DELETE /sessions",
        ctx.api.count("DELETE", "/sessions"),
    )
    await session.close()


@_check()
async def _remember_token_login(ctx: Context) -> None:
    """A remember token logs in once and a new one arrives in the token store; the
    session then reads an account."""
    kept: list[TokenEvent] = []
    first = ctx.session(token_store=kept.append)
    await ctx.failure(first.run(first.calls.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)))
    await first.run(first.calls.submit_second_factor(DEMO_OTP))
    await first.close()
    token = [e.token for e in kept if isinstance(e, RememberTokenIssued)][-1]
    second = ctx.session(token_store=kept.append)
    await second.run(second.calls.login_with_remember_token(DEMO_LOGIN, token))
    fresh = [e.token for e in kept if isinstance(e, RememberTokenIssued)][-1]
    expect(fresh != token, "a new remember token after the login", "the same one")
    envelope = await second.run(second.calls.request("GET", f"/accounts/{ACCOUNT}/balances"))
    expect(envelope.data.get("account-number") == ACCOUNT, f"balances of {ACCOUNT}", envelope.data)
    await second.run(second.calls.logout())
    await second.close()


@_check()
async def _oauth_login_and_refresh(ctx: Context) -> None:
    """An OAuth login and an explicit refresh each hand the rotated refresh token to the
    token store; the access token carries a GET."""
    ctx.api.rotate_refresh_tokens = True
    kept: list[TokenEvent] = []
    session = ctx.session(token_store=kept.append)
    calls = session.calls
    await session.run(calls.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN))
    await session.run(calls.refresh())
    positions = await session.run(calls.request("GET", f"/accounts/{ACCOUNT}/positions"))
    expect(len(positions.items) == 3, "3 positions", len(positions.items))
    rotated = [e for e in kept if isinstance(e, RefreshTokenRotated)]
    expect(len(rotated) == 2, "two RefreshTokenRotated", [type(e).__name__ for e in kept])
    expect(
        ctx.api.count("POST", "/oauth/token") == 2,
        "two POST /oauth/token",
        ctx.api.count("POST", "/oauth/token"),
    )
    await session.run(calls.logout())
    await session.close()


@_check()
async def _place_order(ctx: Context) -> None:
    """An order is placed once, carrying an external identifier the session made (the
    session's ``entropy``)."""
    from ..orders import NewLeg, NewOrder

    session = await ctx.logged_in()
    order = NewOrder.limit(NewLeg.equity("F", "Buy to Open", 1), "-10.00")
    placed = await session.run(session.calls.place_order(ACCOUNT, order))
    expect(
        placed.order.external_identifier == placed.external_identifier,
        "the placed order to carry the identifier sent",
        placed.order.external_identifier,
    )
    expect(ctx.api.count("POST", ORDERS) == 1, "one POST", ctx.api.count("POST", ORDERS))
    await session.close()


@_check()
async def _get_retried_after_503(ctx: Context) -> None:
    """A GET answered 503 is sent again (the core's retry), and then succeeds."""
    session = await ctx.logged_in()
    ctx.api.inject(Fault(FaultKind.SERVER_ERROR, status=503, path="/customers/me"))
    await session.run(session.calls.request("GET", "/customers/me"))
    count = ctx.api.count("GET", "/customers/me")
    expect(count == 2, "2 GET /customers/me (one retry)", count)
    await session.close()


@_check()
async def _get_retried_after_a_cut(ctx: Context) -> None:
    """A GET whose connection closes before the answer, or halfway through it, is sent
    again; the transport raises TransportError and the core retries."""
    session = await ctx.logged_in()
    for kind in (FaultKind.DISCONNECT, FaultKind.TRUNCATED):
        ctx.api.inject(Fault(kind, path="/customers/me"))
        await session.run(session.calls.request("GET", "/customers/me"))
    count = ctx.api.count("GET", "/customers/me")
    expect(count == 4, "4 GET /customers/me (one retry after each cut)", count)
    await session.close()


_ORDER_CALLS = (("POST", ORDERS), ("PUT", f"{ORDERS}/100001"), ("DELETE", f"{ORDERS}/100001"))


@_check()
async def _orders_never_resent_after_a_cut(ctx: Context) -> None:
    """An order POST, PUT or DELETE whose connection is cut (before the answer, or
    halfway) on a kept-alive connection is sent once: the transport raises
    TransportError and neither it nor its HTTP library sends it again."""
    session = await ctx.logged_in()
    raised: list[tuple[str, BaseException | None]] = []
    for kind in (FaultKind.DISCONNECT, FaultKind.TRUNCATED):
        for method, path in _ORDER_CALLS:
            ctx.api.inject(Fault(kind, method=method, path=path))
            await session.run(session.calls.request("GET", "/customers/me"))  # keep-alive
            exc = await ctx.failure(session.run(session.calls.request(method, path, json={})))
            raised.append((f"{method} after {kind.value}", exc))
    for method, path in _ORDER_CALLS:
        count = ctx.api.count(method, path)
        expect(count == 2, f"{method} {path} sent once per cut (2)", count)
    for what, exc in raised:
        expect(isinstance(exc, TransportError), f"TransportError for {what}", _describe(exc))
    await session.close()


@_check()
async def _orders_never_resent_after_5xx(ctx: Context) -> None:
    """An order POST, PUT or DELETE answered 500 or 503 raises ServerError and is sent
    once."""
    session = await ctx.logged_in()
    for status in (500, 503):
        for method, path in _ORDER_CALLS:
            ctx.api.inject(Fault(FaultKind.SERVER_ERROR, status=status, method=method, path=path))
            exc = await ctx.failure(session.run(session.calls.request(method, path, json={})))
            expect(isinstance(exc, ServerError), f"ServerError for {method}", _describe(exc))
    for method, path in _ORDER_CALLS:
        count = ctx.api.count(method, path)
        expect(count == 2, f"{method} {path} sent once per 5xx (2)", count)
    await session.close()


@_check()
async def _connection_refused_is_not_sent(ctx: Context) -> None:
    """A refused connection is TransportError with request_sent False."""
    scheme = "https" if ctx.server.tls else "http"
    session = ctx.session(base_url=f"{scheme}://127.0.0.1:{_closed_port()}")
    calls = session.calls
    exc = await ctx.failure(session.run(calls.login_with_oauth(DEMO_CLIENT_SECRET, "x")))
    expect(
        isinstance(exc, TransportError) and exc.request_sent is False,
        "TransportError with request_sent=False",
        _describe(exc),
    )
    await session.close()


@_check()
async def _tls_verified_by_default(ctx: Context) -> None:
    """Without a CA of its own, a session trusts only the system's authorities (as
    ssl.create_default_context() does): the fake's throw-away CA is refused, before any
    request reaches the server, as TransportError with request_sent False."""
    session = ctx.session(trusted=False)
    calls = session.calls
    exc = await ctx.failure(session.run(calls.login_with_oauth(DEMO_CLIENT_SECRET, "x")))
    expect(
        isinstance(exc, TransportError) and exc.request_sent is False,
        "TransportError with request_sent=False (certificate refused)",
        _describe(exc),
    )
    expect(not ctx.api.requests, "no request at the server", len(ctx.api.requests))
    await session.close()


@_check()
async def _custom_ca_trusted(ctx: Context) -> None:
    """A session given ``ssl_context=`` trusting the fake's CA logs in over HTTPS."""
    session = ctx.session(ssl_context=ctx.server.client_ssl_context())
    await session.run(session.calls.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN))
    await session.close()


@_check()
async def _cut_after_sending_is_sent(ctx: Context) -> None:
    """A connection that closes after the request went out is TransportError with
    request_sent True."""
    session = await ctx.logged_in()
    ctx.api.inject(Fault(FaultKind.DISCONNECT, method="POST", path=ORDERS))
    exc = await ctx.failure(session.run(session.calls.request("POST", ORDERS, json={})))
    expect(
        isinstance(exc, TransportError) and exc.request_sent is True,
        "TransportError with request_sent=True",
        _describe(exc),
    )
    await session.close()


@_check()
async def _slow_answer_times_out(ctx: Context) -> None:
    """An answer that comes later than ``timeout=`` raises TransportTimeout in about
    that time."""
    session = await ctx.logged_in(timeout=SHORT_TIMEOUT)
    ctx.api.inject(Fault(FaultKind.SLOW, delay=30, method="POST", path=ORDERS))
    exc, took = await ctx.timed_failure(session.run(session.calls.request("POST", ORDERS, json={})))
    expect(isinstance(exc, TransportTimeout), "TransportTimeout", _describe(exc))
    expect(
        took < SHORT_TIMEOUT + TIMEOUT_SLACK,
        f"the timeout within {SHORT_TIMEOUT + TIMEOUT_SLACK:.1f} s",
        f"{took:.2f} s",
    )
    await session.close()


@_check()
async def _timeout_is_a_whole_request_deadline(ctx: Context) -> None:
    """An answer whose bytes each come in time but whose whole takes longer than
    ``timeout=`` raises TransportTimeout at the deadline (not a limit on each read)."""
    session = await ctx.logged_in(timeout=SHORT_TIMEOUT)
    ctx.server.drip = ORDERS
    exc, took = await ctx.timed_failure(session.run(session.calls.request("POST", ORDERS, json={})))
    ctx.server.drip = None
    expect(isinstance(exc, TransportTimeout), "TransportTimeout", _describe(exc))
    expect(
        took < SHORT_TIMEOUT + TIMEOUT_SLACK,
        f"the timeout within {SHORT_TIMEOUT + TIMEOUT_SLACK:.1f} s",
        f"{took:.2f} s",
    )
    await session.close()


@_check()
async def _gzip_bodies(ctx: Context) -> None:
    """Requests accept gzip (Accept-Encoding) and gzip-compressed answers are decoded."""
    ctx.server.gzip = True
    session = await ctx.logged_in()
    positions = await session.run(session.calls.request("GET", f"/accounts/{ACCOUNT}/positions"))
    sent = ctx.api.requests[-1]
    accepted = ",".join(v for k, v in sent.headers if k.lower() == "accept-encoding")
    expect("gzip" in accepted.lower(), "Accept-Encoding naming gzip", repr(accepted or None))
    expect(ctx.server.gzipped >= 2, "gzip-compressed answers", ctx.server.gzipped)
    expect(len(positions.items) == 3, "3 positions decoded", len(positions.items))
    await session.close()


@_check(tls=False)
async def _through_a_connect_proxy(ctx: Context) -> None:
    """With ``proxy=``, HTTPS goes through an HTTP CONNECT tunnel (credentials from the
    URL as Proxy-Authorization); a proxy that is not there is TransportError with
    request_sent False."""
    with ConformanceServer(ctx.api, tls=True) as server, ConnectProxy() as proxy:
        url = proxy.url.replace("http://", "http://trader:proxy-secret@")
        settings: dict[str, Any] = {"base_url": server.base_url, "timeout": SESSION_TIMEOUT}
        settings["ssl_context"] = server.client_ssl_context()
        session = ctx.session(proxy=url, **settings)
        await session.run(session.calls.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN))
        await session.run(session.calls.request("GET", "/customers/me"))
        await session.close()
        expect(
            proxy.tunnels[:1] == [f"127.0.0.1:{server.port}"],
            f"a tunnel to 127.0.0.1:{server.port}",
            proxy.tunnels,
        )
        expect(
            proxy.credentials[:1] == ["Basic dHJhZGVyOnByb3h5LXNlY3JldA=="],
            "the proxy's credentials",
            proxy.credentials[:1],
        )
        dead = f"http://trader:proxy-secret@127.0.0.1:{_closed_port()}"
        session = ctx.session(proxy=dead, **settings)
        calls = session.calls
        exc = await ctx.failure(session.run(calls.login_with_oauth(DEMO_CLIENT_SECRET, "x")))
        expect(
            isinstance(exc, TransportError) and exc.request_sent is False,
            "TransportError with request_sent=False (no proxy)",
            _describe(exc),
        )
        expect("proxy-secret" not in str(exc), "no proxy password in the error", str(exc))
        await session.close()


@_check(runners=("asyncio", "trio"))
async def _cancellation_mid_request(ctx: Context) -> None:
    """A call cancelled while its GET waits for the answer ends at once and the session
    stays usable; a refresh cancelled in flight still hands the rotated token to the
    token store (it must complete)."""
    ctx.api.rotate_refresh_tokens = True
    kept: list[TokenEvent] = []
    session = await ctx.logged_in(token_store=kept.append)
    ctx.api.inject(Fault(FaultKind.SLOW, delay=30, method="GET", path="/customers/me"))
    start = time.monotonic()
    cancelled = await ctx.cancel_after(
        0.2, lambda: session.run(session.calls.request("GET", "/customers/me"))
    )
    took = time.monotonic() - start
    expect(cancelled, "the cancellation to reach the caller", "the call finished")
    expect(took < 2.0, "the cancelled call to end within 2 s", f"{took:.2f} s")
    ctx.api.inject(Fault(FaultKind.SLOW, delay=0.6, path="/oauth/token"))
    cancelled = await ctx.cancel_after(0.15, lambda: session.run(session.calls.refresh()))
    expect(cancelled, "the refresh's cancellation to reach the caller", "it finished")
    rotated = [e.token for e in kept if isinstance(e, RefreshTokenRotated)]
    expect(len(rotated) == 2, "the cancelled refresh's rotated token stored", len(rotated))
    machine = session.calls.machine
    expect(machine.refresh_token == rotated[-1], "the session to hold it", "another token")
    await session.run(session.calls.request("GET", "/customers/me"))
    await session.close()


@_check()
async def _nothing_left_behind(ctx: Context) -> None:
    """After close(), no socket (file descriptor) or thread the session opened is left."""
    has_fds = os.path.isdir("/proc/self/fd")

    async def round_trip() -> None:
        with ConformanceServer(tls=True) as server:  # stopped (and joined) before counting
            inner = Context(ctx.factory, ctx.runner, server)
            try:
                for _ in range(2):
                    session = await inner.logged_in()
                    await session.run(session.calls.request("GET", "/customers/me"))
                    await session.run(session.calls.logout())
                    await session.close()
            finally:
                await inner.close_all()

    await round_trip()  # imports, caches, the CA
    gc.collect()
    threads = set(threading.enumerate())
    fds = len(os.listdir("/proc/self/fd")) if has_fds else 0
    await round_trip()
    gc.collect()
    # trio keeps idle worker threads for name lookups in a cache of its own.
    started = [
        t.name for t in set(threading.enumerate()) - threads if not t.name.startswith("Trio")
    ]
    expect(not started, "no thread left", started)
    if has_fds:
        now = len(os.listdir("/proc/self/fd"))
        expect(now <= fds, f"at most {fds} open file descriptors", now)


@_check()
async def _system_trust_store(ctx: Context) -> None:
    """Without a CA of its own, a session trusts what ``ssl.create_default_context()``
    trusts: the system's store, which ``SSL_CERT_FILE`` names here (a bundle of its own,
    certifi's say, would refuse the fake's CA)."""
    saved = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = ctx.server.ca_path
    try:
        probe = ssl.create_default_context()
        expect(probe.cert_store_stats()["x509_ca"] >= 1, "SSL_CERT_FILE honoured", probe)
        session = ctx.session(trusted=False)
        login = session.calls.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        exc = await ctx.failure(session.run(login))
    finally:
        if saved is None:
            del os.environ["SSL_CERT_FILE"]
        else:
            os.environ["SSL_CERT_FILE"] = saved
    await session.close()
    expect(exc is None, "a login trusting the system store", _describe(exc))


# -- websockets ---------------------------------------------------------------------------

_SETUP = (
    '{"type":"SETUP","channel":0,"version":"0.1","keepaliveTimeout":60,"acceptKeepaliveTimeout":60}'
)


async def _runtime(session: Face) -> Any:
    try:
        return session.session.streaming_runtime()
    except Exception as exc:
        raise CheckSkipped(f"the session gives no streaming_runtime() ({exc})") from None


async def _open(runtime: Any, url: str, headers: list[tuple[str, str]]) -> Any:
    return await _settle(runtime.open_websocket(url, headers, 10.0))


async def _receive_until(ws: Any, text: str) -> str:
    for _ in range(20):
        message = await _settle(ws.receive(STREAM_WAIT))
        expect(message is not None, f"a message within {STREAM_WAIT} s", "none")
        if text in message:
            return str(message)
    raise CheckFailed(f"expected a message with {text}; saw others only")


@_check()
async def _websocket_send_receive_close(ctx: Context) -> None:
    """``open_websocket`` reaches the fake's DXLink over TLS (with the User-Agent given),
    sends and receives text, takes the server's close code (1012) as WebSocketClosed, and
    closes."""
    session = ctx.session()
    runtime = await _runtime(session)
    ws = await _open(runtime, ctx.server.dxlink_url, [("user-agent", "kit/1")])
    await _settle(ws.send(_SETUP))
    await _receive_until(ws, '"SETUP"')
    ctx.api.inject_stream_fault(StreamFault(StreamFaultKind.RESTART))
    exc = await ctx.failure(_receive_until(ws, "never"))
    expect(
        isinstance(exc, WebSocketClosed) and exc.code == 1012,
        "WebSocketClosed with code 1012",
        _describe(exc) + (f" code={exc.code}" if isinstance(exc, WebSocketClosed) else ""),
    )
    await _settle(ws.close())
    await session.close()


@_check()
async def _websocket_tls_verified_by_default(ctx: Context) -> None:
    """A websocket to a server whose CA is not trusted is refused: TransportError with
    request_sent False."""
    session = ctx.session(trusted=False)
    runtime = await _runtime(session)
    exc = await ctx.failure(_open(runtime, ctx.server.dxlink_url, []))
    expect(
        isinstance(exc, TransportError) and exc.request_sent is False,
        "TransportError with request_sent=False",
        _describe(exc),
    )
    await session.close()


@_check(tls=False)
async def _websocket_through_a_connect_proxy(ctx: Context) -> None:
    """With ``proxy=``, a ``wss://`` websocket goes through a CONNECT tunnel."""
    with ConformanceServer(ctx.api, tls=True) as server, ConnectProxy() as proxy:
        probe = ctx.session(base_url=server.base_url, ssl_context=server.client_ssl_context())
        await _runtime(probe)
        await probe.close()
        session = ctx.session(
            base_url=server.base_url, ssl_context=server.client_ssl_context(), proxy=proxy.url
        )
        runtime = await _runtime(session)
        ws = await _open(runtime, server.dxlink_url, [])
        await _settle(ws.send(_SETUP))
        await _receive_until(ws, '"SETUP"')
        await _settle(ws.close())
        await session.close()
        expect(proxy.tunnels == [f"127.0.0.1:{server.port}"], "one tunnel", proxy.tunnels)


@contextlib.asynccontextmanager
async def _entered(ctx: Context, stream: Any) -> Any:
    if ctx.runner == "sync":
        with stream:
            yield stream
    else:
        async with stream:
            yield stream


@_check()
async def _market_stream(ctx: Context) -> None:
    """``market_stream()`` connects and delivers a Quote for a subscribed symbol."""
    from ..streaming import Quote

    session = await ctx.logged_in()
    await _runtime(session)
    async with _entered(ctx, session.session.market_stream()) as feed:
        await _settle(feed.subscribe(Quote, ["SPY"]))
        quote = await ctx.until(feed, lambda e: isinstance(e, Quote))
        expect(quote.symbol == "SPY", "a SPY quote", quote.symbol)
    await session.close()


@_check()
async def _account_stream(ctx: Context) -> None:
    """``account_stream()`` connects, resyncs, and reports an order placed over REST."""
    from ..streaming import OrderUpdated, Resync

    session = await ctx.logged_in()
    await _runtime(session)
    async with _entered(ctx, session.session.account_stream([ACCOUNT])) as stream:
        await ctx.until(stream, lambda e: isinstance(e, Resync))
        order = {
            "time-in-force": "Day",
            "order-type": "Limit",
            "price": "150.00",
            "price-effect": "Debit",
            "legs": [
                {
                    "instrument-type": "Equity",
                    "symbol": "AAPL",
                    "quantity": 1,
                    "action": "Buy to Open",
                }
            ],
        }
        placed = await session.run(session.calls.request("POST", ORDERS, json=order))
        order_id = placed.data["order"]["id"]
        await ctx.until(stream, lambda e: isinstance(e, OrderUpdated) and e.order.id == order_id)
    await session.close()


#: Every check's name, in the order they run.
CHECKS: tuple[str, ...] = tuple(c.name for c in _REGISTRY)


# -- running the kit ----------------------------------------------------------------------


def _run_one(spec: _Check, factory: Callable[..., Any], runner: Runner) -> CheckResult:
    start = time.monotonic()
    try:
        with ConformanceServer(tls=spec.tls) as server:
            ctx = Context(factory, runner, server)

            async def body() -> None:
                try:
                    await spec.body(ctx)
                finally:
                    await ctx.close_all()

            ctx.run(body)
    except CheckSkipped as skipped:
        return CheckResult(spec.name, "skipped", str(skipped), time.monotonic() - start)
    except CheckFailed as failed:
        return CheckResult(spec.name, "failed", str(failed), time.monotonic() - start)
    except Exception as exc:  # anything unexpected fails this check, not the kit
        detail = f"unexpected {_describe(exc)}"
        return CheckResult(spec.name, "failed", detail, time.monotonic() - start)
    return CheckResult(spec.name, "passed", "", time.monotonic() - start)


def _subject(factory: Callable[..., Any]) -> str:
    target: Any = factory
    while isinstance(target, functools.partial):
        target = target.func
    module = getattr(target, "__module__", "?")
    return f"{module}.{getattr(target, '__qualname__', repr(target))}"


class ConformanceKit:
    """Runs the checks (what the ``tastytrade_conformance`` fixture gives a test)."""

    checks = CHECKS

    def run(
        self,
        factory: Callable[..., Any],
        *,
        runner: Runner | None = None,
        only: Collection[str] | None = None,
        skip: Mapping[str, str] | Collection[str] = (),
    ) -> ConformanceReport:
        """Run the checks against ``factory``'s sessions; the report, failures or not.

        ``runner`` is ``"sync"``, ``"asyncio"`` or ``"trio"`` (default:
        :func:`detect_runner`). ``only`` names the checks to run (default: all of
        :data:`CHECKS`); ``skip`` names checks that do not apply (a mapping gives each its
        reason), reported as skipped.
        """
        kind = runner if runner is not None else detect_runner(factory)
        if kind not in ("sync", "asyncio", "trio"):
            raise ValueError(f"runner must be 'sync', 'asyncio' or 'trio', not {kind!r}")
        names = set(CHECKS if only is None else only) | set(skip)
        unknown = sorted(names - set(CHECKS))
        if unknown:
            raise ValueError(f"no such check: {', '.join(unknown)} (see CHECKS)")
        reasons = dict(skip) if isinstance(skip, Mapping) else dict.fromkeys(skip, "skipped")
        results = []
        for spec in _REGISTRY:
            if only is not None and spec.name not in only:
                continue
            if spec.name in reasons:
                results.append(CheckResult(spec.name, "skipped", reasons[spec.name]))
            elif kind not in spec.runners:
                reason = "a synchronous session is cancelled by Ctrl-C: not checked"
                results.append(CheckResult(spec.name, "skipped", reason))
            else:
                results.append(_run_one(spec, factory, kind))
        return ConformanceReport(_subject(factory), kind, tuple(results))

    def check(
        self,
        factory: Callable[..., Any],
        *,
        runner: Runner | None = None,
        only: Collection[str] | None = None,
        skip: Mapping[str, str] | Collection[str] = (),
    ) -> ConformanceReport:
        """As :meth:`run`, then raise ``AssertionError`` listing every failed check."""
        report = self.run(factory, runner=runner, only=only, skip=skip)
        report.raise_for_failures()
        return report

    def describe(self) -> Iterator[tuple[str, str]]:
        """Each check's name and what it checks."""
        for spec in _REGISTRY:
            yield spec.name, spec.doc


def run(
    factory: Callable[..., Any],
    *,
    runner: Runner | None = None,
    only: Collection[str] | None = None,
    skip: Mapping[str, str] | Collection[str] = (),
) -> ConformanceReport:
    """Run the checks against ``factory``'s sessions (see :meth:`ConformanceKit.run`)."""
    return ConformanceKit().run(factory, runner=runner, only=only, skip=skip)


def check(
    factory: Callable[..., Any],
    *,
    runner: Runner | None = None,
    only: Collection[str] | None = None,
    skip: Mapping[str, str] | Collection[str] = (),
) -> ConformanceReport:
    """Run the checks and raise ``AssertionError`` listing every failed one (see
    :meth:`ConformanceKit.check`)."""
    return ConformanceKit().check(factory, runner=runner, only=only, skip=skip)
