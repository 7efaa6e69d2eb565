"""What every transport's ``Session`` offers, written once: its settings and its calls.

A transport's ``Session`` subclasses :class:`SyncSession` (``tastytrade_requests``)
or :class:`AsyncSession` (``tastytrade_aiohttp``, ``tastytrade_trio``), which hold
every call once and run each through the transport's ``run`` (usually
:func:`~tastytrade_proto.protocol.drive` or
:func:`~tastytrade_proto.protocol.drive_async`
with its own ``send``). The transport adds only ``run``, ``send`` and ``close``.
Nothing here sends anything.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import math
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from .api import API
from .errors import LocalProtocolError, TastytradeError
from .protocol import flows
from .protocol.auth import SessionMachine
from .protocol.endpoint import AsyncPageIterator, Endpoint, Paged, PageIterator, Pager
from .protocol.envelope import decode_envelope
from .protocol.events import TokenEvent
from .protocol.http import (
    CERTIFICATION,
    DEFAULT_USER_AGENT,
    PRODUCTION,
    ClientConfig,
    Environment,
    QueryValue,
    Request,
    Response,
)
from .protocol.operation import Ask, Operation
from .protocol.retry import DEFAULT_RETRY, RetryPolicy
from .values import field, frozen, replace

if TYPE_CHECKING:
    from .orders import UnsettledOrder

__all__ = ["DEFAULT_TIMEOUT", "AsyncSession", "SessionCalls", "SyncSession", "TransportSettings"]

T = TypeVar("T")
R = TypeVar("R")

#: Seconds a request may take, as in the reference SDK.
DEFAULT_TIMEOUT = 30.0

Events = flows.Events


@frozen
class TransportSettings:
    """The settings every transport accepts, checked once, here.

    ``proxy`` is an ``http://host:port`` (or ``https://``) proxy URL;
    ``verify=False`` turns TLS certificate checks off and must be asked for
    explicitly; ``ca_bundle`` is a PEM file of the authorities to trust.
    """

    environment: Environment = PRODUCTION
    timeout: float = DEFAULT_TIMEOUT
    proxy: str | None = field(default=None, repr=False)  # may carry user:password
    verify: bool = True
    ca_bundle: str | None = None
    user_agent: str = DEFAULT_USER_AGENT
    accept_version: str | None = None
    retry: RetryPolicy = field(default=DEFAULT_RETRY)
    __slots__ = ("_config",)  # not a field: the ClientConfig, made once on first use

    def __post_init__(self) -> None:
        if isinstance(self.timeout, bool) or not (
            isinstance(self.timeout, (int, float))
            and math.isfinite(self.timeout)
            and self.timeout > 0
        ):
            raise LocalProtocolError(
                f"timeout must be a positive number of seconds, got {self.timeout!r}"
            )
        if self.proxy is not None:
            try:
                parts = urlsplit(self.proxy)
                ok = (
                    parts.scheme in ("http", "https")
                    and bool(parts.hostname)
                    and (parts.port is None or parts.port > 0)
                )
            except ValueError:
                ok = False
            if not ok:
                raise LocalProtocolError("proxy must be an http://[user:password@]host:port URL")
        if self.ca_bundle is not None and not self.verify:
            raise LocalProtocolError("a CA bundle makes no sense with verify=False")
        ClientConfig(user_agent=self.user_agent)  # refuses a user agent the API would

    @classmethod
    def resolve(
        cls,
        *,
        environment: Environment | None = None,
        base_url: str | None = None,
        certification: bool = False,
        **settings: Any,
    ) -> TransportSettings:
        """Settings from the keyword arguments a transport's ``Session`` takes.

        ``base_url`` names any deployment (a proxy, the fake server);
        ``certification=True`` picks the sandbox; the default is production.
        """
        chosen = [environment is not None, base_url is not None, certification]
        if sum(chosen) > 1:
            raise LocalProtocolError("give only one of environment, base_url and certification")
        if base_url is not None:
            environment = Environment.custom(base_url)
        elif certification:
            environment = CERTIFICATION
        return cls(environment=environment or PRODUCTION, **settings)

    @property
    def config(self) -> ClientConfig:
        """The :class:`ClientConfig` requests are built with."""
        cached: ClientConfig | None = getattr(self, "_config", None)
        if cached is not None:
            return cached
        config = ClientConfig(
            environment=self.environment,
            user_agent=self.user_agent,
            accept_version=self.accept_version,
        )
        object.__setattr__(self, "_config", config)
        return config


class SessionCalls(API):
    """Every call of a transport's ``Session``, as an operation to drive.

    Holds the :class:`SessionMachine`; ``on_token`` receives each new token
    the moment it arrives. Every endpoint of :class:`~tastytrade_proto.api.API`
    is here too, returning its :class:`Operation` (a paginated one, its :class:`Pager`).
    """

    def _bind_endpoint(self, endpoint: Endpoint[Any, Any]) -> Callable[..., Operation[Any]]:
        build = endpoint.build

        def make(*args: Any, **kwargs: Any) -> Operation[Any]:
            return build(self, *args, **kwargs)

        return _named(make, endpoint)

    def _bind_paged(self, endpoint: Paged[Any, Any]) -> Callable[..., Pager[Any]]:
        build = endpoint.build

        def make(*args: Any, **kwargs: Any) -> Pager[Any]:
            return build(self, *args, **kwargs)

        return _named(make, endpoint)

    def __init__(
        self,
        settings: TransportSettings,
        *,
        on_token: Callable[[TokenEvent], None] | None = None,
        machine: SessionMachine | None = None,
        entropy: Callable[[int], bytes] | None = None,
    ) -> None:
        self.settings = settings
        #: ``entropy(n)`` gives ``n`` random bytes (``os.urandom``, passed in by the
        #: transport: the core draws no randomness); it names orders that have no
        #: ``external-identifier`` of the caller's.
        self.entropy = entropy
        #: Order placements whose caller never learned the outcome, by external identifier
        #: (see :class:`~tastytrade_proto.orders.UnsettledOrder`).
        self.unsettled_orders: dict[str, UnsettledOrder] = {}
        if machine is None:
            machine = SessionMachine(config=settings.config, on_token=on_token)
        else:  # a loaded session: these settings decide where and how it talks
            machine.config = settings.config
            machine.on_token = on_token or machine.on_token
        proxy_password = urlsplit(settings.proxy).password if settings.proxy else None
        if proxy_password:  # libraries put the proxy URL in their error messages
            machine.extra_secrets = (*machine.extra_secrets, proxy_password)
        self.machine = machine

    def login_with_password(
        self,
        login: str,
        password: str,
        *,
        remember_me: bool = True,
        otp: str | None = None,
        prompt: bool = False,
        timeout: float | None = None,
    ) -> Operation[Events]:
        """:func:`flows.login_with_password`."""
        return flows.login_with_password(
            self.machine,
            login,
            password,
            remember_me=remember_me,
            otp=otp,
            prompt=prompt,
            timeout=timeout,
        )

    def login_with_remember_token(
        self,
        login: str,
        remember_token: str,
        *,
        remember_me: bool = True,
        prompt: bool = False,
        timeout: float | None = None,
    ) -> Operation[Events]:
        """:func:`flows.login_with_remember_token`."""
        return flows.login_with_remember_token(
            self.machine,
            login,
            remember_token,
            remember_me=remember_me,
            prompt=prompt,
            timeout=timeout,
        )

    def login_with_oauth(
        self,
        client_secret: str,
        refresh_token: str,
        *,
        client_id: str | None = None,
        timeout: float | None = None,
    ) -> Operation[Events]:
        """:func:`flows.login_with_oauth`."""
        return flows.login_with_oauth(
            self.machine, client_secret, refresh_token, client_id=client_id, timeout=timeout
        )

    def submit_second_factor(self, otp: str, *, timeout: float | None = None) -> Operation[Events]:
        """:func:`flows.submit_second_factor`."""
        return flows.submit_second_factor(self.machine, otp, timeout=timeout)

    def answer_security_question(
        self, answer: str, *, timeout: float | None = None
    ) -> Operation[Events]:
        """:func:`flows.answer_security_question`."""
        return flows.answer_security_question(self.machine, answer, timeout=timeout)

    def refresh(self, *, timeout: float | None = None) -> Operation[Events]:
        """:func:`flows.refresh`."""
        return flows.refresh(self.machine, timeout=timeout)

    def validate(self, *, timeout: float | None = None) -> Operation[bool]:
        """:func:`flows.validate`."""
        return flows.validate(self.machine, retry=self.settings.retry, timeout=timeout)

    def logout(self, *, timeout: float | None = None) -> Operation[None]:
        """:func:`flows.logout` (safe in any state)."""
        return flows.logout(self.machine, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        decode: Callable[[Response], Any] = decode_envelope,
        timeout: float | None = None,
    ) -> Operation[Any]:
        """Any authenticated API call; the decoded :class:`Envelope` by default."""
        request = self.settings.config.request(method, path, params=params, json_body=json)
        return flows.call(
            self.machine,
            request,
            decode,
            idempotent=idempotent,
            retry=self.settings.retry,
            timeout=timeout,
        )


F = TypeVar("F", bound=Callable[..., Any])


def _named(function: F, endpoint: Endpoint[Any, Any] | Paged[Any, Any]) -> F:
    """Give a bound endpoint its name, docstring and signature (less ``calls``), for help()."""
    function.__name__ = function.__qualname__ = endpoint.name
    function.__doc__ = endpoint.__doc__
    function.__signature__ = endpoint.signature  # type: ignore[attr-defined]
    return function


class _SessionBase:
    """What a transport's ``Session`` shares, sync or async: settings, machine, dump/load."""

    def __init__(
        self,
        *,
        environment: Environment | None = None,
        base_url: str | None = None,
        certification: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        proxy: str | None = None,
        verify: bool = True,
        ca_bundle: str | None = None,
        token_store: Callable[[TokenEvent], None] | None = None,
        prompt: Callable[[Ask], Any] | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        accept_version: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        machine: SessionMachine | None = None,
        jitter: Callable[[], float] | None = None,
        entropy: Callable[[int], bytes] | None = None,
    ) -> None:
        if retry.jitter is None and jitter is not None:
            retry = replace(retry, jitter=jitter)
        settings = TransportSettings.resolve(
            environment=environment,
            base_url=base_url,
            certification=certification,
            timeout=timeout,
            proxy=proxy,
            verify=verify,
            ca_bundle=ca_bundle,
            user_agent=user_agent,
            accept_version=accept_version,
            retry=retry,
        )
        self.calls = SessionCalls(settings, on_token=token_store, machine=machine, entropy=entropy)
        self.settings = settings
        self._prompt = prompt
        #: Held while the session machine is read or changed outside ``run`` (building a
        #: login's first request, dumping): a synchronous transport shared by threads sets
        #: it to the lock its ``run`` holds around the core.
        self.core_lock: AbstractContextManager[Any] = contextlib.nullcontext()

    @property
    def machine(self) -> SessionMachine:
        """The core's session state machine (state, user, expiry, tokens)."""
        return self.calls.machine

    @staticmethod
    def timed(operation: Operation[Any], send: Callable[..., R]) -> Callable[[Request], R]:
        """A transport's ``send(request, timeout=None)`` bound to ``operation``'s own
        timeout, when it has one (``None`` lets the transport use the session's)."""
        timeout = operation.timeout
        return send if timeout is None else functools.partial(send, timeout=timeout)

    @property
    def unsettled_orders(self) -> tuple[UnsettledOrder, ...]:
        """Placements whose outcome never reached their caller (the call was cancelled
        while the order was out): look each up with ``find_order`` or
        ``find_complex_order`` before placing it again."""
        with self.core_lock:
            return tuple(self.calls.unsettled_orders.values())

    def dump(self, *, include_client_secret: bool = False) -> str:
        """The session as JSON, to resume it elsewhere (the client secret only if asked)."""
        with self.core_lock:
            return self.machine.dump(include_client_secret=include_client_secret)

    def discard_unsettled(self, external_identifier: str) -> None:
        """Stop listing a placement in :attr:`unsettled_orders` (you settled it yourself)."""
        with self.core_lock:
            self.calls.unsettled_orders.pop(external_identifier, None)

    @classmethod
    def load(cls: type[S], text: str, *, client_secret: str | None = None, **settings: Any) -> S:
        """Resume a dumped session; ``settings`` are as for the constructor.

        Without ``environment``, ``base_url`` or ``certification`` it talks to
        the environment the dump names.
        """
        machine = SessionMachine.load(text, client_secret=client_secret)
        if not {"environment", "base_url", "certification"} & settings.keys():
            settings["environment"] = machine.config.environment
        return cls(machine=machine, **settings)


S = TypeVar("S", bound=_SessionBase)


class SyncSession(_SessionBase, API, abc.ABC):
    """Every call of a synchronous transport's ``Session``, written once.

    A transport implements :meth:`run` (usually :func:`~tastytrade_proto.drive`
    with its ``send``) and :meth:`close`. Used as a context manager, the
    session logs out on exit.
    """

    @abc.abstractmethod
    def run(self, operation: Operation[T]) -> T:
        """Drive any core operation to its end over this session's transport."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the transport's resources (a caller-supplied client is left open)."""

    def _start(self, make: Callable[[], Operation[T]]) -> T:
        """Run the operation ``make()`` builds; a login builds its first request at once, so
        the building is done under :attr:`core_lock` too."""
        with self.core_lock:
            operation = make()
        return self.run(operation)

    def _bind_endpoint(self, endpoint: Endpoint[Any, Any]) -> Callable[..., Any]:
        build, calls, run = endpoint.build, self.calls, self.run

        def call(*args: Any, **kwargs: Any) -> Any:
            return run(build(calls, *args, **kwargs))

        return _named(call, endpoint)

    def _bind_paged(self, endpoint: Paged[Any, Any]) -> Callable[..., PageIterator[Any]]:
        build, calls, run = endpoint.build, self.calls, self.run

        def iterate(*args: Any, **kwargs: Any) -> PageIterator[Any]:
            return PageIterator(run, build(calls, *args, **kwargs))

        return _named(iterate, endpoint)

    def login_with_password(
        self,
        login: str,
        password: str,
        *,
        remember_me: bool = True,
        otp: str | None = None,
        timeout: float | None = None,
    ) -> Events:
        """Log in with a password (and a code: up front, through ``prompt``, or afterwards)."""
        return self._start(
            lambda: self.calls.login_with_password(
                login,
                password,
                remember_me=remember_me,
                otp=otp,
                prompt=self._prompt is not None,
                timeout=timeout,
            )
        )

    def login_with_remember_token(
        self,
        login: str,
        remember_token: str,
        *,
        remember_me: bool = True,
        timeout: float | None = None,
    ) -> Events:
        """Log in with a single-use remember token; the new one goes to ``token_store``."""
        return self._start(
            lambda: self.calls.login_with_remember_token(
                login,
                remember_token,
                remember_me=remember_me,
                prompt=self._prompt is not None,
                timeout=timeout,
            )
        )

    def login_with_oauth(
        self,
        client_secret: str,
        refresh_token: str,
        *,
        client_id: str | None = None,
        timeout: float | None = None,
    ) -> Events:
        """Start an OAuth session (the only scheme the live API accepts today)."""
        return self._start(
            lambda: self.calls.login_with_oauth(
                client_secret, refresh_token, client_id=client_id, timeout=timeout
            )
        )

    def submit_second_factor(self, otp: str, *, timeout: float | None = None) -> Events:
        """Send the one-time code after ``SecondFactorRequired``."""
        return self._start(lambda: self.calls.submit_second_factor(otp, timeout=timeout))

    def answer_security_question(self, answer: str, *, timeout: float | None = None) -> Events:
        """Answer the device challenge's security question."""
        return self._start(lambda: self.calls.answer_security_question(answer, timeout=timeout))

    def refresh(self, *, timeout: float | None = None) -> Events:
        """Mint a new OAuth access token now (it also happens on demand)."""
        return self.run(self.calls.refresh(timeout=timeout))

    def validate(self, *, timeout: float | None = None) -> bool:
        """Whether the server still accepts the session (``False`` after a 401, or when it
        expired with nothing to renew it)."""
        return self.run(self.calls.validate(timeout=timeout))

    def logout(self, *, timeout: float | None = None) -> None:
        """End the session (safe in any state)."""
        self.run(self.calls.logout(timeout=timeout))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Any authenticated API call; returns the decoded envelope."""
        return self.run(
            self.calls.request(
                method, path, params=params, json=json, idempotent=idempotent, timeout=timeout
            )
        )

    def __enter__(self: S) -> S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.logout()
        except TastytradeError:
            if exc is None:
                raise  # a failed logout is news, unless it would hide the body's own error
        finally:
            self.close()


class AsyncSession(_SessionBase, API, abc.ABC):
    """Every call of an asynchronous transport's ``Session``, written once.

    The same calls as :class:`SyncSession`, awaited. A transport implements
    :meth:`run` (usually :func:`~tastytrade_proto.drive_async` with its
    ``send`` and its event loop's ``sleep``) and :meth:`close`.
    """

    @abc.abstractmethod
    async def run(self, operation: Operation[T]) -> T:
        """Drive any core operation to its end over this session's transport."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the transport's resources (a caller-supplied client is left open)."""

    def _bind_endpoint(self, endpoint: Endpoint[Any, Any]) -> Callable[..., Any]:
        build, calls, run = endpoint.build, self.calls, self.run

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await run(build(calls, *args, **kwargs))

        return _named(call, endpoint)

    def _bind_paged(self, endpoint: Paged[Any, Any]) -> Callable[..., AsyncPageIterator[Any]]:
        build, calls, run = endpoint.build, self.calls, self.run

        def iterate(*args: Any, **kwargs: Any) -> AsyncPageIterator[Any]:
            return AsyncPageIterator(run, build(calls, *args, **kwargs))

        return _named(iterate, endpoint)

    async def login_with_password(
        self,
        login: str,
        password: str,
        *,
        remember_me: bool = True,
        otp: str | None = None,
        timeout: float | None = None,
    ) -> Events:
        """Log in with a password (and a code: up front, through ``prompt``, or afterwards)."""
        return await self.run(
            self.calls.login_with_password(
                login,
                password,
                remember_me=remember_me,
                otp=otp,
                prompt=self._prompt is not None,
                timeout=timeout,
            )
        )

    async def login_with_remember_token(
        self,
        login: str,
        remember_token: str,
        *,
        remember_me: bool = True,
        timeout: float | None = None,
    ) -> Events:
        """Log in with a single-use remember token; the new one goes to ``token_store``."""
        return await self.run(
            self.calls.login_with_remember_token(
                login,
                remember_token,
                remember_me=remember_me,
                prompt=self._prompt is not None,
                timeout=timeout,
            )
        )

    async def login_with_oauth(
        self,
        client_secret: str,
        refresh_token: str,
        *,
        client_id: str | None = None,
        timeout: float | None = None,
    ) -> Events:
        """Start an OAuth session (the only scheme the live API accepts today)."""
        return await self.run(
            self.calls.login_with_oauth(
                client_secret, refresh_token, client_id=client_id, timeout=timeout
            )
        )

    async def submit_second_factor(self, otp: str, *, timeout: float | None = None) -> Events:
        """Send the one-time code after ``SecondFactorRequired``."""
        return await self.run(self.calls.submit_second_factor(otp, timeout=timeout))

    async def answer_security_question(
        self, answer: str, *, timeout: float | None = None
    ) -> Events:
        """Answer the device challenge's security question."""
        return await self.run(self.calls.answer_security_question(answer, timeout=timeout))

    async def refresh(self, *, timeout: float | None = None) -> Events:
        """Mint a new OAuth access token now (it also happens on demand)."""
        return await self.run(self.calls.refresh(timeout=timeout))

    async def validate(self, *, timeout: float | None = None) -> bool:
        """Whether the server still accepts the session (``False`` after a 401, or when it
        expired with nothing to renew it)."""
        return await self.run(self.calls.validate(timeout=timeout))

    async def logout(self, *, timeout: float | None = None) -> None:
        """End the session (safe in any state)."""
        await self.run(self.calls.logout(timeout=timeout))

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Any authenticated API call; returns the decoded envelope."""
        return await self.run(
            self.calls.request(
                method, path, params=params, json=json, idempotent=idempotent, timeout=timeout
            )
        )

    async def __aenter__(self: S) -> S:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.logout()
        except TastytradeError:
            if exc is None:
                raise  # a failed logout is news, unless it would hide the body's own error
        finally:
            await self.close()
