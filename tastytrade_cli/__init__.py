"""The ``tastytrade`` command: a command line over the tastytrade-proto transports.

``tastytrade demo`` runs every authentication flow, and a market data
stream, against the fake API on loopback, with no network and no
credentials. ``tastytrade login`` keeps the
secret (and the session, reused until it expires) in a file only you can read
(see :mod:`tastytrade_cli.store`); then ``accounts``, ``balances``,
``positions``, ``orders``, ``transactions``, ``watchlists``, ``quote``,
``metrics`` and ``chain`` read, ``watch`` and ``candles`` stream market data
over DXLink, and ``order``, ``cancel`` and ``replace`` change orders, each
after showing what it will do and asking. Tables are drawn with ``rich``;
``--json`` prints JSON. See ``docs/cli.md``.
"""

from __future__ import annotations

from .app import main

__all__ = ["main"]
