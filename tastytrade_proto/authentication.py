"""Authentication: logging in (password, remember token, OAuth), the second factor,
refreshing, validating and logging out, each declared once as an :class:`Endpoint`.

The work is done by :mod:`~tastytrade_proto.protocol.flows` and the
:class:`~tastytrade_proto.protocol.auth.AuthMachine`; this module only says which
flow each call of a session is, so that the operation form (``session.calls``),
the synchronous and the asynchronous sessions all offer the same calls with the
same signatures. Every call returns the session's events (the tokens issued, the
user) except :attr:`AuthenticationAPI.validate` (a ``bool``) and
:attr:`AuthenticationAPI.logout`.
"""

from __future__ import annotations

from .protocol import flows
from .protocol.endpoint import CallContext, Endpoint
from .protocol.flows import Events
from .protocol.operation import Operation

__all__ = ["AuthenticationAPI"]


def _login_with_password(
    calls: CallContext,
    login: str,
    password: str,
    *,
    remember_me: bool = True,
    otp: str | None = None,
    prompt: bool | None = None,
    timeout: float | None = None,
) -> Operation[Events]:
    """Log in with a password (legacy sessions) and, if the server asks, a one-time code.

    The code can be given up front (``otp``), answered through the session's
    ``prompt``, or sent afterwards with :attr:`~AuthenticationAPI.submit_second_factor`
    once :class:`~tastytrade_proto.errors.SecondFactorRequired` is raised.
    ``prompt`` overrides whether the session's prompt is asked (by default it is,
    when the session has one). ``remember_me`` asks for a remember token, which
    goes to the session's ``token_store``.
    """
    return flows.login_with_password(
        calls.machine,
        login,
        password,
        remember_me=remember_me,
        otp=otp,
        prompt=calls.prompting if prompt is None else prompt,
        timeout=timeout,
    )


def _login_with_remember_token(
    calls: CallContext,
    login: str,
    remember_token: str,
    *,
    remember_me: bool = True,
    prompt: bool | None = None,
    timeout: float | None = None,
) -> Operation[Events]:
    """Log in with a single-use remember token; the new one goes to ``token_store``
    before anything else can fail. ``prompt`` is as for ``login_with_password``."""
    return flows.login_with_remember_token(
        calls.machine,
        login,
        remember_token,
        remember_me=remember_me,
        prompt=calls.prompting if prompt is None else prompt,
        timeout=timeout,
    )


def _login_with_oauth(
    calls: CallContext,
    client_secret: str,
    refresh_token: str,
    *,
    client_id: str | None = None,
    timeout: float | None = None,
) -> Operation[Events]:
    """Start an OAuth session (the only scheme the live API accepts today); access
    tokens are renewed from the refresh token as they age."""
    return flows.login_with_oauth(
        calls.machine, client_secret, refresh_token, client_id=client_id, timeout=timeout
    )


def _submit_second_factor(
    calls: CallContext, otp: str, *, timeout: float | None = None
) -> Operation[Events]:
    """Send the one-time code after ``SecondFactorRequired``; a wrong one raises
    ``InvalidSecondFactor`` and may be sent again."""
    return flows.submit_second_factor(calls.machine, otp, timeout=timeout)


def _answer_security_question(
    calls: CallContext, answer: str, *, timeout: float | None = None
) -> Operation[Events]:
    """Answer the device challenge's security question (then a code is asked for)."""
    return flows.answer_security_question(calls.machine, answer, timeout=timeout)


def _refresh(calls: CallContext, *, timeout: float | None = None) -> Operation[Events]:
    """Mint a new OAuth access token now (it also happens on demand)."""
    return flows.refresh(calls.machine, timeout=timeout)


def _validate(calls: CallContext, *, timeout: float | None = None) -> Operation[bool]:
    """Whether the server still accepts the session (``False`` after a 401, or when it
    expired with nothing to renew it, or its renewal was refused)."""
    return flows.validate(calls.machine, retry=calls.settings.retry, timeout=timeout)


def _logout(calls: CallContext, *, timeout: float | None = None) -> Operation[None]:
    """End the session (safe in any state)."""
    return flows.logout(calls.machine, timeout=timeout)


class AuthenticationAPI:
    """The authentication calls, each declared once."""

    login_with_password = Endpoint(_login_with_password)
    login_with_remember_token = Endpoint(_login_with_remember_token)
    login_with_oauth = Endpoint(_login_with_oauth)
    submit_second_factor = Endpoint(_submit_second_factor)
    answer_security_question = Endpoint(_answer_security_question)
    refresh = Endpoint(_refresh)
    validate = Endpoint(_validate)
    logout = Endpoint(_logout)
