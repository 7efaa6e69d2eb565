"""The repository stands alone: no tracked file sends a reader to files outside it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Spelled in pieces so that this file does not match itself.
OUTSIDE = [
    "../" + "shared",
    "shared/" + "tastytrade-api.md",
    "shared/" + "tools",
    "shared/" + "api-samples",
]


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [name for name in listing.split("\0") if name]


def test_no_tracked_file_refers_outside_the_repository() -> None:
    offenders = []
    for name in tracked_files():
        if name.startswith(".ci/"):
            continue
        path = ROOT / name
        if not path.is_file():  # deleted in the work tree, not yet in the index
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            offenders += [f"{name}:{number}: {ref}" for ref in OUTSIDE if ref in line]
    assert offenders == []


def test_ci_runs_the_repository_s_own_purity_check() -> None:
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ".venv/bin/python tools/check_purity.py tastytrade_proto" in run
    assert not any(ref in run for ref in OUTSIDE)
