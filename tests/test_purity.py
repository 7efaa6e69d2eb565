"""tools/check_purity.py: the core is sans-I/O, and the check catches what it should."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "check_purity.py"


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_purity", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks the module up while it builds
    spec.loader.exec_module(module)
    return module


check_purity = _load_tool()


def run_tool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def make_package(tmp_path: Path, source: str, *, name: str = "bad.py") -> Path:
    package = tmp_path / "corepkg"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / name).parent.mkdir(parents=True, exist_ok=True)
    (package / name).write_text(textwrap.dedent(source), encoding="utf-8")
    return package


def violations(tmp_path: Path, source: str) -> list[str]:
    return [str(v) for v in check_purity.check_package(make_package(tmp_path, source))]


def test_the_core_is_sans_io() -> None:
    result = run_tool("tastytrade_proto")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is sans-I/O" in result.stdout


def test_the_default_package_is_the_core() -> None:
    assert run_tool().returncode == 0


BAD = {
    "import socket": "imports socket (network I/O)",
    "import ssl": "imports ssl",
    "import http.client": "imports http.client",
    "from urllib import request": "imports urllib.request",
    "import requests": "imports requests",
    "import aiohttp": "imports aiohttp",
    "import httpx as h": "imports httpx",
    "from urllib3.util import Retry": "imports urllib3.util.Retry",
    "import somehttplib": "imports somehttplib, a third-party module",
    "import threading": "imports threading",
    "from threading import Thread": "imports threading.Thread",
    "from concurrent.futures import ThreadPoolExecutor": "imports concurrent.futures",
    "import subprocess": "imports subprocess",
    "import asyncio\nasyncio.sleep(1)": "imports asyncio",
    "import trio": "imports trio",
    "import random": "imports random",
    "from random import Random": "imports random.Random",
    "import secrets": "imports secrets",
    "import uuid": "imports uuid",
    "import os": "imports os",
    "import os\nos.environ['HOME']": "uses os.environ, which reads the environment",
    "import os\nos.environ.get('HOME')": "uses os.environ, which reads the environment",
    "import os\nos.getenv('HOME')": "uses os.getenv, which reads the environment",
    "from os import environ": "imports os.environ",
    "from pathlib import Path": "imports pathlib.Path",
    "import time\ntime.time()": "uses time.time, which reads the clock",
    "import time\ntime.monotonic()": "uses time.monotonic, which reads the clock",
    "import time\ntime.sleep(1)": "uses time.sleep",
    "import time as t\nt.perf_counter()": "uses time.perf_counter",
    "import time\nclock = time.monotonic": "uses time.monotonic",
    "import time\ngetattr(time, 'sleep')(1)": "uses time.sleep",
    "from time import time": "imports time.time, which reads the clock",
    "from time import monotonic as m\nm()": "uses time.monotonic",
    "import datetime\ndatetime.datetime.now()": "uses datetime.datetime.now",
    "import datetime as dt\ndt.datetime.utcnow()": "uses datetime.datetime.utcnow",
    "from datetime import datetime\ndatetime.now()": "uses datetime.datetime.now",
    "from datetime import datetime as D\nD.today()": "uses datetime.datetime.today",
    "from datetime import date\ndate.today()": "uses datetime.date.today",
    "import datetime\ndatetime.date.today()": "uses datetime.date.today",
    "open('f')": "uses builtins.open, which opens a file",
    "import builtins\nbuiltins.open('f')": "uses builtins.open",
    "import io\nio.open('f')": "uses io.open",
    "print('x')": "uses builtins.print",
    "input()": "uses builtins.input",
    "import sys\nsys.stdout.write('x')": "uses sys.stdout",
    "import sys\nsys.argv": "uses sys.argv",
    "__import__('socket')": "uses builtins.__import__",
    "import importlib\nimportlib.import_module('socket')": "imports dynamically socket",
    "import importlib\nimportlib.import_module('requests.adapters')": (
        "imports dynamically requests.adapters"
    ),
    "from importlib import import_module as im\nim('threading')": "imports dynamically threading",
    "import importlib\nname = 'soc' + 'ket'\nimportlib.import_module(name)\nx = 'socket'": (
        "imports a computed module name in a module that names 'socket'"
    ),
    "import importlib.util": "imports importlib.util",
    "import sys\nsys.modules['socket']": "imports dynamically socket",
    "exec('import socket')": "runs code that imports socket",
    "eval(\"__import__('os')\")": "runs code that uses builtins.__import__",
    "def f():\n    import socket": "imports socket",
    "from . import testing": "imports corepkg.testing, which may do I/O",
    "from .testing.server import Server": "imports corepkg.testing.server.Server",
    "import corepkg.testing": "imports corepkg.testing",
    "if True:\n    from typing_extensions import Self": "imports typing_extensions",
}


@pytest.mark.parametrize(("source", "expected"), list(BAD.items()))
def test_each_forbidden_thing_is_caught(tmp_path: Path, source: str, expected: str) -> None:
    found = violations(tmp_path, source)
    assert any(expected in line for line in found), found
    last_line = source.count("\n") + 1
    for line in found:
        path, lineno, what = line.split(":", 2)
        assert Path(path).name == "bad.py"
        assert 1 <= int(lineno) <= last_line
        assert what.startswith(" ")


GOOD = [
    "from __future__ import annotations",
    "import datetime\nfrom datetime import date, datetime as DT, timedelta, timezone",
    "from datetime import datetime\ndef f(now: datetime) -> datetime:\n    return now",
    "from datetime import datetime\ndatetime.fromisoformat('2026-01-01T00:00:00')",
    "import time\ntime.strptime('2026', '%Y')",
    "import json, re, decimal, hashlib, base64, math\nfrom urllib.parse import urlencode",
    "import logging\nlog = logging.getLogger(__name__)",
    "import h11",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from typing_extensions import Self",
    "from . import sibling\nfrom .sub import thing",
    "import importlib\nimportlib.import_module('.sibling', __name__)",
    "import importlib\ndef get(name):\n    return importlib.import_module(f'.{name}', __name__)",
    "import sys\nsys.modules['dataclasses'].MISSING",
    "env = {}\nexec('def f(x):\\n    return x', env)",
    "def build(lines):\n    env = {}\n    exec('\\n'.join(lines), env)",
    "def f(open, print):\n    return open(print)",
    "class Clock:\n    def now(self): ...\nClock().now()",
    "import io\nio.StringIO('x')",
]


@pytest.mark.parametrize("source", GOOD)
def test_pure_code_passes(tmp_path: Path, source: str) -> None:
    assert violations(tmp_path, source) == []


def test_the_testing_subpackage_is_exempt(tmp_path: Path) -> None:
    make_package(tmp_path, "import socket\nimport threading\n", name="testing/server.py")
    package = make_package(tmp_path, "", name="testing/__init__.py")
    assert check_purity.check_package(package) == []


def test_the_command_lists_each_violation_and_fails(tmp_path: Path) -> None:
    package = make_package(tmp_path, "import socket\n\nimport time\ntime.sleep(1)\n")
    result = run_tool(package)
    assert result.returncode == 1
    bad = package / "bad.py"
    assert result.stdout.splitlines() == [
        f"{bad}:1: imports socket (network I/O)",
        f"{bad}:4: uses time.sleep, which reads the clock or sleeps",
    ]
    assert "2 violation(s)" in result.stderr


def test_a_module_that_does_not_parse_is_a_violation(tmp_path: Path) -> None:
    assert violations(tmp_path, "def (:\n") == [
        f"{tmp_path / 'corepkg' / 'bad.py'}:1: does not parse: invalid syntax"
    ]


def test_a_directory_that_is_not_a_package_is_refused(tmp_path: Path) -> None:
    result = run_tool(tmp_path)
    assert result.returncode == 2
    assert "not a package directory" in result.stderr


def test_the_allowed_third_party_modules_are_the_core_dependencies() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {
        dep.split(">")[0].split("=")[0].split("<")[0].strip() for dep in project["dependencies"]
    }
    assert names == set(check_purity.ALLOWED_THIRD_PARTY)
