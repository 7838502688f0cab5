"""The ``cvxcnn`` command line: one module per subcommand.

- :mod:`cvxcnn.cli.solve` (+ :mod:`cvxcnn.cli.solve_st`), :mod:`cvxcnn.cli.certify`,
  :mod:`cvxcnn.cli.path`, :mod:`cvxcnn.cli.train`, :mod:`cvxcnn.cli.demo`,
  :mod:`cvxcnn.cli.bench`: each ``add_parser(subparsers)``, ``DEFAULTS`` and
  ``run(args, ctx)``;
- :mod:`cvxcnn.cli.common`: arguments -> data, problem, cells, loss, solver
  options (the one place a problem is built from flags);
- :mod:`cvxcnn.cli.output`: output paths checked up front, written atomically;
- :mod:`cvxcnn.cli.errors`: exit codes; :mod:`cvxcnn.cli.app`: :func:`main`.

Exit status: 0 success; 1 solver or accuracy failure (JSON still written);
2 bad input or refused size (one line on stderr); 130 interrupted.
"""

from cvxcnn.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
