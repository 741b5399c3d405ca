"""The measurements behind the defaults of the optional losses and networks
(docs/features.md), on the turtle and the Great Wave:

    python benchmarks/feature_defaults.py [--out DIR]

1. Normalised VGG, the style ratio (terms.NORMALIZED_STYLE_PER_POSITION): first the
   ratio r' that gives the normalised network the balance the default ratio gives the
   original one at the start, balance = beta L_style(content image) / L_content(noise),
   at 128 and 256 px (no optimisation); then runs at 256 px, 100 iterations, at several
   ratios, beside the original network's default.
2. MRF loss, the optimiser and Adam's step (loop.default_optimizer, terms.MRF_ADAM_LR),
   then beta (terms.MRF_WEIGHT), 128 px, 60 iterations: L-BFGS-B and Adam with steps 2, 5
   and 10 at beta 0.1; then Adam's step 2 at beta 0.03 and 1.
3. Normalised gradients, beta (terms.NORMALIZED_GRADIENTS_WEIGHT): Adam at 256 px, 150
   iterations.

Each run prints its iterations, evaluations, start and end loss, and writes its picture to
--out, to look at.
"""

import argparse
import os
import time

import numpy as np

from nst_numpy import image as im
from nst_numpy import load_vgg, terms, transfer
from nst_numpy.objective import Objective


def balance_ratio(turtle, wave):
    balance, content_scale = {}, {}
    for normalized in (False, True):
        model = load_vgg(fast=True, normalized=normalized)
        for size in (128, 256):
            shape = transfer.output_shape(turtle, size)
            # stylize's content and style terms, beta 1 and no TV term
            objective = Objective(model, [terms.Content(turtle),
                                          terms.GramStyle([wave], weight=1.0)], shape)
            objective(transfer.starting_image("noise", turtle, [wave], shape, 0, np.float32))
            content = objective.last.content
            objective(transfer.starting_image("content", turtle, [wave], shape, 0, np.float32))
            balance[normalized, size] = objective.last.style / content
            content_scale[normalized, size] = content
    for size in (128, 256):
        ratio = terms.STYLE_PER_POSITION * balance[False, size] / balance[True, size]
        print(f"normalised VGG, {size} px: L_style(content) / L_content(noise) is "
              f"{balance[False, size]:.4g} (original), {balance[True, size]:.4g} (normalised); "
              f"the default balance needs ratio {ratio:.3g}; L_content(noise) is "
              f"{content_scale[False, size]:.3g} (original), {content_scale[True, size]:.3g} "
              "(normalised)", flush=True)


def one_run(label, out, turtle, wave, **kwargs):
    started = time.perf_counter()
    result = transfer.stylize(turtle, wave, **kwargs)
    print(f"{label}: {result.iterations} iterations, {result.evaluations} evaluations, loss "
          f"{result.initial.total:.4g} -> {result.loss:.4g} (content "
          f"{result.history['content'][-1]:.3g}, style {result.history['style'][-1]:.3g}), "
          f"stopped {result.stopped}, {time.perf_counter() - started:.0f} s", flush=True)
    im.save_image(result.best_image, os.path.join(out, label.replace(" ", "_") + ".png"))


def main():
    parser = argparse.ArgumentParser(description="The measurements behind the defaults of "
                                                 "the optional losses (docs/features.md).")
    parser.add_argument("--out", default="feature_defaults", help="where the pictures go")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    turtle, wave = im.quiz_images()
    balance_ratio(turtle, wave)
    M = 32 * 24   # relu4_2's positions for the 256x192 turtle
    one_run("original vgg default", args.out, turtle, wave, size=256, iterations=100)
    for ratio in (3e3, 1e4, 3.5e4):
        one_run(f"normalised vgg ratio {ratio:g}", args.out, turtle, wave, normalized=True,
                beta=ratio * M, size=256, iterations=100)
    mrf = dict(style_loss="mrf", size=128, iterations=60)
    one_run("mrf lbfgs", args.out, turtle, wave, optimizer="lbfgs", beta=0.1, **mrf)
    for lr in (2.0, 5.0, 10.0):
        one_run(f"mrf adam lr {lr:g}", args.out, turtle, wave, lr=lr, beta=0.1, **mrf)
    for beta in (0.03, 1.0):
        one_run(f"mrf adam lr 2 beta {beta:g}", args.out, turtle, wave, lr=2.0, beta=beta,
                **mrf)
    for beta in (2.0, 10.0, 100.0):
        one_run(f"normalised gradients beta {beta:g}", args.out, turtle, wave,
                normalize_gradients=True, beta=beta, size=256, iterations=150)


if __name__ == "__main__":
    main()
