"""The ``tastytrade`` command: a command line over the tastytrade-proto transports.

``tastytrade demo`` runs every authentication flow against the fake API on
loopback, through each of the three transports, with no network and no
credentials. Account, order and market-data commands come later.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="tastytrade", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run every login flow against a local fake API")
    demo.add_argument(
        "--transport",
        action="append",
        choices=["requests", "aiohttp", "trio"],
        help="only this transport (repeatable); all three by default",
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.transport or ["requests", "aiohttp", "trio"], out=sys.stdout)
    return 2  # pragma: no cover - argparse rejects unknown commands first
