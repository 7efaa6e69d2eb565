"""Reading what a trader types: symbols in any usual form, actions, times in force, prices.

Each reader accepts any case and the short forms traders use (``bto``,
``gtc``, ``option``), and refuses anything else with a message that lists
what it accepts: never an enum's repr.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from tastytrade_proto import LocalProtocolError
from tastytrade_proto.accounts import InstrumentType
from tastytrade_proto.instruments import occ_symbol, parse_occ, streamer_to_occ
from tastytrade_proto.orders import OrderAction, TimeInForce

from .errors import CommandError, ExitCode

__all__ = [
    "Symbol",
    "parse_action",
    "parse_decimal",
    "parse_instrument_type",
    "parse_price",
    "parse_quantity",
    "parse_symbol",
    "parse_time_in_force",
]


def _usage(message: str) -> CommandError:
    return CommandError(message, ExitCode.USAGE)


def _key(text: str) -> str:
    return re.sub(r"[\s_-]+", " ", text.strip().lower())


# -- symbols ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Symbol:
    """A symbol as the API wants it, and the kind of instrument its form shows."""

    text: str
    instrument_type: InstrumentType

    @property
    def market_data_group(self) -> str:
        """The keyword of ``market_data`` this symbol goes under."""
        return _GROUPS[self.instrument_type]


_GROUPS = {
    InstrumentType.EQUITY: "equities",
    InstrumentType.EQUITY_OPTION: "equity_options",
    InstrumentType.FUTURE: "futures",
    InstrumentType.FUTURE_OPTION: "future_options",
    InstrumentType.CRYPTOCURRENCY: "cryptocurrencies",
    InstrumentType.INDEX: "indices",
}
_INDICES = frozenset({"SPX", "VIX", "NDX", "RUT", "DJX", "XSP", "OEX", "XEO"})
# An OCC symbol written loosely: root, YYMMDD, C/P, then the strike as OCC's eight
# digits or as a plain number (``595``, ``595.5``): spaces anywhere, any case.
_LOOSE_OCC = re.compile(r"^([A-Z][A-Z0-9.]{0,5}?)(\d{6})([CP])(\d{8}|\d+(?:\.\d{1,3})?)$")
_PLAIN = re.compile(r"^[A-Z][A-Z0-9./]{0,11}$", re.ASCII)
_FUTURE = re.compile(r"^/[A-Z0-9]{1,12}$", re.ASCII)


def _shown(text: str) -> str:
    """``text`` as an error quotes it: short, and with its odd characters escaped."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def parse_symbol(text: str) -> Symbol:
    """Read a symbol in any of its usual forms.

    Equity options: OCC padded (``SPY   261207C00595000``), unpadded
    (``SPY261207C00595000``), with spaces anywhere, lower case, or the
    streamer form (``.SPY261207C595``); all become the padded OCC symbol.
    ``/ESZ6`` is a future, ``./ESZ6 EW4Z6 261207C6000`` a future option,
    ``BTC/USD`` a cryptocurrency, ``$SPX`` or ``SPX`` an index, anything
    else an equity.
    """
    raw = text.strip()
    if not raw:
        raise _usage("an empty symbol")
    upper = raw.upper()
    if upper.startswith("./"):
        return Symbol(" ".join(upper.split()), InstrumentType.FUTURE_OPTION)
    if upper.startswith("/"):
        if not _FUTURE.match(upper):
            raise _usage(f"not a futures symbol: {_shown(raw)}")
        return Symbol(upper, InstrumentType.FUTURE)
    if upper.endswith("/USD"):
        return Symbol(upper, InstrumentType.CRYPTOCURRENCY)
    if upper.startswith("."):
        try:
            return Symbol(streamer_to_occ(upper), InstrumentType.EQUITY_OPTION)
        except LocalProtocolError:
            raise _usage(f"not an option symbol: {_shown(raw)}") from None
    squeezed = "".join(upper.split())
    option = _LOOSE_OCC.match(squeezed)
    if option is not None:
        root, day, kind, strike = option.groups()
        try:
            if len(strike) == 8 and "." not in strike:
                parsed = parse_occ(f"{root:<6}{day}{kind}{strike}")
                return Symbol(
                    occ_symbol(root, parsed.expiration, kind, parsed.strike),
                    InstrumentType.EQUITY_OPTION,
                )
            parsed = parse_occ(f"{root:<6}{day}{kind}00000000")
            return Symbol(
                occ_symbol(root, parsed.expiration, kind, Decimal(strike)),
                InstrumentType.EQUITY_OPTION,
            )
        except (LocalProtocolError, InvalidOperation):
            raise _usage(f"not an option symbol: {_shown(raw)}") from None
    symbol = upper.lstrip("$")
    if not _PLAIN.match(symbol):
        raise _usage(f"not a symbol: {_shown(raw)}")
    if raw.startswith("$") or symbol in _INDICES:
        return Symbol(symbol, InstrumentType.INDEX)
    return Symbol(symbol, InstrumentType.EQUITY)


# -- order vocabulary ------------------------------------------------------------------------

_ACTIONS = {
    "buy to open": OrderAction.BUY_TO_OPEN,
    "bto": OrderAction.BUY_TO_OPEN,
    "buy open": OrderAction.BUY_TO_OPEN,
    "sell to open": OrderAction.SELL_TO_OPEN,
    "sto": OrderAction.SELL_TO_OPEN,
    "sell open": OrderAction.SELL_TO_OPEN,
    "buy to close": OrderAction.BUY_TO_CLOSE,
    "btc": OrderAction.BUY_TO_CLOSE,
    "buy close": OrderAction.BUY_TO_CLOSE,
    "sell to close": OrderAction.SELL_TO_CLOSE,
    "stc": OrderAction.SELL_TO_CLOSE,
    "sell close": OrderAction.SELL_TO_CLOSE,
}
# Futures are bought and sold, not opened and closed (the API's "Buy" and "Sell"; their
# options are opened and closed like any option).
_FUTURE_KINDS = (InstrumentType.FUTURE,)


def parse_action(text: str, instrument_type: InstrumentType) -> OrderAction:
    """``buy to open``, ``BTO``, ``Sell to Close``...; ``buy``/``sell`` for futures.

    A bare ``buy`` or ``sell`` of an equity or option is refused: it could
    open or close a position, and the difference matters.
    """
    key = _key(text)
    if key in ("buy", "sell"):
        if instrument_type in _FUTURE_KINDS:
            return OrderAction.BUY if key == "buy" else OrderAction.SELL
        raise _usage(
            f"--action {text!r} is ambiguous for {instrument_type.value}: say "
            f"'{key} to open' or '{key} to close' ({key[0]}to, {key[0]}tc)"
        )
    action = _ACTIONS.get(key)
    if action is None:
        raise _usage(
            f"--action {text!r} is not an action: use buy to open (bto), sell to open (sto), "
            "buy to close (btc), sell to close (stc); buy or sell for futures"
        )
    return action


_TIMES_IN_FORCE = {
    "day": TimeInForce.DAY,
    "gtc": TimeInForce.GTC,
    "good till cancelled": TimeInForce.GTC,
    "good til cancelled": TimeInForce.GTC,
    "good till canceled": TimeInForce.GTC,
    "ext": TimeInForce.EXT,
    "gtc ext": TimeInForce.GTC_EXT,
    "ext overnight": TimeInForce.EXT_OVERNIGHT,
    "gtc ext overnight": TimeInForce.GTC_EXT_OVERNIGHT,
    "ioc": TimeInForce.IOC,
}


def parse_time_in_force(text: str) -> TimeInForce:
    """``day``, ``gtc``, ``GTC Ext``, ``ioc``... in any case."""
    found = _TIMES_IN_FORCE.get(_key(text))
    if found is None:
        names = ", ".join(t.value for t in TimeInForce if t is not TimeInForce.GTD)
        raise _usage(f"--time-in-force {text!r} is not one of: {names}")
    return found


_TRADABLE = (
    InstrumentType.EQUITY,
    InstrumentType.EQUITY_OPTION,
    InstrumentType.FUTURE,
    InstrumentType.FUTURE_OPTION,
    InstrumentType.CRYPTOCURRENCY,
)
_TYPE_ALIASES = {
    "stock": InstrumentType.EQUITY,
    "etf": InstrumentType.EQUITY,
    "option": InstrumentType.EQUITY_OPTION,
    "future option": InstrumentType.FUTURE_OPTION,
    "futures option": InstrumentType.FUTURE_OPTION,
    "crypto": InstrumentType.CRYPTOCURRENCY,
    **{_key(t.value): t for t in _TRADABLE},
}


def parse_instrument_type(text: str) -> InstrumentType:
    """``Equity``, ``equity option`` (or ``option``), ``future``, ``crypto``..."""
    found = _TYPE_ALIASES.get(_key(text))
    if found is None:
        names = ", ".join(t.value for t in _TRADABLE)
        raise _usage(f"--instrument-type {text!r} is not one of: {names}")
    return found


# -- numbers ---------------------------------------------------------------------------------

# ASCII digits only; a comma only as a thousands separator in whole groups of three
# (``1,850.25``): ``1,85`` is refused, never read as 185 (a decimal comma elsewhere).
_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$", re.ASCII)
_GROUPED = re.compile(r"^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?$", re.ASCII)


def parse_decimal(text: str, what: str) -> Decimal:
    """A plain decimal number (``150``, ``1.25``, ``-3``): never a float, no exponents."""
    cleaned = text.strip()
    if _GROUPED.match(cleaned):
        cleaned = cleaned.replace(",", "")
    if not _NUMBER.match(cleaned):
        raise _usage(f"{what} {text!r} is not a number")
    return Decimal(cleaned)


def parse_quantity(text: str) -> Decimal:
    """A positive quantity; a fraction only where the instrument allows one (the API checks)."""
    quantity = parse_decimal(text, "--quantity")
    if quantity <= 0:
        raise _usage(f"--quantity {text!r} must be above zero (the action says buy or sell)")
    return quantity


def parse_price(text: str, what: str = "--limit") -> Decimal:
    """An unsigned price: whether it is paid (debit) or received (credit) comes from the
    action, as on the tastytrade platform. A sign is refused, not guessed at."""
    stripped = text.strip()
    if stripped.startswith(("-", "+")):
        why = (
            "buying pays it (a debit), selling receives it (a credit)"
            if what == "--limit"
            else "it is a size, never negative"
        )
        raise _usage(f"{what} {text!r}: give it without a sign; {why}")
    value = parse_decimal(stripped, what)
    if value <= 0:
        raise _usage(f"{what} {text!r} must be above zero")
    return value
