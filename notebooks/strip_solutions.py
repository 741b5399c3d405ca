"""Make the student version of a notebook: drop the cells tagged ``solution`` and all outputs.

    python notebooks/strip_solutions.py 01_content_loss.ipynb student/01_content_loss.ipynb

The exercise cells stay, so the stripped notebook still runs top to bottom: each check then
reports FAILED until the student fills in the exercise. The input file is never overwritten.
"""

import json
from pathlib import Path
import sys


def strip_solutions(notebook):
    """notebook: a parsed .ipynb (dict). Returns a copy without solution cells or outputs."""
    cells = []
    for cell in notebook["cells"]:
        if "solution" in cell.get("metadata", {}).get("tags", []):
            continue
        cell = dict(cell)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    return {**notebook, "cells": cells}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python strip_solutions.py IN.ipynb OUT.ipynb", file=sys.stderr)
        return 2
    source, target = Path(argv[0]), Path(argv[1])
    if target.exists() and target.resolve() == source.resolve():
        print(f"strip_solutions: refusing to overwrite the input {source}; "
              "give a different output path", file=sys.stderr)
        return 2
    try:
        notebook = json.loads(source.read_text(encoding="utf-8"))
        cells = notebook["cells"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"strip_solutions: {source} is not a readable notebook ({error}); "
              "pass an .ipynb file", file=sys.stderr)
        return 2
    stripped = strip_solutions(notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(stripped, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {target}: {len(cells) - len(stripped['cells'])} solution cells removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
