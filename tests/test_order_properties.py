"""Properties of orders (hypothesis).

1. A signed amount and the API's amount + effect round-trip through
   ``models.signed``/``unsigned`` both ways, and through ``NewOrder.to_json``
   and ``Order`` parsing.
2. Building a ``NewLeg``, ``NewOrder``, ``Replacement`` or ``NewComplexOrder``
   from any inputs either succeeds or raises ``InvalidOrder``, nothing else;
   what succeeds encodes to plain JSON that reads back as the same order.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from tastytrade_proto.accounts import InstrumentType
from tastytrade_proto.models import PriceEffect, signed, unsigned
from tastytrade_proto.orders import (
    ComplexOrderType,
    InvalidOrder,
    NewComplexOrder,
    NewLeg,
    NewOrder,
    Order,
    OrderAction,
    OrderType,
    Replacement,
    TimeInForce,
)

from .strategies import json_values

amounts = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=4, allow_nan=False
).filter(lambda d: d != 0)
magnitudes = st.decimals(
    min_value=Decimal("0.0001"), max_value=Decimal("1e9"), places=4, allow_nan=False
)


@given(amount=amounts)
def test_signed_to_api_and_back(amount: Decimal) -> None:
    unsigned_amount, effect = unsigned(amount)
    assert unsigned_amount > 0
    assert effect is (PriceEffect.DEBIT if amount < 0 else PriceEffect.CREDIT)
    assert signed(unsigned_amount, effect) == amount


@given(amount=magnitudes, effect=st.sampled_from([PriceEffect.DEBIT, PriceEffect.CREDIT]))
def test_api_to_signed_and_back(amount: Decimal, effect: PriceEffect) -> None:
    assert unsigned(signed(amount, effect)) == (amount, effect)
    assert unsigned(signed(amount, effect.value)) == (amount, effect)


@given(magnitude=magnitudes, buy=st.booleans(), kind=st.sampled_from(["Limit", "Stop Limit"]))
def test_a_single_leg_price_survives_the_body_and_the_order_model(
    magnitude: Decimal, buy: bool, kind: str
) -> None:
    leg = NewLeg.equity("AAPL", "Buy to Open" if buy else "Sell to Close", 10)
    price = -magnitude if buy else magnitude
    order = NewOrder(
        OrderType(kind), [leg], price=price, stop_trigger=magnitude if kind != "Limit" else None
    )
    body = json.loads(json.dumps(order.to_json()))  # plain JSON, no Decimal left in it
    assert Decimal(body["price"]) == magnitude
    assert body["price-effect"] == ("Debit" if buy else "Credit")
    assert Order.from_json(body).price == price


@given(price=amounts)
def test_a_spread_price_of_either_sign_survives(price: Decimal) -> None:
    legs = [
        NewLeg.equity_option("SPY   261218C00600000", "Buy to Open", 1),
        NewLeg.equity_option("SPY   261218C00610000", "Sell to Open", 1),
    ]
    order = NewOrder.limit(legs, price)
    parsed = Order.from_json(json.loads(json.dumps(order.to_json())))
    assert parsed.price == price
    assert [leg.symbol for leg in parsed.legs] == [leg.symbol for leg in legs]


@given(value=magnitudes.filter(lambda d: d >= 1), buy=st.booleans())
def test_a_notional_value_survives(value: Decimal, buy: bool) -> None:
    leg = NewLeg.crypto("BTC/USD", "Buy to Open" if buy else "Sell to Close")
    order = NewOrder.notional_market(leg, -value if buy else value)
    parsed = Order.from_json(order.to_json())
    assert parsed.value == order.value and parsed.price is None


# -- building from arbitrary inputs -------------------------------------------------------


def names(kind: Any) -> st.SearchStrategy[Any]:
    """A member, its text, or something else."""
    return st.one_of(
        st.sampled_from(list(kind)),
        st.sampled_from([m.value for m in kind]),
        st.text(max_size=12),
        json_values,
    )


numbers = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=-1000, max_value=1000, places=2),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["1.5", "-2", "1e999", "NaN", "0", "1_000"]),
    st.none(),
    st.booleans(),
)
symbols = st.one_of(
    st.sampled_from(["AAPL", "SPY   261218C00600000", "/ESZ6", "BTC/USD", "MSFT", "BRK/B"]),
    st.text(max_size=70),
    json_values,
)
dates = st.one_of(st.none(), st.dates(), st.datetimes(), json_values)


@st.composite
def legs(draw: st.DrawFn) -> Any:
    """A NewLeg when the drawn inputs make one, else the junk itself."""
    args = (
        draw(names(InstrumentType)),
        draw(symbols),
        draw(names(OrderAction)),
        draw(numbers),
        draw(st.one_of(st.booleans(), json_values)),
    )
    try:
        return NewLeg(*args)
    except InvalidOrder:
        return draw(st.one_of(json_values, st.just(args)))


leg_lists = st.one_of(st.lists(legs(), max_size=5), legs(), json_values)


@given(
    kind=names(InstrumentType),
    symbol=symbols,
    action=names(OrderAction),
    quantity=numbers,
    fractional=st.one_of(st.booleans(), json_values),
)
def test_a_leg_is_built_or_refused_with_invalid_order(
    kind: Any, symbol: Any, action: Any, quantity: Any, fractional: Any
) -> None:
    try:
        leg = NewLeg(kind, symbol, action, quantity, fractional)
    except InvalidOrder:
        return
    assert leg.instrument_type.known and leg.action.known
    assert leg.quantity is None or leg.quantity > 0
    json.dumps(leg.to_json())


@given(
    order_type=names(OrderType),
    order_legs=leg_lists,
    time_in_force=names(TimeInForce),
    price=numbers,
    stop_trigger=numbers,
    value=numbers,
    gtc_date=dates,
    external_identifier=st.one_of(st.none(), st.text(max_size=300), json_values),
    source=st.one_of(st.none(), st.text(max_size=20), json_values),
    strict=st.one_of(st.booleans(), json_values),
)
def test_an_order_is_built_or_refused_with_invalid_order(
    order_type: Any,
    order_legs: Any,
    time_in_force: Any,
    price: Any,
    stop_trigger: Any,
    value: Any,
    gtc_date: Any,
    external_identifier: Any,
    source: Any,
    strict: Any,
) -> None:
    try:
        order = NewOrder(
            order_type,
            order_legs,
            time_in_force,
            price,
            stop_trigger,
            value,
            gtc_date,
            external_identifier,
            source,
            strict,
        )
    except InvalidOrder:
        return
    check_encodes(order)


def check_encodes(order: NewOrder) -> None:
    """A valid order's body is plain JSON and reads back as the same order."""
    body = json.loads(json.dumps(order.to_json()))
    parsed = Order.from_json(body)
    assert parsed.order_type is order.order_type
    assert parsed.time_in_force is order.time_in_force
    assert (parsed.price, parsed.value, parsed.stop_trigger) == (
        order.price,
        order.value,
        order.stop_trigger,
    )
    assert parsed.gtc_date == order.gtc_date
    assert parsed.external_identifier == order.external_identifier
    assert [(leg.symbol, leg.quantity) for leg in parsed.legs] == [
        (leg.symbol, leg.quantity) for leg in order.legs
    ]
    assert set(body) <= {
        "time-in-force",
        "order-type",
        "gtc-date",
        "price",
        "price-effect",
        "stop-trigger",
        "value",
        "value-effect",
        "source",
        "external-identifier",
        "advanced-instructions",
        "legs",
    }


@st.composite
def valid_orders(draw: st.DrawFn) -> NewOrder:
    """Orders that pass the checks, of every type."""
    buy = draw(st.booleans())
    action = "Buy to Close" if buy else "Sell to Close"  # closing: a stop may then be GTD
    magnitude = draw(magnitudes)
    price = -magnitude if buy else magnitude
    kind = draw(st.sampled_from(list(OrderType)))
    if kind is OrderType.NOTIONAL_MARKET:
        return NewOrder.notional_market(NewLeg.crypto("BTC/USD", action), price)
    leg = NewLeg.equity("AAPL", action, draw(st.integers(1, 10_000)))
    tif = draw(st.sampled_from([TimeInForce.DAY, TimeInForce.GTD, TimeInForce.IOC]))
    gtc_date = date(2026, 12, 18) if tif is TimeInForce.GTD else None
    if kind is OrderType.MARKET:
        return NewOrder.market(leg)
    if kind is OrderType.STOP:
        return NewOrder.stop(leg, magnitude, time_in_force=tif, gtc_date=gtc_date)
    if kind is OrderType.STOP_LIMIT:
        return NewOrder.stop_limit(leg, price, magnitude, time_in_force=tif, gtc_date=gtc_date)
    return NewOrder(kind, [leg], tif, price, gtc_date=gtc_date)


@given(order=valid_orders())
def test_every_kind_of_valid_order_encodes(order: NewOrder) -> None:
    check_encodes(order)


@given(
    order_type=names(OrderType),
    time_in_force=names(TimeInForce),
    price=numbers,
    stop_trigger=numbers,
    value=numbers,
    gtc_date=dates,
)
def test_a_replacement_is_built_or_refused_with_invalid_order(
    order_type: Any, time_in_force: Any, price: Any, stop_trigger: Any, value: Any, gtc_date: Any
) -> None:
    try:
        change = Replacement(order_type, time_in_force, price, stop_trigger, value, gtc_date)
    except InvalidOrder:
        return
    body = json.loads(json.dumps(change.to_json()))
    assert "legs" not in body
    assert Order.from_json(body).price == change.price


@given(
    kind=names(ComplexOrderType),
    orders=st.one_of(st.lists(st.one_of(valid_orders(), json_values), max_size=3), json_values),
    trigger=st.one_of(st.none(), valid_orders(), json_values),
    identifier=st.one_of(st.none(), st.text(max_size=20), json_values),
)
def test_a_complex_order_is_built_or_refused_with_invalid_order(
    kind: Any, orders: Any, trigger: Any, identifier: Any
) -> None:
    try:
        complex_order = NewComplexOrder(kind, orders, trigger, identifier)
    except InvalidOrder:
        return
    body = json.loads(json.dumps(complex_order.to_json()))
    assert body["type"] == complex_order.type.value
    assert len(body["orders"]) == len(complex_order.orders)
    if identifier is not None:
        every = [body.get("trigger-order"), *body["orders"]]
        assert all(o["external-identifier"] for o in every if o is not None)


@given(when=st.datetimes(timezones=st.just(timezone.utc)))
def test_a_datetime_is_never_taken_for_a_gtc_date(when: datetime) -> None:
    assume(when.year > 1)
    try:
        NewOrder.limit(
            NewLeg.equity("AAPL", "Buy to Open", 1), -1, time_in_force="GTD", gtc_date=when
        )
    except InvalidOrder as error:
        assert "not a datetime" in str(error)
    else:  # pragma: no cover - the property is that this never happens
        raise AssertionError("a datetime was accepted as gtc_date")
