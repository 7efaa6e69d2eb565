"""What every transport's ``Session`` offers, written once: its settings and its calls.

A transport (``tastytrade_requests``, ``tastytrade_aiohttp``, ``tastytrade_trio``)
holds a :class:`SessionCalls` and runs each :class:`~tastytrade_proto.operation.Operation`
it returns with :func:`~tastytrade_proto.operation.drive` or
:func:`~tastytrade_proto.operation.drive_async`. Nothing here sends anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import flows
from .envelope import decode_envelope
from .errors import LocalProtocolError
from .events import TokenEvent
from .http import (
    CERTIFICATION,
    DEFAULT_USER_AGENT,
    PRODUCTION,
    ClientConfig,
    Environment,
    QueryValue,
    Response,
)
from .operation import Operation
from .retry import DEFAULT_RETRY, RetryPolicy
from .session import SessionMachine

__all__ = ["DEFAULT_TIMEOUT", "SessionCalls", "TransportSettings"]

#: Seconds a request may take, as in the reference SDK.
DEFAULT_TIMEOUT = 30.0

Events = flows.Events


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """The settings every transport accepts, checked once, here.

    ``proxy`` is an ``http://host:port`` (or ``https://``) proxy URL;
    ``verify=False`` turns TLS certificate checks off and must be asked for
    explicitly; ``ca_bundle`` is a PEM file of the authorities to trust.
    """

    environment: Environment = PRODUCTION
    timeout: float = DEFAULT_TIMEOUT
    proxy: str | None = None
    verify: bool = True
    ca_bundle: str | None = None
    user_agent: str = DEFAULT_USER_AGENT
    accept_version: str | None = None
    retry: RetryPolicy = field(default=DEFAULT_RETRY)

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
            parts = urlsplit(self.proxy)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise LocalProtocolError("proxy must be an http://host:port URL")
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
        return ClientConfig(
            environment=self.environment,
            user_agent=self.user_agent,
            accept_version=self.accept_version,
        )


class SessionCalls:
    """Every call of a transport's ``Session``, as an operation to drive.

    Holds the :class:`SessionMachine`; ``on_token`` receives each new token
    the moment it arrives.
    """

    def __init__(
        self,
        settings: TransportSettings,
        *,
        on_token: Callable[[TokenEvent], None] | None = None,
        machine: SessionMachine | None = None,
    ) -> None:
        self.settings = settings
        if machine is None:
            machine = SessionMachine(config=settings.config, on_token=on_token)
        else:  # a loaded session: these settings decide where and how it talks
            machine.config = settings.config
            machine.on_token = on_token or machine.on_token
        self.machine = machine

    def login_with_password(
        self,
        login: str,
        password: str,
        *,
        remember_me: bool = True,
        otp: str | None = None,
        prompt: bool = False,
    ) -> Operation[Events]:
        """:func:`flows.login_with_password`."""
        return flows.login_with_password(
            self.machine, login, password, remember_me=remember_me, otp=otp, prompt=prompt
        )

    def login_with_remember_token(
        self, login: str, remember_token: str, *, remember_me: bool = True, prompt: bool = False
    ) -> Operation[Events]:
        """:func:`flows.login_with_remember_token`."""
        return flows.login_with_remember_token(
            self.machine, login, remember_token, remember_me=remember_me, prompt=prompt
        )

    def login_with_oauth(
        self, client_secret: str, refresh_token: str, *, client_id: str | None = None
    ) -> Operation[Events]:
        """:func:`flows.login_with_oauth`."""
        return flows.login_with_oauth(
            self.machine, client_secret, refresh_token, client_id=client_id
        )

    def submit_second_factor(self, otp: str) -> Operation[Events]:
        """:func:`flows.submit_second_factor`."""
        return flows.submit_second_factor(self.machine, otp)

    def answer_security_question(self, answer: str) -> Operation[Events]:
        """:func:`flows.answer_security_question`."""
        return flows.answer_security_question(self.machine, answer)

    def refresh(self) -> Operation[Events]:
        """:func:`flows.refresh`."""
        return flows.refresh(self.machine)

    def validate(self) -> Operation[bool]:
        """:func:`flows.validate`."""
        return flows.validate(self.machine)

    def logout(self) -> Operation[None]:
        """:func:`flows.logout` (safe in any state)."""
        return flows.logout(self.machine)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        decode: Callable[[Response], Any] = decode_envelope,
    ) -> Operation[Any]:
        """Any authenticated API call; the decoded :class:`Envelope` by default."""
        request = self.settings.config.request(method, path, params=params, json_body=json)
        return flows.call(
            self.machine, request, decode, idempotent=idempotent, retry=self.settings.retry
        )
