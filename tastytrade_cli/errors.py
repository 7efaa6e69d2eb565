"""What a failed command says, and the exit status it ends with.

Every failure is one or two plain lines on stderr (``tastytrade: ...``) and
an exit status that says what kind of failure it was, so a script can tell
"the server is down" from "the order was refused" from "you said no".
``--debug`` adds the detail (the library's own message and the traceback,
secrets scrubbed).
"""

from __future__ import annotations

import enum
import re

from tastytrade_proto import (
    ApiError,
    AuthenticationError,
    DecodeError,
    Forbidden,
    InvalidCredentials,
    InvalidSecondFactor,
    LocalProtocolError,
    NotFound,
    OAuthError,
    RateLimited,
    ServerError,
    SessionExpired,
    TastytradeError,
    TransportError,
    TransportTimeout,
    ValidationFailed,
)
from tastytrade_proto.errors import StreamingError
from tastytrade_proto.market_data import QUOTE_STREAMER_CUSTOMER_NOT_FOUND
from tastytrade_proto.orders import InvalidOrder, OrderNotPlaced, OrderOutcomeUnknown

from .store import CredentialsError

__all__ = ["CommandError", "ExitCode", "explain", "unreachable_stream"]


class ExitCode(enum.IntEnum):
    """The exit statuses of ``tastytrade``, documented in ``docs/cli.md``."""

    OK = 0
    #: The API answered with an error not covered below (a 5xx, an unreadable answer).
    FAILED = 1
    #: The command line was wrong: an unknown option, a malformed price or symbol.
    USAGE = 2
    #: Not logged in, or the saved login (or the one typed) was refused.
    LOGIN = 3
    #: The server could not be reached: refused, unknown host, TLS, proxy, timeout.
    UNREACHABLE = 4
    #: The server refused the request: an order rejected, a rule broken, no permission.
    REFUSED = 5
    #: No such symbol, account or order.
    NOT_FOUND = 6
    #: Nothing was done because it was not confirmed (you said no, or no terminal to ask).
    DECLINED = 7
    #: An order may or may not have been placed: look at ``tastytrade orders`` first.
    UNCERTAIN = 8
    #: ``order --wait``: the order ended unfilled or partly filled (cancelled, expired, removed).
    NOT_FILLED = 9
    #: ``order --wait``: the time ran out while the order was still working.
    STILL_WORKING = 10
    #: Ctrl-C.
    INTERRUPTED = 130


class CommandError(Exception):
    """A failure the command line explains itself: the message, a hint, the exit status."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.hint = hint


# What transports report about a connection that never carried an answer, by the words
# their underlying libraries use (requests/urllib3, aiohttp, trio, the ssl module).
_REACH = (
    (
        re.compile(r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|SSLCertVerif", re.I),
        "the server's TLS certificate is not trusted (give --ca-bundle for a private CA)",
    ),
    (
        re.compile(
            r"Name or service not known|nodename nor servname|getaddrinfo|NameResolution"
            r"|Temporary failure in name resolution|No address associated",
            re.I,
        ),
        "the host name is not known",
    ),
    (re.compile(r"SSL|TLS|handshake", re.I), "the TLS handshake failed"),
    (
        re.compile(r"ProxyError|HttpProxy|Unable to connect to proxy|CONNECT tunnel", re.I),
        "the proxy refused or failed",
    ),
    (
        re.compile(r"refused|ECONNREFUSED|Errno 111|NewConnectionError", re.I),
        "the connection was refused (is the server running?)",
    ),
    (
        re.compile(r"reset|aborted|RemoteDisconnected|closed|EOF", re.I),
        "the connection was dropped",
    ),
)


def _unreachable(error: TransportError, where: str) -> CommandError:
    if isinstance(error, TransportTimeout):
        reason = "it did not answer in time (--timeout SECONDS waits longer)"
    else:
        text = error.message
        reason = next((why for pattern, why in _REACH if pattern.search(text)), "")
        reason = reason or "the connection failed"
    return CommandError(f"cannot reach {where}: {reason}", ExitCode.UNREACHABLE)


def unreachable_stream(detail: str, what: str = "the market data stream") -> CommandError:
    """A stream (``what``) never connected; ``detail`` is what the last try said."""
    reason = next((why for pattern, why in _REACH if pattern.search(detail)), "")
    shown = reason or (detail[:200] if detail else "the connection failed")
    return CommandError(f"cannot reach {what}: {shown}", ExitCode.UNREACHABLE)


def _api_message(error: ApiError) -> str:
    """The server's own words: its message and each detail's, once each."""
    parts: list[str] = []
    first = error.api_message or error.message
    for text in [first, *(d.message or d.code or "" for d in error.errors)]:
        text = text.strip()
        if text and text not in parts:
            parts.append(text)
    return "; ".join(parts) or f"HTTP {error.status}"


def explain(
    error: BaseException, *, where: str = "the API", saved_login: bool = True
) -> CommandError:
    """The command line's account of ``error``: a plain message and an exit status.

    ``where`` names the server (for "cannot reach ..."); ``saved_login`` says
    whether the credentials in play were the saved ones (so a refusal says
    "log in again", not "check your password").
    """
    if isinstance(error, CommandError):
        return error
    if isinstance(error, CredentialsError):
        return CommandError(str(error), ExitCode.LOGIN)
    if isinstance(error, OrderOutcomeUnknown):
        # The library's own account (with its lookup advice) is what --debug shows.
        return CommandError(
            "the order may or may not have been placed: its answer was lost, and looking it "
            f"up did not settle it (external identifier {error.external_identifier})",
            ExitCode.UNCERTAIN,
            "run `tastytrade orders` before placing it again",
        )
    if isinstance(error, OrderNotPlaced):
        inner = explain(error.error, where=where, saved_login=saved_login)
        code = ExitCode.REFUSED if inner.code is ExitCode.FAILED else inner.code
        return CommandError(f"the order was not placed: {inner.message}", code, inner.hint)
    if isinstance(error, TransportError):
        return _unreachable(error, where)
    if isinstance(error, InvalidSecondFactor):
        return CommandError("the two-factor code was wrong", ExitCode.LOGIN)
    if isinstance(error, (InvalidCredentials, OAuthError, SessionExpired)):
        if saved_login:
            return CommandError(
                "the saved login was refused (it expired or was revoked)",
                ExitCode.LOGIN,
                "run `tastytrade login` again",
            )
        what = (
            "client secret and refresh token"
            if isinstance(error, OAuthError)
            else ("login name and password")
        )
        return CommandError(f"login refused: check your {what}", ExitCode.LOGIN)
    if isinstance(error, AuthenticationError):
        return CommandError(f"login failed: {_api_message(error)}", ExitCode.LOGIN)
    if isinstance(error, ApiError) and error.code == QUOTE_STREAMER_CUSTOMER_NOT_FOUND:
        return CommandError(
            f"market data streaming refused: {_api_message(error)}",
            ExitCode.REFUSED,
            "streaming quotes needs a login with an open account",
        )
    if isinstance(error, NotFound):
        return CommandError(f"not found: {_api_message(error)}", ExitCode.NOT_FOUND)
    if isinstance(error, (ValidationFailed, Forbidden)):
        return CommandError(f"refused: {_api_message(error)}", ExitCode.REFUSED)
    if isinstance(error, RateLimited):
        wait = f" for {error.retry_after:g} s" if error.retry_after else ""
        return CommandError(f"the API asks to slow down{wait}; try again later", ExitCode.FAILED)
    if isinstance(error, ServerError):
        return CommandError(f"the server failed (HTTP {error.status}); try again later")
    if isinstance(error, DecodeError):
        return CommandError(f"the server's answer could not be read ({error.message})")
    if isinstance(error, ApiError):
        return CommandError(f"the API refused (HTTP {error.status}): {_api_message(error)}")
    if isinstance(error, InvalidOrder):
        return CommandError(error.message, ExitCode.USAGE)
    if isinstance(error, LocalProtocolError):
        return CommandError(error.message, ExitCode.USAGE)
    if isinstance(error, StreamingError):
        if error.code == "UNAUTHORIZED":
            return CommandError(f"market data refused: {error.message}", ExitCode.REFUSED)
        return CommandError(f"the market data stream failed: {error.message}")
    if isinstance(error, TastytradeError):
        return CommandError(error.message)
    if isinstance(error, OSError):  # the credentials file could not be read or written
        where_file = f" ({error.filename})" if error.filename else ""
        return CommandError(
            f"{error.strerror or error}{where_file}", ExitCode.FAILED, "log in again once fixed"
        )
    raise error
