"""Every multi-step flow, written once, as an :class:`~.operation.Operation`.

Each public function here takes a :class:`~tastytrade_proto.protocol.auth.AuthMachine`
and returns an operation for a transport to drive. Authentication flows
return the session's events; :func:`call`, :func:`page` and :func:`paginate`
return what their decoder makes of the response.

The building blocks are public so that longer flows (an order placement that
reconciles, an endpoint with several calls) can be written once on top of
them: :func:`request_flow` and :func:`ensure_authenticated` are generators to
``yield from`` inside a flow, and :func:`operation` turns a flow into an
:class:`~tastytrade_proto.protocol.operation.Operation`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from .._redact import scrub
from ..errors import (
    ApiError,
    DecodeError,
    DeviceChallengeRequired,
    InvalidCredentials,
    InvalidSecondFactor,
    LocalProtocolError,
    OAuthError,
    ResponseError,
    SecondFactorRequired,
    SessionExpired,
    TastytradeError,
    TransportError,
)
from .auth import AuthMachine, AuthNeed, AuthScheme, AuthState
from .envelope import Envelope, decode_envelope, error_from_response
from .events import Event
from .http import Request, Response
from .operation import Ask, Context, Flow, Operation, Send, Wait
from .retry import DEFAULT_RETRY, RetryPolicy

__all__ = [
    "AUTH_POLL_INTERVAL",
    "AUTH_WAIT_LIMIT",
    "LOGGER",
    "RENEWAL_RETRY_INTERVAL",
    "SECOND_FACTOR_ATTEMPTS",
    "Events",
    "answer_security_question",
    "call",
    "ensure_authenticated",
    "log",
    "login_with_oauth",
    "login_with_password",
    "login_with_remember_token",
    "logout",
    "operation",
    "page",
    "page_flow",
    "paginate",
    "paginate_flow",
    "refresh",
    "request_flow",
    "start_device_challenge",
    "submit_second_factor",
    "validate",
]

T = TypeVar("T")

#: How long a request waits between looks while another task renews the token.
AUTH_POLL_INTERVAL = 0.05
#: How long it waits in all before giving up on that renewal.
AUTH_WAIT_LIMIT = 60.0
#: After an early renewal fails (the token still works), how long until it is tried again.
RENEWAL_RETRY_INTERVAL = 10.0
#: How many wrong answers a prompting login accepts at one step before raising.
SECOND_FACTOR_ATTEMPTS = 3

Events = tuple[Event, ...]

#: The library's logger (standard :mod:`logging`; silent unless the application
#: configures logging). DEBUG: every exchange (method, path, status, attempt,
#: duration). INFO: retries, session renewals and order reconciliation. Messages
#: are scrubbed of every secret the session holds, as errors are.
LOGGER = logging.getLogger("tastytrade_proto")


def log(machine: AuthMachine, level: int, message: str, *args: Any) -> None:
    """Log ``message % args`` on :data:`LOGGER`, scrubbed of ``machine``'s secrets."""
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, "%s", scrub(message % args, machine.secrets()))


def _log_exchange(
    machine: AuthMachine,
    request: Request,
    outcome: Response | TastytradeError,
    attempt: int,
    seconds: float,
) -> None:
    if not LOGGER.isEnabledFor(logging.DEBUG):
        return
    result = (
        f"HTTP {outcome.status}"
        if isinstance(outcome, Response)
        else f"{type(outcome).__name__}: {outcome}"
    )
    log(
        machine,
        logging.DEBUG,
        "%s %s -> %s (attempt %d, %.0f ms)",
        request.method,
        request.path,
        result,
        attempt,
        max(0.0, seconds) * 1000,
    )


def operation(
    machine: AuthMachine,
    flow: Callable[[Context], Flow[T]],
    *,
    timeout: float | None = None,
    on_outcome: Callable[[], None] | None = None,
) -> Operation[T]:
    """An operation running ``flow``, whose errors are scrubbed of ``machine``'s secrets.

    ``timeout`` and ``on_outcome`` are as for :class:`Operation`.
    """
    return Operation(flow, scrub=machine.scrub_error, timeout=timeout, on_outcome=on_outcome)


_operation = operation


def _exchange(
    ctx: Context, machine: AuthMachine, request: Request, must_complete: bool = True
) -> Flow[Events]:
    """Send one authentication exchange's request and hand the answer to the machine.

    ``must_complete`` for every exchange whose answer carries a single-use
    secret (logins, second factors, device challenges, token refreshes): a
    cancelled caller still lets it finish, so the new token is never lost.
    """
    sent_at = ctx.now
    try:
        response: Response = yield Send(request, must_complete)
    except BaseException as exc:
        # A transport failure, or the operation was cancelled or dropped
        # (GeneratorExit): either way the answer will never come.
        if isinstance(exc, TransportError):
            _log_exchange(machine, request, exc, 1, ctx.now - sent_at)
        machine.exchange_failed()
        raise
    _log_exchange(machine, request, response, 1, ctx.now - sent_at)
    return machine.receive(response, ctx.now)


def _login(
    ctx: Context, machine: AuthMachine, request: Request, prompt: bool = False
) -> Flow[Events]:
    try:
        try:
            return (yield from _exchange(ctx, machine, request))
        except DeviceChallengeRequired:
            # Asking for the challenge is what makes the server send the code;
            # its answer raises SecondFactorRequired for the caller to act on.
            return (yield from _exchange(ctx, machine, machine.start_device_challenge()))
    except SecondFactorRequired as needed:
        if not prompt:
            raise
        return (yield from _prompt_for_second_factor(ctx, machine, needed))


def _prompt_for_second_factor(
    ctx: Context, machine: AuthMachine, needed: SecondFactorRequired
) -> Flow[Events]:
    """Ask for the code (or the security answer) until it is accepted, or too often wrong."""
    attempt = 0
    while True:
        attempt += 1
        answer: str = yield Ask(needed.method, needed.destination, needed.question, attempt)
        if needed.method == "security_question":
            request = machine.answer_security_question(answer)
        else:
            request = machine.submit_second_factor(answer)
        try:
            return (yield from _login(ctx, machine, request))
        except SecondFactorRequired as next_step:  # the next step of the challenge
            needed, attempt = next_step, 0
        except InvalidSecondFactor:
            if attempt >= SECOND_FACTOR_ATTEMPTS:
                raise


def login_with_password(
    machine: AuthMachine,
    login: str,
    password: str,
    *,
    remember_me: bool = True,
    otp: str | None = None,
    prompt: bool = False,
    timeout: float | None = None,
) -> Operation[Events]:
    """Log in with a password (legacy sessions).

    When the server wants a second factor the operation raises
    :class:`~tastytrade_proto.errors.SecondFactorRequired` (after starting a
    device challenge, if that is the variant) and the machine waits in
    ``AWAITING_SECOND_FACTOR`` for :func:`submit_second_factor`. With
    ``prompt=True`` it yields an :class:`~tastytrade_proto.protocol.operation.Ask`
    step instead, takes the answer, and asks again after a wrong one (up to
    :data:`SECOND_FACTOR_ATTEMPTS` times).
    """
    request = machine.login_with_password(login, password, remember_me=remember_me, otp=otp)
    return _operation(machine, lambda ctx: _login(ctx, machine, request, prompt), timeout=timeout)


def login_with_remember_token(
    machine: AuthMachine,
    login: str,
    remember_token: str,
    *,
    remember_me: bool = True,
    prompt: bool = False,
    timeout: float | None = None,
) -> Operation[Events]:
    """Log in with a remember token; the new one arrives as an event and via ``on_token``.

    ``prompt`` is as for :func:`login_with_password` (the server may still
    ask for a device challenge).
    """
    request = machine.login_with_remember_token(login, remember_token, remember_me=remember_me)
    return _operation(machine, lambda ctx: _login(ctx, machine, request, prompt), timeout=timeout)


def submit_second_factor(
    machine: AuthMachine, otp: str, *, timeout: float | None = None
) -> Operation[Events]:
    """Send the one-time code; a wrong one raises ``InvalidSecondFactor`` and may be retried."""
    request = machine.submit_second_factor(otp)
    return _operation(machine, lambda ctx: _login(ctx, machine, request), timeout=timeout)


def answer_security_question(
    machine: AuthMachine, answer: str, *, timeout: float | None = None
) -> Operation[Events]:
    """Answer the device challenge's security question (then a code is asked for)."""
    request = machine.answer_security_question(answer)
    return _operation(machine, lambda ctx: _exchange(ctx, machine, request), timeout=timeout)


def start_device_challenge(machine: AuthMachine) -> Operation[Events]:
    """``POST /device-challenge`` for a machine left in ``DEVICE_CHALLENGE``.

    The login flows do this themselves; this is for a challenge that arrived
    some other way (a re-login during an API call). It raises
    ``SecondFactorRequired`` once the server has sent the code.
    """
    request = machine.start_device_challenge()
    return _operation(machine, lambda ctx: _exchange(ctx, machine, request))


def login_with_oauth(
    machine: AuthMachine,
    client_secret: str,
    refresh_token: str,
    *,
    client_id: str | None = None,
    timeout: float | None = None,
) -> Operation[Events]:
    """Start an OAuth session with a refresh token and the client secret."""
    request = machine.login_with_oauth(client_secret, refresh_token, client_id=client_id)
    return _operation(machine, lambda ctx: _exchange(ctx, machine, request), timeout=timeout)


def _refresh(ctx: Context, machine: AuthMachine) -> Flow[Events]:
    yield from _wait_for_exchange(ctx, machine)
    return (yield from _exchange(ctx, machine, machine.refresh()))


def refresh(machine: AuthMachine, *, timeout: float | None = None) -> Operation[Events]:
    """Mint a new OAuth access token now (tokens are also renewed on demand).

    If another caller's exchange is in flight it waits for it first, then
    refreshes: many callers may ask at once. Unlike the logins, it checks the
    session's state at its first step, not when it is made.
    """
    return _operation(machine, lambda ctx: _refresh(ctx, machine), timeout=timeout)


def _wait_for_exchange(ctx: Context, machine: AuthMachine) -> Flow[None]:
    """Wait (briefly, in steps) while another caller's exchange is in flight.

    The limit is measured on the clock (``ctx.now``), not by adding up the
    waits: a driver that sleeps longer than asked, or threads that queue for
    the session, do not stretch it.
    """
    started = ctx.now
    while machine.exchange_in_flight:
        if ctx.now - started >= AUTH_WAIT_LIMIT:
            raise LocalProtocolError(
                f"gave up after {AUTH_WAIT_LIMIT:.0f} s waiting for another caller's "
                f"authentication exchange (state {machine.state.name})",
                state=machine.state.name,
            )
        yield Wait(AUTH_POLL_INTERVAL)


def _validate(ctx: Context, machine: AuthMachine, retry: RetryPolicy) -> Flow[bool]:
    attempt = 0
    while True:
        attempt += 1
        try:
            yield from ensure_authenticated(ctx, machine)
        except (SessionExpired, InvalidCredentials, OAuthError):
            # Expired with nothing to renew it, or the renewal was refused: the server
            # would not accept this session, which is what False means.
            return False
        yield from _wait_for_exchange(ctx, machine)
        if machine.state is not AuthState.AUTHENTICATED:
            return False  # another caller's request met a 401 meanwhile
        try:
            yield from _exchange(ctx, machine, machine.validate(), must_complete=False)
        except SessionExpired:
            return False
        except (ResponseError, TransportError) as exc:
            delay = retry.delay(attempt, exc, ctx.now)  # validating is idempotent
            if delay is None:
                raise
            _log_retry(machine, "POST", "/sessions/validate", exc, attempt, delay)
            yield Wait(delay)
            continue
        return True


def validate(
    machine: AuthMachine, *, retry: RetryPolicy = DEFAULT_RETRY, timeout: float | None = None
) -> Operation[bool]:
    """``POST /sessions/validate``: ``True`` if the session is good, ``False`` if not.

    ``False`` after a 401, and when the session has expired with nothing to
    renew it or its renewal was refused. A token due for renewal is renewed
    first (a validate bound to fail is not sent); like a GET, it is retried
    per ``retry`` on transport errors and 429/502/503/504.
    """
    return _operation(machine, lambda ctx: _validate(ctx, machine, retry), timeout=timeout)


def _logout(ctx: Context, machine: AuthMachine) -> Flow[None]:
    yield from _wait_for_exchange(ctx, machine)
    if machine.state is AuthState.CLOSED:
        return None
    if not machine.holds_token or machine.state not in (
        AuthState.AUTHENTICATED,
        AuthState.EXPIRED,
    ):
        machine.close()  # nothing the server could revoke
        return None
    yield from _exchange(ctx, machine, machine.logout(), must_complete=False)
    return None


def logout(machine: AuthMachine, *, timeout: float | None = None) -> Operation[None]:
    """End the session: ``DELETE /sessions`` when a token is held; then ``CLOSED``.

    Safe in any state (a ``with`` block's exit calls it): with nothing to
    revoke it closes the machine without a request, and after a logout it
    does nothing. A failure of the ``DELETE`` is raised and leaves the
    session as it was.
    """
    return _operation(machine, lambda ctx: _logout(ctx, machine), timeout=timeout)


def ensure_authenticated(ctx: Context, machine: AuthMachine) -> Flow[None]:
    """Sub-flow: renew the session if it is due (or wait for another task's renewal).

    A re-login with the remember token may meet a device challenge: it is
    started and ``SecondFactorRequired`` raised, as in a login. If renewing
    early fails while the token still works, the flow carries on with it and
    the renewal is retried after :data:`RENEWAL_RETRY_INTERVAL`.
    """
    renewed = False
    while True:
        need = machine.auth_need(ctx.now)
        if need is AuthNeed.NONE:
            return
        if need is AuthNeed.WAIT:  # another task's exchange is in flight
            yield from _wait_for_exchange(ctx, machine)
            continue
        if renewed:
            # The token just issued is already due by our clock: renewing again would
            # loop for ever. The server's clock and ours disagree by more than its life.
            expires = machine.expires_at
            raise SessionExpired(
                "the server issued a token that has expired by this machine's clock "
                f"(it expires at {expires.isoformat() if expires else 'an unknown time'}): "
                "check the system clock"
            )
        log(
            machine,
            logging.INFO,
            "renewing the session (%s): the token expires at %s",
            "OAuth refresh" if need is AuthNeed.REFRESH else "log in again with the remember token",
            machine.expires_at.isoformat() if machine.expires_at else "an unknown time",
        )
        try:
            if need is AuthNeed.REFRESH:
                yield from _exchange(ctx, machine, machine.refresh())
            else:
                yield from _login(ctx, machine, machine.relogin())
            renewed = True
        except (ResponseError, TransportError) as exc:
            log(machine, logging.INFO, "renewing the session failed: %s", exc)
            # Renewing early failed, but the current token still works: use it.
            expires = machine.expires_at
            if (
                machine.state is AuthState.AUTHENTICATED
                and expires
                and expires.timestamp() > ctx.now
            ):
                machine.postpone_renewal(ctx.now + RENEWAL_RETRY_INTERVAL)
                return
            raise


_ensure_authenticated = ensure_authenticated


def renew(ctx: Context, machine: AuthMachine) -> Flow[None]:
    """Sub-flow: renew the session now, whatever its expiry says (a server refused the
    token). Waits for another caller's renewal instead when one is in flight, and raises
    :class:`SessionExpired` when nothing held can renew it."""
    if machine.exchange_in_flight:
        yield from _wait_for_exchange(ctx, machine)
        return
    if not machine.can_renew:
        raise SessionExpired(
            "the server refused the session's token and nothing is held to renew it; log in again"
        )
    log(machine, logging.INFO, "renewing the session: a streamer refused its token")
    if machine.scheme is AuthScheme.OAUTH:
        yield from _exchange(ctx, machine, machine.refresh())
    else:
        yield from _login(ctx, machine, machine.relogin())


def request_flow(
    ctx: Context,
    machine: AuthMachine,
    request: Request,
    decode: Callable[[Response], T],
    idempotent: bool,
    retry: RetryPolicy,
) -> Flow[T]:
    """Sub-flow of :func:`call`: one authenticated request, renewed and retried as it allows.

    A non-idempotent request is sent once, as a ``must_complete`` step: its
    answer says whether an order was placed, replaced or cancelled.
    """
    attempt = 0
    renewed_after_401 = False
    while True:
        attempt += 1
        yield from _ensure_authenticated(ctx, machine)
        authorized = machine.authorize(request, ctx.now)
        sent_at = ctx.now
        try:
            response: Response = yield Send(authorized, not idempotent)
        except TransportError as exc:
            _log_exchange(machine, request, exc, attempt, ctx.now - sent_at)
            delay = retry.delay(attempt, exc, ctx.now) if idempotent else None
            if delay is None:
                raise
            _log_retry(machine, request.method, request.path, exc, attempt, delay)
            yield Wait(delay)
            continue
        _log_exchange(machine, request, response, attempt, ctx.now - sent_at)
        expired = machine.observe(authorized, response)
        if response.status == 401 and idempotent and not renewed_after_401:
            # Renew (or pick up a token another task renewed) once, then send again.
            renewed_after_401 = True
            attempt -= 1
            log(
                machine,
                logging.INFO,
                "%s %s: 401, renewing the session and sending it again",
                request.method,
                request.path,
            )
            continue
        if response.ok:
            return decode(response)
        error = error_from_response(response)
        if expired and not isinstance(error, SessionExpired):
            raise SessionExpired(
                error.message, status=error.status, headers=error.headers, code=_code(error)
            )
        delay = retry.delay(attempt, error, ctx.now) if idempotent else None
        if delay is None:
            raise error
        _log_retry(machine, request.method, request.path, error, attempt, delay)
        yield Wait(delay)


def _log_retry(
    machine: AuthMachine, method: str, path: str, error: Any, attempt: int, delay: float
) -> None:
    log(
        machine,
        logging.INFO,
        "%s %s: retrying in %.2f s after attempt %d failed (%s: %s)",
        method,
        path,
        delay,
        attempt,
        type(error).__name__,
        error,
    )


def _code(error: ResponseError) -> str | None:
    return error.code if isinstance(error, ApiError) else None


def call(
    machine: AuthMachine,
    request: Request,
    decode: Callable[[Response], T],
    *,
    idempotent: bool | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    timeout: float | None = None,
) -> Operation[T]:
    """One authenticated API request: renew first if due, send, decode.

    ``idempotent`` defaults to ``True`` for GET (and HEAD) only. An
    idempotent request is retried per ``retry`` on transport errors and
    429/502/503/504, and sent once more after a 401 that renewing the
    session cures. A non-idempotent one (placing, replacing or cancelling an
    order) is sent exactly once: any failure is raised as it is.
    """
    if idempotent is None:
        idempotent = request.method in ("GET", "HEAD")
    flag = idempotent
    return _operation(
        machine,
        lambda ctx: request_flow(ctx, machine, request, decode, flag, retry),
        timeout=timeout,
    )


def _next_offset(envelope: Envelope, offset: int) -> int | None:
    paging = envelope.pagination
    if paging is None or not paging.has_next:
        return None
    if paging.page_offset + 1 <= offset:
        raise DecodeError(
            f"pagination went backwards (page-offset {paging.page_offset} after {offset})"
        )
    return paging.page_offset + 1


def page_flow(
    ctx: Context,
    machine: AuthMachine,
    build: Callable[[int], Request],
    decode_page: Callable[[Envelope], list[T]],
    offset: int,
    retry: RetryPolicy,
) -> Flow[tuple[list[T], int | None]]:
    """The flow of :func:`page`, to ``yield from`` in a longer flow."""
    envelope = yield from request_flow(ctx, machine, build(offset), decode_envelope, True, retry)
    return decode_page(envelope), _next_offset(envelope, offset)


def page(
    machine: AuthMachine,
    build: Callable[[int], Request],
    decode_page: Callable[[Envelope], list[T]],
    offset: int = 0,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    timeout: float | None = None,
) -> Operation[tuple[list[T], int | None]]:
    """One page of an offset-paginated list: its items and the next offset (or ``None``).

    The building block of a lazy iterator: a transport's ``iter_*`` runs one
    ``page`` operation per page, as its caller consumes the items.
    """
    return _operation(
        machine,
        lambda ctx: page_flow(ctx, machine, build, decode_page, offset, retry),
        timeout=timeout,
    )


def paginate_flow(
    ctx: Context,
    machine: AuthMachine,
    build: Callable[[int], Request],
    decode_page: Callable[[Envelope], list[T]],
    retry: RetryPolicy,
    max_pages: int,
) -> Flow[list[T]]:
    """The flow of :func:`paginate`, to ``yield from`` in a longer flow."""
    items: list[T] = []
    offset: int | None = 0
    for _ in range(max_pages):
        assert offset is not None
        found, offset = yield from page_flow(ctx, machine, build, decode_page, offset, retry)
        items.extend(found)
        if offset is None:
            return items
    raise DecodeError(f"pagination did not end within {max_pages} pages")


def paginate(
    machine: AuthMachine,
    build: Callable[[int], Request],
    decode_page: Callable[[Envelope], list[T]],
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    max_pages: int = 10_000,
    timeout: float | None = None,
) -> Operation[list[T]]:
    """Fetch every page of an offset-paginated list, in a loop (never recursion).

    ``build(offset)`` builds the request for ``page-offset=offset``;
    ``decode_page`` turns one page's envelope into its items. For a lazy
    iterator, drive :func:`page` once per page instead.
    """
    return _operation(
        machine,
        lambda ctx: paginate_flow(ctx, machine, build, decode_page, retry, max_pages),
        timeout=timeout,
    )
