"""Showing results: tables with ``rich``, or JSON with ``--json``; numbers formatted alike.

Money is shown with two decimals and thousands separators (``18,304.55``);
prices with at least two decimals and as many more as they carry
(``0.0125``); an order's price as the tastytrade platform shows it, unsigned
with ``db`` (paid, a debit) or ``cr`` (received, a credit); quantities as
written (``100``, ``0.5``); times with their zone. Colour only on a terminal,
and never with ``NO_COLOR`` set (https://no-color.org) or ``--no-color``.
"""

from __future__ import annotations

import contextlib
import enum
import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, TextIO

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from tastytrade_proto.values import fields, is_value

__all__ = [
    "Column",
    "Output",
    "gain",
    "jsonable",
    "money",
    "number",
    "percent",
    "price",
    "quantity",
    "signed_price",
    "when",
]


# -- numbers and times --------------------------------------------------------------------


def money(value: Decimal | None) -> str:
    """Dollars: two decimals, thousands separated, a minus for a debit (``-1,234.50``)."""
    if value is None:
        return "-"
    return f"{_unsigned_zero(value.quantize(Decimal('0.01'))):,}"


def _unsigned_zero(value: Decimal) -> Decimal:
    """``-0.00`` (a tiny debit rounded away) is shown as ``0.00``."""
    return abs(value) if value == 0 else value


def price(value: Decimal | None) -> str:
    """A price at its own precision, at least two decimals (``150.00``, ``0.0125``)."""
    if value is None:
        return "-"
    exponent = value.normalize().as_tuple().exponent
    places = max(2, -exponent if isinstance(exponent, int) else 2)
    return f"{value:,.{places}f}"


def signed_price(value: Decimal | None) -> str:
    """An order's signed price as the platform shows it: ``150.00 db`` or ``1.25 cr``."""
    if value is None:
        return "-"
    if value == 0:
        return price(value)
    return f"{price(abs(value))} {'db' if value < 0 else 'cr'}"


def quantity(value: Decimal | None) -> str:
    """A quantity as written: ``100``, ``0.5``, ``-2`` (short)."""
    if value is None:
        return "-"
    return f"{value.normalize():f}"


def number(value: Decimal | None, places: int = 2) -> str:
    """A plain number (a greek, a ratio) at ``places`` decimals."""
    if value is None:
        return "-"
    return f"{_unsigned_zero(value.quantize(Decimal(1).scaleb(-places))):,.{places}f}"


def percent(value: Decimal | None, *, fraction: bool = True) -> str:
    """A percentage: ``fraction`` values (``0.1834``) are scaled to ``18.3%``."""
    if value is None:
        return "-"
    return f"{value * 100 if fraction else value:,.1f}%"


def when(value: datetime | date | None) -> str:
    """A time with its zone (UTC when the API gave one), or a date."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        if value.tzinfo is None:  # the library's times are aware; be safe anyway
            value = value.replace(tzinfo=timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M:%S %Z")
    return value.isoformat()


# -- JSON -------------------------------------------------------------------------------------


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
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


# -- the console -----------------------------------------------------------------------------


class Column:
    """A table column: its header, and whether it holds numbers (right-aligned)."""

    __slots__ = ("header", "numeric")

    def __init__(self, header: str, *, numeric: bool = False) -> None:
        self.header = header
        self.numeric = numeric


#: Below this, a call gets no spinner: it would only flicker.
SPINNER_DELAY = 0.3


class Output:
    """Where a command writes: results to ``out``, messages and prompts to ``err``."""

    def __init__(
        self,
        out: TextIO,
        err: TextIO,
        *,
        environ: Mapping[str, str],
        json_mode: bool = False,
        color: bool = True,
    ) -> None:
        self.json_mode = json_mode
        no_color = not color or "NO_COLOR" in environ
        self.out = self._console(out, no_color)
        self.err = self._console(err, no_color)

    @staticmethod
    def _console(file: TextIO, no_color: bool) -> Console:
        terminal = _isatty(file)
        return Console(
            file=file,
            force_terminal=terminal,
            no_color=no_color,
            color_system="auto" if terminal and not no_color else None,
            # A pipe or file gets whole lines, whatever the width of the terminal.
            width=None if terminal else 400,
            markup=False,
            highlight=False,
            emoji=False,
            soft_wrap=not terminal,
        )

    def json(self, value: Any) -> None:
        """Write ``value`` as indented JSON, unstyled."""
        self.out.file.write(json.dumps(jsonable(value), indent=2) + "\n")

    def line(self, text: str = "", style: str | None = None) -> None:
        """One line of output."""
        self.out.print(Text(text, style=style or ""))

    def tell(self, text: str, style: str | None = None) -> None:
        """A line of what the command is doing (an order in words): on stdout, or on stderr
        with ``--json``, whose stdout is the JSON alone."""
        (self.err if self.json_mode else self.out).print(Text(text, style=style or ""))

    def note(self, text: str, style: str | None = None) -> None:
        """A line on stderr (a warning, what happened): not part of the result."""
        self.err.print(Text(text, style=style or ""))

    def table(
        self,
        columns: Sequence[Column],
        rows: Iterable[Sequence[str | Text]],
        *,
        title: str | None = None,
        empty: str = "(none)",
        aside: bool = False,
    ) -> None:
        """A table; an empty one says ``empty`` instead. An ``aside`` (a dry run's effect
        shown before a question) goes where :meth:`tell` writes."""
        rows = list(rows)
        console = self.err if aside and self.json_mode else self.out
        if title:
            console.print(Text(title, style="bold"))
        if not rows:
            console.print(Text(empty, style="dim"))
            return
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        for index, column in enumerate(columns):
            # Numbers and the first column (a symbol, an id) are never cut or wrapped: on a
            # narrow terminal the text columns wrap instead.
            whole = column.numeric or index == 0
            widest = max(len(str(row[index])) for row in rows)
            table.add_column(
                column.header,
                justify="right" if column.numeric else "left",
                no_wrap=whole,
                min_width=max(widest, len(column.header)) if whole else None,
                overflow="fold",
            )
        for row in rows:
            table.add_row(*row)
        if console.is_terminal:
            # Wider than the terminal: printed whole (the terminal wraps its lines), never
            # with a column cut or dropped.
            natural = Measurement.get(console, console.options, table).maximum
            console.print(table, width=max(natural, console.width), crop=False)
            return
        # A pipe or a file gets no padding after the last column.
        with console.capture() as captured:
            console.print(table)
        lines = captured.get().splitlines()
        console.file.write("".join(line.rstrip() + "\n" for line in lines))

    @contextlib.contextmanager
    def busy(self, text: str) -> Iterator[None]:
        """A spinner on a terminal's stderr while a call takes longer than a moment."""
        if not self.err.is_terminal:
            yield
            return
        status = self.err.status(text, spinner="dots")
        timer = threading.Timer(SPINNER_DELAY, status.start)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            timer.join()
            status.stop()


def _isatty(file: TextIO) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def gain(value: Decimal | None, text: str | None = None) -> Text:
    """A gain or loss, green or red on a terminal."""
    shown = text if text is not None else money(value)
    if value is None or value == 0:
        return Text(shown)
    return Text(shown, style="green" if value > 0 else "red")
