"""The value classes (``tastytrade_proto.values``) and the HTTP date reader behave like the
stdlib pieces they replace, without importing them."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime as email_format
from email.utils import parsedate_to_datetime
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastytrade_proto.timestamps import parse_http_date
from tastytrade_proto.values import (
    MISSING,
    FrozenInstanceError,
    field,
    fields,
    frozen,
    is_value,
    replace,
)


@frozen
class Point:
    """A point."""

    x: int
    y: int = 0
    label: str = field(default="", compare=False)
    secret: str | None = field(default=None, repr=False)
    tags: list[str] = field(default_factory=list, compare=False)
    registry: ClassVar[int] = 3


@frozen
class Point3(Point):
    z: int = 0

    def norm(self) -> int:
        return super().__hash__() * 0 + abs(self.x) + abs(self.y) + abs(self.z)


@frozen
class Checked:
    amount: int

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError("negative")


@frozen
class Cached:
    size: int
    __slots__ = ("_memo",)  # a per-instance cache, not a field

    def memo(self) -> int:
        found: int | None = getattr(self, "_memo", None)
        if found is None:
            found = self.size * 2
            object.__setattr__(self, "_memo", found)
        return found


def test_fields_defaults_and_signature() -> None:
    p = Point(1)
    assert (p.x, p.y, p.label, p.secret, p.tags) == (1, 0, "", None, [])
    assert Point(1).tags is not p.tags  # a factory runs per instance
    assert [f.name for f in fields(Point)] == ["x", "y", "label", "secret", "tags"]
    assert fields(p)[0].default is MISSING and fields(p)[4].default_factory is list
    assert str(inspect.signature(Point)).startswith("(x, y=0, label='', secret=None, tags=")
    assert Point.registry == 3 and "registry" not in [f.name for f in fields(Point)]
    assert Point.__match_args__ == ("x", "y", "label", "secret", "tags")
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        fields(object())
    assert is_value(p) and is_value(Point) and not is_value(1)


def test_frozen_slotted_equal_hashable_and_private_in_repr() -> None:
    p = Point(1, 2, label="a", secret="hunter2")
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        p.x = 5  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del p.x  # type: ignore[misc]
    with pytest.raises(AttributeError):
        p.other = 1  # type: ignore[attr-defined]
    assert not hasattr(p, "__dict__")
    assert p == Point(1, 2, label="b", secret="hunter2") and p != Point(1, 2) and p != (1, 2)
    assert hash(p) == hash(Point(1, 2, label="b", secret="hunter2"))
    assert repr(p) == "Point(x=1, y=2, label='a', tags=[])"
    assert "hunter2" not in repr(p) and "hunter2" not in str(p)
    match p:
        case Point(1, y):
            assert y == 2
        case _:  # pragma: no cover
            pytest.fail("positional pattern did not match")


def test_inheritance_super_post_init_replace_copy_and_pickle() -> None:
    q = Point3(1, -2, z=3)
    assert [f.name for f in fields(q)] == ["x", "y", "label", "secret", "tags", "z"]
    assert q.norm() == 6  # zero-argument super() works in the rebuilt, slotted class
    assert q != Point(1, -2)  # another class is never equal
    assert replace(q, z=4) == Point3(1, -2, z=4) and q.z == 3
    with pytest.raises(ValueError, match="negative"):
        Checked(-1)
    with pytest.raises(ValueError, match="negative"):
        replace(Checked(1), amount=-1)  # replace goes through __init__ and its checks
    assert copy.copy(q) == q and copy.deepcopy(q) == q
    assert pickle.loads(pickle.dumps(q)) == q


def test_a_declared_slot_is_kept_apart_from_the_fields() -> None:
    c = Cached(3)
    assert [f.name for f in fields(c)] == ["size"] and c.memo() == 6 and c.memo() == 6
    assert c == Cached(3) and repr(c) == "Cached(size=3)"
    assert pickle.loads(pickle.dumps(c)).memo() == 6


def test_mistakes_are_refused_when_the_class_is_made() -> None:
    with pytest.raises(ValueError, match="mutable default"):

        @frozen
        class Bad:
            items: list[int] = []  # noqa: RUF012

    with pytest.raises(TypeError, match="non-default field 'b' follows a default"):

        @frozen
        class Order:
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(ValueError, match="both default and default_factory"):
        field(default=1, default_factory=list)


def test_a_stdlib_dataclasses_field_is_understood() -> None:
    @frozen
    class Old:
        a: int = dataclasses.field(default=1, repr=False)
        b: list[int] = dataclasses.field(default_factory=list)

    assert Old().a == 1 and Old().b == [] and repr(Old()).endswith("<locals>.Old(b=[])")
    assert fields(Old)[1].default is MISSING


def test_the_core_imports_neither_dataclasses_nor_email() -> None:
    code = (
        "import sys, tastytrade_proto, tastytrade_proto.api;"
        "print([m for m in ('dataclasses', 'email.utils', 'h11', 'inspect') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- HTTP dates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wed, 21 Oct 2015 07:28:00 GMT", datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc)),
        ("Wed, 21 Oct 2015 07:28:00", datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc)),
        ("Sunday, 06-Nov-94 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=timezone.utc)),
        ("Sun Nov  6 08:49:37 1994", datetime(1994, 11, 6, 8, 49, 37, tzinfo=timezone.utc)),
        (
            "21 Oct 2015 07:28:00 +0200",
            datetime(2015, 10, 21, 7, 28, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("Wed, 31 Feb 2015 07:28:00 GMT", None),
        ("Wed, 21 Foo 2015 07:28:00 GMT", None),
        ("Wed, 21 Oct 2015 07:28:00 +9999", None),
        ("soon", None),
        ("", None),
    ],
)
def test_http_dates(text: str, expected: datetime | None) -> None:
    assert parse_http_date(text) == expected


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1)))
def test_http_dates_agree_with_email_utils(when: datetime) -> None:
    text = email_format(when.replace(microsecond=0, tzinfo=timezone.utc), usegmt=True)
    assert parse_http_date(text) == parsedate_to_datetime(text)


@given(st.text(max_size=60))
def test_http_date_reader_never_raises(text: str) -> None:
    result = parse_http_date(text)
    assert result is None or result.tzinfo is not None
