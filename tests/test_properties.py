"""Property tests (hypothesis) for the sans-I/O core.

1. Decoding is total: whatever a server sends, the decoders and the session
   machine return or raise a ``TastytradeError`` subclass, nothing else.
2. Secrets never leak into a repr, a message or an error, even when a hostile
   server echoes them back.
3. ``AuthMachine.dump``/``load`` round-trip every reachable session.
4. ``Request``/``Response`` are values whose reprs hide secret headers, and the
   path and query encoders round-trip through ``urllib.parse``.
5. ``RetryPolicy.delay`` stays within its bounds.

Each section ends with plain tests pinning, as minimal deterministic
reproductions, the bugs these properties found (fixed since), and
``xfail(strict=True)`` tests for the ones still open. Where a main property
steers around an open bug's inputs, it says so.
"""

from __future__ import annotations

import contextlib
import json
import string
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tastytrade_proto import (
    PRODUCTION,
    ApiError,
    DecodeError,
    DeviceChallengeRequired,
    InvalidCredentials,
    LocalProtocolError,
    OAuthError,
    RateLimited,
    ResponseError,
    RetryPolicy,
    SecondFactorRequired,
    SessionExpired,
    TastytradeError,
    TransportError,
    TransportTimeout,
)
from tastytrade_proto._redact import SECRET_HEADERS
from tastytrade_proto.errors import CLASSIC_OTP_INVALID_CODE, CLASSIC_OTP_REQUIRED_CODE
from tastytrade_proto.protocol import (
    AuthMachine,
    AuthScheme,
    AuthState,
    Request,
    Response,
    decode_envelope,
    drive,
    encode_json,
    encode_path,
    encode_query,
    error_from_response,
    flows,
    parse_json,
    parse_response,
    serialize_request,
)
from tastytrade_proto.testing import FakeClock, ReplayTransport, json_response

NOW = 1_700_000_000.0
LOGIN = "user@example.com"
SECRET_ALPHABET = string.ascii_letters + string.digits


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---------------------------------------------------------------------------
# Strategies: bodies a server might send
# ---------------------------------------------------------------------------


def _load_samples() -> list[bytes]:
    here = Path(__file__).resolve()
    for base in (here.parent / "samples", here.parents[2] / "shared" / "api-samples"):
        if base.is_dir():
            found = [
                p.read_bytes() for p in sorted(base.iterdir()) if p.suffix in (".json", ".html")
            ]
            if found:
                return found
    # Outside the workspace: a few representative bodies, so the tests still run.
    return [
        b'{"data":{"user":{"email":"user@example.com","username":"u","external-id":"U1",'
        b'"is-confirmed":true},"session-token":"FAKE-SESSION","remember-token":"FAKE-REMEMBER",'
        b'"session-expiration":"2024-09-12T20:25:32.440Z"},"context":"/sessions"}',
        b'{"access_token":"FAKE-ACCESS-TOKEN","token_type":"Bearer","expires_in":900}',
        b'{"error":{"code":"device_challenge_required","message":"Device authentication '
        b'challenge required","redirect":{"method":"POST","url":"/device-challenge"}}}',
        b'{"error_code":"invalid_grant","error_description":"Grant revoked"}',
        b'{"data":{"items":[{"a":"1.5"}]},"pagination":{"per-page":1,"page-offset":0,'
        b'"page-length":1,"total-items":3,"total-pages":3}}',
    ]


SAMPLES = _load_samples()


class RawJSON(str):
    """A JSON fragment written into a document as it is (huge numbers, bad escapes)."""


def to_json(value: Any) -> str:
    """Serialize, letting ``RawJSON`` through and writing NaN/Infinity literals."""
    if isinstance(value, RawJSON):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k) + ":" + to_json(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value)


# Number literals. Huge exponents are fine anywhere except in the pagination
# block (see test_pagination_with_a_huge_exponent_is_refused_cheaply).
HUGE_LITERALS = [
    "1e999999999",
    "-1e-999999999",
    "1E400",
    "-0",
    "0.1e-7",
    "123456789012345678901234567890.5",
    "1" + "0" * 5000,  # beyond int's 4300-digit str limit
    "9" * 400,
    "NaN",
    "Infinity",
    "-Infinity",
    '"\\ud800"',  # lone surrogate escape
    '"\\udfff\\u0000"',
]

INTERESTING_STRINGS = [
    "",
    "NaN",
    "Infinity",
    "1e999",
    "-1",
    "0",
    "2024-09-12T20:25:32.440Z",
    "2024-09-12T20:25:32+05:30",
    "2024-13-40T99:99:99Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "device_challenge_required",
    "invalid_credentials",
    "token_invalid",
    "invalid_session",
    "invalid_grant",
    CLASSIC_OTP_REQUIRED_CODE,
    CLASSIC_OTP_INVALID_CODE,
    "security_question",
    "otp_verification",
    "Bearer",
    "Mon, 01 Jan 2024 00:00:00 GMT",
    "\ud800",
    "sNaN",
    "-sNaN1",
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:00:00-05:00",
    "a\nb",
    " padded ",
]

KEYS = [
    "data",
    "error",
    "error_code",
    "error_description",
    "context",
    "api-version",
    "items",
    "code",
    "message",
    "errors",
    "redirect",
    "domain",
    "reason",
    "preflight-id",
    "session-token",
    "session-expiration",
    "remember-token",
    "user",
    "email",
    "username",
    "external-id",
    "is-confirmed",
    "name",
    "nickname",
    "id",
    "access_token",
    "refresh_token",
    "id_token",
    "expires_in",
    "token_type",
    "step",
    "phone",
    "question",
]

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and infinities become NaN/Infinity literals
    st.text(max_size=20),
    st.sampled_from(INTERESTING_STRINGS),
    st.sampled_from(HUGE_LITERALS).map(RawJSON),
)

json_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5),
    ),
    max_leaves=20,
)

# Pagination numbers. Exponents stay at or below 1e20000 so that a regression
# of test_pagination_with_a_huge_exponent_is_refused_cheaply fails rather than
# hangs.
paging_numbers = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.integers(),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**6), max_value=10**6).map(
        lambda d: RawJSON(str(d))
    ),
    st.sampled_from(["3", "1.5", "abc", "1e3", "NaN", "sNaN", "-0", "", "Infinity", "1e20000"]),
    st.sampled_from(
        ["NaN", "Infinity", "1e3", "2.0", "-0.0", "1E+2", "1e20000", "-1e-20000", "9" * 30]
    ).map(RawJSON),
)
pagination = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "page-offset": paging_numbers,
            "total-pages": paging_numbers,
            "per-page": paging_numbers,
            "total-items": paging_numbers,
            "page-length": paging_numbers,
        },
    ),
)


def _shaped(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


user_objects = st.one_of(
    json_values,
    _shaped(
        email=json_leaves,
        username=json_leaves,
        **{"external-id": json_leaves, "is-confirmed": json_leaves},
        name=json_leaves,
        nickname=json_leaves,
        id=json_leaves,
    ),
)
error_items = st.lists(
    st.one_of(
        json_values,
        _shaped(code=json_leaves, message=json_values, **{"preflight-id": json_leaves}),
        _shaped(domain=json_leaves, reason=json_values),
    ),
    max_size=4,
)
shaped_documents = st.one_of(
    _shaped(
        data=json_values, context=json_leaves, pagination=pagination, **{"api-version": json_leaves}
    ),
    _shaped(
        error=st.one_of(
            json_values,
            _shaped(
                code=json_leaves,
                message=json_values,
                errors=error_items | json_values,
                redirect=json_values,
            ),
        ),
        data=json_values,
    ),
    _shaped(error_code=json_leaves, error_description=json_values),
    _shaped(
        data=_shaped(
            user=user_objects,
            **{
                "session-token": json_leaves,
                "remember-token": json_leaves,
                "session-expiration": json_leaves,
            },
        ),
        context=json_leaves,
    ),
    _shaped(
        access_token=json_leaves,
        refresh_token=json_leaves,
        expires_in=json_leaves,
        token_type=json_leaves,
        data=json_values,
    ),
    _shaped(
        data=_shaped(step=json_leaves, phone=json_leaves, email=json_leaves, question=json_leaves)
    ),
    _shaped(data=user_objects),
)


@st.composite
def truncated_samples(draw: st.DrawFn) -> bytes:
    body = draw(st.sampled_from(SAMPLES))
    return body[: draw(st.integers(0, len(body)))]


@st.composite
def with_invalid_utf8(draw: st.DrawFn) -> bytes:
    body = draw(st.sampled_from(SAMPLES) | json_values.map(lambda v: to_json(v).encode()))
    junk = draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xf0\x28\x8c", b"\x80"]))
    cut = draw(st.integers(0, len(body)))
    return body[:cut] + junk + body[cut:]


SPECIAL_BODIES = [
    b"",
    b"   \n",
    b"[" * 100_000,
    b"{" * 100_000,
    b'{"a":' * 50_000,
    b"[" * 50 + b"]" * 50,
    b"[" * 600 + b"]" * 600,  # parses, deeper than half the recursion limit
    b'{"error":{"code":"x","message":"m","errors":' + b"[" * 600 + b"]" * 600 + b"}}",
    b'{"data":{"session-token":"t","session-expiration":"2030-01-01T00:00:00Z","user":'
    + b'{"a":' * 600
    + b"1"
    + b"}" * 601
    + b"}",
    b"[" * 100_000 + b"]" * 100_000,
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b'{"data":NaN}',
    b'{"data":{"x":Infinity}}',
    b"1e999999999",
    b'{"data":{"x":1e999999999}}',
    b'{"access_token":"t","expires_in":1e999999999}',
    b'{"access_token":"t","expires_in":"1e999999999"}',
    b'{"access_token":"t","expires_in":-1e-999999999}',
    b"9" * 5000,
    b'{"data":{},"pagination":{"page-offset":' + b"9" * 5000 + b',"total-pages":1}}',
    b"\xff\xfe\x00\x00",
    '{"data":{}}'.encode("utf-16"),
    b'{"data":"\xed\xa0\x80"}',
    b'"\\ud800"',
    b'{"error":{"code":"x","message":"\\udfff"}}',
    b'{"data":{"session-token":"\\ud800","session-expiration":"2030-01-01T00:00:00Z"}}',
    b"\x00",
    b"<html><body><h1>401 Authorization Required</h1></body></html>",
    b"null",
    b"[]",
    b'{"data":null}',
    b'{"error":null}',
    b'{"error":"boom"}',
    b'{"error":{"errors":"one"}}',
    b'{"error_code":null}',
]

bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: to_json(v).encode()),
    shaped_documents.map(lambda v: to_json(v).encode()),
    truncated_samples(),
    st.sampled_from(SAMPLES),
    with_invalid_utf8(),
    st.sampled_from(SPECIAL_BODIES),
)

no_crlf = st.characters(exclude_characters="\r\n")
header_names = st.one_of(
    st.sampled_from(
        [
            "Content-Type",
            "Retry-After",
            "X-Tastyworks-Challenge-Token",
            "x-tastyworks-otp",
            "Authorization",
            "Set-Cookie",
            "Content-Length",
        ]
    ),
    st.text(no_crlf, max_size=20),
)
header_values = st.one_of(
    st.text(no_crlf, max_size=40),
    st.sampled_from(
        [
            "",
            "application/json",
            "0",
            "5",
            "1.5",
            "999999999",
            "-1",
            "Mon, 01 Jan 2024 00:00:00 GMT",
            "Mon, 01 Jan 99999 00:00:00 GMT",
            "Mon, 01 Jan 0001 00:00:00 +2359",
            "Fri, 31 Dec 9999 23:59:59 -2359",
            "\u0661\u0662",
            "nonsense",
        ]
    ),
)
headers_lists = st.lists(st.tuples(header_names, header_values), max_size=5)
statuses = st.one_of(
    st.integers(100, 999),
    st.sampled_from([200, 201, 204, 400, 401, 403, 404, 406, 422, 429, 500, 502, 503]),
)
responses = st.builds(Response, statuses, headers_lists, bodies)


# ---------------------------------------------------------------------------
# 1. Decoding is total
# ---------------------------------------------------------------------------


def _touch_error(error: TastytradeError) -> None:
    """Everything a caller or a logger does with an error must work."""
    str(error)
    repr(error)
    for value in vars(error).values():
        repr(value)
    if isinstance(error, ApiError):
        for detail in error.errors:
            str(detail)


@_settings(250)
@given(response=responses)
def test_decoding_is_total(response: Response) -> None:
    repr(response)
    try:
        envelope = decode_envelope(response)
    except ResponseError as exc:
        _touch_error(exc)
    else:
        assert response.ok
        assert isinstance(envelope.data, dict)
        repr(envelope)
    try:
        decode_envelope(response, require_data=False)
    except ResponseError as exc:
        _touch_error(exc)
    try:
        parse_json(response)
    except DecodeError as exc:
        _touch_error(exc)
    error = error_from_response(response)
    assert isinstance(error, ResponseError)
    assert error.status == response.status
    _touch_error(error)
    if not response.ok:
        with pytest.raises(ApiError):
            decode_envelope(response)


# Raw HTTP/1.1 responses for wire.parse_response.
@st.composite
def raw_http(draw: st.DrawFn) -> bytes:
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"http/1.1", b""]))
    status = draw(st.integers(0, 1200).map(lambda n: str(n).encode()) | st.binary(max_size=4))
    reason = draw(st.sampled_from([b"OK", b"", b"Weird Reason", b"\xff\xfe"]))
    head = [version + b" " + status + b" " + reason]
    for name, value in draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        b"Content-Type",
                        b"X-A",
                        b"Retry-After",
                        b"X-Tastyworks-Challenge-Token",
                        b"Bad Name",
                        b"",
                    ]
                ),
                st.binary(max_size=20),
            ),
            max_size=4,
        )
    ):
        head.append(name + b": " + value)
    body: bytes = draw(bodies)
    framing = draw(st.sampled_from(["length", "wrong-length", "chunked", "bad-chunked", "close"]))
    if framing == "length":
        head.append(b"Content-Length: %d" % len(body))
    elif framing == "wrong-length":
        head.append(b"Content-Length: %d" % draw(st.integers(0, 2 * len(body) + 5)))
    elif framing in ("chunked", "bad-chunked"):
        head.append(b"Transfer-Encoding: chunked")
        body = (b"%x\r\n" % len(body)) + body + b"\r\n0\r\n\r\n" if body else b"0\r\n\r\n"
        if framing == "bad-chunked":
            body = b"zz\r\n" + body
    data = b"\r\n".join(head) + b"\r\n\r\n" + body
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@_settings(200)
@given(data=st.one_of(st.binary(max_size=300), raw_http()))
@example(data=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
@example(data=b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
@example(data=b"HTTP/1.1 000 Zero\r\n\r\n")
@example(data=b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
@example(data=b"HTTP/1.1 200 OK\r\n\r\n" + b"[" * 100_000)
def test_wire_parse_response_is_total(data: bytes) -> None:
    try:
        response = parse_response(data)
    except DecodeError as exc:
        _touch_error(exc)
    else:
        assert isinstance(response, Response)
        assert 100 <= response.status <= 999
        with contextlib.suppress(ResponseError):
            decode_envelope(response)


# Machines waiting for the answer of each kind of exchange.


def _expect(error: type[TastytradeError], call: Callable[[], object]) -> None:
    with pytest.raises(error):
        call()


def _logged_in() -> AuthMachine:
    m = AuthMachine()
    m.login_with_password(LOGIN, "password-0001")
    data = {
        "session-token": "session-0001",
        "session-expiration": "2030-01-01T00:00:00Z",
        "remember-token": "remember-0001",
        "user": {"email": LOGIN},
    }
    m.receive(json_response(201, {"data": data}), NOW)
    assert m.state is AuthState.AUTHENTICATED
    return m


def _oauth_in() -> AuthMachine:
    m = AuthMachine()
    m.login_with_oauth("client-secret-0001", "refresh-0001")
    m.receive(json_response(200, {"access_token": "access-0001", "expires_in": 900}), NOW)
    return m


def _challenged() -> AuthMachine:
    m = AuthMachine()
    m.login_with_password(LOGIN, "password-0001")
    challenge = json_response(
        403,
        {"error": {"code": "device_challenge_required", "message": "challenge"}},
        [("X-Tastyworks-Challenge-Token", "challenge-0001")],
    )
    _expect(DeviceChallengeRequired, lambda: m.receive(challenge, NOW))
    return m


def _pending_login() -> AuthMachine:
    m = AuthMachine()
    m.login_with_password(LOGIN, "password-0001")
    return m


def _pending_login_otp() -> AuthMachine:
    m = AuthMachine()
    m.login_with_password(LOGIN, "password-0001", otp="123456", remember_me=False)
    return m


def _pending_remember() -> AuthMachine:
    m = AuthMachine()
    m.login_with_remember_token(LOGIN, "remember-0001")
    return m


def _pending_second_factor() -> AuthMachine:
    m = AuthMachine()
    m.login_with_password(LOGIN, "password-0001")
    otp = json_response(401, {"error": {"code": CLASSIC_OTP_REQUIRED_CODE, "message": "otp"}})
    _expect(SecondFactorRequired, lambda: m.receive(otp, NOW))
    m.submit_second_factor("123456")
    return m


def _pending_device_challenge() -> AuthMachine:
    m = _challenged()
    m.start_device_challenge()
    return m


def _pending_security_answer() -> AuthMachine:
    m = _challenged()
    m.start_device_challenge()
    question = json_response(200, {"data": {"step": "security_question", "question": "Pet?"}})
    _expect(SecondFactorRequired, lambda: m.receive(question, NOW))
    m.answer_security_question("Rex the dog")
    return m


def _pending_oauth_login() -> AuthMachine:
    m = AuthMachine()
    m.login_with_oauth("client-secret-0001", "refresh-0001", client_id="client-id")
    return m


def _pending_oauth_refresh() -> AuthMachine:
    m = _oauth_in()
    m.refresh()
    return m


def _pending_validate() -> AuthMachine:
    m = _logged_in()
    m.validate()
    return m


def _pending_oauth_validate() -> AuthMachine:
    m = _oauth_in()
    m.validate()
    return m


def _pending_logout() -> AuthMachine:
    m = _logged_in()
    m.logout()
    return m


def _pending_relogin() -> AuthMachine:
    m = _logged_in()
    m.relogin()
    return m


EXCHANGES: dict[str, Callable[[], AuthMachine]] = {
    "login": _pending_login,
    "login with otp": _pending_login_otp,
    "remember-token login": _pending_remember,
    "second factor": _pending_second_factor,
    "device challenge": _pending_device_challenge,
    "security answer": _pending_security_answer,
    "oauth login": _pending_oauth_login,
    "oauth refresh": _pending_oauth_refresh,
    "validate": _pending_validate,
    "oauth validate": _pending_oauth_validate,
    "logout": _pending_logout,
    "relogin": _pending_relogin,
}
LOGIN_KINDS = {
    "login",
    "login with otp",
    "remember-token login",
    "second factor",
    "relogin",
    "oauth login",
    "oauth refresh",
}


@pytest.mark.parametrize("kind", sorted(EXCHANGES))
@_settings(45)
@given(response=responses)
def test_session_receive_is_total(kind: str, response: Response) -> None:
    m = EXCHANGES[kind]()
    assert m.exchange_in_flight
    try:
        events = m.receive(response, NOW)
    except TastytradeError as exc:
        _touch_error(exc)
    else:
        repr(events)
        if kind in LOGIN_KINDS:
            assert m.state is AuthState.AUTHENTICATED
    # Whatever happened, the exchange is over and the machine is in a state
    # a caller can act on.
    assert not m.exchange_in_flight
    assert m.state is not AuthState.AUTHENTICATING
    repr(m)


class EscapedRecursionError(AssertionError):
    """A RecursionError got out of the library (re-raised without its 1000-frame
    traceback, which pytest would take seconds to format)."""


@contextlib.contextmanager
def _no_escaping_recursion_error() -> Iterator[None]:
    try:
        yield
    except RecursionError as exc:
        raise EscapedRecursionError(f"RecursionError escaped: {exc}") from None


def _deepest_json_nesting() -> int:
    """The deepest ``[[...]]`` that json.loads still accepts at this stack depth."""
    low, high = 1, 200_000
    while low < high:
        mid = (low + high + 1) // 2
        try:
            json.loads("[" * mid + "]" * mid)
        except RecursionError:
            high = mid - 1
        else:
            low = mid
    return low


# Found: _redact.redact_body re-walked a parsed body with a recursive Python
# function, so a nested body that json.loads accepts but deeper than about half
# the recursion limit raised RecursionError from decode_envelope,
# error_from_response, AuthMachine.receive and even repr(Response).
@pytest.mark.parametrize(
    "call",
    ["decode_envelope", "error_from_response", "repr", "receive"],
)
def test_deep_but_parseable_nesting_is_decoded_totally(call: str) -> None:
    depth = _deepest_json_nesting() - 40
    body = b"[" * depth + b"]" * depth
    response = Response(400 if call == "error_from_response" else 200, (), body)
    with _no_escaping_recursion_error():
        try:
            if call == "decode_envelope":
                decode_envelope(response)
            elif call == "error_from_response":
                error_from_response(response)
            elif call == "repr":
                repr(response)
            else:
                _pending_login().receive(response, NOW)
        except TastytradeError:
            pass


# Found: envelope._int expanded a pagination number into an int however large
# its exponent; {"page-offset": 1e999999999} in a 70-byte body never returned
# (1e6 took 30 s). The check below uses 1e20000, which a regression would still
# decode in milliseconds (into a 20000-digit int) instead of hanging the suite.
def test_pagination_with_a_huge_exponent_is_refused_cheaply() -> None:
    body = b'{"data":{"items":[]},"pagination":{"page-offset":1e20000,"total-pages":1}}'
    try:
        envelope = decode_envelope(Response(200, (), body))
    except DecodeError:
        return
    assert envelope.pagination is not None
    assert envelope.pagination.page_offset.bit_length() <= 64


# Found: _receive_refresh converted expires_in with float(Decimal(str(x))) and
# caught only ArithmeticError; "sNaN" raised ValueError.
@pytest.mark.parametrize("expires_in", ['"sNaN"', '"-sNaN1"', '"NaN"', '"-Infinity"'])
def test_oauth_expires_in_signaling_nan(expires_in: str) -> None:
    m = _pending_oauth_login()
    body = b'{"access_token":"access-0001","expires_in":' + expires_in.encode() + b"}"
    events = m.receive(Response(200, (), body), NOW)
    assert m.state is AuthState.AUTHENTICATED and events
    assert m.expires_at == datetime.fromtimestamp(NOW + 900, tz=timezone.utc)


# ---------------------------------------------------------------------------
# 2. Secrets never leak
# ---------------------------------------------------------------------------


def _mixed(secret: str) -> str:
    """A secret made only of letters can be a word of the reprs' own vocabulary
    ("RememberTokenIssued", "authenticated"), and hypothesis finds those. Real
    secrets mix letters and digits, so make each one do."""
    if not any(c.isdigit() for c in secret):
        return secret[:-1] + "7"
    if not any(c.isalpha() for c in secret):
        return secret[:-1] + "q"
    return secret


secret_text = st.text(alphabet=SECRET_ALPHABET, min_size=12, max_size=40).map(_mixed)
# password, remember token, two OTPs, client secret, refresh token, security
# answer, then tokens for the server to issue.
HANDED = 7
secret_pools = st.lists(secret_text, min_size=HANDED + 10, max_size=HANDED + 10, unique=True)


def _independent(secrets: list[str]) -> bool:
    return not any(a != b and a in b for a in secrets for b in secrets)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what a traceback would print with it."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None


class HostileServer:
    """Answers every request, drawing the answer from hypothesis, and echoes back
    whatever secrets the request carried: in error messages, ``errors[]``
    items, non-JSON bodies and secret-named headers. Tokens it issues join
    the secrets that must never be shown."""

    def __init__(
        self,
        data: st.DataObject,
        handed: list[str],
        issuable: list[str],
        clock: Callable[[], float] = lambda: NOW,
    ) -> None:
        self.data = data
        self.known = list(handed)
        self._issuable = list(issuable)
        self._issued = 0
        self.clock = clock
        self.transport = ReplayTransport()
        # Responses whose secrets are all under secret names (fields, headers):
        # their repr must hide them. A secret echoed in free text cannot be
        # redacted by a Response that does not know it (see the xfail below).
        self.redactable: list[Response] = []

    # -- helpers ---------------------------------------------------------------

    def _draw(self, strategy: st.SearchStrategy[Any], label: str) -> Any:
        return self.data.draw(strategy, label=label)

    def issue(self) -> str:
        token = self._issuable[self._issued % len(self._issuable)]
        self._issued += 1
        if token not in self.known:
            self.known.append(token)
        return token

    def _echo(self, echo: list[str]) -> str:
        if not echo:
            return "refused"
        picked = self._draw(st.lists(st.sampled_from(echo), max_size=3), "echoed secrets")
        return "refused: " + " and ".join(picked)

    def _secret_headers(self, echo: list[str]) -> list[tuple[str, str]]:
        if not echo:
            return []
        names = self._draw(
            st.lists(
                st.sampled_from(
                    [
                        "X-Tastyworks-Challenge-Token",
                        "Set-Cookie",
                        "Authorization",
                        "X-Tastyworks-OTP",
                    ]
                ),
                max_size=2,
                unique=True,
            ),
            "echo headers",
        )
        return [(name, self._draw(st.sampled_from(echo), "header echo")) for name in names]

    def _plain_headers(self, echo: list[str]) -> list[tuple[str, str]]:
        """An echo in a header with an ordinary name (only errors can hide it)."""
        if not echo or not self._draw(st.booleans(), "echo in X-Debug"):
            return []
        return [("X-Debug", "request carried " + self._draw(st.sampled_from(echo), "echo"))]

    def _error(
        self,
        status: int,
        code: str,
        echo: list[str],
        headers: list[tuple[str, str]] | None = None,
    ) -> tuple[Response, bool]:
        text = self._echo(echo)
        shape = self._draw(
            st.sampled_from(["api", "api-errors", "oauth", "html", "empty"]), "error shape"
        )
        if shape == "api":
            body = json.dumps({"error": {"code": code, "message": text}}).encode()
        elif shape == "api-errors":
            body = json.dumps(
                {
                    "error": {
                        "code": code,
                        "message": "invalid request",
                        "errors": [
                            {"code": "bad_value", "message": text},
                            {"domain": "password", "reason": text},
                            text,
                        ],
                    }
                }
            ).encode()
        elif shape == "oauth":
            body = json.dumps({"error_code": code, "error_description": text}).encode()
        elif shape == "html":
            body = f"<html><body><h1>{status}</h1><p>{text}</p></body></html>".encode()
        else:
            body = b""
        plain = self._plain_headers(echo)
        hdrs = (headers or []) + self._secret_headers(echo) + plain
        free_text = (shape != "empty" and text not in ("refused", "refused: ")) or bool(plain)
        return Response(status, tuple(hdrs), body), not free_text

    def _expiration(self) -> str:
        return (
            datetime.fromtimestamp(self.clock() + 86_400, tz=timezone.utc)
            .isoformat()
            .replace("+00:00", "Z")
        )

    # -- routes ----------------------------------------------------------------

    def _sessions(self, echo: list[str]) -> tuple[Response, bool]:
        kind = self._draw(
            st.sampled_from(
                [
                    "ok",
                    "ok",
                    "ok-no-remember",
                    "truncated-ok",
                    "bad-expiry",
                    "no-session-token",
                    "echo-as-token",
                    "invalid_credentials",
                    "device",
                    "device",
                    "device-no-header",
                    "otp_required",
                    "otp_required",
                    "invalid_otp",
                    "server-error",
                    "rate-limited",
                ]
            ),
            "POST /sessions answer",
        )
        if kind in (
            "ok",
            "ok-no-remember",
            "truncated-ok",
            "bad-expiry",
            "no-session-token",
            "echo-as-token",
        ):
            data: dict[str, Any] = {
                "user": {"email": LOGIN, "username": "someone", "external-id": "U0001"},
                "session-token": self.issue(),
                "session-expiration": self._expiration(),
            }
            if kind != "ok-no-remember":
                data["remember-token"] = self.issue()
            if kind == "bad-expiry":
                data["session-expiration"] = self._draw(
                    st.sampled_from([None, "", "tomorrow", "2024-13-01T00:00:00Z", 5]),
                    "bad expiry",
                )
            if kind == "no-session-token":
                del data["session-token"]
            if kind == "echo-as-token" and echo:
                data["session-token"] = self._draw(st.sampled_from(echo), "echoed token")
            body = json.dumps({"data": data, "context": "/sessions"}).encode()
            if kind == "truncated-ok":
                body = body[: self._draw(st.integers(0, len(body)), "cut")]
            return Response(201, tuple(self._secret_headers(echo)), body), True
        if kind == "device":
            return self._error(
                403,
                "device_challenge_required",
                echo,
                [("X-Tastyworks-Challenge-Token", self.issue())],
            )
        if kind == "device-no-header":
            return self._error(403, "device_challenge_required", echo)
        if kind == "invalid_credentials":
            return self._error(401, "invalid_credentials", echo)
        if kind == "otp_required":
            return self._error(401, CLASSIC_OTP_REQUIRED_CODE, echo)
        if kind == "invalid_otp":
            return self._error(401, CLASSIC_OTP_INVALID_CODE, echo)
        if kind == "rate-limited":
            return self._error(429, "too_many_requests", echo, [("Retry-After", "1")])
        return self._error(self._draw(st.sampled_from([500, 502]), "5xx"), "oops", echo)

    def _device_challenge(self, echo: list[str]) -> tuple[Response, bool]:
        kind = self._draw(
            st.sampled_from(["otp", "otp-echo", "question", "question", "error", "non-json-200"]),
            "POST /device-challenge answer",
        )
        headers: list[tuple[str, str]] = []
        if self._draw(st.booleans(), "new challenge token"):
            headers.append(("X-Tastyworks-Challenge-Token", self.issue()))
        if kind in ("otp", "otp-echo", "question"):
            text = self._echo(echo) if kind != "otp" else "********0000"
            data = (
                {"step": "security_question", "question": "Pet? " + text}
                if kind == "question"
                else {"step": "otp_verification", "phone": text}
            )
            response = Response(200, tuple(headers), json.dumps({"data": data}).encode())
            return response, text in ("refused", "********0000")
        if kind == "non-json-200":
            text = self._echo(echo)
            return Response(200, tuple(headers), text.encode()), text == "refused"
        return self._error(
            self._draw(st.sampled_from([400, 401, 403, 500]), "status"), "bad_code", echo, headers
        )

    def _oauth(self, echo: list[str]) -> tuple[Response, bool]:
        kind = self._draw(
            st.sampled_from(
                ["ok", "ok", "enveloped", "truncated", "no-access-token", "oauth-error", "error"]
            ),
            "POST /oauth/token answer",
        )
        if kind in ("ok", "enveloped", "truncated", "no-access-token"):
            body: dict[str, Any] = {
                "access_token": self.issue(),
                "token_type": "Bearer",
                "expires_in": self._draw(
                    st.sampled_from([900, 900, 3600, "900", None, 30, -5, 10**12]), "expires_in"
                ),
            }
            if self._draw(st.booleans(), "rotate refresh token"):
                body["refresh_token"] = self.issue()
            if self._draw(st.booleans(), "id token"):
                body["id_token"] = self.issue()
            if kind == "no-access-token":
                del body["access_token"]
            raw = json.dumps({"data": body} if kind == "enveloped" else body).encode()
            if kind == "truncated":
                raw = raw[: self._draw(st.integers(0, len(raw)), "cut")]
            return Response(200, tuple(self._secret_headers(echo)), raw), True
        if kind == "oauth-error":
            return self._error(400, "invalid_grant", echo)
        return self._error(self._draw(st.sampled_from([401, 500]), "status"), "oops", echo)

    def _validate(self, echo: list[str]) -> tuple[Response, bool]:
        kind = self._draw(st.sampled_from(["ok", "empty", "expired", "error"]), "validate")
        if kind == "ok":
            user = {"email": LOGIN, "username": "someone", "id": 7}
            return Response(201, (), json.dumps({"data": user}).encode()), True
        if kind == "empty":
            return Response(204, (), b""), True
        if kind == "expired":
            return self._error(401, "token_invalid", echo)
        return self._error(500, "oops", echo)

    def _logout(self, echo: list[str]) -> tuple[Response, bool]:
        kind = self._draw(st.sampled_from(["ok", "expired", "error"]), "logout")
        if kind == "ok":
            return Response(204, (), b""), True
        if kind == "expired":
            return self._error(401, "token_invalid", echo)
        return self._error(500, "oops", echo)

    def _api(self, echo: list[str]) -> tuple[Response, bool]:
        kind = self._draw(
            st.sampled_from(["ok", "ok", "expired", "rate-limited", "unavailable", "not-found"]),
            "API answer",
        )
        if kind == "ok":
            return Response(200, (), b'{"data":{"items":[]},"context":"/x"}'), True
        if kind == "expired":
            return self._error(401, "token_invalid", echo)
        if kind == "rate-limited":
            return self._error(429, "too_many_requests", echo, [("Retry-After", "0.5")])
        if kind == "unavailable":
            return self._error(503, "unavailable", echo)
        return self._error(404, "not_found", echo)

    # -- the transport -----------------------------------------------------------

    def answer(self, request: Request) -> Response:
        raw = "\n".join(
            [request.url, *(v for _, v in request.headers), request.body.decode("utf-8", "replace")]
        )
        echo = [s for s in self.known if s in raw]
        route = (request.method, request.path)
        if route == ("POST", "/sessions"):
            response, redactable = self._sessions(echo)
        elif route == ("POST", "/device-challenge"):
            response, redactable = self._device_challenge(echo)
        elif route == ("POST", "/oauth/token"):
            response, redactable = self._oauth(echo)
        elif route == ("POST", "/sessions/validate"):
            response, redactable = self._validate(echo)
        elif route == ("DELETE", "/sessions"):
            response, redactable = self._logout(echo)
        else:
            response, redactable = self._api(echo)
        if redactable:
            self.redactable.append(response)
        return response

    def send(self, request: Request) -> Response:
        self.transport.queue(self.answer(request))
        return self.transport.send(request)

    # -- checks ----------------------------------------------------------------

    def assert_clean(self, text: str, what: str) -> None:
        for secret in self.known:
            assert secret not in text, f"{what} shows the secret {secret!r}: {text}"

    def assert_error_clean(self, error: BaseException) -> None:
        for exc in _chain(error):
            name = type(exc).__name__
            self.assert_clean(str(exc), f"str({name})")
            self.assert_clean(repr(exc), f"repr({name})")
            self.assert_clean(repr(exc.args), f"{name}.args")
            if not isinstance(exc, TastytradeError):
                continue
            self.assert_clean(exc.message, f"{name}.message")
            for attr, value in vars(exc).items():
                self.assert_clean(repr(value), f"{name}.{attr}")
            for detail in getattr(exc, "errors", ()):
                self.assert_clean(str(detail), f"str({name}.errors[])")
                self.assert_clean(repr(detail.raw), f"{name}.errors[].raw")
            for key, _ in getattr(exc, "headers", ()):
                assert key.lower() not in SECRET_HEADERS, f"{name}.headers keeps {key!r}"

    def assert_all_clean(self, machine: AuthMachine, events: list[object]) -> None:
        self.assert_clean(repr(machine), "repr(AuthMachine)")
        for request in self.transport.requests:
            self.assert_clean(repr(request), "repr(Request)")
            self.assert_clean(str(request), "str(Request)")
        for response in self.redactable:
            self.assert_clean(repr(response), "repr(Response)")
        for event in events:
            self.assert_clean(repr(event), f"repr({type(event).__name__})")


#: States a login may start (over) from.
RESTARTABLE = frozenset(
    {
        AuthState.UNAUTHENTICATED,
        AuthState.EXPIRED,
        AuthState.DEVICE_CHALLENGE,
        AuthState.AWAITING_SECOND_FACTOR,
        AuthState.AWAITING_SECURITY_ANSWER,
    }
)


def _roles(pool: list[str]) -> tuple[list[str], list[str]]:
    return pool[:HANDED], pool[HANDED:]


def _hand_actions(
    m: AuthMachine, handed: list[str], server: HostileServer
) -> list[tuple[str, Callable[[], Request | None]]]:
    password, remember, otp, otp2, client_secret, refresh, answer = handed
    state = m.state
    actions: list[tuple[str, Callable[[], Request | None]]] = []
    if state in RESTARTABLE:
        actions += [
            ("password", lambda: m.login_with_password(LOGIN, password)),
            ("password+otp", lambda: m.login_with_password(LOGIN, password, otp=otp)),
            ("remember", lambda: m.login_with_remember_token(LOGIN, remember)),
            ("oauth", lambda: m.login_with_oauth(client_secret, refresh, client_id="cid")),
        ]
    if state is AuthState.DEVICE_CHALLENGE:
        actions.append(("start challenge", m.start_device_challenge))
    if state is AuthState.AWAITING_SECOND_FACTOR:
        actions += [
            ("otp", lambda: m.submit_second_factor(otp)),
            ("otp2", lambda: m.submit_second_factor(otp2)),
        ]
    if state is AuthState.AWAITING_SECURITY_ANSWER:
        actions.append(("answer", lambda: m.answer_security_question(answer)))
    if state in (AuthState.AUTHENTICATED, AuthState.EXPIRED):
        actions.append(("logout", m.logout))
        if m.scheme is AuthScheme.OAUTH and m.refresh_token:
            actions.append(("refresh", m.refresh))
        if m.scheme is AuthScheme.LEGACY and m.remember_token:
            actions.append(("relogin", m.relogin))
    if state is AuthState.AUTHENTICATED:
        actions.append(("validate", m.validate))

        def api_call() -> None:
            authorized = m.authorize(m.config.request("GET", "/customers/me"), NOW)
            server.assert_clean(repr(authorized), "repr(authorized Request)")
            response = server.send(authorized)
            m.observe(authorized, response)
            if response.ok:
                decode_envelope(response)
            else:
                raise m.scrub_error(error_from_response(response))
            return None

        actions.append(("api call", api_call))
    return actions


@_settings(100)
@given(data=st.data(), pool=secret_pools)
def test_secrets_never_leak_driving_the_machine_by_hand(
    data: st.DataObject, pool: list[str]
) -> None:
    assume(_independent(pool))
    handed, issuable = _roles(pool)
    server = HostileServer(data, handed, issuable)
    events: list[object] = []
    m = AuthMachine(on_token=events.append)
    for _ in range(data.draw(st.integers(1, 8), label="steps")):
        if m.state is AuthState.CLOSED:
            break
        name, action = data.draw(st.sampled_from(_hand_actions(m, handed, server)), label="action")
        try:
            request = action()
        except TastytradeError as exc:
            server.assert_error_clean(exc)
            continue
        if request is None:  # an ordinary API call, done
            continue
        server.assert_clean(repr(request), f"repr(Request) of {name}")
        response = server.send(request)
        try:
            returned = m.receive(response, NOW)
        except TastytradeError as exc:
            server.assert_error_clean(exc)
        else:
            events.extend(returned)
        server.assert_all_clean(m, events)
    server.assert_all_clean(m, events)


def _flow_choices(m: AuthMachine, handed: list[str]) -> list[tuple[str, Callable[[], Any]]]:
    password, remember, otp, otp2, client_secret, refresh, answer = handed
    state = m.state
    choices: list[tuple[str, Callable[[], Any]]] = []
    if state in RESTARTABLE:
        choices += [
            ("password", lambda: flows.login_with_password(m, LOGIN, password)),
            ("password+otp", lambda: flows.login_with_password(m, LOGIN, password, otp=otp)),
            ("remember", lambda: flows.login_with_remember_token(m, LOGIN, remember)),
            ("oauth", lambda: flows.login_with_oauth(m, client_secret, refresh)),
        ]
    if state is AuthState.AWAITING_SECOND_FACTOR:
        choices += [
            ("otp", lambda: flows.submit_second_factor(m, otp)),
            ("otp2", lambda: flows.submit_second_factor(m, otp2)),
        ]
    if state is AuthState.AWAITING_SECURITY_ANSWER:
        choices.append(("answer", lambda: flows.answer_security_question(m, answer)))
    if state in (AuthState.AUTHENTICATED, AuthState.EXPIRED):
        request = m.config.request("GET", "/customers/me")
        post = m.config.request("POST", "/accounts/A1/orders/dry-run", json_body={"x": 1})
        choices += [
            ("logout", lambda: flows.logout(m)),
            ("get", lambda: flows.call(m, request, decode_envelope)),
            ("post", lambda: flows.call(m, post, decode_envelope)),
        ]
        if m.scheme is AuthScheme.OAUTH:
            choices.append(("refresh", lambda: flows.refresh(m)))
    if state is AuthState.AUTHENTICATED:
        choices.append(("validate", lambda: flows.validate(m)))
    return choices


@_settings(100)
@given(data=st.data(), pool=secret_pools)
def test_secrets_never_leak_through_flows(data: st.DataObject, pool: list[str]) -> None:
    assume(_independent(pool))
    handed, issuable = _roles(pool)
    clock = FakeClock(NOW)
    server = HostileServer(data, handed, issuable, clock)
    events: list[object] = []
    m = AuthMachine(on_token=events.append)
    for _ in range(data.draw(st.integers(1, 6), label="operations")):
        if m.state is AuthState.CLOSED:
            break
        if m.state is AuthState.DEVICE_CHALLENGE and data.draw(st.booleans(), label="start"):
            # No flow starts a device challenge on its own (flows do it inside
            # a login); after a failed start, the machine API can retry it.
            request = m.start_device_challenge()
            try:
                events.extend(m.receive(server.send(request), clock()))
            except TastytradeError as exc:
                server.assert_error_clean(exc)
            continue
        choices = _flow_choices(m, handed)
        if not choices:
            break
        name, start = data.draw(st.sampled_from(choices), label="operation")
        try:
            result = drive(start(), server.send, clock=clock, sleep=clock.sleep)
        except TastytradeError as exc:
            server.assert_error_clean(exc)
        else:
            server.assert_clean(repr(result), f"result of {name}")
            if isinstance(result, tuple):
                events.extend(result)
        server.assert_all_clean(m, events)
    server.assert_all_clean(m, events)


def test_secrets_echoed_in_error_items_are_scrubbed() -> None:
    password = "hunter2hunter2hunter2"
    m = AuthMachine()
    m.login_with_password(LOGIN, password)
    body = {
        "error": {
            "code": "invalid_credentials",
            "message": "bad login",
            "errors": [{"code": "x", "message": f"password {password} is wrong"}],
        }
    }
    with pytest.raises(InvalidCredentials) as caught:
        m.receive(json_response(401, body), NOW)
    assert password not in str(caught.value)
    assert password not in repr(caught.value.errors)
    assert password not in repr([d.raw for d in caught.value.errors])


def _session_body(token: str, remember: str | None = None) -> Response:
    data = {"session-token": token, "session-expiration": "2030-01-01T00:00:00Z"}
    if remember:
        data["remember-token"] = remember
    return json_response(201, {"data": data})


def _echo_401(token: str) -> Response:
    return json_response(
        401, {"error": {"code": "token_invalid", "message": f"token {token} is invalid"}}
    )


# Found: AuthMachine.observe dropped the token on a 401 before flows._call
# built the error, and the operation scrubbed it with the secrets still held, so
# a 401 echoing the token ("token X is invalid") raised SessionExpired with the
# token in its message.
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_token_echoed_in_a_401_to_an_api_call_is_scrubbed(method: str) -> None:
    first, second = "SESSIONtoken0123456789", "SESSIONtoken9876543210"
    clock = FakeClock(NOW)
    m = AuthMachine()
    transport = ReplayTransport([_session_body(first, "REMEMBERtoken0123456789")])
    drive(
        flows.login_with_password(m, LOGIN, "password-0001"),
        transport.send,
        clock=clock,
        sleep=clock.sleep,
    )
    if method == "POST":  # not idempotent: the 401 is raised at once
        transport.queue(_echo_401(first))
    else:  # renewed once with the remember token, then refused again
        transport.queue(_echo_401(first), _session_body(second), _echo_401(second))
    request = m.config.request(method, "/customers/me")
    with pytest.raises(SessionExpired) as caught:
        drive(
            flows.call(m, request, decode_envelope), transport.send, clock=clock, sleep=clock.sleep
        )
    assert first not in str(caught.value)
    assert second not in str(caught.value)


@pytest.mark.xfail(
    strict=True,
    reason="LIMITATION: Response.__repr__ redacts by name only (secret headers, "
    "secret-named JSON fields); a secret a server echoes in free text (an error "
    "message, an HTML page) shows in repr(Response)",
)
def test_response_repr_hides_a_secret_echoed_in_free_text() -> None:
    password = "hunter2hunter2hunter2"
    body = json.dumps({"error": {"code": "invalid_credentials", "message": password}})
    assert password not in repr(Response(401, (), body.encode()))


# ---------------------------------------------------------------------------
# 3. dump/load round-trips
# ---------------------------------------------------------------------------

any_text = st.text(max_size=20) | st.sampled_from(["\ud800", "\u2603", "é", "\x00", "\n"])
# Tokens a caller hands in: any non-empty text.
caller_tokens = st.text(min_size=1, max_size=30) | st.sampled_from(["\U0001f600", "a\nb", "\ud800"])
# Tokens a server issues that the machine keeps: printable ASCII, no edge spaces
# (others are refused; see test_an_accepted_token_can_be_sent).
tokens = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30) | (
    st.sampled_from(["a b", "x" * 8192, "=="])
)
users = _shaped(
    email=any_text,
    username=any_text,
    name=any_text,
    nickname=any_text,
    id=st.integers(-(2**70), 2**70) | any_text,
    **{"external-id": any_text, "is-confirmed": st.booleans() | st.integers(0, 1)},
)


@st.composite
def expiry_texts(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes())  # years 1 to 9999
    fraction = draw(st.text("0123456789", max_size=9))
    minutes = draw(st.integers(-(23 * 60 + 59), 23 * 60 + 59))
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    if minutes == 0 and draw(st.booleans()):
        offset = draw(st.sampled_from(["Z", "z"]))
    else:
        offset = draw(
            st.sampled_from(
                [f"{sign}{hours:02d}:{mins:02d}", f"{sign}{hours:02d}{mins:02d}"]
                + ([f"{sign}{hours:02d}"] if mins == 0 else [])
            )
        )
    separator = draw(st.sampled_from(["T", " "]))
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}{separator}"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
        + (f".{fraction}" if fraction else "")
        + offset
    )


class Reached:
    def __init__(
        self, machine: AuthMachine, client_secret: str, password: str, texts: list[str]
    ) -> None:
        self.machine = machine
        self.client_secret = client_secret
        self.password = password
        self.texts = texts


@st.composite
def reachable_machines(draw: st.DrawFn) -> Reached:
    texts: list[str] = []

    def text(strategy: st.SearchStrategy[Any], label: str) -> Any:
        value = draw(strategy, label=label)
        texts.append(json.dumps(value))
        return value

    now = draw(st.floats(1e9, 3e9), label="now")
    client_secret = draw(secret_text, label="client secret")
    password = draw(
        secret_text.filter(lambda p: p not in client_secret and client_secret not in p),
        label="password",
    )
    scheme = draw(st.sampled_from(["oauth", "password", "remember"]), label="scheme")
    m = AuthMachine()
    if scheme == "oauth":
        m.login_with_oauth(
            client_secret,
            text(caller_tokens, "refresh token"),
            client_id=text(st.none() | st.text(min_size=1, max_size=10), "client id"),
        )
        body: dict[str, Any] = {
            "access_token": text(tokens, "access token"),
            "expires_in": draw(st.none() | st.integers(-5, 10**9) | st.sampled_from(["60", "x"])),
        }
        if draw(st.booleans(), label="rotate"):
            body["refresh_token"] = text(tokens, "rotated refresh token")
        m.receive(json_response(200, body), now)
    else:
        login = text(st.text(min_size=1, max_size=20), "login")
        remember_me = draw(st.booleans(), label="remember me")
        if scheme == "password":
            m.login_with_password(login, password, remember_me=remember_me)
        else:
            m.login_with_remember_token(
                login, text(caller_tokens, "remember token"), remember_me=remember_me
            )
        data: dict[str, Any] = {
            "session-token": text(tokens, "session token"),
            "session-expiration": draw(expiry_texts(), label="expiry"),
        }
        if draw(st.booleans(), label="with user"):
            data["user"] = text(users, "user")
        if draw(st.booleans(), label="issue remember token"):
            data["remember-token"] = text(tokens, "issued remember token")
        m.receive(json_response(201, {"data": data}), now)
    assert m.state is AuthState.AUTHENTICATED
    after = draw(
        st.sampled_from(
            [
                "none",
                "validate",
                "validate-401",
                "observe-401",
                "past-expiry",
                "refresh-fails",
                "relogin-fails",
            ]
        ),
        label="then",
    )
    if after == "validate":
        m.validate()
        m.receive(json_response(200, {"data": text(users, "validated user")}), now)
    elif after == "validate-401":
        m.validate()
        with pytest.raises(SessionExpired):
            m.receive(json_response(401, {"error": {"code": "token_invalid"}}), now)
    elif after == "observe-401":
        assert m.expires_at is not None
        before = m.expires_at.timestamp() - 10_000
        authorized = m.authorize(m.config.request("GET", "/customers/me"), before)
        assert m.observe(authorized, json_response(401, {"error": {"code": "token_invalid"}}))
    elif after == "past-expiry":
        assert m.expires_at is not None
        try:
            m.auth_need(m.expires_at.timestamp() + 1)
        except SessionExpired:
            assert m.state.value == AuthState.EXPIRED.value  # (no narrowing for mypy)
    elif after == "refresh-fails" and m.scheme is AuthScheme.OAUTH:
        m.refresh()
        with pytest.raises(OAuthError):
            m.receive(json_response(400, {"error_code": "invalid_grant"}), now)
    elif after == "relogin-fails" and m.remember_token and m.scheme is AuthScheme.LEGACY:
        m.relogin()
        with pytest.raises(InvalidCredentials):
            m.receive(json_response(401, {"error": {"code": "invalid_credentials"}}), now)
    return Reached(m, client_secret, password, texts)


@_settings(150)
@given(reached=reachable_machines())
def test_dump_load_round_trips(reached: Reached) -> None:
    m = reached.machine
    secret = reached.client_secret
    assume(all(secret not in t and reached.password not in t for t in reached.texts))
    dumped = m.dump()
    loaded = AuthMachine.load(dumped)
    assert loaded.dump() == dumped
    assert loaded.state is m.state
    assert loaded.scheme is m.scheme
    assert loaded.user == m.user
    assert loaded.remember_token == m.remember_token
    assert loaded.refresh_token == m.refresh_token
    assert loaded.expires_at == m.expires_at
    if m.expires_at is not None:
        assert loaded.expires_at is not None
        assert loaded.expires_at.utcoffset() == m.expires_at.utcoffset()
    # The client secret only when asked for; the password never.
    with_secret = m.dump(include_client_secret=True)
    assert secret not in dumped
    assert reached.password not in dumped and reached.password not in with_secret
    if m.scheme is AuthScheme.OAUTH and m.state is not AuthState.UNAUTHENTICATED:
        assert json.loads(with_secret)["client_secret"] == secret
        assert AuthMachine.load(with_secret).dump(include_client_secret=True) == with_secret
        assert (
            AuthMachine.load(dumped, client_secret=secret).dump(include_client_secret=True)
            == with_secret
        )
    assert secret not in repr(m) and secret not in repr(loaded)


@st.composite
def mutated_dumps(draw: st.DrawFn) -> str:
    state = json.loads(_logged_in().dump())
    for _ in range(draw(st.integers(1, 3))):
        path = draw(
            st.sampled_from(
                [
                    "version",
                    "scheme",
                    "state",
                    "environment",
                    "environment.name",
                    "environment.base_url",
                    "environment.accept_version",
                    "login",
                    "token",
                    "expires_at",
                    "remember_token",
                    "refresh_token",
                    "client_id",
                    "user",
                    "client_secret",
                ]
            )
        )
        target = state
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target[parent] if isinstance(target.get(parent), dict) else {}
        if draw(st.booleans()):
            target.pop(leaf, None)
        else:
            target[leaf] = draw(
                st.one_of(
                    json_values,
                    st.sampled_from(
                        [
                            "oauth",
                            "session",
                            "authenticated",
                            "expired",
                            "closed",
                            "authenticating",
                            "2030-01-01T00:00:00Z",
                            "ftp://x",
                            "http://[::1",
                            "https://",
                            1,
                            2,
                            True,
                        ]
                    ),
                )
            )
    return to_json(state)


@_settings(200)
@given(
    text=st.one_of(
        st.text(max_size=50),
        st.binary(max_size=50),
        json_values.map(to_json),
        mutated_dumps(),
        mutated_dumps().map(lambda s: s.encode()),
    )
)
@example(text="")
@example(text=b"\xff")
@example(text="null")
@example(text='{"version": 1}')
@example(text="[" * 100_000)
@example(text="[" * 5_000 + "]" * 5_000)
@example(text='{"version": 1, "environment": ' + "[" * 5_000 + "]" * 5_000 + "}")
def test_load_of_anything_raises_only_local_protocol_error(text: str | bytes) -> None:
    try:
        AuthMachine.load(text)
    except LocalProtocolError as exc:
        _touch_error(exc)


# Found: AuthMachine.load let json.loads' RecursionError out.
@pytest.mark.parametrize("text", ["[" * 100_000, "[" * 5_000 + "]" * 5_000])
def test_load_of_deep_nesting_raises_local_protocol_error(text: str) -> None:
    with _no_escaping_recursion_error(), pytest.raises(LocalProtocolError):
        AuthMachine.load(text)


# Found: receive() stored a session or access token containing CR/LF (a JSON
# "\n" escape) that no request can carry; every later validate(), logout() and
# authorize() raised LocalProtocolError.
@pytest.mark.parametrize("scheme", ["session", "oauth"])
@_settings(60)
@given(
    token=st.text(max_size=12)
    | st.sampled_from(["bad\r\ntoken", " pad", "t\x00", "\u2603", "\ud800", "x" * 9000])
)
def test_an_accepted_token_can_be_sent(scheme: str, token: str) -> None:
    if scheme == "session":
        m = _pending_login()
        response = _session_body(token, remember=token)
    else:
        m = _pending_oauth_login()
        response = json_response(200, {"access_token": token, "refresh_token": token})
    try:
        m.receive(response, NOW)
    except DecodeError:
        assert m.state is not AuthState.AUTHENTICATED
        return
    assert m.state is AuthState.AUTHENTICATED
    serialize_request(m.validate())
    m.receive(Response(204), NOW)
    serialize_request(m.authorize(m.config.request("GET", "/customers/me"), NOW))
    if scheme == "session" and m.remember_token:
        serialize_request(m.relogin())
    elif scheme == "oauth":
        serialize_request(m.refresh())


# Found: dump() kept milliseconds only, so load(dump()).expires_at differed
# whenever it had sub-millisecond microseconds.
def test_dump_load_keeps_expires_at_exactly() -> None:
    m = AuthMachine()
    m.login_with_oauth("client-secret-0001", "refresh-0001")
    m.receive(json_response(200, {"access_token": "a", "expires_in": 900}), NOW + 0.1234567)
    assert AuthMachine.load(m.dump()).expires_at == m.expires_at


# Found: years before 1000 were dumped unpadded (strftime "%Y") and refused by
# load(); near year 1 or 9999 an offset made dump() raise OverflowError.
@pytest.mark.parametrize(
    "expiration",
    ["0999-06-01T00:00:00Z", "0001-01-01T00:30:00+01:00", "9999-12-31T23:00:00-05:00"],
)
def test_every_accepted_expiration_survives_dump_and_load(expiration: str) -> None:
    m = _pending_login()
    body = {"data": {"session-token": "t", "session-expiration": expiration}}
    m.receive(json_response(201, body), NOW)
    assert m.state is AuthState.AUTHENTICATED
    dumped = m.dump()
    assert AuthMachine.load(dumped).dump() == dumped


# Found: authorize() past such an expiry raised OverflowError (format_datetime's astimezone).
@pytest.mark.parametrize("expiration", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_authorize_after_an_extreme_expiry_raises_local_protocol_error(expiration: str) -> None:
    m = _pending_login()
    m.receive(
        json_response(201, {"data": {"session-token": "t", "session-expiration": expiration}}), NOW
    )
    with pytest.raises(LocalProtocolError):
        m.authorize(m.config.request("GET", "/customers/me"), 1e12)


# ---------------------------------------------------------------------------
# 4. Request and Response values, path and query encoding
# ---------------------------------------------------------------------------

SECRET_HEADER_NAMES = ["authorization", "x-tastyworks-otp", "x-tastyworks-challenge-token"]
# Outgoing header values may not hold CR, LF or NUL (a Request refuses them).
secret_header_values = (
    st.text(st.characters(exclude_characters="\r\n\x00"), min_size=12, max_size=40) | secret_text
)


@st.composite
def case_mixed(draw: st.DrawFn, names: list[str]) -> str:
    name = draw(st.sampled_from(names))
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if f else c for c, f in zip(name, flips, strict=True))


ordinary_headers = st.lists(
    # Names are HTTP tokens: a Request refuses anything else.
    st.tuples(
        st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}", fullmatch=True),
        st.text(st.characters(exclude_characters="\r\n\x00"), max_size=20),
    ).filter(lambda kv: kv[0].lower() not in SECRET_HEADERS),
    max_size=4,
)
path_segments = st.lists(
    (st.text(max_size=12) | st.integers()).filter(lambda s: s not in ("", ".", "..")), max_size=4
)


@_settings(120)
@given(
    method=st.sampled_from(["GET", "get", "Post", "PUT", "PATCH", "DELETE", "head", "OPTIONS"]),
    segments=path_segments,
    ordinary=ordinary_headers,
    secret=st.lists(
        st.tuples(case_mixed(SECRET_HEADER_NAMES), secret_header_values), min_size=1, max_size=3
    ),
    body=st.binary(max_size=50) | json_values.map(lambda v: to_json(v).encode()),
    status=statuses,
)
def test_request_and_response_reprs_hide_secret_headers(
    method: str,
    segments: list[str | int],
    ordinary: list[tuple[str, str]],
    secret: list[tuple[str, str]],
    body: bytes,
    status: int,
) -> None:
    url = PRODUCTION.url(encode_path(*segments) or "/")
    plain = Request(method, url, tuple(ordinary), body)
    plain_response = Response(status, tuple(ordinary), body)
    values = [v for _, v in secret]
    assume(all(v not in repr(plain) and v not in repr(plain_response) for v in values))
    assume(all(v not in n and v not in n.lower() for v in values for n, _ in secret))
    headers = tuple(ordinary + secret)
    request = Request(method, url, headers, body)
    response = Response(status, headers, body)
    for shown in (
        repr(request),
        str(request),
        repr(plain.with_headers(secret)),
        repr(response),
        str(response),
    ):
        for value in values:
            assert value not in shown
    # Names are case-folded, every header is kept, in order.
    assert [n for n, _ in request.headers] == [n.lower() for n, _ in headers]
    for name, value in secret:
        assert request.header(name.upper()) is not None
        assert value in [v for _, v in request.headers]
    # Equal inputs give equal (and equally hashed) values, however spelled.
    shouted = tuple((n.upper() if n.upper().lower() == n.lower() else n, v) for n, v in headers)
    again = Request(method.upper(), url, shouted, body)
    assert again == request and hash(again) == hash(request)
    assert Response(status, shouted, body) == response
    assert hash(Response(status, shouted, body)) == hash(response)
    # The constructors also take a list of pairs or a mapping (annotated as the
    # normalized tuple only, hence the ignores).
    assert Request(method, url, list(headers), body) == request  # type: ignore[arg-type]
    assert Response(status, list(headers), body) == response  # type: ignore[arg-type]
    if len({n.lower() for n, _ in headers}) == len(headers):
        assert Request(method, url, dict(headers), body) == request  # type: ignore[arg-type]
        assert Response(status, dict(headers), body) == response  # type: ignore[arg-type]


@_settings(100)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            [
                "password",
                "remember-token",
                "session-token",
                "access_token",
                "refresh_token",
                "client_secret",
                "challenge-token",
                "answer",
                "id_token",
                "token",
            ]
        ),
        secret_text,
        min_size=1,
    ),
    nested=st.booleans(),
)
def test_request_repr_hides_secret_body_fields(fields: dict[str, str], nested: bool) -> None:
    document: dict[str, Any] = {"login": LOGIN, "remember-me": True}
    if nested:
        document["outer"] = [dict(fields)]
    else:
        document.update(fields)
    request = Request("POST", PRODUCTION.url("/sessions"), (), encode_json(document))
    for value in fields.values():
        assert value not in repr(request)
        assert value not in repr(Response(201, (), request.body))


@_settings(200)
@given(segments=path_segments)
@example(segments=["instruments", "equities", "BRK/B"])
@example(segments=["instruments", "futures", "/ESZ6"])
@example(segments=["a?b#c", "%2F", "...", ". ", "\u2603 /\u00e9"])
def test_encode_path_round_trips(segments: list[str | int]) -> None:
    path = encode_path(*segments)
    assert path.count("/") == len(segments)  # a segment never adds a '/'
    assert [unquote(part) for part in path.split("/")[1:]] == [str(s) for s in segments]
    if segments:
        parts = urlsplit(PRODUCTION.url(path))
        assert parts.path == path and not parts.query and not parts.fragment


query_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.text(max_size=12),
    st.sampled_from(["BRK/B", "/ESZ6", "a&b=c", "100%", "+1", " ", "#frag", "?"]),
    st.lists(st.text(max_size=8) | st.integers(-1000, 1000), max_size=3),
    st.tuples(st.text(max_size=8)),
)


@_settings(200)
@given(
    params=st.dictionaries(
        st.text(max_size=10) | st.sampled_from(["status[]", "symbol"]), query_values, max_size=5
    )
)
@example(params={"symbol[]": ["BRK/B", "/ESZ6"], "status": ["Live", "Filled"]})
def test_encode_query_round_trips(params: dict[str, Any]) -> None:
    expected: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            expected.append((key, "true" if value else "false"))
        elif isinstance(value, (str, int)):
            expected.append((key, str(value)))
        else:
            name = key if key.endswith("[]") else key + "[]"
            expected.extend((name, str(v)) for v in value)
    query = encode_query(params)
    if not expected:
        assert query == ""
        return
    assert query.startswith("?")
    assert parse_qsl(query[1:], keep_blank_values=True, strict_parsing=False) == expected
    parts = urlsplit(PRODUCTION.url("/orders") + query)
    assert parts.path == "/orders" and parts.query == query[1:] and not parts.fragment


# ---------------------------------------------------------------------------
# 5. RetryPolicy.delay
# ---------------------------------------------------------------------------

policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(0, 10) | st.integers(0, 10**6),
    base=st.floats(0, 100),
    cap=st.floats(0, 1000),
    max_retry_after=st.floats(0, 10_000),
    retry_statuses=st.just(frozenset({429, 502, 503, 504})) | st.frozensets(statuses),
    jitter=st.none() | st.floats(-10, 10).map(lambda x: lambda: x),
)


@st.composite
def retry_errors(draw: st.DrawFn) -> TastytradeError:
    kind = draw(st.sampled_from(["transport", "timeout", "response", "rate", "local", "decode"]))
    if kind == "transport":
        return TransportError("refused", request_sent=draw(st.booleans()))
    if kind == "timeout":
        return TransportTimeout("slow")
    if kind == "response":
        return error_from_response(draw(responses))
    if kind == "rate":
        return RateLimited(
            "HTTP 429",
            status=429,
            retry_after=draw(st.none() | st.floats(-1e6, 1e6)),
            retry_at=draw(st.none() | st.datetimes(timezones=st.just(timezone.utc))),
        )
    if kind == "local":
        return LocalProtocolError("no")
    return DecodeError("bad", status=draw(st.none() | statuses))


@_settings(300)
@given(
    policy=policies,
    attempt=st.integers(-5, 12) | st.integers(-(10**7), 10**7),
    error=retry_errors(),
    now=st.floats(0, 4e9),
)
def test_retry_delay_is_bounded(
    policy: RetryPolicy, attempt: int, error: TastytradeError, now: float
) -> None:
    delay = policy.delay(attempt, error, now)
    if attempt >= policy.max_attempts:
        assert delay is None
    if delay is not None:
        assert 0 <= delay <= max(policy.cap, policy.max_retry_after)
        assert isinstance(error, (TransportError, ResponseError))


# Found: RetryPolicy.delay computed base * 2.0 ** (attempt - 1) before capping
# it; with max_attempts above 1025, try 1026 raised OverflowError.
def test_retry_delay_with_many_attempts() -> None:
    policy = RetryPolicy(max_attempts=5000)
    assert policy.delay(1100, TransportError("refused"), NOW) == policy.cap


# Found: a RateLimited built with a negative retry_after made
# RetryPolicy.delay return a negative wait.
def test_retry_delay_never_negative_for_a_negative_retry_after() -> None:
    error = RateLimited("HTTP 429", status=429, retry_after=-3.0)
    delay = RetryPolicy().delay(1, error, NOW)
    assert delay is None or delay >= 0


# Found: min(max(nan, 0.0), 1.0) let a NaN jitter through into the delay.
def test_retry_delay_with_a_nan_jitter_is_a_number() -> None:
    policy = RetryPolicy(jitter=lambda: float("nan"))
    delay = policy.delay(1, TransportError("refused"), NOW)
    assert delay is not None and 0 <= delay <= policy.cap
