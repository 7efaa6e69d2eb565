"""``tastytrade stream`` and ``order --place --wait``: the account streamer, from the shell.

Each test runs the console script (or, where a failure must be staged inside the
command, ``main`` in-process) against a fake of its own over real sockets on
loopback, and checks what it prints, its exit status, and that no secret shows.
Nothing waits by sleeping: a test reads the command's output line by line, or
waits on the fake's own conditions.
"""

from __future__ import annotations

import io
import json
import signal
import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import tastytrade_requests
from tastytrade_cli import main
from tastytrade_proto.orders import OrderOutcomeUnknown
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FakeTastytradeAPI,
    FakeTastytradeServer,
)
from tastytrade_proto.testing.fake.api import AccountStreamFault, AccountStreamFaultKind
from tests.test_cli_script import SECRETS, TOKEN, Running, Tastytrade, Terminal

# The fake's accounts as the stream first reports them: 5WT00001's working order, its
# three positions and its balances, then 5WT00002's balances (it holds nothing).
FIRST_LINES = 6
BUY = ("order", "--place", "--yes", "--symbol", "AAPL", "--action", "bto", "--quantity", "10")


@pytest.fixture
def tt(tmp_path: Path) -> Iterator[Tastytrade]:
    """A fresh fake (each test moves marks and fills orders), logged in."""
    with FakeTastytradeServer(FakeTastytradeAPI()) as server:
        runner = Tastytrade(server, tmp_path)
        runner.login()
        yield runner
        for process in runner.running:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=60)


def exact(text: str) -> Any:
    """A JSON line, with any float in it a failure: money is always a decimal string."""

    def no_float(number: str) -> Any:
        raise AssertionError(f"a float in the JSON: {number} in {text}")

    return json.loads(text, parse_float=no_float)


def placed_id(running: Running) -> int:
    """The id ``order --place`` printed (reading its lines up to that one)."""
    while True:
        line = running.line()
        if line.startswith("placed #"):
            return int(line.split("#")[1].split()[0])
        if line.startswith('{"event": "placed"'):
            return int(exact(line)["order"]["id"])


def rest(tt: Tastytrade) -> tastytrade_requests.Session:
    session = tastytrade_requests.Session(base_url=tt.server.base_url)
    session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
    return session


# -- stream ----------------------------------------------------------------------------------


def test_stream_shows_the_accounts_then_an_order_fill_position_and_balances_live(
    tt: Tastytrade,
) -> None:
    running = tt.start("stream")
    first = [running.line() for _ in range(FIRST_LINES)]
    assert all(line.endswith("(resync)") for line in first), first  # as they are at connect
    assert "5WT00001  order #100001 Live  Buy to Open 10 MSFT at 410.00 db" in first[0]
    assert any("5WT00001  position SPY   261218C00600000 -2 (avg open 12.40)" in x for x in first)
    assert any("5WT00002  balances  net liq 25,000.00  cash 25,000.00" in x for x in first)
    placed = tt(*BUY, "--limit", "185")  # another run places it while this one streams
    assert placed.code == 0 and "waiting for another" not in placed.err, placed.text
    lines = [running.line() for _ in range(4)]
    order_lines = [line for line in lines if " order #100002 " in line]
    assert [line.split("  ")[2] for line in order_lines] == [
        "order #100002 Received",
        "order #100002 Received -> Routed",
        "order #100002 Routed -> Live",
    ]
    assert order_lines[0].endswith("Buy to Open 10 AAPL at 185.00 db")
    tt.api.set_mark("AAPL", "185")
    filled, position, balances = (running.line() for _ in range(3))
    assert filled.endswith(
        "order #100002 Live -> Filled  Buy to Open 10 AAPL at 185.00 db  filled 10 AAPL @ 185.00"
    )
    assert position.endswith("5WT00001  position AAPL 110 (avg open 187.0455)")
    assert "5WT00001  balances  net liq " in balances and "(resync)" not in balances
    running.process.send_signal(signal.SIGINT)
    run = running.finish()
    assert run.code == 130 and run.err.endswith("tastytrade: interrupted\n"), run.text


def test_stream_json_is_one_object_per_line_with_exact_money(tt: Tastytrade) -> None:
    # Five events at connect; then the order's Received, balances, Routed, Filled, and the
    # position and balances after the fill.
    running = tt.start("--json", "stream", "--account", "5wt00001", "--count", "11")
    seen = [exact(running.line()) for _ in range(2)]
    assert [e["event"] for e in seen] == ["connected", "order"]  # a link event, then the state
    while seen[-1]["event"] != "resync":
        seen.append(exact(running.line()))
    resync = seen[-1]
    assert (resync["reason"], resync["orders"], resync["positions"], resync["balances"]) == (
        "connect",
        1,
        3,
        1,
    )
    tt.api.set_mark("AAPL", "184.37")
    run = tt("--json", *BUY, "--account", "5WT00001", "--limit", "184.37")
    assert run.code == 0, run.text
    finished = running.finish()
    assert finished.code == 0, finished.text  # --count 11: eleven account events, then done
    events = seen + [exact(line) for line in finished.out.splitlines()]
    account_events = [e for e in events if e["event"] not in ("connected", "resync")]
    assert len(account_events) == 11 and account_events[-1]["event"] == "balances"
    for event in events:
        assert {"event", "account", "time", "received", "resynced"} <= set(event)
    fills = [f for e in events if e["event"] == "order" for f in e["new-fills"]]
    assert len(fills) == 1 and fills[0]["symbol"] == "AAPL"
    assert Decimal(fills[0]["fill-price"]) == Decimal("184.37")
    assert Decimal(fills[0]["quantity"]) == 10
    order = next(e for e in events if e["event"] == "order" and e["status"] == "Filled")
    assert order["previous-status"] == "Routed" and order["resynced"] is False  # marketable
    assert order["order"]["legs"][0]["fills"][0]["fill-price"] == fills[0]["fill-price"]
    truth = rest(tt).balances("5WT00001")
    last = [e for e in events if e["event"] == "balances"][-1]
    assert Decimal(last["net-liquidating-value"]) == truth.net_liquidating_value
    assert Decimal(last["cash-balance"]) == truth.cash_balance
    assert last["balances"]["cash-balance"] == last["cash-balance"]
    short = next(e for e in events if e["event"] == "position" and "SPY" in e["symbol"])
    assert short["quantity"] == "-2" and short["resynced"] is True


def test_a_fill_while_the_socket_is_down_is_reported_once_by_the_resync(tt: Tastytrade) -> None:
    running = tt.start("stream")
    for _ in range(FIRST_LINES):
        running.line()
    order_id = int(tt.live_order("180"))
    while "Routed -> Live" not in running.line():
        pass
    api = tt.api
    with api.lock:  # the drop and the fill at once: no socket is there to hear it
        api.inject_account_stream_fault(AccountStreamFault(AccountStreamFaultKind.DROP))
        api.set_mark("AAPL", "180")
    filled = running.line()
    assert filled.endswith(
        f"order #{order_id} Live -> Filled  Buy to Open 10 AAPL at 180.00 db  "
        "filled 10 AAPL @ 180.00  (resync)"
    )
    assert running.line().endswith("position AAPL 110 (avg open 186.5909)  (resync)")
    assert "  balances  net liq " in running.line()
    # Something after the resync, so that a repeated fill would have shown by now.
    tt.api.set_mark("MSFT", "410")
    while "order #100001 Live -> Filled" not in running.line():
        pass
    running.process.send_signal(signal.SIGINT)
    run = running.finish()
    assert run.code == 130, run.text
    assert f"order #{order_id} " not in run.out  # nothing more of it after its fill
    said = run.err.splitlines()
    assert said[:2] == [
        "tastytrade: link lost (connection-lost: websocket connection closed without a close "
        "frame); reconnecting...",
        "tastytrade: reconnected; catching up...",
    ], run.err
    assert said[2].startswith("tastytrade: caught up after the reconnect: 1 order, 1 position, "), (
        run.err
    )


def test_stream_on_a_terminal_says_it_is_connected_and_ctrl_c_ends_it(tt: Tastytrade) -> None:
    term = Terminal(tt, "stream", "--account", "5WT00002")
    term.until(lambda text: "up to date" in text)
    assert "Ctrl-C to stop" in term.text
    assert "tastytrade: connected to 127.0.0.1: 5WT00002" in term.text
    assert "5WT00002  balances  net liq 25,000.00  cash 25,000.00  (resync)" in term.text
    assert "tastytrade: up to date (0 orders, 0 positions, 1 balance as they are now); " in (
        term.text
    )
    term.type(b"\x03")
    run = term.finish()
    assert run.code == 130 and "tastytrade: interrupted" in run.out, run.out


def test_stream_watchlists_and_quote_alerts(tt: Tastytrade) -> None:
    running = tt.start("--json", "stream", "--watchlists", "--quote-alerts")
    api = tt.api
    assert tt.server.wait_for(
        lambda: (
            sum(
                '"status":"ok"' in m.text and "-subscribe" in m.text
                for m in api.account_stream_messages
                if m.direction == "out"
            )
            >= 2
        ),
        timeout=30,
    )
    api.set_public_watchlist("Movers", [("SPY", "Equity"), ("AAPL", "Equity")])
    api.add_quote_alert("SPY", "Last", ">", "600")
    api.set_mark("SPY", "600.50")
    wanted: list[Any] = []
    while len(wanted) < 2:
        event = exact(running.line())
        if event["event"] in ("watchlist", "quote-alert"):
            wanted.append(event)
    running.process.send_signal(signal.SIGINT)
    assert running.finish().code == 130
    assert [e["event"] for e in wanted] == ["watchlist", "quote-alert"]
    assert wanted[0]["watchlist"]["name"] == "Movers"
    assert [w["symbol"] for w in wanted[0]["watchlist"]["watchlist-entries"]] == ["SPY", "AAPL"]
    assert wanted[1]["alert"]["symbol"] == "SPY"
    assert Decimal(wanted[1]["alert"]["threshold"]) == 600


def test_unknown_accounts_are_named(tt: Tastytrade) -> None:
    run = tt("stream", "--account", "5WT00001", "--account", "9ZZ99999")
    assert (run.code, run.out) == (6, ""), run.text
    assert run.err == (
        "tastytrade: no account 9ZZ99999 in this login\n  its accounts: 5WT00001, 5WT00002\n"
    )


def test_a_stream_refused_twice_is_status_5(tt: Tastytrade) -> None:
    tt.api.inject_account_stream_fault(
        AccountStreamFault(AccountStreamFaultKind.REFUSE_CONNECT, times=2)
    )
    run = tt("stream", "--duration", "30")
    assert (run.code, run.out) == (5, ""), run.text
    assert run.err == (
        "tastytrade: the account stream was refused: the account streamer refused the "
        "session's token twice in a row, renewed in between\n"
        "  run `tastytrade login` again if it keeps happening\n"
    )


def _in_process(tt: Tastytrade, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err, environ=tt.env)
    text = out.getvalue() + err.getvalue()
    assert not TOKEN.search(text) and not any(s in text for s in SECRETS), text
    return code, out.getvalue(), err.getvalue()


def test_a_stream_never_reached_is_status_4_and_debug_shows_no_secret(
    tt: Tastytrade, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    real = tastytrade_requests.Session.account_stream

    def nowhere(self: Any, accounts: Any, **options: Any) -> Any:
        return real(self, accounts, url=f"ws://127.0.0.1:{port}/account-streamer", **options)

    monkeypatch.setattr(tastytrade_requests.Session, "account_stream", nowhere)
    code, out, err = _in_process(tt, "--debug", "stream")
    assert (code, out) == (4, ""), err
    assert err.startswith(
        "tastytrade: cannot reach the account stream: the connection was refused"
    ), err
    assert "Traceback" in err


def test_the_streamers_token_never_shows_even_with_debug(
    tt: Tastytrade, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tastytrade_cli import account

    def careless(event: Any, received: Any) -> str:  # a bug that shows the token
        raise RuntimeError(f"while holding {tokens[-1]}")

    tokens: list[str] = []
    real = account.Via.stream_credential

    def kept(self: Any, **options: Any) -> Any:
        credential = real(self, **options)
        tokens.append(credential.authorization)
        return credential

    monkeypatch.setattr(account.Via, "stream_credential", kept)
    monkeypatch.setattr(account, "event_line", careless)
    saved = json.loads(tt.path.read_text())
    saved.pop("session", None)  # so the token is not among the secrets read from the file
    tt.path.write_text(json.dumps(saved))
    code, _, err = _in_process(tt, "--debug", "stream")
    assert code == 1 and "internal error (RuntimeError)" in err, err
    assert tokens and tokens[-1].startswith("Bearer ")
    assert "while holding [REDACTED]" in err


# -- order --place --wait --------------------------------------------------------------------


def test_wait_shows_each_change_and_ends_0_when_filled(tt: Tastytrade) -> None:
    running = tt.start(*BUY, "--limit", "185", "--wait")
    order_id = placed_id(running)
    tt.api.set_mark("AAPL", "185")
    run = running.finish()
    assert run.code == 0, run.text
    assert run.out.splitlines() == [
        f"order #{order_id} Live -> Filled  Buy to Open 10 AAPL at 185.00 db  "
        "filled 10 AAPL @ 185.00",
        f"order #{order_id} Filled: filled 10 at 185.00 db",
    ]


def test_wait_json_is_the_placement_then_each_change(tt: Tastytrade) -> None:
    running = tt.start("--json", *BUY, "--limit", "183.21", "--wait")
    first = exact(running.line())
    assert first["event"] == "placed" and first["order"]["status"] == "Live"
    assert first["external-identifier"].startswith("tp-")
    tt.api.set_mark("AAPL", "183.21")
    run = running.finish()
    assert run.code == 0, run.text
    (filled,) = [exact(line) for line in run.out.splitlines()]
    assert (filled["event"], filled["status"], filled["order-id"]) == (
        "order",
        "Filled",
        first["order"]["id"],
    )
    assert Decimal(filled["new-fills"][0]["fill-price"]) == Decimal("183.21")


def test_wait_ends_5_when_rejected_and_9_when_cancelled(tt: Tastytrade) -> None:
    running = tt.start(*BUY, "--limit", "150", "--wait")
    order_id = placed_id(running)
    tt.api.reject_order(order_id, "Not enough shares to borrow")
    run = running.finish()
    assert run.code == 5, run.text
    assert run.out.splitlines()[-1].endswith("reason: Not enough shares to borrow")
    assert f"order #{order_id} Live -> Rejected" in run.out
    assert run.err == (f"tastytrade: order #{order_id} was rejected: Not enough shares to borrow\n")
    running = tt.start(*BUY, "--limit", "150", "--wait")
    order_id = placed_id(running)
    assert tt("cancel", str(order_id), "--yes").code == 0
    run = running.finish()
    assert run.code == 9, run.text
    assert f"order #{order_id} Live -> Cancelled" in run.out
    assert run.err == f"tastytrade: order #{order_id} ended Cancelled, unfilled\n"


def test_wait_ends_10_when_the_time_runs_out(tt: Tastytrade) -> None:
    run = tt("--timeout", "1", *BUY, "--limit", "150", "--wait")
    assert run.code == 10, run.text
    order_id = run.out.split("placed #")[1].split()[0]
    assert run.err == (
        f"tastytrade: order #{order_id} is still Live after 1 s\n"
        f"  it keeps working: `tastytrade orders --live` shows it, `tastytrade cancel "
        f"{order_id}` cancels it\n"
    )
    assert f"{order_id} " in tt("orders", "--live").out  # it was left working
    run = tt(*(a for a in BUY if a != "--place"), "--dry-run", "--limit", "150", "--wait")
    assert run.code == 2 and "--wait goes with --place" in run.err


def _lost_answer(monkeypatch: pytest.MonkeyPatch, *, placed: bool) -> None:
    """Placing answers ``OrderOutcomeUnknown``: after really placing it, or without."""
    real = tastytrade_requests.Session.place_order

    def lost(self: Any, account: str, order: Any, **options: Any) -> Any:
        if not placed:
            raise OrderOutcomeUnknown("lost", external_identifier="tp-never-sent")
        done = real(self, account, order, **options)
        raise OrderOutcomeUnknown("lost", external_identifier=done.external_identifier)

    monkeypatch.setattr(tastytrade_requests.Session, "place_order", lost)


def test_wait_finds_an_order_whose_answer_was_lost(
    tt: Tastytrade, monkeypatch: pytest.MonkeyPatch
) -> None:
    _lost_answer(monkeypatch, placed=True)
    tt.api.set_mark("AAPL", "181")  # it fills at once: found already Filled
    code, out, err = _in_process(tt, *BUY, "--limit", "181", "--wait")
    assert code == 0, err
    assert "the order's answer was lost; looking for it by its external identifier tp-" in err
    assert out.splitlines()[-2:] == [
        "order #100002 Filled  Buy to Open 10 AAPL at 181.00 db  filled 10 AAPL @ 181.00",
        "order #100002 Filled: filled 10 at 181.00 db",
    ]
    _lost_answer(monkeypatch, placed=False)
    code, out, err = _in_process(tt, "--timeout", "1", *BUY, "--limit", "181", "--wait")
    assert code == 8, err
    assert (
        "did not show up within 1 s (external identifier tp-never-sent): it may or may not "
        "have been placed" in err
    )
