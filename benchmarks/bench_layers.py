"""Per-layer timing of the two convolutions, forward + input gradient, float32.

    python benchmarks/bench_layers.py --size 256 --repeats 5
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_layers.py --clock cpu --threads 1

For each distinct conv shape of VGG19 up to conv5_1 (at the resolution it runs at for a
``size`` x ``size`` image) prints the best time of im2col and of Winograd over
``repeats`` interleaved runs, their ratio, and Winograd's effective GFLOP/s. Random
weights and inputs: timing does not depend on the values. Used to decide where the
Winograd path pays (see docs/benchmarks.md). ``--clock cpu`` measures this process's CPU
time instead of wall time: on a busy machine, with one BLAS thread and one Winograd band
thread, it counts the work done and not the time spent waiting for a core.
"""

import argparse
import time

import numpy as np

from nst_numpy import layers
from nst_numpy.fast import winograd
from nst_numpy.vgg import conv_shapes

SETTLE_SECONDS = 0.3


def vgg19_convs(size):
    """(name, kernel shape, H) for each conv up to conv5_1; the side halves at each block."""
    convs = []
    for name, shape in conv_shapes("vgg19").items():
        block = int(name[4])
        convs.append((name, shape, size >> (block - 1)))
        if name == "conv5_1":
            break
    return convs


def time_pair(x, w, b, u, u_flipped, repeats, clock=time.perf_counter, threads=None):
    """Best times of (im2col, winograd) forward + backward-to-input, interleaved."""
    best = {"im2col": np.inf, "winograd": np.inf}
    for _ in range(repeats):
        for impl in best:
            # OpenBLAS threads spin for a while after a multithreaded product before
            # they sleep; left spinning, im2col's would take a core from Winograd's bands.
            time.sleep(SETTLE_SECONDS)
            start = clock()
            if impl == "im2col":
                out, cache = layers.conv2d_forward(x, w, b)
                layers.conv2d_backward_input(out, cache)
            else:
                out, cache = winograd.conv2d_forward(x, w, b, u, u_flipped, threads=threads)
                winograd.conv2d_backward_input(out, cache)
            best[impl] = min(best[impl], clock() - start)
    return best["im2col"], best["winograd"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs, best kept (default 5)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall time (default) or this process's CPU time")
    parser.add_argument("--threads", type=int, default=None,
                        help="Winograd band threads (default: nst_numpy.fast.winograd.THREADS)")
    args = parser.parse_args(argv)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    rng = np.random.default_rng(0)
    print(f"{'layer':8} {'K x C':>10} {'H':>5} {'im2col s':>9} {'winograd s':>10} {'ratio':>6} {'wino GF/s':>9}")
    total = np.zeros(2)
    for name, (K, C, _, _), H in vgg19_convs(args.size):
        x = rng.standard_normal((C, H, H), dtype=np.float32)
        w = rng.standard_normal((K, C, 3, 3), dtype=np.float32)
        b = np.zeros(K, np.float32)
        u = winograd.kernel_transform(w)
        u_flipped = winograd.kernel_transform(winograd.flip_kernel(w))
        t_plain, t_wino = time_pair(x, w, b, u, u_flipped, args.repeats, clock, args.threads)
        total += t_plain, t_wino
        flops = 2 * (2 * K * C * 9 * H * H)   # forward + input gradient, direct convolution
        print(f"{name:8} {f'{K}x{C}':>10} {H:5d} {t_plain:9.4f} {t_wino:10.4f} "
              f"{t_wino / t_plain:6.2f} {flops / t_wino / 1e9:9.1f}")
    print(f"{'total':8} {'':>10} {'':>5} {total[0]:9.4f} {total[1]:10.4f} {total[1] / total[0]:6.2f}")


if __name__ == "__main__":
    main()
