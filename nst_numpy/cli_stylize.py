"""``nst-numpy stylize`` and ``nst-numpy demo``: parsers and handlers.

:mod:`nst_numpy.cli` registers them; the heavy imports happen inside the handlers.
Every option value is checked by the parser (one line naming the option), and the output
is checked before the first iteration: a run never ends unable to save, and nothing a
user had is overwritten except ``-o`` itself, by a run that succeeded.
"""

import argparse
import math
import os
import sys
import warnings
from pathlib import Path

DEMO_OUTPUT = "nst_demo.png"
DEMO_SIZE = 256
DEMO_ITERATIONS = 150


def add_stylize_parser(subparsers):
    parser = subparsers.add_parser(
        "stylize", help="paint a content image in the style of one or more style images",
        usage="nst-numpy stylize [options] CONTENT STYLE [STYLE ...] -o OUT\n"
              "       nst-numpy stylize --texture [options] STYLE [STYLE ...] -o OUT",
        description="Neural style transfer (Gatys et al.): optimise the pixels of OUT so that "
                    "its VGG19 features match CONTENT and its feature correlations match STYLE.",
        epilog="Example: nst-numpy stylize photo.jpg painting.jpg -o out.png --size 384. "
               "Ctrl-C stops early and saves the best image so far.")
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="the content image, then one or more style images "
                             "(with --texture: style images only)")
    parser.add_argument("-o", "--output", required=True,
                        help="where to write the picture (.png or .jpg); never one of the inputs")
    _add_tuning_options(parser, size=512, iterations=300)
    parser.add_argument("--texture", action="store_true",
                        help="texture synthesis: no content image, start from noise")
    parser.set_defaults(handler=run_stylize)


def add_demo_parser(subparsers):
    parser = subparsers.add_parser(
        "demo", help="stylize the shipped demo images with the shipped VGG19 (no network)",
        description="Run the whole style transfer on the images shipped in the package "
                    "(a cat photo and a procedurally painted style) and print where the "
                    f"picture went. The defaults ({DEMO_SIZE} px, {DEMO_ITERATIONS} L-BFGS "
                    "iterations) take about 2 minutes on 2 CPU cores.")
    parser.add_argument("-o", "--output", default=DEMO_OUTPUT,
                        help=f"where to write the picture (default: ./{DEMO_OUTPUT})")
    _add_tuning_options(parser, size=DEMO_SIZE, iterations=DEMO_ITERATIONS)
    parser.set_defaults(handler=run_demo)


# --- option types: each raises argparse's error, which names the option ---------------

def _number(text, minimum, integer=False, strict=False):
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {'an integer' if integer else 'a number'}") from None
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        raise argparse.ArgumentTypeError(f"must be a finite number {bound}, got {text}")
    return value


def positive_int(text):
    return _number(text, 1, integer=True)


def non_negative_int(text):
    return _number(text, 0, integer=True)


def positive_float(text):
    return _number(text, 0, strict=True)


def non_negative_float(text):
    return _number(text, 0)


def non_negative_floats(text):
    """'1,0.5,2' -> [1.0, 0.5, 2.0], each finite and >= 0."""
    return [non_negative_float(v) for v in text.split(",")]


def layer_list(text):
    """'relu1_1,relu2_1' -> ['relu1_1', 'relu2_1'], each once."""
    layers = [name.strip() for name in text.split(",") if name.strip()]
    repeated = sorted({name for name in layers if layers.count(name) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"{', '.join(repeated)} named more than once; "
                                         "name each layer once")
    return layers


def memory_size(text):
    from .memory import parse_size
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_tuning_options(parser, size, iterations):
    from .transfer import COARSE_ITERATIONS, CONTENT_LAYERS, MRF_LAYERS, STYLE_LAYERS

    g = parser.add_argument_group("size and optimisation")
    g.add_argument("--size", type=positive_int, default=size,
                   help=f"longest side of the output in pixels (default {size})")
    g.add_argument("--iterations", type=positive_int, default=iterations,
                   help=f"optimizer iterations at full size (default {iterations})")
    g.add_argument("--scales", type=positive_int, default=1, metavar="N",
                   help="coarse-to-fine: optimise at size/2^(N-1) first, then at twice that, "
                        "..., finishing at --size (default 1: full size only)")
    g.add_argument("--coarse-iterations", type=positive_int, metavar="K",
                   help="iterations at each coarser level with --scales "
                        f"(default {COARSE_ITERATIONS})")
    g.add_argument("--optimizer", choices=["lbfgs", "adam", "gd"],
                   help="L-BFGS-B with pixel bounds (default), Adam (the default with "
                        "--style-loss mrf or --normalize-gradients), or gradient descent")
    g.add_argument("--lr", type=positive_float,
                   help="step size for adam/gd in pixel units (default 10 for adam, 2 with "
                        "--style-loss mrf, 1 for gd); L-BFGS finds its own")
    g.add_argument("--init", choices=["content", "noise", "style"],
                   help="starting image (default content, or noise with --texture; noise is "
                        "Gatys et al.'s choice)")
    g.add_argument("--init-image", metavar="PATH",
                   help="start from this image instead, resized to the output")
    g.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue a run from a picture it saved (-o or --save-every), at full "
                        "size: the picture must have the output's size; L-BFGS's memory "
                        "starts afresh; -o must name another file")
    g.add_argument("--seed", type=non_negative_int, default=0,
                   help="random seed for --init noise, an integer >= 0 (default 0)")
    g.add_argument("--save-every", type=non_negative_int, default=0, metavar="N",
                   help="also write OUT_0010.png, ... every N iterations (default: never); "
                        "refused if such a file exists")
    g.add_argument("--memory-limit", type=memory_size, metavar="SIZE",
                   help="refuse a run estimated to need more memory than this, e.g. 8G; "
                        "off: no check (default: the memory available now)")
    g.add_argument("--quiet", action="store_true", help="no progress display")
    g.add_argument("--plot", metavar="FILE",
                   help="also draw the loss history (total, content, style, TV; log scale) "
                        "into FILE, e.g. losses.png (needs matplotlib: pip install "
                        "\"nst-numpy[plot]\")")
    g.add_argument("--print-every", type=positive_int, metavar="N",
                   help="print the losses on a line of their own every N iterations (default: "
                        "one line updated in place on a terminal, a tenth of the run in a log)")
    g.add_argument("--lbfgs-memory", type=positive_int, metavar="M",
                   help="past steps L-BFGS keeps for its curvature model (default 10; each "
                        "costs 48 bytes per pixel)")
    g.add_argument("--keep", choices=["best", "last"], default="best",
                   help="write the image with the lowest total loss seen (default) or the "
                        "last one")

    w = parser.add_argument_group("loss")
    w.add_argument("--content-layers", type=layer_list, default=list(CONTENT_LAYERS),
                   help=f"comma-separated layers (default {','.join(CONTENT_LAYERS)})")
    w.add_argument("--content-layer-weights", type=non_negative_floats, metavar="V,...",
                   help="comma-separated v_l >= 0, one per content layer (default 1 each)")
    w.add_argument("--style-layers", type=layer_list,
                   help=f"comma-separated layers (default {','.join(STYLE_LAYERS)}; "
                        f"{','.join(MRF_LAYERS)} with --style-loss mrf)")
    w.add_argument("--style-loss", choices=["gram", "mrf"], default="gram",
                   help="Gram matrices (default, Gatys et al.) or MRF: each 3x3 patch of "
                        "features matched to the style's nearest (Li & Wand 2016)")
    w.add_argument("--masks", nargs="+", metavar="MASK",
                   help="spatial control: one black-and-white or greyscale image per style "
                        "image, any size, stretched to the output; style image k paints where "
                        "mask k is white (guided Gram matrices, Gatys et al. 2017; Gram loss "
                        "only). Give it after the images and -o")
    w.add_argument("--normalize-gradients", action="store_true",
                   help="rescale each layer's gradient to L1 norm = its weight before the "
                        "backward pass (as jcjohnson/neural-style); with --optimizer adam, the "
                        "default here, or gd with an --lr of about 1e3; changes the defaults "
                        "of --beta and --tv-weight")
    w.add_argument("--layer-weights", type=non_negative_floats,
                   help="comma-separated w_l >= 0, one per style layer (default: equal, 1/count)")
    w.add_argument("--style-layer-weight-exp", type=positive_float, metavar="E",
                   help="geometric style layer weights: the k-th style layer weighs E^k, "
                        "normalised to sum to 1 (E > 1 favours the deeper layers; default: "
                        "equal weights)")
    w.add_argument("--alpha", type=non_negative_float, default=1.0,
                   help="content weight alpha (default 1)")
    w.add_argument("--beta", type=non_negative_float,
                   help="style weight beta (default: balanced for the output size, see "
                        "nst_numpy.transfer.default_beta; 1 with --style-loss mrf, 10 with "
                        "--normalize-gradients)")
    w.add_argument("--tv-weight", type=non_negative_float, default=None,
                   help="total-variation weight (default 10; 1e-4 with --normalized-vgg, "
                        "1e-5 with --normalize-gradients)")
    w.add_argument("--style-blend", type=non_negative_floats,
                   help="comma-separated weights, one per style image (default: equal); "
                        "with --masks, one per region; not with --style-loss mrf")
    w.add_argument("--style-scale", type=positive_float, default=1.0,
                   help="resize style images to this times --size (default 1)")
    w.add_argument("--preserve-color", choices=["luminance", "histogram"],
                   help="keep the content's colours: transfer luminance only, or match the "
                        "style's colour histogram to the content first (Gatys et al. 2016)")

    m = add_network_options(parser)
    m.add_argument("--normalized-vgg", action="store_true",
                   help="VGG with each filter rescaled to mean activation 1 over the shipped "
                        "images, normalised as Gatys et al. did (docs/weights.md); changes the "
                        "defaults of --beta and --tv-weight")


def add_network_options(parser):
    """The "network" option group, shared with ``nst-numpy invert``; returns the group."""
    m = parser.add_argument_group("network")
    m.add_argument("--pooling", choices=["max", "avg"], default="max",
                   help="VGG pooling (default max; avg is Gatys et al.'s)")
    m.add_argument("--weights", help="a VGG16 or VGG19 weight file, e.g. a Keras notop .h5 "
                                     "(default: the shipped VGG19)")
    m.add_argument("--arch", choices=["vgg16", "vgg19"],
                   help="require this network (default: whichever the weight file holds)")
    m.add_argument("--plain", action="store_true",
                   help="run the plain network that the docs derive (im2col convolutions) "
                        "instead of the fast one: the same picture to round-off, slower")
    return m


# --- outputs ------------------------------------------------------------------------

def check_outputs(outputs, inputs):
    """Refuse, before any work, outputs that cannot be written or that would overwrite a
    file the run reads, or each other.

    outputs: [(path, the option naming it: "-o", "--plot")]; inputs: every file the run
    reads (images, masks, the starting picture, the weights), paths or other sources (an
    array is no file). An output may name an input by any path (a symbolic or hard link,
    ``..``): :func:`same_file` compares the files themselves.
    """
    from .image import check_writable

    seen = []
    for output, option in outputs:
        check_writable(output)
        for source in inputs:
            if isinstance(source, (str, os.PathLike)) and same_file(output, source):
                raise ValueError(f"{option} {output!r} is the input file {os.fspath(source)!r}; "
                                 "choose another name (inputs are never overwritten)")
        for other, other_option in seen:
            if same_file(output, other):
                raise ValueError(f"{other_option} and {option} name the same file {output!r}; "
                                 "give each its own")
        seen.append((output, option))


def run_inputs(args, images):
    """Every file a run reads: ``images`` (sources given on the command line), masks, the
    starting picture, the checkpoint it resumes from, and the weights (the shipped file
    when --weights is not given)."""
    from .weights import default_weights_path

    optional = [getattr(args, name, None) for name in ("init_image", "resume")]
    weights = args.weights if args.weights is not None else default_weights_path()
    return [*images, *(getattr(args, "masks", None) or []), *filter(None, optional), weights]


def intermediate_paths(output, every, iterations):
    """OUT_0010.png, ...: the pictures ``--save-every`` writes, in iteration order."""
    if not every:
        return {}
    stem, ext = os.path.splitext(output)
    return {k: f"{stem}_{k:04d}{ext}" for k in range(every, iterations + 1, every)}


def check_intermediates(paths):
    """Refuse to start when an intermediate picture's name is taken: --save-every never
    overwrites a file (an input among them)."""
    taken = [p for p in paths.values() if os.path.lexists(p)]
    if taken:
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        raise ValueError(f"--save-every would overwrite {taken[0]!r}{more}; move it away or "
                         "choose another -o")


def check_resume(checkpoint, content, styles, size):
    """--resume continues a run: its picture must have the output's size already (a picture
    of another size is a new start, which --init-image makes)."""
    from .image import image_size
    from .transfer import output_shape

    shape, found = output_shape(content, styles, size), image_size(checkpoint)
    if tuple(found) != tuple(shape):
        raise ValueError(f"--resume {checkpoint} is {found[1]}x{found[0]} but the output is "
                         f"{shape[1]}x{shape[0]}; give the --size of the run it came from, or "
                         "start from it resized with --init-image")


def same_file(a, b):
    """Whether paths ``a`` and ``b`` name one file: the same file on disk when both exist
    (through any link), else the same path once resolved."""
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


# --- handlers -----------------------------------------------------------------------

def run_stylize(args):
    if args.texture:
        content, styles = None, args.images
    elif len(args.images) < 2:
        raise ValueError("give a content image and at least one style image "
                         "(or --texture with style images only)")
    else:
        content, styles = args.images[0], args.images[1:]
    return _run(args, content, styles)


def run_demo(args):
    from .image import demo_images

    content, style = demo_images()
    return _run(args, content, [style])


def _stylize_options(args, content, styles):
    """stylize's keyword arguments from the parsed options, with the checks that need two
    options at once (each message names them)."""
    if args.init_image is not None and args.init is not None:
        raise ValueError(f"--init {args.init} and --init-image both choose the starting image; "
                         "give one")
    if args.resume is not None and (args.init_image is not None or args.init is not None):
        raise ValueError("--resume and --init/--init-image both choose the starting image; "
                         "give one")
    if args.resume is not None and args.scales > 1:
        raise ValueError("--resume continues a run at full size; drop --scales")
    from .transfer import MRF_LAYERS, STYLE_LAYERS, default_optimizer, level_iterations

    optimizer = args.optimizer or default_optimizer(args.style_loss, args.normalize_gradients)
    if args.normalize_gradients and optimizer == "gd" and args.lr is None:
        raise ValueError("--normalize-gradients --optimizer gd needs an --lr of about 1e3 "
                         "(normalised pixel gradients are some 1e-3); or use --optimizer adam")
    if args.masks is not None and args.style_loss == "mrf":
        raise ValueError("--masks guides Gram matrices; drop --style-loss mrf or --masks")
    if args.style_blend is not None and args.style_loss == "mrf":
        raise ValueError("--style-blend weighs Gram targets; the MRF loss matches patches from "
                         "every style image alike: drop one of them")
    if args.normalize_gradients and optimizer == "lbfgs":
        raise ValueError("--normalize-gradients changes the gradient into a direction that "
                         "L-BFGS's line search cannot use; add --optimizer adam (or gd)")
    if args.lbfgs_memory is not None and optimizer != "lbfgs":
        raise ValueError(f"--lbfgs-memory has no effect with --optimizer {optimizer}; "
                         "drop it, or use --optimizer lbfgs")
    if args.lr is not None and optimizer == "lbfgs":
        raise ValueError("--lr has no effect with --optimizer lbfgs (L-BFGS finds its own "
                         "step); drop --lr, or choose --optimizer adam or gd")
    style_layers = args.style_layers
    if style_layers is None:
        style_layers = list(MRF_LAYERS if args.style_loss == "mrf" else STYLE_LAYERS)
    layer_weights = None
    if args.style_layer_weight_exp is not None:
        if args.layer_weights is not None:
            raise ValueError("--layer-weights and --style-layer-weight-exp both set the style "
                             "layer weights; give one")
        layer_weights = dict(zip(style_layers, geometric_weights(args.style_layer_weight_exp,
                                                                 len(style_layers))))
    if args.layer_weights is not None:
        if len(args.layer_weights) != len(style_layers):
            raise ValueError(f"--layer-weights has {len(args.layer_weights)} values for "
                             f"{len(style_layers)} style layers; give one per layer")
        layer_weights = dict(zip(style_layers, args.layer_weights))
    content_weights = None
    if args.content_layer_weights is not None:
        if len(args.content_layer_weights) != len(args.content_layers):
            raise ValueError(f"--content-layer-weights has {len(args.content_layer_weights)} "
                             f"values for {len(args.content_layers)} content layers; give one "
                             "per layer")
        content_weights = dict(zip(args.content_layers, args.content_layer_weights))
    if args.masks is not None and len(args.masks) != len(styles):
        raise ValueError(f"--masks has {len(args.masks)} images for {len(styles)} style images; "
                         "give one mask per style image, in the same order")
    options = dict(
        size=args.size, scales=args.scales, optimizer=optimizer, lr=args.lr,
        iterations=_schedule(args),
        content_layers=args.content_layers, style_layers=style_layers,
        layer_weights=layer_weights, alpha=args.alpha, beta=args.beta,
        style_scale=args.style_scale, preserve_color=args.preserve_color,
        init=_init(args, content), seed=args.seed, pooling=args.pooling,
        weights=args.weights, fast=not args.plain,
        progress=progress_display(args, level_iterations(_schedule(args), args.scales)),
        style_blend=args.style_blend, memory_limit=args.memory_limit,
        lbfgs_memory=args.lbfgs_memory, arch=args.arch, content_weights=content_weights,
        masks=args.masks, style_loss=args.style_loss,
        normalize_gradients=args.normalize_gradients, normalized=args.normalized_vgg)
    if args.tv_weight is not None:
        options["tv_weight"] = args.tv_weight
    return options


def _init(args, content):
    """stylize's init: --resume or --init-image, else --init (default: content, or noise
    for a texture, which has no content image to start from)."""
    if args.resume is not None:
        return Path(args.resume)
    if args.init_image is not None:
        return Path(args.init_image)   # a path, even if it is named like an --init choice
    if content is None and args.init == "content":
        raise ValueError("--texture has no content image to start from; use --init noise "
                         "(the default with --texture) or --init style")
    return args.init or ("noise" if content is None else "content")


def geometric_weights(ratio, n):
    """w_k proportional to ratio^k, k = 0 .. n-1, summing to 1 (--style-layer-weight-exp).

    Computed as ratio^(k - k_max) with k_max the exponent of the largest power, so no
    power exceeds 1: any finite ratio > 0 gives finite weights (1e300^4 would overflow).
    """
    exponents = [k * math.log(ratio) for k in range(n)]
    weights = [math.exp(e - max(exponents)) for e in exponents]
    return [w / sum(weights) for w in weights]


def progress_display(args, iterations):
    """The ``progress`` argument of stylize and invert from --quiet and --print-every: off,
    the default display, or a line every N of ``iterations`` (a number, or one per level)."""
    if args.quiet and args.print_every:
        raise ValueError("--quiet and --print-every contradict each other; give one")
    if args.quiet:
        return False
    if args.print_every:
        from .transfer import Progress
        return Progress(iterations, every=args.print_every, inline=False)
    return True


def _schedule(args):
    """--iterations, or one number per level when --coarse-iterations is given."""
    if args.coarse_iterations is None:
        return args.iterations
    return [args.coarse_iterations] * (args.scales - 1) + [args.iterations]


def _run(args, content, styles):
    from . import transfer
    from .image import save_image

    from .transfer import level_iterations
    total = sum(level_iterations(_schedule(args), args.scales))
    intermediates = intermediate_paths(args.output, args.save_every, total)
    check_intermediates(intermediates)
    check_outputs(planned_outputs(args) + [(p, "--save-every") for p in intermediates.values()],
                  run_inputs(args, [content, *styles]))
    options = _stylize_options(args, content, styles)
    if args.resume is not None:
        check_resume(args.resume, content, styles, args.size)

    def save_intermediate(state):
        if state.step in intermediates:   # numbered over all levels
            save_image(state.image(), intermediates[state.step])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", transfer.NonFiniteLossWarning)   # said below, once
        result = transfer.stylize(content, styles, callback=save_intermediate, **options)
    return save_result(args, result)


def planned_outputs(args):
    """[(path, option)] of the files a run of stylize or invert writes at its end: -o, and
    --plot (checked for matplotlib now, not after the run)."""
    outputs = [(args.output, "-o")]
    if getattr(args, "plot", None):
        from .plot import check_available
        check_available()
        outputs.append((args.plot, "--plot"))
    return outputs


def save_result(args, result):
    """Write the picture (:func:`_save`) and the loss plot, if asked for, with Ctrl-C and
    SIGTERM held until both files are whole; return the exit code."""
    from .cli import signals_held

    with signals_held():
        code = _save(args, result)
        if getattr(args, "plot", None) and result.history["total"]:
            result.plot(args.plot)
    return code


def _save(args, result):
    """Write the result where it belongs, by how the run ended; return the exit code."""
    from .image import save_image

    out = args.output
    if result.failed:
        # A failed run never replaces an existing picture. A run cut short by a NaN may
        # leave its last good image in a new file; a run whose loss rose leaves nothing.
        if result.stopped == "nonfinite" and result.iterations and not os.path.lexists(out):
            save_image(result.image, out)
            raise ValueError(f"{result.message}; saved the last good image to {out}")
        kept = f"{out} was left as it was" if os.path.lexists(out) else "nothing was written"
        raise ValueError(f"{result.message}; {kept}")
    if result.stopped == "interrupted":
        if not result.iterations:
            print(f"nst-numpy {args.command}: {result.message}; nothing was written",
                  file=sys.stderr)
            return 130
        save_image(result.best_image, out)
        print(f"nst-numpy {args.command}: {result.message}; saved the best image so far "
              f"to {out}", file=sys.stderr)
        return 130
    picture, which = ((result.best_image, f"best loss {result.best_loss:.4g}")
                      if args.keep == "best" and math.isfinite(result.best_loss)
                      else (result.image, f"final loss {result.loss:.4g}"))
    save_image(picture, out)
    print(f"wrote {os.path.abspath(out)} ({picture.shape[1]}x{picture.shape[0]}, "
          f"{result.iterations} iterations, {result.seconds:.0f} s, {which})")
    return 0
