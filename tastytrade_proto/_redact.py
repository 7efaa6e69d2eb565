"""Keeping secrets out of reprs, messages and excerpts.

Two tools, used together: redaction by *name* (a header or JSON key that is
known to carry a secret has its value replaced) and scrubbing by *value* (a
secret the core was handed is replaced wherever it appears in a text, which
also catches a server that echoes a secret back in an error message).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["REDACTED", "SECRET_FIELDS", "SECRET_HEADERS", "redact_body", "scrub"]

REDACTED = "<redacted>"

#: Header names (lower case) whose values are secrets.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-tastyworks-otp",
        "x-tastyworks-challenge-token",
    }
)

#: JSON or form keys whose values are secrets, in every spelling the API uses.
SECRET_FIELDS = frozenset(
    {
        "password",
        "remember-token",
        "session-token",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "challenge-token",
        "token",
        "auth-token",
        "answer",
    }
)

# A key known to hold a secret, followed by its JSON string value, in raw text
# that may not parse (an excerpt of a truncated body).
_SECRET_IN_TEXT = re.compile(
    r'("(?:' + "|".join(re.escape(k) for k in sorted(SECRET_FIELDS)) + r')"\s*:\s*)"[^"]*"?'
)
_SECRET_IN_FORM = re.compile(
    r"((?:^|&)(?:" + "|".join(re.escape(k) for k in sorted(SECRET_FIELDS)) + r")=)[^&]*"
)
_MIN_SCRUB_LENGTH = 4


_MAX_DEPTH = 64


def _redact_value(value: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        return "..."  # hostile nesting: not worth showing, and no recursion limit to hit
    if isinstance(value, dict):
        return {
            k: (REDACTED if k in SECRET_FIELDS and v is not None else _redact_value(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_value(v, depth + 1) for v in value]
    return value


def redact_text(text: str) -> str:
    """Replace the values of secret-named keys in raw JSON or form text."""
    text = _SECRET_IN_TEXT.sub(lambda m: m.group(1) + '"' + REDACTED + '"', text)
    return _SECRET_IN_FORM.sub(lambda m: m.group(1) + REDACTED, text)


def redact_body(body: bytes, limit: int = 200) -> str:
    """A short, printable, secret-free rendering of a message body."""
    if not body:
        return "b''"
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        text = redact_text(body[: limit * 4].decode("utf-8", "replace"))
    else:
        text = json.dumps(_redact_value(parsed), separators=(",", ":"), default=str)
    if len(text) > limit:
        text = text[:limit] + f"... ({len(body)} bytes)"
    return repr(text)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each known secret in ``text``.

    Secrets shorter than four characters are ignored: replacing them would
    mangle ordinary words and they cannot be kept out of a text by value.
    """
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) >= _MIN_SCRUB_LENGTH:
            forms.update(_escaped_forms(secret))
    for form in sorted(forms, key=len, reverse=True):
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def _escaped_forms(secret: str) -> set[str]:
    """The secret as it reads after the escaping our reprs and excerpts apply."""
    as_json = json.dumps(secret)[1:-1]
    forms = {
        secret,
        as_json,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        repr(as_json)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
    }
    return {f for f in forms if len(f) >= _MIN_SCRUB_LENGTH}
