"""The sans-I/O websocket client (tastytrade_proto.protocol.websocket) against wsproto's server."""

from __future__ import annotations

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from tastytrade_proto.errors import LocalProtocolError, TransportError, WebSocketClosed
from tastytrade_proto.protocol import Closed, WebSocketConnection, split_websocket_url


class Server:
    """wsproto's server side, fed what the client writes."""

    def __init__(self) -> None:
        self.ws = WSConnection(ConnectionType.SERVER)
        self.events: list[object] = []

    def feed(self, data: bytes) -> None:
        self.ws.receive_data(data)
        self.events.extend(self.ws.events())

    def request(self) -> Request:
        found = [e for e in self.events if isinstance(e, Request)]
        assert found
        return found[0]


def opened(**kwargs: int) -> tuple[WebSocketConnection, Server]:
    client = WebSocketConnection(
        "example.test:8443", "/feed?x=1", [("User-Agent", "ua/1")], **kwargs
    )
    server = Server()
    server.feed(client.handshake())
    accept = server.ws.send(AcceptConnection())
    assert not client.accepted
    client.receive_data(accept)
    assert client.accepted and client.open and client.next_message() is None
    return client, server


def test_split_websocket_url() -> None:
    url = split_websocket_url("wss://tasty-openapi-ws.dxfeed.com/realtime")
    assert (url.secure, url.host, url.port, url.authority, url.target) == (
        True,
        "tasty-openapi-ws.dxfeed.com",
        443,
        "tasty-openapi-ws.dxfeed.com",
        "/realtime",
    )
    url = split_websocket_url("ws://[::1]:9000/a?b=c")
    assert (url.secure, url.host, url.port, url.authority, url.target) == (
        False,
        "::1",
        9000,
        "[::1]:9000",
        "/a?b=c",
    )
    for bad in ("https://x/", "ws:///nohost", "ws://x:99999/"):
        with pytest.raises(LocalProtocolError):
            split_websocket_url(bad)


def test_upgrade_headers_and_a_round_trip() -> None:
    client, server = opened()
    request = server.request()
    assert request.host == "example.test:8443" and request.target == "/feed?x=1"
    assert (b"user-agent", b"ua/1") in [(k.lower(), v) for k, v in request.extra_headers]
    server.feed(client.send_text('{"type":"SETUP"}'))
    assert [e.data for e in server.events if isinstance(e, TextMessage)] == ['{"type":"SETUP"}']
    client.receive_data(server.ws.send(TextMessage(data="héllo")))
    assert client.next_message() == "héllo"
    assert client.next_message() is None


def test_a_message_that_came_with_the_upgrade_is_kept() -> None:
    client = WebSocketConnection("h", "/")
    server = Server()
    server.feed(client.handshake())
    client.receive_data(server.ws.send(AcceptConnection()) + server.ws.send(TextMessage(data="x")))
    assert client.open and client.next_message() == "x"


def test_fragments_are_joined_and_binary_is_dropped_byte_by_byte() -> None:
    client, server = opened()
    data = server.ws.send(TextMessage(data="hel", message_finished=False))
    data += server.ws.send(Ping(payload=b"p"))  # a control frame between fragments
    data += server.ws.send(TextMessage(data="lo", message_finished=True))
    data += server.ws.send(BytesMessage(data=b"\x00\x01"))
    data += server.ws.send(TextMessage(data="after"))
    for i in range(len(data)):
        client.receive_data(data[i : i + 1])
    assert client.next_message() == "hello"
    assert client.next_message() == "after"
    assert client.next_message() is None
    server.feed(client.data_to_send())
    assert [e for e in server.events if isinstance(e, Pong)] == [Pong(payload=b"p")]


def test_the_server_closes() -> None:
    client, server = opened()
    client.receive_data(
        server.ws.send(TextMessage(data="last")) + server.ws.send(CloseConnection(1012, "restart"))
    )
    assert client.next_message() == "last"
    closed = client.next_message()
    assert closed == Closed(1012, "restart", "websocket closed by the server: 1012 restart")
    assert client.next_message() == closed and client.finished
    assert isinstance(closed, Closed)
    error = closed.error()
    assert isinstance(error, WebSocketClosed) and (error.code, error.reason) == (1012, "restart")
    server.feed(client.data_to_send())  # the reply
    assert next(e for e in server.events if isinstance(e, CloseConnection)).code == 1012
    with pytest.raises(WebSocketClosed) as info:
        client.send_text("more")
    assert info.value.code == 1012
    assert client.close() == b""
    client.receive_data(b"ignored after the end")


def test_the_client_closes_and_reads_the_reply() -> None:
    client, server = opened()
    server.feed(client.close(1000))
    assert not client.finished and not client.open
    closing = next(e for e in server.events if isinstance(e, CloseConnection))
    assert closing.code == 1000
    client.receive_data(server.ws.send(closing.response()))
    assert client.finished
    with pytest.raises(WebSocketClosed):
        client.send_text("x")
    assert client.close() == b""


def test_a_connection_that_ends_without_a_close_frame() -> None:
    client, _ = opened()
    client.receive_data(b"")
    closed = client.next_message()
    assert isinstance(closed, Closed) and closed.code is None and client.finished


def test_a_refused_upgrade_names_the_status() -> None:
    client = WebSocketConnection("h", "/")
    server = Server()
    server.feed(client.handshake())
    data = server.ws.send(RejectConnection(status_code=502, has_body=True))
    data += server.ws.send(RejectData(data=b"bad gateway"))
    with pytest.raises(TransportError, match="HTTP 502"):
        client.receive_data(data)


def test_not_an_upgrade() -> None:
    client = WebSocketConnection("h", "/")
    client.handshake()
    with pytest.raises(TransportError, match="upgrade"):
        client.receive_data(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n")
    client = WebSocketConnection("h", "/")
    client.handshake()
    with pytest.raises(TransportError, match="closed during the websocket upgrade"):
        client.receive_data(b"")
    with pytest.raises(TransportError, match="not open"):
        WebSocketConnection("h", "/").send_text("x")
    with pytest.raises(LocalProtocolError, match="header"):
        WebSocketConnection("h", "/", [("X-Name", "☃")])


def test_a_message_too_big() -> None:
    client, server = opened(max_message_bytes=10)
    client.receive_data(server.ws.send(TextMessage(data="0123456789")))
    assert client.next_message() == "0123456789"
    client.receive_data(server.ws.send(TextMessage(data="01234", message_finished=False)))
    client.receive_data(server.ws.send(TextMessage(data="567890")))
    closed = client.next_message()
    assert isinstance(closed, Closed) and closed.code == 1009
    # More of the message (sent before the server read our close), then the reply to
    # our close: read until finished.
    assert not client.finished
    client.receive_data(server.ws.send(TextMessage(data="ignored after the end")))
    assert client.next_message() == closed and not client.finished
    server.feed(client.data_to_send())
    closing = next(e for e in server.events if isinstance(e, CloseConnection))
    assert closing.code == 1009
    client.receive_data(server.ws.send(closing.response()))
    assert client.finished and client.next_message() == closed


def test_a_protocol_violation() -> None:
    client, _ = opened()
    client.receive_data(b"\x81\x02\xff\xfe")  # a text frame that is not UTF-8
    closed = client.next_message()
    assert isinstance(closed, Closed) and closed.code == 1007
    assert "broke the websocket protocol" in closed.why
    assert client.data_to_send()[:1] == b"\x88"  # a close frame back
    assert client.finished  # no reply awaited from a server that broke the protocol
    client.receive_data(b"\x88\x00")
    assert client.next_message() == closed


def test_misuse_and_a_bad_accept_token() -> None:
    client = WebSocketConnection("h", "/")
    client.handshake()
    with pytest.raises(LocalProtocolError, match="cannot open the websocket"):
        client.handshake()  # twice
    with pytest.raises(TransportError, match="closed during the websocket upgrade"):
        client.receive_data(b"HTTP/1.1 101 Swi")  # part of an answer, then the end
        client.receive_data(b"")
    client = WebSocketConnection("h", "/")
    client.handshake()
    with pytest.raises(TransportError, match="Bad accept token"):
        client.receive_data(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n"
        )


def test_after_a_local_close() -> None:
    client, server = opened()
    assert client.closed is None
    data = client.close(4000, "bye")
    assert client.close() == b""  # once
    with pytest.raises(WebSocketClosed, match="by this client") as info:
        client.send_text("x")
    assert info.value.code == 4000
    # The server pings and sends a message before it reads our close: no pong, no message.
    client.receive_data(server.ws.send(Ping(payload=b"p")) + server.ws.send(TextMessage(data="m")))
    assert client.data_to_send() == b"" and client.next_message() == "m"
    server.feed(data)
    closing = next(e for e in server.events if isinstance(e, CloseConnection))
    client.receive_data(server.ws.send(closing.response()))
    assert client.finished
    closed = client.next_message()
    assert isinstance(closed, Closed) and closed.code == 4000 and client.closed == closed
    client.receive_data(b"more bytes after the end are ignored")


def test_a_server_close_without_a_code_and_a_binary_fragment() -> None:
    client, server = opened()
    client.receive_data(server.ws.send(BytesMessage(data=b"\x00", message_finished=False)))
    client.receive_data(server.ws.send(BytesMessage(data=b"\x01")))
    client.receive_data(b"\x88\x00")  # a close frame with no status: 1005
    closed = client.next_message()
    assert isinstance(closed, Closed) and closed.code == 1005
    assert closed.why == "websocket closed by the server: 1005"
