"""Accounts-area cases for every transport."""

from __future__ import annotations

from decimal import Decimal

from tastytrade_proto.accounts import Account, Balances, Customer, Position

from . import Case


def _customer(customer: Customer) -> None:
    assert customer.email == "demo@example.com"


def _accounts(found: list[Account]) -> None:
    assert [a.account_number for a in found] == ["5WT00001", "5WT00002"]


def _account(account: Account) -> None:
    assert account.nickname == "Roth IRA"


def _balances(balances: Balances) -> None:
    assert balances.cash_balance == Decimal("18304.55")


def _positions(found: list[Position]) -> None:
    by_symbol = {p.symbol: p for p in found}
    assert by_symbol["AAPL"].quantity == Decimal(100)
    assert by_symbol["SPY   261218C00600000"].signed_quantity == Decimal(-2)
    assert "/ESZ6" in by_symbol


CASES = [
    Case("customer", check=_customer),
    Case("accounts", check=_accounts),
    Case("account", ("5WT00002",), check=_account),
    Case("balances", ("5WT00001",), check=_balances),
    Case("positions", ("5WT00001",), check=_positions),
]
