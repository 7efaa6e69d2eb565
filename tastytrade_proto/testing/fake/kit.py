"""What every part of the fake API shares: answering, refusing, reading a request.

The fake's areas (``orders``, ``instruments``, ...) each export
``ROUTES`` (method, path pattern, handler) and ``seed(api)``; a handler is
``handler(api, request, now, *path_groups) -> Response``, where each group is
already percent-decoded (``%2FESZ6`` arrives as ``/ESZ6``). Patterns match the
raw path, so one ``[^/]+`` group is one path segment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ...protocol.http import Request, Response

Handler = Callable[..., Response]
Route = tuple[str, "re.Pattern[str]", Handler]

#: One path segment, and an account number, as route patterns.
SEGMENT = r"([^/]+)"
ACCOUNT = r"/accounts/([A-Za-z0-9]+)"


class Refused(Exception):
    """Raised inside a handler to answer with an error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def reply(status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """A JSON response (``Decimal`` and dates go out as strings)."""
    data = json.dumps(body, separators=(",", ":"), default=str).encode()
    return Response(status, (("content-type", "application/json"), *headers), data)


def data(body: Any, context: str, status: int = 200, **extra: Any) -> Response:
    """The API's success envelope: ``{"data": body, "context": ..., **extra}``."""
    return reply(status, {"data": body, "context": context, **extra})


def error(status: int, code: str | int, message: str, **extra: Any) -> Response:
    """The API's error envelope."""
    return reply(status, {"error": {"code": code, "message": message, **extra}})


def refuse(status: int, code: str | int, message: str, **extra: Any) -> Refused:
    """An exception that answers with the API's error envelope."""
    return Refused(error(status, code, message, **extra))


def not_found(what: str) -> Refused:
    """The API's 404 for a record that does not exist."""
    return refuse(404, "record_not_found", f"{what} not found")


def query(request: Request) -> dict[str, list[str]]:
    """The request's query: each key (``symbol[]`` as given) to its values, in order."""
    found: dict[str, list[str]] = {}
    for key, value in parse_qsl(urlsplit(request.url).query, keep_blank_values=True):
        found.setdefault(key, []).append(value)
    return found


def query_one(request: Request, key: str, default: str | None = None) -> str | None:
    """The first value of one query key."""
    values = query(request).get(key)
    return values[0] if values else default


def query_int(request: Request, key: str, default: int) -> int:
    """One whole-number query value; a 400 ``validation_error`` when it is not one."""
    value = query_one(request, key)
    if value is None:
        return default
    if not value.isdigit() or len(value) > 9:
        raise refuse(
            400,
            "validation_error",
            "Request validation failed",
            errors=[{"domain": key, "reason": "is invalid"}],
        )
    return int(value)


def paginate(
    request: Request, items: list[Any], context: str, *, per_page: int = 250, **extra: Any
) -> Response:
    """``items`` as the API pages a list: ``per-page`` and ``page-offset`` honoured;
    ``extra`` goes into the envelope (``api_version="v1"`` as ``"api-version": "v1"``)."""
    size = max(1, min(query_int(request, "per-page", per_page), 2000))
    offset = query_int(request, "page-offset", 0)
    total_pages = max(1, -(-len(items) // size))
    chunk = items[offset * size : (offset + 1) * size]
    pagination = {
        "per-page": size,
        "page-offset": offset,
        "item-offset": offset * size,
        "total-items": len(items),
        "total-pages": total_pages,
        "current-item-count": len(chunk),
        "previous-link": None,
        "next-link": None,
        "paging-link-template": None,
    }
    envelope = {key.replace("_", "-"): value for key, value in extra.items()}
    return data({"items": chunk}, context, pagination=pagination, **envelope)


def money(value: Decimal | int | str) -> str:
    """An amount as the API writes it (a string with at least one decimal place)."""
    number = Decimal(value)
    text = format(number, "f")
    return text if "." in text else text + ".0"


def body_of(request: Request) -> dict[str, Any]:
    """The request's JSON (or form) body as an object; a 400 otherwise."""
    content_type = request.header("content-type") or ""
    try:
        if "application/x-www-form-urlencoded" in content_type:
            return dict(parse_qsl(request.body.decode("utf-8"), strict_parsing=False))
        document = json.loads(request.body or b"{}", parse_float=Decimal)
    except (ValueError, RecursionError):
        raise refuse(
            400,
            "validation_error",
            "Request validation failed",
            errors=[{"domain": "body", "reason": "is not valid JSON"}],
        ) from None
    if not isinstance(document, dict):
        raise refuse(
            400,
            "validation_error",
            "Request validation failed",
            errors=[{"domain": "body", "reason": "must be a JSON object"}],
        )
    return document
