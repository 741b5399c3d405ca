"""The course from the package (issue 25): ``nst-numpy course DIR`` writes the student release,
the lecturer's notebooks or an nbgrader course, never over an existing file;
notebooks/strip_solutions.py is a thin wrapper; and all of it works from a wheel installed in
a fresh virtual environment, away from the repository."""

import json
import os
from pathlib import Path
import subprocess
import sys
import tarfile
import venv

from nst_numpy import cli, course

ROOT = Path(__file__).resolve().parent.parent
STRIP = ROOT / "notebooks" / "strip_solutions.py"


def read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def test_course_writes_the_student_release(tmp_path, capsys):
    assert cli.main(["course", str(tmp_path / "class")]) == 0
    written = sorted((tmp_path / "class").iterdir())
    assert [p.name for p in written] == [p.name for p in course.notebook_paths()]
    for path in written:
        notebook = read(path)
        assert notebook == course.student_copy(read(course.notebook_dir() / path.name))
        assert not any("solution" in course.tags(c) for c in notebook["cells"])
        assert course.BEGIN not in json.dumps(notebook)
        assert all(c["outputs"] == [] and c["execution_count"] is None
                   for c in notebook["cells"] if c["cell_type"] == "code")
    assert f"wrote {len(written)} files" in capsys.readouterr().out


def test_course_writes_the_lecturers_notebooks_and_the_nbgrader_course(tmp_path):
    assert cli.main(["course", str(tmp_path / "lecturer"), "--solutions"]) == 0
    for path in course.notebook_paths():
        assert read(tmp_path / "lecturer" / path.name) == course.lecturer_copy(read(path))
    assert cli.main(["course", str(tmp_path / "grading"), "--nbgrader"]) == 0
    config = (tmp_path / "grading" / "nbgrader_config.py").read_text()
    assert "nbgrader_preprocessor()" in config and "c.ClearSolutions.code_stub" in config
    for path in course.notebook_paths():
        source = read(tmp_path / "grading" / "source" / path.stem / path.name)
        assert source == course.nbgrader_copy(read(path))


def test_course_never_overwrites_a_file(tmp_path, capsys):
    folder = tmp_path / "class"
    assert cli.main(["course", str(folder)]) == 0
    first = course.notebook_paths()[0].name
    (folder / first).write_text("the student's own work")
    capsys.readouterr()
    assert cli.main(["course", str(folder), "--solutions"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "already exist" in error and "nothing was written" in error
    assert (folder / first).read_text() == "the student's own work"
    (tmp_path / "a_file").write_text("x")
    assert cli.main(["course", str(tmp_path / "a_file")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert cli.main(["course", str(tmp_path / "x"), "--solutions", "--nbgrader"]) == 2
    assert "not allowed with" in capsys.readouterr().err


def test_strip_solutions_is_a_thin_wrapper(tmp_path):
    shown = subprocess.run([sys.executable, str(STRIP), "--help"], capture_output=True, text=True)
    assert shown.returncode == 0 and "usage:" in shown.stdout and "OUT.ipynb" in shown.stdout
    source = course.notebook_paths()[1]
    target = tmp_path / "student.ipynb"
    done = subprocess.run([sys.executable, str(STRIP), str(source), str(target)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert read(target) == course.student_copy(read(source))
    again = subprocess.run([sys.executable, str(STRIP), str(source), str(target)],
                           capture_output=True, text=True)
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "exists" in again.stderr
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    bad = subprocess.run([sys.executable, str(STRIP), str(broken), str(tmp_path / "out.ipynb")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_the_course_from_a_wheel_in_a_fresh_environment(tmp_path):
    """Build the wheel, install it (not editable) in a new virtual environment, and from a
    folder outside the repository write the course and run notebook 1's student release as a
    script: the notebooks, the Q12 pair and the check machinery all come from the wheel."""
    wheels = tmp_path / "wheels"
    pip_env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                            str(wheels), str(ROOT)], capture_output=True, text=True, env=pip_env,
                           timeout=600)
    assert build.returncode == 0, build.stderr
    wheel = next(wheels.glob("nst_numpy-*.whl"))
    venv.create(tmp_path / "fresh", with_pip=True)
    python = tmp_path / "fresh" / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)],
                             capture_output=True, text=True, env=pip_env, timeout=600)
    assert install.returncode == 0, install.stderr

    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    where = subprocess.run(
        [str(python), "-c", "import json, nst_numpy.course as c; p = c.q12_pictures(); "
         "print(json.dumps([str(c.notebook_dir()), str(p[3]), str(p[5]), p['commands'][5]]))"],
        cwd=away, capture_output=True, text=True, env=env)
    assert where.returncode == 0, where.stderr
    notebooks, q12_3, q12_5, command = json.loads(where.stdout)
    site = str(tmp_path / "fresh")
    assert notebooks.startswith(site) and q12_3.startswith(site) and q12_5.startswith(site)
    assert command.startswith("nst-numpy stylize") and "q12_5.jpg" in command

    written = subprocess.run([str(tmp_path / "fresh" / "bin" / "nst-numpy"), "course", "class"],
                             cwd=away, capture_output=True, text=True, env=env)
    assert written.returncode == 0, written.stderr
    names = sorted(p.name for p in (away / "class").iterdir())
    assert names == [p.name for p in course.notebook_paths()]
    assert read(away / "class" / names[0]) == course.student_copy(read(course.notebook_paths()[0]))

    # notebook 1's student release, run as a script by the fresh environment's Python
    cells = read(away / "class" / names[0])["cells"]
    script = "\n\n".join(course.source(c) for c in cells if c["cell_type"] == "code")
    (away / "notebook_1.py").write_text(script)
    ran = subprocess.run([str(python), "notebook_1.py"], cwd=away, capture_output=True, text=True,
                         env=env, timeout=600)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.count("gradient check FAILED") >= 6 and "check ok" not in ran.stdout

    # the sdist (hatchling, the build backend, installed in the fresh environment) keeps
    # notebooks/ with every notebook and the wrapper
    backend = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "hatchling"],
                             capture_output=True, text=True, env=pip_env, timeout=600)
    assert backend.returncode == 0, backend.stderr
    sdist = subprocess.run(
        [str(python), "-c", f"from hatchling.build import build_sdist; "
                            f"print(build_sdist({str(tmp_path / 'sdist')!r}))"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert sdist.returncode == 0, sdist.stderr
    with tarfile.open(tmp_path / "sdist" / sdist.stdout.split()[-1]) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {f"notebooks/{p.name}" for p in course.notebook_paths()} <= members
    assert "notebooks/strip_solutions.py" in members


def test_the_syllabus_matches_the_notebooks_and_the_code():
    """docs/syllabus.md lists every exercise with the points its check awards, and each
    function and test of its equation table exists."""
    import importlib
    import re

    text = (ROOT / "docs" / "syllabus.md").read_text(encoding="utf-8")
    listed = {}
    for row in re.findall(r"^\| `(\w+)`[^|]*\| +(\d+) \|", text, re.M):
        listed[row[0]] = int(row[1])
    expected = {name: points for path in course.notebook_paths()
                for name, *_, points in course.exercises(read(path))}
    assert listed == expected
    assert f"{sum(expected.values())} in all" in text
    table = text[text.index("(equation-map)="):]
    rows = [line for line in table.splitlines() if re.match(r"^\| \(\d\) ", line)]
    assert [line.split("|")[1].strip() for line in rows] == [f"({n})" for n in range(1, 9)]
    for line in rows:
        _, _, _, functions, tests, exercises, _ = line.split("|")
        for module, name in re.findall(r"`(\w+)\.(\w+)`", functions):
            assert hasattr(importlib.import_module(f"nst_numpy.{module}"), name), (module, name)
        for test_file, test in re.findall(r"`(test_\w+\.py)::(\w+)`", tests):
            assert f"def {test}(" in (ROOT / "tests" / test_file).read_text(), (test_file, test)
        for name in re.findall(r"`(\w+)`", exercises):
            assert name in expected or name in ("MyStyle", "MyTV"), name
