"""The account streamer's machine (AccountStreamConnection), driven by hand: its
handshake, heartbeats, credential renewal, refusals, reconnects, resyncs and the
filtering that keeps each order's states in order and each fill reported once."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastytrade_proto.accounts import Balances, Position
from tastytrade_proto.errors import (
    ApiError,
    SessionExpired,
    StreamingError,
    TastytradeError,
    TransportError,
    WebSocketClosed,
)
from tastytrade_proto.orders import Order, OrderStatus
from tastytrade_proto.streaming import (
    AccountState,
    AccountStreamConnection,
    AccountStreamState,
    ActionRefused,
    BalancesUpdated,
    CloseSocket,
    ComplexOrderUpdated,
    Connected,
    Disconnected,
    DisconnectReason,
    Exchange,
    FetchCredential,
    FetchState,
    Finish,
    MalformedMessage,
    Notification,
    OpenSocket,
    OrderUpdated,
    Pause,
    PositionUpdated,
    QuoteAlertTriggered,
    Resync,
    WatchlistUpdated,
)

SAMPLES = Path(__file__).parent / "samples" / "streaming"
URL = "wss://streamer.example/account-streamer"
TOKEN = "Bearer access-token-0001"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def order_json(
    status: str,
    updated: int,
    fills: list[tuple[str, str]] = (),  # type: ignore[assignment]
    *,
    order_id: int = 1,
    account: str = "5WT00001",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": order_id,
        "account-number": account,
        "status": status,
        "updated-at": updated,
        "legs": [
            {
                "symbol": "AAPL",
                "instrument-type": "Equity",
                "quantity": 10,
                "action": "Buy to Open",
                "fills": [
                    {"fill-id": fid, "quantity": qty, "fill-price": "150.00"} for fid, qty in fills
                ],
            }
        ],
        **extra,
    }


def frame(kind: str, data: Any, sequence: int | None = None, timestamp: int = 1) -> str:
    message: dict[str, Any] = {"type": kind, "data": data, "timestamp": timestamp}
    if sequence is not None:
        message["ws-sequence"] = sequence
    return json.dumps(message)


class Driver:
    """Plays the transport for a machine: a fake clock, and the messages sent."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("jitter", lambda: 1.0)
        self.link = AccountStreamConnection(["5WT00001"], URL, **options)
        self.now = 1000.0
        self.sent: list[dict[str, Any]] = []
        self.events: list[Any] = []

    def action(self) -> Any:
        action = self.link.next_action(self.now)
        self.collect()
        return action

    def collect(self) -> list[Any]:
        self.sent += [json.loads(text) for text in self.link.messages_to_send()]
        new = self.link.events()
        self.events += new
        return new

    def connect(
        self, token: str = TOKEN, expires: float | None = None, state: AccountState | None = None
    ) -> None:
        """From wherever it is, to LIVE with the resync done."""
        for _ in range(10):
            action = self.action()
            if isinstance(action, FetchCredential):
                self.link.credential_received(token, expires, self.now)
            elif isinstance(action, Pause):
                self.now = action.until
            elif isinstance(action, OpenSocket):
                self.link.socket_opened(self.now)
                self.collect()
                connect = self.sent[-1]
                assert connect["action"] == "connect"
                self.ack(connect)
            elif isinstance(action, FetchState):
                self.link.state_received(state or AccountState(action.accounts), self.now)
                self.collect()
                return
            elif isinstance(action, Exchange) and not self.link.resync:
                return
            else:
                raise AssertionError(f"unexpected {action}")
        raise AssertionError("never connected")

    def ack(self, request: dict[str, Any], **extra: Any) -> None:
        answer = {"status": "ok", "action": request["action"], "web-socket-session-id": "ab12cd34"}
        if "request-id" in request:
            answer["request-id"] = request["request-id"]
        if request["action"] == "connect":
            answer["value"] = request["value"]
        answer.update(extra)
        self.receive(json.dumps(answer))

    def refuse(self, request: dict[str, Any], code: str) -> None:
        self.receive(
            json.dumps(
                {
                    "status": "error",
                    "action": request["action"],
                    "web-socket-session-id": "ab12cd34",
                    "message": code,
                    "request-id": request["request-id"],
                }
            )
        )

    def receive(self, text: str) -> list[Any]:
        self.link.receive(text, self.now)
        return self.collect()

    def drop(self) -> list[Any]:
        action = self.action()
        if isinstance(action, CloseSocket):
            self.link.socket_closed(None, self.now)
        else:
            self.link.socket_closed(TransportError("connection reset"), self.now)
        return self.collect()


def of(kind: type, events: list[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


# -- the handshake ------------------------------------------------------------------------------


def test_connect_goes_first_with_every_account_and_the_credential_on_every_message() -> None:
    d = Driver()
    assert isinstance(d.action(), FetchCredential)
    d.link.credential_received(TOKEN, None, d.now)
    d.link.subscribe_public_watchlists(d.now)  # asked before the socket: sent after connect
    assert d.action() == OpenSocket(URL)
    d.link.socket_opened(d.now)
    d.collect()
    assert d.sent == [
        {
            "action": "connect",
            "value": ["5WT00001"],
            "auth-token": TOKEN,
            "request-id": 1,
        }
    ]
    assert d.link.state is AccountStreamState.SUBSCRIBING
    assert isinstance(d.action(), Exchange)
    assert len(d.sent) == 1  # nothing else before the acknowledgement
    d.ack(d.sent[0])
    assert d.sent[1] == {
        "action": "public-watchlists-subscribe",
        "auth-token": TOKEN,
        "request-id": 2,
    }
    assert of(Connected, d.events) == [Connected(URL, 1, 1)]
    assert d.action() == FetchState(("5WT00001",))


def test_the_connect_request_matches_the_documented_shape() -> None:
    documented = sample("account-connect-request.json")
    d = Driver(source="<client-name>/<version>")
    d.link = AccountStreamConnection(
        ["5WT00001", "5WT00002", "5WT00001"], URL, source="<client-name>/<version>"
    )
    d.action()
    d.link.credential_received("Bearer <access-token>", None, d.now)
    d.action()
    d.link.socket_opened(d.now)
    d.collect()
    assert d.sent == [documented]


def test_a_legacy_session_token_goes_bare() -> None:
    documented = sample("account-connect-request-legacy-session.json")
    d = Driver()
    d.action()
    d.link.credential_received("<session-token>", None, d.now)
    d.action()
    d.link.socket_opened(d.now)
    d.collect()
    assert d.sent == [documented]


def test_the_sample_acknowledgements_are_understood() -> None:
    d = Driver()
    d.action()
    d.link.credential_received(TOKEN, None, d.now)
    d.action()
    d.link.socket_opened(d.now)
    d.receive(json.dumps(sample("account-connect-ack.json")))
    assert d.link.state is AccountStreamState.LIVE
    d.link.state_received(AccountState(("5WT00001",)), d.now)
    d.now += 20
    d.link.handle_timer(d.now)
    d.collect()
    assert d.sent[-1]["action"] == "heartbeat"
    assert d.receive(json.dumps(sample("account-heartbeat-ack.json"))) == []


@pytest.mark.parametrize(
    "accounts", [[], [""], [None], "", [" "]], ids=["none", "empty", "None", "blank", "space"]
)
def test_bad_accounts_are_refused(accounts: Any) -> None:
    with pytest.raises(StreamingError):
        AccountStreamConnection(accounts, URL)


@pytest.mark.parametrize("url", ["https://x", "", None, "streamer.tastyworks.com"])
def test_bad_urls_are_refused(url: Any) -> None:
    with pytest.raises(StreamingError):
        AccountStreamConnection(["5WT00001"], url)


@pytest.mark.parametrize("option", ["heartbeat_interval", "receive_timeout", "handshake_timeout"])
@pytest.mark.parametrize("value", [0, -1, True, "20", float("nan")])
def test_bad_timings_are_refused(option: str, value: Any) -> None:
    with pytest.raises(StreamingError):
        AccountStreamConnection(["5WT00001"], URL, **{option: value})


# -- liveness -------------------------------------------------------------------------------------


def test_heartbeats_every_interval_with_the_current_credential() -> None:
    d = Driver(heartbeat_interval=20)
    d.connect()
    start = len(d.sent)
    for _ in range(3):
        action = d.action()
        assert isinstance(action, Exchange)
        assert action.deadline == pytest.approx(d.now + 20)
        d.now = action.deadline
        d.link.handle_timer(d.now)
        d.collect()
        d.ack(d.sent[-1])
    beats = d.sent[start:]
    assert [b["action"] for b in beats] == ["heartbeat"] * 3
    assert all(b["auth-token"] == TOKEN for b in beats)
    assert len({b["request-id"] for b in beats}) == 3


def test_silence_past_the_receive_timeout_is_a_dead_link() -> None:
    d = Driver(heartbeat_interval=20, receive_timeout=60)
    d.connect()
    for _ in range(3):  # heartbeats go out, nothing comes back
        action = d.action()
        d.now = action.deadline
        d.link.handle_timer(d.now)
        d.collect()
    assert isinstance(d.action(), CloseSocket)
    d.link.socket_closed(None, d.now)
    lost = of(Disconnected, d.collect())
    assert lost[0].reason is DisconnectReason.RECEIVE_TIMEOUT


def test_a_full_buffer_is_not_taken_for_a_dead_link() -> None:
    d = Driver(receive_timeout=60)
    d.connect()
    d.link.pause_receiving(True)
    d.now += 600
    d.link.handle_timer(d.now)
    assert d.link.state is AccountStreamState.LIVE
    d.link.pause_receiving(False)
    d.link.handle_timer(d.now)
    assert d.link.state is AccountStreamState.CLOSING


def test_an_unanswered_connect_times_out() -> None:
    d = Driver(handshake_timeout=10)
    d.action()
    d.link.credential_received(TOKEN, None, d.now)
    d.action()
    d.link.socket_opened(d.now)
    assert d.link.next_deadline() == d.now + 10
    d.now += 10
    d.link.handle_timer(d.now)
    lost = d.drop()
    assert of(Disconnected, lost)[0].reason is DisconnectReason.HANDSHAKE_TIMEOUT


# -- the credential -------------------------------------------------------------------------------


def test_the_credential_is_renewed_before_it_runs_out_and_used_at_once() -> None:
    d = Driver(credential_margin=60, heartbeat_interval=20, receive_timeout=10_000)
    d.connect(expires=d.now + 900)
    assert d.link.next_deadline() == d.now + 20
    d.now += 840
    action = d.action()
    assert action == FetchCredential(None, 60.0)
    d.link.credential_received("Bearer access-token-0002", d.now + 900, d.now)
    d.link.handle_timer(d.now)
    d.collect()
    assert d.sent[-1]["auth-token"] == "Bearer access-token-0002"
    assert d.link.state is AccountStreamState.LIVE  # no reconnect for a renewal


def test_a_credential_that_cannot_be_renewed_is_asked_for_again_only_when_it_expires() -> None:
    d = Driver(credential_margin=60)
    d.connect(expires=d.now + 30)  # too short to renew early
    assert isinstance(d.action(), Exchange)  # not a FetchCredential loop
    d.now += 30
    assert isinstance(d.action(), FetchCredential)
    d.link.credential_failed(SessionExpired("the session has expired"), d.now)
    assert isinstance(d.action(), CloseSocket)
    d.link.socket_closed(None, d.now)
    finish = d.action()
    assert isinstance(finish, Finish) and isinstance(finish.error, SessionExpired)


def test_a_refused_token_is_renewed_and_the_link_reconnected() -> None:
    d = Driver()
    d.connect()
    d.now += 20
    d.link.handle_timer(d.now)
    d.collect()
    d.refuse(d.sent[-1], "failed")
    assert of(ActionRefused, d.events)[-1] == ActionRefused("heartbeat", "failed", 2)
    lost = d.drop()
    assert of(Disconnected, lost)[0].reason is DisconnectReason.UNAUTHORIZED
    assert of(Disconnected, lost)[0].retry_in == 0
    action = d.action()
    assert isinstance(action, FetchCredential) and action.refused == TOKEN
    assert TOKEN not in repr(action)
    d.link.credential_received("Bearer access-token-0002", None, d.now)
    assert d.action() == OpenSocket(URL)


def test_a_token_refused_twice_in_a_row_ends_the_stream() -> None:
    d = Driver()
    d.action()
    d.link.credential_received(TOKEN, None, d.now)
    d.action()
    d.link.socket_opened(d.now)
    d.collect()
    d.refuse(d.sent[-1], "failed")
    d.drop()
    d.action()
    d.link.credential_received("Bearer access-token-0002", None, d.now)
    d.action()
    d.link.socket_opened(d.now)
    d.collect()
    d.refuse(d.sent[-1], "failed")
    assert isinstance(d.action(), CloseSocket)
    d.link.socket_closed(None, d.now)
    finish = d.action()
    assert isinstance(finish, Finish)
    assert isinstance(finish.error, StreamingError) and finish.error.code == "failed"


def test_the_same_refused_token_handed_back_ends_the_stream() -> None:
    d = Driver()
    d.connect()
    d.now += 20
    d.link.handle_timer(d.now)
    d.collect()
    d.refuse(d.sent[-1], "failed")
    d.drop()
    d.action()
    d.link.credential_received(TOKEN, None, d.now)
    finish = d.action()
    assert isinstance(finish, Finish) and finish.error is not None
    assert TOKEN not in str(finish.error)


def test_a_transient_credential_failure_is_retried_with_backoff() -> None:
    d = Driver(backoff_base=0.5)
    d.action()
    d.link.credential_failed(TransportError("connection refused"), d.now)
    action = d.action()
    assert isinstance(action, Pause) and action.until > d.now
    d.now = action.until
    assert isinstance(d.action(), FetchCredential)


# -- refusals -------------------------------------------------------------------------------------


def test_a_refused_subscription_is_reported_and_not_replayed() -> None:
    d = Driver()
    d.connect()
    d.link.subscribe_quote_alerts(d.now)
    d.collect()
    d.refuse(d.sent[-1], "not-implemented")
    assert of(ActionRefused, d.events)[-1].code == "not-implemented"
    assert d.link.subscriptions == ()
    assert d.link.state is AccountStreamState.LIVE


def test_connect_not_completed_starts_over_on_a_new_socket() -> None:
    d = Driver()
    d.connect()
    d.receive(json.dumps(sample("account-error-connect-not-completed.json")))
    lost = d.drop()
    assert of(Disconnected, lost)[0].reason is DisconnectReason.PROTOCOL_ERROR


def test_a_connect_refused_twice_for_another_reason_ends_the_stream() -> None:
    d = Driver()
    for _ in range(2):
        for _ in range(5):
            action = d.action()
            if isinstance(action, FetchCredential):
                d.link.credential_received(TOKEN, None, d.now)
            elif isinstance(action, Pause):
                d.now = action.until
            elif isinstance(action, OpenSocket):
                d.link.socket_opened(d.now)
                d.collect()
                d.refuse(d.sent[-1], "not-implemented")
                break
        if isinstance(d.action(), CloseSocket):
            d.link.socket_closed(None, d.now)
    finish = d.action()
    while not isinstance(finish, Finish):
        d.link.socket_closed(None, d.now)
        finish = d.action()
    assert isinstance(finish.error, StreamingError)
    assert finish.error.code == "not-implemented"


def test_an_error_without_request_id_is_matched_by_action() -> None:
    d = Driver()
    d.connect()
    d.link.subscribe_quote_alerts(d.now)
    d.receive(
        json.dumps({"status": "error", "action": "quote-alerts-subscribe", "message": "nope"})
    )
    assert of(ActionRefused, d.events)[-1] == ActionRefused("quote-alerts-subscribe", "nope", None)


# -- reconnects -----------------------------------------------------------------------------------


def test_a_drop_reconnects_replays_connect_and_subscriptions_then_resyncs() -> None:
    d = Driver()
    d.connect()
    d.link.subscribe_public_watchlists(d.now)
    d.link.subscribe_quote_alerts(d.now)
    d.link.socket_closed(WebSocketClosed("gone", code=1011, reason="bye"), d.now)
    lost = of(Disconnected, d.collect())[0]
    assert lost.reason is DisconnectReason.SERVER_CLOSED and lost.code == 1011
    before = len(d.sent)
    d.connect()
    replayed = [m["action"] for m in d.sent[before:]]
    assert replayed == ["connect", "public-watchlists-subscribe", "quote-alerts-subscribe"]
    assert of(Resync, d.events)[-1].reason == "reconnect"


def test_backoff_grows_while_sockets_fail_and_gives_up_at_max_attempts() -> None:
    d = Driver(backoff_base=1, backoff_cap=8, max_attempts=4)
    d.action()
    d.link.credential_received(TOKEN, None, d.now)
    waits = []
    while True:
        action = d.action()
        if isinstance(action, Finish):
            break
        if isinstance(action, Pause):
            waits.append(action.until - d.now)
            d.now = action.until
            continue
        assert isinstance(action, OpenSocket)
        d.link.socket_failed(TransportError("refused"), d.now)
    assert waits == [1, 2, 4]
    assert isinstance(action.error, StreamingError)


def test_a_healthy_link_reconnects_at_once() -> None:
    d = Driver()
    d.connect()
    d.link.socket_closed(TransportError("reset"), d.now)
    assert of(Disconnected, d.collect())[0].retry_in == 0


def test_closing_ends_with_finish_and_no_error() -> None:
    d = Driver()
    d.connect()
    d.link.close()
    assert isinstance(d.action(), CloseSocket)
    d.link.socket_closed(None, d.now)
    assert d.action() == Finish(None)
    with pytest.raises(StreamingError):
        d.link.subscribe_quote_alerts(d.now)


# -- notifications --------------------------------------------------------------------------------


def test_every_sample_notification_becomes_its_rest_model() -> None:
    d = Driver()
    d.connect()
    events = []
    for name in (
        "account-order-frame.json",
        "account-balance-frame.json",
        "account-current-position-frame.json",
        "account-quote-alert-frame.json",
        "account-public-watchlists-frame.json",
    ):
        events += d.receive(json.dumps(sample(name)))
    order, balances, position, alert, watchlist = events
    assert isinstance(order, OrderUpdated) and order.order.status is OrderStatus.FILLED
    assert order.new_fills[0].fill_price == Decimal("149.98")
    assert order.timestamp == 1767366000950 and order.at() is not None
    assert order.at().tzinfo is not None
    assert isinstance(balances, BalancesUpdated)
    assert balances.balances.net_liquidating_value == Decimal("25000.0")
    assert isinstance(position, PositionUpdated) and position.position.quantity == 100
    assert isinstance(alert, QuoteAlertTriggered) and alert.alert.threshold == Decimal("200.00")
    assert alert.alert.expires_at is not None and alert.alert.expires_at.tzinfo is not None
    assert isinstance(watchlist, WatchlistUpdated)
    assert watchlist.watchlist.symbols == ("AAPL", "/ES")


def test_older_sample_frames_in_order() -> None:
    d = Driver()
    d.connect()
    events = []
    for message in sample("../account_streamer_order_frames.json"):
        events += d.receive(json.dumps(message))
    statuses = [e.order.status.value for e in events]
    assert statuses == sorted(set(statuses), key=statuses.index)  # no repeats
    assert statuses[0] == "Routed"


def test_a_batch_of_results_is_unpacked_in_order() -> None:
    d = Driver()
    d.connect()
    events = d.receive(json.dumps(sample("account-batched-results-frame.json")))
    assert [type(e) for e in events] == [OrderUpdated, BalancesUpdated]


def test_an_unknown_type_is_passed_through_raw() -> None:
    d = Driver()
    d.connect()
    data = {"amount": "100.00", "nested": [1, {"a": None}]}
    (event,) = d.receive(frame("ExternalTransaction", data))
    assert event == Notification("ExternalTransaction", data, 1)
    assert event.data == data


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"no": "kind"}',
        '{"type": 5, "data": {}}',
        '{"type": "Order", "data": [1]}',
        '{"type": "Order", "data": {"id": "x"}}',
        '{"type": "AccountBalance", "data": {"cash-balance": "1"}}',
        '{"results": 5}',
        '{"results": [5]}',
        '{"status": "maybe", "action": "connect"}',
        '{"status": "ok"}',
        "[" * 100_000,
    ],
)
def test_unreadable_messages_are_reported_and_the_link_carries_on(text: str) -> None:
    d = Driver()
    d.connect()
    events = d.receive(text)
    assert events and isinstance(events[0], MalformedMessage)
    assert isinstance(events[0].error, StreamingError)
    assert d.link.malformed >= 1
    assert d.link.state is AccountStreamState.LIVE
    assert d.receive(frame("Order", order_json("Live", 5)))[0].order.status is OrderStatus.LIVE


# -- in order, each fill once ---------------------------------------------------------------------


def test_each_state_once_in_order_and_each_fill_once() -> None:
    d = Driver()
    d.connect()
    got: list[Any] = []
    got += d.receive(frame("Order", order_json("Received", 100)))
    got += d.receive(frame("Order", order_json("Live", 200)))
    got += d.receive(frame("Order", order_json("Live", 200)))  # repeated
    got += d.receive(frame("Order", order_json("Live", 300, [("f1", "4")])))
    got += d.receive(frame("Order", order_json("Received", 100)))  # stale
    got += d.receive(frame("Order", order_json("Filled", 400, [("f1", "4"), ("f2", "6")])))
    got += d.receive(frame("Order", order_json("Filled", 400, [("f1", "4"), ("f2", "6")])))
    statuses = [(e.previous_status, e.order.status) for e in got]
    assert [(p and p.value, s.value) for p, s in statuses] == [
        (None, "Received"),
        ("Received", "Live"),
        ("Live", "Live"),
        ("Live", "Filled"),
    ]
    fills = [f.fill_id for e in got for f in e.new_fills]
    assert fills == ["f1", "f2"]
    assert d.link.stale == 3


def test_a_fill_seen_only_by_the_resync_is_reported_once_and_flagged() -> None:
    d = Driver()
    d.connect()
    d.receive(frame("Order", order_json("Live", 200)))
    d.link.socket_closed(TransportError("reset"), d.now)  # the fill happens meanwhile
    filled = Order.from_json(order_json("Filled", 300, [("f1", "10")]))
    position = Position.from_json(
        {
            "account-number": "5WT00001",
            "symbol": "AAPL",
            "instrument-type": "Equity",
            "quantity": "10",
            "quantity-direction": "Long",
        }
    )
    balances = Balances.from_json({"account-number": "5WT00001", "cash-balance": "500.00"})
    before = len(d.events)
    d.connect(state=AccountState(("5WT00001",), (filled,), (), (position,), (balances,)))
    new = d.events[before:]
    updates = of(OrderUpdated, new)
    assert len(updates) == 1 and updates[0].resynced
    assert [f.fill_id for f in updates[0].new_fills] == ["f1"]
    assert updates[0].previous_status is OrderStatus.LIVE
    assert of(Resync, new) == [Resync("reconnect", 1, 0, 1, 1)]
    assert new.index(of(Resync, new)[0]) == len(new) - 1  # the changes come first
    # The server's own frame of that fill, arriving late, is not a second fill.
    assert d.receive(frame("Order", order_json("Filled", 300, [("f1", "10")]))) == []


def test_a_resync_that_finds_nothing_new_reports_nothing_but_itself() -> None:
    d = Driver()
    live = Order.from_json(order_json("Live", 200))
    d.connect(state=AccountState(("5WT00001",), (live,)))
    assert of(Resync, d.events)[-1] == Resync("connect", 1, 0, 0, 0)
    d.link.socket_closed(TransportError("reset"), d.now)
    before = len(d.events)
    d.connect(state=AccountState(("5WT00001",), (live,)))
    assert [type(e) for e in d.events[before:]] == [Disconnected, Connected, Resync]


def test_a_position_closed_while_away_is_reported_with_quantity_zero() -> None:
    d = Driver()
    held = Position.from_json(
        {
            "account-number": "5WT00001",
            "symbol": "AAPL",
            "instrument-type": "Equity",
            "quantity": "10",
        }
    )
    d.connect(state=AccountState(("5WT00001",), positions=(held,)))
    d.link.socket_closed(TransportError("reset"), d.now)
    before = len(d.events)
    d.connect()
    closed = of(PositionUpdated, d.events[before:])
    assert len(closed) == 1 and closed[0].position.quantity == 0 and closed[0].resynced


def test_a_stale_balance_after_the_resync_is_dropped() -> None:
    d = Driver()
    fresh = Balances.from_json(
        {"account-number": "5WT00001", "cash-balance": "2", "updated-at": "2026-01-02T15:00:02Z"}
    )
    d.connect(state=AccountState(("5WT00001",), balances=(fresh,)))
    old = {"account-number": "5WT00001", "cash-balance": "1", "updated-at": "2026-01-02T15:00:01Z"}
    assert d.receive(frame("AccountBalance", old)) == []


def test_a_gap_in_the_sequence_brings_a_resync() -> None:
    d = Driver()
    d.connect()
    d.receive(frame("Order", order_json("Live", 1), sequence=1))
    assert isinstance(d.action(), Exchange)
    d.receive(frame("Order", order_json("Live", 2), sequence=3))
    assert d.action() == FetchState(("5WT00001",))
    d.link.state_received(AccountState(("5WT00001",)), d.now)
    assert of(Resync, d.collect())[0].reason == "gap"


def test_a_failed_resync_is_tried_again_and_a_refused_one_ends_the_stream() -> None:
    d = Driver(backoff_base=1)
    d.action()
    d.link.credential_received(TOKEN, None, d.now)
    d.action()
    d.link.socket_opened(d.now)
    d.collect()
    d.ack(d.sent[-1])
    assert isinstance(d.action(), FetchState)
    d.link.state_failed(TransportError("timeout"), d.now)
    action = d.action()
    assert isinstance(action, Exchange) and action.deadline <= d.now + 2
    d.now += 2
    assert isinstance(d.action(), FetchState)
    d.link.state_failed(ApiError("no", status=403, code="not_permitted"), d.now)
    assert isinstance(d.action(), CloseSocket)
    d.link.socket_closed(None, d.now)
    finish = d.action()
    assert isinstance(finish, Finish) and isinstance(finish.error, ApiError)


def test_without_resync_no_rest_read_happens() -> None:
    d = Driver(resync=False)
    d.connect()
    assert isinstance(d.action(), Exchange)
    assert of(Resync, d.events) == []


def test_complex_orders_are_reported_once_per_change() -> None:
    d = Driver()
    d.connect()
    complex_json = {
        "id": 7,
        "account-number": "5WT00001",
        "type": "OTO",
        "trigger-order": order_json("Live", 1, order_id=10),
        "orders": [order_json("Contingent", 1, order_id=11)],
    }
    first = d.receive(frame("ComplexOrder", complex_json))
    again = d.receive(frame("ComplexOrder", complex_json))
    complex_json["trigger-order"] = order_json("Filled", 2, [("f", "10")], order_id=10)
    later = d.receive(frame("ComplexOrder", complex_json))
    assert [type(e) for e in first + again + later] == [ComplexOrderUpdated] * 2


# -- secrets --------------------------------------------------------------------------------------


def test_the_credential_never_appears_in_events_errors_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    d = Driver()
    d.connect()
    secret = TOKEN.removeprefix("Bearer ")
    d.receive(f"garbage {secret}")
    d.receive(json.dumps({"status": "error", "action": "heartbeat", "message": f"bad {secret}"}))
    d.drop()
    text = " ".join(repr(e) for e in d.events) + caplog.text + repr(d.action())
    assert secret not in text


# -- any sequence of frames -----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
kinds = st.sampled_from(
    [
        "Order",
        "ComplexOrder",
        "AccountBalance",
        "CurrentPosition",
        "QuoteAlert",
        "PublicWatchlists",
        "TradingStatus",
        "Other",
    ]
)
order_like = st.fixed_dictionaries(
    {
        "id": st.integers(1, 3) | json_values,
        "account-number": st.just("5WT00001"),
        "status": st.sampled_from(["Received", "Live", "Filled", "Cancelled", "Weird"])
        | json_values,
        "updated-at": st.integers(0, 10) | json_values,
        "legs": st.lists(
            st.fixed_dictionaries(
                {
                    "fills": st.lists(
                        st.fixed_dictionaries(
                            {"fill-id": st.text(max_size=2), "quantity": st.integers(0, 5)}
                        ),
                        max_size=2,
                    )
                }
            ),
            max_size=2,
        )
        | json_values,
    }
)
messages = st.one_of(
    st.builds(
        lambda k, d, s: json.dumps({"type": k, "data": d, "ws-sequence": s}),
        kinds,
        order_like | json_values,
        st.integers(0, 5) | json_values,
    ),
    st.builds(
        lambda d: json.dumps({"results": d}),
        st.lists(st.builds(lambda k, d: {"type": k, "data": d}, kinds, order_like), max_size=3)
        | json_values,
    ),
    st.builds(
        lambda s, a, m, r: json.dumps({"status": s, "action": a, "message": m, "request-id": r}),
        st.sampled_from(["ok", "error"]) | json_values,
        st.sampled_from(["connect", "heartbeat", "quote-alerts-subscribe"]) | json_values,
        st.sampled_from(["failed", "connect-not-completed", "not-implemented"]) | json_values,
        st.integers(0, 5) | json_values,
    ),
    json_values.map(json.dumps),
    st.text(max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(messages, st.floats(0, 30)), max_size=25))
def test_any_sequence_of_frames_gives_events_or_a_typed_error(
    script: list[tuple[str, float]],
) -> None:
    d = Driver()
    d.connect()
    fills_seen: dict[Any, int] = {}
    for text, wait in script:
        d.now += wait
        action = d.action()
        if isinstance(action, Finish):
            assert action.error is None or isinstance(action.error, TastytradeError)
            break
        if isinstance(action, FetchCredential):
            d.link.credential_received("Bearer access-token-0003", None, d.now)
        elif isinstance(action, FetchState):
            d.link.state_received(AccountState(action.accounts), d.now)
        elif isinstance(action, CloseSocket):
            d.link.socket_closed(None, d.now)
        elif isinstance(action, OpenSocket):
            d.link.socket_opened(d.now)
        elif isinstance(action, Exchange):
            d.link.receive(text, d.now)
            d.link.handle_timer(d.now)
        for event in d.collect():
            if isinstance(event, OrderUpdated):
                for fill in event.new_fills:
                    key = (event.order.id, fill.fill_id)
                    fills_seen[key] = fills_seen.get(key, 0) + 1
    # A fill with an identity is never reported twice for one order.
    assert all(count == 1 for (oid, fid), count in fills_seen.items() if fid and oid)


def test_a_long_lived_socket_resyncs_periodically_and_forgets_finished_orders() -> None:
    d = Driver(resync_interval=3600, receive_timeout=10**6)
    d.connect()
    d.receive(frame("Order", order_json("Filled", 5, [("f1", "10")])))
    d.receive(frame("Order", order_json("Live", 5, order_id=2)))
    assert len(d.link._orders) == 2
    action = d.action()
    assert isinstance(action, Exchange) and action.deadline is not None
    d.now += 3600
    assert d.action() == FetchState(("5WT00001",))
    # The API no longer lists the filled order (another day); the live one it does.
    live = Order.from_json(order_json("Live", 5, order_id=2))
    d.link.state_received(AccountState(("5WT00001",), (live,)), d.now)
    assert of(Resync, d.collect()) == [Resync("periodic")]
    assert list(d.link._orders) == [2]
    assert d.link.state is AccountStreamState.LIVE


def test_no_periodic_resync_when_turned_off() -> None:
    d = Driver(resync_interval=None, receive_timeout=10**6)
    d.connect()
    d.now += 10**6 - 1
    d.link.handle_timer(d.now)
    assert not isinstance(d.action(), FetchState)
    with pytest.raises(StreamingError):
        AccountStreamConnection(["5WT00001"], URL, resync_interval=0)


def test_a_balance_read_again_unchanged_is_not_news_even_with_a_later_stamp() -> None:
    d = Driver()
    first = {
        "account-number": "5WT00001",
        "cash-balance": "1",
        "updated-at": "2026-01-02T15:00:01Z",
    }
    d.connect(state=AccountState(("5WT00001",), balances=(Balances.from_json(first),)))
    d.link.socket_closed(TransportError("reset"), d.now)
    restamped = Balances.from_json({**first, "updated-at": "2026-01-02T16:00:00Z"})
    before = len(d.events)
    d.connect(state=AccountState(("5WT00001",), balances=(restamped,)))
    assert of(Resync, d.events[before:]) == [Resync("reconnect")]
    moved = {**first, "cash-balance": "2", "updated-at": "2026-01-02T16:00:01Z"}
    (event,) = d.receive(frame("AccountBalance", moved))
    assert event.balances.cash_balance == Decimal("2")


def test_a_frame_that_cannot_be_read_brings_a_resync_at_most_every_ten_seconds() -> None:
    d = Driver(receive_timeout=10**6)
    d.connect()
    d.receive(frame("Order", {"id": "not a number", "status": "Filled"}))
    assert of(MalformedMessage, d.events)
    action = d.action()
    assert isinstance(action, Exchange) and action.deadline == pytest.approx(d.now + 10)
    d.now += 10
    assert d.action() == FetchState(("5WT00001",))
    d.link.state_received(AccountState(("5WT00001",)), d.now)
    assert of(Resync, d.collect())[-1].reason == "malformed"


def test_credentials_in_a_base_url_stay_out_of_the_streamer_url() -> None:
    from tastytrade_proto.protocol.http import Environment

    env = Environment.custom("https://user:secret@127.0.0.1:8443/pre/")
    assert env.account_streamer_url == "wss://127.0.0.1:8443/pre/account-streamer"
