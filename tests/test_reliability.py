"""The promises under cancellation, threads, timeouts and old dependencies, over real sockets.

Each situation here broke a promise before the core marked single-use and order requests
as must-complete (the answer reaches the core even when the caller is cancelled), before
threads could share a synchronous session, and before per-call timeouts meant one thing
in every transport.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from tastytrade_proto import (
    LocalProtocolError,
    RefreshTokenRotated,
    RememberTokenIssued,
    RetryPolicy,
    SessionExpired,
    TokenEvent,
    TransportTimeout,
)
from tastytrade_proto.orders import NewLeg, NewOrder, OrderNotPlaced
from tastytrade_proto.protocol import AuthState
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeTastytradeAPI,
    FakeTastytradeServer,
    Fault,
    FaultKind,
)
from tastytrade_proto.testing.fake import SecondFactor

from .campaign import no_collection
from .harness import TRANSPORTS, Facade, Harness

ACCOUNT = "5WT00001"


@pytest.fixture
def server() -> Iterator[FakeTastytradeServer]:
    with FakeTastytradeServer(FakeTastytradeAPI(rotate_refresh_tokens=True), tls=True) as running:
        yield running


@pytest.fixture(params=TRANSPORTS)
def h(request: pytest.FixtureRequest, server: FakeTastytradeServer) -> Harness:
    return Harness(request.param, server)


async def cancel_after(h: Harness, seconds: float, call: Callable[[], Awaitable[Any]]) -> bool:
    """Run ``call`` and cancel it as its kind of caller would after ``seconds``.

    asyncio: ``wait_for``; trio: ``move_on_after``; requests: ``KeyboardInterrupt`` in the
    main thread. True if the cancellation reached the caller.
    """
    if h.kind == "trio":
        import trio

        with trio.move_on_after(seconds) as scope:
            await call()
        return scope.cancelled_caught
    if h.kind == "aiohttp":
        try:
            await asyncio.wait_for(call(), seconds)
        except asyncio.TimeoutError:
            return True
        return False
    assert threading.current_thread() is threading.main_thread()
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(seconds, signal.pthread_kill, (main, signal.SIGINT))  # Ctrl-C
    with no_collection():
        timer.start()
        try:
            await call()
        except KeyboardInterrupt:
            return True
        finally:
            timer.cancel()
    return False


def resumed(h: Harness, session: Facade, **settings: Any) -> Facade:
    """``session`` dumped and loaded again: a resumed session does not know its token's
    lifetime, so a token with less than ``REFRESH_MARGIN`` (60 s) left is due at once."""
    settings.setdefault("base_url", h.server.base_url)
    settings.setdefault("ssl_context", h.server.client_ssl_context())
    loaded = h.module.Session.load(session.dump(), client_secret=DEMO_CLIENT_SECRET, **settings)
    return Facade(loaded, h.sync)


class Store:
    """A token store: keeps what arrives."""

    def __init__(self) -> None:
        self.events: list[TokenEvent] = []

    def __call__(self, event: TokenEvent) -> None:
        self.events.append(event)

    def last(self, kind: type) -> str:
        tokens = [e.token for e in self.events if isinstance(e, kind)]
        assert tokens, f"no {kind.__name__} reached the store"
        return tokens[-1]


# -- 1. cancellation never spends a single-use token ------------------------------------------


def test_a_refresh_cancelled_in_flight_still_hands_over_the_rotated_token(h: Harness) -> None:
    store = Store()

    async def body() -> None:
        session = h.session(token_store=store)
        await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        # The fake rotates the refresh token, then answers 0.6 s later.
        h.server.api.inject(Fault(FaultKind.SLOW, delay=0.6, path="/oauth/token"))
        assert await cancel_after(h, 0.15, session.refresh)
        assert session.machine.refresh_token == store.last(RefreshTokenRotated)
        assert session.machine.state is AuthState.AUTHENTICATED
        await session.customer()  # still usable, no renewal needed
        await session.close()

        again = h.session()  # the stored token is the live one
        await again.login_with_oauth(DEMO_CLIENT_SECRET, store.last(RefreshTokenRotated))
        await again.close()

    h.run(body)
    rotated = [e for e in store.events if isinstance(e, RefreshTokenRotated)]
    assert len(rotated) == 2  # the login's and the cancelled refresh's
    assert h.server.api.count("POST", "/oauth/token") == 3


def test_a_renewal_under_a_cancelled_call_still_reaches_the_token_store(h: Harness) -> None:
    store = Store()
    api = h.server.api
    api.access_token_lifetime = 30  # inside the 60 s margin of a resumed session

    async def body() -> None:
        first = h.session(token_store=store)
        await first.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        session = resumed(h, first, token_store=store)
        await first.close()
        api.access_token_lifetime = 900
        api.inject(Fault(FaultKind.SLOW, delay=0.6, path="/oauth/token"))
        assert await cancel_after(h, 0.15, session.customer)  # renews first, then GETs
        await session.customer()  # the renewed token carries it: no second renewal
        await session.close()

    h.run(body)
    assert api.count("POST", "/oauth/token") == 2
    assert api.count("GET", "/customers/me") == 1  # the cancelled call never sent its GET
    assert len([e for e in store.events if isinstance(e, RefreshTokenRotated)]) == 2


def test_a_remember_token_login_cancelled_in_flight_keeps_the_new_token(h: Harness) -> None:
    store = Store()
    api = h.server.api

    async def body() -> None:
        first = h.session(token_store=store, prompting=True)
        await first.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)
        await first.close()  # keeps the session on the server; the remember token is ours

        api.inject(Fault(FaultKind.SLOW, delay=0.6, method="POST", path="/sessions"))
        second = h.session(token_store=store)
        spent = store.last(RememberTokenIssued)
        assert await cancel_after(
            h, 0.15, lambda: second.login_with_remember_token(DEMO_LOGIN, spent)
        )
        assert store.last(RememberTokenIssued) != spent
        assert second.machine.state is AuthState.AUTHENTICATED
        await second.balances(ACCOUNT)
        await second.close()

        third = h.session(token_store=store)
        await third.login_with_remember_token(DEMO_LOGIN, store.last(RememberTokenIssued))
        await third.close()

    h.run(body)
    assert api.remember_tokens(DEMO_LOGIN) == [store.last(RememberTokenIssued)]


def test_a_relogin_under_a_cancelled_call_keeps_the_new_remember_token(h: Harness) -> None:
    store = Store()
    api = h.server.api
    api.session_lifetime = 30  # resumed, due for renewal: the next call logs in again

    async def body() -> None:
        first = h.session(token_store=store, prompting=True)
        await first.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)
        session = resumed(h, first, token_store=store)
        await first.close()
        api.session_lifetime = 24 * 3600
        api.inject(Fault(FaultKind.SLOW, delay=0.6, method="POST", path="/sessions"))
        assert await cancel_after(h, 0.15, lambda: session.balances(ACCOUNT))
        await session.balances(ACCOUNT)
        await session.close()

    h.run(body)
    issued = [e.token for e in store.events if isinstance(e, RememberTokenIssued)]
    assert len(issued) == 2 and api.remember_tokens(DEMO_LOGIN) == issued[-1:]
    assert api.count("POST", "/sessions") == 3  # password (twice: the challenge) + relogin


def test_waiting_for_a_must_complete_answer_is_bounded_by_the_timeout(h: Harness) -> None:
    api = h.server.api

    async def body() -> None:
        session = h.session(timeout=0.5)
        await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        api.inject(Fault(FaultKind.SLOW, delay=30, path="/oauth/token"))
        started = time.monotonic()
        assert await cancel_after(h, 0.1, session.refresh)
        # Not the server's 30 s: the request's own deadline ended the wait. (A bound on
        # behaviour, not a speed measurement; the margin is wide.)
        assert time.monotonic() - started < 10
        assert not session.machine.exchange_in_flight
        await session.close()

    h.run(body)


# -- 2. threads and tasks share one session ---------------------------------------------------


@pytest.fixture
def busy_threads() -> Iterator[None]:
    """Threads switch every microsecond instead of every 5 ms: races show at once."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.usefixtures("busy_threads")
def test_threads_share_one_requests_session_and_one_refresh() -> None:
    from tastytrade_requests import Session

    api = FakeTastytradeAPI(rotate_refresh_tokens=True, access_token_lifetime=30)
    store = Store()
    failures: list[BaseException] = []
    with FakeTastytradeServer(api) as server:
        first = Session(base_url=server.base_url, token_store=store)
        first.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        # Resumed with 30 s left: due at once. One refresh must serve all 32 threads.
        session = Session.load(first.dump(), client_secret=DEMO_CLIENT_SECRET, token_store=store)
        api.access_token_lifetime = 900
        start = threading.Barrier(32)

        def work() -> None:
            try:
                start.wait()
                session.customer()
                session.balances(ACCOUNT)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=work) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        session.close()
        first.close()
    assert failures == []
    assert api.count("POST", "/oauth/token") == 2  # the login, then one refresh for 32 threads
    assert api.count("GET", "/customers/me") == 32
    assert len([e for e in store.events if isinstance(e, RefreshTokenRotated)]) == 2


@pytest.mark.parametrize("kind", ["aiohttp", "trio"])
def test_tasks_share_one_async_session_and_one_refresh(kind: str) -> None:
    api = FakeTastytradeAPI(rotate_refresh_tokens=True, access_token_lifetime=30)
    with FakeTastytradeServer(api) as server:
        h = Harness(kind, server)

        async def body() -> None:
            first = h.session()
            await first.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            session = resumed(h, first, ssl_context=None)
            await first.close()
            api.access_token_lifetime = 900
            if kind == "trio":
                import trio

                async with trio.open_nursery() as nursery:
                    for _ in range(32):
                        nursery.start_soon(session.customer)
            else:
                await asyncio.gather(*(session.customer() for _ in range(32)))
            await session.close()

        h.run(body)
    assert api.count("POST", "/oauth/token") == 2
    assert api.count("GET", "/customers/me") == 32


# -- 3. an order's outcome under cancellation --------------------------------------------------


def test_a_placement_cancelled_in_flight_is_placed_once_and_stays_reachable(h: Harness) -> None:
    api = h.server.api
    order = NewOrder.limit(NewLeg.equity("AAPL", "Buy to Open", 1), Decimal("-1.00"))

    async def body() -> None:
        session = h.session()
        await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        api.inject(Fault(FaultKind.SLOW, delay=0.6, method="POST", path="/accounts/"))
        assert await cancel_after(h, 0.15, lambda: session.place_order(ACCOUNT, order))
        (unsettled,) = session.unsettled_orders
        assert unsettled.account_number == ACCOUNT and not unsettled.complex
        assert unsettled.external_identifier.startswith("tp-")
        found = await session.find_order(ACCOUNT, unsettled.external_identifier)
        assert found is not None and found.external_identifier == unsettled.external_identifier
        assert session.unsettled_orders == ()  # looked up: settled
        await session.close()

    h.run(body)
    assert api.count("POST", f"/accounts/{ACCOUNT}/orders") == 1


def test_a_refused_placement_is_certainly_not_placed(h: Harness) -> None:
    odd = NewOrder.limit(NewLeg.equity("AAPL", "Buy to Open", 1), Decimal("-1.00"))

    async def body() -> None:
        session = h.session()
        await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        with pytest.raises(OrderNotPlaced) as info:
            await session.place_order("5WT99999", odd, reconcile_delays=(0.01,))
        assert info.value.error.__class__.__name__ in ("NotFound", "Forbidden")
        assert session.unsettled_orders == ()
        await session.close()

    h.run(body)


# -- 4. validate, timeouts ----------------------------------------------------------------------


def test_validate_after_a_401_with_nothing_to_renew_is_false(h: Harness) -> None:
    async def body() -> None:
        session = h.session()
        await session.login_with_password(DEMO_LOGIN, DEMO_PASSWORD, remember_me=False)
        h.server.api.expire_tokens()
        with pytest.raises(SessionExpired):
            await session.customer()
        assert session.machine.state is AuthState.EXPIRED
        assert await session.validate() is False
        assert await session.validate() is False
        await session.close()

    h.server.api.users[DEMO_LOGIN].second_factor = SecondFactor.NONE
    h.run(body)


def test_a_per_call_timeout_overrides_the_sessions(h: Harness) -> None:
    api = h.server.api

    async def body() -> None:
        session = h.session(timeout=30, retry=RetryPolicy(base=0.01))
        await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN, timeout=5)
        api.inject(Fault(FaultKind.SLOW, delay=5, method="GET", path="/customers/me", times=4))
        with pytest.raises(TransportTimeout):
            await session.customer(timeout=0.3)  # retried like any GET, each try cut at 0.3 s
        for bad in (0, -1, float("nan"), "1", True):
            with pytest.raises(LocalProtocolError, match="timeout"):
                await session.customer(timeout=bad)
        await session.close()

    h.run(body)


# -- 5. dependency floors, logging ------------------------------------------------------------


def test_an_aiohttp_without_the_resend_switch_is_refused() -> None:
    import aiohttp

    from tastytrade_aiohttp import Session

    async def body() -> None:
        client = aiohttp.ClientSession()
        try:
            # What aiohttp before 3.11 looks like: no way to stop it resending a PUT or DELETE.
            if "_retry_connection" in vars(client):
                del client._retry_connection
            else:  # pragma: no cover - depends on the aiohttp version
                pytest.skip("this aiohttp keeps the switch on the class")
            session = Session(base_url="http://127.0.0.1:1", client=client)
            with pytest.raises(LocalProtocolError, match=r"aiohttp>=3\.11"):
                await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        finally:
            await client.close()

    asyncio.run(body())


def test_the_logger_records_exchanges_and_retries_without_secrets(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    api = h.server.api
    api.inject(Fault(FaultKind.SERVER_ERROR, status=503, path="/customers/me"))
    store = Store()

    async def body() -> None:
        session = h.session(token_store=store)
        await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        await session.customer()
        await session.close()

    with caplog.at_level(logging.DEBUG, logger="tastytrade_proto"):
        h.run(body)
    lines = [r.getMessage() for r in caplog.records if r.name == "tastytrade_proto"]
    assert any(line.startswith("POST /oauth/token -> HTTP 200 (attempt 1, ") for line in lines)
    assert any(line.startswith("GET /customers/me -> HTTP 503 (attempt 1, ") for line in lines)
    assert any("GET /customers/me: retrying in" in line for line in lines)
    assert any(line.startswith("GET /customers/me -> HTTP 200 (attempt 2, ") for line in lines)
    levels = {r.getMessage().split(":")[0]: r.levelno for r in caplog.records}
    assert levels["GET /customers/me"] == logging.INFO
    secrets = [DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN, *(e.token for e in store.events)]
    for line in lines:
        assert not any(secret in line for secret in secrets), line


def test_tokens_shorter_than_the_margin_do_not_renew_in_a_loop() -> None:
    # A server that issues 30 s tokens (under the 60 s margin) had every token due the moment
    # it arrived, and every request renewed in a loop: the margin is now at most half the life.
    from tastytrade_requests import Session

    api = FakeTastytradeAPI(access_token_lifetime=30)
    with FakeTastytradeServer(api) as server, Session(base_url=server.base_url) as session:
        session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        for _ in range(5):
            session.customer()
    assert api.count("POST", "/oauth/token") == 1
    assert api.count("GET", "/customers/me") == 5


# -- 6. found in review ----------------------------------------------------------------------


def test_trio_holds_ctrl_c_until_a_refresh_answer_is_with_the_core() -> None:
    # trio delivers Ctrl-C to the main task by aborting what it waits on, shielded or not.
    import trio

    from tastytrade_trio import Session

    store = Store()
    api = FakeTastytradeAPI(rotate_refresh_tokens=True)
    with FakeTastytradeServer(api) as server:

        async def body() -> None:
            session = Session(base_url=server.base_url, token_store=store)
            await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            api.inject(Fault(FaultKind.SLOW, delay=0.6, path="/oauth/token"))
            main = threading.main_thread().ident
            assert main is not None
            timer = threading.Timer(0.15, signal.pthread_kill, (main, signal.SIGINT))
            with no_collection(), pytest.raises(KeyboardInterrupt):
                timer.start()
                await session.refresh()
            timer.cancel()
            await session.refresh()  # the stored token is the live one
            await session.close()

        trio.run(body)
    assert len([e for e in store.events if isinstance(e, RefreshTokenRotated)]) == 3


def test_threads_may_all_ask_for_a_refresh_at_once() -> None:
    from tastytrade_requests import Session

    api = FakeTastytradeAPI(rotate_refresh_tokens=True)
    failures: list[BaseException] = []
    with FakeTastytradeServer(api) as server, Session(base_url=server.base_url) as session:
        session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        start = threading.Barrier(8)

        def work() -> None:
            try:
                start.wait()
                for _ in range(5):
                    session.refresh()
                session.dump()
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        session.customer()  # the last rotated token is the one held: renewing still works
        session.refresh()
    assert failures == []
    assert api.count("POST", "/oauth/token") == 1 + 40 + 1  # one at a time, each waited for


def test_a_requests_client_whose_hook_reads_the_body_loses_nothing() -> None:
    import requests

    from tastytrade_requests import Session

    seen: list[int] = []
    client = requests.Session()
    client.hooks["response"].append(lambda reply, **_: seen.append(len(reply.text)))
    store = Store()
    api = FakeTastytradeAPI(rotate_refresh_tokens=True)
    with FakeTastytradeServer(api) as server:
        with Session(base_url=server.base_url, client=client, token_store=store) as session:
            session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            order = NewOrder.limit(NewLeg.equity("AAPL", "Buy to Open", 1), Decimal("-1.00"))
            placed = session.place_order(ACCOUNT, order)
        client.close()
    assert not placed.reconciled and placed.response is not None
    assert store.last(RefreshTokenRotated) and all(n > 0 for n in seen[:2])


def test_a_placement_cancelled_before_its_post_leaves_nothing_unsettled() -> None:
    api = FakeTastytradeAPI(rotate_refresh_tokens=True, access_token_lifetime=30)
    order = NewOrder.limit(NewLeg.equity("AAPL", "Buy to Open", 1), Decimal("-1.00"))
    with FakeTastytradeServer(api) as server:
        h = Harness("aiohttp", server)

        async def body() -> None:
            first = h.session()
            await first.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            session = resumed(h, first, ssl_context=None)  # due: renews before the POST
            await first.close()
            api.access_token_lifetime = 900
            api.inject(Fault(FaultKind.SLOW, delay=0.5, path="/oauth/token"))
            assert await cancel_after(h, 0.1, lambda: session.place_order(ACCOUNT, order))
            assert session.unsettled_orders == ()  # no POST went out: nothing to look for
            await session.close()

        h.run(body)
    assert api.count("POST", f"/accounts/{ACCOUNT}/orders") == 0


def test_a_complex_order_whose_orders_all_have_identifiers_is_found_by_the_reported_one(
    server: FakeTastytradeServer,
) -> None:
    from tastytrade_proto.orders import NewComplexOrder, OrderOutcomeUnknown

    close = NewLeg.equity("AAPL", "Sell to Close", 1)
    bracket = NewComplexOrder.otoco(
        NewOrder.limit(NewLeg.equity("AAPL", "Buy to Open", 1), "-150.00").with_external_identifier(
            "entry-9"
        ),
        NewOrder.limit(close, "230.00", time_in_force="GTC").with_external_identifier("tp-9"),
        NewOrder.stop(close, "140.00", time_in_force="GTC").with_external_identifier("sl-9"),
    )
    h = Harness("requests", server)
    server.api.inject(
        Fault(FaultKind.DISCONNECT, method="POST", path="/accounts/", after_handling=True)
    )
    server.api.inject(Fault(FaultKind.SERVER_ERROR, status=503, path="/accounts/", times=4))

    async def body() -> None:
        session = h.session(retry=RetryPolicy(base=0.01))
        await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        with pytest.raises(OrderOutcomeUnknown) as info:  # placed, and every look failed
            await session.place_complex_order(ACCOUNT, bracket, reconcile_delays=(0.01,))
        assert info.value.external_identifier == "entry-9"
        found = await session.find_complex_order(ACCOUNT, info.value.external_identifier)
        assert found is not None and found.complex_order is not None
        await session.close()

    h.run(body)
