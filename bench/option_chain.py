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
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import table

from tastytrade_proto.instruments import NestedOptionChain
from tastytrade_proto.models import items_of
from tastytrade_proto.protocol.http import Response
from tastytrade_proto.testing.fake.instruments import nested_chain

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
        f"reference SDK (tastytrade {version}): json.loads + model_validate": as_the_sdk_does,
        f"pydantic {pydantic.VERSION} JSON parser, same models (not the SDK's path)": pydantic_json,
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


def rss_growth(name: str, args: argparse.Namespace) -> int:
    """Peak resident memory added by one parse, in a fresh process (sees Rust allocations too)."""
    command = [sys.executable, __file__, "--rss", name]
    command += ["--expirations", str(args.expirations), "--strikes", str(args.strikes)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _rss_of(name: str, candidates: dict[str, Callable[[], Any]]) -> int:
    gc.collect()  # no warm-up: freed memory would be reused and hide the growth
    Path("/proc/self/clear_refs").write_text("5")  # Linux: the peak (VmHWM) restarts from now
    before = _status_kib("VmRSS")
    result = candidates[name]()
    peak = _status_kib("VmHWM")
    del result
    return (peak - before) * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--expirations", type=int, default=50)
    parser.add_argument("--strikes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--rss", help=argparse.SUPPRESS)  # internal: one parse, print RSS growth
    args = parser.parse_args(argv)

    body = build_body(args.expirations, args.strikes)
    candidates: dict[str, Callable[[], Any]] = {
        "json.loads only (baseline)": lambda: json.loads(body),
        "tastytrade-proto: parse_json + NestedOptionChain": ours(body),
    }
    candidates.update(reference(body))
    if args.rss:
        print(_rss_of(args.rss, candidates))
        return 0
    names = list(candidates)

    expected = strike_total(candidates[names[1]]())
    for name in names[2:]:
        assert strike_total(candidates[name]()) == expected, f"{name} parsed something else"

    options = 2 * expected[0]
    times = time_rounds(candidates, args.rounds)
    rows = []
    ours_median = statistics.median(times[names[1]])
    for name in names:
        peak, kept = memory(candidates[name])
        median = statistics.median(times[name])
        rows.append(
            [
                name,
                f"{median * 1e3:.1f}",
                f"{min(times[name]) * 1e3:.1f}",
                f"{ours_median / median:.2f}x",
                f"{peak / MiB:.1f}",
                f"{kept / MiB:.1f}",
                f"{rss_growth(name, args) / MiB:.1f}",
            ]
        )
    print(
        table(
            f"4b. Parsing a nested option chain of {options:,} options "
            f"({len(body):,} bytes of JSON), no HTTP; {args.rounds} interleaved rounds",
            [
                "parser",
                "median ms",
                "min ms",
                "ours / this (time)",
                "peak MiB (tracemalloc)",
                "kept MiB",
                "peak RSS growth MiB",
            ],
            rows,
        )
    )
    if len(rows) < 3:
        print("The reference SDK (tastytrade) is not importable here: see bench/README.md.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
