"""tastytrade over ``requests``: a synchronous transport for tastytrade-proto.

It moves bytes and waits; every call, flow, retry and error mapping lives in
:mod:`tastytrade_proto` (the calls in :class:`tastytrade_proto.client.SyncSession`).
"""

from __future__ import annotations

import os
import random
import ssl
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import NewConnectionError

from tastytrade_proto import (
    Ask,
    LocalProtocolError,
    Operation,
    Request,
    Response,
    TransportError,
    TransportTimeout,
    drive,
)
from tastytrade_proto.client import SyncSession

__all__ = ["Session"]

T = TypeVar("T")


class _ContextAdapter(HTTPAdapter):
    """Uses the caller's ``ssl.SSLContext`` for HTTPS, proxied or not."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(proxy, **kwargs)


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is among the errors urllib3 wrapped into ``error``."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None or isinstance(seen, kind):
            return seen is not None
        inner = getattr(seen, "reason", None) or (seen.args[0] if seen.args else None)
        seen = inner if isinstance(inner, BaseException) else seen.__cause__
    return False


def _retries(client: requests.Session) -> bool:
    for adapter in client.adapters.values():
        policy = getattr(adapter, "max_retries", None)
        if policy is not None and policy.total not in (0, False):
            return True
    return False


class Session(SyncSession):
    """A tastytrade session over a ``requests.Session`` (created, or yours via ``client``).

    Where: ``environment``, ``base_url`` (a proxy, the fake server) or
    ``certification=True``; production by default. ``timeout`` in seconds;
    ``proxy`` an ``http://host:port`` URL; TLS is verified unless
    ``verify=False`` is given, against ``ca_bundle`` (a PEM path) or
    ``ssl_context``. As in requests, ``timeout`` bounds the connect and each
    read, not the whole answer. A ``client`` of yours must not retry on its
    own (the core decides every retry) and keeps its own TLS settings.
    ``token_store`` receives each new token the moment it arrives;
    ``prompt`` answers a second-factor :class:`~tastytrade_proto.Ask`
    (``lambda ask: input("code: ")`` will do), so that logins ask instead of
    raising ``SecondFactorRequired``. Other keywords are those of
    :class:`~tastytrade_proto.client.SyncSession`. As a context manager it
    logs out on exit.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        client: requests.Session | None = None,
        prompt: Callable[[Ask], str] | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(prompt=prompt, jitter=random.random, entropy=os.urandom, **settings)
        if client is not None and ssl_context is not None:
            raise LocalProtocolError(
                "give ssl_context or client, not both: set TLS up on your client"
            )
        if client is not None and _retries(client):
            raise LocalProtocolError(
                "the client retries on its own (an adapter's max_retries); an order must never "
                "be sent twice, so the core alone decides retries: use max_retries=0"
            )
        self._owns_client = client is None
        self._http = client if client is not None else requests.Session()
        if client is None:
            # No ~/.netrc password replacing our Authorization header, no proxy or CA
            # bundle from the environment: the same behaviour as the other transports.
            self._http.trust_env = False
        self._verify: bool | str = self.settings.ca_bundle or self.settings.verify
        proxy = self.settings.proxy
        self._proxies = {"http": proxy, "https": proxy} if proxy else None
        if ssl_context is not None:
            self._http.mount("https://", _ContextAdapter(ssl_context))

    def run(self, operation: Operation[T]) -> T:
        """Drive any core operation to its end over this session's connection."""
        return drive(operation, self._send, clock=time.time, sleep=time.sleep, ask=self._prompt)

    def _send(self, request: Request) -> Response:
        try:
            reply = self._http.send(
                self._prepare(request),
                timeout=self.settings.timeout,
                allow_redirects=False,
                **self._http.merge_environment_settings(
                    request.url, self._proxies or {}, None, self._verify, None
                ),
            )
        except requests.ConnectTimeout as exc:
            raise TransportTimeout(f"connect timed out: {exc}", request_sent=False) from None
        except requests.Timeout as exc:
            raise TransportTimeout(f"timed out: {exc}") from None
        except requests.ConnectionError as exc:
            refused = _caused_by(exc, NewConnectionError)  # nothing reached the server
            raise TransportError(f"{type(exc).__name__}: {exc}", request_sent=not refused) from None
        except requests.RequestException as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
        return Response(reply.status_code, tuple(reply.headers.items()), reply.content)

    def _prepare(self, request: Request) -> requests.PreparedRequest:
        # What requests.Session.request would send, made without its per-call merging (about
        # 90 µs of a loopback call's 1 ms): the core's URL is complete and already encoded, its
        # headers are checked, and no auth, .netrc or session params apply. The client's own
        # headers (overridden by ours), cookies and response hooks still do.
        http, prepared = self._http, requests.PreparedRequest()
        prepared.method = request.method
        prepared.url = request.url
        headers = CaseInsensitiveDict(http.headers)
        headers.update(request.headers)
        prepared.prepare_headers({k: v for k, v in headers.items() if v is not None})
        prepared.prepare_body(request.body or None, None)  # Content-Length, as requests sets it
        prepared.prepare_cookies(http.cookies)
        prepared.hooks = http.hooks
        return prepared

    def close(self) -> None:
        """Close the ``requests.Session`` if this session created it."""
        if self._owns_client:
            self._http.close()
