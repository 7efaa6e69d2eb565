"""The instruments area: each endpoint's exact request, its models, and the symbol helpers."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastytrade_proto import DecodeError, LocalProtocolError, NotFound
from tastytrade_proto.accounts import InstrumentType
from tastytrade_proto.instruments import (
    CompactOptionChain,
    Cryptocurrency,
    Equity,
    EquityOption,
    Future,
    FutureOption,
    FutureOptionProduct,
    FutureProduct,
    Lendability,
    NestedFutureOptionChain,
    NestedOptionChain,
    OptionType,
    QuantityDecimalPrecision,
    TickSize,
    Warrant,
    occ_symbol,
    occ_to_streamer,
    parse_occ,
    streamer_to_occ,
    tick_size_for,
)
from tastytrade_proto.testing.fake.instruments import nested_chain

from .conftest import sample
from .core import Core, data, items, target

# -- bodies for the endpoints without a sample file (shapes from real fixtures, values ours) --

OPTION_PRODUCT = {
    "root-symbol": "EW4",
    "code": "EW4",
    "cash-settled": False,
    "clearing-code": "W4",
    "clearing-exchange-code": "9C",
    "clearing-price-multiplier": "1.0",
    "display-factor": "0.01",
    "exchange": "CME",
    "product-type": "Physical",
    "expiration-type": "Weekly",
    "settlement-delay-days": 0,
    "is-rollover": True,
    "market-sector": "Equity Index",
}
FUTURE_OPTION = {
    "symbol": "./ESZ6 EW4Z6 261225C6000",
    "underlying-symbol": "/ESZ6",
    "product-code": "ES",
    "expiration-date": "2026-12-25",
    "root-symbol": "/ES",
    "option-root-symbol": "EW4",
    "strike-price": "6000.0",
    "exchange": "CME",
    "exchange-symbol": "EW4Z6 C6000",
    "streamer-symbol": "./EW4Z26C6000:XCME",
    "option-type": "C",
    "exercise-style": "American",
    "multiplier": "1.0",
    "notional-value": "0.5",
    "days-to-expiration": 31,
    "stops-trading-at": "2026-12-25T21:00:00.000+00:00",
    "active": True,
    "future-option-product": OPTION_PRODUCT,
}
NESTED_FUTURES_CHAIN = {
    "futures": [
        {
            "symbol": "/ESZ6",
            "root-symbol": "/ES",
            "expiration-date": "2026-12-18",
            "days-to-expiration": 24,
            "active-month": True,
            "next-active-month": False,
            "stops-trading-at": "2026-12-18T14:30:00.000+00:00",
        }
    ],
    "option-chains": [
        {
            "underlying-symbol": "/ES",
            "root-symbol": "/ES",
            "exercise-style": "American",
            "expirations": [
                {
                    "underlying-symbol": "/ESZ6",
                    "option-root-symbol": "EW4",
                    "option-contract-symbol": "EW4Z6",
                    "expiration-date": "2026-12-25",
                    "days-to-expiration": 31,
                    "notional-value": "0.5",
                    "tick-sizes": [{"value": "0.05", "threshold": "5.0"}, {"value": "0.25"}],
                    "strikes": [
                        {
                            "strike-price": "6000.0",
                            "call": "./ESZ6 EW4Z6 261225C6000",
                            "call-streamer-symbol": "./EW4Z26C6000:XCME",
                            "put": "./ESZ6 EW4Z6 261225P6000",
                            "put-streamer-symbol": "./EW4Z26P6000:XCME",
                        }
                    ],
                }
            ],
        }
    ],
}
COMPACT_CHAIN = {
    "underlying-symbol": "AAPL",
    "root-symbol": "AAPL",
    "option-chain-type": "Standard",
    "settlement-type": "PM",
    "shares-per-contract": 100,
    "expiration-type": "Regular",
    "deliverables": [{"id": 1, "amount": "100.0", "deliverable-type": "Shares"}],
    "symbols": ["AAPL  261218C00190000", "AAPL  261218P00190000"],
    "streamer-symbols": [".AAPL261218C190", ".AAPL261218P190"],
}
CRYPTO = {
    "id": 5,
    "symbol": "BTC/USD",
    "instrument-type": "Cryptocurrency",
    "short-description": "Bitcoin",
    "description": "Bitcoin to USD",
    "is-closing-only": False,
    "active": True,
    "tick-size": "0.01",
    "streamer-symbol": "BTC/USD:CXTALP",
    "destination-venue-symbols": [
        {
            "id": 78,
            "symbol": "BTC/USD",
            "destination-venue": "ZERO_HASH_CLOB",
            "max-quantity-precision": 8,
            "max-price-precision": 2,
            "routable": True,
        },
        {"id": 19, "symbol": "BTC", "destination-venue": "Zero Hash", "routable": False},
    ],
}
WARRANT = {
    "symbol": "NKLAW",
    "instrument-type": "Warrant",
    "listed-market": "XNAS",
    "description": "NIKOLA CORP WARRANT",
    "is-closing-only": False,
    "active": True,
}
PRECISIONS = [
    {
        "instrument-type": "Cryptocurrency",
        "symbol": "ETH/USD",
        "value": 8,
        "minimum-increment-precision": 6,
    },
    {"instrument-type": "Equity", "value": 5, "minimum-increment-precision": 0},
]


def _future_product() -> dict[str, Any]:
    product: dict[str, Any] = sample("instruments_futures_200.json")["data"]["items"][0][
        "future-product"
    ]
    return {**product, "option-products": [OPTION_PRODUCT]}


# -- equities ------------------------------------------------------------------------------


def test_equity() -> None:
    core = Core().answer_sample("instruments_equities_AAPL_200.json")
    equity = core.run(core.calls.equity("AAPL"))
    assert target(core.sent) == ("GET", "/instruments/equities/AAPL", [])
    assert isinstance(equity, Equity) and equity.id == 726
    assert equity.lendability is Lendability.EASY_TO_BORROW
    assert equity.borrow_rate == Decimal("0.0") and equity.is_etf is False
    assert equity.tick_sizes == (
        TickSize(Decimal("0.0001"), Decimal("1.0")),
        TickSize(Decimal("0.01")),
    )
    assert tick_size_for(Decimal("0.57"), equity.tick_sizes) == Decimal("0.0001")
    assert tick_size_for(Decimal("187.25"), equity.tick_sizes) == Decimal("0.01")
    assert tick_size_for(Decimal("-2.5"), equity.option_tick_sizes) == Decimal("0.01")
    assert tick_size_for(Decimal("3.0"), equity.option_tick_sizes) == Decimal("0.05")


def test_tick_size_for_a_price_past_every_threshold_is_unknown() -> None:
    ticks = (TickSize(Decimal("0.01"), Decimal("3.0")),)
    assert tick_size_for(Decimal("2.99"), ticks) == Decimal("0.01")
    assert tick_size_for(Decimal("3.0"), ticks) is None
    assert tick_size_for(Decimal(1), ()) is None


def test_a_slash_in_a_symbol_stays_in_its_path_segment() -> None:
    row = dict(sample("instruments_equities_AAPL_200.json")["data"], symbol="BRK/B")
    core = Core().answer(data(row))
    assert core.run(core.calls.equity("BRK/B")).symbol == "BRK/B"
    assert target(core.sent)[1] == "/instruments/equities/BRK%2FB"


def test_equities_and_their_filters() -> None:
    row = sample("instruments_equities_AAPL_200.json")["data"]
    core = Core().answer(items(row)).answer(items(row))
    found = core.run(
        core.calls.equities(
            ["AAPL", "BRK/B"], lendability=Lendability.EASY_TO_BORROW, is_index=False, is_etf=True
        )
    )
    assert [e.symbol for e in found] == ["AAPL"]
    assert target(core.sent) == (
        "GET",
        "/instruments/equities",
        [
            ("symbol[]", "AAPL"),
            ("symbol[]", "BRK/B"),
            ("lendability", "Easy To Borrow"),
            ("is-index", "false"),
            ("is-etf", "true"),
        ],
    )
    assert "symbol%5B%5D=BRK%2FB" in core.sent.url or "symbol[]=BRK%2FB" in core.sent.url
    core.run(core.calls.equities("AAPL"))  # one symbol, not four letters
    assert target(core.sent)[2] == [("symbol[]", "AAPL")]


def test_lists_take_one_string_as_one_value_and_any_iterable() -> None:
    core = Core().answer(items()).answer(items()).answer(items())
    core.run(core.calls.futures("/ESZ6", product_codes="ES"))
    assert target(core.sent)[2] == [("symbol[]", "/ESZ6"), ("product-code[]", "ES")]
    core.run(core.calls.warrants(s for s in ("A", "B")))
    assert target(core.sent)[2] == [("symbol[]", "A"), ("symbol[]", "B")]
    core.run(core.calls.equity_options(("SPY   261218C00600000",)))
    assert target(core.sent)[2] == [("symbol[]", "SPY   261218C00600000")]


def test_active_equities_page_by_page() -> None:
    row = sample("instruments_equities_AAPL_200.json")["data"]

    def page(offset: int, symbol: str) -> dict[str, Any]:
        body = items(dict(row, symbol=symbol))
        body["pagination"] = {"page-offset": offset, "total-pages": 2, "per-page": 1}
        return body

    core = Core().answer(page(0, "AAPL")).answer(page(1, "MSFT"))
    found = core.run(core.calls.active_equities(per_page=1, lendability="Preborrow").all())
    assert [e.symbol for e in found] == ["AAPL", "MSFT"]
    assert [target(r) for r in core.http.requests] == [
        (
            "GET",
            "/instruments/equities/active",
            [("lendability", "Preborrow"), ("per-page", "1"), ("page-offset", str(offset))],
        )
        for offset in (0, 1)
    ]


# -- equity options and chains -------------------------------------------------------------


def test_equity_option() -> None:
    core = Core().answer_sample("instruments_equity_option_200.json")
    option = core.run(core.calls.equity_option("AAPL  230616C00185000", active=True))
    assert target(core.sent) == (
        "GET",
        "/instruments/equity-options/AAPL%20%20230616C00185000",
        [("active", "true")],
    )
    assert option.option_type is OptionType.CALL
    assert option.strike_price == Decimal("185.0")
    assert option.expiration_date == date(2023, 6, 16)
    assert option.expires_at == datetime(2023, 6, 16, 20, tzinfo=timezone.utc)
    assert option.days_to_expiration == 6 and option.shares_per_contract == 100
    assert option.instrument_type is InstrumentType.EQUITY_OPTION
    assert option.streamer_symbol == occ_to_streamer(option.symbol) == ".AAPL230616C185"


def test_equity_options_list_form() -> None:
    row = sample("instruments_equity_option_200.json")["data"]
    core = Core().answer(
        items(row, dict(row, symbol="AAPL  230616P00185000", **{"option-type": "P"}))
    )
    found = core.run(
        core.calls.equity_options(
            ["AAPL  230616C00185000", "AAPL  230616P00185000"], active=False, with_expired=True
        )
    )
    assert [o.option_type for o in found] == [OptionType.CALL, OptionType.PUT]
    method, path, query = target(core.sent)
    assert (method, path) == ("GET", "/instruments/equity-options")
    assert query == [
        ("symbol[]", "AAPL  230616C00185000"),
        ("symbol[]", "AAPL  230616P00185000"),
        ("active", "false"),
        ("with-expired", "true"),
    ]
    assert "%20%20230616P" in core.sent.url


def test_option_chain_as_full_instruments() -> None:
    row = sample("instruments_equity_option_200.json")["data"]
    core = Core().answer(items(row, row))
    found = core.run(core.calls.option_chain("AAPL"))
    assert target(core.sent) == ("GET", "/option-chains/AAPL", [])
    assert len(found) == 2 and all(isinstance(o, EquityOption) for o in found)


def test_nested_option_chain() -> None:
    core = Core().answer_sample("option_chains_SPY_nested_200.json")
    chains = core.run(core.calls.nested_option_chain("SPY"))
    assert target(core.sent) == ("GET", "/option-chains/SPY/nested", [])
    (chain,) = chains
    assert chain.underlying_symbol == "SPY" and chain.shares_per_contract == 100
    assert chain.tick_sizes == (TickSize(Decimal("0.01")),)
    assert chain.deliverables[0].amount == Decimal("100.0")
    assert chain.deliverables[0].instrument_type is InstrumentType.EQUITY
    first = chain.expirations[0]
    assert first.expiration_date == date(2026, 8, 4) and first.days_to_expiration == 0
    assert first.expiration_type == "Weekly" and first.settlement_type == "PM"
    strike = first.strikes[1]
    assert strike.strike_price == Decimal("505.0")
    assert strike.call == "SPY   260804C00505000"
    assert strike.put_streamer_symbol == ".SPY260804P505"
    assert streamer_to_occ(strike.call_streamer_symbol or "") == strike.call


def test_a_misfit_deep_in_a_chain_names_where_it_is() -> None:
    body = sample("option_chains_SPY_nested_200.json")
    body["data"]["items"][0]["expirations"][2]["strikes"][1]["strike-price"] = "lots"
    core = Core().answer(body)
    with pytest.raises(
        DecodeError, match=r"data.items\[0\].expirations\[2\].strikes\[1\].strike-price"
    ):
        core.run(core.calls.nested_option_chain("SPY"))


def test_compact_option_chain() -> None:
    core = Core().answer(items(COMPACT_CHAIN))
    (chain,) = core.run(core.calls.compact_option_chain("AAPL"))
    assert target(core.sent) == ("GET", "/option-chains/AAPL/compact", [])
    assert isinstance(chain, CompactOptionChain)
    assert chain.symbols == ("AAPL  261218C00190000", "AAPL  261218P00190000")
    assert chain.streamer_symbols == tuple(occ_to_streamer(s) for s in chain.symbols)


# -- futures -------------------------------------------------------------------------------


def test_futures_by_symbol_or_product_code() -> None:
    core = Core().answer_sample("instruments_futures_200.json")
    (future,) = core.run(core.calls.futures(["/ESM3"], product_codes=["ES", "CL"]))
    assert target(core.sent) == (
        "GET",
        "/instruments/futures",
        [("symbol[]", "/ESM3"), ("product-code[]", "ES"), ("product-code[]", "CL")],
    )
    assert future.symbol == "/ESM3" and future.streamer_symbol == "/ESM23:XCME"
    assert future.notional_multiplier == Decimal("50.0")
    assert future.expiration_date == date(2023, 6, 16)
    assert future.future_etf_equivalent is not None
    assert future.future_etf_equivalent.share_quantity == 501
    product = future.future_product
    assert product is not None and product.listed_months == ("H", "M", "U", "Z")
    assert product.roll is not None and product.roll.business_days_offset == 4
    assert [t.symbol for t in future.spread_tick_sizes] == ["/ESU3", "/ESZ3"]
    assert tick_size_for(Decimal("6.0"), future.option_tick_sizes) == Decimal("0.25")


def test_future_encodes_its_leading_slash() -> None:
    row = sample("instruments_futures_200.json")["data"]["items"][0]
    core = Core().answer(data(row))
    assert core.run(core.calls.future("/ESM3")).product_code == "ES"
    assert target(core.sent) == ("GET", "/instruments/futures/%2FESM3", [])


def test_future_products() -> None:
    core = Core().answer(items(_future_product())).answer(data(_future_product()))
    (product,) = core.run(core.calls.future_products())
    assert target(core.sent) == ("GET", "/instruments/future-products", [])
    assert isinstance(product, FutureProduct) and product.root_symbol == "/ES"
    assert product.option_products[0].code == "EW4"
    assert core.run(core.calls.future_product("CME", "/ES")).code == "ES"
    assert target(core.sent) == ("GET", "/instruments/future-products/CME/ES", [])


def test_future_option_products() -> None:
    core = Core().answer(items(OPTION_PRODUCT)).answer(data(OPTION_PRODUCT))
    (product,) = core.run(core.calls.future_option_products())
    assert target(core.sent) == ("GET", "/instruments/future-option-products", [])
    assert product.clearing_price_multiplier == Decimal("1.0")
    assert product.settlement_delay_days == 0 and product.is_rollover is True
    found = core.run(core.calls.future_option_product("CME", "EW4"))
    assert isinstance(found, FutureOptionProduct)
    assert target(core.sent) == ("GET", "/instruments/future-option-products/CME/EW4", [])


def test_future_option_encodes_slash_and_spaces() -> None:
    core = Core().answer(data(FUTURE_OPTION))
    option = core.run(core.calls.future_option("./ESZ6 EW4Z6 261225C6000"))
    assert target(core.sent) == (
        "GET",
        "/instruments/future-options/.%2FESZ6%20EW4Z6%20261225C6000",
        [],
    )
    assert option.option_type is OptionType.CALL and option.strike_price == Decimal("6000.0")
    assert option.future_option_product is not None
    assert option.future_option_product.root_symbol == "EW4"


def test_future_options_list_form() -> None:
    core = Core().answer(items(FUTURE_OPTION))
    found = core.run(core.calls.future_options(["./ESZ6 EW4Z6 261225C6000"]))
    assert target(core.sent) == (
        "GET",
        "/instruments/future-options",
        [("symbol[]", "./ESZ6 EW4Z6 261225C6000")],
    )
    assert [o.underlying_symbol for o in found] == ["/ESZ6"]


def test_future_option_chains() -> None:
    core = Core().answer(data(NESTED_FUTURES_CHAIN)).answer(items(FUTURE_OPTION))
    chain = core.run(core.calls.nested_future_option_chain("/ES"))
    assert target(core.sent) == ("GET", "/futures-option-chains/ES/nested", [])
    assert isinstance(chain, NestedFutureOptionChain)
    assert chain.futures[0].active_month is True
    expiration = chain.option_chains[0].expirations[0]
    assert expiration.option_contract_symbol == "EW4Z6"
    assert expiration.expiration_date == date(2026, 12, 25)
    assert expiration.strikes[0].put == "./ESZ6 EW4Z6 261225P6000"
    assert tick_size_for(Decimal("4.95"), expiration.tick_sizes) == Decimal("0.05")
    (option,) = core.run(core.calls.future_option_chain("ES"))
    assert target(core.sent) == ("GET", "/futures-option-chains/ES", [])
    assert option.symbol == expiration.strikes[0].call


# -- crypto, warrants, precisions ----------------------------------------------------------


def test_cryptocurrencies() -> None:
    core = Core().answer(items(CRYPTO)).answer(data(CRYPTO))
    (crypto,) = core.run(core.calls.cryptocurrencies(["BTC/USD"]))
    assert target(core.sent) == ("GET", "/instruments/cryptocurrencies", [("symbol[]", "BTC/USD")])
    assert crypto.tick_size == Decimal("0.01")
    assert crypto.destination_venue_symbols[0].max_quantity_precision == 8
    assert crypto.destination_venue_symbols[1].max_price_precision is None
    assert core.run(core.calls.cryptocurrency("BTC/USD")).streamer_symbol == "BTC/USD:CXTALP"
    assert target(core.sent) == ("GET", "/instruments/cryptocurrencies/BTC%2FUSD", [])


def test_all_cryptocurrencies_send_no_filter() -> None:
    core = Core().answer(items(CRYPTO))
    core.run(core.calls.cryptocurrencies())
    assert target(core.sent) == ("GET", "/instruments/cryptocurrencies", [])


def test_warrants() -> None:
    core = Core().answer(items(WARRANT)).answer(data(WARRANT))
    (warrant,) = core.run(core.calls.warrants())
    assert target(core.sent) == ("GET", "/instruments/warrants", [])
    assert warrant.instrument_type is InstrumentType.WARRANT and warrant.cusip is None
    assert isinstance(core.run(core.calls.warrant("NKLAW")), Warrant)
    assert target(core.sent) == ("GET", "/instruments/warrants/NKLAW", [])


def test_quantity_decimal_precisions() -> None:
    core = Core().answer(items(*PRECISIONS))
    found = core.run(core.calls.quantity_decimal_precisions())
    assert target(core.sent) == ("GET", "/instruments/quantity-decimal-precisions", [])
    assert found[0] == QuantityDecimalPrecision(InstrumentType.CRYPTOCURRENCY, "ETH/USD", 8, 6)
    assert found[1].symbol is None and found[1].value == 5


# -- what is refused before sending, and API errors ----------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.equity(""),
        lambda c: c.future("  "),
        lambda c: c.future_product("CME", "/"),
        lambda c: c.nested_future_option_chain(""),
        lambda c: c.equities(["AAPL", 7]),
        lambda c: c.warrant(None),
        # lists: a non-iterable is a LocalProtocolError (it was a raw TypeError)
        lambda c: c.equities(5),
        lambda c: c.futures(5),
        lambda c: c.futures(product_codes=5),
        lambda c: c.equity_options(5),
        lambda c: c.future_options(b"./ESZ6 EW4Z6 261218C6000"),
        lambda c: c.cryptocurrencies({"BTC/USD": 1}),
        # an empty list is refused: never silently sent as "no filter"
        lambda c: c.equities([]),
        lambda c: c.futures([]),
        lambda c: c.futures(product_codes=[]),
        lambda c: c.cryptocurrencies(()),
        lambda c: c.warrants([]),
        lambda c: c.equity_options([]),
        lambda c: c.future_options([]),
        # lists that must be given
        lambda c: c.equity_options(None),
        lambda c: c.future_options(None),
        # path segments: a non-string is refused, not turned into text
        lambda c: c.equity(5),
        lambda c: c.future_product(5, "ES"),
        lambda c: c.future_option_product("CME", None),
        lambda c: c.cryptocurrency(".."),
        # page sizes
        lambda c: c.active_equities(per_page=True),
        lambda c: c.active_equities(per_page=0),
        lambda c: c.active_equities(per_page=1_000_000),
        lambda c: c.active_equities(per_page="10"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(call: Any) -> None:
    core = Core()
    with pytest.raises(LocalProtocolError):
        call(core.calls)
    assert core.http.requests == []


def test_an_unknown_symbol_is_a_not_found() -> None:
    body = {"error": {"code": "record_not_found", "message": "Equity NOPE not found"}}
    core = Core().answer(body, status=404)
    with pytest.raises(NotFound):
        core.run(core.calls.equity("NOPE"))


# -- symbols -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parts, occ, streamer",
    [
        (("SPY", date(2026, 12, 18), "C", Decimal(600)), "SPY   261218C00600000", ".SPY261218C600"),
        (("AAPL", date(2027, 1, 15), "P", "182.5"), "AAPL  270115P00182500", ".AAPL270115P182.5"),
        (("F", date(2026, 6, 18), OptionType.PUT, 12), "F     260618P00012000", ".F260618P12"),
        (
            ("SPXW", date(2026, 3, 20), "C", Decimal("5650.125")),
            "SPXW  260320C05650125",
            ".SPXW260320C5650.125",
        ),
        (("AAPL1", date(2023, 6, 16), "C", 185), "AAPL1 230616C00185000", ".AAPL1230616C185"),
    ],
)
def test_occ_and_streamer_symbols(parts: tuple[Any, ...], occ: str, streamer: str) -> None:
    assert occ_symbol(*parts) == occ
    assert occ_to_streamer(occ) == streamer
    assert streamer_to_occ(streamer) == occ
    root, expiration, kind, strike = parse_occ(occ)
    assert (root, expiration, kind, strike) == (
        parts[0],
        parts[1],
        OptionType(parts[2]),
        Decimal(parts[3]),
    )


def test_parse_occ_takes_the_collapsed_spacing_of_the_html_docs() -> None:
    assert parse_occ("SPY 230731C00393000") == parse_occ("SPY   230731C00393000")
    assert parse_occ("SPY 230731C00393000").strike == Decimal(393)


@pytest.mark.parametrize(
    "args",
    [
        ("spy", date(2026, 1, 16), "C", 1),
        ("TOOLONGX", date(2026, 1, 16), "C", 1),
        ("SPY", "2026-01-16", "C", 1),
        ("SPY", date(2026, 1, 16), "Call", 1),
        ("SPY", date(2026, 1, 16), "C", 1.5),
        ("SPY", date(2026, 1, 16), "C", "1.0005"),
        ("SPY", date(2026, 1, 16), "C", -5),
        ("SPY", date(2026, 1, 16), "C", 100_000),
        ("SPY", date(2026, 1, 16), "C", "NaN"),
        ("SPY", date(2026, 1, 16), "C", "six"),
        ("SPY", date(2026, 1, 16), "C", True),
        ("SPY", date(1999, 1, 15), "C", 1),
    ],
)
def test_occ_symbol_refuses_what_it_cannot_write(args: tuple[Any, ...]) -> None:
    with pytest.raises(LocalProtocolError):
        occ_symbol(*args)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "SPY",
        "SPY   261318C00600000",
        "SPY   261218X00600000",
        "      261218C00600000",
        "SPY   261218C0060000\u0660",  # an Arabic-Indic zero is a digit to int(), not to OCC
        42,
    ],
)
def test_parse_occ_refuses_what_is_not_one(text: Any) -> None:
    with pytest.raises(LocalProtocolError):
        parse_occ(text)


@pytest.mark.parametrize("text", ["SPY261218C600", ".SPY261218C", ".spy261218C600", "./ESZ6", None])
def test_streamer_to_occ_refuses_what_is_not_one(text: Any) -> None:
    with pytest.raises(LocalProtocolError):
        streamer_to_occ(text)


@given(
    root=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=6),
    expiration=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    kind=st.sampled_from(["C", "P"]),
    thousandths=st.integers(0, 99_999_999),
)
def test_symbols_round_trip(root: str, expiration: date, kind: str, thousandths: int) -> None:
    strike = Decimal(thousandths) / 1000
    occ = occ_symbol(root, expiration, kind, strike)
    assert len(occ) == 21 and occ[:6].rstrip() == root
    assert parse_occ(occ) == (root, expiration, OptionType(kind), strike)
    assert streamer_to_occ(occ_to_streamer(occ)) == occ


@given(text=st.one_of(st.text(max_size=30), st.from_regex(r"\.?[A-Z]{1,7} *\d{6}[CPX]\d{1,9}")))
def test_any_text_is_a_symbol_or_a_library_error(text: str) -> None:
    for convert in (parse_occ, occ_to_streamer, streamer_to_occ):
        with contextlib.suppress(LocalProtocolError):
            convert(text)


# -- the fake's chain generator ------------------------------------------------------------


def test_nested_chain_makes_the_size_asked_for_the_same_way_each_time() -> None:
    start = date(2026, 9, 21)
    chain = nested_chain("SPY", 50, 100, start)
    assert chain == nested_chain("SPY", 50, 100, start)
    parsed = NestedOptionChain.from_json(chain)
    days = [e.expiration_date for e in parsed.expirations]
    assert len(days) == 50 and days == sorted(set(days)) and days[0] > start
    assert all(len(e.strikes) == 100 for e in parsed.expirations)
    assert all(d.weekday() < 5 for d in days)
    assert {e.days_to_expiration for e in parsed.expirations} == {(d - start).days for d in days}
    strikes = [s for e in parsed.expirations for s in e.strikes]
    assert all(parse_occ(s.call or "").strike == s.strike_price for s in strikes)
    assert all(occ_to_streamer(s.put or "") == s.put_streamer_symbol for s in strikes)
    regular = [e for e in parsed.expirations if e.expiration_type == "Regular"]
    assert regular and all(e.expiration_date.weekday() == 4 for e in regular)


# -- every model: any JSON parses or raises a library error -------------------------------

MODELS: list[tuple[type[Any], Any]] = [
    (Equity, sample("instruments_equities_AAPL_200.json")["data"]),
    (EquityOption, sample("instruments_equity_option_200.json")["data"]),
    (NestedOptionChain, sample("option_chains_SPY_nested_200.json")["data"]["items"][0]),
    (CompactOptionChain, COMPACT_CHAIN),
    (Future, sample("instruments_futures_200.json")["data"]["items"][0]),
    (FutureProduct, _future_product()),
    (FutureOptionProduct, OPTION_PRODUCT),
    (FutureOption, FUTURE_OPTION),
    (NestedFutureOptionChain, NESTED_FUTURES_CHAIN),
    (Cryptocurrency, CRYPTO),
    (Warrant, WARRANT),
    (QuantityDecimalPrecision, PRECISIONS[0]),
]


@pytest.mark.parametrize("kind, good", MODELS, ids=[m.__name__ for m, _ in MODELS])
def test_each_good_body_parses(kind: type[Any], good: Any) -> None:
    assert isinstance(kind.from_json(good), kind)


def test_every_public_name_exists_and_has_a_docstring() -> None:
    from tastytrade_proto import instruments

    undocumented = [n for n in instruments.__all__ if not getattr(instruments, n).__doc__]
    assert undocumented == []
