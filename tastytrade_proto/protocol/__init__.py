"""The protocol seam: what a transport author (or a test at the protocol level) uses.

The core never does I/O. It builds :class:`Request` values and interprets
:class:`Response` values; every call is an :class:`Operation` that yields
steps (:class:`Send` a request, :class:`Wait` a while, :class:`Ask` the user)
until it is :class:`Done`. A transport drives operations with :func:`drive`
(synchronous) or :func:`drive_async`, giving them its ``send`` and ``sleep``;
the :class:`AuthMachine` keeps the tokens and decides every renewal, and
:class:`RetryPolicy` every retry. A transport's ``Session`` subclasses
:class:`SyncSession` or :class:`AsyncSession`, which hold every call of the API
once; :class:`Operations` is the same calls as operations for a transport that
drives them itself. :class:`HTTP11Connection` turns requests into bytes and
bytes into responses (h11) for a transport that owns its sockets, and
:class:`WebSocketConnection` does the same for a websocket (wsproto).

Modules of this package, by concern:

* :mod:`.http`: requests, responses, environments, encoding;
* :mod:`.operation`: operations, their steps and the drive loops;
* :mod:`.auth`: the authentication state machine; :mod:`.events`: what it reports;
* :mod:`.flows`: the multi-step flows (logins, calls with retries, pagination);
* :mod:`.retry`: the retry policy; :mod:`.envelope`: reading the API's answers;
* :mod:`.endpoint`: how an endpoint is declared once for every kind of session;
* :mod:`.settings`: the settings every transport accepts;
* :mod:`.wire`: HTTP/1.1 bytes with h11;
* :mod:`.websocket`: websocket bytes with wsproto.

Application code needs none of this: see :mod:`tastytrade_proto`.
See ``docs/architecture.md`` and ``docs/custom-transport.md``.
"""

from typing import TYPE_CHECKING, Any

from .auth import AuthMachine, AuthNeed, AuthScheme, AuthState
from .endpoint import (
    AsyncHost,
    AsyncPageIterator,
    CallContext,
    Endpoint,
    EndpointHost,
    Page,
    Paged,
    PageIterator,
    Pager,
    SyncHost,
)
from .envelope import (
    MAX_BODY_BYTES,
    Envelope,
    Pagination,
    decode_envelope,
    error_from_response,
    parse_json,
    parse_retry_after,
)
from .events import (
    AccessTokenIssued,
    Event,
    LoggedIn,
    LoggedOut,
    RefreshTokenRotated,
    RememberTokenIssued,
    SessionValidated,
    TokenEvent,
    User,
)
from .http import (
    CERTIFICATION,
    DEFAULT_ACCEPT_VERSION,
    DEFAULT_USER_AGENT,
    PRODUCTION,
    ClientConfig,
    Environment,
    QueryValue,
    Request,
    Response,
    encode_json,
    encode_path,
    encode_query,
)
from .operation import (
    Ask,
    AsyncShield,
    Done,
    Operation,
    OperationState,
    Send,
    Shield,
    Step,
    Wait,
    drive,
    drive_async,
)
from .retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from .settings import DEFAULT_TIMEOUT, TransportSettings

__all__ = [
    "API",
    "CERTIFICATION",
    "DEFAULT_ACCEPT_VERSION",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_USER_AGENT",
    "MAX_BODY_BYTES",
    "NO_RETRY",
    "PRODUCTION",
    "AccessTokenIssued",
    "Ask",
    "AsyncHost",
    "AsyncPageIterator",
    "AsyncSession",
    "AsyncShield",
    "AuthMachine",
    "AuthNeed",
    "AuthScheme",
    "AuthState",
    "CallContext",
    "ClientConfig",
    "Closed",
    "Done",
    "Endpoint",
    "EndpointHost",
    "Envelope",
    "Environment",
    "Event",
    "HTTP11Connection",
    "LoggedIn",
    "LoggedOut",
    "Operation",
    "OperationState",
    "Operations",
    "Page",
    "PageIterator",
    "Paged",
    "Pager",
    "Pagination",
    "QueryValue",
    "RefreshTokenRotated",
    "RememberTokenIssued",
    "Request",
    "Response",
    "RetryPolicy",
    "Send",
    "SessionBase",
    "SessionValidated",
    "Shield",
    "Step",
    "SyncHost",
    "SyncSession",
    "TokenEvent",
    "TransportSettings",
    "User",
    "Wait",
    "WebSocketConnection",
    "WebSocketURL",
    "decode_envelope",
    "drive",
    "drive_async",
    "encode_json",
    "encode_path",
    "encode_query",
    "error_from_response",
    "parse_json",
    "parse_response",
    "parse_retry_after",
    "serialize_request",
    "split_websocket_url",
]

# The session classes carry every endpoint (so they import the API's areas and their
# models), the wire needs h11 and the websocket wsproto: they load on first use (PEP 562),
# keeping this package, and ``import tastytrade_proto``, light.
_LAZY = {
    "API": "tastytrade_proto.api",
    "AsyncSession": "tastytrade_proto.sessions",
    "Operations": "tastytrade_proto.sessions",
    "SessionBase": "tastytrade_proto.sessions",
    "SyncSession": "tastytrade_proto.sessions",
    "HTTP11Connection": "tastytrade_proto.protocol.wire",
    "parse_response": "tastytrade_proto.protocol.wire",
    "serialize_request": "tastytrade_proto.protocol.wire",
    "Closed": "tastytrade_proto.protocol.websocket",
    "WebSocketConnection": "tastytrade_proto.protocol.websocket",
    "WebSocketURL": "tastytrade_proto.protocol.websocket",
    "split_websocket_url": "tastytrade_proto.protocol.websocket",
}

if TYPE_CHECKING:
    from ..api import API
    from ..sessions import AsyncSession, Operations, SessionBase, SyncSession
    from .websocket import Closed, WebSocketConnection, WebSocketURL, split_websocket_url
    from .wire import HTTP11Connection, parse_response, serialize_request


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
