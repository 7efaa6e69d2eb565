#!/usr/bin/env python3
"""One market-data client, in a process of its own, timing a burst from the benchmark server.

    python bench/stream_clients.py CLIENT --url URL --events N

The client logs in, opens the fake's DXLink websocket, subscribes to quotes for a few
symbols and waits for the first quote of each. Then it asks the server for a burst of N
Quote events (``POST /bench/stream-burst``, see ``server.py``) and counts the Quote
events its consumer loop receives. The clock starts at the first event of the burst,
so the server building the burst is not timed; it stops at the N-th. Prints one line
of JSON: ``{"events": ..., "wall": seconds, "cpu": seconds, "coalesced": ...}``,
where ``cpu`` is this process's CPU time (every thread) over the same span and
``coalesced`` how many events the stream's buffer replaced because the consumer fell
behind (see docs/streaming.md; those count as received).

Clients (each imports only what it uses, so this file runs in the reference SDK's
virtual environment too):

- ``tastytrade_requests``, ``tastytrade_aiohttp``, ``tastytrade_trio``: ours,
  ``session.market_stream()`` with its defaults, iterated;
- ``aiohttp``: bare aiohttp, its websocket doing the DXLink handshake by hand and
  ``json.loads``-ing each message, counting rows: no events are built (a ceiling);
- ``reference``: the ``tastytrade`` SDK from PyPI, its ``DXLinkStreamer`` and
  ``listen(Quote)``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
from typing import Any

SECRET = "demo-client-secret"
REFRESH = "demo-refresh-token"
USER_AGENT = "tastytrade-proto-bench/1"
SYMBOLS = ("SPY", "AAPL", "QQQ", "MSFT", "TSLA")
WAIT = 60.0  # seconds a burst may take at most: a failure, never a pause


def trigger(url: str, events: int) -> None:
    """Ask the server for the burst (a benchmark-only path of server.py)."""
    request = urllib.request.Request(
        f"{url}/bench/stream-burst?count={events}&batch=100", data=b"", method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


class Clock:
    """Wall and CPU time from the first event of the burst."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def result(self, events: int, coalesced: int = 0) -> dict[str, float]:
        return {
            "events": events,
            "wall": time.perf_counter() - self.wall,
            "cpu": time.process_time() - self.cpu,
            "coalesced": coalesced,
        }


def ours_requests(args: argparse.Namespace) -> dict[str, float]:
    from tastytrade_proto.streaming import Quote
    from tastytrade_requests import Session

    session = Session(base_url=args.url, user_agent=USER_AGENT)
    session.login_with_oauth(SECRET, REFRESH)
    try:
        with session.market_stream() as feed:
            feed.subscribe(Quote, SYMBOLS)
            seen: set[str] = set()
            while len(seen) < len(SYMBOLS):
                event = feed.get(WAIT)
                if event is None:
                    raise RuntimeError("no first quotes")
                if isinstance(event, Quote):
                    seen.add(event.symbol)
            trigger(args.url, args.events)
            clock = Clock()
            received = 0
            while received + feed.coalesced < args.events:
                event = feed.get(WAIT)
                if event is None:
                    raise RuntimeError(f"the burst stopped after {received} events")
                if isinstance(event, Quote):
                    if not received:
                        clock.start()
                    received += 1
            return clock.result(received + feed.coalesced, feed.coalesced)
    finally:
        session.close()


async def _ours_async(feed: Any, args: argparse.Namespace, quote: type) -> dict[str, float]:
    await feed.subscribe(quote, SYMBOLS)
    seen: set[str] = set()
    while len(seen) < len(SYMBOLS):
        event = await feed.__anext__()
        if isinstance(event, quote):
            seen.add(event.symbol)
    trigger(args.url, args.events)
    clock = Clock()
    received = 0
    while received + feed.coalesced < args.events:
        event = await feed.__anext__()
        if isinstance(event, quote):
            if not received:
                clock.start()
            received += 1
    return clock.result(received + feed.coalesced, feed.coalesced)


async def ours_aiohttp(args: argparse.Namespace) -> dict[str, float]:
    from tastytrade_aiohttp import Session
    from tastytrade_proto.streaming import Quote

    session = Session(base_url=args.url, user_agent=USER_AGENT)
    try:
        await session.login_with_oauth(SECRET, REFRESH)
        async with session.market_stream() as feed:
            async with asyncio.timeout(WAIT):
                return await _ours_async(feed, args, Quote)
    finally:
        await session.close()


async def ours_trio(args: argparse.Namespace) -> dict[str, float]:
    import trio

    from tastytrade_proto.streaming import Quote
    from tastytrade_trio import Session

    session = Session(base_url=args.url, user_agent=USER_AGENT)
    try:
        await session.login_with_oauth(SECRET, REFRESH)
        async with session.market_stream() as feed:
            with trio.fail_after(WAIT):
                return await _ours_async(feed, args, Quote)
    finally:
        await session.close()


async def bare_aiohttp(args: argparse.Namespace) -> dict[str, float]:
    import aiohttp

    async with aiohttp.ClientSession(skip_auto_headers=["User-Agent"]) as http:
        body = {"grant_type": "refresh_token", "client_secret": SECRET, "refresh_token": REFRESH}
        async with http.post(
            f"{args.url}/oauth/token", json=body, headers={"User-Agent": USER_AGENT}
        ) as response:
            access = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {access}", "User-Agent": USER_AGENT}
        async with http.get(f"{args.url}/api-quote-tokens", headers=headers) as response:
            quote_token = (await response.json())["data"]
        async with http.ws_connect(
            quote_token["dxlink-url"], max_msg_size=0, headers={"User-Agent": USER_AGENT}
        ) as ws:
            loads = json.loads

            async def until(kind: str, **fields: Any) -> dict[str, Any]:
                while True:
                    message = loads((await ws.receive()).data)
                    if message.get("type") == kind and all(
                        message.get(k) == v for k, v in fields.items()
                    ):
                        return message  # type: ignore[no-any-return]

            fields = [
                "eventSymbol",
                "eventTime",
                "sequence",
                "timeNanoPart",
                "bidTime",
                "bidExchangeCode",
                "askTime",
                "askExchangeCode",
                "bidPrice",
                "askPrice",
                "bidSize",
                "askSize",
            ]
            await ws.send_str(
                json.dumps(
                    {
                        "type": "SETUP",
                        "channel": 0,
                        "version": "0.1-bench/1",
                        "keepaliveTimeout": 60,
                        "acceptKeepaliveTimeout": 60,
                    }
                )
            )
            await until("AUTH_STATE", state="UNAUTHORIZED")
            await ws.send_str(
                json.dumps({"type": "AUTH", "channel": 0, "token": quote_token["token"]})
            )
            await until("AUTH_STATE", state="AUTHORIZED")
            await ws.send_str(
                json.dumps(
                    {
                        "type": "CHANNEL_REQUEST",
                        "channel": 1,
                        "service": "FEED",
                        "parameters": {"contract": "AUTO"},
                    }
                )
            )
            await until("CHANNEL_OPENED", channel=1)
            await ws.send_str(
                json.dumps(
                    {
                        "type": "FEED_SETUP",
                        "channel": 1,
                        "acceptAggregationPeriod": 0.1,
                        "acceptDataFormat": "COMPACT",
                        "acceptEventFields": {"Quote": fields},
                    }
                )
            )
            await ws.send_str(
                json.dumps(
                    {
                        "type": "FEED_SUBSCRIPTION",
                        "channel": 1,
                        "add": [{"type": "Quote", "symbol": s} for s in SYMBOLS],
                    }
                )
            )
            width = len(fields)
            seen = 0
            async with asyncio.timeout(WAIT):
                while seen < len(SYMBOLS):
                    message = loads((await ws.receive()).data)
                    if message.get("type") == "FEED_CONFIG":
                        width = len(message["eventFields"]["Quote"])
                    elif message.get("type") == "FEED_DATA":
                        seen += len(message["data"][1]) // width
                trigger(args.url, args.events)
                clock = Clock()
                received = 0
                while received < args.events:
                    message = loads((await ws.receive()).data)
                    if message["type"] == "FEED_DATA":
                        if not received:
                            clock.start()
                        data = message["data"]
                        for at in range(0, len(data), 2):
                            received += len(data[at + 1]) // width
                return clock.result(received)


async def reference(args: argparse.Namespace) -> dict[str, float]:
    from tastytrade import DXLinkStreamer, Session
    from tastytrade.dxfeed import Quote

    session = Session(SECRET, REFRESH)
    session._client.base_url = args.url  # the SDK has no setting for its host
    async with session:
        await session.refresh()
        async with DXLinkStreamer(session) as streamer:
            await streamer.subscribe(Quote, list(SYMBOLS))
            seen: set[str] = set()
            events = streamer.listen(Quote)
            async with asyncio.timeout(WAIT):
                while len(seen) < len(SYMBOLS):
                    seen.add((await events.__anext__()).event_symbol)
                trigger(args.url, args.events)
                clock = Clock()
                received = 0
                while received < args.events:
                    await events.__anext__()
                    if not received:
                        clock.start()
                    received += 1
                return clock.result(received)


CLIENTS: dict[str, tuple[str, Any]] = {
    "tastytrade_requests": ("sync", ours_requests),
    "tastytrade_aiohttp": ("asyncio", ours_aiohttp),
    "tastytrade_trio": ("trio", ours_trio),
    "aiohttp": ("asyncio", bare_aiohttp),
    "reference": ("asyncio", reference),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("client", choices=sorted(CLIENTS))
    parser.add_argument("--url", required=True)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args(argv)
    kind, run = CLIENTS[args.client]
    if kind == "sync":
        result = run(args)
    elif kind == "asyncio":
        result = asyncio.run(run(args))
    else:
        import trio

        result = trio.run(run, args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
