"""DXLink, the market data protocol, as a sans-I/O state machine: :class:`DXLinkConnection`.

The machine never reads a clock, sleeps or touches a socket. Whoever drives it (the
feeds in :mod:`~tastytrade_proto.streaming.feed`, or a loop of your own, see
``docs/streaming.md``) asks it what to do next and reports what happened, in the
manner of aioquic:

* :meth:`~DXLinkConnection.next_action` says what the driver must do now:
  :class:`FetchToken` (get a quote token over REST), :class:`OpenSocket`,
  :class:`Exchange` (send :meth:`~DXLinkConnection.messages_to_send`, then receive
  until a deadline), :class:`CloseSocket`, :class:`Pause` (wait before reconnecting)
  or :class:`Finish`;
* the driver reports back with :meth:`~DXLinkConnection.token_received`,
  :meth:`~DXLinkConnection.socket_opened`,
  :meth:`~DXLinkConnection.receive` (each text message, with ``now``),
  :meth:`~DXLinkConnection.handle_timer` (a deadline passed),
  :meth:`~DXLinkConnection.socket_closed` and the ``*_failed`` methods;
* :meth:`~DXLinkConnection.events` hands over what came of it: market events
  (:mod:`~tastytrade_proto.streaming.events`) and link events (:class:`Connected`,
  :class:`Disconnected`, :class:`StreamError`, :class:`SubscriptionRefused`,
  :class:`MalformedMessage`).

What it enforces and decides, so no driver has to:

* the handshake in the order tastytrade requires: SETUP, wait for AUTH_STATE, AUTH,
  wait for AUTHORIZED, CHANNEL_REQUEST, wait for CHANNEL_OPENED, FEED_SETUP,
  FEED_SUBSCRIPTION; anything arriving out of turn is reported, not trusted;
* decoding by each channel's FEED_CONFIG (the fields the server says it sends, not
  the ones asked for), every ``[type, values]`` pair of a COMPACT message, FULL
  messages too;
* liveness: a KEEPALIVE whenever nothing else went out for ``keepalive_interval``,
  and a dead link declared when nothing at all came in for ``receive_timeout``;
* reconnecting with backoff after any loss, then the whole handshake, every channel
  and every subscription again (candles from the last bar delivered);
* the quote token's age: fetched again after ``token_refresh_after`` (20 hours,
  well inside its 24) and whenever the server refuses it.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Union

from ..errors import StreamingError, TastytradeError, TransportError, WebSocketClosed
from ..values import frozen
from .events import (
    EVENT_TYPES,
    Candle,
    Decoder,
    EventFlag,
    MarketEvent,
    decoder_for,
)

__all__ = [
    "CANDLE_CHANNEL",
    "DEFAULT_FIELDS",
    "FEED_CHANNEL",
    "CloseSocket",
    "Connected",
    "DXLinkConnection",
    "DXLinkState",
    "DisconnectReason",
    "Disconnected",
    "Exchange",
    "FetchToken",
    "Finish",
    "LinkEvent",
    "MalformedMessage",
    "OpenSocket",
    "Pause",
    "StreamError",
    "Subscription",
    "SubscriptionRefused",
    "candle_symbol",
]

#: Link events (connected, disconnected, errors, refusals) are logged at INFO here, with
#: the quote token scrubbed; market data is never logged.
LOGGER = logging.getLogger("tastytrade_proto.streaming")

#: The channel carrying every event type but Candle (contract AUTO).
FEED_CHANNEL = 1
#: The channel carrying candles (contract HISTORY by default: see ``candle_contract``).
CANDLE_CHANNEL = 3

#: What a SETUP says this client is (``<protocol>-<implementation>/<version>``).
SETUP_VERSION = "0.1-tastytrade-proto/1"

#: The fields asked for, per event type, in the order COMPACT rows should carry them.
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    name: ("eventType", "eventSymbol", *(wire for wire, _ in cls.WIRE))
    for name, cls in EVENT_TYPES.items()
}

# A subscription message is cut into chunks of about this many bytes: the server closes
# the socket (1009) on one too big. Halved whenever that happens anyway.
_CHUNK_BYTES = 8192
_MIN_CHUNK_BYTES = 512
# More than this many fields, pairs or events in one message is not DXLink: refused
# rather than decoded, so a hostile frame cannot make the machine do unbounded work
# beyond the size of the frame itself.
_MAX_FIELDS = 512
_DECODER_CACHE = 256


class DXLinkState(enum.Enum):
    """Where a :class:`DXLinkConnection` is."""

    DISCONNECTED = "disconnected"  #: no socket: fetching a token or waiting to reconnect
    CONNECTING = "connecting"  #: the driver is opening a socket
    SETTING_UP = "setting-up"  #: SETUP sent; waiting for the server's SETUP and AUTH_STATE
    AUTHORIZING = "authorizing"  #: AUTH sent; waiting for AUTHORIZED
    READY = "ready"  #: authorized: channels open, data flows
    CLOSING = "closing"  #: the socket is being closed (to reconnect, or for good)
    CLOSED = "closed"  #: finished: closed by the caller, or failed for good


class DisconnectReason(enum.Enum):
    """Why a link went down (a :class:`Disconnected` event says which)."""

    CONNECT_FAILED = "connect-failed"  #: the socket could not be opened
    CONNECTION_LOST = "connection-lost"  #: dropped with no close frame
    SERVER_CLOSED = "server-closed"  #: a close frame (1000, 1001, and codes not below)
    SERVICE_RESTART = "service-restart"  #: close 1012, "reconnection is required"
    MESSAGE_TOO_BIG = "message-too-big"  #: close 1009: subscriptions are now cut smaller
    RECEIVE_TIMEOUT = "receive-timeout"  #: nothing came in for ``receive_timeout``
    SERVER_TIMEOUT = "server-timeout"  #: the server said our keepalive came too late
    HANDSHAKE_TIMEOUT = "handshake-timeout"  #: the server did not answer SETUP, AUTH or a channel
    UNAUTHORIZED = "unauthorized"  #: the quote token was refused (a new one is fetched)
    PROTOCOL_ERROR = "protocol-error"  #: the server sent something that breaks the protocol


_CLOSE_REASONS = {
    1009: DisconnectReason.MESSAGE_TOO_BIG,
    1012: DisconnectReason.SERVICE_RESTART,
}


# -- what the driver is asked to do ------------------------------------------------------


@frozen
class FetchToken:
    """Get a quote token (``session.quote_token()``) and hand it to ``token_received``."""


@frozen
class OpenSocket:
    """Open a websocket to ``url``, then call ``socket_opened`` (or ``socket_failed``)."""

    url: str


@frozen
class Exchange:
    """Send every message of ``messages_to_send()``, then receive until ``deadline``
    (POSIX seconds; ``None``: no deadline) and report each message with ``receive``,
    or the deadline with ``handle_timer``."""

    deadline: float | None


@frozen
class CloseSocket:
    """Close the websocket with ``code``, then call ``socket_closed`` with no error."""

    code: int = 1000


@frozen
class Pause:
    """No socket: wait until ``until`` (POSIX seconds), then ask again."""

    until: float


@frozen
class Finish:
    """Nothing more to do: the link is closed (``error`` says why, when it failed)."""

    error: TastytradeError | None = None


Action = Union[FetchToken, OpenSocket, Exchange, CloseSocket, Pause, Finish]


# -- what the link reports beside market events --------------------------------------------


@frozen
class LinkEvent:
    """Base of the events about the link itself (not market data)."""


@frozen
class Connected(LinkEvent):
    """Authorized on a new socket; ``replayed`` subscriptions were sent again.

    ``attempt`` counts the sockets opened since the last healthy one (1 for the first).
    """

    url: str
    attempt: int
    replayed: int


@frozen
class Disconnected(LinkEvent):
    """The link went down; the machine reconnects after ``retry_in`` seconds.

    ``code`` is the websocket close code when there was one, ``detail`` the reason
    in words (no secrets).
    """

    reason: DisconnectReason
    detail: str
    retry_in: float
    code: int | None = None


@frozen
class StreamError(LinkEvent):
    """An ERROR message from the server: ``error`` is its code (``BAD_ACTION``,
    ``INVALID_MESSAGE``, ``UNAUTHORIZED``, ``TIMEOUT``, ``UNSUPPORTED_PROTOCOL``,
    ``UNKNOWN``), ``message`` its text, ``channel`` where it came from."""

    error: str
    message: str
    channel: int


@frozen
class SubscriptionRefused(LinkEvent):
    """The server refused subscriptions (``BAD_ACTION``: too many candles at once, say).

    The machine keeps them and sends them again on the next connection; unsubscribe
    to give up on them.
    """

    event_type: str | None
    message: str


@frozen
class MalformedMessage(LinkEvent):
    """A message from the server that could not be read; the link carries on.

    ``error`` is the :class:`~tastytrade_proto.errors.StreamingError` saying what was
    wrong, with an excerpt of the message.
    """

    error: StreamingError


@frozen
class Subscription:
    """One live subscription: an event type and a streamer symbol.

    Candles carry their ``from_time`` (epoch milliseconds); ``symbol`` is then the
    candle symbol (``AAPL{=5m}``).
    """

    event_type: str
    symbol: str
    from_time: int | None = None


def candle_symbol(symbol: str, period: str, *, extended_hours: bool = True) -> str:
    """The candle symbol for ``symbol`` and ``period`` (``"5m"``, ``"1h"``, ``"d"``).

    A period is an optional count and a unit: ``t`` ticks, ``s``, ``m``, ``h``,
    ``d``, ``w``, ``mo``, ``o`` (option expirations), ``y``, ``v`` (volume), ``p``
    (price). ``extended_hours=False`` asks for regular trading hours only
    (``tho=true``).
    """
    period = period.strip() if isinstance(period, str) else ""
    match = _PERIOD.fullmatch(period)
    if match is None or (match["count"] and not Decimal(match["count"]) > 0):
        raise StreamingError(
            f"candle period {period!r} is not a count and a unit (5m, 1h, d, 2w, mo ...)"
        )
    attributes = f"={period}" + ("" if extended_hours else ",tho=true")
    return f"{symbol}{{{attributes}}}"


_PERIOD = re.compile(r"(?P<count>[0-9]{1,6}(?:\.[0-9]{1,6})?)?(?P<unit>mo|[tsmhdwoyvp])", re.ASCII)


class _Channel:
    """One FEED channel: its contract, whether it is open, and its FEED_CONFIG."""

    __slots__ = ("contract", "decoders", "fields", "format", "id", "open", "requested_at")

    def __init__(self, channel: int, contract: str) -> None:
        self.id = channel
        self.contract = contract
        self.open = False
        self.requested_at: float | None = None
        self.fields: dict[str, tuple[str, ...]] = {}
        self.decoders: dict[str, tuple[int, Decoder]] = {}
        self.format = "COMPACT"

    def reset(self) -> None:
        self.open = False
        self.requested_at = None
        self.fields = {}
        self.decoders = {}


class DXLinkConnection:
    """The DXLink protocol for one logical feed, across every socket it takes.

    Settings, all in seconds: ``keepalive_interval`` (how often to speak when idle; at
    most half the server's own timeout), ``receive_timeout`` (silence from the server
    that means the link is dead; also told to the server as
    ``acceptKeepaliveTimeout``), ``handshake_timeout`` (for each answer of the
    handshake), ``token_refresh_after`` (age at which a quote token is replaced),
    ``backoff_base``/``backoff_cap`` (waits between reconnects: none after a healthy
    link, then ``base``, doubling to ``cap``, scaled into [1/2, 1) by ``jitter()``),
    ``max_attempts`` (sockets tried in a row before giving up; ``None``: never give
    up). ``aggregation_period`` is the batching DXLink may apply, ``data_format``
    ``"COMPACT"`` or ``"FULL"``, ``candle_contract`` the contract of the candle
    channel (``"HISTORY"``: the one that backfills; ``"AUTO"`` as most clients).
    """

    def __init__(
        self,
        *,
        keepalive_interval: float = 30.0,
        receive_timeout: float = 60.0,
        handshake_timeout: float = 10.0,
        token_refresh_after: float = 20 * 3600.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_attempts: int | None = None,
        aggregation_period: float = 0.1,
        data_format: str = "COMPACT",
        candle_contract: str = "HISTORY",
        jitter: Any = None,
    ) -> None:
        if data_format not in ("COMPACT", "FULL"):
            raise StreamingError(f"data_format must be COMPACT or FULL, not {data_format!r}")
        for name, value in (
            ("keepalive_interval", keepalive_interval),
            ("receive_timeout", receive_timeout),
            ("handshake_timeout", handshake_timeout),
            ("token_refresh_after", token_refresh_after),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise StreamingError(f"{name} must be a positive number of seconds")
        self.keepalive_interval = float(keepalive_interval)
        self.receive_timeout = float(receive_timeout)
        self.handshake_timeout = float(handshake_timeout)
        self.token_refresh_after = float(token_refresh_after)
        self.backoff_base = float(backoff_base)
        self.backoff_cap = float(backoff_cap)
        self.max_attempts = max_attempts
        self.aggregation_period = aggregation_period
        self.data_format = data_format
        self._jitter = jitter
        self._state = DXLinkState.DISCONNECTED
        self._channels = {
            FEED_CHANNEL: _Channel(FEED_CHANNEL, "AUTO"),
            CANDLE_CHANNEL: _Channel(CANDLE_CHANNEL, candle_contract),
        }
        # Every live subscription, in the order made; the value is the candle from_time.
        self._subscriptions: dict[tuple[str, str], int | None] = {}
        self._last_bar: dict[str, int] = {}  # candle symbol -> time of the last bar delivered
        self._snapshots: dict[str, int] = {}  # candle symbol -> newest bar of an open snapshot
        self._outbox: list[str] = []
        self._events: deque[MarketEvent | LinkEvent] = deque()
        self._token: str | None = None
        self._tokens: list[str] = []  # every recent token, scrubbed from what is reported
        self._url: str | None = None
        self._token_at: float | None = None
        self._token_refused = False
        self._token_retry_at: float | None = None  # a failed refresh is tried again then
        self._refusals = 0  # fresh tokens refused in a row
        self._attempt = 0  # sockets opened since the last healthy link
        self._healthy = False  # this socket delivered something: the backoff starts over
        self._opened_at: float | None = None
        self._retry_at: float | None = None
        self._last_sent = 0.0
        self._last_received = 0.0
        self._waiting_since: float | None = None  # a handshake answer is awaited since then
        self._server_keepalive: float | None = None
        self._failure: TastytradeError | None = None
        self._closing_for_good = False
        self._pending_disconnect: Disconnected | None = None
        self._chunk_bytes = _CHUNK_BYTES
        self._paused = False
        #: How many messages from the server could not be read (each also a
        #: :class:`MalformedMessage` event).
        self.malformed = 0

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> DXLinkState:
        """The current :class:`DXLinkState`."""
        return self._state

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """Every live subscription, in the order made (what a reconnect replays)."""
        return tuple(
            Subscription(kind, symbol, self._resume_time(kind, symbol, start))
            for (kind, symbol), start in self._subscriptions.items()
        )

    # -- what to do next -------------------------------------------------------------------

    def next_action(self, now: float) -> Action:
        """What the driver must do now (see the module docs)."""
        state = self._state
        if state is DXLinkState.CLOSED:
            return Finish(self._failure)
        if state is DXLinkState.CLOSING:
            return CloseSocket(1000)
        if self._closing_for_good:
            if state is DXLinkState.DISCONNECTED:
                self._state = DXLinkState.CLOSED
                return Finish(self._failure)
            self._state = DXLinkState.CLOSING
            return CloseSocket(1000)
        if self._needs_token(now):
            return FetchToken()
        if state is DXLinkState.DISCONNECTED:
            if self._retry_at is not None and now < self._retry_at:
                return Pause(self._retry_at)
            self._retry_at = None
            if self.max_attempts is not None and self._attempt >= self.max_attempts:
                self._fail(
                    StreamingError(
                        f"DXLink: gave up after {self._attempt} connection attempts in a row"
                    )
                )
                return Finish(self._failure)
            self._attempt += 1
            self._state = DXLinkState.CONNECTING
            assert self._url is not None
            return OpenSocket(self._url)
        if state is DXLinkState.CONNECTING:
            assert self._url is not None
            return OpenSocket(self._url)
        return Exchange(self.next_deadline())

    def _needs_token(self, now: float) -> bool:
        if self._state is DXLinkState.DISCONNECTED:
            if self._retry_at is not None and now < self._retry_at:
                return False  # a failed fetch waits its backoff like a failed socket
            if self._token is None or self._token_refused:
                return True
        elif self._state is not DXLinkState.READY:
            return False  # mid-handshake: the token is renewed once the link is up
        return now >= self._token_due()

    def _token_due(self) -> float:
        """When the current token is to be replaced (or a failed replacement tried again)."""
        if self._token_at is None:
            return 0.0
        due = self._token_at + self.token_refresh_after
        return max(due, self._token_retry_at) if self._token_retry_at is not None else due

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must be called, if nothing arrives before (POSIX seconds)."""
        if self._state in (DXLinkState.CLOSED, DXLinkState.DISCONNECTED, DXLinkState.CONNECTING):
            return self._retry_at
        deadlines = [self._last_sent + self._keepalive_every()]
        if not self._paused:
            deadlines.append(self._last_received + self.receive_timeout)
        if self._waiting_since is not None:
            deadlines.append(self._waiting_since + self.handshake_timeout)
        if self._token_at is not None and self._state is DXLinkState.READY:
            deadlines.append(self._token_due())  # acted on by next_action, only when READY
        return min(deadlines)

    def _keepalive_every(self) -> float:
        if self._server_keepalive is None:
            return self.keepalive_interval
        return max(min(self.keepalive_interval, self._server_keepalive / 2), 0.5)

    @property
    def has_outgoing(self) -> bool:
        """Whether :meth:`messages_to_send` has something."""
        return bool(self._outbox)

    def messages_to_send(self) -> list[str]:
        """The text messages to send now, in order (the list is handed over, not kept)."""
        out, self._outbox = self._outbox, []
        return out

    def events(self) -> list[MarketEvent | LinkEvent]:
        """The events that arrived since the last call, in order."""
        out = list(self._events)
        self._events.clear()
        return out

    def pause_receiving(self, paused: bool) -> None:
        """Say the driver stopped reading for a while (its buffer is full), so the
        silence that follows is not taken for a dead link."""
        self._paused = paused

    # -- the driver reports ------------------------------------------------------------------

    def token_received(self, token: str, url: str | None, now: float) -> None:
        """A quote token was fetched (``QuoteToken.token``, ``QuoteToken.dxlink_url``)."""
        if not isinstance(token, str) or not token:
            raise StreamingError("the quote token is empty")
        if url is not None:
            if not isinstance(url, str) or not url.startswith(("wss://", "ws://")):
                raise StreamingError("the quote token's dxlink-url is not a ws:// or wss:// URL")
            self._url = url
        if self._url is None:
            raise StreamingError("the quote token came without a dxlink-url")
        refreshed = self._token is not None
        self._token, self._token_at = token, now
        if token not in self._tokens:
            self._tokens = [*self._tokens[-3:], token]  # the last few, for scrubbing
        self._token_refused = False
        self._token_retry_at = None
        if refreshed and self._state in (DXLinkState.READY, DXLinkState.AUTHORIZING):
            # A live link takes the new token without reconnecting (dxLink allows AUTH at
            # any time); if the server refuses it, UNAUTHORIZED brings a reconnect.
            self._send({"type": "AUTH", "channel": 0, "token": token}, now)
            self._state = DXLinkState.AUTHORIZING
            self._waiting_since = now

    def token_failed(self, error: TastytradeError, now: float) -> None:
        """Fetching a quote token failed: a transport failure is retried with backoff;
        anything else (no customer record, a refused login) ends the link."""
        if isinstance(error, TransportError) or getattr(error, "status", None) in (
            429,
            500,
            502,
            503,
            504,
        ):
            if self._state is DXLinkState.DISCONNECTED:
                self._attempt += 1  # counts toward max_attempts, as a socket would
                self._schedule_retry(now, error_detail(error), DisconnectReason.CONNECT_FAILED)
            else:
                # The live link's token still has hours left: try again in a minute.
                self._token_retry_at = now + 60.0
            return
        self._fail(error)

    def socket_opened(self, now: float) -> None:
        """The websocket is open: the handshake starts."""
        self._expect(DXLinkState.CONNECTING, "socket_opened")
        self._state = DXLinkState.SETTING_UP
        self._healthy = False
        self._opened_at = now
        self._server_keepalive = None
        self._last_received = now
        self._waiting_since = now
        for channel in self._channels.values():
            channel.reset()
        self._outbox = []
        self._send(
            {
                "type": "SETUP",
                "channel": 0,
                "version": SETUP_VERSION,
                "keepaliveTimeout": _seconds(self.keepalive_interval * 2),
                "acceptKeepaliveTimeout": _seconds(self.receive_timeout),
            },
            now,
        )

    def socket_failed(self, error: TastytradeError, now: float) -> None:
        """The websocket could not be opened (refused, TLS, an HTTP status at the upgrade)."""
        self._expect(DXLinkState.CONNECTING, "socket_failed")
        self._state = DXLinkState.DISCONNECTED
        self._schedule_retry(now, error_detail(error), DisconnectReason.CONNECT_FAILED)

    def socket_closed(self, error: TastytradeError | None, now: float) -> None:
        """The websocket is gone: closed by us after :class:`CloseSocket` (``error``
        ``None``), or by the server or the network
        (:class:`~tastytrade_proto.errors.WebSocketClosed`, another ``TransportError``)."""
        if self._state in (DXLinkState.DISCONNECTED, DXLinkState.CLOSED):
            return
        self._outbox = []
        self._waiting_since = None
        self._snapshots.clear()  # an unfinished snapshot is asked for again, whole
        for channel in self._channels.values():
            channel.reset()
        if self._closing_for_good:
            self._state = DXLinkState.CLOSED
            return
        pending, self._pending_disconnect = self._pending_disconnect, None
        self._state = DXLinkState.DISCONNECTED
        if pending is not None:
            self._schedule_retry(now, pending.detail, pending.reason, pending.code)
            return
        code = error.code if isinstance(error, WebSocketClosed) else None
        if isinstance(error, WebSocketClosed) and code is not None:
            reason = _CLOSE_REASONS.get(code, DisconnectReason.SERVER_CLOSED)
            if reason is DisconnectReason.MESSAGE_TOO_BIG:
                self._chunk_bytes = max(self._chunk_bytes // 2, _MIN_CHUNK_BYTES)
            said = f", {error.reason}" if error.reason else ""
            detail = f"the server closed the socket ({code}{said})"
        else:
            reason = DisconnectReason.CONNECTION_LOST
            detail = error_detail(error) if error is not None else "the socket closed"
        self._schedule_retry(now, detail, reason, code)

    def close(self) -> None:
        """Close the link for good: the driver closes the socket, then :class:`Finish`."""
        self._closing_for_good = True
        if self._state is DXLinkState.DISCONNECTED:
            self._state = DXLinkState.CLOSED

    def handle_timer(self, now: float) -> None:
        """A deadline from :meth:`next_deadline` passed (or may have: early calls are fine)."""
        if self._state not in (
            DXLinkState.SETTING_UP,
            DXLinkState.AUTHORIZING,
            DXLinkState.READY,
        ):
            return
        if self._waiting_since is not None and now >= self._waiting_since + self.handshake_timeout:
            self._lose(
                now,
                DisconnectReason.HANDSHAKE_TIMEOUT,
                f"no answer from the server for {self.handshake_timeout:g} s during the handshake",
                None,
            )
            return
        if not self._paused and now >= self._last_received + self.receive_timeout:
            self._lose(
                now,
                DisconnectReason.RECEIVE_TIMEOUT,
                f"nothing from the server for {self.receive_timeout:g} s",
                None,
            )
            return
        if now >= self._last_sent + self._keepalive_every():
            self._send({"type": "KEEPALIVE", "channel": 0}, now)

    # -- subscriptions -------------------------------------------------------------------------

    def subscribe(
        self, event_type: str | type[MarketEvent], symbols: Iterable[str], now: float
    ) -> None:
        """Subscribe to ``event_type`` (a name or an event class) for each streamer symbol.

        Sent at once when the link is up, otherwise on connecting. Subscribing again
        to a live pair changes nothing.
        """
        kind = _type_name(event_type)
        if kind == "Candle":
            raise StreamingError(
                "subscribe to candles with subscribe_candles(symbol, period, from_time)"
            )
        added = []
        for symbol in _symbols(symbols):
            key = (kind, symbol)
            if key not in self._subscriptions:
                self._subscriptions[key] = None
                added.append({"type": kind, "symbol": symbol})
        self._send_subscription(FEED_CHANNEL, "add", added, now)

    def unsubscribe(
        self, event_type: str | type[MarketEvent], symbols: Iterable[str], now: float
    ) -> None:
        """Stop ``event_type`` for each symbol (candle symbols too, for ``Candle``)."""
        kind = _type_name(event_type)
        removed = []
        for symbol in _symbols(symbols):
            start = self._subscriptions.pop((kind, symbol), _ABSENT)
            if start is _ABSENT:
                continue
            item: dict[str, Any] = {"type": kind, "symbol": symbol}
            if kind == "Candle":
                item["fromTime"] = self._resume_time(kind, symbol, start)  # the spec wants it
                self._last_bar.pop(symbol, None)
            removed.append(item)
        channel = CANDLE_CHANNEL if kind == "Candle" else FEED_CHANNEL
        self._send_subscription(channel, "remove", removed, now)

    def subscribe_candles(
        self,
        symbol: str,
        period: str,
        from_time: int,
        now: float,
        *,
        extended_hours: bool = True,
    ) -> str:
        """Subscribe to bars of ``period`` for ``symbol`` since ``from_time`` (epoch ms).

        Returns the candle symbol the events carry (``SPY{=5m}``). Subscribing again
        with another ``from_time`` replaces the first.
        """
        if isinstance(from_time, bool) or not isinstance(from_time, int) or from_time < 0:
            raise StreamingError("from_time must be epoch milliseconds, a non-negative int")
        name = candle_symbol(_symbols([symbol])[0], period, extended_hours=extended_hours)
        self._subscriptions[("Candle", name)] = from_time
        self._last_bar.pop(name, None)
        item = {"type": "Candle", "symbol": name, "fromTime": from_time}
        channel = self._channels[CANDLE_CHANNEL]
        if self._state is DXLinkState.READY and not channel.open:
            self._request_channel(channel, now)  # its subscriptions go out when it opens
        self._send_subscription(CANDLE_CHANNEL, "add", [item], now)
        return name

    def reset(self, now: float) -> None:
        """Drop every subscription (the channels stay open)."""
        self._subscriptions.clear()
        self._last_bar.clear()
        for channel in self._channels.values():
            if channel.open:
                self._send({"type": "FEED_SUBSCRIPTION", "channel": channel.id, "reset": True}, now)

    def _resume_time(self, kind: str, symbol: str, start: int | None) -> int | None:
        if kind != "Candle":
            return None
        # From the last bar delivered: it comes again (it may have changed since), and
        # nothing before it is asked for twice.
        last = self._last_bar.get(symbol)
        return max(start or 0, last) if last is not None else start

    def _send_subscription(
        self,
        channel_id: int,
        verb: str,
        items: list[dict[str, Any]],
        now: float,
        *,
        reset: bool = False,
    ) -> None:
        channel = self._channels[channel_id]
        if not channel.open:
            # Sent with everything else when the channel opens. (An open channel means an
            # authorized socket, also while a renewed token is being checked.)
            return
        if not items and not reset:
            return
        for chunk in self._chunks(items):
            message: dict[str, Any] = {"type": "FEED_SUBSCRIPTION", "channel": channel_id}
            if reset:
                message["reset"] = True
                reset = False
            message[verb] = chunk
            self._send(message, now)
        if reset:
            self._send({"type": "FEED_SUBSCRIPTION", "channel": channel_id, "reset": True}, now)

    def _chunks(self, items: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
        chunk: list[dict[str, Any]] = []
        size = 0
        for item in items:
            cost = len(item["symbol"]) + len(item["type"]) + 40
            if chunk and size + cost > self._chunk_bytes:
                yield chunk
                chunk, size = [], 0
            chunk.append(item)
            size += cost
        if chunk:
            yield chunk

    # -- receiving -------------------------------------------------------------------------------

    def receive(self, text: str | bytes, now: float) -> None:
        """One text message from the server, at ``now``."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise StreamingError(f"receive() takes a message's text, not {type(text).__name__}")
        if self._state not in (DXLinkState.SETTING_UP, DXLinkState.AUTHORIZING, DXLinkState.READY):
            return  # a straggler after a close: the link is being rebuilt
        self._last_received = now
        try:
            message = json.loads(text, parse_float=Decimal)
        except (ValueError, TypeError, RecursionError) as exc:
            self._malformed(f"not JSON ({type(exc).__name__})", text)
            return
        if not isinstance(message, dict):
            self._malformed("not a JSON object", text)
            return
        kind = message.get("type")
        channel = message.get("channel")
        if not isinstance(kind, str) or isinstance(channel, bool) or not isinstance(channel, int):
            self._malformed("no string type and integer channel", text)
            return
        handler = _HANDLERS.get(kind)
        if handler is None:
            self._malformed(f"unknown message type {kind!r}", text)
            return
        try:
            handler(self, message, channel, now)
        except _Malformed as exc:
            self._malformed(str(exc), text)

    def _on_setup(self, message: dict[str, Any], channel: int, now: float) -> None:
        timeout = message.get("keepaliveTimeout")
        if isinstance(timeout, (int, Decimal)) and not isinstance(timeout, bool) and timeout > 0:
            self._server_keepalive = float(timeout)

    def _on_auth_state(self, message: dict[str, Any], channel: int, now: float) -> None:
        state = message.get("state")
        if state == "AUTHORIZED":
            if self._state is DXLinkState.READY:
                return  # a repeat; nothing changes
            # (Authorized without AUTH: the server needs no token; carry on as if asked.)
            self._authorized(now)
        elif state == "UNAUTHORIZED":
            if self._state is DXLinkState.SETTING_UP and not self._token_refused:
                # The greeting: authorization is required. Now AUTH, never before.
                assert self._token is not None
                self._send({"type": "AUTH", "channel": 0, "token": self._token}, now)
                self._state = DXLinkState.AUTHORIZING
                self._waiting_since = now
                return
            self._refused(now)
        else:
            raise _Malformed(f"AUTH_STATE with state {state!r}")

    def _authorized(self, now: float) -> None:
        first = self._state is not DXLinkState.READY
        self._state = DXLinkState.READY
        self._waiting_since = None
        self._refusals = 0
        if not first:
            return
        for channel in self._channels.values():
            if channel.id == CANDLE_CHANNEL and not self._has_candles():
                continue
            self._request_channel(channel, now)

    def _has_candles(self) -> bool:
        return any(kind == "Candle" for kind, _ in self._subscriptions)

    def _request_channel(self, channel: _Channel, now: float) -> None:
        if channel.requested_at is not None or channel.open:
            return
        channel.requested_at = now
        self._waiting_since = now if self._waiting_since is None else self._waiting_since
        self._send(
            {
                "type": "CHANNEL_REQUEST",
                "channel": channel.id,
                "service": "FEED",
                "parameters": {"contract": channel.contract},
            },
            now,
        )

    def _on_channel_opened(self, message: dict[str, Any], channel_id: int, now: float) -> None:
        channel = self._channels.get(channel_id)
        if channel is None or channel.requested_at is None:
            raise _Malformed(f"CHANNEL_OPENED for channel {channel_id}, which was not requested")
        channel.open = True
        channel.requested_at = None
        if all(c.requested_at is None for c in self._channels.values()):
            self._waiting_since = None
        kinds = (
            ["Candle"]
            if channel_id == CANDLE_CHANNEL
            else [name for name in DEFAULT_FIELDS if name != "Candle"]
        )
        self._send(
            {
                "type": "FEED_SETUP",
                "channel": channel_id,
                "acceptAggregationPeriod": self.aggregation_period,
                "acceptDataFormat": self.data_format,
                "acceptEventFields": {name: list(DEFAULT_FIELDS[name]) for name in kinds},
            },
            now,
        )
        items = []
        for (kind, symbol), start in self._subscriptions.items():
            if (kind == "Candle") != (channel_id == CANDLE_CHANNEL):
                continue
            item: dict[str, Any] = {"type": kind, "symbol": symbol}
            if kind == "Candle":
                item["fromTime"] = self._resume_time(kind, symbol, start)
            items.append(item)
        self._send_subscription(channel_id, "add", items, now, reset=True)
        if channel_id == FEED_CHANNEL:
            self._report(
                Connected(
                    url=self._url or "", attempt=self._attempt, replayed=len(self._subscriptions)
                )
            )

    def _on_channel_closed(self, message: dict[str, Any], channel_id: int, now: float) -> None:
        channel = self._channels.get(channel_id)
        if channel is None:
            return
        was_open = channel.open
        channel.reset()
        if was_open and self._state is DXLinkState.READY:
            self._request_channel(channel, now)  # the server closed it on its own: open it again

    def _on_feed_config(self, message: dict[str, Any], channel_id: int, now: float) -> None:
        channel = self._open_channel(channel_id, "FEED_CONFIG")
        data_format = message.get("dataFormat", channel.format)
        if data_format not in ("COMPACT", "FULL"):
            raise _Malformed(f"FEED_CONFIG with dataFormat {data_format!r}")
        channel.format = data_format
        fields = message.get("eventFields")
        if fields is None:
            return
        if not isinstance(fields, dict):
            raise _Malformed("FEED_CONFIG eventFields is not an object")
        for kind, names in fields.items():  # merged per type: a later config wins
            if kind not in channel.fields and len(channel.fields) >= _DECODER_CACHE:
                raise _Malformed(f"FEED_CONFIG names more than {_DECODER_CACHE} event types")
            if (
                not isinstance(names, list)
                or len(names) > _MAX_FIELDS
                or not all(isinstance(name, str) for name in names)
                or not names
            ):
                raise _Malformed(f"FEED_CONFIG fields of {kind!r} are not a list of names")
            channel.fields[kind] = tuple(names)
            channel.decoders.pop(kind, None)

    def _open_channel(self, channel_id: int, what: str) -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None or not channel.open:
            raise _Malformed(f"{what} on channel {channel_id}, which is not open")
        return channel

    def _on_feed_data(self, message: dict[str, Any], channel_id: int, now: float) -> None:
        channel = self._open_channel(channel_id, "FEED_DATA")
        data = message.get("data")
        if not isinstance(data, list):
            raise _Malformed("FEED_DATA without a data list")
        self._healthy = True
        if data and isinstance(data[0], dict):
            self._decode_full(channel, data)
            return
        if len(data) % 2:
            raise _Malformed("COMPACT FEED_DATA is not [type, values] pairs")
        problems = []
        for at in range(0, len(data), 2):
            kind, values = data[at], data[at + 1]
            if not isinstance(kind, str) or not isinstance(values, list):
                problems.append(f"pair {at // 2} is not a type name and a value list")
                continue
            found = self._decoder(channel, kind)
            if found is None:
                problems.append(f"no field list for {kind!r} on channel {channel.id}")
                continue
            width, decode = found
            if len(values) % width:
                problems.append(
                    f"{len(values)} values for {kind!r} do not divide into rows of {width} fields"
                )
                continue
            self._deliver(kind, decode, values)
        if problems:
            raise _Malformed("; ".join(problems))

    def _deliver(self, kind: str, decode: Decoder, values: list[Any]) -> None:
        if kind == "Candle":
            decode(values, self._deliver_bar)
        else:
            decode(values, self._events.append)

    def _deliver_bar(self, bar: MarketEvent) -> None:
        if type(bar) is Candle:
            self._track_bar(bar)
        self._events.append(bar)

    def _track_bar(self, bar: Candle) -> None:
        """Remember the newest bar delivered of each candle subscription, for a resume.

        History comes as a snapshot, newest first as often as not: a bar inside a
        snapshot counts only once the snapshot ends, so a reconnect in the middle of
        one asks for all of it again rather than leaving a gap.
        """
        symbol = bar.symbol
        if ("Candle", symbol) not in self._subscriptions:
            return  # not ours: nothing to resume, and no table to grow
        flags = bar.event_flags or 0
        if flags & EventFlag.SNAPSHOT_BEGIN:
            self._snapshots[symbol] = -1
        usable = bar.time is not None and not bar.removed
        if symbol in self._snapshots:
            if usable:
                self._snapshots[symbol] = max(self._snapshots[symbol], bar.time or 0)
            if flags & (EventFlag.SNAPSHOT_END | EventFlag.SNAPSHOT_SNIP):
                newest = self._snapshots.pop(symbol)
                if newest > self._last_bar.get(symbol, -1):
                    self._last_bar[symbol] = newest
        elif usable and (bar.time or 0) > self._last_bar.get(symbol, -1):
            self._last_bar[symbol] = bar.time or 0

    def _decoder(self, channel: _Channel, kind: str) -> tuple[int, Decoder] | None:
        found = channel.decoders.get(kind)
        if found is None:
            fields = channel.fields.get(kind) or DEFAULT_FIELDS.get(kind)
            if fields is None:
                return None
            if len(channel.decoders) >= _DECODER_CACHE:
                channel.decoders.clear()
            found = (len(fields), decoder_for(kind, fields))
            channel.decoders[kind] = found
        return found

    def _decode_full(self, channel: _Channel, data: list[Any]) -> None:
        problems = 0
        for item in data:
            if not isinstance(item, dict) or not all(isinstance(key, str) for key in item):
                problems += 1
                continue
            kind = item.get("eventType")
            if not isinstance(kind, str) or len(item) > _MAX_FIELDS:
                problems += 1
                continue
            fields = tuple(item)
            key = "\x00".join((kind, *fields))
            found = channel.decoders.get(key)
            if found is None:
                if len(channel.decoders) >= _DECODER_CACHE:
                    channel.decoders.clear()
                found = (len(fields), decoder_for(kind, fields))
                channel.decoders[key] = found
            self._deliver(kind, found[1], list(item.values()))
        if problems:
            raise _Malformed(f"{problems} FULL events without a string eventType")

    def _on_keepalive(self, message: dict[str, Any], channel: int, now: float) -> None:
        pass  # arriving at all is the point: _last_received moved

    def _on_error(self, message: dict[str, Any], channel: int, now: float) -> None:
        error = message.get("error")
        text = message.get("message")
        error = error if isinstance(error, str) else "UNKNOWN"
        text = self._scrub(text if isinstance(text, str) else "")
        self._report(StreamError(error=error, message=text[:500], channel=channel))
        if error == "UNSUPPORTED_PROTOCOL":
            self._fail(
                StreamingError(f"DXLink does not accept this client: {text[:200]}", code=error)
            )
        elif error == "TIMEOUT":
            self._lose(
                now,
                DisconnectReason.SERVER_TIMEOUT,
                f"the server timed the link out: {text[:200]}",
                None,
            )
        elif error == "UNAUTHORIZED":
            self._refused(now)
        elif error == "BAD_ACTION" and "subscription" in text.lower():
            kind = next((name for name in EVENT_TYPES if f"'{name}'" in text), None)
            self._report(SubscriptionRefused(event_type=kind, message=text[:500]))
        # Any other ERROR is informational (the spec says so); the server closes the
        # socket if it means it, and socket_closed handles that.

    # -- losing and failing -----------------------------------------------------------------

    def _refused(self, now: float) -> None:
        """The quote token was refused: reconnect with a new one, three tries in a row."""
        self._token_refused = True
        self._refusals += 1
        if self._refusals >= 3:
            self._fail(
                StreamingError(
                    "DXLink refused three quote tokens in a row; "
                    "check that the account may stream market data",
                    code="UNAUTHORIZED",
                )
            )
            return
        self._lose(now, DisconnectReason.UNAUTHORIZED, "the server refused the quote token", None)

    def _lose(self, now: float, reason: DisconnectReason, detail: str, code: int | None) -> None:
        """Give up on this socket: close it, then reconnect."""
        if self._state in (DXLinkState.DISCONNECTED, DXLinkState.CLOSED, DXLinkState.CLOSING):
            return
        self._outbox = []
        self._state = DXLinkState.CLOSING
        self._pending_disconnect = Disconnected(
            reason=reason, detail=detail, retry_in=0.0, code=code
        )

    def _schedule_retry(
        self, now: float, detail: str, reason: DisconnectReason, code: int | None = None
    ) -> None:
        if self._healthy or (self._opened_at is not None and now - self._opened_at >= 30.0):
            self._attempt = 0  # this link worked: the next try is at once
        self._opened_at = None
        self._healthy = False
        delay = self._backoff()
        self._retry_at = now + delay
        detail = self._scrub(detail)
        self._report(Disconnected(reason=reason, detail=detail, retry_in=delay, code=code))

    def _backoff(self) -> float:
        # No wait after a healthy link; then base, doubling to cap (scaled by jitter).
        if self._attempt <= 1:
            return 0.0 if self._attempt == 0 else self.backoff_base
        delay = min(self.backoff_cap, self.backoff_base * 2.0 ** (self._attempt - 1))
        if self._jitter is not None:
            delay *= 0.5 + float(self._jitter()) / 2
        return delay

    def _fail(self, error: TastytradeError) -> None:
        self._failure = error
        self._closing_for_good = True
        if self._state in (DXLinkState.DISCONNECTED, DXLinkState.CONNECTING):
            self._state = DXLinkState.CLOSED
        elif self._state is not DXLinkState.CLOSED:
            self._state = DXLinkState.CLOSING

    def _malformed(self, what: str, text: str | bytes) -> None:
        self.malformed += 1
        excerpt = self._scrub(text if isinstance(text, str) else repr(bytes(text[:200])))[:120]
        self._report(
            MalformedMessage(
                StreamingError(f"DXLink message from the server ignored: {what}: {excerpt!r}")
            )
        )

    def _report(self, event: LinkEvent) -> None:
        """Hand a link event to the caller, and log it."""
        self._events.append(event)
        if LOGGER.isEnabledFor(logging.INFO):
            LOGGER.info("DXLink: %s", self._scrub(repr(event)))

    def _scrub(self, text: str) -> str:
        """``text`` without any quote token this link has held (a server may echo one)."""
        for token in self._tokens:
            if token in text:
                text = text.replace(token, "<redacted>")
        return text

    def _send(self, message: dict[str, Any], now: float) -> None:
        self._outbox.append(json.dumps(message, separators=(",", ":"), default=str))
        self._last_sent = now

    def _expect(self, state: DXLinkState, what: str) -> None:
        if self._state is not state and not self._closing_for_good:
            raise StreamingError(f"{what}() in state {self._state.name}")


class _Malformed(Exception):
    """A message that breaks the protocol; becomes a MalformedMessage event."""


_ABSENT: Any = object()

_HANDLERS = {
    "SETUP": DXLinkConnection._on_setup,
    "AUTH_STATE": DXLinkConnection._on_auth_state,
    "CHANNEL_OPENED": DXLinkConnection._on_channel_opened,
    "CHANNEL_CLOSED": DXLinkConnection._on_channel_closed,
    "FEED_CONFIG": DXLinkConnection._on_feed_config,
    "FEED_DATA": DXLinkConnection._on_feed_data,
    "KEEPALIVE": DXLinkConnection._on_keepalive,
    "ERROR": DXLinkConnection._on_error,
}


_CANONICAL = {name.lower(): name for name in EVENT_TYPES}


def _type_name(event_type: str | type[MarketEvent]) -> str:
    if isinstance(event_type, type) and issubclass(event_type, MarketEvent):
        name = event_type.EVENT_TYPE
    else:
        # "quote" is a Quote: the server would take the wrong case as a type it lacks
        # and send nothing, with no error to say why.
        name = (
            _CANONICAL.get(event_type.lower(), event_type)
            if isinstance(event_type, str)
            else event_type
        )
    if not isinstance(name, str) or not name or not name.isidentifier():
        raise StreamingError(f"not an event type: {event_type!r}")
    return name


def _symbols(symbols: Iterable[str] | str) -> list[str]:
    if isinstance(symbols, str):
        symbols = [symbols]
    out = []
    for symbol in symbols:
        if not isinstance(symbol, str) or not symbol.strip():
            raise StreamingError(f"not a streamer symbol: {symbol!r}")
        out.append(symbol.strip())
    return out


def _seconds(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def error_detail(error: BaseException) -> str:
    """An error in a few words for a :class:`Disconnected` event (messages are scrubbed)."""
    text = str(error) or type(error).__name__
    return text[:300]
