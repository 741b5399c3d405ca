"""How many past steps L-BFGS-B remembers, against the seconds to a given loss.

``lbfgs_memory`` (``--lbfgs-memory``, SciPy's ``maxcor``) is the number of (step, change of
gradient) pairs from which L-BFGS-B builds its model of the curvature; stylize's default is
10, as in neural_style.lua and PyTorch. A longer memory can make each iteration's step
better at a small cost in arithmetic per iteration (the network's pass is the same). Each
memory runs stylize's default objective single-scale in the same process, every iteration;
the target is the loss of the first memory's ``--iterations`` (10, the default's, unless
``--memories`` says otherwise).

    python benchmarks/lbfgs_memory.py --size 256 --pair quiz --memories 10 5 20 50
"""

import json
import os
import sys

if __package__ in (None, ""):   # run as a script: find nst_numpy and benchmarks/
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.bench_run import PAIRS, lever_parser, print_looser_targets, run_nst, stop_point
from nst_numpy.loop import DEFAULT_TOL


def main(argv=None):
    parser = lever_parser(__doc__.split("\n\n")[0], "iterations of every run")
    parser.add_argument("--memories", type=int, nargs="+", default=[10, 5, 20, 50],
                        help="the first is the reference, whose last loss is the target")
    parser.add_argument("--target", type=float, default=None,
                        help="the target loss (default: the first memory's last); give the "
                             "loss of another run to compare with it by iterations")
    parser.add_argument("--curves", metavar="FILE",
                        help="write each run's [(seconds, loss)] per iteration as JSON")
    args = parser.parse_args(argv)
    if args.curves and os.path.lexists(args.curves):
        parser.error(f"--curves would overwrite {args.curves!r}; choose another FILE")
    if len(set(args.memories)) != len(args.memories):
        parser.error("--memories: give each memory once")
    title, images = PAIRS[args.pair]
    content, style = images()
    print(f"{args.size} px, {title}, {args.iterations} L-BFGS-B iterations each", flush=True)
    curves, target = {}, args.target
    for memory in args.memories:
        result, curve, _ = run_nst(content, style, args.size, args.iterations, scales=1,
                                   lbfgs_memory=memory)
        name = f"memory {memory}" + (" (reference)" if not curves else "")
        curves[name] = curve
        target = result.loss if target is None else target
        print(f"{name}: {result.iterations} iterations, {result.evaluations} evaluations, "
              f"{curve[-1][0]:.0f} s, loss {result.loss:.4g} "
              f"({result.loss / target - 1:+.1%} of the target)", flush=True)
        k, seconds, loss = stop_point(curve, DEFAULT_TOL)
        print(f"  the default tol={DEFAULT_TOL:g} would stop it at iteration {k}, {seconds:.0f} s "
              f"({seconds / curve[-1][0]:.2f}x), loss {loss:.4g} ({loss / target - 1:+.1%} of "
              "the target)", flush=True)
    print_looser_targets(curves, target, reference=next(iter(curves)))
    print_iterations_to(curves, target)
    if args.curves:
        with open(args.curves, "x") as f:
            json.dump({"size": args.size, "pair": args.pair, "target": target,
                       "curves": curves}, f)
    return 0


def print_iterations_to(curves, target, margins=(0.0, 0.01, 0.02, 0.05, 0.10, 0.20)):
    """Iterations each run took to come within each margin of the target: a count that the
    machine's load does not change, comparable between runs made at different times."""
    print("iterations to come within a margin of the target:", flush=True)
    print(f"{'run':>30} " + " ".join(f"{f'+{m:.0%}':>6}" for m in margins))
    for name, curve in curves.items():
        cells = [next((str(k) for k, (_, loss) in enumerate(curve, 1)
                       if loss <= target * (1 + m)), "-") for m in margins]
        print(f"{name:>30} " + " ".join(f"{c:>6}" for c in cells), flush=True)


if __name__ == "__main__":
    sys.exit(main())
