"""``nst-numpy stylize`` and ``nst-numpy demo``: their parsers and the output policy.

The options of the run come from :mod:`nst_numpy.options`, which generates their flags and
checks their values by the library's own rules; a refusal from the library names the flag
(:func:`nst_numpy.cli.run_handler`). What is decided here is what happens to files: every
output is checked before the first iteration, a run never ends unable to save, and nothing a
user had is overwritten except ``-o`` itself, by a run that succeeded.
"""

import math
import os
import sys
import warnings
from pathlib import Path

from .image import same_file

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
    parser.add_argument("--texture", action="store_true",
                        help="texture synthesis: no content image, start from noise")
    add_run_options(parser)
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
    add_run_options(parser, defaults={"size": DEMO_SIZE, "iterations": DEMO_ITERATIONS})
    parser.set_defaults(handler=run_demo, texture=False)


def add_run_options(parser, defaults=None):
    """Every option of :mod:`nst_numpy.options`, and the command line's own: where the run
    starts (--init, --init-image, --resume: one of them) and what it writes."""
    from .options import add_arguments

    starting = parser.add_argument_group("starting image")
    start = starting.add_mutually_exclusive_group()
    add_arguments(parser, defaults=defaults, containers={"init": start, "noise_blend": starting})
    start.add_argument("--init-image", metavar="PATH",
                       help="start from this image instead, resized to the output")
    start.add_argument("--resume", metavar="CHECKPOINT",
                       help="continue a run from a picture it saved (-o or --save-every), at "
                            "full size: the picture must have the output's size; L-BFGS's "
                            "memory starts afresh; -o must name another file")
    add_output_options(parser)
    g = parser.add_argument_group("output")
    g.add_argument("--save-every", type=_count(0), default=0, metavar="N",
                   help="also write OUT_0010.png, ... every N iterations (default: never); "
                        "refused if such a file exists")
    add_plot_option(g)


def add_plot_option(group):
    """--plot: shared with ``nst-numpy invert``."""
    group.add_argument("--plot", metavar="FILE",
                       help="also draw the loss history (total, content, style, TV; log "
                            "scale) into FILE, e.g. losses.png (needs matplotlib: pip install "
                            "\"nst-numpy[plot]\")")


def add_output_options(parser):
    """--keep, and --quiet or --print-every: shared with ``nst-numpy invert``."""
    g = parser.add_argument_group("progress and result")
    g.add_argument("--keep", choices=["best", "last"], default="best",
                   help="write the image with the lowest total loss seen (default) or the "
                        "last one")
    shown = g.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true", help="no progress display")
    shown.add_argument("--print-every", type=_count(1), metavar="N",
                       help="print the losses on a line of their own every N iterations "
                            "(default: one line updated in place on a terminal, a tenth of the "
                            "run in a log)")


def _count(minimum):
    """argparse's type for an integer >= minimum."""
    import argparse

    def count(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text}")
        return value
    return count


# --- outputs ------------------------------------------------------------------------

def check_outputs(outputs, inputs, shape=None):
    """Refuse, before any work, outputs that cannot be written or that would overwrite a
    file the run reads, or each other.

    outputs: [(path, the option naming it: "-o", "--plot")]; inputs: every file the run
    reads (images, masks, the starting picture, the weights), paths or other sources (an
    array is no file). An output may name an input by any path (a symbolic or hard link,
    ``..``): :func:`same_file` compares the files themselves. shape: (H, W) of the run's
    pictures (not the plot's), which their format must be able to hold.
    """
    from .animate import FILM_FORMATS
    from .image import SAVE_FORMATS, check_writable

    seen = []
    for output, option in outputs:
        check_writable(output, shape if option != "--plot" else None,
                       FILM_FORMATS if option == "--animate" else SAVE_FORMATS)
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
    from .weights import default_weights_path, weights_file

    optional = [getattr(args, name, None) for name in ("init_image", "resume")]
    weights = weights_file(args.weights) if args.weights is not None else default_weights_path()
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


def check_resume(checkpoint, content, styles, size, scales):
    """--resume continues a run: at full size (no --scales), from a picture that has the
    output's size already (one of another size is a new start, which --init-image makes)."""
    from .image import image_size
    from .transfer import output_shape

    if scales is not None and scales > 1:
        raise ValueError("--resume continues a run at full size; drop --scales")
    shape = output_shape(content if content is not None else styles[0], size)
    found = image_size(checkpoint)
    if tuple(found) != tuple(shape):
        raise ValueError(f"--resume {checkpoint} is {found[1]}x{found[0]} but the output is "
                         f"{shape[1]}x{shape[0]}; give the --size of the run it came from, or "
                         "start from it resized with --init-image")


def planned_outputs(args):
    """[(path, option)] of the files a run of stylize or invert writes at its end: -o, and
    --plot (checked for matplotlib now, not after the run)."""
    outputs = [(args.output, "-o")]
    if getattr(args, "plot", None):
        from .plot import check_available
        check_available()
        outputs.append((args.plot, "--plot"))
    if getattr(args, "animate", None):
        outputs.append((args.animate, "--animate"))
    return outputs


def progress_display(args, iterations):
    """The ``progress`` argument of stylize and invert from --quiet and --print-every: off,
    the default display, or a line every N of ``iterations`` (a number, or one per level)."""
    if args.quiet:
        return False
    if args.print_every:
        from .loop import Progress
        return Progress(iterations, every=args.print_every, inline=False)
    return True


# --- handlers -----------------------------------------------------------------------

def run_stylize(args):
    if args.texture:
        return _run(args, None, args.images)
    if len(args.images) < 2:
        raise ValueError("give a content image and at least one style image "
                         "(or --texture with style images only)")
    return _run(args, args.images[0], args.images[1:])


def run_demo(args):
    from .image import demo_images

    content, style = demo_images()
    return _run(args, content, [style])


def _run(args, content, styles):
    from . import options as O
    from . import transfer
    from .image import save_image
    from .pyramid import level_iterations
    from .loop import NonFiniteLossWarning

    given = O.given_options(args)
    scales = given.get("scales", O.OPTIONS["scales"].default)
    schedule = level_iterations(given.get("iterations", O.OPTIONS["iterations"].default),
                                scales, given.get("coarse_iterations"))
    if args.save_every > sum(schedule):
        raise ValueError(f"--save-every {args.save_every} is more than the run's "
                         f"{sum(schedule)} iterations: no picture would be saved; lower it")
    intermediates = intermediate_paths(args.output, args.save_every, sum(schedule))
    check_intermediates(intermediates)
    check_outputs(planned_outputs(args) + [(p, "--save-every") for p in intermediates.values()],
                  run_inputs(args, [content, *styles]),
                  transfer.output_shape(content if content is not None else styles[0],
                                        given.get("size", O.OPTIONS["size"].default)))
    if args.resume is not None:
        check_resume(args.resume, content, styles, given.get("size", O.OPTIONS["size"].default),
                     scales)
    if args.init_image is not None or args.resume is not None:
        given["init"] = Path(args.init_image or args.resume)   # a path, whatever its name
    if args.animate is not None:   # filled by the run, written after the picture
        from .animate import Film
        given["animate"] = Film()

    def save_intermediate(state):
        if state.step in intermediates:   # numbered over all levels
            try:   # never over a file: one that appeared since the check is left as it is
                save_image(state.image(), intermediates[state.step], exclusive=True)
            except FileExistsError as error:
                print(f"nst-numpy {args.command}: {error}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteLossWarning)   # said below, once
        result = transfer.stylize(content, styles, callback=save_intermediate,
                                  progress=progress_display(args, schedule), **given)
    return save_result(args, result, given.get("animate"))


def save_result(args, result, film=None):
    """Write the picture (:func:`_save`), the loss plot and the ``film`` (an
    :class:`nst_numpy.animate.Film` the run filled), if asked for, with Ctrl-C and SIGTERM
    held until every file is whole; return the exit code."""
    from .cli_signals import signals_held

    with signals_held():
        code = _save(args, result)
        if film is not None and result.iterations:   # written when the picture is
            film.save(args.animate)
            print(f"wrote {args.animate} ({len(film.frames)} frames, one every {film.every} "
                  "iterations)")
    return code


def _draw_plot(args, result):
    """Draw --plot, if asked for; return what the last line adds: "; losses drawn in FILE"."""
    if not getattr(args, "plot", None):
        return ""
    if not result.history["total"]:
        print(f"nst-numpy {args.command}: no iteration ran, so no loss history was "
              f"drawn; {args.plot} was not written", file=sys.stderr)
        return ""
    result.plot(args.plot)
    return f"; losses drawn in {args.plot}"


def _save(args, result):
    """Write the result where it belongs, by how the run ended; return the exit code."""
    from .image import save_image

    out = args.output
    if result.stopped == "diverged" and result.best_loss < result.initial.total:
        # The loss ended above its start, but an earlier iterate beat the start: that one is
        # the picture (whatever --keep says: the last is worse than the starting image).
        save_image(result.best_image, out)
        plotted = _draw_plot(args, result)
        print(f"nst-numpy {args.command}: {result.message}; wrote the best image to "
              f"{out}{plotted}", file=sys.stderr)
        return 0
    if result.failed:
        # A failed run never replaces an existing picture. A run cut short by a NaN may
        # leave its last good image in a new file; a run whose loss never went below its
        # start leaves nothing.
        if result.stopped == "nonfinite" and result.iterations and not os.path.lexists(out):
            save_image(result.image, out)
            raise ValueError(f"{result.message}; saved the last good image to {out}")
        kept = f"{out} was left as it was" if os.path.lexists(out) else "nothing was written"
        raise ValueError(f"{result.message}; {kept}")
    if result.stopped == "interrupted":
        if not result.iterations:
            print(f"nst-numpy {args.command}: {result.message}; nothing was written",
                  file=sys.stderr)
            _draw_plot(args, result)
            return 130
        save_image(result.best_image, out)
        plotted = _draw_plot(args, result)
        print(f"nst-numpy {args.command}: {result.message}; saved the best image so far "
              f"to {out}{plotted}", file=sys.stderr)
        return 130
    picture, which = ((result.best_image, f"best loss {result.best_loss:.4g}")
                      if args.keep == "best" and math.isfinite(result.best_loss)
                      else (result.image, f"final loss {result.loss:.4g}"))
    save_image(picture, out)
    plotted = _draw_plot(args, result)
    where = os.path.join(os.path.realpath(os.path.dirname(out) or "."), os.path.basename(out))
    per_level = (", " + " + ".join(str(level["iterations"]) for level in result.levels) +
                 " by level, coarse to fine" if len(result.levels) > 1 else "")
    print(f"wrote {where} ({picture.shape[1]}x{picture.shape[0]}, "
          f"{result.iterations} iterations{per_level}, {result.seconds:.0f} s, {which}){plotted}")
    return 0
