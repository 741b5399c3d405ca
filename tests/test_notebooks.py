"""Run every notebook in ``notebooks/`` top to bottom, as CI does (issue 5).

Image size comes from ``NST_NOTEBOOK_SIZE`` (pixels of the longer side); unset, the
notebooks pick their small CI default. The full-size run is documented in
``notebooks/README.md``. Each notebook also runs once with its solution cells stripped, to
show that the student version runs and that its gradient checks really report a failure.
"""

import json
from pathlib import Path
import sys

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need the dev extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need the dev extra (nbclient)")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
# A kernel takes a few seconds to start; the longest notebook (Q12) runs two style transfers.
TIMEOUT_SECONDS = 900

sys.path.insert(0, str(NOTEBOOK_DIR))
from strip_solutions import strip_solutions  # noqa: E402


def execute(notebook):
    client = nbclient.NotebookClient(
        notebook, timeout=TIMEOUT_SECONDS, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()
    return notebook


def text_output(cell):
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3, f"expected the coursework notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_has_no_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    with_outputs = [i for i, cell in enumerate(notebook["cells"])
                    if cell["cell_type"] == "code" and (cell["outputs"] or cell["execution_count"])]
    assert not with_outputs, (
        f"{path.name}: cells {with_outputs} carry outputs; strip them before committing "
        "(see notebooks/README.md)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    execute(notebook)


EXERCISE_NOTEBOOKS = [
    p for p in NOTEBOOKS
    if any("exercise" in tags(c) for c in json.loads(p.read_text(encoding="utf-8"))["cells"])]


@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=lambda p: p.name)
def test_student_version_runs_and_its_checks_fail(path):
    """Without solutions, the gradient check after every exercise reports FAILED."""
    stripped = strip_solutions(json.loads(path.read_text(encoding="utf-8")))
    notebook = nbformat.reads(json.dumps(stripped), as_version=4)
    assert not any("solution" in tags(c) for c in notebook.cells)
    execute(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    checks = [after for cell, after in zip(code, code[1:]) if "exercise" in tags(cell)]
    assert checks, f"{path.name}: no exercise cells"
    for check in checks:
        assert "gradient check FAILED" in text_output(check), (
            f"{path.name}: the check after an exercise placeholder did not report a failure:\n"
            f"{check.source}\n-> {text_output(check)!r}")
