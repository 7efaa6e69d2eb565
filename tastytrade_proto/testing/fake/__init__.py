"""A stateful fake of the tastytrade API: ``api`` (FakeTastytradeAPI: state, routing,
authentication), ``kit`` (what the areas share) and one module or package per area."""

from __future__ import annotations

from .account_streamer import FakeAccountStreamerConnection
from .api import (
    DEMO_CLIENT_SECRET,
    DEMO_LOGIN,
    DEMO_OTP,
    DEMO_PASSWORD,
    DEMO_REFRESH_TOKEN,
    AccountStreamFault,
    AccountStreamFaultKind,
    FakeAccount,
    FakeTastytradeAPI,
    FakeUser,
    Fault,
    FaultKind,
    OrderChange,
    RecordedMessage,
    RecordedRequest,
    Reply,
    SecondFactor,
    StreamFault,
    StreamFaultKind,
)
from .dxlink import FakeDXLinkConnection

__all__ = [
    "DEMO_CLIENT_SECRET",
    "DEMO_LOGIN",
    "DEMO_OTP",
    "DEMO_PASSWORD",
    "DEMO_REFRESH_TOKEN",
    "AccountStreamFault",
    "AccountStreamFaultKind",
    "FakeAccount",
    "FakeAccountStreamerConnection",
    "FakeDXLinkConnection",
    "FakeTastytradeAPI",
    "FakeUser",
    "Fault",
    "FaultKind",
    "OrderChange",
    "RecordedMessage",
    "RecordedRequest",
    "Reply",
    "SecondFactor",
    "StreamFault",
    "StreamFaultKind",
]
