#!/usr/bin/env python3
"""How fast, and in how much memory, a nested option chain of ~10,000 options is parsed.

Builds the JSON body of ``GET /option-chains/SPY/nested`` once (the fake API's
generator: 50 expirations x 100 strikes x call and put), then times, over
several interleaved rounds, and measures the peak memory (tracemalloc) of:

(a) ``json.loads`` alone: the floor every Python client pays;
(b) tastytrade-proto as the endpoint does it: ``decode_envelope`` (``parse_json``
    on the ``Response``) then ``NestedOptionChain`` decoding of ``data.items``;
(c) the reference SDK (``tastytrade`` on PyPI), when it is importable:
    ``json.loads`` then ``NestedOptionChain.model_validate`` of each item, as its
    ``NestedOptionChain.get`` does; and, for comparison only, the same models
    through pydantic's own JSON parser (``model_validate_json`` of the body).

Not part of the test suite. See ``bench/README.md`` for how to run it with the
reference SDK installed in a separate virtual environment.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tastytrade_proto.endpoint import items_of
from tastytrade_proto.http import Response
from tastytrade_proto.instruments import NestedOptionChain
from tastytrade_proto.testing._fake_instruments import nested_chain

MiB = 1024 * 1024


def build_body(expirations: int, strikes: int) -> bytes:
    """The response body, compact JSON as the API sends it."""
    item = nested_chain("SPY", expirations, strikes, date(2026, 9, 21), center=Decimal(600))
    envelope = {"data": {"items": [item]}, "context": "/option-chains/SPY/nested"}
    return json.dumps(envelope, separators=(",", ":")).encode()


def ours(body: bytes) -> Callable[[], Any]:
    """What ``session.nested_option_chain(...)`` does with the response it gets."""
    response = Response(200, (("content-type", "application/json"),), body)
    decode = items_of(NestedOptionChain)
    return lambda: decode(response)


def reference(body: bytes) -> dict[str, Callable[[], Any]]:
    """The reference SDK's parsers, or nothing when it is not installed here."""
    try:
        pydantic = importlib.import_module("pydantic")
        tastytrade = importlib.import_module("tastytrade")
        RefChain = importlib.import_module("tastytrade.instruments").NestedOptionChain
    except ImportError:
        return {}

    items = pydantic.create_model("Items", items=(list.__class_getitem__(RefChain), ...))
    envelope = pydantic.create_model("Envelope", data=(items, ...))
    version = getattr(tastytrade, "__version__", "?")

    def as_the_sdk_does() -> Any:
        return [RefChain.model_validate(i) for i in json.loads(body)["data"]["items"]]

    def pydantic_json() -> Any:
        return envelope.model_validate_json(body).data.items

    return {
        f"(c) tastytrade {version}: json.loads + model_validate": as_the_sdk_does,
        f"    (pydantic {pydantic.VERSION} JSON parser; not the SDK's path)": pydantic_json,
    }


def strike_total(chains: Any) -> tuple[int, Decimal]:
    """How many strikes a parse found, and the sum of their prices (a correctness check)."""
    strikes = [s for c in chains for e in c.expirations for s in e.strikes]
    return len(strikes), sum((Decimal(s.strike_price) for s in strikes), Decimal(0))


def time_rounds(candidates: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call, each round running every candidate once, in a rotating order."""
    names = list(candidates)
    times: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm up: first-use work (decoder compilation, caches) is not timed
        candidates[name]()
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            gc.collect()
            start = time.perf_counter()
            result = candidates[name]()
            times[name].append(time.perf_counter() - start)
            del result
    return times


def memory(run: Callable[[], Any]) -> tuple[int, int]:
    """Peak bytes allocated during one call, and bytes still held by its result."""
    gc.collect()
    tracemalloc.start()
    result = run()
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--expirations", type=int, default=50)
    parser.add_argument("--strikes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    body = build_body(args.expirations, args.strikes)
    candidates: dict[str, Callable[[], Any]] = {
        "(a) json.loads only": lambda: json.loads(body),
        "(b) tastytrade-proto: parse_json + NestedOptionChain": ours(body),
    }
    candidates.update(reference(body))
    names = list(candidates)

    expected = strike_total(candidates[names[1]]())
    for name in names[2:]:
        assert strike_total(candidates[name]()) == expected, f"{name} parsed something else"

    options = 2 * expected[0]
    print(
        f"nested option chain: {args.expirations} expirations x {args.strikes} strikes = "
        f"{options:,} options, {len(body):,} bytes of JSON"
    )
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{args.rounds} interleaved rounds; times are medians (min), memory from tracemalloc"
    )
    times = time_rounds(candidates, args.rounds)
    rows = []
    for name in names:
        peak, kept = memory(candidates[name])
        rows.append((name, statistics.median(times[name]), min(times[name]), peak, kept))

    width = max(len(name) for name in names)
    print(f"\n{'':{width}}  {'median ms':>9}  {'min ms':>7}  {'peak MiB':>8}  {'kept MiB':>8}")
    for name, median, fastest, peak, kept in rows:
        print(
            f"{name:{width}}  {median * 1e3:9.2f}  {fastest * 1e3:7.2f}  "
            f"{peak / MiB:8.2f}  {kept / MiB:8.2f}"
        )
    if len(rows) > 2:
        ours_row, ref_row = rows[1], rows[2]
        print(
            f"\nours / reference (b / c): time {ours_row[1] / ref_row[1]:.2f}x "
            f"(min {ours_row[2] / ref_row[2]:.2f}x), peak memory {ours_row[3] / ref_row[3]:.2f}x, "
            f"kept memory {ours_row[4] / ref_row[4]:.2f}x"
        )
        print(
            "(tracemalloc sees Python allocations only: pydantic-core's own Rust buffers are "
            "not counted)"
        )
    else:
        print("\nthe reference SDK (tastytrade) is not importable here: see bench/README.md")


if __name__ == "__main__":
    main()
