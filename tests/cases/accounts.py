"""Accounts-area cases for every transport."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from tastytrade_proto import LocalProtocolError, NotFound
from tastytrade_proto.accounts import (
    Account,
    Balances,
    Customer,
    MarginReport,
    NetLiqOhlc,
    Position,
    TotalFees,
    TradingStatus,
    Transaction,
    TransactionType,
)
from tastytrade_proto.streaming import AccountState, StreamCredential
from tastytrade_proto.testing import FakeTastytradeAPI
from tastytrade_proto.testing.fake.accounts import _ledger

from . import Case

MARGIN, IRA = "5WT00001", "5WT00002"
# A day of the demo history (the fake dates it back from its clock): whatever it
# holds, total_fees must agree with the fake's own ledger.
SOME_DAY = (datetime.now(timezone.utc) - timedelta(days=12)).date()


def _customer(customer: Customer) -> None:
    assert customer.email == "demo@example.com"


def _accounts(found: list[Account]) -> None:
    assert [a.account_number for a in found] == ["5WT00001", "5WT00002"]


def _account(account: Account) -> None:
    assert account.nickname == "Roth IRA"


def _trading_status(status: TradingStatus) -> None:
    assert status.account_number == MARGIN and status.options_level == "No Restrictions"
    assert status.is_futures_enabled is True and status.is_frozen is False
    assert status.raw["id"] > 0 and status.updated_at is not None


def _ira_trading_status(status: TradingStatus) -> None:
    assert status.is_futures_enabled is False and status.short_calls_enabled is False
    assert status.equities_margin_calculation_type == "IRA Margin"


def _balances(balances: Balances) -> None:
    assert balances.cash_balance == Decimal("18304.55")


def _snapshots(found: list[Balances]) -> None:
    assert len(found) == 2 and [s.time_of_day for s in found] == ["BOD", "BOD"]
    first, last = found
    assert first.snapshot_date is not None and last.snapshot_date is not None
    assert first.snapshot_date < last.snapshot_date
    for s in found:
        assert s.cash_balance is not None and s.long_equity_value is not None
        assert s.short_derivative_value is not None
        value = s.cash_balance + s.long_equity_value - s.short_derivative_value
        assert value == s.net_liquidating_value


def _snapshot_range(found: list[Balances]) -> None:
    days = [s.snapshot_date for s in found if s.snapshot_date is not None]
    assert len(days) == len(found) >= 3 and days == sorted(days)
    assert all(s.time_of_day == "EOD" for s in found)


def _positions(found: list[Position]) -> None:
    by_symbol = {p.symbol: p for p in found}
    assert by_symbol["AAPL"].quantity == Decimal(100)
    assert by_symbol["SPY   261218C00600000"].signed_quantity == Decimal(-2)
    assert "/ESZ6" in by_symbol


def _spy_only(found: list[Position]) -> None:
    # One string is one underlying (it was sent one letter at a time: S, P, Y, matching nothing).
    assert [p.symbol for p in found] == ["SPY   261218C00600000"]


def _month_of_net_liq(points: list[NetLiqOhlc]) -> None:
    assert 18 <= len(points) <= 23  # a close each weekday of the last 30 days
    times = [p.time for p in points]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)
    for point in points:
        assert point.low is not None and point.high is not None
        assert point.open is not None and point.close is not None
        assert point.low <= min(point.open, point.close) <= max(point.open, point.close)
        assert max(point.open, point.close) <= point.high
        assert point.total_close == point.close and point.pending_cash_close == 0
    for before, after in itertools.pairwise(points):
        assert after.open == before.close


# One moment for the request and its check: points fall on fixed times of day, so two
# separate readings of the clock could straddle one.
WEEK_AGO = datetime.now(timezone.utc) - timedelta(days=7)


def _net_liq_since(points: list[NetLiqOhlc]) -> None:
    assert points and all(p.time > WEEK_AGO for p in points)


def _history(found: list[Transaction], api: FakeTastytradeAPI) -> None:
    assert 55 <= len(found) <= 70
    assert sum((t.net_value or 0 for t in found), Decimal(0)) == Decimal("18304.55")
    times = [t.executed_at for t in found]
    assert all(t is not None for t in times) and times == sorted(times, reverse=True)  # type: ignore[type-var]
    assert {t.id for t in found} == {t["id"] for t in _ledger(api).transactions[MARGIN]}


def _trades_in_pages(found: list[Transaction], api: FakeTastytradeAPI) -> None:
    ledger = _ledger(api).transactions[MARGIN]
    trades = sorted(t["id"] for t in ledger if t["transaction-type"] == "Trade")
    assert [t.id for t in found] == trades  # oldest first, across every page
    assert all(t.transaction_type is TransactionType.TRADE for t in found)
    pages = [r for r in api.requests if ("per-page", "8") in r.query]
    assert len(pages) == -(-len(trades) // 8) > 1


def _one_transaction(found: Transaction) -> None:
    assert found.id == 310_000_001 and found.transaction_type is TransactionType.MONEY_MOVEMENT
    assert found.transaction_sub_type == "Transfer" and found.value is not None and found.value > 0


def _fees_of_the_day(fees: TotalFees, api: FakeTastytradeAPI) -> None:
    expected = Decimal(0)
    for entry in _ledger(api).transactions[MARGIN]:
        if entry["transaction-date"] == SOME_DAY.isoformat():
            expected += Transaction.from_json(entry).fees
    assert fees.total_fees == expected


def _margin(report: MarginReport) -> None:
    assert report.account_number == MARGIN and report.description == "Total"
    assert {g.code for g in report.groups} == {"AAPL", "SPY", "/ES"}
    assert report.margin_requirement == sum(
        (g.margin_requirement or 0 for g in report.groups), Decimal(0)
    )
    assert report.margin_requirement is not None and report.margin_requirement < 0  # a debit
    spy = next(g for g in report.groups if g.code == "SPY")
    (strategy,) = spy.groups
    assert strategy.description == "NAKED_CALL"
    (entry,) = strategy.position_entries
    assert entry.quantity == Decimal(-2) and entry.fixing_price is None  # "NaN" on the wire


def _stream_credential(credential: StreamCredential, api: FakeTastytradeAPI) -> None:
    # Exactly the Authorization value of the OAuth session: what the account streamer takes.
    assert credential.authorization.startswith("Bearer ")
    assert api.login_for_token(credential.authorization, api.clock()) is not None
    assert credential.authorization not in repr(credential)
    assert credential.expires_at is not None


def _account_state(state: AccountState) -> None:
    assert state.accounts == ("5WT00001", "5WT00002")
    assert {b.account_number for b in state.balances} == {"5WT00001", "5WT00002"}
    assert {o.account_number for o in state.orders} <= {"5WT00001", "5WT00002"}
    assert state.orders and state.positions


CASES = [
    Case("stream_credential", check=_stream_credential),
    Case("stream_credential", kwargs={"min_remaining": 10**9}, check=_stream_credential),
    Case("account_state", (["5WT00001", "5WT00002"],), check=_account_state),
    Case("account_state", ([],), raises=LocalProtocolError),
    Case("customer", check=_customer),
    Case("accounts", check=_accounts),
    Case("account", ("5WT00002",), check=_account),
    Case("trading_status", (MARGIN,), check=_trading_status),
    Case("trading_status", (IRA,), check=_ira_trading_status),
    Case("balances", (MARGIN,), check=_balances),
    Case("balances", (MARGIN,), {"currency": "USD"}, check=_balances),
    Case("balances", (MARGIN,), {"currency": "EUR"}, raises=NotFound),
    Case("balance_snapshots", (MARGIN,), {"time_of_day": "BOD"}, check=_snapshots),
    Case(
        "balance_snapshots",
        (MARGIN,),
        {"start_date": date(2000, 1, 1), "end_date": date(2100, 1, 1), "per_page": 3},
        check=_snapshot_range,
    ),
    Case("positions", (MARGIN,), check=_positions),
    Case("positions", (MARGIN,), {"underlying_symbols": "SPY"}, check=_spy_only),
    Case("net_liquidating_value_history", (MARGIN,), {"time_back": "1m"}, check=_month_of_net_liq),
    Case(
        "net_liquidating_value_history",
        (MARGIN,),
        {"start_time": WEEK_AGO},
        check=_net_liq_since,
    ),
    Case(
        "net_liquidating_value_history",
        (MARGIN,),
        {"time_back": "1m", "start_time": datetime.now(timezone.utc)},
        raises=LocalProtocolError,
    ),
    Case("transactions", (MARGIN,), check=_history),
    Case(
        "transactions",
        (MARGIN,),
        {"types": [TransactionType.TRADE], "sort": "Asc", "per_page": 8},
        check=_trades_in_pages,
    ),
    Case(
        "transactions", (MARGIN,), {"type": "Trade", "types": ["Trade"]}, raises=LocalProtocolError
    ),
    Case("transaction", (MARGIN, 310_000_001), check=_one_transaction),
    Case("transaction", (MARGIN, 1), raises=NotFound),
    Case("total_fees", (MARGIN, SOME_DAY), check=_fees_of_the_day),
    Case("margin_requirements", (MARGIN,), check=_margin),
]
