"""Run the gap benchmark (see :mod:`cvxcnn.bench.gap`); same as ``cvxcnn bench gap``.

Usage::

    python benchmarks/gap.py --out bench-out [--size tiny|default|paper] [--seed 0] [--quiet]
"""

from __future__ import annotations

import sys

from cvxcnn.bench.cli_bench import main

if __name__ == "__main__":
    sys.exit(main(["gap", *sys.argv[1:]]))
