"""What the caller sends: orders built and checked before anything goes out, and tick sizes."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    InvalidOperation,
)
from typing import Any, TypeVar

from ..accounts import InstrumentType
from ..instruments import TickSize, tick_size_for
from ..models import (
    ApiEnum,
    show_value,
    unsigned,
)
from ..values import frozen, replace
from .errors import InvalidOrder, TickSizeError
from .models import ComplexOrderType, OrderAction, OrderType, TimeInForce

#: The most legs one order may have.
MAX_LEGS = 4
# Identifiers, sources and symbols longer than this are refused.
_MAX_TEXT = 255
_MAX_SYMBOL = 64
# Amounts with more digits than these either side of the point are refused.
_MAX_ADJUSTED = 15
_MIN_EXPONENT = -18

# -- checking what the caller gives -------------------------------------------------------

_ORDERABLE = frozenset(
    {
        InstrumentType.EQUITY,
        InstrumentType.EQUITY_OPTION,
        InstrumentType.FUTURE,
        InstrumentType.FUTURE_OPTION,
        InstrumentType.CRYPTOCURRENCY,
        InstrumentType.EVENT_CONTRACT,
        InstrumentType.FIXED_INCOME_SECURITY,
        InstrumentType.LIQUIDITY_POOL,
    }
)
# At most one leg of each of these per order.
_OUTRIGHT = (InstrumentType.EQUITY, InstrumentType.FUTURE, InstrumentType.CRYPTOCURRENCY)
_LONG_LIVED = frozenset(
    {TimeInForce.GTC, TimeInForce.GTD, TimeInForce.GTC_EXT, TimeInForce.GTC_EXT_OVERNIGHT}
)
_PRICED = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_TRIGGERED = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
_UNPRICED = frozenset({OrderType.MARKET, OrderType.STOP, OrderType.NOTIONAL_MARKET})

E = TypeVar("E", bound=ApiEnum)


def _enum(kind: type[E], value: Any, what: str) -> E:
    """``value`` as a *known* member of ``kind``, or :class:`InvalidOrder`."""
    member: E | None = None
    if isinstance(value, kind):
        member = value
    elif isinstance(value, str):
        try:
            member = kind(value)
        except ValueError:
            member = None
    if member is None or not member.known:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise InvalidOrder(f"{what} must be one of {allowed}; got {show_value(value)}")
    return member


def _decimal(value: Any, what: str) -> Decimal:
    """``value`` (a Decimal, int or decimal string) as a finite Decimal of sane size."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        hint = (
            " (use Decimal or a string: a float is not exact)" if isinstance(value, float) else ""
        )
        raise InvalidOrder(
            f"{what} must be a Decimal, an int or a decimal string{hint}; got {show_value(value)}"
        )
    if isinstance(value, str) and len(value) > 60:
        raise InvalidOrder(f"{what} is not a decimal: {show_value(value)}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, ValueError):
        raise InvalidOrder(f"{what} is not a decimal: {show_value(value)}") from None
    if not number.is_finite():
        raise InvalidOrder(f"{what} must be a finite number, got {number}")
    exponent = number.as_tuple().exponent
    if number and (
        number.adjusted() > _MAX_ADJUSTED
        or (isinstance(exponent, int) and exponent < _MIN_EXPONENT)
    ):
        raise InvalidOrder(f"{what} {number} has too many digits")
    return number


def check_text(value: Any, what: str, limit: int = _MAX_TEXT) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidOrder(f"{what} must be a non-empty string, got {show_value(value)}")
    if len(value) > limit:
        raise InvalidOrder(f"{what} is longer than {limit} characters")
    if not value.isprintable() or value != value.strip():
        raise InvalidOrder(
            f"{what} must be printable, without leading or trailing spaces: {show_value(value)}"
        )
    return value


def _plain(number: Decimal) -> str:
    """A Decimal as the API reads it: positional notation, never an exponent."""
    return format(number, "f")


def _as_date(value: Any, what: str) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidOrder(f"{what} must be a date (not a datetime), got {show_value(value)}")
    return value


def _check_terms(
    order_type: OrderType,
    time_in_force: TimeInForce,
    price: Decimal | None,
    stop_trigger: Decimal | None,
    value: Decimal | None,
    gtc_date: date | None,
) -> None:
    """The rules relating order type, prices and time in force (shared by orders and changes)."""
    kind = order_type.value
    if order_type in _PRICED and price is None:
        raise InvalidOrder(f"a {kind} order needs a price (negative for a debit)")
    if order_type in _UNPRICED and price is not None:
        raise InvalidOrder(f"a {kind} order has no price")
    if price is not None and price == 0:
        raise InvalidOrder("the price must not be zero: the API needs it to be a debit or a credit")
    if order_type in _TRIGGERED and stop_trigger is None:
        raise InvalidOrder(f"a {kind} order needs a stop_trigger")
    if order_type not in _TRIGGERED and stop_trigger is not None:
        raise InvalidOrder(f"only Stop and Stop Limit orders have a stop_trigger, not {kind}")
    if stop_trigger is not None and stop_trigger <= 0:
        raise InvalidOrder(f"the stop_trigger must be positive, got {stop_trigger}")
    if order_type is OrderType.NOTIONAL_MARKET:
        if value is None:
            raise InvalidOrder("a Notional Market order needs a value (negative for a debit)")
        if value == 0:
            raise InvalidOrder("the value must not be zero: it must be a debit or a credit")
    elif value is not None:
        raise InvalidOrder(f"only Notional Market orders have a value, not {kind}")
    if time_in_force is TimeInForce.GTD and gtc_date is None:
        raise InvalidOrder("a GTD order needs a gtc_date (the day it expires)")
    if time_in_force is not TimeInForce.GTD and gtc_date is not None:
        raise InvalidOrder(f"only GTD orders have a gtc_date, not {time_in_force.value}")
    if order_type in (OrderType.MARKET, OrderType.NOTIONAL_MARKET) and (
        time_in_force in _LONG_LIVED
    ):
        raise InvalidOrder(
            f"a {kind} order cannot be {time_in_force.value}: market orders are never GTC or GTD"
        )


def _optional_decimal(value: Any, what: str) -> Decimal | None:
    return None if value is None else _decimal(value, what)


# -- what the caller sends ----------------------------------------------------------------


class _Keep(enum.Enum):
    """The default of a term :meth:`NewOrder.replacement` leaves as it is."""

    KEEP = "keep"

    def __repr__(self) -> str:
        return "<unchanged>"


_KEEP = _Keep.KEEP


@frozen
class NewLeg:
    """One leg of an order to send: what, which way, how many.

    ``quantity`` is a positive whole number (an ``int`` or a whole
    ``Decimal``), except for a ``Cryptocurrency`` leg or an equity leg marked
    ``fractional=True`` (a fractional-eligible equity), which may be
    fractional; it is ``None`` only in a Notional Market order. ``symbol`` is
    sent as given (an option's OCC symbol keeps its padding). ``fractional``
    is not sent.
    """

    instrument_type: InstrumentType
    symbol: str
    action: OrderAction
    quantity: Decimal | None = None
    fractional: bool = False

    def __post_init__(self) -> None:
        kind = _enum(InstrumentType, self.instrument_type, "instrument_type")
        if kind not in _ORDERABLE:
            allowed = ", ".join(sorted(repr(k.value) for k in _ORDERABLE))
            raise InvalidOrder(
                f"legs of instrument type {kind.value!r} cannot be ordered (one of {allowed})"
            )
        symbol = check_text(self.symbol, "symbol", _MAX_SYMBOL)
        action = _enum(OrderAction, self.action, "action")
        if not isinstance(self.fractional, bool):
            raise InvalidOrder(
                f"fractional must be True or False, got {show_value(self.fractional)}"
            )
        if self.fractional and kind is not InstrumentType.EQUITY:
            raise InvalidOrder(
                "only an equity leg can be marked fractional "
                "(cryptocurrency quantities are always allowed fractions)"
            )
        if action in (OrderAction.BUY, OrderAction.SELL) and kind is not InstrumentType.FUTURE:
            raise InvalidOrder(
                f"{action.value!r} is only for futures; a {kind.value} leg needs "
                f"'{action.value} to Open' or '{action.value} to Close'"
            )
        quantity = _optional_decimal(self.quantity, f"the quantity of {symbol}")
        if quantity is not None:
            if quantity <= 0:
                raise InvalidOrder(f"the quantity of {symbol} must be positive, got {quantity}")
            whole = quantity == quantity.to_integral_value()
            if not whole and not (self.fractional or kind is InstrumentType.CRYPTOCURRENCY):
                raise InvalidOrder(
                    f"the quantity of {symbol} must be a whole number, got {quantity} "
                    "(fractions are for cryptocurrency, or equities marked fractional=True)"
                )
        object.__setattr__(self, "instrument_type", kind)
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "quantity", quantity)

    @classmethod
    def equity(
        cls,
        symbol: str,
        action: OrderAction | str,
        quantity: Decimal | int | str | None = None,
        *,
        fractional: bool = False,
    ) -> NewLeg:
        """An equity leg (``BRK/B`` is written as such)."""
        return cls(InstrumentType.EQUITY, symbol, action, quantity, fractional)  # type: ignore[arg-type]

    @classmethod
    def equity_option(
        cls, symbol: str, action: OrderAction | str, quantity: Decimal | int | str
    ) -> NewLeg:
        """An equity option leg (``symbol`` in OCC form, root padded to six characters)."""
        return cls(InstrumentType.EQUITY_OPTION, symbol, action, quantity)  # type: ignore[arg-type]

    @classmethod
    def future(
        cls, symbol: str, action: OrderAction | str, quantity: Decimal | int | str
    ) -> NewLeg:
        """A future leg (``/ESZ6``)."""
        return cls(InstrumentType.FUTURE, symbol, action, quantity)  # type: ignore[arg-type]

    @classmethod
    def future_option(
        cls, symbol: str, action: OrderAction | str, quantity: Decimal | int | str
    ) -> NewLeg:
        """A future option leg (``./ESZ6 EW4Z6 261218C6000``)."""
        return cls(InstrumentType.FUTURE_OPTION, symbol, action, quantity)  # type: ignore[arg-type]

    @classmethod
    def crypto(
        cls, symbol: str, action: OrderAction | str, quantity: Decimal | int | str | None = None
    ) -> NewLeg:
        """A cryptocurrency leg (``BTC/USD``); the quantity may be fractional."""
        return cls(InstrumentType.CRYPTOCURRENCY, symbol, action, quantity)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        """The leg as the API reads it (a whole quantity as a number, a fraction as a string)."""
        body: dict[str, Any] = {
            "instrument-type": self.instrument_type.value,
            "symbol": self.symbol,
            "action": self.action.value,
        }
        if self.quantity is not None:
            whole = self.quantity == self.quantity.to_integral_value()
            body["quantity"] = int(self.quantity) if whole else _plain(self.quantity)
        return body


def _legs(value: Any) -> tuple[NewLeg, ...]:
    if isinstance(value, NewLeg):
        return (value,)
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidOrder(f"legs must be a NewLeg or a sequence of them, got {show_value(value)}")
    legs = tuple(value)
    for leg in legs:
        if not isinstance(leg, NewLeg):
            raise InvalidOrder(f"each leg must be a NewLeg, got {show_value(leg)}")
    return legs


@frozen
class NewOrder:
    """An order to send, checked against the API's rules when it is built.

    ``price`` (Limit, Stop Limit, optionally Marketable Limit) and ``value``
    (Notional Market) are signed: **negative is a debit** (you pay), positive
    a credit. ``stop_trigger`` (Stop, Stop Limit) is a plain positive price.
    ``gtc_date`` is for GTD orders only. ``external_identifier`` is your name
    for the order (echoed back on it); :attr:`OrdersAPI.place_order` makes one
    when you give none. ``strict_position_effect=True`` asks the API to refuse
    a closing action with no position to close (instead of opening one).
    ``source`` says where the order comes from.

    Built with the class methods (:meth:`limit`, :meth:`market`, :meth:`stop`,
    :meth:`stop_limit`, :meth:`notional_market`) or directly. :meth:`to_json`
    is the exact request body: nothing is sent that is not a field here.
    """

    order_type: OrderType
    legs: Sequence[NewLeg]
    time_in_force: TimeInForce = TimeInForce.DAY
    price: Decimal | None = None
    stop_trigger: Decimal | None = None
    value: Decimal | None = None
    gtc_date: date | None = None
    external_identifier: str | None = None
    source: str | None = None
    strict_position_effect: bool = False

    def __post_init__(self) -> None:
        order_type = _enum(OrderType, self.order_type, "order_type")
        time_in_force = _enum(TimeInForce, self.time_in_force, "time_in_force")
        legs = _legs(self.legs)
        price = _optional_decimal(self.price, "price")
        stop_trigger = _optional_decimal(self.stop_trigger, "stop_trigger")
        value = _optional_decimal(self.value, "value")
        gtc_date = None if self.gtc_date is None else _as_date(self.gtc_date, "gtc_date")
        if self.external_identifier is not None:
            check_text(self.external_identifier, "external_identifier")
        if self.source is not None:
            check_text(self.source, "source")
        if not isinstance(self.strict_position_effect, bool):
            raise InvalidOrder("strict_position_effect must be True or False")
        _check_legs(order_type, legs)
        _check_terms(order_type, time_in_force, price, stop_trigger, value, gtc_date)
        opening = any(leg.action.opens for leg in legs)
        if order_type is OrderType.STOP and time_in_force in _LONG_LIVED and opening:
            raise InvalidOrder(
                f"a Stop order that opens a position cannot be {time_in_force.value}"
            )
        if len(legs) == 1:  # one leg: its direction decides debit or credit
            leg = legs[0]
            for name, amount in (("price", price), ("value", value)):
                if amount is None:
                    continue
                if leg.action.buys and amount > 0:
                    raise InvalidOrder(
                        f"a buy is paid for: its {name} must be a debit (negative), got {amount}"
                    )
                if not leg.action.buys and amount < 0:
                    raise InvalidOrder(
                        f"a sell is paid to you: its {name} must be a credit (positive), "
                        f"got {amount}"
                    )
        for name, item in (
            ("order_type", order_type),
            ("time_in_force", time_in_force),
            ("legs", legs),
            ("price", price),
            ("stop_trigger", stop_trigger),
            ("value", value),
            ("gtc_date", gtc_date),
        ):
            object.__setattr__(self, name, item)

    # -- convenience constructors ---------------------------------------------------------

    @classmethod
    def limit(
        cls,
        legs: NewLeg | Sequence[NewLeg],
        price: Decimal | int | str,
        *,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        gtc_date: date | None = None,
        external_identifier: str | None = None,
        source: str | None = None,
        strict_position_effect: bool = False,
    ) -> NewOrder:
        """A limit order: ``price`` per unit (per share, per spread), negative to pay."""
        return cls(
            OrderType.LIMIT,
            _legs(legs),
            time_in_force,  # type: ignore[arg-type]
            price=price,  # type: ignore[arg-type]
            gtc_date=gtc_date,
            external_identifier=external_identifier,
            source=source,
            strict_position_effect=strict_position_effect,
        )

    @classmethod
    def market(
        cls,
        leg: NewLeg,
        *,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        external_identifier: str | None = None,
        source: str | None = None,
        strict_position_effect: bool = False,
    ) -> NewOrder:
        """A market order (one leg; never GTC or GTD)."""
        return cls(
            OrderType.MARKET,
            _legs(leg),
            time_in_force,  # type: ignore[arg-type]
            external_identifier=external_identifier,
            source=source,
            strict_position_effect=strict_position_effect,
        )

    @classmethod
    def stop(
        cls,
        legs: NewLeg | Sequence[NewLeg],
        stop_trigger: Decimal | int | str,
        *,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        gtc_date: date | None = None,
        external_identifier: str | None = None,
        source: str | None = None,
        strict_position_effect: bool = False,
    ) -> NewOrder:
        """A stop order: becomes a market order once the price reaches ``stop_trigger``."""
        return cls(
            OrderType.STOP,
            _legs(legs),
            time_in_force,  # type: ignore[arg-type]
            stop_trigger=stop_trigger,  # type: ignore[arg-type]
            gtc_date=gtc_date,
            external_identifier=external_identifier,
            source=source,
            strict_position_effect=strict_position_effect,
        )

    @classmethod
    def stop_limit(
        cls,
        legs: NewLeg | Sequence[NewLeg],
        price: Decimal | int | str,
        stop_trigger: Decimal | int | str,
        *,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        gtc_date: date | None = None,
        external_identifier: str | None = None,
        source: str | None = None,
        strict_position_effect: bool = False,
    ) -> NewOrder:
        """A stop-limit order: becomes a limit order at ``price`` once ``stop_trigger`` is hit."""
        return cls(
            OrderType.STOP_LIMIT,
            _legs(legs),
            time_in_force,  # type: ignore[arg-type]
            price=price,  # type: ignore[arg-type]
            stop_trigger=stop_trigger,  # type: ignore[arg-type]
            gtc_date=gtc_date,
            external_identifier=external_identifier,
            source=source,
            strict_position_effect=strict_position_effect,
        )

    @classmethod
    def notional_market(
        cls,
        leg: NewLeg,
        value: Decimal | int | str,
        *,
        external_identifier: str | None = None,
        source: str | None = None,
    ) -> NewOrder:
        """A market order for an amount of money (``value``, negative to buy), not a quantity.

        For cryptocurrency and fractional-eligible equities; the leg has no quantity.
        """
        return cls(
            OrderType.NOTIONAL_MARKET,
            _legs(leg),
            value=value,  # type: ignore[arg-type]
            external_identifier=external_identifier,
            source=source,
        )

    # -- using it -------------------------------------------------------------------------

    def with_external_identifier(self, external_identifier: str) -> NewOrder:
        """A copy carrying ``external_identifier``."""
        return replace(self, external_identifier=external_identifier)

    def replacement(
        self,
        *,
        order_type: OrderType | str | _Keep = _KEEP,
        time_in_force: TimeInForce | str | _Keep = _KEEP,
        price: Decimal | int | str | _Keep | None = _KEEP,
        stop_trigger: Decimal | int | str | _Keep | None = _KEEP,
        value: Decimal | int | str | _Keep | None = _KEEP,
        gtc_date: date | _Keep | None = _KEEP,
    ) -> Replacement:
        """This order's terms as a :class:`Replacement`, with the terms given changed.

        A term not given keeps this order's; ``None`` removes it (``price=None``
        with ``order_type="Market"``).
        """

        def pick(given: object, own: object) -> Any:
            return own if given is _KEEP else given

        return Replacement(
            pick(order_type, self.order_type),
            pick(time_in_force, self.time_in_force),
            pick(price, self.price),
            pick(stop_trigger, self.stop_trigger),
            pick(value, self.value),
            pick(gtc_date, self.gtc_date),
        )

    def to_json(self) -> dict[str, Any]:
        """The exact request body: decimals as strings, amounts split into amount and effect."""
        body = _terms_json(
            self.order_type,
            self.time_in_force,
            self.price,
            self.stop_trigger,
            self.value,
            self.gtc_date,
        )
        if self.source is not None:
            body["source"] = self.source
        if self.external_identifier is not None:
            body["external-identifier"] = self.external_identifier
        if self.strict_position_effect:
            body["advanced-instructions"] = {"strict-position-effect-validation": True}
        body["legs"] = [leg.to_json() for leg in self.legs]
        return body


def _check_legs(order_type: OrderType, legs: tuple[NewLeg, ...]) -> None:
    if not 1 <= len(legs) <= MAX_LEGS:
        raise InvalidOrder(f"an order has 1 to {MAX_LEGS} legs, got {len(legs)}")
    symbols = [leg.symbol for leg in legs]
    repeated = sorted({s for s in symbols if symbols.count(s) > 1})
    if repeated:
        raise InvalidOrder(f"each leg needs its own symbol; repeated: {', '.join(repeated)}")
    for kind in _OUTRIGHT:
        if sum(1 for leg in legs if leg.instrument_type is kind) > 1:
            raise InvalidOrder(f"an order has at most one {kind.value} leg")
    if len(legs) > 1:
        if any(leg.instrument_type is InstrumentType.CRYPTOCURRENCY for leg in legs):
            raise InvalidOrder("a cryptocurrency order has exactly one leg")
        if any(leg.action in (OrderAction.BUY, OrderAction.SELL) for leg in legs):
            raise InvalidOrder("'Buy' and 'Sell' are for a single-leg future order only")
    if order_type is OrderType.MARKET and len(legs) > 1:
        raise InvalidOrder("a Market order has one leg")
    if order_type is OrderType.NOTIONAL_MARKET:
        if len(legs) > 1:
            raise InvalidOrder("a Notional Market order has one leg")
        leg = legs[0]
        if leg.quantity is not None:
            raise InvalidOrder("a Notional Market order's leg has no quantity: give a value")
        if leg.instrument_type not in (InstrumentType.EQUITY, InstrumentType.CRYPTOCURRENCY):
            raise InvalidOrder("Notional Market orders are for equities and cryptocurrency")
    else:
        for leg in legs:
            if leg.quantity is None:
                raise InvalidOrder(f"the leg for {leg.symbol} needs a quantity")


def _terms_json(
    order_type: OrderType,
    time_in_force: TimeInForce,
    price: Decimal | None,
    stop_trigger: Decimal | None,
    value: Decimal | None,
    gtc_date: date | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"time-in-force": time_in_force.value, "order-type": order_type.value}
    if gtc_date is not None:
        body["gtc-date"] = gtc_date.isoformat()
    if price is not None:
        amount, effect = unsigned(price)
        body["price"] = _plain(amount)
        body["price-effect"] = effect.value
    if stop_trigger is not None:
        body["stop-trigger"] = _plain(stop_trigger)
    if value is not None:
        amount, effect = unsigned(value)
        body["value"] = _plain(amount)
        body["value-effect"] = effect.value
    return body


@frozen
class Replacement:
    """New terms for a working order (the body of a replace or an edit; it has no legs).

    The API lets the order type, price and time in force change; the legs
    stay. ``price`` and ``value`` are signed as in :class:`NewOrder`
    (negative is a debit): keep the sign of the order being replaced.
    """

    order_type: OrderType
    time_in_force: TimeInForce = TimeInForce.DAY
    price: Decimal | None = None
    stop_trigger: Decimal | None = None
    value: Decimal | None = None
    gtc_date: date | None = None

    def __post_init__(self) -> None:
        order_type = _enum(OrderType, self.order_type, "order_type")
        time_in_force = _enum(TimeInForce, self.time_in_force, "time_in_force")
        price = _optional_decimal(self.price, "price")
        stop_trigger = _optional_decimal(self.stop_trigger, "stop_trigger")
        value = _optional_decimal(self.value, "value")
        gtc_date = None if self.gtc_date is None else _as_date(self.gtc_date, "gtc_date")
        _check_terms(order_type, time_in_force, price, stop_trigger, value, gtc_date)
        object.__setattr__(self, "order_type", order_type)
        object.__setattr__(self, "time_in_force", time_in_force)
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "stop_trigger", stop_trigger)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "gtc_date", gtc_date)

    @classmethod
    def limit(
        cls,
        price: Decimal | int | str,
        *,
        time_in_force: TimeInForce | str = TimeInForce.DAY,
        gtc_date: date | None = None,
    ) -> Replacement:
        """New limit terms: ``price`` signed (negative to pay)."""
        return cls(OrderType.LIMIT, time_in_force, price, gtc_date=gtc_date)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        """The exact request body (no legs)."""
        return _terms_json(
            self.order_type,
            self.time_in_force,
            self.price,
            self.stop_trigger,
            self.value,
            self.gtc_date,
        )


_COMPLEX_SHAPES: dict[ComplexOrderType, tuple[bool, int]] = {
    # type: (has a trigger order, how many other orders)
    ComplexOrderType.OCO: (False, 2),
    ComplexOrderType.OTO: (True, 1),
    ComplexOrderType.OTOCO: (True, 2),
    ComplexOrderType.PAIRS: (False, 2),
}


@frozen
class NewComplexOrder:
    """A complex order to send: ``OCO`` (2 orders), ``OTO`` (a trigger and 1 order),
    ``OTOCO`` (a trigger and 2 orders) or ``PAIRS`` (2 orders).

    ``external_identifier`` names it: it is put on each of its orders that has
    none of its own (the API keeps identifiers on orders). Build one with
    :meth:`oco`, :meth:`oto`, :meth:`otoco` or :meth:`pairs`.
    """

    type: ComplexOrderType
    orders: Sequence[NewOrder]
    trigger_order: NewOrder | None = None
    external_identifier: str | None = None

    def __post_init__(self) -> None:
        kind = _enum(ComplexOrderType, self.type, "type")
        if isinstance(self.orders, (str, bytes, Mapping)) or not isinstance(self.orders, Iterable):
            raise InvalidOrder(
                f"orders must be a sequence of NewOrder, got {show_value(self.orders)}"
            )
        orders = tuple(self.orders)
        trigger = () if self.trigger_order is None else (self.trigger_order,)
        for order in (*orders, *trigger):
            if not isinstance(order, NewOrder):
                raise InvalidOrder(f"each order must be a NewOrder, got {show_value(order)}")
        has_trigger, count = _COMPLEX_SHAPES[kind]
        if has_trigger and self.trigger_order is None:
            raise InvalidOrder(f"an {kind.value} order needs a trigger_order")
        if not has_trigger and self.trigger_order is not None:
            raise InvalidOrder(f"an {kind.value} order has no trigger_order")
        if len(orders) != count:
            raise InvalidOrder(
                f"an {kind.value} order has {count} orders besides any trigger, got {len(orders)}"
            )
        if self.external_identifier is not None:
            check_text(self.external_identifier, "external_identifier")
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "orders", orders)

    @classmethod
    def oco(
        cls, first: NewOrder, second: NewOrder, *, external_identifier: str | None = None
    ) -> NewComplexOrder:
        """One cancels the other: e.g. a take-profit limit and a stop-loss on one position."""
        return cls(ComplexOrderType.OCO, (first, second), external_identifier=external_identifier)

    @classmethod
    def oto(
        cls, trigger: NewOrder, then: NewOrder, *, external_identifier: str | None = None
    ) -> NewComplexOrder:
        """One triggers the other: ``then`` is sent once ``trigger`` fills."""
        return cls(ComplexOrderType.OTO, (then,), trigger, external_identifier)

    @classmethod
    def otoco(
        cls,
        trigger: NewOrder,
        first: NewOrder,
        second: NewOrder,
        *,
        external_identifier: str | None = None,
    ) -> NewComplexOrder:
        """A trigger that, once filled, sends a one-cancels-the-other pair (a bracket)."""
        return cls(ComplexOrderType.OTOCO, (first, second), trigger, external_identifier)

    @classmethod
    def pairs(
        cls, first: NewOrder, second: NewOrder, *, external_identifier: str | None = None
    ) -> NewComplexOrder:
        """A pair trade of two orders."""
        return cls(ComplexOrderType.PAIRS, (first, second), external_identifier=external_identifier)

    @property
    def components(self) -> tuple[NewOrder, ...]:
        """The trigger order (if any), then the others, each tagged with the identifier."""
        found = ((self.trigger_order,) if self.trigger_order else ()) + tuple(self.orders)
        if self.external_identifier is None:
            return found
        return tuple(
            o if o.external_identifier else o.with_external_identifier(self.external_identifier)
            for o in found
        )

    @property
    def identifiers(self) -> frozenset[str]:
        """Every ``external-identifier`` the body carries."""
        return frozenset(o.external_identifier for o in self.components if o.external_identifier)

    def with_external_identifier(self, external_identifier: str) -> NewComplexOrder:
        """A copy carrying ``external_identifier``."""
        return replace(self, external_identifier=external_identifier)

    def to_json(self) -> dict[str, Any]:
        """The exact request body."""
        components = self.components
        body: dict[str, Any] = {"type": self.type.value}
        if self.trigger_order is not None:
            body["trigger-order"] = components[0].to_json()
            components = components[1:]
        body["orders"] = [o.to_json() for o in components]
        return body


# -- tick sizes ---------------------------------------------------------------------------


def check_tick(price: Decimal, tick_sizes: Sequence[TickSize], *, what: str = "price") -> None:
    """Raise :class:`TickSizeError` unless ``price`` is a multiple of the tick that applies.

    ``tick_sizes`` are the instrument's (``tick-sizes`` of an equity, a
    future's product, ...); the sign of ``price`` is ignored. With no rule
    that applies, nothing is checked. The check is exact whatever the decimal
    context; a price more than a hundred digits of ticks from zero is refused.
    """
    increment = tick_size_for(price, tick_sizes)
    if increment is None or not increment.is_finite() or increment <= 0:
        return
    try:
        size = price.copy_abs()
        on_tick = _times(_ticks_below(size, increment), increment) == size
    except (InvalidOperation, _TooFar):  # not a number, or too far to divide exactly
        on_tick = False
    if not on_tick:
        raise TickSizeError(
            f"{what} {price} is not a multiple of the tick size {increment} that applies to it",
            price=price,
            increment=increment,
        )


# A price more ticks than this from zero (10**100) is not rounded or taken as on a tick.
_MAX_TICK_DIGITS = 100
# What round_to_tick takes: nearest (ties as named), or one way (of the magnitude or the sign).
_NEAREST = frozenset({ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_HALF_DOWN})
_ROUNDINGS = _NEAREST | {ROUND_UP, ROUND_DOWN, ROUND_CEILING, ROUND_FLOOR}


class _TooFar(Exception):
    """A price too many ticks from zero to divide exactly."""


def _ticks_below(size: Decimal, increment: Decimal) -> int:
    """How many whole ``increment``s fit in ``size`` (both positive and finite), exactly."""
    if size < increment:
        return 0
    digits = size.adjusted() - increment.adjusted() + 2
    if digits > _MAX_TICK_DIGITS:
        raise _TooFar
    context = Context(prec=digits + 2, Emax=MAX_EMAX, Emin=MIN_EMIN)
    return int(context.divide_int(size, increment))


def _times(count: int, increment: Decimal) -> Decimal:
    """``count * increment`` exactly, with the increment's decimal places (at least none)."""
    _, digits, exponent = increment.as_tuple()
    coefficient = int("".join(map(str, digits))) * count
    if not isinstance(exponent, int):  # pragma: no cover - increments are finite
        raise InvalidOperation
    if exponent > 0:
        coefficient, exponent = coefficient * 10**exponent, 0
    return Decimal((0, tuple(map(int, str(coefficient))), exponent))


# One stretch of a tick table: prices in [low, high) (high None: no end) are multiples of
# ``increment`` (None: no rule, any price goes).
_Stretch = tuple[Decimal, "Decimal | None", "Decimal | None"]


def _stretches(tick_sizes: Sequence[TickSize]) -> list[_Stretch]:
    """``tick_sizes`` as consecutive stretches from zero, as :func:`tick_size_for` reads them."""
    stretches: list[_Stretch] = []
    low = Decimal(0)
    for tick in tick_sizes:
        value, high = tick.value, tick.threshold
        if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
            raise InvalidOrder(f"cannot round to a tick size of {value}: not a positive number")
        if high is not None and (not isinstance(high, Decimal) or high.is_nan()):
            raise InvalidOrder(f"cannot round with a tick size threshold of {high}")
        if high is None or (high.is_infinite() and high > 0):
            stretches.append((low, None, value))
            return stretches
        if high > low:  # a threshold at or below an earlier one never applies
            stretches.append((low, high, value))
            low = high
    stretches.append((low, None, None))
    return stretches


# A price a rounding may give, in magnitude: its value, and its multiple of the tick of its
# stretch (None where no rule applies).
_Candidate = tuple[Decimal, "int | None"]


def _down(size: Decimal, stretches: list[_Stretch], at: int) -> _Candidate:
    """The largest price accepted at or below ``size`` (which is in ``stretches[at]``)."""
    low, _, increment = stretches[at]
    if increment is None:
        return size, None
    count = _ticks_below(size, increment)
    while True:
        found = _times(count, increment)
        if found >= low or at == 0:
            return found, count
        # No multiple of this tick between the stretch's start and ``size``: the largest
        # below that start (every stretch below has a rule; zero is in every rule).
        at -= 1
        start, low, increment = low, stretches[at][0], stretches[at][2]
        assert increment is not None
        count = _ticks_below(start, increment)
        if _times(count, increment) == start:
            count -= 1


def _up(size: Decimal, stretches: list[_Stretch], at: int) -> _Candidate:
    """The smallest price accepted at or above ``size`` (which is in ``stretches[at]``)."""
    target = size
    while True:
        _, high, increment = stretches[at]
        if increment is None:
            return target, None
        count = _ticks_below(target, increment)
        found = _times(count, increment)
        if found < target:
            count += 1
            found = _times(count, increment)
        if high is None or found < high:
            return found, count
        # Past the stretch's end: the coarser (or other) tick above decides from there.
        at, target = at + 1, high


def round_to_tick(
    price: Decimal, tick_sizes: Sequence[TickSize], *, rounding: str = ROUND_HALF_EVEN
) -> Decimal:
    """``price`` moved to a price :func:`check_tick` accepts: a multiple of the tick that
    applies to the result.

    ``tick_sizes`` are the instrument's, as for :func:`check_tick`. The magnitude is
    rounded and the sign kept (``-2.347`` → ``-2.35``); a price rounded to zero is ``0``.
    ``rounding`` is one of the :mod:`decimal` module's constants:

    * ``ROUND_HALF_EVEN`` (the default), ``ROUND_HALF_UP``, ``ROUND_HALF_DOWN``: the
      nearest accepted price; a tie goes to the even multiple of its tick (half-even),
      away from zero (half-up) or toward zero (half-down). Where a tie straddles a
      threshold and both or neither multiple is even, half-even goes away from zero.
    * ``ROUND_DOWN`` / ``ROUND_UP``: the nearest accepted price toward zero / away
      from zero; ``ROUND_FLOOR`` / ``ROUND_CEILING``: toward minus / plus infinity.

    The tick is the one for the *result*: rounding up across a threshold lands on a
    multiple of the coarser tick above it (ticks of 0.01 below 3 and 0.05 from 3:
    ``2.999`` rounds up to ``3.00``, ``3.001`` up to ``3.05`` and down to ``3.00``). With
    the API's tables (each threshold a multiple of the ticks on both sides) the result
    is less than one tick from ``price``. It is written with the tick's decimal places
    (``3.1`` → ``3.10``). Where no tick is known
    (:func:`~tastytrade_proto.instruments.tick_size_for` gives ``None``: no table, or a
    price past every threshold) ``price`` is returned unchanged.

    Raises :class:`InvalidOrder` for a ``price`` that is not a finite :class:`~decimal.Decimal`
    (a float, NaN, an infinity), an unknown ``rounding``, a tick size that is not positive,
    or a price more than 10**100 ticks from zero.
    """
    if not isinstance(price, Decimal):
        raise InvalidOrder(
            f"round_to_tick takes a Decimal price, got {type(price).__name__} {price!r}"
        )
    if not price.is_finite():
        raise InvalidOrder(f"cannot round the price {price} to a tick: it is not a finite number")
    if rounding not in _ROUNDINGS:
        raise InvalidOrder(
            f"unknown rounding {rounding!r}: give one of "
            + ", ".join(sorted(_ROUNDINGS))
            + " (from the decimal module)"
        )
    stretches = _stretches(tick_sizes)
    size = price.copy_abs()
    at = next(i for i, (_, high, _) in enumerate(stretches) if high is None or size < high)
    if stretches[at][2] is None:
        return price
    try:
        if rounding in _NEAREST:
            down, up = _down(size, stretches, at), _up(size, stretches, at)
            middle = _middle(down[0], up[0])
            if size != middle:
                result = down if size < middle else up
            elif rounding == ROUND_HALF_EVEN:
                result = down if _even(down) and not _even(up) else up
            else:
                result = down if rounding == ROUND_HALF_DOWN else up
        else:
            away = rounding == ROUND_UP or (
                rounding != ROUND_DOWN and (rounding == ROUND_CEILING) != price.is_signed()
            )
            result = _up(size, stretches, at) if away else _down(size, stretches, at)
    except _TooFar:
        raise InvalidOrder(
            f"cannot round the price {price} to a tick: it is over 10**{_MAX_TICK_DIGITS} "
            "ticks from zero"
        ) from None
    value = result[0]
    return value.copy_negate() if price.is_signed() and value else value


def _middle(low: Decimal, high: Decimal) -> Decimal:
    """Halfway between two prices, exactly (whatever the decimal context)."""
    exponents = [e for n in (low, high) if isinstance(e := n.as_tuple().exponent, int)]
    digits = max(low.adjusted(), high.adjusted(), 0) - min(*exponents, 0) + 4
    context = Context(prec=digits, Emax=MAX_EMAX, Emin=MIN_EMIN)
    return context.divide(context.add(low, high), 2)


def _even(candidate: _Candidate) -> bool:
    return candidate[1] is not None and candidate[1] % 2 == 0


def check_ticks(items: Iterable[NewOrder | Replacement], tick_sizes: Sequence[TickSize]) -> None:
    for item in items:
        if item.price is not None:
            check_tick(item.price, tick_sizes)
        if item.stop_trigger is not None:
            check_tick(item.stop_trigger, tick_sizes, what="stop_trigger")
