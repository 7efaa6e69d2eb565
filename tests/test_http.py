"""Requests, responses, environments and request building (tastytrade_proto.protocol.http)."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastytrade_proto import CERTIFICATION, PRODUCTION, Environment, LocalProtocolError, __version__
from tastytrade_proto.protocol import (
    DEFAULT_ACCEPT_VERSION,
    ClientConfig,
    Request,
    Response,
    encode_json,
    encode_path,
    encode_query,
)


def test_request_normalizes_method_and_header_names() -> None:
    request = Request("post", "https://h/x", (("X-Thing", "1"),), b"")
    assert request.method == "POST"
    assert request.headers == (("x-thing", "1"),)
    assert request.header("X-THING") == "1"
    assert request.header("missing") is None
    assert request.path == "/x"


def test_request_and_response_are_frozen_and_comparable() -> None:
    a = Request("GET", "https://h/x", {"A": "1"})
    assert a == Request("GET", "https://h/x", (("a", "1"),))
    assert hash(a) == hash(Request("GET", "https://h/x", (("a", "1"),)))
    with pytest.raises(AttributeError):
        a.method = "PUT"  # type: ignore[misc]
    assert Response(200, {"X": "y"}, b"{}") == Response(200, (("x", "y"),), b"{}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("BREW", "https://h/"), "unsupported HTTP method"),
        (("GET", "/relative"), "absolute"),
        (("GET", "ftp://h/"), "absolute"),
        (("GET", "https://h/", (("a", "b\r\nInjected: 1"),)), "line break"),
        (("GET", "https://h/", (("a", 1),)), "must be str"),
        (("GET", "https://h/", (), "text"), "bytes"),
    ],
)
def test_request_rejects_bad_values(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        Request(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [99, 1000, True, "200"])
def test_response_rejects_bad_status(status: object) -> None:
    with pytest.raises(LocalProtocolError):
        Response(status)  # type: ignore[arg-type]


def test_response_rejects_str_body() -> None:
    with pytest.raises(LocalProtocolError, match="bytes"):
        Response(200, (), "{}")  # type: ignore[arg-type]


def test_reprs_redact_secret_headers_and_body_fields() -> None:
    body = json.dumps(
        {"login": "me", "password": "pw-12345678", "remember-token": "rt-12345678"}
    ).encode()
    request = Request(
        "POST",
        "https://h/sessions",
        (
            ("Authorization", "Bearer at-12345678"),
            ("X-Tastyworks-OTP", "otp-123456"),
            ("X-Tastyworks-Challenge-Token", "ch-12345678"),
        ),
        body,
    )
    text = repr(request) + str(request)
    for secret in ("pw-12345678", "rt-12345678", "at-12345678", "otp-123456", "ch-12345678"):
        assert secret not in text
    assert "'login': 'me'" not in text  # body is shown compactly, keys kept
    assert '"login":"me"' in text
    response = Response(
        201,
        (("Set-Cookie", "session=cookie-12345678"),),
        b'{"data":{"session-token":"st-12345678","nested":[{"access_token":"x-12345678"}]}}',
    )
    assert "st-12345678" not in repr(response)
    assert "x-12345678" not in repr(response)
    assert "cookie-12345678" not in repr(response)


def test_repr_redacts_secrets_in_form_and_truncated_bodies() -> None:
    form = Request("POST", "https://h/oauth/token", (), b"grant_type=x&client_secret=cs-12345678")
    assert "cs-12345678" not in repr(form)
    truncated = Response(200, (), b'{"access_token": "at-12345678", "expires_in": 9')
    assert "at-12345678" not in repr(truncated)
    assert repr(Response(204)).endswith("body=b'')")
    long = Response(500, (), b"x" * 5000)
    assert "(5000 bytes)" in repr(long)


def test_with_headers_replaces_same_name() -> None:
    request = Request("GET", "https://h/", (("accept", "a"), ("x", "1")))
    updated = request.with_headers([("Accept", "b")])
    assert updated.headers == (("x", "1"), ("accept", "b"))
    assert request.header("accept") == "a"  # the original is unchanged


def test_environments() -> None:
    assert PRODUCTION.url("/sessions") == "https://api.tastyworks.com/sessions"
    assert CERTIFICATION.url("/sessions") == "https://api.cert.tastyworks.com/sessions"
    assert PRODUCTION.accept_version == DEFAULT_ACCEPT_VERSION == "20251101"
    assert CERTIFICATION.accept_version is None
    # A path prefix survives (joined by concatenation, never urljoin).
    proxy = Environment.custom("http://127.0.0.1:8080/tt/")
    assert proxy.url("/sessions") == "http://127.0.0.1:8080/tt/sessions"
    with pytest.raises(LocalProtocolError):
        proxy.url("sessions")


@pytest.mark.parametrize("url", ["api.tastyworks.com", "ftp://h", "https://", "https://h/?q=1"])
def test_environment_rejects_bad_base_urls(url: str) -> None:
    with pytest.raises(LocalProtocolError):
        Environment.custom(url)


def test_default_headers_production() -> None:
    request = ClientConfig().request("GET", "/customers/me")
    assert request.url == "https://api.tastyworks.com/customers/me"
    assert dict(request.headers) == {
        "user-agent": f"tastytrade-proto/{__version__}",
        "accept": "application/json",
        "content-type": "application/json",
        "accept-version": "20251101",
    }
    assert request.body == b""


def test_accept_version_goes_to_production_only_and_can_be_changed() -> None:
    cert = ClientConfig(environment=CERTIFICATION)
    assert cert.request("GET", "/x").header("accept-version") is None
    per_client = ClientConfig(accept_version="20261012")
    assert per_client.request("GET", "/x").header("accept-version") == "20261012"
    per_request = per_client.request("GET", "/x", accept_version="20250813")
    assert per_request.header("accept-version") == "20250813"
    assert ClientConfig().request("GET", "/x", accept_version="").header("accept-version") is None
    assert cert.request("GET", "/x", accept_version="20251101").header("accept-version")


def test_user_agent_must_be_product_slash_version() -> None:
    assert ClientConfig(user_agent="my-bot/2.0").request("GET", "/x").header("user-agent") == (
        "my-bot/2.0"
    )
    for bad in ("nothing", "/1.0", "my bot/1.0", "bot/"):
        with pytest.raises(LocalProtocolError, match="product/version"):
            ClientConfig(user_agent=bad)


def test_extra_headers_and_query() -> None:
    config = ClientConfig(extra_headers=(("X-Trace", "abc"),))
    request = config.request(
        "GET", "/accounts/5WT00000/orders", params={"status": ["Live", "Filled"], "per-page": 10}
    )
    assert request.header("x-trace") == "abc"
    assert request.url.endswith("/orders?status[]=Live&status[]=Filled&per-page=10")


def test_encode_query() -> None:
    assert encode_query({}) == ""
    assert encode_query({"a": None}) == ""
    assert encode_query({"flag": True, "off": False}) == "?flag=true&off=false"
    assert encode_query({"symbol[]": ["BRK/B", "SPY 1"]}) == "?symbol[]=BRK%2FB&symbol[]=SPY%201"
    assert encode_query({"symbols": "AAPL,BRK/B"}) == "?symbols=AAPL%2CBRK%2FB"


def test_encode_path_keeps_each_symbol_one_segment() -> None:
    assert encode_path("instruments", "futures", "/ESZ6") == "/instruments/futures/%2FESZ6"
    assert encode_path("instruments", "equity-options", "AAPL  230616C00185000") == (
        "/instruments/equity-options/AAPL%20%20230616C00185000"
    )
    assert encode_path("accounts", 5) == "/accounts/5"
    assert encode_path() == ""


@given(st.lists(st.text(min_size=1).filter(lambda t: t not in (".", "..")), max_size=4))
def test_encode_path_quotes_exactly_what_quote_would(segments: list[str]) -> None:
    # Plain segments skip quote() (the fast path); the result must not change.
    assert encode_path(*segments) == "".join("/" + quote(s, safe="") for s in segments)


def test_json_bodies_send_decimals_as_strings() -> None:
    assert encode_json({"price": Decimal("1.10"), "qty": 3}) == b'{"price":"1.10","qty":3}'
    with pytest.raises(LocalProtocolError, match="non-finite"):
        encode_json({"price": Decimal("NaN")})
    with pytest.raises(LocalProtocolError, match="cannot encode"):
        encode_json({"x": object()})
    with pytest.raises(LocalProtocolError, match="not valid JSON"):
        encode_json({"x": float("inf")})


def test_user_agent_cannot_be_replaced_by_a_bad_one_through_headers() -> None:
    with pytest.raises(LocalProtocolError, match="product/version"):
        ClientConfig(extra_headers=(("User-Agent", "curl"),))
    with pytest.raises(LocalProtocolError, match="product/version"):
        ClientConfig().request("GET", "/x", headers=[("user-agent", "")])
    ok = ClientConfig().request("GET", "/x", headers=[("user-agent", "bot/1")])
    assert ok.header("user-agent") == "bot/1"


def test_format_datetime() -> None:
    from datetime import datetime, timedelta, timezone

    from tastytrade_proto.timestamps import format_datetime, parse_datetime

    value = datetime(2024, 9, 12, 22, 25, 32, 440999, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(value) == "2024-09-12T20:25:32.440Z"
    assert parse_datetime(format_datetime(value)) == value.replace(microsecond=440000)
    with pytest.raises(ValueError, match="naive"):
        format_datetime(datetime(2024, 1, 1))


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:99999", "http://127.0.0.1:abc", "http://a..b", "http://h:0"]
)
def test_malformed_hosts_and_ports_are_refused_early(url: str) -> None:
    with pytest.raises(LocalProtocolError, match="base URL"):
        Environment.custom(url)


@pytest.mark.parametrize("segment", ["", ".", ".."])
def test_a_path_segment_that_would_change_the_path_is_refused(segment: str) -> None:
    from tastytrade_proto import LocalProtocolError
    from tastytrade_proto.protocol import encode_path

    with pytest.raises(LocalProtocolError, match="path segment"):
        encode_path("accounts", segment, "orders")
    assert encode_path("watchlists", "...") == "/watchlists/..."
