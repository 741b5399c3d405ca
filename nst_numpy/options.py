"""Every option of :func:`nst_numpy.stylize` once: its default, its check, its command-line
flag and its help.

:data:`OPTIONS` is the one table. :class:`Config` checks a call's keywords against it (one
line naming the option for a value out of range); :func:`add_arguments` generates the
``nst-numpy stylize`` parser from it, each flag parsed from text and then checked by the
same rule; :func:`flag` spells an option as the command line does. A refusal raised
anywhere in the library names options as ``{placeholder}``\\ s
(:class:`nst_numpy._checks.OptionError`): the Python caller reads the keyword, the command
line user the flag.

Rules about how options meet live where the option is used: the optimiser's in
:func:`nst_numpy.loop.optimizer_options`, the terms' in :mod:`nst_numpy.terms` (a term that
does not take an option has no parameter for it), the networks' in :mod:`nst_numpy.models`.
"""

from dataclasses import dataclass, field
import math
import os
import reprlib

import numpy as np

from . import image as im
from ._checks import (OptionError, choice, integer, non_negative_number, positive_number)
from .animate import FRAMES, MAX_FRAMES, SIDE, check_film_option
from .memory import check_limit, parse_size
from .optim import LBFGS_MEMORY
from .loop import DEFAULT_TOL, STOP_WINDOW
from .pyramid import COARSE_ITERATIONS
from .terms import (CONTENT_LAYERS, MRF_LAYERS, STYLE_LAYERS, STYLE_LOSSES, layer_list,
                    style_layer_lists)

INITS = ("content", "noise", "style")


# --- checks: value -> value, or an OptionError naming {name} ---------------------------------

def _optional(check):
    def checked(name, value):
        return None if value is None else check(name, value)
    return checked


def _integer(minimum):
    return lambda name, value: integer(name, value, minimum)


def _iterations(name, value):
    if isinstance(value, (list, tuple)):
        return [integer(name, n, 1) for n in value]
    return integer(name, value, 1)


def _choices(*values):
    return lambda name, value: choice(name, value, values)


def _fraction(name, value):
    value = non_negative_number(name, value)
    if value > 1:
        raise OptionError(f"{{{name}}} must be between 0 and 1, got {value:g}", **{name: name})
    return value


def _flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise OptionError(f"{{{name}}} must be True or False, got "
                          f"{OptionError.literal(reprlib.repr(value))}", **{name: name})
    return bool(value)


def _layers(name, value):
    return [] if isinstance(value, (list, tuple)) and not value else layer_list(name, value)


def _style_layers(name, value):
    """One list of layers for every style image, or one list per style image (scale
    control; their count is checked against the images by the term). The command line
    appends one list per --style-layers: given once, it is the list for every image."""
    if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, list) for v in value):
        return style_layer_lists(name, value)[1]
    return _layers(name, value)


def _number_list(name, value):
    """A sequence of numbers >= 0 (their count is checked by the term)."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise OptionError(f"{{{name}}} must be a list of numbers, got "
                          f"{OptionError.literal(reprlib.repr(value))}", **{name: name})
    return [non_negative_number(name, v) for v in value]


def _numbers(name, value):
    """A dict or a sequence of numbers >= 0 (their count is checked by the term)."""
    if isinstance(value, dict):
        return {k: non_negative_number(name, v, where=f"[{k!r}]") for k, v in value.items()}
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise OptionError(f"{{{name}}} must be a list of numbers (or a dict by layer), got "
                          f"{OptionError.literal(reprlib.repr(value))}", **{name: name})
    return [non_negative_number(name, v) for v in value]


def _init(name, value):
    """One of INITS, or an image: a path that exists, a PIL image or a uint8 array."""
    if isinstance(value, str) and value in INITS:
        return value
    if isinstance(value, str) and not os.path.exists(value):
        raise OptionError(f"{{{name}}} {OptionError.literal(reprlib.repr(value))} is neither one of "
                          f"{list(INITS)} nor an image file", **{name: name})
    im.image_size(value)   # one line for an image that cannot be read, no pixel decoded
    return value


def _dtype(name, value):
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    # (dtype is None first: NumPy reads None as float64, so None "is in" the tuple)
    if dtype is None or dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        shown = dtype.name if dtype is not None else reprlib.repr(value)
        raise OptionError(f"{{{name}}} {OptionError.literal(shown)} is not supported; use "
                          "np.float32 (fast) or np.float64 (for checks)", **{name: name})
    return dtype.type


def _callable(name, value):
    if not callable(value):
        raise OptionError(f"{{{name}}} must be callable, got {type(value).__name__}",
                          **{name: name})
    return value


def _progress(name, value):
    return value if callable(value) else _flag(name, value)


def _any(name, value):
    return value


def _weights(name, value):
    """A weight file's path, or a name for one (:func:`nst_numpy.weights.weights_file`:
    one line naming the download command for a name not downloaded yet)."""
    from .weights import weights_file
    return weights_file(value)


# --- the command line's text -> value -------------------------------------------------------

def _float_list(text):
    return [float(v) for v in text.split(",")]


def _layer_names(text):
    return [name.strip() for name in text.split(",") if name.strip()]


@dataclass(frozen=True)
class Option:
    """One option: its keyword, default, check (name, value) -> value, help, its group on
    the command line, its flag ("" for none) and how a flag's text becomes a value; cli:
    argparse's other keywords (choices, nargs, action, metavar); content: whether it
    concerns the content image (a texture has none)."""
    name: str
    default: object
    check: object
    help: str
    group: str = "loss"
    flag: str = None
    parse: object = None
    cli: dict = field(default_factory=dict)
    content: bool = False
    api: str = None   # the Python caller's help, where the command line's would mislead

    @property
    def spelling(self):
        return self.flag if self.flag is not None else "--" + self.name.replace("_", "-")


OPTIONS = {o.name: o for o in [
    # --- size and optimisation ---
    Option("size", 512, _optional(_integer(1)), "longest side of the output in pixels "
           "(default {default})", "size and optimisation", parse=int,
           api="longest side of the output in pixels; None keeps the content image's size"),
    Option("iterations", 300, _iterations, "the most optimizer iterations at full size "
           "(default {default}); with --scales N, each of the N-1 coarser levels runs "
           f"--coarse-iterations more: --scales 2 --iterations 6 runs {COARSE_ITERATIONS} + 6",
           "size and optimisation", parse=int, api="the most optimizer iterations at full "
           "size (each coarser level of scales runs coarse_iterations more), or a list, one "
           "per level"),
    Option("tol", DEFAULT_TOL, non_negative_number, "end a level when its loss fell by less "
           f"than this fraction per iteration over the last {STOP_WINDOW} iterations (0: run "
           "every iteration; default {default})", "size and optimisation", parse=float),
    Option("scales", 1, _integer(1), "coarse-to-fine: optimise at size/2^(N-1) first, then at "
           "twice that, ..., finishing at --size (default 1: full size only)",
           "size and optimisation", parse=int, cli={"metavar": "N"}),
    Option("coarse_iterations", None, _optional(_integer(1)), "iterations at each coarser "
           f"level with --scales, on top of --iterations (default {COARSE_ITERATIONS})",
           "size and optimisation", parse=int, cli={"metavar": "K"}),
    Option("optimizer", None, _optional(_choices("lbfgs", "adam", "gd")), "L-BFGS-B with "
           "pixel bounds (default), Adam (the default with --style-loss mrf or "
           "--normalize-gradients), or gradient descent", "size and optimisation",
           cli={"choices": ["lbfgs", "adam", "gd"]}),
    Option("lr", None, _optional(positive_number), "step size: Adam's in pixels (default 10; "
           "2 with --style-loss mrf); gradient descent's per unit of gradient (default: "
           "derived at the start, the step predicted to take a tenth off the loss, halved until "
           "the loss falls; docs/conventions.md); L-BFGS finds its own",
           "size and optimisation", parse=float),
    Option("lbfgs_memory", None, _optional(_integer(1)), "past steps L-BFGS keeps for its "
           f"curvature model (default {LBFGS_MEMORY}; each costs 48 bytes per pixel)",
           "size and optimisation", parse=int, cli={"metavar": "M"}),
    Option("init", "content", _init, "starting image (default content, or noise for a "
           "texture; noise is Gatys et al.'s choice)", "size and optimisation",
           cli={"choices": list(INITS)}, api="'content', 'noise' (Gatys et al.'s choice) or "
           "'style', or an image (a path or an array) resized to the output (default "
           "content; noise for a texture)"),
    Option("seed", 0, _integer(0), "random seed for --init noise, an integer >= 0 "
           "(default 0)", "size and optimisation", parse=int),
    Option("noise_blend", None, _optional(_fraction), "start from (1-R) x the starting image + "
           "R x the noise of --init noise (same --seed), 0 <= R <= 1: a content start varied "
           "by the seed (anishathalye's --initial-noiseblend); with an image start only, not "
           "--init noise", "size and optimisation", parse=float, cli={"metavar": "R"},
           api="start from (1 - R) x the starting image + R x the noise of init='noise' (same "
           "seed), 0 <= R <= 1; with an image start only (default: none, R = 0)"),
    Option("memory_limit", None, _optional(lambda name, v: check_limit(v)), "refuse a run "
           "estimated to need more memory than this, e.g. 8G; off: no check (default: the "
           "memory available now)", "size and optimisation", parse=parse_size,
           cli={"metavar": "SIZE"}, api="bytes the run may take; None: the memory available "
           "now; math.inf: no check"),
    Option("callback", None, _optional(_callable), "f(IterationState) after each iteration; "
           "return True to stop", flag=""),
    Option("progress", False, _progress, "True prints the losses as the run goes (or give a "
           "loop.Progress)", flag=""),
    Option("dtype", np.float32, _dtype, "np.float32, or np.float64 for checks", flag=""),
    # --- a film of the run (nst_numpy.animate) ---
    Option("animate", None, _optional(check_film_option), "also write a film of the "
           "optimisation to FILE, an animated .gif or .webp: the starting picture, one every "
           "--animate-every iterations (over every level of --scales), and the last; written "
           "when -o is", "film of the optimisation", parse=str, cli={"metavar": "FILE"},
           api="a path (.gif or .webp): a film of the run written there when the run ends (not "
           "after a failed run, nor one that ran no iteration); or an animate.Film to fill, "
           "which you save (film.save(path))"),
    Option("animate_every", None, _optional(_integer(1)), "a frame every K iterations "
           f"(default: the run's iterations / {FRAMES}, rounded up: 10 for 300; a film holds "
           f"at most {MAX_FRAMES} frames)", "film of the optimisation",
           parse=int, cli={"metavar": "K"}),
    Option("animate_size", None, _optional(_integer(1)), "longest side of the film's frames in "
           f"pixels (default: the output's, at most {SIDE}; never enlarged)",
           "film of the optimisation", parse=int, cli={"metavar": "PX"}),
    # --- loss ---
    Option("content_layers", CONTENT_LAYERS, _layers, "comma-separated layers (default "
           f"{','.join(CONTENT_LAYERS)})", parse=_layer_names, content=True,
           api="layer names (paper or Keras), each once; [] for no content term"),
    Option("content_weights", None, _optional(_numbers), "comma-separated v_l >= 0, one per "
           "content layer (default 1 each)", flag="--content-layer-weights", parse=_float_list,
           cli={"metavar": "V,..."}, content=True,
           api="{content layer: v_l >= 0}, or a list in layer order (default 1 each)"),
    Option("style_layers", None, _optional(_style_layers), "comma-separated layers (default "
           f"{','.join(STYLE_LAYERS)}; {','.join(MRF_LAYERS)} with --style-loss mrf); given "
           "once per style image, each image's own layers (scale control, Gatys et al. 2017: "
           "e.g. one image's fine texture at relu1_1,relu2_1 and another's coarse structure "
           "at relu3_1,relu4_1,relu5_1; Gram loss without --masks)", parse=_layer_names,
           cli={"action": "append"}, api="layer names, each once (default STYLE_LAYERS, or "
           "MRF_LAYERS with style_loss='mrf'), or one list per style image (scale control); "
           "[] for no style term"),
    Option("style_loss", "gram", _choices(*STYLE_LOSSES), "Gram matrices (default, Gatys et "
           "al.); MRF: each 3x3 patch of features matched to the style's nearest (Li & Wand "
           "2016); or w2: the Wasserstein-2 distance between Gaussian fits (mean and "
           "covariance) of the features", cli={"choices": list(STYLE_LOSSES)}),
    Option("masks", None, _optional(_any), "spatial control: one black-and-white or greyscale "
           "image per style image, any size, stretched to the output; style image k paints "
           "where mask k is white (guided Gram matrices, Gatys et al. 2017; Gram loss only). "
           "Give it after the images and -o", cli={"nargs": "+", "metavar": "MASK"},
           api="spatial control: one mask per style image (a path, a picture, or a float "
           "(H, W) array in [0, 1]), stretched to the output; style image k paints where "
           "mask k is white"),
    Option("normalize_gradients", False, _flag, "rescale each layer's gradient to L1 norm = "
           "its weight before the backward pass (as jcjohnson/neural-style); with --optimizer "
           "adam, the default here, or gd with an --lr of about 1e3; changes the defaults of "
           "--beta and --tv-weight", cli={"action": "store_true"}),
    Option("layer_weights", None, _optional(_numbers), "comma-separated w_l >= 0, one per "
           "style layer (default: equal, 1/count)", parse=_float_list,
           api="{style layer: w_l >= 0}, or a list in layer order (default 1/count each)"),
    Option("style_layer_weight_exp", None, _optional(positive_number), "geometric style layer "
           "weights: the k-th style layer weighs E^k, normalised to sum to 1 (E > 1 favours the "
           "deeper layers; default: equal weights)", parse=float, cli={"metavar": "E"}),
    Option("alpha", 1.0, non_negative_number, "content weight alpha (default 1)",
           parse=float, content=True),
    Option("beta", None, _optional(non_negative_number), "style weight beta (default: balanced "
           "for the output size, see nst_numpy.terms.GramStyle.default_weight, and "
           "W2Style.default_weight with --style-loss w2; 1 with --style-loss mrf, 10 with "
           "--normalize-gradients)", parse=float),
    Option("tv_weight", None, _optional(non_negative_number), "total-variation weight "
           "(default 10; 1e-4 with --normalized-vgg, 1e-5 with --normalize-gradients)",
           parse=float),
    Option("style_blend", None, _optional(_number_list), "comma-separated weights, one per style "
           "image (default: equal); with --masks, one per region; not with --style-loss mrf",
           parse=_float_list, api="one weight >= 0 per style image (default equal); with "
           "masks, one per region; not with style_loss='mrf'"),
    Option("style_scale", 1.0, positive_number, "resize style images to this times --size "
           "(default 1)", parse=float),
    Option("preserve_color", None, _optional(_choices("luminance", "histogram")), "keep the "
           "content's colours: transfer luminance only, or match the style's colour histogram "
           "to the content first (Gatys et al. 2016)",
           cli={"choices": ["luminance", "histogram"]}, content=True),
    # --- network ---
    Option("model", None, _any, "a network of your own (VGG, FastVGG or one with their "
           "interface); the network options below choose the one stylize loads instead",
           "network", flag=""),
    Option("weights", None, _weights, "a VGG16 or VGG19 weight file, e.g. a Keras notop .h5, "
           "or a name: vgg19 (the shipped file, the default), vgg16 or vgg19-keras (the Keras "
           "files `nst-numpy weights download vgg16|vgg19` fetched)", "network"),
    Option("arch", None, _optional(_choices("vgg16", "vgg19")), "require this network "
           "(default: whichever the weight file holds)", "network",
           cli={"choices": ["vgg16", "vgg19"]}),
    Option("pooling", "max", _choices("max", "avg"), "VGG pooling (default max; avg is Gatys "
           "et al.'s)", "network", cli={"choices": ["max", "avg"]}),
    Option("fast", True, _flag, "the fast network (default) or, with --plain, the plain one "
           "that the docs derive (im2col convolutions): the same picture to round-off, slower",
           "network", flag="--plain", cli={"action": "store_false"},
           api="the fast network (True) or the plain one the docs derive (False): the same "
           "picture to round-off"),
    Option("normalized", False, _flag, "VGG with each filter rescaled to mean activation 1 "
           "over the shipped images, normalised as Gatys et al. did (docs/weights.md); "
           "changes the defaults of --beta and --tv-weight", "network",
           flag="--normalized-vgg", cli={"action": "store_true"}),
]}
NETWORK = ("weights", "arch", "pooling", "fast", "normalized")


def flag(keyword):
    """The command line's spelling of the option ``keyword`` (``memory_limit`` ->
    ``--memory-limit``, ``normalized`` -> ``--normalized-vgg``), for any keyword."""
    option = OPTIONS.get(keyword)
    return option.spelling if option is not None and option.flag != "" else \
        "--" + keyword.replace("_", "-")


class Config:
    """The options of one call, each checked against :data:`OPTIONS` (an unknown keyword is
    a TypeError, as for any Python function); attributes by name, defaults filled in.
    ``given`` holds the names the caller set. ``texture=True``: no content image, so the
    content's options are refused and ``init`` defaults to noise."""

    def __init__(self, options, texture=False, where="stylize"):
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise TypeError(f"{where}() got an unexpected keyword argument {unknown[0]!r}")
        self.given = {name for name, value in options.items() if value is not None}
        for name, option in OPTIONS.items():
            value = options.get(name, option.default)
            setattr(self, name, option.check(name, value) if name in options else value)
        if texture:
            self._no_content()
        self._check_network()
        self._check_start()

    def _no_content(self):
        for name in sorted(self.given):
            if OPTIONS[name].content:
                raise OptionError(f"{{{name}}} concerns the content image, and a texture has "
                                  "none; leave it out", **{name: name})
        if "init" not in self.given:
            self.init = "noise"
        elif isinstance(self.init, str) and self.init == "content":
            raise OptionError("a texture has no content image to start from; use {noise} (the "
                              "default for a texture) or {style}", noise=("init", "noise"),
                              style=("init", "style"))

    def _check_network(self):
        if self.model is not None:
            chosen = sorted(set(NETWORK) & self.given)
            if chosen:
                raise OptionError(f"{{{chosen[0]}}} chooses the network that stylize loads; "
                                  "with a model of your own, load it that way instead "
                                  "(nst_numpy.load_vgg(...)) and leave it out",
                                  **{chosen[0]: chosen[0]})

    def _check_start(self):
        if self.noise_blend is not None and isinstance(self.init, str) and self.init == "noise":
            raise OptionError("{noise_blend} blends noise into an image start, and this one "
                              "is noise ({noise}, a texture's default); start from {content}, "
                              "{style} or an image, or leave {noise_blend} out",
                              noise_blend="noise_blend",
                              noise=("init", "noise"), content=("init", "content"),
                              style=("init", "style"))

    def style_weights(self, layers):
        """w_l for the style ``layers``: --layer-weights, or geometric by
        --style-layer-weight-exp, or None (the loss's equal weights). Giving both is refused."""
        if self.style_layer_weight_exp is None:
            return self.layer_weights
        if self.layer_weights is not None:
            raise OptionError("{layer_weights} and {style_layer_weight_exp} both set the style "
                              "layer weights; give one", layer_weights="layer_weights",
                              style_layer_weight_exp="style_layer_weight_exp")
        # with one list of layers per style image: one weight per layer any image uses
        return geometric_weights(self.style_layer_weight_exp,
                                 len(style_layer_lists("style_layers", layers)[0]))


def geometric_weights(ratio, n):
    """w_k proportional to ratio^k, k = 0 .. n-1, summing to 1 (style_layer_weight_exp).

    Computed as ratio^(k - k_max), k_max the exponent of the largest power, so no power
    exceeds 1: any finite ratio > 0 gives finite weights (1e300^4 would overflow).
    """
    exponents = [k * math.log(ratio) for k in range(n)]
    weights = [math.exp(e - max(exponents)) for e in exponents]
    return [w / sum(weights) for w in weights]


def add_arguments(parser, names=None, defaults=None, containers=None):
    """Add a flag for each option of ``names`` (default: every option with a flag) to
    ``parser``, in its group, its text parsed and checked by the option's own rule.

    defaults: {name: default shown and used} overriding the table's (nst-numpy demo's size);
    containers: {name: an argparse group or mutually exclusive group to put it in}. Every
    flag's default is None unless given in ``defaults`` ("not given": stylize's own).
    """
    import argparse

    groups, containers, defaults = {}, containers or {}, defaults or {}
    for name in names or [n for n, o in OPTIONS.items() if o.flag != ""]:
        option = OPTIONS[name]
        if name in containers:
            target = containers[name]
        else:
            if option.group not in groups:
                groups[option.group] = parser.add_argument_group(option.group)
            target = groups[option.group]
        default = defaults.get(name)
        shown = default if default is not None else option.default
        help_text = option.help.replace("{default}", str(shown))
        kwargs = dict(option.cli, dest=name, help=help_text,
                      default=default if "action" not in option.cli else argparse.SUPPRESS)
        if option.parse is not None:
            kwargs["type"] = _argument_type(option)
        target.add_argument(option.spelling, **kwargs)


def _argument_type(option):
    """argparse's type for ``option``: the text parsed, then the option's check; a bad
    value is argparse's one-line error naming the flag."""
    import argparse

    def convert(text):
        try:
            value = option.parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{text!r} is not valid here ({error})") from None
        try:
            return option.check(option.name, value)
        except OptionError as error:   # argparse names the flag first: not twice
            message = error.render(lambda k: "" if k == option.name else flag(k), " ")
            raise argparse.ArgumentTypeError(message.lstrip(": ")) from None
    convert.__name__ = option.name   # argparse names the type in some messages
    return convert


def given_options(args, names=None):
    """{name: value} of the options set on the command line (argparse's namespace)."""
    names = names or [n for n, o in OPTIONS.items() if o.flag != ""]
    return {name: getattr(args, name) for name in names
            if getattr(args, name, None) is not None}


def parameters_doc():
    """The numpy-style Parameters entries of every option, for stylize's docstring."""
    import textwrap

    lines = []
    for option in OPTIONS.values():
        default = option.default
        shown = ("(" + ", ".join(default) + ")" if isinstance(default, tuple)
                 else getattr(default, "__name__", repr(default)))
        text = (option.api or option.help).replace("{default}", str(default))
        if option.flag != "":
            text += f" (``{option.spelling}``)"
        lines.append(f"    {option.name} : default {shown}")
        lines += textwrap.wrap(text, 88, initial_indent=" " * 8, subsequent_indent=" " * 8,
                               break_on_hyphens=False)
    return "\n".join(lines)
