"""The settings every transport accepts, checked once: :class:`TransportSettings`."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit

from ..errors import LocalProtocolError
from ..values import field, frozen
from .http import CERTIFICATION, DEFAULT_USER_AGENT, PRODUCTION, ClientConfig, Environment
from .retry import DEFAULT_RETRY, RetryPolicy

__all__ = ["DEFAULT_TIMEOUT", "TransportSettings"]

#: Seconds a request may take, as in the reference SDK.
DEFAULT_TIMEOUT = 30.0


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
