"""The watchlists area: each endpoint's exact request and body, retries, models, and the fake."""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tastytrade_proto import (
    LocalProtocolError,
    NotFound,
    ServerError,
    TastytradeError,
    TransportError,
    ValidationFailed,
)
from tastytrade_proto.accounts import InstrumentType
from tastytrade_proto.models import data_of
from tastytrade_proto.protocol import Operation, Response, drive
from tastytrade_proto.protocol.endpoint import build_call
from tastytrade_proto.sessions import Operations, TransportSettings
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    FakeClock,
    FakeTastytradeAPI,
    Fault,
    FaultKind,
)
from tastytrade_proto.watchlists import PairsEquation, PairsWatchlist, Watchlist, WatchlistEntry

from .core import Core, body, data, items, target
from .strategies import json_values, mutations

T = TypeVar("T")

MINE: dict[str, Any] = {
    "name": "Futures/Crypto",
    "user-id": 12345,
    "watchlist-entries": [
        {"symbol": "/ESZ6", "instrument-type": "Future"},
        {"symbol": "BTC/USD", "instrument-type": "Cryptocurrency"},
    ],
    "group-name": "main",
    "order-index": 2,
}
PUBLIC: dict[str, Any] = {
    "id": "69136",
    "name": "High Options Volume",
    "group-name": "Liquidity",
    "user-id": -1,
    "order-index": 100,
    "watchlist-entries": [
        {"symbol": "SPY", "instrument-type": "Equity"},
        {"symbol": "QQQ", "instrument_type": "Equity"},  # seen spelled this way too
    ],
}
PAIRS: dict[str, Any] = {
    "name": "Futures",
    "order-index": 5,
    "pairs-equations": [
        {
            "left-action": "Buy",
            "left-symbol": "/ZN",
            "left-quantity": 2,
            "right-action": "Sell",
            "right-symbol": "/ZB",
            "right-quantity": 1,
        }
    ],
    "created-at": "2020-11-17T22:17:27.424Z",
    "updated-at": "2020-11-17T22:17:27.424Z",
}
ENTRIES: list[Any] = [
    WatchlistEntry("AAPL", InstrumentType.EQUITY),
    ("/ESZ6", "Future"),
    "SPY",
]
ENTRIES_JSON = [
    {"symbol": "AAPL", "instrument-type": "Equity"},
    {"symbol": "/ESZ6", "instrument-type": "Future"},
    {"symbol": "SPY"},
]


def _unavailable() -> Response:
    return Response(503, (("content-type", "application/json"),), b'{"error":{"code":"x"}}')


# -- the user's own ----------------------------------------------------------------------------


def test_watchlists() -> None:
    core = Core().answer(items(MINE))
    (found,) = core.run(core.calls.watchlists())
    assert target(core.sent) == ("GET", "/watchlists", [])
    assert isinstance(found, Watchlist) and found.name == "Futures/Crypto"
    assert found.symbols == ("/ESZ6", "BTC/USD")
    assert found.watchlist_entries[1].instrument_type is InstrumentType.CRYPTOCURRENCY
    assert found.group_name == "main" and found.order_index == 2
    assert found.raw["user-id"] == 12345


@pytest.mark.parametrize(
    "name, path",
    [
        ("Futures/Crypto", "/watchlists/Futures%2FCrypto"),
        ("My List", "/watchlists/My%20List"),
        ("a?b#c", "/watchlists/a%3Fb%23c"),
    ],
)
def test_one_watchlist_name_is_one_encoded_segment(name: str, path: str) -> None:
    core = Core().answer(data(MINE))
    assert core.run(core.calls.watchlist(name)).name == "Futures/Crypto"
    assert target(core.sent) == ("GET", path, [])


def test_create_watchlist_body_and_answer() -> None:
    core = Core().answer(data({**MINE, "name": "New"}), status=201)
    created = core.run(
        core.calls.create_watchlist("New", ENTRIES, group_name="main", order_index=3)
    )
    assert target(core.sent) == ("POST", "/watchlists", [])
    assert body(core.sent) == {
        "name": "New",
        "watchlist-entries": ENTRIES_JSON,
        "group-name": "main",
        "order-index": 3,
    }
    assert created.name == "New"


def test_create_watchlist_leaves_out_what_is_not_given() -> None:
    core = Core().answer(data(MINE), status=201)
    core.run(core.calls.create_watchlist("New", []))
    assert body(core.sent) == {"name": "New", "watchlist-entries": []}


@pytest.mark.parametrize(
    "name, entries, kwargs",
    [
        ("", ["AAPL"], {}),
        ("  ", ["AAPL"], {}),
        ("New", "AAPL", {}),  # a string is not a list of entries
        ("New", WatchlistEntry("AAPL"), {}),
        ("New", [""], {}),
        ("New", [("", "Equity")], {}),
        ("New", [42], {}),
        ("New", 42, {}),
        ("New", [("AAPL",)], {}),
        ("New", ["AAPL"], {"order_index": True}),
        ("New", ["AAPL"], {"order_index": "1"}),
    ],
)
def test_bad_watchlists_are_refused_before_sending(
    name: str, entries: Any, kwargs: dict[str, Any]
) -> None:
    core = Core()
    with pytest.raises(LocalProtocolError):
        core.run(core.calls.create_watchlist(name, entries, **kwargs))
    with pytest.raises(LocalProtocolError):
        core.run(core.calls.replace_watchlist(name, entries, **kwargs))
    assert core.http.requests == []


def test_create_is_sent_once_even_when_the_answer_is_lost_or_refused() -> None:
    core = Core()
    core.http.queue(_unavailable())
    with pytest.raises(ServerError):
        core.run(core.calls.create_watchlist("New", ["AAPL"]))
    core.http.queue(TransportError("connection reset"))
    with pytest.raises(TransportError):
        core.run(core.calls.create_watchlist("New", ["AAPL"]))
    assert len(core.http.requests) == 2 and core.http.pending == 0


def test_replace_is_idempotent_so_it_is_retried() -> None:
    core = Core()
    core.http.queue(_unavailable(), TransportError("reset"))
    core.answer(data({**MINE, "watchlist-entries": ENTRIES_JSON}))
    replaced = core.run(core.calls.replace_watchlist("Futures/Crypto", ENTRIES, order_index=2))
    assert len(core.http.requests) == 3
    assert target(core.sent) == ("PUT", "/watchlists/Futures%2FCrypto", [])
    assert body(core.sent) == {
        "name": "Futures/Crypto",
        "watchlist-entries": ENTRIES_JSON,
        "order-index": 2,
    }
    assert replaced.symbols == ("AAPL", "/ESZ6", "SPY")


def test_delete_takes_any_answer_body() -> None:
    core = Core()
    # The API has answered a delete with a bare, snake_case object.
    core.answer({"id": 162, "name": "Old", "user_id": 564, "watchlist_entries": []})
    assert core.run(core.calls.delete_watchlist("Old List")) is None
    assert target(core.sent) == ("DELETE", "/watchlists/Old%20List", [])
    assert core.sent.body == b""
    core.http.queue(Response(204))
    assert core.run(core.calls.delete_watchlist("Old List")) is None
    assert len(core.http.requests) == 2


def test_delete_is_sent_once_even_when_the_answer_is_lost() -> None:
    # A retry after a delete that went through would answer 404: a success reported as NotFound.
    core = Core()
    core.http.queue(_unavailable())
    with pytest.raises(ServerError):
        core.run(core.calls.delete_watchlist("Old List"))
    core.http.queue(TransportError("connection reset"))
    with pytest.raises(TransportError):
        core.run(core.calls.delete_watchlist("Old List"))
    assert len(core.http.requests) == 2 and core.http.pending == 0


def test_a_lost_delete_answer_does_not_become_not_found_against_the_fake() -> None:
    fake = InProcess().login()
    calls = fake.calls
    fake.run(calls.create_watchlist("Gone Soon", ["AAPL"]))
    fault = Fault(
        FaultKind.SERVER_ERROR,
        status=503,
        method="DELETE",
        path="/watchlists/",
        after_handling=True,
    )
    fake.api.inject(fault)
    with pytest.raises(ServerError):  # deleted, but the answer was lost: no retry, no NotFound
        fake.run(calls.delete_watchlist("Gone Soon"))
    assert fake.api.count("DELETE", "/watchlists/Gone Soon") == 1
    assert "Gone Soon" not in [w.name for w in fake.run(calls.watchlists())]


@pytest.mark.parametrize("name", [None, 5, b"List", ["List"], "", "   ", ".", ".."])
def test_every_name_is_checked_before_sending(name: Any) -> None:
    core = Core()
    for call in (
        lambda: core.calls.watchlist(name),
        lambda: core.calls.delete_watchlist(name),
        lambda: core.calls.replace_watchlist(name, ["AAPL"]),
        lambda: core.calls.public_watchlist(name),
        lambda: core.calls.pairs_watchlist(name),
    ):
        with pytest.raises(LocalProtocolError):
            call()
    if name not in (".", ".."):  # in a body, not a path: only blanks and non-strings are refused
        with pytest.raises(LocalProtocolError):
            core.calls.create_watchlist(name, ["AAPL"])
    assert core.http.requests == []


def test_an_unknown_name_is_not_found() -> None:
    error = {"error": {"code": "record_not_found", "message": "Watchlist not found"}}
    core = Core().answer(error, status=404)
    with pytest.raises(NotFound) as caught:
        core.run(core.calls.watchlist("Nope"))
    assert caught.value.code == "record_not_found"


# -- public and pairs --------------------------------------------------------------------------


def test_public_watchlists_and_counts_only() -> None:
    counts = {"name": "High Options Volume", "watchlist-entry-count": 2, "id": 69136}
    core = Core().answer(items(PUBLIC)).answer(items(counts))
    (full,) = core.run(core.calls.public_watchlists())
    assert target(core.sent) == ("GET", "/public-watchlists", [])
    assert full.symbols == ("SPY", "QQQ") and full.id == "69136"
    assert [e.instrument_type for e in full.watchlist_entries] == [InstrumentType.EQUITY] * 2
    (counted,) = core.run(core.calls.public_watchlists(counts_only=True))
    assert target(core.sent) == ("GET", "/public-watchlists", [("counts-only", "true")])
    assert counted.watchlist_entry_count == 2 and counted.watchlist_entries == ()
    assert counted.id == "69136"


def test_one_public_watchlist() -> None:
    core = Core().answer(data(PUBLIC))
    found = core.run(core.calls.public_watchlist("High Options Volume"))
    assert target(core.sent) == ("GET", "/public-watchlists/High%20Options%20Volume", [])
    assert found.watchlist_entries[1] == WatchlistEntry("QQQ", InstrumentType.EQUITY)


def test_pairs_watchlists() -> None:
    core = Core().answer(items(PAIRS)).answer(data(PAIRS))
    (listed,) = core.run(core.calls.pairs_watchlists())
    assert target(core.sent) == ("GET", "/pairs-watchlists", [])
    assert isinstance(listed, PairsWatchlist) and listed.order_index == 5
    assert listed.pairs_equations[0] == PairsEquation(
        left_symbol="/ZN",
        left_action="Buy",
        left_quantity=2,
        right_symbol="/ZB",
        right_action="Sell",
        right_quantity=1,
    )
    assert listed.created_at == datetime(2020, 11, 17, 22, 17, 27, 424000, timezone.utc)
    one = core.run(core.calls.pairs_watchlist("Futures"))
    assert target(core.sent) == ("GET", "/pairs-watchlists/Futures", [])
    assert one == listed


# -- the fake, in process ----------------------------------------------------------------------


class InProcess:
    """A logged-in Operations whose requests go straight into a fake API."""

    def __init__(self, api: FakeTastytradeAPI | None = None) -> None:
        self.clock = FakeClock(1_790_000_000.0)
        self.api = api or FakeTastytradeAPI(clock=self.clock)
        self.calls = Operations(
            TransportSettings.resolve(base_url="http://fake.invalid"),
            entropy=lambda n: bytes(range(n)),
        )

    def login(self, refresh_token: str = DEMO_REFRESH_TOKEN) -> InProcess:
        self.run(self.calls.login_with_oauth(DEMO_CLIENT_SECRET, refresh_token))
        return self

    def run(self, op: Operation[T]) -> T:
        return drive(
            op, lambda r: self.api.handle(r).response, clock=self.clock, sleep=self.clock.sleep
        )


def test_fake_watchlist_lifecycle() -> None:
    fake = InProcess().login()
    calls = fake.calls
    assert [w.name for w in fake.run(calls.watchlists())] == ["Demo Holdings", "Futures/Crypto"]
    assert fake.run(calls.watchlist("Futures/Crypto")).symbols == ("/ESZ6", "BTC/USD")
    created = fake.run(calls.create_watchlist("Tech 2026", ENTRIES, group_name="ideas"))
    assert created.symbols == ("AAPL", "/ESZ6", "SPY") and created.order_index == 9999
    assert fake.api.count("POST", "/watchlists") == 1
    with pytest.raises(ValidationFailed) as taken:
        fake.run(calls.create_watchlist("Tech 2026", ["MSFT"]))
    assert taken.value.status == 422
    replaced = fake.run(calls.replace_watchlist("Tech 2026", ["MSFT"], order_index=0))
    assert replaced.symbols == ("MSFT",) and replaced.group_name is None
    assert fake.run(calls.watchlists())[0].name == "Tech 2026"  # ordered by order-index
    assert fake.run(calls.delete_watchlist("Tech 2026")) is None
    with pytest.raises(NotFound):
        fake.run(calls.watchlist("Tech 2026"))
    with pytest.raises(NotFound):
        fake.run(calls.delete_watchlist("Tech 2026"))
    with pytest.raises(NotFound):
        fake.run(calls.replace_watchlist("Tech 2026", ["MSFT"]))


def test_fake_watchlists_belong_to_their_user() -> None:
    api = FakeTastytradeAPI(clock=FakeClock(1_790_000_000.0))
    api.add_user("other", "pw", accounts=["5WT00099"])
    api.add_oauth_grant("other", refresh_token="RT-other")
    demo = InProcess(api).login()
    other = InProcess(api).login("RT-other")
    assert other.run(other.calls.watchlists()) == []
    other.run(other.calls.create_watchlist("Demo Holdings", ["TSLA"]))  # its own namespace
    assert demo.run(demo.calls.watchlist("Demo Holdings")).symbols == ("AAPL", "MSFT", "SPY")


def test_fake_refuses_a_malformed_body() -> None:
    fake = InProcess().login()
    bodies: list[dict[str, Any]] = [
        {"watchlist-entries": []},
        {"name": "X"},
        {"name": "X", "watchlist-entries": [{"instrument-type": "Equity"}]},
        {"name": "X", "watchlist-entries": [], "order-index": "first"},
    ]
    for bad in bodies:
        op = build_call(fake.calls, "POST", "/watchlists", data_of(Watchlist), json=bad)
        with pytest.raises(ValidationFailed):
            fake.run(op)


def test_fake_public_and_pairs() -> None:
    fake = InProcess().login()
    public = fake.run(fake.calls.public_watchlists())
    counts = fake.run(fake.calls.public_watchlists(counts_only=True))
    assert [w.watchlist_entry_count for w in counts] == [len(w.symbols) for w in public]
    assert all(w.watchlist_entries == () for w in counts)
    crypto = fake.run(fake.calls.public_watchlist("Crypto"))
    assert crypto.symbols == ("BTC/USD", "ETH/USD")
    with pytest.raises(NotFound):
        fake.run(fake.calls.public_watchlist("Nope"))
    pairs = fake.run(fake.calls.pairs_watchlists())
    assert [p.name for p in pairs] == ["Stocks", "Futures"]
    assert fake.run(fake.calls.pairs_watchlist("Stocks")).pairs_equations[0].left_symbol == "SPY"
    with pytest.raises(NotFound):
        fake.run(fake.calls.pairs_watchlist("Nope"))


# -- any JSON either parses or raises a library error ---------------------------------------------

MODELS: list[tuple[type[Any], Any]] = [
    (Watchlist, MINE),
    (Watchlist, PUBLIC),
    (WatchlistEntry, MINE["watchlist-entries"][0]),
    (PairsWatchlist, PAIRS),
    (PairsEquation, PAIRS["pairs-equations"][0]),
]


@given(junk=json_values, choice=st.data())
def test_any_public_watchlist_answer_decodes_or_raises_a_library_error(
    junk: Any, choice: st.DataObject
) -> None:
    mutated = choice.draw(mutations(PUBLIC))
    answers = [
        ("public_watchlists", {"items": [junk]}),
        ("public_watchlists", {"items": junk}),
        ("public_watchlists", {"items": [mutated]}),
        ("public_watchlist", junk),
        ("public_watchlist", mutated),
    ]
    for endpoint, answer in answers:
        core = Core().answer({"data": answer})
        with contextlib.suppress(TastytradeError):
            if endpoint == "public_watchlist":
                core.run(core.calls.public_watchlist("X"))
            else:
                core.run(core.calls.public_watchlists())
