"""Watchlists: the user's own, public and pairs watchlists."""

from __future__ import annotations

__all__ = ["WatchlistsAPI"]


class WatchlistsAPI:
    """Watchlists endpoints (mixed into every session)."""
