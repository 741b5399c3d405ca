"""The coursework, from the installed package: the lecturer's notebooks, the student release
(every answer removed), and an nbgrader course that grades it.

The notebooks (``notebooks/`` in the repository, ``nst_numpy/notebooks/`` in the wheel) are
the lecturer's version. Three kinds of cell make an exercise:

- the **exercise** cell (tag ``exercise``): a placeholder that the student replaces, then the
  worked answer between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers);
- the **check** cell, the next code cell: it prints ``gradient check ok/FAILED`` or
  ``answer check ok/FAILED`` (the student's own feedback) and ends with
  ``answers.score(checks, points=N)``, the points earned (what nbgrader's autograder reads);
- **solution** cells (tag ``solution``): the derivation, and everything else that states or
  prints an answer (a table of measurements, a summary).

The student release drops the solution cells, replaces each solution region by :data:`STUB`
and clears every output. The nbgrader course marks the exercise cells as answer cells and the
checks as grade cells worth their points; nbgrader's ``generate_assignment`` then writes the
same release (:func:`nbgrader_config` says how).
"""

import ast
import copy
import json
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
# What a cleared solution region becomes, in the student release and in nbgrader's.
STUB = "# YOUR ANSWER: replace the placeholder above"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


def notebook_dir():
    """The folder of the lecturer's notebooks: inside the installed package, or the
    repository's ``notebooks/`` for an editable install."""
    here = Path(__file__).resolve().parent
    for folder in (here / "notebooks", here.parent / "notebooks"):
        if any(folder.glob(NOTEBOOK_GLOB)):
            return folder
    raise FileNotFoundError(f"the course's notebooks are in neither {here / 'notebooks'} nor "
                            f"{here.parent / 'notebooks'}; reinstall nst-numpy")


def notebook_paths():
    """The lecturer's notebooks, in order."""
    return sorted(notebook_dir().glob(NOTEBOOK_GLOB))


def q12_pictures():
    """The gallery's question-12 pair at 512 px, which notebook 6 measures.

    Returns
    -------
    dict
        ``{3: path, 5: path}``, the turtle in the Great Wave's style with the first 3 and the
        first 5 style layers (made by ``docs/make_gallery.py``), and ``"commands"``:
        ``{3: command, 5: command}``, the ``nst-numpy stylize`` lines that made them.
    """
    here = Path(__file__).resolve().parent
    for folder, record in ((here / "data", here / "data" / "q12_record.json"),
                           (here.parent / "docs" / "_static" / "gallery",
                            here.parent / "docs" / "_static" / "gallery" / "record.json")):
        paths = {n: folder / f"q12_{n}.jpg" for n in (3, 5)}
        if all(p.exists() for p in paths.values()) and record.exists():
            commands = json.loads(record.read_text(encoding="utf-8"))
            return {**paths, "commands": {n: commands[f"q12_{n}"]["command"] for n in (3, 5)}}
    raise FileNotFoundError("the question-12 pictures q12_3.jpg and q12_5.jpg are not in the "
                            f"package ({here / 'data'}); reinstall nst-numpy")


# ---------------------------------------------------------------------------
# Reading a notebook's exercises
# ---------------------------------------------------------------------------

def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def source(cell):
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def _set_source(cell, text):
    cell["source"] = text.splitlines(keepends=True)


def solution_regions(text):
    """The lines of ``text`` between the markers, one string per region (markers excluded);
    ValueError for a marker without its partner."""
    regions, inside = [], None
    for line in text.split("\n"):
        if BEGIN in line:
            if inside is not None:
                raise ValueError(f"a second {BEGIN!r} before {END!r}")
            inside = []
        elif END in line:
            if inside is None:
                raise ValueError(f"{END!r} without {BEGIN!r}")
            regions.append("\n".join(inside))
            inside = None
        elif inside is not None:
            inside.append(line)
    if inside is not None:
        raise ValueError(f"{BEGIN!r} without {END!r}")
    return regions


def clear_solution_regions(text, stub=STUB):
    """``text`` with each solution region, markers included, replaced by ``stub``, indented
    like its ``BEGIN`` line (what nbgrader's ClearSolutions does)."""
    solution_regions(text)    # the markers pair up
    lines, inside = [], False
    for line in text.split("\n"):
        if BEGIN in line:
            inside = True
            indent = line[:len(line) - len(line.lstrip())]
            lines.extend(indent + stub_line for stub_line in stub.split("\n"))
        elif END in line:
            inside = False
        elif not inside:
            lines.append(line)
    return "\n".join(lines)


def without_markers(text):
    """``text`` with the marker lines removed: the worked answer, as a student who found it
    would have typed it below the placeholder."""
    return "\n".join(line for line in text.split("\n") if BEGIN not in line and END not in line)


def points(check_source):
    """N of the check cell's last statement, ``answers.score(..., points=N)``; ValueError if
    the cell does not end with such a call."""
    body = ast.parse(check_source).body
    last = body[-1] if body else None
    call = last.value if isinstance(last, ast.Expr) else None
    name = getattr(getattr(call, "func", None), "attr", getattr(getattr(call, "func", None),
                                                                   "id", None))
    keyword = next((k for k in getattr(call, "keywords", []) if k.arg == "points"), None)
    if name != "score" or keyword is None or not isinstance(keyword.value, ast.Constant) \
            or not isinstance(keyword.value.value, (int, float)) or keyword.value.value <= 0:
        raise ValueError("a check cell must end with answers.score(checks, points=N), N > 0 "
                         f"a number; this one ends with:\n{check_source.splitlines()[-1:]}")
    return keyword.value.value


def exercise_name(exercise_source):
    """What the exercise defines: the first function, class or variable of its placeholder."""
    for node in ast.parse(clear_solution_regions(exercise_source)).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            return node.name
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            return node.targets[0].id
    raise ValueError(f"an exercise cell defines nothing:\n{exercise_source}")


def exercises(notebook):
    """``[(name, exercise cell index, check cell index, points)]`` of a parsed notebook, in
    order; ValueError for an exercise without a check cell after it."""
    cells, found = notebook["cells"], []
    for index, cell in enumerate(cells):
        if "exercise" not in tags(cell):
            continue
        after = next((i for i in range(index + 1, len(cells)) if cells[i]["cell_type"] == "code"),
                     None)
        if after is None or tags(cells[after]):
            raise ValueError(f"exercise {exercise_name(source(cell))!r} has no check cell after "
                             "it (an untagged code cell)")
        found.append((exercise_name(source(cell)), index, after, points(source(cells[after]))))
    return found


# ---------------------------------------------------------------------------
# The three versions
# ---------------------------------------------------------------------------

def _cleared(cell):
    cell = copy.deepcopy(cell)
    if cell["cell_type"] == "code":
        cell["outputs"], cell["execution_count"] = [], None
    return cell


def lecturer_copy(notebook):
    """The lecturer's notebook as shipped: every output cleared."""
    return {**notebook, "cells": [_cleared(cell) for cell in notebook["cells"]]}


def student_copy(notebook):
    """The student release of a parsed notebook: no solution cell, each solution region of
    an exercise replaced by :data:`STUB`, every output cleared."""
    cells = []
    for cell in notebook["cells"]:
        if "solution" in tags(cell):
            continue
        cell = _cleared(cell)
        if "exercise" in tags(cell):
            _set_source(cell, clear_solution_regions(source(cell)))
        cells.append(cell)
    return {**notebook, "cells": cells}


def nbgrader_copy(notebook):
    """The lecturer's notebook as an nbgrader source: each exercise an autograded answer cell,
    its check a grade cell worth its points, every other cell read-only (nbgrader restores
    those before grading), the solution cells left to :func:`nbgrader_preprocessor`."""
    notebook = lecturer_copy(notebook)
    cells = notebook["cells"]
    graded = {}
    for name, exercise, check, worth in exercises(notebook):
        graded[exercise] = {"grade": False, "solution": True, "locked": False,
                            "grade_id": name}
        graded[check] = {"grade": True, "solution": False, "locked": True, "points": worth,
                         "grade_id": f"check_{name}"}
    for index, cell in enumerate(cells):
        if "solution" in tags(cell):
            continue
        meta = graded.get(index, {"grade": False, "solution": False, "locked": True,
                                  "grade_id": f"cell_{index:03d}"})
        cell.setdefault("metadata", {})["nbgrader"] = {**meta, "schema_version": 3}
    return notebook


def nbgrader_preprocessor():
    """An nbconvert preprocessor that drops the cells tagged ``solution``: nbgrader's
    ``generate_assignment`` runs it first (see :func:`nbgrader_config`), so that its release
    equals :func:`student_copy`. Imports nbconvert, which only the grading extra installs."""
    from nbconvert.preprocessors import Preprocessor

    class DropSolutionCells(Preprocessor):
        def preprocess(self, nb, resources):
            nb.cells = [cell for cell in nb.cells if "solution" not in tags(cell)]
            return nb, resources

    return DropSolutionCells(enabled=True)


def nbgrader_config():
    """The text of the ``nbgrader_config.py`` that :func:`write_course` writes."""
    return f'''"""nbgrader's settings for the nst_numpy course (written by `nst-numpy course --nbgrader`).

Each notebook is one assignment, source/<notebook>/<notebook>.ipynb. From this folder:
    nbgrader generate_assignment 01_content_loss    # release/01_content_loss/: the student copy
    nbgrader autograde 01_content_loss              # grades submitted/<student>/01_content_loss/
    nbgrader export                                 # grades.csv
"""
from nbgrader.converters import GenerateAssignment

from nst_numpy.course import STUB, nbgrader_preprocessor

c = get_config()  # noqa: F821 (nbgrader defines it)
c.CourseDirectory.course_id = "nst_numpy"
# A cleared answer leaves the placeholder above it and this line, as `nst-numpy course` does.
c.ClearSolutions.code_stub = {{"python": STUB}}
# The release drops the cells tagged "solution" (derivations, measurements that give an
# answer away) before nbgrader's own steps.
c.GenerateAssignment.preprocessors = [nbgrader_preprocessor()] + list(
    GenerateAssignment.class_traits()["preprocessors"].default())
# Notebooks 5 to 8 run style transfers: allow a cell {CELL_TIMEOUT} s at the default size.
c.Execute.timeout = {CELL_TIMEOUT}
'''


CELL_TIMEOUT = 1800


def _read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _dumps(notebook):
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def planned_files(folder, version="student"):
    """{path to write: its text} for :func:`write_course`."""
    folder = Path(folder)
    files = {}
    for path in notebook_paths():
        notebook = _read(path)
        if version == "nbgrader":
            files[folder / "source" / path.stem / path.name] = _dumps(nbgrader_copy(notebook))
        else:
            copy_of = lecturer_copy if version == "solutions" else student_copy
            files[folder / path.name] = _dumps(copy_of(notebook))
    if version == "nbgrader":
        files[folder / "nbgrader_config.py"] = nbgrader_config()
    return files


def write_course(folder, version="student"):
    """Write the course's notebooks into ``folder``.

    Parameters
    ----------
    folder : path
        Created if missing; may hold other files, but none of those this writes.
    version : {"student", "solutions", "nbgrader"}
        The student release, the lecturer's notebooks, or an nbgrader course folder
        (``nbgrader_config.py`` and ``source/<notebook>/<notebook>.ipynb``).

    Returns
    -------
    list of Path
        The files written. The notebooks read their images from the installed package
        (:func:`nst_numpy.image.quiz_images`, :func:`q12_pictures`), so nothing else is needed.

    Raises
    ------
    FileExistsError
        Before writing anything, if one of the files exists: nothing is overwritten.
    """
    if version not in ("student", "solutions", "nbgrader"):
        raise ValueError(f"version must be 'student', 'solutions' or 'nbgrader', got {version!r}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} is a file; give a folder to write the course into")
    files = planned_files(folder, version)
    existing = [path for path in files if path.exists() or path.is_symlink()]
    if existing:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise FileExistsError(f"{existing[0]}{more} already exist{'s' if not more else ''}; "
                              "nothing was written: choose an empty folder")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as out:     # "x": never overwrite
            out.write(text)
    return list(files)
