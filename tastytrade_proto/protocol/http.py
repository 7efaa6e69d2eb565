"""Requests and responses as values, environments, and how a request is built.

Nothing here performs I/O: a :class:`Request` is what a transport should send,
a :class:`Response` is what it got back. Both are frozen, comparable and safe
to print (secret headers and body fields are redacted in their ``repr``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Union
from urllib.parse import SplitResult, quote, urlsplit

from .._redact import REDACTED, SECRET_HEADERS, redact_body
from .._version import __version__
from ..errors import LocalProtocolError
from ..values import field, frozen

__all__ = [
    "CERTIFICATION",
    "DEFAULT_ACCEPT_VERSION",
    "DEFAULT_USER_AGENT",
    "PRODUCTION",
    "ClientConfig",
    "Environment",
    "Headers",
    "QueryValue",
    "Request",
    "Response",
    "encode_json",
    "encode_path",
    "encode_query",
]

#: The API version our requests ask production for (the reference SDK's choice).
DEFAULT_ACCEPT_VERSION = "20251101"
#: The API answers 401 with an HTML page to any request without a
#: ``product/version`` User-Agent, so one is always sent.
DEFAULT_USER_AGENT = f"tastytrade-proto/{__version__}"

Headers = tuple[tuple[str, str], ...]
QueryValue = Union[str, int, bool, Iterable[str | int], None]

_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")  # path characters quote() leaves as they are
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise LocalProtocolError(f"invalid URL {url!r}: {exc}") from None


def _normalize_headers(
    headers: Iterable[tuple[str, str]] | Mapping[str, str], *, outgoing: bool = False
) -> Headers:
    """Headers as a tuple of ``(lower-case name, value)`` pairs, each checked
    (``outgoing=True`` for ours, held to valid HTTP; a server's are taken as they came)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    out = []
    for name, value in items:
        if not isinstance(name, str) or not isinstance(value, str):
            raise LocalProtocolError(f"header names and values must be str, got {name!r}")
        # Ours must be valid HTTP; a server's are taken as they came.
        if outgoing and not _TOKEN.fullmatch(name):
            raise LocalProtocolError(f"{name!r} is not a valid header name")
        if "\r" in value or "\n" in value or (outgoing and "\0" in value):
            raise LocalProtocolError(f"header {name!r} contains a line break")
        out.append((name.lower(), value))
    return tuple(out)


def _header(headers: Headers, name: str) -> str | None:
    name = name.lower()
    for key, value in headers:
        if key == name:
            return value
    return None


def _repr_headers(headers: Headers) -> str:
    shown = ", ".join(
        f"({k!r}, {REDACTED!r})" if k in SECRET_HEADERS else f"({k!r}, {v!r})" for k, v in headers
    )
    return f"({shown})"


@frozen
class Request:
    """One HTTP request the core wants sent.

    ``headers`` are ``(name, value)`` pairs with lower-cased names; the
    constructor normalizes whatever it is given. ``url`` is absolute.
    """

    method: str
    url: str
    headers: Headers = ()
    body: bytes = b""

    def __post_init__(self) -> None:
        method = self.method.upper() if isinstance(self.method, str) else self.method
        if method not in _METHODS:
            raise LocalProtocolError(f"unsupported HTTP method {self.method!r}")
        if not isinstance(self.url, str) or _split(self.url).scheme not in ("http", "https"):
            raise LocalProtocolError(f"request URL must be absolute http(s), got {self.url!r}")
        if not isinstance(self.body, bytes):
            raise LocalProtocolError("request body must be bytes")
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "headers", _normalize_headers(self.headers, outgoing=True))

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or ``None``."""
        return _header(self.headers, name)

    def with_headers(self, extra: Iterable[tuple[str, str]]) -> Request:
        """A copy with ``extra`` headers set, replacing same-named ones."""
        added = _normalize_headers(extra, outgoing=True)
        names = {k for k, _ in added}
        kept = tuple((k, v) for k, v in self.headers if k not in names)
        return Request(self.method, self.url, kept + added, self.body)

    @property
    def path(self) -> str:
        """The URL's path, without query."""
        return _split(self.url).path

    def __repr__(self) -> str:
        return (
            f"Request(method={self.method!r}, url={self.url!r}, "
            f"headers={_repr_headers(self.headers)}, body={redact_body(self.body)})"
        )


@frozen
class Response:
    """One HTTP response, as a transport received it.

    ``headers`` may be given as a mapping or as pairs (repeated names are
    kept); names are lower-cased.
    """

    status: int
    headers: Headers = ()
    body: bytes = b""

    def __post_init__(self) -> None:
        if isinstance(self.status, bool) or not isinstance(self.status, int):
            raise LocalProtocolError(f"status must be an int, got {self.status!r}")
        if not 100 <= self.status <= 999:
            raise LocalProtocolError(f"status {self.status} is not an HTTP status code")
        if not isinstance(self.body, bytes):
            raise LocalProtocolError("response body must be bytes")
        object.__setattr__(self, "status", int(self.status))
        object.__setattr__(self, "headers", _normalize_headers(self.headers))

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or ``None``."""
        return _header(self.headers, name)

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    def __repr__(self) -> str:
        return (
            f"Response(status={self.status}, headers={_repr_headers(self.headers)}, "
            f"body={redact_body(self.body)})"
        )


def encode_path(*segments: str | int) -> str:
    """Join path segments, percent-encoding each (``/ESZ6`` stays one segment).

    >>> encode_path("instruments", "futures", "/ESZ6")
    '/instruments/futures/%2FESZ6'

    An empty segment, ``.`` or ``..`` is refused (``LocalProtocolError``):
    ``/accounts/../orders`` would reach another endpoint.
    """
    out = []
    for segment in segments:
        text = str(segment)
        if text in ("", ".", ".."):  # clients and proxies would fold these into another path
            raise LocalProtocolError(f"a path segment cannot be {text!r}")
        out.append(text if _UNRESERVED.fullmatch(text) else quote(text, safe=""))
    return "/" + "/".join(out) if out else ""


def encode_query(params: Mapping[str, QueryValue]) -> str:
    """Encode query parameters the way the API reads them.

    Lists repeat with brackets (``status[]=Live&status[]=Filled``), booleans
    are ``true``/``false`` and ``None`` values are left out. Keys are used as
    given (the API's keys are dasherized). Returns ``""`` or ``"?..."``.
    """
    parts: list[str] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            parts.append(f"{quote(key, safe='')}={'true' if value else 'false'}")
        elif isinstance(value, (str, int)):
            parts.append(f"{quote(key, safe='')}={quote(str(value), safe='')}")
        else:
            name = quote(key if key.endswith("[]") else key + "[]", safe="[]")
            parts.extend(f"{name}={quote(str(v), safe='')}" for v in value)
    return "?" + "&".join(parts) if parts else ""


@frozen
class Environment:
    """Where requests go, and what that deployment accepts.

    ``accept_version`` is the ``Accept-Version`` header sent there by default
    (``None``: no header; the sandbox rejects it). ``streamer_url`` is the account
    streamer's websocket; see :attr:`account_streamer_url` for the default.
    """

    name: str
    base_url: str
    accept_version: str | None = None
    streamer_url: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str):
            raise LocalProtocolError("base URL must be a string")
        parts = _split(self.base_url)
        try:
            port_ok = parts.port is None or parts.port > 0
            hostname = parts.hostname or ""
            if not _PLAIN_HOST.fullmatch(hostname):  # the idna codec costs 2 ms to import
                hostname.encode("idna")
        except (ValueError, UnicodeError):
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            raise LocalProtocolError(
                f"base URL must be http(s)://host[:port][/prefix], got {self.base_url!r}"
            )
        if parts.query or parts.fragment:
            raise LocalProtocolError("base URL must not carry a query or fragment")
        # Joined by concatenation, never urljoin, so a path prefix survives.
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        if self.streamer_url is not None and (
            not isinstance(self.streamer_url, str)
            or _split(self.streamer_url).scheme not in ("ws", "wss")
        ):
            raise LocalProtocolError("streamer URL must be ws(s)://host[:port][/path]")

    @property
    def account_streamer_url(self) -> str:
        """The account streamer's websocket URL.

        ``streamer_url`` when given; for tastytrade's own API hosts, their streamer
        (``wss://streamer.tastyworks.com``, ``wss://streamer.cert.tastyworks.com``);
        for any other deployment (the fake server, a proxy), the same origin and
        path prefix as the API with ``ws``/``wss`` and ``/account-streamer``.
        """
        if self.streamer_url is not None:
            return self.streamer_url
        parts = _split(self.base_url)
        known = _STREAMERS.get((parts.hostname or "").lower().rstrip("."))
        if known is not None and parts.scheme == "https":
            return known
        scheme = "wss" if parts.scheme == "https" else "ws"
        host = parts.netloc.rpartition("@")[2]  # credentials in a URL are not passed on
        return f"{scheme}://{host}{parts.path}/account-streamer"

    @classmethod
    def custom(
        cls, base_url: str, *, accept_version: str | None = None, streamer_url: str | None = None
    ) -> Environment:
        """Any other deployment: a proxy, the fake server, a test double."""
        return cls("custom", base_url, accept_version, streamer_url)

    def url(self, path: str) -> str:
        """The absolute URL of an API path such as ``/sessions``."""
        if not path.startswith("/"):
            raise LocalProtocolError(f"API path must start with '/', got {path!r}")
        return self.base_url + path


_STREAMERS = {
    "api.tastyworks.com": "wss://streamer.tastyworks.com",
    "api.cert.tastyworks.com": "wss://streamer.cert.tastyworks.com",
}
_PLAIN_HOST = re.compile(r"[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*\.?")
PRODUCTION = Environment("production", "https://api.tastyworks.com", DEFAULT_ACCEPT_VERSION)
CERTIFICATION = Environment("certification", "https://api.cert.tastyworks.com")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise LocalProtocolError(f"cannot send the non-finite number {value}")
        return str(value)
    raise LocalProtocolError(f"cannot encode {type(value).__name__} as JSON")


def encode_json(value: Any) -> bytes:
    """Serialize a request body; ``Decimal`` goes out as a string, never a float."""
    try:
        return json.dumps(
            value, separators=(",", ":"), default=_json_default, allow_nan=False
        ).encode()
    except ValueError as exc:
        raise LocalProtocolError(f"request body is not valid JSON: {exc}") from None


def _check_user_agent(value: str) -> None:
    product, _, version = value.partition("/")
    if not product or not version or " " in product:
        raise LocalProtocolError(f"user agent must look like product/version, got {value!r}")


@frozen
class ClientConfig:
    """Everything that shapes an outgoing request, apart from credentials.

    ``accept_version`` overrides the environment's (``""`` sends none).
    """

    environment: Environment = PRODUCTION
    user_agent: str = DEFAULT_USER_AGENT
    accept_version: str | None = None
    extra_headers: Headers = field(default=(), repr=False)

    __slots__ = ("_headers",)  # not a field: each accept-version's default headers, checked

    def _base_headers(self, version: str | None) -> Headers:
        known: dict[str | None, Headers] | None = getattr(self, "_headers", None)
        if known is None:
            known = {}
            object.__setattr__(self, "_headers", known)
        headers = known.get(version)
        if headers is None:
            base = [
                ("user-agent", self.user_agent),
                ("accept", "application/json"),
                ("content-type", "application/json"),
            ]
            if version:
                base.append(("accept-version", version))
            headers = known[version] = _normalize_headers(base, outgoing=True)
        return headers

    def __post_init__(self) -> None:
        _check_user_agent(self.user_agent)
        for name, value in self.extra_headers:
            if name.lower() == "user-agent":
                _check_user_agent(value)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json_body: Any = None,
        headers: Iterable[tuple[str, str]] = (),
        accept_version: str | None = None,
    ) -> Request:
        """Build an (unauthenticated) request with the default headers.

        ``accept_version`` set here wins over the client's and the
        environment's for this one request (``""`` sends none).
        """
        version = accept_version
        if version is None:
            version = self.accept_version
        if version is None:
            version = self.environment.accept_version
        body = b"" if json_body is None else encode_json(json_body)
        url = self.environment.url(path) + (encode_query(params) if params else "")
        request = Request(method, url, self._base_headers(version), body)
        extra = tuple(self.extra_headers) + tuple(headers)
        if not extra:
            return request
        request = request.with_headers(extra)
        _check_user_agent(request.header("user-agent") or "")
        return request
