"""Typed, immutable models of the API's data, and the one place JSON becomes them.

A model is a frozen, slotted value class (:mod:`.values`) declared with :func:`model`. Its
decoder is derived from the field annotations the first time it is used:
each field reads the kebab-case key of its name (``cash_balance`` reads
``cash-balance``; ``Annotated[..., Key("other")]`` reads another key),
converts the value by its type, and accepts what the API really sends
(decimals as strings or numbers, integers as numbers or strings). A field
with a default is optional: a missing or ``null`` key leaves the default.
Keys the model does not know are kept in :attr:`Model.raw` and otherwise
ignored, so a new field on the server never breaks a client.

A value of the wrong type becomes a :class:`~tastytrade_proto.errors.DecodeError`
naming where it was (``items[3].legs[0].quantity``); nothing else escapes.

Amounts the API sends unsigned beside an ``*-effect`` (``"Debit"`` or
``"Credit"``) are folded into one signed :class:`~decimal.Decimal` by
:func:`signed`, and split again by :func:`unsigned`: a credit is positive, a
debit negative. Those two functions are the only place the sign is decided.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, TypeVar

from .errors import DecodeError
from .protocol.envelope import Envelope, decode_envelope
from .protocol.http import Response
from .timestamps import parse_datetime
from .values import MISSING, Field, dataclass_transform, field, fields, frozen

__all__ = [
    "ApiEnum",
    "Effect",
    "Key",
    "Model",
    "PriceEffect",
    "data_of",
    "decode_list",
    "decode_model",
    "items_of",
    "model",
    "page_of",
    "signed",
    "unsigned",
]

M = TypeVar("M", bound="Model")
TModel = TypeVar("TModel", bound=type)

# Money and quantities beyond this many digits either side of the point are
# not something the API sends; refusing them keeps later arithmetic finite.
_MAX_ADJUSTED_EXPONENT = 40
_MAX_TEXT = 4096  # longest text value kept in an error message's excerpt


class _Invalid(DecodeError):
    """A value that does not fit its field; the path is added on the way up."""

    def __init__(self, problem: str, path: str = "") -> None:
        self.problem = problem
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{problem}")

    def at(self, key: str | int) -> _Invalid:
        step = f"[{key}]" if isinstance(key, int) else str(key)
        if not self.path:
            path = step
        elif self.path.startswith("["):
            path = step + self.path
        else:
            path = f"{step}.{self.path}"
        return _Invalid(self.problem, path)


def show_value(value: Any) -> str:
    """A short ``repr`` of a value for an error message (never raises, never huge)."""
    try:
        text = repr(value)
    except Exception:  # a caller's object whose repr fails must not hide the real problem
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


class ApiEnum(str, enum.Enum):
    """A closed vocabulary of the API that still takes a value it does not know.

    The API adds values over time; a client must not fail on one. An unknown
    value becomes a member-like instance whose :attr:`known` is ``False``
    and whose ``value`` is the text the API sent.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str) or len(value) > 200:
            return None
        member = str.__new__(cls, value)
        member._name_ = f"UNKNOWN[{value}]"
        member._value_ = value
        return member

    @property
    def known(self) -> bool:
        """Whether this value is one this library names."""
        return self._name_ in type(self).__members__

    def __str__(self) -> str:
        return str(self.value)


class PriceEffect(ApiEnum):
    """Whether an amount is paid (``Debit``) or received (``Credit``)."""

    CREDIT = "Credit"
    DEBIT = "Debit"
    NONE = "None"


def signed(amount: Decimal, effect: PriceEffect | str | None) -> Decimal:
    """Fold an unsigned amount and its ``*-effect`` into one signed amount.

    A credit is positive and a debit negative; ``"None"`` or no effect leaves
    the amount as sent. This and :func:`unsigned` are the only place the
    sign convention lives.
    """
    if effect == "Debit":
        return -abs(amount)
    if effect == "Credit":
        return abs(amount)
    return amount


def unsigned(amount: Decimal) -> tuple[Decimal, PriceEffect]:
    """Split a signed amount into the API's unsigned amount and its effect."""
    if amount < 0:
        return -amount, PriceEffect.DEBIT
    if amount > 0:
        return amount, PriceEffect.CREDIT
    return abs(amount), PriceEffect.NONE


# -- converters: (value) -> field value; raise _Invalid on a misfit --------------------


def _to_decimal(value: Any) -> Decimal:
    kind = type(value)
    if kind is str:
        if len(value) > 100:
            raise _Invalid(f"expected a decimal, got a {len(value)}-character string")
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise _Invalid(f"expected a decimal, got {show_value(value)}") from None
    elif kind is Decimal:
        number = value
    elif kind is int:
        number = Decimal(value)
    else:
        raise _Invalid(f"expected a decimal, got {show_value(value)}")
    if not _in_range(number):
        raise _Invalid(f"expected a finite decimal in range, got {show_value(value)}")
    return number


# Decimal strings (and whole numbers) already read, and their values: balances, positions and
# chains repeat a few ("0.0", strike prices, quantities) many times. Decimals are immutable, so
# sharing them is safe; the cache is bounded, and only values that read as valid decimals go in.
# tests/test_decoder_guard.py holds every model's decimals to what _to_decimal reads, warm or cold.
_DECIMALS: dict[str | int, Decimal] = {}
_DECIMALS_KEPT = 4096


def _new_decimal(value: str | int) -> Decimal:
    number = _to_decimal(value)  # raises _Invalid, naming the value
    small = len(value) <= 24 if isinstance(value, str) else -(10**12) < value < 10**12
    if small:
        if len(_DECIMALS) >= _DECIMALS_KEPT:  # start again rather than keep stale prices
            _DECIMALS.clear()
        _DECIMALS[value] = number
    return number


def _in_range(number: Decimal) -> bool:
    return number.is_finite() and abs(number.adjusted()) <= _MAX_ADJUSTED_EXPONENT


def _to_int(value: Any) -> int:
    kind = type(value)
    if kind is int:
        return int(value)
    if kind is str or kind is Decimal:
        try:
            number = Decimal(value) if len(str(value)) <= 40 else None
        except InvalidOperation:
            number = None
        if (
            number is not None
            and _in_range(number)  # "1e999999999" would take forever as an int
            and number == number.to_integral_value()
        ):
            return int(number)
    raise _Invalid(f"expected a whole number, got {show_value(value)}")


def _to_str(value: Any) -> str:
    if type(value) is str:
        return str(value)
    if type(value) is int or type(value) is Decimal:  # ids the API sometimes sends as numbers
        return str(value)
    raise _Invalid(f"expected a string, got {show_value(value)}")


def _to_bool(value: Any) -> bool:
    if value is True or value is False:
        return bool(value)
    if value in ("true", "false"):
        return bool(value == "true")
    raise _Invalid(f"expected true or false, got {show_value(value)}")


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _to_datetime(value: Any) -> datetime:
    if type(value) is str:
        try:
            return parse_datetime(value)
        except ValueError:
            pass
    elif type(value) is int:  # epoch milliseconds
        try:
            return _EPOCH + timedelta(milliseconds=value)
        except (OverflowError, ValueError):
            pass
    raise _Invalid(f"expected a date-time with an offset, got {show_value(value)}")


def _to_date(value: Any) -> date:
    if type(value) is str and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _Invalid(f"expected a YYYY-MM-DD date, got {show_value(value)}")


def _to_any(value: Any) -> Any:
    return value


def _enum_converter(kind: type[ApiEnum]) -> Callable[[Any], Any]:
    members = kind._value2member_map_

    def convert(value: Any) -> Any:
        if type(value) is not str:
            raise _Invalid(f"expected a {kind.__name__} name, got {show_value(value)}")
        known = members.get(value)
        if known is not None:
            return known
        try:
            return kind(value)  # an unknown value: kept by ApiEnum._missing_
        except ValueError:
            raise _Invalid(f"expected a {kind.__name__} name, got {show_value(value)}") from None

    return convert


def _each(convert: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``convert`` applied to every item; a misfit is raised naming its index."""
    try:
        return [convert(item) for item in items]
    except _Invalid:
        pass
    for index, item in enumerate(items):  # only on failure: find which item it was
        try:
            convert(item)
        except _Invalid as invalid:
            raise invalid.at(index) from None
    raise AssertionError("an item failed once, then never")  # pragma: no cover - decoding is pure


def _tuple_converter(item: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> tuple[Any, ...]:
        if type(value) is not list:
            raise _Invalid(f"expected a list, got {show_value(value)}")
        return tuple(_each(item, value))

    return convert


def _mapping_converter(value: Any) -> Mapping[str, Any]:
    if type(value) is not dict:
        raise _Invalid(f"expected an object, got {show_value(value)}")
    return types.MappingProxyType(value)


_SIMPLE: dict[Any, Callable[[Any], Any]] = {
    Decimal: _to_decimal,
    int: _to_int,
    str: _to_str,
    bool: _to_bool,
    datetime: _to_datetime,
    date: _to_date,
    Any: _to_any,
    object: _to_any,
}


def _converter_for(annotation: Any) -> Callable[[Any], Any]:
    if annotation in _SIMPLE:
        return _SIMPLE[annotation]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _converter_for(rest[0])
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _tuple_converter(_converter_for(args[0]))
    if origin in (Mapping, dict) or annotation in (Mapping, dict):
        return _mapping_converter
    if isinstance(annotation, type) and issubclass(annotation, ApiEnum):
        return _enum_converter(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Model):
        return annotation._decoder()
    raise TypeError(f"no decoder for annotation {annotation!r}")


# -- models ------------------------------------------------------------------------------


class Model:
    """Base of every model: see :func:`model`. ``raw`` is the object it was read from."""

    __slots__ = ("_raw",)
    _raw: dict[str, Any]
    _decode: ClassVar[Callable[[Any], Any] | None] = None

    @property
    def raw(self) -> Mapping[str, Any]:
        """The JSON object this model was decoded from (read-only), or ``{}``."""
        try:
            return types.MappingProxyType(self._raw)
        except AttributeError:
            return types.MappingProxyType({})

    @classmethod
    def from_json(cls: type[M], value: Any) -> M:
        """Build this model from decoded JSON; a misfit raises ``DecodeError``."""
        decode = cls.__dict__.get("_decode") or cls._decoder()
        try:
            result: M = decode(value)
        except _Invalid as invalid:
            raise DecodeError(f"cannot read {cls.__name__}: {invalid.message}") from None
        return result

    @classmethod
    def _decoder(cls) -> Callable[[Any], Any]:
        decode = cls.__dict__.get("_decode")
        if decode is None:
            decode = _compile(cls)
            type.__setattr__(cls, "_decode", decode)  # kept in __dict__, read unbound
        return decode


@frozen
class Key:
    """Field metadata: read this JSON key instead of the field's kebab-case name.

    ``value: Annotated[str | None, Key("dx-symbol")] = None``
    """

    name: str


@frozen
class Effect:
    """Field metadata: sign the amount by this sibling ``*-effect`` key (see :func:`signed`).

    ``pending_cash: Annotated[Decimal | None, Effect("pending-cash-effect")] = None``
    """

    key: str


@dataclass_transform(frozen_default=True, field_specifiers=(field, Field))
def model(cls: TModel) -> TModel:
    """Make ``cls`` (a :class:`Model` subclass) a frozen, slotted value class (:mod:`.values`)."""
    return frozen(cls)


def _unshown(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def quiet(value: Any) -> Any:
        try:
            return convert(value)
        except _Invalid:
            raise _Invalid("has a value of the wrong type (not shown)") from None

    return quiet


def _compile(cls: type[Model]) -> Callable[[Any], Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    lines = [
        "def decode(data):",
        "    if data.__class__ is not dict:",
        f"        raise _Invalid('expected a {cls.__name__} object, got ' + show_value(data))",
        "    get = data.get",
        "    obj = _new(twin)",
        "    key = None",
        "    try:",
    ]
    env: dict[str, Any] = {"_Invalid": _Invalid, "show_value": show_value, "_new": object.__new__}
    # The object is filled in as an instance of a subclass that keeps object's own __setattr__
    # and __delattr__ (one C slot holds both), so each field is a plain slot store, which the
    # interpreter specializes: about twice as fast as calling the slot's __set__. It then gets
    # its real, frozen class; the subclass adds no slots, so the layout is the same.
    # No __init__ runs: tests/test_decoder_guard.py checks that no model needs one to be valid.
    twin = type(
        cls.__name__,
        (cls,),
        {"__slots__": (), "__setattr__": object.__setattr__, "__delattr__": object.__delattr__},
    )
    env.update(cls=cls, twin=twin, _signed=signed)
    env.update(_seen=_DECIMALS.get, _new_decimal=_new_decimal)
    env.update(_fromisoformat=datetime.fromisoformat)
    for index, spec in enumerate(fields(cls)):
        hint = hints[spec.name]
        marks = getattr(hint, "__metadata__", ())
        key = next((m.name for m in marks if isinstance(m, Key)), spec.name.replace("_", "-"))
        effect = next((m.key for m in marks if isinstance(m, Effect)), None)
        env[f"c{index}"] = _converter_for(typing.get_args(hint)[0] if marks else hint)
        if not spec.repr:  # kept out of the repr (a token, personal data): out of errors too
            env[f"c{index}"] = _unshown(env[f"c{index}"])
        if spec.default is not MISSING:
            env[f"d{index}"] = spec.default
            fallback = f"d{index}"
        elif spec.default_factory is not MISSING:
            env[f"f{index}"] = spec.default_factory
            fallback = f"f{index}()"
        else:
            fallback = f"_missing({key!r})"
        converter = env[f"c{index}"]
        lines += [f"        key = {key!r}", "        value = get(key)"]
        if converter is _to_str:  # the common case, inlined: a str is taken as it is
            lines += [
                "        if value is None:",
                f"            value = {fallback}",
                "        elif value.__class__ is not str:",
                f"            value = c{index}(value)",
            ]
        elif converter is _to_decimal:  # the other common case: a short decimal string
            lines += [
                "        if value is None:",
                f"            value = {fallback}",
                "        elif value.__class__ is str or value.__class__ is int:",
                "            number = _seen(value)",
                "            value = _new_decimal(value) if number is None else number",
                "        else:",
                f"            value = c{index}(value)",
            ]
        elif converter is _to_datetime:  # the C parser first; the converter for the rest
            lines += [
                "        if value is None:",
                f"            value = {fallback}",
                "        elif value.__class__ is str and len(value) <= 40:",
                "            try:",
                "                when = _fromisoformat(value)",
                "            except ValueError:",
                "                when = None",
                "            if when is None or when.tzinfo is None:",
                f"                when = c{index}(value)",
                "            value = when",
                "        else:",
                f"            value = c{index}(value)",
            ]
        else:
            lines.append(f"        value = {fallback} if value is None else c{index}(value)")
        if effect:
            lines.append(
                f"        value = None if value is None else _signed(value, get({effect!r}))"
            )
        lines.append(f"        obj.{spec.name} = value")
    lines += [
        "    except _Invalid as invalid:",
        "        raise invalid.at(key) from None",
        "    obj._raw = data",
        "    obj.__class__ = cls",
        "    return obj",
    ]

    def missing(key: str) -> Any:
        raise _Invalid("is missing")

    env["_missing"] = missing
    exec("\n".join(lines), env)  # the source is built above from field names only
    decode: Callable[[Any], Any] = env["decode"]
    decode.__qualname__ = f"{cls.__qualname__}._decode"
    return decode


def decode_model(kind: type[M], value: Any, *, what: str | None = None) -> M:
    """``kind.from_json(value)``, with ``what`` (e.g. ``"data"``) in any error."""
    try:
        return kind.from_json(value)
    except DecodeError as error:
        if what:
            error.message = f"{what}: {error.message}"
            error.args = (error.message,)
        raise


def decode_list(kind: type[M], items: Any, *, what: str = "items") -> list[M]:
    """A list of ``kind`` models from a decoded JSON list."""
    if type(items) is not list:
        raise DecodeError(f"{what}: expected a list, got {show_value(items)}")
    try:
        return _each(kind._decoder(), items)
    except _Invalid as invalid:
        raise DecodeError(f"cannot read {kind.__name__}: {what}{invalid.message}") from None


# -- decoders for endpoint modules ------------------------------------------------------------


def data_of(kind: type[M]) -> Callable[[Response], M]:
    """A decoder reading the envelope's ``data`` as one ``kind``."""

    def decode(response: Response) -> M:
        return decode_model(kind, decode_envelope(response).data, what="data")

    return decode


def items_of(kind: type[M]) -> Callable[[Response], list[M]]:
    """A decoder reading the envelope's ``data.items`` as a list of ``kind``."""

    def decode(response: Response) -> list[M]:
        return decode_list(kind, decode_envelope(response).items, what="data.items")

    return decode


def page_of(kind: type[M]) -> Callable[[Envelope], list[M]]:
    """A page decoder (for a :class:`~.protocol.endpoint.Pager`) reading ``data.items``."""

    def decode(envelope: Envelope) -> list[M]:
        return decode_list(kind, envelope.items, what="data.items")

    return decode
