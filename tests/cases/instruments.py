"""instruments-area cases for every transport."""

from __future__ import annotations

from . import Case

CASES: list[Case] = []
