#!/usr/bin/env python3
"""The fake API, served in a process of its own for the benchmarks.

A Python server in the client's process would share its interpreter lock and
CPU, and hide what the client costs. This one runs alone: it prints its base URL
on the first line of stdout, then serves plain HTTP/1.1 (keep-alive) on
loopback until its stdin closes.

The demo data is what ``FakeTastytradeAPI`` seeds, plus what the benchmarks
read: account ``5WT00001`` holds 50 positions, and the SPY nested option chain
has about 10,000 options (50 expirations of 100 strikes, calls and puts). The
answers to positions and chains, which do not change, are kept after the first
time, so the server's cost for those large answers stays small and the same for
every client. ``GET balances`` is computed on every request, as the fake always
does (about half the server's CPU per call): the transports are measured against
the fake API as it serves. With ``--keep-balances`` that answer is kept too: a
cheaper server, against which each client's own cost weighs more. The recorded
requests are dropped as they come, so memory stays flat over a long run.

For the streaming benchmarks, the same port serves the fake's DXLink websocket, and
``POST /bench/stream-burst?count=N`` (a benchmark-only path) makes the fake's next
websocket step send a burst of N Quote events (its ``BURST`` stream fault) to the
client subscribed to quotes. The websocket log the fake keeps is dropped at each such
request, so it holds one burst at most.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tastytrade_proto.protocol.http import Request
from tastytrade_proto.testing import FakeTastytradeAPI, FakeTastytradeServer
from tastytrade_proto.testing.fake import orders as fake_orders
from tastytrade_proto.testing.fake.api import Reply, StreamFault, StreamFaultKind
from tastytrade_proto.testing.fake.instruments import ChainSpec, InstrumentCatalog
from tastytrade_proto.testing.fake.kit import reply as json_reply

ACCOUNT = "5WT00001"
POSITIONS = 50
CHAIN_SYMBOL = "SPY"
CHAIN_EXPIRATIONS = 50
CHAIN_STRIKES = 100
_KEPT = ("/option-chains/", f"/accounts/{ACCOUNT}/positions")
BURST_PATH = "/bench/stream-burst"


class BenchmarkAPI(FakeTastytradeAPI):
    """The demo fake with the benchmark's data, keeping its unchanging answers."""

    def __init__(self, *, keep_balances: bool = False) -> None:
        super().__init__()
        self._kept: dict[str, Any] = {}
        self._keep = _KEPT + ((f"/accounts/{ACCOUNT}/balances",) if keep_balances else ())
        account = self.accounts[ACCOUNT]
        for n in range(POSITIONS - len(account.positions)):
            symbol = f"BM{n:02d}"
            price = Decimal(20 + n)
            account.positions.append(
                fake_orders.position_json(
                    ACCOUNT, symbol, "Equity", symbol, 10 + n, "Long", str(price), str(price), 1
                )
            )
            self.set_mark(symbol, price + Decimal("0.35"))
        catalog = self.area("instruments", InstrumentCatalog)
        spec = catalog.chains[CHAIN_SYMBOL]
        catalog.chains[CHAIN_SYMBOL] = ChainSpec(
            spec.center,
            spec.step,
            strikes=CHAIN_STRIKES,
            expirations=CHAIN_EXPIRATIONS,
            dailies=spec.dailies,
            close_minute=spec.close_minute,
            tick_sizes=spec.tick_sizes,
        )

    def handle(self, request: Request) -> Any:
        parts = urlsplit(request.url)
        if request.method == "POST" and parts.path == BURST_PATH:
            return self._burst(parse_qs(parts.query))
        kept = request.method == "GET" and any(p in request.url for p in self._keep)
        if kept and request.url in self._kept:
            return self._kept[request.url]
        reply = super().handle(request)
        self.requests.clear()
        if kept and reply.response.status == 200:
            self._kept[request.url] = reply
        return reply

    def _burst(self, query: dict[str, list[str]]) -> Reply:
        """A burst of Quote events on the websocket that subscribed to quotes (the fake's
        BURST stream fault, fired at that connection's next step)."""
        count = int(query.get("count", ["100000"])[0])
        batch = int(query.get("batch", ["100"])[0])
        self.stream_messages.clear()
        self.inject_stream_fault(StreamFault(StreamFaultKind.BURST, count=count, batch=batch))
        return Reply(json_reply(200, {"data": {"count": count, "batch": batch}}))


def main() -> int:
    keep_balances = "--keep-balances" in sys.argv[1:]
    with FakeTastytradeServer(BenchmarkAPI(keep_balances=keep_balances)) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin (or exits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
