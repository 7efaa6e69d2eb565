"""``tastytrade watch`` and ``tastytrade candles``: live market data over DXLink.

Symbols are typed as for every other command and looked up through the API, whose
instruments name their ``streamer_symbol``: nobody types ``.SPY261218C600``
(though it works, as the option it stands for). The stream runs in the
background (the requests transport's ``MarketStream``), reconnecting and
replaying its subscriptions by itself; what happens to the link is a status
line, never a traceback. A stream that fails for good ends the command through
:func:`~tastytrade_cli.errors.explain`, like any other failure.

The credentials stay locked only while the session talks to the API (looking the
symbols up, fetching a quote token), so other commands run while one watches.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

from rich.console import Group, RenderableType
from rich.live import Live
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

import tastytrade_requests
from tastytrade_proto import NotFound
from tastytrade_proto.accounts import InstrumentType
from tastytrade_proto.errors import StreamingError
from tastytrade_proto.market_data import QuoteToken
from tastytrade_proto.streaming import (
    Candle,
    Connected,
    Disconnected,
    DisconnectReason,
    EventFlag,
    Greeks,
    LinkEvent,
    MalformedMessage,
    MarketEvent,
    MarketStream,
    Quote,
    StreamError,
    SubscriptionRefused,
    Summary,
    Trade,
    candle_symbol,
)

from .commands import unknown_symbols
from .errors import CommandError, ExitCode, unreachable_stream
from .login import Context, released, session
from .output import Column, Output, gain, jsonable, number, percent, price, quantity, when
from .parsing import Symbol, parse_symbol

__all__ = [
    "CONNECT_TRIES",
    "FIRST_BAR_WAIT",
    "NO_DATA_AFTER",
    "POLL",
    "SNAPSHOT_QUIET",
    "UNREACHED",
    "Done",
    "Lines",
    "Watched",
    "candles",
    "event_json",
    "interruptible",
    "open_stream",
    "parse_since",
    "resolve",
    "sparkline",
    "watch",
]

Session = tastytrade_requests.Session

#: Seconds after the link first connects before a symbol with no data is said to have none.
NO_DATA_AFTER = 5.0
#: Sockets that may fail in a row before the first connection; then the command gives up
#: (exit status 4). Once connected, the stream reconnects for as long as it runs.
CONNECT_TRIES = 3
#: Seconds of quiet after the last bar that end a candle snapshot the server did not mark.
SNAPSHOT_QUIET = 2.0
#: Seconds to wait, once connected, for the first bar.
FIRST_BAR_WAIT = 15.0
#: How often the live table may be drawn again, in seconds.
REDRAW = 0.1
#: How far back ``candles`` reaches without ``--since``, in bars.
DEFAULT_BARS = 50
#: How long one wait for an event may last, in seconds (so timers are looked at).
POLL = 0.25


class Done(Exception):
    """``--count`` or ``--duration`` is reached, or the reader of the output went away."""


# -- symbols --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Watched:
    """A symbol as the API writes it, and the streamer symbol its instrument names."""

    symbol: str
    streamer: str
    instrument_type: InstrumentType

    @property
    def option(self) -> bool:
        return self.instrument_type in (InstrumentType.EQUITY_OPTION, InstrumentType.FUTURE_OPTION)


def _batch(session: Session, kind: InstrumentType, names: list[str]) -> list[Any]:
    if kind in (InstrumentType.EQUITY, InstrumentType.INDEX):
        return list(session.equities(names))
    if kind is InstrumentType.EQUITY_OPTION:
        return list(session.equity_options(names))
    if kind is InstrumentType.FUTURE:
        return list(session.futures(names))
    if kind is InstrumentType.FUTURE_OPTION:
        return list(session.future_options(names))
    return list(session.cryptocurrencies(names))


def _single(session: Session, kind: InstrumentType, name: str) -> Any:
    if kind in (InstrumentType.EQUITY, InstrumentType.INDEX):
        return session.equity(name)
    if kind is InstrumentType.EQUITY_OPTION:
        return session.equity_option(name)
    if kind is InstrumentType.FUTURE:
        return session.future(name)
    if kind is InstrumentType.FUTURE_OPTION:
        return session.future_option(name)
    return session.cryptocurrency(name)


def _instruments(session: Session, kind: InstrumentType, names: list[str]) -> list[Any]:
    """The instruments the API knows among ``names`` (one call; one each if it refuses)."""
    try:
        return _batch(session, kind, names)
    except NotFound:
        found = []
        for name in names:
            with contextlib.suppress(NotFound):
                found.append(_single(session, kind, name))
        return found


def resolve(session: Session, texts: Sequence[str]) -> list[Watched]:
    """Each symbol as typed (any form ``parse_symbol`` reads), with its streamer symbol.

    Raises a ``CommandError`` (exit status 6) naming every symbol the API does not know.
    """
    wanted: dict[str, Symbol] = {}
    for text in texts:
        symbol = parse_symbol(text)
        wanted.setdefault(symbol.text, symbol)
    groups: dict[InstrumentType, list[str]] = {}
    for symbol in wanted.values():
        kind = symbol.instrument_type
        kind = InstrumentType.EQUITY if kind is InstrumentType.INDEX else kind  # one endpoint
        groups.setdefault(kind, []).append(symbol.text)
    streamers: dict[str, str] = {}
    for kind, names in groups.items():
        for item in _instruments(session, kind, names):
            streamer = getattr(item, "streamer_symbol", None)
            if streamer:
                streamers[str(item.symbol).upper()] = streamer
    missing = [text for text in wanted if text.upper() not in streamers]
    if missing:
        raise unknown_symbols(missing)
    found: dict[str, Watched] = {}
    for text, symbol in wanted.items():
        streamer = streamers[text.upper()]
        found.setdefault(streamer, Watched(text, streamer, symbol.instrument_type))
    return list(found.values())


# -- the stream -----------------------------------------------------------------------------


class _TokenSource:
    """How the stream gets its quote token: over the session, with the credentials locked
    (a token renewal may spend a single-use token), and kept as a secret of the run so
    that ``--debug`` never shows it."""

    def __init__(self, ctx: Context, session: Session) -> None:
        self._ctx, self._session = ctx, session

    def quote_token(self) -> QuoteToken:
        lease = self._ctx.lease
        with lease.during() if lease is not None else contextlib.nullcontext():
            token = self._session.quote_token()
        self._ctx.secrets.append(token.token)
        return token


def open_stream(ctx: Context, session: Session) -> MarketStream:
    """``session.market_stream()``, fetching its quote token through :class:`_TokenSource`."""
    return session.market_stream(tokens=_TokenSource(ctx, session))


# Losses that, before the link ever worked, mean the stream cannot be reached.
UNREACHED = frozenset(
    {
        DisconnectReason.CONNECT_FAILED,
        DisconnectReason.CONNECTION_LOST,
        DisconnectReason.HANDSHAKE_TIMEOUT,
        DisconnectReason.RECEIVE_TIMEOUT,
    }
)


class _Link:
    """What the link did, in words; gives up when it never connects."""

    def __init__(self) -> None:
        #: ``time.monotonic()`` of the first connection.
        self.since: float | None = None
        self._failures = 0

    def said(self, event: LinkEvent) -> tuple[str, str]:
        """The status line for ``event`` and its style."""
        if isinstance(event, Connected):
            again = self.since is not None
            self._failures = 0
            if self.since is None:
                self.since = time.monotonic()
            if again:
                n = event.replayed
                return f"reconnected ({n} subscription{'' if n == 1 else 's'} replayed)", "green"
            return f"connected to {urlsplit(event.url).hostname or 'the stream'}", "dim"
        if isinstance(event, Disconnected):
            why = event.reason.value + (f": {event.detail[:120]}" if event.detail else "")
            if self.since is None:  # never connected yet: one more try of the first connection
                if event.reason in UNREACHED:
                    self._failures += 1
                    if self._failures >= CONNECT_TRIES:
                        raise unreachable_stream(event.detail)
                return f"connecting... (a try failed: {why})", "yellow"
            wait = f" in {event.retry_in:.0f} s" if event.retry_in >= 1 else ""
            return f"link lost ({why}); reconnecting{wait}...", "yellow"
        if isinstance(event, StreamError):
            return f"the server said {event.error}: {event.message[:200]}", "yellow"
        if isinstance(event, SubscriptionRefused):
            return f"subscription refused: {event.message[:200]}", "red"
        if isinstance(event, MalformedMessage):
            return "skipped a message from the server that could not be read", "yellow"
        return type(event).__name__, "dim"


class _Events:
    """A feed's market events; its link events go to ``say``. ``deadline`` (monotonic)
    ends it with :class:`Done`."""

    def __init__(self, feed: MarketStream, say: Callable[[str, str], None]) -> None:
        self.feed, self.say, self.link = feed, say, _Link()
        self.deadline: float | None = None

    def next(self, wait: float) -> MarketEvent | None:
        """The next market event within ``wait`` seconds, or ``None``."""
        end = time.monotonic() + wait
        if self.deadline is not None:
            if time.monotonic() >= self.deadline:
                raise Done
            end = min(end, self.deadline)
        while True:
            event = self.feed.get(max(0.0, end - time.monotonic()))
            if event is None:
                if self.feed.finished and not self.feed.pending:
                    raise CommandError("the market data stream ended")
                return None
            if isinstance(event, LinkEvent):
                self.say(*self.link.said(event))
                continue
            return event


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C ends the command as it ends any other (status 130, through ``main``), after
    closing the stream and restoring the terminal; a second Ctrl-C while that happens
    ends the process at once, still with no traceback."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield  # someone else handles Ctrl-C here (a test, an embedding program)
        return

    def first(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, _at_once)  # kept to the end of the process
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGINT) is first:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _at_once(signum: int, frame: Any) -> None:
    with contextlib.suppress(OSError):
        if os.isatty(1):
            os.write(1, b"\x1b[?25h")  # the cursor, in case the table was still drawn
        os.write(2, b"\ntastytrade: interrupted\n")
    os._exit(ExitCode.INTERRUPTED)


def _stop_after(events: _Events, duration: float | None) -> None:
    if duration is not None:
        events.deadline = time.monotonic() + duration


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _happened(event: MarketEvent) -> datetime | None:
    """When ``event`` says it happened: a quote's latest side, a trade's or a bar's time."""
    if isinstance(event, Quote):
        return event.at(max(event.bid_time or 0, event.ask_time or 0))
    moment = getattr(event, "time", None)
    return event.at(moment) if isinstance(moment, int) else None


def event_json(watched: Watched, event: MarketEvent, received: datetime) -> dict[str, Any]:
    """One event as ``watch --json`` prints it (see docs/cli.md)."""
    fields = jsonable(event)
    fields.pop("symbol", None)
    return {
        "type": event.event_type,
        "symbol": watched.symbol,
        "streamer-symbol": event.symbol,
        "time": _iso(_happened(event) or received),
        "received": _iso(received),
        "fields": fields,
    }


class Lines:
    """Whole lines to stdout, each flushed; a reader that went away ends the command."""

    def __init__(self, output: Output) -> None:
        self.file = output.out.file

    def write(self, line: str) -> None:
        try:
            self.file.write(line + "\n")
            self.file.flush()
        except BrokenPipeError:
            _quiet_stdout(self.file)
            raise Done from None


def _quiet_stdout(file: Any) -> None:
    """After ``| head``: send what is left to nowhere, so the exit prints no error."""
    with contextlib.suppress(Exception):
        if file is sys.stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)


# -- watch ------------------------------------------------------------------------------------


@dataclass
class _Row:
    """What is known of one watched symbol."""

    watched: Watched
    bid: Decimal | None = None
    ask: Decimal | None = None
    bid_size: Decimal | None = None
    ask_size: Decimal | None = None
    last: Decimal | None = None
    given_change: Decimal | None = None
    prev_close: Decimal | None = None
    volume: Decimal | None = None
    delta: Decimal | None = None
    iv: Decimal | None = None
    events: int = 0
    updated: datetime | None = None
    silence_said: bool = False

    def apply(self, event: MarketEvent, at: datetime) -> None:
        if isinstance(event, Quote):
            self.bid, self.ask = event.bid_price, event.ask_price
            self.bid_size, self.ask_size = event.bid_size, event.ask_size
        elif isinstance(event, Trade):
            self.last, self.given_change = event.price, event.change
            if event.day_volume is not None:
                self.volume = event.day_volume
        elif isinstance(event, Summary):
            self.prev_close = event.prev_day_close_price
        elif isinstance(event, Greeks):
            self.delta, self.iv = event.delta, event.volatility
        self.events += 1
        self.updated = at

    @property
    def change(self) -> Decimal | None:
        if self.last is not None and self.prev_close:
            return self.last - self.prev_close
        return self.given_change

    @property
    def ratio(self) -> Decimal | None:
        change = self.change
        if change is None or not self.prev_close:
            return None
        return change / self.prev_close

    def change_texts(self) -> tuple[str, str]:
        change, ratio = self.change, self.ratio
        return (
            f"{change:+,.2f}" if change is not None else "-",
            f"{ratio * 100:+.2f}%" if ratio is not None else "-",
        )

    def cells(self) -> dict[str, str | Text]:
        """The table's cells by column (delta and IV for an option only)."""
        change, ratio = self.change_texts()
        option = self.watched.option
        return {
            "symbol": self.watched.symbol,
            "bid": price(self.bid),
            "ask": price(self.ask),
            "bid size": quantity(self.bid_size),
            "ask size": quantity(self.ask_size),
            "last": price(self.last),
            "change": gain(self.change, change),
            "%": gain(self.ratio, ratio),
            "volume": quantity(self.volume),
            "delta": number(self.delta) if option else "",
            "IV": percent(self.iv) if option else "",
        }

    def line(self) -> str:
        def side(name: str, value: Decimal | None, size: Decimal | None) -> str:
            return f"{name} {price(value)}" + (f" x {quantity(size)}" if size is not None else "")

        change, ratio = self.change_texts()
        parts = [
            when(self.updated),
            self.watched.symbol,
            side("bid", self.bid, self.bid_size),
            side("ask", self.ask, self.ask_size),
            f"last {price(self.last)}",
            f"change {change} {ratio}",
            f"volume {quantity(self.volume)}",
        ]
        if self.watched.option:
            parts += [f"delta {number(self.delta)}", f"IV {percent(self.iv)}"]
        return "  ".join(parts)


class _View(Protocol):
    def __enter__(self) -> Any: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def status(self, text: str, style: str) -> None: ...
    def update(self, row: _Row, event: MarketEvent, received: datetime) -> None: ...
    def silent(self, row: _Row) -> None: ...
    def tick(self) -> None: ...


_HEADERS = ("symbol", "bid", "ask", "bid size", "ask size", "last", "change", "%", "volume")
# The columns a narrow terminal loses, first to last.
_NARROW = ("ask size", "bid size", "volume", "%", "change")


class _LiveTable:
    """A terminal: one table drawn again in place as events arrive, a status line under it."""

    def __init__(self, output: Output, rows: list[_Row]) -> None:
        self.rows = rows
        self.options = any(r.watched.option for r in rows)
        self.live = Live(
            console=output.out,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.state = Text("connecting...", style="dim")
        self.dirty, self.drawn = True, 0.0
        self.stopped = False

    def __enter__(self) -> _LiveTable:
        self.live.start()
        self.draw()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is KeyboardInterrupt:
                self.state = Text("stopped (Ctrl-C)", style="dim")
            self.stopped = True
            self.draw()
        finally:
            self.live.stop()  # shows the cursor again

    def table(self) -> Table:
        """The rows under the columns that fit: on a narrow terminal the sizes, the volume
        and the change go first, so that no number is ever cut."""
        headers = [*_HEADERS, *(("delta", "IV") if self.options else ())]
        cells = [row.cells() for row in self.rows]
        console = self.live.console
        unbounded = console.options.update(width=100_000)  # its natural width, not the screen's
        while True:
            table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
            for index, header in enumerate(headers):
                widest = max([len(header), *(len(str(c[header])) for c in cells)])
                table.add_column(
                    header,
                    justify="left" if index == 0 else "right",
                    no_wrap=True,
                    min_width=widest,
                )
            for row in cells:
                table.add_row(*(row[h] for h in headers))
            dropping = next((h for h in _NARROW if h in headers), None)
            wide = Measurement.get(console, unbounded, table).maximum
            if dropping is None or wide <= console.width:
                return table
            headers.remove(dropping)

    def render(self) -> RenderableType:
        silent = [r.watched.symbol for r in self.rows if r.silence_said and not r.events]
        lines: list[RenderableType] = [self.table(), self.state]
        if silent:
            lines.append(
                Text(f"no data yet for {', '.join(silent)}: check the symbol", style="yellow")
            )
        if not self.stopped:
            lines.append(Text("Ctrl-C to stop", style="dim"))
        return Group(*lines)

    def draw(self) -> None:
        self.live.update(self.render(), refresh=True)
        self.dirty, self.drawn = False, time.monotonic()

    def status(self, text: str, style: str) -> None:
        self.state = Text(text, style=style)
        self.draw()

    def update(self, row: _Row, event: MarketEvent, received: datetime) -> None:
        self.dirty = True

    def silent(self, row: _Row) -> None:
        self.draw()

    def tick(self) -> None:
        if self.dirty and time.monotonic() - self.drawn >= REDRAW:
            self.draw()


class _Printed:
    """Not a terminal: a line per update (``--json``: a JSON object per event); what
    happens to the link goes to stderr."""

    def __init__(self, output: Output, json_mode: bool) -> None:
        self.output, self.json_mode = output, json_mode
        self.lines = Lines(output)
        self._connected_once = False

    def __enter__(self) -> _Printed:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass

    def status(self, text: str, style: str) -> None:
        if not self._connected_once and text.startswith("connect"):
            # The first connection, and its failed tries, are no news: if it never comes,
            # the command ends saying why.
            self._connected_once = text.startswith("connected")
            return
        self.output.note(f"tastytrade: {text}")

    def update(self, row: _Row, event: MarketEvent, received: datetime) -> None:
        if self.json_mode:
            self.lines.write(json.dumps(event_json(row.watched, event, received)))
        else:
            self.lines.write(row.line())

    def silent(self, row: _Row) -> None:
        self.output.note(f"tastytrade: no data yet for {row.watched.symbol}: check the symbol")

    def tick(self) -> None:
        pass


def watch(ctx: Context) -> None:
    out = ctx.output
    count: int | None = ctx.option("count")
    duration: float | None = ctx.option("duration")
    with interruptible(), session(ctx) as s:
        with out.busy("looking up the symbols"):
            watched = resolve(s, ctx.args.symbols)
        rows = {w.streamer: _Row(w) for w in watched}
        view: _View
        if out.out.is_terminal and not out.json_mode:
            view = _LiveTable(out, list(rows.values()))
        else:
            view = _Printed(out, out.json_mode)
        with released(ctx), open_stream(ctx, s) as feed:
            streamers = list(rows)
            for kind in (Quote, Trade, Summary):
                feed.subscribe(kind, streamers)
            options = [w.streamer for w in watched if w.option]
            if options:
                feed.subscribe(Greeks, options)
            events = _Events(feed, view.status)
            _stop_after(events, duration)
            seen = 0
            with view, contextlib.suppress(Done):
                while count is None or seen < count:
                    event = events.next(POLL)
                    row = rows.get(event.symbol) if event is not None else None
                    if event is not None and row is not None:
                        received = _now()
                        row.apply(event, received)
                        view.update(row, event, received)
                        seen += 1
                    view.tick()
                    since = events.link.since
                    if since is not None and time.monotonic() - since >= NO_DATA_AFTER:
                        for quiet in rows.values():
                            if not quiet.events and not quiet.silence_said:
                                quiet.silence_said = True
                                view.silent(quiet)


# -- candles ----------------------------------------------------------------------------------

_UNIT_SECONDS = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "mo": 30 * 86400,
    "y": 365 * 86400,
}
_PERIOD = re.compile(r"(?P<count>[0-9]+(?:\.[0-9]+)?)?(?P<unit>mo|[a-z])", re.ASCII)
_AGO = re.compile(r"(?P<count>[0-9]{1,6})\s*(?P<unit>min|[smhdw])", re.ASCII | re.IGNORECASE)


def _period_seconds(period: str) -> float | None:
    """A period's length in seconds (``5m``: 300); ``None`` for ticks, volume or price bars."""
    match = _PERIOD.fullmatch(period)
    if match is None or match["unit"] not in _UNIT_SECONDS:
        return None
    return float(match["count"] or 1) * _UNIT_SECONDS[match["unit"]]


def parse_since(text: str | None, period: str, now: datetime) -> datetime:
    """``--since``: an age (``2h``, ``3d``, ``1w``, ``90m``) or an ISO date or time (UTC
    unless it names its offset); by default :data:`DEFAULT_BARS` bars of ``period`` back
    (a day for bars not measured in time)."""
    if text is None:
        length = _period_seconds(period)
        return now - timedelta(seconds=length * DEFAULT_BARS if length else 86400)
    raw = text.strip()
    ago = _AGO.fullmatch(raw)
    if ago is not None:
        unit = ago["unit"].lower()
        seconds = int(ago["count"]) * _UNIT_SECONDS["m" if unit == "min" else unit]
        return now - timedelta(seconds=seconds)
    iso = raw[:-1] + "+00:00" if raw[-1:] in ("Z", "z") else raw
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        try:
            day = date.fromisoformat(iso)
        except ValueError:
            raise CommandError(
                f"--since {text!r} is not an age (2h, 3d, 1w) or an ISO time "
                "(2026-12-01, 2026-12-01T14:30Z)",
                ExitCode.USAGE,
            ) from None
        moment = datetime(day.year, day.month, day.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if moment > now:
        raise CommandError(f"--since {text!r} is in the future", ExitCode.USAGE)
    return moment.astimezone(timezone.utc)


def _merge(bars: dict[int, Candle], candle: Candle) -> bool:
    """Keep ``candle`` as the latest of its bar; whether anything changed."""
    if candle.time is None:
        return False
    if candle.removed:
        return bars.pop(candle.time, None) is not None
    if bars.get(candle.time) == candle:
        return False
    bars[candle.time] = candle
    return True


_SNAPSHOT_OVER = EventFlag.SNAPSHOT_END | EventFlag.SNAPSHOT_SNIP


def _snapshot(events: _Events, symbol: str, bars: dict[int, Candle], shown: str) -> None:
    """Collect the history of the candle ``symbol``: until the server marks its end, or a
    quiet moment after a bar. ``shown`` names it to the user."""
    last_bar: float | None = None
    while True:
        now = time.monotonic()
        if last_bar is not None:
            if now - last_bar >= SNAPSHOT_QUIET:
                return
            wait = last_bar + SNAPSHOT_QUIET - now
        elif events.link.since is not None:
            if now - events.link.since >= FIRST_BAR_WAIT:
                raise CommandError(
                    f"no bars arrived for {shown} in {FIRST_BAR_WAIT:g} s (the stream is "
                    "connected): check the symbol and the period"
                )
            wait = min(POLL, events.link.since + FIRST_BAR_WAIT - now)
        else:
            wait = POLL
        event = events.next(wait)
        if isinstance(event, Candle) and event.symbol == symbol:
            last_bar = time.monotonic()
            _merge(bars, event)
            if (event.event_flags or 0) & _SNAPSHOT_OVER:
                return


def _bar_json(watched: Watched, symbol: str, period: str, bar: Candle) -> dict[str, Any]:
    moment = bar.at(bar.time)
    return {
        "symbol": watched.symbol,
        "candle-symbol": symbol,
        "period": period,
        "time": _iso(moment) if moment is not None else None,
        "open": _text(bar.open),
        "high": _text(bar.high),
        "low": _text(bar.low),
        "close": _text(bar.close),
        "volume": _text(bar.volume),
        "vwap": _text(bar.vwap),
        "count": bar.count,
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _bar_line(bar: Candle) -> str:
    return "  ".join(
        [
            when(bar.at(bar.time)),
            f"open {price(bar.open)}",
            f"high {price(bar.high)}",
            f"low {price(bar.low)}",
            f"close {price(bar.close)}",
            f"volume {quantity(bar.volume)}",
        ]
    )


_SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[Decimal]) -> str:
    """One block character per value, from the lowest (``▁``) to the highest (``█``)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return _SPARKS[len(_SPARKS) // 2 - 1] * len(values)
    top = len(_SPARKS) - 1
    return "".join(_SPARKS[int((v - low) / (high - low) * top + Decimal("0.5"))] for v in values)


def _chart(output: Output, bars: list[Candle]) -> None:
    """The closes as a line of blocks under the table, on a terminal, with their range."""
    closes = [b.close for b in bars if b.close is not None and b.close.is_finite()]
    shown = closes[-max(output.out.width, 10) :]
    if len(shown) < 2:
        return
    which = f"the last {len(shown)} bars" if len(shown) < len(closes) else f"{len(shown)} bars"
    output.line(f"closes, {which}: low {price(min(shown))}, high {price(max(shown))}", "dim")
    output.line(sparkline(shown), "cyan")


def candles(ctx: Context) -> None:
    out = ctx.output
    period = str(ctx.args.period).strip()
    rth = bool(ctx.option("rth"))
    follow = bool(ctx.option("follow"))
    count: int | None = ctx.option("count")
    duration: float | None = ctx.option("duration")
    if (count is not None or duration is not None) and not follow:
        raise CommandError("--count and --duration go with --follow", ExitCode.USAGE)
    try:
        candle_symbol("X", period)
    except StreamingError:
        raise CommandError(
            f"--period {period!r} is not a bar length (1m, 5m, 1h, d, w, mo ...)", ExitCode.USAGE
        ) from None
    since = parse_since(ctx.option("since"), period, _now())
    with interruptible(), session(ctx) as s:
        with out.busy("looking up the symbol"):
            (watched,) = resolve(s, [ctx.args.symbol])
        bars: dict[int, Candle] = {}
        lines = Lines(out)

        def note(text: str, style: str) -> None:
            if not text.startswith("connect"):  # the first connection and its tries: no news
                out.note(f"tastytrade: {text}")

        with released(ctx), open_stream(ctx, s) as feed:
            symbol = feed.subscribe_candles(watched.streamer, period, since, extended_hours=not rth)
            events = _Events(feed, note)
            with out.busy(f"fetching {period} bars of {watched.symbol}"):
                _snapshot(events, symbol, bars, f"{watched.symbol} {period}")
            ordered = [bars[t] for t in sorted(bars)]
            with contextlib.suppress(Done):
                if out.json_mode:
                    for bar in ordered:
                        lines.write(json.dumps(_bar_json(watched, symbol, period, bar)))
                else:
                    _bar_table(ctx, watched, period, since, rth, ordered)
                if not follow:
                    return
                if out.err.is_terminal and not out.json_mode:
                    out.note("following the bar in progress; Ctrl-C to stop", "dim")
                _stop_after(events, duration)
                shown = 0
                while count is None or shown < count:
                    event = events.next(POLL)
                    if not isinstance(event, Candle) or event.symbol != symbol:
                        continue
                    if not _merge(bars, event) or event.removed:
                        continue
                    if out.json_mode:
                        lines.write(json.dumps(_bar_json(watched, symbol, period, event)))
                    else:
                        lines.write(_bar_line(event))
                    shown += 1


def _bar_table(
    ctx: Context, watched: Watched, period: str, since: datetime, rth: bool, bars: list[Candle]
) -> None:
    out = ctx.output
    hours = ", regular hours" if rth else ""
    out.table(
        [
            Column("time"),
            Column("open", numeric=True),
            Column("high", numeric=True),
            Column("low", numeric=True),
            Column("close", numeric=True),
            Column("volume", numeric=True),
        ],
        [
            (
                when(b.at(b.time)),
                price(b.open),
                price(b.high),
                price(b.low),
                price(b.close),
                quantity(b.volume),
            )
            for b in bars
        ],
        title=f"{watched.symbol} {period} bars since {when(since)}{hours}",
        empty="(no bars in that time)",
    )
    if out.out.is_terminal:
        _chart(out, bars)
