"""A stateful fake of the tastytrade API: ``api`` (FakeTastytradeAPI: state, routing,
authentication), ``kit`` (what the areas share) and one module or package per area."""

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
    "FakeAccount",
    "FakeDXLinkConnection",
    "FakeTastytradeAPI",
    "FakeUser",
    "Fault",
    "FaultKind",
    "RecordedMessage",
    "RecordedRequest",
    "Reply",
    "SecondFactor",
    "StreamFault",
    "StreamFaultKind",
]
