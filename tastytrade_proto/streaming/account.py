"""The account streamer as a sans-I/O state machine: :class:`AccountStreamConnection`.

tastytrade pushes changes to orders, complex orders, positions and balances of the
accounts a socket subscribed to (and, on request, public watchlists and quote alerts)
over a websocket of JSON messages. The machine never reads a clock, sleeps or touches a
socket; whoever drives it (:mod:`~tastytrade_proto.streaming.account_stream`, or a loop
of your own) asks what to do and reports what happened, as with
:class:`~tastytrade_proto.streaming.dxlink.DXLinkConnection`:

* :meth:`~AccountStreamConnection.next_action` returns :class:`FetchCredential` (get
  the session's ``Authorization`` value), :class:`OpenSocket`, :class:`Exchange`
  (send :meth:`~AccountStreamConnection.messages_to_send`, then receive until a
  deadline), :class:`FetchState` (read the accounts over REST), :class:`CloseSocket`,
  :class:`Pause` or :class:`Finish`;
* the driver reports with ``credential_received``/``credential_failed``,
  ``socket_opened``/``socket_failed``/``socket_closed``, ``receive(text, now)``,
  ``handle_timer(now)`` and ``state_received``/``state_failed``;
* :meth:`~AccountStreamConnection.events` hands over account events
  (:class:`OrderUpdated`, :class:`PositionUpdated`, ...) and link events
  (:class:`~tastytrade_proto.streaming.dxlink.Connected`,
  :class:`~tastytrade_proto.streaming.dxlink.Disconnected`, :class:`Resync`,
  :class:`ActionRefused`, :class:`~tastytrade_proto.streaming.dxlink.MalformedMessage`).

What it decides, so no driver has to:

* ``connect`` first, with every account; subscriptions only once it is acknowledged;
  a ``request-id`` on every message and the current ``auth-token`` on every message,
  renewed through the session before it runs out (15-minute OAuth tokens on a socket
  that lives for days);
* a ``heartbeat`` every ``heartbeat_interval``, and a dead link declared when nothing
  came in for ``receive_timeout`` (a heartbeat is acknowledged, so a live link speaks);
* refusals (``status: error``) reported as :class:`ActionRefused`; a refused token is
  renewed once and the link reconnected, a second refusal in a row ends the stream;
* reconnecting with backoff, ``connect`` and every subscription again, then a
  **resync**: the server replays nothing, so the accounts are read over REST and every
  order, position and balance that changed meanwhile is reported (then a
  :class:`Resync`). A gap in ``ws-sequence`` triggers one too;
* order by order, nothing older than what was delivered is delivered again: an
  update that is stale or a repeat (the REST read raced the socket, the server sent a
  state twice) is dropped, and each :class:`OrderUpdated` carries in ``new_fills``
  exactly the fills not reported before, so a fill is never reported twice.
"""

from __future__ import annotations

import enum
import json
import logging
import operator
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Union

from .._redact import scrub
from ..accounts import Balances, Position, TradingStatus
from ..errors import (
    DecodeError,
    LocalProtocolError,
    ResponseError,
    StreamingError,
    TastytradeError,
    TransportError,
    WebSocketClosed,
)
from ..market_data import QuoteAlert
from ..models import Model
from ..orders.models import ComplexOrder, Fill, Order, OrderStatus
from ..values import field, fields, frozen, replace
from ..watchlists import Watchlist
from .account_state import AccountState
from .dxlink import (
    CloseSocket,
    Connected,
    Disconnected,
    DisconnectReason,
    Exchange,
    Finish,
    LinkEvent,
    MalformedMessage,
    OpenSocket,
    Pause,
    error_detail,
)

__all__ = [
    "AccountEvent",
    "AccountStreamConnection",
    "AccountStreamState",
    "ActionRefused",
    "BalancesUpdated",
    "ComplexOrderUpdated",
    "FetchCredential",
    "FetchState",
    "Notification",
    "OrderMark",
    "OrderUpdated",
    "PositionUpdated",
    "QuoteAlertTriggered",
    "Resync",
    "TradingStatusUpdated",
    "WatchlistUpdated",
    "fill_key",
    "fill_keys",
    "fill_seen",
    "is_newer",
    "order_mark",
    "unseen_fills",
]

LOGGER = logging.getLogger("tastytrade_proto.streaming")

# The actions a client sends (see docs/streaming.md).
CONNECT = "connect"
HEARTBEAT = "heartbeat"
PUBLIC_WATCHLISTS = "public-watchlists-subscribe"
QUOTE_ALERTS = "quote-alerts-subscribe"
USER_MESSAGES = "user-message-subscribe"

# A frame with more notifications than this in ``results`` is not the account
# streamer: refused rather than worked through.
_MAX_BATCH = 10_000
# Orders remembered (to tell a new state from a stale or repeated one); terminal
# ones beyond this are forgotten oldest first.
_MAX_KNOWN_ORDERS = 50_000
_EXCERPT = 200
# A frame that could not be read brings a resync, at most this often (seconds).
_MALFORMED_RESYNC_GAP = 10.0


class AccountStreamState(enum.Enum):
    """Where an :class:`AccountStreamConnection` is."""

    DISCONNECTED = "disconnected"  #: no socket: getting a credential or waiting to reconnect
    CONNECTING = "connecting"  #: the driver is opening a socket
    SUBSCRIBING = "subscribing"  #: ``connect`` sent; waiting for its acknowledgement
    LIVE = "live"  #: connected: notifications flow (a resync may be in progress)
    CLOSING = "closing"  #: the socket is being closed (to reconnect, or for good)
    CLOSED = "closed"  #: finished: closed by the caller, or failed for good


# -- what the driver is asked to do (beside the actions DXLink shares) ------------------------


@frozen
class FetchCredential:
    """Get the session's ``Authorization`` value (``session.stream_credential(refused=
    refused, min_remaining=min_remaining)``) and hand it to ``credential_received``.

    ``refused`` (a secret, not in the ``repr``) is the value the streamer turned down,
    so the session renews it rather than hand it back.
    """

    refused: str | None = field(default=None, repr=False)
    min_remaining: float = 0.0


@frozen
class FetchState:
    """Read the accounts over REST (``session.account_state(accounts)``) and hand the
    :class:`~tastytrade_proto.streaming.account_state.AccountState` to
    ``state_received`` (or the error to ``state_failed``). The socket waits meanwhile."""

    accounts: tuple[str, ...]


Action = Union[FetchCredential, OpenSocket, Exchange, FetchState, CloseSocket, Pause, Finish]


# -- what the stream reports ------------------------------------------------------------------


@frozen
class AccountEvent:
    """Base of the account streamer's notifications.

    ``timestamp`` is the server's time of the notification (epoch milliseconds;
    ``None`` when it came from a resync's REST read, or without one); ``resynced`` is
    ``True`` for what a resync found changed while no socket was listening.
    """

    def at(self) -> datetime | None:
        """The notification's ``timestamp`` as an aware datetime."""
        stamp: int | None = getattr(self, "timestamp", None)
        if stamp is None:
            return None
        return datetime.fromtimestamp(stamp / 1000, tz=timezone.utc)


@frozen
class OrderUpdated(AccountEvent):
    """An order changed (``Order``); ``order`` is its whole current state.

    ``new_fills`` are the fills of this order not reported by an earlier event (so
    summing them over the events never counts a fill twice); ``previous_status`` is
    the status last reported (``None``: the first time this order is seen).
    """

    order: Order
    new_fills: tuple[Fill, ...] = ()
    previous_status: OrderStatus | None = None
    timestamp: int | None = None
    resynced: bool = False


@frozen
class ComplexOrderUpdated(AccountEvent):
    """A complex order changed (``ComplexOrder``)."""

    complex_order: ComplexOrder
    timestamp: int | None = None
    resynced: bool = False


@frozen
class PositionUpdated(AccountEvent):
    """A position changed (``CurrentPosition``). A position closed while no socket
    listened is reported by the resync with ``quantity`` 0."""

    position: Position
    timestamp: int | None = None
    resynced: bool = False


@frozen
class BalancesUpdated(AccountEvent):
    """An account's balances changed (``AccountBalance``)."""

    balances: Balances
    timestamp: int | None = None
    resynced: bool = False


@frozen
class WatchlistUpdated(AccountEvent):
    """A public watchlist changed (``PublicWatchlists``; after ``subscribe_public_watchlists``)."""

    watchlist: Watchlist
    timestamp: int | None = None


@frozen
class QuoteAlertTriggered(AccountEvent):
    """A quote alert triggered (``QuoteAlert``; after ``subscribe_quote_alerts``)."""

    alert: QuoteAlert
    timestamp: int | None = None


@frozen
class TradingStatusUpdated(AccountEvent):
    """An account's trading status changed (``TradingStatus``)."""

    trading_status: TradingStatus
    timestamp: int | None = None


@frozen
class Notification(AccountEvent):
    """A notification of a type this library has no model for (``ExternalTransaction``,
    ``UnderlyingYearGainSummary``, ``UserMessage``, a new one): passed through raw."""

    type: str
    data: Any = field(compare=False)
    timestamp: int | None = None


@frozen
class ActionRefused(LinkEvent):
    """The server refused an action (``status: error``): ``code`` is its message
    (``connect-not-completed``, ``failed``, ``not-implemented``, ...). The stream says
    what it does about it (renew and reconnect, drop the subscription, or end)."""

    action: str
    code: str
    request_id: int | None = None

    @property
    def error(self) -> StreamingError:
        """The refusal as an error (what the stream ends with when it gives up)."""
        return StreamingError(
            f"the account streamer refused {self.action!r}: {self.code}", code=self.code
        )


@frozen
class Resync(LinkEvent):
    """A REST read of the accounts finished after a (re)connect (``reason``
    ``"connect"``, ``"reconnect"``), a gap in the server's sequence (``"gap"``), a
    message that could not be read (``"malformed"``: it may have been a change), or
    ``resync_interval`` on one socket (``"periodic"``).

    The changes it found came just before it, flagged ``resynced``: ``orders``,
    ``complex_orders``, ``positions`` and ``balances`` count them. From here on the
    consumer's picture is complete again.
    """

    reason: str
    orders: int = 0
    complex_orders: int = 0
    positions: int = 0
    balances: int = 0


# -- what the machine remembers to tell new from old ------------------------------------------

_RANK = {
    "Received": 0,
    "Routed": 1,
    "In Flight": 2,
    "Contingent": 2,
    "Live": 3,
    "Cancel Requested": 4,
    "Replace Requested": 4,
}
_TERMINAL_RANK = 5
_RANKS = {
    **_RANK,
    **{s.value: _TERMINAL_RANK for s in OrderStatus if s.terminal},
}
_ZERO = Decimal(0)
_NO_FILLS: frozenset[Any] = frozenset()


@frozen
class OrderMark:
    """What tells one state of an order from another: its status (and its rank in an
    order's life), the quantity filled, ``updated-at`` and the fills' identities."""

    status: OrderStatus | None
    rank: int
    filled: Decimal
    updated: float | None
    fills: frozenset[Any]


def fill_key(leg: int, fill: Fill) -> Any:
    """A fill's identity: its ``fill-id``, else its ``ext-exec-id``, else what it is."""
    if fill.fill_id:
        return ("id", fill.fill_id)
    if fill.ext_exec_id:
        return ("exec", fill.ext_exec_id)
    return (leg, fill.filled_at, fill.quantity, fill.fill_price)


def fill_keys(leg: int, fill: Fill) -> tuple[Any, ...]:
    """Every key a fill is known by, for :func:`fill_seen`: its ``fill-id``, its
    ``ext-exec-id``, what it is, and (when it came without a ``fill-id``) what it is
    as a fill whose id is not known. One source may give a fill's id and another not."""
    content = (leg, fill.filled_at, fill.quantity, fill.fill_price)
    keys: list[Any] = [("content", content)]
    if fill.fill_id:
        keys.append(("id", fill.fill_id))
    else:
        keys.append(("noid", content))
    if fill.ext_exec_id:
        keys.append(("exec", fill.ext_exec_id))
    return tuple(keys)


def fill_seen(leg: int, fill: Fill, known: frozenset[Any] | set[Any]) -> bool:
    """Whether ``fill`` is one of the fills whose :func:`fill_keys` are in ``known``:
    the same ``fill-id`` or ``ext-exec-id``; else, when one of the two sightings had no
    ``fill-id``, the same leg, time, quantity and price (two fills alike but for their
    ids are two fills; alike in all of these, one of them once seen without its id,
    they cannot be told apart and count as one)."""
    if fill.fill_id and ("id", fill.fill_id) in known:
        return True
    if fill.ext_exec_id and ("exec", fill.ext_exec_id) in known:
        return True
    content = (leg, fill.filled_at, fill.quantity, fill.fill_price)
    if fill.fill_id:
        return ("noid", content) in known
    return ("content", content) in known


def unseen_fills(order: Order, known: frozenset[Any] | set[Any]) -> tuple[Fill, ...]:
    """The fills of ``order`` not among ``known`` (see :func:`fill_seen`), in order."""
    return tuple(
        fill
        for index, leg in enumerate(order.legs)
        for fill in leg.fills
        if not fill_seen(index, fill, known)
    )


def order_mark(order: Order) -> OrderMark:
    """The :class:`OrderMark` of an order's state (``fills``: every :func:`fill_keys`)."""
    status = order.status
    rank = -1 if status is None else _RANKS.get(status.value, 0)
    filled = _ZERO
    keys: frozenset[Any] = _NO_FILLS
    if any(leg.fills for leg in order.legs):
        found: set[Any] = set()
        for index, leg in enumerate(order.legs):
            for fill in leg.fills:
                found.update(fill_keys(index, fill))
                if fill.quantity is not None:
                    filled += fill.quantity
        keys = frozenset(found)
    stamp = order.updated_at
    return OrderMark(status, rank, filled, None if stamp is None else stamp.timestamp(), keys)


def is_newer(new: OrderMark, old: OrderMark) -> bool | None:
    """``True`` if ``new`` is later than ``old``, ``False`` if earlier, ``None`` if the same."""
    if new.filled != old.filled:
        return new.filled > old.filled
    if (new.rank == _TERMINAL_RANK) != (old.rank == _TERMINAL_RANK):
        return new.rank == _TERMINAL_RANK
    if new.updated is not None and old.updated is not None and new.updated != old.updated:
        return new.updated > old.updated
    if new.rank != old.rank:
        return new.rank > old.rank
    if new.status != old.status or not new.fills <= old.fills:
        return True  # same rank and time, other content: take the server's word
    return None


def _updated(model: Any) -> float | None:
    stamp = getattr(model, "updated_at", None)
    return float(stamp.timestamp()) if isinstance(stamp, datetime) else None


class AccountStreamConnection:
    """The account streamer protocol for one set of accounts, across every socket.

    ``accounts`` are the account numbers to follow; ``url`` the streamer's websocket
    (``Environment.account_streamer_url``). Settings, in seconds: ``heartbeat_interval``
    (20), ``receive_timeout`` (silence that means a dead link, 60),
    ``handshake_timeout`` (for the ``connect`` acknowledgement, 10),
    ``credential_margin`` (renew a token with less than this left, 60),
    ``backoff_base``/``backoff_cap``/``max_attempts``/``jitter`` as DXLink's.
    ``resync`` (``True``): read the accounts over REST after every connect;
    ``resync_interval`` (6 hours; ``None``: never): read them again after this long on one
    socket, which also forgets the finished orders the API no longer lists (a socket can
    live for days); ``source``: the ``source`` sent with each message (``None``: none).
    """

    def __init__(
        self,
        accounts: Iterable[str] | str,
        url: str,
        *,
        heartbeat_interval: float = 20.0,
        receive_timeout: float = 60.0,
        handshake_timeout: float = 10.0,
        credential_margin: float = 60.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_attempts: int | None = None,
        resync: bool = True,
        resync_interval: float | None = 6 * 3600.0,
        source: str | None = None,
        jitter: Any = None,
    ) -> None:
        if isinstance(accounts, str):
            accounts = [accounts]
        found = []
        for account in accounts:
            if not isinstance(account, str) or not account.strip():
                raise StreamingError(f"not an account number: {account!r}")
            if account not in found:
                found.append(account)
        if not found:
            raise StreamingError("give at least one account number to stream")
        if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
            raise StreamingError(f"the account streamer URL must be ws:// or wss://, not {url!r}")
        for name, value in (
            ("heartbeat_interval", heartbeat_interval),
            ("receive_timeout", receive_timeout),
            ("handshake_timeout", handshake_timeout),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise StreamingError(f"{name} must be a positive number of seconds")
        if max_attempts is not None and (
            isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1
        ):
            raise StreamingError("max_attempts must be a positive whole number or None")
        self.accounts = tuple(found)
        self.url = url
        self.heartbeat_interval = float(heartbeat_interval)
        self.receive_timeout = float(receive_timeout)
        self.handshake_timeout = float(handshake_timeout)
        self.credential_margin = float(credential_margin)
        self.backoff_base = float(backoff_base)
        self.backoff_cap = float(backoff_cap)
        self.max_attempts = max_attempts
        self.resync = resync
        if resync_interval is not None and (
            isinstance(resync_interval, bool)
            or not isinstance(resync_interval, (int, float))
            or not resync_interval > 0
        ):
            raise StreamingError("resync_interval must be a positive number of seconds or None")
        self.resync_interval = None if resync_interval is None else float(resync_interval)
        self._synced_at: float | None = None  # when the last resync finished
        self.source = source
        self._jitter = jitter
        self._state = AccountStreamState.DISCONNECTED
        self._credential: str | None = None
        self._credential_due: float | None = None
        self._credentials: list[str] = []  # recent values, scrubbed from what is reported
        self._refused: str | None = None  # a value the server refused: renew it
        self._refusals = 0  # refused credentials in a row
        self._subscriptions: dict[str, str | None] = {}  # action -> value, in order made
        self._outbox: list[str] = []
        self._events: deque[Any] = deque()
        self._request_id = 0
        self._pending: dict[int, str] = {}  # request-id -> action, awaiting an answer
        self._attempt = 0
        self._healthy = False
        self._ever_connected = False
        self._retry_at: float | None = None
        self._last_sent = 0.0
        self._last_received = 0.0
        self._waiting_since: float | None = None
        self._paused = False
        self._failure: TastytradeError | None = None
        self._closing_for_good = False
        self._pending_disconnect: Disconnected | None = None
        self._sync_reason: str | None = None  # a resync is wanted, and why
        self._syncing = False  # FetchState handed out, no answer yet
        self._sync_retry_at: float | None = None
        self._sync_failures = 0
        self._sequence: int | None = None  # the last ws-sequence seen on this socket
        self._orders: dict[int, OrderMark] = {}
        self._complex: dict[int, Any] = {}
        self._positions: dict[tuple[str, str], Position] = {}
        self._balances: dict[str, Balances] = {}
        #: Messages from the server that could not be read (each a MalformedMessage).
        self.malformed = 0
        #: Updates dropped as older than, or the same as, what was already delivered.
        self.stale = 0

    # -- state -------------------------------------------------------------------------------

    @property
    def state(self) -> AccountStreamState:
        """The current :class:`AccountStreamState`."""
        return self._state

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """The subscriptions beyond ``connect`` (actions), replayed on every reconnect."""
        return tuple(self._subscriptions)

    @property
    def has_outgoing(self) -> bool:
        """Whether :meth:`messages_to_send` has something."""
        return bool(self._outbox)

    def messages_to_send(self) -> list[str]:
        """The text messages to send now, in order (handed over, not kept)."""
        out, self._outbox = self._outbox, []
        return out

    def events(self) -> list[Any]:
        """The events since the last call, in order."""
        out = list(self._events)
        self._events.clear()
        return out

    def pause_receiving(self, paused: bool) -> None:
        """Say the driver stopped reading for a while (its buffer is full), so the
        silence that follows is not taken for a dead link."""
        self._paused = paused

    # -- what to do next ---------------------------------------------------------------------

    def next_action(self, now: float) -> Action:
        """What the driver must do now (see the module docs)."""
        state = self._state
        if state is AccountStreamState.CLOSED:
            return Finish(self._failure)
        if state is AccountStreamState.CLOSING:
            return CloseSocket(1000)
        if self._closing_for_good:
            if state is AccountStreamState.DISCONNECTED:
                self._state = AccountStreamState.CLOSED
                return Finish(self._failure)
            self._state = AccountStreamState.CLOSING
            return CloseSocket(1000)
        if self._needs_credential(now):
            return FetchCredential(self._refused, self.credential_margin)
        if state is AccountStreamState.DISCONNECTED:
            if self.max_attempts is not None and self._attempt >= self.max_attempts:
                self._fail(
                    StreamingError(
                        f"account streamer: gave up after {self._attempt} connection "
                        "attempts in a row"
                    )
                )
                return Finish(self._failure)
            if self._retry_at is not None and now < self._retry_at:
                return Pause(self._retry_at)
            self._retry_at = None
            self._attempt += 1
            self._state = AccountStreamState.CONNECTING
            return OpenSocket(self.url)
        if state is AccountStreamState.CONNECTING:
            return OpenSocket(self.url)
        if (
            state is AccountStreamState.LIVE
            and self._sync_reason is None
            and self._synced_at is not None
            and self.resync_interval is not None
            and now >= self._synced_at + self.resync_interval
        ):
            self._sync_reason = "periodic"
        if (
            state is AccountStreamState.LIVE
            and self._sync_reason is not None
            and not self._syncing
            and (self._sync_retry_at is None or now >= self._sync_retry_at)
        ):
            self._syncing = True
            return FetchState(self.accounts)
        return Exchange(self.next_deadline())

    def _needs_credential(self, now: float) -> bool:
        if self._state is AccountStreamState.DISCONNECTED:
            if self._retry_at is not None and now < self._retry_at:
                return False
            if self._credential is None or self._refused is not None:
                return True
        elif self._state is not AccountStreamState.LIVE:
            return False
        return self._credential_due is not None and now >= self._credential_due

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must be called, if nothing arrives first (POSIX s)."""
        state = self._state
        if state in (
            AccountStreamState.CLOSED,
            AccountStreamState.DISCONNECTED,
            AccountStreamState.CONNECTING,
        ):
            return self._retry_at
        deadlines = []
        if state is AccountStreamState.LIVE:
            deadlines.append(self._last_sent + self.heartbeat_interval)
            if self._credential_due is not None:
                deadlines.append(self._credential_due)
            if self._sync_reason is not None and self._sync_retry_at is not None:
                deadlines.append(self._sync_retry_at)
            elif self._synced_at is not None and self.resync_interval is not None:
                deadlines.append(self._synced_at + self.resync_interval)
        if not self._paused:
            deadlines.append(self._last_received + self.receive_timeout)
        if self._waiting_since is not None:
            deadlines.append(self._waiting_since + self.handshake_timeout)
        return min(deadlines) if deadlines else None

    # -- the driver reports ---------------------------------------------------------------------

    def credential_received(self, authorization: str, expires_at: float | None, now: float) -> None:
        """The session's ``Authorization`` value (:class:`~tastytrade_proto.streaming.
        account_state.StreamCredential`): used on every message from now on."""
        if not isinstance(authorization, str) or not authorization:
            raise StreamingError("the session gave an empty credential")
        if self._refused is not None and authorization == self._refused:
            # The session could not renew what the server refused: nothing will change.
            self._fail(
                StreamingError(
                    "the account streamer refused the session's token and it could not be renewed",
                    code="failed",
                )
            )
            return
        self._refused = None
        self._credential = authorization
        if authorization not in self._credentials:
            bare = authorization.removeprefix("Bearer ")
            self._credentials = [*self._credentials[-6:], authorization, bare]
        if expires_at is None:
            self._credential_due = None
        elif expires_at - now > self.credential_margin:
            self._credential_due = expires_at - self.credential_margin
        else:
            # Not renewable before it runs out: ask again only then (the session
            # raises SessionExpired if it cannot renew it even so).
            self._credential_due = max(expires_at, now + 1.0)

    def credential_failed(self, error: TastytradeError, now: float) -> None:
        """Getting the credential failed: a transport failure or 5xx is retried with
        backoff; anything else (the session expired for good, a refused login) ends."""
        if _transient(error):
            if self._state is AccountStreamState.DISCONNECTED:
                self._attempt += 1
                self._schedule_retry(now, error_detail(error), DisconnectReason.CONNECT_FAILED)
            else:
                self._credential_due = now + min(self.backoff_cap, 10.0)
            return
        self._fail(error)

    def socket_opened(self, now: float) -> None:
        """The websocket is open: ``connect`` goes out."""
        self._expect(AccountStreamState.CONNECTING, "socket_opened")
        self._state = AccountStreamState.SUBSCRIBING
        self._healthy = False
        self._outbox = []
        self._pending.clear()
        self._sequence = None
        self._last_received = now
        self._waiting_since = now
        self._send(CONNECT, list(self.accounts), now)

    def socket_failed(self, error: TastytradeError, now: float) -> None:
        """The websocket could not be opened (refused, TLS, an HTTP status)."""
        self._expect(AccountStreamState.CONNECTING, "socket_failed")
        self._state = AccountStreamState.DISCONNECTED
        self._schedule_retry(now, error_detail(error), DisconnectReason.CONNECT_FAILED)

    def socket_closed(self, error: TastytradeError | None, now: float) -> None:
        """The websocket is gone: closed by us after :class:`CloseSocket` (no ``error``),
        or by the server or the network."""
        if self._state in (AccountStreamState.DISCONNECTED, AccountStreamState.CLOSED):
            return
        self._outbox = []
        self._pending.clear()
        self._waiting_since = None
        self._syncing = False
        if self._closing_for_good:
            self._state = AccountStreamState.CLOSED
            return
        pending, self._pending_disconnect = self._pending_disconnect, None
        self._state = AccountStreamState.DISCONNECTED
        if pending is not None:
            self._schedule_retry(now, pending.detail, pending.reason, pending.code)
            return
        code = error.code if isinstance(error, WebSocketClosed) else None
        if isinstance(error, WebSocketClosed) and code is not None:
            said = f", {error.reason}" if error.reason else ""
            reason = (
                DisconnectReason.SERVICE_RESTART if code == 1012 else DisconnectReason.SERVER_CLOSED
            )
            detail = f"the server closed the socket ({code}{said})"
        else:
            reason = DisconnectReason.CONNECTION_LOST
            detail = error_detail(error) if error is not None else "the socket closed"
        self._schedule_retry(now, detail, reason, code)

    def close(self) -> None:
        """Close the stream for good: the driver closes the socket, then :class:`Finish`."""
        self._closing_for_good = True
        if self._state is AccountStreamState.DISCONNECTED:
            self._state = AccountStreamState.CLOSED

    def handle_timer(self, now: float) -> None:
        """A deadline of :meth:`next_deadline` passed (early calls are harmless)."""
        if self._state not in (AccountStreamState.SUBSCRIBING, AccountStreamState.LIVE):
            return
        if self._waiting_since is not None and now >= self._waiting_since + self.handshake_timeout:
            self._lose(
                now,
                DisconnectReason.HANDSHAKE_TIMEOUT,
                f"connect was not acknowledged within {self.handshake_timeout:g} s",
            )
            return
        if not self._paused and now >= self._last_received + self.receive_timeout:
            self._lose(
                now,
                DisconnectReason.RECEIVE_TIMEOUT,
                f"nothing from the server for {self.receive_timeout:g} s",
            )
            return
        if (
            self._state is AccountStreamState.LIVE
            and now >= self._last_sent + self.heartbeat_interval
        ):
            self._send(HEARTBEAT, None, now)

    def state_received(self, state: AccountState, now: float) -> None:
        """The accounts as REST reported them (after :class:`FetchState`): what changed
        since the last delivered state is reported, then :class:`Resync`."""
        if not self._syncing:
            return  # the socket went away meanwhile: a new connect reads again
        self._syncing = False
        reason, self._sync_reason = self._sync_reason or "connect", None
        self._synced_at = now
        self._sync_retry_at = None
        self._sync_failures = 0
        counts = [0, 0, 0, 0]
        live_ids: set[int] = set()
        for order in state.orders:
            if order.id is not None:
                live_ids.add(order.id)
            counts[0] += self._order(order, None, resynced=True)
        for complex_order in state.complex_orders:
            counts[1] += self._complex_order(complex_order, None, resynced=True)
        seen_positions = set()
        for position in state.positions:
            seen_positions.add((position.account_number, position.symbol))
            counts[2] += self._position(position, None, resynced=True)
        for key, known in list(self._positions.items()):
            if key not in seen_positions and key[0] in state.accounts and known.quantity:
                closed = replace(known, quantity=Decimal(0))
                counts[2] += self._position(closed, None, resynced=True, force=True)
        for balances in state.balances:
            counts[3] += self._balance(balances, None, resynced=True)
        # Terminal orders the REST read no longer lists are done with: forget them.
        for order_id, mark in list(self._orders.items()):
            if order_id not in live_ids and mark.rank == _TERMINAL_RANK:
                del self._orders[order_id]
        self._report(Resync(reason, *counts))

    def state_failed(self, error: TastytradeError, now: float) -> None:
        """The REST read failed: tried again with backoff if it may pass; an error that
        will not (a refused account, an expired session) ends the stream."""
        if not self._syncing:
            return
        self._syncing = False
        if _transient(error):
            self._sync_failures += 1
            delay = min(self.backoff_cap, self.backoff_base * 2 ** min(self._sync_failures, 16))
            self._sync_retry_at = now + delay
            LOGGER.info(
                "account streamer: reading the accounts failed (%s)", self._scrub(str(error))
            )
            return
        self._fail(error)

    # -- subscriptions ---------------------------------------------------------------------------

    def subscribe_public_watchlists(self, now: float) -> None:
        """Ask for ``PublicWatchlists`` notifications (kept across reconnects)."""
        self._subscribe(PUBLIC_WATCHLISTS, None, now)

    def subscribe_quote_alerts(self, now: float) -> None:
        """Ask for ``QuoteAlert`` notifications (kept across reconnects)."""
        self._subscribe(QUOTE_ALERTS, None, now)

    def subscribe_user_messages(self, user_external_id: str, now: float) -> None:
        """Ask for ``UserMessage`` notifications of the user (an undocumented action)."""
        if not isinstance(user_external_id, str) or not user_external_id:
            raise StreamingError("user_external_id must be a non-empty string")
        self._subscribe(USER_MESSAGES, user_external_id, now)

    def _subscribe(self, action: str, value: str | None, now: float) -> None:
        if self._closing_for_good or self._state is AccountStreamState.CLOSED:
            raise StreamingError("the account stream is closed")
        if self._subscriptions.get(action, 0) == value:
            return
        self._subscriptions[action] = value
        if self._state is AccountStreamState.LIVE:
            self._send(action, value, now)

    # -- receiving ---------------------------------------------------------------------------------

    def receive(self, text: str | bytes, now: float) -> None:
        """One text message from the server."""
        if self._state not in (AccountStreamState.SUBSCRIBING, AccountStreamState.LIVE):
            return
        self._last_received = now
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            self._malformed("not JSON", text)
            return
        if not isinstance(message, dict):
            self._malformed("not a JSON object", text)
            return
        if "results" in message and "type" not in message and "status" not in message:
            batch = message["results"]
            if not isinstance(batch, list) or len(batch) > _MAX_BATCH:
                self._malformed("a results batch that is not a list of notifications", text)
                return
            for item in batch:
                if isinstance(item, dict) and "type" in item:
                    self._notification(item, now)
                else:
                    self._malformed("a results batch item that is not a notification", text)
            return
        if "type" in message:
            self._notification(message, now)
        elif "status" in message:
            self._acknowledgement(message, now)
        else:
            self._malformed("neither a notification nor an acknowledgement", text)

    def _acknowledgement(self, message: dict[str, Any], now: float) -> None:
        status, action = message.get("status"), message.get("action")
        request_id = message.get("request-id")
        if isinstance(request_id, bool) or not isinstance(request_id, int):
            request_id = None
        if request_id is not None and request_id in self._pending:
            action = self._pending.pop(request_id)
        elif isinstance(action, str):
            for rid, pending in list(self._pending.items()):
                if pending == action:
                    del self._pending[rid]
                    break
        if not isinstance(action, str) or status not in ("ok", "error"):
            self._malformed("an acknowledgement without a known status and action", message)
            return
        if status == "ok":
            self._healthy = True
            if action == CONNECT and self._state is AccountStreamState.SUBSCRIBING:
                self._connected(now)
            return
        code = message.get("message")
        code = code if isinstance(code, str) and code else "unknown"
        code = self._scrub(code[:_EXCERPT])
        self._report(ActionRefused(action, code, request_id))
        if code == "failed" or (action == CONNECT and code == "unauthorized"):
            self._token_refused(now)
        elif action == CONNECT:
            self._refusals += 1
            if self._refusals >= 2:
                self._fail(ActionRefused(action, code, request_id).error)
                self._state = AccountStreamState.CLOSING
            else:
                self._lose(now, DisconnectReason.PROTOCOL_ERROR, f"connect refused: {code}")
        elif code == "connect-not-completed":
            # The server lost our connect: start over on a new socket.
            self._lose(now, DisconnectReason.PROTOCOL_ERROR, "the server forgot the connect")
        elif action in self._subscriptions:
            del self._subscriptions[action]  # refused: not replayed on every reconnect

    def _token_refused(self, now: float) -> None:
        self._refusals += 1
        if self._refusals >= 2:
            self._fail(
                StreamingError(
                    "the account streamer refused the session's token twice in a row, "
                    "renewed in between",
                    code="failed",
                )
            )
            self._state = AccountStreamState.CLOSING
            return
        self._refused = self._credential
        self._lose(now, DisconnectReason.UNAUTHORIZED, "the server refused the token", retry=0.0)

    def _connected(self, now: float) -> None:
        self._state = AccountStreamState.LIVE
        self._waiting_since = None
        self._refusals = 0
        for action, value in self._subscriptions.items():
            self._send(action, value, now)
        self._report(Connected(self.url, max(self._attempt, 1), len(self._subscriptions)))
        self._attempt = 0
        if self.resync:
            self._sync_reason = "reconnect" if self._ever_connected else "connect"
            self._sync_retry_at = None
        self._ever_connected = True

    def _notification(self, message: dict[str, Any], now: float) -> None:
        kind = message.get("type")
        stamp = message.get("timestamp")
        timestamp = stamp if type(stamp) is int else None
        sequence = message.get("ws-sequence")
        if type(sequence) is int:
            last = self._sequence
            if last is None or sequence > last:
                if last is not None and sequence > last + 1 and self.resync:
                    self._sync_reason = self._sync_reason or "gap"
                self._sequence = sequence
        route = _ROUTES.get(kind) if type(kind) is str else None
        if route is None:
            if type(kind) is not str:
                self._malformed("a notification whose type is not a string", message)
                return
            self._healthy = True
            self._report(Notification(kind, message.get("data"), timestamp))
            return
        self._healthy = True
        data = message.get("data")
        model, deliver = route
        if type(data) is not dict:
            self._malformed(f"a {kind} notification whose data is not an object", message)
            return
        try:
            value = model.from_json(data)
        except DecodeError as exc:
            self._malformed(f"a {kind} notification that could not be read: {exc}", message)
            return
        deliver(self, value, timestamp)

    # -- telling new from old ---------------------------------------------------------------------

    def _order(self, order: Order, timestamp: int | None, *, resynced: bool) -> int:
        if order.id is None:
            # Nothing tells its states (or fills) from another's: reported every time, its
            # fills would be counted again each time.
            self._malformed("an Order notification without an id", dict(order.raw))
            return 0
        new = order_mark(order)
        old = self._orders.get(order.id)
        if old is not None and not is_newer(new, old):
            self.stale += 1
            return 0
        if old is None:
            fills = _all_fills(order)
        elif new.fills <= old.fills:
            fills = ()  # the usual case: a state change with no new fill
        else:
            fills = unseen_fills(order, old.fills)
            if not fills and _same_but_fill_keys(new, old):
                # The same fills, one source naming them by id, the other not: the same
                # state. Its keys are kept, so either naming is known from now on.
                self._orders[order.id] = _merged(new, old)
                self.stale += 1
                return 0
        if old is not None:
            if not new.fills >= old.fills:
                new = _merged(new, old)
            del self._orders[order.id]  # re-inserted last: the dict is oldest first
        self._orders[order.id] = new
        if len(self._orders) > _MAX_KNOWN_ORDERS:
            self._forget_oldest_terminal()
        self._report(OrderUpdated(order, fills, old.status if old else None, timestamp, resynced))
        return 1

    def _forget_oldest_terminal(self) -> None:
        for order_id, mark in self._orders.items():
            if mark.rank == _TERMINAL_RANK:
                del self._orders[order_id]
                return
        del self._orders[next(iter(self._orders))]

    def _complex_order(self, order: ComplexOrder, timestamp: int | None, *, resynced: bool) -> int:
        key = order.id
        marks = tuple(order_mark(component) for component in order.components)
        if key is not None:
            old = self._complex.get(key)
            if old is not None and (
                old == marks
                or (
                    len(old) == len(marks)
                    and all(is_newer(n, o) is not True for n, o in zip(marks, old, strict=True))
                )
            ):
                self.stale += 1
                return 0
            self._complex.pop(key, None)
            self._complex[key] = marks
            if len(self._complex) > _MAX_KNOWN_ORDERS:
                del self._complex[next(iter(self._complex))]
        self._report(ComplexOrderUpdated(order, timestamp, resynced))
        return 1

    def _position(
        self, position: Position, timestamp: int | None, *, resynced: bool, force: bool = False
    ) -> int:
        key = (position.account_number, position.symbol)
        old = self._positions.get(key)
        if old is not None and not force and not _changed(position, old):
            self.stale += 1
            return 0
        if position.quantity:
            self._positions[key] = position
        else:
            self._positions.pop(key, None)
        self._report(PositionUpdated(position, timestamp, resynced))
        return 1

    def _balance(self, balances: Balances, timestamp: int | None, *, resynced: bool) -> int:
        old = self._balances.get(balances.account_number)
        if old is not None and not _changed(balances, old):
            self.stale += 1
            return 0
        self._balances[balances.account_number] = balances
        self._report(BalancesUpdated(balances, timestamp, resynced))
        return 1

    # -- the link ---------------------------------------------------------------------------------

    def _send(self, action: str, value: Any, now: float) -> None:
        assert self._credential is not None
        self._request_id += 1
        message: dict[str, Any] = {"action": action}
        if value is not None:
            message["value"] = value
        message["auth-token"] = self._credential
        message["request-id"] = self._request_id
        if self.source is not None:
            message["source"] = self.source
        self._pending[self._request_id] = action
        if len(self._pending) > 1000:  # answers that never came: keep the newest
            del self._pending[next(iter(self._pending))]
        self._outbox.append(json.dumps(message, separators=(",", ":")))
        self._last_sent = now

    def _lose(
        self, now: float, reason: DisconnectReason, detail: str, retry: float | None = None
    ) -> None:
        self._pending_disconnect = Disconnected(reason, detail, 0.0, None)
        if retry is not None:
            self._healthy = True  # reconnect at once: the link itself was fine
        self._state = AccountStreamState.CLOSING

    def _schedule_retry(
        self, now: float, detail: str, reason: DisconnectReason, code: int | None = None
    ) -> None:
        delay = 0.0 if self._healthy else self._backoff()
        self._healthy = False
        self._retry_at = now + delay
        self._report(Disconnected(reason, self._scrub(detail), delay, code))

    def _backoff(self) -> float:
        if self._attempt <= 0:
            return 0.0
        base = min(self.backoff_cap, self.backoff_base * 2 ** min(self._attempt - 1, 16))
        jitter = self._jitter() if self._jitter is not None else 1.0
        return float(base * (0.5 + 0.5 * min(max(float(jitter), 0.0), 1.0)))

    def _fail(self, error: TastytradeError) -> None:
        if self._failure is None:
            self._failure = _scrubbed(error, self._credentials)
        self._closing_for_good = True
        if self._state is AccountStreamState.DISCONNECTED:
            self._state = AccountStreamState.CLOSED

    def _malformed(self, what: str, raw: Any) -> None:
        self.malformed += 1
        if self.resync and self._state is AccountStreamState.LIVE and self._sync_reason is None:
            # What could not be read may have been a change: read the accounts again, but
            # not more often than every _MALFORMED_RESYNC_GAP, whatever a server sends.
            self._sync_reason = "malformed"
            if self._synced_at is not None:
                self._sync_retry_at = max(
                    self._last_received, self._synced_at + _MALFORMED_RESYNC_GAP
                )
        text = raw if isinstance(raw, (str, bytes)) else json.dumps(raw, default=str)
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        excerpt = self._scrub(text[:_EXCERPT])
        self._report(MalformedMessage(StreamingError(f"account streamer sent {what}: {excerpt}")))

    def _report(self, event: Any) -> None:
        if isinstance(event, LinkEvent):
            LOGGER.info("account streamer: %s", event)
        self._events.append(event)

    def _scrub(self, text: str) -> str:
        return scrub(text, [c for c in self._credentials if c])

    def _expect(self, state: AccountStreamState, what: str) -> None:
        if self._state is not state:
            raise LocalProtocolError(f"{what} in state {self._state.name}", state=self._state.name)


def _transient(error: TastytradeError) -> bool:
    return isinstance(error, TransportError) or (
        isinstance(error, ResponseError) and error.status in (429, 500, 502, 503, 504)
    )


def _scrubbed(error: TastytradeError, secrets: Sequence[str]) -> TastytradeError:
    text = str(error)
    clean = scrub(text, [s for s in secrets if s])
    if clean == text:
        return error
    return StreamingError(clean, code=getattr(error, "code", None))


def _same_but_fill_keys(new: OrderMark, old: OrderMark) -> bool:
    return new.status == old.status and new.filled == old.filled and new.updated == old.updated


def _merged(new: OrderMark, old: OrderMark) -> OrderMark:
    return OrderMark(new.status, new.rank, new.filled, new.updated, new.fills | old.fills)


def _all_fills(order: Order) -> tuple[Fill, ...]:
    return tuple(fill for leg in order.legs for fill in leg.fills)


def _changed(new: Any, old: Any) -> bool:
    """Whether ``new`` (a position or balances) is a change from ``old``: not older by
    ``updated-at``, and different in some value besides it (a REST read stamps the
    time of the read, so an unchanged balance is not news)."""
    a, b = new.updated_at, old.updated_at
    if a is not None and b is not None and a < b:
        return False
    content = _CONTENT.get(type(new))
    if content is None:
        names = [f.name for f in fields(new) if f.compare and f.name != "updated_at"]
        content = _CONTENT[type(new)] = operator.attrgetter(*names)
    return bool(content(new) != content(old))


# Per model class, what tells one state from another: every compared field but updated_at.
_CONTENT: dict[type, Any] = {}


def _deliver_order(link: AccountStreamConnection, value: Any, timestamp: int | None) -> None:
    link._order(value, timestamp, resynced=False)


def _deliver_complex(link: AccountStreamConnection, value: Any, timestamp: int | None) -> None:
    link._complex_order(value, timestamp, resynced=False)


def _deliver_position(link: AccountStreamConnection, value: Any, timestamp: int | None) -> None:
    link._position(value, timestamp, resynced=False)


def _deliver_balances(link: AccountStreamConnection, value: Any, timestamp: int | None) -> None:
    link._balance(value, timestamp, resynced=False)


def _reporter(event: Any) -> Any:
    def deliver(link: AccountStreamConnection, value: Any, timestamp: int | None) -> None:
        link._report(event(value, timestamp))

    return deliver


# Notification type -> (its model, what to do with one).
_ROUTES: dict[str, tuple[type[Model], Any]] = {
    "Order": (Order, _deliver_order),
    "ComplexOrder": (ComplexOrder, _deliver_complex),
    "CurrentPosition": (Position, _deliver_position),
    "AccountBalance": (Balances, _deliver_balances),
    "QuoteAlert": (QuoteAlert, _reporter(QuoteAlertTriggered)),
    "TradingStatus": (TradingStatus, _reporter(TradingStatusUpdated)),
    "PublicWatchlists": (Watchlist, _reporter(WatchlistUpdated)),
}
