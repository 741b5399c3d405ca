"""What a batch saves: the network loaded once and each style's targets computed once,
against one ``stylize`` call per content (each loading the network and computing the
style's targets again).

    python -m benchmarks.bench_batch --size 512 --contents 4 --iterations 3 --repeats 3

Part 1 times the pieces a batch does once instead of once per content, at ``--size``: the
network's loading (``load_vgg(fast=True)``), the style's targets (one forward pass of the
Great Wave to relu5_1 and its Gram matrices) and what reusing them costs (rescaling to
another aspect ratio), interleaved and repeated, medians. Part 2 runs ``--contents`` copies
of the turtle, of alternating aspect ratio (the photo and its transpose), in the Wave's style,
``--iterations`` each, both ways, interleaved (A B A B ...), and prints the median wall times,
the median CPU times of this process (every thread's; less disturbed than wall time by the
other work of a shared machine) and their ratios. The shorter the runs, the larger the share saved: part 1 says what share of
a run of any length it is.
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from nst_numpy import image as im
from nst_numpy import load_vgg, transfer
from nst_numpy.batch import StyleTargets, stylize_batch
from nst_numpy.terms import GramStyle


def seconds(action):
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def wall_and_cpu(action):
    """Wall seconds of ``action``, and the CPU seconds this process spent on it (every
    thread's)."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def pieces(size, repeats):
    """Median seconds of: loading the network, a style's targets, reusing them at another
    aspect ratio."""
    _, wave = im.quiz_images()
    model = load_vgg(fast=True)
    shape, other = (size, size * 3 // 4), (size * 3 // 4, size)
    times = {"load the network": [], "style targets (Wave, relu1_1..relu5_1)": [],
             "reuse them (rescaled)": []}
    for _ in range(repeats):
        times["load the network"].append(seconds(lambda: load_vgg(fast=True)))
        times["style targets (Wave, relu1_1..relu5_1)"].append(
            seconds(lambda: GramStyle(wave).targets(model, shape, np.float32)))
        shared = StyleTargets()
        shared([GramStyle(wave)])[0].targets(model, shape, np.float32)
        term = shared([GramStyle(wave)])[0]
        times["reuse them (rescaled)"].append(seconds(lambda: term.targets(model, other,
                                                                           np.float32)))
    return {name: statistics.median(values) for name, values in times.items()}


def contents(folder, count):
    """``count`` content files: the turtle and its transpose, alternating."""
    turtle, _ = im.quiz_images()
    rgb = im.load_image(turtle)
    paths = []
    for k in range(count):
        path = os.path.join(folder, f"turtle_{k}.png")
        im.save_image(rgb if k % 2 == 0 else rgb.transpose(1, 0, 2).copy(), path)
        paths.append(path)
    return paths


def whole(size, count, iterations, repeats):
    """Median wall and CPU seconds of ``count`` runs one stylize call each, and as one batch."""
    _, wave = im.quiz_images()
    times = {"separate": [], "batch": [], "separate cpu": [], "batch cpu": []}
    with tempfile.TemporaryDirectory() as folder:
        paths = contents(folder, count)
        for repeat in range(repeats):
            def separate():
                for path in paths:
                    transfer.stylize(path, wave, size=size, iterations=iterations)

            def batch():
                out = os.path.join(folder, f"out_{repeat}")
                stylize_batch(paths, wave, out, size=size, iterations=iterations)
            for name, action in (("separate", separate), ("batch", batch)):
                wall, cpu = wall_and_cpu(action)
                times[name].append(wall)
                times[f"{name} cpu"].append(cpu)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--contents", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f} at the start")
    for name, value in pieces(args.size, args.repeats).items():
        print(f"{args.size} px: {name}: {value:.2f} s (median of {args.repeats})")
    times = whole(args.size, args.contents, args.iterations, args.repeats)
    print(f"{args.contents} contents x 1 style, {args.size} px, {args.iterations} iterations "
          f"each: separate stylize calls {times['separate']:.1f} s, one batch "
          f"{times['batch']:.1f} s, ratio {times['batch'] / times['separate']:.3f}; CPU "
          f"{times['separate cpu']:.1f} s and {times['batch cpu']:.1f} s, ratio "
          f"{times['batch cpu'] / times['separate cpu']:.3f} (medians of {args.repeats}, "
          "interleaved)")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
