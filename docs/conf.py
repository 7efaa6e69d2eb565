"""Sphinx: the guides (Markdown, read by MyST) and the API reference (autodoc).

Build, after ``pip install -e '.[all,docs]'`` (the reference imports every package):
``python -m sphinx -W --keep-going -b html docs <output directory>``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tastytrade_proto import __version__

if TYPE_CHECKING:
    from sphinx.application import Sphinx

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

project = "tastytrade-proto"
copyright = "tastytrade-proto contributors"
release = version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "apiref"]
exclude_patterns = ["_build", "_ext"]

# The guides link to each other's headings (``architecture.md#sends-that-must-complete``).
myst_heading_anchors = 3

# The reference (docs/reference/, one page per public module): each public name is described
# once, in its home module (docs/_ext/apiref.py). Not nitpicky: a docstring may name a private
# object, or one whose module has no page.
api_reference_modules = [
    "tastytrade_proto",
    "tastytrade_proto.protocol",
    "tastytrade_proto.protocol.flows",
    "tastytrade_proto.authentication",
    "tastytrade_proto.accounts",
    "tastytrade_proto.orders",
    "tastytrade_proto.instruments",
    "tastytrade_proto.market_data",
    "tastytrade_proto.streaming",
    "tastytrade_proto.watchlists",
    "tastytrade_proto.errors",
    "tastytrade_proto.models",
    "tastytrade_proto.values",
    "tastytrade_proto.timestamps",
    "tastytrade_proto.testing",
    "tastytrade_proto.testing.conformance",
    "tastytrade_requests",
    "tastytrade_aiohttp",
    "tastytrade_trio",
]
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
# A method that overrides one without a docstring of its own is not listed again.
autodoc_inherit_docstrings = False

html_theme = "furo"
html_title = f"tastytrade-proto {release}"


def setup(app: Sphinx) -> None:
    from pygments.lexers.special import TextLexer

    # architecture.md's state diagram is a mermaid block, which GitHub draws; here it is text.
    app.add_lexer("mermaid", TextLexer)
