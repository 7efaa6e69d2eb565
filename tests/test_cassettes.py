"""Cassettes: recorded from the fake over real sockets, replayed with no network."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from tastytrade_proto import (
    AccessTokenIssued,
    RefreshTokenRotated,
    RememberTokenIssued,
    RetryPolicy,
    SecondFactorRequired,
    TokenEvent,
    TransportTimeout,
)
from tastytrade_proto.orders import NewLeg, NewOrder
from tastytrade_proto.protocol import Operations, Request, Response, TransportSettings, drive
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    AsyncReplaySession,
    Cassette,
    CassetteMismatch,
    CassettePlayer,
    FakeTastytradeAPI,
    FakeTastytradeServer,
    Fault,
    FaultKind,
    Recorder,
    ReplaySession,
    json_response,
)
from tastytrade_proto.testing.cassette import _request_record, _response_record

from .harness import TRANSPORTS, Facade, Harness, call
from .transport import HTTPClientTransport

pytest_plugins = ["pytester"]

FAST_RETRY = RetryPolicy(base=0.01)
ORDER = NewOrder.limit(NewLeg.equity("F", "Buy to Open", 1), Decimal("-10.00"))
MINE = NewOrder.limit(
    NewLeg.equity("F", "Buy to Open", 1), Decimal("-10.00"), external_identifier="mine-1"
)
FAKE_TOKEN = re.compile(r"fake-[a-z]+-\d+-[0-9a-f]{24}")


@pytest.fixture
def server() -> Iterator[FakeTastytradeServer]:
    with FakeTastytradeServer(FakeTastytradeAPI()) as running:
        yield running


async def scenario(session: Facade) -> dict[str, Any]:
    """What a small bot does: log in, read, place an order, look it up, log out."""
    await session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
    accounts = await session.accounts()
    number = accounts[0].account_number
    balances = await session.balances(number)
    positions = await session.positions(number)  # the fake drops the first try: retried
    placed = await session.place_order(number, ORDER)
    fetched = await session.order(number, placed.order.id)
    history = await call(session, "order_history", number, start_date=date(2020, 1, 1))
    await session.logout()
    return {
        "accounts": [a.account_number for a in accounts],
        "net-liq": balances.net_liquidating_value,
        "positions": sorted((p.symbol, p.quantity) for p in positions),
        "order": (placed.order.id, placed.external_identifier, fetched.status),
        "history": [o.id for o in history],
    }


def record(kind: str, server: FakeTastytradeServer, path: Path, **options: Any) -> dict[str, Any]:
    server.api.inject(Fault(FaultKind.DISCONNECT, method="GET", path="/accounts/5WT00001/pos"))
    h = Harness(kind, server)
    session = h.session(retry=FAST_RETRY)

    async def body() -> dict[str, Any]:
        try:
            return await scenario(session)
        finally:
            await session.close()

    with Recorder(session.session, path, **options):
        result: dict[str, Any] = h.run(body)
    return result


def replay(kind: str, path: Path, **options: Any) -> dict[str, Any]:
    """Replay ``path`` synchronously ("requests"), under asyncio ("aiohttp") or trio."""
    if kind == "requests":
        return run_sync(scenario(Facade(ReplaySession(path, **options), sync=True)))
    session = Facade(AsyncReplaySession(path, **options), sync=False)
    if kind == "trio":
        return trio.run(scenario, session)  # type: ignore[no-any-return]
    return asyncio.run(scenario(session))


def run_sync(coroutine: Any) -> Any:
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("a replay suspended")


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_a_recording_replays_the_same_through_every_session(
    kind: str, server: FakeTastytradeServer, tmp_path: Path
) -> None:
    path = tmp_path / "bot.json"
    recorded = record(kind, server, path)
    assert recorded["positions"] and recorded["order"][2] is not None
    cassette = Cassette.load(path)
    requests = [(i["request"]["method"], i["request"]["path"]) for i in cassette.interactions]
    assert requests[0] == ("POST", "/oauth/token")
    assert requests.count(("GET", "/accounts/5WT00001/positions")) == 2
    (failed,) = [i for i in cassette.interactions if "error" in i]
    assert failed["error"]["type"] == "TransportError" and "response" not in failed
    assert len(cassette.entropy) == 1  # the order's external identifier, replayed as drawn
    for replaying in TRANSPORTS:
        assert replay(replaying, path) == recorded, replaying


def test_every_transport_records_the_same_exchanges(tmp_path: Path) -> None:
    shapes = []
    for kind in TRANSPORTS:
        with FakeTastytradeServer(FakeTastytradeAPI()) as server:
            record(kind, server, tmp_path / f"{kind}.json")
        cassette = Cassette.load(tmp_path / f"{kind}.json")
        shapes.append(
            [
                (
                    i["request"]["method"],
                    i["request"]["path"],
                    i["request"].get("query"),
                    i.get("response", {}).get("status"),
                    sorted(i.get("response", {}).get("headers", {})),
                )
                for i in cassette.interactions
            ]
        )
    assert shapes[0] == shapes[1] == shapes[2]


def test_the_file_is_plain_editable_json(server: FakeTastytradeServer, tmp_path: Path) -> None:
    path = tmp_path / "bot.json"
    record("requests", server, path)
    data = json.loads(path.read_text())
    assert data["version"] == 1 and data["recorded-at"].endswith("Z")
    token = data["interactions"][0]
    assert token["request"]["json"]["refresh_token"] == "<redacted>"
    assert token["response"]["headers"] == {"content-type": "application/json"}
    # Edit a recorded answer by hand: the replay returns the edited value.
    for interaction in data["interactions"]:
        if interaction["request"]["path"].endswith("/balances"):
            interaction["response"]["json"]["data"]["net-liquidating-value"] = "1234.50"
    path.write_text(json.dumps(data, indent=2))
    assert replay("requests", path)["net-liq"] == Decimal("1234.50")


def test_account_numbers_are_replaced_everywhere(
    server: FakeTastytradeServer, tmp_path: Path
) -> None:
    path = tmp_path / "bot.json"
    recorded = record("trio", server, path, accounts=True)
    text = path.read_text()
    assert "5WT0000" not in text
    assert '"/accounts/ACCT0001/balances"' in text
    replayed = replay("aiohttp", path)
    assert replayed["accounts"] == ["ACCT0001", "ACCT0002"]
    assert replayed["order"] == recorded["order"] and replayed["net-liq"] == recorded["net-liq"]
    # A mapping of your own.
    path2 = tmp_path / "mapped.json"
    with FakeTastytradeServer(FakeTastytradeAPI()) as again:
        record("requests", again, path2, accounts={"5WT00001": "MAIN0001", "5WT00002": "IRA00002"})
    assert replay("requests", path2)["accounts"] == ["MAIN0001", "IRA00002"]


# -- no secret survives -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_no_secret_survives_recording(kind: str, tmp_path: Path) -> None:
    tokens: list[str] = []
    remember: list[str] = []

    def store(event: TokenEvent) -> None:
        if isinstance(event, (RememberTokenIssued, AccessTokenIssued, RefreshTokenRotated)):
            tokens.append(event.token)
        if isinstance(event, RememberTokenIssued):
            remember.append(event.token)

    api = FakeTastytradeAPI()
    api.rotate_refresh_tokens = True
    paths = [tmp_path / f"{name}.json" for name in ("password", "remember", "oauth")]
    with FakeTastytradeServer(api) as server:
        h = Harness(kind, server)

        async def body() -> None:
            # A password login, its device challenge and one-time code, remember-me.
            first = h.session(token_store=store)
            with Recorder(first.session, paths[0]):
                with pytest.raises(SecondFactorRequired):
                    await first.login_with_password(DEMO_LOGIN, DEMO_PASSWORD, remember_me=True)
                await first.submit_second_factor(DEMO_OTP)
                await first.accounts()
                await first.balances("5WT00001")
                await first.place_order("5WT00001", ORDER)
                assert await first.validate()
                await first.logout()
            await first.close()
            # The remember token, spent and renewed.
            second = h.session(token_store=store)
            with Recorder(second.session, paths[1]):
                await second.login_with_remember_token(DEMO_LOGIN, remember[-1])
                await second.positions("5WT00001")
                await second.logout()
            await second.close()
            # OAuth: login, a refresh that rotates the refresh token, reads, an order.
            third = h.session(token_store=store)
            with Recorder(third.session, paths[2]):
                await third.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
                await third.refresh()
                await third.customer()
                await third.accounts()
                await third.place_order("5WT00002", ORDER)
                await third.logout()
            await third.close()

        h.run(body)
        sent = list(server.api.requests)

    # What the server saw: every credential and token, from outside the recorder.
    secrets = {DEMO_PASSWORD, DEMO_OTP, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN, *tokens}
    for request in sent:
        for name, value in request.headers:
            if name in ("authorization", "x-tastyworks-otp", "x-tastyworks-challenge-token"):
                secrets.update({value, value.removeprefix("Bearer ")})
    assert len([s for s in secrets if FAKE_TOKEN.fullmatch(s)]) >= 8  # session, remember, ...
    for path in paths:
        text = path.read_text()
        assert not FAKE_TOKEN.search(text), path.name
        for secret in secrets:
            assert secret not in text, (path.name, secret)
        json.loads(text)
    assert '"password": "<redacted>"' in paths[0].read_text()
    assert '"x-tastyworks-challenge-token": "<redacted>"' in paths[0].read_text()


def test_a_driver_loop_of_your_own_is_recorded_with_wrap(
    server: FakeTastytradeServer, tmp_path: Path
) -> None:
    http = HTTPClientTransport(server.base_url)

    class Mine:  # the documented custom transport's shape: calls and run
        calls = Operations(TransportSettings.resolve(base_url=server.base_url))

        def run(self, operation: Any) -> Any:
            return drive(operation, http.send, clock=server.api.clock, sleep=lambda s: None)

    mine = Mine()
    with Recorder(mine, tmp_path / "mine.json") as recorder:
        mine.run(mine.calls.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN))
        # An operation driven by hand goes through wrap().
        operation = recorder.wrap(mine.calls.balances("5WT00001"))
        drive(operation, http.send, clock=server.api.clock, sleep=lambda s: None)
    http.close()
    cassette = Cassette.load(tmp_path / "mine.json")
    assert [i["request"]["path"] for i in cassette.interactions] == [
        "/oauth/token",
        "/accounts/5WT00001/balances",
    ]
    assert "run" not in vars(mine)  # detached


# -- mismatches ------------------------------------------------------------------------------


def hand_written(tmp_path: Path) -> Path:
    """A cassette written by hand: a token, balances, an order."""

    def answer(status: int, body: Any) -> dict[str, Any]:
        response = json_response(status, body)
        return {"status": status, "headers": dict(response.headers), "json": body}

    interactions = [
        {
            "request": {
                "method": "POST",
                "path": "/oauth/token",
                "json": {
                    "grant_type": "refresh_token",
                    "refresh_token": "<redacted>",
                    "client_secret": "<redacted>",
                },
            },
            "response": answer(200, {"access_token": "<redacted>", "expires_in": 900}),
        },
        {
            "request": {"method": "GET", "path": "/accounts/ACCT0001/balances"},
            "response": answer(200, {"data": {"account-number": "ACCT0001"}}),
        },
        {
            "request": {
                "method": "GET",
                "path": "/accounts/ACCT0001/orders",
                "query": {"per-page": "100", "status[]": ["Live", "Filled"]},
            },
            "response": answer(200, {"data": {"items": []}}),
        },
    ]
    path = tmp_path / "hand.json"
    path.write_text(json.dumps({"version": 1, "interactions": interactions}, indent=2))
    return path


def oauth(session: Any) -> None:
    session.login_with_oauth("my-client-secret", "my-refresh-token")


def test_a_request_out_of_order_names_the_first_mismatch(tmp_path: Path) -> None:
    session = ReplaySession(hand_written(tmp_path))
    oauth(session)
    with pytest.raises(CassetteMismatch) as info:
        session.request("GET", "/accounts/ACCT0001/positions")
    error = info.value
    assert error.index == 1
    assert error.expected is not None and error.expected["path"] == "/accounts/ACCT0001/balances"
    assert error.sent is not None and error.sent["path"] == "/accounts/ACCT0001/positions"
    message = str(error)
    assert "request 1 does not match" in message and "(interaction 1)" in message
    assert "recorded: GET /accounts/ACCT0001/balances" in message
    assert "sent:     GET /accounts/ACCT0001/positions" in message
    assert isinstance(error, AssertionError)  # code that catches TastytradeError can't hide it
    # The first mismatch is kept, so a test that swallowed it still fails.
    assert session.player.mismatch is error
    with pytest.raises(CassetteMismatch):
        session.player.check(all_played=False)


def recorded_order_cassette(server: FakeTastytradeServer, tmp_path: Path) -> Path:
    path = tmp_path / "order.json"
    h = Harness("requests", server)
    session = h.session()
    with Recorder(session.session, path):
        session.session.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
        session.session.place_order("5WT00001", MINE)
        session.session.balances("5WT00001")
    session.session.close()
    return path


def test_a_different_body_is_a_mismatch_with_its_diff(
    server: FakeTastytradeServer, tmp_path: Path
) -> None:
    path = recorded_order_cassette(server, tmp_path)
    session = ReplaySession(path)
    oauth(session)
    other = NewOrder.limit(
        NewLeg.equity("F", "Buy to Open", 2), Decimal("-10.05"), external_identifier="mine-1"
    )
    with pytest.raises(CassetteMismatch) as info:
        session.place_order("5WT00001", other)
    assert info.value.differences == (
        'body.price: recorded "10.00", sent "10.05"',
        "body.legs[0].quantity: recorded 1, sent 2",
    )
    assert str(info.value).endswith(
        '  - body.price: recorded "10.00", sent "10.05"\n'
        "  - body.legs[0].quantity: recorded 1, sent 2"
    )
    # Relaxed: ignore_body answers it anyway.
    relaxed = ReplaySession(path, ignore_body=True)
    oauth(relaxed)
    placed = relaxed.place_order("5WT00001", other)
    assert placed.order.id


def test_ignore_order_and_the_unplayed_check(server: FakeTastytradeServer, tmp_path: Path) -> None:
    path = recorded_order_cassette(server, tmp_path)
    strict = ReplaySession(path)
    oauth(strict)
    with pytest.raises(CassetteMismatch, match="recorded: POST /accounts/5WT00001/orders"):
        strict.balances("5WT00001")
    loose = ReplaySession(path, ignore_order=True)
    oauth(loose)
    assert loose.balances("5WT00001").account_number == "5WT00001"
    with pytest.raises(CassetteMismatch, match=r"1 of 3 interactions .* never requested"):
        loose.player.check()
    loose.place_order("5WT00001", MINE)
    loose.player.check()
    with pytest.raises(CassetteMismatch, match="no unused interaction left"):
        loose.balances("5WT00001")


def test_an_exhausted_cassette(tmp_path: Path) -> None:
    session = ReplaySession(hand_written(tmp_path), ignore_body=True)
    oauth(session)
    session.request("GET", "/accounts/ACCT0001/balances")
    session.request(
        "GET", "/accounts/ACCT0001/orders", params={"per-page": 100, "status[]": ["Filled", "Live"]}
    )
    with pytest.raises(CassetteMismatch, match=r"request 3 \(DELETE /sessions\) was sent"):
        session.logout()


def test_a_query_mismatch(tmp_path: Path) -> None:
    session = ReplaySession(hand_written(tmp_path), ignore_body=True)
    oauth(session)
    session.request("GET", "/accounts/ACCT0001/balances")
    with pytest.raises(CassetteMismatch) as info:
        session.request("GET", "/accounts/ACCT0001/orders", params={"per-page": 10})
    assert any("query.per-page" in d for d in info.value.differences)
    assert any("query.status[]" in d and "not sent" in d for d in info.value.differences)


def test_replayed_time_is_the_recording_s(server: FakeTastytradeServer, tmp_path: Path) -> None:
    """A session token that expired since the recording is still fresh in the replay."""
    path = tmp_path / "password.json"
    h = Harness("requests", server)
    session = h.session()
    with Recorder(session.session, path):
        with pytest.raises(SecondFactorRequired):
            session.session.login_with_password(DEMO_LOGIN, DEMO_PASSWORD)
        session.session.submit_second_factor(DEMO_OTP)
        session.session.balances("5WT00001")
    session.session.close()
    data = json.loads(path.read_text())
    data["recorded-at"] = "2020-01-02T03:04:05.000Z"
    for interaction in data["interactions"]:
        payload = interaction["response"].get("json", {}).get("data", {})
        if "session-expiration" in payload:
            payload["session-expiration"] = "2020-01-03T03:04:05.000+00:00"
    path.write_text(json.dumps(data))
    replayed = ReplaySession(path)
    with pytest.raises(SecondFactorRequired):
        replayed.login_with_password(DEMO_LOGIN, "anything")
    replayed.submit_second_factor("000000")
    assert replayed.balances("5WT00001").account_number == "5WT00001"
    assert replayed.player.clock() < 1_600_000_000


# -- the pytest marker and fixtures ----------------------------------------------------------

USER_TEST = """
import asyncio

import pytest
import trio


@pytest.mark.tastytrade_cassette("bot.json")
def test_bot(tastytrade_cassette):
    accounts = tastytrade_cassette.accounts()
    number = accounts[0].account_number
    assert tastytrade_cassette.balances(number).account_number == number


@pytest.mark.tastytrade_cassette("bot.json")
def test_bot_asyncio(tastytrade_cassette_async):
    async def body():
        accounts = await tastytrade_cassette_async.accounts()
        number = accounts[0].account_number
        await tastytrade_cassette_async.balances(number)

    asyncio.run(body())


@pytest.mark.tastytrade_cassette("bot.json")
def test_bot_trio(tastytrade_cassette_async):
    async def body():
        accounts = await tastytrade_cassette_async.accounts()
        await tastytrade_cassette_async.balances(accounts[0].account_number)

    trio.run(body)
"""


def run_user_tests(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("-p", "tastytrade_fake", "--strict-markers", *args)


@pytest.fixture
def no_cassette_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "TASTYTRADE_CASSETTE_MODE",
        "TASTYTRADE_CASSETTE_BASE_URL",
        "TASTYTRADE_CLIENT_SECRET",
        "TASTYTRADE_REFRESH_TOKEN",
        "TASTYTRADE_LOGIN",
        "TASTYTRADE_PASSWORD",
        "TASTYTRADE_OTP",
        "TASTYTRADE_CASSETTE_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("login", ["oauth", "password"])
def test_record_once_then_replay(
    login: str,
    server: FakeTastytradeServer,
    pytester: pytest.Pytester,
    no_cassette_env: pytest.MonkeyPatch,
) -> None:
    pytester.makepyfile(test_user=USER_TEST)
    missing = run_user_tests(pytester)
    missing.assert_outcomes(errors=3)
    missing.stdout.fnmatch_lines(["*cassette*bot.json not found*TASTYTRADE_CASSETTE_MODE=record*"])

    env = no_cassette_env
    env.setenv("TASTYTRADE_CASSETTE_BASE_URL", server.base_url)
    if login == "oauth":
        env.setenv("TASTYTRADE_CLIENT_SECRET", DEMO_CLIENT_SECRET)
        env.setenv("TASTYTRADE_REFRESH_TOKEN", DEMO_REFRESH_TOKEN)
    else:
        env.setenv("TASTYTRADE_LOGIN", DEMO_LOGIN)
        env.setenv("TASTYTRADE_PASSWORD", DEMO_PASSWORD)
        env.setenv("TASTYTRADE_OTP", DEMO_OTP)
    # Record: one test, through the option (the environment variable is the other way).
    run_user_tests(pytester, "--tastytrade-cassette-mode=record", "-k", "test_bot_trio")
    recorded = pytester.path / "cassettes" / "bot.json"
    text = recorded.read_text()
    assert "5WT0000" not in text and "ACCT0001" in text  # the fixture replaces accounts
    for secret in (DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN, DEMO_PASSWORD, DEMO_OTP):
        assert secret not in text
    assert not FAKE_TOKEN.search(text)
    first = json.loads(text)["interactions"][0]["request"]["path"]
    assert first == ("/oauth/token" if login == "oauth" else "/sessions")

    # Replay: no server, no credentials; sync, asyncio and trio.
    for name in ("TASTYTRADE_CASSETTE_BASE_URL", "TASTYTRADE_CLIENT_SECRET", "TASTYTRADE_LOGIN"):
        env.delenv(name, raising=False)
    server.api.requests.clear()
    run_user_tests(pytester).assert_outcomes(passed=3)
    assert server.api.requests == []

    # Record mode by the environment variable rewrites the file.
    env.setenv("TASTYTRADE_CASSETTE_MODE", "record")
    env.setenv("TASTYTRADE_CASSETTE_BASE_URL", server.base_url)
    env.setenv("TASTYTRADE_CLIENT_SECRET", DEMO_CLIENT_SECRET)
    env.setenv("TASTYTRADE_REFRESH_TOKEN", DEMO_REFRESH_TOKEN)
    run_user_tests(pytester, "-k", "test_bot and not asyncio and not trio").assert_outcomes(
        passed=1
    )
    assert server.api.count("GET", "/accounts/5WT00001/balances") == 1


@pytest.fixture
def tls_server() -> Iterator[FakeTastytradeServer]:
    # Requested before pytester, so that what TLS imports is loaded before pytester's
    # snapshot of sys.modules (which unloads whatever a test imported, when it ends).
    with FakeTastytradeServer(FakeTastytradeAPI(), tls=True) as running:
        yield running


def test_recording_over_tls_with_a_ca_bundle(
    tls_server: FakeTastytradeServer,
    pytester: pytest.Pytester,
    no_cassette_env: pytest.MonkeyPatch,
) -> None:
    pytester.makepyfile(test_user=USER_TEST)
    assert tls_server.ca_path is not None
    no_cassette_env.setenv("TASTYTRADE_CASSETTE_MODE", "record")
    no_cassette_env.setenv("TASTYTRADE_CASSETTE_BASE_URL", tls_server.base_url)
    no_cassette_env.setenv("TASTYTRADE_CLIENT_SECRET", DEMO_CLIENT_SECRET)
    no_cassette_env.setenv("TASTYTRADE_REFRESH_TOKEN", DEMO_REFRESH_TOKEN)
    untrusted = run_user_tests(pytester, "-k", "test_bot and not asyncio and not trio")
    untrusted.assert_outcomes(errors=1)
    untrusted.stdout.fnmatch_lines(["*CERTIFICATE_VERIFY_FAILED*"])
    no_cassette_env.setenv("TASTYTRADE_CASSETTE_CA_BUNDLE", str(tls_server.ca_path))
    run_user_tests(pytester).assert_outcomes(passed=3)
    assert (pytester.path / "cassettes" / "bot.json").is_file()


def test_a_mismatch_fails_the_test(
    pytester: pytest.Pytester, no_cassette_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (pytester.path / "cassettes").mkdir()
    hand_written(pytester.path / "cassettes").rename(pytester.path / "cassettes" / "hand.json")
    pytester.makepyfile(
        test_user="""
        import pytest
        from tastytrade_proto import TastytradeError


        @pytest.mark.tastytrade_cassette("hand.json")
        def test_wrong_call(tastytrade_cassette):
            tastytrade_cassette.positions("ACCT0001")


        @pytest.mark.tastytrade_cassette("hand.json")
        def test_swallowed(tastytrade_cassette):
            try:
                tastytrade_cassette.request("GET", "/accounts/ACCT0001/positions")
            except Exception:
                pass  # code under test that swallows errors still fails the test


        @pytest.mark.tastytrade_cassette("hand.json")
        def test_stops_early(tastytrade_cassette):
            tastytrade_cassette.request("GET", "/accounts/ACCT0001/balances")


        @pytest.mark.tastytrade_cassette("hand.json", all_played=False)
        def test_stops_early_allowed(tastytrade_cassette):
            tastytrade_cassette.request("GET", "/accounts/ACCT0001/balances")


        @pytest.mark.tastytrade_cassette("hand.json", ignore_order=True, all_played=False)
        def test_any_order(tastytrade_cassette):
            tastytrade_cassette.request(
                "GET", "/accounts/ACCT0001/orders",
                params={"per-page": 100, "status[]": ["Live", "Filled"]},
            )
            tastytrade_cassette.request("GET", "/accounts/ACCT0001/balances")


        def test_no_marker(tastytrade_cassette):
            pass
        """
    )
    result = run_user_tests(pytester)
    result.assert_outcomes(passed=4, failed=1, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*CassetteMismatch: request 1 does not match *hand.json (interaction 1):",
            "*recorded: GET /accounts/ACCT0001/balances",
            "*sent:     GET /accounts/ACCT0001/positions",
        ]
    )
    result.stdout.fnmatch_lines(["*1 of 3 interactions in *hand.json were never requested:*"])
    result.stdout.fnmatch_lines(["*needs @pytest.mark.tastytrade_cassette*"])


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = run_user_tests(pytester, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.tastytrade_cassette(name, *, login=True*"])
    help_text = run_user_tests(pytester, "--help")
    help_text.stdout.fnmatch_lines(["*--tastytrade-cassette-mode*"])


def test_the_docs_example_runs(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text("utf-8")
    section = doc[doc.index("## Cassettes") :]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert "tastytrade_cassette(" in blocks[0]
    path = tmp_path / "positions.json"
    code = blocks[-1].replace('"/tmp/positions.json"', repr(str(path)))
    exec(compile(code, "docs/testing.md", "exec"), {})
    text = path.read_text()
    assert "ACCT0001" in text and "5WT00001" not in text


def test_bodies_that_are_not_json_and_failures_replay_as_recorded(tmp_path: Path) -> None:
    html = {"status": 502, "headers": {"content-type": "text/html"}, "text": "<h1>"}
    timeout = {"type": "TransportTimeout", "message": "slow", "request-sent": False}
    cassette = Cassette(
        [
            {"request": {"method": "GET", "path": "/a"}, "response": html},
            {
                "request": {"method": "GET", "path": "/b"},
                "response": {"status": 200, "base64": "AP8="},
            },
            {"request": {"method": "GET", "path": "/c"}, "error": timeout},
            {"request": {"method": "GET", "path": "/d"}},
        ],
        name="mixed",
    )
    path = tmp_path / "mixed.json"
    cassette.save(path)
    player = CassettePlayer(Cassette.loads(path.read_text(), name="mixed"))

    def get(path: str) -> Response:
        return player.answer(Request("GET", "https://api.cert.tastyworks.com" + path))

    assert get("/a").body == b"<h1>"
    assert get("/b").body == b"\x00\xff"
    with pytest.raises(TransportTimeout) as info:
        get("/c")
    assert info.value.request_sent is False
    with pytest.raises(ValueError, match="interaction 3 has no response"):
        get("/d")
    with pytest.raises(ValueError, match="version 2"):
        Cassette.loads('{"version": 2, "interactions": []}')
    with pytest.raises(ValueError, match="not a cassette"):
        Cassette.loads("[]")


def test_recorded_bodies_keep_their_form() -> None:
    form = Request(
        "POST",
        "https://x.test/api/oauth/token?a=1&a=2",
        (("content-type", "application/x-www-form-urlencoded"),),
        b"grant_type=refresh_token&refresh_token=R",
    )
    assert _request_record(form, "/api") == {
        "method": "POST",
        "path": "/oauth/token",
        "query": {"a": ["1", "2"]},
        "form": {"grant_type": "refresh_token", "refresh_token": "R"},
    }
    binary = _response_record(Response(200, (("set-cookie", "s=1"),), b"\xff\xfe"))
    assert binary == {"status": 200, "base64": "//4="}
    broken = _response_record(Response(200, (), b"{not json"))
    assert broken == {"status": 200, "text": "{not json"}
