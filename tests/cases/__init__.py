"""Endpoint cases run through every transport against the fake (``test_endpoints_over_transports``).

Each area's module lists ``CASES``: steps run in order in one logged-in
session per transport, against a fresh fake with the demo data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    """Call ``endpoint`` with ``args``/``kwargs``; ``check`` asserts on what it returned.

    ``check`` may also take the fake API as a second argument, to look at its state.
    A paginated endpoint's iterator is read to the end before ``check`` sees it.
    ``raises`` expects that error class instead of a result.
    """

    endpoint: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    check: Callable[..., None] = lambda result: None
    raises: type[BaseException] | None = None
