"""Old names kept working for a while, each with a ``DeprecationWarning`` naming the new one."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any


def deprecated_names(
    module: str, names: Mapping[str, tuple[str, Callable[[], Any]]]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) serving each old name in ``names`` as
    ``(new name, getter)``, warning once per use."""

    def __getattr__(name: str) -> Any:
        try:
            new, get = names[name]
        except KeyError:
            raise AttributeError(f"module {module!r} has no attribute {name!r}") from None
        warnings.warn(f"{module}.{name} is deprecated; use {new}", DeprecationWarning, stacklevel=2)
        return get()

    return __getattr__
