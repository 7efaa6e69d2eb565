"""What the benchmark scripts share: timing loops, medians and tables."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any


def per_call(fn: Callable[[], Any], *, number: int, repeat: int) -> list[float]:
    """Seconds per call of ``fn``, one figure per repeat (each the mean of ``number`` calls)."""
    results = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        results.append((time.perf_counter() - start) / number)
    return results


def interleaved(
    candidates: dict[str, Callable[[], Any]], *, number: int, repeat: int
) -> dict[str, list[float]]:
    """:func:`per_call` of each candidate, taking turns, so that drift hits them all alike."""
    found: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeat):
        for name, fn in candidates.items():
            found[name] += per_call(fn, number=number, repeat=1)
    return found


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (readable as plain text too), with its title above it."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([f"### {title}", "", line(cells[0]), rule, *map(line, cells[1:]), ""])
