"""Sphinx configuration for the nst_numpy docs: annotated source, quiz solutions, notebooks, API.

Build (offline, failing on any warning):

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import importlib.metadata
from pathlib import Path
import sys

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # document the checkout, installed or not

project = "nst_numpy"
author = "the nst_numpy authors"
copyright = "the nst_numpy authors, MIT license"
import nst_numpy  # noqa: E402

release = nst_numpy.__version__

extensions = [
    "myst_nb",                  # Markdown (MyST) pages and executed notebooks
    "sphinx.ext.autodoc",       # API reference from docstrings
    "sphinx.ext.autosummary",   # ... one page per module, found by walking the package
    "sphinx.ext.napoleon",      # ... numpy-style Parameters / Returns sections
    "sphinx.ext.mathjax",       # math, with MathJax served from _static (below), not a CDN
    "sphinx_design",            # the two-column grids of the annotated source
]

exclude_patterns = ["_build", "README.md", "notebooks/README.md", "**/.ipynb_checkpoints"]

# --- MyST -------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# --- Notebooks: always executed, at the notebooks' small default size --------------------
# notebooks/ is linked into the docs as docs/notebooks. With NST_NOTEBOOK_SIZE unset they
# run at their small CI size (notebooks/README.md); a failing cell fails the build.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 600
nb_execution_show_tb = True
nb_merge_streams = True

# --- API reference ----------------------------------------------------------------------
autosummary_generate = True
autodoc_member_order = "bysource"
# Each object on the page of the module that defines it, not again where it is re-exported.
autodoc_default_options = {"members": True, "undoc-members": False, "ignore-module-all": True}
napoleon_google_docstring = False
autodoc_typehints = "none"

# --- Math, offline ----------------------------------------------------------------------
# MathJax 3 (Apache-2.0) comes from the PyPI package sphinx-mathjax-offline; only its
# single-file SVG build is copied, so pages render math with no network and no font files.
def _mathjax_file():
    try:
        files = importlib.metadata.files("sphinx-mathjax-offline") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == "tex-svg.js":
            return str(f.locate())
    raise RuntimeError(
        "docs: MathJax not found; install the docs dependencies with pip install -e \".[dev]\"")


mathjax_path = "tex-svg.js"

# --- HTML -------------------------------------------------------------------------------
# sphinx-book-theme (BSD-3-Clause), the theme of Jupyter Book, on pydata-sphinx-theme: the
# navigation folds behind a button below 992 px instead of filling the screen (below 1440 px
# on the annotated source, _static/fold_navigation.js; the outline on the right below
# 1536 px, _static/annotated.css), and each notebook page has download buttons that give its
# .ipynb (from _sources/, copied by the build). Its icons and fonts are files in _static;
# nothing is fetched from the network.
html_theme = "sphinx_book_theme"
html_theme_options = {
    "use_download_button": True,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "navbar_persistent": [],     # no top bar: the search box is in the sidebar
    # The annotated source needs the width for its two columns, and the index its picture:
    # no page outline on the right there (named one by one, as a page may match one pattern).
    "secondary_sidebar_items": {"**": ["page-toc"], "index": [],
                                **{f"annotated/{page.stem}": []
                                   for page in sorted((DOCS / "annotated").glob("*.md"))}},
    # A notebook page names its .ipynb in a labelled download link (docs/_templates).
    "article_header_end": ["download-notebook", "article-header-buttons"],
    "navigation_with_keys": False,
    "article_footer_items": [],
    "content_footer_items": [],
    "footer_content_items": ["copyright"],  # once, under the text (not also the authors)
    "footer_start": [],
    "footer_end": [],
}
templates_path = ["_templates"]
html_static_path = ["_static", _mathjax_file()]
html_css_files = ["annotated.css"]
html_js_files = ["fold_navigation.js"]
html_title = "nst_numpy"
html_copy_source = True          # the download buttons serve the pages' sources
html_show_sourcelink = False

# --- Pages that other work adds -----------------------------------------------------------
# docs/benchmarks.md is written with the fast convolution; the index lists it once it exists.
def _list_benchmarks(app, docname, source):
    if docname == "index" and (DOCS / "benchmarks.md").exists():
        source[0] += "\n```{toctree}\n:maxdepth: 1\n:caption: Performance\n:hidden:\n\nbenchmarks\n```\n"


def setup(app):
    app.connect("source-read", _list_benchmarks)
