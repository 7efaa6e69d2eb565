#!/usr/bin/env python3
"""One HTTP client, one workload, in a process of its own, against the benchmark server.

    python bench/clients.py CLIENT WORKLOAD --url URL --calls N [--concurrency C]

prints one line of JSON: ``{"calls": N, "wall": seconds, "cpu": seconds}``, where
``cpu`` is this process's CPU time (every thread) during the timed calls. Logging
in, connecting and a warm-up of ``--warmup`` calls come before the clock starts.
With ``--concurrency C`` the calls are spread over C threads (requests) or tasks
(asyncio, trio), sharing one session and a pool sized for C connections.

Clients (each imports only what it uses, so this file runs in the reference
SDK's virtual environment too):

- ``requests``, ``aiohttp``, ``h11-trio``: the bare library, sending the same
  ``GET`` with the same headers as ours and ``json.loads``-ing the body;
- ``tastytrade_requests``, ``tastytrade_aiohttp``, ``tastytrade_trio``: ours;
- ``reference``: the ``tastytrade`` SDK from PyPI (asyncio, httpx), its
  ``Session`` pointed at the server.

Workloads: ``balances`` (the raw clients know only this one), ``positions``
(50 of them), ``chain`` (the SPY nested option chain, about 10,000 options) and
``session`` (a new session: the OAuth token exchange, then closing it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

ACCOUNT = "5WT00001"
SECRET = "demo-client-secret"
REFRESH = "demo-refresh-token"
USER_AGENT = "tastytrade-proto-bench/1"
PATHS = {
    "balances": f"/accounts/{ACCOUNT}/balances",
    "positions": f"/accounts/{ACCOUNT}/positions",
    "chain": "/option-chains/SPY/nested",
}


def _token_request(url: str) -> tuple[str, bytes, dict[str, str]]:
    body = json.dumps(
        {"grant_type": "refresh_token", "client_secret": SECRET, "refresh_token": REFRESH}
    ).encode()
    return (
        url + "/oauth/token",
        body,
        {"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        "Accept-Version": "20251101",
    }


# -- the timing ------------------------------------------------------------------------


def _timed_threads(call: Callable[[], Any], calls: int, concurrency: int) -> dict[str, float]:
    per_worker = calls // concurrency
    if concurrency == 1:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(per_worker):
            call()
        return _result(per_worker, wall, cpu)
    start = threading.Barrier(concurrency + 1)
    failures: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            for _ in range(per_worker):
                call()
        except BaseException as exc:  # reported after the run
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    cpu, wall = time.process_time(), time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return _result(per_worker * concurrency, wall, cpu)


async def _timed_tasks(
    call: Callable[[], Awaitable[Any]],
    calls: int,
    concurrency: int,
    run_all: Callable[[list[Callable[[], Awaitable[None]]]], Awaitable[None]],
) -> dict[str, float]:
    """Time ``calls`` awaits of ``call`` over ``concurrency`` tasks that ``run_all`` runs."""
    per_worker = calls // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            await call()

    cpu, wall = time.process_time(), time.perf_counter()
    await run_all([worker] * concurrency)
    return _result(per_worker * concurrency, wall, cpu)


async def _all_asyncio(workers: list[Callable[[], Awaitable[None]]]) -> None:
    await asyncio.gather(*(worker() for worker in workers))


async def _all_trio(workers: list[Callable[[], Awaitable[None]]]) -> None:
    import trio

    async with trio.open_nursery() as nursery:
        for worker in workers:
            nursery.start_soon(worker)


def _result(calls: int, wall: float, cpu: float) -> dict[str, float]:
    return {
        "calls": calls,
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
    }


# -- the clients -----------------------------------------------------------------------


def bare_requests(args: argparse.Namespace) -> dict[str, float]:
    import requests
    from requests.adapters import HTTPAdapter

    http = requests.Session()
    http.trust_env = False
    http.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=args.concurrency))
    url, body, headers = _token_request(args.url)
    token = http.post(url, data=body, headers=headers).json()["access_token"]
    target, headers = args.url + PATHS[args.workload], _headers(token)

    def call() -> Any:
        response = http.get(target, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return json.loads(response.content)

    return _run_sync(call, args)


def ours_requests(args: argparse.Namespace) -> dict[str, float]:
    import requests
    from requests.adapters import HTTPAdapter

    from tastytrade_requests import Session

    def pooled() -> requests.Session:
        http = requests.Session()
        http.trust_env = False
        http.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=args.concurrency))
        return http

    if args.workload == "session":

        def new_session() -> None:
            session = Session(base_url=args.url)
            session.login_with_oauth(SECRET, REFRESH)
            session.close()

        return _run_sync(new_session, args)
    session = Session(base_url=args.url, client=pooled(), user_agent=USER_AGENT)
    session.login_with_oauth(SECRET, REFRESH)
    call = {
        "balances": lambda: session.balances(ACCOUNT),
        "positions": lambda: session.positions(ACCOUNT),
        "chain": lambda: session.nested_option_chain("SPY"),
    }[args.workload]
    return _run_sync(call, args)


def _run_sync(call: Callable[[], Any], args: argparse.Namespace) -> dict[str, float]:
    for _ in range(args.warmup):
        call()
    return _timed_threads(call, args.calls, args.concurrency)


async def bare_aiohttp(args: argparse.Namespace) -> dict[str, float]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=max(100, args.concurrency))
    async with aiohttp.ClientSession(connector=connector, skip_auto_headers=["User-Agent"]) as http:
        url, body, headers = _token_request(args.url)
        async with http.post(url, data=body, headers=headers) as response:
            token = (await response.json())["access_token"]
        target, headers = args.url + PATHS[args.workload], _headers(token)

        async def call() -> Any:
            async with http.get(target, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
                return json.loads(await response.read())

        return await _run_asyncio(call, args)


async def ours_aiohttp(args: argparse.Namespace) -> dict[str, float]:
    from tastytrade_aiohttp import Session

    if args.workload == "session":

        async def new_session() -> None:
            session = Session(base_url=args.url)
            await session.login_with_oauth(SECRET, REFRESH)
            await session.close()

        return await _run_asyncio(new_session, args)
    session = Session(base_url=args.url, user_agent=USER_AGENT)
    try:
        await session.login_with_oauth(SECRET, REFRESH)
        call = {
            "balances": lambda: session.balances(ACCOUNT),
            "positions": lambda: session.positions(ACCOUNT),
            "chain": lambda: session.nested_option_chain("SPY"),
        }[args.workload]
        return await _run_asyncio(call, args)
    finally:
        await session.close()


async def reference(args: argparse.Namespace) -> dict[str, float]:
    from tastytrade import Account, Session
    from tastytrade.instruments import NestedOptionChain

    def pointed() -> Any:
        session = Session(SECRET, REFRESH)
        session._client.base_url = args.url  # the SDK has no setting for its host
        return session

    if args.workload == "session":

        async def new_session() -> None:
            session = pointed()
            async with session:
                await session.refresh()

        return await _run_asyncio(new_session, args)
    session = pointed()
    async with session:
        await session.refresh()
        account = await Account.get(session, ACCOUNT)
        call = {
            "balances": lambda: account.get_balances(session),
            "positions": lambda: account.get_positions(session),
            "chain": lambda: NestedOptionChain.get(session, "SPY"),
        }[args.workload]
        return await _run_asyncio(call, args)


async def _run_asyncio(call: Callable[[], Awaitable[Any]], args: argparse.Namespace) -> Any:
    for _ in range(args.warmup):
        await call()
    return await _timed_tasks(call, args.calls, args.concurrency, _all_asyncio)


async def bare_trio(args: argparse.Namespace) -> dict[str, float]:
    from urllib.parse import urlsplit

    import h11
    import trio

    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    class Connection:
        def __init__(self, stream: trio.SocketStream) -> None:
            self.stream = stream
            self.h11 = h11.Connection(h11.CLIENT)

        async def exchange(
            self, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""
        ) -> tuple[int, bytes]:
            h = self.h11
            if h.our_state is h11.DONE:
                h.start_next_cycle()
            wire = h.send(h11.Request(method=method, target=target, headers=headers))
            if body:
                wire += h.send(h11.Data(data=body))
            wire += h.send(h11.EndOfMessage())
            await self.stream.send_all(wire)
            status, chunks = 0, []
            while True:
                event = h.next_event()
                if event is h11.NEED_DATA:
                    h.receive_data(await self.stream.receive_some(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    chunks.append(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    return status, b"".join(chunks)

    first = Connection(await trio.open_tcp_stream(host, port))
    _, body, _ = _token_request("")
    common = [("Host", f"{host}:{port}")]
    token_headers = [*common, ("Content-Type", "application/json"), ("User-Agent", USER_AGENT)]
    token_headers.append(("Content-Length", str(len(body))))
    _, answer = await first.exchange("POST", "/oauth/token", token_headers, body)
    token = json.loads(answer)["access_token"]
    headers = [*common, *_headers(token).items()]
    idle = [first]
    idle += [
        Connection(await trio.open_tcp_stream(host, port)) for _ in range(args.concurrency - 1)
    ]
    target = PATHS[args.workload]

    async def call() -> Any:
        connection = idle.pop()
        try:
            status, payload = await connection.exchange("GET", target, headers)
        finally:
            idle.append(connection)
        if status != 200:
            raise RuntimeError(f"HTTP {status}")
        return json.loads(payload)

    try:
        return await _run_trio(call, args)
    finally:
        for connection in idle:
            await connection.stream.aclose()


async def ours_trio(args: argparse.Namespace) -> dict[str, float]:
    from tastytrade_trio import ConnectionPool, Session

    if args.workload == "session":

        async def new_session() -> None:
            session = Session(base_url=args.url)
            await session.login_with_oauth(SECRET, REFRESH)
            await session.close()

        return await _run_trio(new_session, args)
    pool = ConnectionPool(max_per_host=max(100, args.concurrency))
    session = Session(base_url=args.url, client=pool, user_agent=USER_AGENT)
    try:
        await session.login_with_oauth(SECRET, REFRESH)
        call = {
            "balances": lambda: session.balances(ACCOUNT),
            "positions": lambda: session.positions(ACCOUNT),
            "chain": lambda: session.nested_option_chain("SPY"),
        }[args.workload]
        return await _run_trio(call, args)
    finally:
        await session.close()
        await pool.aclose()


async def _run_trio(call: Callable[[], Awaitable[Any]], args: argparse.Namespace) -> Any:
    for _ in range(args.warmup):
        await call()
    return await _timed_tasks(call, args.calls, args.concurrency, _all_trio)


CLIENTS: dict[str, tuple[str, Callable[[argparse.Namespace], Any]]] = {
    "requests": ("sync", bare_requests),
    "tastytrade_requests": ("sync", ours_requests),
    "aiohttp": ("asyncio", bare_aiohttp),
    "tastytrade_aiohttp": ("asyncio", ours_aiohttp),
    "h11-trio": ("trio", bare_trio),
    "tastytrade_trio": ("trio", ours_trio),
    "reference": ("asyncio", reference),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("client", choices=sorted(CLIENTS))
    parser.add_argument("workload", choices=[*PATHS, "session"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args(argv)
    args.calls = max(args.calls, args.concurrency)
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
