"""Wall time of a whole style transfer: ``stylize`` with L-BFGS on the quiz's images.

    python benchmarks/bench_stylize.py --sizes 256 512 --iterations 300 --out bench_out

Content: ``green_sea_turtle.jpg``, style: ``great_wave.jpg`` (the copies shipped in
``nst_numpy/data/``, from ``nst_numpy.image.quiz_images()``; ``--images`` names another folder
that holds both). For each size it first times one objective evaluation (forward + backward)
with each convolution, interleaved, then runs ``stylize`` with the faster one (or
``--network``) and prints the wall time, iterations, evaluations and final loss; the
pictures go to ``--out`` as ``stylize_<size>.png`` (and every ``--save-every`` iterations to
``stylize_<size>_partial.png``).
On a shared machine the times are noisy: compare ratios from one run, not across runs.
"""

import argparse
import os
import time

import numpy as np

from nst_numpy import image as im
from nst_numpy import load_vgg, transfer


def time_evaluation(models, content, style, size, repeats=2):
    """Seconds per objective evaluation for each model, best of ``repeats``, interleaved."""
    best = {name: float("inf") for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            # iterations=1 of L-BFGS costs about two evaluations; time them via the result.
            result = transfer.stylize(content, style, model=model, size=size, iterations=1)
            best[name] = min(best[name], result.seconds / result.evaluations)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--images", help="folder with green_sea_turtle.jpg and great_wave.jpg "
                        "(default: the copies shipped in nst_numpy/data/)")
    parser.add_argument("--out", default="bench_out", help="folder for the pictures (default: ./bench_out)")
    parser.add_argument("--network", choices=["plain", "fast"],
                        help="skip the comparison and use this network")
    parser.add_argument("--save-every", type=int, default=25,
                        help="also write stylize_<size>_partial.png every N iterations")
    args = parser.parse_args(argv)

    if args.images:
        content = os.path.join(args.images, "green_sea_turtle.jpg")
        style = os.path.join(args.images, "great_wave.jpg")
    else:
        content, style = im.quiz_images()
    os.makedirs(args.out, exist_ok=True)
    models = {name: load_vgg(fast=name == "fast") for name in ("plain", "fast")}
    print(f"numpy {np.__version__}, {os.cpu_count()} cpus, load average {os.getloadavg()}",
          flush=True)
    for size in args.sizes:
        impl = args.network
        if impl is None:
            per_eval = time_evaluation(models, content, style, size)
            impl = min(per_eval, key=per_eval.get)
            print(f"{size}px: seconds per evaluation " +
                  ", ".join(f"{k} {v:.2f}" for k, v in per_eval.items()) +
                  f"; plain/fast = {per_eval['plain'] / per_eval['fast']:.2f}",
                  flush=True)
        partial = os.path.join(args.out, f"stylize_{size}_partial.png")

        def save_partial(state):
            if state.iteration % args.save_every == 0:
                im.save_image(state.image(), partial)

        start = time.perf_counter()
        result = transfer.stylize(content, style, model=models[impl], size=size,
                                  iterations=args.iterations, progress=True,
                                  callback=save_partial)
        wall = time.perf_counter() - start
        path = im.save_image(result.image, os.path.join(args.out, f"stylize_{size}.png"))
        print(f"{size}px {impl}: {wall:.0f} s wall ({result.seconds:.0f} s optimising), "
              f"{result.iterations} iterations, {result.evaluations} evaluations, "
              f"final loss {result.loss:.4g} (content {result.history['content'][-1]:.3g}, "
              f"style {result.history['style'][-1]:.3g}, tv {result.history['tv'][-1]:.3g}); "
              f"{result.message}; wrote {path}; load average {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
