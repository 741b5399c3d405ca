"""Why coarse-to-fine saves little: the full-size loss, term by term, of where each run starts.

    python benchmarks/upsampled_start.py --size 256 --scales 3 --coarse-iterations 50 --iterations 300

On the quiz's images and ``stylize``'s defaults, it evaluates the full-size objective, with
the style loss split by layer (each layer's ``beta * w_l * E_l``), at

1. the content image, where single-scale starts;
2. the coarse levels' result upsampled to full size, where coarse-to-fine's last level
   starts (the coarse levels run as ``stylize(..., scales=S)`` would run them);
3. single-scale after as many seconds as the coarse levels took;
4. single-scale after ``--iterations``: the target of ``python -m benchmarks.bench
   --whole-run``.

docs/benchmarks.md records a run.
"""

import argparse
import os
import sys
import time

if __package__ in (None, ""):   # run as a script, python benchmarks/upsampled_start.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.bench_run import full_size_objective
from nst_numpy import image as im
from nst_numpy import losses, transfer
from nst_numpy.pyramid import upsample


def breakdown(objective, x):
    """{term: value} of the full-size loss at x: content, each style layer, TV, total."""
    content_term, style_term, _ = objective.terms   # Content, GramStyle, TotalVariation
    (P, _), A, _ = objective.targets                # Content's (P, 1), GramStyle's A, TV's None
    alpha, beta, tv_weight = objective.weights
    F = objective.model.features(x, objective.layers)
    parts = {"content": alpha * losses.content_loss(F, P, content_term.layer_weights)[0]}
    weights = style_term.weights_per_layer()
    for layer, A_l in A.items():
        parts[layer] = beta * weights[layer] * losses.style_layer_loss(F[layer], A_l)[0]
    parts["tv"] = tv_weight * losses.total_variation_loss(x)[0]
    parts["total"] = float(objective(x)[0])
    return parts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--scales", type=int, default=3)
    parser.add_argument("--coarse-iterations", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args(argv)
    content, style = im.quiz_images()
    objective, x0 = full_size_objective(content, style, args.size)
    rows = {"content image (single-scale's start)": x0}

    started = time.perf_counter()
    coarse = transfer.stylize(content, style, size=args.size // 2, scales=args.scales - 1,
                              iterations=[args.coarse_iterations] * (args.scales - 1))
    coarse_seconds = time.perf_counter() - started
    rows[f"{args.scales - 1} coarse levels, upsampled ({coarse_seconds:.0f} s)"] = \
        upsample(coarse.x, x0.shape[1:])

    def stop_after(seconds):
        return lambda state: state.seconds >= seconds

    same_time = transfer.stylize(content, style, size=args.size, iterations=args.iterations,
                                 callback=stop_after(coarse_seconds))
    rows[f"single-scale after {same_time.iterations} iterations ({same_time.seconds:.0f} s)"] = \
        same_time.x
    final = transfer.stylize(content, style, size=args.size, iterations=args.iterations)
    rows[f"single-scale after {final.iterations} iterations ({final.seconds:.0f} s)"] = final.x

    table = {name: breakdown(objective, x) for name, x in rows.items()}
    terms = list(next(iter(table.values())))
    print(f"full-size loss terms at {args.size} px (turtle + Great Wave, stylize's defaults)")
    print(f"{'':>46} " + " ".join(f"{t:>9}" for t in terms))
    for name, parts in table.items():
        print(f"{name:>46} " + " ".join(f"{parts[t]:9.3g}" for t in terms))


if __name__ == "__main__":
    main()
