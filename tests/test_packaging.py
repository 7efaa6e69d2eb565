"""The distributions as users get them: the sdist, the wheel built from it, and that wheel
installed alone in a fresh virtual environment.

The fresh environment gets the wheel (``pip install --no-deps``) and, through a ``.pth``
file, a directory of links to the installed distributions that the wheel's own metadata
requires (with the transports' extras), followed transitively. The project itself is not
among them, so nothing of the editable install in the test environment can answer an
import there: every module must come from the wheel, or the import fails.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "tastytrade_proto",
    "tastytrade_requests",
    "tastytrade_aiohttp",
    "tastytrade_trio",
    "tastytrade_cli",
)
MODULES = (
    "tastytrade_proto",
    "tastytrade_proto.testing",
    "tastytrade_requests",
    "tastytrade_aiohttp",
    "tastytrade_trio",
    "tastytrade_cli",
)
# What `pip install 'tastytrade-proto[requests,aiohttp,trio]'` brings: enough to import all.
EXTRAS = ("requests", "aiohttp", "trio")


def run(*args: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def shipped(name: str) -> bool:
    """Whether a package's file belongs in the distributions (sources and typing markers)."""
    return name.endswith(".py") or PurePosixPath(name).name == "py.typed"


@pytest.fixture(scope="session")
def source_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """A copy of the files a clean clone would have (plus uncommitted work), out of the repo.

    Building from the copy keeps the build's by-products (egg-info) out of the work tree and
    untracked leftovers out of the distributions.
    """
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    src = tmp_path_factory.mktemp("src")
    files = set()
    for name in filter(None, listed.split("\0")):
        origin = ROOT / name
        if origin.is_file():  # a tracked file deleted in the work tree is listed too
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes(origin.read_bytes())
            files.add(name)
    return src, files


@pytest.fixture(scope="session")
def dists(
    source_files: tuple[Path, set[str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The sdist, and the wheel that `python -m build` builds from that sdist."""
    src, _ = source_files
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--quiet", "--outdir", out, src)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


def package_files(files: set[str]) -> set[str]:
    return {f for f in files if f.split("/")[0] in PACKAGES and shipped(f)}


def test_dists_pass_twine_check(dists: tuple[Path, Path]) -> None:
    out = run(sys.executable, "-m", "twine", "check", "--strict", *dists)
    assert out.count("PASSED") == 2, out


def test_sdist_holds_the_sources_and_the_project_files(
    dists: tuple[Path, Path], source_files: tuple[Path, set[str]]
) -> None:
    sdist, _ = dists
    with tarfile.open(sdist) as tar:
        names = {PurePosixPath(*PurePosixPath(n).parts[1:]).as_posix() for n in tar.getnames()}
    assert {"README.md", "LICENSE", "pyproject.toml", "PKG-INFO"} <= names
    assert package_files(source_files[1]) <= names
    # The tests run from the repository (they read docs/, examples/, .ci/): see MANIFEST.in.
    assert not {n for n in names if n.split("/")[0] in ("tests", "bench", "docs", "examples")}


def test_wheel_holds_the_packages_and_nothing_else(
    dists: tuple[Path, Path], source_files: tuple[Path, set[str]]
) -> None:
    _, wheel = dists
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
    (info,) = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
    contents = {n for n in names if not n.startswith(info + "/")}
    assert {n.split("/")[0] for n in contents} == set(PACKAGES)  # no tests/, bench/, ...
    assert contents == package_files(source_files[1])
    assert {f"{p}/py.typed" for p in PACKAGES} <= contents
    assert f"{info}/licenses/LICENSE" in names


def requirements(metadata: str, extras: tuple[str, ...]) -> list[Requirement]:
    """The Requires-Dist entries of a metadata file that apply with any of these extras."""
    wanted = ("", *extras)
    found = []
    for line in Parser().parsestr(metadata).get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in wanted):
            found.append(req)
    return found


def link_dependencies(wheel: Path, into: Path) -> set[str]:
    """Link, into one directory, the installed distributions the wheel needs, transitively.

    Returns their names. Only those distributions' own top-level files are linked: the
    test environment's other contents (the editable install above all) stay out of reach.
    """
    with zipfile.ZipFile(wheel) as whl:
        (meta,) = [n for n in whl.namelist() if n.endswith(".dist-info/METADATA")]
        todo = requirements(whl.read(meta).decode(), EXTRAS)
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        dist = importlib.metadata.distribution(name)
        assert req.specifier.contains(dist.version, prereleases=True), (req, dist.version)
        todo.extend(requirements(dist.read_text("METADATA") or "", tuple(req.extras)))
        assert dist.files is not None, f"{name} has no RECORD"
        for top in {f.parts[0] for f in dist.files}:
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            link = into / top
            if not link.exists():
                link.symlink_to(Path(str(dist.locate_file(top))))
    assert "tastytrade-proto" not in seen
    return seen


PROBE = """
import importlib, importlib.metadata as md, json, sys
dist = md.distribution("tastytrade-proto")
print(json.dumps({
    "files": {m: importlib.import_module(m).__file__ for m in sys.argv[1:]},
    "version": dist.version,
    "metadata": str(dist.locate_file(".")),
    "entry_points": sorted([e.group, e.name, e.value] for e in dist.entry_points),
    "path": sys.path,
}))
"""


@pytest.fixture(scope="session")
def fresh_venv(
    dists: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """A new virtual environment with the wheel installed: (its python, its site-packages)."""
    _, wheel = dists
    base = tmp_path_factory.mktemp("fresh")
    venv = base / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = Path(
        run(python, "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    )
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "--disable-pip-version-check",
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        wheel,
    )
    deps = base / "deps"
    deps.mkdir()
    names = link_dependencies(wheel, deps)
    assert {"h11", "requests", "urllib3", "aiohttp", "trio"} <= names
    (site / "dependencies.pth").write_text(f"{deps}\n", encoding="utf-8")
    return python, site


def test_the_installed_wheel_imports_and_is_typed(
    fresh_venv: tuple[Path, Path], tmp_path: Path
) -> None:
    python, site = fresh_venv
    # -I: neither the working directory nor PYTHONPATH nor the user's site is on the path.
    probe = json.loads(run(python, "-I", "-c", PROBE, *MODULES, cwd=tmp_path))
    assert str(ROOT) not in probe["path"]
    files = {m: Path(f) for m, f in probe["files"].items()}
    for module, file in files.items():
        assert file.is_relative_to(site), (module, file)  # the wheel's copy, not the repo's
    for package in PACKAGES:
        assert (files[package].parent / "py.typed").is_file(), package
    # A subpackage is typed by its top-level package's marker (PEP 561).
    assert files["tastytrade_proto.testing"].is_relative_to(files["tastytrade_proto"].parent)
    assert Path(probe["metadata"]) == site
    from tastytrade_proto import __version__

    assert probe["version"] == __version__
    assert probe["entry_points"] == [
        ["console_scripts", "tastytrade", "tastytrade_cli:main"],
        ["pytest11", "tastytrade_fake", "tastytrade_proto.testing.pytest_plugin"],
    ]


def test_the_installed_command_runs(fresh_venv: tuple[Path, Path], tmp_path: Path) -> None:
    python, _ = fresh_venv
    out = run(python.parent / "tastytrade", "--help", cwd=tmp_path)
    assert "demo" in out
