"""The Gatys et al. algorithm end to end: targets once, an objective, an optimizer.

    L(x) = alpha L_content(x) + beta L_style(x) + tv_weight L_tv(x)        (eq (7) + TV)

1. The content image's activations ``P^l`` and the style images' Gram matrices ``A^l``
   are computed once, before the first iteration (quiz Q11: the iterations never
   re-read the content or style image).
2. :class:`Objective` maps pixels ``x`` to ``(L, dL/dx)``: one forward pass to every
   content and style layer, :func:`nst_numpy.losses.total_loss` for each layer's
   ``dL/dF^l``, one backward pass that injects them all
   (:meth:`nst_numpy.vgg.VGG.backward`), plus the total-variation term.
3. An optimizer from :mod:`nst_numpy.optim` (L-BFGS-B by default) moves the pixels,
   kept inside 0-255 by bounds.

:func:`stylize` wraps the three with image loading, colour preservation, a progress
display, a per-iteration callback, and a record of the best image seen.
"""

from dataclasses import dataclass, field
import math
import sys
import time
import warnings

import numpy as np

from . import image as im
from . import losses, optim
from .vgg import VGG
from .weights import load_weights

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
INITS = ("content", "noise", "style")
PRESERVE_COLOR = (None, "luminance", "histogram")
# beta = STYLE_PER_POSITION * M_l at the first content layer: see default_beta.
STYLE_PER_POSITION = 0.3
# The convolution stylize uses unless told: the fast path. One VGG19 forward + backward took
# 1.7x (256 px) and 1.4-1.7x (512 px) as long with im2col as with Winograd on the project's
# 2-core machine (docs/benchmarks.md; benchmarks/bench_stylize.py compares whole runs).
DEFAULT_CONV_IMPL = "winograd"


class NonFiniteLoss(FloatingPointError):
    """The loss or its gradient became NaN or infinite."""


# ---------------------------------------------------------------------------
# Targets and the objective
# ---------------------------------------------------------------------------

def content_targets(model, x_content, layers):
    """P^l: {layer: activation (N_l, H_l, W_l)} of the preprocessed content image."""
    acts = model.forward(x_content, list(layers))
    return {layer: acts[layer].copy() for layer in layers}


def style_targets(model, x_styles, layers, blend=None, output_shape=None):
    """A^l: {layer: Gram matrix (N_l, N_l)}, the blend of the style images' Grams.

    x_styles: list of preprocessed style images (3, H_s, W_s), any sizes.
    blend: one weight per style image (normalised to sum 1), or None for equal.
    output_shape: (H, W) of the image being generated. G^l = F^l F^l^T sums over the
    M_l positions, so a style image with M_l^s positions is rescaled by M_l / M_l^s:
    the target then asks for the same per-position feature correlations at any size.
    """
    blend = _normalised_blend(blend, len(x_styles))
    positions = _positions(model, output_shape, layers) if output_shape else None
    targets = {}
    for x_style, b in zip(x_styles, blend):
        acts = model.forward(x_style, list(layers))
        for layer in layers:
            F = acts[layer]
            M_s = F.shape[1] * F.shape[2]
            scale = positions[layer] / M_s if positions else 1.0
            # A^l = sum_s b_s (M_l / M_l^s) F_s F_s^T
            gram = losses.gram_matrix(F) * F.dtype.type(b * scale)
            targets[layer] = targets[layer] + gram if layer in targets else gram
    return targets


def _positions(model, shape, layers):
    """M_l = H_l * W_l at each layer for an input of spatial shape (H, W)."""
    H, W = shape
    out, names = {}, model.layer_names
    for name in names[:max(names.index(model.resolve(l)) for l in layers) + 1]:
        if name.startswith("pool"):
            H, W = H // 2, W // 2
        out[name] = H * W
    return {layer: out[model.resolve(layer)] for layer in layers}


def _normalised_blend(blend, n):
    if blend is None:
        return [1.0 / n] * n
    blend = [float(b) for b in blend]
    if len(blend) != n:
        raise ValueError(f"got {len(blend)} style blend weights for {n} style images; give one each")
    if any(b < 0 or not math.isfinite(b) for b in blend) or sum(blend) <= 0:
        raise ValueError(f"style blend weights {blend} must be non-negative with a positive sum")
    return [b / sum(blend) for b in blend]


def default_beta(model, output_shape, content_layers=CONTENT_LAYERS, ratio=None):
    """A style weight beta (with alpha = 1) that balances content and style at any size.

    L_content = 1/2 sum (F - P)^2 sums over the M_l positions of the content layer, so it
    grows with the image's area, while E_l divides by M_l^2 and does not. Scaling beta
    with M_l keeps their balance, so one ratio suits every output size:
    beta = ratio * M_l, M_l = H_l W_l at the first content layer (relu4_2 by default).
    ratio: default :data:`STYLE_PER_POSITION` (0.3: at 256 px the turtle stays clear under
    the Great Wave's strokes; 1 and 5 bury it in waves).
    """
    ratio = STYLE_PER_POSITION if ratio is None else ratio
    layer = content_layers[0] if content_layers else CONTENT_LAYERS[0]
    return ratio * _positions(model, output_shape, [layer])[layer]


@dataclass
class Losses:
    """One evaluation's loss terms, each already weighted: total = content + style + tv."""
    total: float
    content: float
    style: float
    tv: float


class Objective:
    """x (3, H, W) -> (L, dL/dx), with the targets fixed at construction.

    model: a :class:`nst_numpy.vgg.VGG`; P: content targets (may be empty: texture
    synthesis); A: style Grams; alpha, beta: eq (7)'s weights; layer_weights: w_l per
    style layer (None: 1 / number of layers); tv_weight: weight of the TV term.
    ``last`` holds the most recent :class:`Losses`, ``evaluations`` counts the calls.
    """

    def __init__(self, model, P, A, alpha=1.0, beta=1e3, layer_weights=None, tv_weight=0.0):
        self.model, self.P, self.A = model, P, A
        self.alpha, self.beta, self.tv_weight = alpha, beta, tv_weight
        self.layer_weights = layer_weights
        self.layers = list(dict.fromkeys([*P, *A]))
        self.last, self.evaluations = None, 0

    def __call__(self, x):
        self.evaluations += 1
        F = self.model.forward(x, self.layers)
        # losses.total_loss, with the two terms kept apart for the history:
        L_content, content_grads = losses.content_loss(F, self.P)
        L_style, style_grads = losses.style_loss(F, self.A, self.layer_weights)
        # (7)  L = alpha L_content + beta L_style, and its dL/dF^l at every layer (Q6)
        loss = self.alpha * L_content + self.beta * L_style
        grads = losses.combine_gradients(content_grads, style_grads, self.alpha, self.beta)
        dx = self.model.backward(grads)
        if self.tv_weight:
            L_tv, d_tv = losses.total_variation_loss(x)
            loss = loss + self.tv_weight * L_tv
            dx = dx + x.dtype.type(self.tv_weight) * d_tv
        else:
            L_tv = 0.0
        self.last = Losses(float(loss), float(self.alpha * L_content),
                           float(self.beta * L_style), float(self.tv_weight * L_tv))
        if not (math.isfinite(self.last.total) and np.all(np.isfinite(dx))):
            raise NonFiniteLoss(f"the loss became {self.last.total} "
                                f"(content {self.last.content}, style {self.last.style}, "
                                f"tv {self.last.tv})")
        return loss, dx


# ---------------------------------------------------------------------------
# Progress display
# ---------------------------------------------------------------------------

class Progress:
    """Prints the losses as the run goes.

    On a terminal (or in Jupyter) one line is rewritten in place with a carriage
    return; elsewhere (a log file, CI) a plain line every ``every`` iterations.
    """

    def __init__(self, iterations, stream=None, every=None):
        self.iterations = iterations
        self.stream = stream if stream is not None else sys.stderr
        self.inline = _is_interactive(self.stream)
        self.every = every or (1 if self.inline else max(1, iterations // 10))
        self.start, self.width = time.perf_counter(), 0

    def __call__(self, state):
        k = state.iteration
        if k % self.every and k != self.iterations:
            return
        elapsed = time.perf_counter() - self.start
        line = (f"iter {k:>{len(str(self.iterations))}}/{self.iterations}  "
                f"loss {state.losses.total:.4g}  content {state.losses.content:.4g}  "
                f"style {state.losses.style:.4g}  tv {state.losses.tv:.4g}  "
                f"{elapsed:.1f}s ({elapsed / k:.2f}s/it)")
        if self.inline:
            # Pad to the longest line so far: a shorter line fully covers the previous one.
            self.width = max(self.width, len(line))
            self.stream.write("\r" + line.ljust(self.width))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        if self.inline:
            self.stream.write("\n")
            self.stream.flush()


def _is_interactive(stream):
    # Jupyter's cell output (ipykernel's OutStream) renders a carriage return in place.
    if type(stream).__module__.startswith("ipykernel"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


# ---------------------------------------------------------------------------
# stylize
# ---------------------------------------------------------------------------

def default_model(weights=None, pooling="max", conv_impl=DEFAULT_CONV_IMPL):
    """VGG19 with ImageNet weights from ``weights`` (None: the shipped file), ``pooling``
    ("max"/"avg") and ``conv_impl`` ("im2col" or "winograd")."""
    _, params = load_weights(weights, arch="vgg19")
    return VGG.vgg19(params, pooling=pooling, conv_impl=conv_impl)


@dataclass
class IterationState:
    """What a callback sees after each iteration. ``x`` is the preprocessed image
    (3, H, W); :meth:`image` turns it into uint8 RGB (colour preservation applied)."""
    iteration: int
    losses: Losses
    x: np.ndarray
    _finish: object = field(repr=False, default=None)

    def image(self):
        return self._finish(self.x)


@dataclass
class StylizeResult:
    """image: uint8 RGB (H, W, 3), the final picture (the last good one if the run
    stopped early); best_image: the one with the lowest total loss seen;
    history: {"total", "content", "style", "tv"} -> per-iteration weighted losses;
    iterations; evaluations (forward+backward passes); stopped: None when the
    iterations ran out, else "callback", "interrupted", "nonfinite" or "converged";
    message: a sentence saying why the run ended; seconds: wall time of the optimisation.
    """
    image: np.ndarray
    best_image: np.ndarray
    history: dict
    iterations: int
    evaluations: int
    stopped: str
    message: str
    seconds: float
    x: np.ndarray

    @property
    def loss(self):
        return self.history["total"][-1] if self.history["total"] else math.nan


def stylize(content, style, *, model=None, size=512, iterations=300, optimizer="lbfgs",
            lr=None, content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS,
            layer_weights=None, alpha=1.0, beta=None, tv_weight=10.0, style_blend=None,
            style_scale=1.0, preserve_color=None, init="content", seed=0, pooling="max",
            weights=None, conv_impl=DEFAULT_CONV_IMPL, callback=None, progress=False, dtype=np.float32):
    """Neural style transfer: paint ``content`` in the style of ``style``.

    content: a path, PIL image or uint8 RGB array; None synthesises a texture of ``style``.
    style: one image or a list of them (blended by ``style_blend``, default equal).
    model: a :class:`nst_numpy.vgg.VGG`; default: VGG19 from ``weights`` (a weight file;
    None for the shipped one), ``pooling`` ("max"/"avg") and ``conv_impl`` ("im2col" or
    "winograd"; default :data:`DEFAULT_CONV_IMPL`).
    size: longest side of the output in pixels (None keeps the content image's size).
    iterations: optimizer iterations; optimizer: "lbfgs" (default), "adam" or "gd"
    (lr: step size for adam/gd, default 10 and 1).
    content_layers, style_layers: layer names; layer_weights: {style layer: w_l}
    (default 1/len(style_layers)). alpha, beta: eq (7)'s content and style weights
    (beta/alpha is Gatys' style/content ratio; beta=None: :func:`default_beta`, which
    scales with the output's area); tv_weight: total-variation weight.
    style_scale: style images are resized to ``style_scale * size`` on their longest side.
    preserve_color: None, "luminance" (transfer on luminance only, then the content's
    colours) or "histogram" (recolour the styles to the content's colour statistics first).
    init: "content", "noise" (uniform random pixels from ``seed``) or "style".
    callback: f(IterationState) after each iteration; return True to stop.
    progress: True to print the losses (see :class:`Progress`), or a Progress.
    dtype: the network's dtype (float32; float64 for checks).

    Returns a :class:`StylizeResult`. Ctrl-C and a non-finite loss end the run early
    and still return the result, with the last good image (``stopped`` says why).
    """
    if optimizer not in optim.OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(optim.OPTIMIZERS)}")
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {INITS}")
    if preserve_color not in PRESERVE_COLOR:
        raise ValueError(f"unknown preserve_color {preserve_color!r}; choose one of {PRESERVE_COLOR}")
    if size is not None and int(size) < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    if int(iterations) < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    for name, value in (("alpha", alpha), ("beta", 0.0 if beta is None else beta),
                        ("tv_weight", tv_weight), ("style_scale", style_scale)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    if style_scale <= 0:
        raise ValueError(f"style_scale must be positive, got {style_scale}")
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise ValueError("give at least one style image")
    if content is None and preserve_color is not None:
        raise ValueError("preserve_color keeps a content image's colours; give a content image")
    content_layers = [] if content is None else list(content_layers)
    style_layers = list(style_layers)
    if not style_layers and not content_layers:
        raise ValueError("no content or style layer to optimise; name at least one layer")

    # --- images -----------------------------------------------------------------------
    style_rgbs = [im.load_image(s) for s in styles]
    if content is None:
        H0, W0 = style_rgbs[0].shape[:2]
        content_rgb = None
    else:
        content_rgb = im.load_image(content)
        H0, W0 = content_rgb.shape[:2]
    if size is not None:
        scale = int(size) / max(H0, W0)
        H, W = max(1, round(H0 * scale)), max(1, round(W0 * scale))
    else:
        H, W = H0, W0
    if content_rgb is not None:
        content_rgb = im.resize(content_rgb, H, W)
    style_side = max(1, round(style_scale * max(H, W)))
    style_rgbs = [im.resize_longest(s, style_side) for s in style_rgbs]
    if preserve_color == "histogram" and content_rgb is not None:
        style_rgbs = [im.match_colour(s, content_rgb) for s in style_rgbs]
    colour_source = content_rgb
    if preserve_color == "luminance" and content_rgb is not None:
        style_rgbs = [im.luminance_image(s, like=content_rgb) for s in style_rgbs]
        content_rgb = im.luminance_image(content_rgb)

    def finish(x):
        """Preprocessed x -> the output picture, colours restored for luminance transfer."""
        rgb = im.deprocess(x)
        if preserve_color == "luminance" and colour_source is not None:
            return im.combine_luminance(rgb, colour_source)
        return rgb

    # --- model and targets (computed once: quiz Q11) ----------------------------------
    if model is None:
        model = default_model(weights, pooling, conv_impl)
    P = {} if content_rgb is None else content_targets(model, im.preprocess(content_rgb, dtype),
                                                          content_layers)
    A = style_targets(model, [im.preprocess(s, dtype) for s in style_rgbs], style_layers,
                      style_blend, output_shape=(H, W)) if style_layers else {}
    if beta is None:
        beta = default_beta(model, (H, W), content_layers)
    objective = Objective(model, P, A, alpha, beta, layer_weights, tv_weight)

    rng = np.random.default_rng(seed)
    if init == "content" and content_rgb is not None:
        start = content_rgb
    elif init == "style":
        start = im.resize(style_rgbs[0], H, W)
    else:
        start = rng.uniform(0, 255, size=(H, W, 3))
    x0 = im.preprocess(start, dtype)
    bounds = im.pixel_bounds(x0.shape, dtype)

    # --- run ----------------------------------------------------------------------------
    history = {"total": [], "content": [], "style": [], "tv": []}
    record = {"x": x0, "best_x": x0, "best": math.inf, "stopped": None}
    display = Progress(iterations) if progress is True else (progress or None)

    def on_iteration(k, x, loss):
        parts = objective.last  # the optimizers' last evaluation is at x (see optim)
        for key in history:
            history[key].append(getattr(parts, key))
        record["x"] = x
        if parts.total < record["best"]:
            record["best"], record["best_x"] = parts.total, x
        state = IterationState(k, parts, x, finish)
        if display:
            display(state)
        if callback is not None and callback(state):
            record["stopped"] = "callback"
            return True
        return False

    kwargs = {} if lr is None or optimizer == "lbfgs" else {"lr": lr}
    start_time = time.perf_counter()
    try:
        result = optim.OPTIMIZERS[optimizer](objective, x0, iterations=int(iterations),
                                             bounds=bounds, callback=on_iteration, **kwargs)
        message = result.message
        if record["stopped"] is None and len(history["total"]) < int(iterations):
            record["stopped"] = "converged"
    except NonFiniteLoss as error:
        record["stopped"] = "nonfinite"
        message = (f"{error} after {len(history['total'])} iterations; kept the last good "
                   "image (lower the learning rate or the loss weights)")
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    except KeyboardInterrupt:
        record["stopped"] = "interrupted"
        message = f"interrupted after {len(history['total'])} iterations"
    finally:
        if display and hasattr(display, "close"):
            display.close()
    seconds = time.perf_counter() - start_time
    return StylizeResult(
        image=finish(record["x"]), best_image=finish(record["best_x"]), history=history,
        iterations=len(history["total"]), evaluations=objective.evaluations, stopped=record["stopped"],
        message=message, seconds=seconds, x=record["x"])
