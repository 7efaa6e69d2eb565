"""Every flow, driven through the step contract with a transport that replays queued answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from tastytrade_proto import (
    CERTIFICATION,
    NO_RETRY,
    AccessTokenIssued,
    Ask,
    DecodeError,
    Envelope,
    InvalidSecondFactor,
    LocalProtocolError,
    LoggedIn,
    RateLimited,
    RememberTokenIssued,
    RetryPolicy,
    SecondFactorRequired,
    ServerError,
    SessionExpired,
    TokenEvent,
    TransportError,
    TransportTimeout,
    ValidationFailed,
)
from tastytrade_proto.protocol import (
    AuthMachine,
    AuthState,
    Done,
    Operation,
    OperationState,
    Request,
    Response,
    Send,
    Wait,
    drive,
    drive_async,
    flows,
)
from tastytrade_proto.testing import FakeClock, ReplayTransport, json_response

from .conftest import sample_response

T = TypeVar("T")
START = 1_726_128_000.0  # 2024-09-12T08:00Z, before the login samples' expiry


def status(response: Response) -> int:
    return response.status


class Harness:
    """A machine, a replaying transport and a fake clock, wired together."""

    def __init__(self, *answers: Response | TransportError) -> None:
        self.clock = FakeClock(START)
        self.tokens: list[TokenEvent] = []
        self.machine = AuthMachine(environment=CERTIFICATION, on_token=self.tokens.append)
        self.http = ReplayTransport(answers)

    def run(self, op: Operation[T]) -> T:
        return drive(op, self.http.send, clock=self.clock, sleep=self.clock.sleep)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.http.requests]

    def oauth(self) -> Harness:
        self.http.queue(json_response(200, {"access_token": "AT-1", "expires_in": 900}))
        self.run(flows.login_with_oauth(self.machine, "CS-secret", "RF-1"))
        return self

    def legacy(self, remember: bool = True) -> Harness:
        self.http.queue(
            sample_response(
                201,
                "sessions_post_201.json" if remember else "sessions_post_201_no_remember_me.json",
            )
        )
        self.run(flows.login_with_password(self.machine, "u", "pw-secret"))
        return self

    def get(self, path: str = "/customers/me") -> Request:
        return self.machine.config.request("GET", path)

    def post(self, path: str = "/accounts/5WT00000/orders") -> Request:
        return self.machine.config.request("POST", path, json_body={"order-type": "Limit"})


OK = json_response(200, {"data": {"id": "me"}})
REFRESHED = json_response(200, {"access_token": "AT-2", "expires_in": 900})
CHALLENGE = sample_response(
    403,
    "sessions_post_403_device_challenge_required.json",
    (("X-Tastyworks-Challenge-Token", "CH"),),
)


class TestLoginFlows:
    def test_password_login(self) -> None:
        h = Harness(sample_response(201, "sessions_post_201.json"))
        events = h.run(flows.login_with_password(h.machine, "u", "pw"))
        assert [type(e) for e in events] == [RememberTokenIssued, AccessTokenIssued, LoggedIn]
        assert h.machine.state is AuthState.AUTHENTICATED

    def test_device_challenge_then_code(self) -> None:
        h = Harness(CHALLENGE, sample_response(200, "device_challenge_post_200_otp.json"))
        with pytest.raises(SecondFactorRequired) as info:
            h.run(flows.login_with_password(h.machine, "u", "pw"))
        # The flow asked for the challenge itself: that is what sends the code.
        assert h.paths() == ["POST /sessions", "POST /device-challenge"]
        assert info.value.destination == "********0000"
        h.http.queue(json_response(403, {"error": {"code": "nope"}}))
        with pytest.raises(InvalidSecondFactor):
            h.run(flows.submit_second_factor(h.machine, "000000"))
        h.http.queue(sample_response(201, "sessions_post_201.json"))
        h.run(flows.submit_second_factor(h.machine, "123456"))
        assert h.machine.state is AuthState.AUTHENTICATED
        last = h.http.requests[-1]
        assert last.header("x-tastyworks-otp") == "123456"
        assert last.header("x-tastyworks-challenge-token") == "CH"

    def test_security_question_flow(self) -> None:
        h = Harness(
            CHALLENGE,
            sample_response(200, "device_challenge_post_200_security_question.json"),
            sample_response(200, "device_challenge_post_200_otp.json"),
            sample_response(201, "sessions_post_201.json"),
        )
        with pytest.raises(SecondFactorRequired) as info:
            h.run(flows.login_with_password(h.machine, "u", "pw"))
        assert info.value.method == "security_question"
        with pytest.raises(SecondFactorRequired) as info:
            h.run(flows.answer_security_question(h.machine, "Fido"))
        assert info.value.method == "otp"
        h.run(flows.submit_second_factor(h.machine, "123456"))
        assert h.machine.state is AuthState.AUTHENTICATED

    def test_remember_token_login(self) -> None:
        h = Harness(sample_response(201, "sessions_post_201.json"))
        h.run(flows.login_with_remember_token(h.machine, "u", "RT-0"))
        assert h.tokens[0] == RememberTokenIssued("FAKE-REMEMBER-TOKEN-0002")

    def test_login_is_never_retried(self) -> None:
        h = Harness(Response(503), TransportTimeout("slow"))
        with pytest.raises(ServerError):
            h.run(flows.login_with_password(h.machine, "u", "pw"))
        with pytest.raises(TransportTimeout):
            h.run(flows.login_with_password(h.machine, "u", "pw"))
        assert len(h.http.requests) == 2
        assert h.machine.state is AuthState.UNAUTHENTICATED

    def test_transport_failure_during_second_factor(self) -> None:
        h = Harness(CHALLENGE, sample_response(200, "device_challenge_post_200_otp.json"))
        with pytest.raises(SecondFactorRequired):
            h.run(flows.login_with_password(h.machine, "u", "pw"))
        h.http.queue(TransportError("reset"))
        with pytest.raises(TransportError):
            h.run(flows.submit_second_factor(h.machine, "123456"))
        assert h.machine.state is AuthState.AWAITING_SECOND_FACTOR

    def test_oauth_login_validate_refresh_logout(self) -> None:
        h = Harness().oauth()
        h.http.queue(sample_response(201, "sessions_validate_post_2xx.json"))
        assert h.run(flows.validate(h.machine)) is True
        h.http.queue(json_response(200, {"access_token": "AT-2", "refresh_token": "RF-2"}))
        h.run(flows.refresh(h.machine))
        assert h.machine.refresh_token == "RF-2"
        h.http.queue(Response(204))
        assert h.run(flows.logout(h.machine)) is None
        assert h.machine.state is AuthState.CLOSED
        assert h.paths() == [
            "POST /oauth/token",
            "POST /sessions/validate",
            "POST /oauth/token",
            "DELETE /sessions",
        ]

    def test_validate_false_on_401(self) -> None:
        h = Harness().legacy()
        h.http.queue(sample_response(401, "error_401_token_invalid.json"))
        assert h.run(flows.validate(h.machine)) is False
        assert h.machine.state is AuthState.EXPIRED


class TestCall:
    def test_plain_get(self) -> None:
        h = Harness().oauth()
        h.http.queue(OK)
        assert h.run(flows.call(h.machine, h.get(), status)) == 200
        assert h.http.requests[-1].header("authorization") == "Bearer AT-1"

    def test_refresh_first_inside_the_margin(self) -> None:
        h = Harness().oauth()
        h.clock.advance(845)
        h.http.queue(REFRESHED, OK)
        h.run(flows.call(h.machine, h.get(), status))
        assert h.paths()[-2:] == ["POST /oauth/token", "GET /customers/me"]
        assert h.http.requests[-1].header("authorization") == "Bearer AT-2"
        assert h.tokens[-1] == AccessTokenIssued(
            "AT-2",
            h.machine.expires_at,
            "oauth",  # type: ignore[arg-type]
        )

    def test_failed_early_refresh_uses_the_still_valid_token(self) -> None:
        h = Harness().oauth()
        h.clock.advance(845)
        h.http.queue(Response(503), OK)
        assert h.run(flows.call(h.machine, h.get(), status)) == 200
        assert h.http.requests[-1].header("authorization") == "Bearer AT-1"

    def test_failed_refresh_after_expiry_raises(self) -> None:
        h = Harness().oauth()
        h.clock.advance(901)
        h.http.queue(sample_response(400, "oauth_token_error_invalid_grant.json"))
        with pytest.raises(Exception) as info:
            h.run(flows.call(h.machine, h.get(), status))
        assert type(info.value).__name__ == "OAuthError"
        assert h.paths()[-1] == "POST /oauth/token"

    def test_401_renews_once_and_resends_a_get(self) -> None:
        h = Harness().oauth()
        h.http.queue(sample_response(401, "error_401_token_invalid.json"), REFRESHED, OK)
        assert h.run(flows.call(h.machine, h.get(), status)) == 200
        assert h.paths()[-3:] == ["GET /customers/me", "POST /oauth/token", "GET /customers/me"]

    def test_401_twice_is_session_expired(self) -> None:
        h = Harness().oauth()
        h.http.queue(Response(401), REFRESHED, sample_response(401, "error_401_token_invalid.json"))
        with pytest.raises(SessionExpired):
            h.run(flows.call(h.machine, h.get(), status))

    def test_legacy_401_relogs_in_with_the_remember_token(self) -> None:
        h = Harness().legacy()
        h.http.queue(Response(401), sample_response(201, "sessions_post_201.json"), OK)
        h.run(flows.call(h.machine, h.get(), status))
        relogin = h.http.requests[-2]
        assert relogin.path == "/sessions"
        assert b"FAKE-REMEMBER-TOKEN-0002" in relogin.body

    def test_legacy_expiry_without_remember_token_sends_nothing(self) -> None:
        h = Harness().legacy(remember=False)
        h.clock.now = 1_743_300_000.0  # past 2025-03-30T01:58:39Z
        sent = len(h.http.requests)
        with pytest.raises(SessionExpired):
            h.run(flows.call(h.machine, h.get(), status))
        assert len(h.http.requests) == sent

    def test_429_with_retry_after_then_success(self) -> None:
        h = Harness().oauth()
        h.http.queue(Response(429, (("Retry-After", "3"),)), OK)
        assert h.run(flows.call(h.machine, h.get(), status)) == 200
        assert h.clock.sleeps == [3.0]

    def test_503_backoff_is_capped_exponential(self) -> None:
        h = Harness().oauth()
        h.http.queue(Response(503), Response(502), Response(504), OK)
        h.run(flows.call(h.machine, h.get(), status))
        assert h.clock.sleeps == [0.5, 1.0, 2.0]

    def test_retries_give_up(self) -> None:
        h = Harness().oauth()
        h.http.queue(*[Response(503)] * 4)
        with pytest.raises(ServerError):
            h.run(flows.call(h.machine, h.get(), status))
        assert len(h.http.requests) == 1 + 4

    def test_unretryable_errors_raise_at_once(self) -> None:
        h = Harness().oauth()
        h.http.queue(sample_response(400, "error_validation_400.json"))
        with pytest.raises(ValidationFailed):
            h.run(flows.call(h.machine, h.get(), status))
        assert h.clock.sleeps == []

    def test_transport_errors_on_get_are_retried(self) -> None:
        h = Harness().oauth()
        h.http.queue(TransportTimeout("read timed out"), TransportError("reset"), OK)
        assert h.run(flows.call(h.machine, h.get(), status)) == 200
        assert h.clock.sleeps == [0.5, 1.0]

    def test_an_order_post_after_a_503_is_not_resent(self) -> None:
        h = Harness().oauth()
        h.http.queue(Response(503))
        with pytest.raises(ServerError):
            h.run(flows.call(h.machine, h.post(), status))
        assert h.paths().count("POST /accounts/5WT00000/orders") == 1

    @pytest.mark.parametrize("error", [TransportTimeout("slow"), TransportError("reset")])
    def test_an_order_post_after_a_transport_error_is_not_resent(
        self, error: TransportError
    ) -> None:
        h = Harness().oauth()
        h.http.queue(error)
        with pytest.raises(TransportError):
            h.run(flows.call(h.machine, h.post(), status))
        assert h.paths().count("POST /accounts/5WT00000/orders") == 1

    def test_an_order_post_after_a_429_is_not_resent(self) -> None:
        h = Harness().oauth()
        h.http.queue(Response(429, (("Retry-After", "1"),)))
        with pytest.raises(RateLimited):
            h.run(flows.call(h.machine, h.post(), status))
        assert h.paths().count("POST /accounts/5WT00000/orders") == 1

    @pytest.mark.parametrize("method", ["PUT", "DELETE"])
    def test_replace_and_cancel_are_not_resent_after_401(self, method: str) -> None:
        h = Harness().oauth()
        request = h.machine.config.request(method, "/accounts/5WT00000/orders/1")
        h.http.queue(Response(401))
        with pytest.raises(SessionExpired):
            h.run(flows.call(h.machine, request, status))
        assert len([r for r in h.http.requests if r.method == method]) == 1
        assert h.machine.state is AuthState.EXPIRED

    def test_explicitly_idempotent_post_is_retried(self) -> None:
        h = Harness().oauth()
        h.http.queue(Response(503), OK)
        h.run(flows.call(h.machine, h.post("/x"), status, idempotent=True))
        assert h.paths()[-2:] == ["POST /x", "POST /x"]

    def test_retry_after_too_long_is_raised(self) -> None:
        h = Harness().oauth()
        h.http.queue(Response(429, (("Retry-After", "3600"),)))
        with pytest.raises(RateLimited) as info:
            h.run(flows.call(h.machine, h.get(), status))
        assert info.value.retry_after == 3600

    def test_no_retry_policy(self) -> None:
        h = Harness().oauth()
        h.http.queue(Response(503))
        with pytest.raises(ServerError):
            h.run(flows.call(h.machine, h.get(), status, retry=NO_RETRY))

    def test_jitter_is_injected(self) -> None:
        h = Harness().oauth()
        h.http.queue(Response(503), Response(503), OK)
        policy = RetryPolicy(jitter=lambda: 0.0)
        h.run(flows.call(h.machine, h.get(), status, retry=policy))
        assert h.clock.sleeps == [0.25, 0.5]

    def test_decoder_errors_surface(self) -> None:
        h = Harness().oauth()
        h.http.queue(Response(200, (), b"<html>"))
        with pytest.raises(DecodeError):
            h.run(flows.call(h.machine, h.get(), lambda r: Envelope(None).items))


class TestConcurrency:
    """Two operations on one machine, interleaved step by step as two tasks would."""

    def test_second_request_waits_for_a_refresh_only_once_expired(self) -> None:
        h = Harness().oauth()
        t = START + 845  # inside the margin, token still valid
        a = flows.call(h.machine, h.get("/a"), status)
        b = flows.call(h.machine, h.get("/b"), status)
        step_a = a.next_step(t)
        assert isinstance(step_a, Send) and step_a.request.path == "/oauth/token"
        step_b = b.next_step(t)  # uses the still-valid token while A refreshes
        assert isinstance(step_b, Send) and step_b.request.header("authorization") == "Bearer AT-1"
        b.receive(OK)
        assert b.next_step(t) == Done(200)

        c = flows.call(h.machine, h.get("/c"), status)
        assert c.next_step(START + 901) == Wait(flows.AUTH_POLL_INTERVAL)  # expired: wait
        a.receive(REFRESHED)
        step_a = a.next_step(t + 1)
        assert isinstance(step_a, Send) and step_a.request.path == "/a"
        step_c = c.next_step(t + 1)
        assert isinstance(step_c, Send)
        assert step_c.request.header("authorization") == "Bearer AT-2"

    def test_waiting_forever_gives_up(self) -> None:
        h = Harness().oauth()
        h.machine.refresh()  # another task's refresh that never completes
        op = flows.call(h.machine, h.get(), status)
        now = START + 1000
        with pytest.raises(LocalProtocolError, match="gave up"):
            while True:
                step = op.next_step(now)
                assert isinstance(step, Wait)
                now += step.seconds


class TestPaginate:
    @staticmethod
    def page(items: list[int], offset: int, pages: int) -> Response:
        return json_response(
            200,
            {
                "data": {"items": items},
                "pagination": {"page-offset": offset, "total-pages": pages, "per-page": 2},
            },
        )

    def request_for(self, h: Harness) -> Callable[[int], Request]:
        return lambda offset: h.machine.config.request(
            "GET", "/accounts/5WT00000/transactions", params={"page-offset": offset}
        )

    def test_every_page_in_order(self) -> None:
        h = Harness().oauth()
        h.http.queue(
            self.page([1, 2], 0, 3), Response(503), self.page([3, 4], 1, 3), self.page([5], 2, 3)
        )
        items: list[Any] = h.run(flows.paginate(h.machine, self.request_for(h), lambda e: e.items))
        assert items == [1, 2, 3, 4, 5]
        offsets = [r.url.rsplit("=", 1)[1] for r in h.http.requests[1:]]
        assert offsets == ["0", "1", "1", "2"]

    def test_unpaginated_list(self) -> None:
        h = Harness().oauth()
        h.http.queue(json_response(200, {"data": {"items": [7]}}))
        assert h.run(flows.paginate(h.machine, self.request_for(h), lambda e: e.items)) == [7]

    def test_pagination_going_backwards_is_an_error(self) -> None:
        h = Harness().oauth()
        h.http.queue(self.page([1], 0, 3), self.page([2], 0, 3))
        with pytest.raises(DecodeError, match="backwards"):
            h.run(flows.paginate(h.machine, self.request_for(h), lambda e: e.items))

    def test_page_limit(self) -> None:
        h = Harness().oauth()
        h.http.queue(self.page([1], 0, 9), self.page([2], 1, 9))
        with pytest.raises(DecodeError, match="within 2 pages"):
            h.run(flows.paginate(h.machine, self.request_for(h), lambda e: e.items, max_pages=2))


class TestOperationContract:
    def test_states_and_misuse(self) -> None:
        h = Harness().oauth()
        op = flows.call(h.machine, h.get(), status)
        assert op.state is OperationState.READY
        with pytest.raises(LocalProtocolError, match="no Send is outstanding"):
            op.receive(OK)
        step = op.next_step(START)
        assert isinstance(step, Send)
        assert op.state is OperationState.SENDING
        with pytest.raises(LocalProtocolError, match="receive\\(\\) or fail\\(\\)"):
            op.next_step(START)
        with pytest.raises(LocalProtocolError, match="takes a Response"):
            op.receive("200")  # type: ignore[arg-type]
        with pytest.raises(LocalProtocolError, match="takes a TransportError"):
            op.fail(OSError("x"))  # type: ignore[arg-type]
        op.receive(OK)
        assert op.next_step(START) == Done(200)
        assert op.next_step(START) == Done(200)  # stays done
        assert op.state is OperationState.DONE

    def test_failed_operation_stays_failed(self) -> None:
        h = Harness().oauth()
        op = flows.call(h.machine, h.get(), status)
        op.next_step(START)
        op.receive(Response(404))
        with pytest.raises(Exception, match="HTTP 404"):
            op.next_step(START)
        assert op.state is OperationState.FAILED
        with pytest.raises(LocalProtocolError, match="FAILED"):
            op.next_step(START)

    def test_non_library_errors_fail_the_operation(self) -> None:
        h = Harness().oauth()

        def broken(response: Response) -> int:
            raise ZeroDivisionError

        op = flows.call(h.machine, h.get(), broken)
        op.next_step(START)
        op.receive(OK)
        with pytest.raises(ZeroDivisionError):
            op.next_step(START)
        assert op.state is OperationState.FAILED

    def test_errors_are_scrubbed_of_held_secrets(self) -> None:
        h = Harness().oauth()
        echo = json_response(422, {"error": {"code": "x", "message": "bad CS-secret and AT-1"}})
        h.http.queue(echo)
        with pytest.raises(ValidationFailed) as info:
            h.run(flows.call(h.machine, h.get(), status))
        assert "CS-secret" not in str(info.value) and "AT-1" not in str(info.value)

    def test_replay_transport_without_answers(self) -> None:
        with pytest.raises(AssertionError, match="no answer queued for GET /x"):
            ReplayTransport().send(Request("GET", "https://h/x"))


class TestCancel:
    def test_cancel_mid_refresh_releases_the_machine(self) -> None:
        h = Harness().oauth()
        op = flows.call(h.machine, h.get(), status)
        step = op.next_step(START + 850)
        assert isinstance(step, Send) and step.request.path == "/oauth/token"
        assert h.machine.exchange_in_flight
        op.cancel()
        assert op.state is OperationState.FAILED
        assert not h.machine.exchange_in_flight
        assert h.machine.state is AuthState.AUTHENTICATED
        op.cancel()  # idempotent

    def test_cancel_after_receive_still_delivers_the_tokens(self) -> None:
        h = Harness()
        op = flows.login_with_password(h.machine, "u", "pw")
        op.next_step(START)
        op.receive(sample_response(201, "sessions_post_201.json"))
        op.cancel()
        assert RememberTokenIssued("FAKE-REMEMBER-TOKEN-0002") in h.tokens
        assert h.machine.state is AuthState.AUTHENTICATED

    def test_dropped_operation_releases_the_machine(self) -> None:
        h = Harness().oauth()
        op = flows.refresh(h.machine)
        op.next_step(START)
        del op  # the generator is closed when collected
        import gc

        gc.collect()
        assert not h.machine.exchange_in_flight

    def test_cancel_after_a_401_does_not_leave_a_renewal_in_flight(self) -> None:
        h = Harness().oauth()
        op = flows.call(h.machine, h.get(), status)
        op.next_step(START)
        op.receive(Response(401))
        op.cancel()
        assert not h.machine.exchange_in_flight
        assert h.machine.state is AuthState.EXPIRED


def test_a_401_for_a_token_renewed_meanwhile_is_resent_with_the_new_one() -> None:
    h = Harness().oauth()
    a = flows.call(h.machine, h.get("/a"), status)
    step = a.next_step(START)
    assert isinstance(step, Send)
    h.http.queue(REFRESHED)
    h.run(flows.refresh(h.machine))  # another task renewed the token
    a.receive(Response(401))  # the answer to the old token
    resent = a.next_step(START)
    assert isinstance(resent, Send)
    assert resent.request.header("authorization") == "Bearer AT-2"


def test_401_while_a_refresh_fails_leaves_an_expired_session() -> None:
    h = Harness().oauth()
    request = h.machine.authorize(h.get(), START)
    h.machine.refresh()
    h.machine.observe(request, Response(401))
    with pytest.raises(ServerError):
        h.machine.receive(Response(500), START)
    assert h.machine.state is AuthState.EXPIRED
    with pytest.raises(LocalProtocolError, match="EXPIRED"):
        h.machine.authorize(h.get(), START)


def test_giving_up_a_second_factor_and_starting_over() -> None:
    h = Harness(CHALLENGE, sample_response(200, "device_challenge_post_200_otp.json"))
    with pytest.raises(SecondFactorRequired):
        h.run(flows.login_with_password(h.machine, "u", "pw"))
    h.http.queue(json_response(200, {"access_token": "AT", "expires_in": 900}))
    h.run(flows.login_with_oauth(h.machine, "cs", "rf"))
    assert h.machine.state is AuthState.AUTHENTICATED


def test_validate_false_on_any_401() -> None:
    h = Harness().legacy()
    h.http.queue(sample_response(401, "error_401_user_agent_missing.html"))
    assert h.run(flows.validate(h.machine)) is False


class TestReviewedBehaviour:
    def test_a_relogin_that_meets_a_device_challenge_starts_it(self) -> None:
        h = Harness().legacy()
        h.clock.now = 1_726_172_720.0  # 12 s before the sample session expires
        h.http.queue(CHALLENGE, sample_response(200, "device_challenge_post_200_otp.json"))
        with pytest.raises(SecondFactorRequired):
            h.run(flows.call(h.machine, h.get(), status))
        assert h.paths()[-2:] == ["POST /sessions", "POST /device-challenge"]
        assert h.machine.state is AuthState.AWAITING_SECOND_FACTOR

    def test_start_device_challenge_flow(self) -> None:
        h = Harness(CHALLENGE)
        request = h.machine.login_with_password("u", "pw")
        h.http.send(request)
        with pytest.raises(Exception, match="device_challenge_required"):
            h.machine.receive(CHALLENGE, START)
        h.http.queue(sample_response(200, "device_challenge_post_200_otp.json"))
        with pytest.raises(SecondFactorRequired):
            h.run(flows.start_device_challenge(h.machine))

    def test_validate_renews_a_due_token_first(self) -> None:
        h = Harness().oauth()
        h.clock.advance(901)
        h.http.queue(REFRESHED, sample_response(201, "sessions_validate_post_2xx.json"))
        assert h.run(flows.validate(h.machine)) is True
        assert h.paths()[-2:] == ["POST /oauth/token", "POST /sessions/validate"]

    @pytest.mark.parametrize("setup", ["fresh", "closed", "second-factor", "dead-token"])
    def test_logout_is_safe_in_any_state(self, setup: str) -> None:
        h = Harness()
        if setup == "closed":
            h.oauth()
            h.http.queue(Response(204))
            h.run(flows.logout(h.machine))
        elif setup == "second-factor":
            h.http.queue(CHALLENGE, sample_response(200, "device_challenge_post_200_otp.json"))
            with pytest.raises(SecondFactorRequired):
                h.run(flows.login_with_password(h.machine, "u", "pw"))
        elif setup == "dead-token":
            h.oauth()
            h.http.queue(Response(401))
            with pytest.raises(SessionExpired):
                h.run(flows.call(h.machine, h.post(), status))
        sent = len(h.http.requests)
        h.run(flows.logout(h.machine))
        assert h.machine.state is AuthState.CLOSED
        assert len(h.http.requests) == sent  # nothing to revoke: no request

    def test_logout_waits_for_an_exchange_in_flight(self) -> None:
        h = Harness().oauth()
        refresh = flows.refresh(h.machine)
        assert isinstance(refresh.next_step(START), Send)
        out = flows.logout(h.machine)
        assert isinstance(out.next_step(START), Wait)
        refresh.receive(REFRESHED)
        refresh.next_step(START)
        step = out.next_step(START)
        assert isinstance(step, Send) and step.request.method == "DELETE"
        assert step.request.header("authorization") == "Bearer AT-2"

    def test_a_failed_early_refresh_is_not_retried_on_every_request(self) -> None:
        h = Harness().oauth()
        h.clock.advance(845)
        h.http.queue(Response(503), OK, OK)
        h.run(flows.call(h.machine, h.get(), status))
        h.run(flows.call(h.machine, h.get(), status))  # within RENEWAL_RETRY_INTERVAL
        assert h.paths().count("POST /oauth/token") == 2  # login + one failed refresh
        h.clock.advance(flows.RENEWAL_RETRY_INTERVAL)
        h.http.queue(REFRESHED, OK)
        h.run(flows.call(h.machine, h.get(), status))
        assert h.paths().count("POST /oauth/token") == 3

    def test_page_by_page(self) -> None:
        h = Harness().oauth()
        h.http.queue(TestPaginate.page([1, 2], 0, 2), TestPaginate.page([3], 1, 2))
        build = TestPaginate().request_for(h)
        items, following = h.run(flows.page(h.machine, build, lambda e: e.items))
        assert (items, following) == ([1, 2], 1)
        assert following is not None
        items, following = h.run(flows.page(h.machine, build, lambda e: e.items, following))
        assert (items, following) == ([3], None)

    def test_flows_compose(self) -> None:
        """A flow of two requests, written with the public building blocks."""
        h = Harness().oauth()
        h.http.queue(OK, json_response(200, {"data": {"id": 2}}))

        def both(ctx: Any) -> Any:
            first = yield from flows.request_flow(
                ctx, h.machine, h.get("/a"), status, True, RetryPolicy()
            )
            second = yield from flows.request_flow(
                ctx, h.machine, h.get("/b"), status, True, RetryPolicy()
            )
            return first + second

        assert h.run(flows.operation(h.machine, both)) == 400


class TestPrompting:
    def test_a_wrong_code_is_asked_for_again(self) -> None:
        h = Harness(
            CHALLENGE,
            sample_response(200, "device_challenge_post_200_otp.json"),
            json_response(403, {"error": {"code": "bad_code"}}),
            sample_response(201, "sessions_post_201.json"),
        )
        asked: list[Ask] = []
        answers = iter(["000000", "123456"])

        def ask(step: Ask) -> str:
            asked.append(step)
            return next(answers)

        op = flows.login_with_password(h.machine, "u", "pw", prompt=True)
        drive(op, h.http.send, clock=h.clock, sleep=h.clock.sleep, ask=ask)
        assert [(a.method, a.destination, a.attempt) for a in asked] == [
            ("otp", "********0000", 1),
            ("otp", "********0000", 2),
        ]
        assert h.machine.state is AuthState.AUTHENTICATED

    def test_security_question_then_code(self) -> None:
        h = Harness(
            CHALLENGE,
            sample_response(200, "device_challenge_post_200_security_question.json"),
            sample_response(200, "device_challenge_post_200_otp.json"),
            sample_response(201, "sessions_post_201.json"),
        )
        asked: list[Ask] = []

        def ask(step: Ask) -> str:
            asked.append(step)
            return " Fido " if step.method == "security_question" else "123456"

        op = flows.login_with_remember_token(h.machine, "u", "RT", prompt=True)
        drive(op, h.http.send, clock=h.clock, sleep=h.clock.sleep, ask=ask)
        assert [a.method for a in asked] == ["security_question", "otp"]
        assert asked[0].question == "What was the name of your first pet?"
        assert json.loads(h.http.requests[2].body) == {"answer": "Fido"}  # stripped

    def test_too_many_wrong_codes(self) -> None:
        wrong = json_response(403, {"error": {"code": "bad_code"}})
        h = Harness(CHALLENGE, sample_response(200, "device_challenge_post_200_otp.json"))
        h.http.queue(*[wrong] * flows.SECOND_FACTOR_ATTEMPTS)
        op = flows.login_with_password(h.machine, "u", "pw", prompt=True)
        with pytest.raises(InvalidSecondFactor):
            drive(op, h.http.send, clock=h.clock, sleep=h.clock.sleep, ask=lambda step: "0000")
        assert h.machine.state is AuthState.AWAITING_SECOND_FACTOR

    def test_no_prompt_given(self) -> None:
        h = Harness(CHALLENGE, sample_response(200, "device_challenge_post_200_otp.json"))
        op = flows.login_with_password(h.machine, "u", "pw", prompt=True)
        with pytest.raises(LocalProtocolError, match="no prompt was given"):
            drive(op, h.http.send, clock=h.clock, sleep=h.clock.sleep)
        assert op.state is OperationState.FAILED

    def test_provide_misuse(self) -> None:
        h = Harness(CHALLENGE, sample_response(200, "device_challenge_post_200_otp.json"))
        op = flows.login_with_password(h.machine, "u", "pw", prompt=True)
        with pytest.raises(LocalProtocolError, match="no Ask is outstanding"):
            op.provide("123456")
        while not isinstance(step := op.next_step(START), Ask):
            assert isinstance(step, Send)
            op.receive(h.http.send(step.request))
        with pytest.raises(LocalProtocolError, match="provide\\(\\) the answer"):
            op.next_step(START)
        with pytest.raises(LocalProtocolError, match="takes a str"):
            op.provide(123456)  # type: ignore[arg-type]
        op.cancel()
        assert op.state is OperationState.FAILED


def test_drive_async_runs_under_asyncio() -> None:
    import asyncio

    h = Harness().oauth()
    h.http.queue(Response(503), OK)
    slept: list[float] = []

    async def send(request: Request) -> Response:
        return h.http.send(request)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    op = flows.call(h.machine, h.get(), status)
    assert asyncio.run(drive_async(op, send, clock=h.clock, sleep=sleep)) == 200
    assert slept == [0.5]


def test_drive_cancels_on_interrupt() -> None:
    h = Harness().oauth()
    op = flows.refresh(h.machine)

    def interrupted(request: Request) -> Response:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        drive(op, interrupted, clock=h.clock, sleep=h.clock.sleep)
    assert not h.machine.exchange_in_flight


def test_validate_is_retried_like_a_get() -> None:
    h = Harness().oauth()
    h.http.queue(
        Response(503),
        Response(429, (("Retry-After", "1"),)),
        TransportError("reset"),
        sample_response(201, "sessions_validate_post_2xx.json"),
    )
    assert h.run(flows.validate(h.machine)) is True
    assert h.paths().count("POST /sessions/validate") == 4
    assert h.clock.sleeps == [0.5, 1.0, 2.0]


def test_a_token_expired_by_our_clock_on_arrival_raises_instead_of_renewing_for_ever() -> None:
    """A server whose clock is far behind ours issues tokens that are due on arrival: the
    session says so once, rather than renew again and again."""
    import tastytrade_requests
    from tastytrade_proto.testing import (
        DEMO_LOGIN,
        DEMO_OTP,
        DEMO_PASSWORD,
        FakeClock,
        FakeTastytradeAPI,
        FakeTastytradeServer,
    )

    # 2001 by the server's clock: a /sessions login's session-expiration is long past ours.
    api = FakeTastytradeAPI(clock=FakeClock(1_000_000_000.0))
    with FakeTastytradeServer(api) as server:
        session = tastytrade_requests.Session(base_url=server.base_url, prompt=lambda _: DEMO_OTP)
        session.login_with_password(DEMO_LOGIN, DEMO_PASSWORD, remember_me=True)
        logins = sum(r.path == "/sessions" for r in api.requests)
        with pytest.raises(SessionExpired, match="clock"):
            session.accounts()
        assert sum(r.path == "/sessions" for r in api.requests) == logins + 1
        session.close()
