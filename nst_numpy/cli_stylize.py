"""``nst-numpy stylize`` and ``nst-numpy demo``: parsers and handlers.

:mod:`nst_numpy.cli` registers them; the heavy imports happen inside the handlers.
"""

import os
import sys
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


def _add_tuning_options(parser, size, iterations):
    from .transfer import CONTENT_LAYERS, DEFAULT_CONV_IMPL, STYLE_LAYERS

    g = parser.add_argument_group("size and optimisation")
    g.add_argument("--size", type=int, default=size,
                   help=f"longest side of the output in pixels (default {size})")
    g.add_argument("--iterations", type=int, default=iterations,
                   help=f"optimizer iterations (default {iterations})")
    g.add_argument("--optimizer", choices=["lbfgs", "adam", "gd"], default="lbfgs",
                   help="L-BFGS-B with pixel bounds (default), Adam, or plain gradient descent")
    g.add_argument("--lr", type=float,
                   help="step size for adam/gd in pixel units (default 10 for adam, 1 for gd)")
    g.add_argument("--init", choices=["content", "noise", "style"], default="content",
                   help="starting image (default content; noise is Gatys et al.'s choice)")
    g.add_argument("--seed", type=int, default=0, help="random seed for --init noise (default 0)")
    g.add_argument("--save-every", type=int, default=0, metavar="N",
                   help="also write OUT_0010.png, ... every N iterations (default: never)")
    g.add_argument("--quiet", action="store_true", help="no progress display")

    w = parser.add_argument_group("loss")
    w.add_argument("--content-layers", default=",".join(CONTENT_LAYERS),
                   help=f"comma-separated layers (default {','.join(CONTENT_LAYERS)})")
    w.add_argument("--style-layers", default=",".join(STYLE_LAYERS),
                   help=f"comma-separated layers (default {','.join(STYLE_LAYERS)})")
    w.add_argument("--layer-weights",
                   help="comma-separated w_l, one per style layer (default: equal, 1/count)")
    w.add_argument("--alpha", type=float, default=1.0, help="content weight alpha (default 1)")
    w.add_argument("--beta", type=float,
                   help="style weight beta (default: balanced for the output size, see "
                        "nst_numpy.transfer.default_beta)")
    w.add_argument("--tv-weight", type=float, default=None,
                   help="total-variation weight (default: see nst_numpy.transfer.stylize)")
    w.add_argument("--style-blend", help="comma-separated weights, one per style image "
                   "(default: equal)")
    w.add_argument("--style-scale", type=float, default=1.0,
                   help="resize style images to this times --size (default 1)")
    w.add_argument("--preserve-color", choices=["luminance", "histogram"],
                   help="keep the content's colours: transfer luminance only, or match the "
                        "style's colour histogram to the content first (Gatys et al. 2016)")

    m = parser.add_argument_group("network")
    m.add_argument("--pooling", choices=["max", "avg"], default="max",
                   help="VGG pooling (default max; avg is Gatys et al.'s)")
    m.add_argument("--weights", help="a VGG19 weight file (default: the shipped one)")
    m.add_argument("--conv-impl", choices=["im2col", "winograd"], default=DEFAULT_CONV_IMPL,
                   help=f"convolution: im2col (plain) or winograd (fast; default "
                        f"{DEFAULT_CONV_IMPL})")


def _floats(text, what):
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a comma-separated list of numbers") from None


def check_output(output, inputs):
    """Refuse an output that is a directory, has no image extension, lies in a missing
    directory, or is one of the input files (nothing is overwritten)."""
    from .image import SAVE_FORMATS

    path = Path(output)
    if path.is_dir():
        raise ValueError(f"output {output!r} is a directory; give a file name such as out.png")
    if path.suffix.lower() not in SAVE_FORMATS:
        raise ValueError(f"output {output!r} needs an image extension: one of "
                         f"{', '.join(sorted(SAVE_FORMATS))}")
    if not path.resolve().parent.is_dir():
        raise ValueError(f"the folder of output {output!r} does not exist; create it first")
    for source in inputs:
        if isinstance(source, (str, os.PathLike)) and _same_file(path, Path(source)):
            raise ValueError(f"output {output!r} is the input image {os.fspath(source)!r}; "
                             "choose another output name (inputs are never overwritten)")


def _same_file(a, b):
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


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


def _run(args, content, styles):
    from . import transfer
    from .image import save_image

    inputs = ([content] if content else []) + list(styles)
    check_output(args.output, inputs)
    if args.save_every < 0:
        raise ValueError(f"--save-every must be >= 0, got {args.save_every}")
    style_layers = [s for s in args.style_layers.split(",") if s]
    layer_weights = None
    if args.layer_weights:
        values = _floats(args.layer_weights, "--layer-weights")
        if len(values) != len(style_layers):
            raise ValueError(f"--layer-weights has {len(values)} values for "
                             f"{len(style_layers)} style layers; give one per layer")
        layer_weights = dict(zip(style_layers, values))
    stem, ext = os.path.splitext(args.output)

    def save_intermediate(state):
        if args.save_every and state.iteration % args.save_every == 0:
            path = f"{stem}_{state.iteration:04d}{ext}"
            check_output(path, inputs)
            save_image(state.image(), path)

    options = dict(
        size=args.size, iterations=args.iterations, optimizer=args.optimizer, lr=args.lr,
        content_layers=[c for c in args.content_layers.split(",") if c],
        style_layers=style_layers, layer_weights=layer_weights, alpha=args.alpha,
        beta=args.beta, style_scale=args.style_scale, preserve_color=args.preserve_color,
        init="noise" if content is None else args.init, seed=args.seed, pooling=args.pooling,
        weights=args.weights, conv_impl=args.conv_impl, callback=save_intermediate,
        progress=not args.quiet,
        style_blend=_floats(args.style_blend, "--style-blend") if args.style_blend else None)
    if args.tv_weight is not None:
        options["tv_weight"] = args.tv_weight
    result = transfer.stylize(content, styles, **options)

    if result.stopped == "nonfinite":
        save_image(result.image, args.output)
        raise ValueError(f"{result.message}; saved it to {args.output}")
    if result.stopped == "interrupted":
        save_image(result.best_image, args.output)
        print(f"nst-numpy {args.command}: {result.message}; saved the best image so far "
              f"to {args.output}", file=sys.stderr)
        return 130
    save_image(result.image, args.output)
    print(f"wrote {os.path.abspath(args.output)} ({result.image.shape[1]}x"
          f"{result.image.shape[0]}, {result.iterations} iterations, {result.seconds:.0f} s, "
          f"final loss {result.loss:.4g})")
    return 0
