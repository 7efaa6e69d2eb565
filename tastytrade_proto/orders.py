"""Orders: dry-run, place (with reconciliation), replace, edit, cancel, read, complex orders."""

from __future__ import annotations

__all__ = ["OrdersAPI"]


class OrdersAPI:
    """Orders endpoints (mixed into every session)."""
