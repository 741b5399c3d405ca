"""Where one evaluation of the whole-run objective goes, against PyTorch's on the same one.

    python benchmarks/iteration_parts.py --size 512 --repeats 5

On the objective of ``python -m benchmarks.bench --whole-run`` (the quiz's images, stylize's
defaults) at a point 20 L-BFGS iterations in, it times, interleaved, each round: the fast
network's forward to the loss layers, eq (7) and its gradients (the Gram matrices: each
term's loss and ``dL/dF^l``, weighted and summed as ``Objective`` does), the backward pass,
the TV term, the whole ``Objective`` call, one evaluation of the same objective in PyTorch
(:func:`benchmarks.bench_run.torch_loss`: forward, loss, backward); then, from two stylize
runs (10 and 30 iterations), an iteration's marginal cost and the part of it outside the
objective. Medians, in seconds. docs/benchmarks.md records a run.
"""

import argparse
import functools
import importlib.util
import os
import sys
import time

import numpy as np

if __package__ in (None, ""):   # run as a script, python benchmarks/iteration_parts.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.bench_run import full_size_objective, torch_loss
from nst_numpy import image as im
from nst_numpy import losses, transfer


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def torch_evaluation(objective):
    """A function x -> seconds of one PyTorch forward + loss + backward of the objective."""
    import torch

    loss_of = torch_loss(objective)

    def evaluate(x_numpy):
        x = torch.from_numpy(x_numpy).requires_grad_()
        started = time.perf_counter()
        loss_of(x).backward()
        return time.perf_counter() - started
    return evaluate


def feature_losses(objective, F):
    """Eq (7) over the terms of the features, as the Objective call computes it: the
    weighted sum of their losses and {layer: dL/dF^l}, summed where terms share a layer."""
    loss, grads = 0.0, {}
    for term, targets, w in zip(objective.terms, objective.targets, objective.weights):
        if term.on_pixels:
            continue
        value, dL = term.loss(F, targets)
        loss += w * float(value)
        for layer, g in dL.items():
            g = g * g.dtype.type(w)
            grads[layer] = grads[layer] + g if layer in grads else g
    return loss, grads


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    content, style = im.quiz_images()
    objective, _ = full_size_objective(content, style, args.size)
    x = transfer.stylize(content, style, size=args.size, iterations=20).x
    model = objective.model
    parts = {name: [] for name in ("forward", "eq (7) + Grams", "backward", "TV",
                                   "Objective call", "torch evaluation")}
    torch_eval = torch_evaluation(objective) if importlib.util.find_spec("torch") else None
    for _ in range(args.repeats):
        seconds, (F, tape) = timed(lambda: model.forward(x, objective.layers))
        parts["forward"].append(seconds)
        seconds, (_, grads) = timed(functools.partial(feature_losses, objective, F))
        parts["eq (7) + Grams"].append(seconds)
        del F   # as in the Objective call: the backward pass needs only the tape
        parts["backward"].append(timed(functools.partial(model.backward, grads, tape))[0])
        del tape
        parts["TV"].append(timed(lambda: losses.total_variation_loss(x))[0])
        parts["Objective call"].append(timed(lambda: objective(x))[0])
        if torch_eval:
            parts["torch evaluation"].append(torch_eval(x.copy()))
    print(f"one evaluation at {args.size} px ({x.shape[1]}x{x.shape[2]}), median of "
          f"{args.repeats} interleaved rounds, seconds")
    for name, times in parts.items():
        if times:
            print(f"{name:>18} {np.median(times):7.3f}")
    # The marginal cost of an iteration: the difference of two runs, so that what a run
    # pays once (images, targets, scipy's set-up) cancels.
    short, long = (transfer.stylize(content, style, size=args.size, iterations=n)
                   for n in (10, 30))
    per_iteration = (long.seconds - short.seconds) / (long.iterations - short.iterations)
    evaluations = (long.evaluations - short.evaluations) / (long.iterations - short.iterations)
    outside = per_iteration - evaluations * np.median(parts["Objective call"])
    print(f"stylize, iterations 11-30: {per_iteration:.3f} s an iteration, {evaluations:.2f} "
          f"evaluations an iteration; outside the objective: {outside:.3f} s an iteration; "
          f"paid once per run: {short.seconds - 10 * per_iteration:.1f} s")


if __name__ == "__main__":
    main()
