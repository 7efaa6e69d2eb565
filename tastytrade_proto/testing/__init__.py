"""Test doubles for code built on tastytrade-proto: no network, no credentials.

* :class:`ReplayTransport` answers each request with the next queued
  :class:`~tastytrade_proto.Response` (or raises a queued
  :class:`~tastytrade_proto.TransportError`) and records what was sent.
* :class:`FakeClock` is a clock whose ``sleep`` moves time forward at once.
* :class:`FakeTastytradeAPI` is a stateful fake of the API (a pure request to
  response core) and :class:`FakeTastytradeServer` serves it over real HTTP or
  HTTPS on loopback. The pytest plugin (``tastytrade_fake`` fixture) starts one
  per test. See ``docs/testing.md``.
* :mod:`~tastytrade_proto.testing.conformance` checks a transport (yours or ours)
  against the fake: :func:`~tastytrade_proto.testing.conformance.check`, or the
  ``tastytrade_conformance`` fixture.
* :class:`Recorder` records a session's traffic (any transport) into a
  :class:`Cassette`, secrets scrubbed; :class:`ReplaySession` and
  :class:`AsyncReplaySession` answer from one, raising :class:`CassetteMismatch`
  at the first request it did not see (:mod:`tastytrade_proto.testing.cassette`).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import Any

from ..errors import TransportError
from ..protocol.http import Request, Response

__all__ = [
    "CASSETTE_HEADERS",
    "CASSETTE_VERSION",
    "DEMO_CLIENT_SECRET",
    "DEMO_LOGIN",
    "DEMO_OTP",
    "DEMO_PASSWORD",
    "DEMO_REFRESH_TOKEN",
    "AccountStreamFault",
    "AccountStreamFaultKind",
    "AsyncReplaySession",
    "Cassette",
    "CassetteMismatch",
    "CassettePlayer",
    "ConformanceKit",
    "ConformanceReport",
    "ConnectProxy",
    "FakeAccount",
    "FakeAccountStreamerConnection",
    "FakeClock",
    "FakeDXLinkConnection",
    "FakeTastytradeAPI",
    "FakeTastytradeServer",
    "FakeUser",
    "Fault",
    "FaultKind",
    "OrderChange",
    "RecordedMessage",
    "RecordedRequest",
    "Recorder",
    "RecordingOperation",
    "ReplaySession",
    "ReplayTransport",
    "Reply",
    "SecondFactor",
    "StreamFault",
    "StreamFaultKind",
    "json_response",
]


def json_response(status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """A response whose body is ``body`` as JSON (``Decimal`` written as a string)."""
    data = json.dumps(body, default=str).encode()
    return Response(status, (("content-type", "application/json"), *headers), data)


class ReplayTransport:
    """Answers requests from a queue, in order, and records every request.

    Queue :class:`Response` objects, or :class:`TransportError` instances to
    have that send raise instead. Sending with nothing queued fails the test
    with an ``AssertionError`` naming the request.
    """

    def __init__(self, answers: Iterable[Response | TransportError] = ()) -> None:
        self._answers: deque[Response | TransportError] = deque(answers)
        self.requests: list[Request] = []

    def queue(self, *answers: Response | TransportError) -> None:
        """Add answers to the end of the queue."""
        self._answers.extend(answers)

    @property
    def pending(self) -> int:
        """How many queued answers have not been used."""
        return len(self._answers)

    def send(self, request: Request) -> Response:
        """Record ``request`` and return (or raise) the next queued answer."""
        self.requests.append(request)
        if not self._answers:
            raise AssertionError(f"no answer queued for {request.method} {request.path}")
        answer = self._answers.popleft()
        if isinstance(answer, TransportError):
            raise answer
        return answer


class FakeClock:
    """A wall clock for tests: ``sleep`` advances ``now`` instead of waiting."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record the sleep and move time forward by it."""
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


# Imported last: they use the helpers above.
from .cassette import (  # noqa: E402
    CASSETTE_HEADERS,
    CASSETTE_VERSION,
    AsyncReplaySession,
    Cassette,
    CassetteMismatch,
    CassettePlayer,
    Recorder,
    RecordingOperation,
    ReplaySession,
)
from .conformance import ConformanceKit, ConformanceReport  # noqa: E402
from .fake import (  # noqa: E402
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    AccountStreamFault,
    AccountStreamFaultKind,
    FakeAccount,
    FakeAccountStreamerConnection,
    FakeDXLinkConnection,
    FakeTastytradeAPI,
    FakeUser,
    Fault,
    FaultKind,
    OrderChange,
    RecordedMessage,
    RecordedRequest,
    Reply,
    SecondFactor,
    StreamFault,
    StreamFaultKind,
)
from .proxy import ConnectProxy  # noqa: E402
from .server import FakeTastytradeServer  # noqa: E402
