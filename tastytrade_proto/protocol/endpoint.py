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
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from typing import Any, ClassVar, Concatenate, Generic, Literal, ParamSpec, TypeVar, overload
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


# What reading an endpoint gives, by the kind of host: "sync" (it runs and returns its result),
# "async" (a coroutine function) or "operation" (the Operation, or the Pager, to drive).
_Form = Literal["sync", "async", "operation"]


def _form_of(cls: type) -> _Form:
    """What ``cls``'s endpoints give: a host's own form; any other class (a mixin) the operation."""
    form: _Form = getattr(cls, "_endpoint_form", "operation")
    return form


class _Declared:
    """What both kinds of declaration keep: the build function, its docstring, the name.

    Reading one from a session binds it to that session once: the bound function is kept
    in the session's ``__dict__``, which later reads find first (this is a non-data
    descriptor), so a call costs no binding. Reading one from a class gives a plain
    function taking the session first (``Session.positions(session, ...)``), made once
    per class, whose signature and docstring are the call's as that class offers it.
    """

    _paged = False

    def __init__(self, build: Callable[..., Any]) -> None:
        self.build = build
        self.__doc__ = build.__doc__
        self.name = build.__name__.lstrip("_")
        self._signatures: dict[str, Any] = {}
        self._methods: weakref.WeakKeyDictionary[type, Callable[..., Any]]
        self._methods = weakref.WeakKeyDictionary()

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @property
    def signature(self) -> Any:
        """The call's ``inspect.Signature`` as an operation: ``build``'s, less ``calls``."""
        return self.signature_for("operation")

    def signature_for(self, form: _Form) -> Any:
        """The bound call's ``inspect.Signature`` on a host of ``form``, less ``calls``.

        ``form`` is ``"sync"`` (its result is what the operation ends in, or a
        :class:`PageIterator`), ``"async"`` (a coroutine function's: the same result, or
        an :class:`AsyncPageIterator`) or ``"operation"`` (``build``'s own: the
        :class:`~.operation.Operation`, or the :class:`Pager`).
        """
        signature = self._signatures.get(form)
        if signature is None:
            import inspect  # only for help() and introspection: 12 ms to import

            full = inspect.signature(self.build)
            parameters = list(full.parameters.values())[1:]
            returns = _returned(full.return_annotation, form, paged=self._paged)
            signature = full.replace(parameters=parameters, return_annotation=returns)
            self._signatures[form] = signature
        return signature

    def _keep(self, obj: Any, bound: Any) -> Any:
        obj.__dict__[self.name] = bound
        return bound

    def _bind(self, obj: Any) -> Callable[..., Any]:
        """``obj``'s form of this call, fresh (what ``__get__`` keeps)."""
        raise NotImplementedError  # pragma: no cover - each kind of declaration has its own

    def named(self, function: F, form: _Form = "operation") -> F:
        """``function`` with this call's name, docstring and signature (on a host of
        ``form``), for ``help()``; ``function.endpoint`` is this declaration."""
        function.__name__ = function.__qualname__ = self.name
        function.__doc__ = self.__doc__
        function.__signature__ = self.signature_for(form)  # type: ignore[attr-defined]
        function.endpoint = self  # type: ignore[attr-defined]
        return function

    def _method(self, owner: type) -> Callable[..., Any]:
        """The call as a plain function on ``owner``, made once per class."""
        try:
            return self._methods[owner]
        except KeyError:
            pass
        method = self._make_method(owner)
        self._methods[owner] = method
        return method

    def _make_method(self, owner: type) -> Callable[..., Any]:
        declared, name, form = self, self.name, _form_of(owner)

        def bound(obj: Any) -> Callable[..., Any]:
            # The binding an earlier read kept, else a new one: kept too when reading the
            # name from ``obj`` finds this declaration (an override elsewhere stays in force).
            kept: Any = getattr(obj, "__dict__", {}).get(name)
            if getattr(kept, "endpoint", None) is declared:
                found: Callable[..., Any] = kept
                return found
            fresh = declared._bind(obj)
            for klass in type(obj).__mro__:
                if name in vars(klass):
                    if vars(klass)[name] is declared and hasattr(obj, "__dict__"):
                        declared._keep(obj, fresh)
                    break
            return fresh

        method: Any
        if form == "async" and not self._paged:

            async def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
                return await bound(self)(*args, **kwargs)

        else:

            def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
                return bound(self)(*args, **kwargs)

        import inspect

        signature = self.signature_for(form)
        first = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        signature = signature.replace(parameters=[first, *signature.parameters.values()])
        annotations = {
            p.name: p.annotation for p in signature.parameters.values() if p.annotation != p.empty
        }
        if signature.return_annotation is not signature.empty:
            annotations["return"] = signature.return_annotation
        method.__name__ = name
        method.__qualname__ = f"{owner.__qualname__}.{name}"
        method.__module__ = owner.__module__
        method.__doc__ = self.__doc__
        method.__signature__ = signature
        method.__annotations__ = annotations
        method.__wrapped__ = self.build
        method.endpoint = self
        result: Callable[..., Any] = method
        return result


def _returned(annotation: Any, form: _Form, *, paged: bool) -> Any:
    """What a host of ``form`` returns, from ``build``'s ``Operation[X]`` or ``Pager[X]``.

    A string (postponed annotations) stays a string: ``"Operation[list[Position]]"``
    becomes ``"list[Position]"`` on either kind of session (a coroutine function's
    annotation is what awaiting it gives), ``"Pager[Order]"`` becomes
    ``"PageIterator[Order]"`` or ``"AsyncPageIterator[Order]"``. An annotation of another
    shape is dropped rather than shown wrong (a paged call still says its iterator).
    """
    if form == "operation":
        return annotation
    iterator: Any = PageIterator if form == "sync" else AsyncPageIterator
    if isinstance(annotation, str):
        head, bracket, rest = annotation.strip().partition("[")
        if bracket and rest.endswith("]") and head.rsplit(".", 1)[-1] in ("Operation", "Pager"):
            inner = rest[:-1].strip()
            if paged:
                return f"{iterator.__name__}[{inner}]"
            return inner
    else:
        import typing

        args = typing.get_args(annotation)
        if typing.get_origin(annotation) in (Operation, Pager) and len(args) == 1:
            inner = args[0]
            return iterator[inner] if paged else inner
    if paged:
        return iterator
    import inspect

    return inspect.Signature.empty


class Endpoint(_Declared, Generic[P, T]):
    """An API call written once: ``build(calls, ...)`` makes its operation."""

    build: Callable[Concatenate[CallContext, P], Operation[T]]

    def __init__(self, build: Callable[Concatenate[CallContext, P], Operation[T]]) -> None:
        super().__init__(build)

    def _bind(self, obj: Any) -> Callable[..., Any]:
        bound: Callable[..., Any] = obj._bind_endpoint(self)
        return bound

    @overload
    def __get__(
        self, obj: None, owner: type[SyncHost]
    ) -> Callable[Concatenate[SyncHost, P], T]: ...
    @overload
    def __get__(
        self, obj: None, owner: type[AsyncHost]
    ) -> Callable[Concatenate[AsyncHost, P], Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(
        self, obj: None, owner: type[CallContext]
    ) -> Callable[Concatenate[CallContext, P], Operation[T]]: ...
    @overload
    def __get__(self, obj: None, owner: type) -> Callable[Concatenate[Any, P], Any]: ...
    @overload
    def __get__(self, obj: SyncHost, owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: AsyncHost, owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, obj: CallContext, owner: type) -> Callable[P, Operation[T]]: ...
    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self._method(owner)
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
    _paged = True

    def __init__(self, build: Callable[Concatenate[CallContext, P], Pager[T]]) -> None:
        super().__init__(build)

    def _bind(self, obj: Any) -> Callable[..., Any]:
        bound: Callable[..., Any] = obj._bind_paged(self)
        return bound

    @overload
    def __get__(
        self, obj: None, owner: type[SyncHost]
    ) -> Callable[Concatenate[SyncHost, P], PageIterator[T]]: ...
    @overload
    def __get__(
        self, obj: None, owner: type[AsyncHost]
    ) -> Callable[Concatenate[AsyncHost, P], AsyncPageIterator[T]]: ...
    @overload
    def __get__(
        self, obj: None, owner: type[CallContext]
    ) -> Callable[Concatenate[CallContext, P], Pager[T]]: ...
    @overload
    def __get__(self, obj: None, owner: type) -> Callable[Concatenate[Any, P], Any]: ...
    @overload
    def __get__(self, obj: SyncHost, owner: type) -> Callable[P, PageIterator[T]]: ...
    @overload
    def __get__(self, obj: AsyncHost, owner: type) -> Callable[P, AsyncPageIterator[T]]: ...
    @overload
    def __get__(self, obj: CallContext, owner: type) -> Callable[P, Pager[T]]: ...
    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self._method(owner)
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

    _endpoint_form: ClassVar[_Form] = "sync"


class AsyncHost(EndpointHost):
    """A host whose endpoints are coroutine functions (an asynchronous session)."""

    _endpoint_form: ClassVar[_Form] = "async"


class CallContext(EndpointHost):
    """What every endpoint's ``build`` is given, and the host whose endpoints are operations.

    Holds the transport's :class:`~.settings.TransportSettings`, the
    :class:`~.auth.AuthMachine` (``on_token`` receives each new token the moment it
    arrives), ``entropy`` and the placements still unsettled. On a plain
    ``CallContext`` no endpoint is declared; :class:`tastytrade_proto.sessions.Operations`
    adds every one.
    """

    _endpoint_form: ClassVar[_Form] = "operation"

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
