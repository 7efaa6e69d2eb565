"""Watchlists: the user's own, tastytrade's public ones, and pairs watchlists.

Endpoints (on every session, see :mod:`tastytrade_proto.protocol.endpoint`):
:attr:`WatchlistsAPI.watchlists`, :attr:`~WatchlistsAPI.watchlist`,
:attr:`~WatchlistsAPI.create_watchlist`, :attr:`~WatchlistsAPI.replace_watchlist`,
:attr:`~WatchlistsAPI.delete_watchlist`, :attr:`~WatchlistsAPI.public_watchlists`,
:attr:`~WatchlistsAPI.public_watchlist`, :attr:`~WatchlistsAPI.pairs_watchlists`,
:attr:`~WatchlistsAPI.pairs_watchlist`.

A watchlist is addressed by its name, which goes into the path percent-encoded
(``Futures/Crypto`` is one segment, ``Futures%2FCrypto``).

Retries: creating and deleting are sent exactly once. A second try after a
lost answer could not tell what happened: a create would fail on the taken
name, a delete would answer 404 (:class:`~tastytrade_proto.errors.NotFound`)
for a list it had just deleted. Replacing is idempotent and retried like a
read: sending the same replacement twice leaves the same list.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from . import _args
from .accounts import InstrumentType
from .errors import LocalProtocolError
from .models import Model, data_of, decode_list, decode_model, items_of, model
from .protocol.endpoint import CallContext, Endpoint, build_call
from .protocol.envelope import decode_envelope
from .protocol.http import QueryValue, Response, encode_path
from .protocol.operation import Operation

__all__ = [
    "PairsEquation",
    "PairsWatchlist",
    "Watchlist",
    "WatchlistEntry",
    "WatchlistsAPI",
]


@model
class WatchlistEntry(Model):
    """One instrument on a watchlist. Build one to create or replace a list:
    ``WatchlistEntry("AAPL", InstrumentType.EQUITY)``."""

    symbol: str
    instrument_type: InstrumentType | None = None

    def to_json(self) -> dict[str, Any]:
        """The entry as the API's request body writes it."""
        entry: dict[str, Any] = {"symbol": self.symbol}
        if self.instrument_type is not None:
            entry["instrument-type"] = str(self.instrument_type)
        return entry


@model
class Watchlist(Model):
    """A named list of instruments (the user's own, or one of tastytrade's public ones).

    ``watchlist_entry_count`` is set instead of the entries when public
    watchlists are asked for with ``counts_only=True``.
    """

    name: str
    watchlist_entries: tuple[WatchlistEntry, ...] = ()
    group_name: str | None = None
    order_index: int | None = None
    id: str | None = None
    cms_id: str | None = None
    watchlist_entry_count: int | None = None

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols of the entries, in order."""
        return tuple(entry.symbol for entry in self.watchlist_entries)


@model
class PairsEquation(Model):
    """One pair of a pairs watchlist: buy this many of one, sell that many of the other."""

    left_symbol: str | None = None
    left_action: str | None = None
    left_quantity: int | None = None
    right_symbol: str | None = None
    right_action: str | None = None
    right_quantity: int | None = None


@model
class PairsWatchlist(Model):
    """A named list of pairs (``GET /pairs-watchlists``)."""

    name: str
    pairs_equations: tuple[PairsEquation, ...] = ()
    order_index: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


_Entry = WatchlistEntry | tuple[str, InstrumentType | str] | str


def _entries_json(entries: Iterable[_Entry]) -> list[dict[str, Any]]:
    if isinstance(entries, (str, WatchlistEntry)):
        raise LocalProtocolError("entries must be a list of entries, not one entry")
    try:
        listed = list(entries)
    except TypeError:
        raise LocalProtocolError(f"entries must be a list, got {entries!r}") from None
    out = []
    for entry in listed:
        if isinstance(entry, WatchlistEntry):
            item = entry.to_json()
        elif isinstance(entry, str):
            item = {"symbol": entry}
        elif isinstance(entry, tuple) and len(entry) == 2:
            item = {"symbol": entry[0], "instrument-type": str(entry[1])}
        else:
            raise LocalProtocolError(
                "each entry must be a WatchlistEntry, a (symbol, instrument type) pair "
                f"or a symbol, got {entry!r}"
            )
        if not isinstance(item["symbol"], str) or not item["symbol"].strip():
            raise LocalProtocolError("each watchlist entry needs a non-empty symbol")
        out.append(item)
    return out


def _name(name: str) -> str:
    return _args.segment(name, "the watchlist name")


def _body(
    name: str, entries: Iterable[_Entry], group_name: str | None, order_index: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": _name(name), "watchlist-entries": _entries_json(entries)}
    if group_name is not None:
        body["group-name"] = group_name
    if order_index is not None:
        if isinstance(order_index, bool) or not isinstance(order_index, int):
            raise LocalProtocolError(f"order_index must be an int, got {order_index!r}")
        body["order-index"] = order_index
    return body


def _dashed_entry_keys(item: Any) -> Any:
    """A watchlist object whose entries' ``instrument_type`` (seen on public
    watchlists) is also under ``instrument-type``, the key the model reads."""
    if not isinstance(item, dict) or not isinstance(item.get("watchlist-entries"), list):
        return item
    entries = []
    for entry in item["watchlist-entries"]:
        if isinstance(entry, dict) and "instrument_type" in entry:
            entry = {"instrument-type": entry["instrument_type"], **entry}
        entries.append(entry)
    return {**item, "watchlist-entries": entries}


def _public_watchlist_list(response: Response) -> list[Watchlist]:
    items = decode_envelope(response).items
    return decode_list(Watchlist, [_dashed_entry_keys(i) for i in items], what="data.items")


def _public_watchlist_one(response: Response) -> Watchlist:
    data = _dashed_entry_keys(decode_envelope(response).data)
    return decode_model(Watchlist, data, what="data")


def _deleted(response: Response) -> None:
    # The API has answered a delete both in its envelope and with a bare,
    # snake_case object; only the status matters (errors are raised earlier).
    return None


# -- endpoints -------------------------------------------------------------------------------


def _watchlists(calls: CallContext, *, timeout: float | None = None) -> Operation[list[Watchlist]]:
    """The user's watchlists (``GET /watchlists``)."""
    return build_call(calls, "GET", "/watchlists", items_of(Watchlist), timeout=timeout)


def _watchlist(
    calls: CallContext, name: str, *, timeout: float | None = None
) -> Operation[Watchlist]:
    """One of the user's watchlists (``GET /watchlists/{name}``); unknown names raise NotFound."""
    return build_call(
        calls, "GET", encode_path("watchlists", _name(name)), data_of(Watchlist), timeout=timeout
    )


def _create_watchlist(
    calls: CallContext,
    name: str,
    entries: Iterable[_Entry],
    *,
    group_name: str | None = None,
    order_index: int | None = None,
    timeout: float | None = None,
) -> Operation[Watchlist]:
    """Create a watchlist (``POST /watchlists``); sent once, never retried.

    ``entries`` are :class:`WatchlistEntry` items, ``(symbol, instrument_type)``
    pairs or bare symbols. A name already taken is refused by the API.
    """
    body = _body(name, entries, group_name, order_index)
    return build_call(
        calls,
        "POST",
        "/watchlists",
        data_of(Watchlist),
        json=body,
        idempotent=False,
        timeout=timeout,
    )


def _replace_watchlist(
    calls: CallContext,
    name: str,
    entries: Iterable[_Entry],
    *,
    group_name: str | None = None,
    order_index: int | None = None,
    timeout: float | None = None,
) -> Operation[Watchlist]:
    """Replace every entry (and the group and order) of a watchlist
    (``PUT /watchlists/{name}``); idempotent, so retried like a read."""
    body = _body(name, entries, group_name, order_index)
    path = encode_path("watchlists", _name(name))
    return build_call(
        calls, "PUT", path, data_of(Watchlist), json=body, idempotent=True, timeout=timeout
    )


def _delete_watchlist(
    calls: CallContext, name: str, *, timeout: float | None = None
) -> Operation[None]:
    """Delete a watchlist (``DELETE /watchlists/{name}``); sent once, never retried.

    A retry after a delete that went through would answer 404 and turn a
    success into :class:`~tastytrade_proto.errors.NotFound`, so any failure
    (a lost answer, a timeout, a 429, a 5xx) is raised as it is: read
    ``watchlists()`` to see whether the list is gone. A ``NotFound`` from
    this call means there was no such list.
    """
    path = encode_path("watchlists", _name(name))
    return build_call(calls, "DELETE", path, _deleted, idempotent=False, timeout=timeout)


def _public_watchlists(
    calls: CallContext, *, counts_only: bool | None = None, timeout: float | None = None
) -> Operation[list[Watchlist]]:
    """tastytrade's public watchlists (``GET /public-watchlists``).

    With ``counts_only=True`` each comes with ``watchlist_entry_count`` and no entries.
    """
    params: dict[str, QueryValue] = {"counts-only": counts_only}
    return build_call(
        calls, "GET", "/public-watchlists", _public_watchlist_list, params=params, timeout=timeout
    )


def _public_watchlist(
    calls: CallContext, name: str, *, timeout: float | None = None
) -> Operation[Watchlist]:
    """One public watchlist (``GET /public-watchlists/{name}``)."""
    path = encode_path("public-watchlists", _name(name))
    return build_call(calls, "GET", path, _public_watchlist_one, timeout=timeout)


def _pairs_watchlists(
    calls: CallContext, *, timeout: float | None = None
) -> Operation[list[PairsWatchlist]]:
    """tastytrade's pairs watchlists (``GET /pairs-watchlists``)."""
    return build_call(calls, "GET", "/pairs-watchlists", items_of(PairsWatchlist), timeout=timeout)


def _pairs_watchlist(
    calls: CallContext, name: str, *, timeout: float | None = None
) -> Operation[PairsWatchlist]:
    """One pairs watchlist (``GET /pairs-watchlists/{name}``)."""
    path = encode_path("pairs-watchlists", _name(name))
    return build_call(calls, "GET", path, data_of(PairsWatchlist), timeout=timeout)


class WatchlistsAPI:
    """Watchlists endpoints (mixed into every session)."""

    watchlists = Endpoint(_watchlists)
    watchlist = Endpoint(_watchlist)
    create_watchlist = Endpoint(_create_watchlist)
    replace_watchlist = Endpoint(_replace_watchlist)
    delete_watchlist = Endpoint(_delete_watchlist)
    public_watchlists = Endpoint(_public_watchlists)
    public_watchlist = Endpoint(_public_watchlist)
    pairs_watchlists = Endpoint(_pairs_watchlists)
    pairs_watchlist = Endpoint(_pairs_watchlist)
