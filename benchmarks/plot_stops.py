"""The figure of docs/benchmarks.md's "When to stop": single-scale's loss above its own
300-iteration loss, iteration by iteration, and where the stopping rule with each tol ends
the run, from the ``--curves`` files of ``python -m benchmarks.bench --whole-run``.

    python benchmarks/plot_stops.py c_256.json c_256_demo.json --tols 1e-3 3e-4 1e-4 --to docs/_static/stops_256.png
"""

import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

if __package__ in (None, ""):   # run as a script: find nst_numpy and benchmarks/
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nst_numpy.loop import stalled  # noqa: E402


def stop(losses, tol):
    """The iteration (1-based) at which the rule with ``tol`` ends a run of ``losses``."""
    return next((k for k in range(1, len(losses) + 1) if stalled(losses[:k], tol)),
                len(losses))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("curves", nargs="+", help="--curves files, one per pair")
    parser.add_argument("--tols", type=float, nargs="+", required=True)
    parser.add_argument("--to", required=True, help="the PNG to write")
    args = parser.parse_args(argv)
    fig, ax = plt.subplots(figsize=(7, 4))
    markers = "os^vD<>"
    for path in args.curves:
        with open(path) as f:
            data = json.load(f)
        losses = [loss for _, loss in data["curves"]["single-scale"]]
        excess = [loss / losses[-1] - 1 for loss in losses[:-1]]   # the last is 0
        pair = data.get("pair", "demo" if path.endswith("_demo.json") else "quiz")
        name = f"{pair} pair, {data['size']} px"
        line, = ax.semilogy(range(1, len(excess) + 1), excess, label=name)
        for tol, marker in zip(args.tols, markers):
            k = stop(losses, tol)
            if k < len(losses):
                ax.plot(k, excess[k - 1], marker, color=line.get_color(),
                        label=f"tol {tol:g}" if path == args.curves[0] else None)
    ax.axhline(0.02, color="grey", linestyle=":", label="+2 %")
    ax.set(xlabel="iteration", ylabel="loss / loss after all iterations - 1",
           title="single-scale L-BFGS: where the stopping rule ends the run")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.to, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
