"""Instruments: equities, options and chains, futures and future options, crypto, warrants.

:class:`TickSize` and :func:`tick_size_for` are shared with :mod:`tastytrade_proto.orders`,
which checks a limit price against them before it is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from .models import Model, model

__all__ = ["InstrumentsAPI", "TickSize", "tick_size_for"]


@model
class TickSize(Model):
    """One price increment: ``value`` applies to prices below ``threshold`` (or to all, if none)."""

    value: Decimal
    threshold: Decimal | None = None
    symbol: str | None = None


def tick_size_for(price: Decimal, tick_sizes: Sequence[TickSize]) -> Decimal | None:
    """The increment a price of ``abs(price)`` must be a multiple of (``None``: no rule known).

    The API lists increments in order, each but the last with a ``threshold``:
    the first whose threshold is above the price applies.
    """
    size = abs(price)
    for tick in tick_sizes:
        if tick.threshold is None or size < tick.threshold:
            return tick.value
    return None


class InstrumentsAPI:
    """Instrument endpoints (mixed into every session)."""
