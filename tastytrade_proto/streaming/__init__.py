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
* :mod:`~tastytrade_proto.streaming.account`: :class:`AccountStreamConnection`, the
  account streamer's machine, and its events (:class:`OrderUpdated`,
  :class:`PositionUpdated`, :class:`BalancesUpdated`, :class:`Resync`, ...);
* :mod:`~tastytrade_proto.streaming.account_state`: the REST side of the account
  streamer (its credential, and the accounts' state a resync reads);
* :mod:`~tastytrade_proto.streaming.account_stream`: :class:`AccountStream` and
  :class:`AsyncAccountStream`, what ``session.account_stream()`` returns;
* :mod:`~tastytrade_proto.streaming.tracking`: :class:`OrderTracker`, behind
  ``session.track_order()`` and ``session.wait_for_order()``;
* :mod:`~tastytrade_proto.streaming.websocket`: what a transport provides.

See ``docs/streaming.md``.
"""

from .account import (
    AccountEvent,
    AccountStreamConnection,
    AccountStreamState,
    ActionRefused,
    BalancesUpdated,
    ComplexOrderUpdated,
    FetchCredential,
    FetchState,
    Notification,
    OrderUpdated,
    PositionUpdated,
    QuoteAlertTriggered,
    Resync,
    TradingStatusUpdated,
    WatchlistUpdated,
)
from .account_state import AccountState, StreamCredential
from .account_stream import AccountStream, AsyncAccountStream
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
from .feed import (
    AsyncMarketStream,
    AsyncRuntime,
    AsyncStream,
    MarketStream,
    SyncRuntime,
    SyncStream,
    epoch_milliseconds,
)
from .tracking import (
    AsyncOrderTracking,
    FindOrder,
    OrderTracker,
    OrderTracking,
    OrderWaitTimeout,
    PollComplexOrder,
    PollOrder,
)
from .websocket import AsyncWebSocket, AsyncWebSocketOpener, SyncWebSocket, SyncWebSocketOpener

__all__ = [
    "CANDLE_CHANNEL",
    "DEFAULT_CAPACITY",
    "DEFAULT_FIELDS",
    "EVENT_TYPES",
    "FEED_CHANNEL",
    "LATEST_VALUE_TYPES",
    "AccountEvent",
    "AccountState",
    "AccountStream",
    "AccountStreamConnection",
    "AccountStreamState",
    "ActionRefused",
    "AsyncAccountStream",
    "AsyncMarketStream",
    "AsyncOrderTracking",
    "AsyncRuntime",
    "AsyncStream",
    "AsyncWebSocket",
    "AsyncWebSocketOpener",
    "BalancesUpdated",
    "Candle",
    "CloseSocket",
    "ComplexOrderUpdated",
    "Connected",
    "DXLinkConnection",
    "DXLinkState",
    "DisconnectReason",
    "Disconnected",
    "EventBuffer",
    "EventFlag",
    "Exchange",
    "FetchCredential",
    "FetchState",
    "FetchToken",
    "FindOrder",
    "Finish",
    "Greeks",
    "LinkEvent",
    "MalformedMessage",
    "MarketEvent",
    "MarketStream",
    "Notification",
    "OpenSocket",
    "OrderTracker",
    "OrderTracking",
    "OrderUpdated",
    "OrderWaitTimeout",
    "Pause",
    "PollComplexOrder",
    "PollOrder",
    "PositionUpdated",
    "Profile",
    "Quote",
    "QuoteAlertTriggered",
    "Resync",
    "StreamCredential",
    "StreamError",
    "Subscription",
    "SubscriptionRefused",
    "Summary",
    "SyncRuntime",
    "SyncStream",
    "SyncWebSocket",
    "SyncWebSocketOpener",
    "TheoPrice",
    "TimeAndSale",
    "Trade",
    "TradeETH",
    "TradingStatusUpdated",
    "Underlying",
    "UnknownEvent",
    "WatchlistUpdated",
    "candle_symbol",
    "decoder_for",
    "epoch_milliseconds",
]
