"""Responses into data or errors: JSON, the API's envelope, and its error bodies.

Decoding is total: whatever bytes arrive, the functions here return a value
or raise a :class:`~tastytrade_proto.errors.TastytradeError` subclass, never
``KeyError``, ``JSONDecodeError`` or ``UnicodeDecodeError``. JSON numbers with
a fraction or exponent become :class:`~decimal.Decimal`, never ``float``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from .._redact import redact_body
from ..errors import (
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
    NotFound,
    OAuthError,
    RateLimited,
    ResponseError,
    SecondFactorRequired,
    ServerError,
    SessionExpired,
    ValidationFailed,
    VersionNotSupported,
)
from ..timestamps import parse_http_date
from ..values import frozen
from .http import Response

__all__ = [
    "MAX_BODY_BYTES",
    "Envelope",
    "Pagination",
    "decode_envelope",
    "error_from_response",
    "parse_json",
    "parse_retry_after",
]

#: Bodies larger than this are refused rather than parsed (a hostile or
#: broken server must not make the client allocate without bound).
MAX_BODY_BYTES = 64 * 1024 * 1024

# 401 codes that mean "this token is no longer good" (bodies: tests/samples/error_401_*.json;
# the causes of a 401: https://developer.tastytrade.com/reference/errors/#401).
_EXPIRED_CODES = frozenset({"token_invalid", "invalid_session", "unauthorized", "session_expired"})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


# Made once: json.loads with keywords builds a new decoder on every call.
_JSON = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def parse_json(response: Response) -> Any:
    """Parse a response body as JSON, numbers with a fraction as ``Decimal``."""
    body = response.body
    if len(body) > MAX_BODY_BYTES:
        raise DecodeError(
            f"response body of {len(body)} bytes is larger than the {MAX_BODY_BYTES} allowed",
            status=response.status,
            headers=response.headers,
        )
    try:
        text = body.decode("utf-8")
        return _JSON.decode(text)
    except (ValueError, RecursionError) as exc:
        kind = "empty" if not body.strip() else "not valid JSON"
        raise DecodeError(
            f"HTTP {response.status} response body is {kind} ({type(exc).__name__}); "
            f"body starts {redact_body(body, 120)}",
            status=response.status,
            headers=response.headers,
            excerpt=redact_body(body, 120),
        ) from None


def shape_error(response: Response, what: str) -> DecodeError:
    """A :class:`DecodeError` saying what is wrong with ``response``, with a redacted excerpt."""
    excerpt = redact_body(response.body, 120)
    return DecodeError(
        f"HTTP {response.status} {what}; body starts {excerpt}",
        status=response.status,
        headers=response.headers,
        excerpt=excerpt,
    )


@frozen
class Pagination:
    """The API's ``pagination`` block (offset-based paging)."""

    page_offset: int
    total_pages: int
    per_page: int | None = None
    total_items: int | None = None

    @property
    def has_next(self) -> bool:
        """Whether a page follows this one."""
        return self.page_offset + 1 < self.total_pages


@frozen
class Envelope:
    """A decoded success body: ``data`` plus the envelope's other members."""

    data: Any
    context: str | None = None
    pagination: Pagination | None = None
    api_version: str | None = None

    @property
    def items(self) -> list[Any]:
        """``data.items``, checked to be a list."""
        items = self.data.get("items") if isinstance(self.data, dict) else None
        if not isinstance(items, list):
            raise DecodeError(f"response data has no 'items' list (context {self.context!r})")
        return items


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (str, Decimal)):
        try:
            number = Decimal(value)
        except ArithmeticError:
            return None
        # adjusted() first: 1e999999999 must not be expanded into an int.
        if number.is_finite() and number.adjusted() < 19 and number == number.to_integral_value():
            return int(number)
    return None


def _pagination(response: Response, value: Any) -> Pagination | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise shape_error(response, "response has a 'pagination' that is not an object")
    offset, pages = _int(value.get("page-offset")), _int(value.get("total-pages"))
    if offset is None or pages is None or offset < 0 or pages < 0:
        raise shape_error(
            response, "response has a 'pagination' without page-offset and total-pages"
        )
    return Pagination(offset, pages, _int(value.get("per-page")), _int(value.get("total-items")))


def decode_envelope(response: Response, *, require_data: bool = True) -> Envelope:
    """Decode a response in the API's ``{"data": ..., "context": ...}`` envelope.

    A non-2xx response raises the matching :class:`ApiError` subclass. A 2xx
    without ``data`` raises :class:`DecodeError` when ``require_data`` (an
    empty 204, such as logout's, is fine with ``require_data=False``).
    """
    if not response.ok:
        raise error_from_response(response)
    if not response.body and not require_data:
        return Envelope(None)
    document = parse_json(response)
    if not isinstance(document, dict):
        raise shape_error(response, "response is not a JSON object")
    if "error" in document and "data" not in document:
        raise error_from_response(response)
    if require_data and not isinstance(document.get("data"), dict):
        raise shape_error(response, "response has no 'data' object")
    context = document.get("context")
    version = document.get("api-version")
    return Envelope(
        document.get("data"),
        context if isinstance(context, str) else None,
        _pagination(response, document.get("pagination")),
        version if isinstance(version, str) else None,
    )


def parse_retry_after(value: str | None) -> tuple[float | None, datetime | None]:
    """``Retry-After`` as ``(seconds, None)``, ``(None, date)`` or ``(None, None)``."""
    if value is None:
        return None, None
    value = value.strip()
    if re.fullmatch(r"\d{1,9}(\.\d+)?", value):
        return float(value), None
    when = parse_http_date(value)
    return (None, when) if when is not None else (None, None)


def _text(value: Any, limit: int = 500) -> str | None:
    if value is None:
        return None
    try:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
    except (RecursionError, ValueError):
        text = f"<{type(value).__name__} too deep to show>"
    return text if len(text) <= limit else text[:limit] + "..."


def _details(value: Any) -> tuple[ErrorDetail, ...]:
    if isinstance(value, str):
        return (ErrorDetail(message=_text(value)),)
    if not isinstance(value, list):
        return ()
    details = []
    for item in value[:100]:
        if isinstance(item, dict):
            details.append(
                ErrorDetail(
                    code=_text(item.get("code")),
                    message=_text(item.get("message")),
                    domain=_text(item.get("domain")),
                    reason=_text(item.get("reason")),
                    preflight_id=_text(item.get("preflight-id")),
                    raw=item,
                )
            )
        else:
            details.append(ErrorDetail(message=_text(item) if item is not None else "null"))
    return tuple(details)


def _class_for(status: int, code: str | None) -> type[ApiError]:
    if code == "device_challenge_required":
        return DeviceChallengeRequired
    if code == CLASSIC_OTP_REQUIRED_CODE:
        return SecondFactorRequired
    if code == CLASSIC_OTP_INVALID_CODE:
        return InvalidSecondFactor
    if code == "invalid_credentials":
        return InvalidCredentials
    if status == 401:
        return SessionExpired if code in _EXPIRED_CODES else AuthenticationError
    by_status: Mapping[int, type[ApiError]] = {
        400: ValidationFailed,
        403: Forbidden,
        404: NotFound,
        406: VersionNotSupported,
        422: ValidationFailed,
        429: RateLimited,
    }
    if status in by_status:
        return by_status[status]
    return ServerError if status >= 500 else ApiError


def error_from_response(response: Response) -> ResponseError:
    """The error a non-2xx response stands for (returned, not raised).

    Understands the API's ``{"error": {code, message, errors, redirect}}``
    body, the OAuth endpoint's ``{error_code, error_description}`` body, and
    bodies that are not JSON at all (an nginx or load-balancer HTML page),
    which still map by status, with a redacted excerpt in the message.
    """
    status = response.status
    try:
        document = parse_json(response) if response.body.strip() else None
    except DecodeError:
        document = None
    code: str | None = None
    api_message: str | None = None
    errors: tuple[ErrorDetail, ...] = ()
    redirect: Mapping[str, Any] | None = None
    data: Mapping[str, Any] | None = None
    cls: type[ApiError]
    if isinstance(document, dict) and "error_code" in document:
        # The token endpoint's own shape; a 429 or 5xx keeps its retryable class.
        cls = _class_for(status, None) if status == 429 or status >= 500 else OAuthError
        code = _text(document.get("error_code"))
        api_message = _text(document.get("error_description"))
    elif isinstance(document, dict) and isinstance(document.get("error"), dict):
        error = document["error"]
        code = _text(error.get("code"))
        api_message = _text(error.get("message"))
        errors = _details(error.get("errors"))
        if isinstance(error.get("redirect"), dict):
            redirect = error["redirect"]
        if isinstance(document.get("data"), dict):
            data = document["data"]
        cls = _class_for(status, code)
    else:
        cls = _class_for(status, None)
        if isinstance(document, dict) and isinstance(document.get("error"), str):
            api_message = _text(document["error"])
        elif not isinstance(document, dict):
            api_message = (
                f"non-JSON body {redact_body(response.body, 120)}" if response.body else None
            )
    parts = [f"HTTP {status}"]
    if code:
        parts.append(code)
    text = " ".join(parts)
    if api_message:
        text += f": {api_message}"
    if errors:
        text += " [" + "; ".join(str(e) for e in errors[:10]) + "]"
    kwargs: dict[str, Any] = dict(
        status=status,
        headers=response.headers,
        code=code,
        api_message=api_message,
        errors=errors,
        redirect=redirect,
        data=data,
    )
    if cls is RateLimited:
        after, at = parse_retry_after(response.header("retry-after"))
        return RateLimited(text, retry_after=after, retry_at=at, **kwargs)
    return cls(text, **kwargs)
