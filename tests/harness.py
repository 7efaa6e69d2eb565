"""Run one async test body against any of the three transports' sessions."""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from tastytrade_proto import Ask
from tastytrade_proto.protocol.endpoint import AsyncPageIterator, PageIterator
from tastytrade_proto.testing import DEMO_OTP, FakeTastytradeServer

TRANSPORTS = ["requests", "aiohttp", "trio"]


class Facade:
    """An async face on any transport's Session (the requests one's calls are wrapped)."""

    def __init__(self, session: Any, sync: bool) -> None:
        self.session, self.sync = session, sync

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.session, name)
        if not self.sync or not callable(attr) or name in ("dump", "run"):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            return attr(*args, **kwargs)

        return call

    async def close(self) -> None:
        result = self.session.close()
        if not self.sync:
            await result

    async def __aenter__(self) -> Facade:
        if not self.sync:
            await self.session.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.sync:
            self.session.__exit__(*exc)
        else:
            await self.session.__aexit__(*exc)


class Harness:
    """Builds sessions of one transport against one fake server, and runs async test bodies."""

    def __init__(self, kind: str, server: FakeTastytradeServer) -> None:
        self.kind, self.server = kind, server
        self.module = importlib.import_module(f"tastytrade_{kind}")
        self.sync = kind == "requests"

    def session(self, **settings: Any) -> Facade:
        settings.setdefault("base_url", self.server.base_url)
        if self.server.tls:
            settings.setdefault("ssl_context", self.server.client_ssl_context())
        if settings.pop("prompting", False):
            settings["prompt"] = self.prompt(DEMO_OTP)
        return Facade(self.module.Session(**settings), self.sync)

    def prompt(self, answer: str) -> Callable[[Ask], Any]:
        if self.sync:
            return lambda ask: answer

        async def ask(step: Ask) -> str:
            return answer

        return ask

    def run(self, body: Callable[[], Awaitable[Any]]) -> Any:
        if self.kind == "trio":
            import trio

            return trio.run(body)
        if self.sync:
            # No event loop under the synchronous transport: the facade's awaits never
            # suspend, so the body runs to its end in one step, as plain code in this thread.
            coroutine = body()
            try:
                coroutine.send(None)  # type: ignore[attr-defined]
            except StopIteration as done:
                return done.value
            coroutine.close()  # type: ignore[attr-defined]
            raise RuntimeError("a synchronous body awaited something that suspends")
        return asyncio.run(body())


async def call(session: Facade, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call endpoint ``name`` on any transport's session; a paged one is read to the end."""
    result = getattr(session.session, name)(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, PageIterator):
        return list(result)
    if isinstance(result, AsyncPageIterator):
        return [item async for item in result]
    return result


class StreamFace:
    """One face on any transport's stream (sync or async): every call awaited, and every
    wait for an event bounded, so a missing event fails the test instead of hanging it."""

    def __init__(self, kind: str, stream: Any) -> None:
        self.kind, self.stream = kind, stream

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.stream, name)(*args, **kwargs)
        return result if self.kind == "requests" else await result

    async def next(self, timeout: float = 10.0) -> Any:
        if self.kind == "requests":
            event = self.stream.get(timeout)
            if event is None:
                raise AssertionError(f"no event within {timeout} s")
            return event
        if self.kind == "trio":
            import trio

            with trio.fail_after(timeout):
                return await self.stream.__anext__()
        return await asyncio.wait_for(self.stream.__anext__(), timeout)

    async def until(
        self, wanted: Callable[[Any], bool], timeout: float = 10.0
    ) -> tuple[Any, list[Any]]:
        """The first event ``wanted`` accepts, and every event before it."""
        seen = []
        while True:
            event = await self.next(timeout)
            if wanted(event):
                return event, seen
            seen.append(event)
