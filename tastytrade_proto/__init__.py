"""tastytrade-proto: a sans-I/O client core for the tastytrade brokerage API.

The core builds :class:`Request` values and interprets :class:`Response`
values; it never opens a socket, sleeps or reads a clock. Transports
(``tastytrade_requests``, ``tastytrade_aiohttp``, ``tastytrade_trio``, or your
own) drive its :class:`Operation` steps. See ``docs/architecture.md``.

The REST API lives in one module per area (:mod:`.accounts`, :mod:`.orders`,
:mod:`.instruments`, :mod:`.market_data`, :mod:`.watchlists`), each with its
models; every session offers every endpoint (:class:`API`).
"""

from typing import TYPE_CHECKING, Any

from . import values
from ._version import __version__
from .errors import (
    CLASSIC_OTP_INVALID_CODE,
    CLASSIC_OTP_REQUIRED_CODE,
    ApiError,
    AuthenticationError,
    DecodeError,
    DeviceChallengeRequired,
    ErrorDetail,
    Forbidden,
    InvalidCredentials,
    InvalidSecondFactor,
    LocalProtocolError,
    NotFound,
    OAuthError,
    RateLimited,
    ResponseError,
    SecondFactorRequired,
    ServerError,
    SessionExpired,
    TastytradeError,
    TransportError,
    TransportTimeout,
    ValidationFailed,
    VersionNotSupported,
)
from .models import ApiEnum, Model, PriceEffect, model, signed, unsigned
from .protocol import flows
from .protocol.auth import (
    ALLOWED,
    DEFAULT_ACCESS_TOKEN_LIFETIME,
    REFRESH_MARGIN,
    Action,
    AuthNeed,
    AuthScheme,
    SessionMachine,
    SessionState,
)
from .protocol.endpoint import AsyncPageIterator, Endpoint, Page, Paged, PageIterator, Pager
from .protocol.envelope import (
    MAX_BODY_BYTES,
    Envelope,
    Pagination,
    decode_envelope,
    error_from_response,
    parse_json,
    parse_retry_after,
)
from .protocol.events import (
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
from .protocol.http import (
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
from .protocol.operation import (
    Ask,
    Context,
    Done,
    Flow,
    Operation,
    OperationState,
    Send,
    Step,
    Wait,
    drive,
    drive_async,
)
from .protocol.retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from .timestamps import format_datetime, parse_datetime

__all__ = [
    "ALLOWED",
    "API",
    "CERTIFICATION",
    "CLASSIC_OTP_INVALID_CODE",
    "CLASSIC_OTP_REQUIRED_CODE",
    "DEFAULT_ACCEPT_VERSION",
    "DEFAULT_ACCESS_TOKEN_LIFETIME",
    "DEFAULT_RETRY",
    "DEFAULT_USER_AGENT",
    "MAX_BODY_BYTES",
    "NO_RETRY",
    "PRODUCTION",
    "REFRESH_MARGIN",
    "AccessTokenIssued",
    "Action",
    "ApiEnum",
    "ApiError",
    "Ask",
    "AsyncPageIterator",
    "AuthNeed",
    "AuthScheme",
    "AuthenticationError",
    "ClientConfig",
    "Context",
    "DecodeError",
    "DeviceChallengeRequired",
    "Done",
    "Endpoint",
    "Envelope",
    "Environment",
    "ErrorDetail",
    "Event",
    "Flow",
    "Forbidden",
    "HTTP11Connection",
    "InvalidCredentials",
    "InvalidSecondFactor",
    "LocalProtocolError",
    "LoggedIn",
    "LoggedOut",
    "Model",
    "NotFound",
    "OAuthError",
    "Operation",
    "OperationState",
    "Page",
    "PageIterator",
    "Paged",
    "Pager",
    "Pagination",
    "PriceEffect",
    "QueryValue",
    "RateLimited",
    "RefreshTokenRotated",
    "RememberTokenIssued",
    "Request",
    "Response",
    "ResponseError",
    "RetryPolicy",
    "SecondFactorRequired",
    "Send",
    "ServerError",
    "SessionExpired",
    "SessionMachine",
    "SessionState",
    "SessionValidated",
    "Step",
    "TastytradeError",
    "TokenEvent",
    "TransportError",
    "TransportTimeout",
    "User",
    "ValidationFailed",
    "VersionNotSupported",
    "Wait",
    "__version__",
    "accounts",
    "decode_envelope",
    "drive",
    "drive_async",
    "encode_json",
    "encode_path",
    "encode_query",
    "error_from_response",
    "flows",
    "format_datetime",
    "instruments",
    "market_data",
    "model",
    "orders",
    "parse_datetime",
    "parse_json",
    "parse_response",
    "parse_retry_after",
    "serialize_request",
    "signed",
    "unsigned",
    "values",
    "watchlists",
]

# The API's areas hold most of the models, and ``wire`` needs h11: they are imported on first
# use (PEP 562), so that ``import tastytrade_proto`` stays light (docs/performance.md).
_AREAS = frozenset({"accounts", "instruments", "market_data", "orders", "watchlists"})
_WIRE = frozenset({"HTTP11Connection", "parse_response", "serialize_request"})

if TYPE_CHECKING:
    from . import accounts, instruments, market_data, orders, watchlists
    from .api import API
    from .protocol.wire import HTTP11Connection, parse_response, serialize_request


def __getattr__(name: str) -> Any:
    import importlib

    if name in _AREAS:
        return importlib.import_module(f".{name}", __name__)
    if name == "API":
        return importlib.import_module(".api", __name__).API
    if name in _WIRE:
        return getattr(importlib.import_module(".protocol.wire", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
