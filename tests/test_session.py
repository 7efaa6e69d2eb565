"""The session state machine driven by hand, from the real API's bodies."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastytrade_proto import (
    CERTIFICATION,
    PRODUCTION,
    AccessTokenIssued,
    DecodeError,
    DeviceChallengeRequired,
    Environment,
    InvalidCredentials,
    InvalidSecondFactor,
    LocalProtocolError,
    LoggedIn,
    LoggedOut,
    OAuthError,
    RefreshTokenRotated,
    RememberTokenIssued,
    SecondFactorRequired,
    ServerError,
    SessionExpired,
    SessionValidated,
    TokenEvent,
    User,
)
from tastytrade_proto.errors import CLASSIC_OTP_REQUIRED_CODE
from tastytrade_proto.protocol import (
    AuthMachine,
    AuthNeed,
    AuthScheme,
    AuthState,
    ClientConfig,
    Request,
    Response,
)
from tastytrade_proto.protocol.auth import ALLOWED, Action
from tastytrade_proto.testing import json_response

from .conftest import sample, sample_response

EXPIRY = datetime(2024, 9, 12, 20, 25, 32, 440000, tzinfo=timezone.utc)


def login_reply(
    session: str = "ST-1", remember: str | None = "RT-1", expires: str = ""
) -> Response:
    data: dict[str, object] = {
        "user": {"email": "u@example.com", "username": "u", "external-id": "U1"},
        "session-token": session,
        "session-expiration": expires or "2024-09-12T20:25:32.440Z",
    }
    if remember is not None:
        data["remember-token"] = remember
    return json_response(201, {"data": data, "context": "/sessions"})


def oauth_reply(token: str = "AT-1", **extra: object) -> Response:
    return json_response(200, {"access_token": token, "token_type": "Bearer", **extra})


def logged_in(now: float, tokens: list[TokenEvent] | None = None) -> AuthMachine:
    machine = AuthMachine(
        environment=CERTIFICATION, on_token=None if tokens is None else tokens.append
    )
    machine.login_with_password("u", "pw-secret-1")
    machine.receive(login_reply(), now)
    return machine


def oauth_machine(now: float, tokens: list[TokenEvent] | None = None) -> AuthMachine:
    machine = AuthMachine(on_token=None if tokens is None else tokens.append)
    machine.login_with_oauth("CS-secret-1", "RF-1")
    machine.receive(oauth_reply(expires_in=900), now)
    return machine


class TestPasswordLogin:
    def test_login_with_remember_me(self, now: float) -> None:
        tokens: list[TokenEvent] = []
        machine = AuthMachine(environment=CERTIFICATION, on_token=tokens.append)
        assert machine.state is AuthState.UNAUTHENTICATED
        assert machine.scheme is AuthScheme.OAUTH  # the default until a legacy login starts
        request = machine.login_with_password("user@example.com", "correct-horse")
        assert json.loads(request.body) == sample("sessions_post_request_password.json")
        assert request.header("authorization") is None
        assert machine.state is AuthState.AUTHENTICATING
        events = machine.receive(sample_response(201, "sessions_post_201.json"), now)
        assert machine.state is AuthState.AUTHENTICATED
        assert machine.scheme is AuthScheme.LEGACY
        assert machine.expires_at == EXPIRY and machine.expires_at.tzinfo is not None
        assert machine.user == User(
            email="user@example.com",
            username="exampleuser",
            external_id="U0000000001",
            is_confirmed=True,
        )
        assert events == (
            RememberTokenIssued("FAKE-REMEMBER-TOKEN-0002"),
            AccessTokenIssued("FAKE-SESSION-TOKEN-0001+C", EXPIRY, "session"),
            LoggedIn(machine.user, EXPIRY),
        )
        assert tokens == list(events[:2])
        authorized = machine.authorize(Request("GET", "https://x/customers/me"), now)
        # The legacy session token goes in as it is: no "Bearer".
        assert authorized.header("authorization") == "FAKE-SESSION-TOKEN-0001+C"

    def test_login_without_remember_me(self, now: float) -> None:
        machine = AuthMachine(environment=CERTIFICATION)
        request = machine.login_with_password("u", "pw", remember_me=False)
        assert json.loads(request.body)["remember-me"] is False
        events = machine.receive(sample_response(201, "sessions_post_201_no_remember_me.json"), now)
        assert [type(e) for e in events] == [AccessTokenIssued, LoggedIn]
        assert machine.remember_token is None

    def test_invalid_credentials(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_password("u", "wrong-password")
        with pytest.raises(InvalidCredentials) as info:
            machine.receive(sample_response(401, "sessions_post_401_invalid_credentials.json"), now)
        assert info.value.code == "invalid_credentials"
        assert machine.state is AuthState.UNAUTHENTICATED
        machine.login_with_password("u", "right-password")  # may start over

    def test_classic_otp_flow_retries_a_wrong_code(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_password("u", "pw-secret-1")
        otp_required = json_response(
            401, {"error": {"code": CLASSIC_OTP_REQUIRED_CODE, "message": "OTP required"}}
        )
        with pytest.raises(SecondFactorRequired) as info:
            machine.receive(otp_required, now)
        assert not isinstance(info.value, DeviceChallengeRequired)
        assert machine.state is AuthState.AWAITING_SECOND_FACTOR

        first = machine.submit_second_factor("111111")
        assert first.header("x-tastyworks-otp") == "111111"
        # The machine re-sends the password; the caller never handles it again.
        assert json.loads(first.body)["password"] == "pw-secret-1"
        wrong = json_response(401, {"error": {"code": "some_undocumented_code"}})
        with pytest.raises(InvalidSecondFactor):
            machine.receive(wrong, now)
        assert machine.state is AuthState.AWAITING_SECOND_FACTOR

        second = machine.submit_second_factor("222222")
        assert second.header("x-tastyworks-otp") == "222222"
        machine.receive(login_reply(), now)
        assert machine.state is AuthState.AUTHENTICATED

    def test_otp_sent_up_front(self, now: float) -> None:
        machine = AuthMachine()
        request = machine.login_with_password("u", "pw", otp="123456")
        assert request.header("x-tastyworks-otp") == "123456"
        invalid = json_response(401, {"error": {"code": "invalid_otp"}})
        with pytest.raises(InvalidSecondFactor):
            machine.receive(invalid, now)
        assert machine.state is AuthState.AWAITING_SECOND_FACTOR

    def test_second_factor_server_error_keeps_waiting(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_password("u", "pw", otp="123456")
        with pytest.raises(SecondFactorRequired):
            machine.receive(json_response(403, {"error": {"code": "otp_required"}}), now)
        machine.submit_second_factor("123456")
        with pytest.raises(ServerError):
            machine.receive(Response(503, (), b"<html>busy</html>"), now)
        assert machine.state is AuthState.AWAITING_SECOND_FACTOR


class TestDeviceChallenge:
    def challenged(self, now: float) -> AuthMachine:
        machine = AuthMachine(environment=CERTIFICATION)
        machine.login_with_password("u", "pw-secret-1")
        with pytest.raises(DeviceChallengeRequired) as info:
            machine.receive(
                sample_response(
                    403,
                    "sessions_post_403_device_challenge_required.json",
                    (("X-Tastyworks-Challenge-Token", "CHALLENGE-1"),),
                ),
                now,
            )
        assert info.value.redirect is not None
        assert machine.state is AuthState.DEVICE_CHALLENGE
        return machine

    def test_otp_verification(self, now: float) -> None:
        machine = self.challenged(now)
        request = machine.start_device_challenge()
        assert request.method == "POST" and request.path == "/device-challenge"
        assert request.header("x-tastyworks-challenge-token") == "CHALLENGE-1"
        # The server may hand out a new challenge token with its answer.
        reply = sample_response(
            200, "device_challenge_post_200_otp.json", (("X-Tastyworks-Challenge-Token", "CH-2"),)
        )
        with pytest.raises(SecondFactorRequired) as info:
            machine.receive(reply, now)
        assert info.value.method == "otp"
        assert info.value.destination == "********0000"
        assert machine.state is AuthState.AWAITING_SECOND_FACTOR
        login = machine.submit_second_factor("123456")
        assert login.path == "/sessions"
        assert login.header("x-tastyworks-otp") == "123456"
        assert login.header("x-tastyworks-challenge-token") == "CH-2"
        assert json.loads(login.body) == {
            "login": "u",
            "password": "pw-secret-1",
            "remember-me": True,
        }
        machine.receive(login_reply(), now)
        assert machine.state is AuthState.AUTHENTICATED
        # Nothing of the login lingers: a fresh login later starts clean.
        assert "pw-secret-1" not in machine.secrets()

    def test_wrong_code_then_right_code(self, now: float) -> None:
        machine = self.challenged(now)
        machine.start_device_challenge()
        with pytest.raises(SecondFactorRequired):
            machine.receive(sample_response(200, "device_challenge_post_200_otp.json"), now)
        machine.submit_second_factor("000000")
        with pytest.raises(InvalidSecondFactor) as info:
            machine.receive(json_response(403, {"error": {"code": "otp_mismatch"}}), now)
        assert info.value.code == "otp_mismatch"
        assert machine.state is AuthState.AWAITING_SECOND_FACTOR
        machine.submit_second_factor("123456")
        machine.receive(login_reply(), now)
        assert machine.state is AuthState.AUTHENTICATED

    def test_security_question(self, now: float) -> None:
        machine = self.challenged(now)
        machine.start_device_challenge()
        with pytest.raises(SecondFactorRequired) as info:
            machine.receive(
                sample_response(200, "device_challenge_post_200_security_question.json"), now
            )
        assert info.value.method == "security_question"
        assert info.value.question == "What was the name of your first pet?"
        assert machine.state is AuthState.AWAITING_SECURITY_ANSWER
        with pytest.raises(LocalProtocolError, match="AWAITING_SECURITY_ANSWER"):
            machine.submit_second_factor("123456")

        wrong = machine.answer_security_question("Rex")
        assert json.loads(wrong.body) == {"answer": "Rex"}
        assert wrong.header("x-tastyworks-challenge-token") == "CHALLENGE-1"
        with pytest.raises(InvalidSecondFactor):
            machine.receive(json_response(400, {"error": {"code": "wrong_answer"}}), now)
        assert machine.state is AuthState.AWAITING_SECURITY_ANSWER

        machine.answer_security_question("Fido")
        with pytest.raises(SecondFactorRequired):
            machine.receive(sample_response(200, "device_challenge_post_200_otp.json"), now)
        machine.submit_second_factor("123456")
        machine.receive(login_reply(), now)
        assert machine.state is AuthState.AUTHENTICATED

    def test_challenge_without_its_token_header_is_a_decode_error(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_password("u", "pw")
        with pytest.raises(DecodeError, match="X-Tastyworks-Challenge-Token"):
            machine.receive(
                sample_response(403, "sessions_post_403_device_challenge_required.json"), now
            )
        assert machine.state is AuthState.UNAUTHENTICATED

    def test_challenge_request_failures(self, now: float) -> None:
        machine = self.challenged(now)
        machine.start_device_challenge()
        with pytest.raises(ServerError):
            machine.receive(Response(500), now)
        assert machine.state is AuthState.DEVICE_CHALLENGE  # may ask again
        machine.start_device_challenge()
        with pytest.raises(DecodeError, match="device-challenge response has no 'data'"):
            machine.receive(json_response(200, {"nothing": 1}), now)
        assert machine.state is AuthState.DEVICE_CHALLENGE

    def test_remember_token_login_can_be_challenged(self, now: float) -> None:
        machine = AuthMachine()
        request = machine.login_with_remember_token("u", "RT-1")
        assert json.loads(request.body) == sample("sessions_post_request_remember_token.json") | {
            "login": "u",
            "remember-token": "RT-1",
        }
        with pytest.raises(DeviceChallengeRequired):
            machine.receive(
                sample_response(
                    403,
                    "sessions_post_403_device_challenge_required.json",
                    (("X-Tastyworks-Challenge-Token", "CH"),),
                ),
                now,
            )
        machine.start_device_challenge()
        with pytest.raises(SecondFactorRequired):
            machine.receive(sample_response(200, "device_challenge_post_200_otp.json"), now)
        login = machine.submit_second_factor("123456")
        assert json.loads(login.body)["remember-token"] == "RT-1"


class TestRememberTokens:
    def test_rotation_across_three_logins(self, now: float) -> None:
        persisted: list[str] = []

        def store(event: TokenEvent) -> None:
            if isinstance(event, RememberTokenIssued):
                persisted.append(event.token)

        machine = AuthMachine(on_token=store)
        machine.login_with_password("u", "pw")
        machine.receive(login_reply("ST-1", "RT-1"), now)
        for n in (2, 3, 4):
            fresh = AuthMachine.load(machine.dump(), on_token=store)
            assert fresh.remember_token == persisted[-1]
            assert fresh.state is AuthState.AUTHENTICATED
            machine = AuthMachine(on_token=store)
            request = machine.login_with_remember_token("u", persisted[-1])
            assert json.loads(request.body)["remember-token"] == f"RT-{n - 1}"
            machine.receive(login_reply(f"ST-{n}", f"RT-{n}"), now)
            assert machine.remember_token == f"RT-{n}"
        assert persisted == ["RT-1", "RT-2", "RT-3", "RT-4"]

    def test_token_reaches_the_store_before_a_malformed_field_fails(self, now: float) -> None:
        tokens: list[TokenEvent] = []
        machine = AuthMachine(on_token=tokens.append)
        machine.login_with_remember_token("u", "RT-old")
        broken = login_reply("ST-1", "RT-new", expires="tomorrow-ish")
        with pytest.raises(DecodeError, match="session-expiration"):
            machine.receive(broken, now)
        assert tokens == [RememberTokenIssued("RT-new")]
        # The new token is kept, so the session can still be renewed with it.
        assert machine.remember_token == "RT-new"
        assert machine.state is AuthState.EXPIRED
        assert machine.auth_need(now) is AuthNeed.RELOGIN

    def test_missing_session_token_is_a_decode_error(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_password("u", "pw")
        with pytest.raises(DecodeError, match="no usable session-token"):
            machine.receive(json_response(201, {"data": {"user": {}}}), now)
        assert machine.state is AuthState.UNAUTHENTICATED
        machine.login_with_password("u", "pw")
        with pytest.raises(DecodeError, match="not valid JSON"):
            machine.receive(Response(201, (), b'{"data": {"session-token": "ST'), now)

    def test_a_failing_store_is_reported_after_the_state_is_safe(self, now: float) -> None:
        def broken_store(event: TokenEvent) -> None:
            raise OSError("disk full")

        machine = AuthMachine(on_token=broken_store)
        machine.login_with_password("u", "pw")
        with pytest.raises(OSError, match="disk full"):
            machine.receive(login_reply(), now)
        assert machine.state is AuthState.AUTHENTICATED
        assert machine.remember_token == "RT-1"

    def test_refused_remember_token_is_dropped(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_remember_token("u", "RT-spent")
        with pytest.raises(InvalidCredentials):
            machine.receive(sample_response(401, "sessions_post_401_invalid_credentials.json"), now)
        assert machine.remember_token is None
        assert machine.state is AuthState.UNAUTHENTICATED

    def test_remember_token_login_without_a_new_token_spends_the_old(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_remember_token("u", "RT-1", remember_me=False)
        machine.receive(login_reply(remember=None), now)
        assert machine.remember_token is None


class TestOAuth:
    def test_refresh_grant_request_and_bearer(self, now: float) -> None:
        tokens: list[TokenEvent] = []
        machine = AuthMachine(on_token=tokens.append)
        request = machine.login_with_oauth("FAKE-CLIENT-SECRET", "FAKE-REFRESH-TOKEN")
        assert request.method == "POST"
        assert request.url == "https://api.tastyworks.com/oauth/token"
        assert request.header("authorization") is None
        assert json.loads(request.body) == sample("oauth_token_request_refresh.json")
        events = machine.receive(sample_response(200, "oauth_token_200.json"), now)
        expires = datetime.fromtimestamp(now + 900, tz=timezone.utc)
        assert machine.expires_at == expires
        assert events == (
            AccessTokenIssued("FAKE-ACCESS-TOKEN", expires, "oauth"),
            LoggedIn(None, expires),
        )
        assert tokens == [events[0]]
        authorized = machine.authorize(Request("GET", "https://x/y"), now)
        assert authorized.header("authorization") == "Bearer FAKE-ACCESS-TOKEN"

    def test_client_id_is_sent_when_given(self) -> None:
        machine = AuthMachine()
        request = machine.login_with_oauth(
            "FAKE-CLIENT-SECRET",
            "FAKE-REFRESH-TOKEN",
            client_id="00000000-0000-0000-0000-000000000000",
        )
        assert json.loads(request.body) == sample("oauth_token_request_refresh_with_client_id.json")

    @pytest.mark.parametrize(
        ("expires_in", "seconds"),
        [(None, 900), (60, 60), ("120", 120), (True, 900), (-5, 900), ("soon", 900), ([1], 900)],
    )
    def test_lifetime(self, now: float, expires_in: object, seconds: float) -> None:
        machine = AuthMachine()
        machine.login_with_oauth("cs", "rf")
        extra = {} if expires_in is None else {"expires_in": expires_in}
        machine.receive(oauth_reply(**extra), now)
        assert machine.expires_at == datetime.fromtimestamp(now + seconds, tz=timezone.utc)

    def test_refresh_first_inside_the_margin(self, now: float) -> None:
        machine = oauth_machine(now)
        request = Request("GET", "https://x/y")
        assert machine.auth_need(now + 839) is AuthNeed.NONE
        assert machine.auth_need(now + 841) is AuthNeed.REFRESH
        # Still usable inside the margin; refused once it is bound to fail.
        assert machine.authorize(request, now + 841).header("authorization") == "Bearer AT-1"
        with pytest.raises(LocalProtocolError, match=r"expired at .*renew it first"):
            machine.authorize(request, now + 900)
        machine.refresh()
        # While the refresh is in flight, the current token still carries requests...
        assert machine.auth_need(now + 850) is AuthNeed.NONE
        assert machine.authorize(request, now + 850).header("authorization") == "Bearer AT-1"
        # ...until it actually expires: then wait for the refresh.
        assert machine.auth_need(now + 901) is AuthNeed.WAIT
        machine.receive(oauth_reply("AT-2"), now + 851)
        assert machine.authorize(request, now + 852).header("authorization") == "Bearer AT-2"

    def test_refresh_token_rotation(self, now: float) -> None:
        tokens: list[TokenEvent] = []
        machine = oauth_machine(now, tokens)
        machine.refresh()
        events = machine.receive(oauth_reply("AT-2", refresh_token="RF-2"), now + 850)
        assert events[0] == RefreshTokenRotated("RF-2")
        assert tokens[-2:] == list(events)
        assert machine.refresh_token == "RF-2"
        assert json.loads(machine.refresh().body)["refresh_token"] == "RF-2"
        # The same refresh token coming back is not a rotation.
        assert [
            type(e) for e in machine.receive(oauth_reply("AT-3", refresh_token="RF-2"), now)
        ] == [AccessTokenIssued]

    def test_oauth_errors(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_oauth("cs", "rf")
        with pytest.raises(OAuthError) as info:
            machine.receive(sample_response(400, "oauth_token_error_invalid_grant.json"), now)
        assert info.value.code == "invalid_grant"
        assert info.value.api_message == "Invalid JWT"
        assert machine.state is AuthState.UNAUTHENTICATED

    @pytest.mark.parametrize(
        ("reply", "message"),
        [
            (Response(200, (), b"<html/>"), "not valid JSON"),
            (json_response(200, ["x"]), "not a JSON object"),
            (json_response(200, {"token_type": "Bearer"}), "no usable access_token"),
        ],
    )
    def test_malformed_token_answers(self, now: float, reply: Response, message: str) -> None:
        machine = AuthMachine()
        machine.login_with_oauth("cs", "rf")
        with pytest.raises(DecodeError, match=message):
            machine.receive(reply, now)
        assert machine.state is AuthState.UNAUTHENTICATED

    def test_enveloped_token_answer_is_tolerated(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_oauth("cs", "rf")
        machine.receive(json_response(200, {"data": {"access_token": "AT"}}), now)
        assert machine.state is AuthState.AUTHENTICATED

    def test_refresh_needs_oauth(self, now: float) -> None:
        with pytest.raises(LocalProtocolError, match="no OAuth refresh token"):
            logged_in(now).refresh()


class TestExpiry:
    def test_legacy_session_expires_by_clock(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_password("u", "pw", remember_me=False)
        machine.receive(login_reply(remember=None), now)
        deadline = EXPIRY.timestamp()
        assert machine.auth_need(deadline - 61) is AuthNeed.NONE
        # Nothing can renew it, so it is used to the last second.
        assert machine.auth_need(deadline - 1) is AuthNeed.NONE
        with pytest.raises(SessionExpired, match="log in again"):
            machine.auth_need(deadline)
        assert machine.state is AuthState.EXPIRED
        machine.login_with_password("u", "pw")  # EXPIRED allows a new login

    def test_legacy_expiry_renews_with_the_remember_token(self, now: float) -> None:
        machine = logged_in(now)
        assert machine.auth_need(EXPIRY.timestamp()) is AuthNeed.RELOGIN
        request = machine.relogin()
        assert json.loads(request.body) == {
            "login": "u",
            "remember-token": "RT-1",
            "remember-me": True,
        }
        # Renewing early: the current token works until the answer arrives.
        assert machine.state is AuthState.AUTHENTICATED
        assert (
            machine.authorize(Request("GET", "https://x/"), now).header("authorization") == "ST-1"
        )
        machine.receive(login_reply("ST-2", "RT-2", "2024-09-13T20:00:00Z"), now)
        assert machine.state is AuthState.AUTHENTICATED
        assert machine.remember_token == "RT-2"

    def test_401_expires_the_session(self, now: float) -> None:
        machine = logged_in(now)
        request = machine.authorize(Request("GET", "https://x/a"), now)
        assert not machine.observe(request, Response(200))
        assert machine.observe(request, sample_response(401, "error_401_token_invalid.json"))
        assert machine.state is AuthState.EXPIRED
        assert machine.auth_need(now) is AuthNeed.RELOGIN
        with pytest.raises(LocalProtocolError, match="EXPIRED"):
            machine.authorize(request, now)

    def test_401_for_an_old_token_changes_nothing(self, now: float) -> None:
        machine = oauth_machine(now)
        old = machine.authorize(Request("GET", "https://x/a"), now)
        machine.refresh()
        machine.receive(oauth_reply("AT-2"), now)
        assert not machine.observe(old, Response(401))
        assert machine.state is AuthState.AUTHENTICATED

    def test_no_way_to_renew(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_password("u", "pw", remember_me=False)
        machine.receive(login_reply(remember=None), now)
        machine.observe(machine.authorize(Request("GET", "https://x/a"), now), Response(401))
        with pytest.raises(SessionExpired):
            machine.auth_need(now)
        with pytest.raises(LocalProtocolError, match="no remember token"):
            machine.relogin()


class TestValidateAndLogout:
    def test_validate(self, now: float) -> None:
        machine = logged_in(now)
        request = machine.validate()
        assert (request.method, request.path) == ("POST", "/sessions/validate")
        assert request.header("authorization") == "ST-1"
        events = machine.receive(sample_response(201, "sessions_validate_post_2xx.json"), now)
        assert events == (SessionValidated(machine.user),)
        assert machine.user is not None and machine.user.id == 123456
        machine.validate()
        machine.receive(Response(204), now)  # an empty 2xx is valid too
        assert machine.state is AuthState.AUTHENTICATED

    def test_validate_401(self, now: float) -> None:
        machine = logged_in(now)
        machine.validate()
        with pytest.raises(SessionExpired):
            machine.receive(sample_response(401, "error_401_token_invalid.json"), now)
        assert machine.state is AuthState.EXPIRED

    def test_validate_with_oauth_bearer(self, now: float) -> None:
        machine = oauth_machine(now)
        assert machine.validate().header("authorization") == "Bearer AT-1"

    def test_logout_then_nothing(self, now: float) -> None:
        machine = logged_in(now)
        request = machine.logout()
        assert (request.method, request.path, request.body) == ("DELETE", "/sessions", b"")
        assert request.header("authorization") == "ST-1"
        assert machine.receive(Response(204), now) == (LoggedOut(),)
        assert machine.state is AuthState.CLOSED
        assert machine.secrets() == ()
        for attempt in (
            lambda: machine.login_with_password("u", "pw"),
            lambda: machine.authorize(Request("GET", "https://x/"), now),
            machine.validate,
            machine.logout,
            machine.dump,
        ):
            with pytest.raises(LocalProtocolError, match="CLOSED"):
                attempt()

    def test_logout_of_a_dead_token_closes(self, now: float) -> None:
        machine = logged_in(now)
        machine.logout()
        machine.receive(Response(401), now)
        assert machine.state is AuthState.CLOSED

    def test_logout_failure_keeps_the_session(self, now: float) -> None:
        machine = logged_in(now)
        machine.logout()
        with pytest.raises(ServerError):
            machine.receive(Response(502), now)
        assert machine.state is AuthState.AUTHENTICATED

    def test_logout_after_401_closes_locally(self, now: float) -> None:
        machine = logged_in(now)
        machine.observe(machine.authorize(Request("GET", "https://x/"), now), Response(401))
        with pytest.raises(LocalProtocolError, match="already expired"):
            machine.logout()
        assert machine.state is AuthState.CLOSED


class TestMisuse:
    def test_authenticated_request_before_login(self, now: float) -> None:
        with pytest.raises(LocalProtocolError, match="UNAUTHENTICATED") as info:
            AuthMachine().authorize(Request("GET", "https://x/"), now)
        assert info.value.state == "UNAUTHENTICATED"

    def test_logging_in_twice(self, now: float) -> None:
        machine = logged_in(now)
        with pytest.raises(LocalProtocolError, match="cannot log in in state AUTHENTICATED"):
            machine.login_with_password("u", "pw")
        with pytest.raises(LocalProtocolError, match="AUTHENTICATED"):
            machine.login_with_oauth("cs", "rf")

    def test_one_exchange_at_a_time(self, now: float) -> None:
        machine = oauth_machine(now)
        machine.refresh()
        with pytest.raises(LocalProtocolError, match="refresh exchange is in flight"):
            machine.refresh()
        with pytest.raises(LocalProtocolError, match="in flight"):
            machine.validate()
        assert machine.exchange_in_flight

    def test_receive_without_an_exchange(self, now: float) -> None:
        with pytest.raises(LocalProtocolError, match="nothing to receive"):
            AuthMachine().receive(Response(200), now)
        with pytest.raises(LocalProtocolError, match="no exchange"):
            AuthMachine().exchange_failed()

    def test_second_factor_outside_its_state(self) -> None:
        with pytest.raises(LocalProtocolError, match="UNAUTHENTICATED"):
            AuthMachine().submit_second_factor("123456")
        with pytest.raises(LocalProtocolError, match="UNAUTHENTICATED"):
            AuthMachine().start_device_challenge()

    @pytest.mark.parametrize(
        "call",
        [
            lambda m: m.login_with_password("", "pw"),
            lambda m: m.login_with_password("u", ""),
            lambda m: m.login_with_password("u", "pw", otp=""),
            lambda m: m.login_with_remember_token("u", None),
            lambda m: m.login_with_oauth("", "rf"),
        ],
    )
    def test_empty_credentials(self, call: object) -> None:
        with pytest.raises(LocalProtocolError, match="non-empty"):
            call(AuthMachine())  # type: ignore[operator]
        # Refused before anything changed.

    def test_every_action_has_allowed_states(self) -> None:
        assert set(ALLOWED) == set(Action)
        assert all(ALLOWED[action] for action in Action)


class TestExchangeFailed:
    def test_login_transport_failure_starts_over(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_password("u", "pw-secret-1")
        machine.exchange_failed()
        assert machine.state is AuthState.UNAUTHENTICATED
        assert "pw-secret-1" not in machine.secrets()

    def test_second_factor_transport_failure_can_be_resubmitted(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_password("u", "pw", otp="1234")
        with pytest.raises(InvalidSecondFactor):
            machine.receive(json_response(401, {"error": {"code": "invalid_otp"}}), now)
        machine.submit_second_factor("5678")
        machine.exchange_failed()
        assert machine.state is AuthState.AWAITING_SECOND_FACTOR

    def test_refresh_transport_failure_keeps_the_session(self, now: float) -> None:
        machine = oauth_machine(now)
        machine.refresh()
        machine.exchange_failed()
        assert machine.state is AuthState.AUTHENTICATED
        assert not machine.exchange_in_flight


class TestDumpLoad:
    def test_oauth_round_trip_and_client_secret_by_name(self, now: float) -> None:
        machine = oauth_machine(now)
        text = machine.dump()
        assert "CS-secret-1" not in text
        assert "CS-secret-1" in machine.dump(include_client_secret=True)
        loaded = AuthMachine.load(text)
        assert loaded.dump() == text
        assert loaded.state is AuthState.AUTHENTICATED
        assert loaded.expires_at == machine.expires_at
        assert loaded.config.environment == PRODUCTION
        # Without the secret it can use the token, but not refresh it.
        with pytest.raises(LocalProtocolError, match="client_secret="):
            loaded.refresh()
        assert loaded.auth_need(now + 10) is AuthNeed.NONE
        with pytest.raises(SessionExpired, match="client secret"):
            loaded.auth_need(now + 900)
        with_secret = AuthMachine.load(text, client_secret="CS-secret-1")
        assert json.loads(with_secret.refresh().body)["client_secret"] == "CS-secret-1"
        assert AuthMachine.load(machine.dump(include_client_secret=True)).dump(
            include_client_secret=True
        ) == machine.dump(include_client_secret=True)

    def test_legacy_round_trip_never_holds_the_password(self, now: float) -> None:
        machine = logged_in(now)
        text = machine.dump(include_client_secret=True)
        assert "pw-secret-1" not in text
        loaded = AuthMachine.load(text)
        assert loaded.user == machine.user
        assert loaded.remember_token == "RT-1"
        assert loaded.scheme is AuthScheme.LEGACY
        request = loaded.authorize(Request("GET", "https://x/"), now)
        assert request.header("authorization") == "ST-1"

    def test_load_with_another_config(self, now: float) -> None:
        local = ClientConfig(environment=Environment.custom("http://127.0.0.1:9999"))
        loaded = AuthMachine.load(logged_in(now).dump(), config=local)
        assert loaded.validate().url == "http://127.0.0.1:9999/sessions/validate"

    def test_a_dump_mid_exchange_resumes_what_can_be_resumed(self, now: float) -> None:
        machine = AuthMachine()
        machine.login_with_password("u", "pw-secret-1")
        assert json.loads(machine.dump())["state"] == "unauthenticated"
        assert "pw-secret-1" not in machine.dump()
        oauth = oauth_machine(now)
        oauth.refresh()
        loaded = AuthMachine.load(oauth.dump())
        assert loaded.state is AuthState.AUTHENTICATED and not loaded.exchange_in_flight

    def test_the_token_hook_can_dump_the_session(self, now: float) -> None:
        dumps: list[dict[str, object]] = []

        def store(event: TokenEvent) -> None:
            dumps.append(json.loads(machine.dump()))

        machine = AuthMachine(on_token=store)
        machine.login_with_password("u", "pw")
        machine.receive(login_reply("ST-1", "RT-1"), now)
        # First the remember token alone (renewable), then the session too.
        assert [(d["state"], d["remember_token"], d["token"]) for d in dumps] == [
            ("expired", "RT-1", None),
            ("authenticated", "RT-1", "ST-1"),
        ]
        assert AuthMachine.load(json.dumps(dumps[0])).auth_need(now) is AuthNeed.RELOGIN

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "[]",
            "{}",
            '{"version": 2}',
            '{"version": 1}',
            '{"version": 1, "environment": {"name": "x", "base_url": "nope"}}',
            json.dumps(
                {
                    "version": 1,
                    "environment": {"name": "p", "base_url": "https://h"},
                    "scheme": "oauth",
                    "state": "authenticated",
                }
            ),
            json.dumps(
                {
                    "version": 1,
                    "environment": {"name": "p", "base_url": "https://h"},
                    "scheme": "oauth",
                    "state": "awaiting-second-factor",
                }
            ),
            json.dumps(
                {
                    "version": 1,
                    "environment": {"name": "p", "base_url": "https://h"},
                    "scheme": "sms",
                    "state": "closed",
                }
            ),
            json.dumps(
                {
                    "version": 1,
                    "environment": {"name": "p", "base_url": "https://h"},
                    "scheme": "oauth",
                    "state": "expired",
                    "token": 5,
                }
            ),
        ],
    )
    def test_bad_dumps(self, text: str) -> None:
        with pytest.raises(LocalProtocolError, match="cannot load session dump"):
            AuthMachine.load(text)


def test_reprs_hold_no_secrets(now: float) -> None:
    tokens: list[TokenEvent] = []
    machine = logged_in(now, tokens)
    text = repr(machine) + "".join(repr(t) for t in tokens)
    for secret in ("pw-secret-1", "ST-1", "RT-1"):
        assert secret not in text
    assert "AUTHENTICATED" in repr(machine)


def test_echoed_secrets_are_scrubbed_from_errors(now: float) -> None:
    machine = AuthMachine()
    machine.login_with_password("u", "hunter2-password", otp="918273")
    echo = json_response(
        401,
        {"error": {"code": "invalid_credentials", "message": "hunter2-password / 918273 refused"}},
    )
    with pytest.raises(InvalidCredentials) as info:
        machine.receive(echo, now)
    text = str(info.value) + repr(info.value) + str(info.value.api_message)
    assert "hunter2-password" not in text and "918273" not in text
    assert "<redacted>" in text


def test_echoed_secrets_are_scrubbed_from_error_details_and_headers(now: float) -> None:
    machine = AuthMachine()
    machine.login_with_password("u", "hunter2-password")
    echo = json_response(
        422,
        {
            "error": {
                "code": "x",
                "errors": [
                    {"code": "y", "message": "pw hunter2-password", "extra": "hunter2-password"}
                ],
                "redirect": {"hint": "hunter2-password"},
            }
        },
        [("X-Echo", "hunter2-password")],
    )
    with pytest.raises(Exception) as info:
        machine.receive(echo, now)
    error = info.value
    everything = repr(vars(error)) + repr(error.args)
    assert "hunter2-password" not in everything
    assert error.errors[0].code == "y"  # type: ignore[attr-defined]


def test_expiry_is_aware_and_compared_by_instant(now: float) -> None:
    machine = AuthMachine()
    machine.login_with_password("u", "pw")
    machine.receive(login_reply(expires="2024-09-12T22:25:32.440+02:00"), now)
    assert machine.expires_at == EXPIRY - timedelta(hours=0)  # same instant as ...440Z


@pytest.mark.parametrize("token", ["ST\r\nX-Evil: 1", " ST", "ST\u20ac", "", "x" * 9000])
def test_tokens_that_cannot_be_sent_back_are_refused(now: float, token: str) -> None:
    machine = AuthMachine()
    machine.login_with_password("u", "pw")
    with pytest.raises(DecodeError, match="no usable session-token"):
        machine.receive(login_reply(session=token, remember=None), now)
    assert machine.state is AuthState.UNAUTHENTICATED


def test_a_401_echoing_the_refused_token_is_scrubbed(now: float) -> None:
    from tastytrade_proto.protocol import drive, flows
    from tastytrade_proto.testing import FakeClock, ReplayTransport

    machine = oauth_machine(now)
    echo = json_response(401, {"error": {"code": "token_invalid", "message": "token AT-1 is bad"}})
    http = ReplayTransport([echo])
    clock = FakeClock(now)
    post = machine.config.request("POST", "/accounts/5WT00000/orders", json_body={})
    with pytest.raises(SessionExpired) as info:
        drive(flows.call(machine, post, lambda r: r), http.send, clock=clock, sleep=clock.sleep)
    assert "AT-1" not in str(info.value)


_ECHO_SECRETS = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters="\x7f"),
    min_size=10,
    max_size=24,
).map(lambda text: text + '\\"\u00e9')  # always a backslash, a quote and non-ASCII


@settings(max_examples=150, deadline=None)
@given(password=_ECHO_SECRETS, shape=st.sampled_from(["html", "truncated-json", "json"]))
def test_a_password_echoed_with_any_characters_is_scrubbed(password: str, shape: str) -> None:
    """Secrets with quotes, backslashes or non-ASCII survive no escaping we apply."""
    machine = AuthMachine()
    machine.login_with_password("u", password)
    message = json.dumps({"error": {"code": "x", "message": f"bad login {password}"}})
    body = {
        "html": f"<html>bad login for {password}</html>".encode(),
        "truncated-json": message.encode()[:-3],
        "json": message.encode(),
    }[shape]
    with pytest.raises(Exception) as info:
        machine.receive(Response(401, (), body), 0.0)
    error = info.value
    texts = [str(error), repr(error), repr(vars(error))]
    for form in (password, json.dumps(password)[1:-1], repr(password)[1:-1]):
        for text in texts:
            assert form not in text


@pytest.mark.parametrize("failure", ["503", "transport", "refused"])
def test_a_failed_early_relogin_keeps_the_valid_session(now: float, failure: str) -> None:
    machine = logged_in(now)
    machine.relogin()
    if failure == "transport":
        machine.exchange_failed()
    else:
        reply = (
            Response(503)
            if failure == "503"
            else sample_response(401, "sessions_post_401_invalid_credentials.json")
        )
        with pytest.raises((ServerError, InvalidCredentials)):
            machine.receive(reply, now)
    assert machine.state is AuthState.AUTHENTICATED
    assert machine.authorize(Request("GET", "https://x/"), now).header("authorization") == "ST-1"
    assert (machine.remember_token is None) == (failure == "refused")
