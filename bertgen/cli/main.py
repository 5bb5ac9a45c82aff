"""The `bertgen` command. Each concept registers its own subcommands; this module only dispatches.

Bad flags and unreadable inputs exit with code 2 and a message on stderr, as argparse does. Output piped into
a reader that stops early (`bertgen generate ... | head -1`) ends quietly with code 141, as a Unix tool killed
by SIGPIPE; Ctrl-C ends with code 130 and no traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

from bertgen.cli import data, demo, experiment, generate, table1
from bertgen.cli.errors import CliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bertgen", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Registration: one line per concept module that owns subcommands.
    demo.register(sub)
    data.register(sub)
    generate.register(sub)
    experiment.register(sub)
    table1.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args) or 0
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return code
    except BrokenPipeError:
        # The reader went away: send the rest of our output nowhere, so the interpreter's own flush at exit
        # does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(f"bertgen {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CliError, OSError, ValueError, TypeError) as err:
        print(f"bertgen {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
