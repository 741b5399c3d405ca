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

import argparse
import os
import sys

if __package__ in (None, ""):   # run as a script: find nst_numpy and benchmarks/
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.bench_run import PAIRS, print_looser_targets, run_nst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--pair", choices=sorted(PAIRS), default="quiz")
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--memories", type=int, nargs="+", default=[10, 5, 20, 50],
                        help="the first is the reference, whose last loss is the target")
    args = parser.parse_args(argv)
    if len(set(args.memories)) != len(args.memories):
        parser.error("--memories: give each memory once")
    title, images = PAIRS[args.pair]
    content, style = images()
    print(f"{args.size} px, {title}, {args.iterations} L-BFGS-B iterations each", flush=True)
    curves, target = {}, None
    for memory in args.memories:
        result, curve, _ = run_nst(content, style, args.size, args.iterations, scales=1,
                                   lbfgs_memory=memory)
        name = f"memory {memory}" + (" (reference)" if not curves else "")
        curves[name] = curve
        target = result.loss if target is None else target
        print(f"{name}: {result.iterations} iterations, {result.evaluations} evaluations, "
              f"{curve[-1][0]:.0f} s, loss {result.loss:.4g} "
              f"({result.loss / target - 1:+.1%} of the reference's)", flush=True)
    print_looser_targets(curves, target, reference=next(iter(curves)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
