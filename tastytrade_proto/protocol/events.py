"""What the session machine reports: small frozen values, returned and passed to hooks.

Token events (:data:`TokenEvent`) carry secrets; their ``repr`` hides them.
A caller persists them from the machine's ``on_token`` hook, which runs the
moment a token arrives, before the rest of the response is even parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Union

from ..values import field, frozen

__all__ = [
    "AccessTokenIssued",
    "Event",
    "LoggedIn",
    "LoggedOut",
    "RefreshTokenRotated",
    "RememberTokenIssued",
    "SessionValidated",
    "TokenEvent",
    "User",
]


@frozen
class User:
    """The ``user`` object of a login (or the body of a validate)."""

    email: str | None = None
    username: str | None = None
    external_id: str | None = None
    is_confirmed: bool | None = None
    name: str | None = None
    nickname: str | None = None
    id: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> User:
        """Build from the API's kebab-case object; wrong-typed fields become ``None``."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        confirmed = data.get("is-confirmed")
        ident = data.get("id")
        return cls(
            email=text("email"),
            username=text("username"),
            external_id=text("external-id"),
            is_confirmed=confirmed if isinstance(confirmed, bool) else None,
            name=text("name"),
            nickname=text("nickname"),
            id=ident if isinstance(ident, int) and not isinstance(ident, bool) else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The API's kebab-case form, without ``None`` fields."""
        pairs = {
            "email": self.email,
            "username": self.username,
            "external-id": self.external_id,
            "is-confirmed": self.is_confirmed,
            "name": self.name,
            "nickname": self.nickname,
            "id": self.id,
        }
        return {k: v for k, v in pairs.items() if v is not None}


@frozen
class RememberTokenIssued:
    """A new single-use remember token: persist it, the old one is spent."""

    token: str = field(repr=False)


@frozen
class AccessTokenIssued:
    """A new session token (legacy) or OAuth access token, and when it expires."""

    token: str = field(repr=False)
    expires_at: datetime
    scheme: str


@frozen
class RefreshTokenRotated:
    """The OAuth token endpoint issued a new refresh token: persist it."""

    token: str = field(repr=False)


@frozen
class LoggedIn:
    """The session is authenticated until ``expires_at``."""

    user: User | None
    expires_at: datetime


@frozen
class SessionValidated:
    """``POST /sessions/validate`` said the session is good."""

    user: User | None


@frozen
class LoggedOut:
    """The session is over; the machine accepts nothing more."""


TokenEvent = Union[RememberTokenIssued, AccessTokenIssued, RefreshTokenRotated]
Event = Union[TokenEvent, LoggedIn, SessionValidated, LoggedOut]
