"""Make the student version of a notebook: no solution cells, no worked answers, no outputs.

    python notebooks/strip_solutions.py 01_content_loss.ipynb student/01_content_loss.ipynb

A thin wrapper around nst_numpy.course.student_copy; `nst-numpy course DIR` writes every
notebook at once. The exercise cells keep their placeholders, so the stripped notebook still
runs top to bottom: each check then reports FAILED until the student fills in the exercise.
Existing files, the input included, are never overwritten.
"""

import argparse
import json
from pathlib import Path
import sys

from nst_numpy.course import student_copy


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="strip_solutions.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", metavar="IN.ipynb", help="a notebook of the course")
    parser.add_argument("target", metavar="OUT.ipynb", help="where to write its student version")
    args = parser.parse_args(argv)
    source, target = Path(args.source), Path(args.target)
    if target.exists() or target.is_symlink():
        print(f"strip_solutions: {target} exists; give a new output path", file=sys.stderr)
        return 2
    try:
        notebook = json.loads(source.read_text(encoding="utf-8"))
        stripped = student_copy(notebook)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        print(f"strip_solutions: {source} is not a readable notebook of the course ({error}); "
              "pass an .ipynb file", file=sys.stderr)
        return 2
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "x", encoding="utf-8") as out:
        out.write(json.dumps(stripped, indent=1, ensure_ascii=False) + "\n")
    removed = len(notebook["cells"]) - len(stripped["cells"])
    print(f"wrote {target}: {removed} solution cells removed, the worked answers cleared")
    return 0


if __name__ == "__main__":
    sys.exit(main())
