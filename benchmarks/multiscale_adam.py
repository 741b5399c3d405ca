"""crowsonkb's multi-scale recipe on nst_numpy's objective, against single-scale L-BFGS-B.

The recipe of crowsonkb/style-transfer-pytorch (MIT licence; read for its numbers, not its
code): sizes growing by sqrt(2) from 128 px to the output's, Adam (step 0.02 of the pixel
range, betas 0.9 and 0.99) for 1000 iterations at the first size and 500 at each further
one, the pixels clamped to their range after every step, a bias-corrected exponential
moving average (decay 0.99) of the iterates as each size's result, and the next size
started from that average upsampled (bicubic), with Adam's moments carried over (the
first bicubic, the second bilinear and kept >= 0).

Here it minimises stylize's default objective (the loss of the question is nst_numpy's,
not the recipe's own W2 loss and weights) on the quiz's or the demo's pictures, and is
compared with ``stylize``'s single-scale L-BFGS-B in the same process: the seconds each
needs to bring the full-size loss within a margin of the loss of 300 L-BFGS-B iterations.
The average's full-size loss is evaluated every ``--every`` iterations of the last size,
with the clock paused (the recipe itself never evaluates it).

    python benchmarks/multiscale_adam.py --size 256 --pair quiz
"""

import os
import sys
import time

import numpy as np
from PIL import Image

if __package__ in (None, ""):   # run as a script: find nst_numpy and benchmarks/
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.bench_run import PAIRS, lever_parser, print_looser_targets, run_nst
from nst_numpy import image as im
from nst_numpy import load_vgg, transfer
from nst_numpy.objective import Objective
from nst_numpy.pyramid import upsample
from nst_numpy.terms import Content, GramStyle, TotalVariation


def recipe_sides(side, smallest=128):
    """The recipe's sizes: ``side`` / sqrt(2)^i down to ``smallest``, coarse to fine."""
    sides, i = [], 0
    while round(side / 2 ** (i / 2)) >= smallest:
        sides.append(round(side / 2 ** (i / 2)))
        i += 1
    return sorted(set(sides))


def resize(a, shape, resample):
    """Each channel of a (3, h, w) float array resized to (H, W) with PIL's ``resample``."""
    H, W = shape
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(c, np.float32), mode="F")
                                .resize((W, H), resample)) for c in a])


def run_recipe(content, style, size, iterations=(1000, 500), every=10, smallest=128,
               lr=0.02 * 255, betas=(0.9, 0.99), decay=0.99, eps=1e-8, target=None):
    """The recipe on stylize's default objective. Returns [(seconds, full-size loss of the
    average)] at the last size, every ``every`` iterations, and the number of sizes; stops
    once the average reaches ``target``."""
    model = load_vgg(fast=True)
    terms = [Content(content), GramStyle(style), TotalVariation()]
    full = transfer.output_shape(content, size)
    shapes = [transfer.output_shape(content, s) for s in recipe_sides(size, smallest)]
    clock, paused, curve = time.perf_counter(), 0.0, []
    x = transfer.starting_image("content", content, [style], shapes[0], 0, np.float32)
    m = v = None
    k = 0   # Adam's step count runs on across sizes, as its moments do
    for level, shape in enumerate(shapes):
        objective = Objective(model, terms, shape, np.float32, full_shape=full)
        low, high = im.pixel_bounds((3, *shape), np.float32)
        if level:
            x = upsample(x, shape)
            m = resize(m, shape, Image.BICUBIC)
            v = np.maximum(resize(v, shape, Image.BILINEAR), 0)
        else:
            m, v = np.zeros_like(x), np.zeros_like(x)
        average, accum = np.zeros_like(x), 1.0
        n = iterations[0] if level == 0 else iterations[1]
        for i in range(1, n + 1):
            k += 1
            _, g = objective(x)
            m = betas[0] * m + (1 - betas[0]) * g
            v = betas[1] * v + (1 - betas[1]) * g * g
            step = lr * (m / (1 - betas[0] ** k)) / (np.sqrt(v / (1 - betas[1] ** k)) + eps)
            x = np.clip(x - step, low, high).astype(np.float32)
            accum *= decay
            average = decay * average + (1 - decay) * x
            if level == len(shapes) - 1 and (i % every == 0 or i == n):
                pause = time.perf_counter()
                seconds = pause - clock - paused
                loss = float(objective(average / (1 - accum))[0])
                paused += time.perf_counter() - pause
                curve.append((seconds, loss))
                print(f"  {shape[1]}x{shape[0]} iteration {i}: average's loss {loss:.4g}, "
                      f"{curve[-1][0]:.0f} s", flush=True)
                if target is not None and loss <= target:
                    return curve, len(shapes)
        x = average / (1 - accum)   # the size's result: the bias-corrected average
    return curve, len(shapes)


def main(argv=None):
    parser = lever_parser(__doc__.split("\n\n")[0],
                          "single-scale L-BFGS-B iterations; their loss is the target")
    parser.add_argument("--schedule", type=int, nargs=2, default=[1000, 500],
                        metavar=("FIRST", "EACH"),
                        help="Adam iterations at the first size and at each further one "
                             "(default: the recipe's 1000 500)")
    parser.add_argument("--every", type=int, default=10,
                        help="evaluate the average's full-size loss every N iterations")
    parser.add_argument("--smallest", type=int, default=128,
                        help="the first size's longer side (default: the recipe's 128)")
    args = parser.parse_args(argv)
    if args.size < args.smallest:
        parser.error(f"--size {args.size} is below --smallest {args.smallest}: the recipe "
                     "needs at least one size; lower --smallest")
    title, images = PAIRS[args.pair]
    content, style = images()
    print(f"{args.size} px, {title}: sizes {recipe_sides(args.size, args.smallest)}, Adam "
          f"{args.schedule[0]} + {args.schedule[1]} per further size", flush=True)
    single, curve, _ = run_nst(content, style, args.size, args.iterations, scales=1)
    print(f"single-scale L-BFGS-B: {single.iterations} iterations, {curve[-1][0]:.0f} s, "
          f"loss {single.loss:.4g}", flush=True)
    recipe, levels = run_recipe(content, style, args.size, args.schedule, args.every,
                                args.smallest, target=single.loss)
    best_seconds, best = min(recipe, key=lambda point: point[1])
    print(f"recipe: {levels} sizes, last average's loss {recipe[-1][1]:.4g} at "
          f"{recipe[-1][0]:.0f} s; best {best:.4g} ({best / single.loss - 1:+.1%}) at "
          f"{best_seconds:.0f} s", flush=True)
    print_looser_targets({"single-scale": curve, "multi-scale Adam + average": recipe},
                         single.loss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
