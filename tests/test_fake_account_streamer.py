"""The fake's account streamer: the pure machine, then over real websockets (ws and wss).

The protocol facts (auth-token is the Authorization value, the ack and refusal shapes,
the refusal codes, notifications as full REST objects, no replay) are tastytrade's
account-streaming guide and the captures in ``tests/samples/streaming``; these tests
hold the fake to them, and to the contract the client is written against: every
order change is pushed, in order, exactly as ``GET /accounts/{n}/orders/{id}`` would
answer at that instant.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Event, TextMessage
from wsproto.events import Request as WSRequest

from tastytrade_proto.protocol import Request
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    AccountStreamFault,
    AccountStreamFaultKind,
    FakeAccountStreamerConnection,
    FakeClock,
    FakeTastytradeAPI,
    FakeTastytradeServer,
    OrderChange,
)

# Friday 2 January 2026, 15:00 UTC (10:00 in New York): a trading day.
START = 1_767_366_000.0
AGENT = ("user-agent", "account-streamer-tests/1.0")
SAMPLES = Path(__file__).parent / "samples" / "streaming"
MARGIN = "5WT00001"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def call(
    api: FakeTastytradeAPI, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    headers = [AGENT]
    if token is not None:
        headers.append(("authorization", token))
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        headers.append(("content-type", "application/json"))
    reply = api.handle(Request(method, "https://fake.invalid" + path, tuple(headers), data))
    return reply.response.status, json.loads(reply.response.body or b"null")


def bearer(api: FakeTastytradeAPI) -> str:
    """An ``Authorization`` value for an OAuth access token of the demo user."""
    grant = {
        "grant_type": "refresh_token",
        "refresh_token": DEMO_REFRESH_TOKEN,
        "client_secret": DEMO_CLIENT_SECRET,
    }
    status, answer = call(api, "POST", "/oauth/token", body=grant)
    assert status == 200
    return f"Bearer {answer['access_token']}"


def session_token(api: FakeTastytradeAPI) -> str:
    """A legacy session token (bare) of ``alice``, who owns 5WT00042."""
    if "alice" not in api.users:
        api.add_user("alice", "s3cret", accounts=["5WT00042"])
    status, answer = call(api, "POST", "/sessions", body={"login": "alice", "password": "s3cret"})
    assert status == 201
    return str(answer["data"]["session-token"])


def limit(
    symbol: str, action: str, quantity: int, price: str, effect: str = "Debit", tif: str = "Day"
) -> dict[str, Any]:
    return {
        "time-in-force": tif,
        "order-type": "Limit",
        "price": price,
        "price-effect": effect,
        "legs": [
            {"instrument-type": "Equity", "symbol": symbol, "quantity": quantity, "action": action}
        ],
    }


def rest_order(api: FakeTastytradeAPI, token: str, order_id: int) -> dict[str, Any]:
    status, answer = call(api, "GET", f"/accounts/{MARGIN}/orders/{order_id}", token)
    assert status == 200
    data: dict[str, Any] = answer["data"]
    return data


def of_type(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m["data"] for m in messages if m.get("type") == kind]


class Wire:
    """A client's side of the pure machine: JSON in, JSON out, time by hand."""

    def __init__(self, api: FakeTastytradeAPI, now: float = 1000.0) -> None:
        self.api = api
        self.now = now
        self.conn = FakeAccountStreamerConnection(api, now)

    def take(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.conn.messages_to_send()]

    def send(self, **message: Any) -> list[dict[str, Any]]:
        text = json.dumps({k.replace("_", "-"): v for k, v in message.items()})
        self.conn.receive(text, self.now)
        return self.take()

    def tick(self, seconds: float = 0.0) -> list[dict[str, Any]]:
        self.now += seconds
        self.conn.handle_timer(self.now)
        return self.take()

    def connect(self, token: str, *accounts: str) -> dict[str, Any]:
        (ack,) = self.send(action="connect", value=list(accounts or [MARGIN]), auth_token=token)
        assert ack["status"] == "ok", ack
        return ack


@pytest.fixture
def api() -> FakeTastytradeAPI:
    return FakeTastytradeAPI(clock=FakeClock(START))


@pytest.fixture
def token(api: FakeTastytradeAPI) -> str:
    return bearer(api)


def refusal(messages: list[dict[str, Any]]) -> str:
    (answer,) = messages
    assert answer["status"] == "error"
    return str(answer["message"])


# -- acknowledgements and refusals -------------------------------------------------------------


def test_the_connect_ack_has_the_documented_shape(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    (ack,) = wire.send(action="connect", value=[MARGIN, "5WT00002"], auth_token=token, request_id=1)
    documented = sample("account-connect-ack.json")
    assert list(ack) == list(documented)
    assert ack == {**documented, "web-socket-session-id": ack["web-socket-session-id"]}
    session = ack["web-socket-session-id"]
    assert len(session) == 8 and int(session, 16) >= 0
    assert Wire(api).conn.session_id != session  # new for every socket
    (heartbeat,) = wire.send(action="heartbeat", auth_token=token, request_id=2)
    assert heartbeat == {**sample("account-heartbeat-ack.json"), "web-socket-session-id": session}


def test_request_id_is_echoed_only_when_given(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    (ack,) = wire.send(action="connect", value=[MARGIN], auth_token=token)
    assert "request-id" not in ack and ack["value"] == [MARGIN]
    (ack,) = wire.send(action="heartbeat", auth_token=token, request_id=77)
    assert ack["request-id"] == 77
    (ack,) = wire.send(action="heartbeat", auth_token=token, request_id="seven")
    assert "request-id" not in ack  # not an integer: not echoed
    (error,) = wire.send(action="nonsense", auth_token=token, request_id=9)
    assert error["request-id"] == 9 and error["message"] == "not-implemented"


def test_every_action_before_connect_is_connect_not_completed(
    api: FakeTastytradeAPI, token: str
) -> None:
    wire = Wire(api)
    for action in (
        "heartbeat",
        "public-watchlists-subscribe",
        "quote-alerts-subscribe",
        "user-message-subscribe",
    ):
        (error,) = wire.send(action=action, auth_token=token)
        documented = sample("account-error-connect-not-completed.json")
        assert error == {
            **documented,
            "action": action,
            "web-socket-session-id": wire.conn.session_id,
        }
    wire.connect(token)  # the socket stayed open
    assert wire.send(action="quote-alerts-subscribe", auth_token=token)[0]["status"] == "ok"


def test_tokens_are_the_authorization_value(api: FakeTastytradeAPI, token: str) -> None:
    access = token.removeprefix("Bearer ")
    session = session_token(api)
    wire = Wire(api)
    # The wrong form of either token is refused, the socket stays open, the right one works.
    assert refusal(wire.send(action="connect", value=[MARGIN], auth_token=access)) == "failed"
    assert refusal(wire.send(action="connect", value=["5WT00042"], auth_token=f"Bearer {session}"))
    assert refusal(wire.send(action="connect", value=[MARGIN], auth_token="nonsense")) == "failed"
    assert refusal(wire.send(action="connect", value=[MARGIN])) == "failed"  # no token at all
    assert wire.connect(token)["value"] == [MARGIN]
    legacy = Wire(api)
    assert legacy.connect(session, "5WT00042")["value"] == ["5WT00042"]
    assert refusal(legacy.send(action="heartbeat", auth_token=token)) == "failed"  # not alice's
    documented = sample("account-error-failed.json")
    (error,) = Wire(api).send(action="connect", value=[MARGIN], auth_token=access)
    assert list(error) == list(documented)


def test_connect_names_the_users_own_accounts(api: FakeTastytradeAPI, token: str) -> None:
    session_token(api)  # alice, with 5WT00042
    wire = Wire(api)
    for value in (["5WT00042"], [MARGIN, "5WT00042"], ["5WT99999"], [], None, [1]):
        assert refusal(wire.send(action="connect", value=value, auth_token=token)) == "failed"
    assert not wire.conn.connected
    (ack,) = wire.send(action="connect", value=MARGIN, auth_token=token)  # a bare string
    assert ack["value"] == [MARGIN]


def test_expired_and_logged_out_tokens_fail(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.connect(token)
    api.clock.advance(901)  # type: ignore[attr-defined]
    assert refusal(wire.send(action="heartbeat", auth_token=token)) == "failed"
    fresh = bearer(api)
    assert wire.send(action="heartbeat", auth_token=fresh)[0]["status"] == "ok"
    session = session_token(api)
    legacy = Wire(api)
    legacy.connect(session, "5WT00042")
    assert call(api, "DELETE", "/sessions", session)[0] == 204
    assert refusal(legacy.send(action="heartbeat", auth_token=session)) == "failed"


def test_unknown_actions_and_garbage_are_not_implemented(
    api: FakeTastytradeAPI, token: str
) -> None:
    wire = Wire(api)
    assert refusal(wire.send(action="account-subscribe", auth_token=token)) == "not-implemented"
    for text in ("not json", "[1, 2]", '{"auth-token": "x"}', '{"action": 5}'):
        wire.conn.receive(text, wire.now)
        (error,) = wire.take()
        assert error == {
            "status": "error",
            "web-socket-session-id": wire.conn.session_id,
            "message": "not-implemented",
        }
    assert wire.conn.closed is None


def test_a_second_connect_replaces_the_accounts(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.connect(token, MARGIN)
    wire.connect(token, "5WT00002")
    call(api, "POST", f"/accounts/{MARGIN}/orders", token, limit("F", "Buy to Open", 1, "1.00"))
    assert wire.tick() == []
    call(api, "POST", "/accounts/5WT00002/orders", token, limit("F", "Buy to Open", 1, "1.00"))
    assert {o["account-number"] for o in of_type(wire.tick(), "Order")} == {"5WT00002"}


# -- liveness ----------------------------------------------------------------------------------


def test_an_idle_socket_is_closed(api: FakeTastytradeAPI, token: str) -> None:
    api.account_streamer_timeout = 10
    wire = Wire(api, now=0.0)
    assert wire.conn.next_deadline() == 10.0
    wire.tick(9)
    wire.connect(token)  # any client message counts
    assert wire.conn.next_deadline() == 19.0
    wire.tick(9.9)
    assert wire.conn.closed is None
    wire.tick(0.1)
    assert wire.conn.closed == (1000, "Idle timeout")
    assert wire.conn.next_deadline() is None and api.account_streams == []
    assert api.account_stream_messages[-1].text == "1000 Idle timeout"


# -- orders ------------------------------------------------------------------------------------


def test_a_placed_order_is_pushed_through_live_and_filled_exactly_as_rest_answers(
    api: FakeTastytradeAPI, token: str
) -> None:
    wire = Wire(api)
    wire.connect(token)
    status, placed = call(
        api, "POST", f"/accounts/{MARGIN}/orders", token, limit("AAPL", "Buy to Open", 10, "180")
    )
    assert status == 201
    order_id = placed["data"]["order"]["id"]
    frames = wire.tick()
    assert [m["ws-sequence"] for m in frames] == list(range(1, len(frames) + 1))
    assert all(isinstance(m["timestamp"], int) for m in frames)
    orders = of_type(frames, "Order")
    assert [o["status"] for o in orders] == ["Received", "Routed", "Live"]
    assert orders[-1] == rest_order(api, token, order_id)  # the instant's REST answer
    assert {frozenset(o) for o in orders[:2]} <= {frozenset(orders[-1]) - {"live-at"}}
    api.set_mark("AAPL", "179.50")
    frames = wire.tick()
    assert [m["type"] for m in frames] == ["Order", "CurrentPosition", "AccountBalance"]
    (filled,) = of_type(frames, "Order")
    assert filled["status"] == "Filled" and filled == rest_order(api, token, order_id)
    stamps = [o["updated-at"] for o in [*orders, filled]]
    assert stamps == sorted(set(stamps))  # strictly rising
    documented = sample("account-order-frame.json")
    assert set(frames[0]) == {*documented, "ws-sequence"}


def test_partial_fills_then_the_rest(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.connect(token)
    _, placed = call(
        api, "POST", f"/accounts/{MARGIN}/orders", token, limit("AAPL", "Buy to Open", 10, "150")
    )
    order_id = placed["data"]["order"]["id"]
    wire.tick()
    api.fill_order(order_id, quantity=4)
    (part,) = of_type(wire.tick(), "Order")
    assert part["status"] == "Live" and part["legs"][0]["remaining-quantity"] == 6
    assert part == rest_order(api, token, order_id)
    api.fill_order(order_id, quantity=6, price="149.50")
    (done,) = of_type(wire.tick(), "Order")
    assert done["status"] == "Filled" and [f["quantity"] for f in done["legs"][0]["fills"]] == [
        4,
        6,
    ]
    history = [h for h in api.order_history if h.order_id == order_id]
    assert [(h.status, h.filled_quantity, len(h.fill_ids)) for h in history] == [
        ("Received", 0, 0),
        ("Routed", 0, 0),
        ("Live", 0, 0),
        ("Live", 4, 1),
        ("Filled", 10, 2),
    ]
    assert history[-1].fill_ids == tuple(f["fill-id"] for f in done["legs"][0]["fills"])
    assert [h.updated_at for h in history] == sorted({h.updated_at for h in history})


def test_cancel_reject_and_expire(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.connect(token)
    ids = []
    for _ in range(3):
        _, placed = call(
            api, "POST", f"/accounts/{MARGIN}/orders", token, limit("AAPL", "Buy to Open", 1, "100")
        )
        ids.append(placed["data"]["order"]["id"])
    wire.tick()
    assert call(api, "DELETE", f"/accounts/{MARGIN}/orders/{ids[0]}", token)[0] == 200
    frames = wire.tick()
    (cancelled,) = of_type(frames, "Order")
    assert cancelled["status"] == "Cancelled" and cancelled == rest_order(api, token, ids[0])
    assert of_type(frames, "AccountBalance")  # the buying power it held came back
    api.reject_order(ids[1], "Exchange closed")
    (rejected,) = of_type(wire.tick(), "Order")
    assert rejected["status"] == "Rejected" and rejected["reject-reason"] == "Exchange closed"
    with pytest.raises(ValueError, match="not open"):
        api.reject_order(ids[1])
    with pytest.raises(LookupError):
        api.reject_order(1)
    api.clock.advance(86400)  # type: ignore[attr-defined]
    frames = wire.send(action="heartbeat", auth_token=bearer(api))  # a token for the new day
    expired = [o for o in of_type(frames, "Order") if o["id"] == ids[2]]
    assert [o["status"] for o in expired] == ["Expired"]


def test_a_replacement(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.connect(token)
    _, placed = call(
        api, "POST", f"/accounts/{MARGIN}/orders", token, limit("AAPL", "Buy to Open", 1, "100")
    )
    old = placed["data"]["order"]["id"]
    wire.tick()
    status, answer = call(
        api,
        "PUT",
        f"/accounts/{MARGIN}/orders/{old}",
        token,
        limit("AAPL", "Buy to Open", 1, "101"),
    )
    assert status == 200
    new = answer["data"]["id"]
    orders = of_type(wire.tick(), "Order")
    assert [(o["id"], o["status"]) for o in orders] == [
        (new, "Received"),
        (new, "Routed"),
        (old, "Cancelled"),
        (new, "Live"),
    ]
    assert orders[2]["replacing-order-id"] == new and orders[2]["edited"] is True
    assert orders[3]["replaces-order-id"] == old
    assert orders[2] == rest_order(api, token, old) and orders[3] == rest_order(api, token, new)


def test_positions_and_balances_after_fills_and_a_closed_position(
    api: FakeTastytradeAPI, token: str
) -> None:
    wire = Wire(api)
    wire.connect(token)
    order = {**limit("AAPL", "Sell to Close", 100, "180", "Credit"), "order-type": "Market"}
    del order["price"], order["price-effect"]
    call(api, "POST", f"/accounts/{MARGIN}/orders", token, order)
    frames = wire.tick()
    assert [m["type"] for m in frames][-3:] == ["Order", "CurrentPosition", "AccountBalance"]
    (closed,) = of_type(frames, "CurrentPosition")
    assert closed["symbol"] == "AAPL" and closed["quantity"] == 0
    assert set(closed) == set(sample("account-current-position-frame.json")["data"]) | set(closed)
    _, balances = call(api, "GET", f"/accounts/{MARGIN}/balances", token)
    assert of_type(frames, "AccountBalance")[-1] == balances["data"]
    call(api, "POST", f"/accounts/{MARGIN}/orders", token, limit("NOK", "Buy to Open", 3, "11"))
    (opened,) = of_type(wire.tick(), "CurrentPosition")
    _, positions = call(api, "GET", f"/accounts/{MARGIN}/positions?symbol=NOK", token)
    assert [opened] == positions["data"]["items"]


def test_drift_reaches_the_positions_frames_too() -> None:
    api = FakeTastytradeAPI(clock=FakeClock(START), drift=True)
    token = bearer(api)
    wire = Wire(api)
    wire.connect(token)
    call(api, "POST", f"/accounts/{MARGIN}/orders", token, limit("NOK", "Buy to Open", 3, "11"))
    (opened,) = of_type(wire.tick(), "CurrentPosition")
    assert opened["quantity"] == "3" and opened["multiplier"] == "1.0"


def test_complex_orders_are_pushed_as_rest_answers_them(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.connect(token)
    body = {
        "type": "OTO",
        "trigger-order": limit("AAPL", "Buy to Open", 1, "150"),
        "orders": [limit("AAPL", "Sell to Close", 1, "250", "Credit", "GTC")],
    }
    status, answer = call(api, "POST", f"/accounts/{MARGIN}/complex-orders", token, body)
    assert status == 201, answer
    complex_id = answer["data"]["complex-order"]["id"]
    frames = wire.tick()
    complexes = of_type(frames, "ComplexOrder")
    assert complexes and {c["id"] for c in complexes} == {complex_id}
    _, rest = call(api, "GET", f"/accounts/{MARGIN}/complex-orders/{complex_id}", token)
    assert complexes[-1] == rest["data"]
    trigger = answer["data"]["complex-order"]["trigger-order"]["id"]
    api.fill_order(trigger)
    frames = wire.tick()
    statuses = [(o["id"], o["status"]) for o in of_type(frames, "Order")]
    assert statuses[0] == (trigger, "Filled") and statuses[1][1] == "Routed"
    _, rest = call(api, "GET", f"/accounts/{MARGIN}/complex-orders/{complex_id}", token)
    assert of_type(frames, "ComplexOrder")[-1] == rest["data"]


def test_orders_move_on_by_the_fakes_clock_while_a_socket_is_open(
    api: FakeTastytradeAPI, token: str
) -> None:
    wire = Wire(api)
    wire.connect(token)
    api.market_open = False
    _, placed = call(
        api, "POST", f"/accounts/{MARGIN}/orders", token, limit("AAPL", "Buy to Open", 1, "100")
    )
    (received,) = of_type(wire.tick(), "Order")
    assert received["status"] == "Received"
    assert received == rest_order(api, token, placed["data"]["order"]["id"])
    api.market_open = True
    assert [o["status"] for o in of_type(wire.tick(), "Order")] == ["Routed", "Live"]


def test_only_connected_accounts_and_only_from_now_on(api: FakeTastytradeAPI, token: str) -> None:
    call(api, "POST", f"/accounts/{MARGIN}/orders", token, limit("AAPL", "Buy to Open", 1, "100"))
    wire = Wire(api)
    wire.connect(token, "5WT00002")
    assert wire.tick() == []  # nothing from before, nothing from another account
    call(api, "POST", f"/accounts/{MARGIN}/orders", token, limit("AAPL", "Buy to Open", 1, "100"))
    assert wire.tick() == []
    mine = Wire(api)
    assert mine.tick() == []  # not connected: nothing
    mine.connect(token)
    assert mine.tick() == []  # no snapshot, no replay


def test_order_history_is_the_ground_truth(api: FakeTastytradeAPI, token: str) -> None:
    before = len(api.order_history)
    _, placed = call(
        api, "POST", f"/accounts/{MARGIN}/orders", token, limit("AAPL", "Buy to Open", 2, "250")
    )
    order = placed["data"]["order"]
    changes = api.order_history[before:]
    assert all(isinstance(c, OrderChange) for c in changes)
    assert [(c.account_number, c.order_id, c.status) for c in changes] == [
        (MARGIN, order["id"], "Received"),
        (MARGIN, order["id"], "Routed"),
        (MARGIN, order["id"], "Filled"),
    ]
    assert changes[-1].filled_quantity == Decimal(2) and changes[-1].at == START
    assert changes[-1].updated_at == order["updated-at"]
    assert changes[-1].fill_ids == (order["legs"][0]["fills"][0]["fill-id"],)


# -- watchlists and quote alerts ---------------------------------------------------------------


def test_public_watchlists_go_to_subscribers(api: FakeTastytradeAPI, token: str) -> None:
    subscribed, other = Wire(api), Wire(api)
    for wire in (subscribed, other):
        wire.connect(token)
    subscribed.send(action="public-watchlists-subscribe", auth_token=token)
    changed = api.set_public_watchlist("Crypto", [("BTC/USD", "Cryptocurrency")])
    (frame,) = subscribed.tick()
    assert frame["type"] == "PublicWatchlists" and frame["data"] == changed
    assert set(sample("account-public-watchlists-frame.json")["data"]) <= set(frame["data"])
    _, rest = call(api, "GET", "/public-watchlists/Crypto", token)
    assert rest["data"] == changed
    assert other.tick() == []
    added = api.set_public_watchlist("New", [("SPY", "Equity")], group_name="Fresh")
    assert subscribed.tick()[0]["data"] == added and added["group-name"] == "Fresh"


def test_a_quote_alert_triggers_once_for_its_users_subscribers(
    api: FakeTastytradeAPI, token: str
) -> None:
    alice = session_token(api)
    subscribed, silent, stranger = Wire(api), Wire(api), Wire(api)
    subscribed.connect(token)
    silent.connect(token)
    stranger.connect(alice, "5WT00042")
    for wire, who in ((subscribed, token), (stranger, alice)):
        wire.send(action="quote-alerts-subscribe", auth_token=who)
    alert = api.add_quote_alert("AAPL", "Last", ">", "200")
    assert alert["triggered-at"] is None
    api.set_mark("AAPL", "199.99")
    assert subscribed.tick() == []
    api.set_mark("AAPL", "200.01")
    (frame,) = subscribed.tick()
    assert frame["type"] == "QuoteAlert"
    assert set(frame["data"]) == set(sample("account-quote-alert-frame.json")["data"])
    assert frame["data"]["triggered-at"] is not None and frame["data"]["threshold"] == "200.0"
    api.set_mark("AAPL", "201")
    assert subscribed.tick() == [] and silent.tick() == [] and stranger.tick() == []
    api.add_quote_alert("SPY", "Bid", "<", "590")
    api.set_mark("SPY", "590.005")  # the bid is a tick under the mark
    assert subscribed.tick()[0]["data"]["field"] == "Bid"
    with pytest.raises(ValueError):
        api.add_quote_alert("SPY", "Mark", ">", "1")
    with pytest.raises(ValueError):
        api.add_quote_alert("SPY", "Last", ">=", "1")


# -- faults and the log ------------------------------------------------------------------------


def test_drop_closes_every_socket_and_stall_silences_them(
    api: FakeTastytradeAPI, token: str
) -> None:
    first, second = Wire(api), Wire(api)
    first.connect(token)
    fault = api.inject_account_stream_fault(AccountStreamFault(AccountStreamFaultKind.DROP))
    assert fault.fired.is_set() and fault.hits == 2
    assert first.conn.closed == second.conn.closed == (1006, "")
    assert api.account_streams == [] and api.account_stream_faults == []
    waiting = api.inject_account_stream_fault(AccountStreamFault(AccountStreamFaultKind.STALL))
    assert not waiting.fired.is_set()  # no socket open: the next one gets it
    third = Wire(api)
    assert waiting.fired.is_set() and third.conn.stalled
    assert third.send(action="connect", value=[MARGIN], auth_token=token) == []
    api.set_mark("AAPL", "100")
    assert third.tick(10_000) == [] and third.conn.closed is None  # no timeout either


def test_refuse_connect(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    fault = api.inject_account_stream_fault(
        AccountStreamFault(AccountStreamFaultKind.REFUSE_CONNECT)
    )
    assert not fault.fired.is_set()
    assert refusal(wire.send(action="connect", value=[MARGIN], auth_token=token)) == "failed"
    assert fault.fired.is_set() and not wire.conn.connected
    api.inject_account_stream_fault(
        AccountStreamFault(AccountStreamFaultKind.REFUSE_CONNECT, message="not-implemented")
    )
    assert refusal(wire.send(action="connect", value=[MARGIN], auth_token=token)) == (
        "not-implemented"
    )
    wire.connect(token)


def test_expire_token_expires_it_for_rest_too(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    waiting = api.inject_account_stream_fault(
        AccountStreamFault(AccountStreamFaultKind.EXPIRE_TOKEN)
    )
    assert not waiting.fired.is_set()  # no socket has connected yet
    wire.connect(token)
    assert waiting.fired.is_set()
    assert refusal(wire.send(action="heartbeat", auth_token=token)) == "failed"
    status, answer = call(api, "GET", "/customers/me", token)
    assert status == 401 and answer["error"]["code"] == "token_invalid"
    fresh = bearer(api)
    assert wire.send(action="heartbeat", auth_token=fresh)[0]["status"] == "ok"
    call(api, "POST", f"/accounts/{MARGIN}/orders", fresh, limit("AAPL", "Buy to Open", 1, "99"))
    assert of_type(wire.tick(), "Order")  # notifications never stopped


def test_the_log_has_both_directions_and_no_token(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.connect(token)
    wire.send(action="heartbeat", auth_token=token.removeprefix("Bearer "))
    log = api.account_stream_messages
    assert {m.direction for m in log} == {"in", "out"}
    secret = token.removeprefix("Bearer ")
    assert all(secret not in m.text for m in log)
    assert log[0].json()["auth-token"] == "Bearer <redacted>"  # the form shows, not the token
    assert log[2].json()["auth-token"] == "<redacted>"
    assert secret not in repr(wire.conn) and secret not in repr(log)
    assert api.stream_messages == []  # DXLink's log is its own


# -- over real sockets -------------------------------------------------------------------------


class Client:
    """A raw websocket client (wsproto over a socket), JSON text frames only."""

    def __init__(self, server: FakeTastytradeServer, path: str = "/account-streamer") -> None:
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        self.sock: socket.socket = raw
        if server.tls:
            self.sock = server.client_ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.pending: list[Event] = []
        self.sock.sendall(self.ws.send(WSRequest(host="127.0.0.1", target=path)))
        self.handshake = self.next_event()

    def close(self) -> None:
        self.sock.close()

    def next_event(self) -> Event:
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the server hung up")
            self.ws.receive_data(data)
            self.pending += list(self.ws.events())
        return self.pending.pop(0)

    def send(self, **message: Any) -> None:
        text = json.dumps({k.replace("_", "-"): v for k, v in message.items()})
        self.sock.sendall(self.ws.send(TextMessage(data=text)))

    def receive(self) -> dict[str, Any]:
        pieces: list[str] = []
        while True:
            event = self.next_event()
            if isinstance(event, CloseConnection):
                raise ConnectionError(f"closed: {event.code} {event.reason}")
            assert isinstance(event, TextMessage)
            pieces.append(event.data)
            if event.message_finished:
                message: dict[str, Any] = json.loads("".join(pieces))
                return message

    def connect(self, token: str, *accounts: str) -> dict[str, Any]:
        self.send(action="connect", value=list(accounts or [MARGIN]), auth_token=token)
        ack = self.receive()
        assert ack["status"] == "ok", ack
        return ack

    def orders_until(self, status: str, order_id: int) -> list[dict[str, Any]]:
        """Every frame up to the Order frame that says ``order_id`` is ``status``."""
        frames = []
        while True:
            frame = self.receive()
            frames.append(frame)
            data = frame.get("data", {})
            if frame.get("type") == "Order" and (data["id"], data["status"]) == (order_id, status):
                return frames


class Rest:
    """The fake's REST API over HTTP(S), for a token."""

    def __init__(self, server: FakeTastytradeServer) -> None:
        self.server = server
        if server.tls:
            self.conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", server.port, context=server.client_ssl_context(), timeout=5
            )
        else:
            self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        grant = {
            "grant_type": "refresh_token",
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_secret": DEMO_CLIENT_SECRET,
        }
        self.token = ""
        self.token = "Bearer " + self.call("POST", "/oauth/token", grant)[1]["access_token"]

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"user-agent": "t/1", "content-type": "application/json"}
        if self.token:
            headers["authorization"] = self.token
        data = None if body is None else json.dumps(body)
        self.conn.request(method, path, data, headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def place(self, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = self.call("POST", f"/accounts/{MARGIN}/orders", body)
        assert status == 201, answer
        order: dict[str, Any] = answer["data"]["order"]
        return order

    def close(self) -> None:
        self.conn.close()


@pytest.fixture(params=[False, True], ids=["ws", "wss"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeTastytradeServer]:
    with FakeTastytradeServer(
        FakeTastytradeAPI(clock=FakeClock(START)), tls=request.param
    ) as running:
        yield running


@pytest.fixture
def rest(server: FakeTastytradeServer) -> Iterator[Rest]:
    client = Rest(server)
    yield client
    client.close()


def test_the_url(server: FakeTastytradeServer) -> None:
    scheme = "wss" if server.tls else "ws"
    assert server.account_streamer_url == f"{scheme}://127.0.0.1:{server.port}/account-streamer"


@pytest.mark.parametrize("path", ["/account-streamer", "/some/base/account-streamer"])
def test_an_order_over_a_real_socket(server: FakeTastytradeServer, rest: Rest, path: str) -> None:
    client = Client(server, path)
    try:
        assert isinstance(client.handshake, AcceptConnection)
        ack = client.connect(rest.token)
        assert ack["value"] == [MARGIN]
        order = rest.place(limit("AAPL", "Buy to Open", 5, "150"))
        live = client.orders_until("Live", order["id"])
        assert [f["data"]["status"] for f in live if f["type"] == "Order"] == [
            "Received",
            "Routed",
            "Live",
        ]
        server.api.fill_order(order["id"], quantity=2)
        part = client.orders_until("Live", order["id"])
        assert part[0]["data"]["legs"][0]["remaining-quantity"] == 3
        server.api.set_mark("AAPL", "149")  # the rest crosses now
        filled = client.orders_until("Filled", order["id"])
        _, answer = rest.call("GET", f"/accounts/{MARGIN}/orders/{order['id']}")
        assert filled[-1]["data"] == answer["data"]
        client.send(action="heartbeat", auth_token=rest.token, request_id=5)
        frames = [client.receive() for _ in range(3)]
        assert [f.get("type") for f in frames[:2]] == ["CurrentPosition", "AccountBalance"]
        assert frames[2]["request-id"] == 5
        sequences = [f["ws-sequence"] for f in live + part + filled + frames[:2]]
        assert sequences == list(range(1, len(sequences) + 1))
    finally:
        client.close()


def test_idle_close_over_a_socket(server: FakeTastytradeServer, rest: Rest) -> None:
    server.api.account_streamer_timeout = 0.3
    client = Client(server)
    try:
        client.connect(rest.token)
        event = client.next_event()
        assert isinstance(event, CloseConnection) and event.code == 1000
    finally:
        client.close()
    assert server.wait_for(lambda: server.websockets == 0)


def test_drop_stall_and_no_replay_over_sockets(server: FakeTastytradeServer, rest: Rest) -> None:
    first, second = Client(server), Client(server)
    try:
        session = first.connect(rest.token)["web-socket-session-id"]
        second.connect(rest.token)
        fault = server.api.inject_account_stream_fault(
            AccountStreamFault(AccountStreamFaultKind.DROP)
        )
        assert fault.hits == 2
        for client in (first, second):
            with pytest.raises(EOFError):  # no close frame: the connection just ends
                client.next_event()
        missed = rest.place(limit("AAPL", "Buy to Open", 1, "100"))  # while nobody listens
        third = Client(server)
        try:
            ack = third.connect(rest.token)
            assert ack["web-socket-session-id"] != session
            order = rest.place(limit("AAPL", "Buy to Open", 1, "101"))
            frames = third.orders_until("Live", order["id"])
            assert frames[0]["ws-sequence"] == 1  # a new socket counts from 1
            assert missed["id"] not in {f["data"].get("id") for f in frames}
            stall = server.api.inject_account_stream_fault(
                AccountStreamFault(AccountStreamFaultKind.STALL)
            )
            assert stall.fired.is_set()
            rest.call("DELETE", f"/accounts/{MARGIN}/orders/{order['id']}")
            third.send(action="heartbeat", auth_token=rest.token)
            assert server.wait_for(lambda: server.api.account_stream_messages[-1].direction == "in")
            (stream,) = server.api.account_streams
            outs = [m for m in server.api.account_stream_messages if m.connection == stream.id]
            assert outs[-1].direction == "in"  # nothing went out since the stall
            third.sock.settimeout(0.3)
            with pytest.raises(TimeoutError):
                third.next_event()
            assert server.websockets == 1
        finally:
            third.close()
    finally:
        first.close()
        second.close()


def test_expire_token_and_refuse_connect_over_a_socket(
    server: FakeTastytradeServer, rest: Rest
) -> None:
    client = Client(server)
    try:
        server.api.inject_account_stream_fault(
            AccountStreamFault(AccountStreamFaultKind.REFUSE_CONNECT)
        )
        client.send(action="connect", value=[MARGIN], auth_token=rest.token, request_id=1)
        assert client.receive() == {
            "status": "error",
            "action": "connect",
            "web-socket-session-id": client_session(server),
            "message": "failed",
            "request-id": 1,
        }
        client.connect(rest.token)
        fault = server.api.inject_account_stream_fault(
            AccountStreamFault(AccountStreamFaultKind.EXPIRE_TOKEN)
        )
        assert fault.fired.is_set()
        assert rest.call("GET", "/customers/me")[0] == 401
        client.send(action="heartbeat", auth_token=rest.token)
        assert client.receive()["message"] == "failed"
    finally:
        client.close()


def client_session(server: FakeTastytradeServer) -> str:
    (stream,) = server.api.account_streams
    return stream.session_id


def test_frames_follow_the_history_under_concurrent_changes(
    server: FakeTastytradeServer, rest: Rest
) -> None:
    client = Client(server)
    try:
        client.connect(rest.token)
        start = len(server.api.order_history)
        errors: list[BaseException] = []

        def place(price: str) -> None:
            other = Rest(server)
            try:
                for _ in range(5):
                    other.place(limit("AAPL", "Buy to Open", 1, price))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                other.close()

        threads = [threading.Thread(target=place, args=(p,)) for p in ("150", "151", "152")]
        for thread in threads:
            thread.start()
        for mark in ("152", "151", "150"):
            server.api.set_mark("AAPL", mark)
        for thread in threads:
            thread.join()
        assert errors == []
        server.api.set_mark("AAPL", "149")  # whatever is left fills now
        truth = [(c.order_id, c.status, c.updated_at) for c in server.api.order_history[start:]]
        assert sum(1 for _, status, _ in truth if status == "Filled") == 15
        seen: list[tuple[int, str, int]] = []
        while len(seen) < len(truth):
            frame = client.receive()
            if frame.get("type") == "Order":
                data = frame["data"]
                seen.append((data["id"], data["status"], data["updated-at"]))
        assert seen == truth
    finally:
        client.close()


def test_stop_closes_every_streamer_socket(server: FakeTastytradeServer, rest: Rest) -> None:
    clients = [Client(server) for _ in range(3)]
    try:
        clients[0].connect(rest.token)
        assert server.wait_for(lambda: len(server.api.account_streams) == 3)
        server.stop()
        assert server.websockets == 0 and server.api.account_streams == []
        for client in clients:
            event = client.next_event()
            assert isinstance(event, CloseConnection) and event.code == 1001
        assert [m.text for m in server.api.account_stream_messages if m.direction == "close"] == [
            "1001 Server is stopping"
        ] * 3
    finally:
        for client in clients:
            client.close()


def test_dxlink_still_answers_on_other_paths(server: FakeTastytradeServer) -> None:
    client = Client(server, "/dxlink")
    try:
        client.send(type="SETUP", channel=0, version="0.1-test/1", keepaliveTimeout=60)
        assert client.receive()["type"] == "SETUP"
        assert server.api.account_streams == []
    finally:
        client.close()
