"""Every endpoint of the API, gathered from the modules of its areas.

:class:`API` is mixed into :class:`~tastytrade_proto.sessions.SessionCalls`
(each endpoint returns an :class:`~tastytrade_proto.protocol.operation.Operation`),
:class:`~tastytrade_proto.sessions.SyncSession` (each runs) and
:class:`~tastytrade_proto.sessions.AsyncSession` (each is awaited). A new endpoint
is declared in its area's module and nowhere else.
"""

from __future__ import annotations

from .accounts import AccountsAPI
from .instruments import InstrumentsAPI
from .market_data import MarketDataAPI
from .orders import OrdersAPI
from .watchlists import WatchlistsAPI

__all__ = ["API"]


class API(AccountsAPI, OrdersAPI, InstrumentsAPI, MarketDataAPI, WatchlistsAPI):
    """Every endpoint, each declared once in its area's module."""
