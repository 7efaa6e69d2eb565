"""The API reference's directive: ``.. api-module:: NAME`` documents one public module.

A public module's names are its ``__all__``. A name that two documented modules export (a
tier re-exporting an area's class, say) is documented once, on the page of its *home*: among
the documented modules that export that same object, the one nearest the module that defines
it (the longest whose name prefixes the defining module's), else the deepest. Every other
module exporting it lists it under "Also exported here", linking to that one description, so
no object is described twice and a cross-reference has one target.

The documented modules are the ``api_reference_modules`` setting in ``conf.py``; each needs
a page with this directive, which the build checks.

Classes, exceptions and functions go through autodoc. Module-level constants and type aliases
are written as ``py:data`` here, with their ``#:`` comment from the module that assigns them:
autodoc reads those comments only from the module being documented, which for a re-exported
constant is not the one that has them. An endpoint declared on an area's mixin
(``place_order = Endpoint(_place_order)``) is shown as the method it is on every session,
with its docstring and its signature less the ``calls`` argument.
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import re
import sys
import types
import typing
from functools import cache
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.inspect import object_description, stringify_signature
from sphinx.util.nodes import nested_parse_with_titles
from sphinx.util.typing import stringify_annotation

logger = logging.getLogger(__name__)

#: Longer values (and "<...>" reprs) are not shown beside a constant's name.
MAX_VALUE_LENGTH = 80


@cache
def exports(modname: str) -> dict[str, Any]:
    """A documented module's public names and their objects (its ``__all__``)."""
    module = importlib.import_module(modname)
    return {name: getattr(module, name) for name in getattr(module, "__all__", ())}


@cache
def assigned(modname: str) -> frozenset[str]:
    """The names a module's own source assigns at its top level."""
    try:
        tree = ast.parse(ModuleAnalyzer.for_module(modname).code)
    except PycodeError:  # no source: nothing is known to be assigned there
        return frozenset()
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return frozenset(names)


def defining_module(name: str, obj: Any) -> str | None:
    """Where ``obj`` is defined: its ``__module__``, or for a value the module assigning it."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if inspect.isclass(obj) or inspect.isroutine(obj):
        return getattr(obj, "__module__", None)
    owners = [
        modname
        for modname, module in list(sys.modules.items())
        if module is not None
        and vars(module).get(name, _NOTHING) is obj
        and name in assigned(modname)
    ]
    return max(owners, key=len, default=None)


_NOTHING = object()


def home(config_modules: list[str], name: str, obj: Any) -> str:
    """The documented module whose page describes ``obj`` (exported as ``name``)."""
    candidates = [m for m in config_modules if exports(m).get(name, _NOTHING) is obj]
    defined = defining_module(name, obj) or ""
    nearest = [m for m in candidates if defined == m or defined.startswith(m + ".")]
    return max(nearest or candidates, key=lambda m: (len(m.split(".")), -candidates.index(m)))


def constant_doc(name: str, obj: Any) -> list[str]:
    """A constant's ``#:`` comment, from the module that assigns it."""
    modname = defining_module(name, obj)
    if modname is None:
        return []
    try:
        analyzer = ModuleAnalyzer.for_module(modname)
        analyzer.analyze()
    except PycodeError:
        return []
    return list(analyzer.attr_docs.get(("", name), []))


def declared_endpoints(cls: type) -> dict[str, inspect.Signature]:
    """The endpoints a class declares itself (``name = Endpoint(build)``), with signatures.

    An endpoint's signature is its ``build`` function's, less the session argument.
    """
    endpoints = {}
    for name, value in vars(cls).items():
        build = getattr(value, "build", None)
        if callable(build) and hasattr(type(value), "__get__"):
            signature = getattr(value, "signature", None)
            if not isinstance(signature, inspect.Signature):
                full = inspect.signature(build)
                signature = full.replace(parameters=list(full.parameters.values())[1:])
            endpoints[name] = signature
    return endpoints


def describe(modname: str, name: str, obj: Any) -> list[str]:
    """The reST describing one name at its home."""
    full = f"{modname}.{name}"
    if inspect.isclass(obj):
        kind = "autoexception" if issubclass(obj, BaseException) else "autoclass"
        lines = [f".. {kind}:: {full}", "   :members:", "   :show-inheritance:"]
        if issubclass(obj, enum.Enum):
            lines.append("   :undoc-members:")
        endpoints = declared_endpoints(obj)
        if endpoints:
            lines.append(f"   :exclude-members: {', '.join(endpoints)}")
        lines.append("")
        for method, signature in endpoints.items():
            shown = stringify_signature(signature, unqualified_typehints=True)
            lines += [f"   .. automethod:: {full}.{method}{shown}", ""]
        return lines
    if inspect.isroutine(obj):
        return [f".. autofunction:: {full}", ""]
    if typing.get_origin(obj) is not None:  # a type alias: its definition
        alias = re.sub(r"~[\w.]+\.(\w+)", r"\1", stringify_annotation(obj, "smart"))
        lines = [f".. py:type:: {name}", f"   :module: {modname}", f"   :canonical: {alias}"]
    else:
        lines = [f".. py:data:: {name}", f"   :module: {modname}"]
        value = object_description(obj)
        if len(value) <= MAX_VALUE_LENGTH and "\n" not in value and not value.startswith("<"):
            lines.append(f"   :value: {value}")
    lines.append("")
    lines += [f"   {line}" if line else "" for line in constant_doc(name, obj)]
    return [*lines, ""]


class ApiModule(SphinxDirective):
    """``.. api-module:: NAME``: the module's docstring and each of its public names."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        modname = self.arguments[0]
        modules: list[str] = self.config.api_reference_modules
        if modname not in modules:
            logger.warning(
                "api-module %s is not in api_reference_modules",
                modname,
                location=self.get_location(),
            )
        pages: dict[str, str] = getattr(self.env, "api_reference_pages", {})
        pages[modname] = self.env.docname
        self.env.api_reference_pages = pages  # type: ignore[attr-defined]

        lines = [f".. automodule:: {modname}", "   :no-members:", ""]
        elsewhere, submodules = [], []
        for name, obj in exports(modname).items():
            if isinstance(obj, types.ModuleType):
                submodules.append(f":py:mod:`{obj.__name__}`")
                continue
            where = home(modules, name, obj)
            if where == modname:
                lines += describe(modname, name, obj)
            else:
                elsewhere.append(f":py:obj:`~{where}.{name}`")
        if elsewhere or submodules:
            lines += [".. rubric:: Also exported here", ""]
        if elsewhere:
            lines += ["Described in their own modules: " + ", ".join(elsewhere) + ".", ""]
        if submodules:
            lines += ["Modules: " + ", ".join(submodules) + ".", ""]
        node = nodes.container()
        nested_parse_with_titles(
            self.state, StringList(lines, source=f"<api-module {modname}>"), node
        )
        return node.children


def check_pages(app: Sphinx, env: Any) -> None:
    """Every module in ``api_reference_modules`` has its page."""
    pages = getattr(env, "api_reference_pages", {})
    for modname in app.config.api_reference_modules:
        if modname not in pages:
            logger.warning(
                "api_reference_modules: %s has no page (.. api-module:: %s)", modname, modname
            )


def purge(app: Sphinx, env: Any, docname: str) -> None:
    pages = getattr(env, "api_reference_pages", {})
    for modname in [m for m, page in pages.items() if page == docname]:
        del pages[modname]


def merge(app: Sphinx, env: Any, docnames: set[str], other: Any) -> None:
    pages = getattr(env, "api_reference_pages", {})
    pages.update(getattr(other, "api_reference_pages", {}))
    env.api_reference_pages = pages


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("api_reference_modules", [], "env", types=frozenset({list}))
    app.add_directive("api-module", ApiModule)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("env-check-consistency", check_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
