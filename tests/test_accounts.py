"""The accounts area: each endpoint's exact request, and its models read from real samples."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastytrade_proto import DecodeError, TastytradeError
from tastytrade_proto.accounts import (
    Account,
    Balances,
    Customer,
    InstrumentType,
    Position,
    QuantityDirection,
    TradingStatus,
)

from .conftest import sample
from .core import Core, data, items, target
from .strategies import json_values, mutations


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


MODELS: list[tuple[type[Any], Any]] = [
    (Customer, sample("customers_me_200.json")["data"]),
    (Account, sample("customers_me_accounts_200.json")["data"]["items"][0]["account"]),
    (TradingStatus, sample("trading_status_200.json")["data"]),
    (Balances, sample("balances_200_sandbox_2025.json")["data"]),
    (Position, sample("positions_200.json")["data"]["items"][1]),
]


@pytest.mark.parametrize("kind, good", MODELS, ids=[m.__name__ for m, _ in MODELS])
@given(junk=json_values, choice=st.data())
def test_any_json_parses_or_raises_a_library_error(
    kind: type[Any], good: Any, junk: Any, choice: st.DataObject
) -> None:
    for candidate in (junk, choice.draw(mutations(good))):
        with contextlib.suppress(TastytradeError):
            kind.from_json(candidate)
