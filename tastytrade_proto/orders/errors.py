"""What placing or building an order can raise, beyond the library's own errors."""

from __future__ import annotations

from decimal import Decimal

from ..errors import (
    LocalProtocolError,
    TastytradeError,
)

# -- errors -------------------------------------------------------------------------------


class InvalidOrder(LocalProtocolError):
    """An order (or leg, replacement, complex order) breaks a rule of the API.

    Raised when the value is built, before anything is sent; the message
    says which rule.
    """


class TickSizeError(InvalidOrder):
    """A price is not a multiple of the tick size that applies to it.

    ``price`` is the (signed) price checked, ``increment`` the tick it must be
    a multiple of.
    """

    def __init__(self, message: str, *, price: Decimal, increment: Decimal) -> None:
        super().__init__(message)
        self.price = price
        self.increment = increment


class OrderNotPlaced(TastytradeError):
    """The order was certainly not placed: correct it if need be, and place it again.

    Raised by ``place_order`` and ``place_complex_order`` when the server
    refused the ``POST`` (a 4xx: ``error`` is the
    :class:`~tastytrade_proto.errors.ApiError`, with its code and reasons;
    a 429 included), when nothing of it reached the server (``error`` is a
    :class:`~tastytrade_proto.errors.TransportError` with ``request_sent``
    false), or when the session could not be renewed before sending. The
    same ``error`` is ``__cause__``.
    """

    def __init__(self, message: str, *, external_identifier: str, error: TastytradeError) -> None:
        super().__init__(message)
        self.external_identifier = external_identifier
        self.error = error


class OrderOutcomeUnknown(TastytradeError):
    """Whether the order was placed is not known: never place it again blindly.

    The ``POST`` failed ambiguously (a transport error after it went out, a
    timeout, a 5xx, or a 2xx whose answer could not be read; that error is
    ``__cause__``), and looking the order up by ``external_identifier``
    afterwards did not settle it:

    * ``looks`` looks over :data:`RECONCILE_DELAYS` did not find it. The server
      may still be working on the request: look again later
      (``find_order(account_number, external_identifier)``);
    * ``accepted``: the server answered 2xx, so it *was* placed, but the
      order has not shown among the account's orders yet;
    * ``lookup_error``: the look-up itself failed.
    """

    def __init__(
        self,
        message: str,
        *,
        external_identifier: str,
        lookup_error: TastytradeError | None = None,
        accepted: bool = False,
        looks: int = 0,
    ) -> None:
        super().__init__(message)
        self.external_identifier = external_identifier
        self.lookup_error = lookup_error
        self.accepted = accepted
        self.looks = looks
