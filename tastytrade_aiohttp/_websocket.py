"""The asyncio transport's websocket: ``ClientSession.ws_connect``, its errors and
close types mapped to the core's (``TransportError``, ``WebSocketClosed``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from tastytrade_proto.errors import TransportError, TransportTimeout, WebSocketClosed
from tastytrade_proto.protocol.websocket import MAX_MESSAGE_BYTES, Closed, split_websocket_url

__all__ = ["WebSocket", "open_websocket"]


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


class WebSocket:
    """An open websocket (an :class:`~tastytrade_proto.streaming.websocket.AsyncWebSocket`).

    One task receives; any task sends. Each receive waits on a task of its own that
    outlives a timeout, so a message arriving just then is kept for the next call
    (aiohttp's ``receive(timeout=)`` would mark the socket closed with 1006).
    """

    def __init__(self, ws: Any, timeout: float) -> None:  # a ClientWebSocketResponse
        self._ws, self._timeout = ws, timeout
        self._next: asyncio.Task[aiohttp.WSMessage] | None = None
        self._end: WebSocketClosed | None = None
        self._closing: asyncio.Task[None] | None = None

    async def send(self, text: str) -> None:
        """Send one text message; ``WebSocketClosed`` once it closed or broke."""
        if self._end is not None:
            raise self._end
        if self._closing is not None or self._ws.closed:
            raise WebSocketClosed("the websocket was closed", code=self._ws.close_code)
        try:
            await asyncio.wait_for(self._ws.send_str(text), self._timeout)
        except asyncio.TimeoutError:
            self._abort()
            self._end = Closed.dropped(f"could not send within {self._timeout} s").error()
            raise self._end from None
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise Closed.dropped(f"{type(exc).__name__}: {exc}").error() from None

    async def receive(self, timeout: float | None) -> str | None:
        """The next text message, or ``None`` after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self._end is not None:
                raise self._end
            if self._closing is not None:
                raise WebSocketClosed("the websocket was closed by this client")
            if self._next is None:
                self._next = asyncio.ensure_future(self._ws.receive())
            task = self._next
            left = None if deadline is None else max(0.0, deadline - loop.time())
            done, _ = await asyncio.wait({task}, timeout=left)
            if not done:
                return None
            self._next = None
            if task.cancelled() or self._closing is not None:  # close(), in another task
                raise WebSocketClosed("the websocket was closed by this client")
            try:
                message = task.result()
            except Exception as exc:  # a failure aiohttp did not turn into a message
                self._end = Closed.dropped(f"{type(exc).__name__}: {exc}").error()
                continue
            if message.type is aiohttp.WSMsgType.TEXT:
                return str(message.data)
            if message.type is not aiohttp.WSMsgType.BINARY:  # DXLink sends none: dropped
                self._end = _ending(message)

    async def close(self, code: int = 1000) -> None:
        """Close within the timeout; never raises, and finishes in a cancelled task
        (whose cancellation is raised once it has)."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close(code))
        closing, cancelled = self._closing, None
        while not closing.done():
            try:
                await asyncio.shield(closing)
            except asyncio.CancelledError as exc:
                if closing.cancelled():  # the loop itself is going away
                    break
                cancelled = cancelled or exc
            except Exception:  # _close catches its own: nothing to say
                break
        if cancelled is not None:
            raise cancelled

    async def _close(self, code: int) -> None:
        # A receive waiting meanwhile is aiohttp's to end (with a CLOSING message): cancelled,
        # it would mark the websocket broken, and aiohttp would then close without reading
        # the server's reply (and unread bytes make the close a reset).
        try:
            await asyncio.wait_for(self._ws.close(code=code), self._timeout)
        except Exception:  # closing never raises: the connection goes anyway
            pass
        finally:
            self._abort()
            pending, self._next = self._next, None
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending

    def _abort(self) -> None:
        if not self._ws.closed:  # did not finish the closing handshake in time
            response = getattr(self._ws, "_response", None)  # aiohttp's own way, in close()
            if response is not None:
                response.close()


def _ending(message: aiohttp.WSMessage) -> WebSocketClosed:
    """The error for a message that is neither text nor binary: each ends the websocket
    (pings and pongs stay inside aiohttp, with ``autoping``)."""
    kind = message.type
    if kind is aiohttp.WSMsgType.CLOSE:
        return Closed.by_server(int(message.data), str(message.extra or "")).error()
    if kind is aiohttp.WSMsgType.ERROR:
        error = message.data
        if isinstance(error, aiohttp.WebSocketError):
            if error.code == 1009:
                return Closed.too_big(MAX_MESSAGE_BYTES).error()
            return Closed.broken(error.code, str(error)).error()
        return Closed.dropped(f"{type(error).__name__}: {error}").error()
    return Closed.dropped().error()  # CLOSED, CLOSING


async def open_websocket(
    client: aiohttp.ClientSession,
    url: str,
    headers: Sequence[tuple[str, str]],
    timeout: float,
    *,
    ssl: Any,
    proxy: str | None,
) -> WebSocket:
    """``ws_connect`` with the session's settings; ``timeout`` bounds the opening."""
    split_websocket_url(url)  # ws:// or wss:// only, as in the other transports
    password = URL(proxy).password if proxy else None  # kept out of every message
    try:
        ws = await asyncio.wait_for(
            client.ws_connect(
                url,
                headers=list(headers),
                proxy=proxy,
                ssl=ssl,
                autoping=True,
                autoclose=True,
                heartbeat=None,  # DXLink keeps itself alive (KEEPALIVE messages)
                max_msg_size=MAX_MESSAGE_BYTES,
            ),
            timeout,
        )
    except asyncio.TimeoutError:
        raise TransportTimeout(f"websocket {url}: not open within {timeout} s") from None
    except aiohttp.WSServerHandshakeError as exc:
        if exc.status == 101:
            message = f"websocket upgrade failed: {exc.message}"
        else:
            message = f"websocket upgrade refused: HTTP {exc.status}"
        raise TransportError(message) from None
    except aiohttp.ClientHttpProxyError as exc:
        message = f"proxy refused CONNECT: HTTP {exc.status} {exc.message}"
        raise TransportError(_scrub(message, password), request_sent=False) from None
    except aiohttp.ClientConnectorError as exc:
        message = f"websocket {url}: {type(exc).__name__}: {exc}"
        raise TransportError(_scrub(message, password), request_sent=False) from None
    except (aiohttp.ClientError, OSError) as exc:
        message = f"websocket {url}: {type(exc).__name__}: {exc}"
        raise TransportError(_scrub(message, password)) from None
    return WebSocket(ws, timeout)


if TYPE_CHECKING:  # mypy --strict checks that the class keeps the contract
    from tastytrade_proto.streaming.websocket import AsyncWebSocket

    def _keeps_the_contract(ws: WebSocket) -> AsyncWebSocket:
        return ws
