"""L-BFGS on a reparameterised image against stylize's L-BFGS-B on the pixels.

Feature-visualisation work (Olah et al., "Feature Visualization", Distill 2017) optimises
an image through a linear map x = T(z) that makes the problem better conditioned for a
first-order method, without changing the objective f(x). The gradient with respect to z is
T^T grad f(x), so L-BFGS, whose first model of the curvature is a multiple of the identity,
takes different steps in z than in x. Two maps are measured, and both together:

- **Laplacian pyramid**: x = sum_k U_k z_k, z_k at 1/2^k of the size, U_k bilinear
  upsampling (4 levels): a coarse pattern moves as one variable;
- **decorrelated colour**: x = C z at every pixel, C = Sigma^{1/2} / sqrt(lambda_max) for
  Sigma the content image's 3x3 colour covariance: steps along the dominant (brightness)
  direction are large and those across it small.

A linear map does not keep the box 0-255 a box, so each runs unbounded (SciPy's L-BFGS-B
without bounds, nst_numpy's ``optim.lbfgs``), and its loss is taken on the picture a user
gets, the pixels clamped to 0-255, every ``--every`` iterations (clock paused). The
identity map run the same way shows what leaving the bounds out does by itself. Each is
compared in one process with stylize's single-scale run (L-BFGS-B, bounded): the seconds
to come within a margin of the loss of its 300 iterations.

    python benchmarks/parameterisation.py --size 256 --pair quiz
"""

import os
import sys
import time

import numpy as np

if __package__ in (None, ""):   # run as a script: find nst_numpy and benchmarks/
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.bench_run import (PAIRS, clamped_loss, full_size_objective, lever_parser,
                                  print_looser_targets, run_nst)
from nst_numpy import optim


def interpolation(n, m):
    """R: (n, m), bilinear (half-pixel centres) from m samples to n; R.T is its adjoint."""
    source = np.clip((np.arange(n) + 0.5) * m / n - 0.5, 0, m - 1)
    below = np.floor(source).astype(int)
    above = np.minimum(below + 1, m - 1)
    R = np.zeros((n, m), np.float32)
    R[np.arange(n), below] += 1 - (source - below)
    R[np.arange(n), above] += source - below
    return R


class Pyramid:
    """x = sum_k R_k z_k R'_k^T per channel; z is the levels flattened into one vector."""

    def __init__(self, shape, levels=4):
        C, H, W = shape
        self.shapes = [(C, -(-H // 2**k), -(-W // 2**k)) for k in range(levels)]
        self.R = [(interpolation(H, h), interpolation(W, w)) for _, h, w in self.shapes]
        self.sizes = [int(np.prod(s)) for s in self.shapes]

    def split(self, z):
        return [part.reshape(s) for part, s in
                zip(np.split(z, np.cumsum(self.sizes)[:-1]), self.shapes)]

    def __call__(self, z):
        return sum(Rh @ level @ Rw.T for level, (Rh, Rw) in zip(self.split(z), self.R))

    def adjoint(self, g):
        return np.concatenate([(Rh.T @ g @ Rw).reshape(-1) for Rh, Rw in self.R])

    def start(self, x):
        return np.concatenate([x.reshape(-1)] + [np.zeros(n, x.dtype) for n in self.sizes[1:]])


class Colour:
    """x = C z at every pixel, C = Sigma^{1/2} / sqrt(lambda_max) of ``x0``'s colours (each
    eigenvalue at least 1e-4 lambda_max, so that a grey picture keeps C invertible)."""

    def __init__(self, x0):
        s, U = np.linalg.eigh(np.cov(x0.reshape(3, -1).astype(np.float64)))
        s = np.maximum(s, 1e-4 * max(s.max(), 1e-12))
        self.C = (U * np.sqrt(s / s.max())) @ U.T
        self.shape = x0.shape

    def __call__(self, z):
        return np.einsum("cd,dhw->chw", self.C, z.reshape(self.shape)).astype(np.float32)

    def adjoint(self, g):
        return np.einsum("dc,dhw->chw", self.C, g).astype(np.float32).reshape(-1)

    def start(self, x):
        return np.linalg.solve(self.C, x.reshape(3, -1)).astype(np.float32).reshape(-1)


class Identity:
    """x = z: the pixels themselves, unbounded."""

    def __init__(self, x0):
        self.shape = x0.shape

    def __call__(self, z):
        return z.reshape(self.shape)

    def adjoint(self, g):
        return g.reshape(-1)

    def start(self, x):
        return x.reshape(-1).copy()


class Both:
    """Colour after pyramid: x = C (sum_k U_k z_k)."""

    def __init__(self, x0):
        self.pyramid, self.colour = Pyramid(x0.shape), Colour(x0)

    def __call__(self, z):
        return self.colour(self.pyramid(z).reshape(-1))

    def adjoint(self, g):
        return self.pyramid.adjoint(self.colour.adjoint(g).reshape(g.shape))

    def start(self, x):
        return self.pyramid.start(self.colour.start(x).reshape(x.shape))


MAPS = {"pixels, unbounded": Identity, "Laplacian pyramid": lambda x0: Pyramid(x0.shape),
        "decorrelated colour": Colour, "both": Both}


def run_map(objective, x0, T, iterations, every, target, setup=0.0):
    """L-BFGS on z, x = T(z), unbounded: [(seconds, loss of clamp(x))] every ``every``
    iterations, stopping at ``target``; the seconds start at ``setup`` (the targets'
    computation, which single-scale's clock includes)."""
    curve, clock = [], {"start": time.perf_counter() - setup, "paused": 0.0}

    def fun(z):
        loss, grad = objective(T(z).astype(np.float32))
        return loss, T.adjoint(grad).astype(np.float32)

    def on_iteration(k, z, loss):
        if k % every and k != iterations:
            return False
        pause = time.perf_counter()
        value = clamped_loss(objective, T(z).astype(np.float32))
        curve.append((pause - clock["start"] - clock["paused"], value))
        clock["paused"] += time.perf_counter() - pause
        return value <= target

    optim.lbfgs(fun, T.start(x0).astype(np.float32), iterations, callback=on_iteration)
    return curve


def main(argv=None):
    parser = lever_parser(__doc__.split("\n\n")[0],
                          "iterations of every run; single-scale's loss is the target")
    parser.add_argument("--every", type=int, default=10,
                        help="take the clamped picture's loss every N iterations")
    parser.add_argument("--maps", nargs="+", choices=sorted(MAPS), default=list(MAPS))
    args = parser.parse_args(argv)
    title, images = PAIRS[args.pair]
    content, style = images()
    single, reference, _ = run_nst(content, style, args.size, args.iterations, scales=1)
    print(f"{args.size} px, {title}: single-scale L-BFGS-B (bounded), {single.iterations} "
          f"iterations, {reference[-1][0]:.0f} s, loss {single.loss:.4g}", flush=True)
    curves = {"single-scale": reference}
    built = time.perf_counter()
    objective, x0 = full_size_objective(content, style, args.size)
    setup = time.perf_counter() - built
    for name in args.maps:
        curves[name] = run_map(objective, x0, MAPS[name](x0), args.iterations, args.every,
                               single.loss, setup)
        seconds, best = min(curves[name], key=lambda point: point[1])
        print(f"{name}: best clamped loss {best:.4g} ({best / single.loss - 1:+.1%}) at "
              f"{seconds:.0f} s", flush=True)
    print_looser_targets(curves, single.loss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
