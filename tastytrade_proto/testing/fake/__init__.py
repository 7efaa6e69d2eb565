"""A stateful fake of the tastytrade API: ``api`` holds the state and routing, each
other module one area of the API (accounts, instruments, market, orders, watchlists).

:class:`FakeTastytradeAPI` is a pure ``Request`` in, ``Reply`` out core;
:class:`~tastytrade_proto.testing.server.FakeTastytradeServer` serves it over HTTP.
"""

from __future__ import annotations

from .api import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    FakeAccount,
    FakeTastytradeAPI,
    FakeUser,
    Fault,
    FaultKind,
    RecordedRequest,
    Reply,
    SecondFactor,
)

__all__ = [
    "DEMO_CLIENT_SECRET",
    "DEMO_LOGIN",
    "DEMO_OTP",
    "DEMO_PASSWORD",
    "DEMO_REFRESH_TOKEN",
    "FakeAccount",
    "FakeTastytradeAPI",
    "FakeUser",
    "Fault",
    "FaultKind",
    "RecordedRequest",
    "Reply",
    "SecondFactor",
]
