"""The core against the fake over real sockets, plain TCP and TLS on loopback."""

from __future__ import annotations

import os
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tastytrade_proto import (
    NO_RETRY,
    DeviceChallengeRequired,
    InvalidSecondFactor,
    RateLimited,
    RememberTokenIssued,
    SecondFactorRequired,
    ServerError,
    TokenEvent,
    TransportError,
    TransportTimeout,
)
from tastytrade_proto.protocol import (
    AuthMachine,
    AuthNeed,
    AuthState,
    Operation,
    decode_envelope,
    drive,
    flows,
)
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeClock,
    FakeTastytradeAPI,
    FakeTastytradeServer,
    Fault,
    FaultKind,
)

from .transport import HTTPClientTransport

T = TypeVar("T")


class Client:
    """A session machine, the http.client transport and the fake's own clock."""

    def __init__(
        self, server: FakeTastytradeServer, clock: FakeClock, timeout: float = 5.0
    ) -> None:
        context = server.client_ssl_context() if server.tls else None
        self.server, self.clock = server, clock
        self.http = HTTPClientTransport(server.base_url, context=context, timeout=timeout)
        self.tokens: list[TokenEvent] = []
        self.machine = AuthMachine(environment=server.environment, on_token=self.tokens.append)

    def run(self, op: Operation[T]) -> T:
        return drive(op, self.http.send, clock=self.clock, sleep=self.clock.sleep)

    def get(self, path: str) -> Any:
        request = self.machine.config.request("GET", path)
        return self.run(flows.call(self.machine, request, decode_envelope))

    def oauth(self) -> Client:
        self.run(flows.login_with_oauth(self.machine, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN))
        return self

    def new_machine(self) -> AuthMachine:
        self.machine = AuthMachine(environment=self.server.environment, on_token=self.tokens.append)
        return self.machine


@pytest.fixture(params=[False, True], ids=["tcp", "tls"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeTastytradeServer]:
    clock = FakeClock(1_795_000_000.0)
    with FakeTastytradeServer(FakeTastytradeAPI(clock=clock), tls=request.param) as running:
        yield running


@pytest.fixture
def client(server: FakeTastytradeServer) -> Iterator[Client]:
    clock = server.api.clock
    assert isinstance(clock, FakeClock)
    c = Client(server, clock)
    yield c
    c.http.close()


def test_password_device_challenge_and_code(client: Client) -> None:
    with pytest.raises(SecondFactorRequired) as info:
        client.run(flows.login_with_password(client.machine, DEMO_LOGIN, DEMO_PASSWORD))
    assert info.value.destination == "********0000"
    assert client.machine.state is AuthState.AWAITING_SECOND_FACTOR
    client.run(flows.submit_second_factor(client.machine, DEMO_OTP))
    assert client.machine.state is AuthState.AUTHENTICATED
    accounts = client.get("/customers/me/accounts").items
    assert accounts[0]["account"]["account-number"] == "5WT00001"
    assert client.run(flows.validate(client.machine)) is True
    client.run(flows.logout(client.machine))
    assert client.server.api.count("DELETE", "/sessions") == 1
    # One keep-alive connection carried the whole conversation.
    assert client.server.accepted == 1


def test_remember_token_rotation_across_three_logins(client: Client) -> None:
    client.server.api.add_user("plain", "pw")
    client.run(flows.login_with_password(client.machine, "plain", "pw"))
    remembered = [e.token for e in client.tokens if isinstance(e, RememberTokenIssued)]
    for _ in range(3):
        machine = client.new_machine()
        client.run(flows.login_with_remember_token(machine, "plain", remembered[-1]))
        remembered = [e.token for e in client.tokens if isinstance(e, RememberTokenIssued)]
        assert machine.state is AuthState.AUTHENTICATED
    assert len(set(remembered)) == 4
    assert client.server.api.remember_tokens("plain") == [remembered[-1]]


def test_oauth_refresh_on_demand(client: Client) -> None:
    client.oauth()
    client.get("/customers/me")
    client.clock.advance(850)  # inside the refresh margin
    client.get("/accounts/5WT00001/balances")
    paths = [(r.method, r.path) for r in client.server.api.requests]
    assert paths == [
        ("POST", "/oauth/token"),
        ("GET", "/customers/me"),
        ("POST", "/oauth/token"),
        ("GET", "/accounts/5WT00001/balances"),
    ]


def test_legacy_expiry_by_clock_renews_with_the_remember_token(client: Client) -> None:
    client.server.api.add_user("plain", "pw")
    client.run(flows.login_with_password(client.machine, "plain", "pw"))
    client.clock.advance(24 * 3600 - 30)
    assert client.machine.auth_need(client.clock.now) is AuthNeed.RELOGIN
    client.get("/customers/me")
    assert client.server.api.count("POST", "/sessions") == 2


def test_401_recovery(client: Client) -> None:
    client.oauth()
    client.server.api.expire_tokens()  # the server forgets the token early
    client.get("/customers/me")
    statuses = [r.path for r in client.server.api.requests]
    assert statuses == ["/oauth/token", "/customers/me", "/oauth/token", "/customers/me"]


class TestFaults:
    def test_429_is_retried_after_retry_after(self, client: Client) -> None:
        client.oauth()
        client.server.api.inject(Fault(FaultKind.RATE_LIMITED, retry_after="2", path="/customers"))
        client.get("/customers/me")
        assert client.clock.sleeps == [2.0]
        assert client.server.api.count("GET", "/customers/me") == 2

    def test_429_on_an_order_is_raised_not_resent(self, client: Client) -> None:
        client.oauth()
        client.server.api.inject(Fault(FaultKind.RATE_LIMITED, method="POST"))
        order = client.machine.config.request("POST", "/accounts/5WT00001/orders", json_body={})
        with pytest.raises(RateLimited):
            client.run(flows.call(client.machine, order, decode_envelope))
        assert client.server.api.count("POST", "/accounts/5WT00001/orders") == 1

    @pytest.mark.parametrize("status", [502, 503])
    def test_gateway_errors_are_retried(self, client: Client, status: int) -> None:
        client.oauth()
        client.server.api.inject(Fault(FaultKind.SERVER_ERROR, status=status, times=2))
        client.get("/customers/me")
        assert client.clock.sleeps == [0.5, 1.0]

    def test_500_is_a_server_error_at_once(self, client: Client) -> None:
        client.oauth()
        client.server.api.inject(Fault(FaultKind.SERVER_ERROR, status=500))
        with pytest.raises(ServerError) as info:
            client.get("/customers/me")
        assert info.value.status == 500 and info.value.code == "internal_server_error"

    def test_html_error_page(self, client: Client) -> None:
        client.oauth()
        client.server.api.inject(Fault(FaultKind.HTML_ERROR, times=4))
        with pytest.raises(ServerError, match="502 Bad Gateway") as info:
            client.get("/customers/me")
        assert info.value.status == 502

    @pytest.mark.parametrize("kind", [FaultKind.TRUNCATED, FaultKind.DISCONNECT])
    def test_cut_connections_are_retried_for_a_get(self, client: Client, kind: FaultKind) -> None:
        client.oauth()
        client.server.api.inject(Fault(kind, path="/customers"))
        client.get("/customers/me")
        assert client.server.api.count("GET", "/customers/me") == 2

    @pytest.mark.parametrize("kind", [FaultKind.TRUNCATED, FaultKind.DISCONNECT])
    def test_cut_connections_on_an_order_are_raised(self, client: Client, kind: FaultKind) -> None:
        client.oauth()
        client.server.api.inject(Fault(kind, method="POST"))
        order = client.machine.config.request("POST", "/accounts/5WT00001/orders", json_body={})
        with pytest.raises(TransportError):
            client.run(flows.call(client.machine, order, decode_envelope))
        assert client.server.api.count("POST", "/accounts/5WT00001/orders") == 1

    def test_slow_answer_times_out(self, server: FakeTastytradeServer) -> None:
        clock = server.api.clock
        assert isinstance(clock, FakeClock)
        client = Client(server, clock, timeout=0.5)
        client.oauth()
        server.api.inject(Fault(FaultKind.SLOW, delay=30, path="/customers"))
        request = client.machine.config.request("GET", "/customers/me")
        with pytest.raises(TransportTimeout):
            client.run(flows.call(client.machine, request, decode_envelope, retry=NO_RETRY))
        client.http.close()


def test_an_untrusted_certificate_is_rejected() -> None:
    with FakeTastytradeServer(tls=True) as server:
        machine = AuthMachine(environment=server.environment)
        plain = HTTPClientTransport(server.base_url, context=ssl.create_default_context())
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
            drive(
                flows.login_with_oauth(machine, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN),
                plain.send,
                clock=FakeClock(),
                sleep=FakeClock().sleep,
            )
        assert server.api.requests == []
        plain.close()


def test_ca_path_can_be_handed_to_clients() -> None:
    with FakeTastytradeServer(tls=True) as server:
        context = ssl.create_default_context(cafile=server.ca_path)
        with (
            socket.create_connection(("127.0.0.1", server.port)) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.version() is not None
        path = server.ca_path
    assert not os.path.exists(path)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_starts_and_stops_a_hundred_times_leaving_nothing(tls: bool) -> None:
    threads, fds = threading.active_count(), _open_fds()
    for _ in range(100):
        with (
            FakeTastytradeServer(tls=tls) as server,
            socket.create_connection(("127.0.0.1", server.port)) as conn,
        ):
            conn.sendall(b"GET /customers/me HTTP/1.1\r\nhost: x\r\nuser-agent: t/1\r\n\r\n")
            if not tls:
                assert conn.recv(12) == b"HTTP/1.1 401"
    assert threading.active_count() == threads
    assert _open_fds() == fds


def test_a_stopped_server_refuses_connections() -> None:
    server = FakeTastytradeServer().start()
    port = server.port
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(RuntimeError, match="already running"):
        started = FakeTastytradeServer().start()
        try:
            started.start()
        finally:
            started.stop()


def test_malformed_http_gets_a_400_and_the_server_lives_on() -> None:
    with FakeTastytradeServer() as server:
        with socket.create_connection(("127.0.0.1", server.port)) as conn:
            conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            assert conn.recv(12) == b"HTTP/1.1 400"
        client = Client(server, FakeClock())
        client.oauth()
        client.http.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=200),
    headers=st.lists(
        st.tuples(
            st.sampled_from(["authorization", "content-type", "x-tastyworks-otp", "x-anything"]),
            st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=30),
        ),
        max_size=3,
    ),
    path=st.sampled_from(
        ["/sessions", "/oauth/token", "/device-challenge", "/accounts/5WT00001/orders"]
    ),
)
def test_arbitrary_requests_over_the_socket(
    shared_server: FakeTastytradeServer, body: bytes, headers: list[tuple[str, str]], path: str
) -> None:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    request = (
        f"POST {path} HTTP/1.1\r\nhost: x\r\nuser-agent: t/1\r\n{head}"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", shared_server.port), timeout=5) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status = int(answer[9:12])
    assert status in (200, 201, 400, 401, 403, 404, 422), answer[:300]
    assert b'"error' in answer or status < 300


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeTastytradeServer]:
    with FakeTastytradeServer() as running:
        yield running


def test_the_machine_driven_by_hand_over_a_socket(server: FakeTastytradeServer) -> None:
    """No flows: the AuthMachine's own requests, sent by hand, answered by the fake."""
    clock = server.api.clock
    assert isinstance(clock, FakeClock)
    http = HTTPClientTransport(
        server.base_url, context=server.client_ssl_context() if server.tls else None
    )
    machine = AuthMachine(environment=server.environment)
    with pytest.raises(DeviceChallengeRequired):
        machine.receive(
            http.send(machine.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)), clock.now
        )
    with pytest.raises(SecondFactorRequired):
        machine.receive(http.send(machine.start_device_challenge()), clock.now)
    with pytest.raises(InvalidSecondFactor):
        machine.receive(http.send(machine.submit_second_factor("000000")), clock.now)
    machine.receive(http.send(machine.submit_second_factor(DEMO_OTP)), clock.now)
    assert machine.state is AuthState.AUTHENTICATED

    request = machine.authorize(machine.config.request("GET", "/customers/me"), clock.now)
    response = http.send(request)
    assert not machine.observe(request, response)
    assert decode_envelope(response).data["email"] == "demo@example.com"

    server.api.expire_tokens()
    request = machine.authorize(machine.config.request("GET", "/customers/me"), clock.now)
    assert machine.observe(request, http.send(request))
    assert machine.auth_need(clock.now) is AuthNeed.RELOGIN
    machine.receive(http.send(machine.relogin()), clock.now)
    machine.receive(http.send(machine.logout()), clock.now)
    assert machine.state is AuthState.CLOSED
    http.close()
