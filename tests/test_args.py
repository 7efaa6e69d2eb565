"""The argument checks every endpoint module shares (tastytrade_proto._args), one by one."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastytrade_proto import LocalProtocolError, _args
from tastytrade_proto.accounts import TransactionType
from tastytrade_proto.orders import OrderStatus

EASTERN = timezone(timedelta(hours=-4))


class _NoOffset(tzinfo):
    """Set, but with no offset: such a datetime is naive all the same."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


class _Broken(tzinfo):
    """An offset Python itself refuses (a day or more)."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return timedelta(hours=30)

    def tzname(self, dt: datetime | None) -> str | None:
        return "broken"

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


# -- lists ---------------------------------------------------------------------------------------


def test_one_string_is_one_item_not_its_letters() -> None:
    assert _args.strings("AAPL", "symbols") == ["AAPL"]
    assert _args.required_strings("AAPL", "symbols") == ["AAPL"]


@pytest.mark.parametrize(
    "given_, expected",
    [
        (["AAPL", "BRK/B"], ["AAPL", "BRK/B"]),
        (("SPY", "QQQ"), ["SPY", "QQQ"]),
        (iter(["A", "B", "C"]), ["A", "B", "C"]),
        ((s for s in ("X",)), ["X"]),
        (["SPY   261218C00600000"], ["SPY   261218C00600000"]),  # inner spaces are the symbol's
    ],
)
def test_any_iterable_of_strings_is_taken_in_order(given_: Any, expected: list[str]) -> None:
    assert _args.strings(given_, "symbols") == expected


def test_enum_members_go_out_as_their_values() -> None:
    found = _args.strings([TransactionType.TRADE, OrderStatus.LIVE], "types")
    assert found == ["Trade", "Live"] and all(type(v) is str for v in found)
    assert _args.strings(OrderStatus.FILLED, "statuses") == ["Filled"]  # one member, one item


def test_none_is_not_given() -> None:
    assert _args.strings(None, "symbols") is None
    with pytest.raises(LocalProtocolError, match="symbols is required"):
        _args.required_strings(None, "symbols")


def test_an_empty_list_is_refused_unless_asked_for() -> None:
    empties: list[Any] = [[], (), iter([]), set()]
    for empty in empties:
        with pytest.raises(LocalProtocolError, match="symbols is an empty list"):
            _args.strings(empty, "symbols")
        with pytest.raises(LocalProtocolError, match="symbols is an empty list"):
            _args.required_strings(empty, "symbols")
    assert _args.strings([], "equities", empty_ok=True) == []


@pytest.mark.parametrize("bad", [5, 1.5, True, b"AAPL", bytearray(b"A"), {"AAPL": 1}, object()])
def test_a_non_list_is_a_library_error_naming_the_argument(bad: Any) -> None:
    with pytest.raises(LocalProtocolError, match="types must be a list of strings"):
        _args.strings(bad, "types")


@pytest.mark.parametrize("bad", [[""], ["  "], ["A", None], [5], [b"A"], [["A"]]])
def test_each_item_is_a_non_empty_string(bad: Any) -> None:
    with pytest.raises(LocalProtocolError, match="each item must be a non-empty string"):
        _args.strings(bad, "symbols")


# -- path segments, account numbers, ids ---------------------------------------------------------


def test_a_segment_is_a_string_with_something_besides_spaces() -> None:
    assert _args.segment("BRK/B", "symbol") == "BRK/B"
    assert _args.segment(" x ", "symbol") == " x "  # sent as given; encode_path encodes it
    for bad in ("", "   ", None, 5, b"AAPL", ["AAPL"]):
        with pytest.raises(LocalProtocolError, match="symbol must be a non-empty string"):
            _args.segment(bad, "symbol")


def test_an_account_number_is_a_segment() -> None:
    assert _args.account_number("5WT00001") == "5WT00001"
    for bad in ("", " ", None, 5001):
        with pytest.raises(LocalProtocolError, match="account_number"):
            _args.account_number(bad)


@pytest.mark.parametrize(
    "good, number", [(1, 1), ("68677", 68677), ("007", 7), (2**63 - 1, 2**63 - 1)]
)
def test_an_id_is_an_int_or_a_string_of_digits(good: Any, number: int) -> None:
    found = _args.identifier(good, "order id")
    assert found == number and type(found) is int


@pytest.mark.parametrize(
    "bad", [0, -1, "0", "-1", "+1", " 1", "1 ", "1.0", "", "\uff11", "\u0661", True, False, 1.0,
            Decimal(1), None, 2**63, "9" * 21]
)  # fmt: skip
def test_anything_else_is_not_an_id(bad: Any) -> None:
    with pytest.raises(LocalProtocolError, match="the transaction id must be a positive whole"):
        _args.identifier(bad, "transaction id")


# -- per_page and sort ---------------------------------------------------------------------------


def test_per_page_is_a_whole_number_up_to_the_maximum() -> None:
    assert _args.per_page(None) is None
    assert _args.per_page(1) == 1
    assert _args.per_page(_args.MAX_PER_PAGE) == _args.MAX_PER_PAGE
    for bad in (0, -1, _args.MAX_PER_PAGE + 1, True, False, "10", 2.0, Decimal(5)):
        with pytest.raises(LocalProtocolError, match="per_page must be a whole number"):
            _args.per_page(bad)


def test_sort_and_choices() -> None:
    assert _args.sort(None) is None
    assert [_args.sort(s) for s in _args.SORTS] == ["Asc", "Desc"]
    for bad in ("asc", "DESC", "Newest", "", 1, ["Asc"]):
        with pytest.raises(LocalProtocolError, match="sort must be one of 'Asc', 'Desc'"):
            _args.sort(bad)
    assert _args.choice("EOD", ("BOD", "EOD"), "time_of_day") == "EOD"
    with pytest.raises(LocalProtocolError, match="time_of_day"):
        _args.choice("NOON", ("BOD", "EOD"), "time_of_day")


# -- dates and times -----------------------------------------------------------------------------


def test_a_day_is_a_date_and_nothing_else() -> None:
    assert _args.day(date(2026, 9, 1), "start_date") == "2026-09-01"
    assert _args.optional_day(None, "start_date") is None
    assert _args.optional_day(date(2026, 9, 1), "start_date") == "2026-09-01"
    for bad in (datetime(2026, 9, 1), datetime(2026, 9, 1, tzinfo=timezone.utc), "2026-09-01",
                20260901, None):  # fmt: skip
        with pytest.raises(LocalProtocolError, match="start_date must be a date"):
            _args.day(bad, "start_date")


def test_an_aware_datetime_goes_out_in_utc() -> None:
    local = datetime(2026, 1, 2, 9, 30, 0, 123_456, tzinfo=EASTERN)
    assert _args.utc(local, "start_at") == datetime(2026, 1, 2, 13, 30, 0, 123_456, timezone.utc)
    assert _args.utc(local, "start_at").tzinfo is timezone.utc
    assert _args.moment(local, "start_at") == "2026-01-02T13:30:00.123Z"
    assert _args.optional_moment(None, "start_at") is None
    assert _args.optional_moment(local, "start_at") == "2026-01-02T13:30:00.123Z"


@pytest.mark.parametrize(
    "bad",
    [
        datetime(2026, 1, 2, 9, 30),  # naive
        datetime(2026, 1, 2, tzinfo=_NoOffset()),  # a tzinfo, but no offset: naive too
        datetime(2026, 1, 2, tzinfo=_Broken()),  # an offset Python refuses
        datetime.min.replace(tzinfo=timezone(timedelta(hours=1))),  # before year 1 in UTC
        date(2026, 1, 2),
        "2026-01-02T09:30:00Z",
        1_767_350_000,
        None,
    ],
)
def test_anything_but_an_aware_datetime_is_refused(bad: Any) -> None:
    for check in (_args.utc, _args.moment):
        with pytest.raises(LocalProtocolError, match="end_at must be an aware datetime"):
            check(bad, "end_at")


# -- any value: a result or a LocalProtocolError, never a raw TypeError or ValueError -------------

_CHECKS: list[Callable[[Any], object]] = [
    lambda v: _args.strings(v, "x"),
    lambda v: _args.required_strings(v, "x"),
    lambda v: _args.segment(v, "x"),
    _args.account_number,
    lambda v: _args.identifier(v, "id"),
    _args.per_page,
    _args.sort,
    lambda v: _args.day(v, "x"),
    lambda v: _args.optional_day(v, "x"),
    lambda v: _args.utc(v, "x"),
    lambda v: _args.moment(v, "x"),
    lambda v: _args.optional_moment(v, "x"),
]

_ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.dates(),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.lists(st.one_of(st.text(max_size=5), st.integers(), st.none()), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@given(value=_ANYTHING)
def test_any_value_is_taken_or_refused_with_a_library_error(value: Any) -> None:
    for check in _CHECKS:
        with contextlib.suppress(LocalProtocolError):
            check(value)
