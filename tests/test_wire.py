"""HTTP/1.1 bytes with h11 (protocol.wire), including a login request's exact bytes."""

from __future__ import annotations

import pytest

from tastytrade_proto import (
    CERTIFICATION,
    DecodeError,
    LocalProtocolError,
    TransportError,
    __version__,
)
from tastytrade_proto.protocol import (
    AuthMachine,
    HTTP11Connection,
    Request,
    Response,
    parse_response,
    serialize_request,
)


def test_exact_bytes_of_a_password_login() -> None:
    machine = AuthMachine(environment=CERTIFICATION)
    request = machine.login_with_password("user@example.com", "correct-horse", remember_me=True)
    body = b'{"login":"user@example.com","password":"correct-horse","remember-me":true}'
    assert request.body == body
    assert serialize_request(request) == (
        b"POST /sessions HTTP/1.1\r\n"
        b"host: api.cert.tastyworks.com\r\n"
        b"user-agent: tastytrade-proto/" + __version__.encode() + b"\r\n"
        b"accept: application/json\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"\r\n" + body
    )


def test_exact_bytes_of_a_remember_token_login_with_otp_headers() -> None:
    machine = AuthMachine(environment=CERTIFICATION)
    request = machine.login_with_remember_token("user@example.com", "REMEMBER-TOKEN-1")
    assert request.body == (
        b'{"login":"user@example.com","remember-token":"REMEMBER-TOKEN-1","remember-me":true}'
    )
    assert request.header("authorization") is None


def test_query_string_is_kept_in_the_target() -> None:
    data = serialize_request(Request("GET", "https://h:8443/a/b?x=1&y[]=2"))
    assert data.startswith(b"GET /a/b?x=1&y[]=2 HTTP/1.1\r\nhost: h:8443\r\n")
    assert b"content-length: 0\r\n" in data


def test_parse_response_content_length_and_chunked() -> None:
    plain = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n\r\n{}")
    assert plain == Response(200, (("content-length", "2"), ("x-a", "1")), b"{}")
    chunked = parse_response(
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n'
    )
    assert chunked.status == 201
    assert chunked.body == b'{"a":1}'
    close_delimited = parse_response(b"HTTP/1.1 200 OK\r\n\r\nhello")
    assert close_delimited.body == b"hello"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",  # truncated body
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n",  # headers never end
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_broken_responses_are_decode_errors(data: bytes) -> None:
    with pytest.raises(DecodeError):
        parse_response(data)


def test_body_size_limit() -> None:
    with pytest.raises(DecodeError, match="exceeds 10 bytes"):
        parse_response(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 11, max_body_bytes=10)


def test_keep_alive_cycles_on_one_connection() -> None:
    conn = HTTP11Connection()
    first = conn.send_request(Request("GET", "https://h/one"))
    assert first.startswith(b"GET /one")
    conn.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n")
    assert conn.next_response() is None  # body still to come
    conn.receive_data(b"a")
    assert conn.next_response() == Response(200, (("content-length", "1"),), b"a")
    assert conn.start_next_cycle() is True
    conn.send_request(Request("POST", "https://h/two", (), b"xyz"))
    conn.receive_data(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    assert conn.next_response() == Response(204)
    assert conn.start_next_cycle() is True


def test_connection_close_means_no_reuse_and_early_eof_is_an_error() -> None:
    conn = HTTP11Connection()
    conn.send_request(Request("GET", "https://h/"))
    conn.receive_data(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert conn.next_response() is not None
    assert conn.start_next_cycle() is False

    conn = HTTP11Connection()
    conn.send_request(Request("GET", "https://h/"))
    conn.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
    conn.receive_data(b"")
    # Cut off mid-answer: a transport failure, which a GET may retry.
    with pytest.raises(TransportError, match="part of an HTTP 200 response"):
        conn.next_response()

    conn = HTTP11Connection()
    conn.send_request(Request("GET", "https://h/"))
    conn.receive_data(b"")
    with pytest.raises(TransportError, match="after nothing"):
        conn.next_response()


def test_unsendable_header_values_are_local_errors() -> None:
    with pytest.raises(LocalProtocolError, match="cannot send"):
        serialize_request(Request("GET", "https://h/", (("x-name", "\u20ac"),)))
    with pytest.raises(LocalProtocolError, match="cannot send"):
        serialize_request(Request("GET", "https://h\u00e9.example/"))


def test_send_failed_and_local_errors() -> None:
    conn = HTTP11Connection()
    conn.send_request(Request("GET", "https://h/"))
    with pytest.raises(LocalProtocolError, match="cannot send"):
        conn.send_request(Request("GET", "https://h/again"))  # previous cycle not finished
    other = HTTP11Connection()
    other.send_failed()
    assert other.start_next_cycle() is False
