"""Streaming market data: DXLink as a sans-I/O machine, and the streams transports run.

* :mod:`~tastytrade_proto.streaming.events`: the market events (:class:`Quote`,
  :class:`Trade`, :class:`Greeks`, :class:`Candle`, ...), exact and immutable;
* :mod:`~tastytrade_proto.streaming.dxlink`: :class:`DXLinkConnection`, the protocol
  machine (text messages and ``now`` in; messages, events and deadlines out), and the
  link events it reports (:class:`Connected`, :class:`Disconnected`, ...);
* :mod:`~tastytrade_proto.streaming.buffer`: :class:`EventBuffer`, the bounded buffer
  and its policy for a slow consumer;
* :mod:`~tastytrade_proto.streaming.feed`: :class:`MarketStream` and
  :class:`AsyncMarketStream`, what ``session.market_stream()`` returns;
* :mod:`~tastytrade_proto.streaming.websocket`: what a transport provides.

See ``docs/streaming.md``.
"""

from .buffer import DEFAULT_CAPACITY, LATEST_VALUE_TYPES, EventBuffer
from .dxlink import (
    CANDLE_CHANNEL,
    DEFAULT_FIELDS,
    FEED_CHANNEL,
    CloseSocket,
    Connected,
    Disconnected,
    DisconnectReason,
    DXLinkConnection,
    DXLinkState,
    Exchange,
    FetchToken,
    Finish,
    LinkEvent,
    MalformedMessage,
    OpenSocket,
    Pause,
    StreamError,
    Subscription,
    SubscriptionRefused,
    candle_symbol,
)
from .events import (
    EVENT_TYPES,
    Candle,
    EventFlag,
    Greeks,
    MarketEvent,
    Profile,
    Quote,
    Summary,
    TheoPrice,
    TimeAndSale,
    Trade,
    TradeETH,
    Underlying,
    UnknownEvent,
    decoder_for,
)
from .feed import AsyncMarketStream, AsyncRuntime, MarketStream, SyncRuntime, epoch_milliseconds
from .websocket import AsyncWebSocket, AsyncWebSocketOpener, SyncWebSocket, SyncWebSocketOpener

__all__ = [
    "CANDLE_CHANNEL",
    "DEFAULT_CAPACITY",
    "DEFAULT_FIELDS",
    "EVENT_TYPES",
    "FEED_CHANNEL",
    "LATEST_VALUE_TYPES",
    "AsyncMarketStream",
    "AsyncRuntime",
    "AsyncWebSocket",
    "AsyncWebSocketOpener",
    "Candle",
    "CloseSocket",
    "Connected",
    "DXLinkConnection",
    "DXLinkState",
    "DisconnectReason",
    "Disconnected",
    "EventBuffer",
    "EventFlag",
    "Exchange",
    "FetchToken",
    "Finish",
    "Greeks",
    "LinkEvent",
    "MalformedMessage",
    "MarketEvent",
    "MarketStream",
    "OpenSocket",
    "Pause",
    "Profile",
    "Quote",
    "StreamError",
    "Subscription",
    "SubscriptionRefused",
    "Summary",
    "SyncRuntime",
    "SyncWebSocket",
    "SyncWebSocketOpener",
    "TheoPrice",
    "TimeAndSale",
    "Trade",
    "TradeETH",
    "Underlying",
    "UnknownEvent",
    "candle_symbol",
    "decoder_for",
    "epoch_milliseconds",
]
