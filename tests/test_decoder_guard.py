"""Guards for the generated decoders' two shortcuts (``models._compile``), over every model.

The shortcuts stay because the benchmarks show they matter (without either one, decoding 50
positions or a 10,000-option chain is a sixth to a third slower), but each one goes
around the plain path, so a later change could be skipped by it:

- a decoder fills each object in as an instance of a hidden subclass (a "twin" with
  ``object``'s own ``__setattr__``), then gives it its real class: the class's ``__init__``
  never runs, so a ``__post_init__`` check, or a custom ``__init__``, would be skipped;
- a decimal text already read comes from a module-level cache (``models._DECIMALS``), so
  ``_to_decimal`` checks a text only the first time it is seen.

Here every :class:`Model` subclass of the package has its decoder compiled and a sample
with every field set decoded, cold and again warm, and compared with what the class's own
``__init__`` makes of the same values read by the plain converters. Every field must refuse
a value of the wrong type, and the cached decimal path must read any text exactly as the
converter does.
"""

from __future__ import annotations

import importlib
import pickle
import pkgutil
import re
import types
import typing
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tastytrade_proto
from tastytrade_proto import DecodeError
from tastytrade_proto import models as models_module
from tastytrade_proto.models import ApiEnum, Effect, Key, Model, model, signed
from tastytrade_proto.values import MISSING, FrozenInstanceError, fields, replace


def _all_models() -> list[type[Model]]:
    for info in pkgutil.walk_packages(tastytrade_proto.__path__, "tastytrade_proto."):
        if info.name != "tastytrade_proto.client":  # a deprecated alias: it warns on import
            importlib.import_module(info.name)

    def walk(kind: type[Model]) -> Iterator[type[Model]]:
        for sub in kind.__subclasses__():
            yield sub
            yield from walk(sub)

    # A compiled decoder's twin is a subclass too (same name): only the frozen classes count.
    return sorted(
        {
            kind
            for kind in walk(Model)
            if "__value_fields__" in kind.__dict__
            and kind.__module__.startswith("tastytrade_proto.")
        },
        key=lambda kind: (kind.__module__, kind.__qualname__),
    )


MODELS = _all_models()
IDS = [f"{kind.__module__.rsplit('.', 1)[-1]}.{kind.__qualname__}" for kind in MODELS]


def _parts(hint: Any) -> tuple[Any, str | None, str | None, bool]:
    """(the type a field holds, its key override, its effect key, whether it is optional)."""
    marks = getattr(hint, "__metadata__", ())
    if marks:
        hint = typing.get_args(hint)[0]
    key = next((m.name for m in marks if isinstance(m, Key)), None)
    effect = next((m.key for m in marks if isinstance(m, Effect)), None)
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(rest) < len(typing.get_args(hint))
        (hint,) = rest
    return hint, key, effect, optional


def _field_specs(kind: type[Model]) -> list[tuple[str, str, Any, str | None]]:
    """(field name, JSON key, held type, effect key) of each field, in order."""
    hints = typing.get_type_hints(kind, include_extras=True)
    found = []
    for spec in fields(kind):
        held, key, effect, _ = _parts(hints[spec.name])
        found.append((spec.name, key or spec.name.replace("_", "-"), held, effect))
    return found


def _sample_value(held: Any, depth: int) -> Any:
    """A JSON value the field's type reads, other than its default."""
    origin = typing.get_origin(held)
    if held is Decimal:
        return "12.50"  # the trailing zero must survive the cache
    if held is int:
        return 7
    if held is str:
        return "text"
    if held is bool:
        return True
    if held is datetime:
        return "2026-03-04T05:06:07.123+00:00"
    if held is date:
        return "2026-03-04"
    if held in (Any, object):
        return {"any": [1, "2"]}
    if origin is tuple:
        return [] if depth > 3 else [_sample_value(typing.get_args(held)[0], depth + 1)]
    if origin in (Mapping, dict) or held in (Mapping, dict):
        return {"k": "v"}
    if isinstance(held, type) and issubclass(held, ApiEnum):
        return next(iter(held)).value
    if isinstance(held, type) and issubclass(held, Model):
        return _sample(held, depth + 1)
    raise AssertionError(f"no sample for {held!r}: teach this test the new annotation")


def _sample(kind: type[Model], depth: int = 0) -> dict[str, Any]:
    specs = _field_specs(kind)
    body = {key: _sample_value(held, depth) for _, key, held, _ in specs}
    for _, _, _, effect in specs:
        if effect:
            body[effect] = "Debit"  # a debit flips the sign: the effect must be applied
    return body


def _plain(kind: type[Model], body: dict[str, Any], *, only_given: bool = False) -> Model:
    """``body`` read by the plain converters, then built by ``kind``'s own ``__init__``."""
    values = {}
    for name, key, held, effect in _field_specs(kind):
        if key not in body and only_given:
            continue
        value = models_module._converter_for(held)(body[key])
        if effect:
            value = signed(value, body.get(effect))
        values[name] = value
    return kind(**values)


def _same(a: Any, b: Any) -> bool:
    """Equal, of the same type, and decimals with the same digits ("12.50" is not "12.5")."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Decimal):
        return str(a) == str(b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Model):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))
    return bool(a == b)


def test_every_model_of_the_package_is_found() -> None:
    areas = {kind.__module__ for kind in MODELS}
    assert len(MODELS) >= 60
    assert {
        "tastytrade_proto.accounts",
        "tastytrade_proto.instruments",
        "tastytrade_proto.market_data",
        "tastytrade_proto.orders.models",
        "tastytrade_proto.watchlists",
    } <= areas


@pytest.mark.parametrize("kind", MODELS, ids=IDS)
def test_no_model_has_a_check_the_decoder_would_skip(kind: type[Model]) -> None:
    """Decoders do not call ``__init__``: a model must not need it to be valid."""
    for klass in kind.__mro__:
        assert "__post_init__" not in klass.__dict__, (
            f"{klass.__qualname__}.__post_init__ would never run on a decoded value: "
            "make models._compile build through __init__ first (bench/ shows the cost)"
        )
    init = kind.__dict__.get("__init__")
    assert init is not None and init.__code__.co_filename == "<string>", (
        f"{kind.__qualname__} has its own __init__, which decoded values would skip"
    )


@pytest.mark.parametrize("kind", MODELS, ids=IDS)
def test_the_decoder_builds_what_init_builds(kind: type[Model]) -> None:
    body = _sample(kind)
    expected = _plain(kind, body)
    for attempt in ("cold", "warm"):  # the second read takes its decimals from the cache
        got = kind.from_json(body)
        assert type(got) is kind, attempt  # the real class, not the decoder's twin
        assert _same(got, expected), (attempt, got, expected)
        assert got == expected and dict(got.raw) == body
        assert _same(pickle.loads(pickle.dumps(got)), got)
        assert _same(replace(got), got)  # through __init__ again
        with pytest.raises(FrozenInstanceError):
            setattr(got, fields(kind)[0].name, None)
        with pytest.raises(FrozenInstanceError):
            delattr(got, fields(kind)[0].name)


@pytest.mark.parametrize("kind", MODELS, ids=IDS)
def test_missing_keys_leave_the_defaults_init_gives(kind: type[Model]) -> None:
    body = _sample(kind)
    required = {
        key: body[key]
        for (_, key, _, _), spec in zip(_field_specs(kind), fields(kind), strict=True)
        if spec.default is MISSING and spec.default_factory is MISSING
    }
    got = kind.from_json(required)
    assert type(got) is kind
    assert _same(got, _plain(kind, required, only_given=True))


def _wrong(held: Any) -> Any:
    return "maybe" if held is bool else True


@pytest.mark.parametrize("kind", MODELS, ids=IDS)
def test_every_field_refuses_a_value_of_the_wrong_type(kind: type[Model]) -> None:
    body = _sample(kind)
    for _, key, held, _ in _field_specs(kind):
        if held in (Any, object):
            continue
        with pytest.raises(DecodeError, match=re.escape(key)):
            kind.from_json({**body, key: _wrong(held)})
        kind.from_json(body)  # and a good value after a bad one still reads


@model
class _Amount(Model):
    amount: Decimal


_texts = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.text(alphabet="0123456789.-+eEinfaNs_ ", max_size=30),
    st.integers(min_value=-(10**50), max_value=10**50),
    st.sampled_from(["0.0", "12.50", "12.5", "1e40", "1e41", "-0", "1_000", " 1", "sNaN"]),
)


@given(text=_texts)
def test_a_cached_decimal_reads_as_the_converter_reads_it(text: str | int) -> None:
    try:
        expected: Decimal | None = models_module._to_decimal(text)
    except DecodeError:
        expected = None
    for _ in range(2):  # cold, then warm when the text went into the cache
        try:
            got: Decimal | None = _Amount.from_json({"amount": text}).amount
        except DecodeError:
            got = None
        assert (got is None) == (expected is None), (text, got, expected)
        if got is not None and expected is not None:
            assert str(got) == str(expected), (text, got, expected)
