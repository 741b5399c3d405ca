"""``nst-numpy invert``: reconstruct a picture from one layer's features (parser and handler).

:mod:`nst_numpy.cli` registers it. Its options are :mod:`nst_numpy.options`' where they mean
the same as for stylize; the output is checked and saved by :mod:`nst_numpy.cli_stylize`'s
policy: before the network loads, atomically, the best image by default, nothing replaced by
a failed run.
"""

import warnings

from .cli_stylize import (add_output_options, add_plot_option, check_outputs,
                          planned_outputs, progress_display, run_inputs, save_result)

DEFAULT_LAYER = "relu3_1"
DEFAULT_SIZE = 256
DEFAULT_ITERATIONS = 200
OPTIONS = ("size", "iterations", "seed", "optimizer", "lr", "memory_limit", "pooling",
           "weights", "arch", "fast")


def add_invert_parser(subparsers):
    from . import inversion
    from .options import add_arguments

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
    parser.add_argument("--tv-weight", type=float, default=None,
                        help="total-variation weight per pixel on the 0-255 scale (default "
                             f"{inversion.TV_WEIGHT}, which suits every layer and size)")
    add_arguments(parser, OPTIONS,
                  defaults={"size": DEFAULT_SIZE, "iterations": DEFAULT_ITERATIONS})
    add_output_options(parser)
    add_plot_option(parser.add_argument_group("output"))
    parser.set_defaults(handler=run_invert)


def run_invert(args):
    from . import inversion
    from .options import given_options
    from .loop import NonFiniteLossWarning

    from .transfer import output_shape

    options = given_options(args, OPTIONS)
    check_outputs(planned_outputs(args), run_inputs(args, [args.image]),   # before any work
                  output_shape(args.image, options["size"]))
    if args.tv_weight is not None:
        options["tv_weight"] = args.tv_weight
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteLossWarning)   # save_result says it, once
        result = inversion.invert(args.image, args.layer, callback=None,
                                  progress=progress_display(args, options["iterations"]),
                                  **options)
    return save_result(args, result)
