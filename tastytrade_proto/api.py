"""Every endpoint of the API, gathered from the modules of its areas.

:class:`API` is mixed into :class:`~tastytrade_proto.sessions.Operations`
(each endpoint returns an :class:`~tastytrade_proto.protocol.Operation`),
:class:`~tastytrade_proto.sessions.SyncSession` (each runs) and
:class:`~tastytrade_proto.sessions.AsyncSession` (each is awaited). A new endpoint
is declared in its area's module and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .accounts import AccountsAPI
from .authentication import AuthenticationAPI
from .instruments import InstrumentsAPI
from .market_data import MarketDataAPI
from .orders import OrdersAPI
from .protocol import flows
from .protocol.endpoint import CallContext, Endpoint
from .protocol.envelope import decode_envelope
from .protocol.http import QueryValue, Response
from .protocol.operation import Operation
from .streaming.account_state import AccountStreamAPI
from .watchlists import WatchlistsAPI

__all__ = ["API"]


def _request(
    calls: CallContext,
    method: str,
    path: str,
    *,
    params: Mapping[str, QueryValue] | None = None,
    json: Any = None,
    idempotent: bool | None = None,
    decode: Callable[[Response], Any] = decode_envelope,
    timeout: float | None = None,
) -> Operation[Any]:
    """Any authenticated API call; by default its decoded
    :class:`~tastytrade_proto.protocol.envelope.Envelope`.

    ``idempotent`` says whether the core may resend it after a failure (by
    default: ``GET`` and ``HEAD`` only); ``decode`` turns the response into the
    result.
    """
    request = calls.settings.config.request(method, path, params=params, json_body=json)
    return flows.call(
        calls.machine,
        request,
        decode,
        idempotent=idempotent,
        retry=calls.settings.retry,
        timeout=timeout,
    )


class API(
    AuthenticationAPI,
    AccountsAPI,
    OrdersAPI,
    InstrumentsAPI,
    MarketDataAPI,
    WatchlistsAPI,
    AccountStreamAPI,
):
    """Every endpoint, each declared once in its area's module, and :attr:`request`."""

    request = Endpoint(_request)
