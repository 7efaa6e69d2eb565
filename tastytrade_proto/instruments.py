"""Instruments: equities, options and chains, futures and future options, crypto, warrants."""

from __future__ import annotations

__all__ = ["InstrumentsAPI"]


class InstrumentsAPI:
    """Instruments endpoints (mixed into every session)."""
