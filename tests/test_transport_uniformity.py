"""Where the three transports used to differ, one behaviour (issue 16), over real sockets.

- One trust store: the system's (``ssl.create_default_context()``), in all three.
- ``request_sent`` is false when nothing of the request reached the server (a TLS
  handshake that failed, a proxy that refused CONNECT, no connection): an order is then
  certainly not placed, with no look-up. A cut after the request went out stays "sent".
- Every transport asks for gzip and decompresses, within the same bound on body size.
- trio's pool opens at most its limit of connections to a host, as aiohttp's connector.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tastytrade_proto import DecodeError, TransportError, TransportTimeout
from tastytrade_proto.orders import NewLeg, NewOrder, OrderNotPlaced, OrderOutcomeUnknown
from tastytrade_proto.protocol import Request, Response
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FakeTastytradeAPI,
    FakeTastytradeServer,
    Fault,
    FaultKind,
)
from tastytrade_proto.testing.fake.api import Reply

from .harness import TRANSPORTS, Facade, Harness
from .proxy import ConnectProxy

ACCOUNT = "5WT00001"
ORDER = NewOrder.limit(NewLeg.equity("AAPL", "Buy to Open", 1), Decimal("-1.00"))
ORDERS = f"/accounts/{ACCOUNT}/orders"


def logged_in(h: Harness) -> str:
    """A session's dump, logged in to ``h.server`` the usual way."""

    async def body() -> str:
        session = h.session()
        await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        text: str = session.dump()
        await session.close()
        return text

    result: str = h.run(body)
    return result


def place(h: Harness, text: str, **settings: Any) -> BaseException:
    """Place ORDER from a session loaded from ``text`` with ``settings``; what it raised."""

    async def body() -> BaseException:
        loaded = h.module.Session.load(text, client_secret=DEMO_CLIENT_SECRET, **settings)
        session = Facade(loaded, h.sync)
        try:
            await session.place_order(ACCOUNT, ORDER, reconcile_delays=(0.01,))
        except (OrderNotPlaced, OrderOutcomeUnknown) as exc:
            return exc
        finally:
            await session.close()
        raise AssertionError("the order was placed")

    result: BaseException = h.run(body)
    return result


def assert_not_placed(error: BaseException, server: FakeTastytradeServer) -> None:
    assert isinstance(error, OrderNotPlaced), repr(error)
    assert isinstance(error.error, TransportError) and error.error.request_sent is False
    assert server.api.count("POST", ORDERS) == 0
    assert server.api.count("GET", f"{ORDERS}/live") == 0  # no reconciliation


# -- one trust store ---------------------------------------------------------------------------


@pytest.fixture
def fresh_trust() -> Iterator[None]:
    """The system trust store read again (each transport makes it once per store)."""

    def clear() -> None:
        for kind in TRANSPORTS:
            importlib.import_module(f"tastytrade_{kind}")._system_tls_at.cache_clear()

    clear()
    yield
    clear()


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_every_transport_trusts_the_system_store(
    kind: str, fresh_trust: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OpenSSL reads SSL_CERT_FILE as the system store: the fake's CA, trusted by all three
    # (requests used to trust certifi's bundle instead, whatever the system said).
    with FakeTastytradeServer(tls=True) as server:
        monkeypatch.setenv("SSL_CERT_FILE", server.ca_path)
        h = Harness(kind, server)

        async def body() -> None:
            session = Facade(h.module.Session(base_url=server.base_url), h.sync)
            await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            await session.request("GET", "/customers/me")
            await session.close()

        h.run(body)
        assert server.api.count("GET", "/customers/me") == 1


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_a_given_context_is_used_as_it_is(kind: str) -> None:
    # Nothing is loaded into a caller's context (requests used to add certifi's bundle to
    # it on every connection), and it alone decides what is trusted.
    import ssl

    with FakeTastytradeServer(tls=True) as server:
        h = Harness(kind, server)
        context = server.client_ssl_context()
        before = context.cert_store_stats()

        async def body() -> None:
            session = h.session(ssl_context=context)
            await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            await session.close()

        h.run(body)
        assert context.cert_store_stats() == before
        assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


# -- request_sent: nothing reached the server -------------------------------------------------


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_an_order_whose_tls_handshake_fails_is_not_placed(kind: str, fresh_trust: None) -> None:
    with FakeTastytradeServer(tls=True) as server:
        h = Harness(kind, server)
        text = logged_in(h)
        # The system store does not know the fake's CA: the handshake fails.
        error = place(h, text, base_url=server.base_url)
        assert_not_placed(error, server)
        assert "CERTIFICATE_VERIFY_FAILED" in str(error.__cause__ or error)


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_an_order_to_a_server_that_speaks_no_tls_is_not_placed(kind: str) -> None:
    with FakeTastytradeServer() as server:  # plain HTTP, asked for TLS
        h = Harness(kind, server)
        text = logged_in(h)
        error = place(h, text, base_url=server.base_url.replace("http://", "https://"))
        assert_not_placed(error, server)


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_an_order_through_a_proxy_that_refuses_connect_is_not_placed(kind: str) -> None:
    with FakeTastytradeServer(tls=True) as server, ConnectProxy() as proxy:
        h = Harness(kind, server)
        text = logged_in(h)
        # The proxy tunnels to loopback only: it answers 403 to CONNECT anywhere else.
        error = place(
            h,
            text,
            base_url="https://api.refused.invalid",
            proxy=proxy.url,
            ssl_context=server.client_ssl_context(),
        )
        assert_not_placed(error, server)
        assert proxy.tunnels == []


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_an_order_to_a_closed_port_is_not_placed(kind: str) -> None:
    with FakeTastytradeServer(tls=True) as server:
        h = Harness(kind, server)
        text = logged_in(h)
        error = place(h, text, base_url="https://127.0.0.1:1", ssl_context=ssl_context(server))
        assert_not_placed(error, server)


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_an_order_cut_off_after_it_went_out_over_tls_is_looked_up(kind: str) -> None:
    with FakeTastytradeServer(tls=True) as server:
        h = Harness(kind, server)
        text = logged_in(h)
        server.api.inject(Fault(FaultKind.DISCONNECT, method="POST", path=ORDERS))
        error = place(h, text, base_url=server.base_url, ssl_context=ssl_context(server))
        assert isinstance(error, OrderOutcomeUnknown), repr(error)
        assert server.api.count("POST", ORDERS) == 1
        assert server.api.count("GET", f"{ORDERS}/live") >= 1  # reconciled


def ssl_context(server: FakeTastytradeServer) -> Any:
    return server.client_ssl_context()


# -- gzip ----------------------------------------------------------------------------------------


class CompressingAPI(FakeTastytradeAPI):
    """The fake, answering in ``coding`` to whoever accepts it; notes the sizes it sent."""

    def __init__(self, coding: str = "gzip", *, bomb: bool = False) -> None:
        super().__init__()
        self.coding, self.bomb = coding, bomb
        self.sizes: list[tuple[int, int]] = []  # (plain, on the wire) of each compressed answer
        self.accepted: list[str] = []

    def handle(self, request: Request) -> Reply:
        reply = super().handle(request)
        accepted = dict(request.headers).get("accept-encoding", "")
        self.accepted.append(accepted)
        response = reply.response
        plain = b"\0" * (65 * 1024 * 1024) if self.bomb else response.body
        if self.coding not in accepted or not plain:
            return reply
        body = gzip.compress(plain, 6) if self.coding == "gzip" else zlib.compress(plain, 6)
        self.sizes.append((len(plain), len(body)))
        headers = (*response.headers, ("content-encoding", self.coding))
        return dataclasses.replace(reply, response=Response(response.status, headers, body))


def chain_through(kind: str, api: FakeTastytradeAPI) -> Any:
    with FakeTastytradeServer(api) as server:
        h = Harness(kind, server)

        async def body() -> Any:
            session = h.session()
            await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            chain = await session.nested_option_chain("SPY")
            await session.close()
            return chain

        return h.run(body)


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
@pytest.mark.parametrize("kind", TRANSPORTS)
def test_every_transport_asks_for_compression_and_decompresses(kind: str, coding: str) -> None:
    plain = chain_through(kind, FakeTastytradeAPI())
    api = CompressingAPI(coding)
    assert chain_through(kind, api) == plain
    assert all("gzip" in accepted and "deflate" in accepted for accepted in api.accepted)
    biggest, on_the_wire = max(api.sizes)
    assert on_the_wire < biggest / 4  # the chain came compressed


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_a_body_too_big_once_decompressed_is_refused_alike(kind: str) -> None:
    api = CompressingAPI("gzip")
    with FakeTastytradeServer(api) as server:
        h = Harness(kind, server)

        async def body() -> None:
            session = h.session()
            await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            api.bomb = True  # 65 MiB of zeros, 65 KB on the wire
            with pytest.raises(DecodeError, match="67108864"):
                await session.request("GET", "/customers/me")
            await session.close()

        h.run(body)


# -- a bounded pool ---------------------------------------------------------------------------


def many_calls(
    kind: str, server: FakeTastytradeServer, tasks: int, calls: int, **pool: Any
) -> None:
    h = Harness(kind, server)

    async def body() -> None:
        settings: dict[str, Any] = {}
        if pool:
            settings["client"] = h.module.ConnectionPool(**pool)
        session = h.session(**settings)
        await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)

        async def worker() -> None:
            for _ in range(calls):
                await session.customer()

        if kind == "trio":
            import trio

            async with trio.open_nursery() as nursery:
                for _ in range(tasks):
                    nursery.start_soon(worker)
        else:
            import asyncio

            await asyncio.gather(*(worker() for _ in range(tasks)))
        await session.close()
        if pool:
            await settings["client"].aclose()

    h.run(body)
    assert server.api.count("GET", "/customers/me") == tasks * calls


@pytest.mark.parametrize("kind", ["aiohttp", "trio"])
def test_a_hundred_tasks_open_at_most_a_hundred_connections(kind: str) -> None:
    with FakeTastytradeServer() as server:
        many_calls(kind, server, tasks=100, calls=5)
        assert server.accepted <= 100  # trio used to open about 290


def test_trio_tasks_wait_for_a_connection_beyond_the_pools_limit() -> None:
    with FakeTastytradeServer() as server:
        many_calls("trio", server, tasks=30, calls=3, max_per_host=3)
        assert server.accepted <= 3


def test_a_trio_task_waiting_for_a_connection_times_out_with_nothing_sent() -> None:
    import trio
    import trio.testing

    from tastytrade_trio import ConnectionPool

    with FakeTastytradeServer() as server:
        h = Harness("trio", server)
        server.api.inject(Fault(FaultKind.SLOW, delay=30, path="/customers"))

        async def body() -> None:
            pool = ConnectionPool(max_per_host=1)
            session = h.session(client=pool)
            await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(session.customer)  # holds the one connection
                await trio.testing.wait_all_tasks_blocked()
                with pytest.raises(TransportTimeout) as info:
                    await session.request("GET", "/accounts", timeout=0.2)
                assert info.value.request_sent is False
                nursery.cancel_scope.cancel()
            await session.close()
            await pool.aclose()

        h.run(body)
        assert server.api.count("GET", "/accounts") == 0


def test_a_pool_limit_below_one_is_refused() -> None:
    from tastytrade_trio import ConnectionPool

    with pytest.raises(ValueError, match="at least 1"):
        ConnectionPool(max_per_host=0)
