"""A seeded fault campaign over real sockets, for the three transports.

Shared by ``tests/test_fault_campaign.py`` (a few hundred injections, every invariant
asserted) and ``bench/fault_campaign.py`` (the same campaign at scale, as a table).

A *run* is one fresh :class:`FakeTastytradeServer` (TLS on loopback) whose tokens live
2 s, one transport, and one authentication scheme: OAuth with rotating refresh tokens, or
the legacy flow (a password and its device-challenge code, then single-use remember
tokens). A run alternates

* sequential stretches: random operations one at a time, each perhaps preceded by a fault
  aimed at its request and perhaps cancelled by its caller (asyncio: ``wait_for`` or
  ``task.cancel()`` after a delay or some loop turns; trio: ``move_on_after`` or a cancel
  scope cancelled after some checkpoints; requests: Ctrl-C in the main thread, by
  ``_thread.interrupt_main()`` or a real ``SIGINT``);
* concurrent stretches: several threads (requests) or tasks (aiohttp, trio) share the
  session, with faults, and with cancellations where the transport has tasks.

The invariants (:func:`check_orders` after every stretch, the rest as they arise or at the
end of the run); each failure is recorded with its traceback where there is one:

1. orders: no external identifier was POSTed twice; the fake holds at most one placed
   order per identifier (a replacement carries its order's identifier on, so the orders
   carrying one form a chain with one root and at most one still open); no PUT or DELETE
   of an order reached the fake more often than the client called; and what each caller
   was told is true of the fake (``PlacedOrder``: held; ``OrderNotPlaced``: held nowhere;
   ``find_order``: as held), while a placement whose caller was cancelled after its POST
   reached the fake is listed in ``unsettled_orders``;
2. tokens: no single-use token the store saw is ever refused (``InvalidCredentials``,
   ``OAuthError``), and at the end the last one the store saw logs in again;
3. errors: whatever reached a caller is a ``TastytradeError`` or the cancellation that
   caller asked for;
4. resources: once the session is closed and the server stopped, no thread the run
   started is alive and no file descriptor is left open.

Faults that make the *server* spend a single-use token and then lose its answer are never
aimed at the token endpoints (``POST /oauth/token``, ``POST /sessions``): a fault after
handling, or an answer slower than the request's timeout. No client can recover a token
whose only copy the network dropped (docs/reliability.md). Slow token answers are injected
*within* the timeout instead, and cancelled more often: that is where a caller's
cancellation could lose a token.
"""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import functools
import gc
import importlib
import os
import random
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from types import FrameType
from typing import Any

from tastytrade_proto import (
    InvalidCredentials,
    OAuthError,
    RefreshTokenRotated,
    RememberTokenIssued,
    RetryPolicy,
    SecondFactorRequired,
    TastytradeError,
    TokenEvent,
)
from tastytrade_proto.orders import (
    NewLeg,
    NewOrder,
    OrderNotPlaced,
    OrderOutcomeUnknown,
    PlacedOrder,
    Replacement,
)
from tastytrade_proto.protocol import AuthState
from tastytrade_proto.protocol.operation import drive
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeTastytradeAPI,
    FakeTastytradeServer,
    Fault,
    FaultKind,
)

TRANSPORTS = ("requests", "aiohttp", "trio")
ACCOUNT = "5WT00001"
ORDERS = f"/accounts/{ACCOUNT}/orders"
LIVE = f"{ORDERS}/live"
OAUTH_TOKEN = "/oauth/token"
SESSIONS = "/sessions"

#: A call aimed at by a SLOW fault gets this timeout; the answer comes a little later.
SLOW_TIMEOUT = 0.25
SLOW_DELAY = 0.3
#: A slow answer from a token endpoint still comes well within the timeout (see above).
SLOW_TOKEN_DELAY = 0.05
#: Every other request's deadline: generous, reached only if something hangs.
SESSION_TIMEOUT = 5.0
#: The library's retries, with waits short enough for a test.
RETRY = RetryPolicy(base=0.005, cap=0.02)
RECONCILE_DELAYS = (0.01, 0.02)
#: Tokens live 2 s and are renewed when 1.5 s are left: a renewal every ~0.5 s of use.
ACCESS_TOKEN_LIFETIME = 2
SESSION_LIFETIME = 2.0
REFRESH_MARGIN = 1.5

FAULT_CHANCE = 0.6  # that an operation is preceded by a fault aimed at it
LOOKUP_FAULT_CHANCE = 0.25  # that a faulted placement's look-up fails too
CANCEL_CHANCE = 0.25  # that its caller cancels it (twice that for token exchanges)
CANCEL_HORIZON = 0.012  # s: a cancellation comes this soon, or within a slow answer's delay
SEQUENCE_LENGTH = 10
WORKERS = 3
WORKER_OPERATIONS = 4
INJECTIONS_PER_RUN = 30

# -- counts ----------------------------------------------------------------------------------


@dataclass
class Tally:
    """What a campaign did, and every invariant it saw broken."""

    runs: int = 0
    injections: int = 0
    injections_hit: int = 0  # of them, met by a request
    operations: int = 0
    placements: int = 0  # place_order calls, ending in one of the next six
    placed: int = 0  # PlacedOrder from the answer
    reconciled: int = 0  # PlacedOrder found after the answer was lost
    unknown: int = 0  # OrderOutcomeUnknown
    not_placed: int = 0  # OrderNotPlaced
    interrupted: int = 0  # the caller was cancelled meanwhile
    other: int = 0  # another TastytradeError (a LocalProtocolError, say)
    looked_up: int = 0  # unknown or interrupted placements settled by find_order
    replaces: int = 0
    cancels: int = 0
    tokens_rotated: int = 0  # refresh and remember tokens the store saw
    cancel_attempts: int = 0
    cancellations: int = 0  # of them, reached the caller as its cancellation
    errors: Counter[str] = field(default_factory=Counter)  # TastytradeErrors callers saw
    violations: list[str] = field(default_factory=list)
    slowest: float = 0.0  # s, the longest operation

    def add(self, other: Tally) -> None:
        """Add ``other``'s counts to these."""
        for name, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
        self.errors.update(other.errors)
        self.violations.extend(other.violations)
        self.slowest = max(self.slowest, other.slowest)


COLUMNS = (
    ("runs", "runs"),
    ("injections", "injections"),
    ("injections_hit", "hit"),
    ("operations", "operations"),
    ("placements", "placements"),
    ("placed", "placed"),
    ("reconciled", "reconciled"),
    ("unknown", "unknown"),
    ("not_placed", "not placed"),
    ("interrupted", "interrupted"),
    ("other", "other"),
    ("tokens_rotated", "tokens rotated"),
    ("cancellations", "cancellations"),
    ("violations", "violations"),
)


def table(rows: dict[str, Tally]) -> str:
    """The counts as a Markdown table: one row per transport, and the total."""
    total = Tally()
    for tally in rows.values():
        total.add(tally)

    def cell(tally: Tally, name: str) -> str:
        value = getattr(tally, name)
        return str(len(value) if isinstance(value, list) else value)

    header = ["transport", *(title for _, title in COLUMNS)]
    lines = [header] + [
        [name, *(cell(tally, key) for key, _ in COLUMNS)]
        for name, tally in [*rows.items(), ("total", total)]
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "| " + " | ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    ]
    text.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(text)


# -- how one call ended ----------------------------------------------------------------------


@dataclass
class Outcome:
    """``ok`` (with ``value``), ``error`` (a TastytradeError), ``cancelled`` (the caller's own
    cancellation reached it) or ``violation`` (anything else reached it)."""

    kind: str
    value: Any = None
    error: BaseException | None = None


def _classify(error: BaseException) -> Outcome:
    if isinstance(error, TastytradeError):
        return Outcome("error", error=error)
    return Outcome("violation", error=error)


def describe(what: str, error: BaseException | None) -> str:
    """``what``, with the error and its traceback."""
    if error is None:
        return what
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return f"{what}: {type(error).__name__}: {error}\n{trace}"


def run_sync(awaitable: Awaitable[Any]) -> Any:
    """Run a coroutine that never suspends (every await under the sync transport) to its end."""
    coroutine: Coroutine[Any, Any, Any] = awaitable  # type: ignore[assignment]
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a synchronous campaign step awaited something that suspends")


@dataclass(frozen=True)
class Cancel:
    """How a caller gives up: ``how``, after ``delay`` seconds or ``turns`` checkpoints."""

    how: str
    delay: float = 0.0
    turns: int = 0


# -- what differs between transports --------------------------------------------------------


class Runner:
    """Running a campaign, cancelling a call, and doing things at once, per transport."""

    kind = ""
    sync = False

    def main(self, body: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``body`` as this transport's program would."""
        raise NotImplementedError

    async def attempt(self, call: Callable[[], Awaitable[Any]], cancel: Cancel | None) -> Outcome:
        """Make ``call``, cancelling it as ``cancel`` says; how it ended (never raises)."""
        raise NotImplementedError

    async def together(self, bodies: list[Callable[[], Awaitable[None]]]) -> list[str]:
        """Run ``bodies`` at once; what escaped any of them, described."""
        raise NotImplementedError

    def cancel_plan(self, rng: random.Random, horizon: float) -> Cancel:
        """A random way to give up, within about ``horizon`` seconds."""
        raise NotImplementedError

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Whatever the runner needs in place during a run."""
        yield


class _CtrlC:
    """Ctrl-C aimed at one call in the main thread, for the synchronous transport.

    A timer thread interrupts the main thread (``_thread.interrupt_main()``, or a real
    ``SIGINT``). Our SIGINT handler raises ``KeyboardInterrupt`` only while that call is
    armed and inside the library's ``drive`` loop: an interrupt arriving once the library
    has handed its result back came too late to cancel anything, and must not land in the
    campaign's own bookkeeping instead. (The library's shield holds SIGINT back during a
    must-complete send and then calls this handler with the frame it arrived in.)
    """

    def __init__(self) -> None:
        # Reentrant: the handler runs in the main thread, which may hold the lock just then.
        self.lock = threading.RLock()
        self.generation = 0  # one per armed call
        self.armed = 0  # the generation armed, 0 for none
        self.tripped = 0  # the generation the timer fired for
        self.raised = 0  # the generation a KeyboardInterrupt was raised for
        self.previous: Any = None

    def install(self) -> None:
        self.previous = signal.signal(signal.SIGINT, self._handle)

    def uninstall(self) -> None:
        signal.signal(signal.SIGINT, self.previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        with self.lock:
            current = self.armed
            if not current or self.tripped != current or not _inside_drive(frame):
                return
            self.armed, self.raised = 0, current
        raise KeyboardInterrupt

    def call(self, call: Callable[[], Any], cancel: Cancel) -> tuple[Any, BaseException | None]:
        """``call()`` with Ctrl-C due after ``cancel.delay``: its value, or what it raised."""
        with self.lock:
            self.generation += 1
            generation = self.armed = self.generation
        main = threading.main_thread().ident
        assert main is not None

        def fire() -> None:
            with self.lock:
                if self.armed != generation:
                    return
                self.tripped = generation
            if cancel.how == "sigint":
                signal.pthread_kill(main, signal.SIGINT)
            else:
                _thread.interrupt_main()

        timer = threading.Timer(cancel.delay, fire)
        value: Any = None
        error: BaseException | None = None
        with no_collection():
            timer.start()
            try:
                value = call()
            except BaseException as exc:
                error = exc
            finally:
                with self.lock:
                    self.armed = 0
                timer.cancel()
                timer.join()
        return value, error


@contextlib.contextmanager
def no_collection() -> Iterator[None]:
    """No cyclic garbage collection while a Ctrl-C may land: a finalizer of another test's
    garbage (a trio nursery, say) run just then would swallow the KeyboardInterrupt as an
    "exception ignored in __del__" instead of the call it was aimed at."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_DRIVE = drive.__code__


def _inside_drive(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code is _DRIVE:
            return True
        frame = frame.f_back
    return False


class RequestsRunner(Runner):
    """Plain calls; threads at once; Ctrl-C (in the main thread only) to cancel."""

    kind, sync = "requests", True

    def __init__(self) -> None:
        self.ctrl_c = _CtrlC()

    @contextmanager
    def installed(self) -> Iterator[None]:
        self.ctrl_c.install()
        try:
            yield
        finally:
            self.ctrl_c.uninstall()

    def main(self, body: Callable[[], Awaitable[Any]]) -> Any:
        return run_sync(body())

    async def attempt(self, call: Callable[[], Awaitable[Any]], cancel: Cancel | None) -> Outcome:
        if cancel is None or threading.current_thread() is not threading.main_thread():
            try:
                return Outcome("ok", run_sync(call()))
            except BaseException as exc:
                return _classify(exc)
        generation = self.ctrl_c.generation + 1
        value, error = self.ctrl_c.call(lambda: run_sync(call()), cancel)
        if error is None:
            return Outcome("ok", value)
        if isinstance(error, KeyboardInterrupt) and self.ctrl_c.raised == generation:
            return Outcome("cancelled", error=error)
        return _classify(error)

    async def together(self, bodies: list[Callable[[], Awaitable[None]]]) -> list[str]:
        escaped: list[str] = []

        def work(body: Callable[[], Awaitable[None]]) -> None:
            try:
                run_sync(body())
            except BaseException as exc:
                escaped.append(describe("a worker thread died", exc))

        threads = [threading.Thread(target=work, args=(body,)) for body in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return escaped

    def cancel_plan(self, rng: random.Random, horizon: float) -> Cancel:
        return Cancel(rng.choice(("interrupt_main", "sigint")), delay=rng.uniform(0, horizon))


class AsyncioRunner(Runner):
    """aiohttp: ``wait_for``, or ``task.cancel()`` after a delay or some loop turns; tasks."""

    kind = "aiohttp"

    def main(self, body: Callable[[], Awaitable[Any]]) -> Any:
        return asyncio.run(body())  # type: ignore[arg-type]

    async def attempt(self, call: Callable[[], Awaitable[Any]], cancel: Cancel | None) -> Outcome:
        if cancel is None:
            try:
                return Outcome("ok", await call())
            except BaseException as exc:
                return _classify(exc)
        if cancel.how == "wait_for":
            try:
                return Outcome("ok", await asyncio.wait_for(call(), cancel.delay))
            except asyncio.TimeoutError as exc:
                if isinstance(exc.__cause__, asyncio.CancelledError):  # wait_for's own
                    return Outcome("cancelled", error=exc)
                return _classify(exc)
            except BaseException as exc:
                return _classify(exc)
        task = asyncio.ensure_future(call())
        timer = None
        if cancel.how == "delay":
            timer = asyncio.get_running_loop().call_later(cancel.delay, task.cancel)
        else:
            for _ in range(cancel.turns):
                if task.done():
                    break
                await asyncio.sleep(0)
            task.cancel()
        try:
            return Outcome("ok", await task)
        except asyncio.CancelledError as exc:
            if task.cancelled():
                return Outcome("cancelled", error=exc)
            return _classify(exc)
        except BaseException as exc:
            return _classify(exc)
        finally:
            if timer is not None:
                timer.cancel()

    async def together(self, bodies: list[Callable[[], Awaitable[None]]]) -> list[str]:
        results = await asyncio.gather(*(body() for body in bodies), return_exceptions=True)
        return [describe("a worker task died", r) for r in results if isinstance(r, BaseException)]

    def cancel_plan(self, rng: random.Random, horizon: float) -> Cancel:
        how = rng.choice(("wait_for", "delay", "turns"))
        return Cancel(how, delay=rng.uniform(0, horizon), turns=rng.randrange(40))


class TrioRunner(Runner):
    """trio: ``move_on_after``, or a scope a sibling cancels after some checkpoints; a
    nursery at once."""

    kind = "trio"

    def main(self, body: Callable[[], Awaitable[Any]]) -> Any:
        import trio

        return trio.run(body)

    async def attempt(self, call: Callable[[], Awaitable[Any]], cancel: Cancel | None) -> Outcome:
        import trio

        if cancel is None:
            try:
                return Outcome("ok", await call())
            except BaseException as exc:
                return _classify(exc)
        if cancel.how == "move_on_after":
            outcome = Outcome("cancelled")  # unless the call ends first
            try:
                with trio.move_on_after(cancel.delay):
                    outcome = Outcome("ok", await call())
            except BaseException as exc:
                return _classify(exc)
            return outcome

        async def cancel_later(scope: trio.CancelScope) -> None:
            for _ in range(cancel.turns):
                await trio.lowlevel.checkpoint()
            scope.cancel()

        found: list[Outcome] = []
        try:
            async with trio.open_nursery() as nursery:
                with trio.CancelScope() as scope:
                    nursery.start_soon(cancel_later, scope)
                    try:
                        found.append(Outcome("ok", await call()))
                    except BaseException as exc:
                        if only_cancelled(exc, trio.Cancelled):
                            raise  # the scope's to catch
                        found.append(_classify(exc))
                nursery.cancel_scope.cancel()
        except BaseException as exc:
            return _classify(exc)
        return Outcome("cancelled") if scope.cancelled_caught else found[0]

    async def together(self, bodies: list[Callable[[], Awaitable[None]]]) -> list[str]:
        import trio

        escaped: list[str] = []

        async def guarded(body: Callable[[], Awaitable[None]]) -> None:
            try:
                await body()
            except BaseException as exc:
                escaped.append(describe("a worker task died", exc))

        async with trio.open_nursery() as nursery:
            for body in bodies:
                nursery.start_soon(guarded, body)
        return escaped

    def cancel_plan(self, rng: random.Random, horizon: float) -> Cancel:
        how = rng.choice(("move_on_after", "turns"))
        return Cancel(how, delay=rng.uniform(0, horizon), turns=rng.randrange(40))


def only_cancelled(error: BaseException, cancelled: type[BaseException]) -> bool:
    """Whether ``error`` is a trio cancellation, or a group of nothing else (a nursery inside
    the call, such as trio's own ``open_tcp_stream``, wraps the one it met)."""
    if isinstance(error, cancelled):
        return True
    split = getattr(error, "split", None)
    return split is not None and split(cancelled)[1] is None


RUNNERS: dict[str, Callable[[], Runner]] = {
    "requests": RequestsRunner,
    "aiohttp": AsyncioRunner,
    "trio": TrioRunner,
}


# -- the session and the token store ---------------------------------------------------------


class Client:
    """One transport's session, every call awaitable (the sync session's made at once)."""

    def __init__(self, session: Any, sync: bool) -> None:
        self.session, self.sync = session, sync

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.session, name)(*args, **kwargs)
        return result if self.sync else await result

    async def close(self) -> None:
        result = self.session.close()
        if not self.sync:
            await result

    @property
    def state(self) -> AuthState:
        state: AuthState = self.session.machine.state
        return state

    def unsettled(self) -> set[str]:
        return {entry.external_identifier for entry in self.session.unsettled_orders}


class TokenLog:
    """The token store: the single-use tokens that arrived, in the order they arrived."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.refresh: list[str] = []
        self.remember: list[str] = []

    def __call__(self, event: TokenEvent) -> None:
        with self.lock:
            if isinstance(event, RefreshTokenRotated):
                self.refresh.append(event.token)
            elif isinstance(event, RememberTokenIssued):
                self.remember.append(event.token)

    def latest(self, legacy: bool) -> str:
        """What a restarted application would log in with."""
        with self.lock:
            if legacy:
                return self.remember[-1]
            return self.refresh[-1] if self.refresh else DEMO_REFRESH_TOKEN

    @property
    def rotated(self) -> int:
        return len(self.refresh) + len(self.remember)


# -- one run's state -------------------------------------------------------------------------


Target = tuple[str, str, bool]  # method, path (a prefix), whether its answer spends a token


@dataclass
class Step:
    """One operation: the requests a fault may be aimed at, the call (given a timeout, or
    ``None`` for the session's), and what to note once it ended."""

    name: str
    targets: tuple[Target, ...]
    call: Callable[[float | None], Awaitable[Any]]
    done: Callable[[Outcome], None] = lambda outcome: None


class Run:
    """One fresh fake server, one scheme, one transport."""

    def __init__(
        self, runner: Runner, server: FakeTastytradeServer, seed: int, legacy: bool
    ) -> None:
        self.runner, self.server, self.api = runner, server, server.api
        self.rng = random.Random(seed)
        self.seed, self.legacy = seed, legacy
        self.tally = Tally(runs=1)
        self.tokens = TokenLog()
        self.lock = threading.RLock()  # the bookkeeping below, shared by threads
        self.client: Client | None = None
        self.ssl_context = server.client_ssl_context()
        self.resting: list[int] = []  # ids of our orders believed open
        self.outcomes: dict[str, str] = {}  # external identifier -> what its caller was told
        self.unresolved: list[str] = []  # unknown or interrupted, not yet looked up
        self.client_calls: Counter[tuple[str, str]] = Counter()  # PUT/DELETE per path
        self.posts: Counter[str] = Counter()  # order POSTs received per external identifier
        self.received: Counter[tuple[str, str]] = Counter()  # PUT/DELETE received per path
        self.scanned = 0  # how many of the fake's requests were looked at
        self.reported: set[str] = set()
        self.numbers = 0

    def violation(self, text: str) -> None:
        """Record a broken invariant (once per first line)."""
        with self.lock:
            key = text.split("\n", 1)[0]
            if key not in self.reported:
                self.reported.add(key)
                self.tally.violations.append(f"[{self.runner.kind} seed {self.seed}] {text}")

    def count(self, name: str, by: int = 1) -> None:
        with self.lock:
            setattr(self.tally, name, getattr(self.tally, name) + by)

    def new_identifier(self) -> str:
        with self.lock:
            self.numbers += 1
            return f"fc-{self.runner.kind}-{self.seed}-{self.numbers}"

    def scan(self) -> None:
        """Take in the requests the fake received since the last look."""
        with self.lock:
            new = self.api.requests[self.scanned :]
            self.scanned += len(new)
            for request in new:
                if request.method == "POST" and request.path == ORDERS:
                    body = request.json()
                    if isinstance(body, dict):
                        self.posts[str(body.get("external-identifier"))] += 1
                elif request.method in ("PUT", "DELETE") and request.path.startswith(ORDERS + "/"):
                    self.received[(request.method, request.path)] += 1

    def held(self, identifier: str) -> tuple[int, int]:
        """The fake's orders carrying ``identifier``: how many were placed (a replacement
        carries its order's identifier on), and how many are still open."""
        carrying = [
            order
            for order in list(self.api.accounts[ACCOUNT].orders)
            if order.get("external-identifier") == identifier
        ]
        placed = sum(1 for order in carrying if "replaces-order-id" not in order)
        return placed, sum(1 for order in carrying if order.get("cancellable"))

    def inject(self, target: Target, *, lookup: bool = False) -> Fault:
        """Aim a random fault at ``target`` (with ``lookup``: a 500, never retried)."""
        method, path, spends_token = target
        kinds = [
            FaultKind.DISCONNECT,
            FaultKind.TRUNCATED,
            FaultKind.SERVER_ERROR,
            FaultKind.HTML_ERROR,
            FaultKind.RATE_LIMITED,
            FaultKind.SLOW,
        ]
        if spends_token:  # a slow token answer is where a caller's cancellation can hurt
            kinds.append(FaultKind.SLOW)
        kind = self.rng.choice(kinds)
        if lookup:
            fault = Fault(FaultKind.SERVER_ERROR, status=500, method=method, path=path)
        elif kind is FaultKind.SLOW:
            delay = SLOW_TOKEN_DELAY if spends_token else SLOW_DELAY
            fault = Fault(kind, delay=delay, method=method, path=path)
        elif kind is FaultKind.RATE_LIMITED:  # a 429 comes before any handling
            fault = Fault(kind, retry_after="0", method=method, path=path)
        else:
            after = not spends_token and self.rng.random() < 0.5
            status = self.rng.choice((500, 502, 503)) if kind is FaultKind.SERVER_ERROR else 503
            fault = Fault(kind, status=status, method=method, path=path, after_handling=after)
        self.api.inject(fault)
        self.count("injections")
        return fault

    def disarm(self, faults: list[Fault]) -> None:
        """Switch off the faults no request met; count those that were."""
        for fault in faults:
            if fault.times > 0:
                fault.times = 0  # the fake skips it from now on
            else:
                self.count("injections_hit")

    def new_client(self) -> Client:
        module = importlib.import_module(f"tastytrade_{self.runner.kind}")
        session = module.Session(
            base_url=self.server.base_url,
            ssl_context=self.ssl_context,
            token_store=self.tokens,
            timeout=SESSION_TIMEOUT,
            retry=RETRY,
        )
        session.machine.refresh_margin = REFRESH_MARGIN
        return Client(session, self.runner.sync)


# -- the operations ----------------------------------------------------------------------------


def _read(run: Run, name: str, path: str, *args: Any) -> Step:
    client = run.client
    assert client is not None
    return Step(name, (("GET", path, False),), lambda t: client.call(name, *args, timeout=t))


def op_balances(run: Run) -> Step:
    return _read(run, "balances", f"/accounts/{ACCOUNT}/balances", ACCOUNT)


def op_positions(run: Run) -> Step:
    return _read(run, "positions", f"/accounts/{ACCOUNT}/positions", ACCOUNT)


def op_customer(run: Run) -> Step:
    return _read(run, "customer", "/customers/me")


def op_accounts(run: Run) -> Step:
    return _read(run, "accounts", "/customers/me/accounts")


def op_live_orders(run: Run) -> Step:
    """Read the day's orders, and take our open ones as the ones to replace and cancel."""
    step = _read(run, "live_orders", LIVE, ACCOUNT)

    def done(outcome: Outcome) -> None:
        if outcome.kind == "ok":
            ours = [
                order.id
                for order in outcome.value
                if (order.external_identifier or "").startswith("fc-") and order.cancellable
            ]
            with run.lock:
                run.resting = ours

    step.done = done
    return step


def op_validate(run: Run) -> Step:
    client = run.client
    assert client is not None
    target = ("POST", "/sessions/validate", False)
    return Step("validate", (target,), lambda t: client.call("validate", timeout=t))


def op_refresh(run: Run) -> Step:
    client = run.client
    assert client is not None
    target = ("POST", OAUTH_TOKEN, True)
    return Step("refresh", (target,), lambda t: client.call("refresh", timeout=t))


def op_login(run: Run) -> Step:
    """Start again as an application would: a new session, the last token the store saw."""
    token = run.tokens.latest(run.legacy)
    client = run.client = run.new_client()
    if run.legacy:
        name, args, target = "login_with_remember_token", (DEMO_LOGIN, token), SESSIONS
    else:
        name, args, target = "login_with_oauth", (DEMO_CLIENT_SECRET, token), OAUTH_TOKEN
    return Step("login", (("POST", target, True),), lambda t: client.call(name, *args, timeout=t))


def _price(run: Run) -> Decimal:
    return Decimal("-1.00") - Decimal(run.rng.randrange(50)) / 100  # a buy far below AAPL


def op_place(run: Run) -> Step:
    """Place a resting order under an identifier of its own; check what the caller is told."""
    client = run.client
    assert client is not None
    identifier = run.new_identifier()
    order = NewOrder.limit(
        NewLeg.equity("AAPL", "Buy to Open", 1),
        _price(run),
        time_in_force="GTC",
        external_identifier=identifier,
    )
    run.count("placements")

    async def call(timeout: float | None) -> Any:
        return await client.call(
            "place_order", ACCOUNT, order, reconcile_delays=RECONCILE_DELAYS, timeout=timeout
        )

    def done(outcome: Outcome) -> None:
        run.scan()
        placed, _ = run.held(identifier)
        error = outcome.error
        if outcome.kind == "ok":
            result: PlacedOrder = outcome.value
            told = "reconciled" if result.reconciled else "placed"
            if result.order.id is not None:
                with run.lock:
                    run.resting.append(result.order.id)
            if placed != 1:
                run.violation(f"place_order {identifier}: {told}, but the fake placed {placed}")
        elif isinstance(error, OrderNotPlaced):
            told = "not_placed"
            if placed:
                run.violation(describe(f"OrderNotPlaced, yet the fake holds {identifier}", error))
        elif isinstance(error, OrderOutcomeUnknown):
            told = "unknown"
            with run.lock:
                run.unresolved.append(identifier)
        elif outcome.kind == "cancelled":
            told = "interrupted"
            with run.lock:
                run.unresolved.append(identifier)
            # A placement the fake holds must stay findable. (One whose POST reached the fake
            # and was refused, a 429 say, is settled: certainly not placed, nothing to list.)
            if placed and identifier not in client.unsettled():
                run.violation(
                    f"place_order {identifier}: cancelled, the fake holds it, "
                    "and it is not in unsettled_orders"
                )
        else:
            told = "other"
        with run.lock:
            run.outcomes[identifier] = told
        run.count(told)

    return Step("place_order", (("POST", ORDERS, False),), call, done)


def _pick_resting(run: Run) -> int | None:
    with run.lock:
        if not run.resting:
            return None
        return run.resting.pop(run.rng.randrange(len(run.resting)))


def op_replace(run: Run) -> Step:
    client = run.client
    assert client is not None
    order_id = _pick_resting(run)
    if order_id is None:
        return op_live_orders(run)
    path = f"{ORDERS}/{order_id}"
    change = Replacement.limit(_price(run), time_in_force="GTC")

    async def call(timeout: float | None) -> Any:
        with run.lock:
            run.client_calls[("PUT", path)] += 1
        run.count("replaces")
        return await client.call("replace_order", ACCOUNT, order_id, change, timeout=timeout)

    def done(outcome: Outcome) -> None:
        if outcome.kind == "ok":
            with run.lock:
                run.resting.append(outcome.value.id)

    return Step("replace_order", (("PUT", path, False),), call, done)


def op_cancel(run: Run) -> Step:
    client = run.client
    assert client is not None
    order_id = _pick_resting(run)
    if order_id is None:
        return op_live_orders(run)
    path = f"{ORDERS}/{order_id}"

    async def call(timeout: float | None) -> Any:
        with run.lock:
            run.client_calls[("DELETE", path)] += 1
        run.count("cancels")
        return await client.call("cancel_order", ACCOUNT, order_id, timeout=timeout)

    return Step("cancel_order", (("DELETE", path, False),), call)


def op_find(run: Run) -> Step:
    """Look up a placement whose outcome is unknown, or whose caller was cancelled."""
    with run.lock:
        if not run.unresolved:
            identifier = None
        else:
            identifier = run.unresolved.pop(run.rng.randrange(len(run.unresolved)))
    if identifier is None:
        return op_live_orders(run)
    step = _read(run, "find_order", LIVE, ACCOUNT, identifier)

    def done(outcome: Outcome) -> None:
        if outcome.kind == "ok":
            check_found(run, identifier, outcome.value)
        else:
            with run.lock:
                run.unresolved.append(identifier)

    step.done = done
    return step


def check_found(run: Run, identifier: str, found: Any) -> None:
    """What ``find_order`` said of ``identifier`` is what the fake holds."""
    placed, _ = run.held(identifier)
    run.count("looked_up")
    if (found is not None) != (placed > 0):
        run.violation(
            f"find_order({identifier}) found {found is not None}; the fake placed {placed}"
        )
    if found is not None and run.client is not None and identifier in run.client.unsettled():
        run.violation(f"find_order found {identifier}, and unsettled_orders still lists it")


OPERATIONS: list[tuple[Callable[[Run], Step], int]] = [  # and their weights
    (op_place, 5),
    (op_replace, 2),
    (op_cancel, 2),
    (op_live_orders, 2),
    (op_balances, 2),
    (op_positions, 1),
    (op_customer, 1),
    (op_accounts, 1),
    (op_validate, 1),
    (op_refresh, 3),  # OAuth runs only
    (op_login, 2),  # sequential stretches only: it replaces the session
    (op_find, 1),
]


def _choose(rng: random.Random, legacy: bool, shared: bool) -> Callable[[Run], Step]:
    usable = [
        (op, weight)
        for op, weight in OPERATIONS
        if not (legacy and op is op_refresh) and not (shared and op is op_login)
    ]
    return rng.choices([op for op, _ in usable], [weight for _, weight in usable])[0]


# -- driving -----------------------------------------------------------------------------------


def _check_what_reached_the_caller(run: Run, step: Step, outcome: Outcome) -> None:
    error = outcome.error
    if outcome.kind == "violation":
        run.violation(describe(f"{step.name} raised what is not a TastytradeError", error))
    elif isinstance(error, (InvalidCredentials, OAuthError)):
        run.violation(describe(f"{step.name}: a single-use token the store saw was refused", error))
    elif isinstance(error, TastytradeError):
        with run.lock:
            run.tally.errors[type(error).__name__] += 1


async def perform(run: Run, step: Step, *, faults: bool = True, cancels: bool = True) -> Outcome:
    """One operation: perhaps a fault aimed at it, perhaps cancelled; then its checks."""
    rng = run.rng
    injected: list[Fault] = []
    timeout: float | None = None
    if faults and rng.random() < FAULT_CHANCE:
        target = rng.choice(step.targets)
        injected.append(run.inject(target))
        if injected[0].kind is FaultKind.SLOW and not target[2]:
            timeout = SLOW_TIMEOUT  # the answer comes after it
        if step.name == "place_order" and rng.random() < LOOKUP_FAULT_CHANCE:
            injected.append(run.inject(("GET", LIVE, False), lookup=True))
    # A cancellation comes within the call's likely span: a few ms, or a slow answer's delay.
    spends_token = any(target[2] for target in step.targets)
    chance = CANCEL_CHANCE * (2 if spends_token else 1)
    cancel = None
    if cancels and rng.random() < chance:
        horizon = max([CANCEL_HORIZON, *(fault.delay for fault in injected)])
        cancel = run.runner.cancel_plan(rng, horizon)
        run.count("cancel_attempts")
    started = time.monotonic()
    outcome = await run.runner.attempt(lambda: step.call(timeout), cancel)
    elapsed = time.monotonic() - started
    run.disarm(injected)
    with run.lock:
        run.tally.operations += 1
        run.tally.slowest = max(run.tally.slowest, elapsed)
        run.tally.cancellations += outcome.kind == "cancelled"
    _check_what_reached_the_caller(run, step, outcome)
    step.done(outcome)
    return outcome


async def close(run: Run, client: Client, *, logout: bool | None = None) -> None:
    """Close a session, after logging out half the time (its failure is only counted)."""
    if logout if logout is not None else run.rng.random() < 0.5:
        step = Step("logout", (), lambda t: client.call("logout", timeout=t))
        await perform(run, step, faults=False, cancels=False)
    await client.close()


async def log_in_again(run: Run, *, faults: bool = True) -> None:
    """Close the session and start another from the last stored token."""
    if run.client is not None:
        await close(run, run.client)
    await perform(run, op_login(run), faults=faults, cancels=faults)


async def sequential(run: Run) -> None:
    for _ in range(SEQUENCE_LENGTH):
        assert run.client is not None
        if run.client.state in (AuthState.UNAUTHENTICATED, AuthState.CLOSED):
            await log_in_again(run)  # the last login failed: try again
            continue
        op = _choose(run.rng, run.legacy, shared=False)
        if op is op_login:
            await log_in_again(run)
        else:
            await perform(run, op(run))


async def concurrent(run: Run) -> None:
    """Threads or tasks sharing the session, with a fault for the first renewal too."""
    await ensure_logged_in(run)
    token_endpoint = ("POST", SESSIONS if run.legacy else OAUTH_TOKEN, True)
    ambient = [run.inject(token_endpoint)] if run.rng.random() < 0.5 else []
    seeds = [run.rng.randrange(2**32) for _ in range(WORKERS)]

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(WORKER_OPERATIONS):
            op = _choose(rng, run.legacy, shared=True)
            await perform(run, op(run), cancels=not run.runner.sync)

    workers: list[Callable[[], Awaitable[None]]] = [functools.partial(worker, s) for s in seeds]
    for escaped in await run.runner.together(workers):
        run.violation(escaped)
    run.disarm(ambient)


async def ensure_logged_in(run: Run) -> None:
    """A session that is logged in, with no faults (a refused token would refuse for ever)."""
    for _ in range(3):
        if run.client is not None and run.client.state is not AuthState.UNAUTHENTICATED:
            return
        await log_in_again(run, faults=False)


def check_orders(run: Run) -> None:
    """Invariant 1: nothing placed twice, no replace or cancel sent twice, callers told true."""
    run.scan()
    with run.lock:
        posts, received = Counter(run.posts), Counter(run.received)
        calls, outcomes = Counter(run.client_calls), dict(run.outcomes)
    for identifier, count in posts.items():
        if count > 1:
            run.violation(f"order {identifier} was POSTed {count} times")
    for identifier in outcomes:
        placed, still_open = run.held(identifier)
        if placed > 1 or still_open > 1:
            run.violation(
                f"the fake holds {placed} orders placed as {identifier}, {still_open} open"
            )
    for (method, path), count in received.items():
        if count > calls[(method, path)]:
            run.violation(
                f"{method} {path} reached the fake {count} times, for {calls[(method, path)]} calls"
            )
    if run.client is not None:
        for identifier in run.client.unsettled():
            told = outcomes.get(identifier)
            if told != "interrupted":
                run.violation(f"unsettled_orders lists {identifier}, whose caller was told {told}")


async def start(run: Run) -> None:
    """The first login, with no faults: a password and its code, or the OAuth grant."""
    client = run.client = run.new_client()
    if run.legacy:
        try:
            await client.call("login_with_password", DEMO_LOGIN, DEMO_PASSWORD)
        except SecondFactorRequired:
            await client.call("submit_second_factor", DEMO_OTP)
    else:
        await client.call("login_with_oauth", DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)


async def finish(run: Run) -> None:
    """Look up what is unknown, close, and log in with the last stored token (invariant 2)."""
    await ensure_logged_in(run)
    client = run.client
    assert client is not None
    for identifier in list(run.unresolved):
        find = functools.partial(client.call, "find_order", ACCOUNT, identifier)
        outcome = await run.runner.attempt(find, None)
        if outcome.kind == "ok":
            check_found(run, identifier, outcome.value)
        else:
            run.violation(describe(f"find_order({identifier}), with no faults", outcome.error))
    run.unresolved.clear()
    check_orders(run)
    await close(run, client)
    run.client = None
    token, again = run.tokens.latest(run.legacy), run.new_client()

    async def log_in() -> None:
        if run.legacy:
            await again.call("login_with_remember_token", DEMO_LOGIN, token)
        else:
            await again.call("login_with_oauth", DEMO_CLIENT_SECRET, token)
        await again.call("customer")

    outcome = await run.runner.attempt(log_in, None)
    if outcome.kind != "ok":
        run.violation(describe("the last token the store saw no longer logs in", outcome.error))
    await close(run, again, logout=True)


async def campaign(run: Run, injections: int) -> None:
    """Stretches, sequential then concurrent, until ``injections`` faults were injected."""
    await start(run)
    while True:
        await sequential(run)
        check_orders(run)
        if run.tally.injections >= injections:
            break
        await concurrent(run)
        check_orders(run)
        if run.tally.injections >= injections:
            break
    await finish(run)


# -- runs --------------------------------------------------------------------------------------


def _resources() -> tuple[set[threading.Thread], int]:
    gc.collect()
    return set(threading.enumerate()), len(os.listdir("/proc/self/fd"))


def check_left_behind(before: tuple[set[threading.Thread], int]) -> list[str]:
    """Invariant 4: no thread started and still running, no file descriptor left open."""
    threads, fds = before
    _, now = _resources()
    # trio keeps idle worker threads for name lookups in a cache of its own: not ours to close.
    started = [
        thread
        for thread in threading.enumerate()
        if thread not in threads and thread.is_alive() and not thread.name.startswith("Trio")
    ]
    found = [f"thread left running: {thread.name}" for thread in started]
    if now > fds:
        found.append(f"{now - fds} file descriptor(s) left open ({fds} before, {now} after)")
    return found


_warm: set[str] = set()


def warm_up(kind: str) -> None:
    """A transport's imports and first-use caches, made before anything is counted."""
    if kind in _warm:
        return
    with FakeTastytradeServer(FakeTastytradeAPI(), tls=True) as server:
        run = Run(RUNNERS[kind](), server, 0, legacy=False)

        async def body() -> None:
            await start(run)
            assert run.client is not None
            await run.client.call("customer")
            await run.client.close()

        run.runner.main(body)
    _warm.add(kind)


def run_once(kind: str, seed: int, injections: int, legacy: bool) -> Tally:
    """One run: a fresh server, ``injections`` faults, every check."""
    warm_up(kind)
    runner = RUNNERS[kind]()
    before = _resources()
    api = FakeTastytradeAPI(
        access_token_lifetime=ACCESS_TOKEN_LIFETIME,
        session_lifetime=SESSION_LIFETIME,
        rotate_refresh_tokens=True,
    )
    server = FakeTastytradeServer(api, tls=True).start()
    run = Run(runner, server, seed, legacy)
    try:
        with runner.installed():
            runner.main(lambda: campaign(run, injections))
    except BaseException as exc:
        run.violation(describe("the campaign itself failed", exc))
    finally:
        server.stop()
    run.client = None
    run.tally.tokens_rotated = run.tokens.rotated
    for problem in check_left_behind(before):
        run.violation(problem)
    return run.tally


def run_transport(kind: str, seed: int, injections: int) -> Tally:
    """Runs of about :data:`INJECTIONS_PER_RUN` faults, OAuth and legacy in turn, until
    ``injections`` were made."""
    rng = random.Random(seed)
    tally = Tally()
    legacy = rng.random() < 0.5
    while tally.injections < injections:
        budget = min(INJECTIONS_PER_RUN, injections - tally.injections)
        tally.add(run_once(kind, rng.randrange(2**32), budget, legacy))
        legacy = not legacy
    return tally
