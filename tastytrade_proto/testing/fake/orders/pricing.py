"""What an order costs: marks, the margin and buying power it holds, its fees, and
the buying-power-effect block the API answers with."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from ..kit import money
from .model import (
    OCC,
    PRICED,
    STATUSES_WORKING,
    Leg,
    buys,
    dec,
    legs_of,
    multiplier_of,
    size_of,
    state,
    underlying_of,
)

if TYPE_CHECKING:
    from ..api import FakeAccount, FakeTastytradeAPI


# Initial margin per contract (the fake's round numbers).
_FUTURE_MARGINS = {"/ES": 22000, "/MES": 2200, "/NQ": 32000, "/MNQ": 3200, "/CL": 6000}


# -- marks ------------------------------------------------------------------------------------


def mark(api: FakeTastytradeAPI, symbol: str, kind: str | None = None) -> Decimal | None:
    """The mark of ``symbol``: set, default, or (equity options) from the underlying's mark.

    An equity option with no mark of its own is worth what the market area's model
    says (intrinsic value plus a time value that shrinks away from the money), so
    that its quote, the chain and a fill agree; an option the model does not know
    is worth its intrinsic value plus 2% of the underlying's mark.
    """
    marks = state(api).marks
    if symbol in marks:
        return marks[symbol]
    match = OCC.fullmatch(symbol)
    if match and kind in (None, "Equity Option"):
        from ..market import equity_option_value  # the market area imports none of this

        modelled = equity_option_value(api, symbol, api.clock())
        if modelled is not None:
            return modelled
        underlying = marks.get(match.group(1).strip())
        if underlying is None:
            return None
        strike = Decimal(match.group(4)) / 1000
        intrinsic = underlying - strike if match.group(3) == "C" else strike - underlying
        return (max(intrinsic, Decimal(0)) + underlying * Decimal("0.02")).quantize(Decimal("0.01"))
    return None


def marks_of(api: FakeTastytradeAPI, legs: list[Leg]) -> list[Decimal] | None:
    """Each leg's mark, or ``None`` when a leg has none."""
    prices = [mark(api, leg.symbol, leg.kind) for leg in legs]
    return None if any(p is None for p in prices) else [p for p in prices if p is not None]


# -- margin and buying power ------------------------------------------------------------------


def _opening(action: Any) -> bool:
    return isinstance(action, str) and not action.endswith("to Close")


def _net_debit(api: FakeTastytradeAPI, order: dict[str, Any]) -> Decimal:
    """What filling the order pays (positive) or receives (negative), futures' notional aside."""
    legs = legs_of(order)
    if not legs or legs[0].kind == "Future":
        return Decimal(0)
    multiplier = multiplier_of(legs[0].kind, legs[0].symbol)
    sign = Decimal(1) if order.get("price-effect", "Debit") == "Debit" else Decimal(-1)
    if order.get("order-type") == "Notional Market":
        value_sign = 1 if order.get("value-effect", "Debit") == "Debit" else -1
        return dec(order.get("value")) * value_sign
    if "price" in order and order.get("order-type") in PRICED:
        return dec(order["price"]) * size_of(legs) * multiplier * sign
    prices = marks_of(api, legs)
    if prices is None:
        return Decimal(0)
    return sum(
        (
            p * leg.quantity * multiplier_of(leg.kind, leg.symbol) * (1 if buys(leg.action) else -1)
            for p, leg in zip(prices, legs, strict=True)
        ),
        Decimal(0),
    )


def _margin(api: FakeTastytradeAPI, order: dict[str, Any]) -> Decimal:
    """The margin an order's opening short and futures legs need (the fake's simple rules)."""
    legs = legs_of(order)
    total = Decimal(0)
    for leg in legs:
        if not _opening(leg.action):
            continue
        if leg.kind == "Future" or (leg.kind == "Future Option" and not buys(leg.action)):
            product = underlying_of(leg.symbol, leg.kind)
            per_contract = _FUTURE_MARGINS.get(product)
            if per_contract is None:
                price = mark(api, leg.symbol.lstrip(".").split(" ")[0]) or Decimal(0)
                per = price * multiplier_of("Future", leg.symbol) * Decimal("0.1")
            else:
                per = Decimal(per_contract)
            total += per * leg.quantity
        elif leg.kind == "Equity" and not buys(leg.action):
            total += (mark(api, leg.symbol) or Decimal(0)) * leg.quantity * Decimal("1.5")
        elif leg.kind == "Equity Option" and not buys(leg.action):
            total += _short_option_margin(api, leg, legs)
    return total


def _short_option_margin(api: FakeTastytradeAPI, short: Leg, legs: list[Leg]) -> Decimal:
    match = OCC.fullmatch(short.symbol)
    if match is None:
        return Decimal(0)
    strike = Decimal(match.group(4)) / 1000
    for leg in legs:
        other = OCC.fullmatch(leg.symbol)
        if (
            leg.kind == "Equity Option"
            and buys(leg.action)
            and _opening(leg.action)
            and other
            and other.group(1) == match.group(1)
            and other.group(3) == match.group(3)
        ):
            width = Decimal(other.group(4)) / 1000 - strike
            if match.group(3) == "P":
                width = -width
            return max(width, Decimal(0)) * 100 * short.quantity
    underlying = mark(api, match.group(1).strip()) or strike
    return underlying * Decimal("0.2") * 100 * short.quantity


def held(api: FakeTastytradeAPI, order: dict[str, Any]) -> Decimal:
    """The buying power a working order holds: its margin plus any debit."""
    return _margin(api, order) + max(_net_debit(api, order), Decimal(0))


def reserved(api: FakeTastytradeAPI, account: FakeAccount) -> Decimal:
    """The buying power the account's working orders hold (``balances`` subtracts it)."""
    return sum(
        (held(api, o) for o in account.orders if o.get("status") in STATUSES_WORKING),
        Decimal(0),
    )


def buying_power(api: FakeTastytradeAPI, account: FakeAccount) -> Decimal:
    """The account's derivative buying power, as ``balances`` reports it."""
    return account.cash_balance - reserved(api, account)


# -- fees -------------------------------------------------------------------------------------


def leg_fees(
    kind: str, action: str, quantity: Decimal, price: Decimal | None
) -> dict[str, Decimal]:
    """One leg's fees by name (the fake's deterministic schedule)."""
    fees = {
        name: Decimal(0)
        for name in ("brokerage", "clearing", "exchange", "nfa", "orf", "sec", "taf")
    }
    opening = _opening(action)
    if kind == "Equity":
        fees["clearing"] = (Decimal("0.0008") * quantity).quantize(Decimal("0.001"), ROUND_CEILING)
        if not buys(action) and price is not None:
            fees["sec"] = (Decimal("0.0000278") * price * quantity).quantize(
                Decimal("0.001"), ROUND_CEILING
            )
            fees["taf"] = min(Decimal("0.000166") * quantity, Decimal("8.30")).quantize(
                Decimal("0.001"), ROUND_CEILING
            )
    elif kind == "Equity Option":
        fees["brokerage"] = min(quantity, Decimal(10)) if opening else Decimal(0)
        fees["clearing"] = Decimal("0.10") * quantity
        fees["exchange"] = Decimal("0.028") * quantity
        fees["orf"] = Decimal("0.023") * quantity
    elif kind == "Future":
        fees["brokerage"] = Decimal("1.25") * quantity
        fees["clearing"] = Decimal("0.30") * quantity
        fees["exchange"] = Decimal("1.38") * quantity
        fees["nfa"] = Decimal("0.02") * quantity
    elif kind == "Future Option":
        fees["brokerage"] = Decimal("2.50") * quantity if opening else Decimal(0)
        fees["clearing"] = Decimal("0.30") * quantity
        fees["exchange"] = Decimal("0.65") * quantity
        fees["nfa"] = Decimal("0.02") * quantity
    elif kind == "Cryptocurrency" and price is not None:
        fees["brokerage"] = min(price * quantity * Decimal("0.01"), Decimal(10)).quantize(
            Decimal("0.01")
        )
    return fees


def order_fees(api: FakeTastytradeAPI, order: dict[str, Any]) -> dict[str, Decimal]:
    """An order's fees by name: its legs' at their marks (a one-leg limit at its price)."""
    legs = legs_of(order)
    total = {
        name: Decimal(0)
        for name in ("brokerage", "clearing", "exchange", "nfa", "orf", "sec", "taf")
    }
    for leg in legs:
        price = mark(api, leg.symbol, leg.kind)
        if len(legs) == 1 and "price" in order and order.get("order-type") in PRICED:
            price = dec(order["price"])
        quantity = leg.quantity
        if quantity == 0 and order.get("order-type") == "Notional Market" and price:
            quantity = (dec(order.get("value")) / price).quantize(Decimal("0.00001"), ROUND_DOWN)
        for name, value in leg_fees(leg.kind, leg.action, quantity, price).items():
            total[name] += value
    return total


def fees_total(fees: dict[str, Decimal]) -> Decimal:
    """The sum of fees by name."""
    return sum(fees.values(), Decimal(0))


def _cost(number: Decimal) -> str:
    return "Debit" if number > 0 else "None"


def fee_json(fees: dict[str, Decimal]) -> dict[str, Any]:
    """The API's ``fee-calculation`` block for fees by name."""
    regulatory = fees["exchange"] + fees["nfa"] + fees["orf"] + fees["sec"] + fees["taf"]
    total = regulatory + fees["clearing"] + fees["brokerage"]

    def part(name: str) -> dict[str, str]:
        return {"name": name, "value": money(fees[name]), "effect": _cost(fees[name])}

    zero = {"value": "0.0", "effect": "None"}
    return {
        "regulatory-fees": money(regulatory),
        "regulatory-fees-effect": _cost(regulatory),
        "regulatory-fees-breakdown": [part(n) for n in ("exchange", "nfa", "orf", "sec", "taf")],
        "clearing-fees": money(fees["clearing"]),
        "clearing-fees-effect": _cost(fees["clearing"]),
        "clearing-fees-breakdown": [{**part("clearing")}],
        "commission": money(fees["brokerage"]),
        "commission-effect": _cost(fees["brokerage"]),
        "commission-breakdown": [part("brokerage")],
        "proprietary-index-option-fees": "0.0",
        "proprietary-index-option-fees-effect": "None",
        "proprietary-fees-breakdown": [{"name": "proprietary", **zero}],
        "total-fees": money(total),
        "total-fees-effect": _cost(total),
        "rebates": "0.0",
        "rebates-effect": "None",
        "rebates-breakdown": [{"name": "rebate", **zero}],
        "per-quantity": False,
    }


def _effect(number: Decimal) -> str:
    return "Debit" if number > 0 else "Credit" if number < 0 else "None"


def buying_power_effect(
    api: FakeTastytradeAPI,
    account: FakeAccount,
    order: dict[str, Any],
    fees: Decimal,
    *,
    releases: Decimal = Decimal(0),
) -> tuple[dict[str, Any], Decimal, Decimal]:
    """The buying-power-effect block, the change (positive uses power) and the new power.

    ``releases`` is what a replaced order held, which the replacement frees.
    """
    margin = _margin(api, order)
    debit = _net_debit(api, order)
    requirement = margin + max(debit, Decimal(0))
    change = margin + debit + fees - releases
    current = buying_power(api, account)
    new = current - change
    block = {
        "change-in-margin-requirement": money(requirement),
        "change-in-margin-requirement-effect": _cost(requirement),
        "change-in-buying-power": money(abs(change)),
        "change-in-buying-power-effect": _effect(change),
        "current-buying-power": money(abs(current)),
        "current-buying-power-effect": "Credit" if current >= 0 else "Debit",
        "new-buying-power": money(abs(new)),
        "new-buying-power-effect": "Credit" if new >= 0 else "Debit",
        "isolated-order-margin-requirement": money(requirement),
        "isolated-order-margin-requirement-effect": _cost(requirement),
        "is-spread": len(legs_of(order)) > 1,
        "impact": money(abs(change)),
        "effect": _effect(change),
    }
    return block, change, new
