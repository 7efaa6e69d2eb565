"""Watchlists-area cases for every transport: the demo user's lists, then a full lifecycle."""

from __future__ import annotations

from tastytrade_proto.accounts import InstrumentType
from tastytrade_proto.errors import NotFound, ValidationFailed
from tastytrade_proto.testing import DEMO_LOGIN, FakeTastytradeAPI
from tastytrade_proto.testing.fake.watchlists import WatchlistsState
from tastytrade_proto.watchlists import PairsWatchlist, Watchlist, WatchlistEntry

from . import Case

NEW = "Swing Trades/2026"


def _mine(api: FakeTastytradeAPI) -> dict[str, dict[str, object]]:
    """The demo user's watchlists as the fake holds them."""
    return api.area("watchlists", WatchlistsState).by_login[DEMO_LOGIN]


def _watchlists(found: list[Watchlist]) -> None:
    assert [w.name for w in found] == ["Demo Holdings", "Futures/Crypto"]


def _watchlist(found: Watchlist) -> None:
    assert found.symbols == ("/ESZ6", "BTC/USD")
    assert found.watchlist_entries[0].instrument_type is InstrumentType.FUTURE


def _created(found: Watchlist, api: FakeTastytradeAPI) -> None:
    assert found.name == NEW and found.symbols == ("AAPL", "/ESZ6")
    assert NEW in _mine(api)


def _replaced(found: Watchlist, api: FakeTastytradeAPI) -> None:
    assert found.symbols == ("TSLA",) and found.order_index == 7
    assert _mine(api)[NEW]["order-index"] == 7


def _deleted(result: None, api: FakeTastytradeAPI) -> None:
    assert result is None and NEW not in _mine(api)


def _public(found: list[Watchlist]) -> None:
    assert "High Options Volume" in [w.name for w in found]


def _public_one(found: Watchlist) -> None:
    assert found.symbols[:2] == ("SPY", "QQQ")


def _pairs(found: list[PairsWatchlist]) -> None:
    assert [p.name for p in found] == ["Stocks", "Futures"]


def _pair(found: PairsWatchlist) -> None:
    assert found.pairs_equations[0].right_symbol == "QQQ"


CASES = [
    Case("watchlists", check=_watchlists),
    Case("watchlist", ("Futures/Crypto",), check=_watchlist),
    Case(
        "create_watchlist",
        (NEW, [WatchlistEntry("AAPL", InstrumentType.EQUITY), ("/ESZ6", "Future")]),
        {"group_name": "ideas"},
        check=_created,
    ),
    Case("create_watchlist", ("Demo Holdings", ["MSFT"]), raises=ValidationFailed),
    Case("replace_watchlist", (NEW, ["TSLA"]), {"order_index": 7}, check=_replaced),
    Case("delete_watchlist", (NEW,), check=_deleted),
    Case("watchlist", (NEW,), raises=NotFound),
    Case("delete_watchlist", (NEW,), raises=NotFound),  # already gone: sent once, a 404
    Case("public_watchlists", check=_public),
    Case("public_watchlists", kwargs={"counts_only": True}, check=_public),
    Case("public_watchlist", ("High Options Volume",), check=_public_one),
    Case("pairs_watchlists", check=_pairs),
    Case("pairs_watchlist", ("Stocks",), check=_pair),
]
