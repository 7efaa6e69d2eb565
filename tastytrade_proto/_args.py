"""Checked arguments: the one place the endpoint modules check what a caller gives.

Every helper takes the value and the argument's name (for the message) and
returns the value as it goes into a request, or raises
:class:`~tastytrade_proto.errors.LocalProtocolError` naming the argument,
before anything is built or sent.

The rules, the same in every area:

* **lists** (symbols, names, types, statuses): ``None`` means "not given";
  one string is one item, never its letters; any other iterable of
  non-empty strings is taken in order; anything else (``5``, bytes, a dict)
  is refused. **An empty list is refused**: leaving the filter out would ask
  for everything, the opposite of a list with nothing in it (use ``None``
  for "no filter"). The one list where empty is taken is a type of
  ``market_data``, which is part of one request for symbols of every type.
* **dates** are :class:`~datetime.date` (a ``datetime``, a string, anything
  else is refused) and go out as ``YYYY-MM-DD``;
* **date-times** are aware :class:`~datetime.datetime` (``utcoffset()`` is
  not ``None``) and go out in UTC;
* **path segments** (a symbol, a name, an account number) are strings with
  something besides spaces; :func:`~tastytrade_proto.protocol.http.encode_path`
  percent-encodes them and refuses ``.`` and ``..``;
* **ids** (order, complex order, transaction) are positive whole numbers: an
  ``int`` (not a ``bool``) or a string of ASCII digits;
* **per_page** is an ``int`` from 1 to :data:`MAX_PER_PAGE`;
* **sort** is ``"Asc"`` or ``"Desc"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone

from .errors import LocalProtocolError
from .models import show_value
from .timestamps import format_datetime

__all__ = [
    "MAX_PER_PAGE",
    "SORTS",
    "account_number",
    "choice",
    "day",
    "identifier",
    "moment",
    "optional_day",
    "optional_moment",
    "per_page",
    "required_strings",
    "segment",
    "sort",
    "strings",
    "utc",
]

#: The largest ``per_page`` sent. The API documents defaults up to 1000
#: (instruments) and no maximum; this bound only stops a mistake (``10**9``).
MAX_PER_PAGE = 2000

#: The orders a ``sort`` argument takes: oldest first, or newest first.
SORTS = ("Asc", "Desc")

# Ids are 64-bit on the API's side.
_MAX_ID = 2**63 - 1


# -- lists ------------------------------------------------------------------------------------


def strings(values: object, name: str, *, empty_ok: bool = False) -> list[str] | None:
    """``values`` as a list of non-empty strings, or ``None`` when not given.

    One string is one item. An empty list is refused unless ``empty_ok``.
    """
    if values is None:
        return None
    if isinstance(values, str):
        found: list[object] = [values]
    elif isinstance(values, (bytes, bytearray, Mapping)) or not isinstance(values, Iterable):
        raise LocalProtocolError(
            f"{name} must be a list of strings (or one string), got {show_value(values)}"
        )
    else:
        found = list(values)
    for item in found:
        if not isinstance(item, str) or not item.strip():
            raise LocalProtocolError(
                f"{name}: each item must be a non-empty string, got {show_value(item)}"
            )
    if not found and not empty_ok:
        raise LocalProtocolError(
            f"{name} is an empty list: give at least one item, or None to leave it out"
        )
    return [str(item) for item in found]  # str() of an ApiEnum member is its value


def required_strings(values: object, name: str) -> list[str]:
    """Like :func:`strings`, for a list that must be given (``None`` is refused)."""
    found = strings(values, name)
    if found is None:
        raise LocalProtocolError(f"{name} is required: give at least one item")
    return found


# -- single values ----------------------------------------------------------------------------


def segment(value: object, name: str) -> str:
    """A path segment: a string with something besides spaces."""
    if not isinstance(value, str) or not value.strip():
        raise LocalProtocolError(f"{name} must be a non-empty string, got {show_value(value)}")
    return str(value)


def account_number(value: object) -> str:
    """An account number for an ``/accounts/{n}/...`` path (``5WT00001``)."""
    return segment(value, "account_number")


def identifier(value: object, what: str) -> int:
    """An id (``what`` is ``"order id"``, ...): an int, or a string of digits, above 0."""
    number: int | None = None
    if (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20
    ):
        number = int(value)
    if number is None or not 0 < number <= _MAX_ID:
        raise LocalProtocolError(
            f"the {what} must be a positive whole number (an int or a string of digits), "
            f"got {show_value(value)}"
        )
    return number


def per_page(value: object) -> int | None:
    """A page size: an int from 1 to :data:`MAX_PER_PAGE` (``None``: the API's default)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PER_PAGE:
        raise LocalProtocolError(
            f"per_page must be a whole number from 1 to {MAX_PER_PAGE}, got {show_value(value)}"
        )
    return int(value)


def choice(value: object, allowed: tuple[str, ...], name: str) -> str | None:
    """One of ``allowed`` (``None``: not given)."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise LocalProtocolError(f"{name} must be one of {listed}; got {show_value(value)}")
    return str(value)


def sort(value: object) -> str | None:
    """``"Asc"`` or ``"Desc"`` (``None``: the API's default, newest first)."""
    return choice(value, SORTS, "sort")


# -- dates and times --------------------------------------------------------------------------


def day(value: object, name: str) -> str:
    """A date as ``YYYY-MM-DD``; a datetime, a string or anything else is refused."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise LocalProtocolError(f"{name} must be a date (not a datetime), got {show_value(value)}")
    return value.isoformat()


def optional_day(value: object, name: str) -> str | None:
    """:func:`day`, or ``None`` when not given."""
    return None if value is None else day(value, name)


def utc(value: object, name: str) -> datetime:
    """An aware datetime, converted to UTC; a naive one (no offset) is refused."""
    if isinstance(value, datetime):
        try:
            if value.utcoffset() is not None:
                return value.astimezone(timezone.utc)
        except (ValueError, TypeError, OverflowError):  # a bad tzinfo, or out of range in UTC
            pass
    raise LocalProtocolError(
        f"{name} must be an aware datetime (with a timezone), got {show_value(value)}"
    )


def moment(value: object, name: str) -> str:
    """An aware datetime as the API writes it: UTC, milliseconds, ``Z``."""
    return format_datetime(utc(value, name))


def optional_moment(value: object, name: str) -> str | None:
    """:func:`moment`, or ``None`` when not given."""
    return None if value is None else moment(value, name)
