#!/usr/bin/env python3
"""Every benchmark of docs/performance.md, one after another, as Markdown tables.

Run it through ``bench/run``, which makes the two virtual environments it needs.
Directly: ``python bench/suite.py --reference-python PATH`` with this project
(and requests, aiohttp, trio) importable by ``python``, and the ``tastytrade``
SDK from PyPI importable by ``PATH`` (``--no-reference`` skips what needs it).

1. the core's cost per call, no HTTP (``core_cost.py``);
2. each transport against its bare library, over loopback to the fake API
   served by another process (``server.py``, ``clients.py``);
3. the reference SDK against ours, the same calls to the same server, one at a time
   and ten at a time;
4. import times, and parsing a nested option chain: time and memory
   (``option_chain.py``);
5. DXLink market data (``streaming.py``, ``stream_clients.py``): decoding a recorded
   burst against ``json.loads`` and the reference SDK; a burst from the fake's DXLink
   websocket, end to end over loopback, per transport; memory over an hour of
   simulated streaming;
6. the account streamer (``account_stream.py``): decoding a recorded burst of order,
   position and balance notifications against ``json.loads`` and the reference SDK;
   memory over a simulated day.

Figures are medians over interleaved rounds; ratios compare figures of the same
run. The machine is whatever runs this: compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import table

HERE = Path(__file__).resolve().parent
PAIRS = (
    ("requests", "tastytrade_requests"),
    ("aiohttp", "tastytrade_aiohttp"),
    ("h11-trio", "tastytrade_trio"),
)
# calls per client process, by workload (a chain answer is 0.8 MB)
CALLS = {"balances": 1000, "positions": 400, "chain": 20, "session": 100}
# calls in flight together in section 3's second measurement (tasks, or threads for requests)
REFERENCE_CONCURRENCY = 10
# section 5b: ours over each transport, then the two baselines
STREAM_CLIENTS = ("tastytrade_requests", "tastytrade_aiohttp", "tastytrade_trio", "aiohttp")


class Server:
    """``server.py`` in its own process, with its CPU time readable."""

    def __init__(self, *options: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "server.py"), *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            raise RuntimeError(f"the benchmark server did not start: {self.url!r}")

    def cpu(self) -> float:
        """CPU seconds the server process has used (user + system)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def run_client(
    python: str, client: str, workload: str, server: Server, *, calls: int, concurrency: int
) -> dict[str, float]:
    command = [python, str(HERE / "clients.py"), client, workload, "--url", server.url]
    command += ["--calls", str(calls), "--concurrency", str(concurrency)]
    before = server.cpu()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{client} {workload} failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout)
    result["server_cpu"] = server.cpu() - before  # includes the client's login and warm-up
    return result


def rounds(
    entries: Sequence[tuple[str, str]],
    workload: str,
    server: Server,
    *,
    calls: int,
    concurrency: int,
    repeat: int,
) -> dict[str, dict[str, float]]:
    """Median throughput and CPU per call of each (python, client), taking turns."""
    seen: dict[str, list[dict[str, float]]] = {client: [] for _, client in entries}
    for round_ in range(repeat):
        shift = round_ % len(entries)
        for python, client in [*entries[shift:], *entries[:shift]]:
            seen[client].append(
                run_client(python, client, workload, server, calls=calls, concurrency=concurrency)
            )
    out = {}
    for client, results in seen.items():
        out[client] = {
            "rate": statistics.median(r["calls"] / r["wall"] for r in results),
            "cpu_us": statistics.median(1e6 * r["cpu"] / r["calls"] for r in results),
            "server_us": statistics.median(1e6 * r["server_cpu"] / r["calls"] for r in results),
        }
    return out


def section_core(args: argparse.Namespace) -> str:
    return _python_output([sys.executable, str(HERE / "core_cost.py"), *args.core_args])


def section_transports(args: argparse.Namespace, server: Server) -> str:
    rows = []
    for raw, ours in PAIRS:
        if args.pairs and ours.removeprefix("tastytrade_") not in args.pairs:
            continue
        for concurrency in (1,) if args.sequential_only else (1, 50):
            found = rounds(
                [(sys.executable, raw), (sys.executable, ours)],
                "balances",
                server,
                calls=args.calls,
                concurrency=concurrency,
                repeat=args.rounds,
            )
            r, o = found[raw], found[ours]
            rows.append(
                [
                    ours,
                    raw,
                    "sequential" if concurrency == 1 else f"{concurrency} concurrent",
                    f"{r['rate']:.0f}",
                    f"{o['rate']:.0f}",
                    f"{o['rate'] / r['rate']:.2f}x",
                    f"{r['cpu_us']:.0f}",
                    f"{o['cpu_us']:.0f}",
                    f"+{o['cpu_us'] - r['cpu_us']:.0f}",
                    f"{o['server_us']:.0f}",
                ]
            )
    return table(
        f"2. Transports against their bare library: GET balances over loopback "
        f"({args.calls} calls per process, median of {args.rounds} rounds)",
        [
            "ours",
            "bare library",
            "calls",
            "bare calls/s",
            "ours calls/s",
            "ours / bare",
            "bare client CPU µs/call",
            "ours client CPU µs/call",
            "added CPU µs/call",
            "server CPU µs/call",
        ],
        rows,
    )


def section_reference(args: argparse.Namespace, server: Server) -> str:
    rows = []
    for workload in ("session", "balances", "positions", "chain"):
        entries = [
            (args.reference_python, "reference"),
            (sys.executable, "tastytrade_aiohttp"),
            (sys.executable, "tastytrade_requests"),
        ]
        if workload != "session":  # bare aiohttp: what any asyncio client could reach at best
            entries.append((sys.executable, "aiohttp"))
        # Sequential calls wait for the server each time, so the server's own cost bounds every
        # client's rate alike; with calls in flight together, the server works while the
        # client does, and each client's own cost sets its rate.
        for concurrency in (1,) if workload == "session" else (1, REFERENCE_CONCURRENCY):
            found = rounds(
                entries,
                workload,
                server,
                calls=CALLS[workload],
                concurrency=concurrency,
                repeat=args.rounds,
            )
            ref = found["reference"]
            for client in found:
                f = found[client]
                rows.append(
                    [
                        workload,
                        "sequential" if concurrency == 1 else f"{concurrency} concurrent",
                        {"reference": "reference SDK", "aiohttp": "bare aiohttp + json.loads"}.get(
                            client, client
                        ),
                        f"{f['rate']:.1f}",
                        f"{f['rate'] / ref['rate']:.2f}x",
                        f"{f['cpu_us']:.0f}",
                        f"{f['cpu_us'] / ref['cpu_us']:.2f}x",
                    ]
                )
    return table(
        f"3. Against the reference SDK: the same calls to the same server (median of "
        f"{args.rounds} rounds)",
        [
            "call",
            "calls",
            "client",
            "calls/s",
            "throughput vs reference",
            "client CPU µs/call",
            "CPU vs reference",
        ],
        rows,
    )


def import_ms(python: str, module: str, repeat: int) -> float:
    """Median ``-X importtime`` cumulative time of ``module``, with bytecode cached."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [python, "-X", "importtime", "-c", f"import {module}"]
    subprocess.run(command, capture_output=True, env=env, check=True)  # writes the .pyc files
    times = []
    for _ in range(repeat):
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        pattern = rf"^import time:\s+\d+ \|\s+(\d+) \| {re.escape(module)}$"
        match = re.search(pattern, done.stderr, re.M)
        if match is None:
            raise RuntimeError(f"no import time for {module} in:\n{done.stderr[-500:]}")
        times.append(int(match.group(1)) / 1000)
    return statistics.median(times)


def section_imports(args: argparse.Namespace) -> str:
    ours = [
        ("tastytrade_proto", "the core"),
        ("tastytrade_proto.api", "the core with every endpoint and model"),
        ("tastytrade_requests", "requests transport"),
        ("tastytrade_aiohttp", "aiohttp transport"),
        ("tastytrade_trio", "trio transport"),
        ("requests", "bare library"),
        ("aiohttp", "bare library"),
        ("trio", "bare library"),
    ]
    measured = [
        (module, what, import_ms(sys.executable, module, args.import_rounds))
        for module, what in ours
    ]
    if args.reference_python:
        measured.append(
            (
                "tastytrade",
                "reference SDK",
                import_ms(args.reference_python, "tastytrade", args.import_rounds),
            )
        )
    reference = measured[-1][2] if args.reference_python else None
    rows = [
        [
            module,
            what,
            f"{ms:.1f}",
            f"{ms / reference:.2f}x" if reference else "-",
        ]
        for module, what, ms in measured
    ]
    return table(
        f"4a. Import time: python -X importtime, bytecode cached, median of {args.import_rounds} "
        "fresh interpreters",
        ["module", "what", "ms", "vs reference SDK"],
        rows,
    )


def section_chain(args: argparse.Namespace) -> str:
    python = args.reference_python or sys.executable
    return _python_output(
        [python, str(HERE / "option_chain.py"), "--rounds", str(args.chain_rounds)]
    )


def section_stream_decode(args: argparse.Namespace) -> str:
    python = args.reference_python or sys.executable
    return _python_output([python, str(HERE / "streaming.py"), "decode", *args.decode_args])


def run_stream_client(python: str, client: str, server: Server, events: int) -> dict[str, float]:
    command = [python, str(HERE / "stream_clients.py"), client, "--url", server.url]
    command += ["--events", str(events)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{client} stream failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


def section_stream_loopback(args: argparse.Namespace, server: Server) -> str:
    entries = [(sys.executable, client) for client in STREAM_CLIENTS]
    if args.reference_python:
        entries.append((args.reference_python, "reference"))
    seen: dict[str, list[dict[str, float]]] = {client: [] for _, client in entries}
    for round_ in range(args.stream_rounds):
        shift = round_ % len(entries)
        for python, client in [*entries[shift:], *entries[:shift]]:
            seen[client].append(run_stream_client(python, client, server, args.stream_events))
    found = {
        client: {
            "rate": statistics.median(r["events"] / r["wall"] for r in results),
            "cpu_us": statistics.median(1e6 * r["cpu"] / r["events"] for r in results),
            "coalesced": max(r["coalesced"] for r in results),
        }
        for client, results in seen.items()
    }
    ref = found.get("reference")
    bare = found["aiohttp"]
    names = {
        "aiohttp": "bare aiohttp + json.loads (rows counted, no events)",
        "reference": "reference SDK: DXLinkStreamer.listen(Quote)",
    }
    rows = []
    for client, f in found.items():
        rows.append(
            [
                names.get(client, f"{client}: market_stream()"),
                f"{f['rate']:,.0f}",
                f"{f['rate'] / ref['rate']:.2f}x" if ref else "-",
                f"{f['rate'] / bare['rate']:.2f}x",
                f"{f['cpu_us']:.2f}",
                f"{f['coalesced']:,.0f}",
            ]
        )
    return table(
        f"5b. A burst of {args.stream_events:,} Quote events from the fake's DXLink websocket "
        f"(100 a message), end to end over loopback (median of {args.stream_rounds} rounds)",
        [
            "client",
            "events/s",
            "vs reference SDK",
            "vs bare aiohttp",
            "client CPU µs/event",
            "coalesced (most in a round)",
        ],
        rows,
    )


def section_stream_memory(args: argparse.Namespace) -> str:
    return _python_output([sys.executable, str(HERE / "streaming.py"), "memory", *args.memory_args])


def section_account_decode(args: argparse.Namespace) -> str:
    python = args.reference_python or sys.executable
    command = [python, str(HERE / "account_stream.py"), "decode", *args.account_decode_args]
    return _python_output(command)


def section_account_memory(args: argparse.Namespace) -> str:
    command = [sys.executable, str(HERE / "account_stream.py"), "memory"]
    return _python_output([*command, *args.account_memory_args])


def _python_output(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command[1]} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def versions(args: argparse.Namespace) -> str:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "found = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        found[name] = m.version(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        pass\n"
        "print(json.dumps(found))"
    )
    ours = json.loads(
        subprocess.run(
            [sys.executable, "-c", code, "requests", "aiohttp", "trio", "h11"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    if args.reference_python:
        ours.update(
            json.loads(
                subprocess.run(
                    [args.reference_python, "-c", code, "tastytrade", "httpx2", "pydantic"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
        )
    libraries = ", ".join(f"{k} {v}" for k, v in ours.items())
    return (
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}; "
        f"{libraries}."
        + (" The server kept its balances answer (--keep-balances)." if args.keep_balances else "")
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", help="a Python that can import tastytrade")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference SDK")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of client processes")
    parser.add_argument("--calls", type=int, default=CALLS["balances"], help="calls per process")
    parser.add_argument("--import-rounds", type=int, default=15)
    parser.add_argument("--chain-rounds", type=int, default=30)
    parser.add_argument("--stream-rounds", type=int, default=5, help="rounds of section 5b")
    parser.add_argument("--stream-events", type=int, default=100_000, help="events a burst")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke test")
    parser.add_argument(
        "--keep-balances",
        action="store_true",
        help="the server keeps its balances answer too (a cheaper server: harsher ratios)",
    )
    parser.add_argument(
        "--streaming-only",
        action="store_true",
        help="sections 5 and 6 alone (DXLink market data, the account streamer)",
    )
    parser.add_argument(
        "--account-only", action="store_true", help="section 6 alone (the account streamer)"
    )
    parser.add_argument(
        "--transports-only",
        action="store_true",
        help="section 2 alone (each transport against its bare library)",
    )
    parser.add_argument(
        "--pairs",
        nargs="+",
        choices=[ours.removeprefix("tastytrade_") for _, ours in PAIRS],
        help="section 2's transports to measure (all by default)",
    )
    parser.add_argument(
        "--sequential-only", action="store_true", help="section 2 without its 50 concurrent calls"
    )
    parser.add_argument("--output", type=Path, help="also write the tables to this file")
    args = parser.parse_args(argv)
    if args.no_reference:
        args.reference_python = None
    args.core_args = []
    args.decode_args, args.memory_args = [], []
    args.account_decode_args, args.account_memory_args = [], []
    if args.quick:
        args.rounds, args.calls, args.import_rounds, args.chain_rounds = 1, 100, 3, 3
        args.core_args = ["--number", "100", "--repeat", "3"]
        args.stream_rounds, args.stream_events = 1, 20_000
        args.decode_args = ["--events", "20000", "--rounds", "3"]
        args.memory_args = ["--symbols", "10", "--rate", "2"]
        args.account_decode_args = ["--notifications", "20000", "--rounds", "3"]
        args.account_memory_args = ["--checkpoints", "1", "2", "4"]
        for workload in CALLS:
            CALLS[workload] = max(2, CALLS[workload] // 10)

    started = time.perf_counter()
    parts = ["## Results\n", versions(args)]
    print("\n".join(parts), flush=True)

    def emit(text: str) -> None:
        parts.append(text)
        print(text, flush=True)

    if args.transports_only:
        server = Server(*(["--keep-balances"] if args.keep_balances else []))
        try:
            emit(section_transports(args, server))
        finally:
            server.close()
        if args.output:
            args.output.write_text("\n".join(parts))
        return 0
    everything = not (args.streaming_only or args.account_only)
    market = not args.account_only
    if everything:
        emit(section_core(args))
    if market:
        server = Server(*(["--keep-balances"] if args.keep_balances else []))
        try:
            if everything:
                emit(section_transports(args, server))
            if everything and args.reference_python:
                emit(section_reference(args, server))
            loopback = section_stream_loopback(args, server)  # shown in its place, after 5a
        finally:
            server.close()
    if everything:
        emit(section_imports(args))
        emit(section_chain(args))
    if market:
        emit(section_stream_decode(args))
        emit(loopback)
        emit(section_stream_memory(args))
    emit(section_account_decode(args))
    emit(section_account_memory(args))
    emit(f"(bench/suite.py took {time.perf_counter() - started:.0f} s)\n")
    if args.output:
        args.output.write_text("\n".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
