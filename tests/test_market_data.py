"""The market data area: each endpoint's exact request, its models, and the fake's answers."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

from tastytrade_proto import ApiError, DecodeError, LocalProtocolError, NotFound, ValidationFailed
from tastytrade_proto.accounts import InstrumentType
from tastytrade_proto.market_data import (
    QUOTE_STREAMER_CUSTOMER_NOT_FOUND,
    ClosePriceType,
    Dividend,
    EarningsReport,
    MarketCalendar,
    MarketCollection,
    MarketData,
    MarketMetrics,
    MarketSession,
    MarketState,
    QuoteToken,
    SymbolSearchResult,
)
from tastytrade_proto.models import items_of
from tastytrade_proto.protocol import Operation, drive
from tastytrade_proto.protocol.endpoint import build_call
from tastytrade_proto.sessions import Operations, TransportSettings
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FakeClock,
    FakeTastytradeAPI,
)

from .conftest import sample
from .core import Core, data, items, target

T = TypeVar("T")
UTC = timezone.utc

AAPL_QUOTE = {
    "symbol": "AAPL",
    "instrument-type": "Equity",
    "updated-at": "2026-04-29T21:33:25.535Z",
    "bid": "210.55",
    "bid-size": "2.0",
    "ask": "210.6",
    "ask-size": "1.0",
    "mid": "210.575",
    "mark": "210.55",
    "last": "210.51",
    "open": "208.69",
    "day-high-price": "212.24",
    "day-low-price": "208.37",
    "close-price-type": "Final",
    "prev-close": "210.14",
    "prev-close-price-type": "Final",
    "summary-date": "2026-04-29",
    "prev-close-date": "2026-04-28",
    "is-trading-halted": False,
    "halt-start-time": -1,
    "halt-end-time": -1,
    "year-low-price": "169.11",
    "year-high-price": "260.1",
    "volume": "35348839.0",
    "brand-new-field": {"kept": True},
}
OPTION_QUOTE = {
    "symbol": "SPY   261218C00600000",
    "instrument-type": "Equity Option",
    "bid": "11.0",
    "ask": "11.1",
    "mark": "11.05",
    "open-interest": 2211,
    "volatility": "0.1611",
    "delta": "0.4812",
    "theo-price": "11.0412",
}
SESSION_CLOSED = {
    "instrument-collection": "Equity",
    "state": "Closed",
    "start-at": None,
    "open-at": None,
    "close-at": None,
    "close-at-ext": None,
    "next-session": {
        "instrument-collection": "Equity",
        "session-date": "2026-02-18",
        "start-at": "2026-02-18T13:00:00.000Z",
        "open-at": "2026-02-18T14:30:00.000Z",
        "close-at": "2026-02-18T21:00:00.000Z",
        "close-at-ext": "2026-02-19T01:00:00.000Z",
    },
    "previous-session": {
        "instrument-collection": "Equity",
        "session-date": "2026-02-13",
        "start-at": "2026-02-13T13:00:00.000Z",
        "open-at": "2026-02-13T14:30:00.000Z",
        "close-at": "2026-02-13T21:00:00.000Z",
        "close-at-ext": "2026-02-14T01:00:00.000Z",
    },
}
CALENDAR = {
    "market-holidays": ["2026-01-01", "2026-01-19", "2026-11-26"],
    "market-half-days": ["2026-11-27", "2026-12-24"],
}


# -- market data by type -----------------------------------------------------------------------


def test_market_data_sends_each_type_comma_joined() -> None:
    core = Core().answer(items(AAPL_QUOTE, OPTION_QUOTE))
    found = core.run(
        core.calls.market_data(
            equities=["AAPL", "BRK/B"],
            equity_options=["SPY   261218C00600000"],
            futures="/ESZ6",
            future_options=["./ESZ6 EW4Z6 261218C6000"],
            cryptocurrencies=["BTC/USD"],
            indices=["SPX"],
        )
    )
    assert target(core.sent) == (
        "GET",
        "/market-data/by-type",
        [
            ("index", "SPX"),
            ("equity", "AAPL,BRK/B"),
            ("equity-option", "SPY   261218C00600000"),
            ("future", "/ESZ6"),
            ("future-option", "./ESZ6 EW4Z6 261218C6000"),
            ("cryptocurrency", "BTC/USD"),
        ],
    )
    query = urlsplit(core.sent.url).query
    assert "[]" not in query and "%5B" not in query  # one key per type, never repeated
    assert "equity=AAPL%2CBRK%2FB" in query and "SPY%20%20%20261218" in query
    aapl, option = found
    assert isinstance(aapl, MarketData) and aapl.instrument_type is InstrumentType.EQUITY
    assert aapl.bid == Decimal("210.55") and aapl.volume == Decimal("35348839.0")
    assert aapl.close_price_type is ClosePriceType.FINAL
    assert aapl.summary_date == date(2026, 4, 29) and aapl.halt_start_time == -1
    assert aapl.updated_at == datetime(2026, 4, 29, 21, 33, 25, 535000, UTC)
    assert aapl.is_trading_halted is False and aapl.raw["brand-new-field"] == {"kept": True}
    assert option.open_interest == Decimal(2211) and option.delta == Decimal("0.4812")
    assert option.volume is None and option.instrument_type is InstrumentType.EQUITY_OPTION


def test_market_data_takes_one_string_as_one_symbol() -> None:
    core = Core().answer(items())
    assert core.run(core.calls.market_data(equities="AAPL")) == []
    assert target(core.sent)[2] == [("equity", "AAPL")]


def test_market_data_takes_none_as_no_symbols_of_that_type() -> None:
    core = Core().answer(items())
    core.run(core.calls.market_data(equities=None, indices=("SPX", "VIX")))
    assert target(core.sent)[2] == [("index", "SPX,VIX")]


def test_market_data_takes_an_empty_type_as_no_symbols_of_that_type() -> None:
    core = Core().answer(items())
    core.run(core.calls.market_data(equities=[], futures=(), indices=iter(["SPX"])))
    assert target(core.sent)[2] == [("index", "SPX")]


def test_market_data_takes_exactly_one_hundred_symbols() -> None:
    core = Core().answer(items())
    core.run(core.calls.market_data(equities=[f"S{i}" for i in range(60)], indices=["SPX"] * 40))
    assert len(target(core.sent)[2][1][1].split(",")) == 60


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        (
            {"equities": [f"S{i}" for i in range(60)], "futures": [f"/F{i}" for i in range(41)]},
            "101",
        ),
        ({}, "at least one symbol"),
        ({"equities": ["AAPL", ""]}, "non-empty"),
        ({"equities": ["AAPL,MSFT"]}, "comma"),
        ({"equities": 42}, "must be a list"),
        ({"equities": b"AAPL"}, "must be a list"),
        ({"equities": [b"AAPL"]}, "non-empty string"),
        ({"equities": None}, "at least one symbol"),
        ({"equities": [], "indices": ()}, "at least one symbol"),
        ({"indices": ["SPX", None]}, "indices: each item must be a non-empty string"),
    ],
)
def test_market_data_refuses_bad_symbol_lists_before_sending(
    kwargs: dict[str, Any], problem: str
) -> None:
    core = Core()
    with pytest.raises(LocalProtocolError, match=problem):
        core.run(core.calls.market_data(**kwargs))
    assert core.http.requests == []


# -- metrics, dividends, earnings, rate ----------------------------------------------------------


def test_market_metrics_from_the_real_sample() -> None:
    core = Core().answer_sample("market_metrics_200.json")
    found = core.run(core.calls.market_metrics(["AAPL", "TSLA"]))
    assert target(core.sent) == ("GET", "/market-metrics", [("symbols", "AAPL,TSLA")])
    assert "symbols%5B%5D" not in core.sent.url
    aapl, tsla = found
    assert isinstance(aapl, MarketMetrics) and aapl.symbol == "AAPL"
    assert aapl.implied_volatility_index == Decimal("0.224186663")
    assert aapl.implied_volatility_index_rank == Decimal("0.02231313")
    assert aapl.historical_volatility_30_day == Decimal("20.02")
    assert aapl.liquidity_rating == 4 and aapl.market_cap == Decimal(2846108626900)
    assert aapl.earnings is not None and aapl.earnings.expected_report_date == date(2023, 7, 27)
    assert aapl.earnings.actual_eps == Decimal("1.2") and aapl.earnings.late_flag == 0
    assert [e.expiration_date for e in aapl.option_expiration_implied_volatilities] == [
        date(2023, 6, 9),
        date(2023, 6, 16),
        date(2023, 6, 23),
    ]
    assert aapl.option_expiration_implied_volatilities[0].implied_volatility == Decimal(
        "0.288187496"
    )
    assert aapl.liquidity_running_state is not None
    assert aapl.liquidity_running_state.count == 48
    assert aapl.dividend_ex_date == date(2023, 5, 12)
    assert aapl.updated_at is not None and aapl.updated_at.tzinfo is not None
    assert tsla.created_at == datetime(
        2019, 1, 20, 18, 2, 44, 206000, timezone(timedelta(hours=-6))
    )


def test_market_metrics_of_one_symbol_and_of_none() -> None:
    core = Core().answer(items())
    core.run(core.calls.market_metrics("BRK/B"))
    assert target(core.sent)[2] == [("symbols", "BRK/B")]
    for bad in ([], None, 5, ["AAPL,MSFT"], [""]):
        with pytest.raises(LocalProtocolError):
            core.run(core.calls.market_metrics(bad))  # type: ignore[arg-type]
    assert len(core.http.requests) == 1


def test_dividends_path_is_percent_encoded() -> None:
    rows = [
        {"occurred-date": "2026-08-10", "amount": "0.26"},
        {"occurred-date": "2026-05-11", "amount": 0.25},  # a number, as some answers have it
    ]
    core = Core().answer(items(*rows))
    found = core.run(core.calls.dividends("BRK/B"))
    assert target(core.sent) == (
        "GET",
        "/market-metrics/historic-corporate-events/dividends/BRK%2FB",
        [],
    )
    assert found[0] == Dividend(occurred_date=date(2026, 8, 10), amount=Decimal("0.26"))
    assert isinstance(found[1].amount, Decimal)


def test_earnings_with_and_without_a_start_date() -> None:
    rows = [{"occurred-date": "2025-06-30", "eps": "1.57"}, {"occurred-date": "2025-09-30"}]
    core = Core().answer(items(*rows)).answer(items())
    found = core.run(core.calls.earnings("AAPL", start_date=date(2025, 1, 1)))
    assert target(core.sent) == (
        "GET",
        "/market-metrics/historic-corporate-events/earnings-reports/AAPL",
        [("start-date", "2025-01-01")],
    )
    assert found == [
        EarningsReport(occurred_date=date(2025, 6, 30), eps=Decimal("1.57")),
        EarningsReport(occurred_date=date(2025, 9, 30), eps=None),
    ]
    core.run(core.calls.earnings("AAPL"))
    assert target(core.sent)[2] == []


@pytest.mark.parametrize(
    "start_date",
    [
        "2025-01-01",  # was a raw AttributeError
        datetime(2025, 1, 1, tzinfo=UTC),  # was sent as a date-time
        20250101,
    ],
)
def test_earnings_take_a_date_and_nothing_else(start_date: Any) -> None:
    core = Core()
    with pytest.raises(LocalProtocolError, match="start_date must be a date"):
        core.run(core.calls.earnings("AAPL", start_date=start_date))
    assert core.http.requests == []


def test_earnings_take_start_date_by_keyword_only() -> None:
    with pytest.raises(TypeError):
        Core().calls.earnings("AAPL", date(2025, 1, 1))  # type: ignore[call-arg]


def test_risk_free_rate() -> None:
    core = Core().answer(data({"risk-free-rate": "0.0425", "other": 1}))
    rate = core.run(core.calls.risk_free_rate())
    assert target(core.sent) == ("GET", "/margin-requirements-public-configuration", [])
    assert rate == Decimal("0.0425") and isinstance(rate, Decimal)
    core.answer(data({"something-else": "1"}))
    with pytest.raises(DecodeError, match="risk-free-rate"):
        core.run(core.calls.risk_free_rate())


# -- search, sessions, holidays -------------------------------------------------------------------


def test_symbol_search_encodes_the_text_as_one_segment() -> None:
    row = {
        "symbol": "AAPL",
        "description": "Apple Inc.",
        "listed-market": "XNAS",
        "instrument-type": "Equity",
        "options": "true",
        "autocomplete": 1,
    }
    core = Core().answer(items(row)).answer(items())
    (found,) = core.run(core.calls.symbol_search("AAPL"))
    assert target(core.sent) == ("GET", "/symbols/search/AAPL", [])
    assert isinstance(found, SymbolSearchResult) and found.options is True
    assert found.instrument_type is InstrumentType.EQUITY
    core.run(core.calls.symbol_search("S&P 500/x"))
    assert target(core.sent)[1] == "/symbols/search/S%26P%20500%2Fx"
    for bad in (" ", "", None, 5, ".."):
        with pytest.raises(LocalProtocolError):
            core.run(core.calls.symbol_search(bad))  # type: ignore[arg-type]


def test_market_sessions_repeat_the_collections_key() -> None:
    core = Core().answer(items(SESSION_CLOSED)).answer(items())
    (session,) = core.run(core.calls.market_sessions([MarketCollection.EQUITY, "CME"]))
    assert target(core.sent) == (
        "GET",
        "/market-time/sessions/current",
        [("instrument-collections[]", "Equity"), ("instrument-collections[]", "CME")],
    )
    assert isinstance(session, MarketSession)
    assert session.state is MarketState.CLOSED and not session.is_open
    assert session.open_at is None and session.next_session is not None
    assert session.next_session.session_date == date(2026, 2, 18)
    assert session.next_session.open_at == datetime(2026, 2, 18, 14, 30, tzinfo=UTC)
    assert session.previous_session is not None
    assert session.previous_session.close_at_ext == datetime(2026, 2, 14, 1, 0, tzinfo=UTC)
    core.run(core.calls.market_sessions(MarketCollection.CFE))
    assert target(core.sent)[2] == [("instrument-collections[]", "CFE")]
    for bad in ([], 42, [""], [None], None):
        with pytest.raises(LocalProtocolError):
            core.run(core.calls.market_sessions(bad))  # type: ignore[arg-type]


def test_holidays() -> None:
    core = Core().answer(data(CALENDAR)).answer(data(CALENDAR))
    calendar = core.run(core.calls.equity_holidays())
    assert target(core.sent) == ("GET", "/market-time/equities/holidays", [])
    assert isinstance(calendar, MarketCalendar)
    assert calendar.is_holiday(date(2026, 11, 26)) and not calendar.is_holiday(date(2026, 11, 27))
    assert calendar.is_half_day(date(2026, 11, 27))
    core.run(core.calls.futures_holidays(MarketCollection.CME))
    assert target(core.sent) == ("GET", "/market-time/futures/holidays/CME", [])
    for bad in (5, None, "", " "):
        with pytest.raises(LocalProtocolError, match="exchange"):
            core.calls.futures_holidays(bad)  # type: ignore[arg-type]
    for bad in (5, None, " "):
        with pytest.raises(LocalProtocolError, match="symbol"):
            core.calls.dividends(bad)  # type: ignore[arg-type]


# -- quote tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["api_quote_tokens_200.json", "api_quote_tokens_200_sandbox.json"])
def test_quote_token_from_the_samples_keeps_the_token_out_of_repr(name: str) -> None:
    core = Core().answer_sample(name)
    token = core.run(core.calls.quote_token())
    assert target(core.sent) == ("GET", "/api-quote-tokens", [])
    assert isinstance(token, QuoteToken) and token.token == "FAKE-QUOTE-TOKEN"
    assert token.dxlink_url is not None and token.dxlink_url.startswith("wss://")
    assert "FAKE-QUOTE-TOKEN" not in repr(token) and "FAKE-QUOTE-TOKEN" not in str(token)
    assert token.expires() is None and not token.is_expired(datetime(2100, 1, 1, tzinfo=UTC))


def test_quote_token_expiry_falls_back_on_the_issue_time() -> None:
    issued = {"token": "T", "issued-at": "2026-09-21T12:00:00.000Z"}
    token = QuoteToken.from_json(issued)
    assert token.expires() == datetime(2026, 9, 22, 12, 0, tzinfo=UTC)
    assert not token.is_expired(datetime(2026, 9, 22, 11, 59, tzinfo=UTC))
    assert token.is_expired(datetime(2026, 9, 22, 12, 0, tzinfo=UTC))
    explicit = QuoteToken.from_json({**issued, "expires-at": "2026-09-21T13:00:00.000Z"})
    assert explicit.expires() == datetime(2026, 9, 21, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "status, kind", [(404, NotFound), (400, ValidationFailed), (500, ApiError)]
)
def test_quote_token_for_a_non_customer_is_a_typed_api_error(
    status: int, kind: type[ApiError]
) -> None:
    core = Core().answer_sample("error_quote_streamer_customer_not_found.json", status=status)
    with pytest.raises(kind) as caught:
        core.run(core.calls.quote_token())
    assert caught.value.code == QUOTE_STREAMER_CUSTOMER_NOT_FOUND
    assert caught.value.status == status
    assert "customer" in (caught.value.api_message or "")


# -- the fake, in process -------------------------------------------------------------------


class InProcess:
    """A logged-in Operations whose requests go straight into a fake API at a given time."""

    def __init__(self, when: datetime, api: FakeTastytradeAPI | None = None) -> None:
        self.clock = FakeClock(when.timestamp())
        self.api = api or FakeTastytradeAPI(clock=self.clock)
        self.api.clock = self.clock
        self.calls = Operations(
            TransportSettings.resolve(base_url="http://fake.invalid"),
            entropy=lambda n: bytes(range(n)),
        )

    def login(self, refresh_token: str = DEMO_REFRESH_TOKEN) -> InProcess:
        self.run(self.calls.login_with_oauth(DEMO_CLIENT_SECRET, refresh_token))
        return self

    def run(self, op: Operation[T]) -> T:
        return drive(
            op, lambda r: self.api.handle(r).response, clock=self.clock, sleep=self.clock.sleep
        )


def _session(when: datetime, collection: str = "Equity") -> MarketSession:
    fake = InProcess(when).login()
    (found,) = fake.run(fake.calls.market_sessions([collection]))
    return found


@pytest.mark.parametrize(
    "when, state",
    [
        (datetime(2026, 9, 22, 12, 30, tzinfo=UTC), MarketState.PRE_MARKET),  # 08:30 EDT
        (datetime(2026, 9, 22, 14, 0, tzinfo=UTC), MarketState.OPEN),  # 10:00 EDT
        (datetime(2026, 9, 22, 21, 30, tzinfo=UTC), MarketState.EXTENDED),  # 17:30 EDT
        (datetime(2026, 9, 23, 1, 30, tzinfo=UTC), MarketState.CLOSED),  # 21:30 EDT
        (datetime(2026, 12, 1, 14, 20, tzinfo=UTC), MarketState.PRE_MARKET),  # 09:20 EST
        (datetime(2026, 12, 1, 14, 40, tzinfo=UTC), MarketState.OPEN),  # 09:40 EST
    ],
)
def test_fake_equity_session_state_follows_new_york_time(
    when: datetime, state: MarketState
) -> None:
    session = _session(when)
    assert session.state is state
    assert session.is_open == (state is MarketState.OPEN)
    assert (session.open_at is None) == (state is MarketState.CLOSED)


def test_fake_weekend_is_closed_between_friday_and_monday() -> None:
    session = _session(datetime(2026, 9, 26, 16, 0, tzinfo=UTC))  # a Saturday
    assert session.state is MarketState.CLOSED and session.open_at is None
    assert session.previous_session is not None and session.next_session is not None
    assert session.previous_session.session_date == date(2026, 9, 25)
    assert session.next_session.session_date == date(2026, 9, 28)
    assert session.next_session.open_at == datetime(2026, 9, 28, 13, 30, tzinfo=UTC)


def test_fake_holidays_and_half_days_shape_the_sessions() -> None:
    thanksgiving = _session(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    assert thanksgiving.state is MarketState.CLOSED
    assert thanksgiving.next_session is not None
    assert thanksgiving.next_session.session_date == date(2026, 11, 27)
    assert thanksgiving.next_session.close_at == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    fake = InProcess(datetime(2026, 11, 26, 15, 0, tzinfo=UTC)).login()
    calendar = fake.run(fake.calls.equity_holidays())
    assert calendar.is_holiday(date(2026, 11, 26)) and calendar.is_half_day(date(2026, 11, 27))
    assert fake.run(fake.calls.futures_holidays("CME")).is_holiday(date(2026, 12, 25))
    with pytest.raises(NotFound):
        fake.run(fake.calls.futures_holidays("NOPE"))


def test_fake_cme_opens_sunday_evening() -> None:
    session = _session(datetime(2026, 9, 27, 23, 30, tzinfo=UTC), "CME")  # Sunday 19:30 EDT
    assert session.state is MarketState.OPEN
    assert session.open_at == datetime(2026, 9, 27, 22, 0, tzinfo=UTC)
    assert session.close_at == datetime(2026, 9, 28, 21, 0, tzinfo=UTC)
    assert session.session_date == date(2026, 9, 28) and session.close_at_ext is None


def test_fake_refuses_an_unknown_collection() -> None:
    fake = InProcess(datetime(2026, 9, 22, 14, 0, tzinfo=UTC)).login()
    with pytest.raises(ValidationFailed):
        fake.run(fake.calls.market_sessions(["Moon"]))


def test_fake_quotes_are_deterministic_and_consistent() -> None:
    when = datetime(2026, 9, 22, 14, 0, tzinfo=UTC)
    symbols = {
        "equities": ["AAPL", "NOPE"],
        "equity_options": ["SPY   261218C00600000", "SPY   261218P00600000"],
        "futures": ["/ESZ6"],
        "future_options": ["./ESZ6 EW4Z6 261218C6000"],
        "cryptocurrencies": ["BTC/USD"],
        "indices": ["SPX"],
    }
    first = InProcess(when).login()
    quotes = {q.symbol: q for q in first.run(first.calls.market_data(**symbols))}
    again = InProcess(when).login()
    assert [q.raw for q in again.run(again.calls.market_data(**symbols))] == [
        q.raw for q in quotes.values()
    ]
    assert "NOPE" not in quotes and len(quotes) == 7
    for quote in quotes.values():
        assert quote.bid is not None and quote.ask is not None and quote.mark is not None
        assert quote.bid <= quote.mark <= quote.ask
        assert quote.updated_at == when
    assert quotes["AAPL"].last == Decimal("189.91")  # the demo position's close price
    call, put = quotes["SPY   261218C00600000"], quotes["SPY   261218P00600000"]
    assert call.delta is not None and put.delta is not None
    assert 0 < call.delta < 1 and -1 < put.delta < 0
    assert call.instrument_type is InstrumentType.EQUITY_OPTION
    assert quotes["/ESZ6"].mark == Decimal("6020.50")
    assert quotes["./ESZ6 EW4Z6 261218C6000"].instrument_type is InstrumentType.FUTURE_OPTION
    # The quoted marks are the prices the fake's orders fill at.
    assert call.mark == first.api.mark("SPY   261218C00600000")
    assert quotes["BTC/USD"].mark == first.api.mark("BTC/USD")
    # Closer to expiry the same call is worth less in theory.
    later = InProcess(when + timedelta(days=60)).login()
    (late_call,) = later.run(later.calls.market_data(equity_options=["SPY   261218C00600000"]))
    assert late_call.theo_price is not None and call.theo_price is not None
    assert late_call.theo_price < call.theo_price


def test_fake_quotes_follow_the_marks_orders_fill_at() -> None:
    fake = InProcess(datetime(2026, 9, 22, 14, 0, tzinfo=UTC)).login()
    fake.api.set_mark("AAPL", "201.50")
    fake.api.set_mark("TSLA", "300")
    quotes = fake.run(fake.calls.market_data(equities=["AAPL", "TSLA"]))
    assert [(q.symbol, q.mark, q.bid, q.ask) for q in quotes] == [
        ("AAPL", Decimal("201.50"), Decimal("201.49"), Decimal("201.51")),
        ("TSLA", Decimal("300"), Decimal("299.99"), Decimal("300.01")),
    ]


def test_fake_refuses_more_than_one_hundred_symbols_too() -> None:
    fake = InProcess(datetime(2026, 9, 22, 14, 0, tzinfo=UTC)).login()
    params = {"equity": ",".join(["AAPL"] * 101)}
    op = build_call(fake.calls, "GET", "/market-data/by-type", items_of(MarketData), params=params)
    with pytest.raises(ValidationFailed):
        fake.run(op)


def test_fake_metrics_dividends_earnings_search() -> None:
    fake = InProcess(datetime(2026, 9, 22, 14, 0, tzinfo=UTC)).login()
    metrics = fake.run(fake.calls.market_metrics(["AAPL", "SPY", "NOPE"]))
    assert [m.symbol for m in metrics] == ["AAPL", "SPY"]
    assert metrics[0].earnings is not None
    assert metrics[0].earnings.expected_report_date == date(2026, 10, 30)
    assert len(metrics[0].option_expiration_implied_volatilities) == 3
    assert metrics[1].market_cap is None
    dividends = fake.run(fake.calls.dividends("AAPL"))
    assert dividends[0].occurred_date == date(2026, 8, 10)
    assert all(d.occurred_date <= date(2026, 9, 22) for d in dividends)
    assert fake.run(fake.calls.dividends("TSLA")) == []
    earnings = fake.run(fake.calls.earnings("AAPL", start_date=date(2026, 1, 1)))
    assert [e.occurred_date for e in earnings] == [date(2026, 3, 31), date(2026, 6, 30)]
    assert fake.run(fake.calls.risk_free_rate()) == Decimal("0.0425")
    found = fake.run(fake.calls.symbol_search("spy"))
    assert found[0].symbol == "SPY" and found[0].description == "SPDR S&P 500 ETF Trust"
    assert [r.symbol for r in fake.run(fake.calls.symbol_search("BRK/"))] == ["BRK/B"]


def test_fake_quote_tokens_rotate_and_last_a_day() -> None:
    when = datetime(2026, 9, 22, 14, 0, tzinfo=UTC)
    fake = InProcess(when).login()
    first = fake.run(fake.calls.quote_token())
    second = fake.run(fake.calls.quote_token())
    assert first.token != second.token
    assert first.level == "api" and first.dxlink_url == "wss://tasty-openapi-ws.dxfeed.com/realtime"
    assert first.issued_at == when and first.expires_at == when + timedelta(hours=24)


def test_fake_quote_token_for_a_user_without_accounts() -> None:
    when = datetime(2026, 9, 22, 14, 0, tzinfo=UTC)
    api = FakeTastytradeAPI(clock=FakeClock(when.timestamp()))
    api.add_user("newcomer", "pw")
    api.add_oauth_grant("newcomer", refresh_token="RT-newcomer")
    fake = InProcess(when, api).login("RT-newcomer")
    with pytest.raises(NotFound) as caught:
        fake.run(fake.calls.quote_token())
    assert caught.value.code == QUOTE_STREAMER_CUSTOMER_NOT_FOUND


# -- any JSON either parses or raises a library error ---------------------------------------------

MODELS: list[tuple[type[Any], Any]] = [
    (MarketData, AAPL_QUOTE),
    (MarketData, OPTION_QUOTE),
    (MarketMetrics, sample("market_metrics_200.json")["data"]["items"][0]),
    (Dividend, {"occurred-date": "2026-08-10", "amount": "0.26"}),
    (EarningsReport, {"occurred-date": "2025-06-30", "eps": "1.57"}),
    (SymbolSearchResult, {"symbol": "AAPL", "description": "Apple Inc.", "options": True}),
    (MarketSession, SESSION_CLOSED),
    (MarketCalendar, CALENDAR),
    (QuoteToken, sample("api_quote_tokens_200.json")["data"]),
]
