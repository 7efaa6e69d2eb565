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


def cpu_rounds(
    factories: dict[str, Callable[[], Callable[[], Any]]], rounds: int
) -> dict[str, list[tuple[float, float]]]:
    """(CPU seconds, wall seconds) of each candidate, each round running every candidate
    once, in a rotating order.

    A candidate is a factory, called before each timed run and not timed, that returns the
    run: what a run needs fresh (a connection that remembers what it saw) is made there.
    One untimed run of each first warms up caches and generated code. CPU time
    (``time.process_time()``) because a shared machine's wall time counts other jobs too.
    """
    names = list(factories)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for name in names:
        factories[name]()()
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            run = factories[name]()
            gc.collect()
            cpu, wall = time.process_time(), time.perf_counter()
            result = run()
            times[name].append((time.process_time() - cpu, time.perf_counter() - wall))
            del result, run
    return times


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
