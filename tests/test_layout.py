"""The package's shape (docs/architecture.md): the lesson and the algorithm never import the
fast path, and the module a student opens for the algorithm stays short."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nst_numpy"
# The modules a student reads beside the quiz, and the algorithm built from them.
TEACHING = ["layers", "vgg", "losses", "mrf", "wasserstein", "gradcheck", "answers", "optim"]
ALGORITHM = ["terms", "objective", "loop", "pyramid", "transfer", "options", "inversion"]


def imported_modules(name):
    """Every module ``nst_numpy/<name>.py`` imports, as absolute dotted names."""
    tree = ast.parse((PACKAGE / f"{name}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "nst_numpy" if node.level else ""
            module = ".".join(filter(None, [base, node.module or ""]))
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("name", TEACHING + ALGORITHM)
def test_the_lesson_and_the_algorithm_never_import_the_fast_path(name):
    fast = sorted(m for m in imported_modules(name) if m.startswith("nst_numpy.fast"))
    assert not fast, f"nst_numpy/{name}.py imports {fast}"
    tree = ast.parse((PACKAGE / f"{name}.py").read_text())
    named = [node for node in ast.walk(tree)
             if isinstance(node, ast.Name) and node.id == "FastVGG"
             or isinstance(node, ast.Attribute) and node.attr == "FastVGG"]
    assert not named, f"nst_numpy/{name}.py uses FastVGG: a model says what it needs instead"


def test_the_algorithm_a_student_opens_is_short():
    lines = (PACKAGE / "transfer.py").read_text().count("\n")
    assert lines < 250, f"nst_numpy/transfer.py has {lines} lines"


def test_no_benchmark_ships_inside_the_package():
    assert not [p.name for p in PACKAGE.rglob("bench*.py")]
