"""The transport conformance kit, run against our three transports and the documented one."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from tastytrade_proto import TransportError
from tastytrade_proto.testing.conformance import (
    CHECKS,
    ConformanceKit,
    ConformanceReport,
    check,
    detect_runner,
)

from .harness import TRANSPORTS

# Checks a transport of ours is known to fail (none: keep it so, or say why here).
KNOWN: dict[tuple[str, str], str] = {}


def cases() -> list[Any]:
    params = []
    for kind in TRANSPORTS:
        for name in CHECKS:
            reason = KNOWN.get((kind, name))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            params.append(pytest.param(kind, name, marks=marks, id=f"{kind}-{name}"))
    return params


@pytest.mark.parametrize(("kind", "name"), cases())
def test_our_transports_conform(
    tastytrade_conformance: ConformanceKit, kind: str, name: str
) -> None:
    session = importlib.import_module(f"tastytrade_{kind}").Session
    report = tastytrade_conformance.check(session, only=[name])
    assert [r.outcome for r in report.results] in (["passed"], ["skipped"])
    if kind == "requests" and name == "cancellation_mid_request":
        assert report.results[0].outcome == "skipped"


def test_runners_are_detected() -> None:
    import functools

    import tastytrade_aiohttp
    import tastytrade_requests
    import tastytrade_trio

    assert detect_runner(tastytrade_requests.Session) == "sync"
    assert detect_runner(tastytrade_aiohttp.Session) == "asyncio"
    assert detect_runner(functools.partial(tastytrade_trio.Session, timeout=5)) == "trio"
    with pytest.raises(TypeError, match="runner="):
        detect_runner(lambda **settings: tastytrade_requests.Session(**settings))


DOC = (Path(__file__).resolve().parent.parent / "docs" / "custom-transport.md").read_text("utf-8")
#: What the documented http.client transport leaves out, as its doc says.
DOC_SKIPS = {
    "through_a_connect_proxy": "the documented transport takes no proxy",
    "timeout_is_a_whole_request_deadline": "http.client's timeout bounds each read",
}


def documented_transport() -> Any:
    namespace: dict[str, Any] = {}
    source = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)[0]
    exec(compile(source, "docs/custom-transport.md", "exec"), namespace)
    return namespace["HTTPClientSession"]


def test_the_documented_transport_conforms(tastytrade_conformance: ConformanceKit) -> None:
    report = tastytrade_conformance.check(documented_transport(), skip=DOC_SKIPS)
    skipped = {r.name for r in report.results if r.outcome == "skipped"}
    streaming = {n for n in CHECKS if "websocket" in n or n.endswith("_stream")}
    assert skipped == {*DOC_SKIPS, "cancellation_mid_request", *streaming}


def test_a_transport_that_resends_a_post_fails() -> None:
    base = documented_transport()

    class Resending(base):  # type: ignore[misc, valid-type]
        """Sends a request again when its connection broke: an order twice."""

        def send(self, request: Any) -> Any:
            try:
                return super().send(request)
            except TransportError:
                return super().send(request)

    only = ["orders_never_resent_after_a_cut", "place_order"]
    with pytest.raises(AssertionError) as info:
        check(Resending, only=only)
    message = str(info.value)
    assert "1 transport conformance check(s) failed" in message
    assert "orders_never_resent_after_a_cut: expected POST /accounts/5WT00001/orders" in message
    report = ConformanceKit().run(Resending, only=only)
    assert isinstance(report, ConformanceReport) and not report.passed
    assert report.result("place_order").outcome == "passed"
    failed = report.result("orders_never_resent_after_a_cut")
    assert failed.outcome == "failed" and "sent once per cut (2); saw 4" in failed.detail


def test_unknown_checks_are_refused() -> None:
    with pytest.raises(ValueError, match="no such check: nope"):
        ConformanceKit().run(documented_transport(), only=["nope"])
