"""Drive the core's endpoints with no sockets: a logged-in Operations, a replaying transport."""

from __future__ import annotations

import json
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from tastytrade_proto.protocol import Operation, Request, Response, drive
from tastytrade_proto.sessions import Operations, TransportSettings
from tastytrade_proto.testing import FakeClock, ReplayTransport, json_response

from .conftest import sample

T = TypeVar("T")
START = 1_790_000_000.0  # 2026-09-21


class Core:
    """A logged-in :class:`Operations` whose requests a :class:`ReplayTransport` answers."""

    def __init__(self, **settings: Any) -> None:
        self.clock = FakeClock(START)
        self.http = ReplayTransport()
        self.calls = Operations(
            TransportSettings.resolve(base_url="https://api.example.test", **settings),
            entropy=lambda n: bytes(range(n)),
        )
        self.http.queue(json_response(200, {"access_token": "AT-1", "expires_in": 900}))
        self.run(self.calls.login_with_oauth("CS-secret", "RF-1"))
        self.http.requests.clear()

    def run(self, op: Operation[T]) -> T:
        return drive(op, self.http.send, clock=self.clock, sleep=self.clock.sleep)

    def answer(self, body: Any, status: int = 200) -> Core:
        """Queue a JSON answer."""
        self.http.queue(json_response(status, body))
        return self

    def answer_sample(self, name: str, status: int = 200) -> Core:
        """Queue a sample from tests/samples as the answer."""
        self.http.queue(json_response(status, sample(name)))
        return self

    @property
    def sent(self) -> Request:
        """The last request sent."""
        return self.http.requests[-1]


def target(request: Request) -> tuple[str, str, list[tuple[str, str]]]:
    """``(method, raw path, query pairs in order)`` of a request."""
    parts = urlsplit(request.url)
    return request.method, parts.path, parse_qsl(parts.query, keep_blank_values=True)


def body(request: Request) -> Any:
    """A request's JSON body."""
    return json.loads(request.body)


def items(*rows: Any, context: str = "/") -> dict[str, Any]:
    """An envelope with ``data.items``."""
    return {"data": {"items": list(rows)}, "context": context}


def data(row: Any, context: str = "/") -> dict[str, Any]:
    """An envelope with ``data``."""
    return {"data": row, "context": context}


__all__ = ["Core", "Response", "body", "data", "items", "target"]
