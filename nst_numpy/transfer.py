"""The algorithm of Gatys et al. in the lecture's three steps, and :func:`stylize`, which is
those steps with every option of the command line::

    L(x) = alpha L_content(x) + beta L_style(x) + lambda L_tv(x)          (eq (7) + TV)

    model = load_vgg19()
    objective = Objective(model, [Content(photo, "relu4_2"),        # 1. the targets P^l and
                                  GramStyle([wave], STYLE_LAYERS),  #    A^l, once (Q11)
                                  TotalVariation(10)], shape=(H, W))
    x0 = image.preprocess(image.resize(photo, H, W))                # 2. x -> (L, dL/dx):
    result = run(objective, x0, optimizer="lbfgs", iterations=300)  # 3. optimise the pixels

Step 1 is :class:`~nst_numpy.objective.Objective`'s construction, which asks each term of
:mod:`nst_numpy.terms` for its targets; step 2 is calling it, one forward and one backward
pass (:meth:`nst_numpy.vgg.VGG.backward`); step 3 is :func:`nst_numpy.loop.run`, an
optimiser of :mod:`nst_numpy.optim` with the pixels kept in 0-255.

:func:`stylize` builds the terms from its options (:mod:`nst_numpy.options`, each checked
there, and each refusal in one line before any pixel is decoded), checks the memory, loads
the network and runs the same three steps, at one size or coarse to fine
(:func:`nst_numpy.pyramid.pyramid`). :func:`texture` is the same with no content image.
"""

import functools
import inspect
import os

import numpy as np

from . import image as im
from . import animate, memory
from .models import load_vgg, network_class
from .objective import Objective, check_some_weight
from .options import INITS, Config, parameters_doc
from .pyramid import level_iterations, level_sides, pyramid
from .loop import optimizer_options
from .terms import (GUIDED_STYLE_LOSSES, STYLE_LOSSES, Content, NormalizedGradients,
                    TotalVariation)
from ._checks import OptionError

# stylize's option for each term parameter: how a term's refusal is spelled here.
CONTENT_OPTIONS = {"layers": "content_layers", "layer_weights": "content_weights",
                   "weight": "alpha", "image": "content"}
STYLE_OPTIONS = {"styles": "style", "layers": "style_layers", "layer_weights": "layer_weights",
                 "weight": "beta", "blend": "style_blend", "scale": "style_scale",
                 "masks": "masks", "positions_layer": "content_layers"}
TV_OPTIONS = {"weight": "tv_weight"}


def stylize(content, style, **options):
    """Neural style transfer: paint ``content`` in the style of ``style``.

    ``stylize(photo, painting, size=384)``. Every option, its default and its flag on the
    command line are in :mod:`nst_numpy.options`, listed below. ``load_vgg19()`` and ``VGG``
    give the plain network that the docs derive and the gradient checks use; ``stylize``
    and the ``nst-numpy`` command use the fast one (``load_vgg19(fast=True)``), which
    computes the same function to round-off in less time.

    Parameters
    ----------
    content : path, PIL image or uint8 RGB array (H, W, 3)
        The photo (None: :func:`texture`).
    style : image or list of images
        One or more style images, blended by ``style_blend``.
{options}

    Returns
    -------
    StylizeResult
        The picture (``best_image``: the lowest loss seen; ``image``: the last), the
        history of each kind of term, and how the run ended (``stopped``, ``message``).
    """
    if content is None:
        return texture(style, **options)
    return plan(Config(options), content, style)()


def texture(style, **options):
    """Texture synthesis: a picture with the style of ``style`` and no content, from noise.
    The output takes the first style image's aspect ratio. Options as for :func:`stylize`,
    but those of the content image (content_layers, content_weights, alpha, preserve_color)."""
    return plan(Config(options, texture=True, where="texture"), None, style)()


stylize.__doc__ = stylize.__doc__.replace("{options}", parameters_doc())


def plan(config, content, styles, share_targets=list):
    """The run of ``config`` as a function of no arguments -> StylizeResult, each option
    refused now, in one line: terms, memory, levels, network. ``share_targets`` may wrap the
    terms (:class:`nst_numpy.batch.StyleTargets`); ``styles``: one image or a list."""
    styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    first = content if content is not None else styles[0]   # whose shape the output takes
    shape = output_shape(first, config.size)
    keep_colours, finish_at = colour_preservation(content, config.preserve_color)
    terms = share_targets(build_terms(config, content, styles, keep_colours))
    optimizer_options(terms, config.optimizer, config.lr, config.lbfgs_memory)  # refused now
    check_some_weight(terms, [term.weight for term in terms])
    schedule = level_iterations(config.iterations, config.scales, config.coarse_iterations)
    shapes = [output_shape(first, side) for side in level_sides(max(shape), config.scales)]
    film = animate.planned_film(config, shapes, sum(schedule), terms, INITS)   # idle if none
    check_memory(config, terms, shape, film.memory)
    model = config.model or load_vgg(config.weights, arch=config.arch, pooling=config.pooling,
                                     fast=config.fast, normalized=config.normalized)
    check_levels(model, terms, shapes[0], config.scales)
    def run():   # the starting image, then the three steps at each level
        x0 = starting_image(config.init, content, styles, shapes[0], config.seed,
                            config.dtype, keep_colours, config.noise_blend)
        return film.ended(pyramid(
            lambda s: Objective(model, terms, s, config.dtype, full_shape=shape), x0, shapes,
            schedule, finish_at=finish_at, callback=film.recording(x0, finish_at, config.callback),
            progress=config.progress, optimizer=config.optimizer, lr=config.lr,
            lbfgs_memory=config.lbfgs_memory, tol=config.tol))
    return run


def build_terms(config, content, styles, keep_colours=(None, None)):
    """The objective's terms from the options: content (unless a texture, or no content
    layer), one style term, total variation; normalised gradients wrap the first two.

    A term's refusal names the option of stylize that sets its parameter."""
    content_colours, style_colours = keep_colours
    terms = []
    if content is not None and config.content_layers:
        terms.append(_term(Content, CONTENT_OPTIONS, image=content,
                           layers=config.content_layers, weight=config.alpha,
                           layer_weights=config.content_weights,
                           derived=dict(transform=content_colours)))
    style_term = (GUIDED_STYLE_LOSSES if config.masks is not None else STYLE_LOSSES).get(
        config.style_loss)
    if style_term is None:   # only Gram matrices have a guided form
        raise OptionError("{masks} guide Gram matrices; there is no guided form of {loss}",
                          masks="masks", loss=("style_loss", config.style_loss))
    first_content = config.content_layers[0] if content is not None and config.content_layers \
        else None
    layers = config.style_layers   # None: the term's own (each loss has its default layers)
    if layers is None:
        layers = inspect.signature(style_term).parameters["layers"].default
    if layers:   # an empty list: no style term (content and TV alone)
        terms.append(_term(style_term, STYLE_OPTIONS, ("style_loss", config.style_loss),
                           styles=styles, layers=layers, weight=config.beta,
                           layer_weights=config.style_weights(layers), blend=config.style_blend,
                           scale=config.style_scale, masks=config.masks,
                           derived=dict(positions_layer=first_content, transform=style_colours)))
    if config.normalize_gradients:
        terms = [NormalizedGradients(term) for term in terms]
    return terms + [_term(TotalVariation, TV_OPTIONS, weight=config.tv_weight)]


def _term(cls, names, chosen_by=None, derived=(), **options):
    """cls(**options), leaving out those not set (the term's own defaults), and those of
    ``derived`` (not the user's options) that it takes; an option the term does not take,
    or a refusal, is spelled as stylize's option (and the option that chose the term,
    ``chosen_by``: (keyword, value))."""
    accepted = inspect.signature(cls).parameters
    for parameter, value in options.items():
        if value is not None and parameter not in accepted:
            raise OptionError("{option} does not apply with {chosen}",
                              option=names[parameter], chosen=chosen_by)
    parameters = {**options, **dict(derived)}
    try:
        return cls(**{p: v for p, v in parameters.items() if v is not None and p in accepted})
    except OptionError as error:
        raise error.renamed(names) from None


def colour_preservation(content, mode):
    """((content transform, style transform), finish_at) for ``preserve_color=mode``:
    the transforms the terms apply to their images after resizing, and (H, W) -> the
    function x -> picture at that size (Gatys, Bethge, Hertzmann & Shechtman 2016)."""
    if mode is None:
        return (None, None), None

    @functools.lru_cache(maxsize=4)
    def content_at(shape):   # the content resized to a level's shape, decoded once
        return im.resize(im.load_image(content), *shape)

    if mode == "histogram":   # the style's colours matched to the content's, first
        return (None, lambda s, shape: im.match_colour(s, content_at(shape))), None
    # luminance: both images grey, the style's brightness and contrast the content's; the
    # picture's luminance over the content's colours at the end
    return ((lambda c, shape: im.luminance_image(c),
             lambda s, shape: im.luminance_image(s, like=content_at(shape))),
            lambda shape: lambda x: im.combine_luminance(im.deprocess(x), content_at(shape)))


def output_shape(image, size):
    """(H, W) of the output from an image's header alone: its aspect ratio, the longest
    side ``size`` (None: unchanged)."""
    H0, W0 = im.image_size(image)
    scale = 1.0 if size is None else int(size) / max(H0, W0)
    return max(1, round(H0 * scale)), max(1, round(W0 * scale))


def starting_image(init, content, styles, shape, seed, dtype, keep_colours=(None, None), blend=0):
    """x0 (3, H, W): the content or first style image, resized to the output and as the terms
    see it (``keep_colours``' transforms), any image (a path or an array) resized to it, or
    uniform noise from ``seed``; an image is mixed with that noise by ``blend`` (0 to 1)."""
    if isinstance(init, str) and init == "noise":
        return im.preprocess(np.random.default_rng(seed).uniform(0, 255, (*shape, 3)), dtype)
    named = {"content": (content, keep_colours[0]), "style": (styles[0], keep_colours[1])}
    source, transform = named[init] if isinstance(init, str) and init in named else (init, None)
    start = im.resize(im.load_image(source), *shape)
    x = im.preprocess(transform(start, shape) if transform else start, dtype)
    # x0 = (1 - R) x + R x_noise, R = blend (anishathalye's --initial-noiseblend)
    return (1-blend) * x + blend * starting_image("noise", 0, 0, shape, seed, dtype) if blend else x


def check_memory(config, terms, shape, film=0):
    """Refuse, in one line, a run that would not fit in ``memory_limit`` (None: the memory
    available now), from the images' headers alone, before any pixel is decoded: the network's
    run at the largest image it sees, the terms' targets, L-BFGS's history, the largest input
    file decoded, the ``film``'s frames (:func:`nst_numpy.memory.estimate_run`)."""
    itemsize = np.dtype(config.dtype).itemsize
    H, W = shape
    inputs = [h * w for term in terms for h, w in term.network_inputs(shape)]
    files = [s for term in terms for s in term.sources() if isinstance(s, (str, os.PathLike))]
    if isinstance(config.init, os.PathLike) or isinstance(config.init, str) and \
            config.init not in INITS:
        files.append(config.init)
    network = getattr(config.model, "MEMORY", None) or network_class(config.fast).MEMORY
    estimate = memory.estimate_run(
        network, max([H * W, *inputs]), itemsize,
        held=sum(t.memory(shape, itemsize) for t in terms) + film,
        decoded=max([h * w for h, w in map(im.image_size, files)], default=0),
        lbfgs_memory=config.lbfgs_memory, output_pixels=H * W)
    memory.check_fits(estimate, config.memory_limit, what=f"a {W}x{H} stylization",
                      remedy="lower {size}" + (" or {style_scale}" if config.style_scale > 1
                                               else ""), size="size", style_scale="style_scale")


def check_levels(model, terms, shape, scales=1):
    """One line if the coarsest level, of ``shape`` (H, W), is too small for a term: every
    pool up to its deepest layer halves the sides (an MRF term needs 3x3 patches there)."""
    needed, why = max(term.min_side(model) for term in terms)
    if min(shape) < needed:
        remedy = "raise {size} or lower {scales}" if scales > 1 else \
            "raise {size} or choose shallower layers"
        raise OptionError(f"a {shape[1]}x{shape[0]} picture is too small to {why}, which "
                          f"needs {needed} px on the shorter side; {remedy}",
                          size="size", scales="scales")
    for term in terms:   # the style images run through the network at their own sizes
        needed, why = term.min_side(model)
        for k, (h, w) in enumerate(term.network_inputs(shape), start=1):
            if min(max(1, round(h)), max(1, round(w))) < needed:
                raise OptionError(f"style image {k}, at {max(1, round(w))}x{max(1, round(h))} "
                                  f"px, is too small to {why}, which needs {needed} px on the "
                                  "shorter side; raise {style_scale} or {size}",
                                  style_scale="style_scale", size="size")
