"""Draw docs/architecture.dot from the code: one box per module of the package, one arrow per
import between them (``a -> b``: ``a`` imports ``b``), grouped as docs/architecture.md
describes them.

    python docs/make_architecture.py                  # writes docs/architecture.dot
    dot -Tsvg docs/architecture.dot -o docs/architecture.svg

tests/test_docs.py checks that the committed .dot is what this script draws from today's
code, so the picture cannot drift from the imports. Graphviz is needed only to redraw the
SVG, which is committed.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "nst_numpy"
OUT = ROOT / "docs" / "architecture.dot"

# What each module is, in a few words (its box's second line).
ROLES = {
    "cli": "the nst-numpy command: one-line errors",
    "cli_signals": "SIGTERM as Ctrl-C; writes held",
    "cli_stylize": "stylize | demo: output policy",
    "cli_invert": "invert: its parser",
    "cli_batch": "batch: its parser, exit status",
    "cli_show": "show: its parser",
    "batch": "stylize_batch: contents x styles,\nstyle targets reused",
    "animate": "a film of the run (GIF, WebP)",
    "show": "a layer's maps and Gram matrix",
    "course": "the notebooks: student,\nlecturer, nbgrader copies",
    "options": "every option once: default, check, flag",
    "transfer": "the lecture's three steps;\nstylize, texture",
    "inversion": "feature inversion",
    "pyramid": "coarse to fine: run at growing sizes",
    "loop": "run: the optimisation loop",
    "objective": "Objective: x -> (L, dL/dx)",
    "terms": "the loss terms of eq (7),\ntargets once",
    "losses": "eq (1)-(7) + TV: (value, dL/dF^l)",
    "mrf": "MRF patch loss",
    "wasserstein": "W2 loss: Gaussian fits, sqrtm",
    "optim": "gd (eq 8, sign fixed), Adam, L-BFGS-B",
    "models": "networks with their weights",
    "normalize": "the normalised VGG",
    "weights": "HDF5 weight files, download",
    "memory": "memory available, estimate, refusal",
    "image": "Pillow I/O, preprocessing, colour",
    "plot": "loss history figure",
    "analysis": "measures for quiz Q12",
    "vgg": "the plain network: forward -> tape,\nbackward(grads, tape)",
    "layers": "conv (im2col + GEMM), ReLU, pooling",
    "gradcheck": "finite differences",
    "answers": "check_answer",
    "fast.vgg": "FastVGG: the same function, faster",
    "fast.winograd": "Winograd F(2x2) and F(4x4) 3x3 conv",
    "fast.pooling": "max pooling in a few passes",
    "fast.parallel": "bands in threads",
    "_blas": "BLAS on one thread, process-wide",
}
GROUPS = {
    "the command": ["cli", "cli_stylize", "cli_invert", "cli_signals", "cli_batch", "cli_show"],
    "the algorithm": ["options", "transfer", "inversion", "pyramid", "loop", "objective", "terms",
                      "batch", "animate"],
    "the lesson": ["losses", "mrf", "wasserstein", "optim", "vgg", "layers", "gradcheck",
                   "answers"],
    "beside it: fast/": ["fast.vgg", "fast.winograd", "fast.pooling", "fast.parallel"],
}
COLOURS = {"the command": "#e8eef6", "the algorithm": "#f6efe8", "the lesson": "#eef6e8",
           "beside it: fast/": "#f4f1ea"}


def modules():
    """{dotted name relative to the package: path} of every module (not __init__, and not
    _checks, the argument checks every module may use: its arrows would hide the rest)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        if relative.name in ("__init__", "_checks") or relative.parts[0] == "data":
            continue
        found[".".join(relative.parts)] = path
    return found


def imports(name, path, known):
    """The package's modules that module ``name`` imports (``from . import x``,
    ``from .x import y``, ``from .. import x`` alike)."""
    package = name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
        target = base + (node.module.split(".") if node.module else [])
        candidates = [".".join(target)] + [".".join(target + [a.name]) for a in node.names]
        found.update(c for c in candidates if c in known and c != name)
        exported = reexports(target)   # a package's __init__: the modules behind its names
        found.update(exported[a.name] for a in node.names if a.name in exported)
    return found


def reexports(package):
    """{name: module} for the names a package's __init__ imports from its modules."""
    init = PACKAGE.joinpath(*package, "__init__.py")
    if not package or not init.exists():
        return {}
    return {alias.name: ".".join(package + [node.module])
            for node in ast.parse(init.read_text()).body
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
            for alias in node.names}


def draw():
    known = modules()
    lines = ["// Modules of nst_numpy and their imports (a -> b: a imports b).",
             "// Drawn from the code by docs/make_architecture.py; do not edit by hand.",
             "digraph nst_numpy {",
             '    graph [rankdir=TB, fontname="DejaVu Sans", fontsize=11, nodesep=0.25, '
             'ranksep=0.5, bgcolor="white"];',
             '    node  [shape=box, style="rounded,filled", fillcolor="#ffffff", color="#8a7f6a", '
             'fontname="DejaVu Sans", fontsize=10];',
             '    edge  [color="#777777", arrowsize=0.6];']
    grouped = {m for members in GROUPS.values() for m in members}
    for group, members in GROUPS.items():
        lines.append(f'    subgraph "cluster_{group}" {{')
        lines.append(f'        label="{group}"; fontname="DejaVu Sans"; fontsize=11; '
                     f'color="#b9b0a0"; style="rounded";')
        for m in members:
            lines.append(f'        "{m}" [label="{_label(m)}", fillcolor="{COLOURS[group]}"];')
        lines.append("    }")
    for m in known:
        if m not in grouped:
            lines.append(f'    "{m}" [label="{_label(m)}"];')
    for m, path in known.items():
        for target in sorted(imports(m, path, known)):
            lines.append(f'    "{m}" -> "{target}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _label(module):
    role = ROLES.get(module, "")
    file = module.replace(".", "/") + ".py"
    return file + ("\\n" + role.replace("\n", "\\n") if role else "")


if __name__ == "__main__":
    OUT.write_text(draw())
    print(f"wrote {OUT}; now: dot -Tsvg {OUT} -o {OUT.with_suffix('.svg')}")
