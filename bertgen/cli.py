"""The `bertgen` command. Each concept registers its own subcommands; this module only dispatches.

Bad flags and unreadable inputs exit with code 2 and a message on stderr, as argparse does.
"""
from __future__ import annotations

import argparse
import sys


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    from bertgen import demo, experiments_cli, generate_cli
    from bertgen.data import cli as data_cli

    parser = argparse.ArgumentParser(prog="bertgen", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Registration: one line per concept module that owns subcommands.
    demo.register(sub)
    data_cli.register(sub)
    generate_cli.register(sub)
    experiments_cli.register(sub)
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
