"""The ``nst-numpy`` command. Each subcommand is a ``_add_<name>(subparsers)`` function
that registers its parser and sets ``handler``; errors a user can fix end in one line."""

import argparse
import sys

from . import __version__
from ._checks import OptionError
from .cli_signals import terminating_signals_interrupt


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong, and where help is."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    parser = Parser(
        prog="nst-numpy",
        description="Neural style transfer in NumPy, every gradient derived by hand.")
    parser.add_argument("--version", action="version", version=f"nst-numpy {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    parser.set_defaults(subcommands=subparsers.choices)
    return parser


def _add_weights(subparsers):
    parser = subparsers.add_parser(
        "weights", help="download Keras VGG weights, or describe a weight file",
        description="Download the Keras VGG notop weights (md5-verified), or describe a weight file.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    download = actions.add_parser("download", help="fetch a Keras notop .h5 into the cache")
    download.add_argument("arch", choices=["vgg19", "vgg16"])
    download.add_argument("--cache-dir", help="where to store it (default: $NST_NUMPY_CACHE "
                          "or ~/.cache/nst_numpy)")
    download.add_argument("--url", help="another address serving the same file")
    download.add_argument("--quiet", action="store_true", help="no progress display")
    info = actions.add_parser("info", help="architecture, layers, format and checksums of a file")
    info.add_argument("path", nargs="?", help="a weight file (default: the embedded VGG19)")
    parser.set_defaults(handler=_run_weights)


def _run_weights(args):
    from . import weights

    if args.action == "download":
        path = weights.download(args.arch, cache_dir=args.cache_dir, url=args.url,
                                progress=not args.quiet)
        print(path)
    else:
        print(weights.describe(args.path))


def _add_stylize(subparsers):
    from .cli_stylize import add_stylize_parser
    add_stylize_parser(subparsers)


def _add_invert(subparsers):
    from .cli_invert import add_invert_parser
    add_invert_parser(subparsers)


def _add_demo(subparsers):
    from .cli_stylize import add_demo_parser
    add_demo_parser(subparsers)


def _add_course(subparsers):
    parser = subparsers.add_parser(
        "course", help="write the coursework notebooks (the student release by default)",
        description="Write the course's notebooks into DIR, from the installed package: the "
                    "student release (no solutions, no outputs) by default. The notebooks read "
                    "their images from the package. Existing files are never overwritten.")
    parser.add_argument("dir", metavar="DIR", help="folder to write into (created if missing)")
    version = parser.add_mutually_exclusive_group()
    version.add_argument("--solutions", dest="version", action="store_const", const="solutions",
                         help="the lecturer's notebooks, with the worked answers")
    version.add_argument("--nbgrader", dest="version", action="store_const", const="nbgrader",
                         help="an nbgrader course folder: nbgrader_config.py and source/ (one "
                              "assignment per notebook; see docs/lecturers.md)")
    parser.set_defaults(handler=_run_course, version="student")


def _run_course(args):
    from .course import write_course

    written = write_course(args.dir, args.version)
    print(f"wrote {len(written)} files to {args.dir}")


def _add_batch(subparsers):
    from .cli_batch import add_batch_parser
    add_batch_parser(subparsers)


def _add_show(subparsers):
    from .cli_show import add_show_parser
    add_show_parser(subparsers)


SUBCOMMANDS = [_add_weights, _add_stylize, _add_invert, _add_demo, _add_course, _add_batch, _add_show]


def main(argv=None):
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:   # said by the subcommand's parser, which names it
            args.subcommands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as stop:   # --help, or a bad option (already said in one line)
        return stop.code
    return run_handler(f"nst-numpy {args.command}", args.handler, args)


def run_handler(name, handler, args):
    """``handler(args)``, the way every command line entry point runs: a fault a user can
    fix, or one of the machine (out of memory, a full disk), is one line on stderr and exit
    code 2; Ctrl-C, SIGTERM and SIGHUP end the run the same way (the handler saves what it
    has), exit code 128 + the signal's number. ``name`` starts each line ("nst-numpy
    stylize"). Options named in a refusal are spelled as flags
    (:func:`nst_numpy.options.flag`)."""
    with terminating_signals_interrupt() as received:
        try:
            code = handler(args) or 0
        except BrokenPipeError:
            # The reader went away (`nst-numpy weights info | head`): not an error of ours.
            sys.stderr.close()
            return 0
        except OptionError as error:
            from .options import flag
            code = _say(name, f"error: {error.render(flag, ' ')}", 2)
        except (ValueError, OSError, ImportError) as error:   # ImportError: what to install
            code = _say(name, f"error: {error}", 2)
        except MemoryError as error:
            detail = f" ({error})" if str(error) else ""
            code = _say(name, f"error: out of memory{detail}; use a smaller size, or fewer or "
                              "smaller images", 2)
        except KeyboardInterrupt as stop:   # before a run saved anything of its own
            code = _say(name, f"{str(stop) or 'interrupted'}; nothing was written", 130)
    return 128 + received[0] if received else code


def _say(name, text, code):
    print(f"{name}: {text}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
