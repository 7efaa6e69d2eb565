"""The accounts area: each endpoint's exact request, its models read from real samples, and the
fake's side of it (the demo history, its filters and pages, snapshots, net-liq, margin)."""

from __future__ import annotations

import contextlib
import itertools
import math
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastytrade_proto import (
    DecodeError,
    Forbidden,
    LocalProtocolError,
    NotFound,
    TastytradeError,
    ValidationFailed,
)
from tastytrade_proto.accounts import (
    Account,
    Balances,
    Customer,
    InstrumentType,
    Lot,
    MarginReport,
    NetLiqOhlc,
    Position,
    QuantityDirection,
    TotalFees,
    TradingStatus,
    Transaction,
    TransactionType,
)
from tastytrade_proto.protocol import Operation, decode_envelope, drive
from tastytrade_proto.protocol.endpoint import PageIterator, Pager, build_call
from tastytrade_proto.protocol.http import Request, Response
from tastytrade_proto.sessions import Operations, TransportSettings
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FakeClock,
    FakeTastytradeAPI,
)
from tastytrade_proto.testing.fake.accounts import record_transaction

from .conftest import sample
from .core import START, Core, data, items, target
from .strategies import json_values, mutations

T = TypeVar("T")


def test_customer() -> None:
    core = Core().answer_sample("customers_me_200.json")
    customer = core.run(core.calls.customer())
    assert target(core.sent) == ("GET", "/customers/me", [])
    assert customer.address is not None and customer.address.city == "Chicago"
    assert customer.birth_date == date(1900, 1, 1)
    assert "1900" not in repr(customer)  # personal data stays out of logs


def test_accounts_leave_out_closed_ones_unless_asked() -> None:
    rows = sample("customers_me_accounts_200.json")["data"]["items"]
    rows[0]["account"]["is-closed"] = True
    core = Core().answer(items(*rows)).answer(items(*rows))
    assert [a.account_number for a in core.run(core.calls.accounts())] == ["5WT00001", "5WT00002"]
    assert target(core.sent) == ("GET", "/customers/me/accounts", [])
    everything = core.run(core.calls.accounts(include_closed=True))
    assert everything[0].account_number == "5WT00000"
    assert everything[0].opened_at == datetime(2022, 10, 27, 20, 49, 52, 790000, timezone.utc)


def test_one_account() -> None:
    row = sample("customers_me_accounts_200.json")["data"]["items"][1]["account"]
    core = Core().answer(data(row))
    account = core.run(core.calls.account("5WT00001"))
    assert target(core.sent) == ("GET", "/customers/me/accounts/5WT00001", [])
    assert isinstance(account, Account) and account.margin_or_cash == "Margin"


def test_trading_status() -> None:
    core = Core().answer_sample("trading_status_200.json")
    status = core.run(core.calls.trading_status("5WT00000"))
    assert target(core.sent) == ("GET", "/accounts/5WT00000/trading-status", [])
    assert isinstance(status, TradingStatus)
    assert status.is_futures_enabled is True and status.day_trade_count == 0


@pytest.mark.parametrize("name", ["balances_200.json", "balances_200_sandbox_2025.json"])
def test_balances(name: str) -> None:
    core = Core().answer_sample(name)
    balances = core.run(core.calls.balances("5WT00000"))
    assert target(core.sent) == ("GET", "/accounts/5WT00000/balances", [])
    assert isinstance(balances.cash_balance, Decimal)
    assert balances.updated_at is None or balances.updated_at.tzinfo is not None


def test_balances_fold_effects_into_signs_and_keep_unknown_fields() -> None:
    row = dict(sample("balances_200_sandbox_2025.json")["data"])
    row.update({"pending-cash": "12.50", "pending-cash-effect": "Debit", "brand-new": 1})
    core = Core().answer(data(row))
    balances = core.run(core.calls.balances("5WT00000", currency="USD"))
    assert target(core.sent)[1] == "/accounts/5WT00000/balances/USD"
    assert balances.pending_cash == Decimal("-12.50")
    assert balances.raw["brand-new"] == 1


def test_positions_and_their_filters() -> None:
    core = Core().answer_sample("positions_200.json")
    found = core.run(
        core.calls.positions(
            "5WT00000",
            underlying_symbols=["AAPL", "BRK/B"],
            instrument_type=InstrumentType.EQUITY_OPTION,
            include_closed_positions=False,
            net_positions=True,
        )
    )
    assert target(core.sent) == (
        "GET",
        "/accounts/5WT00000/positions",
        [
            ("underlying-symbol[]", "AAPL"),
            ("underlying-symbol[]", "BRK/B"),
            ("instrument-type", "Equity Option"),
            ("include-closed-positions", "false"),
            ("net-positions", "true"),
        ],
    )
    by_symbol = {p.symbol: p for p in found}
    tqqq = by_symbol["TQQQ"]
    assert tqqq.multiplier == Decimal("1.0") and tqqq.quantity == Decimal(742)
    rivn = by_symbol["RIVN  230609P00014000"]
    assert rivn.quantity_direction is QuantityDirection.SHORT
    assert rivn.signed_quantity == Decimal(-40)
    assert rivn.instrument_type is InstrumentType.EQUITY_OPTION


def test_one_underlying_symbol_as_a_string_is_one_value_not_its_letters() -> None:
    core = Core().answer(items()).answer(items())
    core.run(core.calls.positions("5WT00000", underlying_symbols="AAPL", partition_keys="main"))
    assert target(core.sent)[2] == [("underlying-symbol[]", "AAPL"), ("partition-keys[]", "main")]
    core.run(core.calls.positions("5WT00000", underlying_symbols=(s for s in ("SPY", "QQQ"))))
    assert target(core.sent)[2] == [("underlying-symbol[]", "SPY"), ("underlying-symbol[]", "QQQ")]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"underlying_symbols": 5},  # not a list: a LocalProtocolError, not a raw TypeError
        {"underlying_symbols": []},  # empty: refused, never sent as "no filter"
        {"underlying_symbols": ["AAPL", ""]},
        {"underlying_symbols": [b"AAPL"]},
        {"partition_keys": 5},
        {"partition_keys": ()},
    ],
)
def test_positions_refuse_bad_lists(kwargs: dict[str, Any]) -> None:
    core = Core()
    refused_before_sending(core, core.calls.positions, "5WT00000", **kwargs)


def test_positions_with_the_docs_string_quantities() -> None:
    core = Core().answer_sample("positions_200_docs_string_quantity.json")
    found = core.run(core.calls.positions("5WT00000"))
    assert all(isinstance(p.quantity, Decimal) for p in found)


def test_a_new_enum_value_is_kept_not_refused() -> None:
    row = sample("positions_200.json")["data"]["items"][0]
    row["instrument-type"] = "Space Contract"
    position = Position.from_json(row)
    assert position.instrument_type == "Space Contract"
    assert not position.instrument_type.known
    assert InstrumentType.EQUITY.known


def test_a_wrong_type_names_where_it_is() -> None:
    row = sample("positions_200.json")["data"]["items"][0]
    row["average-open-price"] = {"oops": 1}
    core = Core().answer(items(row))
    with pytest.raises(
        DecodeError, match=r"data.items\[0\].average-open-price: expected a decimal"
    ):
        core.run(core.calls.positions("5WT00000"))


UTC = timezone.utc
EASTERN = timezone(timedelta(hours=-4))


def paged(rows: list[Any], offset: int, total_pages: int, per_page: int = 2) -> dict[str, Any]:
    """An envelope with ``data.items`` and a ``pagination`` block."""
    pagination = {"page-offset": offset, "total-pages": total_pages, "per-page": per_page}
    return {"data": {"items": rows}, "context": "/", "pagination": pagination}


def refused_before_sending(core: Core, build: Any, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(LocalProtocolError):
        build(*args, **kwargs)
    assert core.http.requests == []


ACCOUNT_CALLS: list[tuple[str, Any]] = [
    ("account", lambda c, n: c.account(n)),
    ("trading_status", lambda c, n: c.trading_status(n)),
    ("balances", lambda c, n: c.balances(n)),
    ("positions", lambda c, n: c.positions(n)),
    ("balance_snapshots", lambda c, n: c.balance_snapshots(n)),
    ("net_liq", lambda c, n: c.net_liquidating_value_history(n, time_back="1d")),
    ("transactions", lambda c, n: c.transactions(n)),
    ("transaction", lambda c, n: c.transaction(n, 7)),
    ("total_fees", lambda c, n: c.total_fees(n, date(2026, 9, 1))),
    ("margin_requirements", lambda c, n: c.margin_requirements(n)),
]


@pytest.mark.parametrize("call", [c for _, c in ACCOUNT_CALLS], ids=[n for n, _ in ACCOUNT_CALLS])
@pytest.mark.parametrize("bad", ["", "  ", None, 5001, ["5WT00000"], "..", "."])
def test_every_account_endpoint_checks_the_account_number(call: Any, bad: Any) -> None:
    core = Core()
    with pytest.raises(LocalProtocolError, match=r"account_number|path segment"):
        call(core.calls, bad)
    assert core.http.requests == []


def test_a_blank_currency_is_refused() -> None:
    core = Core()
    refused_before_sending(core, core.calls.balances, "5WT00000", currency=" ")


# -- balance snapshots --------------------------------------------------------------------------


def test_balance_snapshots_request_and_items() -> None:
    snapshot = {**sample("balances_200.json")["data"], "time-of-day": "EOD"}
    core = Core().answer(paged([snapshot], 0, 1))
    found = list(
        PageIterator(
            core.run,
            core.calls.balance_snapshots(
                "5WT00000", snapshot_date=date(2023, 7, 30), time_of_day="EOD", currency="USD"
            ),
        )
    )
    assert target(core.sent) == (
        "GET",
        "/accounts/5WT00000/balance-snapshots",
        [
            ("snapshot-date", "2023-07-30"),
            ("time-of-day", "EOD"),
            ("currency", "USD"),
            ("per-page", "250"),
            ("page-offset", "0"),
        ],
    )
    (one,) = found
    assert isinstance(one, Balances) and one.time_of_day == "EOD"
    assert one.snapshot_date == date(2023, 7, 30)
    assert one.net_liquidating_value == Decimal("32520.734")


def test_balance_snapshots_over_a_range() -> None:
    core = Core().answer(paged([], 0, 1))
    pager = core.calls.balance_snapshots(
        "5WT00000", start_date=date(2026, 9, 1), end_date=date(2026, 9, 30), per_page=20
    )
    assert core.run(pager.page(0)).items == []
    assert target(core.sent)[2] == [
        ("start-date", "2026-09-01"),
        ("end-date", "2026-09-30"),
        ("per-page", "20"),
        ("page-offset", "0"),
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"time_of_day": "NOON"},
        {"snapshot_date": datetime(2026, 9, 1, tzinfo=UTC)},
        {"start_date": "2026-09-01"},
        {"per_page": 0},
        {"per_page": True},
        {"per_page": 10_000},
        {"end_date": "2026-09-30"},
    ],
)
def test_balance_snapshots_refuse_bad_arguments(kwargs: dict[str, Any]) -> None:
    core = Core()
    refused_before_sending(core, core.calls.balance_snapshots, "5WT00000", **kwargs)


# -- net liquidating value history ----------------------------------------------------------------

NET_LIQ_POINT = {
    "open": "40210.5",
    "high": "40388.125",
    "low": "40101.0",
    "close": "40350.75",
    "pending-cash-open": "0.0",
    "pending-cash-high": "25.0",
    "pending-cash-low": "0.0",
    "pending-cash-close": "25.0",
    "total-open": "40210.5",
    "total-high": "40413.125",
    "total-low": "40101.0",
    "total-close": "40375.75",
    "time": "2026-09-18 20:00:00+00",  # the API's own format: a space, and "+00"
}


def test_net_liquidating_value_history_over_a_period() -> None:
    core = Core().answer(items(NET_LIQ_POINT))
    (point,) = core.run(core.calls.net_liquidating_value_history("5WT00000", time_back="1m"))
    assert target(core.sent) == (
        "GET",
        "/accounts/5WT00000/net-liq/history",
        [("time-back", "1m")],
    )
    assert point.time == datetime(2026, 9, 18, 20, 0, tzinfo=UTC)
    assert point.close == Decimal("40350.75") and point.total_close == Decimal("40375.75")
    assert point.pending_cash_close == Decimal("25.0")


def test_net_liquidating_value_history_since_a_moment_goes_out_in_utc_to_the_second() -> None:
    core = Core().answer(items())
    start = datetime(2026, 9, 1, 9, 30, 15, 250_000, tzinfo=EASTERN)
    assert core.run(core.calls.net_liquidating_value_history("5WT00000", start_time=start)) == []
    assert target(core.sent)[2] == [("start-time", "2026-09-01T13:30:15Z")]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"time_back": "1m", "start_time": datetime(2026, 9, 1, tzinfo=UTC)},
        {"time_back": "2w"},
        {"start_time": datetime(2026, 9, 1)},  # naive: which 09:00 would it be?
    ],
)
def test_net_liquidating_value_history_refuses(kwargs: dict[str, Any]) -> None:
    core = Core()
    refused_before_sending(core, core.calls.net_liquidating_value_history, "5WT00000", **kwargs)


# -- transactions -----------------------------------------------------------------------------


def test_one_page_of_transactions_from_the_sample() -> None:
    core = Core().answer_sample("transactions_200.json")
    page = PageIterator(core.run, core.calls.transactions("5WT00000")).page(0)
    assert target(core.sent) == (
        "GET",
        "/accounts/5WT00000/transactions",
        [("per-page", "250"), ("page-offset", "0")],
    )
    assert page.next_offset == 1
    assert page.pagination is not None and page.pagination.total_pages == 7
    shares, cash = page.items
    assert shares.transaction_type is TransactionType.RECEIVE_DELIVER
    assert shares.quantity == Decimal("1.68074") and shares.value == 0
    assert cash.transaction_type is TransactionType.MONEY_MOVEMENT
    assert cash.value == Decimal("27.74") == cash.net_value
    assert cash.transaction_date == date(2023, 7, 28) and cash.fees == 0


def test_transactions_send_every_filter() -> None:
    core = Core().answer(paged([], 0, 1))
    pager = core.calls.transactions(
        "5WT00000",
        per_page=50,
        sort="Asc",
        types=[TransactionType.TRADE, "Money Movement"],
        sub_types=["Sell to Open", "Dividend"],
        start_date=date(2026, 1, 2),
        end_date=date(2026, 3, 31),
        start_at=datetime(2026, 1, 2, 9, 30, tzinfo=EASTERN),
        end_at=datetime(2026, 3, 31, 20, 0, 0, 123_456, tzinfo=UTC),
        instrument_type=InstrumentType.EQUITY_OPTION,
        symbol="SPY   261218C00600000",
        underlying_symbol="SPY",
        action="Sell to Open",
        partition_key="main",
        futures_symbol="/ESZ6",
        currency="USD",
    )
    assert list(PageIterator(core.run, pager)) == []
    assert target(core.sent) == (
        "GET",
        "/accounts/5WT00000/transactions",
        [
            ("sort", "Asc"),
            ("types[]", "Trade"),
            ("types[]", "Money Movement"),
            ("sub-type[]", "Sell to Open"),
            ("sub-type[]", "Dividend"),
            ("start-date", "2026-01-02"),
            ("end-date", "2026-03-31"),
            ("start-at", "2026-01-02T13:30:00.000Z"),
            ("end-at", "2026-03-31T20:00:00.123Z"),
            ("instrument-type", "Equity Option"),
            ("symbol", "SPY   261218C00600000"),
            ("underlying-symbol", "SPY"),
            ("action", "Sell to Open"),
            ("partition-key", "main"),
            ("futures-symbol", "/ESZ6"),
            ("currency", "USD"),
            ("per-page", "50"),
            ("page-offset", "0"),
        ],
    )
    assert "symbol=SPY%20%20%20261218C00600000" in core.sent.url
    assert "futures-symbol=%2FESZ6" in core.sent.url


def test_transactions_of_one_type() -> None:
    core = Core().answer(paged([], 0, 1))
    list(PageIterator(core.run, core.calls.transactions("5WT00000", type="Money Movement")))
    assert target(core.sent)[2][0] == ("type", "Money Movement")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"type": "Trade", "types": ["Money Movement"]},
        {"type": "Trade", "types": "Trade"},
        {"types": 5},
        {"types": []},
        {"sub_types": 5},
        {"sub_types": [""]},
        {"start_at": datetime(2026, 1, 2, 9, 30)},
        {"end_at": date(2026, 1, 2)},
        {"start_date": datetime(2026, 1, 2, tzinfo=UTC)},
        {"sort": "Newest"},
        {"sort": "asc"},
        {"per_page": 0},
        {"per_page": True},
        {"per_page": 2001},
        {"per_page": "50"},
    ],
)
def test_transactions_refuse_bad_arguments(kwargs: dict[str, Any]) -> None:
    core = Core()
    refused_before_sending(core, core.calls.transactions, "5WT00000", **kwargs)


def test_one_type_as_a_string_is_one_type() -> None:
    core = Core().answer(paged([], 0, 1))
    kind = TransactionType.MONEY_MOVEMENT
    pager = core.calls.transactions("5WT00000", types=kind, sub_types="Dividend")
    assert list(PageIterator(core.run, pager)) == []
    assert target(core.sent)[2][:2] == [("types[]", "Money Movement"), ("sub-type[]", "Dividend")]


def test_the_largest_page_size_is_sent() -> None:
    core = Core().answer(paged([], 0, 1))
    list(PageIterator(core.run, core.calls.transactions("5WT00000", per_page=2000)))
    assert ("per-page", "2000") in target(core.sent)[2]


def test_the_iterator_asks_for_the_next_page_only_when_the_first_is_used_up() -> None:
    rows = sample("transactions_200.json")["data"]["items"]
    core = Core().answer(paged(rows, 0, 2)).answer(paged(rows[:1], 1, 2))
    found = PageIterator(core.run, core.calls.transactions("5WT00000", per_page=2))
    assert len(core.http.requests) == 0  # nothing yet
    assert next(found).id == 252640963
    assert len(core.http.requests) == 1
    assert next(found).id == 252634233
    assert len(core.http.requests) == 1  # the first page is still being read
    assert next(found).id == 252640963
    assert len(core.http.requests) == 2
    assert ("page-offset", "1") in target(core.sent)[2]
    with pytest.raises(StopIteration):
        next(found)
    assert len(core.http.requests) == 2  # the last page said it was the last


def test_one_page_alone_says_where_the_next_one_starts() -> None:
    rows = sample("transactions_200.json")["data"]["items"]
    core = Core().answer(paged(rows, 3, 7)).answer(paged(rows, 6, 7))
    found = PageIterator(core.run, core.calls.transactions("5WT00000", per_page=2))
    middle = found.page(3)
    assert target(core.sent)[2][-1] == ("page-offset", "3")
    assert len(middle.items) == 2 and middle.next_offset == 4
    assert found.page(6).next_offset is None


def test_one_transaction_and_its_signed_amounts() -> None:
    core = Core().answer_sample("transaction_trade_200.json")
    found = core.run(core.calls.transaction("5WT00000", 2455333333))
    assert target(core.sent) == ("GET", "/accounts/5WT00000/transactions/2455333333", [])
    assert found.value == Decimal("1880.0")  # sold: money in
    assert found.commission == Decimal("-40.0") and found.clearing_fees == Decimal("-0.40")
    assert found.regulatory_fees == Decimal("-0.042")
    assert found.proprietary_index_option_fees == 0
    assert found.net_value == Decimal("1878.858")
    assert found.fees == Decimal("-40.442")
    assert found.quantity == Decimal("40.0") and found.price == Decimal("0.47")
    assert found.order_id == 272610989 and found.ext_global_order_number == 1469
    assert found.executed_at == datetime(2023, 6, 12, 13, 53, 8, 199_000, UTC)
    assert found.transaction_date == date(2023, 6, 12)
    assert found.instrument_type is InstrumentType.EQUITY_OPTION
    assert found.transaction_type is TransactionType.TRADE and found.action == "Sell to Open"


def test_a_transaction_with_its_lots() -> None:
    row = sample("transaction_trade_200.json")["data"]
    row["lots"] = [
        {
            "id": "7716",
            "transaction-id": row["id"],
            "quantity": "40.0",
            "price": "0.47",
            "quantity-direction": "Short",
            "executed-at": row["executed-at"],
            "transaction-date": row["transaction-date"],
        }
    ]
    (lot,) = Transaction.from_json(row).lots
    assert isinstance(lot, Lot) and lot.quantity_direction is QuantityDirection.SHORT
    assert lot.transaction_id == 2455333333 and lot.price == Decimal("0.47")


@pytest.mark.parametrize(
    "bad", [True, False, 0, -1, "-1", "12a", "", " 12", 1.5, None, "\uff11", 2**63]
)
def test_a_transaction_id_is_a_whole_number(bad: Any) -> None:
    core = Core()
    refused_before_sending(core, core.calls.transaction, "5WT00000", bad)


def test_a_transaction_id_may_be_a_string_of_digits_like_an_order_id() -> None:
    core = Core().answer_sample("transaction_trade_200.json")
    found = core.run(core.calls.transaction("5WT00000", "2455333333"))
    assert target(core.sent)[1] == "/accounts/5WT00000/transactions/2455333333"
    assert found.id == 2455333333


def test_total_fees_of_a_day() -> None:
    core = Core().answer_sample("transactions_total_fees_200.json")
    fees = core.run(core.calls.total_fees("5WT00000", date(2023, 7, 28)))
    assert target(core.sent) == (
        "GET",
        "/accounts/5WT00000/transactions/total-fees",
        [("date", "2023-07-28")],
    )
    assert isinstance(fees, TotalFees) and fees.total_fees == Decimal("-100.0")  # paid


@pytest.mark.parametrize("day", [None, datetime(2023, 7, 28, tzinfo=UTC), "2023-07-28"])
def test_total_fees_need_a_day(day: Any) -> None:
    core = Core()
    refused_before_sending(core, core.calls.total_fees, "5WT00000", day)


# -- margin requirements ------------------------------------------------------------------------


def _margin_report_body() -> dict[str, Any]:
    def entry(symbol: str, kind: str, quantity: str, close: str, **more: str) -> dict[str, str]:
        found = {"instrument-symbol": symbol, "instrument-type": kind, "quantity": quantity}
        return {**found, "close-price": close, "fixing-price": "NaN", **more}

    def amounts(requirement: str, maintenance: str) -> dict[str, str]:
        return {
            "margin-requirement": requirement,
            "margin-requirement-effect": "Debit",
            "maintenance-requirement": maintenance,
            "maintenance-requirement-effect": "Debit",
            "buying-power": requirement,
            "buying-power-effect": "Credit",
        }

    shares = {
        "description": "LONG_UNDERLYING",
        **amounts("9495.5", "4747.75"),
        "includes-working-order": False,
        "position-entries": [entry("AAPL", "Equity", "100.0", "189.91")],
    }
    naked = {
        "description": "NAKED_CALL",
        **amounts("26210.0", "26210.0"),
        "includes-working-order": False,
        "position-entries": [
            entry(
                "SPY   261218C00600000",
                "Equity Option",
                "-2.0",
                "11.05",
                **{"average-open-price": "NaN", "strike-price": "600.0", "option-type": "C"},
                **{"deliverable-quantity": "200.0", "expiration-date": "2026-12-18"},
            )
        ],
    }
    return {
        "account-number": "5WT00000",
        "description": "Total",
        "margin-calculation-type": "Reg T",
        "option-level": "No Restrictions",
        **amounts("35705.5", "30957.75"),
        "margin-equity": "60000.0",
        "margin-equity-effect": "Credit",
        "maintenance-excess": "29042.25",
        "maintenance-excess-effect": "Credit",
        "groups": [
            {"description": "AAPL", "code": "AAPL", "underlying-type": "Equity"}
            | amounts("9495.5", "4747.75")
            | {"groups": [shares], "price-increase-percent": "0.5"},
            {},
            {"description": "SPY", "code": "SPY", "underlying-type": "Equity"}
            | amounts("26210.0", "26210.0")
            | {"groups": [naked], "expected-price-range-up-percent": "NaN"},
        ],
        "last-state-timestamp": 1790000000123,
    }


def test_margin_requirements() -> None:
    core = Core().answer(data(_margin_report_body()))
    report = core.run(core.calls.margin_requirements("5WT00000"))
    assert target(core.sent) == ("GET", "/margin/accounts/5WT00000/requirements", [])
    assert report.margin_requirement == Decimal("-35705.5")  # a requirement is a debit
    assert report.margin_equity == Decimal("60000.0") and report.maintenance_excess > 0  # type: ignore[operator]
    assert report.last_state_timestamp == datetime(2026, 9, 21, 14, 13, 20, 123_000, UTC)
    aapl, spy = report.groups  # the empty {} entry is left out
    assert aapl.code == "AAPL" and aapl.price_increase_percent == Decimal("0.5")
    assert spy.expected_price_range_up_percent is None  # "NaN" reads as missing
    (naked,) = spy.groups
    assert naked.description == "NAKED_CALL" and naked.buying_power == Decimal("26210.0")
    (position,) = naked.position_entries
    assert position.quantity == Decimal("-2.0") and position.strike_price == Decimal("600.0")
    assert position.average_open_price is None and position.fixing_price is None
    assert position.expiration_date == date(2026, 12, 18)
    assert position.instrument_type is InstrumentType.EQUITY_OPTION


@pytest.mark.parametrize("body", ["nope", {"account-number": "5WT00000", "groups": "x"}, []])
def test_a_misshapen_margin_report_is_a_decode_error(body: Any) -> None:
    core = Core().answer(data(body))
    with pytest.raises(DecodeError):
        core.run(core.calls.margin_requirements("5WT00000"))


# -- the fake's side ---------------------------------------------------------------------------


class Demo:
    """A logged-in Operations talking straight to a fake (no sockets), at a fixed time."""

    def __init__(self, **options: Any) -> None:
        self.clock = FakeClock(START)
        self.api = FakeTastytradeAPI(clock=self.clock, **options)
        settings = TransportSettings.resolve(base_url="https://api.example.test")
        self.calls = Operations(settings, entropy=lambda n: bytes(n))
        self.run(self.calls.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN))

    def send(self, request: Request) -> Response:
        return self.api.handle(request).response

    def run(self, op: Operation[T]) -> T:
        return drive(op, self.send, clock=self.clock, sleep=self.clock.sleep)

    def every(self, pager: Pager[T]) -> list[T]:
        return list(PageIterator(self.run, pager))

    def history(self, **filters: Any) -> list[Transaction]:
        return self.every(self.calls.transactions("5WT00001", **filters))

    def raw(self, path: str, **params: Any) -> Any:
        """The decoded envelope of an authenticated GET the client itself would refuse."""
        return self.run(build_call(self.calls, "GET", path, decode_envelope, params=params))


NOW = datetime.fromtimestamp(START, UTC)


def test_the_demo_history_explains_the_positions_and_adds_up_to_the_cash() -> None:
    demo = Demo()
    found = demo.history()
    assert 55 <= len(found) <= 70
    assert all(t.executed_at is not None and t.executed_at < NOW for t in found)
    assert sum((t.net_value or 0 for t in found), Decimal(0)) == Decimal("18304.55")
    held: dict[str, Decimal] = {}
    for t in found:
        if t.transaction_type in (TransactionType.TRADE, TransactionType.RECEIVE_DELIVER):
            assert t.symbol is not None and t.quantity is not None and t.action is not None
            step = t.quantity if t.action.startswith("Buy") else -t.quantity
            held[t.symbol] = held.get(t.symbol, Decimal(0)) + step
    still = {symbol: quantity for symbol, quantity in held.items() if quantity}
    assert still == {"AAPL": 100, "SPY   261218C00600000": -2, "/ESZ6": 1}
    kinds = {t.transaction_sub_type for t in found}
    assert {"Deposit", "Withdrawal", "Fee", "Dividend", "Mark to Market", "Expiration"} <= kinds
    for t in found:
        assert t.value is not None and t.net_value == t.value + t.fees
        if t.transaction_type is TransactionType.TRADE:
            assert t.order_id is not None and t.fees < 0
            assert t.description is not None and t.description.endswith(f"@ {t.price:f}")


def test_the_demo_history_is_the_same_for_the_same_clock() -> None:
    first, second = Demo(), Demo()
    assert first.raw("/accounts/5WT00001/transactions") == second.raw(
        "/accounts/5WT00001/transactions"
    )
    later = FakeTastytradeAPI(clock=FakeClock(START + 7 * 86_400))
    assert later.accounts["5WT00001"].cash_balance == Decimal("18304.55")


def test_the_ira_history() -> None:
    found = Demo().every(Demo().calls.transactions("5WT00002"))
    assert [t.transaction_sub_type for t in found] == ["Deposit", "Transfer"]
    assert sum((t.net_value or 0 for t in found), Decimal(0)) == Decimal("25000.00")


@pytest.mark.parametrize(
    "filters, keep",
    [
        ({"type": "Trade"}, lambda t: t.transaction_type == "Trade"),
        (
            {"types": ["Money Movement", "Receive Deliver"]},
            lambda t: t.transaction_type in ("Money Movement", "Receive Deliver"),
        ),
        ({"sub_types": ["Dividend"]}, lambda t: t.transaction_sub_type == "Dividend"),
        ({"symbol": "AAPL"}, lambda t: t.symbol == "AAPL"),
        ({"underlying_symbol": "SPY"}, lambda t: t.underlying_symbol == "SPY"),
        ({"instrument_type": InstrumentType.FUTURE}, lambda t: t.instrument_type == "Future"),
        ({"action": "Sell to Open"}, lambda t: t.action == "Sell to Open"),
        ({"futures_symbol": "/MESZ6"}, lambda t: t.symbol == "/MESZ6"),
        (
            {"start_date": (NOW - timedelta(days=30)).date(), "end_date": NOW.date()},
            lambda t: t.transaction_date >= (NOW - timedelta(days=30)).date(),
        ),
        (
            {"end_at": NOW - timedelta(days=60)},
            lambda t: t.executed_at <= NOW - timedelta(days=60),
        ),
        (
            {"start_at": NOW - timedelta(days=10), "sort": "Asc"},
            lambda t: t.executed_at >= NOW - timedelta(days=10),
        ),
    ],
)
def test_the_fake_filters_transactions(filters: dict[str, Any], keep: Any) -> None:
    demo = Demo()
    everything = demo.history()
    found = demo.history(**filters)
    expected = [t for t in everything if keep(t)]
    if filters.get("sort") == "Asc":
        expected.reverse()
    assert found and [t.id for t in found] == [t.id for t in expected]


def test_the_fake_pages_transactions() -> None:
    demo = Demo()
    everything = demo.history()
    first = PageIterator(demo.run, demo.calls.transactions("5WT00001", per_page=10)).page(0)
    assert first.pagination is not None
    assert first.pagination.total_pages == math.ceil(len(everything) / 10)
    assert first.next_offset == 1 and [t.id for t in first.items] == [t.id for t in everything[:10]]
    assert [t.id for t in demo.history(per_page=10)] == [t.id for t in everything]
    last = first.pagination.total_pages - 1
    tail = PageIterator(demo.run, demo.calls.transactions("5WT00001", per_page=10)).page(last)
    assert tail.next_offset is None and tail.items[-1].id == everything[-1].id


@pytest.mark.parametrize(
    "params",
    [
        {"type": "Trade", "types[]": ["Trade"]},
        {"start-date": "yesterday"},
        {"start-at": "soon"},
        {"sort": "Sideways"},
        {"per-page": "many"},
    ],
)
def test_the_fake_refuses_what_the_client_would_not_send(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        Demo().raw("/accounts/5WT00001/transactions", **params)


def test_the_fake_reads_a_start_at_without_an_offset_as_utc() -> None:
    demo = Demo()
    since = (NOW - timedelta(days=10)).replace(tzinfo=None).isoformat()
    body = demo.raw("/accounts/5WT00001/transactions", **{"start-at": since})
    assert [t["id"] for t in body.items] == [
        t.id for t in demo.history(start_at=NOW - timedelta(days=10))
    ]


def test_one_transaction_from_the_fake() -> None:
    demo = Demo()
    newest = demo.history()[0]
    assert demo.run(demo.calls.transaction("5WT00001", newest.id)) == newest
    with pytest.raises(NotFound):
        demo.run(demo.calls.transaction("5WT00001", 1))
    with pytest.raises(NotFound):  # another account's transaction is not there
        demo.run(demo.calls.transaction("5WT00002", newest.id))


def test_total_fees_from_the_fake() -> None:
    demo = Demo()
    (es,) = demo.history(symbol="/ESZ6", type="Trade")
    assert es.transaction_date is not None
    fees = demo.run(demo.calls.total_fees("5WT00001", es.transaction_date))
    same_day = demo.history(start_date=es.transaction_date, end_date=es.transaction_date)
    assert fees.total_fees == sum((t.fees for t in same_day), Decimal(0)) == Decimal("-2.93")
    quiet = demo.run(demo.calls.total_fees("5WT00001", date(2001, 1, 1)))
    assert quiet.total_fees == 0 and quiet.raw["total-fees-effect"] == "None"
    with pytest.raises(ValidationFailed):
        demo.raw("/accounts/5WT00001/transactions/total-fees")


def test_record_transaction_adds_a_trade_a_fill_makes() -> None:
    demo = Demo()
    demo.clock.advance(3600)
    stored = record_transaction(
        demo.api,
        "5WT00001",
        symbol="MSFT",
        action="Buy to Open",
        quantity=10,
        price=Decimal("410.00"),
        order_id=100_001,
    )
    assert stored["transaction-type"] == "Trade" and stored["is-estimated-fee"] is True
    newest = demo.history()[0]
    assert newest.id == stored["id"] and newest.order_id == 100_001
    assert newest.value == Decimal("-4100.00") and newest.clearing_fees == Decimal("-0.008")
    assert newest.net_value == Decimal("-4100.008")
    assert newest.description == "Bought 10 MSFT @ 410.00"
    assert newest.executed_at == NOW + timedelta(hours=1)
    assert newest.transaction_date is not None
    fees = demo.run(demo.calls.total_fees("5WT00001", newest.transaction_date))
    assert fees.total_fees == Decimal("-0.008")


def test_record_transaction_takes_options_futures_and_overrides() -> None:
    demo = Demo()
    option = record_transaction(
        demo.api,
        "5WT00001",
        symbol="SPXW  261218P05800000",
        instrument_type="Equity Option",
        underlying_symbol="SPX",
        action="Sell to Open",
        quantity="2",
        price="8.50",
        executed_at=NOW,
    )
    found = Transaction.from_json(option)
    assert found.value == Decimal("1700.00") and found.commission == Decimal("-2.000")
    assert found.proprietary_index_option_fees == Decimal("-1.300")
    assert found.description == "Sold 2 SPXW 12/18/26 Put 5800.00 @ 8.50"
    future = Transaction.from_json(
        record_transaction(
            demo.api,
            "5WT00001",
            symbol="/CLZ6",
            instrument_type="Future",
            action="Sell to Close",
            quantity=1,
            price="71.20",
            multiplier=1000,
            commission=Decimal("0"),
            exchange="N",
        )
    )
    assert future.underlying_symbol == "/CL" and future.value == 0 and future.commission == 0
    assert future.raw["exchange"] == "N" and future.net_value == future.fees < 0


def test_trading_status_from_the_fake() -> None:
    demo = Demo()
    margin = demo.run(demo.calls.trading_status("5WT00001"))
    ira = demo.run(demo.calls.trading_status("5WT00002"))
    assert margin.is_futures_enabled and not ira.is_futures_enabled
    assert margin.equities_margin_calculation_type == "Reg T"
    assert margin.updated_at == NOW and margin.raw["id"] != ira.raw["id"]
    demo.api.add_user("other", "pw", accounts=["5WT09999"])
    with pytest.raises(Forbidden):
        demo.run(demo.calls.trading_status("5WT09999"))
    with pytest.raises(NotFound):
        demo.run(demo.calls.trading_status("5WT00404"))


def test_balance_snapshots_from_the_fake() -> None:
    demo = Demo()

    def snapshots(**filters: Any) -> list[Balances]:
        return demo.every(demo.calls.balance_snapshots("5WT00001", **filters))

    oldest, newest = snapshots()
    assert oldest.time_of_day == newest.time_of_day == "EOD"
    assert oldest.snapshot_date is not None and newest.snapshot_date is not None
    assert oldest.snapshot_date < newest.snapshot_date < NOW.date()
    assert newest.cash_balance == Decimal("18304.550")  # nothing moved since
    every_day = snapshots(start_date=date(2000, 1, 1), time_of_day="BOD")
    assert len(every_day) == 10 and every_day[0].snapshot_date == oldest.snapshot_date
    assert all(s.updated_at is not None and s.updated_at.hour == 12 for s in every_day)
    (chosen, latest) = snapshots(snapshot_date=every_day[3].snapshot_date)
    assert chosen.snapshot_date == every_day[3].snapshot_date
    assert latest.snapshot_date == newest.snapshot_date
    assert snapshots(currency="EUR") == []
    history = demo.history()
    for s in every_day:
        assert s.updated_at is not None and s.cash_balance is not None
        cash = sum((t.net_value or 0 for t in history if t.executed_at <= s.updated_at), Decimal(0))  # type: ignore[operator]
        assert s.cash_balance == cash
    with pytest.raises(ValidationFailed):
        demo.raw("/accounts/5WT00001/balance-snapshots", **{"time-of-day": "NOON"})


def test_net_liquidating_value_history_from_the_fake() -> None:
    demo = Demo()
    balances = demo.run(demo.calls.balances("5WT00001"))

    def history(**how: Any) -> list[NetLiqOhlc]:
        return demo.run(demo.calls.net_liquidating_value_history("5WT00001", **how))

    day = history(time_back="1d")  # START is 14:13 UTC on a Monday: the session so far
    assert day[0].time == NOW.replace(hour=13, minute=30, second=0)
    assert all(b.time - a.time == timedelta(minutes=5) for a, b in itertools.pairwise(day))
    assert day[-1].time <= NOW
    assert day[-1].close is not None and balances.net_liquidating_value is not None
    assert abs(day[-1].close - balances.net_liquidating_value) < 5
    year = history(time_back="1y")
    assert 255 <= len(year) <= 265 and all(p.time.weekday() < 5 for p in year)
    assert all(p.time.hour == 20 for p in year)
    everything = history(time_back="all")
    assert all(p.time.weekday() == 4 for p in everything)
    assert everything[0].time.year == 2020
    since = history(start_time=NOW - timedelta(days=14))
    assert [p.time for p in since] == [p.time for p in year if p.time > NOW - timedelta(days=14)]
    assert history(time_back="1y") == year  # the same clock, the same series
    ira = demo.run(demo.calls.net_liquidating_value_history("5WT00002", time_back="6m"))
    assert {p.close for p in ira} <= {Decimal(0), Decimal("18000.000"), Decimal("25000.000")}
    assert ira[-1].close == Decimal("25000.000") and ira[-1].high == ira[-1].low
    for bad in ({"time-back": "2w"}, {}, {"time-back": "1m", "start-time": "2026-09-01"}):
        with pytest.raises(ValidationFailed):
            demo.raw("/accounts/5WT00001/net-liq/history", **bad)


def test_net_liquidating_value_history_on_a_weekend_shows_fridays_session() -> None:
    demo = Demo()
    demo.clock.advance(5 * 86_400)  # Saturday
    day = demo.run(demo.calls.net_liquidating_value_history("5WT00001", time_back="1d"))
    assert day[0].time.weekday() == 4 and len(day) == 79  # 13:30 to 20:00, every 5 minutes


def test_margin_requirements_from_the_fake() -> None:
    demo = Demo()
    report = demo.run(demo.calls.margin_requirements("5WT00001"))
    by_code = {g.code: g for g in report.groups}
    assert set(by_code) == {"AAPL", "SPY", "/ES"}
    assert by_code["/ES"].underlying_type is InstrumentType.FUTURE
    assert by_code["AAPL"].margin_requirement == Decimal("-9495.500")  # half of 100 x 189.91
    total = sum((g.margin_requirement or 0 for g in report.groups), Decimal(0))
    assert report.margin_requirement == total
    assert report.reg_t_margin_requirement == total - by_code["/ES"].margin_requirement  # type: ignore[operator]
    balances = demo.run(demo.calls.balances("5WT00001"))
    assert report.margin_equity == balances.net_liquidating_value
    assert report.option_buying_power == report.margin_equity + report.margin_requirement  # type: ignore[operator]
    (shares,) = by_code["AAPL"].groups
    (entry,) = shares.position_entries
    assert entry.fixing_price is None and entry.average_open_price == Decimal("187.25")
    ira = demo.run(demo.calls.margin_requirements("5WT00002"))
    assert ira.groups == () and ira.margin_requirement == 0
    assert ira.margin_calculation_type == "IRA Margin"


def test_the_fake_margins_each_kind_of_position() -> None:
    demo = Demo()
    ira = demo.api.accounts["5WT00002"]

    def holding(symbol: str, kind: str, quantity: int, side: str, close: str, **more: Any) -> None:
        row = {"symbol": symbol, "instrument-type": kind, "quantity": quantity, **more}
        ira.positions.append({**row, "quantity-direction": side, "close-price": close})

    qqq = {"multiplier": 100, "underlying-symbol": "QQQ"}
    holding("QQQ   261218P00500000", "Equity Option", 3, "Long", "4.10", **qqq)
    holding("QQQ   261218P00480000", "Equity Option", 1, "Short", "2.00", **qqq)
    holding("TSLA", "Equity", 10, "Short", "250.00", multiplier=1, **{"average-open-price": "260"})
    holding("/CLZ6", "Future", 1, "Long", "70.00", multiplier=1000, **{"underlying-symbol": "/CL"})
    report = demo.run(demo.calls.margin_requirements("5WT00002"))
    assert [g.code for g in report.groups] == ["QQQ", "TSLA", "/CL"]
    strategies = {s.description: s for g in report.groups for s in g.groups}
    assert strategies["LONG_OPTION"].margin_requirement == Decimal("-1230.000")  # paid in full
    # Reg T naked put: 20% of the strike (standing in for the price) plus the premium.
    assert strategies["NAKED_PUT"].margin_requirement == Decimal("-9800.000")
    assert strategies["SHORT_UNDERLYING"].maintenance_requirement == Decimal("-750.000")
    assert strategies["FUTURE"].margin_requirement == Decimal("-7000.000")  # 10% of 70,000
    assert report.groups[0].margin_requirement == Decimal("-11030.000")  # both QQQ options


def test_record_transaction_of_a_future_option_at_a_given_time() -> None:
    demo = Demo()
    stored = record_transaction(
        demo.api,
        "5WT00001",
        symbol="./ESZ6 E4AX6 261120P5800",
        instrument_type="Future Option",
        action="Buy to Open",
        quantity=1,
        price="12.50",
        executed_at=START - 60,
        net_value=Decimal("-630.00"),
    )
    found = Transaction.from_json(stored)
    assert found.underlying_symbol == "/ES" and found.value == Decimal("-625.00")  # x 50
    assert found.net_value == Decimal("-630.00")  # as given, not recomputed
    assert found.executed_at == NOW - timedelta(minutes=1)
    crypto = record_transaction(
        demo.api,
        "5WT00001",
        symbol="BTC/USD",
        instrument_type="Cryptocurrency",
        action="Buy",
        quantity="0.5",
        price="60000",
    )
    assert Transaction.from_json(crypto).fees == 0


def test_margin_requirements_from_a_drifting_fake_drop_the_empty_entry() -> None:
    demo = Demo(drift=True)
    raw = demo.raw("/margin/accounts/5WT00001/requirements").data
    assert {} in raw["groups"]
    report = demo.run(demo.calls.margin_requirements("5WT00001"))
    assert len(report.groups) == len(raw["groups"]) - 1


ROUTES = [
    "/accounts/5WT00001/trading-status",
    "/accounts/5WT00001/balance-snapshots",
    "/accounts/5WT00001/net-liq/history",
    "/accounts/5WT00001/transactions",
    "/accounts/5WT00001/transactions/total-fees",
    "/accounts/5WT00001/transactions/310000001",
    "/margin/accounts/5WT00001/requirements",
]
QUERY_KEYS = [
    "type",
    "types[]",
    "sub-type[]",
    "sort",
    "symbol",
    "start-date",
    "end-date",
    "start-at",
    "end-at",
    "date",
    "snapshot-date",
    "time-of-day",
    "currency",
    "time-back",
    "start-time",
    "per-page",
    "page-offset",
]
SOME_VALUES = ["", "Trade", "Asc", "EOD", "1d", "all", "0", "-1", "2026-09-01", "2026-02-30"]
SOME_TIMES = ["0001-01-01", "2026-09-01T10:00:00", "2026-09-01T10:00:00Z", "9999-12-31T23:59:59"]
QUERY_VALUES = st.sampled_from(SOME_VALUES + SOME_TIMES) | st.text(max_size=12)


@given(
    path=st.sampled_from(ROUTES),
    params=st.dictionaries(st.sampled_from(QUERY_KEYS), QUERY_VALUES, max_size=4),
)
def test_any_query_gets_an_answer_or_a_validation_error(path: str, params: dict[str, str]) -> None:
    demo = Demo()
    with contextlib.suppress(ValidationFailed):
        body = demo.raw(path, **params)
        assert body.data is not None


# -- any JSON parses or raises a library error ---------------------------------------------------

MODELS: list[tuple[type[Any], Any]] = [
    (Customer, sample("customers_me_200.json")["data"]),
    (Account, sample("customers_me_accounts_200.json")["data"]["items"][0]["account"]),
    (TradingStatus, sample("trading_status_200.json")["data"]),
    (Balances, sample("balances_200_sandbox_2025.json")["data"]),
    (Position, sample("positions_200.json")["data"]["items"][1]),
    (Transaction, sample("transaction_trade_200.json")["data"]),
    (Transaction, sample("transactions_200.json")["data"]["items"][0]),
    (TotalFees, sample("transactions_total_fees_200.json")["data"]),
    (NetLiqOhlc, NET_LIQ_POINT),
    (MarginReport, _margin_report_body()),
]


@given(junk=json_values, choice=st.data())
def test_any_margin_report_body_decodes_or_raises_a_library_error(
    junk: Any, choice: st.DataObject
) -> None:
    for candidate in (junk, choice.draw(mutations(_margin_report_body()))):
        core = Core().answer(data(candidate))
        with contextlib.suppress(TastytradeError):
            core.run(core.calls.margin_requirements("5WT00000"))
