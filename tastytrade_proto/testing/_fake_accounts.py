"""The fake API's customers, accounts, balances, positions, transactions.

See ``_fakekit`` for how an area plugs into the fake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._fakekit import Route

if TYPE_CHECKING:
    from .fake import FakeTastytradeAPI

ROUTES: list[Route] = []


def seed(api: FakeTastytradeAPI) -> None:
    """Add this area's demo data to ``api``."""
