"""The package's shape: no module reaches into another's private names, no import cycles
between the API areas and the session classes, and each tier exports what it says."""

from __future__ import annotations

import ast
import importlib
import pathlib
import subprocess
import sys
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = (
    "tastytrade_proto",
    "tastytrade_requests",
    "tastytrade_aiohttp",
    "tastytrade_trio",
    "tastytrade_cli",
)
# Private *modules* of a package may be imported by that package's own modules.
# Modules private to their package but shared inside it (each transport's _websocket).
PRIVATE_MODULES = {"_args", "_redact", "_version", "_deprecation", "_websocket", "_http"}


def _modules() -> list[tuple[str, pathlib.Path]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found.append((".".join(parts), path))
    return found


def _resolve(module: str, path: pathlib.Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _private_uses(module: str, path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    problems = []
    imported_modules: dict[str, str] = {}  # local name -> module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _resolve(module, path, node)
            if not _ours(source):
                continue
            for alias in node.names:
                name = alias.name
                full = f"{source}.{name}"
                if importlib.util.find_spec(source) is not None and _is_module(full):
                    imported_modules[alias.asname or name] = full
                    if name.startswith("_") and name not in PRIVATE_MODULES:
                        problems.append(f"{module}: imports private module {full}")
                    continue
                if name.startswith("_") and not name.startswith("__"):
                    problems.append(f"{module}: imports {full}")
            if any(
                part.startswith("_") and part not in PRIVATE_MODULES for part in source.split(".")
            ):
                problems.append(f"{module}: imports from private module {source}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _ours(alias.name):
                    imported_modules[alias.asname or alias.name.split(".")[0]] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in imported_modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            problems.append(f"{module}: uses {imported_modules[node.value.id]}.{node.attr}")
    return problems


def _is_module(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except (ImportError, ValueError):
        return False


def test_no_module_reaches_into_another_modules_private_names() -> None:
    problems = [p for module, path in _modules() for p in _private_uses(module, path)]
    assert problems == []


def _imports_of(module: str, path: pathlib.Path) -> set[str]:
    """The modules of ours that ``module`` imports, at run time or for type checking."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            source = _resolve(module, path, node)
            if not _ours(source):
                continue
            for alias in node.names:
                # ``from package import module`` imports the module, not the package's names
                is_module = _is_module(f"{source}.{alias.name}")
                found.add(f"{source}.{alias.name}" if is_module else source)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if _ours(a.name))
    return found


def test_the_core_has_no_import_cycles() -> None:
    """Counting type-checking imports too: the protocol machinery never imports an area
    or the sessions, and no module of the core is in a cycle (a package's ``__init__``
    re-exporting its own modules is not a cycle)."""
    graph = {
        m: _imports_of(m, p)
        for m, p in _modules()
        if m.startswith("tastytrade_proto") and not m.startswith("tastytrade_proto.testing")
    }
    graph = {
        m: {i for i in imports if i in graph and not m.startswith(f"{i}.") and i != m}
        for m, imports in graph.items()
    }
    for module, imports in graph.items():
        # The seam's ``__init__`` is a facade re-exporting the session classes too; the
        # core's own modules import from the modules behind it.
        assert "tastytrade_proto.protocol" not in imports, f"{module} imports the facade"
        if module.startswith("tastytrade_proto.protocol."):
            beyond = {
                i
                for i in imports
                if not i.startswith("tastytrade_proto.protocol") and i not in FOUNDATION
            }
            assert beyond == set(), f"{module} imports {beyond}"
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


# What the protocol machinery may build on, besides itself.
FOUNDATION = {
    "tastytrade_proto",  # only for the package's own __init__, via relative '..' imports
    "tastytrade_proto.errors",
    "tastytrade_proto.values",
    "tastytrade_proto.timestamps",
    "tastytrade_proto._redact",
    "tastytrade_proto._version",
    "tastytrade_proto._deprecation",
}


@pytest.mark.parametrize("module", ["tastytrade_proto", "tastytrade_proto.protocol"])
def test_every_exported_name_exists_and_nothing_is_exported_twice(module: str) -> None:
    imported = importlib.import_module(module)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an exported name must not be a deprecated alias
        for name in imported.__all__:
            getattr(imported, name)
    assert len(set(imported.__all__)) == len(imported.__all__)
    assert list(imported.__all__) == sorted(imported.__all__, key=_ruff_order)


def _ruff_order(name: str) -> tuple[int, str]:
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


# -- the old names -----------------------------------------------------------------------------


def test_every_name_the_package_used_to_export_still_works_with_a_warning() -> None:
    import tastytrade_proto

    for name in tastytrade_proto._DEPRECATED:
        with pytest.warns(DeprecationWarning, match=f"tastytrade_proto.{name} is deprecated"):
            value = getattr(tastytrade_proto, name)
        assert value is not None


def test_renamed_names_are_the_new_objects() -> None:
    import tastytrade_proto
    from tastytrade_proto import protocol, sessions
    from tastytrade_proto.protocol import auth

    with pytest.warns(DeprecationWarning, match="use tastytrade_proto.protocol.AuthMachine"):
        assert tastytrade_proto.SessionMachine is protocol.AuthMachine  # type: ignore[attr-defined]
    with pytest.warns(DeprecationWarning, match="use tastytrade_proto.protocol.drive"):
        assert tastytrade_proto.drive is protocol.drive  # type: ignore[attr-defined]
    with pytest.warns(DeprecationWarning, match="use AuthMachine"):
        assert auth.SessionMachine is protocol.AuthMachine  # type: ignore[attr-defined]
    with pytest.warns(DeprecationWarning, match="use AuthState"):
        assert auth.SessionState is protocol.AuthState  # type: ignore[attr-defined]
    with pytest.warns(DeprecationWarning, match="use Operations"):
        assert sessions.SessionCalls is sessions.Operations  # type: ignore[attr-defined]
    assert protocol.AuthScheme.SESSION is protocol.AuthScheme.LEGACY
    assert protocol.AuthScheme("session") is protocol.AuthScheme.LEGACY
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        tastytrade_proto.nothing  # type: ignore[attr-defined]  # noqa: B018


def test_the_old_client_module_warns_and_still_holds_the_session_classes() -> None:
    code = (
        "import warnings; warnings.simplefilter('always'); "
        "from tastytrade_proto.client import SessionCalls, SyncSession; "
        "from tastytrade_proto.sessions import Operations; "
        "print(SessionCalls is Operations, SyncSession.__module__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["True", "tastytrade_proto.sessions"]
    assert "tastytrade_proto.client is deprecated" in result.stderr


def test_a_session_module_and_the_areas_import_in_any_order() -> None:
    """No import cycle hides behind an import order: each module imports first, alone."""
    modules = [m for m, _ in _modules() if m.startswith("tastytrade_proto")]
    modules.remove("tastytrade_proto.client")  # deprecated: warns on import
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    for module in modules:
        subprocess.run([sys.executable, "-W", "error", "-c", code, module], check=True)
