"""The fake API's watchlists: each user's own, and the public and pairs watchlists.

A user's watchlists live in ``api.area("watchlists", ...)``, keyed by login,
then by name. Creating a name that is taken is refused with a 422, and any
unknown name is a 404 ``record_not_found``. The API's exact answer to a taken
name is not documented anywhere found; the fake answers the way its other
record validations read (:data:`NAME_TAKEN`).

See ``kit`` for how an area plugs into the fake.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...protocol.http import Request, Response
from .kit import SEGMENT, Refused, Route, body_of, data, not_found, query_one, refuse

if TYPE_CHECKING:
    from .api import FakeTastytradeAPI, FakeUser

__all__ = ["DEFAULT_ORDER_INDEX", "NAME_TAKEN", "ROUTES", "WatchlistsState", "seed", "set_public"]

#: The status, code and message of a create (or rename) onto a name already taken. A guess.
NAME_TAKEN = (422, "record_invalid", "Validation failed: Name has already been taken")
#: Where a watchlist created without an ``order-index`` goes (the schema's default).
DEFAULT_ORDER_INDEX = 9999


@dataclass
class WatchlistsState:
    """Each user's watchlists: login -> name -> the watchlist as the API writes it."""

    by_login: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: tastytrade's public watchlists, as ``GET /public-watchlists`` lists them.
    public: list[dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(_PUBLIC))

    def of(self, user: FakeUser) -> dict[str, dict[str, Any]]:
        """The watchlists of ``user`` (created empty on first use)."""
        return self.by_login.setdefault(user.login, {})


def _state(api: FakeTastytradeAPI) -> WatchlistsState:
    return api.area("watchlists", WatchlistsState)


def _entries(*rows: tuple[str, str]) -> list[dict[str, str]]:
    return [{"symbol": symbol, "instrument-type": kind} for symbol, kind in rows]


def _watchlist(
    name: str, entries: list[dict[str, Any]], group: str | None, order: int
) -> dict[str, Any]:
    return {
        "name": name,
        "watchlist-entries": entries,
        "group-name": group,
        "order-index": order,
    }


_PUBLIC: list[dict[str, Any]] = [
    {
        **_watchlist(
            "High Options Volume",
            _entries(("SPY", "Equity"), ("QQQ", "Equity"), ("AAPL", "Equity"), ("TSLA", "Equity")),
            "Liquidity",
            100,
        ),
        "id": "69136",
    },
    {
        **_watchlist(
            "Mega Caps",
            _entries(("AAPL", "Equity"), ("MSFT", "Equity"), ("BRK/B", "Equity")),
            "Market Cap",
            200,
        ),
        "id": "70412",
    },
    {
        **_watchlist(
            "Crypto",
            _entries(("BTC/USD", "Cryptocurrency"), ("ETH/USD", "Cryptocurrency")),
            "Asset Class",
            300,
        ),
        "id": "71877",
    },
]


def _pair(left: str, left_qty: int, right: str, right_qty: int) -> dict[str, Any]:
    return {
        "left-action": "Buy",
        "left-symbol": left,
        "left-quantity": left_qty,
        "right-action": "Sell",
        "right-symbol": right,
        "right-quantity": right_qty,
    }


_PAIRS: list[dict[str, Any]] = [
    {
        "name": "Stocks",
        "order-index": 4,
        "pairs-equations": [_pair("SPY", 1, "QQQ", 1), _pair("AAPL", 2, "MSFT", 1)],
        "created-at": "2020-11-17T22:17:27.424+00:00",
        "updated-at": "2020-11-17T22:17:27.424+00:00",
    },
    {
        "name": "Futures",
        "order-index": 5,
        "pairs-equations": [_pair("/ZN", 2, "/ZB", 1), _pair("/GC", 1, "/SI", 2)],
        "created-at": "2020-11-17T22:17:27.424+00:00",
        "updated-at": "2020-11-17T22:17:27.424+00:00",
    },
]


def _invalid(domain: str, reason: str) -> Refused:
    return refuse(
        400,
        "validation_error",
        "Request validation failed",
        errors=[{"domain": domain, "reason": reason}],
    )


def _read_body(request: Request) -> dict[str, Any]:
    """The create/replace body, checked as the API's schema demands."""
    body = body_of(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _invalid("name", "is missing")
    entries = body.get("watchlist-entries")
    if not isinstance(entries, list):
        raise _invalid("watchlist-entries", "is missing")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("symbol"), str):
            raise _invalid("watchlist-entries", "each entry needs a symbol")
        if not entry["symbol"].strip():
            raise _invalid("watchlist-entries", "each entry needs a symbol")
    order = body.get("order-index", DEFAULT_ORDER_INDEX)
    if isinstance(order, bool) or not isinstance(order, int):
        raise _invalid("order-index", "must be an integer")
    group = body.get("group-name")
    if group is not None and not isinstance(group, str):
        raise _invalid("group-name", "must be a string")
    clean = [{"symbol": e["symbol"], "instrument-type": e.get("instrument-type")} for e in entries]
    return _watchlist(name, clean, group, order)


def _sorted(lists: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(lists.values(), key=lambda w: w["order-index"])


def _list(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    mine = _state(api).of(api.user_for(request, now))
    return data({"items": _sorted(mine)}, "/watchlists")


def _create(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    mine = _state(api).of(api.user_for(request, now))
    watchlist = _read_body(request)
    if watchlist["name"] in mine:
        raise refuse(*NAME_TAKEN)
    mine[watchlist["name"]] = watchlist
    return data(watchlist, "/watchlists", status=201)


def _find(mine: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    if name not in mine:
        raise not_found("Watchlist")
    return mine[name]


def _one(api: FakeTastytradeAPI, request: Request, now: float, name: str) -> Response:
    mine = _state(api).of(api.user_for(request, now))
    return data(_find(mine, name), request.path)


def _replace(api: FakeTastytradeAPI, request: Request, now: float, name: str) -> Response:
    mine = _state(api).of(api.user_for(request, now))
    _find(mine, name)
    watchlist = _read_body(request)
    new_name = watchlist["name"]
    if new_name != name and new_name in mine:
        raise refuse(*NAME_TAKEN)
    del mine[name]
    mine[new_name] = watchlist
    return data(watchlist, request.path)


def _delete(api: FakeTastytradeAPI, request: Request, now: float, name: str) -> Response:
    mine = _state(api).of(api.user_for(request, now))
    return data(mine.pop(name, None) or _find(mine, name), request.path)


def _public_list(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    if query_one(request, "counts-only") == "true":
        items = [
            {
                "id": w["id"],
                "name": w["name"],
                "group-name": w["group-name"],
                "order-index": w["order-index"],
                "watchlist-entry-count": len(w["watchlist-entries"]),
            }
            for w in _state(api).public
        ]
    else:
        items = _state(api).public
    return data({"items": items}, "/public-watchlists")


def _public_one(api: FakeTastytradeAPI, request: Request, now: float, name: str) -> Response:
    api.user_for(request, now)
    for watchlist in _state(api).public:
        if watchlist["name"] == name:
            return data(watchlist, request.path)
    raise not_found("Watchlist")


def set_public(
    api: FakeTastytradeAPI,
    name: str,
    entries: list[tuple[str, str]],
    *,
    group_name: str | None = None,
    order_index: int | None = None,
) -> dict[str, Any]:
    """Replace (or add) the public watchlist ``name``, as tastytrade's editors would, and
    announce it on the account streamer (``PublicWatchlists``). Returns it as
    ``GET /public-watchlists/{name}`` now answers (a copy)."""
    public = _state(api).public
    found = next((w for w in public if w["name"] == name), None)
    if found is None:
        found = {
            **_watchlist(name, [], group_name, order_index or DEFAULT_ORDER_INDEX),
            "id": str(72_000 + len(public)),
        }
        public.append(found)
    found["watchlist-entries"] = _entries(*entries)
    if group_name is not None:
        found["group-name"] = group_name
    if order_index is not None:
        found["order-index"] = order_index
    api.publish("PublicWatchlists", found, subscription="public-watchlists-subscribe")
    return copy.deepcopy(found)


def _pairs_list(api: FakeTastytradeAPI, request: Request, now: float) -> Response:
    api.user_for(request, now)
    return data({"items": _PAIRS}, "/pairs-watchlists")


def _pairs_one(api: FakeTastytradeAPI, request: Request, now: float, name: str) -> Response:
    api.user_for(request, now)
    for watchlist in _PAIRS:
        if watchlist["name"] == name:
            return data(watchlist, request.path)
    raise not_found("Pairs watchlist")


ROUTES: list[Route] = [
    ("GET", re.compile(r"/watchlists"), _list),
    ("POST", re.compile(r"/watchlists"), _create),
    ("GET", re.compile(r"/watchlists/" + SEGMENT), _one),
    ("PUT", re.compile(r"/watchlists/" + SEGMENT), _replace),
    ("DELETE", re.compile(r"/watchlists/" + SEGMENT), _delete),
    ("GET", re.compile(r"/public-watchlists"), _public_list),
    ("GET", re.compile(r"/public-watchlists/" + SEGMENT), _public_one),
    ("GET", re.compile(r"/pairs-watchlists"), _pairs_list),
    ("GET", re.compile(r"/pairs-watchlists/" + SEGMENT), _pairs_one),
]


def seed(api: FakeTastytradeAPI) -> None:
    """Give the demo user two watchlists: ``Demo Holdings`` and ``Futures/Crypto``."""
    from .api import DEMO_LOGIN

    user = api.users.get(DEMO_LOGIN)
    if user is None:
        return
    mine = _state(api).of(user)
    mine["Demo Holdings"] = _watchlist(
        "Demo Holdings",
        _entries(("AAPL", "Equity"), ("MSFT", "Equity"), ("SPY", "Equity")),
        "main",
        1,
    )
    mine["Futures/Crypto"] = _watchlist(
        "Futures/Crypto",
        _entries(("/ESZ6", "Future"), ("BTC/USD", "Cryptocurrency")),
        "main",
        2,
    )
