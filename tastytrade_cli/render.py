"""Showing results: aligned text tables by default, JSON with ``--json``."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

from tastytrade_proto.values import fields, is_value

__all__ = ["jsonable", "print_json", "print_table", "text"]


def jsonable(value: Any) -> Any:
    """A model (or list of them) as plain JSON values: kebab-case keys, decimals as strings."""
    if is_value(value) and not isinstance(value, type):
        return {
            spec.name.replace("_", "-"): jsonable(getattr(value, spec.name))
            for spec in fields(value)
            if spec.repr  # what a model keeps out of its repr stays out of its JSON
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def print_json(value: Any, out: TextIO) -> None:
    """Write ``value`` as indented JSON."""
    out.write(json.dumps(jsonable(value), indent=2) + "\n")


def text(value: Any) -> str:
    """One cell: ``-`` for nothing, enums by their value, decimals as written."""
    if value is None:
        return "-"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def print_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO, *, right: str = ""
) -> None:
    """An aligned table; columns whose index is in ``right`` (e.g. ``"234"``) align right."""
    cells = [[text(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(row: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if str(i) in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out.write(line(list(headers)) + "\n")
    for row in cells:
        out.write(line(row) + "\n")
    if not cells:
        out.write("(none)\n")
