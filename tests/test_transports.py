"""One behaviour suite, run against all three transports over real sockets, plain and TLS."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from tastytrade_proto import (
    RefreshTokenRotated,
    RememberTokenIssued,
    SecondFactorRequired,
    ServerError,
    TokenEvent,
    TransportError,
    ValidationFailed,
)
from tastytrade_proto.protocol import AuthState
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeTastytradeAPI,
    FakeTastytradeServer,
    Fault,
    FaultKind,
)

from .harness import TRANSPORTS, Facade, Harness
from .proxy import ConnectProxy


@pytest.fixture(params=[False, True], ids=["tcp", "tls"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeTastytradeServer]:
    with FakeTastytradeServer(FakeTastytradeAPI(), tls=request.param) as running:
        yield running


@pytest.fixture(params=TRANSPORTS)
def h(request: pytest.FixtureRequest, server: FakeTastytradeServer) -> Harness:
    return Harness(request.param, server)


def test_password_two_factor_remember_token_validate_logout(h: Harness) -> None:
    kept: list[str] = []

    def store(event: TokenEvent) -> None:
        if isinstance(event, RememberTokenIssued):
            kept.append(event.token)

    async def body() -> None:
        session = h.session(token_store=store)
        with pytest.raises(SecondFactorRequired) as info:
            await session.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)
        assert info.value.destination == "********0000"
        await session.submit_second_factor(DEMO_OTP)
        assert session.machine.state is AuthState.AUTHENTICATED
        assert await session.validate() is True
        await session.logout()
        await session.close()

        again = h.session(token_store=store)
        await again.login_with_remember_token(DEMO_LOGIN, kept[-1])
        envelope = await again.request("GET", "/accounts/5WT00001/balances")
        assert envelope.data["account-number"] == "5WT00001"
        await again.logout()
        assert again.machine.state is AuthState.CLOSED
        await again.close()

    h.run(body)
    assert len(set(kept)) == 2
    assert h.server.api.remember_tokens(DEMO_LOGIN) == [kept[-1]]


def test_the_prompt_path(h: Harness) -> None:
    async def body() -> None:
        session = h.session(prompting=True)
        await session.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)
        assert session.machine.state is AuthState.AUTHENTICATED
        await session.close()

    h.run(body)
    assert h.server.api.count("POST", "/device-challenge") == 1


def test_oauth_and_the_context_manager(h: Harness) -> None:
    rotated: list[TokenEvent] = []
    h.server.api.rotate_refresh_tokens = True

    async def body() -> None:
        async with h.session(token_store=rotated.append) as session:
            await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            await session.refresh()
            positions = await session.request("GET", "/accounts/5WT00001/positions")
            assert len(positions.items) == 3
        assert session.machine.state is AuthState.CLOSED

    h.run(body)
    assert h.server.api.count("DELETE", "/sessions") == 1
    assert sum(isinstance(e, RefreshTokenRotated) for e in rotated) == 2


def test_dump_and_load(h: Harness) -> None:
    async def body() -> None:
        first = h.session()
        await first.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        text = first.dump()
        await first.close()
        assert DEMO_CLIENT_SECRET not in text
        settings: dict[str, Any] = {"base_url": h.server.base_url}
        if h.server.tls:
            settings["ssl_context"] = h.server.client_ssl_context()
        second = Facade(
            h.module.Session.load(text, client_secret=DEMO_CLIENT_SECRET, **settings), h.sync
        )
        await second.request("GET", "/customers/me")
        await second.close()

    h.run(body)
    assert h.server.api.count("POST", "/oauth/token") == 1  # the loaded session reused the token


def test_429_and_503_are_retried(h: Harness) -> None:
    h.server.api.inject(Fault(FaultKind.RATE_LIMITED, retry_after="0", path="/customers"))
    h.server.api.inject(Fault(FaultKind.SERVER_ERROR, status=503, path="/customers"))

    async def body() -> None:
        session = h.session()
        await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        await session.request("GET", "/customers/me")
        await session.close()

    h.run(body)
    assert h.server.api.count("GET", "/customers/me") == 3


def test_the_token_store_sees_a_rotated_token_even_when_the_next_request_fails(h: Harness) -> None:
    seen: list[TokenEvent] = []
    h.server.api.rotate_refresh_tokens = True
    h.server.api.inject(Fault(FaultKind.SERVER_ERROR, status=500, path="/customers"))

    async def body() -> None:
        session = h.session(token_store=seen.append)
        await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        with pytest.raises(ServerError):
            await session.request("GET", "/customers/me")
        await session.close()

    h.run(body)
    assert [type(e) for e in seen][:1] == [RefreshTokenRotated]


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_an_untrusted_certificate_is_rejected(kind: str) -> None:
    with FakeTastytradeServer(tls=True) as server:
        h = Harness(kind, server)

        async def body() -> None:
            session = h.session(ssl_context=ssl.create_default_context())
            with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
                await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            await session.close()

        h.run(body)
        assert server.api.requests == []


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_proxy_credentials_are_sent_and_never_shown(kind: str) -> None:
    with FakeTastytradeServer(tls=True) as server, ConnectProxy() as proxy:
        h = Harness(kind, server)
        url = proxy.url.replace("http://", "http://trader:proxy-pass-12345@")

        async def body() -> None:
            session = h.session(proxy=url)
            await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            await session.close()
            assert "proxy-pass-12345" not in repr(session.settings)

        h.run(body)
        assert proxy.credentials[0] == "Basic dHJhZGVyOnByb3h5LXBhc3MtMTIzNDU="

    with FakeTastytradeServer(tls=True) as server:  # a proxy that is not there
        h = Harness(kind, server)
        dead = "http://trader:proxy-pass-12345@127.0.0.1:1"

        async def refused() -> None:
            session = h.session(proxy=dead)
            with pytest.raises(TransportError) as info:
                await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            assert "proxy-pass-12345" not in str(info.value)
            assert info.value.request_sent is False
            await session.close()

        h.run(refused)


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_a_client_of_your_own_never_resends_an_order(kind: str) -> None:
    with FakeTastytradeServer() as server:
        h = Harness(kind, server)
        server.api.inject(Fault(FaultKind.DISCONNECT, method="DELETE"))

        async def body() -> None:
            if kind == "requests":
                import requests

                client: Any = requests.Session()
            elif kind == "aiohttp":
                import aiohttp

                client = aiohttp.ClientSession()
            else:
                client = h.module.ConnectionPool()
            session = h.session(client=client)
            await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            await session.request("GET", "/customers/me")
            with pytest.raises(TransportError):
                await session.request("DELETE", "/accounts/5WT00001/orders/100001")
            await session.close()
            closing = client.close() if kind != "trio" else client.aclose()
            if kind != "requests":
                await closing

        h.run(body)
        assert server.api.count("DELETE", "/accounts/5WT00001/orders/100001") == 1


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("kind", TRANSPORTS)
def test_ca_bundle_and_verify_false(kind: str) -> None:
    with FakeTastytradeServer(tls=True) as server:
        h = Harness(kind, server)

        async def body() -> None:
            for settings in ({"ca_bundle": server.ca_path}, {"verify": False}):
                session = Facade(h.module.Session(base_url=server.base_url, **settings), h.sync)
                await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
                await session.close()

        h.run(body)
        assert server.api.count("POST", "/oauth/token") == 2


def test_requests_refuses_a_client_that_retries_and_ignores_netrc(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests
    from requests.adapters import HTTPAdapter

    from tastytrade_proto import LocalProtocolError
    from tastytrade_requests import Session

    retrying = requests.Session()
    retrying.mount("https://", HTTPAdapter(max_retries=3))
    with pytest.raises(LocalProtocolError, match="retries on its own"):
        Session(client=retrying)
    with pytest.raises(LocalProtocolError, match="not both"):
        Session(client=requests.Session(), ssl_context=ssl.create_default_context())

    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login bob password netrc-pass\n")
    (tmp_path / ".netrc").chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    with FakeTastytradeServer() as server, Session(base_url=server.base_url) as session:
        session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        session.request("GET", "/customers/me")
        sent = dict(server.api.requests[-1].headers)
        assert sent["authorization"].startswith("Bearer ")


def test_a_requests_client_of_your_own_lends_its_headers_cookies_and_hooks(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The transport prepares each request itself (requests' per-call merging is most of its
    # cost): what a client of yours brings must still apply, and its .netrc still must not.
    import requests

    from tastytrade_requests import Session

    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login bob password netrc-pass\n")
    (tmp_path / ".netrc").chmod(0o600)
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    client = requests.Session()  # trust_env left on, as a caller's client would have it
    client.headers.update({"X-Trace": "t-1", "User-Agent": "theirs", "Accept-Encoding": None})
    client.cookies.set("desk", "7")
    seen: list[int] = []
    client.hooks["response"].append(lambda reply, **_: seen.append(reply.status_code))
    with FakeTastytradeServer() as server:
        with Session(base_url=server.base_url, client=client, user_agent="ours/1") as session:
            session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            with pytest.raises(ValidationFailed):  # an empty order: answered, and refused
                session.request("POST", "/accounts/5WT00001/orders/dry-run", json={})
        post = next(r for r in server.api.requests if r.path.endswith("/dry-run"))
    sent = {name.lower(): value for name, value in post.headers}
    assert sent["x-trace"] == "t-1" and sent["user-agent"] == "ours/1"
    assert sent["cookie"] == "desk=7" and sent["accept-encoding"] == "identity"  # not gzip
    assert sent["authorization"].startswith("Bearer ") and sent["content-length"] == "2"
    assert seen == [200, 422, 204]  # the token, the dry run, the logout on leaving
