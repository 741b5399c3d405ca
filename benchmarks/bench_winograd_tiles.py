"""Winograd F(2x2, 3x3) against F(4x4, 3x3) (and im2col), per VGG19 conv layer, float32.

    python benchmarks/bench_winograd_tiles.py --sizes 256 512 --repeats 21
    python benchmarks/bench_winograd_tiles.py --sizes 256 --fused
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_winograd_tiles.py --clock cpu --threads 1

For each conv of VGG19 up to conv5_1, at the size its input has for a ``size`` x ``size``
image, times the forward pass (:func:`nst_numpy.fast.winograd.conv2d_forward`) and the input
gradient (:func:`~nst_numpy.fast.winograd.conv2d_backward_input`) with ``tile=2`` (m2),
``tile=4`` (m4), and im2col (:mod:`nst_numpy.layers`). Every round times every layer, pass
and implementation once, one layer after the other and, in each layer's turn, im2col then
m2 and m4 in alternating order, so that the machine's noise hits all alike; the tables
give the median over ``repeats`` rounds in milliseconds, and the ratio m4/m2 per layer and
for the sum through conv5_1 (relu5_1). The load average is printed before and after.

The Winograd passes run as FastVGG runs them: band threads (``--threads``, default all
cores) with single-threaded BLAS. im2col runs as the plain VGG runs it, BLAS threaded as
configured; after each im2col pass pair the script pauses (``--settle``), so that OpenBLAS
threads still spinning do not take a core from the next implementation's bands.
``--fused`` times the layers as FastVGG fuses them instead: conv + ReLU, and + 2x2 max pool
for the last conv of a block, forward; the backward with the ReLU's mask (and the pool's
argmax) applied on the way in; im2col then runs the separate layers of nst_numpy.layers.
``--clock cpu`` measures this process's CPU time instead of wall time: on a machine shared
with other work, with one BLAS thread and one band thread, it counts the work done and not
the time spent waiting for a core. Random weights and inputs: the time does not depend on
the values.
"""

import argparse
import itertools
import os
import time

import numpy as np

from nst_numpy import layers
from nst_numpy.fast import winograd
from nst_numpy.fast.parallel import single_threaded_blas
from nst_numpy.vgg import conv_shapes

IMPLS = ("im2col", "m2", "m4")
POOLED = {"conv1_2", "conv2_2", "conv3_4", "conv4_4"}   # the last conv of a block


def vgg19_convs(size):
    """(name, kernel shape, H) for each conv up to conv5_1; the side halves at each block."""
    convs = []
    for name, shape in conv_shapes("vgg19").items():
        convs.append((name, shape, size >> (int(name[4]) - 1)))
        if name == "conv5_1":
            break
    return convs


class Layer:
    """One conv's data and the forward/backward calls of each implementation."""

    def __init__(self, name, shape, H, threads, fused, rng):
        K, C = shape[:2]
        self.name, self.shape, self.H = name, shape, H
        self.threads, self.pool = threads, fused and name in POOLED
        self.relu = fused
        self.x = rng.standard_normal((C, H, H), dtype=np.float32)
        self.w = rng.standard_normal(shape, dtype=np.float32) / np.float32(np.sqrt(9 * C))
        self.b = rng.standard_normal(K, dtype=np.float32)
        self.kernels = {f"m{m}": (winograd.kernel_transform(self.w, m),
                                  winograd.kernel_transform(winograd.flip_kernel(self.w), m))
                        for m in (2, 4)}
        self.dout = rng.standard_normal((K, H // 2, H // 2) if self.pool else (K, H, H),
                                        dtype=np.float32)
        self.state = {}

    def forward(self, impl):
        if impl == "im2col":
            out, cache = layers.conv2d_forward(self.x, self.w, self.b)
            relu_out = pool_cache = None
            if self.relu:
                out, relu_out = layers.relu_forward(out)
            if self.pool:
                out, pool_cache = layers.max_pool_forward(out)
            self.state[impl] = cache, relu_out, pool_cache
            return
        with single_threaded_blas():
            if self.pool:
                (out, cache), (_, pool_cache) = winograd.conv_relu_pool_forward(
                    self.x, self.w, self.b, *self.kernels[impl], threads=self.threads)
            else:
                out, cache = winograd.conv2d_forward(self.x, self.w, self.b, *self.kernels[impl],
                                                     relu=self.relu, threads=self.threads)
                pool_cache = None
        self.state[impl] = cache, (out > 0 if self.relu else None), pool_cache

    def backward(self, impl):
        cache, relu_out, pool_cache = self.state.pop(impl)
        if impl == "im2col":
            dout = self.dout
            if self.pool:
                dout = layers.max_pool_backward(dout, pool_cache)
            if self.relu:
                dout = layers.relu_backward(dout, relu_out)
            layers.conv2d_backward_input(dout, cache)
            return
        with single_threaded_blas():
            if self.pool:
                winograd.conv_relu_pool_backward(self.dout, cache, relu_out, pool_cache)
            else:
                winograd.conv2d_backward_input(self.dout, cache, relu_out=relu_out)


def run(size, repeats, threads, settle, fused, clock=time.perf_counter, seed=0):
    """{(layer name, pass, impl): [seconds per round]} and the layers."""
    rng = np.random.default_rng(seed)
    convs = [Layer(name, shape, H, threads, fused, rng) for name, shape, H in vgg19_convs(size)]
    times = {}
    for layer, impl in itertools.product(convs, IMPLS):   # warm-up: one untimed round
        layer.forward(impl)
        layer.backward(impl)
    for round_ in range(repeats):
        for layer in convs:
            # im2col first (then the pause), the two tile sizes after it in turn: each is
            # the first after the pause in every other round
            for impl in IMPLS if round_ % 2 else ("im2col", "m4", "m2"):
                for pass_ in ("forward", "backward"):
                    start = clock()
                    getattr(layer, pass_)(impl)
                    times.setdefault((layer.name, pass_, impl), []).append(clock() - start)
                if impl == "im2col":
                    time.sleep(settle)
    return times, convs


def report(size, times, convs, fused, clock_name):
    med = {key: float(np.median(v)) for key, v in times.items()}
    what = "conv + ReLU (+ pool), fused as in FastVGG" if fused else "conv alone"
    print(f"\n{size} px, {what}: median {clock_name} ms over {len(next(iter(times.values())))} rounds")
    head = " ".join(f"{p} {i:>6}" for p in ("fwd", "bwd") for i in IMPLS)
    print(f"{'layer':8} {'K x C':>9} {'H':>4} {head}  {'m4/m2 fwd':>9} {'bwd':>5} {'both':>5}")
    total = dict.fromkeys(itertools.product(("forward", "backward"), IMPLS), 0.0)
    best = 0.0   # the sum when each layer takes the faster of m2 and m4, per pass
    for layer in convs:
        row = {(p, i): med[(layer.name, p, i)] for p, i in total}
        for key, t in row.items():
            total[key] += t
        best += sum(min(row[(p, "m2")], row[(p, "m4")]) for p in ("forward", "backward"))
        print(line(layer.name, f"{layer.shape[0]}x{layer.shape[1]}", layer.H, row))
    print(line("total", "", None, total))
    m2 = total[("forward", "m2")] + total[("backward", "m2")]
    print(f"through relu5_1: m2 {m2 * 1e3:.1f} ms, each layer and pass the faster of m2/m4 "
          f"{best * 1e3:.1f} ms ({best / m2:.2f} of m2)", flush=True)


def line(name, kc, H, row):
    cells = " ".join(f"{row[(p, i)] * 1e3:10.1f}" for p in ("forward", "backward") for i in IMPLS)
    ratios = [row[(p, "m4")] / row[(p, "m2")] for p in ("forward", "backward")]
    both = (row[("forward", "m4")] + row[("backward", "m4")]) / (row[("forward", "m2")] + row[("backward", "m2")])
    return f"{name:8} {kc:>9} {'' if H is None else H:>4} {cells}  {ratios[0]:9.2f} {ratios[1]:5.2f} {both:5.2f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512],
                        help="image sides in pixels (default 256 512)")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds, median kept (default 15)")
    parser.add_argument("--threads", type=int, default=winograd.THREADS,
                        help=f"Winograd band threads (default {winograd.THREADS}, the usable cores)")
    parser.add_argument("--settle", type=float, default=0.3,
                        help="seconds of pause after each im2col forward + backward (default 0.3)")
    parser.add_argument("--fused", action="store_true",
                        help="time conv + ReLU (+ pool) as FastVGG fuses them")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall time (default) or this process's CPU time")
    args = parser.parse_args(argv)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    print("load average (1, 5, 15 min) before: %.2f %.2f %.2f" % os.getloadavg())
    for size in args.sizes:
        times, convs = run(size, args.repeats, args.threads, args.settle, args.fused, clock)
        report(size, times, convs, args.fused, args.clock)
    print("\nload average (1, 5, 15 min) after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
