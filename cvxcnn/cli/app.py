"""The parser and the single entry point :func:`main`, which enforces the error contract.

``main`` parses, fills defaults, runs the subcommand with warnings recorded
(never printed; they go to the JSON's ``"warnings"``) and every output staged
(:class:`~cvxcnn.cli.output.Outputs`), then maps what happened to an exit
status (:mod:`cvxcnn.cli.errors`): 0, 1 (solver/accuracy failure, JSON
written), 2 (bad input: one line naming the argument and the fix) or 130
(Ctrl-C: one line, no partial files). Nothing a user can cause prints a
traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings

from cvxcnn import __version__
from cvxcnn.cli import bench, certify, colorize, demo, path, solve, train
from cvxcnn.cli import explain as explain_cli
from cvxcnn.cli.common import RunContext, config_of, resolve_defaults
from cvxcnn.cli.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PREFIX,
    UsageError,
    one_line,
)
from cvxcnn.cli.output import Outputs

COMMANDS = {
    "solve": solve,
    "certify": certify,
    "path": path,
    "train": train,
    "demo": demo,
    "bench": bench,
    "explain": explain_cli,
    "colorize": colorize,
}
MEMORY_HINT = (
    "out of memory; try a smaller problem (fewer --images, a smaller --size or --kernel), "
    "sampled patterns (--patterns N with a smaller N) or --method colgen"
)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one-line :class:`UsageError` s (no abbreviations)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)  # --beta must not mean --betas
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError("", f"{one_line(message)} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    """The ``cvxcnn`` parser with every subcommand."""
    parser = Parser(
        prog="cvxcnn",
        description="Two-layer CNNs trained to certified global optimality by convex programs. "
        "Exit status: 0 success, 1 solver/accuracy failure (JSON still written), 2 bad input "
        "(one line on stderr), 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"cvxcnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def dispatch(argv: list[str], outputs: Outputs, caught: list) -> int:
    """Parse ``argv`` and run its subcommand."""
    args = build_parser().parse_args(argv)
    module = COMMANDS[args.command]
    explicit = resolve_defaults(args, module.DEFAULTS)
    ctx = RunContext(explicit=explicit, outputs=outputs, warnings=caught, config=config_of(args))
    return module.run(args, ctx)


def exit_status(exc: BaseException) -> tuple[int, str | None]:
    """The exit status and stderr line for an exception that ended a command."""
    import cvxpy as cp

    from cvxcnn.solve import SolverError

    if isinstance(exc, SystemExit):  # --help, --version
        return (exc.code if isinstance(exc.code, int) else 0), None
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "cvxcnn: interrupted; no output written"
    if isinstance(exc, UsageError):
        return EXIT_USAGE, PREFIX + one_line(exc)
    if isinstance(exc, MemoryError):
        return EXIT_USAGE, PREFIX + MEMORY_HINT
    if isinstance(exc, cp.error.SolverError):
        return EXIT_USAGE, PREFIX + "--solver: " + one_line(exc)
    if isinstance(exc, SolverError):
        return EXIT_FAILURE, "cvxcnn: failed: " + one_line(exc)
    if isinstance(exc, (ValueError, TypeError, OSError)):
        return EXIT_USAGE, PREFIX + one_line(exc)
    name = type(exc).__name__
    hint = "rerun with --debug for the traceback"
    return EXIT_FAILURE, f"cvxcnn: internal error: {name}: {one_line(exc)} ({hint})"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cvxcnn`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0, 1, 2 or 130 (see :mod:`cvxcnn.cli.errors`).
    """
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    outputs = Outputs()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = dispatch(argv, outputs, caught)
            outputs.commit()
            return status
    except BaseException as exc:  # noqa: BLE001 - the one place errors become exit codes
        outputs.discard()
        status, line = exit_status(exc)
        if "--debug" in argv and not isinstance(exc, SystemExit):
            traceback.print_exception(exc)
        if line is not None:
            print(line, file=sys.stderr)
        return status
