#!/usr/bin/env python3
"""DXLink market data: decoding a recorded burst, and memory over an hour of streaming.

``decode``: a burst of COMPACT ``FEED_DATA`` frames, built once as text (100 events a
message; the field lists the reference SDK asks for; prices as JSON numbers,
``"NaN"`` sizes on an index, Java-style exponents where dxFeed writes them), is
taken through, in interleaved rounds:

(a) ``json.loads`` of each frame alone: the floor every Python client pays;
(b) tastytrade-proto: ``DXLinkConnection.receive(text, now)`` then ``events()``,
    on a link brought to READY by hand with a FEED_CONFIG naming those fields;
(c) the reference SDK (``tastytrade`` on PyPI), when it is importable: ``json.loads``
    of each frame then its event class's ``from_stream`` on the frame's value
    list, which is how its ``DXLinkStreamer`` turns COMPACT data into events (its
    queueing of each event afterwards is left out).

``memory``: a ``DXLinkConnection`` driven with no socket and a simulated clock for an
hour of quotes (keepalives, a token refresh, reconnects), its events going through
an ``EventBuffer`` to a consumer; ``tracemalloc`` figures at 10, 30 and 60 minutes.
Then a slow consumer (one event taken per ten produced): memory stays bounded and
latest-value events are coalesced.

Not part of the test suite. Run through ``bench/run`` (section 5 of ``suite.py``),
or alone: ``python bench/streaming.py decode`` (in the ``reference`` environment to
time the SDK too) and ``python bench/streaming.py memory``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import table

from tastytrade_proto.errors import WebSocketClosed
from tastytrade_proto.streaming import (
    CANDLE_CHANNEL,
    FEED_CHANNEL,
    CloseSocket,
    Connected,
    Disconnected,
    DXLinkConnection,
    DXLinkState,
    EventBuffer,
    Exchange,
    FetchToken,
    Finish,
    MarketEvent,
    OpenSocket,
    Pause,
    Quote,
)

URL = "wss://dxlink.bench/realtime"

#: The field lists the reference SDK asks for (its models' fields, in order): the frames
#: carry these, and our link is told them by FEED_CONFIG, as the server would.
FIELDS: dict[str, tuple[str, ...]] = {
    "Quote": (
        "eventSymbol",
        "eventTime",
        "sequence",
        "timeNanoPart",
        "bidTime",
        "bidExchangeCode",
        "askTime",
        "askExchangeCode",
        "bidPrice",
        "askPrice",
        "bidSize",
        "askSize",
    ),
    "Trade": (
        "eventSymbol",
        "eventTime",
        "time",
        "timeNanoPart",
        "sequence",
        "exchangeCode",
        "dayId",
        "tickDirection",
        "extendedTradingHours",
        "price",
        "change",
        "size",
        "dayVolume",
        "dayTurnover",
    ),
    "Greeks": (
        "eventSymbol",
        "eventTime",
        "eventFlags",
        "index",
        "time",
        "sequence",
        "price",
        "volatility",
        "delta",
        "gamma",
        "theta",
        "rho",
        "vega",
    ),
    "Candle": (
        "eventSymbol",
        "eventTime",
        "eventFlags",
        "index",
        "time",
        "sequence",
        "count",
        "volume",
        "vwap",
        "bidVolume",
        "askVolume",
        "impVolatility",
        "openInterest",
        "open",
        "high",
        "low",
        "close",
    ),
}

START_MS = 1_767_312_000_000  # a session's first quote, epoch milliseconds
EXCHANGES = "QXZNKPVY"


# -- the recorded burst ------------------------------------------------------------------


def java_double(value: float) -> str:
    """A double as dxFeed's Java servers write it: plain between 1e-3 and 1e7, else
    ``1.3743299E7`` / ``8.45E-4``."""
    if value == 0:
        return "0.0"
    if 1e-3 <= abs(value) < 1e7:
        return repr(value)
    mantissa, exponent = f"{value:.15e}".split("e")
    digits = repr(float(mantissa))
    return f"{digits}E{int(exponent)}"


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


def frame(kind: str, rows: Sequence[Sequence[Any]], channel: int) -> str:
    """One COMPACT FEED_DATA message: ``[kind, [row, row, ...]]`` flattened, as text."""
    values = ",".join(_value(v) for row in rows for v in row)
    return f'{{"type":"FEED_DATA","channel":{channel},"data":["{kind}",[{values}]]}}'


def _price(rng: random.Random, around: float) -> float:
    return round(around * (1 + rng.uniform(-0.002, 0.002)), 2)


def _symbols(rng: random.Random) -> list[tuple[str, float, bool]]:
    """(streamer symbol, price level, is an index): indices, stocks, options."""
    out = [("SPX", 5010.25, True), ("NDX", 17650.5, True), ("VIX", 14.35, True)]
    for name in ("SPY", "QQQ", "AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "IWM", "META", "AMD"):
        out.append((name, round(rng.uniform(20, 600), 2), False))
    for strike in range(560, 640, 2):
        for right in "CP":
            level = max(0.05, (600 - strike if right == "C" else strike - 600) + 6.0)
            out.append((f".SPY261218{right}{strike}", round(level, 2), False))
    return out


def quote_rows(rng: random.Random, count: int) -> list[list[Any]]:
    symbols = _symbols(rng)
    rows = []
    for n in range(count):
        symbol, level, index = symbols[n % len(symbols)]
        bid = _price(rng, level)
        ask = round(bid + rng.choice((0.01, 0.02, 0.05, 0.1)), 2)
        at = START_MS + n * 3
        sizes: list[Any] = (
            ["NaN", "NaN"]
            if index
            else [float(rng.randrange(1, 50) * 100), float(rng.randrange(1, 50) * 100)]
        )
        code = "" if index else rng.choice(EXCHANGES)
        rows.append([symbol, 0, 0, 0, at, code, at + 1, code, bid, ask, *sizes])
    return rows


def trade_rows(rng: random.Random, count: int) -> list[list[Any]]:
    symbols = [s for s in _symbols(rng) if not s[2]]
    rows = []
    for n in range(count):
        symbol, level, _ = symbols[n % len(symbols)]
        price = _price(rng, level)
        volume = float(rng.randrange(1_000, 90_000_000))
        rows.append(
            [
                symbol,
                0,
                START_MS + n * 5,
                0,
                0,
                rng.choice(EXCHANGES),
                20454,
                rng.choice(("UP", "DOWN", "ZERO_UP", "ZERO_DOWN")),
                False,
                price,
                round(price - level, 2),
                float(rng.randrange(1, 20) * 100),
                volume,
                round(volume * level, 2),
            ]
        )
    return rows


def greeks_rows(rng: random.Random, count: int) -> list[list[Any]]:
    options = [s for s in _symbols(rng) if s[0].startswith(".")]
    rows = []
    for n in range(count):
        symbol, level, _ = options[n % len(options)]
        at = START_MS + n * 7
        call = "C" in symbol[10:]
        delta = round(rng.uniform(0.05, 0.95) * (1 if call else -1), 4)
        rows.append(
            [
                symbol,
                0,
                0,
                (at // 1000) << 32,  # dxFeed's index: seconds in the high bits
                at,
                0,
                _price(rng, level),
                round(rng.uniform(0.11, 0.35), 6),
                delta,
                round(rng.uniform(0.0005, 0.03), 6),
                round(-rng.uniform(0.01, 0.4), 6),
                round(rng.uniform(0.0001, 0.0009) * (1 if call else -1), 7),
                round(rng.uniform(0.1, 1.6), 6),
            ]
        )
    return rows


def candle_rows(rng: random.Random, count: int) -> list[list[Any]]:
    stocks = [s for s in _symbols(rng) if not s[2] and not s[0].startswith(".")]
    rows = []
    for n in range(count):
        symbol, level, _ = stocks[n % len(stocks)]
        bar = START_MS + (n // len(stocks)) * 300_000
        low = _price(rng, level * 0.998)
        high = round(low + rng.uniform(0.05, 2.0), 2)
        volume = float(rng.randrange(10_000, 5_000_000))
        rows.append(
            [
                f"{symbol}{{=5m}}",
                0,
                0,
                ((bar // 1000) << 32) + n,  # above 2**53, as dxFeed's candle indices are
                bar,
                0,
                rng.randrange(100, 20_000),
                volume,
                round((low + high) / 2, 4),
                "NaN",
                "NaN",
                "NaN",
                "NaN",
                round(rng.uniform(low, high), 2),
                high,
                low,
                round(rng.uniform(low, high), 2),
            ]
        )
    return rows


def burst(case: str, events: int, per_message: int, seed: int = 7) -> list[str]:
    """The frames of one case: ``quotes`` (Quote only) or ``mixed`` (Trade, Greeks and
    Candle messages in turn); ``events`` events in all, ``per_message`` a message."""
    rng = random.Random(seed)
    messages = events // per_message
    if case == "quotes":
        rows = quote_rows(rng, messages * per_message)
        return [
            frame("Quote", rows[m * per_message : (m + 1) * per_message], FEED_CHANNEL)
            for m in range(messages)
        ]
    makers = {"Trade": trade_rows, "Greeks": greeks_rows, "Candle": candle_rows}
    kinds = list(makers)
    made = {
        kind: maker(rng, per_message * (messages // len(kinds) + 1))
        for kind, maker in makers.items()
    }
    out = []
    for m in range(messages):
        kind = kinds[m % len(kinds)]
        at = (m // len(kinds)) * per_message
        channel = CANDLE_CHANNEL if kind == "Candle" else FEED_CHANNEL
        out.append(frame(kind, made[kind][at : at + per_message], channel))
    return out


# -- the three parsers --------------------------------------------------------------------


def _server(kind: str, channel: int = 0, **fields: Any) -> str:
    return json.dumps({"type": kind, "channel": channel, **fields})


def ready_link(**options: Any) -> DXLinkConnection:
    """A link at READY with both channels open and the reference SDK's field lists in
    force, driven by hand as the server would answer (no socket)."""
    link = DXLinkConnection(**options)
    link.subscribe("Quote", ["SPY"], 0.0)
    link.subscribe_candles("SPY", "5m", START_MS, 0.0)
    action = link.next_action(0.0)
    assert isinstance(action, FetchToken), action
    link.token_received("quote-token", URL, 0.0)
    assert isinstance(link.next_action(0.0), OpenSocket)
    link.socket_opened(0.0)
    for message in (
        _server("SETUP", version="1.0", keepaliveTimeout=60, acceptKeepaliveTimeout=60),
        _server("AUTH_STATE", state="UNAUTHORIZED"),
        _server("AUTH_STATE", state="AUTHORIZED"),
        _server("CHANNEL_OPENED", FEED_CHANNEL, service="FEED", parameters={"contract": "AUTO"}),
        _server(
            "CHANNEL_OPENED", CANDLE_CHANNEL, service="FEED", parameters={"contract": "HISTORY"}
        ),
        _server(
            "FEED_CONFIG",
            FEED_CHANNEL,
            dataFormat="COMPACT",
            aggregationPeriod=0.1,
            eventFields={k: list(v) for k, v in FIELDS.items() if k != "Candle"},
        ),
        _server(
            "FEED_CONFIG",
            CANDLE_CHANNEL,
            dataFormat="COMPACT",
            aggregationPeriod=0.1,
            eventFields={"Candle": list(FIELDS["Candle"])},
        ),
    ):
        link.receive(message, 0.0)
    assert link.state is DXLinkState.READY, link.state
    link.messages_to_send()
    link.events()
    return link


def ours(frames: list[str]) -> Callable[[], list[Any]]:
    """What a feed's pump does with each message: ``receive``, then ``events()``."""
    link = ready_link()

    def run() -> list[Any]:
        out: list[Any] = []
        receive, events = link.receive, link.events
        now = 1.0
        for text in frames:
            receive(text, now)
            out += events()
        return out

    return run


def json_only(frames: list[str]) -> Callable[[], list[Any]]:
    loads = json.loads
    return lambda: [loads(text) for text in frames]


def json_decimal(frames: list[str]) -> Callable[[], list[Any]]:
    loads = json.loads
    return lambda: [loads(text, parse_float=Decimal) for text in frames]


def reference(frames: list[str]) -> tuple[str, Callable[[], list[Any]]] | None:
    """The reference SDK's COMPACT decoding of the same frames, or nothing when it is not
    installed here."""
    try:
        tastytrade = importlib.import_module("tastytrade")
        classes = importlib.import_module("tastytrade.streamer").MAP_EVENTS
    except ImportError:
        return None
    for kind, fields in FIELDS.items():  # the burst carries the fields it asks for
        properties = list(classes[kind].model_json_schema()["properties"])
        assert tuple(properties) == fields, f"the SDK asks for other {kind} fields: {properties}"
    loads = json.loads

    def run() -> list[Any]:
        out: list[Any] = []
        for text in frames:
            message = loads(text)  # its websocket's receive_json
            if message["type"] == "FEED_DATA":
                data = message["data"]
                out += classes[data[0]].from_stream(data[1])
        return out

    version = getattr(tastytrade, "__version__", "?")
    return f"reference SDK (tastytrade {version}): json.loads + from_stream", run


def check(ours_events: list[Any], theirs: list[Any]) -> None:
    """The same events, whichever parser: counts, symbols and every price agree."""
    assert len(ours_events) == len(theirs), (len(ours_events), len(theirs))
    for a, b in zip(ours_events, theirs, strict=True):
        assert isinstance(a, MarketEvent), a
        assert a.symbol == b.event_symbol, (a, b)
        for name in ("bid_price", "ask_price", "price", "close", "delta"):
            if hasattr(a, name):
                assert getattr(a, name) == getattr(b, name), (name, a, b)


def time_rounds(
    candidates: dict[str, Callable[[], Any]], rounds: int
) -> dict[str, list[tuple[float, float]]]:
    """(CPU seconds, wall seconds) per burst, each round running every candidate once, in a
    rotating order."""
    names = list(candidates)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for name in names:  # warm up: decoder generation and first-use caches are not timed
        candidates[name]()
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            gc.collect()
            cpu, wall = time.process_time(), time.perf_counter()
            result = candidates[name]()
            times[name].append((time.process_time() - cpu, time.perf_counter() - wall))
            del result
    return times


def section_decode(args: argparse.Namespace) -> str:
    out = []
    for case, what in (("quotes", "Quote"), ("mixed", "Trade, Greeks and Candle in turn")):
        frames = burst(case, args.events, args.per_message)
        events = len(frames) * args.per_message
        size = sum(len(f) for f in frames)
        candidates: dict[str, Callable[[], Any]] = {
            "json.loads only (baseline)": json_only(frames),
            "json.loads, parse_float=Decimal": json_decimal(frames),
            "tastytrade-proto: receive + events()": ours(frames),
        }
        found = reference(frames)
        if found is not None:
            candidates[found[0]] = found[1]
            check(candidates["tastytrade-proto: receive + events()"](), found[1]())
        decoded = candidates["tastytrade-proto: receive + events()"]()
        assert sum(isinstance(e, MarketEvent) for e in decoded) == events, len(decoded)
        del decoded  # nothing is kept alive while timing: the collector's work stays the same
        times = time_rounds(candidates, args.rounds)
        cpu = {name: statistics.median(c for c, _ in seen) for name, seen in times.items()}
        ours_cpu = cpu["tastytrade-proto: receive + events()"]
        rows = []
        for name, seen in times.items():
            rows.append(
                [
                    name,
                    f"{events / cpu[name]:,.0f}",
                    f"{cpu[name] * 1e3:.1f}",
                    f"{min(c for c, _ in seen) * 1e3:.1f}",
                    f"{statistics.median(w for _, w in seen) * 1e3:.1f}",
                    f"{cpu[name] / ours_cpu:.2f}x",
                ]
            )
        out.append(
            table(
                f"5a. Decoding a burst of {events:,} {what} events ({len(frames):,} COMPACT "
                f"messages of {args.per_message}, {size:,} bytes), no socket; "
                f"{args.rounds} interleaved rounds",
                [
                    "parser",
                    "events/s (CPU)",
                    "median CPU ms",
                    "min CPU ms",
                    "median wall ms",
                    "ours / this (events/s)",
                ],
                rows,
            )
        )
        if found is None:
            out.append("The reference SDK (tastytrade) is not importable here (bench/README.md).")
    return "\n".join(out)


# -- an hour of streaming, on a simulated clock ----------------------------------------------

KiB = 1024


class ScriptedServer:
    """The server's side of the handshake, just enough for a long run: answers SETUP,
    AUTH, CHANNEL_REQUEST and FEED_SETUP as DXLink does, and then sends quote frames."""

    def __init__(self, symbols: int, seed: int = 11) -> None:
        self.rng = random.Random(seed)
        self.book = [
            (f"BM{n:02d}" if n else "SPX", round(self.rng.uniform(20, 600), 2), not n)
            for n in range(symbols)
        ]
        self.feeding = False
        self.next_symbol = 0

    def reset(self) -> None:
        self.feeding = False

    def answer(self, texts: list[str]) -> list[str]:
        out = []
        for text in texts:
            message = json.loads(text)
            kind, channel = message["type"], message["channel"]
            if kind == "SETUP":
                out.append(_server("SETUP", version="1.0", keepaliveTimeout=60))
                out.append(_server("AUTH_STATE", state="UNAUTHORIZED"))
            elif kind == "AUTH":
                out.append(_server("AUTH_STATE", state="AUTHORIZED", userId="bench"))
            elif kind == "CHANNEL_REQUEST":
                out.append(_server("CHANNEL_OPENED", channel, service="FEED"))
            elif kind == "FEED_SETUP":
                kinds = [k for k in message["acceptEventFields"] if k in FIELDS]
                fields = {k: list(FIELDS[k]) for k in kinds}
                out.append(
                    _server("FEED_CONFIG", channel, dataFormat="COMPACT", eventFields=fields)
                )
                self.feeding = self.feeding or channel == FEED_CHANNEL
        return out

    def quotes(self, count: int, ms: int) -> str:
        """One FEED_DATA of ``count`` quotes, the symbols in turn, prices walking."""
        rng, rows = self.rng, []
        for _ in range(count):
            n = self.next_symbol = (self.next_symbol + 1) % len(self.book)
            symbol, level, index = self.book[n]
            bid = round(level * (1 + rng.uniform(-0.003, 0.003)), 2)
            sizes: list[Any] = (
                ["NaN", "NaN"] if index else [float(rng.randrange(1, 50) * 100), 300.0]
            )
            code = "" if index else "Q"
            rows.append([symbol, 0, 0, 0, ms, code, ms, code, bid, round(bid + 0.02, 2), *sizes])
        return frame("Quote", rows, FEED_CHANNEL)


class LongRun:
    """A link, a scripted server and a buffer with a consumer, on a simulated clock."""

    def __init__(self, args: argparse.Namespace, *, take_one_in: int, capacity: int) -> None:
        self.args = args
        self.server = ScriptedServer(args.symbols)
        self.link = DXLinkConnection(token_refresh_after=args.token_refresh)
        self.buffer = EventBuffer(capacity)
        self.take_one_in = take_one_in
        self.owed = 0.0  # events the consumer is due to take
        self.latest: dict[str, Any] = {}  # what an application keeps: each symbol's quote
        self.counts = {"produced": 0, "taken": 0, "connected": 0, "disconnected": 0}
        self.counts.update(tokens=0, keepalives=0, messages=0)
        symbols = [symbol for symbol, _, _ in self.server.book]
        self.link.subscribe(Quote, symbols, 0.0)

    def drive(self, now: float) -> None:
        """What a feed's pump does until the link waits for the next message."""
        link = self.link
        for _ in range(100):
            action = link.next_action(now)
            self.deliver()
            if isinstance(action, FetchToken):
                self.counts["tokens"] += 1
                link.token_received(f"quote-token-{self.counts['tokens']}", URL, now)
            elif isinstance(action, OpenSocket):
                self.server.reset()
                link.socket_opened(now)
            elif isinstance(action, CloseSocket):
                link.socket_closed(None, now)
            elif isinstance(action, Pause):
                if action.until > now:
                    return
            elif isinstance(action, Finish):
                raise RuntimeError(f"the link ended: {action.error}")
            elif isinstance(action, Exchange):
                outgoing = link.messages_to_send()
                self.counts["keepalives"] += sum('"KEEPALIVE"' in text for text in outgoing)
                replies = self.server.answer(outgoing)
                for text in replies:
                    link.receive(text, now)
                if replies:
                    continue
                if action.deadline is not None and action.deadline <= now:
                    link.handle_timer(now)
                    continue
                return
        raise RuntimeError("the link did not settle")

    def deliver(self) -> None:
        events = self.link.events()
        if not events:
            return
        for event in events:
            if type(event) is Quote:
                self.counts["produced"] += 1
            elif isinstance(event, Connected):
                self.counts["connected"] += 1
            elif isinstance(event, Disconnected):
                self.counts["disconnected"] += 1
        self.buffer.extend(events)
        if self.take_one_in == 1:
            self.owed = len(self.buffer)
        else:
            self.owed += len(events) / self.take_one_in
        take, latest = self.buffer.take, self.latest
        while self.owed >= 1:
            event = take()
            if event is None:
                self.owed = 0
                break
            self.owed -= 1
            self.counts["taken"] += 1
            if type(event) is Quote:
                latest[event.symbol] = event

    def run(self, checkpoints: Sequence[int]) -> list[dict[str, Any]]:
        """Streams until the last checkpoint (seconds), reading tracemalloc at each."""
        args, link, server = self.args, self.link, self.server
        step = 0.1  # the aggregation period: one FEED_DATA message a step
        per_step = args.symbols * args.rate * step
        owed = 0.0
        drops = {int(minute * 60) for minute in args.reconnect_at}
        seen = []
        tick = 0
        end = checkpoints[-1]
        while True:
            now = tick * step
            self.drive(now)
            if link.state is DXLinkState.READY and server.feeding:
                owed += per_step
                count = int(owed)
                if count:
                    owed -= count
                    link.receive(server.quotes(count, START_MS + int(now * 1000)), now)
                    self.counts["messages"] += 1
            self.deliver()
            second = tick * step
            if tick % 10 == 0 and int(second) in drops:
                drops.discard(int(second))
                link.socket_closed(
                    WebSocketClosed("closed", code=1012, reason="Reconnection is required"), now
                )
            if tick % 10 == 0 and int(second) in checkpoints:
                _, peak = tracemalloc.get_traced_memory()
                gc.collect()  # what is still reachable, not cycles awaiting the collector
                current, _ = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                seen.append(
                    {
                        "minute": int(second) // 60,
                        "current": current,
                        "peak": peak,
                        "pending": len(self.buffer),
                        "coalesced": self.buffer.coalesced,
                        **self.counts,
                    }
                )
                if int(second) >= end:
                    return seen
            tick += 1


def section_memory(args: argparse.Namespace) -> str:
    checkpoints = [int(m * 60) for m in args.checkpoints]
    out = []
    cases = (
        ("a consumer that keeps up", 1, 10_000),
        (f"a slow consumer (one event taken per {args.slow} produced)", args.slow, 10_000),
    )
    rows = []
    for what, take_one_in, capacity in cases:
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        run = LongRun(args, take_one_in=take_one_in, capacity=capacity)
        run.drive(0.0)
        seen = run.run(checkpoints)
        tracemalloc.stop()
        took = time.perf_counter() - started
        for point in seen:
            rows.append(
                [
                    what,
                    point["minute"],
                    f"{point['produced']:,}",
                    f"{point['taken']:,}",
                    f"{point['pending']:,}",
                    f"{point['coalesced']:,}",
                    f"{point['current'] / KiB:,.0f}",
                    f"{point['peak'] / KiB:,.0f}",
                    f"{point['connected']} / {point['tokens']} / {point['keepalives']}",
                ]
            )
        out.append(f"{what}: {took:.0f} s of real time under tracemalloc.")
    return (
        table(
            f"5c. Memory over {args.checkpoints[-1]:g} minutes of simulated streaming: "
            f"{args.symbols} symbols x {args.rate:g} quotes/s in messages every 0.1 s, "
            f"the quote token replaced every {args.token_refresh / 60:g} min, the server "
            f"closing with 1012 at {', '.join(f'{m:g}' for m in args.reconnect_at)} min; "
            "a link, an EventBuffer of 10,000 and a consumer, no socket (tracemalloc)",
            [
                "consumer",
                "minute",
                "quotes produced",
                "events taken",
                "waiting in buffer",
                "coalesced",
                "current KiB",
                "peak KiB since the last row",
                "links up / quote tokens / keepalives sent",
            ],
            rows,
        )
        + "\n"
        + " ".join(out)
        + " Current: after gc.collect(), what is still reachable.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    decode = commands.add_parser("decode", help="a recorded burst, three parsers")
    decode.add_argument("--events", type=int, default=100_000)
    decode.add_argument("--per-message", type=int, default=100)
    decode.add_argument("--rounds", type=int, default=15)
    memory = commands.add_parser("memory", help="an hour of streaming on a simulated clock")
    memory.add_argument("--symbols", type=int, default=50)
    memory.add_argument("--rate", type=float, default=5.0, help="quotes per symbol per second")
    memory.add_argument("--token-refresh", type=float, default=1200.0, help="seconds")
    memory.add_argument("--reconnect-at", type=float, nargs="*", default=[25.0, 50.0])
    memory.add_argument("--checkpoints", type=float, nargs="+", default=[10.0, 30.0, 60.0])
    memory.add_argument("--slow", type=int, default=10, help="events produced per event taken")
    args = parser.parse_args(argv)
    if args.command == "decode":
        print(section_decode(args))
    else:
        print(section_memory(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
