"""The fake's DXLink endpoint: a pure server-side protocol machine for one websocket.

DXLink is dxFeed's market-data protocol, which tastytrade hosts (the facts are in
https://developer.tastytrade.com/docs/guides/stream-market-data and in dxFeed's
dxLink AsyncAPI specification). :class:`FakeDXLinkConnection` plays the server's
side of one connection. It does no I/O and reads no wall clock: the caller
passes ``now`` (the time its keepalive timers run on), hands it each text frame
with :meth:`~FakeDXLinkConnection.receive`, calls
:meth:`~FakeDXLinkConnection.handle_timer` when :meth:`~FakeDXLinkConnection.next_deadline`
passes (and whenever it likes: that is when new prices are looked at), sends
what :meth:`~FakeDXLinkConnection.messages_to_send` returns, and closes the socket
once :attr:`~FakeDXLinkConnection.closed` is set.

What it serves comes from the fake API it is given: its clock (``api.clock``,
not ``now``) and its marks (``api.set_mark``), through the same quotes
``GET /market-data/by-type`` answers and the same option model. The same clock
and the same marks give the same frames.

Like the real server it is strict about order: SETUP, then AUTH with a quote
token the fake issued (``GET /api-quote-tokens``), then channels. Faults injected
with ``api.inject_stream_fault`` (:class:`~.api.StreamFault`) fire at the next
step of a connection they fit. Every message, both ways, goes to
``api.stream_messages`` with the quote token scrubbed.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeGuard

from ...errors import LocalProtocolError
from ...instruments import streamer_to_occ
from . import market
from .api import RecordedMessage, StreamFault, StreamFaultKind

if TYPE_CHECKING:
    from .api import FakeTastytradeAPI

__all__ = [
    "CANDLE_LIMIT",
    "EVENTS_PER_MESSAGE",
    "FIELDS",
    "MAX_CANDLES",
    "SERVER_VERSION",
    "FakeDXLinkConnection",
]

#: The ``version`` of the fake's SETUP (``<protocol>-<implementation>/<version>``).
SERVER_VERSION = "0.1-fake/1"
#: The most Candle subscriptions one FEED_SUBSCRIPTION may add; more is ``BAD_ACTION``
#: (the real server refuses about 20 in flight at once).
CANDLE_LIMIT = 20
#: The most bars a candle snapshot holds (the oldest are left out past it).
MAX_CANDLES = 5000
#: The most events of one type in one FEED_DATA message.
EVENTS_PER_MESSAGE = 100


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: Each event type the fake serves, with its fields in the order it sends them when a
#: FEED_SETUP asks for the type without naming fields. ``eventType`` may be asked for too.
FIELDS: dict[str, tuple[str, ...]] = {
    "Quote": _names(
        "eventSymbol eventTime sequence timeNanoPart bidTime bidExchangeCode askTime "
        "askExchangeCode bidPrice askPrice bidSize askSize"
    ),
    "Trade": _names(
        "eventSymbol eventTime time timeNanoPart sequence exchangeCode dayId tickDirection "
        "extendedTradingHours price change size dayVolume dayTurnover"
    ),
    "TradeETH": _names(
        "eventSymbol eventTime time timeNanoPart sequence exchangeCode dayId tickDirection "
        "extendedTradingHours price change size dayVolume dayTurnover"
    ),
    "Summary": _names(
        "eventSymbol eventTime dayId dayClosePriceType prevDayId prevDayClosePriceType "
        "openInterest dayOpenPrice dayHighPrice dayLowPrice dayClosePrice prevDayClosePrice "
        "prevDayVolume"
    ),
    "Profile": _names(
        "eventSymbol eventTime description shortSaleRestriction tradingStatus haltStartTime "
        "haltEndTime exDividendDayId statusReason high52WeekPrice low52WeekPrice beta shares "
        "highLimitPrice lowLimitPrice earningsPerShare exDividendAmount dividendFrequency "
        "freeFloat"
    ),
    "Greeks": _names(
        "eventSymbol eventTime eventFlags index time sequence price volatility delta gamma "
        "theta rho vega"
    ),
    "TheoPrice": _names(
        "eventSymbol eventTime eventFlags index time sequence price underlyingPrice delta "
        "gamma dividend interest"
    ),
    "Underlying": _names(
        "eventSymbol eventTime eventFlags index time sequence volatility frontVolatility "
        "backVolatility callVolume putVolume optionVolume putCallRatio"
    ),
    "TimeAndSale": _names(
        "eventSymbol eventTime eventFlags index time timeNanoPart sequence exchangeCode price "
        "size bidPrice askPrice exchangeSaleConditions tradeThroughExempt aggressorSide "
        "spreadLeg extendedTradingHours validTick type buyer seller"
    ),
    "Candle": _names(
        "eventSymbol eventTime eventFlags index time sequence count volume vwap bidVolume "
        "askVolume impVolatility openInterest open high low close"
    ),
}
# Names a client may ask for beyond the defaults: dxFeed's spec spells the candle's
# average price ``VWAP``, some clients ``vwap``; both are served.
_EXTRA_FIELDS = {"Candle": ("VWAP",)}
_CONTRACTS = ("AUTO", "TICKER", "STREAM", "HISTORY")
# Fields that move with time alone: a change in them is not a reason to send an event.
_VOLATILE = frozenset(
    ("eventTime", "time", "index", "sequence", "timeNanoPart", "bidTime", "askTime")
)
# Types sent together, one pair each, in one COMPACT message (the spec allows several pairs
# per message and few servers do it, so clients get to see it here).
_TOGETHER = ("Quote", "Trade")

#: ``eventFlags`` bits of indexed events (the fake's candle snapshots use these three).
REMOVE_EVENT, SNAPSHOT_BEGIN, SNAPSHOT_END = 0x02, 0x04, 0x08

NAN = "NaN"
_TOKEN_IN_TEXT = re.compile(r'("token"\s*:\s*)"(?:[^"\\]|\\.)*"')
_FUTURE = re.compile(r"/([A-Z0-9]+?)([FGHJKMNQUVXZ])(\d\d):([A-Z]+)")
_CANDLE = re.compile(r"(.+)\{=(\d*)([a-z]+)((?:,[^{}]*)?)\}")
# Months and years are served as 30 and 365 days (bars not aligned to the calendar);
# tick, volume, price and option-expiry bars get an empty snapshot.
_PERIODS = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "mo": 30 * 86400,
    "y": 365 * 86400,
}
_UNSERVED_UNITS = frozenset({"t", "v", "p", "o"})  # dxFeed's, not the fake's
_DAY = 86400
_MONDAY = 4 * _DAY  # 1970-01-05, the first Monday after the epoch: weeks start there
_FALLBACK_BURST_SYMBOLS = ("AAPL", "MSFT", "SPY", "QQQ", "TSLA")
_RISK_FREE = float(market.RISK_FREE_RATE)


def _known_fields(kind: str) -> frozenset[str]:
    return frozenset((*FIELDS[kind], *_EXTRA_FIELDS.get(kind, ()), "eventType"))


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    """A finite JSON number that fits a double (a hostile 10**400 does not)."""
    if _is_int(value):
        return abs(value) < 2**63
    return isinstance(value, float) and math.isfinite(value)


def _wire(value: Any) -> Any:
    """A value as DXLink writes it: floats as JSON numbers, NaN and infinities as strings."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return NAN if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _f(text: Any) -> float:
    """A REST quote's number (a string) as a float; NaN when absent."""
    try:
        return float(text) if text is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _day_id(iso: Any) -> int:
    try:
        return (date.fromisoformat(str(iso)) - date(1970, 1, 1)).days
    except ValueError:
        return 0


def _unit(text: str) -> float:
    """A deterministic number in [0, 1) from ``text``."""
    return zlib.crc32(text.encode()) / 2**32


# -- what the fake knows about a symbol --------------------------------------------------------


@dataclass(frozen=True)
class _Instrument:
    """One streamer symbol's market, looked up at one moment."""

    kind: str  # the market-data endpoint's key: equity, index, future, ...
    quote: dict[str, Any]
    model: market.OptionModel | None
    tick: float

    @property
    def price(self) -> float:
        return _f(self.quote.get("last"))


def _look_up(api: FakeTastytradeAPI, streamer: str, now: float) -> _Instrument | None:
    """The instrument behind ``streamer`` (as the instrument endpoints spell it), or None."""
    if streamer.startswith("."):
        if streamer.startswith("./"):
            return None  # future options: their streamer symbol does not say the expiry day
        try:
            occ = streamer_to_occ(streamer)
        except LocalProtocolError:
            return None
        quote = market.quote_of(api, "equity-option", occ, now)
        if quote is None:
            return None
        model = market.equity_option_model(api, occ, now)
        return _Instrument("equity-option", quote, model, 0.01)
    future = _FUTURE.fullmatch(streamer)
    if future is not None:
        root, month, year, _ = future.groups()
        quote = market.quote_of(api, "future", f"/{root}{month}{year[-1]}", now)
        return None if quote is None else _Instrument("future", quote, None, 0.25)
    if streamer.endswith(":CXTALP"):
        quote = market.quote_of(api, "cryptocurrency", streamer.removesuffix(":CXTALP"), now)
        return None if quote is None else _Instrument("cryptocurrency", quote, None, 0.01)
    for kind in ("equity", "index"):
        quote = market.quote_of(api, kind, streamer, now)
        if quote is not None:
            return _Instrument(kind, quote, None, 0.01)
    return None


def _serves(kind: str, event_type: str) -> bool:
    """Whether the fake sends ``event_type`` for an instrument of ``kind``."""
    if event_type == "TradeETH":
        return kind == "equity"
    if event_type in ("Greeks", "TheoPrice"):
        return kind == "equity-option"
    if event_type == "Underlying":
        return kind in ("equity", "index")
    return event_type in FIELDS


# -- the event builders --------------------------------------------------------------------------


@dataclass
class _Subscription:
    kind: str
    symbol: str
    from_time: int | None = None
    sent: tuple[Any, ...] | None = None  # what the last event said, times aside
    price: float | None = None  # the last price seen (trades' tick direction)
    direction: str = "UNDEFINED"
    sequence: int = 0
    bar: _Bar | None = None  # the current candle


@dataclass
class _Bar:
    start: int  # seconds
    open: float
    high: float
    low: float
    close: float
    count: int
    vwap: float


def _round(value: float, tick: float) -> float:
    return round(round(value / tick) * tick, 6)


def _quote_event(sub: _Subscription, it: _Instrument, ms: int) -> dict[str, Any]:
    q = it.quote
    index_like = it.kind == "index"
    code = {"equity": "Q", "equity-option": "C"}.get(it.kind, "")
    return {
        "eventSymbol": sub.symbol,
        "eventTime": 0,
        "sequence": 0,
        "timeNanoPart": 0,
        "bidTime": ms,
        "bidExchangeCode": code,
        "askTime": ms,
        "askExchangeCode": code,
        "bidPrice": _f(q.get("bid")),
        "askPrice": _f(q.get("ask")),
        "bidSize": math.nan if index_like else _f(q.get("bid-size")),
        "askSize": math.nan if index_like else _f(q.get("ask-size")),
    }


def _trade_event(sub: _Subscription, it: _Instrument, ms: int) -> dict[str, Any]:
    q = it.quote
    price = it.price
    if sub.price is not None and price != sub.price:
        sub.direction = "UP" if price > sub.price else "DOWN"
    sub.price = price
    volume = math.nan if it.kind == "index" else _f(q.get("volume"))
    size = {"equity": 100.0, "cryptocurrency": 0.01, "index": math.nan}.get(it.kind, 1.0)
    return {
        "eventSymbol": sub.symbol,
        "eventTime": 0,
        "time": ms,
        "timeNanoPart": 0,
        "sequence": 0,
        "exchangeCode": "Q" if it.kind == "equity" else "",
        "dayId": _day_id(q.get("summary-date")),
        "tickDirection": sub.direction,
        "extendedTradingHours": sub.kind == "TradeETH",
        "price": price,
        "change": round(price - _f(q.get("prev-close")), 6),
        "size": size,
        "dayVolume": volume,
        "dayTurnover": round(volume * price, 2),
    }


def _summary_event(sub: _Subscription, it: _Instrument, ms: int) -> dict[str, Any]:
    q = it.quote
    interest = q.get("open-interest")
    return {
        "eventSymbol": sub.symbol,
        "eventTime": 0,
        "dayId": _day_id(q.get("summary-date")),
        "dayClosePriceType": "REGULAR",
        "prevDayId": _day_id(q.get("prev-close-date")),
        "prevDayClosePriceType": "FINAL",
        "openInterest": interest if _is_int(interest) else math.nan,
        "dayOpenPrice": _f(q.get("open")),
        "dayHighPrice": _f(q.get("day-high-price")),
        "dayLowPrice": _f(q.get("day-low-price")),
        "dayClosePrice": math.nan,  # the day is not over
        "prevDayClosePrice": _f(q.get("prev-close")),
        "prevDayVolume": math.nan,
    }


def _profile_event(sub: _Subscription, it: _Instrument, ms: int) -> dict[str, Any]:
    q = it.quote
    halted = q.get("is-trading-halted") is True
    return {
        "eventSymbol": sub.symbol,
        "eventTime": 0,
        "description": str(q.get("symbol", sub.symbol)),
        "shortSaleRestriction": "INACTIVE",
        "tradingStatus": "HALTED" if halted else "ACTIVE",
        "haltStartTime": 0,
        "haltEndTime": 0,
        "exDividendDayId": 0,
        "statusReason": "",
        "high52WeekPrice": _f(q.get("year-high-price")),
        "low52WeekPrice": _f(q.get("year-low-price")),
        "beta": _f(q.get("beta")),
        "shares": math.nan,
        "highLimitPrice": math.nan,
        "lowLimitPrice": math.nan,
        "earningsPerShare": math.nan,
        "exDividendAmount": math.nan,
        "dividendFrequency": math.nan,
        "freeFloat": math.nan,
    }


def _greeks_event(sub: _Subscription, it: _Instrument, ms: int) -> dict[str, Any]:
    m = it.model
    assert m is not None
    return {
        "eventSymbol": sub.symbol,
        "eventTime": 0,
        "eventFlags": 0,
        "index": (ms // 1000) << 32,
        "time": ms,
        "sequence": 0,
        "price": it.price,
        "volatility": float(m.volatility),
        "delta": float(m.delta),
        "gamma": float(m.gamma),
        "theta": float(m.theta),
        "rho": float(m.rho),
        "vega": float(m.vega),
    }


def _theo_event(sub: _Subscription, it: _Instrument, ms: int) -> dict[str, Any]:
    m = it.model
    assert m is not None
    return {
        "eventSymbol": sub.symbol,
        "eventTime": 0,
        "eventFlags": 0,
        "index": (ms // 1000) << 32,
        "time": ms,
        "sequence": 0,
        "price": float(m.value),
        "underlyingPrice": float(m.underlying_price),
        "delta": float(m.delta),
        "gamma": float(m.gamma),
        "dividend": 0.0,
        "interest": _RISK_FREE,
    }


def _underlying_event(sub: _Subscription, it: _Instrument, ms: int) -> dict[str, Any]:
    iv = market.implied_volatility(str(it.quote.get("symbol")))
    volatility = math.nan if iv is None else float(iv)
    volume = _f(it.quote.get("volume"))
    volume = 1_000_000.0 if math.isnan(volume) else volume
    calls, puts = float(int(volume) // 40), float(int(volume) // 55)
    return {
        "eventSymbol": sub.symbol,
        "eventTime": 0,
        "eventFlags": 0,
        "index": (ms // 1000) << 32,
        "time": ms,
        "sequence": 0,
        "volatility": volatility,
        "frontVolatility": round(volatility * 0.97, 6),
        "backVolatility": round(volatility * 1.03, 6),
        "callVolume": calls,
        "putVolume": puts,
        "optionVolume": calls + puts,
        "putCallRatio": round(puts / calls, 6) if calls else math.nan,
    }


def _time_and_sale_event(sub: _Subscription, it: _Instrument, ms: int) -> dict[str, Any]:
    price = it.price
    side = "UNDEFINED"
    if sub.price is not None and price != sub.price:
        side = "BUY" if price > sub.price else "SELL"
    sub.price = price
    sub.sequence += 1
    return {
        "eventSymbol": sub.symbol,
        "eventTime": 0,
        "eventFlags": 0,
        "index": ((ms // 1000) << 32) | sub.sequence,
        "time": ms,
        "timeNanoPart": 0,
        "sequence": sub.sequence,
        "exchangeCode": "Q" if it.kind == "equity" else "",
        "price": price,
        "size": 1.0 if it.kind != "equity" else 100.0,
        "bidPrice": _f(it.quote.get("bid")),
        "askPrice": _f(it.quote.get("ask")),
        "exchangeSaleConditions": "",
        "tradeThroughExempt": "",
        "aggressorSide": side,
        "spreadLeg": False,
        "extendedTradingHours": False,
        "validTick": True,
        "type": "NEW",
        "buyer": "",
        "seller": "",
    }


_Builder = Callable[[_Subscription, _Instrument, int], dict[str, Any]]
_BUILDERS: dict[str, _Builder] = {
    "Quote": _quote_event,
    "Trade": _trade_event,
    "TradeETH": _trade_event,
    "Summary": _summary_event,
    "Profile": _profile_event,
    "Greeks": _greeks_event,
    "TheoPrice": _theo_event,
    "Underlying": _underlying_event,
}


def _candle_period(symbol: str) -> tuple[str, int] | None:
    """``(underlying streamer symbol, period in seconds)`` of ``AAPL{=5m}``, or None."""
    match = _CANDLE.fullmatch(symbol)
    if match is None or match.group(3) not in _PERIODS:
        return None
    count = int(match.group(2)) if match.group(2) else 1
    if not 0 < count <= 10_000:
        return None
    return match.group(1), count * _PERIODS[match.group(3)]


def _candle(symbol: str, bar: _Bar, flags: int = 0, volatility: float = math.nan) -> dict[str, Any]:
    return {
        "eventSymbol": symbol,
        "eventTime": 0,
        "eventFlags": flags,
        "index": bar.start << 32,
        "time": bar.start * 1000,
        "sequence": 0,
        "count": bar.count,
        "volume": float(bar.count * 100),
        "vwap": bar.vwap,
        "VWAP": bar.vwap,
        "bidVolume": math.nan,
        "askVolume": math.nan,
        "impVolatility": volatility,
        "openInterest": math.nan,
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
    }


def _history_close(symbol: str, period: int, start: int, price: float, tick: float) -> float:
    """A past bar's close: within 1% of ``price`` (the previous close, which moving the
    mark does not move, so a closed bar never changes), fixed by the bar's time."""
    return _round(price * (1 + 0.01 * (2 * _unit(f"{symbol}|{period}|{start}") - 1)), tick)


def _history_bar(symbol: str, period: int, start: int, price: float, tick: float) -> _Bar:
    opened = _history_close(symbol, period, start - period, price, tick)
    closed = _history_close(symbol, period, start, price, tick)
    wick = 0.002 * _unit(f"{symbol}|{start}|wick")
    high = _round(max(opened, closed) * (1 + wick), tick)
    low = _round(min(opened, closed) * (1 - wick), tick)
    count = 20 + int(200 * _unit(f"{symbol}|{start}|count"))
    return _Bar(start, opened, high, low, closed, count, _round((opened + closed) / 2, tick))


def _weekend(start: int) -> bool:
    return (start // _DAY + 3) % 7 >= 5  # 1970-01-01 was a Thursday (weekday 3)


def _empty_candle(symbol: str) -> dict[str, Any]:
    nothing = _Bar(0, math.nan, math.nan, math.nan, math.nan, 0, math.nan)
    event = _candle(symbol, nothing, SNAPSHOT_BEGIN | SNAPSHOT_END | REMOVE_EVENT)
    event["volume"] = math.nan
    return event


# -- channels and the connection -----------------------------------------------------------------


@dataclass
class _Channel:
    id: int
    parameters: dict[str, Any]
    fields: dict[str, list[str]] = field(default_factory=dict)
    data_format: str = "COMPACT"
    aggregation: float = 0.1
    subscriptions: dict[tuple[str, str], _Subscription] = field(default_factory=dict)
    config_due: bool = False  # a FEED_CONFIG must go out before the next data


class _Refusal(Exception):
    """A client message the server answers with ERROR (and otherwise ignores)."""

    def __init__(self, error: str, message: str, channel: int = 0) -> None:
        super().__init__(message)
        self.error, self.message, self.channel = error, message, channel


class FakeDXLinkConnection:
    """The server's side of one DXLink websocket connection, I/O-free.

    ``api`` is the fake whose quote tokens, marks, clock and injected stream faults
    it uses; ``now`` (any monotonic-enough seconds, wall time in the server) is when
    the connection opened. The server's keepalive timeout is
    ``api.dxlink_keepalive_timeout`` at that moment.
    """

    def __init__(
        self, api: FakeTastytradeAPI, now: float, *, connection_id: int | None = None
    ) -> None:
        self.api = api
        self.id = api.new_stream_connection() if connection_id is None else connection_id
        #: Seconds without a client message before ERROR TIMEOUT and a close.
        self.keepalive_timeout = float(api.dxlink_keepalive_timeout)
        #: ``(code, reason)`` once the server wants the socket closed; code 1006 means
        #: drop it without a close frame.
        self.closed: tuple[int, str] | None = None
        #: Whether the server has gone silent (the STALL fault).
        self.stalled = False
        self._out: list[str] = []
        self._now = now
        self._last_in = now
        self._last_out = now
        self._client_timeout: float | None = None
        self._setup = False
        self._token: str | None = None
        self._channels: dict[int, _Channel] = {}

    # -- the caller's side ---------------------------------------------------------------------

    @property
    def authorized(self) -> bool:
        """Whether the client is authorized (its quote token was accepted and is live)."""
        return self._token is not None

    def receive(self, text: str, now: float) -> None:
        """Take one text frame from the client."""
        if self.closed is not None:
            return
        self._log("in", _TOKEN_IN_TEXT.sub(r'\1"<redacted>"', text))
        if self.stalled:
            return
        self._now = now
        self._last_in = now
        try:
            self._dispatch(text)
        except _Refusal as refusal:
            self._error(refusal.error, refusal.message, refusal.channel)
        self._step()

    def handle_timer(self, now: float) -> None:
        """Let time pass: timeouts, keepalives, faults and new prices."""
        if self.closed is not None or self.stalled:
            return
        self._now = now
        if now - self._last_in >= self.keepalive_timeout:
            quiet = int(now - self._last_in)
            self._error(
                "TIMEOUT",
                f"The timeout has been reached. The message was last received {quiet} seconds ago.",
            )
            self._close(1000, "Keepalive timeout")
            return
        self._step()
        idle = now - self._last_out >= self._keepalive_interval()
        if self.closed is None and not self.stalled and self._setup and idle:
            self._send({"type": "KEEPALIVE", "channel": 0})

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must next be called (None: never)."""
        if self.closed is not None or self.stalled:
            return None
        deadline = self._last_in + self.keepalive_timeout
        if self._setup:
            deadline = min(deadline, self._last_out + self._keepalive_interval())
        return deadline

    def messages_to_send(self) -> list[str]:
        """The text frames to send now, in order (each is returned once)."""
        out, self._out = self._out, []
        return out

    # -- sending -------------------------------------------------------------------------------

    def _keepalive_interval(self) -> float:
        client = self._client_timeout or self.keepalive_timeout
        return min(self.keepalive_timeout, client) / 2

    def _log(self, direction: str, text: str) -> None:
        self.api.stream_messages.append(RecordedMessage(self.id, direction, text, self.api.clock()))

    def _send_text(self, text: str) -> None:
        self._out.append(text)
        self._last_out = self._now
        self._log("out", text)

    def _send(self, message: dict[str, Any]) -> None:
        self._send_text(json.dumps(message, separators=(",", ":"), allow_nan=False))

    def _error(self, error: str, message: str, channel: int = 0) -> None:
        self._send({"type": "ERROR", "channel": channel, "error": error, "message": message})

    def _close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self._log("close", f"{code} {reason}".rstrip())

    # -- what the client says ------------------------------------------------------------------

    def _dispatch(self, text: str) -> None:
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            raise _Refusal("INVALID_MESSAGE", "The message is not valid JSON") from None
        if not isinstance(message, dict):
            raise _Refusal("INVALID_MESSAGE", "The message must be a JSON object")
        kind, channel = message.get("type"), message.get("channel")
        if not isinstance(kind, str) or not _is_int(channel):
            raise _Refusal("INVALID_MESSAGE", "The message needs a string type and an int channel")
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise _Refusal("BAD_ACTION", f"Unknown message type {kind[:64]!r}")
        handler(self, message, channel)

    def _on_setup(self, message: dict[str, Any], channel: int) -> None:
        if channel != 0:
            raise _Refusal("INVALID_MESSAGE", "SETUP belongs on channel 0")
        if self._setup:
            raise _Refusal("BAD_ACTION", "SETUP was already done")
        if not isinstance(message.get("version"), str):
            raise _Refusal("INVALID_MESSAGE", "SETUP needs a version")
        timeout = message.get("keepaliveTimeout")
        if timeout is not None and _is_number(timeout) and timeout > 0:
            self._client_timeout = float(timeout)
        self._setup = True
        whole = int(self.keepalive_timeout)
        shown = whole if whole == self.keepalive_timeout else self.keepalive_timeout
        self._send(
            {
                "type": "SETUP",
                "channel": 0,
                "version": SERVER_VERSION,
                "keepaliveTimeout": shown,
                "acceptKeepaliveTimeout": shown,
            }
        )
        self._send({"type": "AUTH_STATE", "channel": 0, "state": "UNAUTHORIZED"})

    def _on_auth(self, message: dict[str, Any], channel: int) -> None:
        if channel != 0:
            raise _Refusal("INVALID_MESSAGE", "AUTH belongs on channel 0")
        if not self._setup:
            raise _Refusal("BAD_ACTION", "SETUP step missing")
        token = message.get("token")
        if not isinstance(token, str):
            raise _Refusal("INVALID_MESSAGE", "AUTH needs a token")
        expires = market.quote_token_expiry(self.api, token)
        if expires is None or self.api.clock() >= expires:
            self._token = None
            self._send({"type": "AUTH_STATE", "channel": 0, "state": "UNAUTHORIZED"})
            return
        self._token = token
        self._send({"type": "AUTH_STATE", "channel": 0, "state": "AUTHORIZED"})
        for open_channel in self._channels.values():  # back after a lapse: fresh snapshots
            for sub in open_channel.subscriptions.values():
                sub.sent, sub.bar = None, None

    def _on_keepalive(self, message: dict[str, Any], channel: int) -> None:
        if channel != 0:
            raise _Refusal("INVALID_MESSAGE", "KEEPALIVE belongs on channel 0")

    def _on_client_error(self, message: dict[str, Any], channel: int) -> None:
        """A client may report an error; it is informational."""

    def _on_channel_request(self, message: dict[str, Any], channel: int) -> None:
        if not self.authorized:
            raise _Refusal("BAD_ACTION", "AUTH step missing")
        if channel <= 0 or channel % 2 == 0:
            raise _Refusal("BAD_ACTION", f"Channel id {channel} must be a positive odd number")
        if channel in self._channels:
            raise _Refusal("BAD_ACTION", f"Channel with id {channel} already exists")
        if message.get("service") != "FEED":
            raise _Refusal("BAD_ACTION", "Only the FEED service is available")
        parameters = message.get("parameters", {"contract": "AUTO"})
        if not isinstance(parameters, dict):
            raise _Refusal("INVALID_MESSAGE", "CHANNEL_REQUEST parameters must be an object")
        if parameters.get("contract", "AUTO") not in _CONTRACTS:
            raise _Refusal("BAD_ACTION", f"Unknown contract; use one of {', '.join(_CONTRACTS)}")
        self._channels[channel] = _Channel(channel, parameters)
        self._send(
            {
                "type": "CHANNEL_OPENED",
                "channel": channel,
                "service": "FEED",
                "parameters": parameters,
            }
        )

    def _open_channel(self, channel: int) -> _Channel:
        found = self._channels.get(channel)
        if found is None:
            raise _Refusal("BAD_ACTION", f"Channel with id {channel} not exists")
        if not self.authorized:
            raise _Refusal("BAD_ACTION", "AUTH step missing")
        return found

    def _on_channel_cancel(self, message: dict[str, Any], channel: int) -> None:
        self._open_channel(channel)
        del self._channels[channel]
        self._send({"type": "CHANNEL_CLOSED", "channel": channel})

    def _on_feed_setup(self, message: dict[str, Any], channel: int) -> None:
        feed = self._open_channel(channel)
        wanted = message.get("acceptEventFields", {})
        period = message.get("acceptAggregationPeriod")
        data_format = message.get("acceptDataFormat")
        if not isinstance(wanted, dict) or not all(
            isinstance(names, list) and all(isinstance(n, str) for n in names)
            for names in wanted.values()
        ):
            raise _Refusal("INVALID_MESSAGE", "acceptEventFields must map types to field lists")
        if period is not None and not (_is_number(period) and period >= 0):
            raise _Refusal("INVALID_MESSAGE", "acceptAggregationPeriod must be a number")
        for kind, names in wanted.items():
            if kind not in FIELDS:
                continue  # a type the fake does not serve is left out of FEED_CONFIG
            known = _known_fields(kind)
            chosen = list(dict.fromkeys(n for n in names if n in known))
            feed.fields[kind] = chosen or list(FIELDS[kind])
        if data_format is not None:
            feed.data_format = "FULL" if data_format == "FULL" else "COMPACT"
        if period is not None:
            feed.aggregation = float(period)
        self._send_config(feed)

    def _send_config(self, feed: _Channel) -> None:
        feed.config_due = False
        whole = int(feed.aggregation)
        self._send(
            {
                "type": "FEED_CONFIG",
                "channel": feed.id,
                "aggregationPeriod": whole if whole == feed.aggregation else feed.aggregation,
                "dataFormat": feed.data_format,
                "eventFields": {k: list(v) for k, v in feed.fields.items()},
            }
        )

    def _on_feed_subscription(self, message: dict[str, Any], channel: int) -> None:
        feed = self._open_channel(channel)
        lists: dict[str, list[tuple[str, str, int | None]]] = {}
        for key in ("remove", "add"):
            items = message.get(key, [])
            if not isinstance(items, list):
                raise _Refusal("INVALID_MESSAGE", f"{key} must be a list", channel)
            lists[key] = [_item(entry, channel) for entry in items]
        if message.get("reset") is True:
            feed.subscriptions.clear()
        for kind, symbol, _ in lists["remove"]:
            feed.subscriptions.pop((kind, symbol), None)
        adds = lists["add"]
        if sum(1 for kind, _, _ in adds if kind == "Candle") > CANDLE_LIMIT:
            self._error(
                "BAD_ACTION",
                "Your subscription size for event type 'Candle' is too big",
                channel,
            )
            adds = [item for item in adds if item[0] != "Candle"]
        for kind, symbol, from_time in adds:
            old = feed.subscriptions.get((kind, symbol))
            if old is not None and old.from_time == from_time:
                continue  # already there: nothing new to send
            feed.subscriptions[(kind, symbol)] = _Subscription(kind, symbol, from_time)
            if kind in FIELDS and kind not in feed.fields:
                feed.fields[kind] = list(FIELDS[kind])
                feed.config_due = True

    # -- each step -------------------------------------------------------------------------------

    def _step(self) -> None:
        self._apply_faults()
        if self.closed is not None or self.stalled:
            return
        self._check_token()
        if self.authorized:
            for feed in list(self._channels.values()):
                self._refresh(feed)

    def _check_token(self) -> None:
        if self._token is None:
            return
        expires = market.quote_token_expiry(self.api, self._token)
        if expires is not None and self.api.clock() < expires:
            return
        self._token = None
        self._error("UNAUTHORIZED", "The quote token has expired")
        self._send({"type": "AUTH_STATE", "channel": 0, "state": "UNAUTHORIZED"})

    def _refresh(self, feed: _Channel) -> None:
        now = self.api.clock()
        ms = int(now * 1000)
        instruments: dict[str, _Instrument | None] = {}

        def look(symbol: str) -> _Instrument | None:
            if symbol not in instruments:
                instruments[symbol] = _look_up(self.api, symbol, now)
            return instruments[symbol]

        events: dict[str, list[dict[str, Any]]] = {}
        for sub in feed.subscriptions.values():
            if sub.kind not in FIELDS:
                continue  # a type the fake does not serve: silence, as for unknown symbols
            if sub.kind == "Candle":
                found = self._candles(sub, look, now)
            else:
                it = look(sub.symbol)
                found = [] if it is None else self._changed(sub, it, ms)
            if found:
                events.setdefault(sub.kind, []).extend(found)
        if not events:
            return
        if feed.config_due:
            self._send_config(feed)
        self._send_events(feed, events)

    def _changed(self, sub: _Subscription, it: _Instrument, ms: int) -> list[dict[str, Any]]:
        if not _serves(it.kind, sub.kind):
            return []
        if sub.kind == "TimeAndSale":
            if sub.sent is not None and sub.price == it.price:
                return []
            sub.sent = (it.price,)
            return [_time_and_sale_event(sub, it, ms)]
        if sub.kind in ("Trade", "TradeETH") and sub.price == it.price and sub.sent is not None:
            return []  # the tick direction needs the price to move first
        event = _BUILDERS[sub.kind](sub, it, ms)
        content = tuple(_wire(v) for k, v in event.items() if k not in _VOLATILE)
        if content == sub.sent:
            return []
        sub.sent = content
        return [event]

    def _candles(
        self, sub: _Subscription, look: Callable[[str], _Instrument | None], now: float
    ) -> list[dict[str, Any]]:
        parsed = _candle_period(sub.symbol)
        it = None if parsed is None else look(parsed[0])
        if parsed is None or it is None:
            match = _CANDLE.fullmatch(sub.symbol)
            if (
                parsed is None
                and match is not None
                and match.group(3) in _UNSERVED_UNITS
                and sub.bar is None
                and look(match.group(1))
            ):
                # A period the fake does not serve: say so with an empty snapshot, once.
                sub.bar = _Bar(-1, math.nan, math.nan, math.nan, math.nan, 0, math.nan)
                return [_empty_candle(sub.symbol)]
            return []
        base, period = parsed
        price, tick = it.price, it.tick
        if math.isnan(price):
            return []
        anchor = _f(it.quote.get("prev-close"))
        anchor = price if math.isnan(anchor) else anchor
        # Weeks (and longer) start on a Monday; a market with sessions has no weekend bars.
        offset = _MONDAY if period % (7 * _DAY) == 0 else 0
        current = int((now - offset) // period) * period + offset
        trading_days = it.kind != "cryptocurrency" and period % _DAY == 0 and period < 7 * _DAY
        bar = sub.bar
        volatility = float(it.model.volatility) if it.model is not None else math.nan
        if bar is None:  # the snapshot: newest first, as dxFeed sends history
            start = current if sub.from_time is None else int(sub.from_time // 1000)
            start = (start - offset) // period * period + offset
            start = max(start, current - (MAX_CANDLES - 1) * period)
            if start > current:
                sub.bar = _Bar(current, price, price, price, price, 1, price)
                return [_empty_candle(sub.symbol)]
            bars = [
                _history_bar(base, period, t, anchor, tick)
                for t in range(start, current, period)
                if not (trading_days and _weekend(t))
            ]
            opened = _history_close(base, period, current - period, anchor, tick)
            sub.bar = _Bar(current, opened, max(opened, price), min(opened, price), price, 1, price)
            bars.append(sub.bar)
            events = [_candle(sub.symbol, b, volatility=volatility) for b in reversed(bars)]
            events[0]["eventFlags"] |= SNAPSHOT_BEGIN
            events[-1]["eventFlags"] |= SNAPSHOT_END
            return events
        if current != bar.start:  # a new bar opens at the last close
            low, high = min(bar.close, price), max(bar.close, price)
            sub.bar = _Bar(current, bar.close, high, low, price, 1, price)
            return [_candle(sub.symbol, sub.bar, volatility=volatility)]
        if price == bar.close:
            return []
        bar.count += 1
        bar.vwap = _round((bar.vwap * (bar.count - 1) + price) / bar.count, tick)
        bar.close, bar.high, bar.low = price, max(bar.high, price), min(bar.low, price)
        return [_candle(sub.symbol, bar, volatility=volatility)]

    def _send_events(self, feed: _Channel, events: dict[str, list[dict[str, Any]]]) -> None:
        groups: list[tuple[str, ...]] = []
        for kind in FIELDS:
            if kind not in events:
                continue
            if kind in _TOGETHER and any(kind in g for g in groups):
                continue
            together = tuple(k for k in _TOGETHER if k in events) if kind in _TOGETHER else ()
            groups.append(together or (kind,))
        for group in groups:
            chunks = max(-(-len(events[k]) // EVENTS_PER_MESSAGE) for k in group)
            for i in range(chunks):
                part = {
                    k: events[k][i * EVENTS_PER_MESSAGE : (i + 1) * EVENTS_PER_MESSAGE]
                    for k in group
                }
                self._send_data(feed, {k: v for k, v in part.items() if v})

    def _send_data(self, feed: _Channel, events: dict[str, list[dict[str, Any]]]) -> None:
        data: list[Any] = []
        for kind, items in events.items():
            names = feed.fields.get(kind) or list(FIELDS[kind])
            if feed.data_format == "FULL":
                for event in items:
                    shown = {"eventType": kind, "eventSymbol": event["eventSymbol"]}
                    shown.update((n, _wire(event.get(n, kind))) for n in names)
                    data.append(shown)
            else:
                values = [_wire(event.get(n, kind)) for event in items for n in names]
                data += [kind, values]
        self._send({"type": "FEED_DATA", "channel": feed.id, "data": data})

    # -- faults ----------------------------------------------------------------------------------

    def _apply_faults(self) -> None:
        faults = self.api.stream_faults
        for fault in list(faults):
            if self.closed is not None or self.stalled:
                return
            if fault.times <= 0:
                faults.remove(fault)
                continue
            if fault.connection not in (None, self.id) or not self._fits(fault):
                continue
            fault.times -= 1
            fault.hits += 1
            if fault.times == 0:
                faults.remove(fault)
            self._fire(fault)
            fault.fired.set()

    def _fits(self, fault: StreamFault) -> bool:
        kind = fault.kind
        if kind in (StreamFaultKind.DROP, StreamFaultKind.STALL, StreamFaultKind.RESTART):
            return True
        if kind in (StreamFaultKind.EXPIRE_TOKEN, StreamFaultKind.MALFORMED_JSON):
            return self.authorized
        return self.authorized and self._fed_channel() is not None

    def _fed_channel(self) -> _Channel | None:
        return next((c for c in self._channels.values() if c.subscriptions), None)

    def _fire(self, fault: StreamFault) -> None:
        kind = fault.kind
        if kind is StreamFaultKind.DROP:
            self._close(1006, "")
        elif kind is StreamFaultKind.STALL:
            self.stalled = True
        elif kind is StreamFaultKind.RESTART:
            self._close(1012, "Reconnection is required")
        elif kind is StreamFaultKind.EXPIRE_TOKEN:
            if self._token is not None:
                market.expire_quote_token(self.api, self._token, self.api.clock())
        elif kind is StreamFaultKind.MALFORMED_JSON:
            channel = min(self._channels, default=1)
            self._send_text(f'{{"type":"FEED_DATA","channel":{channel},"data":["Quote",[')
        elif kind is StreamFaultKind.MALFORMED_DATA:
            self._malformed_data()
        else:
            self._burst(fault.count, max(1, fault.batch))

    def _malformed_data(self) -> None:
        feed = self._fed_channel()
        assert feed is not None
        kind = next(iter(feed.subscriptions.values())).kind
        kind = kind if kind in feed.fields else "Quote"
        names = feed.fields.setdefault(kind, list(FIELDS.get(kind, FIELDS["Quote"])))
        if len(names) < 2:  # every count divides by one field: give it a second
            names.append("eventTime" if names != ["eventTime"] else "eventSymbol")
            feed.config_due = True
        if feed.config_due:
            self._send_config(feed)
        symbol = next(iter(feed.subscriptions.values())).symbol
        values: list[Any] = [symbol, *[0] * (len(names) - 1), NAN]  # one value too many
        self._send({"type": "FEED_DATA", "channel": feed.id, "data": [kind, values]})

    def _burst(self, count: int, batch: int) -> None:
        """``count`` Quote events across the channel's Quote symbols, ``batch`` per message."""
        feed = self._fed_channel()
        assert feed is not None
        now = self.api.clock()
        symbols = [s.symbol for s in feed.subscriptions.values() if s.kind == "Quote"]
        known = [(s, it) for s in symbols if (it := _look_up(self.api, s, now)) is not None]
        if not known:
            known = [
                (s, it)
                for s in _FALLBACK_BURST_SYMBOLS
                if (it := _look_up(self.api, s, now)) is not None
            ]
        if "Quote" not in feed.fields:
            feed.fields["Quote"] = list(FIELDS["Quote"])
            feed.config_due = True
        if feed.config_due:
            self._send_config(feed)
        names = feed.fields["Quote"]
        sequence_at = names.index("sequence") if "sequence" in names else None
        ms = int(now * 1000)
        # Each symbol's book walks up 50 ticks and starts again; the rows are made once,
        # so that a burst costs little more than writing it out.
        walks: list[list[list[Any]]] = []
        for symbol, it in known:
            base = _quote_event(_Subscription("Quote", symbol), it, ms)
            rows = []
            for step in range(50):
                bid = _round(base["bidPrice"] + step * it.tick, it.tick)
                event = {**base, "bidPrice": bid, "askPrice": _round(bid + 2 * it.tick, it.tick)}
                rows.append([_wire(event.get(n, "Quote")) for n in names])
            walks.append(rows)
        for first in range(0, count, batch):
            data: list[Any] = []
            for k in range(first, min(first + batch, count)):
                row = walks[k % len(walks)][k // len(walks) % 50]
                if sequence_at is not None:
                    row = row.copy()
                    row[sequence_at] = k
                data += row
            self._send({"type": "FEED_DATA", "channel": feed.id, "data": ["Quote", data]})
        for sub in feed.subscriptions.values():  # then the true prices again
            if sub.kind == "Quote":
                sub.sent = None


def _item(entry: Any, channel: int) -> tuple[str, str, int | None]:
    """One subscription item: ``(type, symbol, fromTime in ms or None)``."""
    if not isinstance(entry, dict):
        raise _Refusal("INVALID_MESSAGE", "A subscription item must be an object", channel)
    kind, symbol, from_time = entry.get("type"), entry.get("symbol"), entry.get("fromTime")
    if not isinstance(kind, str) or not isinstance(symbol, str):
        raise _Refusal("INVALID_MESSAGE", "A subscription item needs a type and a symbol", channel)
    if from_time is not None and not _is_number(from_time):
        raise _Refusal("INVALID_MESSAGE", "fromTime must be a number of milliseconds", channel)
    return kind, symbol, None if from_time is None else int(from_time)


_Handler = Callable[[FakeDXLinkConnection, dict[str, Any], int], None]
_HANDLERS: dict[str, _Handler] = {
    "SETUP": FakeDXLinkConnection._on_setup,
    "AUTH": FakeDXLinkConnection._on_auth,
    "KEEPALIVE": FakeDXLinkConnection._on_keepalive,
    "ERROR": FakeDXLinkConnection._on_client_error,
    "CHANNEL_REQUEST": FakeDXLinkConnection._on_channel_request,
    "CHANNEL_CANCEL": FakeDXLinkConnection._on_channel_cancel,
    "FEED_SETUP": FakeDXLinkConnection._on_feed_setup,
    "FEED_SUBSCRIPTION": FakeDXLinkConnection._on_feed_subscription,
}
