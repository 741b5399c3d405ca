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
