"""tastytrade-proto: a client for the tastytrade brokerage API, with a sans-I/O core.

This package is what application code uses: a transport's ``Session``
(``tastytrade_requests``, ``tastytrade_aiohttp`` or ``tastytrade_trio``) offers
every call; what the calls take and return lives here.

* The API's areas, each a module with its models and its endpoints:
  :mod:`.accounts`, :mod:`.orders`, :mod:`.instruments`, :mod:`.market_data`,
  :mod:`.watchlists`, and :mod:`.authentication` (logins, refresh, logout).
* Building orders: :class:`NewOrder`, :class:`NewLeg`, :class:`NewComplexOrder`,
  :class:`Replacement`, and what placing one ends in (:class:`PlacedOrder`,
  :class:`OrderNotPlaced`, :class:`OrderOutcomeUnknown`).
* Every error is a :class:`TastytradeError` (:mod:`.errors`).
* Where to talk: :class:`Environment`, :data:`PRODUCTION`, :data:`CERTIFICATION`.
* What a ``token_store`` receives (:class:`TokenEvent`) and what a ``prompt``
  is asked (:class:`Ask`); how calls are retried (:class:`RetryPolicy`).

Writing a transport, or testing at the protocol level? See
:mod:`tastytrade_proto.protocol`. A fake API to test against:
:mod:`tastytrade_proto.testing`.
"""

from typing import TYPE_CHECKING, Any

from ._deprecation import deprecated_names
from ._version import __version__
from .errors import (
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
from .models import ApiEnum, Model, PriceEffect
from .protocol.endpoint import AsyncPageIterator, Page, PageIterator
from .protocol.envelope import Envelope, Pagination
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
from .protocol.http import CERTIFICATION, PRODUCTION, Environment
from .protocol.operation import Ask
from .protocol.retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy

__all__ = [
    "CERTIFICATION",
    "DEFAULT_RETRY",
    "NO_RETRY",
    "PRODUCTION",
    "AccessTokenIssued",
    "Account",
    "ApiEnum",
    "ApiError",
    "Ask",
    "AsyncPageIterator",
    "AuthenticationError",
    "Balances",
    "ComplexOrder",
    "ComplexOrderType",
    "DecodeError",
    "DeviceChallengeRequired",
    "Envelope",
    "Environment",
    "ErrorDetail",
    "Event",
    "Forbidden",
    "InstrumentType",
    "InvalidCredentials",
    "InvalidOrder",
    "InvalidSecondFactor",
    "LocalProtocolError",
    "LoggedIn",
    "LoggedOut",
    "Model",
    "NewComplexOrder",
    "NewLeg",
    "NewOrder",
    "NotFound",
    "OAuthError",
    "Order",
    "OrderAction",
    "OrderNotPlaced",
    "OrderOutcomeUnknown",
    "OrderStatus",
    "OrderType",
    "Page",
    "PageIterator",
    "Pagination",
    "PlacedComplexOrder",
    "PlacedOrder",
    "Position",
    "PriceEffect",
    "RateLimited",
    "RefreshTokenRotated",
    "RememberTokenIssued",
    "Replacement",
    "ResponseError",
    "RetryPolicy",
    "SecondFactorRequired",
    "ServerError",
    "SessionExpired",
    "SessionValidated",
    "TastytradeError",
    "TickSizeError",
    "TimeInForce",
    "TokenEvent",
    "TransportError",
    "TransportTimeout",
    "UnsettledOrder",
    "User",
    "ValidationFailed",
    "VersionNotSupported",
    "__version__",
    "accounts",
    "authentication",
    "instruments",
    "market_data",
    "orders",
    "watchlists",
]

# The areas hold most of the models: they, and the names taken from them, load on first
# use (PEP 562), so that ``import tastytrade_proto`` stays light (docs/performance.md).
_AREAS = frozenset(
    {"accounts", "authentication", "instruments", "market_data", "orders", "watchlists"}
)
_FROM_AREAS = {
    **dict.fromkeys(("Account", "Balances", "InstrumentType", "Position"), "accounts"),
    **dict.fromkeys(
        (
            "ComplexOrder",
            "ComplexOrderType",
            "InvalidOrder",
            "NewComplexOrder",
            "NewLeg",
            "NewOrder",
            "Order",
            "OrderAction",
            "OrderNotPlaced",
            "OrderOutcomeUnknown",
            "OrderStatus",
            "OrderType",
            "PlacedComplexOrder",
            "PlacedOrder",
            "Replacement",
            "TickSizeError",
            "TimeInForce",
            "UnsettledOrder",
        ),
        "orders",
    ),
}

if TYPE_CHECKING:
    from . import accounts, authentication, instruments, market_data, orders, watchlists
    from .accounts import Account, Balances, InstrumentType, Position
    from .orders import (
        ComplexOrder,
        ComplexOrderType,
        InvalidOrder,
        NewComplexOrder,
        NewLeg,
        NewOrder,
        Order,
        OrderAction,
        OrderNotPlaced,
        OrderOutcomeUnknown,
        OrderStatus,
        OrderType,
        PlacedComplexOrder,
        PlacedOrder,
        Replacement,
        TickSizeError,
        TimeInForce,
        UnsettledOrder,
    )


def _moved(home: str, name: str) -> tuple[str, Any]:
    def get() -> Any:
        import importlib

        module = importlib.import_module(home)
        return module if name == "" else getattr(module, name)

    return (f"{home}.{name}" if name else home), get


# Names this package exported before the two tiers (0.x); each still works, with a warning.
_DEPRECATED = {
    **{
        name: _moved("tastytrade_proto.protocol", name)
        for name in (
            "DEFAULT_ACCEPT_VERSION",
            "DEFAULT_USER_AGENT",
            "MAX_BODY_BYTES",
            "API",
            "AuthNeed",
            "AuthScheme",
            "ClientConfig",
            "Done",
            "Endpoint",
            "HTTP11Connection",
            "Operation",
            "OperationState",
            "Paged",
            "Pager",
            "QueryValue",
            "Request",
            "Response",
            "Send",
            "Step",
            "Wait",
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
        )
    },
    "SessionMachine": _moved("tastytrade_proto.protocol", "AuthMachine"),
    "SessionState": _moved("tastytrade_proto.protocol", "AuthState"),
    **{
        name: _moved("tastytrade_proto.protocol.auth", name)
        for name in ("ALLOWED", "DEFAULT_ACCESS_TOKEN_LIFETIME", "REFRESH_MARGIN", "Action")
    },
    **{name: _moved("tastytrade_proto.protocol.operation", name) for name in ("Context", "Flow")},
    **{
        name: _moved("tastytrade_proto.errors", name)
        for name in ("CLASSIC_OTP_INVALID_CODE", "CLASSIC_OTP_REQUIRED_CODE")
    },
    **{name: _moved("tastytrade_proto.models", name) for name in ("model", "signed", "unsigned")},
    **{
        name: _moved("tastytrade_proto.timestamps", name)
        for name in ("format_datetime", "parse_datetime")
    },
    "flows": _moved("tastytrade_proto.protocol.flows", ""),
}
_deprecated = deprecated_names(__name__, _DEPRECATED)


def __getattr__(name: str) -> Any:
    import importlib

    if name in _AREAS:
        return importlib.import_module(f".{name}", __name__)
    area = _FROM_AREAS.get(name)
    if area is not None:
        return getattr(importlib.import_module(f".{area}", __name__), name)
    return _deprecated(name)
