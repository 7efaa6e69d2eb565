"""Market data and metrics, dividends and earnings, symbol search, market sessions, quote tokens."""

from __future__ import annotations

__all__ = ["MarketDataAPI"]


class MarketDataAPI:
    """Market data endpoints (mixed into every session)."""
