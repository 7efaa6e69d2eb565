"""The trio transport's websocket: the core's ``WebSocketConnection`` (wsproto) over a trio
stream, opened by the session's own connect path (TCP, proxy tunnel, TLS)."""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING

import trio

from tastytrade_proto.errors import WebSocketClosed
from tastytrade_proto.protocol.websocket import Closed, WebSocketConnection

__all__ = ["WebSocket"]

_CHUNK = 65536
_BROKEN = (OSError, trio.BrokenResourceError, trio.ClosedResourceError)


class WebSocket:
    """An open websocket (an :class:`~tastytrade_proto.streaming.websocket.AsyncWebSocket`).

    One task receives while others send: sends (and the receiver's pongs) take turns
    under a lock. A receive that times out cancels only the stream's ``receive_some``:
    bytes already read stay in the connection's buffer.
    """

    def __init__(self, stream: trio.abc.Stream, conn: WebSocketConnection, timeout: float) -> None:
        self._stream, self._conn, self._timeout = stream, conn, timeout
        self._send_lock = trio.Lock()
        self._reading: tuple[trio.CancelScope, trio.Event] | None = None  # a receive_some
        self._closed = False

    async def send(self, text: str) -> None:
        """Send one text message; ``WebSocketClosed`` once it closed or broke."""
        async with self._send_lock:
            data = self._conn.send_text(text)  # under the lock: frames go out in order
            try:
                await self._send_all(data)
            except (*_BROKEN, trio.TooSlowError) as exc:
                why = "no room to send" if isinstance(exc, trio.TooSlowError) else exc
                self._conn.receive_data(b"")  # a frame went out in part, or not at all: done
                raise Closed.dropped(f"{type(exc).__name__}: {why}").error() from None
            except BaseException:  # cancelled mid-frame: the stream is unusable
                self._conn.receive_data(b"")
                raise

    async def _send_all(self, data: bytes) -> None:
        with trio.fail_after(self._timeout):
            await self._stream.send_all(data)

    async def _flush(self) -> None:
        """Write the pongs and the close reply the connection queued (failures: the next
        read says)."""
        async with self._send_lock:
            data = self._conn.data_to_send()
            if data:
                with contextlib.suppress(*_BROKEN, trio.TooSlowError):
                    await self._send_all(data)

    async def receive(self, timeout: float | None) -> str | None:
        """The next text message, or ``None`` after ``timeout`` seconds."""
        deadline = math.inf if timeout is None else trio.current_time() + timeout
        while True:
            message = self._conn.next_message()
            if isinstance(message, str):
                await trio.lowlevel.checkpoint()
                return message
            if isinstance(message, Closed):
                await self._flush()
                raise message.error()
            if self._closed:
                raise WebSocketClosed("the websocket was closed by this client")
            data: bytes | None = None  # None: the read was cancelled, nothing lost
            waiting = trio.CancelScope(deadline=deadline)
            self._reading = (waiting, trio.Event())
            try:
                with waiting:
                    data = bytes(await self._stream.receive_some(_CHUNK))
            except _BROKEN:
                data = b""  # broken: the same as its end
            finally:
                self._reading[1].set()
                self._reading = None
            if data is not None:
                self._conn.receive_data(data)
            if self._closed:  # close(), in another task, took over the reading
                raise WebSocketClosed("the websocket was closed by this client")
            if data is None:
                return None
            await self._flush()

    async def close(self, code: int = 1000) -> None:
        """Close within the timeout, shielded from cancellation; never raises."""
        if self._closed:
            return
        self._closed = True
        with trio.CancelScope(shield=True, deadline=trio.current_time() + self._timeout):
            try:
                async with self._send_lock:
                    data = self._conn.close(code)
                    if data:
                        await self._stream.send_all(data)
                if self._reading is not None:  # a receive in another task: ended, to read here
                    scope, done = self._reading
                    scope.cancel()
                    await done.wait()
                # The server's reply; reading it all also spares the server a reset that
                # could drop our close frame (unread bytes, TLS tickets say, make a close RST).
                while not self._conn.finished:
                    self._conn.receive_data(bytes(await self._stream.receive_some(_CHUNK)))
            except Exception:  # closing never raises: the stream goes anyway
                pass
            finally:
                await trio.aclose_forcefully(self._stream)


if TYPE_CHECKING:  # mypy --strict checks that the class keeps the contract
    from tastytrade_proto.streaming.websocket import AsyncWebSocket

    def _keeps_the_contract(ws: WebSocket) -> AsyncWebSocket:
        return ws
