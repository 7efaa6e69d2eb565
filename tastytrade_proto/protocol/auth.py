"""The session state machine: logging in, staying logged in, logging out.

Theory of operation
-------------------
:class:`AuthMachine` holds one user's credentials and tokens and knows,
for both authentication schemes the API has had, which request comes next.
It never sends anything: methods that start an exchange *return* the
:class:`~tastytrade_proto.protocol.http.Request` to send and move the machine into the
state that waits for its answer; :meth:`AuthMachine.receive` takes that
answer (and ``now``, POSIX seconds) and returns what happened as events, or
raises a :class:`~tastytrade_proto.errors.TastytradeError`.

Rules the code below keeps:

1. Which call is allowed in which state is data: :data:`ALLOWED`. A call made
   in any other state raises :class:`LocalProtocolError` naming the state.
2. At most one authentication exchange (login, second factor, device
   challenge, refresh, validate, logout) is in flight. Ordinary API requests
   are not exchanges: :meth:`~AuthMachine.authorize` stamps them and
   :meth:`~AuthMachine.observe` watches their answers for a 401, so any
   number can be in flight at once, even while a refresh is.
3. A token that arrives is stored and handed to ``on_token`` before anything
   else in its response is parsed, so a malformed field further on cannot
   lose it.
4. The password is held only while a second factor is awaited; the client
   secret only in memory, and in a dump only when asked for by name.
5. Time comes in as ``now``; the machine never reads a clock.
"""

from __future__ import annotations

import enum
import json
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeGuard, TypeVar

from .._deprecation import deprecated_names
from ..errors import (
    ApiError,
    DecodeError,
    DeviceChallengeRequired,
    InvalidCredentials,
    InvalidSecondFactor,
    LocalProtocolError,
    ResponseError,
    SecondFactorRequired,
    SessionExpired,
    TastytradeError,
)
from ..timestamps import parse_datetime
from ..values import field, frozen
from .envelope import error_from_response, parse_json, shape_error
from .events import (
    AccessTokenIssued,
    Event,
    LoggedIn,
    LoggedOut,
    RefreshTokenRotated,
    RememberTokenIssued,
    SessionValidated,
    TokenEvent,
    User,
)
from .http import (
    PRODUCTION,
    ClientConfig,
    Environment,
    Request,
    Response,
)

__all__ = [
    "ALLOWED",
    "DEFAULT_ACCESS_TOKEN_LIFETIME",
    "REFRESH_MARGIN",
    "Action",
    "AuthMachine",
    "AuthNeed",
    "AuthScheme",
    "AuthState",
]

#: OAuth access tokens last 15 minutes when ``expires_in`` does not say.
DEFAULT_ACCESS_TOKEN_LIFETIME = 900.0
#: A token this close to expiry is renewed before the next request, rather
#: than letting that request go out and fail.
REFRESH_MARGIN = 60.0

_DUMP_VERSION = 1


class AuthScheme(enum.Enum):
    """The two generations of tastytrade authentication."""

    #: ``POST /oauth/token`` with a refresh token; ``Authorization: Bearer``.
    OAUTH = "oauth"
    #: Legacy ``POST /sessions`` (password, remember token, two-factor);
    #: the session token goes in ``Authorization`` as it is. (Its value stays
    #: ``"session"``: dumped sessions and token events carry it.)
    LEGACY = "session"
    #: Deprecated name of :attr:`LEGACY`.
    SESSION = "session"


class AuthState(enum.Enum):
    """Where a :class:`AuthMachine` is."""

    #: Nothing established yet: log in (either scheme).
    UNAUTHENTICATED = "unauthenticated"
    #: A login or first OAuth refresh is in flight.
    AUTHENTICATING = "authenticating"
    #: The server asked for a device challenge: ``start_device_challenge`` next.
    DEVICE_CHALLENGE = "device-challenge"
    #: Waiting for a one-time code from the caller.
    AWAITING_SECOND_FACTOR = "awaiting-second-factor"
    #: Waiting for the answer to a security question from the caller.
    AWAITING_SECURITY_ANSWER = "awaiting-security-answer"
    #: Authenticated requests may go out.
    AUTHENTICATED = "authenticated"
    #: The token is no longer good; renew it (refresh, remember-token login) or log in.
    EXPIRED = "expired"
    #: Logged out. Nothing more is accepted.
    CLOSED = "closed"


class Action(enum.Enum):
    """The calls whose permission depends on the state (see :data:`ALLOWED`)."""

    LOGIN = "log in"
    START_DEVICE_CHALLENGE = "start the device challenge"
    SUBMIT_SECOND_FACTOR = "submit a second factor"
    ANSWER_SECURITY_QUESTION = "answer a security question"
    REFRESH = "refresh the access token"
    RELOGIN = "log in again with the remember token"
    AUTHORIZE = "send an authenticated request"
    VALIDATE = "validate the session"
    LOGOUT = "log out"
    DUMP = "dump the session"


_S = AuthState
#: Which action each state allows; everything else is a LocalProtocolError.
ALLOWED: dict[Action, frozenset[AuthState]] = {
    # A login may also start over from a second-factor step the caller gives up on.
    Action.LOGIN: frozenset(
        {
            _S.UNAUTHENTICATED,
            _S.EXPIRED,
            _S.DEVICE_CHALLENGE,
            _S.AWAITING_SECOND_FACTOR,
            _S.AWAITING_SECURITY_ANSWER,
        }
    ),
    Action.START_DEVICE_CHALLENGE: frozenset({_S.DEVICE_CHALLENGE}),
    Action.SUBMIT_SECOND_FACTOR: frozenset({_S.AWAITING_SECOND_FACTOR}),
    Action.ANSWER_SECURITY_QUESTION: frozenset({_S.AWAITING_SECURITY_ANSWER}),
    Action.REFRESH: frozenset({_S.AUTHENTICATED, _S.EXPIRED}),
    Action.RELOGIN: frozenset({_S.AUTHENTICATED, _S.EXPIRED}),
    Action.AUTHORIZE: frozenset({_S.AUTHENTICATED}),
    Action.VALIDATE: frozenset({_S.AUTHENTICATED}),
    Action.LOGOUT: frozenset({_S.AUTHENTICATED, _S.EXPIRED}),
    # Dumping is allowed mid-exchange too (from inside on_token, say): the dump
    # holds what can be resumed, never the exchange itself.
    Action.DUMP: frozenset(set(AuthState) - {_S.CLOSED}),
}


class AuthNeed(enum.Enum):
    """What must happen before the next authenticated request (:meth:`AuthMachine.auth_need`)."""

    NONE = "none"
    REFRESH = "refresh"
    RELOGIN = "relogin"
    #: Another task's exchange is in flight and the current token is no good:
    #: wait briefly and ask again.
    WAIT = "wait"


class _Exchange(enum.Enum):
    LOGIN = "login"
    RELOGIN = "relogin"
    SECOND_FACTOR = "second factor"
    DEVICE_CHALLENGE = "device challenge"
    SECURITY_ANSWER = "security answer"
    REFRESH = "refresh"
    VALIDATE = "validate"
    LOGOUT = "logout"


@frozen
class _Pending:
    kind: _Exchange
    state_before: AuthState
    secrets: tuple[str, ...] = field(default=(), repr=False)


def _utc(now: float) -> datetime:
    return datetime.fromtimestamp(now, tz=timezone.utc)


class AuthMachine:
    """One user's session with the tastytrade API, as a pure state machine.

    ``config`` (or ``environment``) says where requests go and with which
    headers. ``on_token`` is called with each :data:`TokenEvent` the moment
    it arrives; persist the token there. ``refresh_margin`` is how many
    seconds before expiry a token counts as due for renewal.
    """

    def __init__(
        self,
        *,
        environment: Environment = PRODUCTION,
        config: ClientConfig | None = None,
        on_token: Callable[[TokenEvent], None] | None = None,
        refresh_margin: float = REFRESH_MARGIN,
    ) -> None:
        self.config = config if config is not None else ClientConfig(environment=environment)
        self.on_token = on_token
        self.refresh_margin = refresh_margin
        self._state = AuthState.UNAUTHENTICATED
        self._scheme = AuthScheme.OAUTH
        self._pending: _Pending | None = None
        self._token: str | None = None
        self._expires_at: datetime | None = None
        self._user: User | None = None
        self._login: str | None = None
        self._password: str | None = None
        self._remember_me = True
        self._remember_token: str | None = None
        self._challenge_token: str | None = None
        self._refresh_token: str | None = None
        self._client_secret: str | None = None
        self._client_id: str | None = None
        # Tokens replaced or dropped lately: dead, but still scrubbed from any
        # error text (a server may echo the token it just refused).
        self._retired: deque[str] = deque(maxlen=8)
        self._renewal_postponed_until = 0.0
        # The current token's lifetime when it arrived (None: unknown, as after load()).
        self._lifetime: float | None = None
        #: Other secrets to keep out of error texts (a proxy password, say).
        self.extra_secrets: tuple[str, ...] = ()

    # -- what the machine knows ------------------------------------------------

    @property
    def state(self) -> AuthState:
        """The current :class:`AuthState`."""
        return self._state

    @property
    def scheme(self) -> AuthScheme:
        """The authentication scheme in use."""
        return self._scheme

    @property
    def user(self) -> User | None:
        """The user the session belongs to, once known."""
        return self._user

    @property
    def expires_at(self) -> datetime | None:
        """When the current session or access token expires (aware, UTC)."""
        return self._expires_at

    @property
    def remember_token(self) -> str | None:
        """The latest remember token held (single-use), if any."""
        return self._remember_token

    @property
    def refresh_token(self) -> str | None:
        """The OAuth refresh token held, if any."""
        return self._refresh_token

    @property
    def exchange_in_flight(self) -> bool:
        """Whether an authentication exchange awaits :meth:`receive`."""
        return self._pending is not None

    def __repr__(self) -> str:
        return (
            f"<AuthMachine {self._scheme.value} state={self._state.name} "
            f"environment={self.config.environment.name} expires_at={self._expires_at}>"
        )

    def secrets(self) -> tuple[str, ...]:
        """Every secret the machine holds now, for scrubbing texts by value."""
        held = (
            self._token,
            self._password,
            self._remember_token,
            self._challenge_token,
            self._refresh_token,
            self._client_secret,
        )
        pending = self._pending.secrets if self._pending else ()
        return tuple(s for s in (*held, *pending, *self._retired, *self.extra_secrets) if s)

    def _retire(self, *tokens: str | None) -> None:
        self._retired.extend(t for t in tokens if t)

    def scrub_error(self, error: TastytradeError) -> TastytradeError:
        """Remove every secret the machine holds from ``error``'s texts; return it."""
        error._scrub(self.secrets())
        return error

    # -- state bookkeeping -----------------------------------------------------

    def _check(self, action: Action) -> None:
        if self._state not in ALLOWED[action]:
            raise LocalProtocolError(
                f"cannot {action.value} in state {self._state.name}", state=self._state.name
            )
        if self._pending is not None and action not in (Action.AUTHORIZE, Action.DUMP):
            raise LocalProtocolError(
                f"cannot {action.value} while the {self._pending.kind.value} exchange is in "
                f"flight (state {self._state.name}); receive its response first",
                state=self._state.name,
            )

    def _begin(self, kind: _Exchange, request: Request, secrets: Iterable[str] = ()) -> Request:
        self._pending = _Pending(kind, self._state, tuple(secrets))
        if kind in (_Exchange.LOGIN, _Exchange.SECOND_FACTOR, _Exchange.SECURITY_ANSWER) or (
            kind in (_Exchange.REFRESH, _Exchange.RELOGIN)
            and self._state is not AuthState.AUTHENTICATED
        ):
            self._state = AuthState.AUTHENTICATING
        return request

    def _restore(self, pending: _Pending) -> None:
        """Back to the state before ``pending`` began, unless a 401 killed the token meanwhile."""
        self._state = pending.state_before
        if self._state is AuthState.AUTHENTICATED and self._token is None:
            self._state = AuthState.EXPIRED

    def _reset_credentials(self) -> None:
        self._retire(self._token)
        self._token = None
        self._expires_at = None
        self._password = None
        self._challenge_token = None

    def _authorization(self) -> str:
        assert self._token is not None
        return f"Bearer {self._token}" if self._scheme is AuthScheme.OAUTH else self._token

    def authorization(self) -> str:
        """The current ``Authorization`` value (``Bearer <access token>`` for OAuth,
        the bare session token for a ``/sessions`` login): a secret.

        For what must carry it outside HTTP headers (the account streamer puts it in
        every message). Refuses (:class:`LocalProtocolError`) when no token is held.
        """
        self._check(Action.AUTHORIZE)
        return self._authorization()

    @property
    def can_renew(self) -> bool:
        """Whether a new token can be had without the user (a refresh token and client
        secret, or a remember token)."""
        return self._can_renew()

    # -- legacy login ----------------------------------------------------------

    def _session_request(self, *, otp: str | None) -> Request:
        body: dict[str, Any] = {"login": self._login}
        if self._password is not None:
            body["password"] = self._password
        else:
            body["remember-token"] = self._remember_token
        body["remember-me"] = self._remember_me
        headers = []
        if otp is not None:
            headers.append(("X-Tastyworks-OTP", otp))
        if self._challenge_token is not None:
            headers.append(("X-Tastyworks-Challenge-Token", self._challenge_token))
        return self.config.request("POST", "/sessions", json_body=body, headers=headers)

    def login_with_password(
        self, login: str, password: str, *, remember_me: bool = True, otp: str | None = None
    ) -> Request:
        """``POST /sessions`` with a login name and password.

        ``remember_me`` asks for a remember token; ``otp`` sends a one-time
        code up front (classic two-factor).
        """
        self._check(Action.LOGIN)
        _require_text(login=login, password=password)
        if otp is not None:
            _require_text(otp=otp)
        self._scheme = AuthScheme.LEGACY
        self._reset_credentials()
        self._login, self._password, self._remember_me = login, password, remember_me
        return self._begin(
            _Exchange.LOGIN, self._session_request(otp=otp), (password, otp) if otp else (password,)
        )

    def login_with_remember_token(
        self, login: str, remember_token: str, *, remember_me: bool = True
    ) -> Request:
        """``POST /sessions`` with a login name and a (single-use) remember token."""
        self._check(Action.LOGIN)
        _require_text(login=login, remember_token=remember_token)
        self._scheme = AuthScheme.LEGACY
        self._reset_credentials()
        self._login, self._remember_token, self._remember_me = login, remember_token, remember_me
        return self._begin(_Exchange.LOGIN, self._session_request(otp=None))

    def relogin(self) -> Request:
        """Log in again with the remember token held (after expiry)."""
        self._check(Action.RELOGIN)
        if self._scheme is not AuthScheme.LEGACY or not self._remember_token or not self._login:
            raise LocalProtocolError(
                f"cannot {Action.RELOGIN.value}: no remember token is held", state=self._state.name
            )
        if self._state is not AuthState.AUTHENTICATED:
            self._reset_credentials()
        # From AUTHENTICATED (renewing early) the current token keeps working
        # until the answer arrives, as with an OAuth refresh.
        self._remember_me = True
        return self._begin(_Exchange.RELOGIN, self._session_request(otp=None))

    def start_device_challenge(self) -> Request:
        """``POST /device-challenge``: makes the server send the one-time code."""
        self._check(Action.START_DEVICE_CHALLENGE)
        request = self.config.request(
            "POST",
            "/device-challenge",
            json_body={},
            headers=[("X-Tastyworks-Challenge-Token", self._challenge_token or "")],
        )
        return self._begin(_Exchange.DEVICE_CHALLENGE, request)

    def submit_second_factor(self, otp: str) -> Request:
        """Resend the login with the one-time code (and challenge token, if any)."""
        self._check(Action.SUBMIT_SECOND_FACTOR)
        _require_text(otp=otp)
        return self._begin(_Exchange.SECOND_FACTOR, self._session_request(otp=otp), (otp,))

    def answer_security_question(self, answer: str) -> Request:
        """``POST /device-challenge`` with the answer to the security question."""
        self._check(Action.ANSWER_SECURITY_QUESTION)
        _require_text(answer=answer)
        request = self.config.request(
            "POST",
            "/device-challenge",
            json_body={"answer": answer},
            headers=[("X-Tastyworks-Challenge-Token", self._challenge_token or "")],
        )
        return self._begin(_Exchange.SECURITY_ANSWER, request, (answer,))

    # -- OAuth -----------------------------------------------------------------

    def login_with_oauth(
        self, client_secret: str, refresh_token: str, *, client_id: str | None = None
    ) -> Request:
        """Start an OAuth session: the first ``POST /oauth/token`` refresh."""
        self._check(Action.LOGIN)
        _require_text(client_secret=client_secret, refresh_token=refresh_token)
        self._scheme = AuthScheme.OAUTH
        self._reset_credentials()
        self._client_secret, self._refresh_token, self._client_id = (
            client_secret,
            refresh_token,
            client_id,
        )
        return self._begin(_Exchange.REFRESH, self._oauth_request())

    def refresh(self) -> Request:
        """``POST /oauth/token`` for a new access token.

        Allowed while the current token still works: requests in flight keep
        using it until the new one arrives.
        """
        self._check(Action.REFRESH)
        if self._scheme is not AuthScheme.OAUTH or not self._can_renew():
            raise LocalProtocolError(
                f"cannot {Action.REFRESH.value}: no OAuth refresh token and client secret are "
                "held (pass client_secret= to AuthMachine.load)",
                state=self._state.name,
            )
        return self._begin(_Exchange.REFRESH, self._oauth_request())

    def _oauth_request(self) -> Request:
        body = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token,
            "client_secret": self._client_secret,
        }
        if self._client_id:
            body["client_id"] = self._client_id
        # No Authorization header: the token endpoint refuses one.
        return self.config.request("POST", "/oauth/token", json_body=body)

    # -- using the session -----------------------------------------------------

    def auth_need(self, now: float) -> AuthNeed:
        """What must happen before an authenticated request can go out at ``now``.

        Raises :class:`SessionExpired` when the session is over and nothing
        held can renew it, and :class:`LocalProtocolError` in states where no
        request can be authorized (before login, awaiting a second factor,
        after logout).
        """
        state = self._state
        if state is AuthState.AUTHENTICATED:
            assert self._expires_at is not None
            remaining = self._expires_at.timestamp() - now
            if remaining > self._margin():
                return AuthNeed.NONE
            if self._pending is not None:
                # Someone is renewing; the current token may still carry us.
                return AuthNeed.NONE if remaining > 0 else AuthNeed.WAIT
            if remaining > 0 and (not self._can_renew() or now < self._renewal_postponed_until):
                return AuthNeed.NONE  # nothing to renew with, or it just failed: carry on
            return self._renewal()
        if state is AuthState.EXPIRED:
            return AuthNeed.WAIT if self._pending is not None else self._renewal()
        if state is AuthState.AUTHENTICATING:
            return AuthNeed.WAIT
        raise LocalProtocolError(
            f"cannot {Action.AUTHORIZE.value} in state {state.name}", state=state.name
        )

    def _margin(self) -> float:
        """How long before expiry the current token counts as due: ``refresh_margin``, or
        half the token's lifetime when that is shorter. A server that issues tokens for
        less than the margin would otherwise have every token due the moment it arrives,
        and every request renew it."""
        if self._lifetime is None:
            return self.refresh_margin
        return min(self.refresh_margin, self._lifetime / 2)

    def _can_renew(self) -> bool:
        if self._scheme is AuthScheme.OAUTH:
            return bool(self._refresh_token and self._client_secret)
        return bool(self._remember_token and self._login)

    def _renewal(self) -> AuthNeed:
        if self._can_renew():
            return AuthNeed.REFRESH if self._scheme is AuthScheme.OAUTH else AuthNeed.RELOGIN
        self._state = AuthState.EXPIRED
        what = (
            "no refresh token and client secret are"
            if self._scheme is AuthScheme.OAUTH
            else "no remember token is"
        )
        raise SessionExpired(f"the session has expired and {what} held to renew it; log in again")

    def postpone_renewal(self, until: float) -> None:
        """Don't try an early renewal again before POSIX time ``until``.

        Flows call this when renewing inside the margin failed while the
        token still works, so that every request does not retry it at once.
        It never delays a renewal past the token's expiry.
        """
        self._renewal_postponed_until = until

    @property
    def holds_token(self) -> bool:
        """Whether a session or access token is held (there is something to log out)."""
        return self._token is not None

    def close(self) -> None:
        """End the session locally, without a request: forget every secret.

        For when there is nothing to revoke on the server (never logged in,
        the token already dead, a second factor abandoned).
        """
        self._pending = None
        self._close()

    def authorize(self, request: Request, now: float) -> Request:
        """``request`` with this session's ``Authorization`` header.

        Refuses (:class:`LocalProtocolError`) a request that is bound to
        fail: outside ``AUTHENTICATED``, or once the token's expiry time has
        passed at ``now``. Ask :meth:`auth_need` first to renew in time.
        """
        self._check(Action.AUTHORIZE)
        assert self._expires_at is not None
        if now >= self._expires_at.timestamp():
            raise LocalProtocolError(
                f"the token expired at {self._expires_at.isoformat()}; renew it first "
                f"(state {self._state.name})",
                state=self._state.name,
            )
        return request.with_headers([("authorization", self._authorization())])

    def observe(self, request: Request, response: Response) -> bool:
        """Watch the answer to an authorized request; ``True`` if it expired the session.

        A 401 to a request that carried the current token means the token is
        no good: the machine moves to ``EXPIRED``. A 401 to an older token
        (already renewed meanwhile) changes nothing.
        """
        if response.status != 401 or self._token is None:
            return False
        if request.header("authorization") != self._authorization():
            return False
        if self._state is AuthState.AUTHENTICATED:
            self._state = AuthState.EXPIRED
            self._retire(self._token)
            self._token = None
            return True
        return False

    def validate(self) -> Request:
        """``POST /sessions/validate`` with the current token."""
        self._check(Action.VALIDATE)
        request = self.config.request("POST", "/sessions/validate", json_body={})
        return self._begin(
            _Exchange.VALIDATE, request.with_headers([("authorization", self._authorization())])
        )

    def logout(self) -> Request:
        """``DELETE /sessions``: end the session on the server."""
        self._check(Action.LOGOUT)
        if self._token is None:
            # Nothing valid to revoke (expired and dropped): close locally.
            self._close()
            raise LocalProtocolError(
                "nothing to log out: the session had already expired; it is now closed",
                state=self._state.name,
            )
        request = self.config.request("DELETE", "/sessions")
        return self._begin(
            _Exchange.LOGOUT, request.with_headers([("authorization", self._authorization())])
        )

    def _close(self) -> None:
        self._reset_credentials()
        self._remember_token = None
        self._refresh_token = None
        self._client_secret = None
        self._retired.clear()
        self._state = AuthState.CLOSED

    # -- answers ---------------------------------------------------------------

    def receive(self, response: Response, now: float) -> tuple[Event, ...]:
        """Take the answer to the exchange in flight; return what happened.

        Raises a :class:`~tastytrade_proto.errors.TastytradeError` subclass
        when the answer is a refusal; the machine's state then says what may
        happen next (for example ``AWAITING_SECOND_FACTOR`` after
        :class:`SecondFactorRequired`).
        """
        pending = self._pending
        if pending is None:
            raise LocalProtocolError(
                f"no exchange is in flight in state {self._state.name}; nothing to receive",
                state=self._state.name,
            )
        secrets = self.secrets()
        self._pending = None
        handler = {
            _Exchange.LOGIN: self._receive_login,
            _Exchange.RELOGIN: self._receive_login,
            _Exchange.SECOND_FACTOR: self._receive_login,
            _Exchange.DEVICE_CHALLENGE: self._receive_challenge,
            _Exchange.SECURITY_ANSWER: self._receive_challenge,
            _Exchange.REFRESH: self._receive_refresh,
            _Exchange.VALIDATE: self._receive_validate,
            _Exchange.LOGOUT: self._receive_logout,
        }[pending.kind]
        try:
            return handler(response, now, pending)
        except TastytradeError as exc:
            exc._scrub(secrets)
            raise

    def exchange_failed(self) -> None:
        """The exchange in flight never got an answer (the transport failed).

        The machine forgets it and goes back to where it can be tried again:
        a failed login must be started over (the password is not kept), a
        failed second factor may be resubmitted, anything else is as before.
        """
        pending = self._pending
        if pending is None:
            raise LocalProtocolError(
                f"no exchange is in flight in state {self._state.name}", state=self._state.name
            )
        self._pending = None
        if pending.kind in (_Exchange.LOGIN, _Exchange.RELOGIN):
            self._abandon_login(pending)
        else:
            self._restore(pending)

    def _emit(self, event: TokenEvent, hook_errors: list[BaseException]) -> None:
        if self.on_token is None:
            return
        try:
            self.on_token(event)
        except Exception as exc:  # the caller's store failed: finish, then tell them
            hook_errors.append(exc)

    def _fail_login(self, response: Response, pending: _Pending) -> TastytradeError:
        error = error_from_response(response)
        if isinstance(error, DeviceChallengeRequired):
            challenge = response.header("x-tastyworks-challenge-token")
            if challenge:
                self._challenge_token = challenge
                self._state = AuthState.DEVICE_CHALLENGE
                return error
            self._abandon_login(pending)
            return shape_error(response, "device challenge has no X-Tastyworks-Challenge-Token")
        if isinstance(error, (SecondFactorRequired, InvalidSecondFactor)):
            self._state = AuthState.AWAITING_SECOND_FACTOR
            return error
        if pending.kind is _Exchange.SECOND_FACTOR:
            # Still waiting for a good code; its refusal code is undocumented,
            # so any 400/401/403 here counts as a wrong code.
            self._state = AuthState.AWAITING_SECOND_FACTOR
            if response.status in (400, 401, 403):
                return _as_invalid_second_factor(error)
            return error
        if isinstance(error, InvalidCredentials) and self._password is None:
            self._retire(self._remember_token)
            self._remember_token = None  # refused: it cannot renew anything
        self._abandon_login(pending)
        return error

    def _abandon_login(self, pending: _Pending) -> None:
        # Back to where a new login may start; EXPIRED when a remember token
        # is still held, so the next request can renew with it. An early
        # re-login that failed leaves the still-valid session as it was.
        self._password = None
        self._challenge_token = None
        if pending.kind is _Exchange.RELOGIN and pending.state_before is AuthState.AUTHENTICATED:
            self._restore(pending)
        else:
            self._state = AuthState.EXPIRED if self._remember_token else AuthState.UNAUTHENTICATED

    def _receive_login(
        self, response: Response, now: float, pending: _Pending
    ) -> tuple[Event, ...]:
        if not response.ok:
            raise self._fail_login(response, pending)
        hook_errors: list[BaseException] = []
        events: list[Event] = []
        data = _data_object(response, self._fail_decode_login, pending)
        remember = data.get("remember-token")
        if _sendable(remember):
            self._retire(self._remember_token)
            self._remember_token = remember
            event: TokenEvent = RememberTokenIssued(remember)
            self._emit(event, hook_errors)
            events.append(event)
        elif self._password is None:
            # A remember-token login spends the token even when no new one comes back.
            self._retire(self._remember_token)
            self._remember_token = None
        token = data.get("session-token")
        if not _sendable(token):
            raise self._fail_decode_login(response, pending, "has no usable session-token")
        try:
            expires_at = parse_datetime(data.get("session-expiration"))  # type: ignore[arg-type]
        except ValueError:
            raise self._fail_decode_login(
                response, pending, "has no valid session-expiration"
            ) from None
        self._retire(self._token)
        self._token, self._expires_at = token, expires_at
        self._renewal_postponed_until = 0.0
        self._lifetime = expires_at.timestamp() - now
        access = AccessTokenIssued(token, expires_at, AuthScheme.LEGACY.value)
        self._emit(access, hook_errors)
        events.append(access)
        user = data.get("user")
        self._user = User.from_json(user) if isinstance(user, dict) else None
        self._password = None
        self._challenge_token = None
        self._state = AuthState.AUTHENTICATED
        events.append(LoggedIn(self._user, expires_at))
        if hook_errors:
            raise hook_errors[0]
        return tuple(events)

    def _fail_decode_login(self, response: Response, pending: _Pending, what: str) -> DecodeError:
        self._abandon_login(pending)
        return shape_error(response, f"login response {what}")

    def _receive_challenge(
        self, response: Response, now: float, pending: _Pending
    ) -> tuple[Event, ...]:
        challenge = response.header("x-tastyworks-challenge-token")
        if challenge:
            self._challenge_token = challenge  # the server may issue a new one here
        if not response.ok:
            error = error_from_response(response)
            if pending.kind is _Exchange.SECURITY_ANSWER and response.status in (400, 401, 403):
                self._state = AuthState.AWAITING_SECURITY_ANSWER
                raise _as_invalid_second_factor(error)
            self._restore(pending)
            raise error

        def fail(resp: Response, _p: _Pending, what: str) -> DecodeError:
            self._restore(pending)
            return shape_error(resp, f"device-challenge response {what}")

        data = _data_object(response, fail, pending)
        step = data.get("step")
        if step == "security_question":
            question = data.get("question")
            self._state = AuthState.AWAITING_SECURITY_ANSWER
            raise SecondFactorRequired(
                "device challenge: answer the security question",
                method="security_question",
                question=question if isinstance(question, str) else None,
                status=response.status,
                headers=response.headers,
            )
        destination = data.get("phone") or data.get("email")
        self._state = AuthState.AWAITING_SECOND_FACTOR
        raise SecondFactorRequired(
            "device challenge: a one-time code was sent; submit it",
            method="otp",
            destination=destination if isinstance(destination, str) else None,
            status=response.status,
            headers=response.headers,
        )

    def _receive_refresh(
        self, response: Response, now: float, pending: _Pending
    ) -> tuple[Event, ...]:
        def fail(error: ResponseError) -> ResponseError:
            self._restore(pending)
            return error

        if not response.ok:
            raise fail(error_from_response(response))
        try:
            document = parse_json(response)
        except DecodeError as exc:
            raise fail(exc) from None
        if isinstance(document, dict) and isinstance(document.get("data"), dict):
            document = document["data"]  # tolerate an enveloped answer
        if not isinstance(document, dict):
            raise fail(shape_error(response, "OAuth token response is not a JSON object"))
        hook_errors: list[BaseException] = []
        events: list[Event] = []
        rotated = document.get("refresh_token")
        if _sendable(rotated) and rotated != self._refresh_token:
            self._retire(self._refresh_token)
            self._refresh_token = rotated
            event: TokenEvent = RefreshTokenRotated(rotated)
            self._emit(event, hook_errors)
            events.append(event)
        token = document.get("access_token")
        if not _sendable(token):
            raise fail(shape_error(response, "OAuth token response has no usable access_token"))
        lifetime = document.get("expires_in", DEFAULT_ACCESS_TOKEN_LIFETIME)
        if isinstance(lifetime, bool) or not isinstance(lifetime, (int, Decimal, str)):
            lifetime = DEFAULT_ACCESS_TOKEN_LIFETIME
        try:
            number = Decimal(str(lifetime))
        except ArithmeticError:
            number = Decimal(DEFAULT_ACCESS_TOKEN_LIFETIME)
        if not number.is_finite() or not 0 < number < 10**9:
            number = Decimal(DEFAULT_ACCESS_TOKEN_LIFETIME)
        seconds = float(number)
        expires_at = _utc(now) + timedelta(seconds=seconds)
        self._retire(self._token)
        self._token, self._expires_at = token, expires_at
        self._renewal_postponed_until = 0.0
        self._lifetime = seconds
        access = AccessTokenIssued(token, expires_at, AuthScheme.OAUTH.value)
        self._emit(access, hook_errors)
        events.append(access)
        if pending.state_before is not AuthState.AUTHENTICATED:
            events.append(LoggedIn(self._user, expires_at))
        self._state = AuthState.AUTHENTICATED
        if hook_errors:
            raise hook_errors[0]
        return tuple(events)

    def _receive_validate(
        self, response: Response, now: float, pending: _Pending
    ) -> tuple[Event, ...]:
        if response.status == 401:
            self._retire(self._token)
            self._token = None
        self._restore(pending)
        if not response.ok:
            error = error_from_response(response)
            if response.status == 401 and not isinstance(error, SessionExpired):
                error = _as_session_expired(error)
            raise error
        if response.body.strip():
            try:
                document = parse_json(response)
            except DecodeError:
                document = None
            data = document.get("data") if isinstance(document, dict) else None
            if isinstance(data, dict):
                self._user = User.from_json(data)
        return (SessionValidated(self._user),)

    def _receive_logout(
        self, response: Response, now: float, pending: _Pending
    ) -> tuple[Event, ...]:
        # 401: the token was already dead, which is what logging out wants.
        if response.ok or response.status == 401:
            self._close()
            return (LoggedOut(),)
        self._restore(pending)
        raise error_from_response(response)

    # -- persistence -----------------------------------------------------------

    def dump(self, *, include_client_secret: bool = False) -> str:
        """The session as a JSON string, to resume it in another process.

        Holds the tokens (session or access token, remember token, refresh
        token), expiry, user and environment. The client secret is included
        only when ``include_client_secret`` is true; the password never is
        (the machine does not keep it past login).
        """
        self._check(Action.DUMP)
        env = self.config.environment
        state = {
            "version": _DUMP_VERSION,
            "scheme": self._scheme.value,
            "state": self._resumable_state().value,
            "environment": {
                "name": env.name,
                "base_url": env.base_url,
                "accept_version": env.accept_version,
            },
            "login": self._login,
            "token": self._token,
            # Full precision and the offset as received (no conversion that could overflow).
            "expires_at": self._expires_at.isoformat() if self._expires_at else None,
            "remember_token": self._remember_token,
            "refresh_token": self._refresh_token,
            "client_id": self._client_id,
            "user": self._user.to_json() if self._user else None,
        }
        if include_client_secret:
            state["client_secret"] = self._client_secret
        return json.dumps(state, sort_keys=True)

    def _resumable_state(self) -> AuthState:
        """What a dump resumes as: an exchange or a second-factor step is not resumed."""
        if self._state in (AuthState.AUTHENTICATED, AuthState.EXPIRED):
            return self._state
        if self._token is not None and self._expires_at is not None:
            return AuthState.AUTHENTICATED
        if self._remember_token or self._refresh_token:
            return AuthState.EXPIRED
        return AuthState.UNAUTHENTICATED

    @classmethod
    def load(
        cls,
        text: str | bytes,
        *,
        config: ClientConfig | None = None,
        on_token: Callable[[TokenEvent], None] | None = None,
        client_secret: str | None = None,
        refresh_margin: float = REFRESH_MARGIN,
    ) -> AuthMachine:
        """Rebuild a machine from :meth:`dump`'s output.

        ``config`` replaces the dumped environment (its base URL and
        ``Accept-Version``); ``client_secret`` supplies the OAuth client
        secret when the dump was made without it.
        """
        try:
            state = json.loads(text)
            if not isinstance(state, dict) or state.get("version") != _DUMP_VERSION:
                raise ValueError("not a session dump of a version this library reads")
            env = state["environment"]
            environment = Environment(
                str(env["name"]), str(env["base_url"]), _opt_str(env.get("accept_version"))
            )
            machine = cls(
                config=config or ClientConfig(environment=environment),
                on_token=on_token,
                refresh_margin=refresh_margin,
            )
            machine._scheme = AuthScheme(state["scheme"])
            machine._state = AuthState(state["state"])
            resumable = (
                AuthState.UNAUTHENTICATED,
                AuthState.AUTHENTICATED,
                AuthState.EXPIRED,
            )
            if machine._state not in resumable:
                raise ValueError(f"a dump cannot be in state {machine._state.name}")
            machine._login = _opt_str(state.get("login"))
            machine._token = _opt_str(state.get("token"))
            expires = _opt_str(state.get("expires_at"))
            machine._expires_at = parse_datetime(expires) if expires else None
            machine._remember_token = _opt_str(state.get("remember_token"))
            machine._refresh_token = _opt_str(state.get("refresh_token"))
            machine._client_id = _opt_str(state.get("client_id"))
            machine._client_secret = client_secret or _opt_str(state.get("client_secret"))
            user = state.get("user")
            machine._user = User.from_json(user) if isinstance(user, dict) else None
            if machine._state is AuthState.AUTHENTICATED and (
                machine._token is None or machine._expires_at is None
            ):
                raise ValueError("an authenticated dump needs a token and its expiry")
        except (ValueError, KeyError, TypeError, RecursionError, LocalProtocolError) as exc:
            message = str(exc) if isinstance(exc, (ValueError, LocalProtocolError)) else repr(exc)
            raise LocalProtocolError(f"cannot load session dump: {message[:200]}") from None
        return machine


def _as_invalid_second_factor(error: ResponseError) -> InvalidSecondFactor:
    return _convert(error, InvalidSecondFactor)


def _as_session_expired(error: ResponseError) -> SessionExpired:
    return _convert(error, SessionExpired)


_E = TypeVar("_E", bound=ApiError)


def _convert(error: ResponseError, cls: type[_E]) -> _E:
    """The same refusal as another class (the API's codes for it are unknown)."""
    if isinstance(error, ApiError):
        return cls(
            error.message,
            status=error.status,
            headers=error.headers,
            code=error.code,
            api_message=error.api_message,
            errors=error.errors,
            redirect=error.redirect,
        )
    return cls(error.message, status=error.status, headers=error.headers)


def _sendable(value: Any) -> TypeGuard[str]:
    """Whether a token from the server can go back in a header or body as it is."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= 8192
        and value.isascii()
        and value.isprintable()
        and value.strip() == value
    )


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def _require_text(**values: str) -> None:
    for name, value in values.items():
        if not isinstance(value, str) or not value:
            raise LocalProtocolError(f"{name} must be a non-empty string")


def _data_object(
    response: Response,
    fail: Callable[[Response, _Pending, str], DecodeError],
    pending: _Pending,
) -> dict[str, Any]:
    try:
        document = parse_json(response)
    except DecodeError:
        raise fail(response, pending, "is not valid JSON") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise fail(response, pending, "has no 'data' object")
    return data


__getattr__ = deprecated_names(
    __name__,
    {
        "SessionMachine": ("AuthMachine", lambda: AuthMachine),
        "SessionState": ("AuthState", lambda: AuthState),
    },
)
