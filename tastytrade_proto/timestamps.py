"""The API's date-time strings into aware datetimes, and back.

The API writes date-times as ISO 8601 with a ``Z`` or a ``+00:00`` offset and
any number of fractional digits (``2024-09-12T20:25:32.440Z``). Python 3.10's
``fromisoformat`` reads neither ``Z`` nor three-digit fractions, so this
module parses them itself. A date-time without an offset is refused: every
timestamp this library returns is timezone-aware.

HTTP dates (``Retry-After``) are read by :func:`parse_http_date`, here rather
than with :func:`email.utils.parsedate_to_datetime`, whose import (``email``,
``socket``, ``random``, ``calendar``) cost more than the rest of the core's
parsing together.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = ["format_datetime", "parse_datetime", "parse_http_date"]

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)"
)


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date-time with an offset; raise ``ValueError`` otherwise."""
    if type(text) is str and len(text) <= 40:
        # The C parser first (Python 3.11+ reads "Z" and any ISO 8601 the API writes); what
        # it refuses, or reads as naive, goes on to the stricter pattern below.
        try:
            quick = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            if quick.tzinfo is not None:
                return quick
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


_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
# RFC 9110 5.6.7: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") and RFC 850 ("Sunday,
# 06-Nov-94 08:49:37 GMT"), leniently: the day name and zone may be missing, and a numeric
# offset is taken. Then asctime ("Sun Nov  6 08:49:37 1994").
_HTTP_DATE = re.compile(
    r"(?:[A-Za-z]{3,9},?\s+)?(\d{1,2})[\s-]+([A-Za-z]{3})[\s-]+(\d{2}|\d{4})\s+"
    r"(\d{1,2}):(\d{2}):(\d{2})(?:\s*(GMT|UTC|UT|Z|[+-]\d{4}))?"
)
_ASCTIME = re.compile(
    r"[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})"
)


def parse_http_date(text: str) -> datetime | None:
    """An HTTP date as an aware datetime (UTC when it names no zone), or None if unreadable."""
    text = text.strip()
    match = _HTTP_DATE.fullmatch(text)
    if match is not None:
        day, month, year, hour, minute, second, zone = match.groups()
    else:
        match = _ASCTIME.fullmatch(text)
        if match is None:
            return None
        month, day, hour, minute, second, year = match.groups()
        zone = None
    number = _MONTHS.get(month.lower())
    if number is None:
        return None
    full_year = int(year)
    if len(year) == 2:  # RFC 850: a two-digit year, as email.utils reads it
        full_year += 1900 if full_year > 68 else 2000
    offset = timedelta(0)
    if zone is not None and zone[0] in "+-":
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
        if zone[0] == "-":
            offset = -offset
        if abs(offset) >= timedelta(hours=24):
            return None
    try:
        return datetime(
            full_year,
            number,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone(offset),
        )
    except ValueError:  # Feb 30, 25:00 and the like
        return None
