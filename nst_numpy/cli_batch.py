"""``nst-numpy batch``: many content images times one or more styles, in one command.

:mod:`nst_numpy.cli` registers it; :func:`nst_numpy.batch.stylize_batch` does the work. Its
run options are stylize's (generated from :mod:`nst_numpy.options`), applied to every run.
"""

import sys

from .cli_stylize import add_output_options, progress_display

# stylize's options a batch has no use for (nst_numpy.batch.NOT_IN_A_BATCH says why).
LEFT_OUT = ("masks", "style_blend", "animate", "animate_every", "animate_size")


def add_batch_parser(subparsers):
    from .batch import OUTPUT_FORMATS
    from .options import OPTIONS, add_arguments

    parser = subparsers.add_parser(
        "batch", help="stylize many content images with one or more styles",
        usage="nst-numpy batch [options] CONTENT [CONTENT ...] --style STYLE [STYLE ...] "
              "-o OUTDIR",
        description="Stylize every CONTENT in every STYLE: each pair is a run of its own (the "
                    "styles are not blended), with the options below, written to "
                    "OUTDIR/<content name>_<style name>.png. The network is loaded once and "
                    "each style's targets are computed once. A picture already in OUTDIR is "
                    "skipped, so the same command resumes a batch that was stopped "
                    "(--overwrite replaces them). An input that cannot be used is reported "
                    "and the others go on.",
        epilog="Example: nst-numpy batch photos/ --style wave.jpg swirls.jpg -o out/ --size "
               "384. Exit status: 0 when every run was written or skipped, 1 when some failed "
               "(each said on stderr), 2 when nothing could run, 130 after Ctrl-C (the run it "
               "cut short is not written; the same command resumes).")
    parser.add_argument("contents", nargs="+", metavar="CONTENT",
                        help="content images: files, folders (their images) or quoted glob "
                             "patterns such as 'photos/*.jpg'")
    parser.add_argument("--style", nargs="+", required=True, metavar="STYLE", dest="styles",
                        help="one or more style images (files, folders or patterns); each is "
                             "a run of its own for every content")
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                        help="the folder the pictures go to (created if need be); it may not "
                             "be an input folder")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace pictures already in OUTDIR (default: skip them)")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default="png",
                        help="the pictures' format (default png)")
    starting = parser.add_argument_group("starting image")
    names = [n for n, o in OPTIONS.items() if o.flag != "" and n not in LEFT_OUT]
    add_arguments(parser, names, containers={"init": starting, "noise_blend": starting})
    add_output_options(parser)
    parser.set_defaults(handler=run_batch)


def run_batch(args):
    from .batch import stylize_batch
    from .options import OPTIONS, flag, given_options
    from .pyramid import level_iterations

    options = given_options(args)
    schedule = level_iterations(*(options.get(name, OPTIONS[name].default) for name in
                                  ("iterations", "scales", "coarse_iterations")))

    def report(run):
        where = sys.stderr if run.status == "failed" else sys.stdout
        prefix = "nst-numpy batch: " if run.status == "failed" else ""
        print(f"{prefix}{run.line(flag)}", file=where, flush=True)

    result = stylize_batch(args.contents, args.styles, args.output, overwrite=args.overwrite,
                           format=args.format, keep=args.keep, report=report,
                           progress=progress_display(args, schedule), **options)
    print(result.summary(flag))
    if result.interrupted:
        return 130
    return 1 if result.failed else 0
