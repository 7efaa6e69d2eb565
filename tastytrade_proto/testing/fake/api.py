"""A stateful fake of the tastytrade API: a pure ``Request`` in, ``Response`` out core.

:class:`FakeTastytradeAPI` keeps users, sessions, remember tokens, OAuth
grants, accounts, balances, positions and orders, and answers with the real
API's envelopes, headers, status codes and error bodies (the facts are in
https://developer.tastytrade.com/ and the real answers in ``tests/samples``). It reads time
only from the clock it is given, so a test can move time forward.

It does no I/O. :class:`~tastytrade_proto.testing.server.FakeTastytradeServer`
serves it over real HTTP or HTTPS on loopback; a test can also call
:meth:`FakeTastytradeAPI.handle` directly.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from ...errors import CLASSIC_OTP_INVALID_CODE, CLASSIC_OTP_REQUIRED_CODE
from ...protocol.http import Request, Response
from . import accounts, alerts, instruments, market, orders, watchlists
from .kit import Refused, Route, body_of, error, query, query_one, refuse, reply
from .orders import OrderChange

if TYPE_CHECKING:
    from .account_streamer import FakeAccountStreamerConnection

__all__ = [
    "DEMO_CLIENT_SECRET",
    "DEMO_LOGIN",
    "DEMO_OTP",
    "DEMO_PASSWORD",
    "DEMO_REFRESH_TOKEN",
    "AccountStreamFault",
    "AccountStreamFaultKind",
    "FakeAccount",
    "FakeTastytradeAPI",
    "FakeUser",
    "Fault",
    "FaultKind",
    "OrderChange",
    "RecordedMessage",
    "RecordedRequest",
    "Reply",
    "SecondFactor",
    "StreamFault",
    "StreamFaultKind",
]

T = TypeVar("T")

DEMO_LOGIN = "demo"
DEMO_PASSWORD = "demo-password"
DEMO_OTP = "123456"
DEMO_CLIENT_SECRET = "demo-client-secret"
DEMO_REFRESH_TOKEN = "demo-refresh-token"

_USER_AGENT = re.compile(r"[^/\s]+/[^/\s]+")
_MAX_BODY = 1024 * 1024

# What nginx answers when the User-Agent is missing or not product/version.
_NGINX_401 = (
    b"<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
    b"<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_LOAD_BALANCER_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body>"
    b"<h1>502 Bad Gateway</h1><p>The upstream server did not answer.</p></body></html>"
)


class SecondFactor(enum.Enum):
    """Which second factor a fake user's password logins demand."""

    NONE = "none"
    #: Classic: ``X-Tastyworks-OTP`` on ``POST /sessions``.
    OTP = "otp"
    #: 403 ``device_challenge_required``, ``POST /device-challenge``, then the code.
    DEVICE_CHALLENGE = "device-challenge"
    #: The device challenge, with a security question before the code.
    SECURITY_QUESTION = "security-question"


class FaultKind(enum.Enum):
    """Failures the fake can inject, each as the real world shows it."""

    RATE_LIMITED = "rate-limited"  #: 429, optionally with Retry-After
    SERVER_ERROR = "server-error"  #: a JSON 5xx (500, 502, 503, ...)
    HTML_ERROR = "html-error"  #: a load balancer's HTML 502 page
    TRUNCATED = "truncated"  #: the connection closes halfway through the body
    DISCONNECT = "disconnect"  #: the connection closes before any answer
    SLOW = "slow"  #: the answer comes after ``delay`` seconds


@dataclass(slots=True)
class Fault:
    """One injected failure, applied to the next ``times`` matching requests.

    ``method`` and ``path`` (a prefix) narrow which requests match. By default
    the request fails before the fake handles it (nothing changes). With
    ``after_handling=True`` the fake handles it first (an order is placed,
    replaced or cancelled) and only the answer is lost: ``TRUNCATED`` cuts the
    real answer halfway, ``DISCONNECT`` closes without it, ``SERVER_ERROR``,
    ``HTML_ERROR`` and ``RATE_LIMITED`` replace it. That is the "placed, but
    the client never heard" case an order-reconciliation test needs.
    """

    kind: FaultKind
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    method: str | None = None
    path: str | None = None
    times: int = 1
    after_handling: bool = False

    def matches(self, method: str, path: str) -> bool:
        """Whether a request for ``method`` and ``path`` is one this fault hits."""
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )


class StreamFaultKind(enum.Enum):
    """Failures the fake's DXLink websocket can inject, each as the real one shows it."""

    DROP = "drop"  #: the socket closes with no close frame (a network drop)
    STALL = "stall"  #: the server goes silent: no data, no KEEPALIVE, input ignored
    RESTART = "restart"  #: close frame 1012 "Reconnection is required"
    EXPIRE_TOKEN = "expire-token"  #: the quote token lapses now: ERROR UNAUTHORIZED
    MALFORMED_JSON = "malformed-json"  #: a text frame that is not JSON
    MALFORMED_DATA = "malformed-data"  #: a FEED_DATA whose values do not fit the fields
    BURST = "burst"  #: ``count`` Quote events as fast as possible, ``batch`` per message


@dataclass(slots=True, eq=False)
class StreamFault:
    """One injected websocket failure, applied ``times`` times (once per connection step).

    It fires on the first websocket connection (``connection`` narrows it to one
    connection id) that is in a state where it can: ``DROP``, ``STALL`` and
    ``RESTART`` on any open connection; ``EXPIRE_TOKEN`` once authorized;
    ``MALFORMED_JSON`` once authorized; ``MALFORMED_DATA`` and ``BURST`` once a feed
    channel has a subscription (``BURST`` to its Quote symbols, or the fake's equities
    when it has none). ``fired`` is set, and ``hits`` counts up, each time it fires,
    so a test can wait for it without sleeping: ``fault.fired.wait(5)``.
    """

    kind: StreamFaultKind
    times: int = 1
    connection: int | None = None
    count: int = 100_000
    batch: int = 100
    hits: int = 0
    fired: threading.Event = field(default_factory=threading.Event, repr=False)


class AccountStreamFaultKind(enum.Enum):
    """Failures the fake's account streamer can inject, each as the real one shows it."""

    #: Every account-streamer socket closes with no close frame (a network drop).
    DROP = "drop"
    #: The sockets go silent until they are dropped: no acks, no notifications, input
    #: ignored, no idle timeout. A client notices only by its own liveness timeout.
    STALL = "stall"
    #: The next ``connect`` is refused: ``{"status": "error", "message": <message>}``.
    REFUSE_CONNECT = "refuse-connect"
    #: The token a connected socket authenticated with expires now, for REST too (401).
    EXPIRE_TOKEN = "expire-token"


@dataclass(slots=True, eq=False)
class AccountStreamFault:
    """One injected account-streamer failure, applied ``times`` times.

    ``DROP`` and ``STALL`` fire at once on every open account-streamer socket
    (``connection`` narrows it to one connection id), or, with none open, on the
    next one; ``EXPIRE_TOKEN`` on every socket that has connected (its token
    expires); ``REFUSE_CONNECT`` on the next ``connect`` message, answered with
    ``message``. ``fired`` is set, and ``hits`` counts the sockets hit, so a test
    waits with ``fault.fired.wait(5)``, never a sleep.
    """

    kind: AccountStreamFaultKind
    times: int = 1
    connection: int | None = None
    message: str = "failed"
    hits: int = 0
    fired: threading.Event = field(default_factory=threading.Event, repr=False)


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """One websocket message the fake's DXLink endpoint received or sent.

    ``direction`` is ``"in"`` (from the client), ``"out"`` (to it) or ``"close"``
    (the server closed the socket: ``text`` is ``"<code> <reason>"``, code 1006 for a
    drop without a close frame). A quote token in an ``AUTH`` message is replaced by
    ``"<redacted>"``. ``at`` is the fake's clock.
    """

    connection: int
    direction: str
    text: str
    at: float

    def json(self) -> Any:
        """The text parsed as JSON (``None`` when it is not JSON)."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Reply:
    """What the fake answers: a response, and how the server should deliver it."""

    response: Response
    delay: float = 0.0
    truncate: bool = False
    disconnect: bool = False


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake received, as received."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    body: bytes = field(repr=False)
    at: float

    def json(self) -> Any:
        """The body parsed as JSON (``None`` when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(slots=True)
class FakeAccount:
    """An account and what is in it."""

    account_number: str
    nickname: str = "Individual"
    account_type: str = "Individual"
    margin_or_cash: str = "Margin"
    cash_balance: Decimal = Decimal("25000.00")
    positions: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class FakeUser:
    """A user the fake knows, with the behaviours switched on for them."""

    login: str
    password: str
    email: str
    username: str
    external_id: str
    second_factor: SecondFactor = SecondFactor.NONE
    otp: str = DEMO_OTP
    security_question: str = "What was the name of your first pet?"
    security_answer: str = "Fido"
    phone: str = "********0000"
    accounts: list[str] = field(default_factory=list)
    legacy_sessions: bool = True
    oauth: bool = True


@dataclass(slots=True)
class _Token:
    login: str
    expires_at: float
    scheme: str  # "session" or "oauth"


@dataclass(slots=True)
class _Challenge:
    login: str
    answered: bool = False
    code_sent: bool = False


@dataclass(slots=True)
class _Grant:
    login: str
    client_secret: str
    client_id: str


def _support_id(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


class FakeTastytradeAPI:
    """The fake API's state and rules; :meth:`handle` answers one request.

    ``clock`` gives POSIX seconds (pass a :class:`~tastytrade_proto.testing.FakeClock`
    to move time by hand). ``legacy_sessions`` and ``oauth`` switch the two
    authentication generations on or off for everyone (each user can also be
    switched off alone). ``drift`` makes the fake send the type drift the
    real API shows: ``multiplier`` as ``"1.0"``, position ``quantity`` as a
    string, timestamps with ``Z`` instead of ``+00:00``. ``market_open``
    (an attribute too) says whether orders route and fill; :meth:`set_mark`
    sets the prices they fill at. ``seed_demo`` adds the demo user
    (``DEMO_LOGIN``/``DEMO_PASSWORD``, OAuth grant
    ``DEMO_CLIENT_SECRET``/``DEMO_REFRESH_TOKEN``) with two accounts.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        session_lifetime: float = 24 * 3600,
        access_token_lifetime: float = 900,
        legacy_sessions: bool = True,
        oauth: bool = True,
        rotate_refresh_tokens: bool = False,
        drift: bool = False,
        market_open: bool = True,
        seed_demo: bool = True,
    ) -> None:
        self.clock = clock
        self.session_lifetime = session_lifetime
        self.access_token_lifetime = access_token_lifetime
        self.legacy_sessions = legacy_sessions
        self.oauth = oauth
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.drift = drift
        #: While False, new orders stay ``Received`` and nothing fills.
        self.market_open = market_open
        self.users: dict[str, FakeUser] = {}
        self.accounts: dict[str, FakeAccount] = {}
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        #: Where ``GET /api-quote-tokens`` sends clients; a server sets its own.
        self.dxlink_url = market.DXLINK_URL
        #: Seconds the DXLink endpoint waits for a client message before ERROR TIMEOUT.
        self.dxlink_keepalive_timeout = 60.0
        #: Every DXLink websocket message, both ways (see :class:`RecordedMessage`).
        self.stream_messages: list[RecordedMessage] = []
        self.stream_faults: list[StreamFault] = []
        self._stream_connections = 0
        #: Seconds the account streamer waits for a client message before it closes.
        self.account_streamer_timeout = 60.0
        #: Every account-streamer websocket message, both ways, tokens redacted.
        self.account_stream_messages: list[RecordedMessage] = []
        self.account_stream_faults: list[AccountStreamFault] = []
        #: The open account-streamer connections, which :meth:`publish` offers frames to.
        self.account_streams: list[FakeAccountStreamerConnection] = []
        self._account_stream_connections = 0
        #: Every change of every order's state, in order (see :class:`OrderChange`).
        self.order_history: list[OrderChange] = []
        #: Held while the fake changes or reads its state; the server takes it around every
        #: request and websocket step, and the admin methods take it, so a test thread
        #: may call them while the server runs.
        self.lock = threading.RLock()
        self._tokens: dict[str, _Token] = {}
        self._remember: dict[str, str] = {}  # remember token -> login
        self._challenges: dict[str, _Challenge] = {}
        self._grants: dict[str, _Grant] = {}  # refresh token -> grant
        self._counter = 0
        self._next_order_id = 100_001
        self._areas: dict[str, Any] = {}
        if seed_demo:
            self._seed_demo()
            for area in _AREAS:
                area.seed(self)

    def area(self, name: str, factory: Callable[[], T]) -> T:
        """The state one area of the fake keeps (made by ``factory`` on first use)."""
        if name not in self._areas:
            self._areas[name] = factory()
        result: T = self._areas[name]
        return result

    # -- setting the scene -------------------------------------------------------

    def add_user(
        self,
        login: str,
        password: str,
        *,
        second_factor: SecondFactor = SecondFactor.NONE,
        accounts: Iterable[str] = (),
        **details: Any,
    ) -> FakeUser:
        """Add a user who can log in with ``login`` and ``password``."""
        number = len(self.users) + 1
        user = FakeUser(
            login=login,
            password=password,
            email=details.pop("email", f"{login}@example.com"),
            username=details.pop("username", login),
            external_id=details.pop("external_id", f"U{number:010d}"),
            second_factor=second_factor,
            **details,
        )
        self.users[login] = user
        for account in accounts:
            self.add_account(login, account)
        return user

    def add_account(self, login: str, account_number: str, **details: Any) -> FakeAccount:
        """Give user ``login`` an (empty) account."""
        account = FakeAccount(account_number, **details)
        self.accounts[account_number] = account
        self.users[login].accounts.append(account_number)
        return account

    def add_oauth_grant(
        self,
        login: str,
        *,
        client_secret: str = DEMO_CLIENT_SECRET,
        refresh_token: str | None = None,
        client_id: str = "00000000-0000-0000-0000-000000000000",
    ) -> str:
        """Let an OAuth client act for ``login``; returns the refresh token."""
        token = refresh_token or self.new_token("refresh")
        self._grants[token] = _Grant(login, client_secret, client_id)
        return token

    def inject(self, fault: Fault) -> Fault:
        """Make the next matching request(s) fail as ``fault`` says."""
        self.faults.append(fault)
        return fault

    def inject_stream_fault(self, fault: StreamFault) -> StreamFault:
        """Make the DXLink websocket fail as ``fault`` says (see :class:`StreamFault`)."""
        self.stream_faults.append(fault)
        return fault

    def inject_account_stream_fault(self, fault: AccountStreamFault) -> AccountStreamFault:
        """Make the account streamer fail as ``fault`` says (see :class:`AccountStreamFault`)."""
        with self.lock:
            self.account_stream_faults.append(fault)
            self.apply_account_stream_faults()
        return fault

    def apply_account_stream_faults(self) -> None:
        """Fire every pending account-streamer fault that fits an open connection."""
        for fault in list(self.account_stream_faults):
            if fault.kind is AccountStreamFaultKind.REFUSE_CONNECT:
                continue  # taken by the next connect
            targets = [s for s in self.account_streams if s.fits(fault)]
            if fault.times <= 0 or not targets:
                if fault.times <= 0:
                    self.account_stream_faults.remove(fault)
                continue
            for stream in targets:
                stream.fire(fault)
            fault.hits += len(targets)
            fault.times -= 1
            if fault.times == 0:
                self.account_stream_faults.remove(fault)
            fault.fired.set()

    def new_account_stream_connection(self) -> int:
        """The id of a new account-streamer websocket connection (1, 2, ...)."""
        self._account_stream_connections += 1
        return self._account_stream_connections

    def publish(
        self,
        kind: str,
        data: Any,
        *,
        account: str | None = None,
        login: str | None = None,
        subscription: str | None = None,
    ) -> None:
        """Push a ``kind`` notification of ``data`` (as JSON now) to the account-streamer
        sockets it is for: those connected to ``account``, or those of user ``login``
        that sent ``subscription`` (any user's, without ``login``)."""
        if not self.account_streams:
            return
        snapshot = json.loads(json.dumps(data, default=str))
        for stream in list(self.account_streams):
            stream.offer(kind, snapshot, account=account, login=login, subscription=subscription)

    def new_stream_connection(self) -> int:
        """The id of a new DXLink websocket connection (1, 2, ...)."""
        self._stream_connections += 1
        return self._stream_connections

    def upgrade(self, request: Request) -> Reply | None:
        """Record a websocket upgrade request and apply any HTTP fault that matches it.

        ``None`` means: go ahead and upgrade; a :class:`Reply` is what to answer
        instead (an injected :class:`Fault` on ``GET /dxlink``, say an
        ``HTML_ERROR``, is the 502 a real upgrade sometimes gets).
        """
        parts = urlsplit(request.url)
        path = unquote(parts.path)
        self.requests.append(
            RecordedRequest(
                request.method,
                path,
                tuple(parse_qsl(parts.query)),
                request.headers,
                request.body,
                self.clock(),
            )
        )
        fault = self._take_fault(request.method, path)
        if fault is None:
            return None
        if fault.kind is FaultKind.SLOW:
            return Reply(Response(101), delay=fault.delay)  # upgrade, late
        return self._fault_reply(fault)

    def set_mark(self, symbol: str, price: Decimal | str | int) -> None:
        """Set the price the fake trades ``symbol`` at (per share, contract or coin).

        Positions in it are revalued, and working orders the new mark makes
        marketable fill at once. Defaults: ``orders.DEFAULT_MARKS``.
        """
        with self.lock:
            orders.set_mark(self, symbol, price)
            alerts.check(self)

    def mark(self, symbol: str) -> Decimal | None:
        """The price the fake trades ``symbol`` at, or ``None`` when it has none."""
        return orders.mark(self, symbol)

    def fill_order(
        self,
        order_id: int | str,
        *,
        quantity: Decimal | str | int | None = None,
        price: Decimal | str | int | None = None,
    ) -> dict[str, Any]:
        """Fill working order ``order_id`` now, in whichever account it is, crossing or not.

        ``price`` (a one-leg order's fill price; default its limit price, else
        its mark) and ``quantity`` (part of a one-leg order; it stays ``Live``)
        are optional. Returns the order as the API lists it. Raises
        ``LookupError`` for an unknown order, ``ValueError`` for one that
        cannot be filled so.
        """
        numbers = []
        for name, value in (("quantity", quantity), ("price", price)):
            number = None if value is None else orders.amount(value)
            if value is not None and number is None:
                raise ValueError(f"the {name} is not a number: {value!r}")
            numbers.append(number)
        with self.lock:
            now = self.clock()
            account, order = self._find_order(order_id, now)
            return orders.fill(self, account, order, now, quantity=numbers[0], price=numbers[1])

    def reject_order(
        self, order_id: int | str, reason: str = "Order rejected by the exchange"
    ) -> dict[str, Any]:
        """Reject open order ``order_id`` now (``Rejected``, with ``reject-reason``), as an
        exchange may after accepting it. Returns the order as the API lists it. Raises
        ``LookupError`` for an unknown order, ``ValueError`` for one no longer open."""
        with self.lock:
            now = self.clock()
            account, order = self._find_order(order_id, now)
            orders.reject(self, account, order, now, reason)
            return order

    def _find_order(self, order_id: int | str, now: float) -> tuple[FakeAccount, dict[str, Any]]:
        for account in self.accounts.values():
            orders.settle(self, now, [account])
            order = orders.by_id(account, order_id)
            if order is not None:
                return account, order
        raise LookupError(f"no order {order_id}")

    def add_quote_alert(
        self,
        symbol: str,
        field: str,
        operator: str,
        threshold: Decimal | str | int,
        *,
        login: str = DEMO_LOGIN,
    ) -> dict[str, Any]:
        """Give user ``login`` a quote alert: ``field`` (``"Last"``, ``"Bid"`` or ``"Ask"``)
        of ``symbol`` ``operator`` (``">"`` or ``"<"``) ``threshold``.

        The first :meth:`set_mark` after which the condition holds triggers it, once,
        and the user's account-streamer sockets that sent ``quote-alerts-subscribe``
        get a ``QuoteAlert`` frame. Returns the alert; ``ValueError`` when a value is
        not one of those.
        """
        with self.lock:
            return alerts.add(self, login, symbol, field, operator, threshold)

    def set_public_watchlist(
        self,
        name: str,
        entries: Iterable[tuple[str, str]],
        *,
        group_name: str | None = None,
        order_index: int | None = None,
    ) -> dict[str, Any]:
        """Replace (or add) public watchlist ``name`` with ``entries`` (symbol, instrument
        type) pairs; sockets that sent ``public-watchlists-subscribe`` get a
        ``PublicWatchlists`` frame. Returns it as ``GET /public-watchlists/{name}``
        now answers."""
        with self.lock:
            return watchlists.set_public(
                self, name, list(entries), group_name=group_name, order_index=order_index
            )

    def expire_token(self, token: str) -> bool:
        """Expire one session or access token now (as it goes in ``Authorization``, with
        ``Bearer`` or without); False when the fake does not know it."""
        with self.lock:
            scheme, _, value = token.partition(" ")
            record = self._tokens.get(value if scheme.lower() == "bearer" else token)
            if record is None:
                return False
            record.expires_at = min(record.expires_at, self.clock())
            return True

    def login_for_token(self, authorization: str, now: float) -> str | None:
        """The login whose live token ``authorization`` is, exactly as the ``Authorization``
        header must carry it (bare for a session, ``Bearer`` for OAuth); else ``None``."""
        scheme, _, value = authorization.partition(" ")
        bearer = scheme.lower() == "bearer"
        record = self._tokens.get(value if bearer else authorization)
        if record is None or record.expires_at <= now:
            return None
        if bearer != (record.scheme == "oauth"):
            return None
        return record.login

    def export_tokens(self) -> dict[str, Any]:
        """What a restarted fake needs to accept the refresh and remember tokens this one
        issued, as JSON-ready data (see :meth:`import_tokens`).

        Session and access tokens are left out: after a restart they are refused
        (401), as if they had expired, and a client logs in again with what it kept.
        """
        return {
            "version": 1,
            "counter": self._counter,
            "next-order-id": self._next_order_id,
            "remember-tokens": dict(self._remember),
            "refresh-tokens": {
                token: {
                    "login": g.login,
                    "client-secret": g.client_secret,
                    "client-id": g.client_id,
                }
                for token, g in self._grants.items()
            },
        }

    def import_tokens(self, saved: dict[str, Any]) -> None:
        """Accept the tokens an earlier fake exported (:meth:`export_tokens`) as well as this
        one's own; new tokens and order ids continue its sequences, so none is issued twice.

        Tokens for users this fake does not know are skipped. Raises ``ValueError``
        when ``saved`` is not what :meth:`export_tokens` writes.
        """
        try:
            if saved.get("version") != 1:
                raise ValueError(f"unknown version {saved.get('version')!r}")
            counter, next_order_id = int(saved["counter"]), int(saved["next-order-id"])
            remember = {str(t): str(login) for t, login in saved["remember-tokens"].items()}
            grants = {
                str(t): _Grant(str(g["login"]), str(g["client-secret"]), str(g["client-id"]))
                for t, g in saved["refresh-tokens"].items()
            }
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a saved token state: {exc}") from None
        self._counter = max(self._counter, counter)
        self._next_order_id = max(self._next_order_id, next_order_id)
        self._remember.update((t, who) for t, who in remember.items() if who in self.users)
        self._grants.update((t, g) for t, g in grants.items() if g.login in self.users)

    def expire_tokens(self) -> None:
        """Every session and access token stops working at once."""
        with self.lock:
            for token in self._tokens.values():
                token.expires_at = min(token.expires_at, self.clock() - 1)

    def count(self, method: str, path: str) -> int:
        """How many ``method path`` requests the fake received (query ignored)."""
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    def remember_tokens(self, login: str) -> list[str]:
        """The remember tokens of ``login`` that would still work."""
        return [t for t, who in self._remember.items() if who == login]

    def _seed_demo(self) -> None:
        self.add_user(
            DEMO_LOGIN,
            DEMO_PASSWORD,
            second_factor=SecondFactor.DEVICE_CHALLENGE,
            email="demo@example.com",
            external_id="U0000000001",
        )
        self.add_oauth_grant(DEMO_LOGIN, refresh_token=DEMO_REFRESH_TOKEN)
        margin = self.add_account(
            DEMO_LOGIN, "5WT00001", nickname="Margin", cash_balance=Decimal("18304.55")
        )
        self.add_account(
            DEMO_LOGIN,
            "5WT00002",
            nickname="Roth IRA",
            account_type="Roth IRA",
            margin_or_cash="Cash",
        )
        margin.positions += [
            orders.position_json(
                "5WT00001", "AAPL", "Equity", "AAPL", 100, "Long", "187.25", "189.91", 1
            ),
            orders.position_json(
                "5WT00001",
                "SPY   261218C00600000",
                "Equity Option",
                "SPY",
                2,
                "Short",
                "12.40",
                "11.05",
                100,
                expires_at="2026-12-18T21:15:00.000+00:00",
            ),
            orders.position_json(
                "5WT00001",
                "/ESZ6",
                "Future",
                "/ES",
                1,
                "Long",
                "6012.25",
                "6020.50",
                50,
                expires_at="2026-12-18T14:30:00.000+00:00",
            ),
        ]

    # -- answering -----------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Answer one request: record it, apply any injected fault, route it."""
        with self.lock:
            return self._handle(request)

    def _handle(self, request: Request) -> Reply:
        parts = urlsplit(request.url)
        path = unquote(parts.path)
        now = self.clock()
        self.requests.append(
            RecordedRequest(
                request.method,
                path,
                tuple(parse_qsl(parts.query)),
                request.headers,
                request.body,
                now,
            )
        )
        fault = self._take_fault(request.method, path)
        failing = fault is not None and fault.kind is not FaultKind.SLOW
        if fault is not None and failing and not fault.after_handling:
            return self._fault_reply(fault)
        try:
            response = self._route(request, path, now)
        except Refused as refused:
            response = refused.response
        except Exception as exc:  # a bug in the fake must still answer like a server
            response = error(500, "internal_server_error", f"fake failed: {type(exc).__name__}")
        if fault is not None and failing:
            return self._fault_reply(fault, response)
        if fault is not None:
            return Reply(response, delay=fault.delay)
        return Reply(response)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.matches(method, path):
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _fault_reply(self, fault: Fault, handled: Response | None = None) -> Reply:
        kind = fault.kind
        if kind is FaultKind.RATE_LIMITED:
            headers = [("Retry-After", fault.retry_after)] if fault.retry_after else []
            return Reply(
                Response(429, (("content-type", "text/plain"), *headers), b"Too Many Requests")
            )
        if kind is FaultKind.SERVER_ERROR:
            support = _support_id(str(len(self.requests)))
            return Reply(
                error(
                    fault.status,
                    "internal_server_error",
                    f"Internal error. Unique customer support identifier: {support}",
                )
            )
        if kind is FaultKind.HTML_ERROR:
            return Reply(Response(502, (("content-type", "text/html"),), _LOAD_BALANCER_502))
        filler = reply(200, {"data": {"filler": "x" * 200}, "context": "/"})
        if handled is not None and len(handled.body) >= 2:
            filler = handled  # the real answer, cut or never sent
        if kind is FaultKind.TRUNCATED:
            return Reply(filler, truncate=True)
        return Reply(filler, disconnect=True)

    def _route(self, request: Request, path: str, now: float) -> Response:
        agent = request.header("user-agent")
        if agent is None or not _USER_AGENT.fullmatch(agent):
            return Response(401, (("content-type", "text/html"),), _NGINX_401)
        if len(request.body) > _MAX_BODY:
            raise refuse(413, "request_too_large", "Request body too large")
        method = request.method
        raw_path = urlsplit(request.url).path
        for route_method, pattern, handler in _ROUTES:
            match = pattern.fullmatch(raw_path)
            if match and route_method == method:
                return handler(self, request, now, *(unquote(g) for g in match.groups()))
        raise refuse(404, "not_found", f"No route matches {method} {path}")

    # -- helpers the areas use too ----------------------------------------------------

    def new_token(self, kind: str) -> str:
        """A new token, unique in this fake: ``fake-{kind}-{n}-{digest}``."""
        self._counter += 1
        digest = hashlib.sha256(f"{kind}:{self._counter}".encode()).hexdigest()[:24]
        return f"fake-{kind}-{self._counter:04d}-{digest}"

    def new_order_id(self) -> int:
        """The id the next order gets (one sequence for every account)."""
        order_id = self._next_order_id
        self._next_order_id += 1
        return order_id

    def timestamp(self, when: float) -> str:
        """POSIX seconds as the API writes a time (``Z`` instead of ``+00:00`` when drifting)."""
        moment = datetime.fromtimestamp(when, tz=timezone.utc)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
        return text + ("Z" if self.drift else "+00:00")

    def user_for(self, request: Request, now: float) -> FakeUser:
        """The user whose live session or access token ``request`` carries; a 401 otherwise."""
        header = request.header("authorization") or ""
        scheme, _, value = header.partition(" ")
        token = value if scheme.lower() == "bearer" else header
        record = self._tokens.get(token)
        if record is None or record.expires_at <= now:
            raise refuse(401, "token_invalid", "This token is invalid or has expired")
        if (scheme.lower() == "bearer") != (record.scheme == "oauth"):
            raise refuse(401, "token_invalid", "This token is invalid or has expired")
        return self.users[record.login]

    def account_for(self, user: FakeUser, number: str) -> FakeAccount:
        """``user``'s account ``number``: a 404 when there is none, a 403 when not theirs."""
        if number not in self.accounts:
            raise refuse(404, "record_not_found", f"Account {number} not found")
        if number not in user.accounts:
            raise refuse(403, "not_permitted", "User not permitted access")
        return self.accounts[number]

    def _user_json(self, user: FakeUser) -> dict[str, Any]:
        return {
            "email": user.email,
            "username": user.username,
            "external-id": user.external_id,
            "is-confirmed": True,
        }

    # -- legacy sessions -------------------------------------------------------------

    def _sessions_post(self, request: Request, now: float) -> Response:
        body = body_of(request)
        login, password, remember = (
            body.get("login"),
            body.get("password"),
            body.get("remember-token"),
        )
        user = self.users.get(login) if isinstance(login, str) else None
        if not self.legacy_sessions or (user is not None and not user.legacy_sessions):
            raise refuse(404, "not_found", "Session login is not available; use OAuth")
        invalid = refuse(
            401,
            "invalid_credentials",
            "Invalid login, please check your username and password. "
            f"Unique customer support identifier: {_support_id(str(login))}",
        )
        if user is None:
            raise invalid
        if isinstance(remember, str) and password is None:
            if self._remember.pop(remember, None) != user.login:
                raise invalid
        elif password != user.password or not isinstance(password, str):
            raise invalid
        else:
            self._check_second_factor(user, request)
        return self._issue_session(user, bool(body.get("remember-me")), now)

    def _check_second_factor(self, user: FakeUser, request: Request) -> None:
        otp = request.header("x-tastyworks-otp")
        if user.second_factor is SecondFactor.OTP:
            if otp is None:
                raise refuse(401, CLASSIC_OTP_REQUIRED_CODE, "A one-time password is required")
            if otp != user.otp:
                raise refuse(401, CLASSIC_OTP_INVALID_CODE, "The one-time password is invalid")
            return
        if user.second_factor is SecondFactor.NONE:
            return
        token = request.header("x-tastyworks-challenge-token")
        challenge = self._challenges.get(token or "")
        if challenge is None or challenge.login != user.login:
            new = self.new_token("challenge")
            self._challenges[new] = _Challenge(user.login)
            raise Refused(
                reply(
                    403,
                    {
                        "error": {
                            "code": "device_challenge_required",
                            "message": "Device authentication challenge required",
                            "redirect": {
                                "method": "POST",
                                "url": "/device-challenge",
                                "required_headers": ["X-Tastyworks-Challenge-Token"],
                            },
                        }
                    },
                    [("X-Tastyworks-Challenge-Token", new)],
                )
            )
        if not challenge.code_sent or otp != user.otp:
            raise refuse(401, CLASSIC_OTP_INVALID_CODE, "The one-time password is invalid")
        del self._challenges[token or ""]

    def _issue_session(self, user: FakeUser, remember_me: bool, now: float) -> Response:
        token = self.new_token("session")
        expires = now + self.session_lifetime
        self._tokens[token] = _Token(user.login, expires, "session")
        data: dict[str, Any] = {
            "user": self._user_json(user),
            "session-token": token,
            "session-expiration": self.timestamp(expires),
        }
        if remember_me:
            remember = self.new_token("remember")
            self._remember[remember] = user.login
            data["remember-token"] = remember
        return reply(201, {"data": data, "context": "/sessions"})

    def _device_challenge(self, request: Request, now: float) -> Response:
        token = request.header("x-tastyworks-challenge-token") or ""
        challenge = self._challenges.get(token)
        if challenge is None:
            raise refuse(400, "missing_request_token", "The request token is missing")
        user = self.users[challenge.login]
        body = body_of(request)
        step: dict[str, Any] = {"phone": user.phone, "step": "otp_verification"}
        if user.second_factor is SecondFactor.SECURITY_QUESTION and not challenge.answered:
            answer = body.get("answer")
            if answer is None:
                step = {"step": "security_question", "question": user.security_question}
            elif answer != user.security_answer:
                raise refuse(400, "invalid_security_answer", "The answer is not correct")
            else:
                challenge.answered = True
        if step["step"] == "otp_verification":
            challenge.code_sent = True
        # Each answer carries a new challenge token; the old one stops working.
        new = self.new_token("challenge")
        self._challenges[new] = self._challenges.pop(token)
        return reply(200, {"data": step}, [("X-Tastyworks-Challenge-Token", new)])

    def _validate(self, request: Request, now: float) -> Response:
        user = self.user_for(request, now)
        data = {**self._user_json(user), "id": 100_000 + list(self.users).index(user.login)}
        return reply(201, {"data": data, "context": "/sessions/validate"})

    def _logout(self, request: Request, now: float) -> Response:
        self.user_for(request, now)
        header = request.header("authorization") or ""
        scheme, _, value = header.partition(" ")
        self._tokens.pop(value if scheme.lower() == "bearer" else header, None)
        return Response(204)

    # -- OAuth -------------------------------------------------------------------------

    def _oauth_token(self, request: Request, now: float) -> Response:
        def oauth_error(code: str, description: str) -> Refused:
            return Refused(reply(400, {"error_code": code, "error_description": description}))

        if not self.oauth:
            raise oauth_error("unsupported_grant_type", "OAuth is switched off on this server")
        if request.header("authorization"):
            raise oauth_error("invalid_request", "Authorization header not allowed here")
        body = body_of(request)
        if body.get("grant_type") != "refresh_token":
            raise oauth_error("unsupported_grant_type", "Only refresh_token is supported")
        refresh = body.get("refresh_token")
        grant = self._grants.get(refresh) if isinstance(refresh, str) else None
        if grant is None:
            raise oauth_error("invalid_grant", "Invalid JWT")
        if body.get("client_secret") != grant.client_secret:
            raise oauth_error("invalid_client", "Client authentication failed")
        if "client_id" in body and body["client_id"] != grant.client_id:
            raise oauth_error("invalid_client", "Client id does not match")
        if not self.users[grant.login].oauth:
            raise oauth_error("invalid_request", "User is not a TastyTrade customer")
        token = self.new_token("access")
        self._tokens[token] = _Token(grant.login, now + self.access_token_lifetime, "oauth")
        answer: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self.access_token_lifetime),
        }
        if self.rotate_refresh_tokens:
            assert isinstance(refresh, str)
            rotated = self.new_token("refresh")
            self._grants[rotated] = self._grants.pop(refresh)
            answer["refresh_token"] = rotated
        return reply(200, answer)

    # -- accounts, balances, positions (orders: the orders package) ---------------------------

    def _customer(self, request: Request, now: float) -> Response:
        data = accounts.customer_json(self, self.user_for(request, now))
        return reply(200, {"data": data, "context": "/customers/me"})

    def _account_json(self, account: FakeAccount) -> dict[str, Any]:
        return {
            "account-number": account.account_number,
            "external-id": "A" + account.account_number[-6:].rjust(10, "0"),
            "opened-at": self.timestamp(1_600_000_000),
            "nickname": account.nickname,
            "account-type-name": account.account_type,
            "day-trader-status": False,
            "is-closed": False,
            "is-firm-error": False,
            "is-firm-proprietary": False,
            "is-futures-approved": account.margin_or_cash == "Margin",
            "is-test-drive": False,
            "margin-or-cash": account.margin_or_cash,
            "is-foreign": False,
            "funding-date": "2020-09-20",
            "investment-objective": "GROWTH",
            "suitable-options-level": "No Restrictions",
            "created-at": self.timestamp(1_600_000_000),
        }

    def _accounts(self, request: Request, now: float) -> Response:
        user = self.user_for(request, now)
        items = [
            {"account": self._account_json(self.accounts[n]), "authority-level": "owner"}
            for n in user.accounts
        ]
        return reply(200, {"data": {"items": items}, "context": "/customers/me/accounts"})

    def _account(self, request: Request, now: float, number: str) -> Response:
        account = self.account_for(self.user_for(request, now), number)
        return reply(
            200,
            {"data": self._account_json(account), "context": f"/customers/me/accounts/{number}"},
        )

    def _balances(
        self, request: Request, now: float, number: str, currency: str | None = None
    ) -> Response:
        account = self.account_for(self.user_for(request, now), number)
        if currency not in (None, "USD"):  # every fake account is in dollars
            raise refuse(404, "record_not_found", f"No {currency} balances for {number}")
        context = f"/accounts/{number}/balances" + (f"/{currency}" if currency else "")
        return reply(200, {"data": self.balances(account, now), "context": context})

    def balances(self, account: FakeAccount, now: float, *, settle: bool = True) -> dict[str, Any]:
        """``account``'s balances as ``GET /accounts/{n}/balances`` reports them at ``now``
        (with ``settle=False``, without first bringing its orders up to ``now``)."""
        if settle:
            orders.settle(self, now, [account])
        # Equities and options count at market value. A future's gains are already in cash
        # (marked to each day's settlement), so its notional is reported but not counted.
        values = {key: Decimal(0) for key in _VALUE_KEYS}
        for p in account.positions:
            size = _dec(p["quantity"]) * _dec(p["multiplier"])
            side = "long" if p["quantity-direction"] == "Long" else "short"
            kind = {"Equity": "equity", "Future": "futures"}.get(p["instrument-type"], "derivative")
            values[f"{side}-{kind}-value"] += _dec(p["close-price"]) * size
        long_value = values["long-equity-value"] + values["long-derivative-value"]
        short_value = values["short-equity-value"] + values["short-derivative-value"]
        reserved = orders.reserved(self, account)
        net = account.cash_balance + long_value - short_value
        data: dict[str, Any] = dict.fromkeys(_OTHER_BALANCE_KEYS, "0.0")
        data.update(dict.fromkeys(_BALANCE_EFFECT_KEYS, "None"))
        data.update(
            {
                "margin-equity": str(net),
                "available-trading-funds": str(account.cash_balance - reserved),
                "long-margineable-value": str(values["long-equity-value"]),
                "short-margineable-value": str(values["short-equity-value"]),
                "maintenance-excess": str(net - short_value),
                "cash-settle-balance": str(account.cash_balance),
                "total-settle-balance": str(account.cash_balance),
            }
        )
        data |= {
            "account-number": account.account_number,
            "cash-balance": str(account.cash_balance),
            **{key: str(value) for key, value in values.items()},
            "net-liquidating-value": str(net),
            "equity-buying-power": str((account.cash_balance - reserved) * 2),
            "derivative-buying-power": str(account.cash_balance - reserved),
            "day-trading-buying-power": "0.0",
            "cash-available-to-withdraw": str(account.cash_balance - reserved),
            "maintenance-requirement": str(short_value),
            "pending-cash": "0.0",
            "pending-cash-effect": "None",
            "snapshot-date": datetime.fromtimestamp(now, tz=timezone.utc).date().isoformat(),
            "updated-at": self.timestamp(now),
            "currency": "USD",
        }
        return data

    def _positions(self, request: Request, now: float, number: str) -> Response:
        account = self.account_for(self.user_for(request, now), number)
        orders.settle(self, now, [account])
        asked = query(request)
        underlyings = set(asked.get("underlying-symbol[]", []))
        symbol = query_one(request, "symbol")
        kind = query_one(request, "instrument-type")
        closed = query_one(request, "include-closed-positions") == "true"
        items = []
        for position in account.positions:
            if (
                (underlyings and position["underlying-symbol"] not in underlyings)
                or (symbol is not None and position["symbol"] != symbol)
                or (kind is not None and position["instrument-type"] != kind)
                or (not closed and _dec(position["quantity"]) == 0)
            ):
                continue
            items.append(self.position_item(position))
        return reply(200, {"data": {"items": items}, "context": f"/accounts/{number}/positions"})

    def position_item(self, position: dict[str, Any]) -> dict[str, Any]:
        """A position as ``GET /accounts/{n}/positions`` lists it (drift applied)."""
        item = dict(position)
        if self.drift:
            item["multiplier"] = f"{item['multiplier']}.0"
            item["quantity"] = str(item["quantity"])
            for key in ("created-at", "updated-at", "expires-at"):
                if key in item:
                    item[key] = item[key].replace("+00:00", "Z")
        return item


# The rest of what the API's balances carry (api-samples/balances_200_sandbox_2025.json):
# zero here, as for an account that holds no bonds, crypto or futures options.
_OTHER_BALANCE_KEYS = (
    "bond-margin-requirement",
    "buying-power-adjustment",
    "closed-loop-available-balance",
    "cryptocurrency-margin-requirement",
    "day-equity-call-value",
    "day-trade-excess",
    "day-trading-call-value",
    "effective-cryptocurrency-buying-power",
    "equity-offering-margin-requirement",
    "fixed-income-security-margin-requirement",
    "futures-intraday-margin-requirement",
    "futures-margin-requirement",
    "futures-overnight-margin-requirement",
    "long-bond-value",
    "long-cryptocurrency-value",
    "long-fixed-income-security-value",
    "long-futures-derivative-value",
    "maintenance-call-value",
    "margin-settle-balance",
    "pending-margin-interest",
    "reg-t-call-value",
    "reg-t-margin-requirement",
    "short-cryptocurrency-value",
    "short-futures-derivative-value",
    "sma-equity-option-buying-power",
    "special-memorandum-account-apex-adjustment",
    "special-memorandum-account-value",
    "total-pending-liquidity-pool-rebate",
    "unsettled-cryptocurrency-fiat-amount",
    "used-derivative-buying-power",
)
_BALANCE_EFFECT_KEYS = ("buying-power-adjustment-effect", "unsettled-cryptocurrency-fiat-effect")

_VALUE_KEYS = tuple(
    f"{side}-{kind}-value"
    for side in ("long", "short")
    for kind in ("equity", "derivative", "futures")
)


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return Decimal(0)


_ACCOUNT = r"/accounts/([A-Za-z0-9]+)"
_AREAS = (accounts, orders, instruments, market, watchlists)
_ROUTES: list[Route] = [
    ("POST", re.compile(r"/sessions"), FakeTastytradeAPI._sessions_post),
    ("POST", re.compile(r"/sessions/validate"), FakeTastytradeAPI._validate),
    ("DELETE", re.compile(r"/sessions"), FakeTastytradeAPI._logout),
    ("POST", re.compile(r"/device-challenge"), FakeTastytradeAPI._device_challenge),
    ("POST", re.compile(r"/oauth/token"), FakeTastytradeAPI._oauth_token),
    ("GET", re.compile(r"/customers/me"), FakeTastytradeAPI._customer),
    ("GET", re.compile(r"/customers/me/accounts"), FakeTastytradeAPI._accounts),
    ("GET", re.compile(r"/customers/me/accounts/([A-Za-z0-9]+)"), FakeTastytradeAPI._account),
    ("GET", re.compile(_ACCOUNT + r"/balances"), FakeTastytradeAPI._balances),
    ("GET", re.compile(_ACCOUNT + r"/balances/([A-Za-z]{3})"), FakeTastytradeAPI._balances),
    ("GET", re.compile(_ACCOUNT + r"/positions"), FakeTastytradeAPI._positions),
]
for _area in _AREAS:
    _ROUTES += _area.ROUTES
