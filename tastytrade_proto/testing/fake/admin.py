"""The fake's admin routes: a shell (or a test in another process) moves a mark, fills an
order or moves the clock of a running fake.

They are not the API: :class:`~tastytrade_proto.testing.server.FakeTastytradeServer`
sends every path under :data:`PREFIX` here instead of to
:meth:`FakeTastytradeAPI.handle <tastytrade_proto.testing.fake.FakeTastytradeAPI.handle>`,
which answers them 404 like any unknown path. They need no token and take
none (a request with ``Authorization`` is refused), answer only a loopback
peer that names a loopback ``Host`` (a web page that rebinds a name to
127.0.0.1 is refused), and only JSON bodies (which a browser cannot send
across origins without asking first).

=========================================  ==========================================
``POST /fake-admin/marks``                 ``{"symbol": "SPY", "mark": "601.25"}``
``POST /fake-admin/orders/{id}/fill``      ``{}``, or ``{"quantity": "1", "price": "2.5"}``
``POST /fake-admin/clock/advance``         ``{"seconds": 3600}`` (a clock with ``advance``)
=========================================  ==========================================

Answers are JSON: ``{"data": ...}`` on success, the API's ``{"error": {"code",
"message"}}`` otherwise. Pure: the peer's address comes from the server.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ...protocol.http import Request, Response
from .kit import Refused, error, refuse, reply

if TYPE_CHECKING:
    from .api import FakeTastytradeAPI

__all__ = ["PREFIX", "WallClock", "handle", "is_admin_path", "is_loopback"]

#: Every admin path starts with this.
PREFIX = "/fake-admin/"
_FILL = re.compile(r"/fake-admin/orders/([0-9]+)/fill")


class WallClock:
    """Real time, plus however far :meth:`advance` has moved it (for a fake served by hand)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self.offset = 0.0

    def __call__(self) -> float:
        return self._now() + self.offset

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.offset += seconds


def is_admin_path(path: str) -> bool:
    """Whether a request path (before any query) is one of the admin routes' paths."""
    return path == PREFIX.rstrip("/") or path.startswith(PREFIX)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP address, ``localhost``, or either with a ``:port``) is this
    machine."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1] or [::1]:8443
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:  # 127.0.0.1:8443, localhost:8443
        host = host.partition(":")[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def handle(api: FakeTastytradeAPI, request: Request, peer: str) -> Response:
    """Answer one admin request from ``peer`` (the connecting address)."""
    try:
        return _route(api, request, peer)
    except Refused as refused:
        return refused.response


def _route(api: FakeTastytradeAPI, request: Request, peer: str) -> Response:
    if not is_loopback(peer):
        raise refuse(403, "not_loopback", "The fake's admin routes answer only this machine")
    if not is_loopback(request.header("host") or ""):
        raise refuse(403, "not_loopback", "The Host header must name this machine")
    if request.header("authorization") is not None:
        raise refuse(
            400, "no_token_here", "Admin routes take no Authorization: they are not the API"
        )
    path = urlsplit(request.url).path
    if request.method != "POST":
        raise refuse(405, "method_not_allowed", "Admin routes take POST")
    kind = (request.header("content-type") or "").partition(";")[0].strip().lower()
    if kind != "application/json":
        raise refuse(415, "json_only", "Admin routes take a JSON body (application/json)")
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise refuse(400, "bad_body", "The body must be a JSON object")
    if path == "/fake-admin/marks":
        return _mark(api, body)
    if path == "/fake-admin/clock/advance":
        return _advance(api, body)
    match = _FILL.fullmatch(path)
    if match:
        return _fill(api, unquote(match.group(1)), body)
    raise refuse(404, "not_found", f"No admin route {path}")


def _mark(api: FakeTastytradeAPI, body: dict[str, Any]) -> Response:
    symbol, price = body.get("symbol"), body.get("mark")
    if not isinstance(symbol, str) or not symbol.strip():
        raise refuse(400, "bad_symbol", "Give a symbol")
    if not isinstance(price, str | int | float) or isinstance(price, bool):
        raise refuse(400, "bad_mark", "Give the mark as a decimal string")
    try:
        api.set_mark(symbol, str(price))
    except ValueError as exc:
        raise refuse(400, "bad_mark", str(exc)) from None
    return reply(200, {"data": {"symbol": symbol, "mark": str(api.mark(symbol))}})


def _fill(api: FakeTastytradeAPI, order_id: str, body: dict[str, Any]) -> Response:
    unknown = set(body) - {"quantity", "price"}
    if unknown:
        raise refuse(400, "bad_body", f"Unknown keys: {', '.join(sorted(unknown))}")
    try:
        order = api.fill_order(order_id, quantity=body.get("quantity"), price=body.get("price"))
    except LookupError:
        raise refuse(404, "record_not_found", f"Order {order_id} not found") from None
    except ValueError as exc:
        raise refuse(409, "cannot_fill", str(exc)) from None
    return reply(200, {"data": order})


def _advance(api: FakeTastytradeAPI, body: dict[str, Any]) -> Response:
    seconds = body.get("seconds")
    number = float(seconds) if isinstance(seconds, int | float) else math.nan
    if isinstance(seconds, bool) or not 0 <= number < 10 * 365 * 86400:
        raise refuse(400, "bad_seconds", "Give seconds: a number from 0 to ten years")
    advance = getattr(api.clock, "advance", None)
    if advance is None:
        return error(409, "fixed_clock", "This fake's clock cannot be moved")
    advance(number)
    now = api.clock()
    return reply(200, {"data": {"now": api.timestamp(now), "epoch-seconds": now}})
