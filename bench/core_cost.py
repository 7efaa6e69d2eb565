#!/usr/bin/env python3
"""What the sans-I/O core costs per call, with no HTTP at all.

A logged-in ``Operations`` builds ``GET balances`` and ``GET positions`` (50
of them) and reads the answers the fake API gives, handed back in memory. Timed,
in interleaved rounds:

- ``build``: the authenticated :class:`Request`, up to the ``Send`` step;
- ``build + decode``: the whole operation, from the call to the typed result;
- ``json.loads``: parsing the same body, the floor any Python client pays,
  as the baseline.

Prints a Markdown table of medians (microseconds) and ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server import ACCOUNT, BenchmarkAPI
from timing import interleaved, median, ratio, table

from tastytrade_proto.protocol import Response, Send, drive
from tastytrade_proto.sessions import Operations, TransportSettings
from tastytrade_proto.testing import DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN

NOW = 1_790_000_000.0  # a fixed clock: the access token never comes due


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"the core asked to wait {seconds} s")


def measure(number: int, repeat: int) -> str:
    fake = BenchmarkAPI()
    calls = Operations(TransportSettings.resolve(base_url="http://127.0.0.1:1"))

    def through_fake(request: Any) -> Response:
        return fake.handle(request).response

    drive(
        calls.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN),
        through_fake,
        clock=lambda: NOW,
        sleep=_no_sleep,
    )
    rows = []
    for name, start in (
        ("balances", lambda: calls.balances(ACCOUNT)),
        ("positions (50)", lambda: calls.positions(ACCOUNT)),
    ):
        first = start().next_step(NOW)
        assert isinstance(first, Send)
        answer = through_fake(first.request)
        assert answer.status == 200, answer

        def build(start: Any = start) -> None:
            operation = start()
            operation.next_step(NOW)
            operation.cancel()

        def whole(start: Any = start, answer: Response = answer) -> Any:
            return drive(start(), lambda _: answer, clock=lambda: NOW, sleep=_no_sleep)

        def parse(body: bytes = answer.body) -> Any:
            return json.loads(body)

        found = interleaved(
            {"build": build, "whole": whole, "json": parse}, number=number, repeat=repeat
        )
        b, w, j = (median(found[k]) * 1e6 for k in ("build", "whole", "json"))
        rows.append(
            [
                name,
                f"{len(answer.body):,} B",
                f"{b:.1f}",
                f"{w - b:.1f}",
                f"{w:.1f}",
                f"{j:.1f}",
                ratio(w, j),
            ]
        )
    return table(
        "1. Core cost per call, no HTTP (microseconds, median)",
        [
            "call",
            "body",
            "build request",
            "decode response",
            "build + decode",
            "json.loads alone",
            "build + decode / json.loads",
        ],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000, help="calls per round")
    parser.add_argument("--repeat", type=int, default=15, help="rounds")
    args = parser.parse_args(argv)
    print(measure(args.number, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
