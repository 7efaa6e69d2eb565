"""The fault campaign (``tests/campaign.py``) over real TLS sockets: every invariant holds.

For each transport, about a hundred faults, seeded: connections dropped before or after the
fake handles the request, answers cut mid-body, 500/502/503 and HTML 502 answers, 429s,
answers slower than the timeout, and callers cancelled at random moments, over OAuth and
remember-token sessions shared by threads or tasks. ``bench/fault_campaign.py`` runs the
same campaign at scale. The last tests show that the checks have teeth.
"""

from __future__ import annotations

import contextlib
import gc
import warnings
from typing import Any

import pytest

from tastytrade_proto import ValidationFailed
from tastytrade_proto.orders import NewLeg, NewOrder
from tastytrade_proto.testing import FakeTastytradeAPI, FakeTastytradeServer

from .campaign import (
    ORDERS,
    TRANSPORTS,
    RequestsRunner,
    Run,
    check_orders,
    finish,
    run_transport,
    start,
)

INJECTIONS = 100
SEEDS = {"requests": 20261204, "aiohttp": 20261205, "trio": 20261206}


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_every_promise_holds_through_a_fault_campaign(kind: str) -> None:
    with warnings.catch_warnings():
        if kind == "requests":
            # Ctrl-C lands anywhere, requests' and urllib3's own code included, which may then
            # drop a socket for the collector to close: a TLS one, or a plain one when it lands
            # between creating the socket and connecting it. Invariant 4 still counts
            # descriptors after collection: nothing may stay open.
            warnings.filterwarnings("ignore", "unclosed <ssl.SSLSocket", ResourceWarning)
            warnings.filterwarnings("ignore", "unclosed <socket.socket", ResourceWarning)
        tally = run_transport(kind, SEEDS[kind], INJECTIONS)
        gc.collect()

    assert not tally.violations, f"{len(tally.violations)} violations:\n\n" + "\n\n".join(
        tally.violations
    )
    # The campaign did what it says (each of these is all but certain for these seeds).
    assert tally.injections >= INJECTIONS
    assert tally.runs >= 3  # OAuth and legacy runs, each on a fresh server
    outcomes = ("placed", "reconciled", "unknown", "not_placed", "interrupted", "other")
    assert sum(getattr(tally, name) for name in outcomes) == tally.placements > 0
    assert tally.tokens_rotated > 0 and tally.cancel_attempts > 0


# -- the checks have teeth ---------------------------------------------------------------------


def _scene(body: Any) -> Run:
    """Run ``body(run)`` on a logged-in (OAuth) requests session against a fresh fake."""
    with FakeTastytradeServer(FakeTastytradeAPI(rotate_refresh_tokens=True), tls=True) as server:
        run = Run(RequestsRunner(), server, seed=0, legacy=False)

        async def scene() -> None:
            await start(run)
            await body(run)
            if run.client is not None:
                await run.client.close()

        run.runner.main(scene)
    return run


def test_an_order_posted_twice_is_caught() -> None:
    order = NewOrder.limit(
        NewLeg.equity("AAPL", "Buy to Open", 1), "-1.00", external_identifier="fc-twice"
    ).to_json()

    async def twice(run: Run) -> None:
        run.outcomes["fc-twice"] = "placed"
        for _ in range(2):  # by hand, behind place_order's back
            await run.client.call("request", "POST", ORDERS, json=order)  # type: ignore[union-attr]
        check_orders(run)

    violations = _scene(twice).tally.violations
    assert any("fc-twice was POSTed 2 times" in v for v in violations)
    assert any("holds 2 orders placed as fc-twice" in v for v in violations)


def test_a_cancel_sent_twice_for_one_call_is_caught() -> None:
    path = f"{ORDERS}/100001"  # the demo account's working MSFT order

    async def twice(run: Run) -> None:
        run.client_calls[("DELETE", path)] += 1  # one call...
        for _ in range(2):  # ...two requests
            with contextlib.suppress(ValidationFailed):  # the second: cancelled already
                await run.client.call("request", "DELETE", path)  # type: ignore[union-attr]
        check_orders(run)

    violations = _scene(twice).tally.violations
    assert any(f"DELETE {path} reached the fake 2 times, for 1 calls" in v for v in violations)


def test_a_token_the_store_missed_is_caught() -> None:
    async def lose(run: Run) -> None:
        await run.client.call("refresh")  # type: ignore[union-attr]
        run.tokens.refresh.pop()  # as if the store had never seen the rotation
        await finish(run)

    violations = _scene(lose).tally.violations
    assert any("the last token the store saw no longer logs in" in v for v in violations)
