"""The fake API's pure core: Request in, Response out, with an injected clock."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tastytrade_proto import Environment
from tastytrade_proto.errors import CLASSIC_OTP_INVALID_CODE, CLASSIC_OTP_REQUIRED_CODE
from tastytrade_proto.protocol import (
    ClientConfig,
    Request,
    Response,
    decode_envelope,
    error_from_response,
)
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeClock,
    FakeTastytradeAPI,
    Fault,
    FaultKind,
    SecondFactor,
)

CONFIG = ClientConfig(environment=Environment.custom("http://fake.invalid"))


class Client:
    """Sends requests straight into a fake, with a fake clock."""

    def __init__(self, **options: Any) -> None:
        self.clock = FakeClock()
        self.api = FakeTastytradeAPI(clock=self.clock, **options)

    def send(self, method: str, path: str, body: Any = None, **headers: str) -> Response:
        request = CONFIG.request(
            method,
            path,
            json_body=body,
            headers=[(k.replace("_", "-"), v) for k, v in headers.items()],
        )
        return self.api.handle(request).response

    def login(self, login: str = "plain", password: str = "pw", **kw: Any) -> dict[str, Any]:
        response = self.send("POST", "/sessions", {"login": login, "password": password, **kw})
        assert response.status == 201, response
        data: dict[str, Any] = decode_envelope(response).data
        return data

    def oauth(self, **body: Any) -> Response:
        fields = {
            "grant_type": "refresh_token",
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_secret": DEMO_CLIENT_SECRET,
            **body,
        }
        return self.send("POST", "/oauth/token", fields)


@pytest.fixture
def client() -> Client:
    c = Client()
    c.api.add_user("plain", "pw", accounts=["5WT00009"])
    return c


def error_code(response: Response) -> Any:
    return json.loads(response.body)["error"]["code"]


def test_no_user_agent_gets_the_nginx_page(client: Client) -> None:
    request = Request("GET", "http://fake.invalid/customers/me")
    response = client.api.handle(request).response
    assert response.status == 401
    assert response.header("content-type") == "text/html"
    assert b"nginx" in response.body
    bad = Request("GET", "http://fake.invalid/customers/me", (("user-agent", "python"),))
    assert client.api.handle(bad).response.status == 401


def test_missing_or_bad_token_is_token_invalid(client: Client) -> None:
    assert error_code(client.send("GET", "/customers/me")) == "token_invalid"
    assert error_code(client.send("GET", "/customers/me", authorization="nope")) == "token_invalid"


class TestLegacyLogin:
    def test_password_login_and_its_envelope(self, client: Client) -> None:
        data = client.login(**{"remember-me": True})
        assert set(data) == {"user", "session-token", "remember-token", "session-expiration"}
        assert data["user"]["username"] == "plain"
        assert data["session-expiration"].endswith("+00:00")
        me = client.send("GET", "/customers/me", authorization=data["session-token"])
        assert me.status == 200 and decode_envelope(me).data["id"] == "me"
        # The legacy token is raw: sent as Bearer it is refused.
        bearer = client.send(
            "GET", "/customers/me", authorization="Bearer " + data["session-token"]
        )
        assert bearer.status == 401

    def test_without_remember_me_there_is_no_remember_token(self, client: Client) -> None:
        assert "remember-token" not in client.login()

    def test_wrong_password(self, client: Client) -> None:
        response = client.send("POST", "/sessions", {"login": "plain", "password": "nope"})
        assert response.status == 401 and error_code(response) == "invalid_credentials"
        assert "Unique customer support identifier" in json.loads(response.body)["error"]["message"]

    def test_remember_tokens_are_single_use_and_rotate(self, client: Client) -> None:
        token = client.login(**{"remember-me": True})["remember-token"]
        seen = {token}
        for _ in range(3):
            body = {"login": "plain", "remember-token": token, "remember-me": True}
            data = decode_envelope(client.send("POST", "/sessions", body)).data
            assert data["remember-token"] not in seen
            again = client.send("POST", "/sessions", body)  # the spent one
            assert error_code(again) == "invalid_credentials"
            token = data["remember-token"]
            seen.add(token)
        assert client.api.remember_tokens("plain") == [token]

    def test_sessions_expire_by_the_clock(self, client: Client) -> None:
        token = client.login()["session-token"]
        client.clock.advance(24 * 3600 - 1)
        assert client.send("GET", "/customers/me", authorization=token).status == 200
        client.clock.advance(2)
        assert (
            error_code(client.send("GET", "/customers/me", authorization=token)) == "token_invalid"
        )

    def test_validate_and_logout(self, client: Client) -> None:
        token = client.login()["session-token"]
        valid = client.send("POST", "/sessions/validate", {}, authorization=token)
        assert valid.status == 201 and decode_envelope(valid).data["username"] == "plain"
        assert client.send("DELETE", "/sessions", authorization=token).status == 204
        assert client.send("POST", "/sessions/validate", {}, authorization=token).status == 401

    def test_legacy_sessions_can_be_switched_off(self) -> None:
        everyone = Client(legacy_sessions=False)
        response = everyone.send(
            "POST", "/sessions", {"login": DEMO_LOGIN, "password": DEMO_PASSWORD}
        )
        assert response.status == 404
        one = Client()
        one.api.add_user("old", "pw", legacy_sessions=False)
        assert one.send("POST", "/sessions", {"login": "old", "password": "pw"}).status == 404


class TestSecondFactor:
    def test_classic_otp(self, client: Client) -> None:
        client.api.add_user("otp", "pw", second_factor=SecondFactor.OTP)
        body = {"login": "otp", "password": "pw"}
        assert error_code(client.send("POST", "/sessions", body)) == CLASSIC_OTP_REQUIRED_CODE
        wrong = client.send("POST", "/sessions", body, x_tastyworks_otp="000000")
        assert error_code(wrong) == CLASSIC_OTP_INVALID_CODE
        right = client.send("POST", "/sessions", body, x_tastyworks_otp=DEMO_OTP)
        assert right.status == 201

    def test_device_challenge(self, client: Client) -> None:
        body = {"login": DEMO_LOGIN, "password": DEMO_PASSWORD}
        first = client.send("POST", "/sessions", body)
        assert first.status == 403 and error_code(first) == "device_challenge_required"
        challenge = first.header("x-tastyworks-challenge-token")
        assert challenge
        # Asking without having started the challenge: the code was never sent.
        early = client.send(
            "POST",
            "/sessions",
            body,
            x_tastyworks_challenge_token=challenge,
            x_tastyworks_otp=DEMO_OTP,
        )
        assert error_code(early) == CLASSIC_OTP_INVALID_CODE
        step = client.send("POST", "/device-challenge", {}, x_tastyworks_challenge_token=challenge)
        assert decode_envelope(step).data == {"phone": "********0000", "step": "otp_verification"}
        renewed = step.header("x-tastyworks-challenge-token")
        assert renewed and renewed != challenge
        done = client.send(
            "POST",
            "/sessions",
            body,
            x_tastyworks_challenge_token=renewed,
            x_tastyworks_otp=DEMO_OTP,
        )
        assert done.status == 201

    def test_security_question(self, client: Client) -> None:
        client.api.add_user("q", "pw", second_factor=SecondFactor.SECURITY_QUESTION)
        challenge = client.send("POST", "/sessions", {"login": "q", "password": "pw"}).header(
            "x-tastyworks-challenge-token"
        )
        asked = client.send("POST", "/device-challenge", {}, x_tastyworks_challenge_token=challenge)
        assert decode_envelope(asked).data["step"] == "security_question"
        token = asked.header("x-tastyworks-challenge-token") or ""
        wrong = client.send(
            "POST", "/device-challenge", {"answer": "Rex"}, x_tastyworks_challenge_token=token
        )
        assert wrong.status == 400
        answered = client.send(
            "POST", "/device-challenge", {"answer": "Fido"}, x_tastyworks_challenge_token=token
        )
        assert decode_envelope(answered).data["step"] == "otp_verification"

    def test_unknown_challenge_token(self, client: Client) -> None:
        response = client.send("POST", "/device-challenge", {}, x_tastyworks_challenge_token="nope")
        assert error_code(response) == "missing_request_token"


class TestOAuth:
    def test_refresh_grant(self, client: Client) -> None:
        response = client.oauth()
        body = json.loads(response.body)
        assert response.status == 200
        assert body["token_type"] == "Bearer" and body["expires_in"] == 900
        assert "refresh_token" not in body
        token = body["access_token"]
        assert client.send("GET", "/customers/me", authorization=f"Bearer {token}").status == 200
        assert client.send("GET", "/customers/me", authorization=token).status == 401
        client.clock.advance(900)
        assert client.send("GET", "/customers/me", authorization=f"Bearer {token}").status == 401

    def test_form_encoded_refresh(self, client: Client) -> None:
        body = (
            f"grant_type=refresh_token&refresh_token={DEMO_REFRESH_TOKEN}"
            f"&client_secret={DEMO_CLIENT_SECRET}"
        ).encode()
        request = Request(
            "POST",
            "http://fake.invalid/oauth/token",
            (("user-agent", "x/1"), ("content-type", "application/x-www-form-urlencoded")),
            body,
        )
        assert client.api.handle(request).response.status == 200

    @pytest.mark.parametrize(
        ("fields", "code"),
        [
            ({"refresh_token": "unknown"}, "invalid_grant"),
            ({"client_secret": "wrong"}, "invalid_client"),
            ({"client_id": "someone-else"}, "invalid_client"),
            ({"grant_type": "password"}, "unsupported_grant_type"),
        ],
    )
    def test_refusals_use_the_oauth_error_shape(
        self, client: Client, fields: dict[str, str], code: str
    ) -> None:
        response = client.oauth(**fields)
        assert response.status == 400
        assert json.loads(response.body)["error_code"] == code
        assert type(error_from_response(response)).__name__ == "OAuthError"

    def test_an_authorization_header_is_refused(self, client: Client) -> None:
        fields = {"grant_type": "refresh_token", "refresh_token": DEMO_REFRESH_TOKEN}
        response = client.send(
            "POST",
            "/oauth/token",
            {**fields, "client_secret": DEMO_CLIENT_SECRET},
            authorization="x",
        )
        assert json.loads(response.body)["error_code"] == "invalid_request"

    def test_rotation_and_switching_off(self) -> None:
        rotating = Client(rotate_refresh_tokens=True)
        first = json.loads(rotating.oauth().body)["refresh_token"]
        assert rotating.oauth().status == 400  # the old refresh token is gone
        assert rotating.oauth(refresh_token=first).status == 200
        assert Client(oauth=False).oauth().status == 400


class TestAccountsAndOrders:
    def headers(self, client: Client) -> dict[str, str]:
        token = json.loads(client.oauth().body)["access_token"]
        return {"authorization": f"Bearer {token}"}

    def test_accounts_balances_positions(self, client: Client) -> None:
        auth = self.headers(client)
        accounts = decode_envelope(client.send("GET", "/customers/me/accounts", **auth)).items
        assert [a["account"]["account-number"] for a in accounts] == ["5WT00001", "5WT00002"]
        assert accounts[0]["authority-level"] == "owner"
        one = decode_envelope(client.send("GET", "/customers/me/accounts/5WT00002", **auth)).data
        assert one["margin-or-cash"] == "Cash"
        balances = decode_envelope(client.send("GET", "/accounts/5WT00001/balances", **auth)).data
        assert isinstance(balances["net-liquidating-value"], str)
        positions = decode_envelope(
            client.send("GET", "/accounts/5WT00001/positions", **auth)
        ).items
        assert {p["instrument-type"] for p in positions} == {"Equity", "Equity Option", "Future"}
        assert positions[0]["multiplier"] == 1 and positions[0]["quantity"] == 100

    def test_other_users_and_unknown_accounts(self, client: Client) -> None:
        auth = self.headers(client)
        assert (
            error_code(client.send("GET", "/accounts/5WT00009/balances", **auth)) == "not_permitted"
        )
        assert client.send("GET", "/accounts/5XX99999/balances", **auth).status == 404
        assert client.send("GET", "/no/such/path", **auth).status == 404

    def test_type_drift(self) -> None:
        drifting = Client(drift=True)
        token = json.loads(drifting.oauth().body)["access_token"]
        positions = decode_envelope(
            drifting.send("GET", "/accounts/5WT00001/positions", authorization=f"Bearer {token}")
        ).items
        assert positions[0]["multiplier"] == "1.0" and positions[0]["quantity"] == "100"
        assert positions[0]["created-at"].endswith("Z")

    def test_orders_are_not_deduplicated_and_change_what_follows(self, client: Client) -> None:
        auth = self.headers(client)
        before = decode_envelope(client.send("GET", "/accounts/5WT00001/balances", **auth)).data
        order = {
            "time-in-force": "Day",
            "order-type": "Limit",
            "price": "10.00",
            "price-effect": "Debit",
            "external-identifier": "my-order-1",
            "legs": [
                {"instrument-type": "Equity", "symbol": "F", "quantity": 5, "action": "Buy to Open"}
            ],
        }
        first = client.send("POST", "/accounts/5WT00001/orders", order, **auth)
        second = client.send("POST", "/accounts/5WT00001/orders", order, **auth)
        assert first.status == second.status == 201
        ids = [decode_envelope(r).data["order"]["id"] for r in (first, second)]
        assert ids[0] != ids[1]
        live = decode_envelope(client.send("GET", "/accounts/5WT00001/orders/live", **auth)).items
        assert [o["external-identifier"] for o in live if "external-identifier" in o] == [
            "my-order-1",
            "my-order-1",
        ]
        after = decode_envelope(client.send("GET", "/accounts/5WT00001/balances", **auth)).data
        assert (
            float(after["derivative-buying-power"])
            == float(before["derivative-buying-power"]) - 100
        )
        cancelled = client.send("DELETE", f"/accounts/5WT00001/orders/{ids[0]}", **auth)
        assert decode_envelope(cancelled).data["status"] == "Cancelled"
        again = client.send("DELETE", f"/accounts/5WT00001/orders/{ids[0]}", **auth)
        assert error_code(again) == "order_not_cancellable"
        got = client.send("GET", f"/accounts/5WT00001/orders/{ids[1]}", **auth)
        assert decode_envelope(got).data["status"] == "Routed"
        assert client.api.count("POST", "/accounts/5WT00001/orders") == 2

    def test_preflight_failures(self, client: Client) -> None:
        auth = self.headers(client)
        bad = {"order-type": "Market", "time-in-force": "GTC", "legs": []}
        response = client.send("POST", "/accounts/5WT00001/orders", bad, **auth)
        assert response.status == 422 and error_code(response) == "preflight_check_failure"
        codes = {e["code"] for e in json.loads(response.body)["error"]["errors"]}
        assert codes == {"legs_required", "gtc_market_orders_not_supported"}


class TestFaults:
    def test_faults_match_and_run_out(self, client: Client) -> None:
        client.api.inject(
            Fault(FaultKind.RATE_LIMITED, retry_after="2", path="/customers", times=2)
        )
        assert client.send("POST", "/oauth/token", {}).status == 400  # not matched
        for _ in range(2):
            limited = client.send("GET", "/customers/me")
            assert limited.status == 429 and limited.header("retry-after") == "2"
        assert client.send("GET", "/customers/me").status == 401
        assert client.api.faults == []

    @pytest.mark.parametrize(
        ("fault", "status", "flag"),
        [
            (Fault(FaultKind.SERVER_ERROR, status=500), 500, None),
            (Fault(FaultKind.SERVER_ERROR, status=503), 503, None),
            (Fault(FaultKind.HTML_ERROR), 502, None),
            (Fault(FaultKind.TRUNCATED), 200, "truncate"),
            (Fault(FaultKind.DISCONNECT), 200, "disconnect"),
        ],
    )
    def test_fault_replies(
        self, client: Client, fault: Fault, status: int, flag: str | None
    ) -> None:
        client.api.inject(fault)
        reply = client.api.handle(CONFIG.request("GET", "/customers/me"))
        assert reply.response.status == status
        if flag:
            assert getattr(reply, flag) is True

    def test_slow_answers_are_still_real_answers(self, client: Client) -> None:
        client.api.inject(Fault(FaultKind.SLOW, delay=1.5, method="GET"))
        reply = client.api.handle(CONFIG.request("GET", "/customers/me"))
        assert reply.delay == 1.5 and reply.response.status == 401

    def test_every_request_is_recorded(self, client: Client) -> None:
        client.send("POST", "/sessions", {"login": "plain", "password": "pw"}, x_trace="1")
        (recorded,) = client.api.requests
        assert (recorded.method, recorded.path) == ("POST", "/sessions")
        assert recorded.json() == {"login": "plain", "password": "pw"}
        assert dict(recorded.headers)["x-trace"] == "1"
        assert "pw" not in repr(recorded)


text = st.text(max_size=40)
bodies = st.one_of(
    st.binary(max_size=300),
    st.recursive(
        st.none() | st.booleans() | st.integers() | text,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=15,
    ).map(lambda v: json.dumps(v).encode()),
)
header_values = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"),
    max_size=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=st.sampled_from(
        [
            "/sessions",
            "/sessions/validate",
            "/device-challenge",
            "/oauth/token",
            "/customers/me",
            "/accounts/5WT00001/orders",
            "/accounts/5WT00001/orders/100001",
            "/x",
        ]
    ),
    body=bodies,
    headers=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "authorization",
                    "x-tastyworks-otp",
                    "x-tastyworks-challenge-token",
                    "content-type",
                    "x-any",
                ]
            ),
            header_values,
        ),
        max_size=4,
    ),
)
def test_any_request_gets_a_well_formed_answer(
    method: str, path: str, body: bytes, headers: list[tuple[str, str]]
) -> None:
    api = FakeTastytradeAPI(clock=FakeClock())
    request = Request(method, "http://fake.invalid" + path, (("user-agent", "t/1"), *headers), body)
    response = api.handle(request).response
    if response.status >= 400:
        document = json.loads(response.body)
        assert "error" in document or "error_code" in document
        assert response.status != 500, document  # no handler crashed
    else:
        assert response.status in (200, 201, 204)
