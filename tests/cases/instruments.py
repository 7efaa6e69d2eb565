"""Instruments-area cases for every transport, against the fake's demo catalog."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

from tastytrade_proto import NotFound
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
    Warrant,
    occ_to_streamer,
    parse_occ,
    tick_size_for,
)
from tastytrade_proto.testing import FakeTastytradeAPI
from tastytrade_proto.testing.fake.instruments import listed_symbols

from . import Case

DEMO_OPTION = "SPY   261218C00600000"  # held short in 5WT00001 (found even once expired)
# The fake lists futures and option chains ahead of its clock, so these move with it.
LISTED = listed_symbols(time.time())
FRONT_ES, ES_OPTION = LISTED["future"], LISTED["future_option"]
UNLISTED_ES_OPTION = ES_OPTION.replace("P6000", "P6001")  # not on the 25-point grid


def _equity(equity: Equity) -> None:
    assert equity.symbol == "BRK/B" and equity.streamer_symbol == "BRK/B"
    assert tick_size_for(Decimal("0.75"), equity.tick_sizes) == Decimal("0.0001")


def _equities(found: list[Equity]) -> None:
    assert [e.symbol for e in found] == ["SPY", "QQQ"]
    assert all(e.is_etf for e in found)


def _hard_to_borrow(found: list[Equity]) -> None:
    assert [(e.symbol, e.lendability) for e in found] == [("BYND", Lendability.LOCATE_REQUIRED)]
    assert found[0].borrow_rate is not None and found[0].borrow_rate > 0


def _active_equities(found: list[Equity]) -> None:
    symbols = [e.symbol for e in found]
    assert len(symbols) == len(set(symbols)) >= 6  # read page by page, three at a time
    assert {"AAPL", "MSFT", "BRK/B", "TSLA"} <= set(symbols)


def _equity_option(option: EquityOption) -> None:
    assert option.symbol == DEMO_OPTION and option.option_type is OptionType.CALL
    assert option.strike_price == Decimal(600) and option.expiration_date == date(2026, 12, 18)
    assert option.streamer_symbol == ".SPY261218C600"


def _equity_options(found: list[EquityOption]) -> None:
    assert [o.option_type for o in found] == [OptionType.CALL, OptionType.PUT]


def _option_chain(found: list[EquityOption]) -> None:
    assert len(found) > 100 and all(o.underlying_symbol == "AAPL" for o in found)
    assert all(o.expiration_date and o.days_to_expiration is not None for o in found)
    assert all(o.streamer_symbol == occ_to_streamer(o.symbol) for o in found)


def _nested_option_chain(found: list[NestedOptionChain], api: FakeTastytradeAPI) -> None:
    (chain,) = found
    assert chain.underlying_symbol == "SPY" and chain.shares_per_contract == 100
    days = [e.expiration_date for e in chain.expirations]
    assert days == sorted(set(days)) and len(days) >= 10
    # The fake's clock, not the import's: the first expiration rolls at midnight in New York.
    assert parse_occ(listed_symbols(api.clock())["equity_option"]).expiration == days[0]
    strikes = chain.expirations[0].strikes
    assert Decimal(600) in {s.strike_price for s in strikes}
    assert all(parse_occ(s.call or "").strike == s.strike_price for s in strikes)


def _compact_option_chain(found: list[CompactOptionChain]) -> None:
    (chain,) = found
    assert len(chain.symbols) == len(chain.streamer_symbols) > 100
    assert chain.streamer_symbols[0] == occ_to_streamer(chain.symbols[0])


def _futures(found: list[Future]) -> None:
    assert [f.product_code for f in found] == ["ES"] * len(found) and len(found) >= 4
    assert found[0].active_month and found[0].roll_target_symbol == found[1].symbol
    assert all(f.streamer_symbol and f.streamer_symbol.endswith(":XCME") for f in found)


def _future(future: Future) -> None:
    assert future.symbol == FRONT_ES and future.notional_multiplier == Decimal(50)
    assert future.future_product is not None and future.future_product.code == "ES"


def _future_products(found: list[FutureProduct]) -> None:
    assert {p.code for p in found} == {"ES", "CL"}


def _future_product(product: FutureProduct) -> None:
    assert product.root_symbol == "/CL" and product.listed_months[0] == "F"
    assert [o.code for o in product.option_products] == ["LO"]


def _future_option_products(found: list[FutureOptionProduct]) -> None:
    assert {p.root_symbol for p in found} >= {"ES", "EW", "LO"}


def _future_option_product(product: FutureOptionProduct) -> None:
    assert product.expiration_type == "End-Of-Month" and product.is_rollover is True


def _future_option(option: FutureOption) -> None:
    assert option.symbol == ES_OPTION and option.option_type is OptionType.PUT
    assert option.underlying_symbol == FRONT_ES and option.strike_price == Decimal(6000)


def _future_options(found: list[FutureOption]) -> None:
    assert [o.symbol for o in found] == [ES_OPTION]


def _nested_future_option_chain(chain: NestedFutureOptionChain) -> None:
    assert chain.futures[0].symbol.startswith("/CL")
    expirations = chain.option_chains[0].expirations
    assert {e.option_root_symbol for e in expirations} == {"LO"}
    assert all(s.call and s.call.startswith("./CL") for e in expirations for s in e.strikes)


def _future_option_chain(found: list[FutureOption]) -> None:
    assert ES_OPTION in {o.symbol for o in found}
    assert all(o.product_code == "ES" for o in found)


def _cryptocurrencies(found: list[Cryptocurrency]) -> None:
    assert [c.symbol for c in found] == ["BTC/USD", "ETH/USD"]


def _cryptocurrency(crypto: Cryptocurrency) -> None:
    assert crypto.symbol == "BTC/USD" and crypto.streamer_symbol == "BTC/USD:CXTALP"


def _warrants(found: list[Warrant]) -> None:
    assert [w.instrument_type for w in found] == [InstrumentType.WARRANT]


def _warrant(warrant: Warrant) -> None:
    assert warrant.symbol == "NKLAW" and warrant.active is True


def _precisions(found: list[QuantityDecimalPrecision]) -> None:
    by_symbol = {p.symbol: p for p in found}
    assert by_symbol["BTC/USD"].value == 8
    assert by_symbol[None].instrument_type is InstrumentType.WARRANT


CASES = [
    Case("equity", ("BRK/B",), check=_equity),
    Case("equity", ("NOPE",), raises=NotFound),
    Case("equities", kwargs={"is_etf": True}, check=_equities),
    Case(
        "equities",
        (["BYND", "AAPL"],),
        {"lendability": Lendability.LOCATE_REQUIRED},
        check=_hard_to_borrow,
    ),
    Case("active_equities", kwargs={"per_page": 3}, check=_active_equities),
    Case("equity_option", (DEMO_OPTION,), check=_equity_option),
    Case("equity_option", ("SPY   261218C00601000",), raises=NotFound),
    Case(
        "equity_options",
        ([DEMO_OPTION, "SPY   261218P00600000", "SPY   261218P00601000"],),
        {"with_expired": True},  # the demo contracts expire on 2026-12-18
        check=_equity_options,
    ),
    Case("option_chain", ("AAPL",), check=_option_chain),
    Case("nested_option_chain", ("SPY",), check=_nested_option_chain),
    Case("compact_option_chain", ("QQQ",), check=_compact_option_chain),
    Case("futures", kwargs={"product_codes": ["ES"]}, check=_futures),
    Case("future", (FRONT_ES,), check=_future),
    Case("future", ("/XXZ6",), raises=NotFound),  # a product the fake never lists
    Case("future_products", check=_future_products),
    Case("future_product", ("CME", "CL"), check=_future_product),
    Case("future_option_products", check=_future_option_products),
    Case("future_option_product", ("CME", "EW"), check=_future_option_product),
    Case("future_option", (ES_OPTION,), check=_future_option),
    Case(
        "future_options", ([ES_OPTION, ES_OPTION.replace("P6000", "P6001")],), check=_future_options
    ),
    Case("nested_future_option_chain", ("/CL",), check=_nested_future_option_chain),
    Case("future_option_chain", ("ES",), check=_future_option_chain),
    Case("cryptocurrencies", check=_cryptocurrencies),
    Case("cryptocurrency", ("BTC/USD",), check=_cryptocurrency),
    Case("warrants", (["NKLAW"],), check=_warrants),
    Case("warrant", ("NKLAW",), check=_warrant),
    Case("quantity_decimal_precisions", check=_precisions),
]
