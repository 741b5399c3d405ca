"""``nst-numpy show``: an image's feature maps and Gram matrix at one layer, as a figure.

:mod:`nst_numpy.cli` registers it; :func:`nst_numpy.show.show_layer` draws it. The figure
is checked as an output before any work (never an input, a known extension, a folder that
exists), and matplotlib's absence is one line saying what to install.
"""

from .cli_stylize import _count, check_outputs, run_inputs

OPTIONS = ("size", "memory_limit", "weights", "arch", "pooling", "fast")


def add_show_parser(subparsers):
    from .options import add_arguments
    from .show import CHANNELS, ORDERS, SIZE

    parser = subparsers.add_parser(
        "show", help="draw an image's feature maps and Gram matrix at one layer",
        usage="nst-numpy show [options] IMAGE --layer LAYER -o FIGURE",
        description="What one VGG layer keeps of a picture: the feature maps of its "
                    "strongest (or first) channels, the Gram matrix per position that the "
                    "style loss compares, and the receptive field of one unit, drawn into "
                    "FIGURE (needs matplotlib: pip install \"nst-numpy[plot]\"). `nst-numpy "
                    "invert` shows the other side: a picture rebuilt from the same layer.",
        epilog="Example: nst-numpy show photo.jpg --layer relu4_1 -o relu4_1.png")
    parser.add_argument("image", metavar="IMAGE", help="the picture to look at")
    parser.add_argument("--layer", required=True,
                        help="a layer: conv/relu/pool names (relu1_1 ... relu5_4, pool1 ... "
                             "pool5) or Keras names (block3_conv1)")
    parser.add_argument("-o", "--output", required=True, metavar="FIGURE",
                        help="where to write the figure (.png or .jpg); never IMAGE")
    parser.add_argument("--channels", type=_count(1), default=CHANNELS, metavar="K",
                        help=f"how many feature maps to draw (default {CHANNELS})")
    parser.add_argument("--order", choices=ORDERS, default="strongest",
                        help="the K channels with the largest mean square activation "
                             "(default), or the first K")
    add_arguments(parser, OPTIONS, defaults={"size": SIZE})
    parser.set_defaults(handler=run_show)


def run_show(args):
    from .options import given_options
    from .plot import check_available
    from .show import show_layer

    options = given_options(args, OPTIONS)
    check_available()   # before any work: a figure needs matplotlib
    check_outputs([(args.output, "-o")], run_inputs(args, [args.image]))
    show_layer(args.image, args.layer, args.output, channels=args.channels, order=args.order,
               **options)
    print(f"wrote {args.output}")
    return 0
