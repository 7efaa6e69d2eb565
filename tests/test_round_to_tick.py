"""round_to_tick: a price moved to one check_tick accepts, the way asked, never far."""

from __future__ import annotations

import math
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    localcontext,
)
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tastytrade_proto.orders
from tastytrade_proto.errors import LocalProtocolError, TastytradeError
from tastytrade_proto.instruments import TickSize, tick_size_for
from tastytrade_proto.orders import InvalidOrder, TickSizeError, check_tick, round_to_tick

D = Decimal
OPTION = [TickSize(value=D("0.01"), threshold=D("3")), TickSize(value=D("0.05"))]
EQUITY = [TickSize(value=D("0.0001"), threshold=D("1")), TickSize(value=D("0.01"))]
NEAREST = (ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_HALF_DOWN)
ALL = (*NEAREST, ROUND_UP, ROUND_DOWN, ROUND_CEILING, ROUND_FLOOR)


def test_it_is_exported_next_to_check_tick() -> None:
    assert "round_to_tick" in tastytrade_proto.orders.__all__
    assert tastytrade_proto.orders.round_to_tick is round_to_tick


@pytest.mark.parametrize(
    ("price", "rounding", "expected"),
    [
        ("1.234", ROUND_HALF_EVEN, "1.23"),
        ("1.236", ROUND_HALF_EVEN, "1.24"),
        ("1.235", ROUND_HALF_EVEN, "1.24"),  # a tie: to the even multiple (124)
        ("1.245", ROUND_HALF_EVEN, "1.24"),
        ("1.245", ROUND_HALF_UP, "1.25"),
        ("1.245", ROUND_HALF_DOWN, "1.24"),
        ("1.231", ROUND_UP, "1.24"),
        ("1.239", ROUND_DOWN, "1.23"),
        ("-1.231", ROUND_UP, "-1.24"),  # away from zero: the sign is kept
        ("-1.239", ROUND_DOWN, "-1.23"),
        ("-1.231", ROUND_FLOOR, "-1.24"),
        ("-1.239", ROUND_CEILING, "-1.23"),
        ("1.231", ROUND_FLOOR, "1.23"),
        ("1.231", ROUND_CEILING, "1.24"),
        ("-2.347", ROUND_HALF_EVEN, "-2.35"),
        # across the threshold at 3: the result takes the tick of where it lands
        ("2.999", ROUND_HALF_EVEN, "3.00"),
        ("2.999", ROUND_UP, "3.00"),
        ("2.999", ROUND_DOWN, "2.99"),
        ("3.001", ROUND_UP, "3.05"),
        ("3.001", ROUND_DOWN, "3.00"),
        ("3.024", ROUND_HALF_EVEN, "3.00"),
        ("3.026", ROUND_HALF_EVEN, "3.05"),
        ("3.025", ROUND_HALF_EVEN, "3.00"),  # 60 ticks, not 61
        ("3.075", ROUND_HALF_EVEN, "3.10"),  # 62 ticks, not 61
        ("3.075", ROUND_HALF_UP, "3.10"),
        ("3.075", ROUND_HALF_DOWN, "3.05"),
        ("2.995", ROUND_HALF_EVEN, "3.00"),  # 2.99 is 299 ticks, 3.00 is 60: the even one
        ("2.995", ROUND_HALF_DOWN, "2.99"),
        ("-3.001", ROUND_FLOOR, "-3.05"),
        ("3.1", ROUND_HALF_EVEN, "3.10"),  # the tick's places
        ("-0.004", ROUND_HALF_EVEN, "0.00"),  # rounded to zero: no negative zero
        ("0", ROUND_UP, "0.00"),
    ],
)
def test_rounding_an_option_price(price: str, rounding: str, expected: str) -> None:
    result = round_to_tick(D(price), OPTION, rounding=rounding)
    assert str(result) == expected
    check_tick(result, OPTION)


def test_the_default_is_half_even_and_equity_ticks_work_below_one_dollar() -> None:
    assert round_to_tick(D("0.123456"), EQUITY) == D("0.1235")
    assert round_to_tick(D("0.99996"), EQUITY) == D("1.00")
    assert round_to_tick(D("0.99995"), EQUITY) == D("1.00")
    assert round_to_tick(D("187.255"), EQUITY) == D("187.26")
    assert round_to_tick(D("187.265"), EQUITY) == D("187.26")


def test_crossing_into_a_coarser_tick_is_rounded_again_to_that_tick() -> None:
    # 1.00 is not on the 0.25 tick above the threshold at 0.9: rounding up lands on 1.00
    # in the fine stretch's terms, which the coarse one refuses, so it goes on to 1.25.
    odd = [TickSize(value=D("0.5"), threshold=D("0.9")), TickSize(value=D("0.25"))]
    assert round_to_tick(D("0.8"), odd, rounding=ROUND_UP) == D("1.00")
    check_tick(D("1.00"), odd)
    coarse = [TickSize(value=D("0.01"), threshold=D("3.02")), TickSize(value=D("0.05"))]
    assert round_to_tick(D("3.015"), coarse, rounding=ROUND_UP) == D("3.05")
    assert round_to_tick(D("3.015"), coarse, rounding=ROUND_DOWN) == D("3.01")
    # rounding down below a threshold that is not on the tick above it
    gap = [TickSize(value=D("0.1"), threshold=D("1.05")), TickSize(value=D("0.5"))]
    assert round_to_tick(D("1.2"), gap, rounding=ROUND_DOWN) == D("1.0")
    check_tick(D("1.0"), gap)


def test_no_tick_known_leaves_the_price_as_it_is() -> None:
    price = D("7.123")
    assert round_to_tick(price, []) is price
    bounded = [TickSize(value=D("0.01"), threshold=D("3"))]
    assert round_to_tick(price, bounded) is price  # past every threshold
    assert round_to_tick(D("2.999"), bounded, rounding=ROUND_UP) == D("3")  # no rule from 3
    assert round_to_tick(D("2.994"), bounded) == D("2.99")


@pytest.mark.parametrize("price", [2.5, 3, "2.5", None, D("NaN"), D("sNaN"), D("Infinity")])
def test_only_a_finite_decimal_is_rounded(price: Any) -> None:
    with pytest.raises(InvalidOrder) as info:
        round_to_tick(price, OPTION)
    assert isinstance(info.value, LocalProtocolError) and isinstance(info.value, TastytradeError)
    message = str(info.value)
    assert "Decimal" in message or "not a finite number" in message


def test_bad_roundings_and_tables_are_refused() -> None:
    with pytest.raises(InvalidOrder, match="unknown rounding 'nearest'"):
        round_to_tick(D("1.234"), OPTION, rounding="nearest")
    with pytest.raises(InvalidOrder, match="not a positive number"):
        round_to_tick(D("1.234"), [TickSize(value=D("0"))])
    with pytest.raises(InvalidOrder, match="ticks from zero"):
        round_to_tick(D("1E+200"), OPTION)
    with pytest.raises(TickSizeError):  # nor taken as on its tick
        check_tick(D("1E+200"), OPTION)
    with pytest.raises(InvalidOrder, match="threshold of NaN"):
        round_to_tick(D("1.234"), [TickSize(value=D("0.01"), threshold=D("NaN"))])
    infinite = [TickSize(value=D("0.05"), threshold=D("Infinity"))]
    assert round_to_tick(D("1234.5678"), infinite) == D("1234.55")


def test_results_do_not_depend_on_the_decimal_context() -> None:
    price = D("123456789012345678901234567890.123")
    expected = D("123456789012345678901234567890.10")
    with localcontext() as context:
        context.prec = 5
        assert round_to_tick(price, OPTION) == expected
        check_tick(expected, OPTION)  # exact too, whatever the precision
        with pytest.raises(TickSizeError):
            check_tick(price, OPTION)


# -- properties --------------------------------------------------------------------------

# Ticks such as the API lists (0.0001, 0.01, 0.05, 0.25, 1, 5, ...).
ticks = st.builds(
    lambda mantissa, places: D(mantissa).scaleb(-places),
    st.sampled_from([1, 2, 5, 25]),
    st.integers(min_value=0, max_value=4),
)


@st.composite
def tick_tables(draw: st.DrawFn) -> list[TickSize]:
    """A table as the API gives one: thresholds rising, each on the ticks either side."""
    values = draw(st.lists(ticks, min_size=1, max_size=4))
    table, threshold = [], D(0)
    for value, above in zip(values, [*values[1:], None], strict=True):
        if above is None:
            bounded = draw(st.booleans())  # a last threshold: no rule past it
            step = value
        else:
            bounded = True
            places = max(-value.as_tuple().exponent, -above.as_tuple().exponent)  # type: ignore[operator]
            scale = 10**places
            step = D(math.lcm(int(value * scale), int(above * scale))) / scale
        if bounded:
            threshold += step * draw(st.integers(min_value=1, max_value=50))
            table.append(TickSize(value=value, threshold=threshold))
        else:
            table.append(TickSize(value=value))
    return table


prices = st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12)


def tick_at(price: Decimal, table: list[TickSize]) -> Decimal:
    return tick_size_for(price, table) or D(0)


@settings(max_examples=400)
@given(price=prices, table=tick_tables(), rounding=st.sampled_from(ALL))
# Found by CI: a price 27 places below a coarse tick (the checks once lost it at 28 digits).
@example(price=D("5E-27"), table=[TickSize(value=D("25"))], rounding=ROUND_UP)
def test_the_result_is_on_its_tick_near_the_price_and_the_right_way(
    price: Decimal, table: list[TickSize], rounding: str
) -> None:
    with localcontext(Context(prec=400)):  # the checks' own arithmetic, exact
        _check_rounding(price, table, rounding)


def _check_rounding(price: Decimal, table: list[TickSize], rounding: str) -> None:
    result = round_to_tick(price, table, rounding=rounding)
    check_tick(result, table)
    if tick_size_for(price, table) is None:
        assert result is price
        return
    distance = abs(result - price)
    # less than one tick away (the price's, or the result's past a threshold)
    assert distance < max(tick_at(price, table), tick_at(result, table)) or distance == 0
    if result and price:
        assert result.is_signed() == price.is_signed()
    size, rounded = abs(price), abs(result)
    up = {ROUND_UP: True, ROUND_DOWN: False}.get(rounding)
    if rounding in (ROUND_FLOOR, ROUND_CEILING):
        up = (rounding == ROUND_CEILING) != price.is_signed()
    if up is True:
        assert rounded >= size
    elif up is False:
        assert rounded <= size
    else:  # the nearest of the two ways
        down_to = abs(round_to_tick(price, table, rounding=ROUND_DOWN))
        up_to = abs(round_to_tick(price, table, rounding=ROUND_UP))
        assert down_to <= size <= up_to and rounded in (down_to, up_to)
        assert abs(rounded - size) == min(size - down_to, up_to - size)


# Any table at all (thresholds in any order, off the ticks), on a grid fine enough to list
# every price it accepts: the result is the nearest accepted price the asked way.
grid_ticks = st.sampled_from([D("0.01"), D("0.02"), D("0.05"), D("0.1"), D("0.25"), D("1")])
any_table = st.lists(
    st.builds(
        TickSize,
        value=grid_ticks,
        threshold=st.none() | st.decimals(min_value=0, max_value=12, places=2),
    ),
    max_size=4,
)
GRID = [D(n).scaleb(-2) for n in range(0, 2001)]  # 0.00 to 20.00


@st.composite
def priced_tables(draw: st.DrawFn) -> tuple[Decimal, list[TickSize]]:
    """A table and a price, often just either side of one of its thresholds."""
    table = draw(any_table)
    thresholds = [t.threshold for t in table if t.threshold is not None]
    if thresholds and draw(st.booleans()):
        offset = draw(st.decimals(min_value=-1, max_value=1, places=3))
        return max(draw(st.sampled_from(thresholds)) + offset, D(0)), table
    return draw(st.decimals(min_value=0, max_value=15, places=3)), table


@settings(max_examples=500)
@given(priced=priced_tables(), rounding=st.sampled_from([ROUND_UP, ROUND_DOWN]))
def test_the_result_is_the_nearest_accepted_price_that_way(
    priced: tuple[Decimal, list[TickSize]], rounding: str
) -> None:
    price, table = priced
    result = round_to_tick(price, table, rounding=rounding)
    if tick_size_for(price, table) is None:
        assert result is price
        return

    def accepted(candidate: Decimal) -> bool:
        try:
            check_tick(candidate, table)
        except TickSizeError:
            return False
        return True

    if rounding == ROUND_UP:
        expected = min(x for x in GRID if x >= price and accepted(x))
    else:
        expected = max(x for x in GRID if x <= price and accepted(x))
    assert result == expected
