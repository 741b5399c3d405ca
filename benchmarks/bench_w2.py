"""What the Wasserstein-2 style loss costs an evaluation, against the Gram loss's:

    python -m benchmarks.bench_w2 [--sizes 256 512] [--repeats 5]

At each size, two objectives of stylize's defaults on the quiz's images (content, the style
term at the default layers, TV; the fast network, float32), one with ``GramStyle`` and one
with ``W2Style``, evaluated at the content image. Each round times, one after the other:
each style term's loss alone (its value and ``dL/dF^l`` at every style layer, on the same
features), Gram's also on one BLAS thread and W2's also with BLAS on its default threads
(``wasserstein.w2_loss`` called directly; the term runs it on one BLAS thread), and one
whole ``Objective`` call of each (forward, every term, backward). Medians in seconds, and
the ratios to Gram's (loss, or call).
docs/benchmarks.md records a run.
"""

import argparse
import time

import numpy as np

from nst_numpy import image as im
from nst_numpy import load_vgg, terms, transfer, wasserstein
from nst_numpy.fast.parallel import single_threaded_blas
from nst_numpy.objective import Objective


def seconds(fn):
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def one_thread(fn, *args):
    with single_threaded_blas():
        return fn(*args)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    content, style = im.quiz_images()
    model = load_vgg(fast=True)
    for size in args.sizes:
        shape = transfer.output_shape(content, size)
        x = transfer.starting_image("content", content, [style], shape, 0, np.float32)
        gram, w2 = (Objective(model, [terms.Content(content), cls(style),
                                      terms.TotalVariation()], shape)
                    for cls in (terms.GramStyle, terms.W2Style))
        F, _ = model.forward(x, list(terms.STYLE_LAYERS))
        timers = {
            "Gram loss": lambda: gram.terms[1].loss(F, gram.targets[1]),
            "Gram loss, one BLAS thread": lambda: one_thread(gram.terms[1].loss, F,
                                                             gram.targets[1]),
            "W2 loss": lambda: w2.terms[1].loss(F, w2.targets[1]),
            "W2 loss, BLAS threads": lambda: wasserstein.w2_loss(F, w2.targets[1]),
            "Gram Objective call": lambda: gram(x),
            "W2 Objective call": lambda: w2(x)}
        times = {name: [] for name in timers}
        for _ in range(args.repeats):
            for name, fn in timers.items():
                times[name].append(seconds(fn))
        median = {name: float(np.median(t)) for name, t in times.items()}
        print(f"{size} px ({shape[0]}x{shape[1]}), median of {args.repeats} rounds:", flush=True)
        for name, value in median.items():
            reference = median["Gram Objective call" if "call" in name else "Gram loss"]
            print(f"  {name:>26} {value:8.3f} s  {value / reference:6.2f} x Gram's", flush=True)


if __name__ == "__main__":
    main()
