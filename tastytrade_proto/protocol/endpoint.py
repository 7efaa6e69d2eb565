"""How an API call is written once and offered by every kind of session.

An endpoint is a function ``build(calls, *args) -> Operation[T]`` in the
module of its API area (``accounts``, ``orders``, ...), declared on that
area's mixin as ``name = Endpoint(build)``. ``calls`` is the
:class:`CallContext` (settings, the :class:`~.auth.AuthMachine`, entropy). The
descriptor hands each kind of object its own form of the same call:

* on a :class:`CallContext` (``session.calls``, or your own), the
  :class:`~.operation.Operation` itself, for a custom transport to drive;
* on a :class:`SyncHost` (a synchronous transport's ``Session``), a function
  that runs it;
* on an :class:`AsyncHost` (an asynchronous one's), a coroutine function.

A paginated list is declared with :class:`Paged`, whose ``build`` returns a
:class:`Pager`; sessions turn it into a lazy iterator that fetches a page
only when the previous one is used up (:class:`PageIterator`,
:class:`AsyncPageIterator`), each with ``page(offset)`` for one page.
Transports contain no endpoint code at all.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload
from urllib.parse import urlsplit

from ..values import frozen
from . import flows
from .auth import AuthMachine
from .envelope import Envelope, Pagination
from .events import TokenEvent
from .http import QueryValue, Request, Response
from .operation import Operation
from .settings import TransportSettings

__all__ = [
    "AsyncHost",
    "AsyncPageIterator",
    "CallContext",
    "Endpoint",
    "EndpointHost",
    "Page",
    "PageIterator",
    "Paged",
    "Pager",
    "SyncHost",
    "build_call",
    "build_pager",
]

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


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

    def named(self, function: F) -> F:
        """``function`` with this call's name, docstring and signature, for ``help()``."""
        function.__name__ = function.__qualname__ = self.name
        function.__doc__ = self.__doc__
        function.__signature__ = self.signature  # type: ignore[attr-defined]
        return function


class Endpoint(_Declared, Generic[P, T]):
    """An API call written once: ``build(calls, ...)`` makes its operation."""

    build: Callable[Concatenate[CallContext, P], Operation[T]]

    def __init__(self, build: Callable[Concatenate[CallContext, P], Operation[T]]) -> None:
        super().__init__(build)

    @overload
    def __get__(self, obj: None, owner: type) -> Endpoint[P, T]: ...
    @overload
    def __get__(self, obj: SyncHost, owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: AsyncHost, owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, obj: CallContext, owner: type) -> Callable[P, Operation[T]]: ...
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
        calls: CallContext,
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
            items, next_offset = yield from flows.page_flow(
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

    build: Callable[Concatenate[CallContext, P], Pager[T]]

    def __init__(self, build: Callable[Concatenate[CallContext, P], Pager[T]]) -> None:
        super().__init__(build)

    @overload
    def __get__(self, obj: None, owner: type) -> Paged[P, T]: ...
    @overload
    def __get__(self, obj: SyncHost, owner: type) -> Callable[P, PageIterator[T]]: ...
    @overload
    def __get__(self, obj: AsyncHost, owner: type) -> Callable[P, AsyncPageIterator[T]]: ...
    @overload
    def __get__(self, obj: CallContext, owner: type) -> Callable[P, Pager[T]]: ...
    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        return self._keep(obj, obj._bind_paged(self))


# -- what endpoints are read from ------------------------------------------------------------


class EndpointHost(abc.ABC):
    """Anything endpoints are declared on: it says what reading one gives."""

    @abc.abstractmethod
    def _bind_endpoint(self, endpoint: Endpoint[Any, Any]) -> Callable[..., Any]:
        """This host's form of ``endpoint`` (an operation maker, a runner, a coroutine)."""

    @abc.abstractmethod
    def _bind_paged(self, endpoint: Paged[Any, Any]) -> Callable[..., Any]:
        """This host's form of a paginated ``endpoint``."""


class SyncHost(EndpointHost):
    """A host whose endpoints run at once and return their result (a synchronous session)."""


class AsyncHost(EndpointHost):
    """A host whose endpoints are coroutine functions (an asynchronous session)."""


class CallContext(EndpointHost):
    """What every endpoint's ``build`` is given, and the host whose endpoints are operations.

    Holds the transport's :class:`~.settings.TransportSettings`, the
    :class:`~.auth.AuthMachine` (``on_token`` receives each new token the moment it
    arrives), ``entropy`` and the placements still unsettled. On a plain
    ``CallContext`` no endpoint is declared; :class:`tastytrade_proto.sessions.Operations`
    adds every one.
    """

    def __init__(
        self,
        settings: TransportSettings,
        *,
        on_token: Callable[[TokenEvent], None] | None = None,
        machine: AuthMachine | None = None,
        entropy: Callable[[int], bytes] | None = None,
        prompting: bool = False,
    ) -> None:
        self.settings = settings
        #: ``entropy(n)`` gives ``n`` random bytes (``os.urandom``, passed in by the
        #: transport: the core draws no randomness); it names orders that have no
        #: ``external-identifier`` of the caller's.
        self.entropy = entropy
        #: Whether a login may ask for a missing one-time code with an ``Ask`` step
        #: (a session given a ``prompt`` answers them) instead of raising.
        self.prompting = prompting
        #: Order placements whose caller never learned the outcome, by external identifier
        #: (:class:`tastytrade_proto.orders.UnsettledOrder` values).
        self.unsettled_orders: dict[str, Any] = {}
        if machine is None:
            machine = AuthMachine(config=settings.config, on_token=on_token)
        else:  # a loaded session: these settings decide where and how it talks
            machine.config = settings.config
            machine.on_token = on_token or machine.on_token
        proxy_password = urlsplit(settings.proxy).password if settings.proxy else None
        if proxy_password:  # libraries put the proxy URL in their error messages
            machine.extra_secrets = (*machine.extra_secrets, proxy_password)
        self.machine = machine

    def _bind_endpoint(self, endpoint: Endpoint[Any, Any]) -> Callable[..., Operation[Any]]:
        build = endpoint.build

        def make(*args: Any, **kwargs: Any) -> Operation[Any]:
            return build(self, *args, **kwargs)

        return endpoint.named(make)

    def _bind_paged(self, endpoint: Paged[Any, Any]) -> Callable[..., Pager[Any]]:
        build = endpoint.build

        def make(*args: Any, **kwargs: Any) -> Pager[Any]:
            return build(self, *args, **kwargs)

        return endpoint.named(make)


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


def build_call(
    calls: CallContext,
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


def build_pager(
    calls: CallContext,
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
