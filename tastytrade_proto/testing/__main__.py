"""``python -m tastytrade_proto.testing``: serve the fake API on loopback until interrupted.

Prints the base URL (and, with ``--tls``, the CA file to trust) and the demo
credentials, then serves. Point any client at it: ``tastytrade login
--base-url URL`` with the demo OAuth pair, or your own code.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
from collections.abc import Callable

from . import DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN, FakeTastytradeServer


def main(argv: list[str] | None = None, *, wait: Callable[[], object] | None = None) -> int:
    """Serve until Ctrl-C (or until ``wait`` returns); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tastytrade_proto.testing")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a throw-away CA")
    args = parser.parse_args(argv)
    with FakeTastytradeServer(tls=args.tls) as server:
        print(f"fake tastytrade API at {server.base_url}")
        if args.tls:
            print(f"trust this CA: {server.ca_path}")
        print(f"demo OAuth: client secret {DEMO_CLIENT_SECRET!r}, refresh {DEMO_REFRESH_TOKEN!r}")
        print("Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            (wait or threading.Event().wait)()
    return 0


if __name__ == "__main__":
    sys.exit(main())
