"""The `bertgen` command. Each concept registers its own subcommands; this module only dispatches.

Bad flags and unreadable inputs exit with code 2 and a message on stderr, as argparse does.
"""
from __future__ import annotations

import argparse
import sys

from bertgen.cli import data, demo, experiment, generate
from bertgen.cli.errors import CliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bertgen", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Registration: one line per concept module that owns subcommands.
    demo.register(sub)
    data.register(sub)
    generate.register(sub)
    experiment.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (CliError, FileNotFoundError, ValueError) as err:
        print(f"bertgen {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
