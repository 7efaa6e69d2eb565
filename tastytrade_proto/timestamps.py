"""The API's date-time strings into aware datetimes, and back.

The API writes date-times as ISO 8601 with a ``Z`` or a ``+00:00`` offset and
any number of fractional digits (``2024-09-12T20:25:32.440Z``). Python 3.10's
``fromisoformat`` reads neither ``Z`` nor three-digit fractions, so this
module parses them itself. A date-time without an offset is refused: every
timestamp this library returns is timezone-aware.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = ["format_datetime", "parse_datetime"]

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)"
)


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date-time with an offset; raise ``ValueError`` otherwise."""
    match = _ISO.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not an ISO 8601 date-time with an offset: {str(text)[:40]!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    if offset in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:
            raise ValueError(f"offset out of range in {text[:40]!r}")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tzinfo=tz
    )


def format_datetime(value: datetime) -> str:
    """An aware datetime as the API writes it (UTC, milliseconds, ``Z``)."""
    if value.tzinfo is None:
        raise ValueError("refusing to format a naive datetime")
    utc = value.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
