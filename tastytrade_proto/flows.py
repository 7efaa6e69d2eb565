"""Every multi-step flow, written once, as an :class:`~tastytrade_proto.operation.Operation`.

Each public function here takes a :class:`~tastytrade_proto.session.SessionMachine`
and returns an operation for a transport to drive. Authentication flows
return the session's events; :func:`call`, :func:`page` and :func:`paginate`
return what their decoder makes of the response.

The building blocks are public so that longer flows (an order placement that
reconciles, an endpoint with several calls) can be written once on top of
them: :func:`request_flow` and :func:`ensure_authenticated` are generators to
``yield from`` inside a flow, and :func:`operation` turns a flow into an
:class:`~tastytrade_proto.operation.Operation`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from .envelope import Envelope, decode_envelope, error_from_response
from .errors import (
    ApiError,
    DecodeError,
    DeviceChallengeRequired,
    InvalidSecondFactor,
    LocalProtocolError,
    ResponseError,
    SecondFactorRequired,
    SessionExpired,
    TransportError,
)
from .events import Event
from .http import Request, Response
from .operation import Ask, Context, Flow, Operation, Send, Wait
from .retry import DEFAULT_RETRY, RetryPolicy
from .session import AuthNeed, SessionMachine, SessionState

__all__ = [
    "AUTH_POLL_INTERVAL",
    "AUTH_WAIT_LIMIT",
    "RENEWAL_RETRY_INTERVAL",
    "SECOND_FACTOR_ATTEMPTS",
    "Events",
    "answer_security_question",
    "call",
    "ensure_authenticated",
    "login_with_oauth",
    "login_with_password",
    "login_with_remember_token",
    "logout",
    "operation",
    "page",
    "paginate",
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


def operation(machine: SessionMachine, flow: Callable[[Context], Flow[T]]) -> Operation[T]:
    """An operation running ``flow``, whose errors are scrubbed of ``machine``'s secrets."""
    return Operation(flow, scrub=machine.scrub_error)


_operation = operation


def _exchange(ctx: Context, machine: SessionMachine, request: Request) -> Flow[Events]:
    """Send one authentication exchange's request and hand the answer to the machine."""
    try:
        response: Response = yield Send(request)
    except BaseException:
        # A transport failure, or the operation was cancelled or dropped
        # (GeneratorExit): either way the answer will never come.
        machine.exchange_failed()
        raise
    return machine.receive(response, ctx.now)


def _login(
    ctx: Context, machine: SessionMachine, request: Request, prompt: bool = False
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
    ctx: Context, machine: SessionMachine, needed: SecondFactorRequired
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
    machine: SessionMachine,
    login: str,
    password: str,
    *,
    remember_me: bool = True,
    otp: str | None = None,
    prompt: bool = False,
) -> Operation[Events]:
    """Log in with a password (legacy sessions).

    When the server wants a second factor the operation raises
    :class:`~tastytrade_proto.errors.SecondFactorRequired` (after starting a
    device challenge, if that is the variant) and the machine waits in
    ``AWAITING_SECOND_FACTOR`` for :func:`submit_second_factor`. With
    ``prompt=True`` it yields an :class:`~tastytrade_proto.operation.Ask`
    step instead, takes the answer, and asks again after a wrong one (up to
    :data:`SECOND_FACTOR_ATTEMPTS` times).
    """
    request = machine.login_with_password(login, password, remember_me=remember_me, otp=otp)
    return _operation(machine, lambda ctx: _login(ctx, machine, request, prompt))


def login_with_remember_token(
    machine: SessionMachine,
    login: str,
    remember_token: str,
    *,
    remember_me: bool = True,
    prompt: bool = False,
) -> Operation[Events]:
    """Log in with a remember token; the new one arrives as an event and via ``on_token``.

    ``prompt`` is as for :func:`login_with_password` (the server may still
    ask for a device challenge).
    """
    request = machine.login_with_remember_token(login, remember_token, remember_me=remember_me)
    return _operation(machine, lambda ctx: _login(ctx, machine, request, prompt))


def submit_second_factor(machine: SessionMachine, otp: str) -> Operation[Events]:
    """Send the one-time code; a wrong one raises ``InvalidSecondFactor`` and may be retried."""
    request = machine.submit_second_factor(otp)
    return _operation(machine, lambda ctx: _login(ctx, machine, request))


def answer_security_question(machine: SessionMachine, answer: str) -> Operation[Events]:
    """Answer the device challenge's security question (then a code is asked for)."""
    request = machine.answer_security_question(answer)
    return _operation(machine, lambda ctx: _exchange(ctx, machine, request))


def start_device_challenge(machine: SessionMachine) -> Operation[Events]:
    """``POST /device-challenge`` for a machine left in ``DEVICE_CHALLENGE``.

    The login flows do this themselves; this is for a challenge that arrived
    some other way (a re-login during an API call). It raises
    ``SecondFactorRequired`` once the server has sent the code.
    """
    request = machine.start_device_challenge()
    return _operation(machine, lambda ctx: _exchange(ctx, machine, request))


def login_with_oauth(
    machine: SessionMachine, client_secret: str, refresh_token: str, *, client_id: str | None = None
) -> Operation[Events]:
    """Start an OAuth session with a refresh token and the client secret."""
    request = machine.login_with_oauth(client_secret, refresh_token, client_id=client_id)
    return _operation(machine, lambda ctx: _exchange(ctx, machine, request))


def refresh(machine: SessionMachine) -> Operation[Events]:
    """Mint a new OAuth access token now (tokens are also renewed on demand)."""
    request = machine.refresh()
    return _operation(machine, lambda ctx: _exchange(ctx, machine, request))


def _wait_for_exchange(ctx: Context, machine: SessionMachine) -> Flow[None]:
    """Wait (briefly, in steps) while another task's exchange is in flight."""
    waited = 0.0
    while machine.exchange_in_flight:
        if waited >= AUTH_WAIT_LIMIT:
            raise LocalProtocolError(
                f"gave up after {AUTH_WAIT_LIMIT:.0f} s waiting for another task's "
                f"authentication exchange (state {machine.state.name})",
                state=machine.state.name,
            )
        waited += AUTH_POLL_INTERVAL
        yield Wait(AUTH_POLL_INTERVAL)


def _validate(ctx: Context, machine: SessionMachine, retry: RetryPolicy) -> Flow[bool]:
    attempt = 0
    while True:
        attempt += 1
        yield from ensure_authenticated(ctx, machine)
        yield from _wait_for_exchange(ctx, machine)
        try:
            yield from _exchange(ctx, machine, machine.validate())
        except SessionExpired:
            return False
        except (ResponseError, TransportError) as exc:
            delay = retry.delay(attempt, exc, ctx.now)  # validating is idempotent
            if delay is None:
                raise
            yield Wait(delay)
            continue
        return True


def validate(machine: SessionMachine, *, retry: RetryPolicy = DEFAULT_RETRY) -> Operation[bool]:
    """``POST /sessions/validate``: ``True`` if the session is good, ``False`` on a 401.

    A token due for renewal is renewed first (a validate bound to fail is not
    sent); like a GET, it is retried per ``retry`` on transport errors and
    429/502/503/504.
    """
    return _operation(machine, lambda ctx: _validate(ctx, machine, retry))


def _logout(ctx: Context, machine: SessionMachine) -> Flow[None]:
    yield from _wait_for_exchange(ctx, machine)
    if machine.state is SessionState.CLOSED:
        return None
    if not machine.holds_token or machine.state not in (
        SessionState.AUTHENTICATED,
        SessionState.EXPIRED,
    ):
        machine.close()  # nothing the server could revoke
        return None
    yield from _exchange(ctx, machine, machine.logout())
    return None


def logout(machine: SessionMachine) -> Operation[None]:
    """End the session: ``DELETE /sessions`` when a token is held; then ``CLOSED``.

    Safe in any state (a ``with`` block's exit calls it): with nothing to
    revoke it closes the machine without a request, and after a logout it
    does nothing. A failure of the ``DELETE`` is raised and leaves the
    session as it was.
    """
    return _operation(machine, lambda ctx: _logout(ctx, machine))


def ensure_authenticated(ctx: Context, machine: SessionMachine) -> Flow[None]:
    """Sub-flow: renew the session if it is due (or wait for another task's renewal).

    A re-login with the remember token may meet a device challenge: it is
    started and ``SecondFactorRequired`` raised, as in a login. If renewing
    early fails while the token still works, the flow carries on with it and
    the renewal is retried after :data:`RENEWAL_RETRY_INTERVAL`.
    """
    while True:
        need = machine.auth_need(ctx.now)
        if need is AuthNeed.NONE:
            return
        if need is AuthNeed.WAIT:  # another task's exchange is in flight
            yield from _wait_for_exchange(ctx, machine)
            continue
        try:
            if need is AuthNeed.REFRESH:
                yield from _exchange(ctx, machine, machine.refresh())
            else:
                yield from _login(ctx, machine, machine.relogin())
        except (ResponseError, TransportError):
            # Renewing early failed, but the current token still works: use it.
            expires = machine.expires_at
            if (
                machine.state is SessionState.AUTHENTICATED
                and expires
                and expires.timestamp() > ctx.now
            ):
                machine.postpone_renewal(ctx.now + RENEWAL_RETRY_INTERVAL)
                return
            raise


_ensure_authenticated = ensure_authenticated


def request_flow(
    ctx: Context,
    machine: SessionMachine,
    request: Request,
    decode: Callable[[Response], T],
    idempotent: bool,
    retry: RetryPolicy,
) -> Flow[T]:
    """Sub-flow of :func:`call`: one authenticated request, renewed and retried as it allows."""
    attempt = 0
    renewed_after_401 = False
    while True:
        attempt += 1
        yield from _ensure_authenticated(ctx, machine)
        authorized = machine.authorize(request, ctx.now)
        try:
            response: Response = yield Send(authorized)
        except TransportError as exc:
            delay = retry.delay(attempt, exc, ctx.now) if idempotent else None
            if delay is None:
                raise
            yield Wait(delay)
            continue
        expired = machine.observe(authorized, response)
        if response.status == 401 and idempotent and not renewed_after_401:
            # Renew (or pick up a token another task renewed) once, then send again.
            renewed_after_401 = True
            attempt -= 1
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
        yield Wait(delay)


def _code(error: ResponseError) -> str | None:
    return error.code if isinstance(error, ApiError) else None


def call(
    machine: SessionMachine,
    request: Request,
    decode: Callable[[Response], T],
    *,
    idempotent: bool | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
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
    return _operation(machine, lambda ctx: request_flow(ctx, machine, request, decode, flag, retry))


def _next_offset(envelope: Envelope, offset: int) -> int | None:
    paging = envelope.pagination
    if paging is None or not paging.has_next:
        return None
    if paging.page_offset + 1 <= offset:
        raise DecodeError(
            f"pagination went backwards (page-offset {paging.page_offset} after {offset})"
        )
    return paging.page_offset + 1


def _page(
    ctx: Context,
    machine: SessionMachine,
    build: Callable[[int], Request],
    decode_page: Callable[[Envelope], list[T]],
    offset: int,
    retry: RetryPolicy,
) -> Flow[tuple[list[T], int | None]]:
    envelope = yield from request_flow(ctx, machine, build(offset), decode_envelope, True, retry)
    return decode_page(envelope), _next_offset(envelope, offset)


def page(
    machine: SessionMachine,
    build: Callable[[int], Request],
    decode_page: Callable[[Envelope], list[T]],
    offset: int = 0,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> Operation[tuple[list[T], int | None]]:
    """One page of an offset-paginated list: its items and the next offset (or ``None``).

    The building block of a lazy iterator: a transport's ``iter_*`` runs one
    ``page`` operation per page, as its caller consumes the items.
    """
    return _operation(machine, lambda ctx: _page(ctx, machine, build, decode_page, offset, retry))


def _paginate(
    ctx: Context,
    machine: SessionMachine,
    build: Callable[[int], Request],
    decode_page: Callable[[Envelope], list[T]],
    retry: RetryPolicy,
    max_pages: int,
) -> Flow[list[T]]:
    items: list[T] = []
    offset: int | None = 0
    for _ in range(max_pages):
        assert offset is not None
        found, offset = yield from _page(ctx, machine, build, decode_page, offset, retry)
        items.extend(found)
        if offset is None:
            return items
    raise DecodeError(f"pagination did not end within {max_pages} pages")


def paginate(
    machine: SessionMachine,
    build: Callable[[int], Request],
    decode_page: Callable[[Envelope], list[T]],
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    max_pages: int = 10_000,
) -> Operation[list[T]]:
    """Fetch every page of an offset-paginated list, in a loop (never recursion).

    ``build(offset)`` builds the request for ``page-offset=offset``;
    ``decode_page`` turns one page's envelope into its items. For a lazy
    iterator, drive :func:`page` once per page instead.
    """
    return _operation(
        machine, lambda ctx: _paginate(ctx, machine, build, decode_page, retry, max_pages)
    )
