"""The fake's account streamer: a pure server-side protocol machine for one websocket.

The account streamer is tastytrade's notification socket
(https://developer.tastytrade.com/docs/guides/stream-account-updates/): the
client sends JSON actions, each carrying ``auth-token`` (exactly what its REST
``Authorization`` header carries: the bare session token for a ``/sessions``
login, ``Bearer <access-token>`` for OAuth), and the server pushes the full
current object whenever an order, position or balance of a connected account
changes. It keeps no history: a socket hears only of changes made while it is
connected, and nothing is replayed after a reconnect.

:class:`FakeAccountStreamerConnection` plays the server's side of one socket. It
does no I/O and reads no wall clock: the caller passes ``now`` (the time its idle
timer runs on), hands it each text frame with
:meth:`~FakeAccountStreamerConnection.receive`, calls
:meth:`~FakeAccountStreamerConnection.handle_timer` when
:meth:`~FakeAccountStreamerConnection.next_deadline` passes (and whenever it
likes: each call brings the connected accounts' orders up to the fake's clock,
so they route, go live, fill and expire), sends what
:meth:`~FakeAccountStreamerConnection.messages_to_send` returns, and closes the
socket once :attr:`~FakeAccountStreamerConnection.closed` is set.

Answers, per message (checked in this order):

* ``{"status": "error", ..., "message": "not-implemented"}`` for an unknown
  action (or text that is not a JSON object with a string ``action``; that
  refusal has no ``action`` key);
* ``"failed"`` when ``auth-token`` is not the ``Authorization`` value of a live
  session or access token (wrong form, expired, logged out) or, on a connected
  socket, is another user's; and for a ``connect`` naming no account or one the
  user does not own;
* ``"connect-not-completed"`` for anything but ``connect`` before a ``connect``
  succeeded;
* otherwise ``{"status": "ok", "action": ..., "web-socket-session-id": ...}``
  (a ``connect`` also echoes ``value``, the accounts).

``request-id`` is echoed when the message had an integer one. The socket stays
open after a refusal. With no client message for ``api.account_streamer_timeout``
seconds (60) the server closes it (1000).

Notifications (``{"type", "data", "timestamp", "ws-sequence"}``) come from
``api.publish``, which the order book calls on every change
(:func:`~tastytrade_proto.testing.fake.orders.changed`). Every message, both
ways, goes to ``api.account_stream_messages`` with tokens redacted.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from . import orders
from .api import AccountStreamFault, AccountStreamFaultKind, RecordedMessage
from .orders.model import digest

if TYPE_CHECKING:
    from .api import FakeTastytradeAPI

__all__ = ["ACTIONS", "FakeAccountStreamerConnection"]

#: The actions the fake's account streamer knows.
ACTIONS = frozenset(
    {
        "connect",
        "heartbeat",
        "public-watchlists-subscribe",
        "quote-alerts-subscribe",
        "user-message-subscribe",
    }
)

_AUTH_TOKEN = re.compile(r'("auth-token"\s*:\s*")(Bearer )?(?:[^"\\]|\\.)*"')
# What the fake's tokens look like (FakeTastytradeAPI.new_token), wherever they appear.
_FAKE_TOKEN = re.compile(r"fake-[a-z]+-\d+-[0-9a-f]{24}")


def redact(text: str) -> str:
    """``text`` with the ``auth-token`` value (but not its ``Bearer``), and any token of the
    fake's, redacted."""
    return _FAKE_TOKEN.sub("<redacted>", _AUTH_TOKEN.sub(r'\1\2<redacted>"', text))


class FakeAccountStreamerConnection:
    """The server's side of one account-streamer websocket connection, I/O-free.

    ``api`` is the fake whose tokens, accounts, orders and injected
    :class:`~.api.AccountStreamFault` faults it uses; ``now`` (wall time in the
    server) is when the connection opened. The idle timeout is
    ``api.account_streamer_timeout`` at that moment. The connection registers
    itself with ``api`` (``api.account_streams``) until it closes, or until
    :meth:`connection_lost` says the socket went away.
    """

    def __init__(
        self, api: FakeTastytradeAPI, now: float, *, connection_id: int | None = None
    ) -> None:
        self.api = api
        self.id = api.new_account_stream_connection() if connection_id is None else connection_id
        #: ``web-socket-session-id``: eight hex digits, new for each socket.
        self.session_id = digest("account-streamer", self.id, size=8)
        #: Seconds without a client message before the server closes the socket.
        self.idle_timeout = float(api.account_streamer_timeout)
        #: ``(code, reason)`` once the server wants the socket closed; code 1006 means
        #: drop it without a close frame.
        self.closed: tuple[int, str] | None = None
        #: Whether the server has gone silent (the STALL fault).
        self.stalled = False
        #: The accounts the last successful ``connect`` named (empty before one).
        self.accounts: tuple[str, ...] = ()
        #: The login of the user whose token the last accepted message carried.
        self.login: str | None = None
        #: The ``*-subscribe`` actions acknowledged on this socket.
        self.subscriptions: set[str] = set()
        self._token: str | None = None
        self._out: list[str] = []
        self._sequence = 0
        self._last_in = now
        api.account_streams.append(self)
        api.apply_account_stream_faults()

    def __repr__(self) -> str:
        return (
            f"<FakeAccountStreamerConnection {self.id} {self.session_id} "
            f"accounts={list(self.accounts)} closed={self.closed}>"
        )

    # -- the caller's side ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether a ``connect`` has succeeded on this socket."""
        return bool(self.accounts)

    def receive(self, text: str, now: float) -> None:
        """Take one text frame from the client."""
        if self.closed is not None:
            return
        self._log("in", redact(text))
        if self.stalled:
            return
        self._last_in = now
        self._dispatch(text)
        self._step()

    def handle_timer(self, now: float) -> None:
        """Let time pass: the idle timeout, faults, and the connected accounts' orders."""
        if self.closed is not None or self.stalled:
            return
        if now - self._last_in >= self.idle_timeout:
            self._close(1000, "Idle timeout")
            return
        self._step()

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must next be called (None: never)."""
        if self.closed is not None or self.stalled:
            return None
        return self._last_in + self.idle_timeout

    def messages_to_send(self) -> list[str]:
        """The text frames to send now, in order (each is returned once)."""
        out, self._out = self._out, []
        return out

    def connection_lost(self) -> None:
        """The socket is gone (the client hung up): offer it nothing more."""
        if self in self.api.account_streams:
            self.api.account_streams.remove(self)

    def stop(self, code: int, reason: str) -> None:
        """The server closes the socket (``code``, ``reason``) for its own reasons."""
        if self.closed is None:
            self._close(code, reason)

    # -- what the fake tells it ----------------------------------------------------------------

    def offer(
        self,
        kind: str,
        data: Any,
        *,
        account: str | None = None,
        login: str | None = None,
        subscription: str | None = None,
    ) -> None:
        """Send a notification if it is for this socket (see ``FakeTastytradeAPI.publish``)."""
        if self.closed is not None or self.stalled or not self.connected:
            return
        if account is not None:
            if account not in self.accounts:
                return
        elif subscription not in self.subscriptions or login not in (None, self.login):
            return
        self._sequence += 1
        self._send(
            {
                "type": kind,
                "data": data,
                "timestamp": int(self.api.clock() * 1000),
                "ws-sequence": self._sequence,
            }
        )

    def fits(self, fault: AccountStreamFault) -> bool:
        """Whether ``fault`` can fire on this connection now."""
        if self.closed is not None or fault.connection not in (None, self.id):
            return False
        if fault.kind is AccountStreamFaultKind.EXPIRE_TOKEN:
            return self._token is not None and not self.stalled
        if fault.kind is AccountStreamFaultKind.REFUSE_CONNECT:
            return False
        return not self.stalled

    def fire(self, fault: AccountStreamFault) -> None:
        """Act out ``fault`` (one that :meth:`fits`)."""
        if fault.kind is AccountStreamFaultKind.DROP:
            self._close(1006, "")
        elif fault.kind is AccountStreamFaultKind.STALL:
            self.stalled = True
        elif fault.kind is AccountStreamFaultKind.EXPIRE_TOKEN and self._token is not None:
            self.api.expire_token(self._token)

    # -- sending -------------------------------------------------------------------------------

    def _log(self, direction: str, text: str) -> None:
        self.api.account_stream_messages.append(
            RecordedMessage(self.id, direction, text, self.api.clock())
        )

    def _send(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, separators=(",", ":"), default=str)
        self._out.append(text)
        self._log("out", text)

    def _answer(
        self,
        action: str | None,
        request_id: int | None,
        *,
        error: str | None = None,
        value: Any = None,
    ) -> None:
        answer: dict[str, Any] = {"status": "ok" if error is None else "error"}
        if action is not None:
            answer["action"] = action
        answer["web-socket-session-id"] = self.session_id
        if value is not None:
            answer["value"] = value
        if error is not None:
            answer["message"] = error
        if request_id is not None:
            answer["request-id"] = request_id
        self._send(answer)

    def _close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self._log("close", f"{code} {reason}".rstrip())
        self.connection_lost()

    # -- what the client says ------------------------------------------------------------------

    def _dispatch(self, text: str) -> None:
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("action"), str):
            self._answer(None, None, error="not-implemented")
            return
        action: str = message["action"]
        raw_id = message.get("request-id")
        request_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None
        if action not in ACTIONS:
            self._answer(action, request_id, error="not-implemented")
            return
        refusal = self._take_refusal() if action == "connect" else None
        if refusal is not None:
            self._answer(action, request_id, error=refusal)
            return
        token = message.get("auth-token")
        login = None
        if isinstance(token, str):
            login = self.api.login_for_token(token, self.api.clock())
        stranger = action != "connect" and self.connected and login != self.login
        if login is None or not isinstance(token, str) or stranger:
            self._answer(action, request_id, error="failed")
            return
        if action != "connect" and not self.connected:
            self._answer(action, request_id, error="connect-not-completed")
            return
        if action == "connect":
            accounts = self._accounts_of(message.get("value"), login)
            if accounts is None:
                self._answer(action, request_id, error="failed")
                return
            self.accounts = accounts
            self._answer(action, request_id, value=list(accounts))
        else:
            if action.endswith("-subscribe"):
                self.subscriptions.add(action)
            self._answer(action, request_id)
        self.login, self._token = login, token

    def _accounts_of(self, value: Any, login: str) -> tuple[str, ...] | None:
        """The accounts a ``connect`` names, if they are all the user's (a bare string is
        one account); ``None`` otherwise."""
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names:
            return None
        owned = self.api.users[login].accounts
        if not all(isinstance(n, str) and n in owned for n in names):
            return None
        return tuple(dict.fromkeys(names))

    def _take_refusal(self) -> str | None:
        """The code of a pending REFUSE_CONNECT fault for this connection, spent once."""
        for fault in list(self.api.account_stream_faults):
            if fault.kind is not AccountStreamFaultKind.REFUSE_CONNECT:
                continue
            if fault.connection not in (None, self.id) or fault.times <= 0:
                continue
            fault.times -= 1
            fault.hits += 1
            if fault.times == 0:
                self.api.account_stream_faults.remove(fault)
            fault.fired.set()
            return fault.message
        return None

    # -- each step -------------------------------------------------------------------------------

    def _step(self) -> None:
        self.api.apply_account_stream_faults()
        if self.closed is not None or self.stalled or not self.connected:
            return
        accounts = [self.api.accounts[n] for n in self.accounts if n in self.api.accounts]
        orders.settle(self.api, self.api.clock(), accounts)
