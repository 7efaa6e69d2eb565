"""The fake API's orders area: Request in, Response out, with an injected clock."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tastytrade_proto import Environment, TransportError
from tastytrade_proto.protocol import ClientConfig, Response, decode_envelope, drive, flows
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FakeClock,
    FakeTastytradeAPI,
    FakeTastytradeServer,
    Fault,
    FaultKind,
    Reply,
)

from .strategies import json_values
from .transport import HTTPClientTransport

CONFIG = ClientConfig(environment=Environment.custom("http://fake.invalid"))
SAMPLES = Path(__file__).parent / "samples"
#: 2026-09-21 14:13:20 UTC, a Monday morning in New York.
MONDAY = 1_790_000_000.0
ACCOUNT = "/accounts/5WT00001"
SPY_600C = "SPY   261218C00600000"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def leg(symbol: str, action: str, quantity: int = 1, kind: str = "Equity") -> dict[str, Any]:
    return {"instrument-type": kind, "symbol": symbol, "quantity": quantity, "action": action}


def order(
    *legs: dict[str, Any],
    order_type: str = "Limit",
    price: str | None = None,
    effect: str | None = None,
    tif: str = "Day",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"time-in-force": tif, "order-type": order_type, "legs": list(legs)}
    if price is not None:
        body["price"], body["price-effect"] = price, effect or "Debit"
    return {**body, **extra}


def market(symbol: str, action: str, quantity: int = 1, kind: str = "Equity") -> dict[str, Any]:
    return order(leg(symbol, action, quantity, kind), order_type="Market")


class Fake:
    """A demo-seeded fake, logged in with OAuth, answering straight from ``handle``."""

    def __init__(self, **options: Any) -> None:
        self.clock = FakeClock(MONDAY)
        self.api = FakeTastytradeAPI(clock=self.clock, **options)
        token = self.call("POST", "/oauth/token", self.grant()).json()["access_token"]
        self.auth = [("authorization", f"Bearer {token}")]

    @staticmethod
    def grant() -> dict[str, str]:
        return {
            "grant_type": "refresh_token",
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_secret": DEMO_CLIENT_SECRET,
        }

    def reply(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> Reply:
        auth = [] if path == "/oauth/token" else getattr(self, "auth", [])
        request = CONFIG.request(
            method, path, params=params, json_body=body, headers=[*auth, *(headers or [])]
        )
        return self.api.handle(request)

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Answer:
        return Answer(self.reply(method, path, body, **kw).response)

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        answer = self.call(method, path, body, **kw)
        assert answer.status in (200, 201), answer.json()
        return decode_envelope(answer.response).data

    def positions(self) -> dict[str, dict[str, Any]]:
        return {p["symbol"]: p for p in self.ok("GET", f"{ACCOUNT}/positions")["items"]}

    def balances(self) -> dict[str, Any]:
        result: dict[str, Any] = self.ok("GET", f"{ACCOUNT}/balances")
        return result

    def cash(self) -> Decimal:
        return Decimal(self.balances()["cash-balance"])

    def live(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.ok("GET", f"{ACCOUNT}/orders/live")["items"]
        return result

    def get(self, order_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.ok("GET", f"{ACCOUNT}/orders/{order_id}")
        return result

    def place(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.call("POST", f"{ACCOUNT}/orders", body)
        assert answer.status == 201, answer.json()
        result: dict[str, Any] = answer.json()["data"]
        return result


class Answer:
    def __init__(self, response: Response) -> None:
        self.response = response
        self.status = response.status

    def json(self) -> Any:
        return json.loads(self.response.body)

    def codes(self) -> set[str]:
        return {e["code"] for e in self.json()["error"].get("errors", [])}


@pytest.fixture
def fake() -> Fake:
    return Fake()


# -- dry-run -----------------------------------------------------------------------------


def test_dry_run_matches_the_real_shape_and_changes_nothing(fake: Fake) -> None:
    spread = order(
        leg("SPY   261218C00620000", "Buy to Open", kind="Equity Option"),
        leg("SPY   261218C00610000", "Sell to Open", kind="Equity Option"),
        price="2.00",
        effect="Credit",
    )
    before_cash, before_orders = fake.cash(), len(fake.api.accounts["5WT00001"].orders)
    answer = fake.call("POST", f"{ACCOUNT}/orders/dry-run", spread)
    assert answer.status == 201
    document = answer.json()
    assert document["context"] == f"{ACCOUNT}/orders/dry-run"
    found = document["data"]
    real = sample("orders_dry_run_201.json")["data"]
    assert set(real) <= set(found)
    assert set(real["buying-power-effect"]) == set(found["buying-power-effect"])
    assert set(real["fee-calculation"]) <= set(found["fee-calculation"])
    preview = found["order"]
    assert "id" not in preview and preview["updated-at"] == 0 and preview["status"] == "Received"
    assert preview["size"] == 1 and preview["underlying-symbol"] == "SPY"
    assert [leg["remaining-quantity"] for leg in preview["legs"]] == [1, 1]
    # The same fees as the real example: $1 a contract to open, clearing, regulatory.
    fees = found["fee-calculation"]
    assert (fees["commission"], fees["clearing-fees"], fees["regulatory-fees"]) == (
        "2.0",
        "0.20",
        "0.102",
    )
    assert fees["total-fees"] == "2.302" and fees["total-fees-effect"] == "Debit"
    # A $10-wide credit spread for $2.00: $1000 margin, $800 net of the credit, plus fees.
    effect = found["buying-power-effect"]
    assert effect["change-in-margin-requirement"] == "1000.0"
    assert effect["change-in-buying-power"] == "802.302"
    assert effect["is-spread"] is True and effect["effect"] == "Debit"
    current = Decimal(effect["current-buying-power"])
    assert current == Decimal(fake.balances()["derivative-buying-power"])
    assert Decimal(effect["new-buying-power"]) == current - Decimal("802.302")
    assert fake.cash() == before_cash
    assert len(fake.api.accounts["5WT00001"].orders) == before_orders


@pytest.mark.parametrize(
    ("body", "sample_name"),
    [
        (
            order(leg("AAPL", "Buy to Open"), price="185.00", effect="Credit"),
            "orders_post_422_preflight_check_failure.json",
        ),
        (
            market("AAPL", "Buy to Open") | {"time-in-force": "GTC"},
            "orders_post_422_gtc_market.json",
        ),
    ],
)
@pytest.mark.parametrize("path", ["/orders", "/orders/dry-run"])
def test_preflight_failures_are_the_real_bodies(
    fake: Fake, body: dict[str, Any], sample_name: str, path: str
) -> None:
    answer = fake.call("POST", ACCOUNT + path, body)
    assert answer.status == 422
    assert answer.json() == sample(sample_name)
    assert fake.api.count("POST", ACCOUNT + path) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (order(leg("AAPL", "Buy to Open")), "price_required"),
        (order(leg("AAPL", "Buy to Open"), price="abc"), "invalid_price"),
        (order(leg("AAPL", "Sell to Close"), price="190", effect="Debit"), "cant_sell_for_debit"),
        (order(leg("AAPL", "Buy to Open"), order_type="Stop"), "stop_trigger_required"),
        (order(leg("AAPL", "Buy to Open"), price="1", tif="GTD"), "gtc_date_required"),
        (order(leg("AAPL", "Buy to Open"), leg("MSFT", "Buy to Open"), price="1"), "too_many_legs"),
        (order(leg("AAPL", "Buy to Open", 0), price="1"), "invalid_quantity"),
        (order(leg("AAPL", "Hold"), price="1"), "invalid_leg"),
        (
            order(leg("SPY   261399C00600000", "Buy to Open", kind="Equity Option")),
            "invalid_symbol",
        ),
        (order(leg("AAPL", "Buy to Open"), price="1", tif="Forever"), "invalid_time_in_force"),
        (
            order(leg("AAPL", "Buy to Open"), order_type="Notional Market", value="1"),
            "value_required",
        ),
    ],
)
def test_preflight_rules(fake: Fake, body: dict[str, Any], code: str) -> None:
    answer = fake.call("POST", f"{ACCOUNT}/orders", body)
    assert answer.status == 422 and answer.json()["error"]["code"] == "preflight_check_failure"
    assert code in answer.codes()


def test_not_enough_buying_power_is_the_margin_check_failure(fake: Fake) -> None:
    big = market("AAPL", "Buy to Open", 1000)
    for path in ("/orders/dry-run", "/orders"):
        answer = fake.call("POST", ACCOUNT + path, big)
        assert answer.status == 422
        real = sample("orders_dry_run_error_margin_check_failed.json")
        document = answer.json()
        assert document["error"] == real["error"]
        effect = document["data"]["buying-power-effect"]
        assert set(effect) == set(real["data"]["buying-power-effect"])
        assert effect["new-buying-power-effect"] == "Debit"
        assert effect["change-in-margin-requirement"] == "189910.00"
    assert "AAPL" in fake.positions() and fake.positions()["AAPL"]["quantity"] == 100


def test_a_closed_market_warns_and_holds_orders_until_it_opens() -> None:
    fake = Fake(market_open=False)
    dry = fake.ok("POST", f"{ACCOUNT}/orders/dry-run", market("AAPL", "Buy to Open"))
    assert dry["warnings"] == [
        {
            "code": "tif_next_valid_sesssion",
            "message": "Your order will begin working during next valid session.",
        }
    ]
    placed = fake.place(market("AAPL", "Buy to Open", 10))
    assert placed["order"]["status"] == "Received" and placed["warnings"] == dry["warnings"]
    assert fake.positions()["AAPL"]["quantity"] == 100
    fake.api.market_open = True
    assert fake.get(placed["order"]["id"])["status"] == "Filled"
    assert fake.positions()["AAPL"]["quantity"] == 110


# -- placing and filling ----------------------------------------------------------------


def test_a_market_buy_fills_at_the_mark_and_moves_position_and_cash(fake: Fake) -> None:
    cash = fake.cash()
    placed = fake.place(market("AAPL", "Buy to Open", 10))
    real = sample("orders_post_201.json")["data"]
    assert set(real) <= set(placed)
    assert set(real["fee-calculation"]) == set(placed["fee-calculation"])
    filled = placed["order"]
    assert isinstance(filled["id"], int) and isinstance(filled["updated-at"], int)
    assert filled["status"] == "Filled" and filled["terminal-at"]
    (fill,) = filled["legs"][0]["fills"]
    assert fill["fill-price"] == "189.91" and fill["quantity"] == 10
    assert filled["legs"][0]["remaining-quantity"] == 0
    aapl = fake.positions()["AAPL"]
    assert aapl["quantity"] == 110 and aapl["quantity-direction"] == "Long"
    assert Decimal(aapl["average-open-price"]) == Decimal("187.4918")  # (18725+1899.10)/110
    fees = Decimal(placed["fee-calculation"]["total-fees"])
    assert fees == Decimal("0.008")  # clearing, $0.0008 a share
    assert fake.cash() == cash - Decimal("1899.10") - fees
    assert fake.get(filled["id"]) == filled


def test_closing_sells_remove_the_position_and_credit_cash(fake: Fake) -> None:
    cash = fake.cash()
    placed = fake.place(market("AAPL", "Sell to Close", 100))
    assert placed["order"]["status"] == "Filled"
    assert "AAPL" not in fake.positions()
    fees = Decimal(placed["fee-calculation"]["total-fees"])
    regulatory = Decimal(placed["fee-calculation"]["regulatory-fees"])
    assert regulatory > 0  # SEC and TAF fees on a sale
    assert fake.cash() == cash + Decimal("18991.00") - fees
    assert placed["buying-power-effect"]["effect"] == "Credit"


def test_closing_a_future_moves_only_the_realized_gain(fake: Fake) -> None:
    cash = fake.cash()
    placed = fake.place(market("/ESZ6", "Sell to Close", 1, kind="Future"))
    assert placed["order"]["underlying-symbol"] == "/ES"
    assert placed["order"]["underlying-instrument-type"] == "Future"
    assert placed["order"]["legs"][0]["fills"][0]["destination-venue"] == "MARKET_SIMULATOR_CME"
    assert "/ESZ6" not in fake.positions()
    # Filled at the settlement price (6020.50): the gain since the open is in cash already
    # (marked to market each day), so only the fees move it.
    assert fake.cash() == cash - Decimal("2.95")


def test_outright_future_buy_and_sell_are_converted(fake: Fake) -> None:
    fake.api.accounts["5WT00001"].cash_balance = Decimal("100000")
    placed = fake.place(market("/ESZ6", "Sell", 1, kind="Future"))
    assert placed["order"]["legs"][0]["action"] == "Sell to Close"
    placed = fake.place(market("/ESZ6", "Sell", 1, kind="Future"))
    assert placed["order"]["legs"][0]["action"] == "Sell to Open"
    assert fake.positions()["/ESZ6"]["quantity-direction"] == "Short"


def test_opening_an_option_adds_a_position_with_its_multiplier(fake: Fake) -> None:
    cash = fake.cash()
    put = "SPY   261218P00590000"
    placed = fake.place(order(leg(put, "Buy to Open", 2, "Equity Option"), price="14.00"))
    assert placed["order"]["status"] == "Filled"
    position = fake.positions()[put]
    assert position["multiplier"] == 100 and position["quantity"] == 2
    assert position["underlying-symbol"] == "SPY"
    assert position["expires-at"].startswith("2026-12-18T")
    fees = Decimal(placed["fee-calculation"]["total-fees"])
    assert fake.cash() == cash - Decimal("2680.00") - fees  # 13.40 * 2 * 100
    # Buying back part of the short call reduces it.
    fake.place(order(leg(SPY_600C, "Buy to Close", 1, "Equity Option"), price="11.50"))
    assert fake.positions()[SPY_600C]["quantity"] == 1


def test_a_limit_that_does_not_cross_stays_live_until_the_mark_does(fake: Fake) -> None:
    power = Decimal(fake.balances()["derivative-buying-power"])
    placed = fake.place(order(leg("AAPL", "Buy to Open", 10), price="180.00", tif="GTC"))
    order_id = placed["order"]["id"]
    assert placed["order"]["status"] == "Live" and "live-at" in placed["order"]
    assert order_id in [o["id"] for o in fake.live()]
    assert Decimal(fake.balances()["derivative-buying-power"]) == power - 1800
    fake.api.set_mark("AAPL", "179.50")
    got = fake.get(order_id)
    assert got["status"] == "Filled" and got["legs"][0]["fills"][0]["fill-price"] == "179.50"
    assert fake.positions()["AAPL"]["quantity"] == 110
    assert fake.positions()["AAPL"]["close-price"] == "179.50"
    assert fake.api.mark("AAPL") == Decimal("179.50")


def test_an_unpriced_symbol_stays_routed_until_it_has_a_mark(fake: Fake) -> None:
    assert fake.api.mark("F") is None
    placed = fake.place(order(leg("F", "Buy to Open", 5), price="10.00"))
    assert placed["order"]["status"] == "Routed"
    fake.api.set_mark("F", "10.40")
    assert fake.get(placed["order"]["id"])["status"] == "Live"
    fake.api.set_mark("F", "9.95")
    assert fake.get(placed["order"]["id"])["status"] == "Filled"
    assert fake.positions()["F"]["quantity"] == 5


def test_stops_trigger_on_the_mark(fake: Fake) -> None:
    stop = order(leg("AAPL", "Sell to Close", 100), order_type="Stop", **{"stop-trigger": "180"})
    placed = fake.place(stop | {"time-in-force": "GTC"})
    assert placed["order"]["status"] == "Live"
    fake.api.set_mark("AAPL", "180.01")
    assert fake.get(placed["order"]["id"])["status"] == "Live"
    fake.api.set_mark("AAPL", "179.00")
    assert fake.get(placed["order"]["id"])["status"] == "Filled"
    assert "AAPL" not in fake.positions()


def test_ioc_that_cannot_fill_is_cancelled(fake: Fake) -> None:
    placed = fake.place(order(leg("AAPL", "Buy to Open"), price="150.00", tif="IOC"))
    assert placed["order"]["status"] == "Cancelled"


def test_the_same_external_identifier_twice_places_two_orders(fake: Fake) -> None:
    body = order(leg("AAPL", "Buy to Open"), price="150.00", **{"external-identifier": "abc-1"})
    first, second = fake.place(body), fake.place(body)
    ids = [first["order"]["id"], second["order"]["id"]]
    assert ids[0] != ids[1]
    tagged = [o["id"] for o in fake.live() if o.get("external-identifier") == "abc-1"]
    assert tagged == ids
    found = fake.ok("GET", f"{ACCOUNT}/orders", params={"underlying-symbol": "AAPL"})["items"]
    assert [o["id"] for o in found if o.get("external-identifier") == "abc-1"] == ids[::-1]


def test_closing_rules_and_the_cash_account() -> None:
    fake = Fake()
    strict = market("MSFT", "Sell to Close", 5)
    strict["advanced-instructions"] = {"strict-position-effect-validation": True}
    answer = fake.call("POST", f"{ACCOUNT}/orders", strict)
    assert answer.status == 422 and answer.codes() == {"no_position_to_close"}
    lenient = fake.place(market("MSFT", "Sell to Close", 5))  # silently opened instead
    assert lenient["order"]["legs"][0]["action"] == "Sell to Open"
    assert fake.positions()["MSFT"]["quantity-direction"] == "Short"
    too_many = fake.call("POST", f"{ACCOUNT}/orders", market("AAPL", "Sell to Close", 101))
    assert too_many.codes() == {"closing_quantity_exceeds_position"}
    ira = fake.call("POST", "/accounts/5WT00002/orders", market("/ESZ6", "Buy", kind="Future"))
    assert ira.status == 422 and ira.codes() == {"futures_not_approved"}
    other = fake.call("POST", "/accounts/5WT99999/orders", market("AAPL", "Buy to Open"))
    assert other.status == 404


# -- live, expiry, get ----------------------------------------------------------------------


def test_live_is_todays_orders_in_every_status_plus_working_gtc(fake: Fake) -> None:
    seeded = fake.live()
    assert [(o["id"], o["status"], o["time-in-force"]) for o in seeded] == [(100001, "Live", "GTC")]
    assert set(sample("orders_live_200.json")) == set(
        fake.call("GET", f"{ACCOUNT}/orders/live").json()
    )
    filled = fake.place(market("AAPL", "Buy to Open"))["order"]["id"]
    day = fake.place(order(leg("AAPL", "Buy to Open"), price="150.00"))["order"]["id"]
    cancelled = fake.place(order(leg("AAPL", "Buy to Open"), price="151.00"))["order"]["id"]
    fake.ok("DELETE", f"{ACCOUNT}/orders/{cancelled}")
    statuses = {o["id"]: o["status"] for o in fake.live()}
    assert statuses == {100001: "Live", filled: "Filled", day: "Live", cancelled: "Cancelled"}
    # The next trading day: the Day order expired at the close, only the GTC one is left.
    fake.clock.advance(24 * 3600)
    token = fake.call("POST", "/oauth/token", Fake.grant()).json()["access_token"]
    fake.auth = [("authorization", f"Bearer {token}")]
    assert [o["id"] for o in fake.live()] == [100001]
    expired = fake.get(day)
    assert expired["status"] == "Expired" and expired["terminal-at"].startswith("2026-09-21T20:00")


def test_an_unknown_order_is_record_not_found(fake: Fake) -> None:
    for method in ("GET", "DELETE", "PUT"):
        answer = fake.call(method, f"{ACCOUNT}/orders/4242", {"order-type": "Limit"})
        assert answer.status == 404
        assert answer.json()["error"]["code"] == "record_not_found"


# -- cancel, replace, reconfirm ---------------------------------------------------------------


def test_cancel_answers_the_cancelled_order(fake: Fake) -> None:
    answer = fake.call("DELETE", f"{ACCOUNT}/orders/100001")
    assert answer.status == 200
    cancelled = answer.json()["data"]
    real = sample("orders_delete_200.json")["data"]
    assert set(real) - {"rules"} <= set(cancelled)
    assert cancelled["status"] == "Cancelled" and cancelled["cancellable"] is False
    assert cancelled["cancelled-at"] == cancelled["terminal-at"]
    assert answer.json()["context"] == f"{ACCOUNT}/orders/100001"
    again = fake.call("DELETE", f"{ACCOUNT}/orders/100001")
    assert again.status == 422 and again.json()["error"]["code"] == "order_not_cancellable"


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_replacing_makes_a_new_order_and_links_the_two(fake: Fake, method: str) -> None:
    power = Decimal(fake.balances()["derivative-buying-power"])
    body = sample("orders_put_replace_request.json")  # Day, Limit 185.45 Debit
    answer = fake.call(method, f"{ACCOUNT}/orders/100001", body)
    assert answer.status == 200 and answer.json()["context"] == f"{ACCOUNT}/orders/100001"
    new = answer.json()["data"]
    assert new["id"] != 100001 and new["replaces-order-id"] == 100001
    assert (new["price"], new["time-in-force"], new["status"]) == ("185.45", "Day", "Live")
    assert new["legs"][0]["symbol"] == "MSFT" and new["legs"][0]["quantity"] == 10
    old = fake.get(100001)
    frame = sample("account_streamer_order_replaced_cancelled_frame.json")["data"]
    assert (old["status"], old["edited"], old["cancellable"], old["editable"]) == (
        frame["status"],
        frame["edited"],
        frame["cancellable"],
        frame["editable"],
    )
    assert old["replacing-order-id"] == new["id"] and old["terminal-at"]
    # The old order's $4100 hold is gone; the new one holds $1854.50.
    after = Decimal(fake.balances()["derivative-buying-power"])
    assert after == power + 4100 - Decimal("1854.50")
    again = fake.call(method, f"{ACCOUNT}/orders/100001", body)
    assert again.status == 422 and again.json()["error"]["code"] == "order_not_editable"


def test_a_replacement_may_not_change_the_legs_and_can_fill(fake: Fake) -> None:
    changed = {**sample("orders_put_replace_request.json"), "legs": [leg("AAPL", "Buy to Open")]}
    answer = fake.call("PUT", f"{ACCOUNT}/orders/100001", changed)
    assert answer.status == 422 and answer.codes() == {"invalid_replacement"}
    crossing = {
        "time-in-force": "GTC",
        "order-type": "Limit",
        "price": "416",
        "price-effect": "Debit",
    }
    new = fake.ok("PUT", f"{ACCOUNT}/orders/100001", crossing)
    assert new["status"] == "Filled" and fake.positions()["MSFT"]["quantity"] == 10


def test_replacement_dry_run_changes_nothing(fake: Fake) -> None:
    before = len(fake.api.accounts["5WT00001"].orders)
    body = sample("orders_put_replace_request.json")
    answer = fake.call("POST", f"{ACCOUNT}/orders/100001/dry-run", body)
    assert answer.status == 201
    preview = answer.json()["data"]
    assert "id" not in preview["order"] and preview["order"]["updated-at"] == 0
    assert preview["order"]["replaces-order-id"] == 100001
    # It frees the old $4100 hold and takes $1854.50 (plus a fraction of a cent in fees).
    assert preview["buying-power-effect"]["effect"] == "Credit"
    assert preview["buying-power-effect"]["change-in-buying-power"] == "2245.492"
    assert fake.get(100001)["status"] == "Live"
    assert len(fake.api.accounts["5WT00001"].orders) == before


def test_reconfirm(fake: Fake) -> None:
    answer = fake.call("POST", f"{ACCOUNT}/orders/100001/reconfirm")
    assert answer.status == 422 and answer.json() == sample("orders_reconfirm_422.json")
    fake.api.accounts["5WT00001"].orders[-1]["confirmation-status"] = "Pending"
    confirmed = fake.call("POST", f"{ACCOUNT}/orders/100001/reconfirm")
    assert confirmed.status == 201
    assert confirmed.json()["data"]["confirmation-status"] == "Confirmed"
    assert fake.call("POST", f"{ACCOUNT}/orders/100001/reconfirm").status == 422


# -- search -------------------------------------------------------------------------------


def test_history_pages_newest_first(fake: Fake) -> None:
    stored = fake.api.accounts["5WT00001"].orders
    assert len(stored) > 40  # one a filled trade of the demo history, plus the unfilled ones
    answer = fake.call("GET", f"{ACCOUNT}/orders", params={"per-page": 10})
    real = sample("orders_search_200_paginated.json")
    document = answer.json()
    assert set(document) == set(real) and set(document["pagination"]) == set(real["pagination"])
    pages_count = -(-len(stored) // 10)
    assert document["pagination"]["total-items"] == len(stored)
    assert document["pagination"]["total-pages"] == pages_count
    pages = [document["data"]["items"]]
    for offset in range(1, pages_count):
        params = {"per-page": 10, "page-offset": offset}
        pages.append(fake.ok("GET", f"{ACCOUNT}/orders", params=params)["items"])
    found = [o for page in pages for o in page]
    assert len(found) == len(stored) and found[0]["id"] == 100001
    times = [o["received-at"] for o in found]
    assert times == sorted(times, reverse=True)
    assert {o["status"] for o in found} == {"Live", "Filled", "Cancelled", "Expired", "Rejected"}
    everything = fake.call("GET", f"{ACCOUNT}/orders").json()
    assert everything["pagination"]["per-page"] == 100
    assert [o["id"] for o in everything["data"]["items"]] == [o["id"] for o in found]
    ascending = fake.ok("GET", f"{ACCOUNT}/orders", params={"sort": "Asc"})["items"]
    assert [o["id"] for o in ascending] == [o["id"] for o in reversed(found)]
    (replaced,) = [o for o in found if o.get("edited")]
    successor = fake.get(replaced["replacing-order-id"])
    assert successor["replaces-order-id"] == replaced["id"]


def test_filled_history_agrees_with_transactions_and_positions(fake: Fake) -> None:
    params = {"status[]": ["Filled"], "sort": "Asc"}
    filled = fake.ok("GET", f"{ACCOUNT}/orders", params=params)["items"]
    assert filled and {o["status"] for o in filled} == {"Filled"}
    path = f"{ACCOUNT}/transactions"
    transactions = fake.ok("GET", path, params={"per-page": 2000})["items"]
    trades: dict[int, list[dict[str, Any]]] = {}
    for entry in transactions:
        if entry.get("transaction-type") == "Trade":
            trades.setdefault(entry["order-id"], []).append(entry)
    assert set(trades) == {o["id"] for o in filled}
    for found in filled:
        legs = sorted(
            (leg["symbol"], leg["action"], Decimal(leg["quantity"]), leg["fills"][0]["fill-price"])
            for leg in found["legs"]
        )
        fills = sorted(
            (t["symbol"], t["action"], Decimal(t["quantity"]), t["price"])
            for t in trades[found["id"]]
        )
        assert [(s, a, q, Decimal(p)) for s, a, q, p in legs] == [
            (s, a, q, Decimal(p)) for s, a, q, p in fills
        ]
    positions = fake.positions()
    for symbol in ("AAPL", SPY_600C, "/ESZ6"):
        opened = [
            o
            for o in filled
            if o["legs"][0]["symbol"] == symbol and o["legs"][0]["action"].endswith("to Open")
        ]
        assert Decimal(opened[-1]["price"]) == Decimal(positions[symbol]["average-open-price"])
        assert opened[-1]["legs"][0]["quantity"] == positions[symbol]["quantity"]


def test_search_filters(fake: Fake) -> None:
    stored = fake.api.accounts["5WT00001"].orders

    def ids(**params: Any) -> list[int]:
        found = fake.ok("GET", f"{ACCOUNT}/orders", params=params | {"sort": "Asc"})["items"]
        return [o["id"] for o in found]

    def where(keep: Any) -> list[int]:
        return [o["id"] for o in stored if keep(o)]

    msft = ids(**{"underlying-symbol": "MSFT"})
    assert {90004, 90005, 100001} <= set(msft)
    assert msft == where(lambda o: o["underlying-symbol"] == "MSFT")
    futures = ids(**{"underlying-instrument-type": "Future"})
    assert 90006 in futures
    assert futures == where(lambda o: o["legs"][0]["instrument-type"] == "Future")
    assert ids(**{"futures-symbol": "/ESZ6"}) == where(lambda o: o["legs"][0]["symbol"] == "/ESZ6")
    assert ids(**{"status[]": ["Rejected"]}) == [90003]
    assert ids(**{"status[]": ["Rejected", "Expired"]}) == [90002, 90003, 90005, 90007]
    assert ids(**{"start-date": "2026-09-17", "end-date": "2026-09-17"}) == [90009]
    assert ids(**{"start-date": "2026-09-21"}) == [100001]
    assert ids(**{"start-at": "2026-09-21T14:00:00", "end-at": "2026-09-21T15:00:00Z"}) == [100001]
    bad = fake.call("GET", f"{ACCOUNT}/orders", params={"start-date": "21/09/2026"})
    assert bad.status == 400 and bad.json()["error"]["errors"][0]["domain"] == "start-date"
    assert fake.call("GET", f"{ACCOUNT}/orders", params={"sort": "Up"}).status == 400


def test_search_from_order_api_20261012_needs_a_start(fake: Fake) -> None:
    version = [("accept-version", "20261012")]
    missing = fake.call("GET", f"{ACCOUNT}/orders", headers=version)
    assert missing.status == 400
    assert missing.json()["error"]["errors"] == [{"domain": "start-date", "reason": "is missing"}]
    params = {"start-date": "2026-09-01"}
    assert fake.call("GET", f"{ACCOUNT}/orders", params=params, headers=version).status == 200
    older = [("accept-version", "20251101")]
    assert fake.call("GET", f"{ACCOUNT}/orders", headers=older).status == 200


def test_customer_orders_need_account_numbers(fake: Fake) -> None:
    missing = fake.call("GET", "/customers/me/orders/live")
    assert missing.status == 400
    assert missing.json()["error"]["errors"] == [
        {"domain": "account-numbers", "reason": "is missing"}
    ]
    params = {"account-numbers[]": ["5WT00001", "5WT00002"]}
    live = fake.ok("GET", "/customers/me/orders/live", params=params)["items"]
    assert [o["id"] for o in live] == [100001]
    history = fake.call("GET", "/customers/me/orders", params=params | {"per-page": 5}).json()
    assert history["pagination"]["total-items"] == len(fake.api.accounts["5WT00001"].orders)
    assert (
        fake.call("GET", "/customers/me/orders/live", params={"account-numbers[]": "X1"}).status
        == 404
    )


# -- complex orders ----------------------------------------------------------------------


def otoco(quantity: int = 10) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(sample("complex_orders_request_otoco.json"))
    for part in [body["trigger-order"], *body["orders"]]:
        part["legs"][0]["quantity"] = quantity
    return body


def test_otoco_trigger_then_one_cancels_other(fake: Fake) -> None:
    answer = fake.call("POST", f"{ACCOUNT}/complex-orders", otoco())
    assert answer.status == 201
    placed = answer.json()["data"]
    assert {"complex-order", "buying-power-effect", "fee-calculation", "warnings"} <= set(placed)
    complex_order = placed["complex-order"]
    complex_id, trigger = complex_order["id"], complex_order["trigger-order"]
    assert complex_order["type"] == "OTOCO" and isinstance(complex_id, int)
    assert trigger["status"] == "Live" and trigger["complex-order-id"] == complex_id
    assert [o["status"] for o in complex_order["orders"]] == ["Contingent", "Contingent"]
    assert {o["contingent-status"] for o in complex_order["orders"]} == {"Pending Order"}
    # The trigger (buy at 157.97) fills; the take-profit and the stop start working.
    fake.api.set_mark("AAPL", "157.50")
    now = fake.ok("GET", f"{ACCOUNT}/complex-orders/{complex_id}")
    assert now["trigger-order"]["status"] == "Filled"
    assert [o["status"] for o in now["orders"]] == ["Live", "Live"]
    assert fake.positions()["AAPL"]["quantity"] == 110
    # The stop (143.06) fills and cancels the take-profit.
    fake.api.set_mark("AAPL", "143.00")
    done = fake.ok("GET", f"{ACCOUNT}/complex-orders/{complex_id}")
    assert [o["status"] for o in done["orders"]] == ["Cancelled", "Filled"]
    assert "terminal-at" in done
    assert fake.positions()["AAPL"]["quantity"] == 100
    live = fake.ok("GET", f"{ACCOUNT}/complex-orders/live")["items"]
    assert [c["id"] for c in live] == [complex_id]
    gone = fake.call("DELETE", f"{ACCOUNT}/complex-orders/{complex_id}")
    assert gone.status == 422


def test_cancelling_a_complex_order_cancels_its_orders(fake: Fake) -> None:
    placed = fake.ok("POST", f"{ACCOUNT}/complex-orders", otoco())["complex-order"]
    answer = fake.call("DELETE", f"{ACCOUNT}/complex-orders/{placed['id']}")
    assert answer.status == 200
    cancelled = answer.json()["data"]
    statuses = [cancelled["trigger-order"]["status"], *(o["status"] for o in cancelled["orders"])]
    assert statuses == ["Cancelled"] * 3
    assert fake.call("GET", f"{ACCOUNT}/complex-orders/999").status == 404


def test_cancelling_the_trigger_cancels_the_contingent_orders(fake: Fake) -> None:
    placed = fake.ok("POST", f"{ACCOUNT}/complex-orders", otoco())["complex-order"]
    fake.ok("DELETE", f"{ACCOUNT}/orders/{placed['trigger-order']['id']}")
    for contingent in placed["orders"]:
        assert fake.get(contingent["id"])["status"] == "Cancelled"


def test_oco_and_the_complex_dry_run(fake: Fake) -> None:
    oco = {"type": "OCO", "orders": otoco(50)["orders"]}
    before = len(fake.api.accounts["5WT00001"].orders)
    dry = fake.call("POST", f"{ACCOUNT}/complex-orders/dry-run", oco)
    assert dry.status == 201
    preview = dry.json()["data"]["complex-order"]
    assert "id" not in preview and [o["status"] for o in preview["orders"]] == ["Received"] * 2
    assert len(fake.api.accounts["5WT00001"].orders) == before
    placed = fake.ok("POST", f"{ACCOUNT}/complex-orders", oco)["complex-order"]
    assert "trigger-order" not in placed
    assert [o["status"] for o in placed["orders"]] == ["Live", "Live"]
    fake.api.set_mark("AAPL", "199.00")  # the take-profit (198.68) fills, the stop goes
    assert [fake.get(o["id"])["status"] for o in placed["orders"]] == ["Filled", "Cancelled"]
    assert fake.positions()["AAPL"]["quantity"] == 50
    history = fake.call("GET", f"{ACCOUNT}/complex-orders").json()
    assert [c["id"] for c in history["data"]["items"]] == [placed["id"]]
    assert "pagination" in history


def test_malformed_complex_orders_are_refused(fake: Fake) -> None:
    for body in (
        {"type": "BLAST", "orders": []},
        {"type": "OTOCO", "orders": otoco()["orders"]},
        {"type": "OCO", "orders": otoco()["orders"][:1]},
        otoco(10) | {"trigger-order": market("AAPL", "Buy to Open") | {"time-in-force": "GTC"}},
    ):
        answer = fake.call("POST", f"{ACCOUNT}/complex-orders", body)
        assert answer.status == 422
        assert answer.json()["error"]["code"] == "preflight_check_failure"
    assert fake.ok("GET", f"{ACCOUNT}/complex-orders/live")["items"] == []


# -- margin dry-run ---------------------------------------------------------------------


def test_margin_dry_run_is_a_buying_power_effect(fake: Fake) -> None:
    answer = fake.call("POST", "/margin/accounts/5WT00001/dry-run", market("AAPL", "Buy to Open"))
    assert answer.status == 201
    block = answer.json()["data"]
    assert set(block) == set(sample("orders_dry_run_201.json")["data"]["buying-power-effect"])
    assert block["change-in-margin-requirement"] == "189.91"
    big = fake.ok("POST", "/margin/accounts/5WT00001/dry-run", market("AAPL", "Buy to Open", 500))
    assert big["new-buying-power-effect"] == "Debit"  # reported, not refused
    assert fake.positions()["AAPL"]["quantity"] == 100
    bad = fake.call("POST", "/margin/accounts/5WT00001/dry-run", {"legs": []})
    assert bad.status == 422


# -- faults after handling --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "flag"),
    [
        (Fault(FaultKind.DISCONNECT, after_handling=True), 201, "disconnect"),
        (Fault(FaultKind.TRUNCATED, after_handling=True), 201, "truncate"),
        (Fault(FaultKind.SERVER_ERROR, status=504, after_handling=True), 504, None),
        (Fault(FaultKind.HTML_ERROR, after_handling=True), 502, None),
    ],
)
def test_a_fault_after_handling_places_the_order_and_loses_the_answer(
    fake: Fake, fault: Fault, status: int, flag: str | None
) -> None:
    fault.method, fault.path = "POST", f"{ACCOUNT}/orders"
    fake.api.inject(fault)
    body = order(leg("AAPL", "Buy to Open"), price="150.00", **{"external-identifier": "x-1"})
    reply = fake.reply("POST", f"{ACCOUNT}/orders", body)
    assert reply.response.status == status
    if flag is not None:
        assert getattr(reply, flag) is True
        # What was (half) sent is the real answer.
        assert b'"external-identifier":"x-1"' in reply.response.body
    assert [o["external-identifier"] for o in fake.live() if "external-identifier" in o] == ["x-1"]
    assert fake.api.faults == []


def test_a_fault_before_handling_places_nothing(fake: Fake) -> None:
    fake.api.inject(Fault(FaultKind.DISCONNECT, method="POST"))
    body = order(leg("AAPL", "Buy to Open"), price="150.00", **{"external-identifier": "x-2"})
    assert fake.reply("POST", f"{ACCOUNT}/orders", body).disconnect is True
    assert not [o for o in fake.live() if o.get("external-identifier") == "x-2"]


def test_faults_after_handling_cancel_and_replace_too(fake: Fake) -> None:
    fake.api.inject(Fault(FaultKind.DISCONNECT, method="PUT", after_handling=True))
    body = sample("orders_put_replace_request.json")
    assert fake.reply("PUT", f"{ACCOUNT}/orders/100001", body).disconnect is True
    successor = fake.get(100001)["replacing-order-id"]
    fake.api.inject(Fault(FaultKind.TRUNCATED, method="DELETE", after_handling=True))
    assert fake.reply("DELETE", f"{ACCOUNT}/orders/{successor}").truncate is True
    assert fake.get(successor)["status"] == "Cancelled"


@pytest.mark.parametrize("kind", [FaultKind.DISCONNECT, FaultKind.TRUNCATED])
def test_over_a_real_socket_the_order_is_placed_but_the_client_gets_an_error(
    kind: FaultKind,
) -> None:
    clock = FakeClock(MONDAY)
    with FakeTastytradeServer(FakeTastytradeAPI(clock=clock)) as server:
        from tastytrade_proto.protocol import AuthMachine

        http = HTTPClientTransport(server.base_url, timeout=5.0)
        machine = AuthMachine(environment=server.environment)

        def run(op: Any) -> Any:
            return drive(op, http.send, clock=clock, sleep=clock.sleep)

        try:
            run(flows.login_with_oauth(machine, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN))
            server.api.inject(Fault(kind, method="POST", after_handling=True))
            body = order(leg("AAPL", "Buy to Open"), price="150.00", **{"external-identifier": "k"})
            request = machine.config.request("POST", f"{ACCOUNT}/orders", json_body=body)
            with pytest.raises(TransportError):
                run(flows.call(machine, request, decode_envelope))
            assert server.api.count("POST", f"{ACCOUNT}/orders") == 1  # never resent
            live = machine.config.request("GET", f"{ACCOUNT}/orders/live")
            items = run(flows.call(machine, live, decode_envelope)).items
            assert [o.get("external-identifier") for o in items].count("k") == 1
        finally:
            http.close()


# -- robustness -------------------------------------------------------------------------

ORDER_PATHS = [
    f"{ACCOUNT}/orders",
    f"{ACCOUNT}/orders/dry-run",
    f"{ACCOUNT}/orders/100001",
    f"{ACCOUNT}/orders/100001/dry-run",
    f"{ACCOUNT}/complex-orders",
    f"{ACCOUNT}/complex-orders/dry-run",
    "/margin/accounts/5WT00001/dry-run",
]
leg_values = st.fixed_dictionaries(
    {},
    optional={
        "instrument-type": st.sampled_from(["Equity", "Equity Option", "Future", "X"]),
        "symbol": st.sampled_from(["AAPL", "/ESZ6", SPY_600C, "SPY   261399C00600000", "", "F"])
        | json_values,
        "quantity": st.integers(-2, 10**14) | st.sampled_from(["1", "1e999", "NaN", "0.5"]),
        "action": st.sampled_from(["Buy to Open", "Sell to Close", "Buy", "Sell"]) | json_values,
    },
)
order_values = st.fixed_dictionaries(
    {},
    optional={
        "time-in-force": st.sampled_from(["Day", "GTC", "GTD", "IOC"]) | json_values,
        "gtc-date": st.sampled_from(["2026-12-01", "2020-01-01", "soon"]) | json_values,
        "order-type": st.sampled_from(sorted(["Limit", "Market", "Stop", "Notional Market"])),
        "price": st.sampled_from(["1.5", "-1", "Infinity", "1E+400", "0.000000001"]) | json_values,
        "price-effect": st.sampled_from(["Debit", "Credit"]) | json_values,
        "stop-trigger": json_values,
        "value": json_values,
        "value-effect": json_values,
        "legs": st.lists(leg_values, max_size=5) | json_values,
        "advanced-instructions": json_values,
    },
)
bodies = st.one_of(
    order_values,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["OCO", "OTO", "OTOCO", "PAIRS"]) | json_values},
        optional={"trigger-order": order_values | json_values, "orders": st.lists(order_values)},
    ),
    json_values,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET"]),
    path=st.sampled_from(ORDER_PATHS),
    body=bodies,
)
def test_any_order_request_gets_a_well_formed_answer(method: str, path: str, body: Any) -> None:
    fake = Fake()
    answer = fake.call(method, path, body)
    document = answer.json()
    if answer.status >= 400:
        assert "error" in document and answer.status != 500, document
    else:
        assert answer.status in (200, 201) and "data" in document
    # Whatever happened, the fake's state still answers.
    assert fake.call("GET", f"{ACCOUNT}/orders/live").status == 200
    assert fake.call("GET", f"{ACCOUNT}/balances").status == 200
