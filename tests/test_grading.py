"""The lecturer's grading round trip with nbgrader (issue 25), by the commands of
docs/lecturers.md: ``nst-numpy course DIR --nbgrader`` writes the course, ``nbgrader
generate_assignment`` the student release, ``nbgrader autograde`` grades the submissions.

One assignment (notebook 2: gradient checks and answer checks, the quiz's transposed eq (6))
goes through nbgrader; every other notebook's nbgrader metadata is checked with nbgrader's
own validator, without running it (each nbgrader command takes several seconds to start).
"""

import csv
import json
import os
from pathlib import Path
import subprocess
import sys

import pytest

from nst_numpy import course

pytest.importorskip("nbgrader", reason="the grading test needs the grading extra (nbgrader)")

GRADED = "02_style_loss"
BIN = Path(sys.executable).parent


def run(folder, *command):
    """A command of the lecturer's, in the course folder, with the environment's scripts
    first on PATH (nbgrader runs `alembic` from there) and one BLAS thread."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done


def read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def submit(folder, student, notebook):
    path = folder / "submitted" / student / GRADED / f"{GRADED}.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(notebook), encoding="utf-8")


def answered(release, worked, replace=None):
    """The release with each exercise's stub replaced by a worked answer: the one of the
    lecturer's notebook (``worked``), or the text ``replace`` gives for that exercise."""
    notebook = json.loads(json.dumps(release))
    answers = {name: course.solution_regions(course.source(worked["cells"][index]))[0]
               for name, index, _, _ in course.exercises(worked)}
    answers.update(replace or {})
    for name, index, _, _ in course.exercises(notebook):
        cell = notebook["cells"][index]
        text = course.source(cell)
        assert course.STUB in text, text
        cell["source"] = text.replace(course.STUB, answers[name]).splitlines(keepends=True)
    return notebook


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The course folder after the lecturer's commands, with three students' submissions of
    notebook 2 graded: one complete, one untouched, one with the quiz's eq (6) as printed."""
    folder = tmp_path_factory.mktemp("course")
    run(folder, str(BIN / "nst-numpy"), "course", ".", "--nbgrader")
    run(folder, str(BIN / "nbgrader"), "generate_assignment", GRADED)
    release = read(folder / "release" / GRADED / f"{GRADED}.ipynb")
    worked = read(course.notebook_dir() / f"{GRADED}.ipynb")
    printed_eq6 = '''def style_layer_grad(F, A):
    N, M = F.shape
    return F.T @ (losses.gram_matrix(F) - A) / (N**2 * M**2)      # eq (6) as printed'''
    submit(folder, "complete", answered(release, worked))
    submit(folder, "untouched", release)
    submit(folder, "printed_eq6", answered(release, worked, {"style_layer_grad": printed_eq6}))
    run(folder, str(BIN / "nbgrader"), "autograde", GRADED)
    run(folder, str(BIN / "nbgrader"), "export")
    return folder, release


def scores(folder):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as gradebook:
        return {student: (gradebook.find_submission(GRADED, student).score,
                          gradebook.find_submission(GRADED, student).max_score)
                for student in ("complete", "untouched", "printed_eq6")}


def test_nbgrader_release_is_the_student_copy(graded):
    """generate_assignment writes what `nst-numpy course` writes: no solution cell, each
    worked answer replaced by the stub, no output."""
    _, release = graded
    student = course.student_copy(read(course.notebook_dir() / f"{GRADED}.ipynb"))
    assert [course.source(c) for c in release["cells"]] == \
        [course.source(c) for c in student["cells"]]
    assert all(not c.get("outputs") for c in release["cells"] if c["cell_type"] == "code")


def test_autograde_gives_full_marks_zero_and_what_is_right(graded):
    folder, _ = graded
    worth = sum(points for *_, points in course.exercises(
        read(course.notebook_dir() / f"{GRADED}.ipynb")))
    got = scores(folder)
    assert got["complete"] == (worth, worth), got
    assert got["untouched"] == (0, worth), got
    # eq (6) as printed has the transposed shape: that exercise fails (without stopping the
    # notebook), the other four score
    points = {name: p for name, *_, p in course.exercises(read(course.notebook_dir() /
                                                                f"{GRADED}.ipynb"))}
    assert got["printed_eq6"] == (worth - points["style_layer_grad"], worth), got
    autograded = read(folder / "autograded" / "printed_eq6" / GRADED / f"{GRADED}.ipynb")
    outputs = [o for c in autograded["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any("gradient check FAILED: the analytic gradient has shape (6, 4), x has shape (4, 6)"
               in "".join(o.get("text", "")) for o in outputs)
    # nbgrader export's grades.csv, the lecturer's table, holds the same scores
    with open(folder / "grades.csv", newline="", encoding="utf-8") as table:
        exported = {row["student_id"]: (float(row["score"]), float(row["max_score"]))
                    for row in csv.DictReader(table) if row["assignment"] == GRADED}
    assert exported == got, (exported, got)


@pytest.mark.parametrize("path", course.notebook_paths(), ids=lambda p: p.name)
def test_every_notebook_is_an_nbgrader_assignment(path):
    """Every exercise an autograded answer cell and its check a grade cell worth its points,
    valid by nbgrader's own schema; the config drops the solution cells before nbgrader."""
    from nbformat import reads
    from nbgrader.nbgraderformat import MetadataValidator

    source = course.nbgrader_copy(read(path))
    MetadataValidator().validate_nb(reads(json.dumps(source), as_version=4))
    meta = [c["metadata"].get("nbgrader") for c in source["cells"]]
    for name, exercise, check, points in course.exercises(source):
        assert meta[exercise]["solution"] and not meta[exercise]["grade"], name
        assert meta[check]["grade"] and meta[check]["points"] == points and meta[check]["locked"]
    graded_cells = [m for m in meta if m and m["grade"]]
    assert len(graded_cells) == len(course.exercises(source))
    dropped = course.nbgrader_preprocessor()(reads(json.dumps(source), as_version=4), {})[0]
    assert [c.source for c in dropped.cells] == [course.source(c) for c in source["cells"]
                                                if "solution" not in course.tags(c)]
