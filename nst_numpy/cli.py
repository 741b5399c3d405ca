"""The ``nst-numpy`` command. Each subcommand is a ``_add_<name>(subparsers)`` function
that registers its parser and sets ``handler``; errors a user can fix end in one line."""

import argparse
import sys


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nst-numpy",
        description="Neural style transfer in NumPy, every gradient derived by hand.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


SUBCOMMANDS = []


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except (ValueError, OSError) as error:
        print(f"nst-numpy {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nst-numpy {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
