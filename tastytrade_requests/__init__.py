"""tastytrade over ``requests``: a synchronous transport for tastytrade-proto.

It moves bytes and waits; every flow, retry and error mapping lives in
:mod:`tastytrade_proto`. See ``docs/architecture.md`` for the contract.
"""

from __future__ import annotations

import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter

from tastytrade_proto import (
    DEFAULT_RETRY,
    DEFAULT_USER_AGENT,
    Ask,
    Environment,
    Event,
    Operation,
    QueryValue,
    Request,
    Response,
    RetryPolicy,
    SessionMachine,
    TastytradeError,
    TokenEvent,
    TransportError,
    TransportTimeout,
    drive,
)
from tastytrade_proto.client import DEFAULT_TIMEOUT, SessionCalls, TransportSettings

__all__ = ["Session"]

T = TypeVar("T")


class _ContextAdapter(HTTPAdapter):
    """Uses the caller's ``ssl.SSLContext`` for HTTPS."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context  # the tunnelled connection verifies the same way
        return super().proxy_manager_for(proxy, **kwargs)


class Session:
    """A tastytrade session over a ``requests.Session`` (created, or yours via ``client``).

    Where: ``environment``, ``base_url`` (a proxy, the fake server) or
    ``certification=True``; production by default. ``timeout`` in seconds;
    ``proxy`` an ``http://host:port`` URL; TLS is verified unless
    ``verify=False`` is given, against ``ca_bundle`` (a PEM path) or
    ``ssl_context`` when given. ``token_store`` receives each new token the
    moment it arrives; ``prompt`` answers a second-factor :class:`Ask`
    (``input`` will do), making logins ask instead of raising
    ``SecondFactorRequired``. As a context manager it logs out on exit.
    """

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
        ssl_context: ssl.SSLContext | None = None,
        client: requests.Session | None = None,
        token_store: Callable[[TokenEvent], None] | None = None,
        prompt: Callable[[Ask], str] | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        accept_version: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        machine: SessionMachine | None = None,
    ) -> None:
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
            retry=retry if retry.jitter else replace(retry, jitter=random.random),
        )
        self.calls = SessionCalls(settings, on_token=token_store, machine=machine)
        self._owns_client = client is None
        self._http = client if client is not None else requests.Session()
        self._verify: bool | str = ca_bundle or verify
        self._proxies = {"http": proxy, "https": proxy} if proxy else None
        if ssl_context is not None:
            self._http.mount("https://", _ContextAdapter(ssl_context))
        self._prompt = prompt

    @property
    def machine(self) -> SessionMachine:
        """The core's session state machine (state, user, expiry, tokens)."""
        return self.calls.machine

    def run(self, operation: Operation[T]) -> T:
        """Drive any core operation to its end over this session's connection."""
        return drive(operation, self._send, clock=time.time, sleep=time.sleep, ask=self._prompt)

    def _send(self, request: Request) -> Response:
        try:
            reply = self._http.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                timeout=self.calls.settings.timeout,
                verify=self._verify,
                proxies=self._proxies,
                allow_redirects=False,
            )
        except requests.ConnectTimeout as exc:
            raise TransportTimeout(f"connect timed out: {exc}", request_sent=False) from None
        except requests.Timeout as exc:
            raise TransportTimeout(f"timed out: {exc}") from None
        except requests.RequestException as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
        return Response(reply.status_code, tuple(reply.headers.items()), reply.content)

    # -- the session's calls (each one core operation) --------------------------------------

    def login_with_password(
        self, login: str, password: str, *, remember_me: bool = True, otp: str | None = None
    ) -> tuple[Event, ...]:
        """Log in with a password (and a code, up front or through ``prompt``)."""
        prompt = self._prompt is not None
        return self.run(
            self.calls.login_with_password(
                login, password, remember_me=remember_me, otp=otp, prompt=prompt
            )
        )

    def login_with_remember_token(
        self, login: str, remember_token: str, *, remember_me: bool = True
    ) -> tuple[Event, ...]:
        """Log in with a single-use remember token; the new one goes to ``token_store``."""
        prompt = self._prompt is not None
        return self.run(
            self.calls.login_with_remember_token(
                login, remember_token, remember_me=remember_me, prompt=prompt
            )
        )

    def login_with_oauth(
        self, client_secret: str, refresh_token: str, *, client_id: str | None = None
    ) -> tuple[Event, ...]:
        """Start an OAuth session (the only scheme the live API accepts today)."""
        return self.run(
            self.calls.login_with_oauth(client_secret, refresh_token, client_id=client_id)
        )

    def submit_second_factor(self, otp: str) -> tuple[Event, ...]:
        """Send the one-time code after ``SecondFactorRequired``."""
        return self.run(self.calls.submit_second_factor(otp))

    def answer_security_question(self, answer: str) -> tuple[Event, ...]:
        """Answer the device challenge's security question."""
        return self.run(self.calls.answer_security_question(answer))

    def refresh(self) -> tuple[Event, ...]:
        """Mint a new OAuth access token now (it also happens on demand)."""
        return self.run(self.calls.refresh())

    def validate(self) -> bool:
        """Whether the server still accepts the session."""
        return self.run(self.calls.validate())

    def logout(self) -> None:
        """End the session (safe in any state)."""
        self.run(self.calls.logout())

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Any authenticated API call; returns the decoded envelope."""
        return self.run(
            self.calls.request(method, path, params=params, json=json, idempotent=idempotent)
        )

    def dump(self, *, include_client_secret: bool = False) -> str:
        """The session as JSON, to resume it elsewhere (the client secret only if asked)."""
        return self.machine.dump(include_client_secret=include_client_secret)

    @classmethod
    def load(cls, text: str, *, client_secret: str | None = None, **settings: Any) -> Session:
        """Resume a dumped session; ``settings`` are as for the constructor."""
        machine = SessionMachine.load(text, client_secret=client_secret)
        if not {"environment", "base_url", "certification"} & settings.keys():
            settings["environment"] = machine.config.environment
        return cls(machine=machine, **settings)

    def close(self) -> None:
        """Close the HTTP client if this session created it."""
        if self._owns_client:
            self._http.close()

    def __enter__(self) -> Session:
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
                raise  # a failed logout is news, unless it would hide the body's error
        finally:
            self.close()
