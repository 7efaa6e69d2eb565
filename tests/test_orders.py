"""The orders area: building orders, each endpoint's exact request, the models, and safe placing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

import pytest

from tastytrade_proto import (
    DecodeError,
    Forbidden,
    LocalProtocolError,
    RateLimited,
    ServerError,
    TastytradeError,
    TransportError,
    TransportTimeout,
    ValidationFailed,
)
from tastytrade_proto.accounts import InstrumentType
from tastytrade_proto.instruments import TickSize
from tastytrade_proto.orders import (
    RECONCILE_DELAYS,
    BuyingPowerEffect,
    ComplexOrder,
    ComplexOrderType,
    InvalidOrder,
    MarginDryRunResult,
    NewComplexOrder,
    NewLeg,
    NewOrder,
    Order,
    OrderAction,
    OrderNotPlaced,
    OrderOutcomeUnknown,
    OrderResponse,
    OrderStatus,
    OrderType,
    Replacement,
    TickSizeError,
    TimeInForce,
    check_tick,
    new_external_identifier,
)
from tastytrade_proto.protocol import Done, OperationState, Response, Send, Wait

from .conftest import sample
from .core import Core, body, data, items, target

ACCOUNT = "5WT00000"


class _NoOffset(tzinfo):
    """A tzinfo that is set but gives no offset: the datetime is naive all the same."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


# What Core's entropy (bytes 0..15) names an order: "tp-" + base32 of those bytes, lower case.
GENERATED = "tp-aaaqeayeaudaocajbifqydiob4"
POST_PATH = f"/accounts/{ACCOUNT}/orders"
LIVE_PATH = f"/accounts/{ACCOUNT}/orders/live"

BUY_AAPL = NewOrder.limit(NewLeg.equity("AAPL", OrderAction.BUY_TO_OPEN, 1), Decimal("-150.25"))


def spread(price: str = "-1.09", **kwargs: Any) -> NewOrder:
    return NewOrder.limit(
        [
            NewLeg.equity_option("AAPL  230818C00197500", "Buy to Open", 1),
            NewLeg.equity_option("AAPL  230818C00200000", "Sell to Open", 1),
        ],
        Decimal(price),
        **kwargs,
    )


def numbers(value: Any) -> Any:
    """JSON with every number and numeric string of an amount as a Decimal (to compare bodies)."""
    if isinstance(value, dict):
        return {
            k: Decimal(str(v))
            if k in ("price", "value", "stop-trigger", "quantity") and not isinstance(v, bool)
            else numbers(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [numbers(v) for v in value]
    return value


def sent(core: Core, method: str, path: str) -> int:
    """How many ``method path`` requests went out."""
    return sum(1 for r in core.http.requests if (r.method, target(r)[1]) == (method, path))


SENT_AT = "2026-09-21T14:13:20.000+00:00"  # tests.core.START, when Core's placements go out


def placed_row(identifier: str = GENERATED, order_id: int = 270561, **extra: Any) -> dict[str, Any]:
    row = dict(sample("orders_post_201.json")["data"]["order"])
    row.update({"id": order_id, "external-identifier": identifier, "received-at": SENT_AT})
    row.update(extra)
    return row


# -- the order you build ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, built",
    [
        (
            "orders_request_market_equity.json",
            lambda: NewOrder.market(NewLeg.equity("AAPL", "Buy to Open", 1)),
        ),
        (
            "orders_request_future_limit.json",
            lambda: NewOrder.limit(NewLeg.future("/CLZ2", "Sell to Open", 1), Decimal("90.03")),
        ),
        (
            "orders_request_gtd.json",
            lambda: NewOrder.limit(
                NewLeg.equity("AAPL", "Buy to Open", 1),
                "-0.85",
                time_in_force="GTD",
                gtc_date=date(2022, 12, 1),
            ),
        ),
        (
            "orders_request_notional_market.json",
            lambda: NewOrder.notional_market(
                NewLeg.equity("AAPL", "Buy to Open", fractional=True), Decimal("-10.0")
            ),
        ),
        (
            "orders_request_stop_limit.json",
            lambda: NewOrder.stop_limit(
                NewLeg.equity("AAPL", "Buy to Open", 100), -115, 110, time_in_force="GTC"
            ),
        ),
        (
            "orders_request_limit_spread.json",
            lambda: spread(external_identifier="6b1c2f4e-0000-4000-8000-000000000001"),
        ),
    ],
)
def test_the_body_is_the_documented_request(name: str, built: Any) -> None:
    order = built()
    assert numbers(order.to_json()) == numbers(sample(name))


def test_the_body_carries_decimals_as_strings_and_nothing_extra() -> None:
    order = spread(source="my-bot", strict_position_effect=True, external_identifier="x-1")
    assert order.to_json() == {
        "time-in-force": "Day",
        "order-type": "Limit",
        "price": "1.09",
        "price-effect": "Debit",
        "source": "my-bot",
        "external-identifier": "x-1",
        "advanced-instructions": {"strict-position-effect-validation": True},
        "legs": [
            {
                "instrument-type": "Equity Option",
                "symbol": "AAPL  230818C00197500",
                "action": "Buy to Open",
                "quantity": 1,
            },
            {
                "instrument-type": "Equity Option",
                "symbol": "AAPL  230818C00200000",
                "action": "Sell to Open",
                "quantity": 1,
            },
        ],
    }
    assert "behavior" not in NewOrder.market(NewLeg.equity("AAPL", "Buy to Open", 1)).to_json()


def test_amounts_never_go_out_in_exponent_form() -> None:
    order = NewOrder.limit(NewLeg.equity("AAPL", "Sell to Close", Decimal("1E+2")), Decimal("2E+1"))
    assert order.to_json()["price"] == "20"
    assert order.to_json()["legs"][0]["quantity"] == 100
    crypto = NewOrder.limit(NewLeg.crypto("BTC/USD", "Buy to Open", "0.00012"), "-65000.5")
    assert crypto.to_json()["legs"][0]["quantity"] == "0.00012"


def test_a_credit_spread_and_a_strings_and_ints_are_accepted() -> None:
    order = spread("0.85")
    assert order.price == Decimal("0.85")
    assert order.to_json()["price-effect"] == "Credit"
    assert isinstance(order.legs, tuple)
    assert order.legs[0].instrument_type is InstrumentType.EQUITY_OPTION
    assert order.legs[0].action is OrderAction.BUY_TO_OPEN


def leg(**kwargs: Any) -> NewLeg:
    values: dict[str, Any] = dict(
        instrument_type="Equity", symbol="AAPL", action="Buy to Open", quantity=1
    )
    values.update(kwargs)
    return NewLeg(**values)


OPT = NewLeg.equity_option("SPY   261218C00600000", "Buy to Open", 1)
OPT2 = NewLeg.equity_option("SPY   261218C00610000", "Sell to Open", 1)


@pytest.mark.parametrize(
    "build, problem",
    [
        (lambda: NewOrder.limit([], -1), "1 to 4 legs"),
        (
            lambda: NewOrder.limit(
                [
                    OPT,
                    OPT2,
                    *(
                        NewLeg.equity_option(f"SPY   2612{i}C00600000", "Buy to Open", 1)
                        for i in (10, 11, 12)
                    ),
                ],
                -1,
            ),
            "1 to 4 legs",
        ),
        (lambda: NewOrder.limit([OPT, OPT], -1), "repeated: SPY"),
        (
            lambda: NewOrder.limit([leg(), leg(symbol="MSFT")], -1),
            "at most one Equity leg",
        ),
        (
            lambda: NewOrder.limit([NewLeg.crypto("BTC/USD", "Buy to Open", 1), OPT], -1),
            "cryptocurrency order has exactly one leg",
        ),
        (lambda: leg(action="Buy"), "only for futures"),
        (
            lambda: NewOrder.limit(
                [
                    NewLeg.future("/ESZ6", "Buy", 1),
                    NewLeg.future_option("./ESZ6 EW4Z6 261218C6000", "Sell to Open", 1),
                ],
                -1,
            ),
            "single-leg future",
        ),
        (lambda: leg(quantity=0), "must be positive"),
        (lambda: leg(quantity=Decimal("-2")), "must be positive"),
        (lambda: leg(quantity=Decimal("1.5")), "whole number"),
        (lambda: leg(quantity=1.5), "float is not exact"),
        (lambda: leg(quantity=True), "must be a Decimal"),
        (lambda: leg(quantity="abc"), "not a decimal"),
        (lambda: leg(quantity=Decimal("NaN")), "finite"),
        (lambda: leg(quantity=Decimal("1e40")), "too many digits"),
        (lambda: leg(instrument_type="Index"), "cannot be ordered"),
        (lambda: leg(instrument_type="Space Rock"), "instrument_type must be one of"),
        (lambda: leg(action="Hold"), "action must be one of"),
        (lambda: leg(symbol=""), "non-empty string"),
        (lambda: leg(symbol=" AAPL"), "leading or trailing"),
        (lambda: leg(symbol="AA\nPL"), "printable"),
        (lambda: leg(instrument_type="Equity Option", fractional=True), "only an equity leg"),
        (lambda: NewOrder.limit(leg(), None), "needs a price"),  # type: ignore[arg-type]
        (lambda: NewOrder.limit(leg(), 0), "must not be zero"),
        (lambda: NewOrder(OrderType.MARKET, [leg()], price=Decimal(-1)), "has no price"),
        (lambda: NewOrder(OrderType.STOP, [leg()]), "needs a stop_trigger"),
        (lambda: NewOrder.stop(leg(), -5), "stop_trigger must be positive"),
        (
            lambda: NewOrder(OrderType.LIMIT, [leg()], price=Decimal(-1), stop_trigger=Decimal(1)),
            "only Stop and Stop Limit",
        ),
        (lambda: NewOrder.stop_limit(leg(), -115, None), "needs a stop_trigger"),  # type: ignore[arg-type]
        (lambda: NewOrder(OrderType.NOTIONAL_MARKET, [leg(quantity=None)]), "needs a value"),
        (
            lambda: NewOrder.notional_market(leg(), -10),
            "leg has no quantity",
        ),
        (
            lambda: NewOrder.notional_market(
                NewLeg(
                    InstrumentType.EQUITY_OPTION, "SPY   261218C00600000", OrderAction.BUY_TO_OPEN
                ),
                -10,
            ),
            "for equities and cryptocurrency",
        ),
        (
            lambda: NewOrder(OrderType.LIMIT, [leg()], price=Decimal(-1), value=Decimal(-5)),
            "only Notional Market",
        ),
        (lambda: NewOrder.limit(leg(quantity=None), -1), "needs a quantity"),
        (lambda: NewOrder.limit(leg(), -1, time_in_force="GTD"), "needs a gtc_date"),
        (
            lambda: NewOrder.limit(leg(), -1, gtc_date=date(2026, 12, 1)),
            "only GTD orders have a gtc_date",
        ),
        (
            lambda: NewOrder.limit(
                leg(),
                -1,
                time_in_force="GTD",
                gtc_date=datetime(2026, 1, 1),
            ),
            "not a datetime",
        ),
        (lambda: NewOrder.market(leg(), time_in_force="GTC"), "never GTC or GTD"),
        (lambda: NewOrder.market(leg(), time_in_force=TimeInForce.GTC_EXT), "never GTC"),
        (lambda: NewOrder(OrderType.MARKET, [OPT, OPT2]), "Market order has one leg"),
        (
            lambda: NewOrder.stop(leg(), 110, time_in_force="GTC"),
            "opens a position cannot be GTC",
        ),
        (lambda: NewOrder.limit(leg(), 1), "a buy is paid for"),
        (lambda: NewOrder.limit(leg(action="Sell to Close"), -1), "a sell is paid to you"),
        (
            lambda: NewOrder.notional_market(NewLeg.crypto("BTC/USD", "Buy to Open"), Decimal(10)),
            "value must be a debit",
        ),
        (lambda: NewOrder.limit("AAPL", -1), "legs must be a NewLeg"),  # type: ignore[arg-type]
        (lambda: NewOrder.limit([1], -1), "each leg must be a NewLeg"),  # type: ignore[list-item]
        (lambda: NewOrder(OrderType.LIMIT, 5, price=Decimal(-1)), "legs must be"),  # type: ignore[arg-type]
        (lambda: NewOrder("Limit Order", [leg()]), "order_type must be one of"),  # type: ignore[arg-type]
        (lambda: NewOrder.limit(leg(), -1, time_in_force="Week"), "time_in_force must be one of"),
        (lambda: NewOrder.limit(leg(), -1, external_identifier=""), "non-empty"),
        (lambda: NewOrder.limit(leg(), -1, external_identifier="x" * 256), "longer than 255"),
        (lambda: NewOrder.limit(leg(), -1, source=7), "source must be"),  # type: ignore[arg-type]
        (
            lambda: NewOrder.limit(leg(), -1, strict_position_effect="yes"),  # type: ignore[arg-type]
            "strict_position_effect",
        ),
    ],
)
def test_rules_are_checked_when_the_order_is_built(build: Any, problem: str) -> None:
    with pytest.raises(InvalidOrder, match=problem):
        build()


def test_invalid_order_is_a_local_protocol_error() -> None:
    assert issubclass(InvalidOrder, LocalProtocolError)
    assert issubclass(TickSizeError, InvalidOrder)


def test_what_the_rules_allow() -> None:
    # Futures take Buy/Sell; the to-open/close actions too.
    assert NewOrder.market(NewLeg.future("/ESZ6", "Buy", 1)).legs[0].action is OrderAction.BUY
    # Equity plus option legs (a covered call) is one order.
    covered = NewOrder.limit(
        [
            NewLeg.equity("SPY", "Buy to Open", 100),
            NewLeg.equity_option("SPY   261218C00610000", "Sell to Open", 1),
        ],
        "-59012.35",
    )
    assert len(covered.legs) == 2
    # A closing stop may be GTC; a stop on a multi-leg order has no direction check.
    assert NewOrder.stop(NewLeg.equity("AAPL", "Sell to Close", 100), "143.06", time_in_force="GTC")
    # Fractional equity quantities when marked so; crypto always.
    assert NewLeg.equity("AAPL", "Buy to Open", "0.5", fractional=True).quantity == Decimal("0.5")
    # Marketable Limit may go without a price.
    assert NewOrder(OrderType.MARKETABLE_LIMIT, [NewLeg.crypto("BTC/USD", "Buy to Open", 1)])


def test_replacement_body_has_no_legs_and_keeps_the_sign() -> None:
    change = Replacement.limit(Decimal("-185.45"))
    assert change.to_json() == sample("orders_put_replace_request.json")
    gtd = Replacement(
        OrderType.STOP_LIMIT,
        TimeInForce.GTD,
        Decimal("3.1"),
        Decimal("3.0"),
        gtc_date=date(2026, 12, 18),
    )
    assert gtd.to_json() == {
        "time-in-force": "GTD",
        "order-type": "Stop Limit",
        "gtc-date": "2026-12-18",
        "price": "3.1",
        "price-effect": "Credit",
        "stop-trigger": "3.0",
    }
    assert BUY_AAPL.replacement(price=Decimal("-150.10")).to_json()["price"] == "150.10"
    with pytest.raises(InvalidOrder, match="never GTC"):
        Replacement(OrderType.MARKET, TimeInForce.GTC)


def test_a_complex_order_body_is_the_documented_otoco() -> None:
    close = NewLeg.equity("AAPL", "Sell to Close", 100)
    otoco = NewComplexOrder.otoco(
        NewOrder.limit(NewLeg.equity("AAPL", "Buy to Open", 100), "-157.97"),
        NewOrder.limit(close, "198.68", time_in_force="GTC"),
        NewOrder.stop(close, "143.06", time_in_force="GTC"),
    )
    assert numbers(otoco.to_json()) == numbers(sample("complex_orders_request_otoco.json"))
    tagged = otoco.with_external_identifier("bracket-1").to_json()
    ids = [tagged["trigger-order"]["external-identifier"]] + [
        o["external-identifier"] for o in tagged["orders"]
    ]
    assert ids == ["bracket-1"] * 3


@pytest.mark.parametrize(
    "build, problem",
    [
        (lambda: NewComplexOrder(ComplexOrderType.OCO, [BUY_AAPL]), "has 2 orders"),
        (lambda: NewComplexOrder(ComplexOrderType.OTO, [BUY_AAPL]), "needs a trigger_order"),
        (
            lambda: NewComplexOrder(ComplexOrderType.OCO, [BUY_AAPL, BUY_AAPL], BUY_AAPL),
            "has no trigger_order",
        ),
        (lambda: NewComplexOrder("BLAST", [BUY_AAPL, BUY_AAPL]), "type must be one of"),  # type: ignore[arg-type]
        (lambda: NewComplexOrder.oco(BUY_AAPL, "x"), "each order must be a NewOrder"),  # type: ignore[arg-type]
        (lambda: NewComplexOrder(ComplexOrderType.PAIRS, 3), "orders must be"),  # type: ignore[arg-type]
        (lambda: NewComplexOrder.oco(BUY_AAPL, None), "got None"),  # type: ignore[arg-type]
    ],
)
def test_complex_order_rules(build: Any, problem: str) -> None:
    with pytest.raises(InvalidOrder, match=problem):
        build()


def test_a_caller_identifier_on_a_component_is_kept() -> None:
    mine = BUY_AAPL.with_external_identifier("mine")
    oto = NewComplexOrder.oto(mine, spread("0.5"), external_identifier="complex-1")
    body_ = oto.to_json()
    assert body_["trigger-order"]["external-identifier"] == "mine"
    assert body_["orders"][0]["external-identifier"] == "complex-1"
    assert oto.identifiers == {"mine", "complex-1"}


def test_the_complex_order_builders_take_only_an_identifier_besides_the_orders() -> None:
    first, second = BUY_AAPL, spread("0.5")
    builders: list[Callable[[], NewComplexOrder]] = [
        lambda: NewComplexOrder.oco(first, second, external_identifier="x-1"),
        lambda: NewComplexOrder.oto(first, second, external_identifier="x-1"),
        lambda: NewComplexOrder.otoco(first, second, spread("0.4"), external_identifier="x-1"),
        lambda: NewComplexOrder.pairs(first, second, external_identifier="x-1"),
    ]
    for build in builders:
        assert build().identifiers == {"x-1"}
    assert NewComplexOrder.oco(first, second).external_identifier is None
    with pytest.raises(TypeError):
        NewComplexOrder.oco(first, second, trigger_order=first)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        NewComplexOrder.pairs(first, second, "x-1")  # type: ignore[call-arg]


def test_a_replacement_keeps_the_terms_not_given_and_drops_those_given_as_none() -> None:
    stop = NewOrder.stop_limit(
        NewLeg.equity("AAPL", "Sell to Close", 1), "150", "151", time_in_force="GTC"
    )
    same = stop.replacement()
    assert (same.order_type, same.time_in_force, same.price, same.stop_trigger) == (
        OrderType.STOP_LIMIT,
        TimeInForce.GTC,
        Decimal("150"),
        Decimal("151"),
    )
    market = stop.replacement(
        order_type="Market", time_in_force="Day", price=None, stop_trigger=None
    )
    assert market.to_json() == {"time-in-force": "Day", "order-type": "Market"}
    dated = BUY_AAPL.replacement(time_in_force=TimeInForce.GTD, gtc_date=date(2026, 12, 18))
    assert dated.to_json()["gtc-date"] == "2026-12-18" and dated.price == Decimal("-150.25")
    with pytest.raises(InvalidOrder, match="no price"):
        stop.replacement(order_type="Market", time_in_force="Day", stop_trigger=None)
    with pytest.raises(TypeError):
        BUY_AAPL.replacement(legs=[])  # type: ignore[call-arg]


# -- tick sizes -------------------------------------------------------------------------------

EQUITY_TICKS = [
    TickSize(value=Decimal("0.0001"), threshold=Decimal("1")),
    TickSize(value=Decimal("0.01")),
]
OPTION_TICKS = [
    TickSize(value=Decimal("0.01"), threshold=Decimal("3")),
    TickSize(value=Decimal("0.05")),
]


def test_check_tick() -> None:
    check_tick(Decimal("-150.25"), EQUITY_TICKS)
    check_tick(Decimal("0.5012"), EQUITY_TICKS)
    check_tick(Decimal("3.05"), OPTION_TICKS)
    check_tick(Decimal("2.99"), OPTION_TICKS)
    check_tick(Decimal("1.23456"), [])  # no rule known: nothing to check
    with pytest.raises(
        TickSizeError, match=r"price 3\.07 is not a multiple of the tick size 0\.05"
    ):
        check_tick(Decimal("3.07"), OPTION_TICKS)
    with pytest.raises(TickSizeError) as info:
        check_tick(Decimal("-150.255"), EQUITY_TICKS)
    assert (info.value.price, info.value.increment) == (Decimal("-150.255"), Decimal("0.01"))


def test_tick_sizes_are_checked_before_anything_is_sent() -> None:
    core = Core()
    bad = NewOrder.limit(NewLeg.equity("AAPL", "Buy to Open", 1), "-150.255")
    for call in (core.calls.place_order, core.calls.dry_run_order):
        with pytest.raises(TickSizeError):
            call(ACCOUNT, bad, tick_sizes=EQUITY_TICKS)
    stop = NewOrder.stop(NewLeg.equity("AAPL", "Sell to Close", 1), "140.005")
    with pytest.raises(TickSizeError, match="stop_trigger"):
        core.calls.place_order(ACCOUNT, stop, tick_sizes=EQUITY_TICKS)
    with pytest.raises(TickSizeError):
        core.calls.replace_order(ACCOUNT, 1, Replacement.limit("-3.07"), tick_sizes=OPTION_TICKS)
    assert core.http.requests == []
    core.answer_sample("orders_dry_run_201.json", 201)
    core.run(core.calls.dry_run_order(ACCOUNT, BUY_AAPL, tick_sizes=EQUITY_TICKS))


# -- dry runs ---------------------------------------------------------------------------------


def test_dry_run_order() -> None:
    core = Core().answer_sample("orders_dry_run_201.json", 201)
    order = spread("2.0")
    result = core.run(core.calls.dry_run_order(ACCOUNT, order))
    assert target(core.sent) == ("POST", f"/accounts/{ACCOUNT}/orders/dry-run", [])
    assert body(core.sent) == order.to_json()  # no identifier is invented for a dry run
    assert isinstance(result, OrderResponse) and result.order is not None
    assert result.order.id is None and result.order.price == Decimal("2.0")
    assert result.order.status is OrderStatus.RECEIVED
    assert result.order.updated_at == datetime(1970, 1, 1, tzinfo=timezone.utc)
    effect = result.buying_power_effect
    assert effect is not None and effect.is_spread is True
    assert effect.change_in_buying_power == Decimal("-102.302")
    assert effect.current_buying_power == Decimal("8995981.2613")
    assert effect.impact == Decimal("-102.302")
    fees = result.fee_calculation
    assert fees is not None and fees.total_fees == Decimal("-2.302")
    assert fees.proprietary_index_option_fees == Decimal("0.0")


def test_dry_run_with_a_warning_and_rules() -> None:
    core = Core().answer_sample("orders_dry_run_201_with_warning.json", 201)
    result = core.run(core.calls.dry_run_order(ACCOUNT, BUY_AAPL))
    assert [w.code for w in result.warnings] == ["tif_next_valid_sesssion"]
    assert result.order is not None and result.order.status is OrderStatus.CONTINGENT
    assert result.order.contingent_status == "Pending Order"
    rules = result.order.rules
    assert rules is not None and rules.conditions[0].threshold == Decimal("0.01")
    assert rules.conditions[0].price_components[0].quantity == Decimal(1)
    assert result.fee_calculation is not None
    assert result.fee_calculation.regulatory_fees == Decimal("0.0")


def test_a_dry_run_places_nothing_so_it_is_retried_like_a_get() -> None:
    core = Core().answer({}, 503).answer_sample("orders_dry_run_201.json", 201)
    core.run(core.calls.dry_run_order(ACCOUNT, BUY_AAPL))
    assert sent(core, "POST", f"/accounts/{ACCOUNT}/orders/dry-run") == 2


def test_a_refused_dry_run_raises_with_the_reasons() -> None:
    core = Core().answer_sample("orders_dry_run_error_margin_check_failed.json", 422)
    with pytest.raises(ValidationFailed) as info:
        core.run(core.calls.dry_run_order(ACCOUNT, BUY_AAPL))
    assert [e.code for e in info.value.errors] == ["margin_check_failed"]
    # The answer's data (the effect that failed the check) is kept on the error.
    effect = BuyingPowerEffect.from_json(info.value.data["buying-power-effect"])
    assert effect.change_in_buying_power is not None and effect.change_in_buying_power < 0


def test_margin_dry_run() -> None:
    answer = {
        "sufficient": True,
        "is-spread": False,
        "change-in-margin-requirement": "1828.8",
        "change-in-margin-requirement-effect": "Debit",
        "new-buying-power": "1587.388",
        "new-buying-power-effect": "Credit",
    }
    core = Core().answer(data(answer))
    result = core.run(core.calls.margin_dry_run(ACCOUNT, BUY_AAPL))
    assert target(core.sent) == ("POST", f"/margin/accounts/{ACCOUNT}/dry-run", [])
    assert body(core.sent) == BUY_AAPL.to_json()
    assert isinstance(result, MarginDryRunResult) and result.sufficient is True
    assert result.change_in_margin_requirement == Decimal("-1828.8")
    assert result.new_buying_power == Decimal("1587.388")


# -- placing ----------------------------------------------------------------------------------


def test_place_order_sends_the_order_with_a_generated_identifier() -> None:
    core = Core().answer_sample("orders_post_201.json", 201)
    order = NewOrder.market(NewLeg.equity("AAPL", "Buy to Open", 1))
    placed = core.run(core.calls.place_order(ACCOUNT, order))
    assert target(core.sent) == ("POST", POST_PATH, [])
    assert body(core.sent) == order.with_external_identifier(GENERATED).to_json()
    assert body(core.sent)["external-identifier"] == GENERATED
    assert placed.external_identifier == GENERATED and placed.reconciled is False
    assert placed.order.id == 270561 and placed.order.status is OrderStatus.ROUTED
    assert placed.order.updated_at == datetime(2025, 5, 28, 13, 38, 48, 49000, timezone.utc)
    assert placed.fee_calculation is not None
    assert placed.fee_calculation.clearing_fees_breakdown[0].value == Decimal("-0.001")
    assert placed.fee_calculation.per_quantity is False
    assert placed.buying_power_effect is not None
    assert placed.buying_power_effect.new_buying_power == Decimal("999999.999")
    assert placed.warnings == ()
    assert len(core.http.requests) == 1


def test_the_callers_identifier_is_used() -> None:
    core = Core().answer_sample("orders_post_201.json", 201)
    placed = core.run(core.calls.place_order(ACCOUNT, spread(external_identifier="my-7")))
    assert body(core.sent)["external-identifier"] == "my-7"
    assert placed.external_identifier == "my-7"


def test_identifiers_are_fresh_and_need_entropy() -> None:
    assert new_external_identifier(bytes) != new_external_identifier(lambda n: b"\1" * n)
    first = new_external_identifier(lambda n: bytes(range(n)))
    assert first == GENERATED and len(first) == 29
    with pytest.raises(LocalProtocolError, match="16 bytes"):
        new_external_identifier(lambda n: b"short")
    core = Core()
    core.calls.entropy = None
    with pytest.raises(LocalProtocolError, match="external_identifier"):
        core.calls.place_order(ACCOUNT, BUY_AAPL)
    assert core.http.requests == []


def truncated() -> Response:
    return Response(201, (("content-type", "application/json"),), b'{"data": {"order": {"id": 2')


AMBIGUOUS: dict[str, Callable[[], Response | TransportError]] = {
    "timeout": lambda: TransportTimeout("read timed out"),
    "reset after sending": lambda: TransportError("connection reset", request_sent=True),
    "500": lambda: Response(500),
    "502 html": lambda: Response(502, (("content-type", "text/html"),), b"<html>bad gw</html>"),
    "truncated answer": truncated,
    "answer without order": lambda: Response(201, (), b'{"data": {"warnings": []}}'),
}
CAUSES: dict[str, type[TastytradeError]] = {
    "timeout": TransportTimeout,
    "reset after sending": TransportError,
    "500": ServerError,
    "502 html": ServerError,
    "truncated answer": DecodeError,
    "answer without order": DecodeError,
    "error body with 201": DecodeError,
    "decoder overflow": DecodeError,
}
# Answers with a 2xx status: the server took the order, whatever the body says.
ACCEPTED = {"truncated answer", "answer without order", "error body with 201", "decoder overflow"}
AMBIGUOUS["error body with 201"] = lambda: Response(
    201, (), b'{"error": {"code": "x", "message": "m"}}'
)
AMBIGUOUS["decoder overflow"] = lambda: Response(
    201, (), b'{"data": {"order": {"id": 1, "updated-at": -99999999999999}}}'
)


@pytest.mark.parametrize("case", sorted(AMBIGUOUS))
def test_an_ambiguous_failure_is_reconciled_not_resent(case: str) -> None:
    core = Core()
    core.http.queue(AMBIGUOUS[case]())
    other = placed_row("someone-else", 1)
    core.answer(items(other)).answer(items(other, placed_row(status="Live")))
    placed = core.run(core.calls.place_order(ACCOUNT, BUY_AAPL))
    assert placed.reconciled is True and placed.response is None
    assert placed.order.id == 270561 and placed.order.status is OrderStatus.LIVE
    assert placed.external_identifier == GENERATED
    assert sent(core, "POST", POST_PATH) == 1
    assert sent(core, "GET", LIVE_PATH) == 2
    assert core.clock.sleeps == [0.5, 1.0]


@pytest.mark.parametrize("case", sorted(set(AMBIGUOUS) - ACCEPTED))
def test_an_order_not_found_after_the_looks_is_unknown_never_not_placed(case: str) -> None:
    # The POST may still be in flight at the server: "not found yet" is not "not placed".
    core = Core()
    core.http.queue(AMBIGUOUS[case]())
    for _ in RECONCILE_DELAYS:
        core.answer(items(placed_row("someone-else", 1)))
    with pytest.raises(OrderOutcomeUnknown) as info:
        core.run(core.calls.place_order(ACCOUNT, BUY_AAPL))
    error = info.value
    assert not isinstance(error, OrderNotPlaced)
    assert error.external_identifier == GENERATED and error.looks == 5
    assert error.accepted is False and error.lookup_error is None
    assert type(error.__cause__) is CAUSES[case]
    assert "do not place it again blindly" in str(error)
    assert sent(core, "POST", POST_PATH) == 1
    assert sent(core, "GET", LIVE_PATH) == 5
    assert core.clock.sleeps == list(RECONCILE_DELAYS) == [0.5, 1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_an_accepted_order_not_yet_found_is_never_called_not_placed(case: str) -> None:
    core = Core()
    core.http.queue(AMBIGUOUS[case]())
    for _ in RECONCILE_DELAYS:
        core.answer(items())
    with pytest.raises(OrderOutcomeUnknown) as info:
        core.run(core.calls.place_order(ACCOUNT, BUY_AAPL))
    error = info.value
    assert error.accepted is True and error.lookup_error is None
    assert error.external_identifier == GENERATED
    assert "it was placed; do not place it again" in str(error)
    assert type(error.__cause__) is CAUSES[case]
    assert sent(core, "POST", POST_PATH) == 1


def test_an_earlier_order_with_the_same_identifier_is_not_taken_for_this_one() -> None:
    core = Core()
    core.http.queue(TransportTimeout("slow"))
    earlier = placed_row(order_id=5, **{"received-at": "2026-09-21T09:00:00.000+00:00"})
    for _ in RECONCILE_DELAYS:
        core.answer(items(earlier))
    with pytest.raises(OrderOutcomeUnknown):
        core.run(core.calls.place_order(ACCOUNT, BUY_AAPL))


def test_someone_elses_malformed_order_does_not_spoil_the_look() -> None:
    core = Core()
    core.http.queue(Response(500))
    broken = {"id": "not a number", "external-identifier": "someone-else", "legs": 7}
    core.answer(items(broken, placed_row()))
    placed = core.run(core.calls.place_order(ACCOUNT, BUY_AAPL))
    assert placed.reconciled and placed.order.id == 270561


def test_reconciliation_yields_wait_steps_between_looks() -> None:
    core = Core()
    op = core.calls.place_order(ACCOUNT, BUY_AAPL)
    step = op.next_step(now=core.clock())
    assert isinstance(step, Send) and step.request.method == "POST"
    op.fail(TransportTimeout("no answer"))
    waits = []
    for delay in RECONCILE_DELAYS:
        step = op.next_step(now=core.clock())
        assert step == Wait(delay)
        waits.append(step)
        step = op.next_step(now=core.clock())
        assert isinstance(step, Send) and step.request.method == "GET"
        assert target(step.request)[1] == LIVE_PATH
        op.receive(Response(200, (), b'{"data": {"items": []}}'))
    with pytest.raises(OrderOutcomeUnknown):
        op.next_step(now=core.clock())
    assert [w.seconds for w in waits] == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_the_delays_can_be_chosen() -> None:
    core = Core()
    core.http.queue(Response(503))
    core.answer(items()).answer(items(placed_row()))
    placed = core.run(core.calls.place_order(ACCOUNT, BUY_AAPL, reconcile_delays=(0.1, 0.2)))
    assert placed.reconciled and core.clock.sleeps == [0.1, 0.2]
    for bad in ((), (-1.0,), (float("nan"),), "x"):
        with pytest.raises(LocalProtocolError, match="reconcile_delays"):
            core.calls.place_order(ACCOUNT, BUY_AAPL, reconcile_delays=bad)  # type: ignore[arg-type]


def test_the_newest_matching_order_is_the_one_found() -> None:
    core = Core()
    core.http.queue(TransportTimeout("slow"))
    core.answer(items(placed_row(order_id=5), placed_row(order_id=9), placed_row("x", 12)))
    placed = core.run(core.calls.place_order(ACCOUNT, BUY_AAPL))
    assert placed.order.id == 9


def test_a_look_reads_every_page_of_the_live_orders() -> None:
    core = Core()
    core.http.queue(Response(500))
    paging = {"page-offset": 0, "total-pages": 2, "per-page": 1}
    core.answer({"data": {"items": [placed_row("x", 1)]}, "pagination": paging})
    core.answer({"data": {"items": [placed_row()]}, "pagination": {**paging, "page-offset": 1}})
    placed = core.run(core.calls.place_order(ACCOUNT, BUY_AAPL))
    assert placed.order.id == 270561
    assert [target(r)[2] for r in core.http.requests[1:]] == [[], [("page-offset", "1")]]


def test_a_look_is_retried_like_any_get() -> None:
    core = Core()
    core.http.queue(Response(500))
    core.answer({}, 503).answer(items(placed_row()))
    placed = core.run(core.calls.place_order(ACCOUNT, BUY_AAPL))
    assert placed.reconciled and sent(core, "GET", LIVE_PATH) == 2
    assert core.clock.sleeps == [0.5, 0.5]  # the first look's wait, then its retry's backoff
    assert sent(core, "POST", POST_PATH) == 1


def test_a_failed_look_means_the_outcome_is_unknown() -> None:
    core = Core()
    core.http.queue(TransportTimeout("slow"))
    core.answer({"error": {"code": "not_permitted", "message": "no"}}, 403)
    with pytest.raises(OrderOutcomeUnknown) as info:
        core.run(core.calls.place_order(ACCOUNT, BUY_AAPL))
    assert isinstance(info.value.__cause__, TransportTimeout)
    assert isinstance(info.value.lookup_error, Forbidden)
    assert info.value.external_identifier == GENERATED
    assert "may or may not have been placed" in str(info.value)
    assert not isinstance(info.value, OrderNotPlaced)
    assert sent(core, "POST", POST_PATH) == 1


@pytest.mark.parametrize(
    "answer, error",
    [
        (Response(429, (("Retry-After", "1"),)), RateLimited),
        (TransportError("refused", request_sent=False), TransportError),
        (Response(422, (), b'{"error": {"code": "preflight_check_failure"}}'), ValidationFailed),
        (Response(404), TastytradeError),
    ],
)
def test_a_certain_failure_is_not_placed_without_looking(answer: Any, error: type) -> None:
    core = Core()
    core.http.queue(answer)
    with pytest.raises(OrderNotPlaced) as info:
        core.run(core.calls.place_order(ACCOUNT, BUY_AAPL))
    assert isinstance(info.value.error, error) and info.value.__cause__ is info.value.error
    assert not isinstance(info.value.error, (OrderNotPlaced, OrderOutcomeUnknown))
    assert info.value.external_identifier == GENERATED
    assert "was not placed" in str(info.value)
    assert [r.method for r in core.http.requests] == ["POST"]
    assert core.clock.sleeps == []
    assert core.calls.unsettled_orders == {}


def test_a_failure_while_renewing_the_token_sends_no_order_and_looks_for_none() -> None:
    core = Core()
    core.clock.advance(1000)  # the 900 s access token has expired: renew before sending
    core.http.queue(TransportTimeout("token endpoint slow"))
    with pytest.raises(OrderNotPlaced, match="it was never sent") as info:
        core.run(core.calls.place_order(ACCOUNT, BUY_AAPL))
    assert isinstance(info.value.error, TransportTimeout)
    assert [target(r)[1] for r in core.http.requests] == ["/oauth/token"]


def test_a_misused_session_is_a_local_error_not_wrapped() -> None:
    core = Core()
    core.calls.machine.close()
    with pytest.raises(LocalProtocolError):
        core.run(core.calls.place_order(ACCOUNT, BUY_AAPL))


def test_a_cancelled_placement_stops_without_looking() -> None:
    core = Core()
    op = core.calls.place_order(ACCOUNT, BUY_AAPL)
    assert isinstance(op.next_step(now=core.clock()), Send)
    op.cancel()
    assert op.state is OperationState.FAILED


def test_reconciled_placing_after_an_earlier_failure_uses_the_same_identifier() -> None:
    core = Core()
    order = BUY_AAPL.with_external_identifier("retry-me")
    core.http.queue(Response(503))
    for _ in RECONCILE_DELAYS:
        core.answer(items())
    with pytest.raises(OrderOutcomeUnknown):
        core.run(core.calls.place_order(ACCOUNT, order))
    core.answer_sample("orders_post_201.json", 201)
    core.run(core.calls.place_order(ACCOUNT, order))
    posts = [body(r) for r in core.http.requests if r.method == "POST"]
    assert [p["external-identifier"] for p in posts] == ["retry-me", "retry-me"]


# -- replace, edit, cancel --------------------------------------------------------------------


@pytest.mark.parametrize("endpoint, method", [("replace_order", "PUT"), ("edit_order", "PATCH")])
def test_replace_and_edit(endpoint: str, method: str) -> None:
    core = Core().answer_sample("orders_put_replace_200.json")
    change = Replacement.limit(Decimal("-185.45"))
    order = core.run(getattr(core.calls, endpoint)(ACCOUNT, 68678, change))
    assert target(core.sent) == (method, f"/accounts/{ACCOUNT}/orders/68678", [])
    assert body(core.sent) == sample("orders_put_replace_request.json")
    assert isinstance(order, Order) and order.id == 68680 and order.price == Decimal("-185.45")


@pytest.mark.parametrize(
    "endpoint, args",
    [
        ("replace_order", (68678, Replacement.limit("-1.5"))),
        ("edit_order", (68678, Replacement.limit("-1.5"))),
        ("cancel_order", (68678,)),
        ("reconfirm_order", (68678,)),
        ("cancel_complex_order", (33,)),
    ],
)
@pytest.mark.parametrize("failure", [lambda: Response(503), lambda: TransportTimeout("slow")])
def test_changes_are_sent_once(endpoint: str, args: tuple[Any, ...], failure: Any) -> None:
    core = Core()
    core.http.queue(failure())
    with pytest.raises((ServerError, TransportTimeout)):
        core.run(getattr(core.calls, endpoint)(ACCOUNT, *args))
    assert len(core.http.requests) == 1


def test_dry_run_replacement() -> None:
    core = Core().answer_sample("orders_dry_run_201.json", 201)
    result = core.run(core.calls.dry_run_replacement(ACCOUNT, 68678, Replacement.limit("2.0")))
    assert target(core.sent) == ("POST", f"/accounts/{ACCOUNT}/orders/68678/dry-run", [])
    assert body(core.sent) == {
        "time-in-force": "Day",
        "order-type": "Limit",
        "price": "2.0",
        "price-effect": "Credit",
    }
    assert result.buying_power_effect is not None


def test_reconfirm_order() -> None:
    row = sample("orders_delete_200.json")["data"]
    core = Core().answer(data(row)).answer(data({"order": row}))
    text_id: Any = "68677"  # an id given as text is accepted too
    assert core.run(core.calls.reconfirm_order(ACCOUNT, text_id)).id == 68677
    assert target(core.sent) == ("POST", f"/accounts/{ACCOUNT}/orders/68677/reconfirm", [])
    assert core.run(core.calls.reconfirm_order(ACCOUNT, 68677)).id == 68677
    core.answer_sample("orders_reconfirm_422.json", 422)
    with pytest.raises(ValidationFailed) as info:
        core.run(core.calls.reconfirm_order(ACCOUNT, 68677))
    assert info.value.code == "cannot_reconfirm_order"


def test_cancel_order() -> None:
    core = Core().answer_sample("orders_delete_200.json")
    order = core.run(core.calls.cancel_order(ACCOUNT, 68677))
    assert target(core.sent) == ("DELETE", f"/accounts/{ACCOUNT}/orders/68677", [])
    assert order.status is OrderStatus.CANCELLED and order.status.terminal
    assert order.price == Decimal("-186.99") and order.cancellable is False
    assert order.cancelled_at == datetime(2023, 6, 14, 1, 2, 24, 795000, timezone.utc)


@pytest.mark.parametrize("bad", [0, -3, "12a", "", True, 1.5, None, "\uff11\uff12", 2**63])
def test_order_ids_are_checked(bad: Any) -> None:
    with pytest.raises(LocalProtocolError, match="order id"):
        Core().calls.cancel_order(ACCOUNT, bad)
    with pytest.raises(LocalProtocolError, match="complex order id"):
        Core().calls.cancel_complex_order(ACCOUNT, bad)


def test_an_order_id_may_be_a_string_of_digits() -> None:
    core = Core().answer_sample("orders_delete_200.json").answer(data({"id": 33}))
    core.run(core.calls.order(ACCOUNT, "68677"))
    assert target(core.sent)[1] == f"/accounts/{ACCOUNT}/orders/68677"
    core.run(core.calls.complex_order(ACCOUNT, "33"))
    assert target(core.sent)[1] == f"/accounts/{ACCOUNT}/complex-orders/33"


_OCO = NewComplexOrder.oco(BUY_AAPL, spread("0.5"))
ORDER_CALLS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("dry_run_order", lambda c, n: c.dry_run_order(n, BUY_AAPL)),
    ("place_order", lambda c, n: c.place_order(n, BUY_AAPL)),
    ("replace_order", lambda c, n: c.replace_order(n, 1, Replacement.limit("-1"))),
    ("edit_order", lambda c, n: c.edit_order(n, 1, Replacement.limit("-1"))),
    ("dry_run_replacement", lambda c, n: c.dry_run_replacement(n, 1, Replacement.limit("-1"))),
    ("reconfirm_order", lambda c, n: c.reconfirm_order(n, 1)),
    ("cancel_order", lambda c, n: c.cancel_order(n, 1)),
    ("live_orders", lambda c, n: c.live_orders(n)),
    ("order", lambda c, n: c.order(n, 1)),
    ("order_history", lambda c, n: c.order_history(n, start_date=date(2026, 1, 1))),
    ("place_complex_order", lambda c, n: c.place_complex_order(n, _OCO)),
    ("dry_run_complex_order", lambda c, n: c.dry_run_complex_order(n, _OCO)),
    ("live_complex_orders", lambda c, n: c.live_complex_orders(n)),
    ("complex_order", lambda c, n: c.complex_order(n, 1)),
    ("cancel_complex_order", lambda c, n: c.cancel_complex_order(n, 1)),
    ("margin_dry_run", lambda c, n: c.margin_dry_run(n, BUY_AAPL)),
]


@pytest.mark.parametrize("call", [c for _, c in ORDER_CALLS], ids=[n for n, _ in ORDER_CALLS])
@pytest.mark.parametrize("bad", ["", " ", None, 5001, b"5WT00000"])
def test_account_numbers_are_checked(call: Callable[[Any, Any], Any], bad: Any) -> None:
    core = Core()
    with pytest.raises(LocalProtocolError, match="account_number"):
        call(core.calls, bad)
    assert core.http.requests == []


# -- reading ----------------------------------------------------------------------------------


def test_live_orders() -> None:
    core = Core().answer_sample("orders_live_200.json")
    found = core.run(core.calls.live_orders(ACCOUNT))
    assert target(core.sent) == ("GET", LIVE_PATH, [])
    assert [o.status for o in found] == [
        OrderStatus.LIVE,
        OrderStatus.CANCELLED,
        OrderStatus.FILLED,
    ]
    filled = found[2]
    fill = filled.legs[0].fills[0]
    assert fill.fill_price == Decimal("10.505") and fill.quantity == Decimal(1)
    assert filled.legs[0].remaining_quantity == Decimal(0)
    assert filled.ext_client_order_id == "JAAAC0000000000000" and filled.leg_count == 1
    assert filled.updated_at == datetime(2026, 9, 17, 18, 32, 28, 471000, timezone.utc)
    assert found[0].legs[0].symbol == "QQQ   191115C00187000"
    assert found[0].time_in_force is TimeInForce.GTC and found[0].price == Decimal("-3.0")


def test_one_order() -> None:
    core = Core().answer_sample("orders_delete_200.json")
    order = core.run(core.calls.order(ACCOUNT, 68677))
    assert target(core.sent) == ("GET", f"/accounts/{ACCOUNT}/orders/68677", [])
    assert order.underlying_instrument_type is InstrumentType.EQUITY


def test_order_history_needs_a_start_and_sends_its_filters() -> None:
    core = Core()
    with pytest.raises(LocalProtocolError, match="start_date or start_at"):
        core.calls.order_history(ACCOUNT)
    core.answer_sample("orders_search_200_paginated.json")
    pager = core.calls.order_history(
        ACCOUNT,
        start_date=date(2023, 6, 1),
        end_date=date(2023, 6, 30),
        start_at=datetime(2023, 6, 1, 13, 30, tzinfo=timezone.utc),
        underlying_symbol="AAPL",
        statuses=[OrderStatus.FILLED, "Cancelled"],
        futures_symbol="/ESZ6",
        underlying_instrument_type=InstrumentType.EQUITY,
        sort="Asc",
        per_page=2,
    )
    page = core.run(pager.page(0))
    assert target(core.sent) == (
        "GET",
        f"/accounts/{ACCOUNT}/orders",
        [
            ("start-date", "2023-06-01"),
            ("end-date", "2023-06-30"),
            ("start-at", "2023-06-01T13:30:00.000Z"),
            ("underlying-symbol", "AAPL"),
            ("status[]", "Filled"),
            ("status[]", "Cancelled"),
            ("futures-symbol", "/ESZ6"),
            ("underlying-instrument-type", "Equity"),
            ("sort", "Asc"),
            ("per-page", "2"),
            ("page-offset", "0"),
        ],
    )
    assert [o.id for o in page.items] == [68681, 68680]
    assert page.next_offset == 1 and page.items[1].edited is True


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"start_at": datetime(2023, 1, 1)}, "aware datetime"),
        ({"start_date": datetime(2023, 1, 1, tzinfo=timezone.utc)}, "must be a date"),
        ({"start_date": date(2023, 1, 1), "sort": "up"}, "sort"),
        ({"start_date": date(2023, 1, 1), "per_page": 0}, "per_page"),
        ({"start_date": date(2023, 1, 1), "per_page": True}, "per_page"),
        ({"start_date": date(2023, 1, 1), "per_page": 2001}, "per_page"),
        ({"start_date": "2023-01-01"}, "must be a date"),
        ({"start_date": date(2023, 1, 1), "end_at": "2023-01-02T00:00:00Z"}, "aware datetime"),
        ({"start_at": datetime(2023, 1, 1, tzinfo=_NoOffset())}, "aware datetime"),
        ({"start_date": date(2023, 1, 1), "statuses": 5}, "statuses must be a list"),
        ({"start_date": date(2023, 1, 1), "statuses": []}, "statuses is an empty list"),
        ({"start_date": date(2023, 1, 1), "statuses": ["Live", ""]}, "non-empty string"),
    ],
)
def test_order_history_checks_its_arguments(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(LocalProtocolError, match=problem):
        Core().calls.order_history(ACCOUNT, **kwargs)


def test_order_history_sends_times_in_utc() -> None:
    core = Core().answer(items())
    eastern = timezone(-timedelta(hours=4))
    start = datetime(2026, 1, 2, 9, 30, tzinfo=eastern)
    core.run(core.calls.order_history(ACCOUNT, start_at=start, per_page=2000).all())
    query = target(core.sent)[2]
    assert ("start-at", "2026-01-02T13:30:00.000Z") in query and ("per-page", "2000") in query


def test_one_status_is_one_status() -> None:
    core = Core().answer(items())
    core.run(core.calls.order_history(ACCOUNT, start_date=date(2026, 1, 1), statuses="Live").all())
    assert ("status[]", "Live") in target(core.sent)[2]


def test_order_history_reads_every_page_in_turn() -> None:
    rows = sample("orders_search_200_paginated.json")["data"]["items"]
    paging = {"per-page": 1, "total-pages": 2}
    core = Core()
    core.answer({"data": {"items": rows[:1]}, "pagination": {**paging, "page-offset": 0}})
    core.answer({"data": {"items": rows[1:]}, "pagination": {**paging, "page-offset": 1}})
    found = core.run(core.calls.order_history(ACCOUNT, start_date=date(2023, 6, 1)).all())
    assert [o.id for o in found] == [68681, 68680]


# -- complex orders ---------------------------------------------------------------------------

BRACKET = NewComplexOrder.otoco(
    NewOrder.limit(NewLeg.equity("AAPL", "Buy to Open", 100), "-157.97"),
    NewOrder.limit(NewLeg.equity("AAPL", "Sell to Close", 100), "198.68", time_in_force="GTC"),
    NewOrder.stop(NewLeg.equity("AAPL", "Sell to Close", 100), "143.06", time_in_force="GTC"),
)
COMPLEX_PATH = f"/accounts/{ACCOUNT}/complex-orders"


def complex_row(identifier: str = GENERATED, complex_id: int = 33) -> dict[str, Any]:
    def member(order_id: int, tag: str, **extra: Any) -> dict[str, Any]:
        return placed_row(
            identifier,
            order_id,
            **{"complex-order-id": complex_id, "complex-order-tag": tag, **extra},
        )

    return {
        "id": complex_id,
        "account-number": ACCOUNT,
        "type": "OTOCO",
        "trigger-order": member(501, "OTOCO::trigger-order", status="Live"),
        "orders": [
            member(502, "OTOCO::order", status="Contingent"),
            member(503, "OTOCO::order", status="Contingent"),
        ],
        "related-orders": [{"id": 499, "status": "Cancelled", "replacing-order-id": 501}],
    }


def test_place_complex_order() -> None:
    core = Core().answer(data({"complex-order": complex_row(), "warnings": []}), 201)
    placed = core.run(core.calls.place_complex_order(ACCOUNT, BRACKET))
    assert target(core.sent) == ("POST", COMPLEX_PATH, [])
    assert body(core.sent) == BRACKET.with_external_identifier(GENERATED).to_json()
    assert placed.complex_order is not None and placed.complex_order.id == 33
    assert placed.complex_order.type is ComplexOrderType.OTOCO
    assert [o.id for o in placed.complex_order.components] == [501, 502, 503]
    assert placed.complex_order.related_orders[0].status is OrderStatus.CANCELLED
    assert placed.reconciled is False and placed.external_identifier == GENERATED


def test_an_ambiguous_complex_placement_is_found_among_live_complex_orders() -> None:
    core = Core()
    core.http.queue(TransportTimeout("slow"))
    core.answer(items(complex_row("other", 30), complex_row()))
    placed = core.run(core.calls.place_complex_order(ACCOUNT, BRACKET))
    assert placed.reconciled and placed.complex_order is not None
    assert placed.complex_order.id == 33
    assert sent(core, "POST", COMPLEX_PATH) == 1


def test_or_by_its_orders_among_live_orders() -> None:
    core = Core()
    core.http.queue(Response(502))
    core.answer(items())  # not (yet) among the live complex orders
    member: dict[str, Any] = {"complex-order-id": 33}
    core.answer(items(placed_row(order_id=501, **member)))
    core.answer(data(complex_row()))
    placed = core.run(core.calls.place_complex_order(ACCOUNT, BRACKET))
    assert placed.reconciled and placed.complex_order is not None
    assert [o.id for o in placed.orders] == [501]
    assert target(core.sent) == ("GET", f"{COMPLEX_PATH}/33", [])
    assert sent(core, "POST", COMPLEX_PATH) == 1


def test_a_complex_order_not_found_is_unknown() -> None:
    core = Core()
    core.http.queue(Response(504))
    for _ in RECONCILE_DELAYS:
        core.answer(items(complex_row("other", 30))).answer(items(placed_row("other", 7)))
    with pytest.raises(OrderOutcomeUnknown) as info:
        core.run(core.calls.place_complex_order(ACCOUNT, BRACKET))
    assert isinstance(info.value.__cause__, ServerError)
    assert sent(core, "POST", COMPLEX_PATH) == 1
    assert core.clock.sleeps == list(RECONCILE_DELAYS)


def test_an_accepted_complex_order_not_found_is_not_called_not_placed() -> None:
    core = Core()
    core.http.queue(truncated())
    for _ in RECONCILE_DELAYS:
        core.answer(items()).answer(items())
    with pytest.raises(OrderOutcomeUnknown) as info:
        core.run(core.calls.place_complex_order(ACCOUNT, BRACKET))
    assert info.value.accepted and isinstance(info.value.__cause__, DecodeError)
    assert sent(core, "POST", COMPLEX_PATH) == 1


def test_complex_order_reads_and_cancel() -> None:
    core = Core().answer(items(complex_row())).answer(data(complex_row()))
    found = core.run(core.calls.live_complex_orders(ACCOUNT))
    assert target(core.sent) == ("GET", f"{COMPLEX_PATH}/live", [])
    assert isinstance(found[0], ComplexOrder) and found[0].trigger_order is not None
    one = core.run(core.calls.complex_order(ACCOUNT, 33))
    assert target(core.sent) == ("GET", f"{COMPLEX_PATH}/33", [])
    assert one.orders[0].complex_order_tag == "OTOCO::order"
    core.answer(data(complex_row()))
    core.run(core.calls.cancel_complex_order(ACCOUNT, 33))
    assert target(core.sent) == ("DELETE", f"{COMPLEX_PATH}/33", [])


def test_dry_run_complex_order() -> None:
    core = Core().answer(data({"complex-order": complex_row(), "buying-power-effect": {}}), 201)
    result = core.run(core.calls.dry_run_complex_order(ACCOUNT, BRACKET))
    assert target(core.sent) == ("POST", f"{COMPLEX_PATH}/dry-run", [])
    assert body(core.sent) == BRACKET.to_json()
    assert result.complex_order is not None and result.complex_order.id == 33


def test_endpoints_refuse_the_wrong_kind_of_order() -> None:
    calls = Core().calls
    with pytest.raises(LocalProtocolError, match="order must be a NewOrder"):
        calls.place_order(ACCOUNT, BRACKET)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="NewComplexOrder"):
        calls.place_complex_order(ACCOUNT, BUY_AAPL)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="Replacement"):
        calls.replace_order(ACCOUNT, 1, BUY_AAPL)  # type: ignore[arg-type]


# -- decoding is total ------------------------------------------------------------------------

MODELS: list[tuple[type[Any], Any]] = [
    (Order, sample("orders_live_200.json")["data"]["items"][2]),
    (Order, sample("orders_delete_200.json")["data"]),
    (OrderResponse, sample("orders_post_201.json")["data"]),
    (OrderResponse, sample("orders_dry_run_201_with_warning.json")["data"]),
    (ComplexOrder, complex_row()),
    (
        MarginDryRunResult,
        {"sufficient": True, "new-buying-power": "1.0", "new-buying-power-effect": "Debit"},
    ),
]


def test_unknown_values_are_kept_not_refused() -> None:
    row = dict(sample("orders_live_200.json")["data"]["items"][0])
    row.update({"status": "Parked", "order-type": "Iceberg", "brand-new": [1]})
    order = Order.from_json(row)
    assert order.status == "Parked" and not order.status.known
    assert order.status is not None and not order.status.terminal
    assert order.order_type is not None and not order.order_type.known
    assert order.raw["brand-new"] == [1]


def test_a_wrong_type_names_where_it_is() -> None:
    row = sample("orders_live_200.json")["data"]["items"][2]
    row["legs"][0]["fills"][0]["fill-price"] = {"x": 1}
    core = Core().answer(items(row))
    with pytest.raises(DecodeError, match=r"legs\[0\]\.fills\[0\]\.fill-price"):
        core.run(core.calls.live_orders(ACCOUNT))


def test_done_is_returned_once_placed() -> None:
    core = Core().answer_sample("orders_post_201.json", 201)
    op = core.calls.place_order(ACCOUNT, BUY_AAPL)
    step = op.next_step(now=core.clock())
    assert isinstance(step, Send)
    op.receive(core.http.send(step.request))
    done = op.next_step(now=core.clock())
    assert isinstance(done, Done) and done.value.order.id == 270561
