"""The CLI's user-facing error."""


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit code 2."""
