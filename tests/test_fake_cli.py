"""``python -m tastytrade_proto.testing``: serving from a shell, restarts, the admin routes.

Every server here is real (sockets on 127.0.0.1); ``main(..., wait=...)`` runs the
checks while it serves and stops it when they return.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import tastytrade_requests
from tastytrade_proto import RefreshTokenRotated, RememberTokenIssued, TastytradeError, TokenEvent
from tastytrade_proto.orders import NewLeg, NewOrder
from tastytrade_proto.protocol.http import Request
from tastytrade_proto.testing import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeClock,
    FakeTastytradeAPI,
    FakeTastytradeServer,
)
from tastytrade_proto.testing.__main__ import main
from tastytrade_proto.testing.fake import admin

Check = Callable[[str, "str | None", str], None]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def serve(capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """Serve with ``argv`` and run ``check(url, ca_path, printed)`` while it serves."""

    def run(argv: list[str], check: Check) -> str:
        printed: list[str] = []

        def wait() -> None:
            text = capsys.readouterr().out
            printed.append(text)
            url = re.search(r"fake tastytrade API at (\S+)", text)
            ca = re.search(r"trust this CA: (\S+)", text)
            assert url is not None
            check(url.group(1), ca.group(1) if ca else None, text)

        assert main(argv, wait=wait) == 0
        return printed[0]

    return run


def session(url: str, ca: str | None, kept: list[TokenEvent] | None = None) -> Any:
    return tastytrade_requests.Session(
        base_url=url,
        ca_bundle=ca,
        prompt=lambda ask: DEMO_OTP,
        token_store=(kept.append if kept is not None else None),
    )


# -- serving ----------------------------------------------------------------------------------


def test_serve_prints_every_credential_and_the_commands_to_try(
    serve: Callable[..., str],
) -> None:
    def check(url: str, ca: str | None, text: str) -> None:
        assert ca is not None and Path(ca).is_file()
        context = ssl.create_default_context(cafile=ca)  # the printed CA is the one to trust
        host, port = url.removeprefix("https://").split(":")
        with (
            socket.create_connection((host, int(port))) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            assert tls.version() is not None

    text = serve(["--tls"], check)
    for value in (
        DEMO_CLIENT_SECRET,
        DEMO_REFRESH_TOKEN,
        DEMO_LOGIN,
        DEMO_PASSWORD,
        DEMO_OTP,
        "5WT00001",
        "5WT00002",
        "device challenge",
        "tastytrade login --base-url https://127.0.0.1:",
        f"tastytrade login --user {DEMO_LOGIN} --base-url",
        "--ca-bundle ",
        "mark --base-url",
        "fill --base-url",
        "advance --base-url",
    ):
        assert value in text, value


def test_port_binds_that_port_and_the_default_command_is_serve(
    serve: Callable[..., str],
) -> None:
    port = free_port()

    def check(url: str, ca: str | None, text: str) -> None:
        assert url == f"http://127.0.0.1:{port}" and ca is None
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/customers/me", headers={"User-Agent": "test/1"})
        assert connection.getresponse().status == 401  # the API, wanting a token
        connection.close()

    serve(["--port", str(port)], check)
    serve(["serve", "--host", "127.0.0.1", "--port", str(port)], check)  # again, same port


def test_a_busy_port_and_a_non_loopback_host_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        assert main(["--port", str(busy.getsockname()[1])], wait=pytest.fail) == 1
    assert "cannot serve" in capsys.readouterr().err
    for host in ("0.0.0.0", "192.0.2.1", "localhost", "::"):
        assert main(["--host", host], wait=pytest.fail) == 2
        assert "127.0.0.1 only" in capsys.readouterr().err


# -- restarts ---------------------------------------------------------------------------------


def test_a_restart_with_the_same_state_accepts_the_tokens_the_first_run_issued(
    serve: Callable[..., str], tmp_path: Path
) -> None:
    port, state = free_port(), tmp_path / "state"
    argv = ["--tls", "--port", str(port), "--state-dir", str(state), "--rotate-refresh-tokens"]
    kept: list[TokenEvent] = []
    first: dict[str, Any] = {}

    def before(url: str, ca: str | None, text: str) -> None:
        assert ca == str(state / "ca.pem")
        first["ca"] = Path(ca).read_bytes()
        with session(url, ca, kept) as s:
            s.login_with_password(DEMO_LOGIN, DEMO_PASSWORD, remember_me=True)
        issued = [e.token for e in kept if isinstance(e, RememberTokenIssued)]
        with session(url, ca, kept) as s:  # spends it; the fake rotates it
            s.login_with_remember_token(DEMO_LOGIN, issued[-1], remember_me=True)
            first["dump"] = s.dump()
        with session(url, ca, kept) as s:
            s.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)  # rotates the refresh
        first["spent"] = issued[-1]

    serve(argv, before)
    remember = [e.token for e in kept if isinstance(e, RememberTokenIssued)][-1]
    refresh = [e.token for e in kept if isinstance(e, RefreshTokenRotated)][-1]
    assert remember != first["spent"] and refresh != DEMO_REFRESH_TOKEN

    def after(url: str, ca: str | None, text: str) -> None:
        assert ca is not None and Path(ca).read_bytes() == first["ca"]  # a saved path still works
        # The session dumped in the first run is refused (401); the client logs in again with
        # the remember token it kept, which the restarted fake accepts (and rotates).
        renewed: list[TokenEvent] = []
        old = tastytrade_requests.Session.load(
            first["dump"], base_url=url, ca_bundle=ca, token_store=renewed.append
        )
        with old:
            assert [a.account_number for a in old.accounts()] == ["5WT00001", "5WT00002"]
        (event,) = [e for e in renewed if isinstance(e, RememberTokenIssued)]
        assert event.token != remember
        with session(url, ca) as s:
            s.login_with_remember_token(DEMO_LOGIN, event.token, remember_me=True)
            assert s.accounts()
        with session(url, ca) as s:
            s.login_with_oauth(DEMO_CLIENT_SECRET, refresh)
            assert s.accounts()
        with session(url, ca) as s, pytest.raises(TastytradeError):
            s.login_with_remember_token(DEMO_LOGIN, first["spent"])  # spent stays spent

    serve(argv, after)
    saved = json.loads((state / "tokens.json").read_text())
    assert saved["version"] == 1 and refresh not in saved["refresh-tokens"]  # rotated again
    assert DEMO_REFRESH_TOKEN in saved["refresh-tokens"]  # the printed pair always works


def test_without_state_a_restart_forgets_the_tokens(serve: Callable[..., str]) -> None:
    port = free_port()
    kept: list[TokenEvent] = []

    def before(url: str, ca: str | None, text: str) -> None:
        with session(url, ca, kept) as s:
            s.login_with_password(DEMO_LOGIN, DEMO_PASSWORD, remember_me=True)

    def after(url: str, ca: str | None, text: str) -> None:
        token = [e.token for e in kept if isinstance(e, RememberTokenIssued)][-1]
        with session(url, ca) as s, pytest.raises(TastytradeError):
            s.login_with_remember_token(DEMO_LOGIN, token)

    serve(["--port", str(port)], before)
    assert "no --state-dir" in serve(["--port", str(port)], after)


def test_a_broken_state_file_is_reported_not_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tokens.json").write_text('{"version": 99}')
    assert main(["--state-dir", str(tmp_path)], wait=pytest.fail) == 1
    assert "unknown version" in capsys.readouterr().err
    assert (tmp_path / "tokens.json").read_text() == '{"version": 99}'


def test_imported_tokens_continue_the_sequences() -> None:
    first = FakeTastytradeAPI(rotate_refresh_tokens=True)
    refresh = first.add_oauth_grant(DEMO_LOGIN)
    first.new_order_id()
    second = FakeTastytradeAPI()
    second.import_tokens(json.loads(json.dumps(first.export_tokens())))
    assert second.export_tokens()["refresh-tokens"][refresh]["login"] == DEMO_LOGIN
    assert second.new_token("x") not in first.export_tokens()["refresh-tokens"]
    assert second.new_order_id() == first.new_order_id()
    with pytest.raises(ValueError):
        second.import_tokens({"version": 1, "counter": "many"})


# -- the admin routes and commands ------------------------------------------------------------


def test_mark_and_fill_over_https_with_the_ca(
    serve: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    def check(url: str, ca: str | None, text: str) -> None:
        assert ca is not None
        where = ["--base-url", url, "--ca-bundle", ca]
        with session(url, ca) as s:
            s.login_with_oauth(DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN)
            assert main(["mark", *where, "SPY", "601.25"]) == 0
            assert "SPY mark 601.25" in capsys.readouterr().out
            (quote,) = s.market_data(equities=["SPY"])
            assert quote.mark == Decimal("601.25")

            order = NewOrder.limit(NewLeg.equity("AAPL", "Buy to Open", 3), Decimal("-100.00"))
            placed = s.place_order("5WT00001", order).order
            assert placed.status.value == "Live"  # far below the mark: it works
            assert main(["fill", *where, str(placed.id), "--quantity", "1"]) == 0
            assert f"order {placed.id} Live (AAPL 2 left)" in capsys.readouterr().out
            assert main(["fill", *where, str(placed.id), "--price", "99.5"]) == 0
            assert f"order {placed.id} Filled" in capsys.readouterr().out
            (aapl,) = [p for p in s.positions("5WT00001") if p.symbol == "AAPL"]
            assert aapl.quantity == 103

            assert main(["fill", *where, str(placed.id)]) == 1  # filled already
            assert "not working" in capsys.readouterr().err
            assert main(["fill", *where, "999999"]) == 1
            assert "not found" in capsys.readouterr().err
            assert main(["mark", "--base-url", url, "SPY", "1"]) == 1  # no CA: not trusted
            assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err

    serve(["--tls"], check)


def test_advance_moves_the_served_clock(
    serve: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    def check(url: str, ca: str | None, text: str) -> None:
        assert main(["advance", "--base-url", url, "86400"]) == 0
        assert "fake clock now " in capsys.readouterr().out

    serve([], check)


def test_the_admin_client_talks_only_to_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mark", "--base-url", "https://api.tastyworks.com", "SPY", "1"]) == 1
    assert "not the fake on this machine" in capsys.readouterr().err


def admin_request(
    path: str,
    body: Any = None,
    *,
    host: str = "127.0.0.1:8443",
    method: str = "POST",
    **headers: str,
) -> Request:
    data = json.dumps({} if body is None else body).encode()
    given = {"host": host, "content-type": "application/json", **headers}
    return Request(method, "http://127.0.0.1:8443" + path, tuple(given.items()), data)


def test_admin_routes_refuse_anyone_but_this_machine() -> None:
    api = FakeTastytradeAPI()
    mark = admin_request("/fake-admin/marks", {"symbol": "SPY", "mark": "600"})
    for peer in ("192.0.2.7", "10.0.0.1", "::ffff:192.0.2.7", "example.com", ""):
        assert admin.handle(api, mark, peer).status == 403
    rebound = admin_request("/fake-admin/marks", {"symbol": "SPY", "mark": "1"}, host="evil.test")
    assert admin.handle(api, rebound, "127.0.0.1").status == 403
    assert api.mark("SPY") == Decimal("595.00")  # none of them moved it
    for peer in ("127.0.0.1", "127.5.5.5", "::1"):
        assert admin.handle(api, mark, peer).status == 200
    assert api.mark("SPY") == Decimal("600")


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        (admin_request("/fake-admin/marks", {"symbol": "SPY"}), 400),
        (admin_request("/fake-admin/marks", {"symbol": "SPY", "mark": "-1"}), 400),
        (admin_request("/fake-admin/marks", [1]), 400),
        (admin_request("/fake-admin/marks", {"symbol": "SPY", "mark": "1"}, method="GET"), 405),
        (admin_request("/fake-admin/nothing"), 404),
        (admin_request("/fake-admin/orders/100001/fill", {"size": 1}), 400),
        (admin_request("/fake-admin/orders/100001/fill", {"quantity": "99"}), 409),
        (admin_request("/fake-admin/clock/advance", {"seconds": -1}), 400),
        (admin_request("/fake-admin/clock/advance", {"seconds": 5}), 409),  # time.time: fixed
        (admin_request("/fake-admin/marks", {}, **{"content-type": "text/plain"}), 415),
        (admin_request("/fake-admin/marks", {}, authorization="Bearer fake-access-1"), 400),
    ],
)
def test_admin_routes_refuse_what_they_cannot_do(request_: Request, status: int) -> None:
    assert admin.handle(FakeTastytradeAPI(), request_, "127.0.0.1").status == status


def test_admin_routes_are_not_api_routes() -> None:
    api = FakeTastytradeAPI(clock=FakeClock())
    request_ = admin_request(
        "/fake-admin/marks", {"symbol": "SPY", "mark": "1"}, **{"user-agent": "t/1"}
    )
    assert api.handle(request_).response.status == 404  # the API itself has no such route
    assert api.mark("SPY") == Decimal("595.00")
    advance = admin_request("/fake-admin/clock/advance", {"seconds": 60})
    before = api.clock()
    assert admin.handle(api, advance, "127.0.0.1").status == 200
    assert api.clock() == before + 60


def test_a_partial_fill_leaves_the_order_working() -> None:
    api = FakeTastytradeAPI(clock=FakeClock(1_790_000_000.0))
    order = api.fill_order(100001, quantity=1)  # the demo's live GTC MSFT order
    assert order["status"] == "Live" and order["legs"][0]["remaining-quantity"] == 9
    assert order["legs"][0]["fills"][0]["quantity"] == 1
    with pytest.raises(LookupError):
        api.fill_order(123)
    with pytest.raises(ValueError, match="not a number"):
        api.fill_order(100001, price="abc")
    assert api.fill_order(100001)["status"] == "Filled"
    with pytest.raises(ValueError, match="not working"):
        api.fill_order(100001)


def test_a_state_file_that_is_not_json_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tokens.json").write_text("[1, 2")
    assert main(["--state-dir", str(tmp_path)], wait=pytest.fail) == 1
    assert "is not JSON" in capsys.readouterr().err
    (tmp_path / "tokens.json").write_text("[1, 2]")
    assert main(["--state-dir", str(tmp_path)], wait=pytest.fail) == 1
    assert "not a saved token state" in capsys.readouterr().err


def test_a_token_the_fake_cannot_save_is_not_handed_out_silently(tmp_path: Path) -> None:
    with FakeTastytradeServer(state_dir=tmp_path) as server:
        (tmp_path / "tokens.json").unlink()
        (tmp_path / "tokens.json").mkdir()  # nothing can replace it now
        with session(server.base_url, None) as s, pytest.raises(TastytradeError) as caught:
            s.login_with_password(DEMO_LOGIN, DEMO_PASSWORD, remember_me=True)
        assert "could not save its state" in str(caught.value)
