"""Cassettes: tests from real traffic, with the secrets taken out.

A :class:`Recorder` wraps a session (synchronous or asynchronous, any
transport, your own included) at the core's request/response seam: every
operation the session runs goes through a :class:`RecordingOperation` that
notes each ``Send`` and the answer it got. Nothing patches an HTTP library,
so what is recorded is exactly what the core sent and read.

The cassette is plain JSON, meant to be read and edited::

    {
      "version": 1,
      "recorded-at": "2026-03-02T14:00:00.000Z",
      "entropy": ["5f0c..."],
      "interactions": [
        {
          "at": 0.0,
          "request": {"method": "POST", "path": "/oauth/token",
                      "json": {"grant_type": "refresh_token", "refresh_token": "<redacted>",
                               "client_secret": "<redacted>"}},
          "response": {"status": 200, "headers": {"content-type": "application/json"},
                       "json": {"access_token": "<redacted>", "expires_in": 900}}
        }
      ]
    }

Every secret is scrubbed by value with the scrubber errors use
(:func:`tastytrade_proto._redact.scrub`): the session, remember, access and
refresh tokens, the client secret, the password and the one-time code, taken
from the session's :class:`~tastytrade_proto.protocol.AuthMachine`, from
``Authorization`` and the other secret headers, and from every secret-named
field of a body; secret-named fields are replaced by name as well. Account
numbers can be replaced too (``5WT00001`` becomes ``ACCT0001`` in every path
and body).

:class:`ReplaySession` and :class:`AsyncReplaySession` (asyncio or trio: it
never waits for anything) answer from a cassette with no network. They are
strict by default: each request must be the next one recorded, with the same
method, path, query and body, or :class:`CassetteMismatch` names the first
difference. See ``docs/testing.md``, "Cassettes".
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import inspect
import json
import os
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar, Union
from urllib.parse import parse_qsl, urlsplit

from .._redact import REDACTED, SECRET_FIELDS, SECRET_HEADERS, scrub
from ..errors import SecondFactorRequired, TransportError, TransportTimeout
from ..protocol.endpoint import Endpoint, Paged
from ..protocol.http import Request, Response
from ..protocol.operation import (
    Ask,
    Done,
    Operation,
    OperationState,
    Send,
    Wait,
    drive,
    drive_async,
)
from ..sessions import AsyncSession, SyncSession
from . import FakeClock

__all__ = [
    "CASSETTE_HEADERS",
    "CASSETTE_VERSION",
    "AsyncReplaySession",
    "Cassette",
    "CassetteFixture",
    "CassetteMismatch",
    "CassettePlayer",
    "Recorder",
    "RecordingOperation",
    "ReplaySession",
    "cassette_mode",
]

T = TypeVar("T")

#: The format's version, written as ``"version"``.
CASSETTE_VERSION = 1

#: Response headers a cassette keeps (all others are dropped): what the core reads.
#: ``x-tastyworks-challenge-token`` is kept as ``<redacted>``, so that a replayed
#: device challenge still finds one.
CASSETTE_HEADERS = ("content-type", "retry-after", "location", "x-tastyworks-challenge-token")

# A JSON value, as a cassette holds it.
JSON = Any
# The fields of a request that are compared: method, path, query, body.
_Body = Union[tuple[str, JSON], None]

_ACCOUNT_IN_PATH = re.compile(r"/accounts/([^/?#]+)")
_ACCOUNT_FIELDS = frozenset({"account-number", "account-numbers", "account-numbers[]"})


class CassetteMismatch(AssertionError):
    """The code sent a request the cassette did not see (or left recorded ones unsent).

    An ``AssertionError``, not a :class:`~tastytrade_proto.TastytradeError`, so that
    code under test that handles API errors cannot swallow it. ``index`` is the
    position of the request among those sent (from 0), ``expected`` the recorded
    request it was compared with (``None`` when none was left), ``sent`` the
    request as it would be recorded, and ``differences`` what differs.
    """

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        expected: Mapping[str, Any] | None = None,
        sent: Mapping[str, Any] | None = None,
        differences: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.index = index
        self.expected = expected
        self.sent = sent
        self.differences = differences


# -- the format -----------------------------------------------------------------------------


class Cassette:
    """A recording: ``interactions`` (JSON-like dicts, as in the file), the ``entropy``
    drawn meanwhile (hex strings) and ``recorded_at`` (POSIX seconds of the first request).

    ``Cassette.load(path)`` reads a file; :meth:`dumps` and :meth:`save` write one.
    """

    def __init__(
        self,
        interactions: Iterable[dict[str, Any]] = (),
        *,
        entropy: Iterable[str] = (),
        recorded_at: float | None = None,
        name: str = "<cassette>",
    ) -> None:
        self.interactions = list(interactions)
        self.entropy = list(entropy)
        self.recorded_at = recorded_at
        #: Where it came from, for messages.
        self.name = name

    @classmethod
    def loads(cls, text: str, *, name: str = "<cassette>") -> Cassette:
        """A cassette from its JSON text."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
            raise ValueError(f"{name} is not a cassette: no 'interactions' list")
        version = data.get("version", CASSETTE_VERSION)
        if version != CASSETTE_VERSION:
            raise ValueError(f"{name}: cassette version {version!r} is not {CASSETTE_VERSION}")
        at = data.get("recorded-at")
        recorded_at = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() if at else None
        return cls(
            data["interactions"],
            entropy=data.get("entropy", ()),
            recorded_at=recorded_at,
            name=name,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cassette:
        """Read a cassette file."""
        return cls.loads(Path(path).read_text(encoding="utf-8"), name=str(path))

    def to_json(self) -> dict[str, Any]:
        """The cassette as the JSON object its file holds."""
        data: dict[str, Any] = {"version": CASSETTE_VERSION}
        if self.recorded_at is not None:
            stamp = datetime.fromtimestamp(self.recorded_at, timezone.utc)
            data["recorded-at"] = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if self.entropy:
            data["entropy"] = list(self.entropy)
        data["interactions"] = self.interactions
        return data

    def dumps(self) -> str:
        """The cassette's JSON text: indented, keys in recording order, a final newline."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the cassette to ``path`` (its folder is made if missing)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.dumps(), encoding="utf-8")


def _body_record(body: bytes, headers: Iterable[tuple[str, str]] = ()) -> dict[str, JSON]:
    """A body as a cassette holds it: ``json``, ``text`` or ``base64`` (nothing if empty)."""
    if not body:
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode("ascii")}
    if text.lstrip()[:1] in ("{", "["):
        try:
            return {"json": json.loads(text)}
        except (ValueError, RecursionError):
            pass
    return {"text": text}


def _body_bytes(record: Mapping[str, Any]) -> bytes:
    if "json" in record:
        return json.dumps(record["json"], ensure_ascii=False).encode("utf-8")
    if "text" in record:
        return str(record["text"]).encode("utf-8")
    if "base64" in record:
        return base64.b64decode(record["base64"])
    return b""


def _query_record(query: str) -> dict[str, JSON]:
    out: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in out:
            held = out[key]
            out[key] = [*held, value] if isinstance(held, list) else [held, value]
        else:
            out[key] = value
    return out


def _relative(path: str, base_path: str) -> str:
    if base_path and (path == base_path or path.startswith(base_path + "/")):
        return path[len(base_path) :] or "/"
    return path


def _request_record(request: Request, base_path: str) -> dict[str, JSON]:
    url = urlsplit(request.url)
    record: dict[str, Any] = {"method": request.method, "path": _relative(url.path, base_path)}
    if url.query:
        record["query"] = _query_record(url.query)
    if request.body and "form" in (request.header("content-type") or ""):
        record["form"] = _query_record(request.body.decode("utf-8", "replace"))
    else:
        record.update(_body_record(request.body))
    return record


def _response_record(response: Response) -> dict[str, JSON]:
    headers: dict[str, str] = {}
    for name, value in response.headers:
        if name in CASSETTE_HEADERS and name not in headers:
            headers[name] = REDACTED if name in SECRET_HEADERS else value
    record: dict[str, Any] = {"status": response.status}
    if headers:
        record["headers"] = headers
    record.update(_body_record(response.body, response.headers))
    return record


def _response_from(record: Mapping[str, Any]) -> Response:
    headers = tuple((str(k), str(v)) for k, v in (record.get("headers") or {}).items())
    return Response(int(record["status"]), headers, _body_bytes(record))


def _error_from(record: Mapping[str, Any]) -> TransportError:
    kind = TransportTimeout if record.get("type") == "TransportTimeout" else TransportError
    return kind(str(record.get("message", "")), request_sent=bool(record.get("request-sent", True)))


# -- secrets and account numbers ------------------------------------------------------------


def _secrets_in(value: Any, out: set[str], depth: int = 0) -> None:
    """Collect the values of secret-named fields anywhere in ``value``."""
    if depth > 64:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SECRET_FIELDS and isinstance(item, (str, int)) and item != REDACTED:
                out.add(str(item))
            else:
                _secrets_in(item, out, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _secrets_in(item, out, depth + 1)


def _header_secrets(headers: Iterable[tuple[str, str]], out: set[str]) -> None:
    for name, value in headers:
        if name in SECRET_HEADERS and value:
            out.add(value)
            scheme, _, credential = value.partition(" ")
            if credential and scheme.isalpha():  # "Bearer <token>": the token alone too
                out.add(credential.strip())


def _accounts_in(record: Mapping[str, Any], out: dict[str, None]) -> None:
    for match in _ACCOUNT_IN_PATH.finditer(str(record.get("path", ""))):
        out.setdefault(match.group(1), None)
    for key in ("query", "json", "form"):
        _account_fields(record.get(key), out)


def _account_fields(value: Any, out: dict[str, None], depth: int = 0) -> None:
    if depth > 64:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _ACCOUNT_FIELDS:
                for number in item if isinstance(item, list) else [item]:
                    if isinstance(number, str) and number:
                        out.setdefault(number, None)
            else:
                _account_fields(item, out, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _account_fields(item, out, depth + 1)


class _Cleaner:
    """Scrubs secrets (by name and by value) and renames account numbers in a record."""

    def __init__(self, secrets: Iterable[str], accounts: Mapping[str, str]) -> None:
        self.secrets = tuple(s for s in set(secrets) if s and s != REDACTED)
        self.accounts = dict(accounts)
        self._pattern = (
            re.compile(
                r"(?<![A-Za-z0-9])("
                + "|".join(re.escape(a) for a in sorted(self.accounts, key=len, reverse=True))
                + r")(?![A-Za-z0-9])"
            )
            if self.accounts
            else None
        )

    def text(self, text: str) -> str:
        text = scrub(text, self.secrets)
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: self.accounts[m.group(1)], text)
        return text

    def value(self, value: Any, depth: int = 0) -> Any:
        if depth > 256:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            cleaned = self.text(str(value))
            return value if cleaned == str(value) else cleaned
        if isinstance(value, dict):
            # Keys are field names, not secrets: a short secret must not rename them.
            return {
                k: (REDACTED if k in SECRET_FIELDS and v is not None else self.value(v, depth + 1))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.value(v, depth + 1) for v in value]
        return value


# -- recording ------------------------------------------------------------------------------


class RecordingOperation(Operation[T]):
    """An operation that forwards every call to ``inner`` and tells ``recorder`` each
    ``Send`` and the response (or transport failure) it got.

    Drivers, shields and transports see an ordinary :class:`Operation`.
    """

    def __init__(self, inner: Operation[T], recorder: Recorder) -> None:
        # No Operation.__init__: there is no flow here, every call goes to ``inner``.
        self.inner = inner
        self.timeout = inner.timeout
        self._recorder = recorder
        self._sent: tuple[int, Request] | None = None

    @property
    def state(self) -> OperationState:
        """The inner operation's state."""
        return self.inner.state

    def next_step(self, now: float) -> Send | Wait | Ask | Done[T]:
        """The inner operation's next step; a ``Send`` is noted, with ``now``."""
        self._recorder._note_secrets()
        try:
            step = self.inner.next_step(now)
        finally:
            self._recorder._note_secrets()
        if isinstance(step, Send):
            self._sent = (self._recorder._sending(step.request, now), step.request)
        return step

    def receive(self, response: Response) -> None:
        """Record ``response`` as the answer to the last ``Send`` and hand it on."""
        if self._sent is not None and isinstance(response, Response):
            slot, request = self._sent
            self._sent = None
            self._recorder._answered(slot, request, response=response)
        self.inner.receive(response)

    def fail(self, error: TransportError) -> None:
        """Record the transport failure of the last ``Send`` and hand it on."""
        if self._sent is not None and isinstance(error, TransportError):
            slot, request = self._sent
            self._sent = None
            self._recorder._answered(slot, request, error=error)
        self.inner.fail(error)

    def provide(self, answer: str) -> None:
        """Hand the user's answer to the last ``Ask`` on (it is a secret: not recorded)."""
        if isinstance(answer, str) and answer.strip():
            self._recorder._extra.add(answer.strip())
        self.inner.provide(answer)

    def cancel(self) -> None:
        """Cancel the inner operation."""
        self._sent = None
        self.inner.cancel()
        self._recorder._note_secrets()

    def settle(self) -> None:
        """Settle the inner operation."""
        self.inner.settle()


class Recorder:
    """Records every exchange ``session`` makes, from now until :meth:`close`.

    ``session`` is any object with ``calls`` (an
    :class:`~tastytrade_proto.sessions.Operations`) and ``run(operation)``,
    synchronous or ``async``: a built-in transport's ``Session`` or your own.
    Its ``run`` is replaced (on the instance) by one that runs each operation
    through a :class:`RecordingOperation`, and its entropy by one that notes
    what it drew (so an order's generated ``external-identifier`` replays the
    same). :meth:`wrap` does the same for an operation you drive yourself.

    ``accounts``: ``True`` replaces every account number seen (in
    ``/accounts/{n}`` paths, ``account-number`` fields and
    ``account-numbers[]`` queries) by ``ACCT0001``, ``ACCT0002``... in order of
    first appearance; a mapping gives the replacements yourself; ``False``
    (default) keeps them. ``secrets`` adds values to scrub besides the
    session's.

    Used as a context manager (``with Recorder(session, "x.json"):``) it stops
    and, given ``path``, saves on exit.
    """

    def __init__(
        self,
        session: Any,
        path: str | os.PathLike[str] | None = None,
        *,
        accounts: bool | Mapping[str, str] = False,
        secrets: Iterable[str] = (),
    ) -> None:
        self.session = session
        self.path = path
        self.accounts = accounts
        self._machine = session.calls.machine
        self._base_path = urlsplit(session.calls.settings.environment.base_url).path.rstrip("/")
        self._lock = threading.Lock()
        self._slots: list[dict[str, Any] | None] = []
        self._requests: list[Request | None] = []
        self._start: float | None = None
        self._secrets: set[str] = set()
        self._extra: set[str] = {s for s in secrets if s}
        self._entropy: list[str] = []
        self._attached = False
        self.attach()

    # -- attaching --

    def attach(self) -> None:
        """Start recording the session's operations (done by the constructor)."""
        if self._attached:
            return
        session, original = self.session, self.session.run
        if inspect.iscoroutinefunction(original):

            async def run_async(operation: Operation[T]) -> T:
                result: T = await original(self.wrap(operation))
                return result

            session.run = run_async
        else:

            def run(operation: Operation[T]) -> T:
                result: T = original(self.wrap(operation))
                return result

            session.run = run
        calls = session.calls
        self._original_entropy = calls.entropy
        if calls.entropy is not None:
            draw = calls.entropy

            def entropy(n: int) -> bytes:
                raw: bytes = draw(n)
                with self._lock:
                    self._entropy.append(raw.hex())
                return raw

            calls.entropy = entropy
        _forget_bound_endpoints(session)
        self._attached = True

    def detach(self) -> None:
        """Stop recording; the session runs operations as before."""
        if not self._attached:
            return
        vars(self.session).pop("run", None)
        self.session.calls.entropy = self._original_entropy
        _forget_bound_endpoints(self.session)
        self._attached = False

    def wrap(self, operation: Operation[T]) -> Operation[T]:
        """``operation``, recorded (for a driver loop of your own)."""
        if isinstance(operation, RecordingOperation) and operation._recorder is self:
            return operation
        return RecordingOperation(operation, self)

    def close(self) -> None:
        """Stop recording and, if the recorder has a ``path``, save the cassette there."""
        self.detach()
        if self.path is not None:
            self.save(self.path)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the operations report --

    def _note_secrets(self) -> None:
        secrets = self._machine.secrets()
        with self._lock:
            self._secrets.update(secrets)

    def _sending(self, request: Request, now: float) -> int:
        found: set[str] = set()
        _header_secrets(request.headers, found)
        with self._lock:
            self._secrets.update(found)
            if self._start is None:
                self._start = now
            self._slots.append({"at": round(max(0.0, now - self._start), 3)})
            self._requests.append(request)
            return len(self._slots) - 1

    def _answered(
        self,
        slot: int,
        request: Request,
        *,
        response: Response | None = None,
        error: TransportError | None = None,
    ) -> None:
        record = _request_record(request, self._base_path)
        found: set[str] = set()
        for key in ("json", "form"):
            _secrets_in(record.get(key), found)
        entry: dict[str, Any]
        if response is not None:
            answer = _response_record(response)
            _header_secrets(response.headers, found)
            _secrets_in(answer.get("json"), found)
            entry = {"request": record, "response": answer}
        else:
            assert error is not None
            kind = "TransportTimeout" if isinstance(error, TransportTimeout) else "TransportError"
            failure = {
                "type": kind,
                "message": error.message,
                "request-sent": error.request_sent,
            }
            entry = {"request": record, "error": failure}
        with self._lock:
            self._secrets.update(found)
            held = self._slots[slot]
            assert held is not None
            held.update(entry)

    # -- the result --

    @property
    def secrets(self) -> frozenset[str]:
        """Every secret value seen so far (what the cassette is scrubbed of)."""
        with self._lock:
            return frozenset(self._secrets | self._extra)

    def account_map(self) -> dict[str, str]:
        """The account numbers seen and what they become (empty unless ``accounts``)."""
        if not self.accounts:
            return {}
        if isinstance(self.accounts, Mapping):
            return dict(self.accounts)
        seen: dict[str, None] = {}
        with self._lock:
            entries = [s for s in self._slots if s is not None and "request" in s]
        for entry in entries:
            _accounts_in(entry["request"], seen)
            _account_fields(entry.get("response", {}).get("json"), seen)
        return {number: f"ACCT{i:04d}" for i, number in enumerate(seen, 1)}

    def cassette(self) -> Cassette:
        """What has been recorded, scrubbed: every finished exchange, in the order sent."""
        cleaner = _Cleaner(self.secrets, self.account_map())
        with self._lock:
            entries = [dict(s) for s in self._slots if s is not None and "request" in s]
            entropy, start = list(self._entropy), self._start
        interactions = [cleaner.value(entry) for entry in entries]
        cassette = Cassette(interactions, entropy=entropy, recorded_at=start)
        text = cassette.dumps()
        left = [
            s
            for s in cleaner.secrets
            if len(s) >= 4 and (s in text or json.dumps(s, ensure_ascii=False)[1:-1] in text)
        ]
        if left:  # the walk above missed a form: refuse rather than write a secret
            raise RuntimeError("a secret survived scrubbing; the cassette was not written")
        return cassette

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the cassette (to ``path``, else the recorder's) and return where."""
        target = path if path is not None else self.path
        if target is None:
            raise ValueError("no path to save the cassette to")
        self.cassette().save(target)
        return Path(target)


def _forget_bound_endpoints(session: Any) -> None:
    """Drop endpoints a session bound (and cached) with its old ``run``."""
    state = getattr(session, "__dict__", {})
    for name in list(state):
        declared = inspect.getattr_static(type(session), name, None)
        if isinstance(declared, (Endpoint, Paged)):
            del state[name]


# -- replaying ------------------------------------------------------------------------------


def _pairs(query: Any) -> list[tuple[str, str]]:
    if not isinstance(query, Mapping):
        return []
    out = []
    for key, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            out.append((str(key), str(item)))
    return sorted(out)


def _body_of(record: Mapping[str, Any]) -> _Body:
    for key in ("json", "form", "text", "base64"):
        if key in record:
            return (key, record[key])
    return None


def _describe(record: Mapping[str, Any] | None) -> str:
    if record is None:
        return "(nothing)"
    query = record.get("query")
    line = f"{record.get('method')} {record.get('path')}"
    if query:
        line += "?" + "&".join(f"{k}={v}" for k, v in _pairs(query))
    return line


def _diff(expected: Any, sent: Any, where: str, out: list[str], limit: int = 8) -> None:
    if len(out) >= limit:
        return
    if isinstance(expected, dict) and isinstance(sent, dict):
        for key in list(expected) + [k for k in sent if k not in expected]:
            here = f"{where}.{key}"
            if key not in sent:
                out.append(f"{here}: recorded {_short(expected[key])}, not sent")
            elif key not in expected:
                out.append(f"{here}: sent {_short(sent[key])}, not recorded")
            else:
                _diff(expected[key], sent[key], here, out, limit)
    elif isinstance(expected, list) and isinstance(sent, list) and len(expected) == len(sent):
        for i, (a, b) in enumerate(zip(expected, sent, strict=True)):
            _diff(a, b, f"{where}[{i}]", out, limit)
    elif expected != sent:
        out.append(f"{where}: recorded {_short(expected)}, sent {_short(sent)}")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _differences(expected: Mapping[str, Any], sent: Mapping[str, Any], body: bool) -> list[str]:
    out: list[str] = []
    for key in ("method", "path"):
        if expected.get(key) != sent.get(key):
            out.append(f"{key}: recorded {expected.get(key)!r}, sent {sent.get(key)!r}")
    if _pairs(expected.get("query")) != _pairs(sent.get("query")):
        _diff(expected.get("query") or {}, sent.get("query") or {}, "query", out)
    if body:
        want, got = _body_of(expected), _body_of(sent)
        if want != got:
            if want is not None and got is not None and want[0] == got[0]:
                _diff(want[1], got[1], "body", out)
            else:
                out.append(f"body: recorded {_short(want)}, sent {_short(got)}")
    return out


class CassettePlayer:
    """Answers requests from a :class:`Cassette`: the replay sessions' engine.

    ``ignore_order=True`` takes the first unused interaction that matches,
    wherever it is; ``ignore_body=True`` compares method, path and query only.
    The first mismatch is kept in :attr:`mismatch` as well as raised, so that a
    test fails even when the code under test swallowed it. ``clock`` is the
    replay's wall clock: it starts at the recording's time and moves to each
    exchange's recorded moment (and forward on every ``Wait``), so tokens that
    expired since the recording are still fresh in the replay.
    """

    def __init__(
        self,
        cassette: Cassette | str | os.PathLike[str],
        *,
        ignore_order: bool = False,
        ignore_body: bool = False,
    ) -> None:
        self.cassette = cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)
        self.ignore_order = ignore_order
        self.ignore_body = ignore_body
        start = self.cassette.recorded_at
        self.clock = FakeClock() if start is None else FakeClock(start)
        self._start = self.clock.now
        self._used = [False] * len(self.cassette.interactions)
        self._cursor = 0
        self._sent = 0
        self._entropy = [bytes.fromhex(h) for h in self.cassette.entropy]
        self._lock = threading.Lock()
        #: The first :class:`CassetteMismatch` raised, or ``None``.
        self.mismatch: CassetteMismatch | None = None
        #: The requests answered so far, as recorded (``request`` records).
        self.played: list[dict[str, Any]] = []

    @property
    def unplayed(self) -> list[int]:
        """Indexes of the interactions no request has used."""
        return [i for i, used in enumerate(self._used) if not used]

    def entropy(self, n: int) -> bytes:
        """The next recorded draw (``os.urandom`` once they run out: the body then differs)."""
        with self._lock:
            if self._entropy and len(self._entropy[0]) == n:
                return self._entropy.pop(0)
        return os.urandom(n)

    def answer(
        self, request: Request, *, secrets: Iterable[str] = (), base_path: str = ""
    ) -> Response:
        """The recorded response to ``request``, or raise.

        ``secrets`` are the sending session's (scrubbed from the request before it is
        compared, as they were at recording); raises :class:`CassetteMismatch`, or the
        recorded :class:`~tastytrade_proto.TransportError`.
        """
        sent = _Cleaner(secrets, {}).value(_request_record(request, base_path))
        with self._lock:
            index, self._sent = self._sent, self._sent + 1
            chosen, problem = self._match(sent, index)
            if problem is not None:
                if self.mismatch is None:
                    self.mismatch = problem
                raise problem
            assert chosen is not None
            self._used[chosen] = True
            interaction = self.cassette.interactions[chosen]
            self.played.append(interaction["request"])
            at = interaction.get("at")
            if isinstance(at, (int, float)):
                self.clock.now = max(self.clock.now, self._start + float(at))
        if "error" in interaction:
            raise _error_from(interaction["error"])
        if "response" not in interaction:
            raise ValueError(f"{self.cassette.name}: interaction {chosen} has no response")
        return _response_from(interaction["response"])

    def _match(
        self, sent: dict[str, Any], index: int
    ) -> tuple[int | None, CassetteMismatch | None]:
        interactions = self.cassette.interactions
        body = not self.ignore_body
        if self.ignore_order:
            candidates = [i for i, used in enumerate(self._used) if not used]
            for i in candidates:
                if not _differences(interactions[i]["request"], sent, body):
                    return i, None
            closest = next(
                (
                    i
                    for i in candidates
                    if interactions[i]["request"].get("method") == sent["method"]
                    and interactions[i]["request"].get("path") == sent["path"]
                ),
                candidates[0] if candidates else None,
            )
        else:
            while self._cursor < len(interactions) and self._used[self._cursor]:
                self._cursor += 1
            closest = self._cursor if self._cursor < len(interactions) else None
            if closest is not None and not _differences(
                interactions[closest]["request"], sent, body
            ):
                return closest, None
        name = self.cassette.name
        if closest is None:
            message = (
                f"request {index} ({_describe(sent)}) was sent, but {name} has no "
                f"{'unused ' if self.ignore_order else ''}interaction left"
                f" ({len(interactions)} recorded)"
            )
            return None, CassetteMismatch(message, index=index, sent=sent)
        expected = interactions[closest]["request"]
        differences = tuple(_differences(expected, sent, body))
        message = (
            f"request {index} does not match {name}"
            + ("" if self.ignore_order else f" (interaction {closest})")
            + f":\n  recorded: {_describe(expected)}\n  sent:     {_describe(sent)}\n"
            + "".join(f"  - {d}\n" for d in differences)
        ).rstrip()
        return None, CassetteMismatch(
            message, index=index, expected=expected, sent=sent, differences=differences
        )

    def check(self, *, all_played: bool = True) -> None:
        """Raise the first mismatch again (it may have been swallowed), and with
        ``all_played`` a :class:`CassetteMismatch` if recorded interactions went unused."""
        if self.mismatch is not None:
            raise self.mismatch
        left = self.unplayed
        if all_played and left:
            listed = "".join(
                f"\n  {i}: {_describe(self.cassette.interactions[i]['request'])}" for i in left[:10]
            )
            raise CassetteMismatch(
                f"{len(left)} of {len(self._used)} interactions in {self.cassette.name} "
                f"were never requested:{listed}",
                expected=self.cassette.interactions[left[0]]["request"],
            )


def _replay_settings(settings: dict[str, Any]) -> dict[str, Any]:
    if not {"environment", "base_url", "certification"} & settings.keys():
        settings["certification"] = True  # where cassettes are recorded; nothing is sent
    return settings


class _Replaying:
    player: CassettePlayer
    calls: Any

    def _base_path(self) -> str:
        return str(urlsplit(self.calls.settings.environment.base_url).path.rstrip("/"))

    def _answer(self, request: Request, timeout: float | None = None) -> Response:
        return self.player.answer(
            request, secrets=self.calls.machine.secrets(), base_path=self._base_path()
        )

    def drive_now(self, operation: Operation[T]) -> T:
        """Run ``operation`` to its end from the cassette, synchronously (nothing waits)."""
        clock = self.player.clock
        prompt = getattr(self, "prompt", None)
        ask = prompt if prompt is not None and not inspect.iscoroutinefunction(prompt) else None
        return drive(operation, self._answer, clock=clock, sleep=clock.sleep, ask=ask)


class ReplaySession(_Replaying, SyncSession):
    """A synchronous session that answers from a cassette, with no network.

    ``cassette`` is a :class:`Cassette`, a path, or a :class:`CassettePlayer`;
    ``ignore_order`` and ``ignore_body`` relax the matching (see
    :class:`CassettePlayer`). Other keywords are the session's own
    (``token_store``, ``prompt``...); it talks to the sandbox by default, and
    paths are compared relative to its base URL. Its clock is the player's.
    """

    def __init__(
        self,
        cassette: Cassette | CassettePlayer | str | os.PathLike[str],
        *,
        ignore_order: bool = False,
        ignore_body: bool = False,
        **settings: Any,
    ) -> None:
        self.player = (
            cassette
            if isinstance(cassette, CassettePlayer)
            else CassettePlayer(cassette, ignore_order=ignore_order, ignore_body=ignore_body)
        )
        super().__init__(entropy=self.player.entropy, **_replay_settings(settings))

    def run(self, operation: Operation[T]) -> T:
        """Drive ``operation`` against the cassette."""
        return self.drive_now(operation)

    def close(self) -> None:
        """Nothing to release."""


class AsyncReplaySession(_Replaying, AsyncSession):
    """:class:`ReplaySession` for asynchronous code, under asyncio or trio alike:
    nothing it does waits for the event loop (a ``Wait`` moves its clock)."""

    def __init__(
        self,
        cassette: Cassette | CassettePlayer | str | os.PathLike[str],
        *,
        ignore_order: bool = False,
        ignore_body: bool = False,
        **settings: Any,
    ) -> None:
        self.player = (
            cassette
            if isinstance(cassette, CassettePlayer)
            else CassettePlayer(cassette, ignore_order=ignore_order, ignore_body=ignore_body)
        )
        super().__init__(entropy=self.player.entropy, **_replay_settings(settings))

    async def run(self, operation: Operation[T]) -> T:
        """Drive ``operation`` against the cassette."""
        clock = self.player.clock

        async def send(request: Request) -> Response:
            return self._answer(request)

        async def sleep(seconds: float) -> None:
            clock.sleep(seconds)

        return await drive_async(operation, send, clock=clock, sleep=sleep, ask=self.prompt)

    async def close(self) -> None:
        """Nothing to release."""


# -- the pytest fixture's work (the plugin only finds the file and the mode) -----------------

#: Environment variables the fixture reads.
MODE_VARIABLE = "TASTYTRADE_CASSETTE_MODE"
BASE_URL_VARIABLE = "TASTYTRADE_CASSETTE_BASE_URL"
CA_BUNDLE_VARIABLE = "TASTYTRADE_CASSETTE_CA_BUNDLE"


class _HTTPClientSession(SyncSession):
    """A synchronous session over the standard library's ``http.client``: what the
    fixture records through (any transport would do; this one needs no extra package).
    One connection per request, TLS verified against the system's authorities or
    ``ca_bundle``."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(jitter=random.random, entropy=os.urandom, **settings)

    def _send(self, request: Request, timeout: float | None = None) -> Response:
        seconds = self.settings.timeout if timeout is None else timeout
        url = urlsplit(request.url)
        host, port = url.hostname or "", url.port
        conn: http.client.HTTPConnection
        if url.scheme == "https":
            context = ssl.create_default_context(cafile=self.settings.ca_bundle)
            conn = http.client.HTTPSConnection(host, port, timeout=seconds, context=context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=seconds)
        target = url._replace(scheme="", netloc="").geturl() or "/"
        headers = {**dict(request.headers), "connection": "close"}
        try:
            conn.request(request.method, target, body=request.body or None, headers=headers)
            reply = conn.getresponse()
            return Response(reply.status, tuple(reply.getheaders()), reply.read())
        except TimeoutError as exc:
            raise TransportTimeout(f"timed out: {exc}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
        finally:
            conn.close()

    def run(self, operation: Operation[T]) -> T:
        """Drive ``operation`` over real connections."""
        return drive(
            operation,
            self.timed(operation, self._send),
            clock=time.time,
            sleep=time.sleep,
            ask=self.prompt,
        )

    def close(self) -> None:
        """Nothing is kept open."""


class _BlockingAsync(AsyncSession):
    """An asynchronous face on a synchronous session, for recording from async tests:
    each call runs to its end in place (blocking the event loop, which a one-off
    recording can afford), so it works under asyncio and trio alike."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls = inner.calls
        self.settings = inner.settings
        self.prompt = None
        self.core_lock = contextlib.nullcontext()

    async def run(self, operation: Operation[T]) -> T:
        result: T = self._inner.run(operation)
        return result

    async def close(self) -> None:
        self._inner.close()


def _log_in(
    run: Callable[[Operation[Any]], Any],
    calls: Any,
    *,
    oauth: tuple[str, str] | None = None,
    login: str = "",
    password: str = "",
    remember_token: str | None = None,
    remember_me: bool = True,
    otp: str | None = None,
) -> None:
    """Log in, submitting ``otp`` when the server asks for a second factor."""
    if oauth is not None:
        run(calls.login_with_oauth(*oauth))
        return
    try:
        if remember_token is not None:
            run(calls.login_with_remember_token(login, remember_token, remember_me=remember_me))
        else:
            run(calls.login_with_password(login, password, remember_me=remember_me))
    except SecondFactorRequired:
        if otp is None:
            raise
        run(calls.submit_second_factor(otp))


def _login_from_environment(
    run: Callable[[Operation[Any]], Any], calls: Any, env: Mapping[str, str]
) -> None:
    if env.get("TASTYTRADE_CLIENT_SECRET") and env.get("TASTYTRADE_REFRESH_TOKEN"):
        oauth = (env["TASTYTRADE_CLIENT_SECRET"], env["TASTYTRADE_REFRESH_TOKEN"])
        _log_in(run, calls, oauth=oauth)
    elif env.get("TASTYTRADE_LOGIN") and env.get("TASTYTRADE_PASSWORD"):
        _log_in(
            run,
            calls,
            login=env["TASTYTRADE_LOGIN"],
            password=env["TASTYTRADE_PASSWORD"],
            otp=env.get("TASTYTRADE_OTP"),
        )
    else:
        raise RuntimeError(
            "recording a cassette needs credentials: set TASTYTRADE_CLIENT_SECRET and "
            "TASTYTRADE_REFRESH_TOKEN (OAuth), or TASTYTRADE_LOGIN and TASTYTRADE_PASSWORD "
            "(and TASTYTRADE_OTP if the account asks for a code)"
        )


#: The placeholder credentials a replayed login is made with (scrubbed before matching).
_PLACEHOLDER = "cassette-placeholder"


def _login_from_cassette(
    run: Callable[[Operation[Any]], Any], calls: Any, cassette: Cassette
) -> None:
    first = cassette.interactions[0]["request"] if cassette.interactions else {}
    path, body = str(first.get("path", "")), first.get("json") or first.get("form") or {}
    if first.get("method") == "POST" and path.endswith("/oauth/token"):
        _log_in(run, calls, oauth=(_PLACEHOLDER, _PLACEHOLDER))
    elif first.get("method") == "POST" and path.endswith("/sessions") and isinstance(body, dict):
        _log_in(
            run,
            calls,
            login=str(body.get("login", "")),
            password=_PLACEHOLDER,
            remember_token=_PLACEHOLDER if "remember-token" in body else None,
            remember_me=bool(body.get("remember-me", False)),
            otp="000000",
        )
    else:
        raise CassetteMismatch(
            f"{cassette.name} does not start with a login (POST /oauth/token or /sessions), "
            "so the fixture cannot log in: mark the test with login=False"
        )


class CassetteFixture:
    """What the ``tastytrade_cassette`` fixtures hold (the pytest plugin's machinery):
    ``session``, recording into ``path`` or replaying it, and :meth:`finish`."""

    def __init__(
        self,
        path: Path,
        *,
        record: bool,
        asynchronous: bool,
        env: Mapping[str, str],
        login: bool = True,
        accounts: bool | Mapping[str, str] = True,
        ignore_order: bool = False,
        ignore_body: bool = False,
        all_played: bool = True,
    ) -> None:
        self.path, self.record, self.all_played = path, record, all_played
        self.recorder: Recorder | None = None
        self.player: CassettePlayer | None = None
        self.session: Any
        if record:
            base_url = env.get(BASE_URL_VARIABLE)
            where: dict[str, Any] = {"base_url": base_url} if base_url else {"certification": True}
            inner = _HTTPClientSession(ca_bundle=env.get(CA_BUNDLE_VARIABLE) or None, **where)
            self._inner: Any = inner
            self.recorder = Recorder(inner, accounts=accounts)
            if login:
                try:
                    _login_from_environment(inner.run, inner.calls, env)
                except BaseException:
                    inner.close()
                    raise
            self.session = _BlockingAsync(inner) if asynchronous else inner
        else:
            if not path.is_file():
                raise FileNotFoundError(
                    f"cassette {path} not found: record it once with "
                    f"{MODE_VARIABLE}=record (see docs/testing.md, Cassettes)"
                )
            player = CassettePlayer(path, ignore_order=ignore_order, ignore_body=ignore_body)
            self.player = player
            replay: ReplaySession | AsyncReplaySession = (
                AsyncReplaySession(player) if asynchronous else ReplaySession(player)
            )
            if login:
                _login_from_cassette(replay.drive_now, replay.calls, player.cassette)
            self.session = replay

    def finish(self, passed: bool) -> None:
        """Save the recording, or check the replay (only when the test passed)."""
        if self.recorder is not None:
            self.recorder.close()
            try:
                if passed:
                    self.recorder.save(self.path)
            finally:
                self._inner.close()
        elif self.player is not None and passed:
            self.player.check(all_played=self.all_played)


def cassette_mode(option: str | None, env: Mapping[str, str]) -> bool:
    """Whether the fixture records (``record``) or replays (``replay``, the default)."""
    mode = (option or env.get(MODE_VARIABLE) or "replay").strip().lower()
    if mode not in ("record", "replay"):
        raise ValueError(f"{MODE_VARIABLE} must be 'record' or 'replay', got {mode!r}")
    return mode == "record"
