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

:func:`stylize` runs the three in steps, each a function of its own: check the options,
load and size the images (:func:`prepare_images`), check the memory, compute the targets,
build the objective and the starting image, and run (:func:`run`), with a progress
display, a per-iteration callback, and a record of the best image seen.
"""

from dataclasses import dataclass, field
import functools
import math
import os
import numbers
import sys
import time
import warnings

import numpy as np
from PIL import Image

from . import image as im
from . import layers as L
from . import losses, memory, mrf, optim
from . import vgg as vgg_module
from .fast import FastVGG
from .models import load_vgg

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
MRF_LAYERS = ("relu3_1", "relu4_1")
STYLE_LOSSES = ("gram", "mrf")
INITS = ("content", "noise", "style")
PRESERVE_COLOR = (None, "luminance", "histogram")
DTYPES = (np.float32, np.float64)
# beta = STYLE_PER_POSITION * M_l at the first content layer: see default_beta.
STYLE_PER_POSITION = 0.3
TV_WEIGHT = 10.0
# The defaults of the other losses and networks (docs/features.md says how each was chosen,
# from benchmarks/feature_defaults.py): default_beta, default_tv_weight, default_optimizer.
NORMALIZED_STYLE_PER_POSITION = 1e4
NORMALIZED_TV_WEIGHT = 1e-4
MRF_BETA = 1.0
MRF_ADAM_LR = 2.0     # Adam's step for the MRF loss (optim.adam's own default is 10)
NORMALIZED_GRADIENTS_BETA = 10.0
NORMALIZED_GRADIENTS_TV_WEIGHT = 1e-5
# Peak resident memory of a whole stylize ~ a + b * pixels, for the pixels of the larger of
# the output and the style images: (a, b) for the plain and the fast network, fitted by
# benchmarks/bench_memory.py (docs/benchmarks.md, "Memory of a whole run"); the estimate
# adds MEMORY_MARGIN on top.
MEMORY_PER_PIXEL = {"plain": (242 * 2**20, 4035), "fast": (557 * 2**20, 3321)}
MEMORY_MARGIN = 1.25
# Decoding an input image of P pixels holds Pillow's RGB image (4 bytes a pixel) and NumPy's
# copy (3) at once, and then the resized picture: benchmarks/bench_memory.py, large-input.
DECODE_BYTES_PER_PIXEL = 8
# Iterations at each coarser level of a pyramid (scales > 1), when iterations gives only the
# full size's: the best of those compared by the whole-run benchmark (docs/benchmarks.md).
COARSE_ITERATIONS = 50


class NonFiniteLoss(FloatingPointError):
    """The loss or its gradient became NaN or infinite."""


class NonFiniteLossWarning(RuntimeWarning):
    """A run of :func:`stylize` ended early on a NaN or infinite loss."""


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


def layer_guides(model, masks, layers):
    """{layer: [t_r (M_l,)]}: each region's mask (H, W), values in [0, 1] at the output's size,
    carried to every layer's grid. A 3x3 convolution with padding 1 keeps the grid, so only
    the pooling layers change it: each averages the mask over its 2x2 windows, as
    :func:`nst_numpy.layers.avg_pool_forward` does, which keeps grey levels as fractions
    of a window covered. A mask that is black at some layer's grid is refused in one line.
    """
    names, wanted = model.layer_names, {model.resolve(l): l for l in layers}
    grids, guides = np.stack([np.asarray(m, dtype=np.float64) for m in masks]), {}
    for name in names[:max(names.index(n) for n in wanted) + 1]:
        if name.startswith("pool"):
            grids, _ = L.avg_pool_forward(grids)
        if name in wanted:
            for r, grid in enumerate(grids, start=1):
                if not grid.any():
                    raise ValueError(f"mask {r} is black everywhere on {name}'s "
                                     f"{grid.shape[1]}x{grid.shape[0]} grid: its region gets "
                                     "no style; make it larger or drop that layer")
            guides[wanted[name]] = [grid.reshape(-1) for grid in grids]
    return guides


def guided_style_targets(model, x_styles, layers, guides):
    """{layer: [A_r]}: region r's target is style image r's Gram matrix, rescaled to the
    region's weight of positions ``M_r = sum_k t_rk^2`` on that layer (as
    :func:`style_targets` rescales to the output's M_l): the same per-position feature
    correlations, inside the region only. x_styles: one preprocessed image per region."""
    targets = {layer: [] for layer in layers}
    for r, x_style in enumerate(x_styles):
        acts = model.forward(x_style, list(layers))
        for layer in layers:
            F = acts[layer]
            t = guides[layer][r]
            # A_r = (M_r / M_l^s) F_s F_s^T
            scale = F.dtype.type(np.sum(t * t) / (F.shape[1] * F.shape[2]))
            targets[layer].append(losses.gram_matrix(F) * scale)
    return targets


def default_beta(model, output_shape, content_layers=CONTENT_LAYERS, ratio=None,
                 style_loss="gram", normalize_gradients=False):
    """A style weight beta (with alpha = 1) that balances content and style at any size.

    L_content = 1/2 sum (F - P)^2 sums over the M_l positions of the content layer, so it
    grows with the image's area, while E_l divides by M_l^2 and does not. Scaling beta
    with M_l keeps their balance, so one ratio suits every output size:
    beta = ratio * M_l, M_l = H_l W_l at the first content layer (relu4_2 by default).
    ratio: default :data:`STYLE_PER_POSITION` (0.3: at 256 px the turtle stays clear under
    the Great Wave's strokes; 1 and 5 bury it in waves), or
    :data:`NORMALIZED_STYLE_PER_POSITION` for a normalised VGG (``model.normalized``).
    The MRF loss sums over positions as the content loss does, and normalised gradients
    leave only the weights' ratio: both take a constant (:data:`MRF_BETA`,
    :data:`NORMALIZED_GRADIENTS_BETA`; docs/features.md says how they were chosen).
    """
    if normalize_gradients:
        return NORMALIZED_GRADIENTS_BETA
    if style_loss == "mrf":
        return MRF_BETA
    if ratio is None:
        ratio = (NORMALIZED_STYLE_PER_POSITION if getattr(model, "normalized", False)
                 else STYLE_PER_POSITION)
    layer = content_layers[0] if content_layers else CONTENT_LAYERS[0]
    return ratio * _positions(model, output_shape, [layer])[layer]


def default_tv_weight(model, normalize_gradients=False):
    """The total-variation weight: :data:`TV_WEIGHT` for the original VGG;
    :data:`NORMALIZED_TV_WEIGHT` for a normalised VGG, TV_WEIGHT divided by the factor (some
    1e5) by which its content loss is smaller; :data:`NORMALIZED_GRADIENTS_TV_WEIGHT`, chosen
    by hand, for normalised gradients (whose pixel gradients are some 1e8 times smaller):
    docs/features.md."""
    if normalize_gradients:
        return NORMALIZED_GRADIENTS_TV_WEIGHT
    return NORMALIZED_TV_WEIGHT if getattr(model, "normalized", False) else TV_WEIGHT


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
    synthesis); A: style targets (Gram matrices, or what ``style`` takes); alpha, beta:
    eq (7)'s weights; layer_weights: w_l per style layer (None: 1 / number of layers);
    tv_weight: weight of the TV term; content_weights: v_l per content layer (None: 1 each);
    style: the style term (None: eq (5), :func:`nst_numpy.losses.style_loss`; see
    :func:`nst_numpy.losses.total_loss`); normalize_gradients: each layer's gradient rescaled
    to its weight's L1 norm (:func:`nst_numpy.losses.normalize_layer_gradients`).
    ``last`` holds the most recent :class:`Losses`, ``evaluations`` counts the calls.
    A NaN or infinite loss or gradient raises :class:`NonFiniteLoss` (and only that: the
    arithmetic warnings on the way there are silenced, the check below says it once).
    """

    def __init__(self, model, P, A, alpha=1.0, beta=1e3, layer_weights=None, tv_weight=0.0,
                 content_weights=None, style=None, normalize_gradients=False):
        self.model, self.P, self.A = model, P, A
        self.alpha, self.beta, self.tv_weight = alpha, beta, tv_weight
        self.layer_weights, self.content_weights = layer_weights, content_weights
        self.style, self.normalize_gradients = style, normalize_gradients
        self.layers = list(dict.fromkeys([*P, *A]))
        self.last, self.evaluations = None, 0

    def __call__(self, x):
        self.evaluations += 1
        with np.errstate(all="ignore"):
            F = self.model.forward(x, self.layers)
            # (7) and its dL/dF^l at every layer (Q6), the two terms kept for the history
            terms = {}
            loss, grads = losses.total_loss(
                F, self.P, self.A, self.alpha, self.beta, self.layer_weights, terms=terms,
                content_weights=self.content_weights, style=self.style,
                normalize_gradients=self.normalize_gradients)
            del F   # the backward pass needs only its caches: free what they do not hold
            dx = self.model.backward(grads)
            L_tv = 0.0
            if self.tv_weight:
                L_tv, d_tv = losses.total_variation_loss(x)
                loss = loss + self.tv_weight * L_tv
                dx = dx + x.dtype.type(self.tv_weight) * d_tv
        self.last = Losses(float(loss), float(terms["content"]), float(terms["style"]),
                           float(self.tv_weight * L_tv))
        terms = (f"(content {self.last.content:.4g}, style {self.last.style:.4g}, "
                 f"tv {self.last.tv:.4g})")
        if not math.isfinite(self.last.total):
            raise NonFiniteLoss(f"the loss became {self.last.total} {terms}")
        if not np.all(np.isfinite(dx)):
            raise NonFiniteLoss(f"the gradient became NaN or infinite at a loss of "
                                f"{self.last.total:.4g} {terms}")
        return loss, dx


# ---------------------------------------------------------------------------
# Progress display
# ---------------------------------------------------------------------------

class Progress:
    """Prints the losses as the run goes: the level (when there are several), the
    iteration, the weighted loss terms, the time so far and the time per iteration.

    iterations: the run's iterations, or a list of them, one per level. On a terminal (or
    in Jupyter) one line is rewritten in place with a carriage return (:meth:`close` ends it
    after each level); elsewhere (a log file, CI), or with ``inline=False``, a plain line every
    ``every`` iterations (default: a tenth of the level's).
    """

    def __init__(self, iterations, stream=None, every=None, inline=None):
        self.iterations = list(iterations) if isinstance(iterations, (list, tuple)) else [iterations]
        self.stream = stream if stream is not None else sys.stderr
        self.inline = _is_interactive(self.stream) if inline is None else inline
        self.every = every
        self.start, self.width, self.level = time.perf_counter(), 0, None

    def __call__(self, state):
        k, n = state.iteration, self.iterations[min(state.level, len(self.iterations)) - 1]
        if state.level != self.level:   # a new level (the last one's line was closed)
            self.level, self.width = state.level, 0
        every = self.every or (1 if self.inline else max(1, n // 10))
        if k % every and k != n:
            return
        level = (f"level {state.level}/{state.levels} {state.x.shape[2]}x{state.x.shape[1]}  "
                 if state.levels > 1 else "")
        line = (f"{level}iter {k:>{len(str(n))}}/{n}  "
                f"loss {state.losses.total:.4g}  content {state.losses.content:.4g}  "
                f"style {state.losses.style:.4g}  tv {state.losses.tv:.4g}  "
                f"{time.perf_counter() - self.start:.1f}s ({state.seconds / k:.2f}s/it)")
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
# stylize, step by step
# ---------------------------------------------------------------------------

def default_optimizer(style_loss="gram", normalize_gradients=False):
    """"lbfgs", or "adam" where L-BFGS-B's line search fails: normalised gradients are not
    the loss's gradient, and the MRF loss jumps wherever a patch's match changes (at 128 px,
    L-BFGS-B gave up after 8 of 60 iterations, the loss 2 % lower; docs/features.md)."""
    return "adam" if normalize_gradients or style_loss == "mrf" else "lbfgs"


def default_model(weights=None, pooling="max", fast=True, arch=None, normalized=False):
    """The VGG of ``weights`` (None: the shipped VGG19; a file's own architecture, or
    ``arch`` checked against it) with ``pooling`` ("max"/"avg"), normalised or not:
    :func:`nst_numpy.models.load_vgg` with ``fast`` (default True)."""
    return load_vgg(weights, arch=arch, pooling=pooling, fast=fast, normalized=normalized)


@dataclass
class IterationState:
    """What a callback sees after each iteration. ``x`` is the preprocessed image
    (3, H, W) at the running level's size; :meth:`image` turns it into uint8 RGB (colour
    preservation applied). iteration counts within the level, step over the whole run;
    level is 1 .. levels (coarse to fine, see :func:`stylize`'s ``scales``); seconds is
    the wall time of this level's optimisation so far."""
    iteration: int
    losses: Losses
    x: np.ndarray
    level: int = 1
    levels: int = 1
    step: int = None
    seconds: float = 0.0
    _finish: object = field(repr=False, default=None)

    def image(self):
        return self._finish(self.x)


@dataclass
class StylizeResult:
    """image: uint8 RGB (H, W, 3), the final picture (the last good one if the run
    stopped early); best_image: the one with the lowest total loss seen at full size,
    best_loss (inf if no iteration ran there);
    history: {"total", "content", "style", "tv"} -> per-iteration weighted losses, every
    level's in turn; times: seconds from the start of the run at each iteration;
    levels: one dict per level, coarse to fine ({"shape", "iterations", "seconds",
    "loss"}); initial: the :class:`Losses` of the last level's starting image;
    iterations and evaluations (forward+backward passes), over all levels; stopped:
    None when the iterations ran out, else "callback", "interrupted", "nonfinite",
    "diverged" (the loss ended above its start) or "converged"; message: a sentence
    saying why the run ended; seconds: wall time of the whole run; x: the final
    preprocessed image.
    """
    image: np.ndarray
    best_image: np.ndarray
    history: dict
    initial: Losses
    iterations: int
    evaluations: int
    stopped: str
    message: str
    seconds: float
    x: np.ndarray
    times: list = field(default_factory=list)
    levels: list = field(default_factory=list)
    best_loss: float = math.inf

    @property
    def loss(self):
        """The last iteration's total loss (the starting image's if none ran)."""
        if self.history["total"]:
            return self.history["total"][-1]
        return self.initial.total if self.initial is not None else math.nan

    @property
    def failed(self):
        """True when the run ended on a NaN/infinite loss or above its starting loss."""
        return self.stopped in ("nonfinite", "diverged")

    def plot(self, path=None, ax=None):
        """The loss history, log scale (:func:`nst_numpy.plot.plot_history`; needs
        matplotlib)."""
        from .plot import plot_history
        return plot_history(self, path, ax)


@dataclass
class Images:
    """The pictures of one run, loaded and sized: content_rgb (H, W, 3) or None for a
    texture, style_rgbs [(H_s, W_s, 3)], shape (H, W) of the output, finish: x -> the
    output picture (uint8 RGB, colours restored for luminance transfer), and masks: one
    (H, W) array in [0, 1] per style image, or None (no spatial control)."""
    content_rgb: np.ndarray
    style_rgbs: list
    shape: tuple
    finish: object
    masks: list = None


def prepare_images(content, styles, size=512, style_scale=1.0, preserve_color=None,
                   masks=None):
    """Load and size the images (step 1 of :func:`stylize`); returns :class:`Images`.

    The output takes the content's aspect ratio (the first style's for a texture) with
    its longest side ``size`` (None: unchanged); the styles' longest side is
    ``style_scale`` times the output's. Colour preservation prepares the pictures here.
    Masks (images of any size) are resized to the output (:func:`nst_numpy.image.load_mask`).
    """
    style_rgbs = [im.load_image(s) for s in styles]
    content_rgb = None if content is None else im.load_image(content)
    H0, W0 = (style_rgbs[0] if content_rgb is None else content_rgb).shape[:2]
    scale = 1.0 if size is None else int(size) / max(H0, W0)
    H, W = max(1, round(H0 * scale)), max(1, round(W0 * scale))
    if content_rgb is not None:
        content_rgb = im.resize(content_rgb, H, W)
    style_side = max(1, round(style_scale * max(H, W)))
    style_rgbs = [im.resize_longest(s, style_side) for s in style_rgbs]
    if preserve_color == "histogram":
        style_rgbs = [im.match_colour(s, content_rgb) for s in style_rgbs]
    colour_source = content_rgb
    if preserve_color == "luminance":
        style_rgbs = [im.luminance_image(s, like=content_rgb) for s in style_rgbs]
        content_rgb = im.luminance_image(content_rgb)

    def finish(x):
        rgb = im.deprocess(x)
        return im.combine_luminance(rgb, colour_source) if preserve_color == "luminance" else rgb

    masks = None if masks is None else [im.load_mask(m, H, W) for m in masks]
    return Images(content_rgb, style_rgbs, (H, W), finish, masks)


def estimate_memory(shape, style_shapes=(), fast=True, *, dtype=np.float32, style_loss="gram",
                    style_layers=MRF_LAYERS, masks=0, optimizer="lbfgs", lbfgs_memory=None,
                    arch="vgg19", largest_input=0):
    """Peak bytes of a stylization with output (H, W) and style images of ``style_shapes``
    (their (H_s, W_s) at the run's style scale), the sum of what grows with the options:

    - the network's run: :data:`MEMORY_PER_PIXEL` (whole float32 L-BFGS runs with the fast
      network or the plain one, 10 steps of history) at the larger of the output's and the
      largest style image's pixel count; twice that in float64; or, if more, the decoding
      of the largest input image (``largest_input`` pixels at their own size, before they
      are resized: :data:`DECODE_BYTES_PER_PIXEL`), which comes before the run;
    - L-BFGS's history beyond those 10 steps: 48 bytes per output pixel per step (two
      float64 vectors of 3 H W);
    - the style images, kept through the run as uint8 and as network inputs;
    - with ``style_loss="mrf"``, every style image's 3x3 patches at each style layer
      (:func:`mrf_patch_bytes`), held from the first iteration to the last;
    - with ``masks`` regions, each mask and its grids at the layers (float64), and one
      region's weighted features at a time,

    times :data:`MEMORY_MARGIN`. docs/benchmarks.md compares it with measured runs.
    """
    itemsize = np.dtype(dtype).itemsize
    base, per_pixel = MEMORY_PER_PIXEL["fast" if fast else "plain"]
    H, W = shape
    pixels = max([H * W] + [h * w for h, w in style_shapes])
    network = base * itemsize / 4 + max(per_pixel * pixels * itemsize / 4,
                                        DECODE_BYTES_PER_PIXEL * largest_input)
    if optimizer == "lbfgs" and lbfgs_memory is not None:
        network += 48 * max(0, lbfgs_memory - 10) * H * W
    styles = sum(3 * (1 + itemsize) * h * w for h, w in style_shapes)
    if style_loss == "mrf":
        styles += mrf_patch_bytes(style_shapes, style_layers, itemsize, arch)
    # a mask: (H, W) float64 and its grid at each layer, 8 * 4/3 bytes per pixel at most;
    # one region's weighted features F diag(t) at relu1_1: 2 * 64 channels
    guides = (masks * 8 * (1 + 4 / 3) + (2 * 64 * itemsize if masks else 0)) * H * W
    return MEMORY_MARGIN * (network + styles + guides)


def mrf_patch_bytes(style_shapes, layers, itemsize=4, arch="vgg19"):
    """Bytes of the MRF targets (:func:`nst_numpy.mrf.mrf_target`): at each layer, every
    style image's (H_l - 2)(W_l - 2) patches of C_l * 9 values, and their norms."""
    names = vgg_module.layer_names(arch)
    total = 0
    for layer in layers:
        name = vgg_module.canonical_name(layer)
        if name not in names:
            continue   # an unknown layer is refused later, by the model, in one line
        pools = sum(n.startswith("pool") for n in names[:names.index(name) + 1])
        channels = vgg_module.BLOCK_CHANNELS[min(pools, 4) if name.startswith("pool")
                                             else int(name[4]) - 1]
        for h, w in style_shapes:
            patches = max(0, int(h) // 2**pools - 2) * max(0, int(w) // 2**pools - 2)
            total += patches * (channels * 9 + 1) * itemsize
    return total


def style_shapes(shape, styles, style_scale):
    """(H_s, W_s) of each style image resized for an output of ``shape`` (H, W), from the
    images' headers alone (the longest side ``style_scale`` times the output's)."""
    side = style_scale * max(shape)
    return [(h * side / max(h, w), w * side / max(h, w))
            for h, w in (im.image_size(s) for s in styles)]


def largest_input(images):
    """The pixel count of the largest image file among ``images``, from the files' headers
    alone: what decoding one will take. Arrays and PIL images, already decoded, and names
    such as "noise" are skipped."""
    files = [i for i in images if isinstance(i, (str, os.PathLike)) and i not in INITS]
    return max((h * w for h, w in map(im.image_size, files)), default=0)


def check_memory(shape, styles, style_scale, fast=True, limit=None, **options):
    """Refuse, in one line, a stylization with output ``shape`` (H, W) that would not fit in
    ``limit`` bytes (None: the memory available now), from the images' sizes alone, before
    any pixel is decoded. options: the keywords of :func:`estimate_memory` beyond sizes."""
    H, W = shape
    side = style_scale * max(H, W)
    memory.check_fits(estimate_memory((H, W), style_shapes(shape, styles, style_scale), fast,
                                      **options), limit,
                      what=f"a {W}x{H} stylization" + (
                          f" with style images of {round(side)} px" if style_scale != 1 else ""),
                      remedy="lower {size}" + (" or {style_scale}" if style_scale != 1 else ""),
                      size="size", style_scale="style_scale")


def starting_image(init, images, seed, dtype):
    """x0 (3, H, W): the content image, the first style image resized to the output, any
    image (a path or an array) resized to it, or uniform noise from ``seed`` (also for a
    texture, which has no content image)."""
    H, W = images.shape
    if _is_init_image(init):
        start = im.resize(im.load_image(init), H, W)
    elif init == "content" and images.content_rgb is not None:
        start = images.content_rgb
    elif init == "style":
        start = im.resize(images.style_rgbs[0], H, W)
    else:
        start = np.random.default_rng(seed).uniform(0, 255, size=(H, W, 3))
    return im.preprocess(start, dtype)


def stylize(content, style, *, model=None, size=512, iterations=300, scales=1,
            optimizer=None, lr=None, content_layers=CONTENT_LAYERS, style_layers=None,
            layer_weights=None, alpha=1.0, beta=None, tv_weight=None, style_blend=None,
            style_scale=1.0, preserve_color=None, init="content", seed=0, pooling="max",
            weights=None, fast=True, callback=None, progress=False, dtype=np.float32,
            memory_limit=None, lbfgs_memory=None, arch=None, content_weights=None,
            masks=None, style_loss="gram", normalize_gradients=False, normalized=False):
    """Neural style transfer: paint ``content`` in the style of ``style``.

    Parameters
    ----------
    content : path, PIL image, uint8 RGB array (H, W, 3), or None
        The photo; None synthesises a texture of ``style``.
    style : image or list of images
        Blended by ``style_blend`` (one non-negative weight each; default equal).
    model : VGG, FastVGG or any model with their interface, optional
        Default: the VGG of ``weights`` (a VGG16 or VGG19 file, its architecture read
        from it, or ``arch`` checked against it; None for the shipped VGG19) with
        ``pooling`` ("max" or "avg"), the fast network unless ``fast=False``.
        ``load_vgg19()`` and ``VGG`` give the plain network that the docs derive and the
        gradient checks use; ``stylize`` and the ``nst-numpy`` command use the fast one
        (``load_vgg19(fast=True)``), which computes the same function to round-off in less
        time.
    size : int or None
        Longest side of the output in pixels (None keeps the content image's size).
    iterations : int or list of int
        Optimizer iterations at full size; with ``scales`` > 1, the coarser levels' come
        from :func:`level_iterations`, or give a list, one per level, coarse to fine.
    scales : int
        Levels of the image pyramid (coarse-to-fine, Gatys et al. 2017): optimise at
        ``size / 2**(scales - 1)``, upsample, continue at twice the size, ..., finish at
        ``size``. The last level optimises exactly the single-scale objective. 1 (the
        default): one level, because coarse-to-fine did not reach single-scale's loss
        sooner where it was measured (docs/benchmarks.md).
    optimizer : {None, "lbfgs", "adam", "gd"}
        L-BFGS-B (no step size), Adam or gradient descent with step ``lr`` (default 10, 1).
        None: :func:`default_optimizer` (L-BFGS-B, or Adam for the MRF loss and for
        normalised gradients, whose directions L-BFGS-B's line search cannot use).
    content_layers, style_layers : sequence of str (or one name)
        Layer names, each at most once. style_layers None: :data:`STYLE_LAYERS`
        (relu1_1 ... relu5_1), or :data:`MRF_LAYERS` (relu3_1, relu4_1) for the MRF loss.
    layer_weights : dict, optional
        ``{style layer: w_l >= 0}``, one per style layer (default ``1 / len(style_layers)``).
    content_weights : dict, optional
        ``{content layer: v_l >= 0}``, one per content layer (default 1 each).
    alpha, beta, tv_weight : float >= 0
        Eq (7)'s content and style weights (beta=None: :func:`default_beta`, which scales
        with the output's area) and the total-variation weight (None:
        :func:`default_tv_weight`, 10 for the original VGG); not all zero.
    style_scale : float > 0
        Style images are resized to ``style_scale * size`` on their longest side.
    preserve_color : {None, "luminance", "histogram"}
        Keep the content's colours: transfer the luminance only, or recolour the styles to
        the content's colour statistics first (Gatys et al. 2016).
    init : {"content", "noise", "style"} or image
        The starting image; "noise" draws uniform pixels from ``seed`` (an integer >= 0);
        an image (a path or a uint8 array (H, W, 3)) is resized to the output.
    callback : callable, optional
        ``f(IterationState)`` after each iteration; return True to stop.
    progress : bool or Progress
        True prints the losses as the run goes (:class:`Progress`).
    dtype : np.float32 or np.float64
        The network's dtype (float64 for checks).
    memory_limit : float, optional
        Bytes the run may take; None: the memory available now; ``math.inf``: no check.
    lbfgs_memory : int, optional
        The number of past steps L-BFGS keeps to model the curvature (None: 10); each
        costs 48 bytes per pixel. Only with ``optimizer="lbfgs"``.
    masks : list of images, optional
        Spatial control (Gatys et al. 2017): one black-and-white or greyscale image of any
        size per style image; style image r paints where mask r is white (guided Gram
        matrices, :func:`nst_numpy.losses.guided_style_loss`), ``style_blend`` weighing the
        regions. Only with ``style_loss="gram"``.
    style_loss : {"gram", "mrf"}
        Gram matrices, eq (4)-(5), or the MRF patch loss of Li & Wand (2016)
        (:func:`nst_numpy.mrf.mrf_loss`: 3x3 feature patches matched to the style's nearest).
    normalize_gradients : bool
        Each layer's gradient rescaled to its weight's L1 norm before the backward pass
        (Johnson's neural-style option; :func:`nst_numpy.losses.normalize_layer_gradients`).
        The result is no longer the loss's gradient, so only with ``optimizer="adam"`` or
        ``"gd"``; beta defaults to :data:`NORMALIZED_GRADIENTS_BETA`.
    normalized : bool
        The normalised VGG (each filter's mean activation 1 over the shipped images:
        ``load_vgg(normalized=True)``, docs/weights.md); only when ``model`` is None.

    Returns
    -------
    StylizeResult
        Ctrl-C, a non-finite loss and a loss that ends above its start end the run early
        or flag it (``stopped``), and still return the last good image.
    """
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if optimizer is None:
        optimizer = default_optimizer(style_loss, normalize_gradients)
    options = _check_options(
        content=content, styles=styles, size=size, iterations=iterations, scales=scales,
        optimizer=optimizer, lr=lr, content_layers=content_layers, style_layers=style_layers,
        layer_weights=layer_weights, alpha=alpha, beta=beta, tv_weight=tv_weight,
        style_scale=style_scale, preserve_color=preserve_color, init=init, seed=seed,
        dtype=dtype, lbfgs_memory=lbfgs_memory, content_weights=content_weights, masks=masks,
        style_loss=style_loss, normalize_gradients=normalize_gradients, style_blend=style_blend)
    if normalized and model is not None:
        raise ValueError("normalized chooses the network that stylize loads; with a model of "
                         "your own, pass load_vgg(normalized=True) as model instead")
    shape = output_shape(content, styles, size)
    check_memory(shape, styles, style_scale,
                 fast if model is None else isinstance(model, FastVGG), memory_limit,
                 dtype=options.dtype, style_loss=style_loss, masks=len(masks or ()),
                 style_layers=options.style_layers, optimizer=optimizer,
                 lbfgs_memory=lbfgs_memory, arch=arch or getattr(model, "arch", "vgg19"),
                 largest_input=largest_input([content, *styles, *(masks or ()), init]))
    if model is None:
        model = default_model(weights, pooling, fast, arch, normalized)
    options.check_layers(model)
    sides = level_sides(max(shape), scales)
    schedule = level_iterations(iterations, scales)
    _check_levels(model, shape, sides, options.deepest(model))
    if style_loss == "mrf":   # a 3x3 patch at every MRF layer
        _check_levels(model, shape, sides, options.deepest(model, style_only=True), patch=3)
    display = Progress(schedule) if progress is True else (progress or None)
    started, results, x = time.perf_counter(), [], None
    for level, (side, n) in enumerate(zip(sides, schedule), start=1):
        images = prepare_images(content, styles, side, style_scale, preserve_color, masks)
        objective = build_objective(
            model, images, shape, content_layers=options.content_layers,
            style_layers=options.style_layers, alpha=alpha, beta=beta,
            layer_weights=layer_weights, tv_weight=tv_weight, style_blend=style_blend,
            dtype=options.dtype, content_weights=content_weights, style_loss=style_loss,
            normalize_gradients=normalize_gradients)
        x0 = (starting_image(init, images, seed, options.dtype) if x is None
              else upsample(x, images.shape))
        results.append(run(objective, x0, images.finish, optimizer, n, options.step(lr),
                           callback, display, level=(level, scales),
                           step0=sum(r.iterations for r in results), started=started))
        x = results[-1].x
        if results[-1].stopped not in (None, "converged"):
            break
    return _whole_run(results, started)


def build_objective(model, images, full_shape, *, content_layers=CONTENT_LAYERS,
                    style_layers=STYLE_LAYERS, alpha=1.0, beta=None, layer_weights=None,
                    tv_weight=None, style_blend=None, dtype=np.float32, content_weights=None,
                    style_loss="gram", normalize_gradients=False):
    """The objective of one level of :func:`stylize` (the arguments as there): its targets,
    computed once (quiz Q11), and eq (7)'s weights. beta (None: :func:`default_beta` at
    full size) is scaled with the content layer's positions, ``M_l / M_l(full size)``, to
    keep content and style in the same balance at every level; at full size it is beta.
    (The MRF loss and normalised gradients keep one beta at every level: see default_beta.)
    With ``images.masks``, each style image paints its own region (guided Gram matrices,
    :func:`nst_numpy.losses.guided_style_loss`), ``style_blend`` weighing the regions."""
    content_layers = [] if images.content_rgb is None else list(content_layers)
    style_layers = list(style_layers)
    P = (content_targets(model, im.preprocess(images.content_rgb, dtype), content_layers)
         if content_layers else {})
    x_styles = [im.preprocess(s, dtype) for s in images.style_rgbs]
    style = None
    if not style_layers:
        A = {}
    elif style_loss == "mrf":
        acts = [model.forward(x_style, style_layers) for x_style in x_styles]
        A = {layer: mrf.mrf_target([a[layer] for a in acts]) for layer in style_layers}
        style = mrf.mrf_loss
    elif images.masks is not None:
        guides = layer_guides(model, images.masks, style_layers)
        A = guided_style_targets(model, x_styles, style_layers, guides)
        style = functools.partial(losses.guided_style_loss, guides=guides,
                                  region_weights=_normalised_blend(style_blend, len(x_styles)))
    else:
        A = style_targets(model, x_styles, style_layers, style_blend, output_shape=images.shape)
    kind = dict(style_loss=style_loss, normalize_gradients=normalize_gradients)
    full = default_beta(model, full_shape, content_layers, **kind)
    level_beta = full if beta is None else beta
    if images.shape != tuple(full_shape):
        level_beta *= default_beta(model, images.shape, content_layers, **kind) / full
    if tv_weight is None:
        tv_weight = default_tv_weight(model, normalize_gradients)
    return Objective(model, P, A, alpha, level_beta, layer_weights, tv_weight,
                     content_weights=content_weights, style=style,
                     normalize_gradients=normalize_gradients)


def output_shape(content, styles, size):
    """(H, W) of the output, from the images' headers alone: the content's aspect ratio
    (the first style's for a texture), longest side ``size`` (None: unchanged)."""
    H0, W0 = im.image_size(styles[0] if content is None else content)
    scale = 1.0 if size is None else int(size) / max(H0, W0)
    return max(1, round(H0 * scale)), max(1, round(W0 * scale))


def level_sides(side, scales):
    """Longest sides of the pyramid's levels, coarse to fine: side / 2^(scales-1), ..., side."""
    return [max(1, round(side / 2 ** (scales - 1 - k))) for k in range(scales)]


def level_iterations(iterations, scales):
    """Iterations per level, coarse to fine: a list as given, or for one number ``n`` at
    full size, :data:`COARSE_ITERATIONS` at each coarser level (docs/benchmarks.md)."""
    if isinstance(iterations, (list, tuple)):
        return [int(n) for n in iterations]
    return [COARSE_ITERATIONS] * (scales - 1) + [int(iterations)]


def upsample(x, shape):
    """A preprocessed image (3, h, w) resized to shape (H, W), bicubic, kept in the
    pixel bounds: the start of the next, finer level."""
    H, W = shape
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(c, dtype=np.float32), mode="F")
                           .resize((W, H), Image.BICUBIC)) for c in x]
    low, high = im.pixel_bounds((3, H, W), x.dtype)
    return np.clip(np.stack(channels).astype(x.dtype), low, high)


def _check_levels(model, shape, sides, deepest, patch=1):
    """One line if the coarsest level is too small to reach the deepest layer (with a grid
    of at least patch x patch positions there)."""
    # every pool up to the layer, the layer itself if it is one, halves the sides
    needed = patch * 2 ** sum(name.startswith("pool") for name in model.layer_names[
        :model.layer_names.index(deepest) + 1])
    shortest = round(min(shape) * sides[0] / max(shape))
    if shortest < needed:
        what = f"hold a {patch}x{patch} patch of" if patch > 1 else "reach"
        raise ValueError(f"the coarsest level ({sides[0]} px on the longer side, {shortest} on "
                         f"the shorter) is too small to {what} {deepest}, which needs {needed} "
                         "px; use fewer scales or a larger size")


def _whole_run(results, started):
    """One StylizeResult for the levels of a run: the last level's pictures, every level's
    history and times in turn."""
    last = results[-1]
    history = {key: [v for r in results for v in r.history[key]] for key in last.history}
    levels = [{"shape": r.x.shape[1:], "iterations": r.iterations, "seconds": r.seconds,
               "loss": r.loss} for r in results]
    return StylizeResult(
        image=last.image, best_image=last.best_image, history=history, initial=last.initial,
        iterations=sum(r.iterations for r in results),
        evaluations=sum(r.evaluations for r in results), stopped=last.stopped,
        message=last.message, seconds=time.perf_counter() - started, x=last.x,
        times=[t for r in results for t in r.times], levels=levels, best_loss=last.best_loss)


def run(objective, x0, finish, optimizer="lbfgs", iterations=300, step=None, callback=None,
        progress=False, level=(1, 1), step0=0, started=None):
    """Optimise ``objective`` from ``x0`` within the pixel bounds (the last step of
    :func:`stylize`, once per level); returns a :class:`StylizeResult`, the pictures made by
    ``finish``.

    step: the optimizer's keyword arguments (``{"lr": ...}``); level: (this level, levels);
    step0: iterations run by the levels before; started: the clock at the run's start (the
    result's ``times`` count from it). Ctrl-C and a NaN or infinite loss end the run early,
    keeping the last good image; a loss that ends above its start marks the run "diverged"
    (except with normalised gradients, which do not descend the loss, and whose "best"
    image is the last).
    """
    history = {"total": [], "content": [], "style": [], "tv": []}
    record = {"x": x0, "best_x": x0, "best": math.inf, "stopped": None, "initial": None}
    # Normalised gradients do not descend the loss: the lowest loss seen does not mark the
    # best picture (the last one is kept as "best"), and a loss above its start says
    # nothing about the step size.
    descends = not objective.normalize_gradients
    display = Progress(iterations) if progress is True else (progress or None)
    level, levels = level
    times = []

    def evaluate(x):
        try:
            return objective(x)
        finally:
            if record["initial"] is None:
                record["initial"] = objective.last

    def on_iteration(k, x, loss):
        parts = objective.last  # the optimizers' last evaluation is at x (see optim)
        for key in history:
            history[key].append(getattr(parts, key))
        times.append(time.perf_counter() - started)
        record["x"] = x
        if parts.total < record["best"] or not descends:
            record["best"], record["best_x"] = parts.total, x
        state = IterationState(k, parts, x, level, levels, step0 + k,
                               time.perf_counter() - start_time, finish)
        if display:
            display(state)
        if callback is not None and callback(state):
            record["stopped"] = "callback"
            return True
        return False

    start_time = time.perf_counter()
    started = start_time if started is None else started
    try:
        # A step too large overflows to inf and is clipped to the pixel bounds: the loss
        # that follows says so (below), not an arithmetic warning on the way.
        with np.errstate(over="ignore", invalid="ignore"):
            result = optim.OPTIMIZERS[optimizer](evaluate, x0, iterations=int(iterations),
                                                 bounds=im.pixel_bounds(x0.shape, x0.dtype),
                                                 callback=on_iteration, **(step or {}))
        message = result.message
        if record["stopped"] is None and len(history["total"]) < int(iterations):
            record["stopped"] = "converged"
    except NonFiniteLoss as error:
        record["stopped"] = "nonfinite"
        message = (f"{error} after {len(history['total'])} iterations (lower the learning "
                   "rate or the loss weights)")
        warnings.warn(message, NonFiniteLossWarning, stacklevel=3)
    except KeyboardInterrupt as stop:   # Ctrl-C (or SIGTERM, which the CLI turns into it)
        record["stopped"] = "interrupted"
        message = f"{str(stop) or 'interrupted'} after {len(history['total'])} iterations"
    finally:
        if display and hasattr(display, "close"):
            display.close()
    initial = record["initial"]
    if descends and record["stopped"] in (None, "converged") and history["total"] and \
            history["total"][-1] > initial.total:
        record["stopped"] = "diverged"
        message = (f"the loss rose from {initial.total:.4g} to {history['total'][-1]:.4g} over "
                   f"{len(history['total'])} iterations; lower the learning rate")
    return StylizeResult(
        image=finish(record["x"]), best_image=finish(record["best_x"]), history=history,
        initial=initial, iterations=len(history["total"]), evaluations=objective.evaluations,
        stopped=record["stopped"], message=message, seconds=time.perf_counter() - start_time,
        x=record["x"], times=times, best_loss=record["best"],
        levels=[{"shape": record["x"].shape[1:], "iterations": len(history["total"]),
                 "seconds": time.perf_counter() - start_time}])


# ---------------------------------------------------------------------------
# The options of stylize, each checked once, in one place
# ---------------------------------------------------------------------------

@dataclass
class _Options:
    """stylize's options after checking: the layer lists as lists, the dtype as a type."""
    content_layers: list
    style_layers: list
    layer_weights: dict
    dtype: type
    optimizer: str
    lbfgs_memory: int = None
    style_loss: str = "gram"

    def deepest(self, model, style_only=False):
        """The deepest content or style layer (its paper name), or style layer only."""
        layers = self.style_layers if style_only else self.content_layers + self.style_layers
        return max((model.resolve(l) for l in layers), key=model.layer_names.index)

    def step(self, lr):
        """The optimizer's keyword arguments: its step size, if it has one, or L-BFGS's
        memory, if given."""
        if self.optimizer == "lbfgs":
            return {} if self.lbfgs_memory is None else {"memory": self.lbfgs_memory}
        if lr is None and self.optimizer == "adam" and self.style_loss == "mrf":
            lr = MRF_ADAM_LR
        return {} if lr is None else {"lr": lr}

    def check_layers(self, model):
        """Each layer known to the model and named once (aliases count as the same layer)."""
        for option, layers in (("content_layers", self.content_layers),
                               ("style_layers", self.style_layers)):
            seen = {}
            for name in layers:
                canonical = model.resolve(name)
                if canonical in seen:
                    raise ValueError(f"{option} names {canonical} twice ({seen[canonical]!r} "
                                     f"and {name!r}); name each layer once")
                seen[canonical] = name


def _check_options(*, content, styles, size, iterations, scales, optimizer, lr, content_layers,
                   style_layers, layer_weights, alpha, beta, tv_weight, style_scale,
                   preserve_color, init, seed, dtype, lbfgs_memory=None, content_weights=None,
                   masks=None, style_loss="gram", normalize_gradients=False, style_blend=None):
    """One-line ValueErrors for every option out of range; returns the checked _Options."""
    _choice("optimizer", optimizer, tuple(optim.OPTIMIZERS))
    _choice("style_loss", style_loss, STYLE_LOSSES)
    if normalize_gradients and optimizer == "lbfgs":
        raise ValueError("normalize_gradients replaces the loss's gradient by another direction, "
                         "which L-BFGS-B's line search cannot use; choose optimizer='adam' or 'gd'")
    if normalize_gradients and optimizer == "gd" and lr is None:
        raise ValueError("normalized gradients are some 1e-3 per pixel, and gradient descent's "
                         "default step of 1 would not move the picture; give lr (about 1e3 to "
                         "1e4), or use optimizer='adam'")
    if masks is not None:
        masks = list(masks)
        if style_loss != "gram":
            raise ValueError("masks guide Gram matrices; use style_loss='gram' with masks")
        if len(masks) != len(styles):
            raise ValueError(f"got {len(masks)} masks for {len(styles)} style images; give one "
                             "mask per style image, in the same order")
        for mask in masks:   # a mask that cannot be read or used fails here, before any work
            im.load_mask(mask, 1, 1)
    if _is_init_image(init):   # a file that cannot be read fails here, before any work
        im.image_size(init)
    elif isinstance(init, str) and init not in INITS:
        raise ValueError(f"init {init!r} is neither one of {list(INITS)} nor an image file")
    else:
        _choice("init", init, INITS)
    _choice("preserve_color", preserve_color, PRESERVE_COLOR)
    if not styles:
        raise ValueError("give at least one style image")
    if content is None and preserve_color is not None:
        raise ValueError("preserve_color keeps a content image's colours; give a content image")
    if size is not None:
        _integer("size", size, minimum=1)
    _integer("scales", scales, minimum=1)
    if isinstance(iterations, (list, tuple)):
        if len(iterations) != scales:
            raise ValueError(f"iterations has {len(iterations)} values for {scales} scales; "
                             "give one number, or one per level")
        for n in iterations:
            _integer("iterations", n, minimum=1)
    else:
        _integer("iterations", iterations, minimum=1)
    _integer("seed", seed, minimum=0)
    if lbfgs_memory is not None:
        if optimizer != "lbfgs":
            raise ValueError(f"lbfgs_memory has no effect with optimizer={optimizer!r}; leave "
                             "it out, or use optimizer='lbfgs'")
        _integer("lbfgs_memory", lbfgs_memory, minimum=1)
    if lr is not None:
        if optimizer == "lbfgs":
            raise ValueError("lr has no effect with optimizer='lbfgs' (L-BFGS finds its own "
                             "step); leave lr out, or use optimizer='adam' or 'gd'")
        _number("lr", lr, positive=True)
    for name, value in (("alpha", alpha),) + \
            ((("beta", beta),) if beta is not None else ()) + \
            ((("tv_weight", tv_weight),) if tv_weight is not None else ()):
        _number(name, value)
    _number("style_scale", style_scale, positive=True)
    if np.dtype(dtype) not in [np.dtype(d) for d in DTYPES]:
        raise ValueError(f"dtype {np.dtype(dtype).name} is not supported; use np.float32 "
                         "(fast) or np.float64 (for checks)")
    content_layers = [] if content is None else _layer_list("content_layers", content_layers)
    if style_layers is None:
        style_layers = MRF_LAYERS if style_loss == "mrf" else STYLE_LAYERS
    style_layers = _layer_list("style_layers", style_layers)
    if content_weights is not None:
        if set(content_weights) != set(content_layers):
            raise ValueError(f"content_weights has layers {sorted(content_weights)} but the "
                             f"content layers are {content_layers}; give one weight per "
                             "content layer")
        for layer, v in content_weights.items():
            _number(f"content_weights[{layer!r}]", v)
    if style_loss == "mrf" and style_blend is not None:
        raise ValueError("the MRF loss matches patches from every style image alike; "
                         "style_blend applies to the Gram loss only")
    _normalised_blend(style_blend, len(styles))
    if not style_layers and not content_layers:
        raise ValueError("no content or style layer to optimise; name at least one layer")
    if layer_weights is not None:
        if set(layer_weights) != set(style_layers):
            raise ValueError(f"layer_weights has layers {sorted(layer_weights)} but the style "
                             f"layers are {style_layers}; give one weight per style layer")
        for layer, w in layer_weights.items():
            _number(f"layer_weights[{layer!r}]", w)
    content_on = bool(content_layers) and alpha > 0 and \
        (content_weights is None or any(v > 0 for v in content_weights.values()))
    style_on = bool(style_layers) and (beta is None or beta > 0) and \
        (layer_weights is None or any(w > 0 for w in layer_weights.values()))
    if not (content_on or style_on or tv_weight is None or tv_weight > 0):
        raise ValueError("every loss weight is zero (alpha, beta or the style layer weights, "
                         "tv_weight): nothing to optimise; give at least one a positive value")
    return _Options(content_layers, style_layers, layer_weights, np.dtype(dtype).type, optimizer,
                    lbfgs_memory, style_loss)


def _is_init_image(init):
    """init is an image (an array, or a path that is not one of INITS' names)?"""
    if isinstance(init, str):
        return init not in INITS and os.path.exists(init)
    return isinstance(init, (os.PathLike, np.ndarray))


def _choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {list(choices)}")


def _integer(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _number(name, value, positive=False):
    """A finite real number, >= 0 (or > 0 if ``positive``)."""
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value) and (value > 0 if positive else value >= 0))
    if not ok:
        raise ValueError(f"{name} must be a finite number {'>' if positive else '>='} 0, "
                         f"got {value!r}")


def _layer_list(name, layers):
    """A list of layer names from one name or a sequence of names."""
    if isinstance(layers, str):
        return [layers]
    layers = list(layers)
    if not all(isinstance(layer, str) for layer in layers):
        raise ValueError(f"{name} must be layer names such as 'relu4_2', got {layers!r}")
    return layers
