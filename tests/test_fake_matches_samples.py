"""The fake answers with at least the keys of every real answer in ``tests/samples``.

Each sample that is an answer the fake can give is paired with the fake's answer to the
same request, made through its pure core (``FakeTastytradeAPI.handle``) as the demo user.
The comparison is of key sets only, recursively: at every level the fake's object has
every key the sample's object has (more is fine), and each item of a list in the sample
is compared with the fake's item that matches it best. Values never need to match.

Some samples are known subsets (docs examples, 2023 fixtures; the source of each is in the
API notes, section 9): those pass by being small, and the fuller sample of the same answer
holds the fake to the rest (``balances_200_sandbox_2025.json``, the real sandbox body, for
balances; the real 2026 order in ``orders_live_200.json`` for orders).

A key the fake cannot sensibly send is listed in ``EXCEPTIONS`` with the reason, and a
sample that is no answer of the fake (a request body, a grant it does not serve) in
``NOT_ANSWERS``. A new sample must land in ``CASES`` or ``NOT_ANSWERS``, so the fake cannot
drift from the samples again unnoticed. The websocket captures in ``tests/samples/streaming``
are not compared here (``test_fake_account_streamer.py`` checks the account streamer's).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tastytrade_proto import Environment
from tastytrade_proto.accounts import Customer
from tastytrade_proto.protocol import ClientConfig, Request, Response
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeClock,
    FakeTastytradeAPI,
    SecondFactor,
)
from tastytrade_proto.testing.fake.account_streamer import FakeAccountStreamerConnection
from tastytrade_proto.values import fields

SAMPLES = Path(__file__).parent / "samples"
CONFIG = ClientConfig(environment=Environment.custom("http://fake.invalid"))


# -- the comparison ---------------------------------------------------------------------------


def missing_keys(sample: Any, fake: Any, where: str = "") -> list[str]:
    """Where ``fake`` lacks a key ``sample`` has (``data.items[].legs[].fills``), recursively.

    An object must have every key of the sample's object. A list is compared item by
    item: each item of the sample's list against the fake item closest to it, so a list
    mixing kinds (an equity position and an option position) is compared kind with kind.
    """
    if isinstance(sample, dict):
        if not isinstance(fake, dict):
            return [f"{where or '.'} (an object in the sample, {type(fake).__name__} here)"]
        found = []
        for key, value in sample.items():
            path = f"{where}.{key}" if where else key
            if key not in fake:
                found.append(path)
            else:
                found += missing_keys(value, fake[key], path)
        return found
    if isinstance(sample, list) and sample:
        path = f"{where}[]"
        if not isinstance(fake, list):
            return [f"{path} (a list in the sample, {type(fake).__name__} here)"]
        if not fake:
            return [f"{path} (the sample's list has items, the fake's none)"]
        found = []
        for item in sample:
            closest = min((missing_keys(item, mine, path) for mine in fake), key=len)
            found += [gap for gap in closest if gap not in found]
        return found
    return []


def test_missing_keys_compares_objects_and_lists() -> None:
    sample = {"a": 1, "b": {"c": 2}, "items": [{"x": 1, "y": 2}, {"x": 1, "z": 3}]}
    assert missing_keys(sample, {**sample, "extra": 0}) == []
    assert missing_keys(sample, {"a": 1, "b": {}, "items": [{"x": 1, "y": 2}]}) == [
        "b.c",
        "items[].z",
    ]
    assert missing_keys(sample, {"a": 1, "b": None, "items": []}) == [
        "b (an object in the sample, NoneType here)",
        "items[] (the sample's list has items, the fake's none)",
    ]
    mixed = {"items": [{"kind": "equity", "x": 1}, {"kind": "option", "expires": 2}]}
    assert (
        missing_keys(
            mixed, {"items": [{"kind": "option", "expires": 2}, {"kind": "equity", "x": 0}]}
        )
        == []
    )
    assert missing_keys(mixed, {"items": [{"kind": "option", "expires": 2}]}) == ["items[].x"]


# -- the fake, as the demo user ---------------------------------------------------------------


class Demo:
    """A fake with the demo user logged in over OAuth; requests go straight into its core."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.api = FakeTastytradeAPI(clock=self.clock)
        token = self.call(
            "POST",
            "/oauth/token",
            {
                "grant_type": "refresh_token",
                "refresh_token": DEMO_REFRESH_TOKEN,
                "client_secret": DEMO_CLIENT_SECRET,
            },
            auth=False,
        )
        self.authorization = f"Bearer {token['access_token']}"

    def send(
        self, method: str, path: str, body: Any = None, *, auth: bool = True, **headers: str
    ) -> Response:
        pairs = [(k.replace("_", "-"), v) for k, v in headers.items()]
        if auth:
            pairs.append(("Authorization", self.authorization))
        request = CONFIG.request(method, path, json_body=body, headers=pairs)
        return self.api.handle(request).response

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        status: int | None = None,
        auth: bool = True,
        **headers: str,
    ) -> Any:
        """The fake's answer, parsed; ``status`` (default: any 2xx) is checked."""
        response = self.send(method, path, body, auth=auth, **headers)
        ok = response.status == status if status is not None else 200 <= response.status < 300
        assert ok, (method, path, response.status, response.body[:500])
        return json.loads(response.body)


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


ACCOUNT = "/accounts/5WT00001"


def _limit(symbol: str = "F", price: str = "5.00", quantity: int = 1) -> dict[str, Any]:
    """A one-leg limit buy; by default far below the market, so it works and never fills."""
    return {
        "time-in-force": "Day",
        "order-type": "Limit",
        "price": price,
        "price-effect": "Debit",
        "legs": [
            {
                "instrument-type": "Equity",
                "symbol": symbol,
                "quantity": quantity,
                "action": "Buy to Open",
            }
        ],
    }


def _live_order_id(demo: Demo) -> int:
    items = demo.call("GET", ACCOUNT + "/orders/live")["data"]["items"]
    return next(o["id"] for o in items if o["status"] in ("Routed", "Live", "Received"))


def _challenge(demo: Demo) -> str:
    body = {"login": DEMO_LOGIN, "password": DEMO_PASSWORD}
    refused = demo.send("POST", "/sessions", body, auth=False)
    assert refused.status == 403
    return refused.header("x-tastyworks-challenge-token") or ""


def _session(demo: Demo, remember_me: bool) -> Any:
    token = _challenge(demo)
    step = demo.send(
        "POST", "/device-challenge", {}, auth=False, X_Tastyworks_Challenge_Token=token
    )
    token = step.header("x-tastyworks-challenge-token") or ""
    return demo.call(
        "POST",
        "/sessions",
        {"login": DEMO_LOGIN, "password": DEMO_PASSWORD, "remember-me": remember_me},
        auth=False,
        X_Tastyworks_Challenge_Token=token,
        X_Tastyworks_OTP=DEMO_OTP,
    )


def _security_question(demo: Demo) -> Any:
    demo.api.add_user("quiz", "quiz-pw", second_factor=SecondFactor.SECURITY_QUESTION)
    refused = demo.send("POST", "/sessions", {"login": "quiz", "password": "quiz-pw"}, auth=False)
    token = refused.header("x-tastyworks-challenge-token") or ""
    return demo.call(
        "POST", "/device-challenge", {}, auth=False, X_Tastyworks_Challenge_Token=token
    )


def _validate(demo: Demo) -> Any:
    session = _session(demo, remember_me=False)["data"]["session-token"]
    demo.authorization = session
    return demo.call("POST", "/sessions/validate")


def _filled(demo: Demo) -> Any:
    """A buy above the market, placed by a client that names itself: it fills at once."""
    order = {**_limit("AAPL", "250.00"), "source": "demo-app/1.0"}
    return demo.call("POST", ACCOUNT + "/orders", order)


def _with_warning(demo: Demo) -> Any:
    demo.api.market_open = False  # a Day order now works from the next session: a warning
    return demo.call("POST", ACCOUNT + "/orders/dry-run", _limit())


def _not_a_customer(demo: Demo) -> Any:
    demo.api.add_user("prospect", "prospect-pw", oauth=False)
    secret = demo.api.add_oauth_grant("prospect", client_secret="prospect-secret")
    body = {
        "grant_type": "refresh_token",
        "refresh_token": secret,
        "client_secret": "prospect-secret",
    }
    return demo.call("POST", "/oauth/token", body, status=400, auth=False)


def _no_accounts(demo: Demo) -> Any:
    demo.api.add_user("newcomer", "newcomer-pw")
    secret = demo.api.add_oauth_grant("newcomer", client_secret="newcomer-secret")
    body = {
        "grant_type": "refresh_token",
        "refresh_token": secret,
        "client_secret": "newcomer-secret",
    }
    demo.authorization = (
        "Bearer " + demo.call("POST", "/oauth/token", body, auth=False)["access_token"]
    )
    return demo.call("GET", "/api-quote-tokens", status=404)


class Stream:
    """The demo user's account-streamer socket, the fake's pure side of it."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.conn = FakeAccountStreamerConnection(demo.api, demo.clock())

    def send(self, **message: Any) -> list[Any]:
        text = json.dumps({k.replace("_", "-"): v for k, v in message.items()})
        self.conn.receive(text, self.demo.clock())
        return self.take()

    def take(self) -> list[Any]:
        return [json.loads(text) for text in self.conn.messages_to_send()]

    def connect(self) -> Any:
        (ack,) = self.send(
            action="connect", value=["5WT00001"], auth_token=self.demo.authorization, request_id=1
        )
        return ack


def _fill_frames(demo: Demo) -> Any:
    stream = Stream(demo)
    stream.connect()
    _filled(demo)
    return [frame for frame in stream.take() if frame.get("type") == "Order"]


def _replaced_frame(demo: Demo) -> Any:
    """The frame that says an order was cancelled, replaced by a new one."""
    stream = Stream(demo)
    stream.connect()
    placed = demo.call("POST", ACCOUNT + "/orders", {**_limit(), "source": "demo-app/1.0"})
    old = placed["data"]["order"]["id"]
    body = {"time-in-force": "Day", "order-type": "Limit", "price": "5.05", "price-effect": "Debit"}
    demo.call("PUT", f"{ACCOUNT}/orders/{old}", body)
    frames = [f for f in stream.take() if f.get("type") == "Order" and f["data"]["id"] == old]
    return frames[-1]


def _someone_elses_account(demo: Demo) -> str:
    demo.api.add_user("other", "other-pw", accounts=["5WT00009"])
    return "5WT00009"


Case = Callable[[Demo], Any]

#: Each sample that is an answer, and how to get the fake's answer to the same request.
CASES: dict[str, Case] = {
    # sessions, the device challenge, OAuth
    "sessions_post_201.json": lambda d: _session(d, remember_me=True),
    "sessions_post_201_no_remember_me.json": lambda d: _session(d, remember_me=False),
    "sessions_validate_post_2xx.json": _validate,
    "sessions_post_403_device_challenge_required.json": lambda d: d.call(
        "POST",
        "/sessions",
        {"login": DEMO_LOGIN, "password": DEMO_PASSWORD},
        status=403,
        auth=False,
    ),
    "sessions_post_401_invalid_credentials.json": lambda d: d.call(
        "POST", "/sessions", {"login": DEMO_LOGIN, "password": "wrong"}, status=401, auth=False
    ),
    "sessions_post_400_missing_request_token.json": lambda d: d.call(
        "POST", "/device-challenge", {}, status=400, auth=False
    ),
    "device_challenge_post_200_otp.json": lambda d: d.call(
        "POST", "/device-challenge", {}, auth=False, X_Tastyworks_Challenge_Token=_challenge(d)
    ),
    "device_challenge_post_200_security_question.json": _security_question,
    "oauth_token_200.json": lambda d: d.call(
        "POST",
        "/oauth/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_secret": DEMO_CLIENT_SECRET,
        },
        auth=False,
    ),
    "oauth_token_error_invalid_grant.json": lambda d: d.call(
        "POST",
        "/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": "nope", "client_secret": "x"},
        status=400,
        auth=False,
    ),
    # errors; the fake answers any token it does not take with 401 token_invalid, and the
    # other two 401 samples are the same envelope with other codes
    "error_401_token_invalid.json": lambda d: d.call(
        "GET", "/customers/me", status=401, auth=False, Authorization="Bearer nope"
    ),
    "error_401_invalid_session.json": lambda d: d.call(
        "GET", "/customers/me", status=401, auth=False, Authorization="nope"
    ),
    "error_401_unauthorized.json": lambda d: d.call("GET", "/customers/me", status=401, auth=False),
    "error_validation_400.json": lambda d: d.call("GET", "/customers/me/orders", status=400),
    "error_validation_400_multiple.json": lambda d: d.call(
        "GET", "/customers/me/orders", status=400
    ),
    "error_quote_streamer_customer_not_found.json": _no_accounts,
    "oauth_token_error_invalid_request_cert.json": _not_a_customer,
    "error_403_not_permitted.json": lambda d: d.call(
        "GET", f"/accounts/{_someone_elses_account(d)}/balances", status=403
    ),
    # the account streamer
    "account_streamer_connect_ack_ok.json": lambda d: Stream(d).connect(),
    "account_streamer_connect_ack_error.json": lambda d: Stream(d).send(
        action="heartbeat", auth_token=d.authorization, request_id=1
    )[0],
    "account_streamer_order_frames.json": _fill_frames,
    "account_streamer_order_replaced_cancelled_frame.json": _replaced_frame,
    # customers and accounts
    # a sanitized real body; it has no `created-at`, which current answers carry (the fake too)
    "customers_me_200.json": lambda d: d.call("GET", "/customers/me"),
    "customers_me_accounts_200.json": lambda d: d.call("GET", "/customers/me/accounts"),
    "trading_status_200.json": lambda d: d.call("GET", ACCOUNT + "/trading-status"),
    # the docs' example, a subset of the real sandbox body (2025) below, which has ~30 more keys
    "balances_200.json": lambda d: d.call("GET", ACCOUNT + "/balances"),
    "balances_200_sandbox_2025.json": lambda d: d.call("GET", ACCOUNT + "/balances"),
    "positions_200.json": lambda d: d.call("GET", ACCOUNT + "/positions"),
    "positions_200_docs_string_quantity.json": lambda d: d.call("GET", ACCOUNT + "/positions"),
    "transactions_200.json": lambda d: d.call(
        "GET",
        ACCOUNT + "/transactions",
    ),
    "transaction_trade_200.json": lambda d: d.call(
        "GET",
        ACCOUNT
        + "/transactions/"
        + str(
            next(
                t["id"]
                for t in d.call("GET", ACCOUNT + "/transactions")["data"]["items"]
                if t["transaction-type"] == "Trade"
            )
        ),
    ),
    "transactions_total_fees_200.json": lambda d: d.call(
        "GET", ACCOUNT + "/transactions/total-fees?date=2023-11-14"
    ),
    # orders
    "orders_dry_run_201.json": lambda d: d.call("POST", ACCOUNT + "/orders/dry-run", _limit()),
    "orders_dry_run_201_with_warning.json": _with_warning,
    "orders_dry_run_error_margin_check_failed.json": lambda d: d.call(
        "POST", ACCOUNT + "/orders/dry-run", _limit("AAPL", "190.00", 1000), status=422
    ),
    "orders_post_201.json": lambda d: d.call("POST", ACCOUNT + "/orders", _limit()),
    # items 1-2 are the docs' (a subset), item 3 a real 2026 fill with `source`, `terminal-at`
    "orders_live_200.json": lambda d: _filled(d) and d.call("GET", ACCOUNT + "/orders/live"),
    "orders_search_200_paginated.json": lambda d: d.call("GET", ACCOUNT + "/orders"),
    "orders_put_replace_200.json": lambda d: d.call(
        "PUT",
        f"{ACCOUNT}/orders/{_live_order_id(d)}",
        {"time-in-force": "Day", "order-type": "Limit", "price": "400.00", "price-effect": "Debit"},
    ),
    "orders_delete_200.json": lambda d: d.call("DELETE", f"{ACCOUNT}/orders/{_live_order_id(d)}"),
    "orders_reconfirm_422.json": lambda d: d.call(
        "POST", f"{ACCOUNT}/orders/{_live_order_id(d)}/reconfirm", status=422
    ),
    "orders_post_422_gtc_market.json": lambda d: d.call(
        "POST",
        ACCOUNT + "/orders",
        {**_limit(), "time-in-force": "GTC", "order-type": "Market", "price": None},
        status=422,
    ),
    "orders_post_422_preflight_check_failure.json": lambda d: d.call(
        "POST", ACCOUNT + "/orders", {**_limit(), "price-effect": "Credit"}, status=422
    ),
    # instruments and market data
    "instruments_equities_AAPL_200.json": lambda d: d.call("GET", "/instruments/equities/AAPL"),
    "instruments_equity_option_200.json": lambda d: d.call(
        "GET", "/instruments/equity-options/" + "SPY   261218C00600000"
    ),
    "instruments_futures_200.json": lambda d: d.call("GET", "/instruments/futures"),
    "option_chains_SPY_nested_200.json": lambda d: d.call("GET", "/option-chains/SPY/nested"),
    "market_metrics_200.json": lambda d: d.call("GET", "/market-metrics?symbols=AAPL,SPY"),
    "api_quote_tokens_200.json": lambda d: d.call("GET", "/api-quote-tokens"),
    "api_quote_tokens_200_sandbox.json": lambda d: d.call("GET", "/api-quote-tokens"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_fake_answers_with_every_key_of_the_sample(name: str) -> None:
    fake = CASES[name](Demo())
    expected = EXCEPTIONS.get(name, {})
    gaps = [gap for gap in missing_keys(sample(name), fake) if gap not in expected]
    assert not gaps, f"the fake's answer lacks what {name} has: " + ", ".join(gaps)


_CONTINGENT = (
    "the sample's order is a contingent one (its `rules` hold a condition on a price; "
    "`contingent-status` says how far it got): the fake takes no rules, so none of its orders "
    "is contingent in that way"
)
_VALUE_EFFECT = (
    "2023 fixtures show `value-effect` (Debit, or empty) on a price order with no `value`; "
    "the real 2026 order in orders_live_200.json has neither, and the fake sends both only "
    "for a Notional Market order"
)

#: Keys of a sample the fake does not send, by sample, each with the reason.
EXCEPTIONS: dict[str, dict[str, str]] = {
    "orders_delete_200.json": {"data.rules": _CONTINGENT},
    "orders_put_replace_200.json": {
        "data.rules": _CONTINGENT,
        "data.contingent-status": _CONTINGENT,
        "data.value-effect": _VALUE_EFFECT,
    },
    "orders_search_200_paginated.json": {
        "data.items[].rules": _CONTINGENT,
        "data.items[].contingent-status": _CONTINGENT,
        "data.items[].value-effect": _VALUE_EFFECT,
    },
    "orders_dry_run_201_with_warning.json": {
        "data.order.rules": _CONTINGENT,
        "data.order.contingent-status": _CONTINGENT,
        "data.order.value-effect": _VALUE_EFFECT,
    },
}


def test_every_exception_is_still_needed() -> None:
    """An exception the fake has since grown out of is taken off the list."""
    for name, expected in EXCEPTIONS.items():
        gaps = missing_keys(sample(name), CASES[name](Demo()))
        assert sorted(expected) == sorted(gaps), name


_REQUEST = (
    "a request body the client sends, not an answer (tests/test_orders.py and others read it)"
)

#: Samples that are no answer of the fake, each with the reason.
NOT_ANSWERS: dict[str, str] = {
    "account_streamer_connect_request.json": _REQUEST,
    "account_streamer_heartbeat_request.json": _REQUEST,
    "complex_orders_request_otoco.json": _REQUEST,
    "oauth_token_request_refresh.json": _REQUEST,
    "oauth_token_request_refresh_with_client_id.json": _REQUEST,
    "orders_put_replace_request.json": _REQUEST,
    "orders_request_future_limit.json": _REQUEST,
    "orders_request_gtd.json": _REQUEST,
    "orders_request_limit_spread.json": _REQUEST,
    "orders_request_market_equity.json": _REQUEST,
    "orders_request_notional_market.json": _REQUEST,
    "orders_request_stop_limit.json": _REQUEST,
    "sessions_post_request_password.json": _REQUEST,
    "sessions_post_request_remember_token.json": _REQUEST,
    "oauth_token_200_authorization_code.json": (
        "the authorization-code grant (a browser sign-in) is not served: the fake's "
        "/oauth/token takes the refresh-token grant only"
    ),
    "error_406_version_not_supported.json": "the fake serves every Accept-Version",
    "error_401_user_agent_missing.html": "not JSON; test_the_nginx_page_is_the_sample_s",
}


def test_every_sample_is_compared_or_said_why_not() -> None:
    """A new sample lands in CASES (compared) or NOT_ANSWERS (with the reason)."""
    names = {path.name for path in SAMPLES.iterdir() if path.is_file()}
    names -= {"README.md"}
    assert not set(CASES) & set(NOT_ANSWERS)
    assert sorted(names - set(CASES) - set(NOT_ANSWERS)) == []
    assert sorted((set(CASES) | set(NOT_ANSWERS)) - names) == []


def test_the_nginx_page_is_the_sample_s() -> None:
    """Without a User-Agent the answer is nginx's HTML 401 page, as the sample shows it."""
    request = Request("GET", "http://fake.invalid/customers/me")  # no User-Agent
    response = Demo().api.handle(request).response
    assert response.status == 401
    assert response.header("content-type") == "text/html"
    page = "".join((SAMPLES / "error_401_user_agent_missing.html").read_text().split())
    assert "".join(response.body.decode().split()) == page  # the same, but for white space


def test_the_fake_s_customer_fills_every_field_of_the_model() -> None:
    """A client that reads the whole customer finds everything in the fake's, as in the
    sample, and personal data stays out of ``repr``."""
    names = [f.name for f in fields(Customer)]
    for body in (
        sample("customers_me_200.json")["data"],
        Demo().call("GET", "/customers/me")["data"],
    ):
        customer = Customer.from_json(body)
        unset = [name for name in names if getattr(customer, name) in (None, ())]
        assert unset == ([] if "created-at" in body else ["created_at"])  # the sample has none
        shown = repr(customer)
        for personal in ("street-one", "60607", "+1555", "1900-01-01", "1990-01-01", "Citizen"):
            assert personal not in shown
        assert customer.address is not None and customer.address.city == "Chicago"
