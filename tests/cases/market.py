"""Market-data-area cases for every transport (the fake's clock is the real one here)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from tastytrade_proto.market_data import (
    Dividend,
    EarningsReport,
    MarketCalendar,
    MarketData,
    MarketMetrics,
    MarketSession,
    QuoteToken,
    SymbolSearchResult,
)

from . import Case

OPTION = "SPY   261218C00600000"


def _market_data(found: list[MarketData]) -> None:
    by_symbol = {q.symbol: q for q in found}
    assert set(by_symbol) == {"AAPL", OPTION, "/ESZ6", "BTC/USD", "SPX"}
    assert by_symbol["AAPL"].last == Decimal("189.91")
    for quote in found:
        assert quote.bid is not None and quote.ask is not None and quote.bid <= quote.ask


def _market_metrics(found: list[MarketMetrics]) -> None:
    assert [m.symbol for m in found] == ["AAPL", "SPY"]
    assert all(isinstance(m.implied_volatility_index, Decimal) for m in found)


def _dividends(found: list[Dividend]) -> None:
    assert found and all(d.amount > 0 for d in found)


def _earnings(found: list[EarningsReport]) -> None:
    assert found and found[0].occurred_date == date(2022, 3, 31)


def _rate(rate: Decimal) -> None:
    assert rate == Decimal("0.0425")


def _search(found: list[SymbolSearchResult]) -> None:
    assert [r.symbol for r in found] == ["BRK/B"]


def _sessions(found: list[MarketSession]) -> None:
    assert [str(s.instrument_collection) for s in found] == ["Equity", "CME"]
    assert all(s.state is not None and s.state.known for s in found)
    assert all(s.next_session is not None and s.previous_session is not None for s in found)


def _holidays(calendar: MarketCalendar) -> None:
    assert date(2026, 12, 25) in calendar.holidays and date(2026, 12, 24) in calendar.half_days


def _quote_token(token: QuoteToken) -> None:
    assert token.token and token.level == "api"
    # A running fake hands out its own DXLink websocket (the production URL without a server).
    assert re.fullmatch(r"wss?://127\.0\.0\.1:\d+/dxlink", token.dxlink_url)
    assert token.token not in repr(token)


CASES = [
    Case(
        "market_data",
        kwargs={
            "equities": ["AAPL", "NOPE"],
            "equity_options": [OPTION],
            "futures": ["/ESZ6"],
            "cryptocurrencies": ["BTC/USD"],
            "indices": ["SPX"],
        },
        check=_market_data,
    ),
    Case("market_metrics", (["AAPL", "SPY"],), check=_market_metrics),
    Case("dividends", ("AAPL",), check=_dividends),
    Case("earnings", ("AAPL",), {"start_date": date(2022, 1, 1)}, check=_earnings),
    Case("risk_free_rate", check=_rate),
    Case("symbol_search", ("BRK/B",), check=_search),
    Case("market_sessions", (["Equity", "CME"],), check=_sessions),
    Case("equity_holidays", check=_holidays),
    Case("futures_holidays", ("CME",), check=_holidays),
    Case("quote_token", check=_quote_token),
]
