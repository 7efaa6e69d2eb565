"""Frozen, slotted value classes that are cheap to define.

Every value object of the core (requests, responses, events, errors' details,
models) is a class decorated with :func:`frozen`: the fields come from the
class annotations, instances are immutable and have ``__slots__``, and they
compare, hash, print and pattern-match like a frozen dataclass.

Why not :mod:`dataclasses`: on the machines this library is measured on,
``import dataclasses`` costs about 13 ms (it imports :mod:`inspect`) and every
``@dataclass(frozen=True, slots=True)`` class about 1.4 ms, because it compiles
six or more generated methods. The core defines about 25 of them and the API
areas about 75 more, which made ``import tastytrade_proto`` take 90 ms. Here a
class compiles only its ``__init__`` (one small ``exec``); ``__repr__``,
``__eq__``, ``__hash__`` and the frozen ``__setattr__`` are shared functions.

:func:`field` takes the keywords of :func:`dataclasses.field` that matter here
(``default``, ``default_factory``, ``repr``, ``compare``, ``metadata``), and a
``dataclasses.field(...)`` default is understood too. :func:`fields` and
:func:`replace` are the counterparts of the :mod:`dataclasses` functions.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from types import FunctionType, MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform as dataclass_transform
else:

    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        return lambda decorator: decorator


__all__ = [
    "MISSING",
    "Field",
    "FrozenInstanceError",
    "field",
    "fields",
    "frozen",
    "is_value",
    "replace",
]

T = TypeVar("T")
C = TypeVar("C", bound=type)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


class _Factory:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


#: A field without a default has ``default is MISSING`` (and ``default_factory is MISSING``).
MISSING: Any = _Missing()
_FACTORY: Any = _Factory()
_EMPTY: Mapping[Any, Any] = MappingProxyType({})


class FrozenInstanceError(AttributeError):
    """A field of a frozen value was assigned or deleted."""


class Field:
    """One field of a value class, as :func:`fields` reports it."""

    __slots__ = ("compare", "default", "default_factory", "metadata", "name", "repr", "type")

    def __init__(
        self,
        default: Any = MISSING,
        default_factory: Any = MISSING,
        repr: bool = True,
        compare: bool = True,
        metadata: Mapping[Any, Any] | None = None,
    ) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.type: Any = None
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare
        self.metadata = _EMPTY if not metadata else MappingProxyType(dict(metadata))

    def __repr__(self) -> str:
        return (
            f"Field(name={self.name!r}, type={self.type!r}, default={self.default!r}, "
            f"default_factory={self.default_factory!r}, repr={self.repr}, "
            f"compare={self.compare})"
        )


def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | Any = MISSING,
    repr: bool = True,
    compare: bool = True,
    metadata: Mapping[Any, Any] | None = None,
) -> Any:
    """Describe a field beyond its default: kept out of ``repr`` or ``==``, or made per instance."""
    return Field(default, default_factory, repr, compare, metadata)


def fields(class_or_instance: Any) -> tuple[Field, ...]:
    """The fields of a value class (or of a value), in order, inherited ones first."""
    found: tuple[Field, ...] | None = getattr(class_or_instance, "__value_fields__", None)
    if found is None:
        raise TypeError(f"{class_or_instance!r} is not a value class or value")
    return found


def is_value(obj: Any) -> bool:
    """True for a value class made by :func:`frozen`, or an instance of one."""
    return hasattr(obj, "__value_fields__")


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of the value ``obj`` with some fields changed (checked again by ``__init__``)."""
    for spec in fields(obj):
        if spec.name not in changes:
            changes[spec.name] = getattr(obj, spec.name)
    return type(obj)(**changes)


# -- the shared methods ------------------------------------------------------------------


def _repr(self: Any) -> str:
    shown = ", ".join(
        f"{f.name}={getattr(self, f.name)!r}" for f in self.__value_fields__ if f.repr
    )
    return f"{type(self).__qualname__}({shown})"


def _key(self: Any) -> tuple[Any, ...]:
    return tuple([getattr(self, name) for name in self.__value_compared__])


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _key(self) == _key(other)


def _hash(self: Any) -> int:
    return hash(_key(self))


def _setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> dict[str, Any]:
    state = {}
    for klass in type(self).__mro__:
        for name in klass.__dict__.get("__slots__", ()):
            if hasattr(self, name):  # a slot can be unset (a model built by hand has no raw)
                state[name] = getattr(self, name)
    return state


def _setstate(self: Any, state: dict[str, Any]) -> None:
    for name, value in state.items():
        object.__setattr__(self, name, value)


# -- the decorator -----------------------------------------------------------------------


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):  # `from __future__ import annotations`
        return annotation.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))
    return getattr(annotation, "__origin__", annotation) is getattr(
        sys.modules.get("typing"), "ClassVar", None
    )


def _as_field(default: Any) -> Field:
    if isinstance(default, Field):
        return default
    kind = type(default)
    if kind.__name__ == "Field" and kind.__module__ == "dataclasses":  # dataclasses.field(...)
        missing = sys.modules["dataclasses"].MISSING

        def mine(x: Any) -> Any:
            return MISSING if x is missing else x

        return Field(
            mine(default.default),
            mine(default.default_factory),
            default.repr,
            bool(default.compare),
            default.metadata,
        )
    return Field(default)


def _setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    for klass in cls.__mro__:
        slot = klass.__dict__.get(name)
        if slot is not None and hasattr(slot, "__set__"):
            setter: Callable[[Any, Any], None] = slot.__set__
            return setter
    raise TypeError(f"{cls.__name__}.{name} is not a slot")  # pragma: no cover - always slotted


def _make_init(cls: type, specs: tuple[Field, ...]) -> Callable[..., None]:
    env: dict[str, Any] = {"_FACTORY": _FACTORY}
    params = ["self"]
    body = []
    for index, spec in enumerate(specs):
        env[f"_s{index}"] = _setter(cls, spec.name)
        if spec.default_factory is not MISSING:
            env[f"_f{index}"] = spec.default_factory
            params.append(f"{spec.name}=_FACTORY")
            body.append(f"    if {spec.name} is _FACTORY: {spec.name} = _f{index}()")
        elif spec.default is not MISSING:
            env[f"_d{index}"] = spec.default
            params.append(f"{spec.name}=_d{index}")
        else:
            params.append(spec.name)
        body.append(f"    _s{index}(self, {spec.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__({', '.join(params)}) -> None:\n" + ("\n".join(body) or "    pass")
    exec(source, env)  # built from the class's own field names only
    init: Callable[..., None] = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _rebind_class_cells(namespace: dict[str, Any], old: type, new: type) -> None:
    """Point zero-argument ``super()`` in the methods at the new (slotted) class."""
    for member in namespace.values():
        member = getattr(member, "__func__", member)  # classmethod, staticmethod
        functions = (
            [member.fget, member.fset, member.fdel] if isinstance(member, property) else [member]
        )
        for function in functions:
            if not isinstance(function, FunctionType) or not function.__closure__:
                continue
            for name, cell in zip(function.__code__.co_freevars, function.__closure__, strict=True):
                if name == "__class__" and cell.cell_contents is old:
                    cell.cell_contents = new


@dataclass_transform(frozen_default=True, field_specifiers=(field, Field))
def frozen(cls: C) -> C:
    """Make ``cls`` a frozen, slotted value class from its annotations (see the module)."""
    inherited: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for spec in base.__dict__.get("__value_fields__", ()):
            inherited[spec.name] = spec
    namespace = dict(cls.__dict__)
    declared = namespace.get("__slots__", ())
    own: list[str] = []
    for name, annotation in namespace.get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        spec = _as_field(MISSING if name in declared else namespace.pop(name, MISSING))
        default = spec.default
        if default is not MISSING and type(default).__hash__ is None:
            raise ValueError(
                f"{cls.__name__}.{name}: mutable default {type(default).__name__}: "
                "use default_factory"
            )
        spec.name, spec.type = name, annotation
        inherited[name] = spec
        if name not in declared:
            own.append(name)
    specs = tuple(inherited.values())
    seen_default = False
    for spec in specs:
        has_default = spec.default is not MISSING or spec.default_factory is not MISSING
        if seen_default and not has_default:
            raise TypeError(f"{cls.__name__}: non-default field {spec.name!r} follows a default")
        seen_default = seen_default or has_default

    for name in ("__dict__", "__weakref__", *declared):  # the old class's slot descriptors
        namespace.pop(name, None)
    namespace["__slots__"] = (*own, *declared)
    namespace["__qualname__"] = cls.__qualname__
    namespace["__value_fields__"] = specs
    namespace["__value_compared__"] = tuple(f.name for f in specs if f.compare)
    namespace["__match_args__"] = tuple(f.name for f in specs)
    explicit_hash = "__hash__" in namespace and not (
        namespace["__hash__"] is None and "__eq__" in namespace
    )
    for name, method in (
        ("__repr__", _repr),
        ("__eq__", _eq),
        ("__setattr__", _setattr),
        ("__delattr__", _delattr),
        ("__getstate__", _getstate),
        ("__setstate__", _setstate),
    ):
        namespace.setdefault(name, method)
    if not explicit_hash:
        namespace["__hash__"] = _hash
    made: Any = type(cls)(cls.__name__, cls.__bases__, namespace)
    _rebind_class_cells(namespace, cls, made)
    if "__init__" not in cls.__dict__:
        type.__setattr__(made, "__init__", _make_init(made, specs))
    return made  # type: ignore[no-any-return]
