"""The fake's quote alerts: a user's "tell me when SPY's last price goes above 600".

The real API keeps them under ``/quote-alerts`` and announces a triggered one on
the account streamer as a ``QuoteAlert`` frame (to sockets that sent
``quote-alerts-subscribe``). The fake has no REST route for them: a test adds one
with ``api.add_quote_alert`` and moves the mark (``api.set_mark``); the first
mark that makes the condition true triggers it, once. The alert's shape follows
the frames recorded from the real streamer (``alert-external-id``, ``dx-symbol``,
``field``, ``operator``, ``threshold``, ``triggered-at``, ``expires-at`` in epoch
milliseconds, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ...instruments import occ_to_streamer
from . import market
from .kit import money
from .orders.model import OCC, amount, digest

if TYPE_CHECKING:
    from .api import FakeTastytradeAPI

__all__ = ["FIELDS", "OPERATORS", "AlertsState", "add", "check"]

#: The quote fields an alert can watch.
FIELDS = ("Last", "Bid", "Ask")
#: The comparisons an alert can make.
OPERATORS = (">", "<")
#: How long an alert lives (the real default is not documented; a guess).
LIFETIME = 30 * 86400.0


@dataclass(slots=True)
class _Alert:
    login: str
    data: dict[str, Any]
    threshold: Decimal


@dataclass(slots=True)
class AlertsState:
    """Every quote alert the fake holds, in the order they were added."""

    alerts: list[_Alert] = field(default_factory=list)


def _state(api: FakeTastytradeAPI) -> AlertsState:
    return api.area("alerts", AlertsState)


def _kind_of(symbol: str) -> str:
    if OCC.fullmatch(symbol):
        return "Equity Option"
    if symbol.endswith("/USD"):
        return "Cryptocurrency"
    if symbol.startswith("/"):
        return "Future"
    return "Equity"


_QUOTE_KINDS = {
    "Equity": ("equity", "index"),
    "Equity Option": ("equity-option",),
    "Future": ("future",),
    "Cryptocurrency": ("cryptocurrency",),
}


def _value(api: FakeTastytradeAPI, symbol: str, kind: str, name: str, now: float) -> Decimal | None:
    """The alert field's value now: from the quote the market-data endpoints serve, else
    the mark."""
    for key in _QUOTE_KINDS.get(kind, ()):
        quote = market.quote_of(api, key, symbol, now)
        if quote is not None:
            return amount(quote.get(name.lower()))
    return api.mark(symbol)


def add(
    api: FakeTastytradeAPI, login: str, symbol: str, name: str, operator: str, threshold: Any
) -> dict[str, Any]:
    """Add an alert for user ``login``; the alert as the API writes it (a copy)."""
    user = api.users.get(login)
    if user is None:
        raise ValueError(f"no user {login!r}")
    if name not in FIELDS:
        raise ValueError(f"the field must be one of {', '.join(FIELDS)}")
    if operator not in OPERATORS:
        raise ValueError(f"the operator must be one of {' '.join(OPERATORS)}")
    number = amount(threshold)
    if number is None:
        raise ValueError(f"not a threshold: {threshold!r}")
    now = api.clock()
    kind = _kind_of(symbol)
    alerts = _state(api).alerts
    data = {
        "alert-external-id": digest("alert", login, len(alerts) + 1, size=24),
        "user-external-id": user.external_id,
        "symbol": symbol,
        "dx-symbol": occ_to_streamer(symbol) if kind == "Equity Option" else symbol,
        "instrument-type": kind,
        "field": name,
        "operator": operator,
        "threshold": money(number),
        "threshold-numeric": float(number),
        "created-at": api.timestamp(now),
        "triggered-at": None,
        "completed-at": None,
        "expires-at": int((now + LIFETIME) * 1000),
    }
    alerts.append(_Alert(login, data, number))
    return dict(data)


def check(api: FakeTastytradeAPI) -> None:
    """Trigger every waiting alert whose condition now holds, and announce it."""
    now = api.clock()
    for alert in _state(api).alerts:
        data = alert.data
        if data["triggered-at"] is not None or data["expires-at"] <= now * 1000:
            continue
        value = _value(api, data["symbol"], data["instrument-type"], data["field"], now)
        if value is None:
            continue
        above = data["operator"] == ">"
        if (value > alert.threshold) if above else (value < alert.threshold):
            data["triggered-at"] = data["completed-at"] = api.timestamp(now)
            api.publish(
                "QuoteAlert", data, login=alert.login, subscription="quote-alerts-subscribe"
            )
