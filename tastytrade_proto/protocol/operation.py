"""The one contract every transport drives: steps.

An :class:`Operation` is a multi-step exchange (log in and answer a device
challenge; refresh then request; re-login after a 401; retry after a 429;
fetch every page) written once, here in the core. A transport drives it with
a loop of about ten lines, the same in sync, asyncio and trio code::

    op = flows.call(machine, request, decode)
    while True:
        step = op.next_step(now=time.time())
        if isinstance(step, Done):
            result = step.value
            break
        if isinstance(step, Wait):
            time.sleep(step.seconds)
            continue
        try:
            response = transport_send(step.request)   # -> Response
        except TransportError as exc:                 # your library's errors, mapped
            op.fail(exc)
        else:
            op.receive(response)

A driver whose task is cancelled mid-operation calls :meth:`Operation.cancel`,
except during a :class:`Send` marked ``must_complete``: its answer may hold a
single-use token the server has already replaced, or say whether an order was
placed, so the driver finishes that send first (it is bounded by the request
timeout), hands the answer over, and only then cancels and re-raises.
:func:`drive` and :func:`drive_async` do this with a ``shield`` the transport
supplies (see :data:`Shield` and :data:`AsyncShield`).
:meth:`Operation.next_step` is where the work happens: it takes the clock
reading, runs the flow up to its next step and returns it, or raises the
operation's :class:`~tastytrade_proto.errors.TastytradeError`.
:meth:`~Operation.receive` and :meth:`~Operation.fail` only hand the outcome
of the last :class:`Send` back.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import math
from collections.abc import Awaitable, Callable, Generator
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar, Union

from ..errors import LocalProtocolError, TastytradeError, TransportError
from ..values import frozen
from .http import Request, Response

__all__ = [
    "Ask",
    "AsyncShield",
    "Context",
    "Done",
    "Flow",
    "Operation",
    "OperationState",
    "Send",
    "Shield",
    "Step",
    "Wait",
    "check_timeout",
    "drive",
    "drive_async",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@frozen
class Send:
    """Send ``request`` and hand back the response (or the transport's failure).

    ``must_complete`` marks a send whose answer must reach the core even if
    the caller is cancelled meanwhile: a login, second factor, device
    challenge or token refresh (its answer carries a single-use token the
    server has already spent the old one for), or a request that places,
    replaces or cancels an order (its answer says whether that happened). A
    driver finishes such a send, hands the answer to :meth:`Operation.receive`
    or :meth:`Operation.fail`, and only then cancels the operation and lets
    the cancellation go on. The request's timeout still bounds it.
    """

    request: Request
    must_complete: bool = False


@frozen
class Wait:
    """Sleep ``seconds``, then ask for the next step."""

    seconds: float


@frozen
class Ask:
    """Ask the user for a second factor, then hand the answer to :meth:`Operation.provide`.

    Only flows started with ``prompt=True`` yield it. ``method`` is ``"otp"``
    (a one-time code, sent to ``destination`` when the server says where) or
    ``"security_question"`` (the ``question`` to answer); ``attempt`` counts
    the tries at this step, from 1.
    """

    method: str
    destination: str | None = None
    question: str | None = None
    attempt: int = 1


@frozen
class Done(Generic[T_co]):
    """The operation finished with ``value``."""

    value: T_co


Step = Union[Send, Wait, Ask, Done[T]]


class Context:
    """What a flow can see of the outside: the latest clock reading."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 0.0


#: A flow: a generator that yields :class:`Send` (and is sent the
#: :class:`Response`, or has the :class:`TransportError` thrown in) or
#: :class:`Wait` (and is sent ``None``), and returns its result.
Flow = Generator[Send | Wait | Ask, Any, T]


class OperationState(enum.Enum):
    """Where an :class:`Operation` is."""

    READY = "ready"  #: call next_step
    SENDING = "sending"  #: a Send is out: call receive or fail
    ASKING = "asking"  #: an Ask is out: call provide
    DONE = "done"  #: finished; next_step keeps returning Done
    FAILED = "failed"  #: raised; it will not run again


_NOTHING = object()


def check_timeout(timeout: Any, what: str = "timeout") -> float | None:
    """``timeout`` if it is ``None`` or a positive, finite number of seconds; else raise.

    Raises :class:`LocalProtocolError`.
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not (
        isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0
    ):
        raise LocalProtocolError(f"{what} must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


class Operation(Generic[T]):
    """A flow, driven step by step. See the module docs for the driving loop.

    ``scrub`` is applied to any error before it is raised (the session
    machine uses it to remove the secrets it holds from error texts).
    ``timeout`` (seconds, or ``None`` for the transport's own setting) is how
    long each of its requests may take, from connecting to the last byte of
    the answer; drivers read it from :attr:`timeout`. ``on_outcome`` is
    called once, by :meth:`settle`, when a driver hands the outcome to its
    caller, never when the operation is cancelled: an order placement uses it
    to forget an order whose outcome its caller has now seen.
    """

    def __init__(
        self,
        flow: Callable[[Context], Flow[T]],
        *,
        scrub: Callable[[TastytradeError], TastytradeError] | None = None,
        timeout: float | None = None,
        on_outcome: Callable[[], None] | None = None,
    ) -> None:
        self.timeout = check_timeout(timeout)
        self._context = Context()
        self._flow = flow(self._context)
        self._scrub = scrub
        self._on_outcome = on_outcome
        self._state = OperationState.READY
        self._input: Any = None
        self._throw: TransportError | None = None
        self._result: Any = _NOTHING

    @property
    def state(self) -> OperationState:
        """The current :class:`OperationState`."""
        return self._state

    def next_step(self, now: float) -> Send | Wait | Ask | Done[T]:
        """Run the flow to its next step at ``now`` (POSIX seconds) and return it."""
        if self._state is OperationState.DONE:
            return Done(self._result)
        if self._state is not OperationState.READY:
            raise LocalProtocolError(
                f"cannot take the next step of an operation in state {self._state.name}"
                + {
                    OperationState.SENDING: ": receive() or fail() the last Send first",
                    OperationState.ASKING: ": provide() the answer to the last Ask first",
                }.get(self._state, ""),
                state=self._state.name,
            )
        self._context.now = now
        sent, throw = self._input, self._throw
        self._input, self._throw = None, None
        try:
            step = self._flow.throw(throw) if throw is not None else self._flow.send(sent)
        except StopIteration as stop:
            self._state = OperationState.DONE
            self._result = stop.value
            return Done(stop.value)
        except TastytradeError as exc:
            self._state = OperationState.FAILED
            if self._scrub is not None:
                self._scrub(exc)
            raise
        except BaseException:
            self._state = OperationState.FAILED
            raise
        if isinstance(step, Send):
            self._state = OperationState.SENDING
        elif isinstance(step, Ask):
            self._state = OperationState.ASKING
        return step

    def provide(self, answer: str) -> None:
        """The user's answer to the last :class:`Ask`."""
        if self._state is not OperationState.ASKING:
            raise LocalProtocolError(
                f"cannot provide() in operation state {self._state.name}: no Ask is outstanding",
                state=self._state.name,
            )
        if not isinstance(answer, str):
            raise LocalProtocolError(f"provide() takes a str, got {type(answer).__name__}")
        self._input = answer.strip()
        self._state = OperationState.READY

    def receive(self, response: Response) -> None:
        """The response to the last :class:`Send`."""
        self._expect_sending("receive")
        if not isinstance(response, Response):
            raise LocalProtocolError(f"receive() takes a Response, got {type(response).__name__}")
        self._input = response
        self._state = OperationState.READY

    def fail(self, error: TransportError) -> None:
        """The last :class:`Send` failed in transport (connection error, timeout)."""
        self._expect_sending("fail")
        if not isinstance(error, TransportError):
            raise LocalProtocolError(f"fail() takes a TransportError, got {type(error).__name__}")
        self._throw = error
        self._state = OperationState.READY

    def cancel(self) -> None:
        """Abandon the operation, for a driver whose task was cancelled.

        A response already handed to :meth:`receive` is still processed (a
        token in it reaches the token store); a :class:`Send` still out is
        treated as failed in transport, which releases any authentication
        exchange it held on the session. Afterwards the state is ``FAILED``.
        """
        if self._state in (OperationState.DONE, OperationState.FAILED):
            return
        pending: Any = None
        if self._state is OperationState.SENDING:
            pending = TransportError("operation cancelled", request_sent=True)
        elif self._throw is not None or self._input is not None:
            pending = self._throw if self._throw is not None else self._input
        self._state = OperationState.FAILED
        self._input, self._throw = None, None
        if pending is not None:
            with contextlib.suppress(Exception):
                if isinstance(pending, TransportError):
                    self._flow.throw(pending)
                else:
                    self._flow.send(pending)
        self._flow.close()

    def settle(self) -> None:
        """Say that the outcome is reaching the caller: :class:`Done`'s value is being
        returned, or the error :meth:`next_step` raised is being let through.

        Runs ``on_outcome`` once (later calls do nothing). :func:`drive` and
        :func:`drive_async` call it; a loop of your own should too, or an
        interrupted order placement it completed stays in ``unsettled_orders``.
        """
        hook, self._on_outcome = self._on_outcome, None
        if hook is not None:
            hook()

    def _expect_sending(self, what: str) -> None:
        if self._state is not OperationState.SENDING:
            raise LocalProtocolError(
                f"cannot {what}() in operation state {self._state.name}: no Send is outstanding",
                state=self._state.name,
            )


#: A synchronous driver's way to finish a must-complete send: ``shield(work)``
#: calls ``work()`` and returns what it returned, together with whatever
#: interrupted the caller meanwhile (``KeyboardInterrupt``, say) or ``None``.
#: ``work`` sends the request, hands the answer to the operation and lets the
#: core take it in (a new token reaches the token store), so an interruption
#: held back until ``work`` returns can lose nothing. ``tastytrade_requests``
#: holds ``SIGINT`` back in the main thread meanwhile.
Shield = Callable[[Callable[[], Any]], tuple[Any, Union[BaseException, None]]]

#: :data:`Shield` for an event loop: ``await shield(attempt)`` awaits the
#: awaitable ``attempt`` (the send) to its end even if the calling task is
#: cancelled, and returns its result with the cancellation (or ``KeyboardInterrupt``)
#: that arrived meanwhile, or ``None``; the driver raises it after the hand-over.
#: asyncio: run it as a task and ``asyncio.shield`` it until done. trio: run it as a
#: system task and wait for it in a shielded scope, holding ``KeyboardInterrupt``.
AsyncShield = Callable[
    [Awaitable[Union[Response, TransportError]]],
    Awaitable[tuple[Union[Response, TransportError], Union[BaseException, None]]],
]


def _attempt(send: Callable[[Request], Response], request: Request) -> Response | TransportError:
    try:
        return send(request)
    except TransportError as exc:
        return exc


async def _attempt_async(
    send: Callable[[Request], Awaitable[Response]], request: Request
) -> Response | TransportError:
    try:
        return await send(request)
    except TransportError as exc:
        return exc


def _hand_over(operation: Operation[Any], outcome: Response | TransportError) -> None:
    if isinstance(outcome, TransportError):
        operation.fail(outcome)
    else:
        operation.receive(outcome)


def _take_answer(
    operation: Operation[Any],
    send: Callable[[Request], Response],
    request: Request,
    clock: Callable[[], float],
    guard: AbstractContextManager[Any],
) -> Send | Wait | Ask | Done[Any] | Exception:
    """Send, hand the answer over and let the core take it in: what a shield covers.

    Returns the operation's next step, or the error taking the answer in raised.
    """
    _hand_over(operation, _attempt(send, request))
    try:
        with guard:
            return operation.next_step(clock())
    except Exception as exc:  # raised by the driver, once the shield is done
        return exc


def drive(
    operation: Operation[T],
    send: Callable[[Request], Response],
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    ask: Callable[[Ask], str] | None = None,
    shield: Shield | None = None,
    lock: AbstractContextManager[Any] | None = None,
) -> T:
    """Run ``operation`` to its end with a synchronous ``send`` (and ``sleep``).

    The reference driver: a synchronous transport needs nothing else. ``send``
    returns the :class:`Response` or raises :class:`TransportError`; ``ask``
    answers an :class:`Ask` (a prompt for a second factor). Anything else
    that interrupts it (``KeyboardInterrupt``, a bug) cancels the operation
    first, so the session machine is never left waiting. A ``Send`` marked
    ``must_complete`` goes through ``shield`` when one is given (see
    :data:`Shield`): the send, the hand-over and the core taking the answer in
    run before an interruption is let through.

    ``lock`` (a ``threading.RLock``: a token store may call back into the
    session) is held around every call into the operation that reads or
    changes the session machine, never around a send or a sleep: with it, any
    number of threads may drive operations of one session at once.
    """
    guard: AbstractContextManager[Any] = lock if lock is not None else contextlib.nullcontext()
    step: Send | Wait | Ask | Done[T] | None = None
    try:
        while True:
            if step is None:
                with guard:
                    step = operation.next_step(clock())
            current, step = step, None
            if isinstance(current, Done):
                operation.settle()
                return current.value
            if isinstance(current, Wait):
                sleep(current.seconds)
            elif isinstance(current, Ask):
                if ask is None:
                    raise _no_prompt(current)
                operation.provide(ask(current))
            elif current.must_complete and shield is not None:
                work = functools.partial(
                    _take_answer, operation, send, current.request, clock, guard
                )
                taken, interrupted = shield(work)
                if interrupted is not None:
                    raise interrupted
                if isinstance(taken, Exception):
                    raise taken
                step = taken
            else:
                _hand_over(operation, _attempt(send, current.request))
    except BaseException as exc:
        with guard:
            if isinstance(exc, TastytradeError) and operation.state is OperationState.FAILED:
                operation.settle()  # the operation's own error reaches the caller
            operation.cancel()
        raise


async def drive_async(
    operation: Operation[T],
    send: Callable[[Request], Awaitable[Response]],
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    ask: Callable[[Ask], Awaitable[str]] | None = None,
    shield: AsyncShield | None = None,
) -> T:
    """:func:`drive` for an event loop: ``send``, ``sleep`` and ``ask`` are awaited.

    It imports no event loop: asyncio code passes ``asyncio.sleep``, trio
    code ``trio.sleep``, and each its own ``shield`` (:data:`AsyncShield`) for
    sends marked ``must_complete``. A cancelled task cancels the operation on
    its way out, after any must-complete answer has reached the core.
    """
    try:
        while True:
            step = operation.next_step(clock())
            if isinstance(step, Done):
                operation.settle()
                return step.value
            if isinstance(step, Wait):
                await sleep(step.seconds)
            elif isinstance(step, Ask):
                if ask is None:
                    raise _no_prompt(step)
                operation.provide(await ask(step))
            elif step.must_complete and shield is not None:
                outcome, interrupted = await shield(_attempt_async(send, step.request))
                _hand_over(operation, outcome)
                if interrupted is not None:
                    raise interrupted
            else:
                _hand_over(operation, await _attempt_async(send, step.request))
    except BaseException as exc:
        if isinstance(exc, TastytradeError) and operation.state is OperationState.FAILED:
            operation.settle()  # the operation's own error reaches the caller
        operation.cancel()
        raise


def _no_prompt(step: Ask) -> LocalProtocolError:
    return LocalProtocolError(
        f"the flow asks for a second factor ({step.method}) but no prompt was given"
    )
