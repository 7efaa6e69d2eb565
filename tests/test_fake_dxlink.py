"""The fake's DXLink market-data endpoint: the pure machine, then over real websockets.

The protocol facts (order of the handshake, the ERROR texts, COMPACT rows, candle
snapshot flags) are dxFeed's dxLink specification and tastytrade's
developer.tastytrade.com market-data guide; these tests hold the fake to them.
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Event, RejectConnection, TextMessage
from wsproto.events import Request as WSRequest

from tastytrade_proto.instruments import occ_to_streamer
from tastytrade_proto.protocol import Request
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FakeClock,
    FakeDXLinkConnection,
    FakeTastytradeAPI,
    FakeTastytradeServer,
    Fault,
    FaultKind,
    StreamFault,
    StreamFaultKind,
)
from tastytrade_proto.testing.fake import dxlink, market

# Friday 2 January 2026, 15:00 UTC (10:00 in New York): a trading day, before the demo
# option chain's December 2026 expiry.
START = 1_767_366_000.0
OPTION = occ_to_streamer("SPY   261218C00600000")  # .SPY261218C600
AGENT = (("user-agent", "dxlink-tests/1.0"),)


def _call(api: FakeTastytradeAPI, method: str, path: str, **extra: Any) -> Any:
    headers = AGENT + tuple(extra.pop("headers", ()))
    body = json.dumps(extra["json"]).encode() if "json" in extra else b""
    if body:
        headers += (("content-type", "application/json"),)
    reply = api.handle(Request(method, "https://fake.invalid" + path, headers, body))
    return json.loads(reply.response.body)


def quote_token(api: FakeTastytradeAPI) -> str:
    """A quote token the fake issued, through its REST endpoints."""
    grant = {
        "grant_type": "refresh_token",
        "refresh_token": DEMO_REFRESH_TOKEN,
        "client_secret": DEMO_CLIENT_SECRET,
    }
    access = _call(api, "POST", "/oauth/token", json=grant)["access_token"]
    answer = _call(api, "GET", "/api-quote-tokens", headers=[("authorization", f"Bearer {access}")])
    return str(answer["data"]["token"])


class Wire:
    """A client's side of the pure machine: JSON in, JSON out, time by hand."""

    def __init__(self, api: FakeTastytradeAPI, now: float = 1000.0) -> None:
        self.api = api
        self.now = now
        self.conn = FakeDXLinkConnection(api, now)
        self.configs: dict[int, dict[str, list[str]]] = {}

    def take(self) -> list[dict[str, Any]]:
        out = [json.loads(text) for text in self.conn.messages_to_send()]
        for message in out:
            if message["type"] == "FEED_CONFIG":
                self.configs.setdefault(message["channel"], {}).update(message["eventFields"])
        return out

    def text(self, text: str) -> list[dict[str, Any]]:
        self.conn.receive(text, self.now)
        return self.take()

    def send(self, **message: Any) -> list[dict[str, Any]]:
        return self.text(json.dumps(message))

    def tick(self, seconds: float = 0.0) -> list[dict[str, Any]]:
        self.now += seconds
        self.conn.handle_timer(self.now)
        return self.take()

    def authorize(self, token: str) -> None:
        self.send(type="SETUP", channel=0, version="0.1-test/1", keepaliveTimeout=60)
        assert self.send(type="AUTH", channel=0, token=token)[-1]["state"] == "AUTHORIZED"

    def feed(self, token: str, fields: dict[str, list[str]], **setup: Any) -> None:
        self.authorize(token)
        self.send(
            type="CHANNEL_REQUEST", channel=1, service="FEED", parameters={"contract": "AUTO"}
        )
        self.send(type="FEED_SETUP", channel=1, acceptEventFields=fields, **setup)

    def subscribe(self, *items: dict[str, Any], channel: int = 1) -> list[dict[str, Any]]:
        return self.send(type="FEED_SUBSCRIPTION", channel=channel, add=list(items))

    def events(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every event in the FEED_DATA among ``messages``, decoded by the FEED_CONFIG seen."""
        found: list[dict[str, Any]] = []
        for message in messages:
            if message["type"] != "FEED_DATA":
                continue
            data = message["data"]
            if data and isinstance(data[0], dict):
                found += data
                continue
            for kind, values in zip(data[::2], data[1::2], strict=True):
                names = self.configs[message["channel"]][kind]
                assert len(values) % len(names) == 0
                for k in range(0, len(values), len(names)):
                    event = dict(zip(names, values[k : k + len(names)], strict=True))
                    found.append({"eventType": kind, **event})
        return found


@pytest.fixture
def api() -> FakeTastytradeAPI:
    return FakeTastytradeAPI(clock=FakeClock(START))


@pytest.fixture
def token(api: FakeTastytradeAPI) -> str:
    return quote_token(api)


def errors(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["error"], m["message"]) for m in messages if m["type"] == "ERROR"]


# -- the handshake ----------------------------------------------------------------------------


def test_the_handshake_in_the_real_order(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    setup = wire.send(
        type="SETUP",
        channel=0,
        version="0.1-DXF-JS/0.3.0",
        keepaliveTimeout=60,
        acceptKeepaliveTimeout=60,
    )
    assert setup == [
        {
            "type": "SETUP",
            "channel": 0,
            "version": "0.1-fake/1",
            "keepaliveTimeout": 60,
            "acceptKeepaliveTimeout": 60,
        },
        {"type": "AUTH_STATE", "channel": 0, "state": "UNAUTHORIZED"},
    ]
    assert wire.send(type="AUTH", channel=0, token=token) == [
        {"type": "AUTH_STATE", "channel": 0, "state": "AUTHORIZED"}
    ]
    request = {"type": "CHANNEL_REQUEST", "channel": 1, "service": "FEED"}
    opened = wire.send(**request, parameters={"contract": "HISTORY"})
    assert opened == [
        {
            "type": "CHANNEL_OPENED",
            "channel": 1,
            "service": "FEED",
            "parameters": {"contract": "HISTORY"},
        }
    ]
    assert wire.send(type="CHANNEL_CANCEL", channel=1) == [{"type": "CHANNEL_CLOSED", "channel": 1}]
    assert errors(wire.send(type="FEED_SETUP", channel=1)) == [
        ("BAD_ACTION", "Channel with id 1 not exists")
    ]
    assert wire.conn.closed is None


def test_a_channel_before_authorization_is_refused_as_the_real_server_does(
    api: FakeTastytradeAPI, token: str
) -> None:
    wire = Wire(api)
    wire.send(type="SETUP", channel=0, version="0.1-test/1")
    request = {"type": "CHANNEL_REQUEST", "channel": 1, "service": "FEED"}
    assert errors(wire.send(**request)) == [("BAD_ACTION", "AUTH step missing")]
    assert errors(wire.send(type="FEED_SETUP", channel=1, acceptEventFields={"Quote": []})) == [
        ("BAD_ACTION", "Channel with id 1 not exists")
    ]
    assert all(m["channel"] == 0 for m in wire.take())


def test_auth_before_setup_and_setup_twice_are_bad_actions(
    api: FakeTastytradeAPI, token: str
) -> None:
    wire = Wire(api)
    assert errors(wire.send(type="AUTH", channel=0, token=token)) == [
        ("BAD_ACTION", "SETUP step missing")
    ]
    wire.send(type="SETUP", channel=0, version="0.1-test/1")
    assert errors(wire.send(type="SETUP", channel=0, version="0.1-test/1"))[0][0] == "BAD_ACTION"


@pytest.mark.parametrize("kind", ["unknown", "expired"])
def test_a_refused_token_leaves_the_socket_open_for_another(
    api: FakeTastytradeAPI, token: str, kind: str
) -> None:
    wire = Wire(api)
    wire.send(type="SETUP", channel=0, version="0.1-test/1")
    refused = "not-a-token" if kind == "unknown" else token
    if kind == "expired":
        api.clock.advance(market.QUOTE_TOKEN_LIFETIME)  # type: ignore[attr-defined]
    assert wire.send(type="AUTH", channel=0, token=refused) == [
        {"type": "AUTH_STATE", "channel": 0, "state": "UNAUTHORIZED"}
    ]
    assert wire.conn.closed is None and not wire.conn.authorized
    assert wire.send(type="AUTH", channel=0, token=quote_token(api))[-1]["state"] == "AUTHORIZED"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{not json", "INVALID_MESSAGE"),
        ("[1, 2]", "INVALID_MESSAGE"),
        ('{"type": "SETUP"}', "INVALID_MESSAGE"),
        ('{"type": "SETUP", "channel": true, "version": "x"}', "INVALID_MESSAGE"),
        ('{"type": "SUBSCRIBE_ALL", "channel": 0}', "BAD_ACTION"),
    ],
)
def test_malformed_and_unknown_messages(api: FakeTastytradeAPI, text: str, error: str) -> None:
    wire = Wire(api)
    answer = wire.text(text)
    assert [m["type"] for m in answer] == ["ERROR"]
    assert answer[0]["error"] == error and answer[0]["channel"] == 0


def test_channel_requests_that_are_refused(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.authorize(token)
    feed = {"type": "CHANNEL_REQUEST", "service": "FEED"}
    assert errors(wire.send(**feed, channel=2))[0][0] == "BAD_ACTION"  # even: the server's
    assert errors(wire.send(type="CHANNEL_REQUEST", channel=3, service="DOM"))[0][0] == "BAD_ACTION"
    assert (
        errors(wire.send(**feed, channel=5, parameters={"contract": "ALL"}))[0][0] == "BAD_ACTION"
    )
    assert wire.send(**feed, channel=7)[0]["type"] == "CHANNEL_OPENED"
    assert errors(wire.send(**feed, channel=7)) == [
        ("BAD_ACTION", "Channel with id 7 already exists")
    ]


# -- FEED_SETUP and data ----------------------------------------------------------------------


def test_feed_config_states_what_will_be_sent(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.authorize(token)
    wire.send(type="CHANNEL_REQUEST", channel=1, service="FEED")
    config = wire.send(
        type="FEED_SETUP",
        channel=1,
        acceptAggregationPeriod=10,
        acceptDataFormat="FULL",
        acceptEventFields={
            "Quote": [
                "eventType",
                "askPrice",
                "noSuchField",
                "eventSymbol",
                "bidPrice",
                "askPrice",
            ],
            "Trade": [],
            "Order": ["eventSymbol"],  # a type the fake does not serve
        },
    )
    assert config == [
        {
            "type": "FEED_CONFIG",
            "channel": 1,
            "aggregationPeriod": 10,
            "dataFormat": "FULL",
            "eventFields": {
                "Quote": ["eventType", "askPrice", "eventSymbol", "bidPrice"],
                "Trade": list(dxlink.FIELDS["Trade"]),
            },
        }
    ]
    again = wire.send(type="FEED_SETUP", channel=1, acceptDataFormat="TEXT")
    assert again[0]["dataFormat"] == "COMPACT" and again[0]["aggregationPeriod"] == 10
    assert set(again[0]["eventFields"]) == {"Quote", "Trade"}  # merged, not replaced


def test_compact_data_with_quote_and_trade_in_one_message(
    api: FakeTastytradeAPI, token: str
) -> None:
    wire = Wire(api)
    wire.feed(
        token,
        {"Quote": list(dxlink.FIELDS["Quote"]), "Trade": ["eventSymbol", "price", "size"]},
        acceptDataFormat="COMPACT",
    )
    data = wire.subscribe(
        {"type": "Quote", "symbol": "SPY"},
        {"type": "Quote", "symbol": "SPX"},
        {"type": "Trade", "symbol": "SPY"},
        {"type": "Quote", "symbol": "NOSUCH"},  # accepted silently, never any data
    )
    assert [m["type"] for m in data] == ["FEED_DATA"]
    assert data[0]["data"][0::2] == ["Quote", "Trade"]
    assert len(data[0]["data"][1]) == 2 * len(dxlink.FIELDS["Quote"])
    events = {(e["eventType"], e["eventSymbol"]): e for e in wire.events(data)}
    assert set(events) == {("Quote", "SPY"), ("Quote", "SPX"), ("Trade", "SPY")}
    spy, spx = events["Quote", "SPY"], events["Quote", "SPX"]
    rest = market.quote_of(api, "equity", "SPY", START)
    assert rest is not None
    assert (spy["bidPrice"], spy["askPrice"]) == (float(rest["bid"]), float(rest["ask"]))
    assert spx["bidSize"] == spx["askSize"] == "NaN"  # an index has no book sizes
    assert events["Trade", "SPY"] == {
        "eventType": "Trade",
        "eventSymbol": "SPY",
        "price": 595.0,
        "size": 100.0,
    }
    assert wire.tick(1) == []  # nothing changed: nothing sent


def test_full_data_is_objects_with_type_and_symbol(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.feed(token, {"Quote": ["bidPrice", "askPrice"]}, acceptDataFormat="FULL")
    data = wire.subscribe({"type": "Quote", "symbol": "AAPL"})
    assert data[0]["data"] == [
        {"eventType": "Quote", "eventSymbol": "AAPL", "bidPrice": 189.9, "askPrice": 189.92}
    ]


def test_a_new_mark_is_sent_as_an_update(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.feed(token, {"Quote": ["eventSymbol", "bidPrice", "askPrice"], "Trade": []})
    wire.subscribe({"type": "Quote", "symbol": "SPY"}, {"type": "Trade", "symbol": "SPY"})
    api.set_mark("SPY", "600.00")
    update = wire.events(wire.tick(0.1))
    assert [
        (e["eventType"], e["price" if e["eventType"] == "Trade" else "bidPrice"]) for e in update
    ] == [
        ("Quote", 599.99),
        ("Trade", 600.0),
    ]
    assert update[1]["tickDirection"] == "UP"
    assert wire.tick(0.1) == []


def test_every_type_for_every_kind_of_instrument(api: FakeTastytradeAPI, token: str) -> None:
    future = _call(api, "GET", "/instruments/futures?symbol[]=/ESZ6", headers=_bearer(api))
    future_symbol = future["data"]["items"][0]["streamer-symbol"]
    crypto = _call(api, "GET", "/instruments/cryptocurrencies/BTC%2FUSD", headers=_bearer(api))
    crypto_symbol = crypto["data"]["streamer-symbol"]
    assert (future_symbol, crypto_symbol) == ("/ESZ26:XCME", "BTC/USD:CXTALP")
    symbols = ["SPY", "SPX", OPTION, future_symbol, crypto_symbol]
    types = [t for t in dxlink.FIELDS if t != "Candle"]
    wire = Wire(api)
    wire.feed(token, {t: [] for t in types})
    data = wire.subscribe(*({"type": t, "symbol": s} for t in types for s in symbols))
    seen = {(e["eventType"], e["eventSymbol"]) for e in wire.events(data)}
    for symbol in symbols:
        assert {("Quote", symbol), ("Trade", symbol), ("Summary", symbol)} <= seen
        assert {("Profile", symbol), ("TimeAndSale", symbol)} <= seen
    assert {t for t, s in seen if s == OPTION} >= {"Greeks", "TheoPrice"}
    assert {s for t, s in seen if t == "TradeETH"} == {"SPY"}
    assert {s for t, s in seen if t == "Underlying"} == {"SPY", "SPX"}
    assert {s for t, s in seen if t == "Greeks"} == {OPTION}


def test_option_greeks_come_from_the_option_model(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.feed(token, {"Greeks": [], "TheoPrice": []})
    data = wire.subscribe(
        {"type": "Greeks", "symbol": OPTION}, {"type": "TheoPrice", "symbol": OPTION}
    )
    greeks, theo = wire.events(data)
    model = market.equity_option_model(api, "SPY   261218C00600000", START)
    assert model is not None
    assert greeks["delta"] == float(model.delta) and 0 < greeks["delta"] < 1
    assert greeks["gamma"] > 0 > greeks["theta"] and greeks["vega"] > 0 and greeks["rho"] > 0
    assert greeks["volatility"] == float(model.volatility)
    assert theo["price"] == float(model.value) and theo["underlyingPrice"] == 595.0
    assert isinstance(greeks["index"], int) and greeks["index"] > 2**53  # an exact integer
    api.set_mark("SPY", "610")
    moved = wire.events(wire.tick(1))
    assert [e["eventType"] for e in moved] == ["Greeks", "TheoPrice"]
    assert moved[0]["delta"] > greeks["delta"]


def _bearer(api: FakeTastytradeAPI) -> list[tuple[str, str]]:
    grant = {
        "grant_type": "refresh_token",
        "refresh_token": DEMO_REFRESH_TOKEN,
        "client_secret": DEMO_CLIENT_SECRET,
    }
    return [
        (
            "authorization",
            "Bearer " + _call(api, "POST", "/oauth/token", json=grant)["access_token"],
        )
    ]


def test_unsubscribe_and_reset(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.feed(token, {"Quote": ["eventSymbol", "bidPrice"]})
    wire.subscribe({"type": "Quote", "symbol": "SPY"}, {"type": "Quote", "symbol": "AAPL"})
    wire.send(type="FEED_SUBSCRIPTION", channel=1, remove=[{"type": "Quote", "symbol": "SPY"}])
    api.set_mark("SPY", "600")
    api.set_mark("AAPL", "200")
    assert [e["eventSymbol"] for e in wire.events(wire.tick(1))] == ["AAPL"]
    answer = wire.send(
        type="FEED_SUBSCRIPTION", channel=1, reset=True, add=[{"type": "Quote", "symbol": "MSFT"}]
    )
    assert [e["eventSymbol"] for e in wire.events(answer)] == ["MSFT"]
    api.set_mark("AAPL", "201")
    assert wire.tick(1) == []


# -- candles ----------------------------------------------------------------------------------


def test_candle_history_snapshot_then_the_current_bar(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.feed(token, {"Candle": list(dxlink.FIELDS["Candle"])})
    five_hours_ago = int((START - 5 * 3600) * 1000)
    data = wire.subscribe({"type": "Candle", "symbol": "SPY{=1h}", "fromTime": five_hours_ago})
    bars = wire.events(data)
    assert len(bars) == 6  # five whole hours and the current one
    assert [b["time"] for b in bars] == sorted((b["time"] for b in bars), reverse=True)
    assert (
        bars[0]["eventFlags"] & dxlink.SNAPSHOT_BEGIN
        and bars[-1]["eventFlags"] & dxlink.SNAPSHOT_END
    )
    assert all(b["eventFlags"] == 0 for b in bars[1:-1])
    assert all(b["eventSymbol"] == "SPY{=1h}" for b in bars)
    assert all(
        b["low"] <= min(b["open"], b["close"]) <= max(b["open"], b["close"]) <= b["high"]
        for b in bars
    )
    current = bars[0]
    assert current["close"] == 595.0 and current["time"] == int(START // 3600 * 3600 * 1000)
    assert current["index"] == int(START // 3600 * 3600) << 32
    api.set_mark("SPY", "597.5")
    (changed,) = wire.events(wire.tick(1))
    assert (changed["index"], changed["close"], changed["high"]) == (current["index"], 597.5, 597.5)
    assert changed["count"] > current["count"] and changed["eventFlags"] == 0
    api.clock.advance(3600)  # type: ignore[attr-defined]
    (opened,) = wire.events(wire.tick(1))
    assert opened["time"] == current["time"] + 3_600_000 and opened["open"] == 597.5


def test_candles_from_the_future_are_an_empty_snapshot(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.feed(token, {"Candle": []})
    later = int((START + 86400) * 1000)
    (empty,) = wire.events(
        wire.subscribe({"type": "Candle", "symbol": "AAPL{=1d}", "fromTime": later})
    )
    assert empty["eventFlags"] == 14 and empty["open"] == empty["close"] == "NaN"


def test_candle_periods_and_the_history_cap(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.feed(token, {"Candle": ["eventSymbol", "time"]})
    one_minute = wire.events(
        wire.subscribe({"type": "Candle", "symbol": "AAPL{=5m,tho=true}", "fromTime": 0})
    )
    assert len(one_minute) == dxlink.MAX_CANDLES
    assert {b["time"] % 300_000 for b in one_minute} == {0}
    assert wire.subscribe({"type": "Candle", "symbol": "AAPL{=3x}", "fromTime": 0}) == []


def test_too_many_candle_subscriptions_at_once(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    wire.feed(token, {"Candle": ["eventSymbol"], "Quote": ["eventSymbol"]})
    an_hour_ago = int((START - 3600) * 1000)
    items = [
        {"type": "Candle", "symbol": f"SPY{{={n}m}}", "fromTime": an_hour_ago} for n in range(1, 22)
    ]
    answer = wire.subscribe(*items, {"type": "Quote", "symbol": "SPY"})
    assert answer[0] == {
        "type": "ERROR",
        "channel": 1,
        "error": "BAD_ACTION",
        "message": "Your subscription size for event type 'Candle' is too big",
    }
    assert [e["eventType"] for e in wire.events(answer)] == ["Quote"]
    assert len(wire.subscribe(*items[:20])) > 0


# -- keepalive ---------------------------------------------------------------------------------


def test_keepalives_and_the_timeout(api: FakeTastytradeAPI) -> None:
    api.dxlink_keepalive_timeout = 10
    wire = Wire(api, now=0.0)
    wire.send(type="SETUP", channel=0, version="0.1-test/1", keepaliveTimeout=60)
    assert wire.conn.next_deadline() == 5.0  # half the server's own timeout
    assert wire.tick(4.9) == []
    assert wire.tick(0.1) == [{"type": "KEEPALIVE", "channel": 0}]
    wire.send(type="KEEPALIVE", channel=0)  # the client's keeps the server's timer alive
    assert wire.conn.next_deadline() == 10.0
    assert wire.tick(5) == [{"type": "KEEPALIVE", "channel": 0}]
    assert wire.conn.closed is None
    answer = wire.tick(5)
    assert answer == [
        {
            "type": "ERROR",
            "channel": 0,
            "error": "TIMEOUT",
            "message": "The timeout has been reached. "
            "The message was last received 10 seconds ago.",
        }
    ]
    assert wire.conn.closed is not None and wire.conn.next_deadline() is None


def test_a_short_client_timeout_gets_keepalives_sooner(api: FakeTastytradeAPI) -> None:
    wire = Wire(api, now=0.0)
    wire.send(type="SETUP", channel=0, version="0.1-test/1", keepaliveTimeout=4)
    assert wire.conn.next_deadline() == 2.0


def test_the_timeout_runs_before_setup_too(api: FakeTastytradeAPI) -> None:
    wire = Wire(api, now=0.0)
    assert wire.conn.next_deadline() == 60.0
    assert errors(wire.tick(60))[0][0] == "TIMEOUT"


# -- faults ------------------------------------------------------------------------------------


def _fed(api: FakeTastytradeAPI, token: str) -> Wire:
    wire = Wire(api)
    wire.feed(token, {"Quote": ["eventSymbol", "bidPrice", "askPrice"]})
    wire.subscribe({"type": "Quote", "symbol": "SPY"}, {"type": "Quote", "symbol": "AAPL"})
    return wire


@pytest.mark.parametrize(
    ("kind", "closed"),
    [
        (StreamFaultKind.DROP, (1006, "")),
        (StreamFaultKind.RESTART, (1012, "Reconnection is required")),
    ],
)
def test_drop_and_restart_close_the_socket(
    api: FakeTastytradeAPI, token: str, kind: StreamFaultKind, closed: tuple[int, str]
) -> None:
    wire = _fed(api, token)
    fault = api.inject_stream_fault(StreamFault(kind))
    assert wire.tick(0.1) == []
    assert wire.conn.closed == closed and fault.fired.is_set() and fault.hits == 1
    assert api.stream_faults == []
    assert api.stream_messages[-1].direction == "close"


def test_stall_goes_silent(api: FakeTastytradeAPI, token: str) -> None:
    wire = _fed(api, token)
    api.inject_stream_fault(StreamFault(StreamFaultKind.STALL))
    wire.tick(0)
    api.set_mark("SPY", "600")
    assert wire.tick(1000) == []  # no data, no keepalive, no timeout
    assert wire.send(type="KEEPALIVE", channel=0) == []
    assert wire.send(type="FEED_SETUP", channel=99) == []  # input ignored
    assert wire.conn.stalled and wire.conn.closed is None and wire.conn.next_deadline() is None


def test_a_fault_waits_for_a_connection_it_fits(api: FakeTastytradeAPI, token: str) -> None:
    wire = Wire(api)
    fault = api.inject_stream_fault(StreamFault(StreamFaultKind.MALFORMED_DATA))
    wire.authorize(token)
    assert not fault.fired.is_set()  # no subscription yet
    other = api.inject_stream_fault(StreamFault(StreamFaultKind.DROP, connection=99))
    wire.send(type="CHANNEL_REQUEST", channel=1, service="FEED")
    wire.send(
        type="FEED_SETUP", channel=1, acceptEventFields={"Quote": ["eventSymbol", "bidPrice"]}
    )
    wire.subscribe({"type": "Quote", "symbol": "SPY"})
    assert fault.fired.is_set() and not other.fired.is_set() and wire.conn.closed is None


def test_the_token_expires_mid_stream(api: FakeTastytradeAPI, token: str) -> None:
    wire = _fed(api, token)
    api.clock.advance(market.QUOTE_TOKEN_LIFETIME - 1)  # type: ignore[attr-defined]
    assert all(m["type"] != "ERROR" for m in wire.tick(1))
    api.clock.advance(1)  # type: ignore[attr-defined]
    assert wire.tick(1) == [
        {
            "type": "ERROR",
            "channel": 0,
            "error": "UNAUTHORIZED",
            "message": "The quote token has expired",
        },
        {"type": "AUTH_STATE", "channel": 0, "state": "UNAUTHORIZED"},
    ]
    api.set_mark("SPY", "600")
    assert wire.tick(1) == []  # no data while unauthorized
    assert errors(wire.subscribe({"type": "Quote", "symbol": "QQQ"})) == [
        ("BAD_ACTION", "AUTH step missing")
    ]
    answer = wire.send(type="AUTH", channel=0, token=quote_token(api))
    assert answer[0]["state"] == "AUTHORIZED"
    assert {e["eventSymbol"] for e in wire.events(answer)} == {"SPY", "AAPL"}  # fresh snapshots


def test_expire_token_fault(api: FakeTastytradeAPI, token: str) -> None:
    wire = _fed(api, token)
    fault = api.inject_stream_fault(StreamFault(StreamFaultKind.EXPIRE_TOKEN))
    assert errors(wire.tick(0)) == [("UNAUTHORIZED", "The quote token has expired")]
    assert fault.fired.is_set() and not wire.conn.authorized
    assert wire.send(type="AUTH", channel=0, token=token)[-1]["state"] == "UNAUTHORIZED"


def test_malformed_frames(api: FakeTastytradeAPI, token: str) -> None:
    wire = _fed(api, token)
    api.inject_stream_fault(StreamFault(StreamFaultKind.MALFORMED_JSON))
    wire.conn.handle_timer(wire.now)
    (text,) = wire.conn.messages_to_send()
    with pytest.raises(ValueError):
        json.loads(text)
    api.inject_stream_fault(StreamFault(StreamFaultKind.MALFORMED_DATA))
    (bad,) = wire.tick(0)
    assert bad["type"] == "FEED_DATA"
    kind, values = bad["data"]
    assert len(values) % len(wire.configs[1][kind]) != 0


def test_a_burst(api: FakeTastytradeAPI, token: str) -> None:
    wire = _fed(api, token)
    fault = api.inject_stream_fault(StreamFault(StreamFaultKind.BURST))
    *burst, truth = wire.tick(0)
    assert fault.fired.is_set()
    assert len(burst) == 1000 and {len(m["data"][1]) for m in burst} == {300}
    events = wire.events(burst)
    assert len(events) == 100_000 and {e["eventSymbol"] for e in events} == {"SPY", "AAPL"}
    assert all(e["askPrice"] > e["bidPrice"] for e in events[:1000])
    # Then the true prices again, at once.
    assert wire.events([truth]) == [
        {"eventType": "Quote", "eventSymbol": "SPY", "bidPrice": 594.99, "askPrice": 595.01},
        {"eventType": "Quote", "eventSymbol": "AAPL", "bidPrice": 189.9, "askPrice": 189.92},
    ]


def test_a_small_burst_in_small_messages(api: FakeTastytradeAPI, token: str) -> None:
    wire = _fed(api, token)
    api.inject_stream_fault(StreamFault(StreamFaultKind.BURST, count=25, batch=10))
    burst = wire.tick(0)[:3]
    assert [len(m["data"][1]) // 3 for m in burst] == [10, 10, 5]


# -- the log and determinism -------------------------------------------------------------------


def test_the_log_has_both_directions_and_no_token(api: FakeTastytradeAPI, token: str) -> None:
    wire = _fed(api, token)
    log = api.stream_messages
    assert {m.connection for m in log} == {wire.conn.id}
    assert {m.direction for m in log} == {"in", "out"}
    assert all(token not in m.text for m in log)
    auth = next(m for m in log if m.direction == "in" and m.json()["type"] == "AUTH")
    assert auth.json() == {"type": "AUTH", "channel": 0, "token": "<redacted>"}
    assert all(m.at == START for m in log)
    assert [m.json()["type"] for m in log if m.direction == "in"] == [
        "SETUP",
        "AUTH",
        "CHANNEL_REQUEST",
        "FEED_SETUP",
        "FEED_SUBSCRIPTION",
    ]


def _script(api: FakeTastytradeAPI) -> list[str]:
    wire = Wire(api)
    wire.feed(quote_token(api), {"Quote": [], "Trade": [], "Candle": [], "Greeks": []})
    wire.subscribe(
        {"type": "Quote", "symbol": "SPY"},
        {"type": "Trade", "symbol": "/ESZ26:XCME"},
        {"type": "Greeks", "symbol": OPTION},
        {"type": "Candle", "symbol": "SPY{=5m}", "fromTime": int((START - 7200) * 1000)},
    )
    api.set_mark("SPY", "601.25")
    api.clock.advance(600)  # type: ignore[attr-defined]
    wire.tick(1)
    return [m.text for m in api.stream_messages]


def test_the_same_clock_and_marks_give_the_same_frames() -> None:
    first = _script(FakeTastytradeAPI(clock=FakeClock(START)))
    second = _script(FakeTastytradeAPI(clock=FakeClock(START)))
    assert first == second and len(first) > 10


hostile = st.one_of(
    st.text(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
        ),
        max_leaves=20,
    ).map(json.dumps),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                [
                    "SETUP",
                    "AUTH",
                    "KEEPALIVE",
                    "CHANNEL_REQUEST",
                    "CHANNEL_CANCEL",
                    "FEED_SETUP",
                    "FEED_SUBSCRIPTION",
                    "ERROR",
                ]
            ),
            "channel": st.integers(-2, 5) | st.just(10**400) | st.booleans(),
        },
        optional={
            "version": st.text(max_size=5) | st.integers(),
            "token": st.sampled_from(["TOKEN", "bad"]) | st.integers(),
            "keepaliveTimeout": st.floats() | st.integers() | st.just(10**400),
            "service": st.sampled_from(["FEED", "X"]),
            "parameters": st.dictionaries(st.text(max_size=8), st.text(max_size=8)) | st.integers(),
            "acceptEventFields": st.dictionaries(
                st.sampled_from([*dxlink.FIELDS, "X"]),
                st.lists(st.sampled_from(["eventSymbol", "bidPrice", "x", "eventType"]))
                | st.integers(),
            )
            | st.text(max_size=3),
            "acceptDataFormat": st.sampled_from(["FULL", "COMPACT", 3]),
            "acceptAggregationPeriod": st.floats() | st.integers() | st.just(10**400),
            "add": st.lists(
                st.fixed_dictionaries(
                    {
                        "type": st.sampled_from([*dxlink.FIELDS, "Order", 1]),
                        "symbol": st.sampled_from(
                            [
                                "SPY",
                                "SPX",
                                OPTION,
                                "/ESZ26:XCME",
                                "SPY{=1m}",
                                "SPY{=0m}",
                                "SPY{=99999d}",
                                "X{=1h}",
                                ".X",
                                "./Y",
                                "BTC/USD:CXTALP",
                                7,
                            ]
                        ),
                    },
                    optional={
                        "fromTime": st.integers(-(10**20), 10**20)
                        | st.floats()
                        | st.text(max_size=2)
                    },
                ),
                max_size=4,
            )
            | st.integers(),
            "remove": st.lists(
                st.fixed_dictionaries({"type": st.just("Quote"), "symbol": st.just("SPY")})
            ),
            "reset": st.booleans() | st.integers(),
        },
    ).map(json.dumps),
)


@settings(max_examples=150)
@given(texts=st.lists(hostile, max_size=12), steps=st.lists(st.floats(0, 100), max_size=3))
def test_any_client_text_gets_messages_or_a_close_never_an_exception(
    texts: list[str], steps: list[float]
) -> None:
    api = FakeTastytradeAPI(clock=FakeClock(START))
    token = quote_token(api)
    conn = FakeDXLinkConnection(api, 0.0)
    now = 0.0
    for text in texts:
        conn.receive(text.replace("TOKEN", token), now)
        for step in steps:
            now += step
            conn.handle_timer(now)
        for sent in conn.messages_to_send():
            message = json.loads(sent)
            assert message["type"] in (
                "SETUP",
                "AUTH_STATE",
                "ERROR",
                "CHANNEL_OPENED",
                "CHANNEL_CLOSED",
                "FEED_CONFIG",
                "FEED_DATA",
                "KEEPALIVE",
            )
        if conn.closed is not None:
            break


# -- over real sockets -------------------------------------------------------------------------


class Client:
    """A raw websocket client (wsproto over a socket), JSON text frames only."""

    def __init__(self, server: FakeTastytradeServer, path: str = "/dxlink") -> None:
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        self.sock: socket.socket = raw
        if server.tls:
            self.sock = server.client_ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.pending: list[Event] = []
        self.eof = False
        self.sock.sendall(self.ws.send(WSRequest(host="127.0.0.1", target=path)))
        self.handshake = self.next_event()

    def close(self) -> None:
        self.sock.close()

    def next_event(self) -> Event:
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                self.eof = True
                raise EOFError("the server hung up")
            self.ws.receive_data(data)
            self.pending += list(self.ws.events())
        return self.pending.pop(0)

    def send(self, **message: Any) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=json.dumps(message))))

    def receive(self) -> dict[str, Any]:
        """The next message that is not a KEEPALIVE (a large one arrives in pieces)."""
        pieces: list[str] = []
        while True:
            event = self.next_event()
            if isinstance(event, CloseConnection):
                raise ConnectionError(f"closed: {event.code} {event.reason}")
            assert isinstance(event, TextMessage)
            pieces.append(event.data)
            if not event.message_finished:
                continue
            message: dict[str, Any] = json.loads("".join(pieces))
            pieces = []
            if message["type"] != "KEEPALIVE":
                return message

    def ready(self, token: str, fields: dict[str, list[str]]) -> None:
        self.send(type="SETUP", channel=0, version="0.1-test/1", keepaliveTimeout=60)
        assert self.receive()["type"] == "SETUP"
        assert self.receive()["state"] == "UNAUTHORIZED"
        self.send(type="AUTH", channel=0, token=token)
        assert self.receive()["state"] == "AUTHORIZED"
        self.send(
            type="CHANNEL_REQUEST", channel=1, service="FEED", parameters={"contract": "AUTO"}
        )
        assert self.receive()["type"] == "CHANNEL_OPENED"
        self.send(type="FEED_SETUP", channel=1, acceptEventFields=fields)
        assert self.receive()["type"] == "FEED_CONFIG"


def _token_over_http(server: FakeTastytradeServer) -> dict[str, Any]:
    if server.tls:
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            "127.0.0.1", server.port, context=server.client_ssl_context(), timeout=5
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        grant = json.dumps(
            {
                "grant_type": "refresh_token",
                "refresh_token": DEMO_REFRESH_TOKEN,
                "client_secret": DEMO_CLIENT_SECRET,
            }
        )
        conn.request(
            "POST", "/oauth/token", grant, {"content-type": "application/json", "user-agent": "t/1"}
        )
        access = json.loads(conn.getresponse().read())["access_token"]
        conn.request(
            "GET",
            "/api-quote-tokens",
            headers={"authorization": f"Bearer {access}", "user-agent": "t/1"},
        )
        data: dict[str, Any] = json.loads(conn.getresponse().read())["data"]
        return data
    finally:
        conn.close()


@pytest.fixture(params=[False, True], ids=["ws", "wss"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeTastytradeServer]:
    with FakeTastytradeServer(
        FakeTastytradeAPI(clock=FakeClock(START)), tls=request.param
    ) as running:
        yield running


def test_streaming_over_a_real_websocket(server: FakeTastytradeServer) -> None:
    issued = _token_over_http(server)
    scheme = "wss" if server.tls else "ws"
    assert issued["dxlink-url"] == server.dxlink_url == f"{scheme}://127.0.0.1:{server.port}/dxlink"
    client = Client(server)
    try:
        assert isinstance(client.handshake, AcceptConnection)
        client.ready(
            issued["token"],
            {"Quote": ["eventSymbol", "bidPrice"], "Trade": ["eventSymbol", "price"]},
        )
        client.send(
            type="FEED_SUBSCRIPTION",
            channel=1,
            add=[{"type": "Quote", "symbol": "SPY"}, {"type": "Trade", "symbol": "SPY"}],
        )
        assert client.receive()["data"] == ["Quote", ["SPY", 594.99], "Trade", ["SPY", 595.0]]
        server.api.set_mark("SPY", "600")
        assert client.receive()["data"] == ["Quote", ["SPY", 599.99], "Trade", ["SPY", 600.0]]
    finally:
        client.close()
    assert server.wait_for(lambda: any(m.direction == "in" for m in server.api.stream_messages))


def test_a_restart_fault_closes_with_1012(server: FakeTastytradeServer) -> None:
    token = _token_over_http(server)["token"]
    client = Client(server)
    try:
        client.ready(token, {"Quote": []})
        fault = server.api.inject_stream_fault(StreamFault(StreamFaultKind.RESTART))
        event = client.next_event()
        while isinstance(event, TextMessage):
            event = client.next_event()
        assert isinstance(event, CloseConnection)
        assert (event.code, event.reason) == (1012, "Reconnection is required")
        assert fault.fired.wait(5)
        client.sock.sendall(client.ws.send(event.response()))
    finally:
        client.close()


def test_a_drop_fault_hangs_up_without_a_close_frame(server: FakeTastytradeServer) -> None:
    client = Client(server)
    try:
        server.api.inject_stream_fault(StreamFault(StreamFaultKind.DROP))
        with pytest.raises(EOFError):
            client.next_event()
    finally:
        client.close()


def test_the_keepalive_timeout_over_a_socket(server: FakeTastytradeServer) -> None:
    server.api.dxlink_keepalive_timeout = 0.3
    client = Client(server)
    try:
        message = client.receive()
        assert message["error"] == "TIMEOUT"
        close = client.next_event()
        assert isinstance(close, CloseConnection)
    finally:
        client.close()


def test_stop_with_a_silent_client_connected(server: FakeTastytradeServer) -> None:
    client = Client(server)
    try:
        assert server.wait_for(
            lambda: server.api.stream_messages == [] and server._websocket_threads
        )
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 2
        assert not server._websocket_threads
        event = client.next_event()
        assert isinstance(event, CloseConnection) and event.code == 1001
    finally:
        client.close()


def test_an_http_fault_at_the_upgrade(server: FakeTastytradeServer) -> None:
    server.api.inject(Fault(FaultKind.HTML_ERROR, path="/dxlink"))
    client = Client(server)
    try:
        assert isinstance(client.handshake, RejectConnection)
        assert client.handshake.status_code == 502
    finally:
        client.close()
    assert server.api.count("GET", "/dxlink") == 1


def test_a_burst_over_a_socket(server: FakeTastytradeServer) -> None:
    token = _token_over_http(server)["token"]
    client = Client(server)
    try:
        client.ready(token, {"Quote": ["eventSymbol", "bidPrice", "askPrice"]})
        client.send(type="FEED_SUBSCRIPTION", channel=1, add=[{"type": "Quote", "symbol": "SPY"}])
        client.receive()
        server.api.inject_stream_fault(StreamFault(StreamFaultKind.BURST, count=20_000))
        received = 0
        while received < 20_000:
            received += len(client.receive()["data"][1]) // 3
        assert received == 20_000
    finally:
        client.close()


def test_stop_while_a_burst_fills_a_client_that_does_not_read(
    server: FakeTastytradeServer,
) -> None:
    token = _token_over_http(server)["token"]
    client = Client(server)
    try:
        client.ready(token, {"Quote": []})
        client.send(type="FEED_SUBSCRIPTION", channel=1, add=[{"type": "Quote", "symbol": "SPY"}])
        fault = server.api.inject_stream_fault(StreamFault(StreamFaultKind.BURST, count=500_000))
        assert fault.fired.wait(10)
        started = time.monotonic()
        server.stop()  # the server thread is stuck in a send nobody reads
        assert time.monotonic() - started < 3 and server.websockets == 0
    finally:
        client.close()


def test_a_stall_over_a_socket_keeps_it_open_and_silent(server: FakeTastytradeServer) -> None:
    server.api.dxlink_keepalive_timeout = 0.2
    client = Client(server)
    try:
        client.send(type="SETUP", channel=0, version="0.1-test/1", keepaliveTimeout=0.2)
        assert client.receive()["type"] == "SETUP"
        client.receive()
        fault = server.api.inject_stream_fault(StreamFault(StreamFaultKind.STALL))
        assert fault.fired.wait(5)
        client.sock.settimeout(0.5)  # several keepalive periods: a live server would speak
        with pytest.raises(TimeoutError):
            client.next_event()
        assert server.websockets == 1
    finally:
        client.close()


def test_a_slow_upgrade(server: FakeTastytradeServer) -> None:
    server.api.inject(Fault(FaultKind.SLOW, delay=0.2, path="/dxlink"))
    started = time.monotonic()
    client = Client(server)
    try:
        assert isinstance(client.handshake, AcceptConnection)
        assert time.monotonic() - started >= 0.2
    finally:
        client.close()


def test_a_bare_api_keeps_the_production_url() -> None:
    api = FakeTastytradeAPI()
    assert api.dxlink_url == market.DXLINK_URL
    data = _call(api, "GET", "/api-quote-tokens", headers=_bearer(api))["data"]
    assert data["dxlink-url"] == market.DXLINK_URL
    assert math.isclose(
        market.quote_token_expiry(api, data["token"]) or 0, api.clock() + 24 * 3600, abs_tol=2
    )


def test_tls_needs_the_fakes_ca() -> None:
    with FakeTastytradeServer(tls=True) as tls:
        raw = socket.create_connection(("127.0.0.1", tls.port), timeout=5)
        with (
            pytest.raises(ssl.SSLError),
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            pass


def test_weeks_start_on_mondays_and_unserved_units_get_an_empty_snapshot(
    api: FakeTastytradeAPI, token: str
) -> None:
    import datetime as dt

    wire = Wire(api)
    wire.feed(token, {"Candle": ["eventSymbol", "time", "eventFlags"]})
    weeks = wire.events(wire.subscribe({"type": "Candle", "symbol": "SPY{=w}", "fromTime": 0}))
    starts = {dt.datetime.fromtimestamp(b["time"] / 1000, dt.timezone.utc).weekday() for b in weeks}
    assert starts == {0}
    (empty,) = wire.events(
        wire.subscribe({"type": "Candle", "symbol": "SPY{=100t}", "fromTime": 0})
    )
    assert empty["eventFlags"] == 14
