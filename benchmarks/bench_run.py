"""``python -m benchmarks.bench --whole-run``: the time a whole stylization takes to reach a given loss.

The question a user asks is not how fast one forward + backward pass is but how soon the
picture is finished. This mode answers it on one objective, the defaults of ``stylize`` on
the quiz's images (content ``relu4_2``, five style layers, the default beta and TV weight,
max pooling, starting from the content image), evaluated at full size:

1. **single-scale**: ``stylize(..., scales=1)`` with L-BFGS for ``--iterations``; its final
   full-size loss is the target;
2. **coarse-to-fine**: ``stylize(..., scales=S)``, stopped as soon as its full-size loss
   reaches the target (or its iterations run out);
3. **PyTorch**, when installed: the same objective (the same weights, layers, loss weights,
   targets and starting image) built from ``torch.nn.functional`` and minimised by
   ``torch.optim.LBFGS`` (strong Wolfe line search, history 10) for ``--iterations``, twice:
   clamping the pixels inside the closure, as PyTorch's style-transfer tutorial does, and
   unbounded, whose pixels may leave 0-255 and whose loss is therefore taken after clamping
   them (nst_numpy's objective, every 5th evaluation). Each is timed to the loss of
   nst_numpy's default run (the stopping rule's ``tol``) and of the whole run, on the
   picture a user gets, or reported with the best loss it reached and when.

With ``--tols T ...``, the stopping rule of :func:`nst_numpy.loop.stalled` is applied to
single-scale's loss history: for each tol, the iteration at which it would end the run, the
seconds and the loss there against the whole run's. A run with ``tol`` follows the same
iterates as one with ``tol=0`` until it stops (a test checks this), so it is read off the
same run, which also makes the time ratio free of the machine's changing load.
``--pairs quiz demo`` runs all of this on the quiz's pictures and on the demo's in turn.

For each it prints the seconds to the target, the ratio to single-scale, and the final loss;
``--curves FILE`` writes every run's (seconds, full-size loss) pairs as JSON and ``--out DIR``
the pictures, for docs/benchmarks.md.
"""

import argparse
import importlib.util
import json
import os
import re
import time

import numpy as np

from nst_numpy import image as im
from nst_numpy import load_vgg, transfer
from nst_numpy.loop import DEFAULT_TOL, STOP_WINDOW, stalled
from nst_numpy.objective import Objective
from nst_numpy.pyramid import level_iterations, level_sides
from nst_numpy.terms import Content, GramStyle, TotalVariation


def full_size_objective(content, style, size):
    """nst_numpy's objective of a single-scale run at ``size`` with stylize's defaults, and
    its start x0 (the content image)."""
    shape = transfer.output_shape(content, size)
    objective = Objective(load_vgg(fast=True), [Content(content), GramStyle(style),
                                                 TotalVariation()], shape)
    x0 = transfer.starting_image("content", content, [style], shape, 0, np.float32)
    return objective, x0


PAIRS = {"quiz": ("turtle + Great Wave", im.quiz_images),
         "demo": ("the demo's pictures", im.demo_images)}


def run_nst(content, style, size, iterations, scales, target=None, **options):
    """One stylize run, every iteration (tol=0), with stylize's other ``options``:
    (StylizeResult, [(seconds, full-size loss)], seconds to target)."""
    levels = level_iterations(iterations, scales)

    def stop_at_target(state):
        return state.level == state.levels and target is not None and state.losses.total <= target

    result = transfer.stylize(content, style, size=size, iterations=levels, scales=scales,
                              callback=stop_at_target, tol=0, **options)
    last = len(result.history["total"]) - result.levels[-1]["iterations"]
    curve = list(zip(result.times[last:], result.history["total"][last:]))
    return result, curve, None if target is None else seconds_to(curve, target)


def torch_loss(objective):
    """nst_numpy's objective (the defaults' equal style layer weights) written with
    ``torch.nn.functional``: x (3, H, W) tensor -> the total loss, eq (7) plus TV."""
    import torch
    import torch.nn.functional as F

    model = objective.model
    kernels = {name: (torch.from_numpy(np.ascontiguousarray(k, np.float32)),
                      torch.from_numpy(np.ascontiguousarray(b, np.float32)))
               for name, (k, b) in model.params.items()}
    layers = objective.layers
    deepest = max(layers, key=model.layer_names.index)

    def features(x):
        out, h = {}, x[None]
        for name in model.layer_names[:model.layer_names.index(deepest) + 1]:
            if name.startswith("conv"):
                h = F.conv2d(h, *kernels[name], padding=1)
            elif name.startswith("relu"):
                h = F.relu(h)
            else:
                h = F.max_pool2d(h, 2)
            if name in layers:
                out[name] = h[0]
        return out

    (P, _), A, _ = objective.targets   # Content's (P, 1), GramStyle's A, TV's None
    P = {k: torch.from_numpy(v) for k, v in P.items()}
    A = {k: torch.from_numpy(v) for k, v in A.items()}
    w = {layer: 1.0 / len(A) for layer in A}
    alpha, beta, tv_weight = objective.weights

    def loss_of(x):
        feats = features(x)
        content = sum(0.5 * ((feats[l] - P[l]) ** 2).sum() for l in P)
        style = 0
        for l, gram in A.items():
            Fl = feats[l].reshape(feats[l].shape[0], -1)
            N, M = Fl.shape
            style = style + w[l] * ((Fl @ Fl.T - gram) ** 2).sum() / (4 * N**2 * M**2)
        tv = ((x[:, 1:] - x[:, :-1]) ** 2).sum() + ((x[:, :, 1:] - x[:, :, :-1]) ** 2).sum()
        return alpha * content + beta * style + tv_weight * tv
    return loss_of


def run_torch(objective, x0, iterations, threads=None, clamp=False, setup=0.0):
    """The same objective in PyTorch, minimised by torch.optim.LBFGS for ``iterations``.

    clamp=False: unbounded, as PyTorch users often run it; clamp=True: as PyTorch's
    style-transfer tutorial runs it, clamping the pixels to their bounds at the start of
    every evaluation. Returns ([(seconds, loss)] per evaluation, counted from ``setup``
    seconds (the targets' computation, which nst_numpy's clock includes), the evaluated x
    of each evaluation as numpy (3, H, W) when unbounded (else an empty list; their copies
    are not timed), the final x, {"iterations", "evaluations"}); with clamp=True each loss
    is already that of a picture in bounds.
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    loss_of = torch_loss(objective)
    low, high = (torch.from_numpy(np.broadcast_to(b, x0.shape).copy())
                 for b in im.pixel_bounds(x0.shape, x0.dtype))

    # One step() call runs all the iterations, as PyTorch users run L-BFGS: calling step()
    # once per iteration (max_iter=1) restarts its line search from stale state, and the
    # loss oscillates without decreasing (measured: 6.1e11 after 60 iterations at 96 px,
    # against 4.2e10 for one call). The closure is the only place to watch the run.
    x = torch.from_numpy(x0.copy()).requires_grad_()
    optimizer = torch.optim.LBFGS([x], lr=1, max_iter=iterations, max_eval=2 * iterations,
                                  history_size=10, line_search_fn="strong_wolfe",
                                  tolerance_grad=0, tolerance_change=0)
    curve, evaluated, paused = [], [], [0.0]
    started = time.perf_counter() - setup

    def closure():
        if clamp:
            with torch.no_grad():
                x.copy_(torch.minimum(torch.maximum(x, low), high))
        optimizer.zero_grad()
        loss = loss_of(x)
        loss.backward()
        now = time.perf_counter()
        curve.append((now - started - paused[0], loss.item()))
        if not clamp:
            evaluated.append(x.detach().numpy().copy())
            paused[0] += time.perf_counter() - now
        return loss

    optimizer.step(closure)
    state = optimizer.state[x]
    counts = {"iterations": state.get("n_iter", 0), "evaluations": state.get("func_evals", 0)}
    return curve, evaluated, x.detach().numpy().copy(), counts


def clamped_curve(objective, curve, evaluated, every=5):
    """[(seconds, loss after clamping)] of an unbounded run, the picture a user gets at each
    evaluation: nst_numpy's objective at every ``every``-th evaluation and the last, and at
    each evaluation before the first sampled one at the run's best sampled loss (so the
    time that loss is first reached is exact to the evaluation)."""
    sampled = {k: clamped_loss(objective, evaluated[k])
               for k in {*range(every - 1, len(evaluated), every), len(evaluated) - 1}}
    best = min(sampled.values())
    first = min(k for k, loss in sampled.items() if loss == best)
    for k in range(max(0, first - every + 1), first):
        sampled[k] = clamped_loss(objective, evaluated[k])
    return [(curve[k][0], sampled[k]) for k in sorted(sampled)]


def compare_torch(objective, x0, iterations, reference, threads=None, setup=0.0):
    """PyTorch's L-BFGS, unbounded and clamped in the closure, against nst_numpy's runs in
    ``reference`` ({name: (seconds, loss)}): the seconds each PyTorch run needs to bring the
    picture a user gets (pixels in 0-255) to each reference's loss, or the best it reached.
    Returns ({name: [(seconds, lowest loss so far)]}, {name: the final picture, clamped})."""
    runs, pictures = {}, {}
    for name, clamp in (("torch L-BFGS, clamped in closure", True),
                        ("torch L-BFGS, unbounded", False)):
        curve, evaluated, x, counts = run_torch(objective, x0, iterations, threads, clamp,
                                                setup)
        low, high = im.pixel_bounds(x.shape)
        pictures[name] = im.deprocess(np.clip(x, low, high))
        print(f"{name}: {counts['evaluations']} evaluations in {counts['iterations']} "
              f"iterations, {curve[-1][0]:.0f} s", flush=True)
        if not clamp:
            print(f"  its final pixels: {np.mean((x < low) | (x > high)):.1%} outside 0-255; "
                  f"their loss {float(objective(x)[0]):.4g}, {clamped_loss(objective, x):.4g} "
                  "clamped", flush=True)
            curve = clamped_curve(objective, curve, evaluated)
        del evaluated
        runs[name] = curve
    print("PyTorch against nst_numpy, loss of the picture a user gets (pixels in 0-255):",
          flush=True)
    print(f"{'nst_numpy run':>34} {'seconds':>8} {'loss':>11}   "
          + "   ".join(f"{name:>34}" for name in runs), flush=True)
    for ref_name, (ref_seconds, ref_loss) in reference.items():
        cells = []
        for curve in runs.values():
            seconds = seconds_to(curve, ref_loss)
            if seconds is not None:
                cells.append(f"{seconds:.0f} s ({seconds / ref_seconds:.2f}x)")
            else:
                t, best = min(curve, key=lambda point: point[1])
                cells.append(f"never; best {best:.4g} ({best / ref_loss - 1:+.1%}) at {t:.0f} s")
        print(f"{ref_name:>34} {ref_seconds:8.0f} {ref_loss:11.4g}   "
              + "   ".join(f"{c:>34}" for c in cells), flush=True)
    return ({name: [(t, min(v for _, v in curve[:k + 1])) for k, (t, _) in enumerate(curve)]
             for name, curve in runs.items()}, pictures)


def lever_parser(description, iterations_help):
    """The arguments every lever script shares: --size, --pair, --iterations."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--pair", choices=sorted(PAIRS), default="quiz")
    parser.add_argument("--iterations", type=int, default=300, help=iterations_help)
    return parser


def seconds_to(curve, loss):
    """The first seconds at which a [(seconds, loss)] curve is at or below ``loss``, or None."""
    return next((t for t, value in curve if value <= loss), None)


def print_looser_targets(curves, target, margins=(0.01, 0.02, 0.05, 0.10, 0.20),
                         reference="single-scale"):
    """Seconds each run took to come within each margin of the target, and the ratio to
    the ``reference`` run's: how the comparison depends on how deep into the tail the
    target is."""
    print(f"seconds to come within a margin of the target (ratio to {reference}):",
          flush=True)
    print(f"{'run':>30} " + " ".join(f"{f'+{m:.0%}':>13}" for m in margins))
    for name, curve in curves.items():
        cells = []
        for margin in margins:
            seconds = seconds_to(curve, target * (1 + margin))
            base = seconds_to(curves[reference], target * (1 + margin))
            cells.append(f"{seconds:5.0f} ({seconds / base:4.2f}x)" if seconds is not None
                         else "-")
        print(f"{name:>30} " + " ".join(f"{c:>13}" for c in cells), flush=True)


def stop_point(curve, tol):
    """Where the stopping rule with ``tol`` ends a run of [(seconds, loss)] per iteration:
    (iteration, seconds, loss); the last iteration if it never does."""
    losses = [loss for _, loss in curve]
    k = next((k for k in range(1, len(losses) + 1) if stalled(losses[:k], tol)), len(losses))
    return k, curve[k - 1][0], curve[k - 1][1]


def print_stops(curve, tols):
    """Where the stopping rule with each of ``tols`` ends single-scale's run (its
    [(seconds, loss)] per iteration): iteration, seconds, loss, and each against the whole
    run's."""
    total, final = curve[-1]
    print(f"stopping rule (window {STOP_WINDOW}) applied to single-scale's run:", flush=True)
    print(f"{'tol':>8} {'stops at':>8} {'seconds':>8} {'time':>6} {'loss':>11} {'vs whole':>9}",
          flush=True)
    for tol in tols:
        k, seconds, loss = stop_point(curve, tol)
        print(f"{tol:8.0e} {k:8d} {seconds:8.0f} {seconds / total:5.2f}x "
              f"{loss:11.4g} {loss / final - 1:+8.1%}", flush=True)


def clamped_loss(objective, x):
    """nst_numpy's loss of x with its pixels clamped to 0-255."""
    low, high = im.pixel_bounds(x.shape, x.dtype)
    return float(objective(np.clip(x, low, high))[0])


def curves_path(curves, size, pair="quiz"):
    """The file --curves FILE writes for one size: FILE_SIZE.json (FILE's own extension if
    it has one), FILE_SIZE_PAIR.json for another pair than the quiz's."""
    stem, ext = os.path.splitext(curves)
    return f"{stem}_{size}{'' if pair == 'quiz' else '_' + pair}{ext or '.json'}"


def check_outputs(args):
    """Refuse, before any run, a --curves file that exists or cannot be written and an
    --out that is not a new or empty folder: the benchmark never overwrites a file."""
    paths = [curves_path(args.curves, size, pair) for size in args.sizes
             for pair in args.pairs] if args.curves else []
    for path in paths:
        if os.path.lexists(path):
            raise ValueError(f"--curves would overwrite {path!r}; move it away or choose "
                             "another FILE")
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise ValueError(f"--curves {args.curves!r}: its folder does not exist; create it")
    if args.out and os.path.lexists(args.out) and (not os.path.isdir(args.out)
                                                   or os.listdir(args.out)):
        raise ValueError(f"--out {args.out!r} is a file or a folder that is not empty; give a "
                         "new or empty folder")


def coarsest_side(size, scales):
    """The shorter side of the coarsest level of a run on the quiz's pictures (3:2)."""
    content, _ = im.quiz_images()
    side = level_sides(size, scales)[0]
    return min(transfer.output_shape(content, side))


def run(args):
    """Print the whole-run comparison at each of ``args.sizes``; optionally write curves
    and pictures."""
    for size in args.sizes:
        for pair in args.pairs:
            compare(size, args, pair)
    return 0


def compare(size, args, pair="quiz"):
    """The whole-run comparison at one size; each row is printed as soon as it is measured."""
    title, images = PAIRS[pair]
    content, style = images()
    iterations = args.iterations
    print(f"whole run at {size} px: {title}, stylize's defaults, L-BFGS; "
          f"target: the loss of {iterations} single-scale iterations", flush=True)
    print(f"{'run':>30} {'s to target':>11} {'vs single':>9} {'total s':>8} "
          f"{'final loss':>11} {'iters':>6}", flush=True)
    curves, pictures = {}, {}

    def row(name, seconds, total, loss, iters):
        to_target = f"{seconds:.0f}" if seconds is not None else "not reached"
        ratio = f"{seconds / single.seconds:.2f}x" if seconds is not None else ""
        print(f"{name:>30} {to_target:>11} {ratio:>9} {total:8.0f} {loss:11.4g} {iters:6d}",
              flush=True)

    single, curves["single-scale"], _ = run_nst(content, style, size, iterations, scales=1)
    target, pictures["single-scale"] = single.loss, single.image
    row("single-scale", single.seconds, single.seconds, single.loss, single.iterations)
    if args.tols:
        print_stops(curves["single-scale"], args.tols)
    for scales in args.scales:
        for coarse in args.coarse_iterations or [None]:
            schedule = (iterations if coarse is None
                        else [coarse] * (scales - 1) + [iterations])
            result, curve, seconds = run_nst(content, style, size, schedule, scales, target)
            name = f"coarse-to-fine x{scales}" + (f" ({coarse} coarse)" if coarse else "")
            row(name, seconds, result.seconds, result.loss, result.iterations)
            curves[name], pictures[name] = curve, result.image
    if importlib.util.find_spec("torch") is not None and not args.no_torch:
        built = time.perf_counter()
        objective, x0 = full_size_objective(content, style, size)
        setup = time.perf_counter() - built   # the targets, as in single-scale's clock
        _, seconds, loss = stop_point(curves["single-scale"], DEFAULT_TOL)
        reference = {f"default run (tol={DEFAULT_TOL:g})": (seconds, loss),
                     f"{iterations} iterations (tol=0)": curves["single-scale"][-1]}
        torch_curves, torch_pictures = compare_torch(objective, x0, iterations, reference,
                                                     args.threads, setup)
        curves.update(torch_curves)
        pictures.update(torch_pictures)
    print_looser_targets(curves, target)
    if args.curves:
        with open(curves_path(args.curves, size, pair), "x") as f:
            json.dump({"size": size, "pair": pair, "target": target, "curves": curves}, f)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        for name, rgb in pictures.items():
            slug = re.sub(r"[^a-z0-9x-]+", "_", name.lower()).strip("_")
            prefix = f"{size}_" if pair == "quiz" else f"{size}_{pair}_"
            im.save_image(rgb, os.path.join(args.out, f"{prefix}{slug}.jpg"))
