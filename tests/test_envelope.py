"""Responses into data or errors (protocol.envelope), from the real API's bodies."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tastytrade_proto import (
    ApiError,
    AuthenticationError,
    DecodeError,
    DeviceChallengeRequired,
    ErrorDetail,
    Forbidden,
    InvalidCredentials,
    InvalidSecondFactor,
    NotFound,
    OAuthError,
    RateLimited,
    SecondFactorRequired,
    ServerError,
    SessionExpired,
    ValidationFailed,
    VersionNotSupported,
)
from tastytrade_proto.errors import CLASSIC_OTP_INVALID_CODE, CLASSIC_OTP_REQUIRED_CODE
from tastytrade_proto.protocol import (
    MAX_BODY_BYTES,
    Response,
    decode_envelope,
    error_from_response,
    parse_json,
    parse_retry_after,
)
from tastytrade_proto.protocol.envelope import Envelope
from tastytrade_proto.timestamps import parse_datetime

from .conftest import sample_response


def test_success_envelope_with_decimals() -> None:
    envelope = decode_envelope(sample_response(200, "balances_200.json"))
    assert envelope.context == "/accounts/5WT00000/balances"
    assert isinstance(envelope.data["cash-balance"], str)
    parsed = parse_json(Response(200, (), b'{"a": 1.10, "b": 7, "c": 1e3}'))
    assert parsed == {"a": Decimal("1.10"), "b": 7, "c": Decimal("1E+3")}
    assert not any(isinstance(v, float) for v in parsed.values())


def test_items_and_pagination() -> None:
    envelope = decode_envelope(sample_response(200, "transactions_200.json"))
    assert envelope.items and isinstance(envelope.items[0], dict)
    assert envelope.pagination is not None
    assert envelope.pagination.page_offset == 0
    assert envelope.pagination.total_pages == 7
    assert envelope.pagination.per_page == 250
    assert envelope.pagination.has_next
    assert envelope.api_version == "v1"
    with pytest.raises(DecodeError, match="no 'items'"):
        _ = decode_envelope(sample_response(200, "balances_200.json")).items


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"<html>oops</html>", "not valid JSON"),
        (b'{"data": {"a": 1', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"context": "/x"}', "no 'data' object"),
        (b'{"data": null}', "no 'data' object"),
        (b'{"data": 5}', "no 'data' object"),
        (b'{"data": {}, "pagination": 3}', "'pagination' that is not an object"),
        (b'{"data": {}, "pagination": {"page-offset": "x"}}', "without page-offset"),
        (b'{"data": {"x": NaN}}', "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_2xx_without_expected_data_is_a_decode_error(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message) as info:
        decode_envelope(Response(200, (), body))
    assert info.value.status == 200


def test_empty_2xx_allowed_when_no_data_expected() -> None:
    assert decode_envelope(Response(204), require_data=False) == Envelope(None)


def test_huge_bodies_are_refused_before_parsing() -> None:
    huge = Response(200, (), b" " * (MAX_BODY_BYTES + 1))
    with pytest.raises(DecodeError, match="larger than"):
        parse_json(huge)


def test_pagination_accepts_numbers_as_strings() -> None:
    body = b'{"data": {"items": []}, "pagination": {"page-offset": "1", "total-pages": 2.0}}'
    paging = decode_envelope(Response(200, (), body)).pagination
    assert paging is not None and paging.page_offset == 1 and not paging.has_next


@pytest.mark.parametrize(
    ("status", "name", "cls", "code"),
    [
        (
            401,
            "sessions_post_401_invalid_credentials.json",
            InvalidCredentials,
            "invalid_credentials",
        ),
        (401, "error_401_token_invalid.json", SessionExpired, "token_invalid"),
        (401, "error_401_invalid_session.json", SessionExpired, "invalid_session"),
        (401, "error_401_unauthorized.json", SessionExpired, "unauthorized"),
        (
            403,
            "sessions_post_403_device_challenge_required.json",
            DeviceChallengeRequired,
            "device_challenge_required",
        ),
        (403, "error_403_not_permitted.json", Forbidden, "not_permitted"),
        (
            400,
            "sessions_post_400_missing_request_token.json",
            ValidationFailed,
            "missing_request_token",
        ),
        (400, "error_validation_400.json", ValidationFailed, "validation_error"),
        (406, "error_406_version_not_supported.json", VersionNotSupported, "406"),
        (
            422,
            "orders_post_422_preflight_check_failure.json",
            ValidationFailed,
            "preflight_check_failure",
        ),
        (
            422,
            "orders_dry_run_error_margin_check_failed.json",
            ValidationFailed,
            "preflight_check_failure",
        ),
        (400, "oauth_token_error_invalid_grant.json", OAuthError, "invalid_grant"),
        (401, "oauth_token_error_invalid_request_cert.json", OAuthError, "invalid_request"),
        (
            404,
            "error_quote_streamer_customer_not_found.json",
            NotFound,
            "quote_streamer.customer_not_found_error",
        ),
    ],
)
def test_error_bodies_map_to_classes(status: int, name: str, cls: type, code: str) -> None:
    response = sample_response(status, name)
    error = error_from_response(response)
    assert type(error) is cls
    assert isinstance(error, ApiError)
    assert error.status == status
    assert error.code == code
    assert code in str(error) and f"HTTP {status}" in str(error)
    with pytest.raises(cls):
        decode_envelope(response)


def test_error_details_are_kept_structured() -> None:
    error = error_from_response(sample_response(400, "error_validation_400_multiple.json"))
    assert isinstance(error, ValidationFailed)
    assert error.api_message == "Request validation failed"
    assert [(e.domain, e.reason) for e in error.errors] == [
        ("current-password", "are missing, exactly one parameter must be provided"),
        ("reset-password-token", "are missing, exactly one parameter must be provided"),
    ]
    preflight = error_from_response(
        sample_response(422, "orders_post_422_preflight_check_failure.json")
    )
    assert isinstance(preflight, ApiError)
    assert preflight.errors[0].code == "cant_buy_for_credit"
    assert "cant_buy_for_credit: You cannot buy for a credit." in str(preflight)
    raw = ErrorDetail(code="x", raw={"code": "x", "preflight-id": 3})
    assert raw == ErrorDetail(code="x")  # raw is kept but does not take part in equality


def test_error_details_tolerate_odd_shapes() -> None:
    body = b'{"error": {"code": "x", "message": "m", "errors": "just a string"}}'
    error = error_from_response(Response(422, (), body))
    assert isinstance(error, ApiError) and error.errors[0].message == "just a string"
    body = b'{"error": {"code": 5, "message": ["m"], "errors": [1, {"code": "y"}, null]}}'
    error = error_from_response(Response(422, (), body))
    assert isinstance(error, ApiError)
    assert error.code == "5" and error.api_message == '["m"]'
    assert [str(e) for e in error.errors] == ["1", "y", "null"]


def test_device_challenge_keeps_redirect() -> None:
    error = error_from_response(
        sample_response(403, "sessions_post_403_device_challenge_required.json")
    )
    assert isinstance(error, ApiError)
    assert error.redirect is not None and error.redirect["url"] == "/device-challenge"


def test_guessed_classic_otp_codes_live_in_one_place() -> None:
    required = Response(401, (), b'{"error": {"code": "%s"}}' % CLASSIC_OTP_REQUIRED_CODE.encode())
    invalid = Response(401, (), b'{"error": {"code": "%s"}}' % CLASSIC_OTP_INVALID_CODE.encode())
    assert type(error_from_response(required)) is SecondFactorRequired
    assert type(error_from_response(invalid)) is InvalidSecondFactor


def test_nginx_html_401_is_an_authentication_error_with_an_excerpt() -> None:
    error = error_from_response(sample_response(401, "error_401_user_agent_missing.html"))
    assert type(error) is AuthenticationError
    assert "401 Authorization Required" in str(error)
    assert "non-JSON body" in str(error)


@pytest.mark.parametrize(
    ("status", "cls"),
    [(500, ServerError), (502, ServerError), (503, ServerError), (409, ApiError), (302, ApiError)],
)
def test_status_only_errors(status: int, cls: type) -> None:
    error = error_from_response(Response(status, (), b"<html>Bad Gateway</html>"))
    assert type(error) is cls
    assert error.status == status


def test_error_headers_drop_secrets() -> None:
    response = Response(500, (("Set-Cookie", "s=1"), ("X-Request-Id", "r1")), b"")
    error = error_from_response(response)
    assert error.headers == (("x-request-id", "r1"),)


def test_rate_limited_retry_after() -> None:
    error = error_from_response(Response(429, (("Retry-After", "7"),), b""))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7.0 and error.delay(now=0) == 7.0
    dated = error_from_response(
        Response(429, (("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),), b"")
    )
    assert isinstance(dated, RateLimited)
    assert dated.retry_at == datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc)
    assert dated.delay(now=dated.retry_at.timestamp() - 3) == pytest.approx(3)
    assert dated.delay(now=dated.retry_at.timestamp() + 3) == 0.0
    bare = error_from_response(Response(429))
    assert isinstance(bare, RateLimited) and bare.delay(now=0) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (None, None)),
        ("0", (0.0, None)),
        (" 12 ", (12.0, None)),
        ("1.5", (1.5, None)),
        ("-1", (None, None)),
        ("soon", (None, None)),
        ("Wed, 21 Oct 2015 07:28:00", (None, datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc))),
    ],
)
def test_parse_retry_after(value: str | None, expected: tuple[object, object]) -> None:
    assert parse_retry_after(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-09-12T20:25:32.440Z", datetime(2024, 9, 12, 20, 25, 32, 440000, timezone.utc)),
        ("2024-07-31T16:50:23.417+00:00", datetime(2024, 7, 31, 16, 50, 23, 417000, timezone.utc)),
        ("2024-07-31T12:50:23-04:00", datetime(2024, 7, 31, 16, 50, 23, tzinfo=timezone.utc)),
        ("2024-07-31T16:50:23.123456789Z", datetime(2024, 7, 31, 16, 50, 23, 123456, timezone.utc)),
        ("2024-07-31 16:50:23+0000", datetime(2024, 7, 31, 16, 50, 23, tzinfo=timezone.utc)),
    ],
)
def test_parse_datetime(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected and parsed.tzinfo is not None


@pytest.mark.parametrize(
    "text",
    ["2024-09-12T20:25:32", "2024-13-01T00:00:00Z", "yesterday", "2024-01-01T00:00:00+25:00"],
)
def test_parse_datetime_refuses_naive_or_invalid(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text)


def test_token_endpoint_429_and_5xx_keep_their_retryable_class() -> None:
    body = b'{"error_code": "slow_down", "error_description": "later"}'
    limited = error_from_response(Response(429, (("Retry-After", "2"),), body))
    assert isinstance(limited, RateLimited) and limited.retry_after == 2.0
    assert limited.code == "slow_down"
    assert type(error_from_response(Response(503, (), body))) is ServerError
    assert type(error_from_response(Response(401, (), body))) is OAuthError


def test_error_given_as_a_plain_string() -> None:
    error = error_from_response(Response(400, (), b'{"error": "bad things"}'))
    assert isinstance(error, ValidationFailed) and error.api_message == "bad things"
    assert "bad things" in str(error)
