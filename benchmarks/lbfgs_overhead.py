"""What SciPy's L-BFGS-B costs around the objective, at a stylization's number of pixels.

    python benchmarks/lbfgs_overhead.py --size 512 --iterations 20 --repeats 3

:func:`nst_numpy.optim.lbfgs` on an objective that costs almost nothing (``x -> sum d (x -
1)^2`` in float32, the pixels' shape of a 512 x 384 picture), with the pixel bounds and
without, interleaved: the seconds of a call with one iteration (what a level pays once:
SciPy turning the bounds into its own form) and the seconds of each further iteration
(the optimiser's own work: its two-loop recursion, and with bounds the generalised Cauchy
point, in float64). docs/benchmarks.md records a run.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

if __package__ in (None, ""):   # run as a script, python benchmarks/lbfgs_overhead.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nst_numpy import image as im
from nst_numpy import optim


def seconds(shape, iterations, bounded):
    """Seconds of one optim.lbfgs call of ``iterations`` on a cheap objective."""
    x0 = np.random.default_rng(0).uniform(-100, 100, shape).astype(np.float32)
    bounds = im.pixel_bounds(shape, np.float32) if bounded else None

    # curvatures spread over three decades, so that L-BFGS needs every iteration asked for
    d = np.logspace(-3, 0, x0.size, dtype=np.float32).reshape(shape)

    def cheap(x):
        # L = sum d (x - 1)^2 ;  dL/dx = 2 d (x - 1): the minimiser lies inside the bounds
        return float(np.sum(d * (x - 1) ** 2)), 2 * d * (x - 1)

    started = time.perf_counter()
    result = optim.lbfgs(cheap, x0, iterations=iterations, bounds=bounds)
    assert result.iterations == iterations, result.message
    return time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="longest side (default 512; 3:4)")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    shape = (3, args.size * 3 // 4, args.size)
    times = {(b, n): [] for b in (True, False) for n in (1, args.iterations)}
    for _ in range(args.repeats):   # interleaved: a change of load hits all four alike
        for key in times:
            times[key].append(seconds(shape, key[1], key[0]))
    print(f"L-BFGS-B on a cheap objective, {shape[0] * shape[1] * shape[2]} variables, "
          f"median of {args.repeats} interleaved rounds, seconds")
    for bounded in (True, False):
        once = statistics.median(times[bounded, 1])
        per = statistics.median((a - b) / (args.iterations - 1)
                                for a, b in zip(times[bounded, args.iterations],
                                                times[bounded, 1]))
        print(f"{'bounds 0-255' if bounded else 'no bounds':>13}: a call of one iteration "
              f"{once:6.2f}, each further iteration {per:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
