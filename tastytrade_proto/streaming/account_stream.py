"""Account streams: an :class:`~tastytrade_proto.streaming.account.AccountStreamConnection`
driven over a transport's websocket, written once for every transport::

    with session.account_stream(["5WT00001"]) as stream:          # tastytrade_requests
        for event in stream:
            ...

    async with session.account_stream(["5WT00001"]) as stream:    # aiohttp, trio
        async for event in stream:
            ...

Iteration yields account events (:class:`~tastytrade_proto.streaming.account.OrderUpdated`,
:class:`~tastytrade_proto.streaming.account.PositionUpdated`, ...) and link events
(``Connected``, ``Disconnected``, ``Resync``, ``ActionRefused``, ``MalformedMessage``) in
the order they happened, and ends with the stream's error if it fails for good. The
pump in the background sends heartbeats, renews the ``auth-token`` through the session,
reconnects and resyncs whatever the consumer does; an account event is never dropped:
when the buffer is full the pump stops reading until the consumer catches up.
"""

from __future__ import annotations

from typing import Any

from ..errors import TastytradeError
from .account import AccountEvent, AccountStreamConnection, FetchCredential, FetchState
from .dxlink import LinkEvent
from .feed import AsyncStream, SyncStream

__all__ = ["AccountStream", "AsyncAccountStream"]


class _AccountParts:
    """What both account streams tell about themselves."""

    _link: AccountStreamConnection

    @property
    def accounts(self) -> tuple[str, ...]:
        """The accounts followed."""
        return self._link.accounts

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Subscriptions beyond the accounts (actions), replayed on every reconnect."""
        return self._link.subscriptions

    @property
    def stale(self) -> int:
        """Updates dropped as older than, or the same as, what was delivered."""
        return self._link.stale


class AccountStream(_AccountParts, SyncStream[AccountEvent | LinkEvent]):
    """The account streamer over a synchronous transport (``session.account_stream()``).

    Thread-safe: one thread may iterate while others subscribe. ``session`` is what
    the credential and the resync's REST read are fetched through (``stream_credential``
    and ``account_state``).
    """

    def subscribe_public_watchlists(self) -> None:
        """Also receive ``PublicWatchlists`` changes (``WatchlistUpdated`` events)."""
        self._change(self._link.subscribe_public_watchlists)

    def subscribe_quote_alerts(self) -> None:
        """Also receive triggered quote alerts (``QuoteAlertTriggered`` events)."""
        self._change(self._link.subscribe_quote_alerts)

    def subscribe_user_messages(self, user_external_id: str) -> None:
        """Also receive the user's messages (an undocumented action; raw notifications)."""
        self._change(lambda now: self._link.subscribe_user_messages(user_external_id, now))

    def _perform(self, action: Any) -> None:
        link, clock = self._link, self._runtime.clock
        if isinstance(action, FetchCredential):
            try:
                credential = self._session.stream_credential(
                    refused=action.refused, min_remaining=action.min_remaining
                )
            except TastytradeError as exc:
                with self._cond:
                    link.credential_failed(exc, clock())
                return
            with self._cond:
                link.credential_received(credential.authorization, credential.expires_at, clock())
        elif isinstance(action, FetchState):
            try:
                state = self._session.account_state(list(action.accounts))
            except TastytradeError as exc:
                with self._cond:
                    link.state_failed(exc, clock())
                return
            with self._cond:
                link.state_received(state, clock())
        else:
            super()._perform(action)


class AsyncAccountStream(_AccountParts, AsyncStream[AccountEvent | LinkEvent]):
    """The account streamer over an event-loop transport (``session.account_stream()``).

    Use it in one event loop: any number of tasks may subscribe while one iterates.
    """

    async def subscribe_public_watchlists(self) -> None:
        """Also receive ``PublicWatchlists`` changes (``WatchlistUpdated`` events)."""
        await self._change(self._link.subscribe_public_watchlists)

    async def subscribe_quote_alerts(self) -> None:
        """Also receive triggered quote alerts (``QuoteAlertTriggered`` events)."""
        await self._change(self._link.subscribe_quote_alerts)

    async def subscribe_user_messages(self, user_external_id: str) -> None:
        """Also receive the user's messages (an undocumented action; raw notifications)."""
        await self._change(lambda now: self._link.subscribe_user_messages(user_external_id, now))

    async def _perform(self, action: Any) -> None:
        link, clock = self._link, self._runtime.clock
        if isinstance(action, FetchCredential):
            try:
                credential = await self._session.stream_credential(
                    refused=action.refused, min_remaining=action.min_remaining
                )
            except TastytradeError as exc:
                link.credential_failed(exc, clock())
            else:
                link.credential_received(credential.authorization, credential.expires_at, clock())
        elif isinstance(action, FetchState):
            try:
                state = await self._session.account_state(list(action.accounts))
            except TastytradeError as exc:
                link.state_failed(exc, clock())
            else:
                link.state_received(state, clock())
        else:
            await super()._perform(action)
