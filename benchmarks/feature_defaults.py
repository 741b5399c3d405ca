"""The measurements behind the defaults of the optional losses and networks
(docs/features.md), on the turtle and the Great Wave:

    python benchmarks/feature_defaults.py [--out DIR] [--only PART]

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
4. Wasserstein-2 loss: the ridge (wasserstein.RIDGE), from the loss's change against a
   ridge of 1e-7 and float32's error against float64, per layer at 128 px (plain network);
   the normalisation per layer, from each layer's E_l, E_l / N_l and the L1 norm of its
   pixel gradient at the content image, Gram's beside, at 256 px; the ratio
   beta / M_l (terms.W2_STYLE_PER_POSITION) that gives it the Gram default's balance at the
   start, at 128 and 256 px; then runs at 256 px, 100 iterations, at several ratios, and
   the Gram default's beside them (``--only w2-runs``: the runs alone).

Each run prints its iterations, evaluations, start and end loss, and writes its picture to
--out, to look at.
"""

import argparse
import os
import time

import numpy as np

from nst_numpy import image as im
from nst_numpy import load_vgg, losses, terms, transfer, wasserstein
from nst_numpy.objective import Objective


PARTS = ("normalized", "mrf", "gradients", "w2", "w2-runs")
W2_RATIOS = (75.0, 20.0, 5.0)


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


def w2_ridge(turtle, wave, size=128):
    model = load_vgg(fast=False)
    shape = transfer.output_shape(turtle, size)
    layers = list(terms.STYLE_LAYERS)
    style = terms.W2Style([wave])
    F, S = {}, {}
    for dtype in (np.float32, np.float64):
        F[dtype] = model.features(transfer.starting_image("content", turtle, [wave], shape, 0,
                                                          dtype), layers)
        S[dtype] = model.features(style.style_images(shape, dtype)[0], layers)
    for layer in layers:
        reference = wasserstein.w2_layer_loss(
            F[np.float64][layer], wasserstein.w2_target(S[np.float64][layer], ridge=1e-7))[0]
        for ridge in (1e-5, 1e-4, 1e-3, 1e-2, 1e-1):
            (E64, g64), (E32, g32) = (
                wasserstein.w2_layer_loss(F[dt][layer],
                                          wasserstein.w2_target(S[dt][layer], ridge=ridge))
                for dt in (np.float64, np.float32))
            print(f"w2 ridge {ridge:g}, {layer}, {size} px: E_l changes by "
                  f"{(E64 - reference) / reference:+.1e} against ridge 1e-7; float32's error "
                  f"{abs(E32 - E64) / E64:.1e} in E_l, "
                  f"{np.linalg.norm(g32 - g64) / np.linalg.norm(g64):.1e} in dE_l/dF",
                  flush=True)


def w2_layers(turtle, wave, size=256):
    model = load_vgg(fast=True)
    shape = transfer.output_shape(turtle, size)
    layers = list(terms.STYLE_LAYERS)
    A = terms.GramStyle([wave]).targets(model, shape, np.float32)
    T = terms.W2Style([wave]).targets(model, shape, np.float32)
    x = transfer.starting_image("content", turtle, [wave], shape, 0, np.float32)
    F, tape = model.forward(x, layers)
    for layer in layers:
        (E_gram, g_gram), (E_w2, g_w2) = (losses.style_layer_loss(F[layer], A[layer]),
                                          wasserstein.w2_layer_loss(F[layer], T[layer]))
        N = len(F[layer])
        pull_gram, pull_w2 = (float(np.abs(model.backward({layer: g}, tape)).sum())
                              for g in (g_gram, g_w2))
        print(f"w2 layers, {size} px, {layer} (N_l {N}): E_l {E_w2:.3g}, E_l / N_l "
              f"{E_w2 / N:.3g}, |dE_l/dx|_1 {pull_w2:.3g}; Gram E_l {E_gram:.3g}, "
              f"|dE_l/dx|_1 {pull_gram:.3g}", flush=True)


def w2_balance(turtle, wave):
    model = load_vgg(fast=True)
    for size in (128, 256):
        shape = transfer.output_shape(turtle, size)
        balance = {}
        for name, style in (("gram", terms.GramStyle([wave], weight=1.0)),
                            ("w2", terms.W2Style([wave], weight=1.0))):
            objective = Objective(model, [terms.Content(turtle), style], shape)
            objective(transfer.starting_image("noise", turtle, [wave], shape, 0, np.float32))
            content = objective.last.content
            objective(transfer.starting_image("content", turtle, [wave], shape, 0,
                                              np.float32))
            balance[name] = objective.last.style / content
        print(f"w2, {size} px: L_style(content) / L_content(noise) is {balance['gram']:.4g} "
              f"(Gram), {balance['w2']:.4g} (W2); Gram's default balance needs ratio "
              f"{terms.STYLE_PER_POSITION * balance['gram'] / balance['w2']:.3g}", flush=True)


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
    parser.add_argument("--only", choices=PARTS, help="one part of the measurements (default: all)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    turtle, wave = im.quiz_images()
    M = 32 * 24   # relu4_2's positions for the 256x192 turtle
    if args.only in (None, "normalized"):
        balance_ratio(turtle, wave)
    if args.only in (None, "w2"):
        w2_ridge(turtle, wave)
        w2_layers(turtle, wave)
        w2_balance(turtle, wave)
    if args.only in (None, "normalized"):
        one_run("original vgg default", args.out, turtle, wave, size=256, iterations=100)
        for ratio in (3e3, 1e4, 3.5e4):
            one_run(f"normalised vgg ratio {ratio:g}", args.out, turtle, wave, normalized=True,
                    beta=ratio * M, size=256, iterations=100)
    if args.only in (None, "mrf"):
        mrf = dict(style_loss="mrf", size=128, iterations=60)
        one_run("mrf lbfgs", args.out, turtle, wave, optimizer="lbfgs", beta=0.1, **mrf)
        for lr in (2.0, 5.0, 10.0):
            one_run(f"mrf adam lr {lr:g}", args.out, turtle, wave, lr=lr, beta=0.1, **mrf)
        for beta in (0.03, 1.0):
            one_run(f"mrf adam lr 2 beta {beta:g}", args.out, turtle, wave, lr=2.0, beta=beta,
                    **mrf)
    if args.only in (None, "gradients"):
        for beta in (2.0, 10.0, 100.0):
            one_run(f"normalised gradients beta {beta:g}", args.out, turtle, wave,
                    normalize_gradients=True, beta=beta, size=256, iterations=150)
    if args.only in (None, "w2", "w2-runs"):
        for ratio in W2_RATIOS:
            one_run(f"w2 ratio {ratio:g}", args.out, turtle, wave, style_loss="w2",
                    beta=ratio * M, size=256, iterations=100)
        if args.only in ("w2", "w2-runs"):   # Gram's picture beside them
            one_run("original vgg default", args.out, turtle, wave, size=256, iterations=100)


if __name__ == "__main__":
    main()
