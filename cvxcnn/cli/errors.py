"""Exit codes and the one exception type of the command line.

The contract (enforced by :func:`cvxcnn.cli.app.main`, documented in the
README's "Command line" section):

- ``0``: success;
- ``1``: the solver or an accuracy check failed (the JSON is still written),
  or an unexpected internal error (one line; ``--debug`` for the traceback);
- ``2``: bad input or a refused size: ONE line on stderr naming the argument
  and the fix, no traceback, nothing written;
- ``130``: interrupted (Ctrl-C): one line, no partial output files.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: Prefix of every error line.
PREFIX = "cvxcnn: error: "


class UsageError(Exception):
    """Bad input or a refused size: exit status 2 with one line on stderr.

    Parameters
    ----------
    argument : str
        The flag (``"--out"``) or input it concerns; empty for none.
    message : str
        What is wrong and how to fix it, on one line.
    """

    def __init__(self, argument: str, message: str) -> None:
        self.argument = argument
        self.message = message
        super().__init__(f"{argument}: {message}" if argument else message)


def one_line(text: object) -> str:
    """``text`` as a single line (newlines and runs of blanks folded into one space)."""
    return " ".join(str(text).split())
