"""How an API call is written once and offered by every kind of session.

An endpoint is a function ``build(calls, *args) -> Operation[T]`` in the
module of its API area (``accounts``, ``orders``, ...), declared on that
area's mixin as ``name = Endpoint(build)``. The descriptor hands each kind of
session its own form of the same call:

* on a :class:`~tastytrade_proto.sessions.SessionCalls`, the :class:`Operation` itself,
  for a custom transport to drive;
* on a :class:`~tastytrade_proto.sessions.SyncSession`, a function that runs it;
* on an :class:`~tastytrade_proto.sessions.AsyncSession`, a coroutine function.

A paginated list is declared with :class:`Paged`, whose ``build`` returns a
:class:`Pager`; sessions turn it into a lazy iterator that fetches a page
only when the previous one is used up (:class:`PageIterator`,
:class:`AsyncPageIterator`), each with ``page(offset)`` for one page.
Transports contain no endpoint code at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from ..models import M, decode_list, decode_model
from ..values import frozen
from . import flows
from .envelope import Envelope, Pagination, decode_envelope
from .http import QueryValue, Request, Response
from .operation import Operation

if TYPE_CHECKING:
    from ..sessions import AsyncSession, SessionCalls, SyncSession

__all__ = [
    "AsyncPageIterator",
    "Endpoint",
    "Page",
    "PageIterator",
    "Paged",
    "Pager",
    "data_of",
    "items_of",
    "page_of",
    "pager",
    "send",
]

P = ParamSpec("P")
T = TypeVar("T")


class _Declared:
    """What both kinds of declaration keep: the build function, its docstring, the name.

    Reading one from a session binds it to that session once: the bound function is kept
    in the session's ``__dict__``, which later reads find first (this is a non-data
    descriptor), so a call costs no binding.
    """

    def __init__(self, build: Callable[..., Any]) -> None:
        self.build = build
        self.__doc__ = build.__doc__
        self.name = build.__name__.lstrip("_")
        self._signature: Any = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @property
    def signature(self) -> Any:
        """The bound call's ``inspect.Signature``: ``build``'s, less ``calls``."""
        if self._signature is None:
            import inspect  # only for help() and introspection: 12 ms to import

            signature = inspect.signature(self.build)
            parameters = list(signature.parameters.values())[1:]
            returns = signature.return_annotation if isinstance(self, Endpoint) else signature.empty
            self._signature = signature.replace(parameters=parameters, return_annotation=returns)
        return self._signature

    def _keep(self, obj: Any, bound: Any) -> Any:
        obj.__dict__[self.name] = bound
        return bound


class Endpoint(_Declared, Generic[P, T]):
    """An API call written once: ``build(calls, ...)`` makes its operation."""

    build: Callable[Concatenate[SessionCalls, P], Operation[T]]

    def __init__(self, build: Callable[Concatenate[SessionCalls, P], Operation[T]]) -> None:
        super().__init__(build)

    @overload
    def __get__(self, obj: None, owner: type) -> Endpoint[P, T]: ...
    @overload
    def __get__(self, obj: SyncSession, owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: AsyncSession, owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, obj: SessionCalls, owner: type) -> Callable[P, Operation[T]]: ...
    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        return self._keep(obj, obj._bind_endpoint(self))


@frozen
class Page(Generic[T]):
    """One page of a paginated list: its items, and the offset of the next page."""

    items: list[T]
    next_offset: int | None
    pagination: Pagination | None = None


class Pager(Generic[T]):
    """A paginated list, as operations: :meth:`page` for one page, :meth:`all` for every page."""

    def __init__(
        self,
        calls: SessionCalls,
        build: Callable[[int], Request],
        decode_page: Callable[[Envelope], list[T]],
        *,
        timeout: float | None = None,
    ) -> None:
        self.calls = calls
        self.build = build
        self.decode_page = decode_page
        #: Each page's request timeout (``None``: the session's).
        self.timeout = timeout

    def page(self, offset: int = 0) -> Operation[Page[T]]:
        """The operation fetching the page at ``offset`` (0 is the first)."""
        machine, retry = self.calls.machine, self.calls.settings.retry
        pagination: list[Pagination | None] = [None]

        def decode(envelope: Envelope) -> list[T]:
            pagination[0] = envelope.pagination
            return self.decode_page(envelope)

        def flow(ctx: Any) -> Any:
            items, next_offset = yield from flows._page(
                ctx, machine, self.build, decode, offset, retry
            )
            return Page(items, next_offset, pagination[0])

        return flows.operation(machine, flow, timeout=self.timeout)

    def all(self, *, max_pages: int = 10_000) -> Operation[list[T]]:
        """The operation fetching every page, one after another."""
        return flows.paginate(
            self.calls.machine,
            self.build,
            self.decode_page,
            retry=self.calls.settings.retry,
            max_pages=max_pages,
            timeout=self.timeout,
        )


class Paged(_Declared, Generic[P, T]):
    """A paginated API call written once: ``build(calls, ...)`` makes its :class:`Pager`."""

    build: Callable[Concatenate[SessionCalls, P], Pager[T]]

    def __init__(self, build: Callable[Concatenate[SessionCalls, P], Pager[T]]) -> None:
        super().__init__(build)

    @overload
    def __get__(self, obj: None, owner: type) -> Paged[P, T]: ...
    @overload
    def __get__(self, obj: SyncSession, owner: type) -> Callable[P, PageIterator[T]]: ...
    @overload
    def __get__(self, obj: AsyncSession, owner: type) -> Callable[P, AsyncPageIterator[T]]: ...
    @overload
    def __get__(self, obj: SessionCalls, owner: type) -> Callable[P, Pager[T]]: ...
    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        return self._keep(obj, obj._bind_paged(self))


class PageIterator(Iterator[T]):
    """The items of a paginated list, fetched a page at a time as they are used.

    ``page(offset)`` fetches one page alone.
    """

    def __init__(self, run: Callable[[Operation[Any]], Any], pager: Pager[T]) -> None:
        self._run = run
        self._pager = pager
        self._buffer: Iterator[T] = iter(())
        self._next: int | None = 0

    def page(self, offset: int = 0) -> Page[T]:
        """Fetch the page at ``offset`` now (independent of the iteration)."""
        result: Page[T] = self._run(self._pager.page(offset))
        return result

    def __next__(self) -> T:
        while True:
            for item in self._buffer:
                return item
            if self._next is None:
                raise StopIteration
            page = self.page(self._next)
            self._buffer, self._next = iter(page.items), page.next_offset


class AsyncPageIterator(AsyncIterator[T]):
    """The items of a paginated list, fetched a page at a time as they are used.

    ``await page(offset)`` fetches one page alone.
    """

    def __init__(
        self, run: Callable[[Operation[Any]], Coroutine[Any, Any, Any]], pager: Pager[T]
    ) -> None:
        self._run = run
        self._pager = pager
        self._buffer: Iterator[T] = iter(())
        self._next: int | None = 0

    async def page(self, offset: int = 0) -> Page[T]:
        """Fetch the page at ``offset`` now (independent of the iteration)."""
        result: Page[T] = await self._run(self._pager.page(offset))
        return result

    async def __anext__(self) -> T:
        while True:
            for item in self._buffer:
                return item
            if self._next is None:
                raise StopAsyncIteration
            page = await self.page(self._next)
            self._buffer, self._next = iter(page.items), page.next_offset


# -- helpers for endpoint modules -----------------------------------------------------------


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
    """A page decoder (for a :class:`Pager`) reading ``data.items`` as ``kind``."""

    def decode(envelope: Envelope) -> list[M]:
        return decode_list(kind, envelope.items, what="data.items")

    return decode


def send(
    calls: SessionCalls,
    method: str,
    path: str,
    decode: Callable[[Response], T],
    *,
    params: Mapping[str, QueryValue] | None = None,
    json: Any = None,
    idempotent: bool | None = None,
    timeout: float | None = None,
) -> Operation[T]:
    """The operation of one authenticated call (see :func:`flows.call` for retries)."""
    request = calls.settings.config.request(method, path, params=params, json_body=json)
    return flows.call(
        calls.machine,
        request,
        decode,
        idempotent=idempotent,
        retry=calls.settings.retry,
        timeout=timeout,
    )


def pager(
    calls: SessionCalls,
    path: str,
    decode_page: Callable[[Envelope], list[T]],
    params: Mapping[str, QueryValue],
    *,
    per_page: int | None = None,
    timeout: float | None = None,
) -> Pager[T]:
    """A :class:`Pager` over ``GET path`` with ``params``, adding ``page-offset``."""
    config = calls.settings.config
    fixed = {k: v for k, v in params.items() if v is not None}
    if per_page is not None:
        fixed["per-page"] = per_page

    def build(offset: int) -> Request:
        return config.request("GET", path, params={**fixed, "page-offset": offset})

    return Pager(calls, build, decode_page, timeout=timeout)
