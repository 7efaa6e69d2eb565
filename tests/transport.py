"""A small synchronous transport over http.client, for driving the core against the fake.

The real transports arrive with issue 4; this one exists so that the core and
the fake can be tested over real sockets (plain TCP and TLS) today.
"""

from __future__ import annotations

import http.client
import ssl
from urllib.parse import urlsplit

from tastytrade_proto import TransportError, TransportTimeout
from tastytrade_proto.protocol import Request, Response


class HTTPClientTransport:
    """One keep-alive connection; every failure becomes a TransportError."""

    def __init__(
        self, base_url: str, *, context: ssl.SSLContext | None = None, timeout: float = 5.0
    ) -> None:
        parts = urlsplit(base_url)
        host, port = parts.hostname or "127.0.0.1", parts.port
        self._conn: http.client.HTTPConnection
        if parts.scheme == "https":
            self._conn = http.client.HTTPSConnection(host, port, context=context, timeout=timeout)
        else:
            self._conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self.sent = 0

    def send(self, request: Request) -> Response:
        target = request.url.split("://", 1)[1]
        target = target[target.find("/") :] if "/" in target else "/"
        headers = dict(request.headers)
        try:
            self.sent += 1
            self._conn.request(request.method, target, body=request.body or None, headers=headers)
            reply = self._conn.getresponse()
            body = reply.read()
        except TimeoutError as exc:
            self._conn.close()
            raise TransportTimeout(f"timed out: {exc}") from None
        except (OSError, http.client.HTTPException) as exc:
            self._conn.close()
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
        return Response(reply.status, tuple(reply.getheaders()), body)

    def close(self) -> None:
        self._conn.close()
