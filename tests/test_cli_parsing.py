"""What the command line reads and how it shows numbers: every input gives a value or a
usage error, never another exception."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastytrade_cli.errors import CommandError, ExitCode
from tastytrade_cli.output import money, price, quantity, signed_price
from tastytrade_cli.parsing import (
    parse_action,
    parse_instrument_type,
    parse_price,
    parse_symbol,
    parse_time_in_force,
)
from tastytrade_proto.accounts import InstrumentType
from tastytrade_proto.orders import OrderAction, TimeInForce

READERS = [
    parse_symbol,
    parse_price,
    parse_time_in_force,
    parse_instrument_type,
    lambda text: parse_action(text, InstrumentType.EQUITY),
]


@pytest.mark.parametrize("read", READERS)
@given(text=st.text(max_size=40))
def test_anything_typed_is_read_or_refused_as_usage(read: object, text: str) -> None:
    try:
        read(text)  # type: ignore[operator]
    except CommandError as error:
        assert error.code is ExitCode.USAGE and error.message


def test_symbols() -> None:
    occ = "SPY   261207C00595000"
    for written in ("SPY261207C00595000", "spy 261207 c 00595000", ".SPY261207C595", occ):
        assert parse_symbol(written).text == occ
    assert parse_symbol("spy261207p595.5").text == "SPY   261207P00595500"
    assert parse_symbol("/esz6").instrument_type is InstrumentType.FUTURE
    assert parse_symbol("btc/usd").text == "BTC/USD"
    assert parse_symbol("$spx").instrument_type is InstrumentType.INDEX
    assert parse_symbol("brk.b").text == "BRK.B"
    with pytest.raises(CommandError, match="not a symbol"):
        parse_symbol("A B")


def test_vocabulary() -> None:
    assert parse_action("BTC", InstrumentType.EQUITY_OPTION) is OrderAction.BUY_TO_CLOSE
    assert parse_action("sell", InstrumentType.FUTURE) is OrderAction.SELL
    assert parse_time_in_force("Good Till Cancelled") is TimeInForce.GTC
    assert parse_time_in_force("gtc-ext") is TimeInForce.GTC_EXT
    assert parse_instrument_type("option") is InstrumentType.EQUITY_OPTION


def test_numbers_are_shown_alike() -> None:
    assert money(Decimal("18304.5")) == "18,304.50"
    assert money(Decimal("-0.004")) == "0.00"  # never "-0.00"
    assert money(Decimal("-1234.567")) == "-1,234.57"
    assert price(Decimal("150")) == "150.00" and price(Decimal("0.0125")) == "0.0125"
    assert signed_price(Decimal("-150")) == "150.00 db"
    assert signed_price(Decimal("1.25")) == "1.25 cr"
    assert quantity(Decimal("100.0")) == "100" and quantity(Decimal("-2")) == "-2"
    assert parse_price("1,500.25") == Decimal("1500.25")
    with pytest.raises(CommandError, match="without a sign"):
        parse_price("-1")
    for malformed in ("1e3", "1,85", "1,5", ",,1,,", "1,85.00", "\u0661\u0668\u0665", "NaN"):
        with pytest.raises(CommandError, match="not a number"):
            parse_price(malformed)
    assert parse_price("12,345,678.5") == Decimal("12345678.5")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Timer:
    """Stands in for threading.Timer: fires as soon as it is started, or never if cancelled."""

    def __init__(self, delay: float, action: Callable[[], object]) -> None:
        self.action, self.daemon = action, False

    def start(self) -> None:
        self.action()

    def cancel(self) -> None:
        pass

    def join(self) -> None:
        pass


def test_a_spinner_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from tastytrade_cli import output as module

    monkeypatch.setattr(module.threading, "Timer", _Timer)
    shown = module.Output(io.StringIO(), _Terminal(), environ={})
    with shown.busy("fetching positions"):
        pass
    assert "fetching positions" in shown.err.file.getvalue()  # type: ignore[attr-defined]
    piped = module.Output(io.StringIO(), io.StringIO(), environ={})
    with piped.busy("fetching positions"):
        pass
    assert piped.err.file.getvalue() == ""  # type: ignore[attr-defined]


# -- watch and candles ---------------------------------------------------------------------


def test_since_is_an_age_or_an_iso_time_and_never_the_future() -> None:
    from datetime import datetime, timedelta, timezone

    from tastytrade_cli.streams import parse_since

    now = datetime(2026, 12, 7, 15, 30, tzinfo=timezone.utc)
    assert parse_since("2h", "5m", now) == now - timedelta(hours=2)
    assert parse_since("90min", "5m", now) == now - timedelta(minutes=90)
    assert parse_since("1W", "d", now) == now - timedelta(weeks=1)
    assert parse_since(None, "5m", now) == now - timedelta(minutes=5 * 50)  # 50 bars back
    assert parse_since(None, "1000t", now) == now - timedelta(days=1)  # ticks: a day
    assert parse_since("2026-12-01", "d", now) == datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert parse_since("2026-12-07T14:30Z", "m", now) == now - timedelta(hours=1)
    assert parse_since("2026-12-07T09:30-05:00", "m", now) == now - timedelta(hours=1)
    assert parse_since("2026-12-07 14:30", "m", now) == now - timedelta(hours=1)  # UTC
    for wrong, words in (("tomorrow", "not an age"), ("2026-12-08", "in the future"), ("", "")):
        with pytest.raises(CommandError) as caught:
            parse_since(wrong, "5m", now)
        assert caught.value.code is ExitCode.USAGE and words in caught.value.message


@given(st.lists(st.decimals(min_value=-1000, max_value=1000, places=2), max_size=60))
def test_a_sparkline_is_one_block_per_value_lowest_to_highest(values: list[Decimal]) -> None:
    from tastytrade_cli.streams import sparkline

    line = sparkline(values)
    assert len(line) == len(values) and set(line) <= set("▁▂▃▄▅▆▇█")
    if values and min(values) != max(values):
        assert line[values.index(min(values))] == "▁" and line[values.index(max(values))] == "█"


def test_a_stream_that_fails_for_good_has_an_exit_status() -> None:
    from tastytrade_cli.errors import explain
    from tastytrade_proto import ApiError
    from tastytrade_proto.errors import StreamingError

    refused = explain(StreamingError("DXLink refused three quote tokens", code="UNAUTHORIZED"))
    assert refused.code is ExitCode.REFUSED and refused.message.startswith("market data refused")
    other = explain(StreamingError("DXLink does not accept this client", code="UNSUPPORTED"))
    assert other.code is ExitCode.FAILED and "market data stream failed" in other.message
    customer = ApiError(
        "x", status=404, code="quote_streamer.customer_not_found_error", api_message="no"
    )
    assert explain(customer).code is ExitCode.REFUSED  # not "no such symbol" (6)
