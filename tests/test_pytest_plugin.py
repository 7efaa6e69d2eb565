"""The pytest plugin's fixtures, used the way a user's test suite would use them."""

from __future__ import annotations

from tastytrade_proto.protocol import AuthMachine, decode_envelope, drive, flows
from tastytrade_proto.testing import DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN, Fault, FaultKind
from tastytrade_proto.testing.pytest_plugin import FakeTastytrade

from .transport import HTTPClientTransport


def test_the_fixture_is_a_running_server(tastytrade_fake: FakeTastytrade) -> None:
    assert tastytrade_fake.base_url.startswith("http://127.0.0.1:")
    http = HTTPClientTransport(tastytrade_fake.base_url)
    clock = tastytrade_fake.clock
    machine = AuthMachine(environment=tastytrade_fake.environment)
    drive(
        flows.login_with_oauth(machine, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN),
        http.send,
        clock=clock,
        sleep=clock.sleep,
    )
    tastytrade_fake.api.inject(Fault(FaultKind.RATE_LIMITED, retry_after="1"))
    positions = drive(
        flows.call(
            machine, machine.config.request("GET", "/accounts/5WT00001/positions"), decode_envelope
        ),
        http.send,
        clock=clock,
        sleep=clock.sleep,
    )
    assert positions.items and clock.sleeps == [1.0]
    # The fake's clock is the fixture's: moving it expires tokens on the server.
    clock.advance(3600)
    assert tastytrade_fake.api.count("GET", "/accounts/5WT00001/positions") == 2
    http.close()


def test_the_tls_fixture(tastytrade_fake_tls: FakeTastytrade) -> None:
    assert tastytrade_fake_tls.base_url.startswith("https://")
    http = HTTPClientTransport(
        tastytrade_fake_tls.base_url, context=tastytrade_fake_tls.client_ssl_context()
    )
    machine = AuthMachine(environment=tastytrade_fake_tls.environment)
    clock = tastytrade_fake_tls.clock
    drive(
        flows.login_with_oauth(machine, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN),
        http.send,
        clock=clock,
        sleep=clock.sleep,
    )
    http.close()


def test_the_plugin_is_an_entry_point() -> None:
    from importlib.metadata import entry_points

    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "tastytrade_fake"]
    assert plugin.value == "tastytrade_proto.testing.pytest_plugin"
