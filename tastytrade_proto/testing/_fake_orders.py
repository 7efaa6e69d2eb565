"""The fake API's orders: dry-run, place, replace, edit, cancel, search, complex orders.

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
