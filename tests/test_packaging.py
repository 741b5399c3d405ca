"""The dependency floors of pyproject.toml are the versions the oldest-versions run tests."""

from pathlib import Path
import re

ROOT = Path(__file__).resolve().parent.parent


def release(version):
    """'1.24' -> (1, 24, 0): a release number padded for comparison."""
    parts = [int(p) for p in version.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def test_floors_are_the_tested_oldest_versions():
    pyproject = (ROOT / "pyproject.toml").read_text()
    floors = dict(re.findall(r'"([A-Za-z0-9_.-]+)>=([0-9.]+)"', pyproject))
    constraints = (ROOT / ".ci" / "oldest-constraints.txt").read_text()
    oldest = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([0-9.]+)$", constraints, flags=re.M))
    floors.pop("hatchling", None)               # the build backend, not a dependency
    assert floors and set(floors) == set(oldest), (sorted(floors), sorted(oldest))
    for name, floor in floors.items():
        assert release(floor) == release(oldest[name]), (name, floor, oldest[name])
    python = re.search(r'requires-python = ">=([0-9.]+)"', pyproject).group(1)
    assert f"python{python}" in constraints      # the run's interpreter is the floor too


def test_the_version_has_one_source(capsys):
    """nst_numpy/__init__.py's __version__ is the version: pyproject.toml takes it from there
    (hatch's dynamic version), so the installed metadata and `nst-numpy --version` say it."""
    from importlib.metadata import version

    import nst_numpy
    from nst_numpy.cli import main

    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \["version"\]', pyproject, flags=re.M)
    assert not re.search(r"^version = ", pyproject, flags=re.M), "a second version in pyproject"
    assert re.search(r'\[tool\.hatch\.version\]\npath = "nst_numpy/__init__.py"', pyproject)
    assert main(["--version"]) == 0
    shown = capsys.readouterr().out.strip()
    assert shown == f"nst-numpy {version('nst-numpy')}" == f"nst-numpy {nst_numpy.__version__}"


def test_the_citation_and_the_changelog_name_this_version():
    import nst_numpy

    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(rf'^version: "?{re.escape(nst_numpy.__version__)}"?$', citation, flags=re.M)
    assert "cff-version: 1.2.0" in citation and "Gatys" in citation
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog and f"## [{nst_numpy.__version__}]" in changelog
