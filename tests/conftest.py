"""Shared fixtures: sanitized real API bodies, read from tests/samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tastytrade_proto.protocol import Response

pytest_plugins = ["tastytrade_proto.testing.pytest_plugin"]

# Properties assert what holds for every input, not how fast it runs: on a loaded two-core CI
# machine, hypothesis's timing checks would fail tests that are correct.
settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")

SAMPLES = Path(__file__).parent / "samples"


def sample_bytes(name: str) -> bytes:
    """The raw bytes of one sample file."""
    return (SAMPLES / name).read_bytes()


def sample(name: str) -> Any:
    """One sample file, parsed as JSON."""
    return json.loads(sample_bytes(name))


def sample_response(status: int, name: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """A response carrying a sample body verbatim."""
    kind = "text/html" if name.endswith(".html") else "application/json"
    return Response(status, (("content-type", kind), *headers), sample_bytes(name))


@pytest.fixture
def now() -> float:
    """A fixed wall-clock reading: 2024-09-12T08:00:00Z, before the samples' expirations."""
    return 1_726_128_000.0
