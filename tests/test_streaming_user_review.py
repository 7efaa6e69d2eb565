"""A user's review of ``watch``, ``candles`` and the fake's DXLink: what a trader or a test
author met that is wrong. Each test fails until its defect is fixed.

Run as ``tests/test_cli_script.py`` runs the console script: a subprocess against the fake
over real sockets, no sleeps (the commands' own ``--count`` ends them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tastytrade_proto.testing import FakeTastytradeAPI, FakeTastytradeServer

from .test_cli_script import Tastytrade


@pytest.fixture(scope="module")
def server() -> Iterator[FakeTastytradeServer]:
    with FakeTastytradeServer(FakeTastytradeAPI()) as running:
        yield running


@pytest.fixture
def tt(server: FakeTastytradeServer, tmp_path: Path) -> Iterator[Tastytrade]:
    runner = Tastytrade(server, tmp_path)
    runner.login()
    before = runner.api.mark("SPY")
    yield runner
    assert before is not None
    runner.api.set_mark("SPY", before)  # the server is the module's
    for process in runner.running:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=60)


def _bars(tt: Tastytrade, *argv: str) -> list[dict[str, str]]:
    run = tt("--json", "candles", "SPY", *argv)
    assert run.code == 0, run.text
    return [json.loads(line) for line in run.out.splitlines()]


def test_watch_vix_as_docs_cli_md_names_it(tt: Tastytrade) -> None:
    """docs/cli.md: `$SPX` (or `SPX`, `VIX`, ...) is an index; `quote VIX` shows it and the
    fake's DXLink streams VIX (docs/testing.md), but `watch VIX` says "unknown symbol"."""
    assert tt("quote", "VIX").code == 0
    run = tt("watch", "VIX", "--count", "1")
    assert run.code == 0, run.text
    assert "  VIX  bid 15." in run.out


def test_an_options_previous_close_stays_put_when_the_underlying_moves(tt: Tastytrade) -> None:
    """Yesterday's close of an option cannot move today: the fake derives it from the option's
    current price, so `watch` shows every option up about 0.75% whatever SPY did."""
    put = "SPY 261218P00600000"  # no mark of its own: priced from SPY by the fake's model

    def summary() -> dict[str, str]:
        run = tt("--json", "watch", put, "--count", "4")  # quote, trade, summary, greeks
        assert run.code == 0, run.text
        events = [json.loads(line) for line in run.out.splitlines()]
        return next(e["fields"] for e in events if e["type"] == "Summary")

    before = summary()
    tt.api.set_mark("SPY", "612")  # SPY up 17: the 600 put loses most of its value
    after = summary()
    assert after["prev-day-close-price"] == before["prev-day-close-price"]


def test_monthly_bars_as_docs_cli_md_lists_them(tt: Tastytrade) -> None:
    """docs/cli.md lists `mo` among the periods and the real DXLink serves it; the fake stays
    silent, so `candles SPY --period mo` waits 15 s and fails (status 1)."""
    bars = _bars(tt, "--period", "mo", "--since", "2026-01-01")
    assert bars and all(b["candle-symbol"] == "SPY{=mo}" for b in bars)


def test_daily_bars_of_a_stock_are_trading_days(tt: Tastytrade) -> None:
    """SPY does not trade on Saturday or Sunday; the fake's daily bars include both."""
    bars = _bars(tt, "--period", "d", "--since", "3w")
    days = [datetime.fromisoformat(b["time"]).date() for b in bars]
    assert days and [d for d in days if d.weekday() >= 5] == []


def test_a_bar_already_closed_keeps_its_prices_when_the_mark_moves(tt: Tastytrade) -> None:
    """History is history: a test author who moves the mark and asks again must get the same
    closed bars. The fake draws its history backwards from the current mark, so every past
    bar changes (and contradicts what it streamed before)."""
    first = _bars(tt, "--period", "5m", "--since", "1h")
    tt.api.set_mark("SPY", "612")
    again = _bars(tt, "--period", "5m", "--since", "1h")
    closed = {b["time"]: b for b in first[:-1]}  # the last bar is in progress: it may change
    both = [t for t in (b["time"] for b in again[:-1]) if t in closed]
    assert len(both) >= 5
    for moment in both:
        old, new = closed[moment], next(b for b in again if b["time"] == moment)
        assert (old["open"], old["close"]) == (new["open"], new["close"]), moment
