"""Market events from DXLink: Quote, Trade, Greeks, Candle and the rest, typed and exact.

Each event type is a frozen value class. Its fields are the DXLink field names in
snake case (``bidPrice`` is ``bid_price``), with ``symbol`` for ``eventSymbol``.

**Values.** Prices, sizes, volumes and greeks are ``Decimal`` made from the JSON
text, so ``576.88`` is exactly ``Decimal("576.88")``. Times (``time``,
``event_time``, ``bid_time`` ...) are integers of epoch milliseconds as the wire
has them; :meth:`MarketEvent.at` turns one into an aware ``datetime``. Counters and
identifiers (``sequence``, ``index``, ``event_flags``, ``day_id``) are exact
integers (``index`` often passes 2**53).

**Missing values.** dxFeed sends ``"NaN"`` where a value does not exist (an index
has no bid size; a candle with no trades has no open), and some servers send
``null``: both become ``None``; the event is never dropped. ``"Infinity"`` and
``"-Infinity"`` become ``Decimal("Infinity")`` and ``Decimal("-Infinity")``. A
value of the wrong kind (text where a number belongs) also becomes ``None``, and the
raw value is kept in :attr:`MarketEvent.extra` under its wire name, so nothing the
server sent is lost.

**Unknown fields and types.** Fields this module does not know are kept in
``extra`` as ``(wire name, value)`` pairs; an event type it does not know arrives
as :class:`UnknownEvent` with every field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from ..values import field, frozen
from ..values import fields as value_fields

__all__ = [
    "EVENT_TYPES",
    "Candle",
    "EventFlag",
    "Greeks",
    "MarketEvent",
    "Profile",
    "Quote",
    "Summary",
    "TheoPrice",
    "TimeAndSale",
    "Trade",
    "TradeETH",
    "Underlying",
    "UnknownEvent",
    "decoder_for",
]

_INFINITY = Decimal("Infinity")
_MINUS_INFINITY = Decimal("-Infinity")
_NOT_A_VALUE = object()  # a converter's answer for a value of the wrong kind


class EventFlag:
    """Bits of ``event_flags`` on indexed events (Candle, Greeks, TheoPrice, TimeAndSale,
    Underlying): a snapshot of history arrives between SNAPSHOT_BEGIN and
    SNAPSHOT_END (or SNAPSHOT_SNIP), and REMOVE_EVENT marks an event that deletes
    the one with its index (with BEGIN and END, an empty snapshot)."""

    TX_PENDING = 0x01
    REMOVE_EVENT = 0x02
    SNAPSHOT_BEGIN = 0x04
    SNAPSHOT_END = 0x08
    SNAPSHOT_SNIP = 0x10
    SNAPSHOT_MODE = 0x40


@frozen
class MarketEvent:
    """What every market event has: the streamer ``symbol`` and the fields kept raw.

    ``extra`` holds the ``(wire name, value)`` pairs of fields this library does not
    know, and the raw value of any field whose value was of the wrong kind.
    """

    #: The DXLink event type this class decodes (``"Quote"``, ...).
    EVENT_TYPE: ClassVar[str] = ""
    #: The wire name and kind of each field after ``symbol``, in attribute order.
    WIRE: ClassVar[tuple[tuple[str, str], ...]] = ()

    symbol: str

    @staticmethod
    def at(milliseconds: int | None) -> datetime | None:
        """An epoch-milliseconds field as an aware UTC ``datetime`` (``None`` for 0 or ``None``)."""
        if not milliseconds:
            return None
        try:
            return datetime.fromtimestamp(milliseconds / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None

    @property
    def event_type(self) -> str:
        """The DXLink event type (``"Quote"``, ``"Candle"``, ...)."""
        return self.EVENT_TYPE


_EXTRA = field(default=(), repr=False)


@frozen
class Quote(MarketEvent):
    """The best bid and offer."""

    EVENT_TYPE: ClassVar[str] = "Quote"
    WIRE: ClassVar[tuple[tuple[str, str], ...]] = (
        ("eventTime", "i"),
        ("sequence", "i"),
        ("timeNanoPart", "i"),
        ("bidTime", "i"),
        ("bidExchangeCode", "s"),
        ("bidPrice", "d"),
        ("bidSize", "d"),
        ("askTime", "i"),
        ("askExchangeCode", "s"),
        ("askPrice", "d"),
        ("askSize", "d"),
    )
    event_time: int | None = None
    sequence: int | None = None
    time_nano_part: int | None = None
    bid_time: int | None = None
    bid_exchange_code: str | None = None
    bid_price: Decimal | None = None
    bid_size: Decimal | None = None
    ask_time: int | None = None
    ask_exchange_code: str | None = None
    ask_price: Decimal | None = None
    ask_size: Decimal | None = None
    extra: tuple[tuple[str, Any], ...] = _EXTRA

    @property
    def mid(self) -> Decimal | None:
        """Halfway between bid and ask, when both are finite."""
        bid, ask = self.bid_price, self.ask_price
        if bid is None or ask is None or not (bid.is_finite() and ask.is_finite()):
            return None
        return (bid + ask) / 2


_TRADE_WIRE: tuple[tuple[str, str], ...] = (
    ("eventTime", "i"),
    ("time", "i"),
    ("timeNanoPart", "i"),
    ("sequence", "i"),
    ("exchangeCode", "s"),
    ("dayId", "i"),
    ("tickDirection", "s"),
    ("extendedTradingHours", "b"),
    ("price", "d"),
    ("change", "d"),
    ("size", "d"),
    ("dayVolume", "d"),
    ("dayTurnover", "d"),
)


@frozen
class Trade(MarketEvent):
    """The last trade in regular hours, with the day's volume."""

    EVENT_TYPE: ClassVar[str] = "Trade"
    WIRE: ClassVar[tuple[tuple[str, str], ...]] = _TRADE_WIRE
    event_time: int | None = None
    time: int | None = None
    time_nano_part: int | None = None
    sequence: int | None = None
    exchange_code: str | None = None
    day_id: int | None = None
    tick_direction: str | None = None
    extended_trading_hours: bool | None = None
    price: Decimal | None = None
    change: Decimal | None = None
    size: Decimal | None = None
    day_volume: Decimal | None = None
    day_turnover: Decimal | None = None
    extra: tuple[tuple[str, Any], ...] = _EXTRA


@frozen
class TradeETH(Trade):
    """The last trade in extended hours (stocks and ETFs); the fields of :class:`Trade`."""

    EVENT_TYPE: ClassVar[str] = "TradeETH"


@frozen
class Greeks(MarketEvent):
    """An option's price, implied volatility and greeks (per option symbol)."""

    EVENT_TYPE: ClassVar[str] = "Greeks"
    WIRE: ClassVar[tuple[tuple[str, str], ...]] = (
        ("eventTime", "i"),
        ("eventFlags", "i"),
        ("index", "i"),
        ("time", "i"),
        ("sequence", "i"),
        ("price", "d"),
        ("volatility", "d"),
        ("delta", "d"),
        ("gamma", "d"),
        ("theta", "d"),
        ("rho", "d"),
        ("vega", "d"),
    )
    event_time: int | None = None
    event_flags: int | None = None
    index: int | None = None
    time: int | None = None
    sequence: int | None = None
    price: Decimal | None = None
    volatility: Decimal | None = None
    delta: Decimal | None = None
    gamma: Decimal | None = None
    theta: Decimal | None = None
    rho: Decimal | None = None
    vega: Decimal | None = None
    extra: tuple[tuple[str, Any], ...] = _EXTRA


@frozen
class Profile(MarketEvent):
    """What the instrument is: description, trading status, 52-week range, dividends."""

    EVENT_TYPE: ClassVar[str] = "Profile"
    WIRE: ClassVar[tuple[tuple[str, str], ...]] = (
        ("eventTime", "i"),
        ("description", "s"),
        ("shortSaleRestriction", "s"),
        ("tradingStatus", "s"),
        ("statusReason", "s"),
        ("haltStartTime", "i"),
        ("haltEndTime", "i"),
        ("exDividendDayId", "i"),
        ("high52WeekPrice", "d"),
        ("low52WeekPrice", "d"),
        ("beta", "d"),
        ("shares", "d"),
        ("freeFloat", "d"),
        ("highLimitPrice", "d"),
        ("lowLimitPrice", "d"),
        ("earningsPerShare", "d"),
        ("exDividendAmount", "d"),
        ("dividendFrequency", "d"),
    )
    event_time: int | None = None
    description: str | None = None
    short_sale_restriction: str | None = None
    trading_status: str | None = None
    status_reason: str | None = None
    halt_start_time: int | None = None
    halt_end_time: int | None = None
    ex_dividend_day_id: int | None = None
    high_52_week_price: Decimal | None = None
    low_52_week_price: Decimal | None = None
    beta: Decimal | None = None
    shares: Decimal | None = None
    free_float: Decimal | None = None
    high_limit_price: Decimal | None = None
    low_limit_price: Decimal | None = None
    earnings_per_share: Decimal | None = None
    ex_dividend_amount: Decimal | None = None
    dividend_frequency: Decimal | None = None
    extra: tuple[tuple[str, Any], ...] = _EXTRA


@frozen
class Summary(MarketEvent):
    """The day's open, high, low and close, the previous close, and open interest."""

    EVENT_TYPE: ClassVar[str] = "Summary"
    WIRE: ClassVar[tuple[tuple[str, str], ...]] = (
        ("eventTime", "i"),
        ("dayId", "i"),
        ("dayOpenPrice", "d"),
        ("dayHighPrice", "d"),
        ("dayLowPrice", "d"),
        ("dayClosePrice", "d"),
        ("dayClosePriceType", "s"),
        ("prevDayId", "i"),
        ("prevDayClosePrice", "d"),
        ("prevDayClosePriceType", "s"),
        ("prevDayVolume", "d"),
        ("openInterest", "d"),
    )
    event_time: int | None = None
    day_id: int | None = None
    day_open_price: Decimal | None = None
    day_high_price: Decimal | None = None
    day_low_price: Decimal | None = None
    day_close_price: Decimal | None = None
    day_close_price_type: str | None = None
    prev_day_id: int | None = None
    prev_day_close_price: Decimal | None = None
    prev_day_close_price_type: str | None = None
    prev_day_volume: Decimal | None = None
    open_interest: Decimal | None = None
    extra: tuple[tuple[str, Any], ...] = _EXTRA


@frozen
class TheoPrice(MarketEvent):
    """An option's theoretical price from dxFeed's model."""

    EVENT_TYPE: ClassVar[str] = "TheoPrice"
    WIRE: ClassVar[tuple[tuple[str, str], ...]] = (
        ("eventTime", "i"),
        ("eventFlags", "i"),
        ("index", "i"),
        ("time", "i"),
        ("sequence", "i"),
        ("price", "d"),
        ("underlyingPrice", "d"),
        ("delta", "d"),
        ("gamma", "d"),
        ("dividend", "d"),
        ("interest", "d"),
    )
    event_time: int | None = None
    event_flags: int | None = None
    index: int | None = None
    time: int | None = None
    sequence: int | None = None
    price: Decimal | None = None
    underlying_price: Decimal | None = None
    delta: Decimal | None = None
    gamma: Decimal | None = None
    dividend: Decimal | None = None
    interest: Decimal | None = None
    extra: tuple[tuple[str, Any], ...] = _EXTRA


@frozen
class TimeAndSale(MarketEvent):
    """One trade on the tape, with the bid and ask at the time."""

    EVENT_TYPE: ClassVar[str] = "TimeAndSale"
    WIRE: ClassVar[tuple[tuple[str, str], ...]] = (
        ("eventTime", "i"),
        ("eventFlags", "i"),
        ("index", "i"),
        ("time", "i"),
        ("timeNanoPart", "i"),
        ("sequence", "i"),
        ("exchangeCode", "s"),
        ("price", "d"),
        ("size", "d"),
        ("bidPrice", "d"),
        ("askPrice", "d"),
        ("exchangeSaleConditions", "s"),
        ("tradeThroughExempt", "s"),
        ("aggressorSide", "s"),
        ("spreadLeg", "b"),
        ("extendedTradingHours", "b"),
        ("validTick", "b"),
        ("type", "s"),
        ("buyer", "s"),
        ("seller", "s"),
    )
    event_time: int | None = None
    event_flags: int | None = None
    index: int | None = None
    time: int | None = None
    time_nano_part: int | None = None
    sequence: int | None = None
    exchange_code: str | None = None
    price: Decimal | None = None
    size: Decimal | None = None
    bid_price: Decimal | None = None
    ask_price: Decimal | None = None
    exchange_sale_conditions: str | None = None
    trade_through_exempt: str | None = None
    aggressor_side: str | None = None
    spread_leg: bool | None = None
    extended_trading_hours: bool | None = None
    valid_tick: bool | None = None
    type: str | None = None
    buyer: str | None = None
    seller: str | None = None
    extra: tuple[tuple[str, Any], ...] = _EXTRA


@frozen
class Underlying(MarketEvent):
    """An underlying's option statistics: implied volatility and option volume."""

    EVENT_TYPE: ClassVar[str] = "Underlying"
    WIRE: ClassVar[tuple[tuple[str, str], ...]] = (
        ("eventTime", "i"),
        ("eventFlags", "i"),
        ("index", "i"),
        ("time", "i"),
        ("sequence", "i"),
        ("volatility", "d"),
        ("frontVolatility", "d"),
        ("backVolatility", "d"),
        ("callVolume", "d"),
        ("putVolume", "d"),
        ("optionVolume", "d"),
        ("putCallRatio", "d"),
    )
    event_time: int | None = None
    event_flags: int | None = None
    index: int | None = None
    time: int | None = None
    sequence: int | None = None
    volatility: Decimal | None = None
    front_volatility: Decimal | None = None
    back_volatility: Decimal | None = None
    call_volume: Decimal | None = None
    put_volume: Decimal | None = None
    option_volume: Decimal | None = None
    put_call_ratio: Decimal | None = None
    extra: tuple[tuple[str, Any], ...] = _EXTRA


@frozen
class Candle(MarketEvent):
    """One bar; ``symbol`` is the candle symbol (``AAPL{=5m}``), ``time`` its start.

    History arrives as a snapshot (see :class:`EventFlag`); afterwards the bar in
    progress is sent again as it changes, with the same ``time`` and ``index``.
    """

    EVENT_TYPE: ClassVar[str] = "Candle"
    WIRE: ClassVar[tuple[tuple[str, str], ...]] = (
        ("eventTime", "i"),
        ("eventFlags", "i"),
        ("index", "i"),
        ("time", "i"),
        ("sequence", "i"),
        ("count", "i"),
        ("open", "d"),
        ("high", "d"),
        ("low", "d"),
        ("close", "d"),
        ("volume", "d"),
        ("vwap", "d"),
        ("bidVolume", "d"),
        ("askVolume", "d"),
        ("impVolatility", "d"),
        ("openInterest", "d"),
    )
    event_time: int | None = None
    event_flags: int | None = None
    index: int | None = None
    time: int | None = None
    sequence: int | None = None
    count: int | None = None
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    close: Decimal | None = None
    volume: Decimal | None = None
    vwap: Decimal | None = None
    bid_volume: Decimal | None = None
    ask_volume: Decimal | None = None
    imp_volatility: Decimal | None = None
    open_interest: Decimal | None = None
    extra: tuple[tuple[str, Any], ...] = _EXTRA

    @property
    def removed(self) -> bool:
        """Whether this event deletes a bar (or, with the snapshot flags, says there is none)."""
        return bool((self.event_flags or 0) & EventFlag.REMOVE_EVENT)


@frozen
class UnknownEvent(MarketEvent):
    """An event of a type this library does not decode, with every field as sent."""

    type_name: str = ""
    fields: tuple[tuple[str, Any], ...] = ()

    @property
    def event_type(self) -> str:
        return self.type_name


#: The event classes by DXLink type name.
EVENT_TYPES: dict[str, type[MarketEvent]] = {
    cls.EVENT_TYPE: cls
    for cls in (
        Quote,
        Trade,
        TradeETH,
        Greeks,
        Profile,
        Summary,
        TheoPrice,
        TimeAndSale,
        Underlying,
        Candle,
    )
}

# -- converters: a wire value to the field's kind; _NOT_A_VALUE for the wrong kind ------


def _decimal(value: Any) -> Any:
    kind = type(value)
    if kind is Decimal:
        return value if not value.is_nan() else None
    if kind is int:
        return Decimal(value)
    if value is None:
        return None
    if kind is str:
        if value == "NaN" or value == "":
            return None
        if value == "Infinity":
            return _INFINITY
        if value == "-Infinity":
            return _MINUS_INFINITY
        try:
            parsed = Decimal(value)
        except (InvalidOperation, ValueError):
            return _NOT_A_VALUE
        return None if parsed.is_nan() else parsed
    if kind is float:  # a decoder without parse_float=Decimal, or a bare NaN token
        if value != value:
            return None
        return (
            Decimal(repr(value))
            if value not in (float("inf"), float("-inf"))
            else (_INFINITY if value > 0 else _MINUS_INFINITY)
        )
    return _NOT_A_VALUE


def _integer(value: Any) -> Any:
    kind = type(value)
    if kind is int:
        return value
    if value is None:
        return None
    if kind is Decimal:
        if not value.is_finite():
            return None
        if value.adjusted() > 30:  # no 64-bit counter is this long: refuse to build it
            return _NOT_A_VALUE
        if value == value.to_integral_value():  # 51.0, 1.3743299E7
            return int(value)
        return _NOT_A_VALUE
    if kind is str:
        if value in ("NaN", "Infinity", "-Infinity", ""):
            return None
        try:
            return int(value)
        except ValueError:
            return _NOT_A_VALUE
    if kind is float:
        return int(value) if value == value and value.is_integer() else None
    return _NOT_A_VALUE


def _text(value: Any) -> Any:
    if type(value) is str or value is None:
        return value
    return _NOT_A_VALUE


def _boolean(value: Any) -> Any:
    if value is True or value is False or value is None:
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    return _NOT_A_VALUE


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "d": _decimal,
    "i": _integer,
    "s": _text,
    "b": _boolean,
}


def _snake(name: str) -> str:
    out = []
    for char in name:
        if char.isupper():
            out.append("_")
            out.append(char.lower())
        else:
            out.append(char)
    return "".join(out).replace("52", "_52_").replace("__", "_")


def _attribute_names(cls: type[MarketEvent]) -> dict[str, str]:
    names = {wire: _snake(wire) for wire, _ in cls.WIRE}
    names["high52WeekPrice"] = "high_52_week_price"
    names["low52WeekPrice"] = "low_52_week_price"
    return names


#: A decoder: ``decode(values, append)`` turns every row of a COMPACT value list (its
#: length a multiple of the field count) into an event and hands each to ``append``.
Decoder = Callable[[Sequence[Any], Callable[[MarketEvent], Any]], None]


def decoder_for(event_type: str, fields: Sequence[str]) -> Decoder:
    """A function that decodes every ``event_type`` row of a COMPACT value list.

    ``fields`` is the channel's field list for the type (from FEED_CONFIG). The
    function is generated once per field list: rows are unpacked by ``zip`` into one
    local per field, each value is checked inline for the kind it nearly always has
    (an ``int``, a ``str``, a ``Decimal`` from the JSON text) and goes through its
    converter only when it is something else, and the event's slots are filled
    directly, as the REST models' decoders do. That straight line is what makes a
    burst cheap to decode.
    """
    fields = tuple(fields)
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        return _unknown_decoder(event_type, fields)
    kinds = dict(cls.WIRE)
    attributes = _attribute_names(cls)
    env: dict[str, Any] = {
        "_cls": cls,
        "_twin": _twin(cls),
        "_new": object.__new__,
        "_BAD": _NOT_A_VALUE,
        "_D": Decimal,
        "_symbol": _symbol_text,
        **{f"_c_{kind}": convert for kind, convert in CONVERTERS.items()},
    }
    body = ["extra = ()"]
    assigned: dict[str, str] = {}
    symbol = "''"
    for position, name in enumerate(fields):
        value = f"f{position}"
        if name == "eventSymbol":  # the last one wins, should there be two
            symbol = value
            continue
        if name == "eventType":
            continue
        kind = kinds.get(name)
        if kind is None or name in fields[:position]:  # unknown, or a repeat: kept raw
            body.append(f"extra += (({name!r}, {value}),)")
            continue
        usual = {
            "i": f"{value}.__class__ is int",
            "s": f"{value}.__class__ is str or {value} is None",
            "d": f"{value}.__class__ is _D and not {value}.is_nan()",
            "b": f"{value} is True or {value} is False or {value} is None",
        }[kind]
        body += [
            f"if not ({usual}):",
            f"    c = _c_{kind}({value})",
            "    if c is _BAD:",
            f"        extra += (({name!r}, {value}),)",
            "        c = None",
            f"    {value} = c",
        ]
        assigned[attributes[name]] = value
    if symbol != "''":
        body.append(f"if {symbol}.__class__ is not str: {symbol} = _symbol({symbol})")
    body += ["obj = _new(_twin)", f"obj.symbol = {symbol}"]
    for spec in value_fields(cls):
        if spec.name not in ("symbol", "extra"):
            body.append(f"obj.{spec.name} = {assigned.get(spec.name, 'None')}")
    body += ["obj.extra = extra", "obj.__class__ = _cls", "append(obj)"]
    names = ", ".join(f"f{position}" for position in range(len(fields))) + ","
    source = (
        "def decode(v, append):\n"
        f"    for {names} in zip(*[iter(v)] * {len(fields)}):\n"
        + "".join(f"        {line}\n" for line in body)
    )
    exec(source, env)  # built from field names checked against the class, or repr()'d
    decode: Decoder = env["decode"]
    return decode


_TWINS: dict[type, type] = {}


def _twin(cls: type) -> type:
    """``cls`` with plain attribute setting: a decoder fills its slots, then makes the
    object a ``cls`` (whose own ``__setattr__`` refuses every change)."""
    twin = _TWINS.get(cls)
    if twin is None:
        namespace = {
            "__slots__": (),
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
        }
        twin = _TWINS[cls] = type(cls.__name__, (cls,), namespace)
    return twin


def _symbol_text(value: Any) -> str:
    return value if type(value) is str else str(value)


def _unknown_decoder(event_type: str, fields: tuple[str, ...]) -> Decoder:
    width = len(fields)
    symbol_at = fields.index("eventSymbol") if "eventSymbol" in fields else None

    def decode(values: Sequence[Any], append: Callable[[MarketEvent], Any]) -> None:
        for offset in range(0, len(values), width):
            row = values[offset : offset + width]
            symbol = _symbol_text(row[symbol_at]) if symbol_at is not None else ""
            append(
                UnknownEvent(
                    symbol=symbol,
                    type_name=event_type,
                    fields=tuple(zip(fields, row, strict=True)),
                )
            )

    return decode
