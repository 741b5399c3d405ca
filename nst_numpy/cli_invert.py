"""``nst-numpy invert``: reconstruct a picture from one layer's features (parser and handler).

:mod:`nst_numpy.cli` registers it. The output is checked by :mod:`nst_numpy.cli_stylize`'s
own helpers before the network is loaded (writable, not the input image) and saved the
same way: atomically, the best image by default, nothing replaced by a failed run.
"""

import warnings

from .cli_stylize import (add_network_options, check_outputs, memory_size, non_negative_float,
                          non_negative_int, planned_outputs, positive_float, positive_int,
                          progress_display, run_inputs, save_result)

DEFAULT_LAYER = "relu3_1"
DEFAULT_SIZE = 256
DEFAULT_ITERATIONS = 200


def add_invert_parser(subparsers):
    parser = subparsers.add_parser(
        "invert", help="reconstruct an image from one layer's VGG features (feature inversion)",
        usage="nst-numpy invert [options] IMAGE -o OUT",
        description="Feature inversion (Mahendran & Vedaldi 2015; Gatys et al. 2015, Fig. 1): "
                    "start from noise and optimise the pixels of OUT until its activation at "
                    "--layer matches IMAGE's, with a total-variation prior. Shallow layers give "
                    "the picture back almost exactly; deep layers keep its layout and lose "
                    "detail and colour.",
        epilog="Example: nst-numpy invert photo.jpg --layer relu4_1 -o relu4_1.png. "
               "Ctrl-C stops early and saves the best image so far.")
    parser.add_argument("image", metavar="IMAGE", help="the picture whose features are inverted")
    parser.add_argument("-o", "--output", required=True,
                        help="where to write the reconstruction (.png or .jpg); never IMAGE")
    parser.add_argument("--layer", default=DEFAULT_LAYER,
                        help="the layer whose activation is matched: conv/relu/pool names "
                             "(relu1_1 ... relu5_4, pool1 ... pool5) or Keras names "
                             f"(block3_conv1) (default {DEFAULT_LAYER})")
    g = parser.add_argument_group("size and optimisation")
    g.add_argument("--size", type=positive_int, default=DEFAULT_SIZE,
                   help=f"longest side of the output in pixels (default {DEFAULT_SIZE})")
    g.add_argument("--iterations", type=positive_int, default=DEFAULT_ITERATIONS,
                   help=f"optimizer iterations (default {DEFAULT_ITERATIONS})")
    g.add_argument("--tv-weight", type=non_negative_float, default=None,
                   help="total-variation weight per pixel on the 0-255 scale (default: "
                        "nst_numpy.inversion.TV_WEIGHT, which suits every layer and size)")
    g.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the starting noise, an integer >= 0 (default 0)")
    g.add_argument("--optimizer", choices=["lbfgs", "adam", "gd"], default="lbfgs",
                   help="L-BFGS-B with pixel bounds (default), Adam, or plain gradient descent")
    g.add_argument("--lr", type=positive_float,
                   help="step size for adam (pixels, default 10) or gd (per unit of the "
                        "scaled gradient, default 10); L-BFGS finds its own")
    g.add_argument("--keep", choices=["best", "last"], default="best",
                   help="write the image with the lowest loss seen (default) or the last one")
    g.add_argument("--memory-limit", type=memory_size, metavar="SIZE",
                   help="refuse a run estimated to need more memory than this, e.g. 8G; "
                        "off: no check (default: the memory available now)")
    g.add_argument("--quiet", action="store_true", help="no progress display")
    g.add_argument("--print-every", type=positive_int, metavar="N",
                   help="print the losses on a line of their own every N iterations (default: "
                        "one line updated in place on a terminal, a tenth of the run in a log)")
    add_network_options(parser)
    parser.set_defaults(handler=run_invert)


def run_invert(args):
    from . import inversion, transfer

    check_outputs(planned_outputs(args), run_inputs(args, [args.image]))   # before any work
    if args.lr is not None and args.optimizer == "lbfgs":
        raise ValueError("--lr has no effect with --optimizer lbfgs (L-BFGS finds its own "
                         "step); drop --lr, or choose --optimizer adam or gd")
    progress = progress_display(args, args.iterations)
    options = dict(size=args.size, iterations=args.iterations, seed=args.seed,
                   optimizer=args.optimizer, lr=args.lr, weights=args.weights, arch=args.arch,
                   pooling=args.pooling, fast=not args.plain, progress=progress,
                   memory_limit=args.memory_limit)
    if args.tv_weight is not None:
        options["tv_weight"] = args.tv_weight
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", transfer.NonFiniteLossWarning)   # _save says it, once
        result = inversion.invert(args.image, args.layer, **options)
    return save_result(args, result)
