"""Each transport's websocket (``Session.open_websocket``), over real sockets on loopback,
plain and TLS, against the websocket server of tests/wsserver.py."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from tastytrade_proto.errors import (
    LocalProtocolError,
    TransportError,
    TransportTimeout,
    WebSocketClosed,
)

from .proxy import ConnectProxy
from .wsserver import BIG, WebSocketServer

TRANSPORTS = ["requests", "aiohttp", "trio"]


class Face:
    """An async face on any transport's websocket (the requests one's calls are plain)."""

    def __init__(self, ws: Any, sync: bool) -> None:
        self.ws, self.sync = ws, sync

    async def _call(self, name: str, *args: Any) -> Any:
        result = getattr(self.ws, name)(*args)
        return result if self.sync else await result

    async def send(self, text: str) -> None:
        await self._call("send", text)

    async def receive(self, timeout: float | None = 10.0) -> str | None:
        result: str | None = await self._call("receive", timeout)
        return result

    async def close(self, code: int = 1000) -> None:
        await self._call("close", code)


class Client:
    """Sessions of one transport, their websockets, and a way to run an async test body."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.module = importlib.import_module(f"tastytrade_{kind}")
        self.sync = kind == "requests"

    def session(self, **settings: Any) -> Any:
        settings.setdefault("timeout", 10.0)
        return self.module.Session(**settings)

    async def open(
        self,
        session: Any,
        url: str,
        headers: tuple[tuple[str, str], ...] = (),
        timeout: float = 10.0,
    ) -> Face:
        result = session.open_websocket(url, headers, timeout)
        return Face(result if self.sync else await result, self.sync)

    async def close(self, session: Any) -> None:
        result = session.close()
        if not self.sync:
            await result

    def run(self, body: Callable[[], Awaitable[Any]]) -> Any:
        if self.kind == "trio":
            import trio

            return trio.run(body)
        if self.sync:  # nothing suspends: the body runs to its end in one step
            coroutine = body()
            try:
                coroutine.send(None)  # type: ignore[attr-defined]
            except StopIteration as done:
                return done.value
            coroutine.close()  # type: ignore[attr-defined]
            raise RuntimeError("a synchronous body awaited something that suspends")
        return asyncio.run(body())  # type: ignore[arg-type]


@pytest.fixture(params=[False, True], ids=["ws", "wss"])
def server(request: pytest.FixtureRequest) -> Iterator[WebSocketServer]:
    with WebSocketServer(tls=request.param) as running:
        yield running


@pytest.fixture(params=TRANSPORTS)
def client(request: pytest.FixtureRequest) -> Client:
    return Client(request.param)


def trusting(server: WebSocketServer) -> dict[str, Any]:
    return {"ssl_context": server.client_ssl_context()} if server.tls else {}


def test_echo_round_trip_and_the_user_agent(client: Client, server: WebSocketServer) -> None:
    async def body() -> None:
        session = client.session(user_agent="ws-test/1.0", **trusting(server))
        ws = await client.open(session, server.url("/echo"))
        for text in ('{"type":"SETUP"}', "ünïcode ✓", ""):
            await ws.send(text)
            assert await ws.receive() == text
        await ws.close()
        await ws.close()  # twice: nothing happens
        with pytest.raises(WebSocketClosed):
            await ws.send("after the close")
        with pytest.raises(WebSocketClosed):
            await ws.receive(0.01)
        ws = await client.open(session, server.url("/echo"), (("User-Agent", "mine/2"),))
        await ws.close()
        await client.close(session)

    client.run(body)
    assert server.requests[0][1]["user-agent"] == "ws-test/1.0"
    assert server.requests[1][1]["user-agent"] == "mine/2"
    assert server.closes == [1000, 1000]


def test_a_timeout_returns_none_and_loses_nothing(client: Client, server: WebSocketServer) -> None:
    async def body() -> None:
        session = client.session(**trusting(server))
        ws = await client.open(session, server.url("/split"))
        # Half a frame has come (or is coming): the receive gives up, the half stays.
        assert await ws.receive(0.1) is None
        assert await ws.receive(0) is None
        await ws.send("more")  # the server sends the rest, then echoes
        assert await ws.receive() == "split message"
        assert await ws.receive() == "more"
        await ws.close()
        ws = await client.open(session, server.url("/silent"))
        assert await ws.receive(0.05) is None
        await ws.send("after silence")
        assert await ws.receive() == "after silence"
        await ws.close()
        await client.close(session)

    client.run(body)


@pytest.mark.parametrize("path", ["/fragmented", "/ping", "/big"])
def test_fragments_pings_and_a_5_mb_message(
    client: Client, server: WebSocketServer, path: str
) -> None:
    expected = {"/fragmented": "hello world", "/ping": "pong received", "/big": BIG}[path]

    async def body() -> None:
        session = client.session(**trusting(server))
        ws = await client.open(session, server.url(path))
        assert await ws.receive() == expected
        await ws.send("still open")
        assert await ws.receive() == "still open"
        await ws.close()
        await client.close(session)

    client.run(body)


def test_the_server_closes_with_1012(client: Client, server: WebSocketServer) -> None:
    async def body() -> None:
        session = client.session(**trusting(server))
        ws = await client.open(session, server.url("/close1012"))
        with pytest.raises(WebSocketClosed) as info:
            await ws.receive()
        assert (info.value.code, info.value.reason) == (1012, "service restart")
        assert "1012" in str(info.value)
        with pytest.raises(WebSocketClosed):
            await ws.receive()
        with pytest.raises(WebSocketClosed):
            await ws.send("too late")
        await ws.close()
        await client.close(session)

    client.run(body)


def test_a_dropped_connection_has_no_close_code(client: Client, server: WebSocketServer) -> None:
    async def body() -> None:
        session = client.session(**trusting(server))
        ws = await client.open(session, server.url("/drop"))
        with pytest.raises(WebSocketClosed) as info:
            await ws.receive()
        assert info.value.code is None
        await ws.close()
        await client.close(session)

    client.run(body)


@pytest.mark.parametrize(("path", "code"), [("/huge", 1009), ("/badutf8", 1007)])
def test_too_big_and_broken_messages_close_the_websocket(
    client: Client, server: WebSocketServer, path: str, code: int
) -> None:
    async def body() -> None:
        session = client.session(**trusting(server))
        ws = await client.open(session, server.url(path))
        with pytest.raises(WebSocketClosed) as info:
            await ws.receive()
        assert info.value.code == code
        await ws.close()
        await client.close(session)

    client.run(body)
    if path == "/badutf8":  # (a server still sending 16 MiB may not read a close frame)
        assert server.wait_closes(1) == [code]  # this client's close frame said why


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_an_upgrade_never_answered_times_out(kind: str) -> None:
    client = Client(kind)
    with socket.create_server(("127.0.0.1", 0)) as mute:  # connects, never answers

        async def body() -> None:
            session = client.session()
            url = f"ws://127.0.0.1:{mute.getsockname()[1]}/"
            with pytest.raises(TransportTimeout):
                await client.open(session, url, timeout=0.2)
            await client.close(session)

        client.run(body)


def test_an_upgrade_answered_with_502(client: Client, server: WebSocketServer) -> None:
    async def body() -> None:
        session = client.session(**trusting(server))
        with pytest.raises(TransportError, match="502") as info:
            await client.open(session, server.url("/reject502"))
        assert not isinstance(info.value, WebSocketClosed)
        await client.close(session)

    client.run(body)


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_a_refused_connection(kind: str) -> None:
    client = Client(kind)
    with WebSocketServer() as server:
        url = server.url("/echo")
    # The server is gone: its port refuses.

    async def body() -> None:
        session = client.session()
        with pytest.raises(TransportError) as info:
            await client.open(session, url)
        assert info.value.request_sent is False
        await client.close(session)

    client.run(body)


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_tls_is_verified_by_default(kind: str) -> None:
    client = Client(kind)
    with WebSocketServer(tls=True) as server:

        async def body() -> None:
            session = client.session()  # trusts the usual authorities: not this test CA
            with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.open(session, server.url("/echo"))
            await client.close(session)
            for settings in (
                {"ca_bundle": server.ca_path},
                {"ssl_context": server.client_ssl_context()},
                {"verify": False},
            ):
                session = client.session(**settings)
                ws = await client.open(session, server.url("/echo"))
                await ws.send("trusted")
                assert await ws.receive() == "trusted"
                await ws.close()
                await client.close(session)

        client.run(body)
        assert [path for path, _ in server.requests] == ["/echo"] * 3  # not the refused one


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_through_a_connect_proxy_with_credentials(kind: str) -> None:
    client = Client(kind)
    with WebSocketServer(tls=True) as server, ConnectProxy() as proxy:
        url = proxy.url.replace("http://", "http://trader:proxy-pass-12345@")

        async def body() -> None:
            session = client.session(proxy=url, **trusting(server))
            ws = await client.open(session, server.url("/echo"))
            await ws.send("tunnelled")
            assert await ws.receive() == "tunnelled"
            await ws.close()
            await client.close(session)

        client.run(body)
        assert proxy.tunnels == [f"127.0.0.1:{server.port}"]
        assert proxy.credentials[0] == "Basic dHJhZGVyOnByb3h5LXBhc3MtMTIzNDU="

    with WebSocketServer(tls=True) as server:  # a proxy that is not there
        dead = "http://trader:proxy-pass-12345@127.0.0.1:1"

        async def refused() -> None:
            session = client.session(proxy=dead, **trusting(server))
            with pytest.raises(TransportError) as info:
                await client.open(session, server.url("/echo"))
            assert "proxy-pass-12345" not in str(info.value)
            assert info.value.request_sent is False
            await client.close(session)

        client.run(refused)


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_through_an_https_proxy(kind: str) -> None:
    """TLS to the proxy, and TLS to the server inside its tunnel."""
    client = Client(kind)
    with (
        WebSocketServer(tls=True) as server,
        ConnectProxy(WebSocketServer.server_ssl_context()) as proxy,
    ):

        async def body() -> None:
            session = client.session(proxy=proxy.url, **trusting(server))
            ws = await client.open(session, server.url("/big"))
            assert await ws.receive() == BIG
            await ws.send("twice tunnelled")
            assert await ws.receive() == "twice tunnelled"
            await ws.close()
            await client.close(session)

        client.run(body)
        assert proxy.tunnels == [f"127.0.0.1:{server.port}"]
        assert server.closes == [1000]


@pytest.mark.parametrize("kind", ["requests", "trio"])
def test_plain_ws_is_tunnelled_too(kind: str) -> None:
    # (aiohttp sends a ws:// upgrade to an HTTP proxy as a proxied request instead.)
    client = Client(kind)
    with WebSocketServer() as server, ConnectProxy() as proxy:

        async def body() -> None:
            session = client.session(proxy=proxy.url)
            ws = await client.open(session, server.url("/echo"))
            await ws.send("plain")
            assert await ws.receive() == "plain"
            await ws.close()
            await client.close(session)

        client.run(body)
        assert proxy.tunnels == [f"127.0.0.1:{server.port}"]


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_a_proxy_refusing_connect(kind: str) -> None:
    # The test proxy tunnels to loopback only: anywhere else, it answers 403.
    client = Client(kind)
    with ConnectProxy() as proxy:

        async def body() -> None:
            session = client.session(proxy=proxy.url)
            with pytest.raises(TransportError, match="403") as info:
                await client.open(session, "wss://example.invalid/feed")
            assert info.value.request_sent is False
            await client.close(session)

        client.run(body)


def test_wake_unblocks_a_receive_in_another_thread() -> None:
    client = Client("requests")
    with WebSocketServer(tls=True) as server:

        async def body() -> None:
            session = client.session(**trusting(server))
            ws = await client.open(session, server.url("/silent"))
            raw = ws.ws
            waker = threading.Thread(target=raw.wake)
            waker.start()
            assert raw.receive(None) is None  # woken, however the two threads interleave
            waker.join()
            raw.wake()
            raw.wake()  # twice before a receive: one wake
            assert raw.receive(None) is None
            assert raw.receive(0.01) is None  # a timeout now: the wakes are used up
            raw.send("still here")
            assert raw.receive(10) == "still here"
            raw.close()
            raw.wake()  # after the close: nothing happens
            await client.close(session)

        client.run(body)


def test_close_in_a_cancelled_asyncio_task() -> None:
    client = Client("aiohttp")
    with WebSocketServer(tls=True) as server:

        async def body() -> None:
            session = client.session(**trusting(server))
            ws = await client.open(session, server.url("/echo"))

            async def cancelled_closer() -> None:
                task = asyncio.current_task()
                assert task is not None
                task.cancel()
                await ws.close(4000)

            task = asyncio.ensure_future(cancelled_closer())
            with pytest.raises(asyncio.CancelledError):
                await task
            assert server.closes == [4000]
            await client.close(session)
            left = asyncio.all_tasks() - {asyncio.current_task()}
            assert not left

        client.run(body)


def test_close_in_a_cancelled_trio_scope_and_concurrent_send() -> None:
    import trio
    import trio.testing

    client = Client("trio")
    with WebSocketServer(tls=True) as server:

        async def body() -> None:
            session = client.session(**trusting(server))
            ws = await client.open(session, server.url("/echo"))
            got: list[str | None] = []

            async def receiver() -> None:
                got.append(await ws.receive(None))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(receiver)
                await trio.testing.wait_all_tasks_blocked()
                await ws.send("while another task receives")
            assert got == ["while another task receives"]
            with trio.CancelScope() as scope:
                scope.cancel()
                await ws.close(4000)
            assert server.closes == [4000]
            await client.close(session)

        client.run(body)


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_nothing_is_left_behind(kind: str) -> None:
    client = Client(kind)

    def round_trip() -> None:
        with WebSocketServer(tls=True) as server:  # stopped (and joined) before counting

            async def body() -> None:
                session = client.session(**trusting(server))
                for path in ("/echo", "/close1012", "/drop", "/silent"):
                    ws = await client.open(session, server.url(path))
                    if path == "/echo":
                        await ws.send("x")
                    with contextlib.suppress(WebSocketClosed):
                        await ws.receive(0.05)
                    await ws.close()
                with pytest.raises(TransportError):
                    await client.open(session, server.url("/reject502"))
                await client.close(session)
                if kind == "aiohttp":
                    assert not asyncio.all_tasks() - {asyncio.current_task()}

            client.run(body)

    round_trip()  # warm up imports and the CA
    gc.collect()
    threads, fds = set(threading.enumerate()), len(os.listdir("/proc/self/fd"))
    round_trip()
    gc.collect()
    started = {t for t in set(threading.enumerate()) - threads if not t.name.startswith("Trio")}
    assert not started
    assert len(os.listdir("/proc/self/fd")) <= fds


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_a_bad_url_is_refused(kind: str) -> None:
    client = Client(kind)

    async def body() -> None:
        session = client.session()
        with pytest.raises(LocalProtocolError):
            await client.open(session, "https://example.test/feed")
        await client.close(session)

    client.run(body)


@pytest.mark.parametrize("kind", ["aiohttp", "trio"])
def test_close_while_another_task_receives(kind: str) -> None:
    client = Client(kind)
    with WebSocketServer(tls=True) as server:

        async def body() -> None:
            session = client.session(**trusting(server))
            ws = await client.open(session, server.url("/silent"))
            errors: list[BaseException] = []

            async def receiver() -> None:
                try:
                    await ws.receive(None)
                except WebSocketClosed as exc:
                    errors.append(exc)

            if kind == "trio":
                import trio
                import trio.testing

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(receiver)
                    await trio.testing.wait_all_tasks_blocked()
                    await ws.close()
            else:
                task = asyncio.ensure_future(receiver())
                for _ in range(3):  # a few turns of the loop: the receiver waits
                    await asyncio.sleep(0)
                await ws.close()
                await task
            assert len(errors) == 1 and "closed by this client" in str(errors[0])
            await client.close(session)

        client.run(body)
        assert server.closes == [1000]
