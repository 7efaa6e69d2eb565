#!/usr/bin/env python3
"""The fault campaign of ``tests/test_fault_campaign.py``, at scale, as a table of counts.

    python bench/fault_campaign.py --injections 1000 --seed 7

Runs ``tests/campaign.py`` through each transport (``--injections`` faults in all, split
evenly between the transports; each run on a fresh fake server over TLS on loopback), then
prints, per transport and in total: runs, faults injected (and how many a request met),
operations, order placements and how each ended (placed, found after a lost answer,
unknown, certainly not placed, its caller cancelled meanwhile, another error), single-use
tokens rotated, cancellations that reached their caller, and invariant violations. Every
violation is printed in full after the table; the exit status is 1 if there was any.
No network beyond loopback; the project (with requests, aiohttp and trio) must be
importable, as in the test environment.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.campaign import TRANSPORTS, Tally, run_transport, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--injections", type=int, default=1000, help="faults in all")
    parser.add_argument("--seed", type=int, default=1, help="the campaign's seed")
    parser.add_argument(
        "--transports",
        default=",".join(TRANSPORTS),
        help=f"a comma-separated subset of {','.join(TRANSPORTS)}",
    )
    args = parser.parse_args(argv)
    kinds = [kind for kind in args.transports.split(",") if kind]
    if not kinds or set(kinds) - set(TRANSPORTS) or args.injections < 1:
        parser.error(f"--transports takes some of {','.join(TRANSPORTS)}; --injections >= 1")
    each = -(-args.injections // len(kinds))  # rounded up: at least --injections in all

    rows: dict[str, Tally] = {}
    started = time.monotonic()
    for number, kind in enumerate(kinds):
        began = time.monotonic()
        rows[kind] = run_transport(kind, args.seed * 1000 + number, each)
        took = time.monotonic() - began
        print(f"{kind}: {rows[kind].injections} injections in {took:.1f} s", file=sys.stderr)
    elapsed = time.monotonic() - started

    print(f"Fault campaign: seed {args.seed}, {elapsed:.1f} s\n")
    print(table(rows))
    total = Tally()
    for tally in rows.values():
        total.add(tally)
    print()
    reached = f"{total.cancellations} reached a caller"
    print(f"cancellation attempts: {total.cancel_attempts} ({reached})")
    print(f"unknown or interrupted placements looked up later: {total.looked_up}")
    print(f"replaces: {total.replaces}, cancels: {total.cancels}")
    print(f"slowest operation: {total.slowest:.2f} s")
    errors = ", ".join(f"{name} {count}" for name, count in total.errors.most_common())
    print(f"errors callers saw: {errors or 'none'}")
    for violation in total.violations:
        print(f"\nVIOLATION {violation}")
    return 1 if total.violations else 0


if __name__ == "__main__":
    sys.exit(main())
