"""The DXLink machine, driven by hand: handshake order, decoding, liveness, reconnects."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tastytrade_proto.errors import (
    ApiError,
    StreamingError,
    TastytradeError,
    TransportError,
    WebSocketClosed,
)
from tastytrade_proto.streaming import (
    CANDLE_CHANNEL,
    DEFAULT_FIELDS,
    EVENT_TYPES,
    FEED_CHANNEL,
    Candle,
    CloseSocket,
    Connected,
    Disconnected,
    DisconnectReason,
    DXLinkConnection,
    DXLinkState,
    EventFlag,
    Exchange,
    FetchToken,
    Finish,
    Greeks,
    MalformedMessage,
    OpenSocket,
    Pause,
    Quote,
    StreamError,
    SubscriptionRefused,
    Trade,
    UnknownEvent,
    candle_symbol,
)
from tastytrade_proto.values import fields as value_fields

from .strategies import json_values

SAMPLES = Path(__file__).parent / "samples" / "streaming"
URL = "wss://dxlink.test/realtime"


def sample(name: str, **changes: Any) -> str:
    frame = json.loads((SAMPLES / f"dxlink-{name}.json").read_text())
    frame.update(changes)
    return json.dumps(frame)


def sent(link: DXLinkConnection) -> list[dict[str, Any]]:
    return [json.loads(text) for text in link.messages_to_send()]


def server(kind: str, channel: int = 0, **fields: Any) -> str:
    return json.dumps({"type": kind, "channel": channel, **fields})


def connect(link: DXLinkConnection, now: float = 0.0, *, token: str = "quote-token") -> None:
    """Take ``link`` from wherever it is to READY with the feed channel open."""
    action = link.next_action(now)
    if isinstance(action, Pause):
        now = action.until
        action = link.next_action(now)
    if isinstance(action, FetchToken):
        link.token_received(token, URL, now)
        action = link.next_action(now)
    assert action == OpenSocket(URL)
    link.socket_opened(now)
    link.receive(server("SETUP", version="x", keepaliveTimeout=60, acceptKeepaliveTimeout=60), now)
    link.receive(server("AUTH_STATE", state="UNAUTHORIZED"), now)
    link.receive(server("AUTH_STATE", state="AUTHORIZED"), now)
    link.receive(server("CHANNEL_OPENED", FEED_CHANNEL, service="FEED"), now)


def after_pause(link: DXLinkConnection, now: float) -> Any:
    action = link.next_action(now)
    return link.next_action(action.until) if isinstance(action, Pause) else action


def ready(**options: Any) -> DXLinkConnection:
    link = DXLinkConnection(**options)
    connect(link)
    link.messages_to_send()
    link.events()
    return link


# -- handshake ------------------------------------------------------------------------------


def test_the_handshake_waits_for_each_answer_in_the_order_tastytrade_requires() -> None:
    link = DXLinkConnection()
    assert link.next_action(0) == FetchToken()
    link.token_received("quote-token", URL, 0)
    assert link.next_action(0) == OpenSocket(URL)
    link.socket_opened(0)
    assert [m["type"] for m in sent(link)] == ["SETUP"]
    link.subscribe(Quote, ["SPY"], 0)
    link.receive(server("SETUP", version="x", keepaliveTimeout=60), 0)
    assert sent(link) == []  # no AUTH before the server's AUTH_STATE
    link.receive(server("AUTH_STATE", state="UNAUTHORIZED"), 0)
    assert sent(link) == [{"type": "AUTH", "channel": 0, "token": "quote-token"}]
    assert link.state is DXLinkState.AUTHORIZING
    assert sent(link) == []  # no CHANNEL_REQUEST before AUTHORIZED
    link.receive(server("AUTH_STATE", state="AUTHORIZED"), 0)
    request = sent(link)
    assert request == [
        {
            "type": "CHANNEL_REQUEST",
            "channel": FEED_CHANNEL,
            "service": "FEED",
            "parameters": {"contract": "AUTO"},
        }
    ]
    link.receive(sample("channel-opened"), 0)
    setup, subscription = sent(link)
    assert setup["type"] == "FEED_SETUP" and setup["acceptDataFormat"] == "COMPACT"
    assert setup["acceptEventFields"]["Quote"][:2] == ["eventType", "eventSymbol"]
    assert subscription == {
        "type": "FEED_SUBSCRIPTION",
        "channel": FEED_CHANNEL,
        "reset": True,
        "add": [{"type": "Quote", "symbol": "SPY"}],
    }
    assert link.events() == [Connected(url=URL, attempt=1, replayed=1)]


def test_a_subscription_on_a_ready_link_goes_out_at_once() -> None:
    link = ready()
    link.subscribe("Greeks", [".SPY261218C600", ".SPY261218P600"], 1)
    assert sent(link) == [
        {
            "type": "FEED_SUBSCRIPTION",
            "channel": FEED_CHANNEL,
            "add": [
                {"type": "Greeks", "symbol": ".SPY261218C600"},
                {"type": "Greeks", "symbol": ".SPY261218P600"},
            ],
        }
    ]
    link.subscribe("Greeks", [".SPY261218C600"], 2)
    assert sent(link) == []  # already live
    link.unsubscribe(Greeks, [".SPY261218P600", "NOT-LIVE"], 3)
    assert sent(link) == [
        {
            "type": "FEED_SUBSCRIPTION",
            "channel": FEED_CHANNEL,
            "remove": [{"type": "Greeks", "symbol": ".SPY261218P600"}],
        }
    ]


def test_candles_open_their_own_channel_with_a_history_contract_and_from_time() -> None:
    link = ready()
    name = link.subscribe_candles("AAPL", "5m", 1_767_225_600_000, 1)
    assert name == "AAPL{=5m}"
    assert sent(link) == [
        {
            "type": "CHANNEL_REQUEST",
            "channel": CANDLE_CHANNEL,
            "service": "FEED",
            "parameters": {"contract": "HISTORY"},
        }
    ]
    link.receive(server("CHANNEL_OPENED", CANDLE_CHANNEL, service="FEED"), 1)
    setup, subscription = sent(link)
    assert list(setup["acceptEventFields"]) == ["Candle"]
    assert subscription["add"] == [
        {"type": "Candle", "symbol": "AAPL{=5m}", "fromTime": 1_767_225_600_000}
    ]


def test_the_candle_contract_is_configurable() -> None:
    link = ready(candle_contract="AUTO")
    link.subscribe_candles("SPY", "1h", 0, 1)
    assert sent(link)[0]["parameters"] == {"contract": "AUTO"}


@pytest.mark.parametrize(
    ("period", "extended", "expected"),
    [
        ("5m", True, "SPY{=5m}"),
        ("d", True, "SPY{=d}"),
        ("2mo", True, "SPY{=2mo}"),
        ("1h", False, "SPY{=1h,tho=true}"),
    ],
)
def test_candle_symbols(period: str, extended: bool, expected: str) -> None:
    assert candle_symbol("SPY", period, extended_hours=extended) == expected


@pytest.mark.parametrize("period", ["", "5", "m5", "5x", "-1m", "0m", "5 m", "5mm"])
def test_a_period_that_is_not_a_count_and_a_unit_is_refused(period: str) -> None:
    with pytest.raises(StreamingError, match="candle period"):
        candle_symbol("SPY", period)


def test_channel_request_before_authorization_is_never_sent_even_on_a_early_authorized() -> None:
    link = DXLinkConnection()
    link.next_action(0)
    link.token_received("t", URL, 0)
    link.next_action(0)
    link.socket_opened(0)
    sent(link)
    link.receive(server("CHANNEL_OPENED", FEED_CHANNEL), 0)  # out of turn: not trusted
    assert [type(e) for e in link.events()] == [MalformedMessage]
    assert sent(link) == []


# -- decoding ---------------------------------------------------------------------------


def test_compact_quotes_decode_by_the_servers_field_list_with_nan_as_none() -> None:
    link = ready()
    config = json.loads(sample("feed-config-quote"))
    config["channel"] = FEED_CHANNEL
    link.receive(json.dumps(config), 1)
    link.receive(sample("feed-data-compact-quote", channel=FEED_CHANNEL), 1)
    spy, spx = link.events()
    assert spy == Quote(
        symbol="SPY",
        event_time=0,
        sequence=0,
        time_nano_part=0,
        bid_time=0,
        bid_exchange_code="Q",
        bid_price=Decimal("576.88"),
        bid_size=Decimal("200.0"),
        ask_time=0,
        ask_exchange_code="Q",
        ask_price=Decimal("576.9"),
        ask_size=Decimal("300.0"),
    )
    assert spx.symbol == "SPX" and spx.bid_price == Decimal("5010.25")
    assert spx.bid_size is None and spx.ask_size is None  # an index: NaN, still delivered
    assert spy.mid == Decimal("576.89")


def test_an_event_type_field_among_the_fields_is_understood() -> None:
    link = ready()
    config = json.loads(sample("feed-config-quote-with-eventtype"))
    config["channel"] = FEED_CHANNEL
    link.receive(json.dumps(config), 1)
    link.receive(sample("feed-data-compact-quote-with-eventtype", channel=FEED_CHANNEL), 1)
    (quote,) = link.events()
    assert quote.symbol == "AAPL" and quote.bid_price == Decimal("168.4")
    assert quote.bid_size == Decimal("51.0") and quote.ask_price == Decimal("168.46")


def test_full_form_decodes_too() -> None:
    link = ready(data_format="FULL")
    link.receive(sample("feed-data-full-quote", channel=FEED_CHANNEL), 1)
    spy, spx = link.events()
    assert (spy.symbol, spy.ask_size) == ("SPY", Decimal("300.0"))
    assert (spx.symbol, spx.bid_size) == ("SPX", None)


def test_every_pair_of_a_compact_message_is_decoded() -> None:
    link = ready()
    fields = {"Quote": ["eventSymbol", "bidPrice"], "Trade": ["eventSymbol", "price", "dayVolume"]}
    link.receive(server("FEED_CONFIG", FEED_CHANNEL, eventFields=fields), 1)
    data = ["Quote", ["SPY", 1.5, "QQQ", 2.5], "Trade", ["SPY", 3.25, 1.3743299e7]]
    link.receive(server("FEED_DATA", FEED_CHANNEL, data=data), 1)
    events = link.events()
    assert [(type(e), e.symbol) for e in events] == [
        (Quote, "SPY"),
        (Quote, "QQQ"),
        (Trade, "SPY"),
    ]
    assert events[2].day_volume == Decimal("13743299.0")


def test_later_feed_config_wins_per_type_and_keeps_the_others() -> None:
    link = ready()
    link.receive(
        server(
            "FEED_CONFIG",
            FEED_CHANNEL,
            eventFields={"Quote": ["eventSymbol", "bidPrice"], "Trade": ["eventSymbol", "price"]},
        ),
        1,
    )
    link.receive(
        server("FEED_CONFIG", FEED_CHANNEL, eventFields={"Quote": ["askPrice", "eventSymbol"]}), 1
    )
    link.receive(
        server("FEED_DATA", FEED_CHANNEL, data=["Quote", [1, "SPY"], "Trade", ["SPY", 2]]), 1
    )
    quote, trade = link.events()
    assert quote.ask_price == Decimal(1) and quote.bid_price is None
    assert trade.price == Decimal(2)


def test_candles_keep_exact_indexes_and_snapshot_flags() -> None:
    link = ready()
    link.subscribe_candles("AAPL", "5m", 0, 1)
    link.receive(server("CHANNEL_OPENED", CANDLE_CHANNEL), 1)
    link.receive(sample("feed-config-candle"), 1)
    link.receive(sample("feed-data-compact-candle"), 1)
    first, second = link.events()
    assert isinstance(first, Candle) and first.symbol == "AAPL{=5m}"
    assert first.index == 7590000000000000000  # past 2**53, exact
    assert first.event_flags == EventFlag.SNAPSHOT_BEGIN
    assert (first.open, first.close, first.vwap) == (
        Decimal("150.0"),
        Decimal("150.2"),
        Decimal("150.12"),
    )
    assert first.bid_volume is None
    assert second.time == 1767365700000 and first.at(first.time).tzinfo is not None


def test_an_empty_candle_snapshot_is_delivered_and_says_so() -> None:
    link = ready()
    link.subscribe_candles("AAPL", "1d", 0, 1)
    link.receive(server("CHANNEL_OPENED", CANDLE_CHANNEL), 1)
    link.receive(sample("feed-config-candle"), 1)
    link.receive(sample("feed-data-compact-candle-empty-snapshot"), 1)
    (empty,) = link.events()
    assert empty.removed and empty.open is None and empty.close is None


def test_special_values_and_wrong_kinds_never_drop_an_event() -> None:
    link = ready()
    fields = ["eventSymbol", "bidPrice", "askPrice", "bidSize", "askSize", "bidTime", "sequence"]
    link.receive(server("FEED_CONFIG", FEED_CHANNEL, eventFields={"Quote": fields}), 1)
    row = ["X", "Infinity", "-Infinity", None, "lots", "NaN", 7.0]
    link.receive(server("FEED_DATA", FEED_CHANNEL, data=["Quote", row]), 1)
    (quote,) = link.events()
    assert quote.bid_price == Decimal("Infinity") and quote.ask_price == Decimal("-Infinity")
    assert quote.bid_size is None and quote.ask_size is None and quote.bid_time is None
    assert quote.sequence == 7
    assert quote.extra == (("askSize", "lots"),)  # the raw value is kept
    assert quote.mid is None


def test_unknown_types_and_fields_pass_through() -> None:
    link = ready()
    fields = {"Quote": ["eventSymbol", "bidPrice", "brandNewField"], "Series": ["eventSymbol", "x"]}
    link.receive(server("FEED_CONFIG", FEED_CHANNEL, eventFields=fields), 1)
    data = ["Quote", ["SPY", 1, "new"], "Series", ["SPY", 2]]
    link.receive(server("FEED_DATA", FEED_CHANNEL, data=data), 1)
    quote, series = link.events()
    assert quote.extra == (("brandNewField", "new"),)
    assert series == UnknownEvent(
        symbol="SPY", type_name="Series", fields=(("eventSymbol", "SPY"), ("x", 2))
    )
    assert series.event_type == "Series"


def test_a_row_width_that_does_not_divide_is_reported_not_guessed() -> None:
    link = ready()
    link.receive(
        server("FEED_CONFIG", FEED_CHANNEL, eventFields={"Quote": ["eventSymbol", "bidPrice"]}), 1
    )
    link.receive(
        server("FEED_DATA", FEED_CHANNEL, data=["Quote", ["SPY", 1, "QQQ"], "Trade", []]), 1
    )
    (problem,) = link.events()
    assert isinstance(problem, MalformedMessage)
    assert "do not divide" in str(problem.error)
    assert link.malformed == 1 and link.state is DXLinkState.READY


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"type": "FEED_DATA"}',
        '{"type": 5, "channel": 0}',
        '{"type": "WHAT", "channel": 0}',
        '{"type": "FEED_DATA", "channel": 9, "data": []}',
        '{"type": "FEED_DATA", "channel": 1, "data": {"a": 1}}',
        '{"type": "FEED_CONFIG", "channel": 1, "eventFields": {"Quote": [1, 2]}}',
        '{"type": "AUTH_STATE", "channel": 0, "state": "MAYBE"}',
        "[" * 100_000,
    ],
)
def test_hostile_messages_become_malformed_events(text: str) -> None:
    link = ready()
    link.receive(text, 1)
    (event,) = link.events()
    assert isinstance(event, MalformedMessage)
    assert isinstance(event.error, StreamingError)
    assert link.state is DXLinkState.READY


# -- errors from the server ----------------------------------------------------------------


def test_every_error_reaches_the_caller_and_subscription_size_is_a_refusal() -> None:
    link = ready()
    link.receive(sample("error-subscription-size"), 1)
    error, refused = link.events()
    assert error == StreamError(
        error="BAD_ACTION",
        message="Your subscription size for event type 'Candle' is too big",
        channel=3,
    )
    assert refused == SubscriptionRefused(event_type="Candle", message=error.message)
    assert link.state is DXLinkState.READY
    link.receive(sample("error-bad-action"), 1)
    assert [type(e) for e in link.events()] == [StreamError]


def test_unsupported_protocol_ends_the_link_with_an_error() -> None:
    link = ready()
    link.receive(server("ERROR", error="UNSUPPORTED_PROTOCOL", message="too old"), 1)
    assert link.next_action(1) == CloseSocket(1000)
    link.socket_closed(None, 1)
    action = link.next_action(1)
    assert isinstance(action, Finish) and isinstance(action.error, StreamingError)
    assert action.error.code == "UNSUPPORTED_PROTOCOL"


# -- liveness ------------------------------------------------------------------------------


def test_keepalive_goes_out_when_nothing_else_did_at_half_the_servers_timeout() -> None:
    link = DXLinkConnection()
    link.next_action(0)
    link.token_received("t", URL, 0)
    link.next_action(0)
    link.socket_opened(0)
    link.receive(server("SETUP", keepaliveTimeout=20), 0)
    link.receive(server("AUTH_STATE", state="UNAUTHORIZED"), 0)
    link.receive(server("AUTH_STATE", state="AUTHORIZED"), 0)
    link.receive(server("CHANNEL_OPENED", FEED_CHANNEL), 0)
    sent(link)
    assert link.next_action(0) == Exchange(10.0)  # min(30, 20 / 2)
    link.handle_timer(9.9)
    assert sent(link) == []
    link.handle_timer(10.0)
    assert sent(link) == [{"type": "KEEPALIVE", "channel": 0}]
    link.subscribe(Quote, ["SPY"], 15.0)  # other traffic counts as speaking
    sent(link)
    link.handle_timer(20.0)
    assert sent(link) == []
    assert link.next_deadline() == 25.0


def test_silence_from_the_server_is_a_dead_link_and_reconnect_replays_everything() -> None:
    link = ready()
    link.subscribe(Quote, ["SPY", "QQQ"], 1)
    link.subscribe(Greeks, [".SPY261218C600"], 1)
    link.unsubscribe(Quote, ["QQQ"], 2)
    sent(link)
    link.receive(server("KEEPALIVE"), 30)
    link.handle_timer(89.9)
    assert link.state is DXLinkState.READY
    link.handle_timer(90)
    assert link.next_action(90) == CloseSocket(1000)
    link.socket_closed(None, 90)
    (gone,) = link.events()
    assert gone.reason is DisconnectReason.RECEIVE_TIMEOUT and gone.retry_in == 0
    connect(link, 90)
    subscription = sent(link)[-1]
    assert subscription["reset"] is True
    assert subscription["add"] == [
        {"type": "Quote", "symbol": "SPY"},
        {"type": "Greeks", "symbol": ".SPY261218C600"},
    ]


def test_a_handshake_that_stalls_is_given_up() -> None:
    link = DXLinkConnection(handshake_timeout=5)
    link.next_action(0)
    link.token_received("t", URL, 0)
    link.next_action(0)
    link.socket_opened(0)
    assert link.next_deadline() == 5
    link.handle_timer(5)
    assert link.next_action(5) == CloseSocket(1000)
    link.socket_closed(None, 5)
    (gone,) = link.events()
    assert gone.reason is DisconnectReason.HANDSHAKE_TIMEOUT


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            WebSocketClosed("closed", code=1012, reason="Reconnection is required"),
            DisconnectReason.SERVICE_RESTART,
        ),
        (WebSocketClosed("closed", code=1009), DisconnectReason.MESSAGE_TOO_BIG),
        (WebSocketClosed("closed", code=1000), DisconnectReason.SERVER_CLOSED),
        (WebSocketClosed("dropped"), DisconnectReason.CONNECTION_LOST),
        (TransportError("reset by peer"), DisconnectReason.CONNECTION_LOST),
    ],
)
def test_close_codes_map_to_reasons(error: TransportError, reason: DisconnectReason) -> None:
    link = ready()
    link.socket_closed(error, 5)
    (gone,) = link.events()
    assert gone.reason is reason
    assert gone.code == getattr(error, "code", None)
    assert link.next_action(5) == Pause(5 + gone.retry_in)  # not healthy yet: a short wait
    assert link.next_action(5 + gone.retry_in) == OpenSocket(URL)


def test_after_a_message_too_big_subscriptions_go_out_in_smaller_chunks() -> None:
    link = ready()
    link.subscribe(Quote, [f"SYM{i:05d}" for i in range(3000)], 1)
    before = [m for m in sent(link)]
    assert len(before) > 5 and all(len(json.dumps(m)) <= 8192 + 100 for m in before)
    assert sum(len(m["add"]) for m in before) == 3000
    link.socket_closed(WebSocketClosed("too big", code=1009), 2)
    connect(link, 2)
    after = [m for m in sent(link) if m["type"] == "FEED_SUBSCRIPTION"]
    assert len(after) > len(before) and sum(len(m["add"]) for m in after) == 3000
    assert after[0]["reset"] is True and all("reset" not in m for m in after[1:])


def test_backoff_grows_after_failed_attempts_and_starts_over_after_a_healthy_link() -> None:
    link = DXLinkConnection(backoff_base=1, backoff_cap=4)
    link.next_action(0)
    link.token_received("t", URL, 0)
    waits = []
    now = 0.0
    for _ in range(5):
        action = link.next_action(now)
        if isinstance(action, Pause):
            now = action.until
            action = link.next_action(now)
        assert action == OpenSocket(URL)
        link.socket_failed(TransportError("refused", request_sent=False), now)
        (gone,) = link.events()
        waits.append(gone.retry_in)
    assert waits == [1, 2, 4, 4, 4]
    now += 10
    connect(link, now)
    link.receive(server("FEED_DATA", FEED_CHANNEL, data=[]), now)
    link.socket_closed(WebSocketClosed("gone"), now)
    assert link.events()[-1].retry_in == 0


def test_max_attempts_gives_up_with_an_error() -> None:
    link = DXLinkConnection(max_attempts=2, backoff_base=1)
    link.next_action(0)
    link.token_received("t", URL, 0)
    now = 0.0
    for _ in range(2):
        action = link.next_action(now)
        now = action.until if isinstance(action, Pause) else now
        assert link.next_action(now) == OpenSocket(URL)
        link.socket_failed(TransportError("refused"), now)
    now += 100
    action = link.next_action(now)
    assert isinstance(action, Finish) and "gave up after 2" in str(action.error)


# -- the quote token ------------------------------------------------------------------------


def test_the_token_is_renewed_on_a_live_link_before_it_ages_out() -> None:
    link = ready(token_refresh_after=3600)
    assert link.next_deadline() == 30  # keepalive first
    link.receive(server("KEEPALIVE"), 3599)
    link.handle_timer(3599)
    sent(link)
    assert link.next_action(3600) == FetchToken()
    link.token_received("second-token", URL, 3600)
    assert sent(link) == [{"type": "AUTH", "channel": 0, "token": "second-token"}]
    link.receive(server("AUTH_STATE", state="AUTHORIZED"), 3600)
    assert link.state is DXLinkState.READY and sent(link) == []  # no second channel request


def test_a_failed_renewal_on_a_live_link_is_tried_again_later_without_dropping_it() -> None:
    link = ready(token_refresh_after=3600)
    link.receive(server("KEEPALIVE"), 3600)
    assert link.next_action(3600) == FetchToken()
    link.token_failed(TransportError("timeout"), 3600)
    assert link.state is DXLinkState.READY
    assert isinstance(link.next_action(3601), Exchange)
    link.receive(server("KEEPALIVE"), 3660)
    assert link.next_action(3660) == FetchToken()


def test_a_refused_token_is_replaced_and_three_refusals_end_the_link() -> None:
    link = ready()
    link.receive(server("ERROR", error="UNAUTHORIZED", message="token expired"), 5)
    assert link.next_action(5) == CloseSocket(1000)
    link.socket_closed(None, 5)
    events = link.events()
    assert events[-1].reason is DisconnectReason.UNAUTHORIZED
    assert after_pause(link, 5) == FetchToken()
    link.token_received("fresh", URL, 5)
    for attempt in range(2):
        assert after_pause(link, 5) == OpenSocket(URL)
        link.socket_opened(5)
        link.receive(server("AUTH_STATE", state="UNAUTHORIZED"), 5)
        assert sent(link)[-1]["token"] == "fresh" if attempt == 0 else True
        link.receive(server("AUTH_STATE", state="UNAUTHORIZED"), 5)
        if attempt == 1:
            break
        assert link.next_action(5) == CloseSocket(1000)
        link.socket_closed(None, 5)
        assert after_pause(link, 5) == FetchToken()
        link.token_received("fresh", URL, 5)
    assert link.next_action(5) == CloseSocket(1000)
    link.socket_closed(None, 5)
    action = link.next_action(5)
    assert isinstance(action, Finish) and action.error is not None
    assert action.error.code == "UNAUTHORIZED" and "fresh" not in str(action.error)


def test_a_token_failure_that_is_not_transient_ends_the_link() -> None:
    link = DXLinkConnection()
    assert link.next_action(0) == FetchToken()
    refusal = ApiError("You must be a customer to access a quote stream", status=403)
    link.token_failed(refusal, 0)
    assert link.next_action(0) == Finish(refusal)


def test_a_transient_token_failure_is_retried_with_backoff() -> None:
    link = DXLinkConnection(backoff_base=2)
    assert link.next_action(0) == FetchToken()
    link.token_failed(TransportError("refused", request_sent=False), 0)
    assert link.next_action(0) == Pause(2.0)
    assert link.next_action(2) == FetchToken()
    link.token_failed(TransportError("refused", request_sent=False), 2)
    assert link.next_action(2) == Pause(6.0)


@pytest.mark.parametrize("url", [None, "https://not-a-websocket", 5])
def test_a_token_without_a_websocket_url_is_refused(url: Any) -> None:
    link = DXLinkConnection()
    with pytest.raises(StreamingError):
        link.token_received("t", url, 0)


# -- closing ---------------------------------------------------------------------------------


def test_close_closes_the_socket_then_finishes() -> None:
    link = ready()
    link.close()
    assert link.next_action(1) == CloseSocket(1000)
    link.socket_closed(None, 1)
    assert link.next_action(1) == Finish()
    assert link.state is DXLinkState.CLOSED


def test_close_before_connecting_finishes_at_once() -> None:
    link = DXLinkConnection()
    link.close()
    assert link.next_action(0) == Finish()


# -- properties -------------------------------------------------------------------------------

frames = st.one_of(
    json_values.map(json.dumps),
    st.text(max_size=50),
    st.builds(
        lambda kind, channel, extra: json.dumps({"type": kind, "channel": channel, **extra}),
        st.sampled_from(
            [
                "SETUP",
                "AUTH_STATE",
                "CHANNEL_OPENED",
                "CHANNEL_CLOSED",
                "FEED_CONFIG",
                "FEED_DATA",
                "KEEPALIVE",
                "ERROR",
                "OTHER",
            ]
        ),
        st.sampled_from([0, 1, 3, 5, -1]),
        st.dictionaries(
            st.sampled_from(
                [
                    "state",
                    "data",
                    "eventFields",
                    "error",
                    "message",
                    "keepaliveTimeout",
                    "dataFormat",
                ]
            ),
            json_values
            | st.sampled_from(["AUTHORIZED", "UNAUTHORIZED", "COMPACT", "FULL"])
            | st.just({"Quote": ["eventSymbol", "bidPrice"]})
            | st.lists(json_values | st.sampled_from(["Quote", "Candle"]), max_size=6),
            max_size=4,
        ),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(frames, max_size=25), st.booleans())
def test_any_sequence_of_frames_gives_events_or_a_typed_error(
    texts: list[str], early: bool
) -> None:
    link = DXLinkConnection()
    if not early:
        connect(link)
    else:
        link.next_action(0)
        link.token_received("t", URL, 0)
        link.next_action(0)
        link.socket_opened(0)
    link.subscribe(Quote, ["SPY"], 0)
    for now, text in enumerate(texts, 1):
        try:
            link.receive(text, now)
            link.handle_timer(now)
            action = link.next_action(now)
            if isinstance(action, CloseSocket):
                link.socket_closed(None, now)
        except TastytradeError:
            pass
        for event in link.events():
            assert event is not None
        link.messages_to_send()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["sub", "unsub", "candle"]),
            st.sampled_from([Quote, Trade, Greeks]),
            st.lists(
                st.sampled_from(["SPY", "QQQ", "AAPL", ".SPY261218C600"]), min_size=1, max_size=3
            ),
        ),
        max_size=12,
    )
)
def test_reconnect_replays_exactly_the_live_subscriptions(ops: list[Any]) -> None:
    link = ready()
    live: dict[tuple[str, str], int | None] = {}
    for verb, kind, symbols in ops:
        if verb == "sub":
            link.subscribe(kind, symbols, 1)
            for symbol in symbols:
                live.setdefault((kind.EVENT_TYPE, symbol), None)
        elif verb == "unsub":
            link.unsubscribe(kind, symbols, 1)
            for symbol in symbols:
                live.pop((kind.EVENT_TYPE, symbol), None)
        else:
            name = link.subscribe_candles(symbols[0], "5m", 1000, 1)
            live[("Candle", name)] = 1000
    link.socket_closed(WebSocketClosed("dropped"), 2)
    connect(link, 2)
    if any(kind == "Candle" for kind, _ in live):
        link.receive(server("CHANNEL_OPENED", CANDLE_CHANNEL), 2)
    replayed = {}
    for message in sent(link):
        if message["type"] == "FEED_SUBSCRIPTION":
            for item in message.get("add", []):
                replayed[(item["type"], item["symbol"])] = item.get("fromTime")
    assert replayed == live


def test_candles_resume_from_the_last_bar_delivered() -> None:
    link = ready()
    link.subscribe_candles("AAPL", "5m", 1000, 1)
    link.receive(server("CHANNEL_OPENED", CANDLE_CHANNEL), 1)
    link.receive(sample("feed-config-candle"), 1)
    link.receive(sample("feed-data-compact-candle"), 1)
    link.socket_closed(WebSocketClosed("dropped"), 2)
    connect(link, 2)
    link.receive(server("CHANNEL_OPENED", CANDLE_CHANNEL), 2)
    (candles,) = [
        m
        for m in sent(link)
        if m.get("channel") == CANDLE_CHANNEL and m["type"] == "FEED_SUBSCRIPTION"
    ]
    assert candles["add"] == [{"type": "Candle", "symbol": "AAPL{=5m}", "fromTime": 1767366000000}]


def test_disconnected_events_name_no_secret() -> None:
    link = ready()
    link.socket_closed(TransportError("boom"), 1)
    (gone,) = link.events()
    assert isinstance(gone, Disconnected) and "quote-token" not in repr(gone)


# -- COMPACT round trip ----------------------------------------------------------------------

prices = st.none() | st.decimals(
    allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9
)
counters = st.none() | st.integers(min_value=0, max_value=2**63 - 1)
texts = st.none() | st.text(max_size=8)


def _wire_value(value: Any) -> Any:
    if value is None:
        return "NaN"
    return value


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(DEFAULT_FIELDS)),
    st.integers(min_value=1, max_value=4),
    st.randoms(use_true_random=False),
    st.data(),
)
def test_compact_rows_round_trip_for_every_event_type(
    kind: str, count: int, rng: Any, data: Any
) -> None:
    """Events written as COMPACT rows (in any field order the server picks) decode to themselves."""
    cls = EVENT_TYPES[kind]
    fields = list(DEFAULT_FIELDS[kind][1:])  # without eventType
    rng.shuffle(fields)
    strategies = {
        "d": prices,
        "i": counters,
        "s": st.text(min_size=1, max_size=8),
        "b": st.none() | st.booleans(),
    }
    kinds = dict(cls.WIRE)
    expected, values = [], []
    for n in range(count):
        row = {}
        for name in fields:
            row[name] = f"SYM{n}" if name == "eventSymbol" else data.draw(strategies[kinds[name]])
        values.extend(
            _wire_value(row[name]) if kinds.get(name) == "d" else row[name] for name in fields
        )
        expected.append(row)
    link = ready()
    channel = CANDLE_CHANNEL if kind == "Candle" else FEED_CHANNEL
    if kind == "Candle":
        link.subscribe_candles("SYM", "5m", 0, 1)
        link.receive(server("CHANNEL_OPENED", CANDLE_CHANNEL), 1)
    link.receive(server("FEED_CONFIG", channel, eventFields={kind: fields}), 1)
    # Decimals written as JSON numbers, exactly as typed: the decoder must keep every digit.
    row_text = ",".join(str(v) if isinstance(v, Decimal) else json.dumps(v) for v in values)
    text = f'{{"type":"FEED_DATA","channel":{channel},"data":[{json.dumps(kind)},[{row_text}]]}}'
    link.receive(text, 1)
    events = [e for e in link.events() if isinstance(e, cls)]
    assert len(events) == count
    for event, row in zip(events, expected, strict=True):
        assert event.symbol == row["eventSymbol"]
        names = [f.name for f in value_fields(cls)]  # symbol, then the WIRE order, then extra
        for position, (name, _) in enumerate(cls.WIRE, 1):
            got, want = getattr(event, names[position]), row[name]
            assert got == want and type(got) is type(want), name
        assert event.extra == ()


def test_a_server_that_echoes_the_quote_token_never_gets_it_into_an_event() -> None:
    link = ready()
    link.receive('{"echo": "quote-token" ', 1)
    link.receive(server("ERROR", error="UNAUTHORIZED", message="bad token quote-token"), 1)
    events = link.events()
    assert [type(e) for e in events] == [MalformedMessage, StreamError]
    assert events and all(
        "quote-token" not in repr(e) and "quote-token" not in str(getattr(e, "error", ""))
        for e in events
    )


def test_link_events_are_logged_without_the_quote_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="tastytrade_proto.streaming")
    link = ready()
    link.receive('{"echo": "quote-token" ', 1)
    link.receive(server("ERROR", error="UNAUTHORIZED", message="quote-token refused"), 1)
    link.next_action(1)
    link.socket_closed(None, 1)
    text = caplog.text
    assert "MalformedMessage" in text and "StreamError" in text and "Disconnected" in text
    assert "quote-token" not in text


def test_a_subscription_made_while_a_renewed_token_is_checked_goes_out_at_once() -> None:
    link = ready(token_refresh_after=3600)
    link.receive(server("KEEPALIVE"), 3600)
    assert link.next_action(3600) == FetchToken()
    link.token_received("second", URL, 3600)
    assert link.state is DXLinkState.AUTHORIZING
    sent(link)
    link.subscribe(Quote, ["AAPL"], 3600)
    assert sent(link)[0]["add"] == [{"type": "Quote", "symbol": "AAPL"}]


def test_bare_nan_and_infinity_tokens_and_text_numbers_are_understood() -> None:
    link = ready()
    fields = ["eventSymbol", "bidPrice", "askPrice", "bidSize", "sequence", "bidTime", "askTime"]
    link.receive(server("FEED_CONFIG", FEED_CHANNEL, eventFields={"Quote": fields}), 1)
    row = '["X", NaN, Infinity, -Infinity, "12", "NaN", "twelve"]'
    link.receive(f'{{"type":"FEED_DATA","channel":1,"data":["Quote",{row}]}}', 1)
    (quote,) = link.events()
    assert quote.bid_price is None and quote.ask_price == Decimal("Infinity")
    assert quote.bid_size == Decimal("-Infinity")
    assert (quote.sequence, quote.bid_time, quote.ask_time) == (12, None, None)
    assert quote.extra == (("askTime", "twelve"),)
    assert quote.at(quote.bid_time) is None and quote.at(1_767_225_600_000).year == 2026
    assert quote.at(10**20) is None  # out of range: no datetime, no crash


def test_integers_with_a_fraction_or_a_huge_exponent_are_not_counters() -> None:
    link = ready()
    fields = ["eventSymbol", "index", "eventFlags", "count", "time"]
    link.subscribe_candles("X", "1m", 0, 1)
    link.receive(server("CHANNEL_OPENED", CANDLE_CHANNEL), 1)
    link.receive(server("FEED_CONFIG", CANDLE_CHANNEL, eventFields={"Candle": fields}), 1)
    row = '["X{=1m}", 1.5, 1E+40, 7.0, true]'
    link.receive(f'{{"type":"FEED_DATA","channel":3,"data":["Candle",{row}]}}', 1)
    (bar,) = link.events()
    assert (bar.index, bar.event_flags, bar.count, bar.time) == (None, None, 7, None)
    assert dict(bar.extra) == {
        "index": Decimal("1.5"),
        "eventFlags": Decimal("1E+40"),
        "time": True,
    }


@pytest.mark.parametrize(
    "misuse",
    [
        lambda: DXLinkConnection(data_format="XML"),
        lambda: DXLinkConnection(receive_timeout=0),
        lambda: DXLinkConnection(keepalive_interval=True),
        lambda: ready().token_received("", URL, 1),
        lambda: ready().subscribe_candles("SPY", "5m", -1, 1),
        lambda: ready().subscribe_candles("SPY", "5m", True, 1),  # type: ignore[arg-type]
        lambda: ready().subscribe("Not A Type", ["SPY"], 1),
        lambda: ready().subscribe(Quote, ["SPY", ""], 1),
        lambda: ready().subscribe(Quote, [None], 1),  # type: ignore[list-item]
        lambda: ready().subscribe(Candle, ["SPY"], 1),
        lambda: ready().socket_opened(1),
    ],
)
def test_misuse_is_a_streaming_error(misuse: Any) -> None:
    with pytest.raises(StreamingError):
        misuse()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "FEED_CONFIG", "channel": 1, "dataFormat": "XML"},
        {"type": "FEED_CONFIG", "channel": 1, "eventFields": ["Quote"]},
        {"type": "FEED_DATA", "channel": 1, "data": ["Quote"]},
        {"type": "FEED_DATA", "channel": 1, "data": [5, [], "Quote", "SPY"]},
        {"type": "FEED_DATA", "channel": 1, "data": ["Nobody", [1, 2]]},
        {"type": "FEED_DATA", "channel": 1, "data": [{"eventSymbol": "SPY"}, {5: 1}]},
    ],
)
def test_frames_that_break_the_shapes_are_malformed(frame: dict[str, Any]) -> None:
    link = ready()
    link.receive(json.dumps(frame), 1)
    (event,) = link.events()
    assert isinstance(event, MalformedMessage)


def test_a_single_string_symbol_and_a_repeated_authorized_are_fine() -> None:
    link = ready()
    link.subscribe("Quote", "SPY", 1)
    assert sent(link)[0]["add"] == [{"type": "Quote", "symbol": "SPY"}]
    link.receive(server("AUTH_STATE", state="AUTHORIZED"), 2)
    assert sent(link) == [] and link.state is DXLinkState.READY


def test_unsubscribing_a_candle_sends_its_from_time_as_the_spec_asks() -> None:
    link = ready()
    name = link.subscribe_candles("SPY", "1h", 5000, 1)
    link.receive(server("CHANNEL_OPENED", CANDLE_CHANNEL), 1)
    sent(link)
    link.unsubscribe("Candle", [name], 2)
    assert sent(link)[0]["remove"] == [{"type": "Candle", "symbol": name, "fromTime": 5000}]


def test_jitter_scales_the_wait_into_its_lower_half() -> None:
    link = DXLinkConnection(backoff_base=4, jitter=lambda: 0.0)
    link.next_action(0)
    link.token_received("t", URL, 0)
    now = 0.0
    waits = []
    for _ in range(3):
        action = link.next_action(now)
        if isinstance(action, Pause):
            now = action.until
            link.next_action(now)
        link.socket_failed(TransportError("refused"), now)
        waits.append(link.events()[-1].retry_in)
    assert waits == [4, 4.0, 8.0]  # 4, then 8 and 16 halved
