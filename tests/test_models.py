"""The model machinery: decoding by annotation, tolerance, signs, and errors that say where."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastytrade_proto import DecodeError
from tastytrade_proto.models import (
    ApiEnum,
    Effect,
    Key,
    Model,
    PriceEffect,
    decode_list,
    decode_model,
    model,
    signed,
    unsigned,
)
from tastytrade_proto.values import FrozenInstanceError


class Colour(ApiEnum):
    RED = "Red"


@model
class Leg(Model):
    symbol: str
    quantity: Decimal = Decimal(0)


@model
class Thing(Model):
    name: str
    count: int | None = None
    price: Annotated[Decimal | None, Effect("price-effect")] = None
    alias: Annotated[str | None, Key("dx-symbol")] = None
    flag: bool | None = None
    when: datetime | None = None
    day: date | None = None
    colour: Colour | None = None
    legs: tuple[Leg, ...] = ()
    first: Leg | None = None
    tags: tuple[str, ...] = ()
    secret: str | None = dataclasses.field(default=None, repr=False)


GOOD: dict[str, Any] = {
    "name": "x",
    "count": "3",
    "price": "1.05",
    "price-effect": "Debit",
    "dx-symbol": "X:Y",
    "flag": True,
    "when": 1_700_000_000_000,
    "day": "2026-11-24",
    "colour": "Red",
    "legs": [{"symbol": "A", "quantity": 2}, {"symbol": "B", "quantity": "1.5"}],
    "first": {"symbol": "A"},
    "tags": ["a", "b"],
    "secret": "hidden",
    "unknown-field": {"deep": [1]},
}


def test_every_kind_of_field_is_read() -> None:
    thing = Thing.from_json(GOOD)
    assert thing.count == 3 and thing.price == Decimal("-1.05") and thing.alias == "X:Y"
    assert thing.when == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert thing.day == date(2026, 11, 24) and thing.colour is Colour.RED
    assert thing.legs == (Leg("A", Decimal(2)), Leg("B", Decimal("1.5")))
    assert thing.first == Leg("A") and thing.tags == ("a", "b")
    assert thing.raw["unknown-field"] == {"deep": [1]}
    assert "hidden" not in repr(thing)
    with pytest.raises(FrozenInstanceError):
        thing.name = "y"  # type: ignore[misc]


def test_a_decoded_model_is_exactly_its_class_and_as_frozen_as_a_constructed_one() -> None:
    # Decoders fill the slots in through an unfrozen subclass, then hand over the real class.
    leg = Leg.from_json({"symbol": "A", "quantity": "2"})
    assert type(leg) is Leg and leg == Leg("A", Decimal(2)) and hash(leg) == hash(Leg("A", 2))
    assert pickle.loads(pickle.dumps(leg)) == leg and type(pickle.loads(pickle.dumps(leg))) is Leg
    for change in (lambda: setattr(leg, "symbol", "B"), lambda: delattr(leg, "symbol")):
        with pytest.raises(FrozenInstanceError):
            change()
    assert leg.symbol == "A"

    @model
    class Wider(Leg):  # a user's subclass decodes as itself, with its parent's fields
        note: str | None = None

    wider = Wider.from_json({"symbol": "C", "note": "n"})
    assert type(wider) is Wider and (wider.symbol, wider.quantity, wider.note) == ("C", 0, "n")
    with pytest.raises(FrozenInstanceError):
        wider.note = "m"  # type: ignore[misc]


def test_missing_and_null_fields_take_their_defaults_and_required_ones_are_named() -> None:
    assert Thing.from_json({"name": "x", "count": None}) == Thing("x")
    with pytest.raises(DecodeError, match="cannot read Thing: name: is missing"):
        Thing.from_json({})
    assert Thing("y").raw == {}


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("count", "3.5", "expected a whole number"),
        ("count", True, "expected a whole number"),
        ("price", "abc", "expected a decimal"),
        ("price", "NaN", "expected a finite decimal"),
        ("price", "1e999", "expected a finite decimal"),
        ("price", 1.5, "expected a decimal"),
        ("flag", "yes", "expected true or false"),
        ("when", "yesterday", "expected a date-time"),
        ("day", "2026-13-01", "expected a YYYY-MM-DD date"),
        ("colour", 5, "expected a Colour name"),
        ("legs", {"symbol": "A"}, "expected a list"),
        ("first", "A", "expected a Leg object"),
    ],
)
def test_a_misfit_is_a_decode_error_naming_the_field(key: str, value: Any, problem: str) -> None:
    with pytest.raises(DecodeError, match=f"{key}: {problem}"):
        Thing.from_json({**GOOD, key: value})


def test_errors_inside_lists_give_the_whole_path() -> None:
    bad = {**GOOD, "legs": [{"symbol": "A"}, {"symbol": "B", "quantity": []}]}
    with pytest.raises(DecodeError, match=r"legs\[1\]\.quantity: expected a decimal"):
        Thing.from_json(bad)
    with pytest.raises(DecodeError, match=r"items\[1\]: expected a Leg object"):
        decode_list(Leg, [{"symbol": "A"}, 3])
    with pytest.raises(DecodeError, match=r"^data: cannot read Leg"):
        decode_model(Leg, [], what="data")
    with pytest.raises(DecodeError, match="expected a list"):
        decode_list(Leg, {"items": []})


def test_an_unknown_enum_value_is_kept() -> None:
    thing = Thing.from_json({**GOOD, "colour": "Ultraviolet"})
    assert thing.colour == "Ultraviolet" and str(thing.colour) == "Ultraviolet"
    assert thing.colour is not None and not thing.colour.known and Colour.RED.known
    with pytest.raises(ValueError):
        Colour("x" * 500)  # absurd values are still refused


def test_the_sign_convention() -> None:
    assert signed(Decimal("1.5"), "Debit") == Decimal("-1.5")
    assert signed(Decimal("1.5"), PriceEffect.CREDIT) == Decimal("1.5")
    assert signed(Decimal("-1.5"), "Credit") == Decimal("1.5")
    assert signed(Decimal("0.0"), "None") == Decimal("0.0")
    assert unsigned(Decimal("-2.25")) == (Decimal("2.25"), PriceEffect.DEBIT)
    assert unsigned(Decimal("2.25")) == (Decimal("2.25"), PriceEffect.CREDIT)
    assert unsigned(Decimal("-0")) == (Decimal("0"), PriceEffect.NONE)


amounts = st.decimals(
    allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9
)


@given(amounts)
def test_a_signed_amount_round_trips_through_the_api_form(amount: Decimal) -> None:
    value, effect = unsigned(amount)
    assert value >= 0
    assert signed(value, effect) == amount


@given(amounts.filter(lambda a: a > 0), st.sampled_from([PriceEffect.DEBIT, PriceEffect.CREDIT]))
def test_the_api_form_round_trips_through_a_signed_amount(
    value: Decimal, effect: PriceEffect
) -> None:
    assert unsigned(signed(value, effect)) == (value, effect)


def test_a_field_kept_out_of_the_repr_is_kept_out_of_errors_too() -> None:
    with pytest.raises(DecodeError) as info:
        Thing.from_json({**GOOD, "secret": ["s3cr3t-value"]})
    assert "secret: has a value of the wrong type (not shown)" in str(info.value)
    assert "s3cr3t" not in str(info.value)


def test_decimal_strings_are_remembered_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    from tastytrade_proto import models

    monkeypatch.setattr(models, "_DECIMALS_KEPT", 8)
    models._DECIMALS.clear()
    for i in range(20):
        assert Leg.from_json({"symbol": "A", "quantity": f"{i}.5"}).quantity == Decimal(
            i
        ) + Decimal("0.5")
        assert len(models._DECIMALS) <= 8
    again = Leg.from_json({"symbol": "A", "quantity": "19.5"}).quantity
    assert again == Decimal("19.5") and str(again) == "19.5"
    for bad in ("NaN", "1e999999", "x"):
        with pytest.raises(DecodeError):
            Leg.from_json({"symbol": "A", "quantity": bad})
        assert bad not in models._DECIMALS
    models._DECIMALS.clear()
