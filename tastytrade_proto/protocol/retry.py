"""When to try a request again, and after how long: one policy, in the core.

tastytrade publishes no rate limits and documents no rate-limit headers; its
guidance is capped exponential backoff with jitter on 429, 5xx and network
errors. Only idempotent requests are ever retried: a request that places,
replaces or cancels an order, or logs in, is never sent twice by a retry.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import RateLimited, ResponseError, TastytradeError, TransportError
from ..values import field, frozen

__all__ = ["DEFAULT_RETRY", "NO_RETRY", "RetryPolicy"]


@frozen
class RetryPolicy:
    """Capped exponential backoff for idempotent requests.

    ``max_attempts`` counts every try, the first included. The wait before
    try ``n + 1`` is ``min(cap, base * 2 ** (n - 1))``, scaled into
    ``[1/2, 1)`` of itself by ``jitter()`` when one is given (the core draws
    no randomness itself: transports pass ``random.random``). A 429's
    ``Retry-After`` replaces the computed wait, unless it exceeds
    ``max_retry_after``, in which case the error is raised instead.
    """

    max_attempts: int = 4
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 120.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    jitter: Callable[[], float] | None = field(default=None, compare=False)

    def delay(self, attempt: int, error: TastytradeError, now: float) -> float | None:
        """Seconds to wait before trying again after try ``attempt`` failed with
        ``error``, or ``None`` to give up and raise it."""
        if attempt >= self.max_attempts:
            return None
        if isinstance(error, ResponseError):
            if error.status not in self.retry_statuses:
                return None
        elif not isinstance(error, TransportError):
            return None
        if isinstance(error, RateLimited):
            told = error.delay(now)
            if told is not None:
                return max(0.0, told) if told <= self.max_retry_after else None
        # The exponent is bounded so that a policy with thousands of attempts cannot overflow.
        wait: float = min(self.cap, self.base * 2.0 ** min(max(attempt - 1, 0), 64))
        if self.jitter is not None:
            draw = self.jitter()
            draw = draw if 0.0 <= draw <= 1.0 else (1.0 if draw > 1.0 else 0.0)  # NaN -> 0
            wait *= 0.5 + 0.5 * draw
        return wait


#: The policy flows use unless told otherwise.
DEFAULT_RETRY = RetryPolicy()
#: Never retry.
NO_RETRY = RetryPolicy(max_attempts=1)
