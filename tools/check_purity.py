#!/usr/bin/env python3
"""Check that the protocol core stays sans-I/O.

Usage: python tools/check_purity.py [PACKAGE_DIR ...]   (default: tastytrade_proto)

The core builds requests and interprets responses. It must not open a socket or a
file, start a thread or a process, sleep, read the clock, draw random numbers, read
the environment, or import a library that does. The current time comes in as an
argument, waiting goes out as a step, randomness comes in as a function.

The check reads each module's syntax tree (it never imports the package) and flags:

- imports of I/O, concurrency, clock and randomness modules (``socket``, ``asyncio``,
  ``threading``, ``os``, ``random``, ``requests``, ...), and of any third-party module
  other than the core's own dependencies;
- uses (a call or a mere reference, through any import alias or ``getattr`` with a
  literal name) of the clock and sleep functions of ``time``, ``datetime.now``,
  ``date.today`` and the like, and of ``open``, ``input``, ``print``, ``sys.stdin`` and
  friends;
- indirect imports: ``__import__``, ``importlib``'s loaders, ``importlib.import_module``
  or ``sys.modules`` with a forbidden name (or with a computed name, in a module that
  spells a forbidden name anywhere), and literal source text given to ``exec``,
  ``eval`` or ``compile`` (checked like the module itself).

``exec`` as such is allowed: the core builds ``__init__`` methods and decoders from
field names with it, as ``dataclasses`` does. Source built at run time is beyond a
syntax check.

It guards against mistakes, not against deliberate obfuscation. The ``testing``
subpackage (a fake server on loopback) is exempt. Exit status 0 when clean; 1 with
one ``path:line: what`` line per violation; 2 on bad usage.
"""

from __future__ import annotations

import ast
import builtins
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def _names(text: str) -> list[str]:
    return text.split()


#: Modules the core may not import (a name, or any submodule of it), with the reason.
FORBIDDEN_MODULES: dict[str, str] = {
    **dict.fromkeys(
        _names(
            "socket ssl select selectors socketserver http.client http.server "
            "http.cookiejar urllib.request ftplib smtplib poplib imaplib telnetlib "
            "xmlrpc webbrowser requests aiohttp httpx urllib3 websockets websocket "
            "pycurl grpc h2 httpcore"
        ),
        "network I/O",
    ),
    **dict.fromkeys(
        _names(
            "asyncio trio anyio curio gevent eventlet twisted tornado threading "
            "_thread multiprocessing concurrent subprocess signal sched pty"
        ),
        "threads, processes or an event loop",
    ),
    **dict.fromkeys(
        _names("os pathlib shutil tempfile glob fileinput sqlite3 dbm shelve mmap ctypes"),
        "the environment, files or the operating system",
    ),
    **dict.fromkeys(["random", "secrets", "uuid"], "randomness or the clock"),
}

#: Names the core may not use, with what they do. A name here also covers its
#: attributes (``os.environ`` covers ``os.environ.get``).
FORBIDDEN_NAMES: dict[str, str] = {
    **{
        f"time.{name}": "reads the clock or sleeps"
        for name in _names(
            "time time_ns sleep monotonic monotonic_ns perf_counter perf_counter_ns "
            "process_time process_time_ns thread_time thread_time_ns clock_gettime "
            "clock_gettime_ns localtime gmtime ctime asctime strftime"
        )
    },
    **{
        f"datetime.{cls}.{name}": "reads the clock"
        for cls in ["datetime", "date"]
        for name in ["now", "utcnow", "today"]
    },
    "os.environ": "reads the environment",
    "os.environb": "reads the environment",
    "os.getenv": "reads the environment",
    "os.getenvb": "reads the environment",
    "os.putenv": "writes the environment",
    "os.urandom": "draws random bytes",
    "io.open": "opens a file",
    "io.open_code": "opens a file",
    "io.FileIO": "opens a file",
    "sys.stdin": "reads the terminal",
    "sys.stdout": "writes to the terminal",
    "sys.stderr": "writes to the terminal",
    "sys.argv": "reads the command line",
    "sys.exit": "ends the process",
    "builtins.open": "opens a file",
    "builtins.input": "reads the terminal",
    "builtins.print": "writes to the terminal",
    "builtins.breakpoint": "starts a debugger",
    "builtins.__import__": "imports a module by a computed name",
    "importlib.__import__": "imports a module by a computed name",
    "importlib.util": "loads modules by hand",
    "importlib.machinery": "loads modules by hand",
    "importlib.reload": "reloads a module",
}

#: Third-party modules the core may import: its runtime dependencies in
#: pyproject.toml, and typing_extensions under ``if TYPE_CHECKING:`` only.
ALLOWED_THIRD_PARTY = frozenset({"h11", "wsproto"})
TYPE_CHECKING_ONLY = frozenset({"typing_extensions"})

EXEMPT_SUBPACKAGE = "testing"
DYNAMIC_IMPORTERS = frozenset({"importlib.import_module", "sys.modules", "sys.modules.get"})
CODE_RUNNERS = frozenset({"builtins.exec", "builtins.eval", "builtins.compile"})


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def forbidden_module(name: str) -> str | None:
    """The reason ``name`` may not be imported, or None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        reason = FORBIDDEN_MODULES.get(".".join(parts[:end]))
        if reason is not None:
            return reason
    return None


def forbidden_name(qualified: str) -> tuple[str, str] | None:
    """The forbidden name ``qualified`` is or lies under, with its reason, or None."""
    parts = qualified.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        reason = FORBIDDEN_NAMES.get(prefix)
        if reason is not None:
            return prefix, reason
    return None


def is_third_party(name: str, package: str) -> bool:
    top = name.split(".")[0]
    return top != package and top not in sys.stdlib_module_names


class ModuleChecker:
    """Checks one module's syntax tree; ``package`` is the top-level package name."""

    def __init__(self, path: Path, tree: ast.Module, home: list[str]) -> None:
        self.path = path
        self.tree = tree
        #: the dotted package this module lives in (its own name, for an __init__.py)
        self.home = home
        self.package = home[0]
        self.found: list[Violation] = []
        # local name -> the qualified names it may stand for
        self.aliases: dict[str, set[str]] = {}
        self.bound: set[str] = set()
        self.type_checking_only: set[int] = set()
        self.strings = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }

    def flag(self, node: ast.AST, what: str) -> None:
        self.found.append(Violation(self.path, getattr(node, "lineno", 0), what))

    def run(self) -> list[Violation]:
        self.collect_bindings()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                self.check_import(node)
            elif isinstance(node, ast.Call):
                self.check_call(node)
            if isinstance(node, ast.Name | ast.Attribute | ast.Call | ast.Subscript):
                self.check_reference(node)
        self.found.sort(key=lambda v: v.line)
        return self.found

    def collect_bindings(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                for child in node.body:
                    self.type_checking_only.update(id(n) for n in ast.walk(child))
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases.setdefault(alias.asname, set()).add(alias.name)
                    else:
                        top = alias.name.split(".")[0]
                        self.aliases.setdefault(top, set()).add(top)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    local = alias.asname or alias.name
                    self.aliases.setdefault(local, set()).add(f"{node.module}.{alias.name}")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.bound.add(node.name)
            elif isinstance(node, ast.arg):
                self.bound.add(node.arg)
            elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                self.bound.add(node.id)

    def qualified_names(self, node: ast.AST) -> set[str]:
        """The qualified names an expression may denote (``t.sleep`` -> ``time.sleep``)."""
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            if node.id in self.bound or not hasattr(builtins, node.id):
                return set()
            return {f"builtins.{node.id}"}
        if isinstance(node, ast.Attribute):
            return {f"{base}.{node.attr}" for base in self.qualified_names(node.value)}
        if isinstance(node, ast.Call) and _literal_getattr(node):
            attr = node.args[1]
            assert isinstance(attr, ast.Constant) and isinstance(attr.value, str)
            return {f"{base}.{attr.value}" for base in self.qualified_names(node.args[0])}
        return set()

    def check_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            # A relative import: made absolute, it can only name the package's own modules.
            base = self.home[: len(self.home) - node.level + 1]
            if node.module:
                base = [*base, *node.module.split(".")]
            names = [".".join([*base, alias.name]) for alias in node.names]
        for name in names:
            self.check_module_name(node, name)
            hit = forbidden_name(name)
            if hit is not None and forbidden_module(name) is None:
                self.flag(node, f"imports {hit[0]}, which {hit[1]}")

    def check_module_name(self, node: ast.AST, name: str, how: str = "imports") -> None:
        reason = forbidden_module(name)
        if reason is not None:
            self.flag(node, f"{how} {name} ({reason})")
        elif name.split(".")[:2] == [self.package, EXEMPT_SUBPACKAGE]:
            self.flag(node, f"{how} {name}, which may do I/O")
        elif is_third_party(name, self.package):
            top = name.split(".")[0]
            if top in ALLOWED_THIRD_PARTY:
                return
            if top in TYPE_CHECKING_ONLY and id(node) in self.type_checking_only:
                return
            self.flag(node, f"{how} {name}, a third-party module the core does not depend on")

    def check_call(self, node: ast.Call) -> None:
        """``importlib.import_module(...)``, ``sys.modules.get(...)``, ``exec("...")``."""
        if not node.args:
            return
        called = self.qualified_names(node.func)
        if called & DYNAMIC_IMPORTERS:
            self.check_dynamic_name(node, node.args[0])
        source = node.args[0]
        if called & CODE_RUNNERS and isinstance(source, ast.Constant):
            if not isinstance(source.value, str):
                return
            try:
                inner = ast.parse(source.value)
            except SyntaxError:
                return
            for violation in ModuleChecker(self.path, inner, self.home).run():
                self.flag(node, f"runs code that {violation.what}")

    def check_dynamic_name(self, node: ast.AST, arg: ast.expr) -> None:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            if not arg.value.startswith("."):
                self.check_module_name(node, arg.value, how="imports dynamically")
            return
        spelled = sorted(s for s in self.strings if forbidden_module(s) is not None)
        if spelled:
            self.flag(
                node,
                f"imports a computed module name in a module that names {spelled[0]!r}",
            )

    def check_reference(self, node: ast.Name | ast.Attribute | ast.Call | ast.Subscript) -> None:
        if isinstance(node, ast.Subscript):
            if self.qualified_names(node.value) & DYNAMIC_IMPORTERS:
                self.check_dynamic_name(node, node.slice)
            return
        if isinstance(node, ast.Call) and not _literal_getattr(node):
            return
        # Report the outermost forbidden name once: skip a node inside a longer chain
        # (``os.environ`` inside ``os.environ.get``) by reporting at the shortest match.
        for name in sorted(self.qualified_names(node)):
            hit = forbidden_name(name)
            if hit is not None and hit[0] == name:
                self.flag(node, f"uses {name}, which {hit[1]}")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _literal_getattr(node: ast.Call) -> bool:
    return (
        isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    )


def package_modules(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).parts[0] != EXEMPT_SUBPACKAGE:
            yield path


def package_path(directory: Path) -> list[str]:
    """The dotted name of the package at ``directory`` (its parents' too, if packages)."""
    directory = directory.resolve()
    names = [directory.name]
    while (directory.parent / "__init__.py").is_file():
        directory = directory.parent
        names.insert(0, directory.name)
    return names


def check_file(path: Path, root: Path) -> list[Violation]:
    """Check one module of the package at ``root``."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        return [Violation(path, exc.lineno or 0, f"does not parse: {exc.msg}")]
    home = [*package_path(root), *path.relative_to(root).parent.parts]
    return ModuleChecker(path, tree, home).run()


def check_package(root: Path) -> list[Violation]:
    found: list[Violation] = []
    for path in package_modules(root):
        found.extend(check_file(path, root))
    return found


def main(argv: list[str]) -> int:
    roots = [Path(arg) for arg in argv] or [Path("tastytrade_proto")]
    for root in roots:
        if not (root / "__init__.py").is_file():
            print(f"check_purity: {root} is not a package directory", file=sys.stderr)
            return 2
    found = [violation for root in roots for violation in check_package(root)]
    for violation in found:
        print(violation)
    if found:
        print(f"check_purity: {len(found)} violation(s)", file=sys.stderr)
        return 1
    print(f"check_purity: {', '.join(map(str, roots))} is sans-I/O")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
